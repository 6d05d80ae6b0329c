//! Randomness for masking keys and handshake keys.

/// Fills `buf` from the operating system's random source.
///
/// # Panics
///
/// If the operating system has no random source. RFC 6455 §5.3 and §4.1
/// require unpredictable keys, so there is no weaker fallback.
pub(crate) fn fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random source failed: {e}");
    }
}
