//! Payload masking (RFC 6455 §5.3).

use std::mem::MaybeUninit;

/// XORs `buf` with the masking `key`, as if `buf` started `offset` bytes
/// into the payload. Masking and unmasking are the same operation.
///
/// Works 32 bytes at a time, with AVX2 where the CPU has it (detected at
/// run time) and SSE2 otherwise on x86-64; other machines get what their
/// compiler makes of the same portable loop.
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
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= WIDE_AT_LEAST && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, detected just above.
        unsafe { mask_in_place_avx2(buf, key) };
        return;
    }
    mask_in_place(buf, key);
}

/// XORs `buf` with `key` (at phase 0): 32 bytes at a time, then 8, then
/// one. The compiler unrolls this loop (eight blocks per step with AVX2);
/// written with larger blocks by hand it ran 15 % more instructions.
#[inline(always)]
fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
    let block_key: [u8; BLOCK] = std::array::from_fn(|i| key[i & 3]);
    let (blocks, rest) = buf.as_chunks_mut::<BLOCK>();
    for block in blocks {
        for i in 0..BLOCK {
            block[i] ^= block_key[i];
        }
    }
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let (words, tail) = rest.as_chunks_mut::<8>();
    for word in words {
        *word = (u64::from_ne_bytes(*word) ^ wide).to_ne_bytes();
    }
    // Blocks and words are multiples of four bytes: the tail starts at key
    // phase 0. Short payloads (most control frames) only take this loop.
    for (i, byte) in tail.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// [`mask_in_place`] compiled for AVX2.
///
/// # Safety
///
/// The CPU must have AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mask_in_place_avx2(buf: &mut [u8], key: [u8; 4]) {
    mask_in_place(buf, key);
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
    #[cfg(target_arch = "x86_64")]
    if src.len() >= WIDE_AT_LEAST && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, detected just above.
        unsafe { copy_masked_avx2(spare, src, key) };
    } else {
        copy_masked(spare, src, key);
    }
    #[cfg(not(target_arch = "x86_64"))]
    copy_masked(spare, src, key);
    // SAFETY: `spare` is the first `src.len()` bytes of the spare capacity
    // (reserved above), and `copy_masked` wrote every one of them.
    unsafe { out.set_len(start + src.len()) };
}

/// Payloads from this long are masked with AVX2 where the CPU has it:
/// shorter ones are not worth the check.
#[cfg(target_arch = "x86_64")]
const WIDE_AT_LEAST: usize = 2 * BLOCK;

/// [`copy_masked`] compiled for AVX2: 32 bytes per instruction.
///
/// # Safety
///
/// The CPU must have AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_masked_avx2(to: &mut [MaybeUninit<u8>], from: &[u8], key: [u8; 4]) {
    copy_masked(to, from, key);
}

/// Writes `from` XORed with `key` (at phase 0) into `to`, of the same
/// length, every byte of it: 256 bytes at a time (fixed-size arrays, which
/// the compiler turns into vector instructions, eight AVX2 registers per
/// step through [`copy_masked_avx2`], SSE2 everywhere on x86-64), then 32,
/// then 8, then one.
#[inline(always)]
fn copy_masked(to: &mut [MaybeUninit<u8>], from: &[u8], key: [u8; 4]) {
    debug_assert_eq!(to.len(), from.len());
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let (mut to_rest, mut from_rest) = (to, from);
    if from_rest.len() >= UNROLLED {
        let keys = repeated::<UNROLLED>(wide);
        (to_rest, from_rest) = copy_blocks(to_rest, from_rest, &keys);
    }
    if from_rest.len() >= BLOCK {
        let keys = repeated::<BLOCK>(wide);
        (to_rest, from_rest) = copy_blocks(to_rest, from_rest, &keys);
    }
    let (to_words, to_tail) = to_rest.as_chunks_mut::<8>();
    let (from_words, from_tail) = from_rest.as_chunks::<8>();
    for (t, f) in to_words.iter_mut().zip(from_words) {
        *t = (u64::from_ne_bytes(*f) ^ wide)
            .to_ne_bytes()
            .map(MaybeUninit::new);
    }
    for (i, (t, f)) in to_tail.iter_mut().zip(from_tail).enumerate() {
        t.write(f ^ key[i & 3]);
    }
}

/// Copies the whole `N`-byte blocks at the start of `from` into `to`,
/// XORed with `block_key` (the key repeated from phase 0; `N` a multiple
/// of 4: each block starts at phase 0): what is left of both after them.
/// Both sides have the same length, so they split alike.
#[inline(always)]
fn copy_blocks<'t, 'f, const N: usize>(
    to: &'t mut [MaybeUninit<u8>],
    from: &'f [u8],
    block_key: &[u8; N],
) -> (&'t mut [MaybeUninit<u8>], &'f [u8]) {
    let (to_blocks, to_rest) = to.as_chunks_mut::<N>();
    let (from_blocks, from_rest) = from.as_chunks::<N>();
    for (t, f) in to_blocks.iter_mut().zip(from_blocks) {
        for i in 0..N {
            t[i] = MaybeUninit::new(f[i] ^ block_key[i]);
        }
    }
    (to_rest, from_rest)
}

/// The key (as a word of two keys) repeated over `N` bytes, written a
/// word at a time: built byte by byte, it cost more than the masking of a
/// 1 KiB payload. `N` is a multiple of 8.
#[inline(always)]
fn repeated<const N: usize>(wide: u64) -> [u8; N] {
    let mut keys = [0u8; N];
    for word in keys.as_chunks_mut::<8>().0 {
        *word = wide.to_ne_bytes();
    }
    keys
}

/// The bytes the first stage of [`copy_masked`] takes at a time: eight
/// AVX2 registers, so the loop's own instructions are spread over 256
/// bytes (the compiler does not unroll the copying loop by itself).
const UNROLLED: usize = 8 * BLOCK;

/// The bytes [`copy_masked`] takes at a time: one AVX2 register.
const BLOCK: usize = 32;

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
        for len in 0..300 {
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
    fn extend_masked_matches_bytewise_masking_at_every_offset_and_length() {
        let key = [0xa1, 0x02, 0xf3, 0x44];
        for len in 0..300 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut expected = vec![1, 2, 3];
                expected.extend_from_slice(&data);
                naive(&mut expected[3..], key, offset);
                let mut out = vec![1, 2, 3];
                extend_masked(&mut out, &data, key, offset);
                assert_eq!(out, expected, "len {len} offset {offset}");
            }
        }
        // Into a buffer with room already (no reallocation), in pieces.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31) as u8).collect();
        let mut whole = data.clone();
        naive(&mut whole, key, 0);
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

    /// Both paths (portable, and AVX2 where this CPU has it) against the
    /// byte-by-byte reference, at every length up to 600 (past two of the
    /// widest blocks), every key phase and every alignment of source and
    /// destination within 32 bytes.
    #[test]
    fn rfc6455_5_3_portable_and_avx2_paths_agree_at_every_length_and_alignment() {
        let key = [0x5a, 0xc3, 0x0f, 0x99];
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let source: Vec<u8> = (0..700u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..600 {
            for align in [0, 1, 3, 7, 8, 13, 31] {
                for phase in 0..4 {
                    let from = &source[align..align + len];
                    let rotated = rotate(key, phase);
                    let mut expected = from.to_vec();
                    naive(&mut expected, key, phase);
                    // In place, portable and wide.
                    let mut buf = vec![0u8; align + len];
                    buf[align..].copy_from_slice(from);
                    mask_in_place(&mut buf[align..], rotated);
                    assert_eq!(
                        &buf[align..],
                        &expected[..],
                        "in place, len {len} align {align}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    if avx2 {
                        buf[align..].copy_from_slice(from);
                        // SAFETY: AVX2 was detected.
                        unsafe { mask_in_place_avx2(&mut buf[align..], rotated) };
                        assert_eq!(&buf[align..], &expected[..], "AVX2 in place, len {len}");
                    }
                    // Copying, portable and wide, into a misaligned spot.
                    let mut out: Vec<MaybeUninit<u8>> = vec![MaybeUninit::new(0); align + len];
                    copy_masked(&mut out[align..], from, rotated);
                    assert_eq!(
                        init(&out[align..]),
                        expected,
                        "copy, len {len} align {align}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    if avx2 {
                        // SAFETY: AVX2 was detected.
                        unsafe { copy_masked_avx2(&mut out[align..], from, rotated) };
                        let got = init(&out[align..]);
                        assert_eq!(got, expected, "AVX2 copy, len {len} align {align}");
                    }
                }
            }
        }
    }

    /// The bytes of a buffer that was initialized when it was made.
    fn init(bytes: &[MaybeUninit<u8>]) -> Vec<u8> {
        // SAFETY: every buffer given here was made of `MaybeUninit::new`
        // values, then only written.
        bytes.iter().map(|b| unsafe { b.assume_init() }).collect()
    }
}
