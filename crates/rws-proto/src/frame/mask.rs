//! Payload masking (RFC 6455 §5.3).

use std::mem::MaybeUninit;

/// XORs `buf` with the masking `key`, as if `buf` started `offset` bytes
/// into the payload. Masking and unmasking are the same operation.
///
/// Works eight bytes at a time; the compiler widens the loop to the
/// machine's vector registers.
///
/// ```
/// use rws_proto::frame::apply_mask;
///
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let (words, tail) = buf.as_chunks_mut::<8>();
    if !words.is_empty() {
        let wide = u64::from_ne_bytes([
            key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
        ]);
        for word in words {
            *word = (u64::from_ne_bytes(*word) ^ wide).to_ne_bytes();
        }
    }
    // Eight is a multiple of four: the tail starts at key phase 0. Short
    // payloads (most control frames and small messages) only take this
    // loop.
    for (i, byte) in tail.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Appends `src` masked (or unmasked) with `key` to `out`, as if `src`
/// started `offset` bytes into the payload: the copy and the XOR in one
/// pass over the bytes, where `extend_from_slice` then [`apply_mask`]
/// would take two.
///
/// ```
/// use rws_proto::frame::extend_masked;
///
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut message = b"Say: ".to_vec();
/// extend_masked(&mut message, &[0x7f, 0x9f, 0x4d, 0x51, 0x58], [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(message, b"Say: Hello");
/// ```
#[inline]
pub fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    out.reserve(src.len());
    let start = out.len();
    let spare = &mut out.spare_capacity_mut()[..src.len()];
    let key = rotate(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    // Both sides have the same length, so they split alike: words with
    // words, and tails of the same length (starting at key phase 0).
    let (out_words, out_tail) = spare.as_chunks_mut::<8>();
    let (src_words, src_tail) = src.as_chunks::<8>();
    for (to, from) in out_words.iter_mut().zip(src_words) {
        *to = (u64::from_ne_bytes(*from) ^ wide)
            .to_ne_bytes()
            .map(MaybeUninit::new);
    }
    for (i, (to, from)) in out_tail.iter_mut().zip(src_tail).enumerate() {
        to.write(from ^ key[i & 3]);
    }
    // SAFETY: `spare` is the first `src.len()` bytes of the spare capacity
    // (reserved above), and the two loops wrote every one of them: the
    // words cover `8 * (len / 8)` bytes and the tail the `len % 8` after.
    unsafe { out.set_len(start + src.len()) };
}

/// The key as seen from `offset` bytes into the payload.
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Byte `offset % 4` of the key comes first: a rotation of the
    // little-endian word by that many bytes.
    let shift = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc6455_5_3_matches_bytewise_masking_at_every_offset_and_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..70 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = data.clone();
                let mut slow = data.clone();
                apply_mask(&mut fast, key, offset);
                naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                apply_mask(&mut fast, key, offset);
                assert_eq!(fast, data);
            }
        }
    }

    #[test]
    fn extend_masked_equals_copy_then_mask_at_every_offset_and_length() {
        let key = [0xa1, 0x02, 0xf3, 0x44];
        for len in 0..70 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut expected = vec![1, 2, 3];
                expected.extend_from_slice(&data);
                apply_mask(&mut expected[3..], key, offset);
                let mut out = vec![1, 2, 3];
                extend_masked(&mut out, &data, key, offset);
                assert_eq!(out, expected, "len {len} offset {offset}");
            }
        }
        // Into a buffer with room already (no reallocation), in pieces.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31) as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut out = Vec::with_capacity(1000);
        for (i, piece) in data.chunks(77).enumerate() {
            extend_masked(&mut out, piece, key, i * 77);
        }
        assert_eq!(out, whole);
    }

    #[test]
    fn rfc6455_5_3_split_masking_equals_whole() {
        let key = [9, 8, 7, 6];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            assert_eq!(parts, whole, "cut {cut}");
        }
    }
}
