//! The adapters' read buffer: allocated on first use, grown while reads
//! fill it, and given back when the connection goes quiet.

/// The first allocation.
const INITIAL: usize = 4 << 10;

/// A reusable buffer for reads from the transport.
///
/// An idle connection holds no read buffer: [`idle`](Self::idle) frees it
/// when a read would block. The size it had is remembered, so a busy
/// connection does not grow it again from 4 KiB after every pause.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    buf: Vec<u8>,
    size: usize,
    max: usize,
}

impl ReadBuffer {
    /// A buffer that grows to at most `max` bytes (at least 4 KiB).
    pub(crate) fn new(max: usize) -> ReadBuffer {
        ReadBuffer {
            buf: Vec::new(),
            size: INITIAL,
            max: max.max(INITIAL),
        }
    }

    #[cfg(any(feature = "blocking", test))]
    /// The space to read into, allocated (zeroed) if needed: for readers
    /// that need initialized memory (`std::io::Read`).
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.buf.len() < self.size {
            self.buf = vec![0; self.size];
        }
        &mut self.buf
    }

    #[cfg(any(feature = "tokio", test))]
    /// The space to read into as uninitialized memory, allocated if needed
    /// but never zeroed: for readers that track what they initialize
    /// (tokio's `ReadBuf`). Use [`filled_uninit`](Self::filled_uninit)
    /// after the read.
    pub(crate) fn spare(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        if self.buf.capacity() < self.size {
            self.buf = Vec::with_capacity(self.size);
        }
        self.buf.clear();
        self.buf.spare_capacity_mut()
    }

    #[cfg(any(feature = "tokio", test))]
    /// After a read of `n` bytes into [`spare`](Self::spare): grows the
    /// size for the next read if this one filled the space.
    pub(crate) fn filled_uninit(&mut self, n: usize) {
        if n == self.buf.capacity() && self.size < self.max {
            self.size = (self.size * 2).min(self.max);
        }
    }

    #[cfg(any(feature = "blocking", test))]
    /// The first `n` bytes of the space, after a read of `n` bytes. A read
    /// that filled the space doubles it for the next one.
    pub(crate) fn filled(&mut self, n: usize) -> &[u8] {
        if n == self.buf.len() && self.size < self.max {
            self.size = (self.size * 2).min(self.max);
        }
        &self.buf[..n.min(self.buf.len())]
    }

    /// A read would block: give the memory back until data arrives. The
    /// size is kept: a connection that needed large reads gets them again
    /// at once (the memory is only taken while reading).
    pub(crate) fn idle(&mut self) {
        self.buf = Vec::new();
    }

    /// The bytes currently allocated.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_filled_and_frees_when_idle() {
        let mut b = ReadBuffer::new(64 << 10);
        assert_eq!(b.allocated(), 0, "nothing before the first read");
        assert_eq!(b.space().len(), 4 << 10);
        let n = b.space().len();
        assert_eq!(b.filled(n).len(), n);
        assert_eq!(b.space().len(), 8 << 10, "a full read doubles it");
        for _ in 0..10 {
            let n = b.space().len();
            b.filled(n);
        }
        assert_eq!(b.space().len(), 64 << 10, "up to the maximum");
        b.filled(10);
        b.idle();
        assert_eq!(b.allocated(), 0, "an idle connection holds no buffer");
        assert_eq!(b.space().len(), 64 << 10, "the size is kept");
    }

    #[test]
    fn a_partial_read_keeps_the_size() {
        let mut b = ReadBuffer::new(1);
        let len = b.space().len();
        assert_eq!(len, 4 << 10, "at least 4 KiB");
        assert_eq!(b.filled(100).len(), 100);
        assert_eq!(b.space().len(), len);
        let n = b.space().len();
        b.filled(n);
        assert_eq!(b.space().len(), len, "never past the maximum");
    }

    #[test]
    fn spare_space_grows_the_same_way_and_is_freed_when_idle() {
        let mut b = ReadBuffer::new(16 << 10);
        assert_eq!(b.spare().len(), 4 << 10);
        b.filled_uninit(100);
        assert_eq!(b.spare().len(), 4 << 10, "a partial read keeps the size");
        let n = b.spare().len();
        b.filled_uninit(n);
        assert_eq!(b.spare().len(), 8 << 10, "a full read doubles it");
        let n = b.spare().len();
        b.filled_uninit(n);
        let n = b.spare().len();
        b.filled_uninit(n);
        assert_eq!(b.spare().len(), 16 << 10, "up to the maximum");
        b.idle();
        assert_eq!(b.allocated(), 0);
        assert_eq!(b.spare().len(), 16 << 10);
    }
}
