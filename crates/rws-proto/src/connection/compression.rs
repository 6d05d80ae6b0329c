//! permessage-deflate on a connection: which window and context policy
//! each direction uses, and the compressor and inflater, made on first use
//! and, without context takeover, given back after each message (reset, to
//! the thread's spares: `deflate::spare`).

use super::Role;
use crate::deflate::{
    give_deflater, give_inflater, take_deflater, take_inflater, DeflateConfig, DeflateParams,
    Deflater, Inflater,
};

/// The negotiated extension and its codecs.
#[derive(Debug)]
pub(super) struct Compression {
    pub(super) params: DeflateParams,
    level: u32,
    threshold: usize,
    /// This end's compressor window and context policy.
    own: (u8, bool),
    /// The peer's.
    peer: (u8, bool),
    deflater: Option<Deflater>,
    inflater: Option<Inflater>,
    /// The agreed window cannot be produced (8 bits): send uncompressed.
    cannot_compress: bool,
}

impl Compression {
    pub(super) fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Compression {
        let server = (
            params.server_max_window_bits,
            params.server_no_context_takeover,
        );
        let client = (
            params.client_max_window_bits,
            params.client_no_context_takeover,
        );
        let (own, peer) = match role {
            Role::Server => (server, client),
            Role::Client => (client, server),
        };
        Compression {
            params,
            level: config.level,
            threshold: config.threshold,
            own,
            peer,
            deflater: None,
            inflater: None,
            cannot_compress: false,
        }
    }

    /// The inflater for the peer's messages.
    pub(super) fn inflater(&mut self) -> &mut Inflater {
        let (bits, no_context) = self.peer;
        self.inflater.get_or_insert_with(|| {
            let spare = if no_context {
                take_inflater(bits)
            } else {
                None
            };
            spare.unwrap_or_else(|| Inflater::new(bits, false))
        })
    }

    /// A compressed message from the peer ended well. Without the peer's
    /// context takeover nothing carries over to the next message, so the
    /// inflater is reset and given back: an idle connection holds no
    /// inflate state. (After a failure, the connection drops it.)
    pub(super) fn inflated_message(&mut self) {
        let (bits, no_context) = self.peer;
        if no_context {
            if let Some(mut inflater) = self.inflater.take() {
                inflater.reset();
                give_inflater(bits, inflater);
            }
        }
    }

    /// Compresses a message's payload into `out` if it is worth it (at
    /// least the threshold) and possible; `false` to send it as it is.
    pub(super) fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        if !self.worth_compressing(payload) {
            return false;
        }
        let (bits, no_context) = self.own;
        if no_context {
            return match compress_alone(self.level, bits, payload, out) {
                Some(compressed) => compressed,
                None => {
                    self.cannot_compress = true;
                    false
                }
            };
        }
        if self.deflater.is_none() {
            self.deflater = Deflater::new(self.level, bits, false);
            self.cannot_compress = self.deflater.is_none();
        }
        let compressed = match &mut self.deflater {
            Some(deflater) => deflater.compress(payload, out),
            None => false,
        };
        // With context takeover, a compressor that failed is dropped.
        if !compressed {
            self.deflater = None;
        }
        compressed
    }

    /// Whether a payload should go through the compressor at all: not
    /// empty, at least the threshold, and a compressor can be made.
    fn worth_compressing(&self, payload: &[u8]) -> bool {
        // An empty message has nothing to compress (and zlib would refuse a
        // second sync flush with no data between).
        !payload.is_empty() && payload.len() >= self.threshold && !self.cannot_compress
    }

    /// The compressor level and window under which `payload` compresses to
    /// the same bytes on every connection that has them: this end's, when
    /// it compresses each message on its own (no context takeover) and the
    /// payload is worth compressing. `None` when it would not be
    /// compressed, or depends on this connection's earlier messages.
    pub(super) fn alone(&self, payload: &[u8]) -> Option<(u32, u8)> {
        let (bits, no_context) = self.own;
        (no_context && self.worth_compressing(payload)).then_some((self.level, bits))
    }
}

/// Compresses one message with a compressor of `level` and `bits` that
/// starts afresh (no context takeover) into `out`: `Some(true)` when it
/// was compressed, `Some(false)` to send it as it is (zlib failed, or the
/// data does not shrink: without context takeover nothing refers back to
/// it, so it may go out as it is), `None` when no compressor can have that
/// window. The compressor (hundreds of KiB) comes from this thread's spares
/// and goes back there reset, rather than kept idle by a connection.
pub(crate) fn compress_alone(
    level: u32,
    bits: u8,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Option<bool> {
    let mut deflater = take_deflater(level, bits).or_else(|| Deflater::new(level, bits, false))?;
    let start = out.len();
    let mut compressed = deflater.compress(payload, out);
    if compressed && out.len() - start >= payload.len() {
        out.truncate(start);
        compressed = false;
    }
    deflater.reset();
    give_deflater(level, bits, deflater);
    Some(compressed)
}
