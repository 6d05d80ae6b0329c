//! permessage-deflate on a connection: which window and context policy
//! each direction uses, and the compressor and inflater, made on first use
//! and, without context takeover, freed after each message.

use super::Role;
use crate::deflate::{DeflateConfig, DeflateParams, Deflater, Inflater};

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
        let (bits, _) = self.peer;
        self.inflater
            .get_or_insert_with(|| Inflater::new(bits, false))
    }

    /// A compressed message from the peer ended. Without the peer's context
    /// takeover nothing carries over to the next message, so the inflater
    /// is freed: an idle connection holds no inflate state.
    pub(super) fn inflated_message(&mut self) {
        if self.peer.1 {
            self.inflater = None;
        }
    }

    /// Compresses a message's payload into `out` if it is worth it (at
    /// least the threshold) and possible; `false` to send it as it is.
    pub(super) fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        // An empty message has nothing to compress (and zlib would refuse a
        // second sync flush with no data between).
        if payload.is_empty() || payload.len() < self.threshold || self.cannot_compress {
            return false;
        }
        let (bits, no_context) = self.own;
        if self.deflater.is_none() {
            self.deflater = Deflater::new(self.level, bits, false);
            self.cannot_compress = self.deflater.is_none();
        }
        let start = out.len();
        let mut compressed = match &mut self.deflater {
            Some(deflater) => deflater.compress(payload, out),
            None => false,
        };
        // Without context takeover nothing refers back to this message, so
        // data that does not shrink may go out as it is. (With it, the peer
        // must see what entered the compressor's window.)
        if no_context && compressed && out.len() - start >= payload.len() {
            out.truncate(start);
            compressed = false;
        }
        // Without context takeover nothing carries over to the next message:
        // free the compressor (hundreds of KiB) rather than keep it idle.
        if no_context || !compressed {
            self.deflater = None;
        }
        compressed
    }
}
