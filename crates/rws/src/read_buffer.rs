//! The adapters' read buffer: allocated on first use, grown while reads
//! fill it, and given back when the connection goes quiet.

/// The first allocation, and the size of the tokio adapter's reads into
/// the stack.
pub(crate) const INITIAL: usize = 4 << 10;

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
    /// The space to read into as uninitialized memory, never zeroed: for
    /// readers that track what they initialize (tokio's `ReadBuf`). While
    /// reads fit in 4 KiB that is `stack`, the caller's, so that a
    /// connection of small messages reads without allocating (the heap
    /// buffer would be freed at every pause and allocated again, one
    /// malloc and free of 4 KiB per message at depth 1); larger reads get
    /// the heap buffer, allocated if needed. Use
    /// [`filled_uninit`](Self::filled_uninit) after the read.
    pub(crate) fn spare<'a>(
        &'a mut self,
        stack: &'a mut [std::mem::MaybeUninit<u8>; INITIAL],
    ) -> &'a mut [std::mem::MaybeUninit<u8>] {
        if self.size <= INITIAL {
            return stack;
        }
        if self.buf.capacity() < self.size {
            self.buf = Vec::with_capacity(self.size);
        }
        self.buf.clear();
        self.buf.spare_capacity_mut()
    }

    #[cfg(any(feature = "tokio", test))]
    /// After a read of `n` bytes into the `offered` bytes of
    /// [`spare`](Self::spare): the next read gets twice the space if this
    /// one filled it, and the stack again once a read fits in it.
    pub(crate) fn filled_uninit(&mut self, n: usize, offered: usize) {
        if n == offered && self.size < self.max {
            self.size = (self.size * 2).min(self.max);
        } else if n <= INITIAL {
            self.size = INITIAL;
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
    fn spare_space_starts_on_the_stack_grows_on_the_heap_and_comes_back() {
        let mut stack = [std::mem::MaybeUninit::uninit(); INITIAL];
        let on_stack = stack.as_ptr();
        let mut b = ReadBuffer::new(16 << 10);
        let space = b.spare(&mut stack);
        assert_eq!((space.len(), space.as_ptr()), (4 << 10, on_stack));
        b.filled_uninit(100, 4 << 10);
        assert_eq!(
            b.spare(&mut stack).as_ptr(),
            on_stack,
            "a partial read stays"
        );
        assert_eq!(b.allocated(), 0, "small reads allocate nothing");
        b.filled_uninit(4 << 10, 4 << 10);
        let space = b.spare(&mut stack);
        assert_eq!(space.len(), 8 << 10, "a full read doubles it");
        assert_ne!(space.as_ptr(), on_stack, "on the heap");
        b.filled_uninit(8 << 10, 8 << 10);
        assert_eq!(b.spare(&mut stack).len(), 16 << 10);
        b.filled_uninit(16 << 10, 16 << 10);
        assert_eq!(b.spare(&mut stack).len(), 16 << 10, "up to the maximum");
        b.idle();
        assert_eq!(b.allocated(), 0);
        assert_eq!(
            b.spare(&mut stack).len(),
            16 << 10,
            "a pause keeps the size"
        );
        b.filled_uninit(5000, 16 << 10);
        assert_eq!(
            b.spare(&mut stack).len(),
            16 << 10,
            "a read over 4 KiB keeps it"
        );
        b.filled_uninit(4 << 10, 16 << 10);
        assert_eq!(
            b.spare(&mut stack).as_ptr(),
            on_stack,
            "one that fits the stack returns"
        );
    }
}
