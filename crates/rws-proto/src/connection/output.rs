//! The queue of bytes waiting for the transport: frames are encoded into a
//! contiguous buffer, and large unmasked payloads are queued by reference
//! (shared [`Bytes`], not copied) between the buffered parts, for a
//! vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Buf, Bytes};

/// Output buffers larger than this are freed, not kept, once drained.
const KEEP_CAPACITY: usize = 64 << 10;

/// Payloads at least this large are queued by reference when they need no
/// masking: below it, a copy costs less than a segment of its own.
pub(super) const SHARE_AT_LEAST: usize = 8 << 10;

/// The queued output, in order: the `segments`, then `tail[pos..]`.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Complete parts queued before the tail: frozen buffered bytes and
    /// shared payloads. None is empty.
    segments: VecDeque<Part>,
    /// Their total length.
    segments_len: usize,
    /// Where frames are encoded, after every segment.
    tail: Vec<u8>,
    /// How much of the tail was written (when no segment is left).
    pos: usize,
    /// How many bytes may be consumed: what the last `pending` returned,
    /// less what was consumed since; no bound after `pending_vectored`
    /// (or before either). Catches the caller that writes what `pending`
    /// gave but consumes everything queued.
    consumable: Consumable,
}

/// [`Output::consumable`]: an atomic only to keep `Output` `Sync`.
#[derive(Debug)]
struct Consumable(AtomicUsize);

impl Default for Consumable {
    fn default() -> Consumable {
        Consumable(AtomicUsize::new(usize::MAX))
    }
}

/// A part of the output queued before the tail.
#[derive(Debug)]
enum Part {
    /// A shared payload, or buffered bytes too many to copy.
    Shared(Bytes),
    /// A few buffered bytes, copied (a frame header before a shared
    /// payload, most often): the tail keeps its allocation, and no
    /// allocation holds them.
    Inline {
        bytes: [u8; INLINE],
        start: u8,
        end: u8,
    },
}

/// The most buffered bytes a [`Part::Inline`] holds.
const INLINE: usize = 30;

impl Part {
    fn as_slice(&self) -> &[u8] {
        match self {
            Part::Shared(bytes) => bytes,
            Part::Inline { bytes, start, end } => &bytes[usize::from(*start)..usize::from(*end)],
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Drops the first `n` bytes (at most its length).
    fn advance(&mut self, n: usize) {
        match self {
            Part::Shared(bytes) => bytes.advance(n),
            Part::Inline { start, end, .. } => {
                debug_assert!(n <= usize::from(*end - *start));
                *start += n as u8;
            }
        }
    }
}

impl Output {
    /// The buffer new frames are encoded into (after everything queued).
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.tail
    }

    /// Queues `payload` by reference after what is buffered.
    pub(super) fn push_shared(&mut self, payload: Bytes) {
        if payload.is_empty() {
            return;
        }
        self.freeze_tail();
        self.segments_len += payload.len();
        self.segments.push_back(Part::Shared(payload));
    }

    /// Moves the unwritten tail to the segments, so that what comes next
    /// goes after a shared payload.
    fn freeze_tail(&mut self) {
        let unwritten = self.tail.len() - self.pos;
        if unwritten == 0 {
            self.tail.clear();
        } else if unwritten <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..unwritten].copy_from_slice(&self.tail[self.pos..]);
            self.segments_len += unwritten;
            self.segments.push_back(Part::Inline {
                bytes,
                start: 0,
                end: unwritten as u8,
            });
            self.tail.clear();
        } else {
            let mut tail = Bytes::from(std::mem::take(&mut self.tail));
            tail.advance(self.pos);
            self.segments_len += tail.len();
            self.segments.push_back(Part::Shared(tail));
        }
        self.pos = 0;
    }

    /// The next contiguous bytes to write (not always all of them).
    #[inline]
    pub(super) fn pending(&self) -> &[u8] {
        let pending = match self.segments.front() {
            Some(first) => first.as_slice(),
            None => self.tail.get(self.pos..).unwrap_or_default(),
        };
        self.consumable.0.store(pending.len(), Ordering::Relaxed);
        pending
    }

    /// Fills `slices` with the queued bytes, in order: how many were set.
    pub(super) fn pending_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.consumable.0.store(usize::MAX, Ordering::Relaxed);
        let tail = self.tail.get(self.pos..).unwrap_or_default();
        let parts = self
            .segments
            .iter()
            .map(Part::as_slice)
            .chain(Some(tail).filter(|t| !t.is_empty()));
        let mut n = 0;
        for (slot, part) in slices.iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }

    /// How many parts `pending_vectored` would give.
    #[inline]
    pub(super) fn parts(&self) -> usize {
        self.segments.len() + usize::from(self.pos < self.tail.len())
    }

    /// All the bytes queued.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.segments_len + self.tail.len() - self.pos
    }

    /// Marks `n` bytes as written; true once everything is.
    ///
    /// # Panics
    ///
    /// If `n` is more than the last `pending` returned (less what was
    /// consumed since) while more than that is queued: the bytes past it
    /// were never handed out to be written, and skipping them would
    /// corrupt the stream.
    #[inline]
    pub(super) fn consume(&mut self, n: usize) -> bool {
        // The common case: one buffer, all of it written, and all of it
        // handed out (a plain write of what `pending` gave).
        let consumable = self.consumable.0.get_mut();
        if self.segments.is_empty() && n == self.tail.len() - self.pos && n <= *consumable {
            if *consumable != usize::MAX {
                *consumable -= n;
            }
            self.drained();
            return true;
        }
        self.consume_parts(n)
    }

    /// Everything was written: the tail is emptied for the next frames.
    #[inline]
    fn drained(&mut self) {
        self.pos = 0;
        if self.tail.capacity() > KEEP_CAPACITY {
            self.tail = Vec::new();
        } else {
            self.tail.clear();
        }
    }

    /// [`consume`](Self::consume) in general.
    fn consume_parts(&mut self, mut n: usize) -> bool {
        let len = self.len();
        let consumable = self.consumable.0.get_mut();
        // Past the end is harmless (everything was handed out); short of
        // it, bytes that were never handed out would be skipped.
        assert!(
            n <= *consumable || len <= *consumable,
            "consume_output({n}) past the {consumable} bytes pending_output() returned: \
             consume only what was written of it, then call pending_output() again \
             (pending_output_len() counts every part; pending_output_vectored() gives them all)"
        );
        if *consumable != usize::MAX {
            *consumable = consumable.saturating_sub(n);
        }
        while n > 0 {
            let Some(first) = self.segments.front_mut() else {
                break;
            };
            let step = n.min(first.len());
            first.advance(step);
            self.segments_len -= step;
            n -= step;
            if first.len() == 0 {
                self.segments.pop_front();
            }
        }
        if self.segments.is_empty() {
            self.pos = self.pos.saturating_add(n).min(self.tail.len());
        }
        let drained = self.segments.is_empty() && self.pos == self.tail.len();
        if drained {
            self.drained();
        }
        drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything(output: &Output) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 8];
        let n = output.pending_vectored(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn shared_payloads_keep_their_place_and_are_not_copied() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"head");
        let payload = Bytes::from(vec![7u8; 10]);
        let address = payload.as_ptr();
        output.push_shared(payload);
        output.buffer().extend_from_slice(b"next");
        assert_eq!(output.len(), 18);
        assert_eq!(
            everything(&output),
            b"head\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07next"
        );
        assert_eq!(output.parts(), 3, "head, payload, tail");
        assert_eq!(output.pending(), b"head");
        assert!(!output.consume(4));
        assert_eq!(output.parts(), 2);
        assert_eq!(output.pending().as_ptr(), address, "the payload itself");
        // A write that ends inside a segment, another across into the tail.
        assert!(!output.consume(3));
        assert_eq!(output.pending().len(), 7);
        // Across into the tail, as a vectored write of every part.
        assert_eq!(everything(&output).len(), 11);
        assert!(!output.consume(9));
        assert_eq!(output.pending(), b"xt");
        assert_eq!(output.parts(), 1, "what is left of the tail");
        assert!(output.consume(2));
        assert_eq!((output.len(), output.parts()), (0, 0));
        assert!(output.pending().is_empty());
    }

    #[test]
    fn a_partly_written_tail_is_frozen_from_where_it_was() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"abcdef");
        assert!(!output.consume(2));
        output.push_shared(Bytes::from_static(b"XY"));
        assert_eq!(everything(&output), b"cdefXY");
        assert_eq!(output.len(), 6);
        assert!(output.consume(6));
    }

    #[test]
    fn a_short_tail_is_frozen_by_copy_and_the_buffer_kept() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"\x82\x7e\x40\x00");
        let capacity = output.tail.capacity();
        output.push_shared(Bytes::from(vec![7u8; 16 << 10]));
        assert!(matches!(output.segments.front(), Some(Part::Inline { .. })));
        assert_eq!(
            output.tail.capacity(),
            capacity,
            "the tail keeps its buffer"
        );
        output.buffer().extend_from_slice(b"next");
        let all = everything(&output);
        assert_eq!(all.len(), 4 + (16 << 10) + 4);
        assert_eq!(&all[..4], b"\x82\x7e\x40\x00");
        assert_eq!(&all[all.len() - 4..], b"next");
        // Written in three pieces, the first ending inside the copied part.
        assert!(!output.consume(3));
        assert_eq!(output.pending(), b"\x00");
        assert!(!output.consume(1));
        assert_eq!(output.pending().len(), 16 << 10);
        assert!(!output.consume(16 << 10));
        assert_eq!(output.pending(), b"next");
        assert!(output.consume(4));
    }

    #[test]
    fn a_long_tail_is_frozen_whole_without_a_copy() {
        let mut output = Output::default();
        let long: Vec<u8> = (0..=INLINE as u8).collect();
        output.buffer().extend_from_slice(&long);
        let address = output.tail.as_ptr();
        output.push_shared(Bytes::from_static(b"XY"));
        let Some(Part::Shared(frozen)) = output.segments.front() else {
            panic!("{} bytes are frozen as they are", INLINE + 1);
        };
        assert_eq!(frozen.as_ptr(), address, "not copied");
        let mut expected = long.clone();
        expected.extend_from_slice(b"XY");
        assert_eq!(everything(&output), expected);
    }

    #[test]
    #[should_panic(expected = "past the 4 bytes pending_output() returned")]
    fn consuming_more_than_the_contiguous_part_handed_out_is_loud() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"head");
        output.push_shared(Bytes::from(vec![7u8; 10]));
        let written = output.pending().len();
        // The caller wrote those 4 bytes but consumes all 14 queued.
        output.consume(written + 10);
    }

    #[test]
    fn consuming_across_parts_after_a_vectored_view_is_allowed() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"head");
        output.push_shared(Bytes::from(vec![7u8; 10]));
        assert_eq!(everything(&output).len(), 14);
        assert!(output.consume(14));
    }

    #[test]
    fn few_slices_take_the_first_parts() {
        let mut output = Output::default();
        for part in [&b"a"[..], b"b", b"c"] {
            output.buffer().extend_from_slice(b"-");
            output.push_shared(Bytes::copy_from_slice(part));
        }
        let mut slices = [IoSlice::new(&[]); 2];
        assert_eq!(output.pending_vectored(&mut slices), 2);
        assert_eq!((&slices[0][..], &slices[1][..]), (&b"-"[..], &b"a"[..]));
    }
}
