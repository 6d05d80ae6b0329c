//! The per-message transform (RFC 7692 §7.2) on flate2's raw deflate.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// RFC 7692 §7.2.1: the tail of a sync flush, removed after compressing
/// and put back before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output is produced in steps of at most this size.
const STEP: usize = 64 << 10;

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    compress: Compress,
    reset_each: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor with a window of `window_bits`, or `None` for 8 bits,
    /// which zlib cannot produce (such an end sends uncompressed messages,
    /// which RFC 7692 always allows).
    pub(crate) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Option<Deflater> {
        if !(9..=15).contains(&window_bits) {
            return None;
        }
        Some(Deflater {
            compress: Compress::new_with_window_bits(
                Compression::new(level.min(9)),
                false,
                window_bits,
            ),
            reset_each: no_context_takeover,
        })
    }

    /// Appends the compressed payload of a whole message to `out`
    /// (RFC 7692 §7.2.1: a sync flush without its tail). `false` if zlib
    /// failed, with `out` as it was.
    pub(crate) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        loop {
            out.reserve(input.len() / 2 + 64);
            let before = self.compress.total_in();
            if self
                .compress
                .compress_vec(input, out, FlushCompress::Sync)
                .is_err()
            {
                out.truncate(start);
                self.compress.reset();
                return false;
            }
            let used = (self.compress.total_in() - before) as usize;
            input = &input[used.min(input.len())..];
            // zlib finished the flush when it left output space unused.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if self.reset_each {
            self.compress.reset();
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
            true
        } else {
            out.truncate(start);
            false
        }
    }

    /// Forgets everything compressed so far: the next message starts
    /// afresh, as with a new compressor.
    pub(crate) fn reset(&mut self) {
        self.compress.reset();
    }
}

/// Why inflating failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The data is not valid deflate.
    Corrupt,
    /// The output would pass the limit.
    TooLarge,
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InflateError::Corrupt => "corrupt deflate data",
            InflateError::TooLarge => "inflated data larger than the limit",
        })
    }
}

impl std::error::Error for InflateError {}

/// Inflates the messages of one direction of a connection (RFC 7692
/// §7.2.2): the [`Connection`](crate::Connection) uses it for what it
/// receives, and a tool that reads captured traffic can use it alone.
///
/// ```
/// use rws_proto::deflate::Inflater;
///
/// // "Hello" compressed, from RFC 7692 §7.2.3.1 (tail removed).
/// let mut inflater = Inflater::new(15, false);
/// let mut out = Vec::new();
/// inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 1024).unwrap();
/// inflater.finish(&mut out, 1024).unwrap();
/// assert_eq!(out, b"Hello");
/// ```
pub struct Inflater {
    decompress: Decompress,
    reset_each: bool,
    /// The message held a final block (BFINAL set, RFC 7692 §7.2.3.3).
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater for data compressed with at most `window_bits` (a
    /// larger window reads anything a smaller one wrote, so 8 uses 9).
    /// Without context takeover, each message starts afresh.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            decompress: Decompress::new_with_window_bits(false, window_bits.clamp(9, 15)),
            reset_each: no_context_takeover,
            ended: false,
        }
    }

    /// Inflates the next piece of a message's payload, appending to `out`,
    /// which must never grow past `limit` bytes: the zip-bomb guard, checked
    /// while inflating, before any memory beyond the limit is taken.
    pub fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        loop {
            // One byte of room past the limit tells "too large" from "done".
            let room = limit.saturating_sub(out.len()).saturating_add(1);
            let step = input.len().saturating_mul(4).clamp(1024, STEP).min(room);
            let start = out.len();
            // When short of space, grow by doubling, but never past the
            // limit (plus that byte).
            if out.capacity() - start < step {
                let target = (out.capacity() * 2)
                    .max(start + step)
                    .min(start.saturating_add(room));
                out.reserve_exact(target.saturating_sub(start));
            }
            out.resize(start + step, 0);
            let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
            let result =
                self.decompress
                    .decompress(input, &mut out[start..], FlushDecompress::Sync);
            let used = (self.decompress.total_in() - before_in) as usize;
            let made = (self.decompress.total_out() - before_out) as usize;
            out.truncate(start + made);
            match result {
                Err(_) => return Err(InflateError::Corrupt),
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(_) => {}
            }
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            input = &input[used.min(input.len())..];
            if self.ended {
                // Nothing may follow a final block within the message.
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt)
                };
            }
            let full = made == step;
            if !full && (input.is_empty() || used == 0) {
                // Done, or stuck with input left: data after the end of a
                // final deflate block is not valid here.
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt)
                };
            }
        }
    }

    /// Ends a message: inflates the removed sync-flush tail (RFC 7692
    /// §7.2.2) and, without context takeover, forgets the window.
    ///
    /// A message that ended with a final block has no tail to inflate, and
    /// the next message starts a new stream.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let result = if self.ended {
            Ok(())
        } else {
            self.inflate(&TAIL, out, limit)
        };
        if self.reset_each || self.ended || result.is_err() {
            self.reset();
        }
        result
    }

    /// Forgets the window: the next message starts afresh, as with a new
    /// inflater.
    pub(crate) fn reset(&mut self) {
        self.decompress.reset(false);
        self.ended = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bits: u8, no_context: bool, messages: &[&[u8]]) {
        let mut deflater = Deflater::new(6, bits, no_context).unwrap();
        let mut inflater = Inflater::new(bits, no_context);
        for m in messages {
            let mut wire = Vec::new();
            assert!(deflater.compress(m, &mut wire));
            let mut back = Vec::new();
            inflater.inflate(&wire, &mut back, usize::MAX).unwrap();
            inflater.finish(&mut back, usize::MAX).unwrap();
            assert_eq!(&back, m, "bits {bits} no_context {no_context}");
        }
    }

    #[test]
    fn rfc7692_7_2_round_trips_at_every_window_size() {
        let text = b"Hello, hello, hello! The same words again and again and again.".repeat(50);
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for bits in 9..=15 {
            for no_context in [false, true] {
                round_trip(
                    bits,
                    no_context,
                    &[b"", b"a", &text, &noise, &text, b"Hello"],
                );
            }
        }
    }

    #[test]
    fn rfc7692_7_2_3_1_the_rfc_example_hello() {
        // "Hello" compressed: f2 48 cd c9 c9 07 00.
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        inflater
            .inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the second "Hello" with context takeover: f2 00 11 00 00.
        inflater
            .inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out, 100)
            .unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"HelloHello");
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let message = b"{\"type\":\"update\",\"value\":12345,\"name\":\"sensor-7\"}";
        let mut with = Deflater::new(6, 15, false).unwrap();
        let mut without = Deflater::new(6, 15, true).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        with.compress(message, &mut a);
        without.compress(message, &mut b);
        assert_eq!(a, b, "the first message is the same");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        with.compress(message, &mut a);
        without.compress(message, &mut b);
        assert!(a.len() < b.len() / 2, "{} vs {}", a.len(), b.len());
    }

    #[test]
    fn eight_bit_windows_are_not_produced() {
        assert!(Deflater::new(6, 8, false).is_none());
        // But read: an 8-bit window inflater is a 9-bit one.
        round_trip(9, false, &[b"abcabcabc"]);
        let _ = Inflater::new(8, false);
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 10 << 20];
        let mut deflater = Deflater::new(9, 15, false).unwrap();
        let mut wire = Vec::new();
        deflater.compress(&zeros, &mut wire);
        assert!(wire.len() < 20 << 10, "{} bytes", wire.len());
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        assert_eq!(
            inflater.inflate(&wire, &mut out, 1 << 20),
            Err(InflateError::TooLarge)
        );
        assert!(
            out.capacity() <= (1 << 20) + 1,
            "{} bytes taken",
            out.capacity()
        );
    }

    #[test]
    fn rfc7692_7_2_3_3_a_final_block_ends_the_message_stream() {
        // "Hello" in a final fixed-Huffman block (BFINAL set), twice.
        let hello = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut inflater = Inflater::new(15, false);
        for _ in 0..2 {
            let mut out = Vec::new();
            inflater.inflate(&hello, &mut out, 100).unwrap();
            inflater.finish(&mut out, 100).unwrap();
            assert_eq!(out, b"Hello");
        }
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        // BTYPE 11 is reserved.
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff], &mut out, 100),
            Err(InflateError::Corrupt)
        );
        // Data after a final block.
        let mut inflater = Inflater::new(15, false);
        let final_block = [0x03, 0x00];
        assert_eq!(
            inflater.inflate(&[&final_block[..], b"junk"].concat(), &mut out, 100),
            Err(InflateError::Corrupt)
        );
    }
}
