//! Compressors and inflaters kept between the messages of connections that
//! take no context from one message to the next (RFC 7692 §7.1.1), a few
//! per thread.
//!
//! Such a connection needs zlib's state only while a message passes, so it
//! holds none while idle (see the table in the module documentation). Made
//! and freed around every message, that state cost more than the message:
//! zlib's window, hash chains and buffers (about 270 KiB for a compressor)
//! allocated and zeroed each time, some 700,000 instructions for a 1 KiB
//! text message, callgrind counted. Reset and handed to the next message
//! of any connection on the same thread instead, only zlib's reset is left.
//!
//! The spares are bounded: at most [`SPARES`] compressors and as many
//! inflaters per thread, whatever the number of connections; a thread's
//! spares go with the thread, or with [`release_spares`].

use std::cell::RefCell;

use super::codec::{Deflater, Inflater};

/// The most spare compressors, and spare inflaters, a thread keeps.
const SPARES: usize = 4;

thread_local! {
    /// Reset compressors by (level, window bits).
    static DEFLATERS: RefCell<Vec<((u32, u8), Deflater)>> = const { RefCell::new(Vec::new()) };
    /// Reset inflaters by window bits.
    static INFLATERS: RefCell<Vec<(u8, Inflater)>> = const { RefCell::new(Vec::new()) };
}

/// A reset compressor of `level` and `window_bits` from this thread's
/// spares, if there is one.
pub(crate) fn take_deflater(level: u32, window_bits: u8) -> Option<Deflater> {
    DEFLATERS.with_borrow_mut(|spares| {
        let at = spares
            .iter()
            .position(|(key, _)| *key == (level, window_bits))?;
        Some(spares.swap_remove(at).1)
    })
}

/// Keeps a compressor for the next message; it must be reset (as made).
pub(crate) fn give_deflater(level: u32, window_bits: u8, deflater: Deflater) {
    DEFLATERS.with_borrow_mut(|spares| {
        if spares.len() < SPARES {
            spares.push(((level, window_bits), deflater));
        }
    });
}

/// A reset inflater for `window_bits` from this thread's spares, if there
/// is one.
pub(crate) fn take_inflater(window_bits: u8) -> Option<Inflater> {
    INFLATERS.with_borrow_mut(|spares| {
        let at = spares.iter().position(|(key, _)| *key == window_bits)?;
        Some(spares.swap_remove(at).1)
    })
}

/// Keeps an inflater for the next message; it must be reset (as made).
pub(crate) fn give_inflater(window_bits: u8, inflater: Inflater) {
    INFLATERS.with_borrow_mut(|spares| {
        if spares.len() < SPARES {
            spares.push((window_bits, inflater));
        }
    });
}

/// Frees the compressors and inflaters this thread keeps between messages
/// of connections without context takeover (at most four of each; they
/// are made again when needed).
///
/// ```
/// use rws_proto::deflate::{release_spares, DeflateParams};
/// use rws_proto::{Config, Connection, Message, Role};
///
/// let mut params = DeflateParams::default();
/// params.server_no_context_takeover = true;
/// let mut server = Connection::new(Role::Server, Config::default()).with_deflate(params);
/// server.send(Message::text("compress me, compress me, compress me, compress me, compress me")).unwrap();
/// // The connection holds no compressor now; this thread keeps one for
/// // the next message, until:
/// release_spares();
/// ```
pub fn release_spares() {
    DEFLATERS.with_borrow_mut(Vec::clear);
    INFLATERS.with_borrow_mut(Vec::clear);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_kept_by_setting_and_bounded() {
        release_spares();
        for _ in 0..SPARES + 2 {
            give_deflater(6, 15, Deflater::new(6, 15, false).expect("15 bits"));
            give_inflater(15, Inflater::new(15, false));
        }
        assert_eq!(DEFLATERS.with_borrow(Vec::len), SPARES);
        assert_eq!(INFLATERS.with_borrow(Vec::len), SPARES);
        assert!(take_deflater(6, 12).is_none(), "another window");
        assert!(take_deflater(1, 15).is_none(), "another level");
        assert!(take_inflater(9).is_none(), "another window");
        assert!(take_deflater(6, 15).is_some());
        assert!(take_inflater(15).is_some());
        release_spares();
        assert!(take_deflater(6, 15).is_none());
        assert!(take_inflater(15).is_none());
    }
}
