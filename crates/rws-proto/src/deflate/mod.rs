//! permessage-deflate (RFC 7692): negotiation and the per-message transform.
//!
//! - [`DeflateConfig`] is this end's policy: what a client offers, what a
//!   server accepts, the compression level and the size below which
//!   messages go out uncompressed.
//! - [`DeflateParams`] are the parameters both ends agreed in the opening
//!   handshake; the [`Connection`](crate::Connection) compresses and
//!   inflates with them.
//! - [`client_offer`], [`server_negotiate`] and [`parse_response`] do the
//!   negotiation of RFC 7692 §5–7 on `Sec-WebSocket-Extensions` values.
//!
//! # Memory
//!
//! A compressor holds hundreds of KiB (zlib's window, hash chains and
//! pending buffer); an inflater about 40 KiB. With context takeover they
//! live as long as the connection; without it, the connection frees them
//! after each message. Measured with a counting allocator
//! (`cargo run --release -p rws-proto --example deflate_memory`), the heap
//! a server-side `Connection` holds while idle, after one compressed
//! message each way:
//!
//! | parameters | bytes per idle connection |
//! | --- | ---: |
//! | no compression | 2.0 KiB |
//! | context takeover both ways, 15-bit windows | 418 KiB |
//! | context takeover both ways, 12-bit windows | 306 KiB |
//! | context takeover both ways, 9-bit windows | 293 KiB |
//! | `server_no_context_takeover` only, 15-bit windows | 47 KiB |
//! | no context takeover either way, 15-bit windows | 0.8 KiB |
//!
//! (Without context takeover, the thread keeps a few reset compressors and
//! inflaters for the next message of any of its connections: at most four
//! of each per thread, whatever the number of connections; see
//! [`release_spares`].)
//!
//! Windows barely matter (zlib's other buffers dominate); context takeover
//! does. So compression is off unless configured
//! ([`Config::deflate`](crate::Config::deflate)), [`DeflateConfig::default`] favours the
//! compression ratio (context takeover both ways, as browsers offer), and a
//! server with many connections should set
//! [`server_no_context_takeover`](DeflateConfig::server_no_context_takeover),
//! as `rws serve` does.

mod codec;
mod negotiate;
mod spare;

pub(crate) use codec::Deflater;
pub use codec::{InflateError, Inflater};
pub use negotiate::{client_offer, parse_response, server_negotiate};
pub use spare::release_spares;
pub(crate) use spare::{give_deflater, give_inflater, take_deflater, take_inflater};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const EXTENSION: &str = "permessage-deflate";

/// This end's permessage-deflate policy.
///
/// As a client, what to offer; as a server, which offers to accept and what
/// to ask of the client. The defaults offer and accept context takeover and
/// 15-bit windows in both directions, and compress messages of 64 bytes or
/// more.
///
/// ```
/// use rws_proto::deflate::DeflateConfig;
///
/// // Save memory: no context takeover, small windows.
/// let lean = DeflateConfig::default()
///     .server_no_context_takeover(true)
///     .client_no_context_takeover(true)
///     .server_max_window_bits(10)
///     .client_max_window_bits(10);
/// assert_eq!(lean.server_max_window_bits, 10);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Client: ask the server to reset its compressor after each message.
    /// Server: always do so (and say it in the answer).
    pub server_no_context_takeover: bool,
    /// Client: promise (and do) resetting the compressor after each
    /// message. Server: ask the client to do so.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window (8–15 bits) the server may compress with.
    /// Client: asked for when below 15. Server: the window it uses, at most.
    pub server_max_window_bits: u8,
    /// The largest window (8–15 bits) the client may compress with. Client:
    /// offered as `client_max_window_bits` (with this value when below 15).
    /// Server: asked of clients that allow it, when below 15.
    pub client_max_window_bits: u8,
    /// The zlib compression level, 0–9. Default: 6.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed. Default: 64 bytes.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            threshold: 64,
        }
    }
}

impl DeflateConfig {
    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    pub fn server_no_context_takeover(mut self, on: bool) -> DeflateConfig {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, on: bool) -> DeflateConfig {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets [`server_max_window_bits`](Self::server_max_window_bits),
    /// clamped to 8–15.
    pub fn server_max_window_bits(mut self, bits: u8) -> DeflateConfig {
        self.server_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Sets [`client_max_window_bits`](Self::client_max_window_bits),
    /// clamped to 8–15.
    pub fn client_max_window_bits(mut self, bits: u8) -> DeflateConfig {
        self.client_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Sets [`level`](Self::level), clamped to 0–9.
    pub fn level(mut self, level: u32) -> DeflateConfig {
        self.level = level.min(9);
        self
    }

    /// Sets [`threshold`](Self::threshold).
    pub fn threshold(mut self, bytes: usize) -> DeflateConfig {
        self.threshold = bytes;
        self
    }
}

/// The permessage-deflate parameters agreed in the opening handshake
/// (RFC 7692 §7.1), as both ends see them.
///
/// ```
/// use rws_proto::deflate::parse_response;
///
/// let params = parse_response(
///     ["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"],
///     &Default::default(),
/// )
/// .unwrap()
/// .unwrap();
/// assert!(params.server_no_context_takeover);
/// assert_eq!((params.server_max_window_bits, params.client_max_window_bits), (15, 10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window (8–15 bits).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window (8–15 bits).
    pub client_max_window_bits: u8,
    /// The answer names `server_max_window_bits` even at 15: RFC 7692
    /// §7.1.2.1 accepts an offer that has it only by answering with it.
    explicit_server_window: bool,
}

impl Default for DeflateParams {
    fn default() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            explicit_server_window: false,
        }
    }
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value a server answers with.
    pub fn response_header(&self) -> String {
        let mut out = String::from(EXTENSION);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 || self.explicit_server_window {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        out
    }
}
