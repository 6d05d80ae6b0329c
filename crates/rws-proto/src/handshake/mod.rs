//! The opening handshake (RFC 6455 §4) for both roles, on the `http`
//! crate's types, with no I/O.
//!
//! The client builds a request with [`ClientHandshake`] and checks the
//! server's answer with [`ClientHandshake::handle_response`]. The server
//! parses a request with [`parse_request`], lets the application look at
//! the [`UpgradeRequest`], and answers with
//! [`UpgradeRequest::accept`] or a rejection; [`encode_response`] writes
//! either.

mod client;
mod server;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::HeaderMap;
use sha1::{Digest, Sha1};

pub use client::{ClientHandshake, MAX_REJECTION_BODY};
pub use server::{
    encode_response, error_response, is_upgrade_request, parse_request, read_request, Accept,
    Rejection, ResponseBody, UpgradeRequest,
};

/// RFC 6455 §1.3: the GUID appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Bounds on an HTTP head read from the peer.
///
/// ```
/// use rws_proto::handshake::HeadLimits;
///
/// let limits = HeadLimits::default();
/// assert_eq!((limits.max_head_size, limits.max_headers), (16 << 10, 64));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadLimits {
    /// The largest request or response head, in bytes. Default: 16 KiB.
    pub max_head_size: usize,
    /// The most header fields. Default: 64.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> HeadLimits {
        HeadLimits {
            max_head_size: 16 << 10,
            max_headers: 64,
        }
    }
}

impl HeadLimits {
    /// Sets [`max_head_size`](Self::max_head_size).
    pub fn max_head_size(mut self, bytes: usize) -> HeadLimits {
        self.max_head_size = bytes;
        self
    }

    /// Sets [`max_headers`](Self::max_headers).
    pub fn max_headers(mut self, count: usize) -> HeadLimits {
        self.max_headers = count;
        self
    }
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
///
/// ```
/// // RFC 6455 §1.3.
/// assert_eq!(
///     rws_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    BASE64.encode(sha.finalize())
}

/// A fresh random `Sec-WebSocket-Key`: 16 random bytes, base64-encoded.
pub fn generate_key() -> String {
    let mut nonce = [0u8; 16];
    crate::random::fill(&mut nonce);
    BASE64.encode(nonce)
}

/// The comma-separated elements of every `name` field, trimmed, non-empty.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The values of every `name` field that are text.
fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
}

/// Whether any `name` field lists `token`, case-insensitively.
fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    header_list(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_1_3_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key(b"x3JJHMbDL1EzLkh9GBhXDw=="),
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        );
    }

    #[test]
    fn rfc6455_4_1_keys_are_16_random_bytes() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(BASE64.decode(&a).unwrap().len(), 16);
    }

    #[test]
    fn token_lists_are_case_insensitive_comma_lists() {
        let mut h = HeaderMap::new();
        h.append("connection", "keep-alive, Upgrade".parse().unwrap());
        h.append("connection", "close".parse().unwrap());
        assert!(has_token(&h, "connection", "upgrade"));
        assert!(has_token(&h, "connection", "CLOSE"));
        assert!(!has_token(&h, "connection", "upgrad"));
        assert_eq!(header_list(&h, "connection").count(), 3);
    }
}
