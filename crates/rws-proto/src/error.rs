//! Errors, and THE mapping from a protocol error to its close code.

use std::fmt;

use http::StatusCode;

use crate::close::CloseCode;

/// The peer broke RFC 6455: each variant names the rule.
///
/// The connection fails with [`ProtocolError::close_code`] when one of these
/// is detected (RFC 6455 §7.1.7).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// §5.1: a server received an unmasked frame.
    UnmaskedFrame,
    /// §5.1: a client received a masked frame.
    MaskedFrame,
    /// §5.2: an RSV bit was set that no negotiated extension defines.
    ReservedBits,
    /// §5.2: the opcode is reserved.
    ReservedOpCode(u8),
    /// §5.2: the most significant bit of a 64-bit payload length was set.
    InvalidPayloadLength,
    /// §5.5: a control frame had FIN clear.
    FragmentedControlFrame,
    /// §5.5: a control frame's payload was longer than 125 bytes.
    ControlFrameTooLong(u64),
    /// §5.4: a continuation frame arrived with no message open.
    UnexpectedContinuation,
    /// §5.4: a new text or binary frame arrived while a message was open.
    ExpectedContinuation,
    /// §8.1: a text message was not valid UTF-8.
    InvalidUtf8,
    /// §5.5.1: a close payload of one byte.
    InvalidCloseLength,
    /// §7.4: a close code that may not appear on the wire.
    InvalidCloseCode(u16),
    /// §5.5.1: a close reason that was not UTF-8.
    InvalidCloseReason,
    /// RFC 7692 §6: a compressed message was not valid deflate data.
    InvalidCompressedData,
    /// A frame's payload exceeded the configured maximum frame size.
    FrameTooLarge {
        /// The announced payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message exceeded the configured maximum message size.
    MessageTooLarge {
        /// The size the message would have reached.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// Nothing arrived within the keepalive ping timeout of a ping
    /// ([`Config::ping_timeout`](crate::Config::ping_timeout)): the peer or
    /// the path to it is gone. Not a violation of the peer's, but it ends
    /// the connection the same way, with 1011 as python `websockets` does
    /// (RFC 6455 §7.4.1: "an unexpected condition that prevented it from
    /// fulfilling the request").
    KeepaliveTimeout,
}

impl ProtocolError {
    /// The close code the connection fails with. This is the one place that
    /// maps errors to close codes.
    pub fn close_code(&self) -> CloseCode {
        match self {
            // Corrupt compressed data is payload data inconsistent with its
            // message (RFC 6455 §7.4.1), like invalid UTF-8 in text.
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCloseReason
            | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::KeepaliveTimeout => CloseCode::INTERNAL_ERROR,
            ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::ReservedBits
            | ProtocolError::ReservedOpCode(_)
            | ProtocolError::InvalidPayloadLength
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::ControlFrameTooLong(_)
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation
            | ProtocolError::InvalidCloseLength
            | ProtocolError::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnmaskedFrame => f.write_str("unmasked frame from client"),
            ProtocolError::MaskedFrame => f.write_str("masked frame from server"),
            ProtocolError::ReservedBits => f.write_str("reserved bits set"),
            ProtocolError::ReservedOpCode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidPayloadLength => f.write_str("64-bit length with MSB set"),
            ProtocolError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ProtocolError::ControlFrameTooLong(n) => write!(f, "control frame of {n} bytes"),
            ProtocolError::UnexpectedContinuation => f.write_str("continuation with no message"),
            ProtocolError::ExpectedContinuation => f.write_str("new message inside a message"),
            ProtocolError::InvalidUtf8 => f.write_str("invalid UTF-8 in text"),
            ProtocolError::InvalidCloseLength => f.write_str("close payload of 1 byte"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "invalid close code {c}"),
            ProtocolError::InvalidCloseReason => f.write_str("invalid UTF-8 in close reason"),
            ProtocolError::InvalidCompressedData => f.write_str("invalid deflate data"),
            ProtocolError::FrameTooLarge { size, limit } => {
                write!(f, "frame of {size} bytes over the limit of {limit}")
            }
            ProtocolError::MessageTooLarge { size, limit } => {
                write!(f, "message of {size} bytes over the limit of {limit}")
            }
            ProtocolError::KeepaliveTimeout => f.write_str("keepalive ping timeout"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The caller asked for something the connection cannot do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent, or the connection has failed
    /// (RFC 6455 §5.5.1: no data after close).
    Closed,
    /// A ping or pong payload over 125 bytes (RFC 6455 §5.5).
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (see [`CloseCode::is_sendable`]).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    CloseReasonTooLong(usize),
    /// A fragment that does not continue the message being sent, or a
    /// whole message sent while a fragmented one is open.
    FragmentOrder,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the connection is closing or closed"),
            SendError::ControlPayloadTooLong(n) => {
                write!(f, "control frame payload of {n} bytes (at most 125)")
            }
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::CloseReasonTooLong(n) => {
                write!(f, "close reason of {n} bytes (at most 123)")
            }
            SendError::FragmentOrder => f.write_str("fragments sent out of order"),
        }
    }
}

impl std::error::Error for SendError {}

/// The opening handshake failed (RFC 6455 §4).
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The HTTP message could not be parsed.
    Http(String),
    /// The request or response head exceeded the size limit.
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// More header fields than the limit allows.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// §4.2.1: the request method was not GET (or, over HTTP/2, not
    /// CONNECT: RFC 8441 §4).
    Method(http::Method),
    /// §4.2.1: the HTTP version was below 1.1.
    Version,
    /// A header field is missing or has the wrong value.
    Header {
        /// The header's name.
        name: &'static str,
        /// What was wrong.
        problem: &'static str,
    },
    /// §4.2.1: `Sec-WebSocket-Version` was not 13; the answer is 426.
    UnsupportedVersion,
    /// §4.1: the server answered with a status other than 101. The whole
    /// response is kept: a client may need `Retry-After` or the body.
    Rejected(Box<http::Response<bytes::Bytes>>),
    /// §4.1: `Sec-WebSocket-Accept` did not match the key sent.
    AcceptMismatch,
    /// §4.1: the server chose a subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// §4.1: the server accepted an extension the client did not offer.
    UnofferedExtension(String),
    /// The URL cannot be used for a WebSocket (wrong scheme, no host).
    Url(String),
    /// The request to send could not be built (a bad header name or value).
    Request(String),
    /// The server's permessage-deflate answer broke RFC 7692 §5 or §7.1.
    Extension(String),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    ///
    /// 400 for a malformed or incomplete upgrade request, 405 for a method
    /// other than GET (CONNECT over HTTP/2), 426 (with `Sec-WebSocket-Version: 13`) for another
    /// protocol version, 431 for an oversized head.
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            HandshakeError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            HandshakeError::Rejected(response) => response.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Http(e) => write!(f, "malformed HTTP: {e}"),
            HandshakeError::HeadTooLarge { limit } => {
                write!(f, "HTTP head larger than {limit} bytes")
            }
            HandshakeError::TooManyHeaders { limit } => {
                write!(f, "more than {limit} HTTP header fields")
            }
            HandshakeError::Method(m) => write!(f, "method {m} cannot open a WebSocket"),
            HandshakeError::Version => f.write_str("HTTP version below 1.1"),
            HandshakeError::Header { name, problem } => write!(f, "{name}: {problem}"),
            HandshakeError::UnsupportedVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            HandshakeError::Rejected(r) => write!(f, "server answered {}", r.status()),
            HandshakeError::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match"),
            HandshakeError::UnofferedProtocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which was not offered")
            }
            HandshakeError::UnofferedExtension(e) => {
                write!(f, "server accepted extension {e:?}, which was not offered")
            }
            HandshakeError::Url(e) => write!(f, "bad WebSocket URL: {e}"),
            HandshakeError::Request(e) => write!(f, "cannot build the request: {e}"),
            HandshakeError::Extension(e) => write!(f, "bad permessage-deflate answer: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_7_4_1_close_codes_for_errors() {
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code().as_u16(),
            1007
        );
        assert_eq!(ProtocolError::ReservedBits.close_code().as_u16(), 1002);
        assert_eq!(
            ProtocolError::InvalidCloseCode(5).close_code().as_u16(),
            1002
        );
        let big = ProtocolError::MessageTooLarge { size: 2, limit: 1 };
        assert_eq!(big.close_code().as_u16(), 1009);
    }

    #[test]
    fn handshake_errors_say_what_was_wrong() {
        let cases = [
            (
                HandshakeError::Header {
                    name: ":protocol",
                    problem: "missing or not websocket",
                },
                ":protocol: missing or not websocket",
            ),
            (
                HandshakeError::Method(http::Method::PUT),
                "method PUT cannot open a WebSocket",
            ),
            (
                HandshakeError::UnsupportedVersion,
                "Sec-WebSocket-Version is not 13",
            ),
            (
                HandshakeError::HeadTooLarge { limit: 7 },
                "HTTP head larger than 7 bytes",
            ),
        ];
        for (error, said) in cases {
            assert_eq!(error.to_string(), said);
        }
    }

    #[test]
    fn handshake_statuses() {
        assert_eq!(HandshakeError::UnsupportedVersion.status(), 426);
        assert_eq!(HandshakeError::Method(http::Method::POST).status(), 405);
        assert_eq!(HandshakeError::HeadTooLarge { limit: 1 }.status(), 431);
        let missing = HandshakeError::Header {
            name: "Upgrade",
            problem: "missing",
        };
        assert_eq!(missing.status(), 400);
    }
}
