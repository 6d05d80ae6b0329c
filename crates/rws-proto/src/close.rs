//! Close codes and close frames (RFC 6455 §5.5.1, §7.4).

use std::fmt;

use crate::error::ProtocolError;
use crate::message::Utf8Bytes;

/// A close status code (RFC 6455 §7.4), a `u16` with named constants.
///
/// ```
/// use rws_proto::CloseCode;
///
/// assert_eq!(CloseCode::NORMAL.as_u16(), 1000);
/// assert!(CloseCode::from(4000).is_sendable());
/// assert!(!CloseCode::ABNORMAL.is_sendable()); // 1006 never appears on the wire
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(0x03e8);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(0x03e9);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(0x03ea);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(0x03eb);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(0x03ed);
    /// 1006: the connection closed without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(0x03ee);
    /// 1007: data inconsistent with the message type, such as invalid UTF-8 in text.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(0x03ef);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(0x03f0);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(0x03f1);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(0x03f2);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(0x03f3);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(0x03f4);
    /// 1013: try again later, the server is overloaded (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(0x03f5);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(0x03f6);
    /// 1015: TLS handshake failure (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(0x03f7);

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may appear in a close frame (RFC 6455 §7.4.1–7.4.2).
    ///
    /// Allowed: 1000–1003, 1007–1014 (the protocol's and IANA's registered
    /// codes), 3000–3999 (registered for libraries and frameworks) and
    /// 4000–4999 (private use). Everything else (0–999, 1004–1006, 1015,
    /// unassigned codes up to 2999, 5000 and above) is a protocol error.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            CloseCode::NORMAL => "normal closure",
            CloseCode::GOING_AWAY => "going away",
            CloseCode::PROTOCOL_ERROR => "protocol error",
            CloseCode::UNSUPPORTED_DATA => "unsupported data",
            CloseCode::NO_STATUS => "no status code",
            CloseCode::ABNORMAL => "abnormal closure",
            CloseCode::INVALID_PAYLOAD => "invalid payload data",
            CloseCode::POLICY_VIOLATION => "policy violation",
            CloseCode::MESSAGE_TOO_BIG => "message too big",
            CloseCode::MANDATORY_EXTENSION => "mandatory extension",
            CloseCode::INTERNAL_ERROR => "internal error",
            CloseCode::SERVICE_RESTART => "service restart",
            CloseCode::TRY_AGAIN_LATER => "try again later",
            CloseCode::BAD_GATEWAY => "bad gateway",
            CloseCode::TLS_HANDSHAKE => "TLS handshake failure",
            _ => return write!(f, "{}", self.0),
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// The payload of a close frame: a code and a UTF-8 reason of at most 123 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// The longest reason that fits a control frame (125 - 2 bytes of code).
    pub const MAX_REASON_LEN: usize = 123;

    /// A close frame with a code and a reason.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    /// Parses a received close payload (RFC 6455 §5.5.1).
    ///
    /// An empty payload is `Ok(None)`. One byte, a code that may not be sent
    /// ([`CloseCode::is_sendable`]) or a reason that is not UTF-8 are errors.
    pub fn parse(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            [_] => return Err(ProtocolError::InvalidCloseLength),
            [a, b, reason @ ..] => (CloseCode(u16::from_be_bytes([*a, *b])), reason),
        };
        if !code.is_sendable() {
            return Err(ProtocolError::InvalidCloseCode(code.0));
        }
        let reason = Utf8Bytes::from_utf8(bytes::Bytes::copy_from_slice(reason))
            .map_err(|_| ProtocolError::InvalidCloseReason)?;
        Ok(Some(CloseFrame { code, reason }))
    }

    /// Appends the wire payload (code then reason) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.0.to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
    }

    /// The length of the wire payload.
    pub fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_7_4_sendable_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1011, 1012, 1014, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn rfc6455_5_5_1_close_payload_parsing() {
        assert_eq!(CloseFrame::parse(&[]), Ok(None));
        assert_eq!(
            CloseFrame::parse(&[0x03]),
            Err(ProtocolError::InvalidCloseLength)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, b'o', b'k']),
            Ok(Some(CloseFrame::new(CloseCode::NORMAL, "ok")))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xee]),
            Err(ProtocolError::InvalidCloseCode(1006))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn close_frame_encodes_code_then_reason() {
        let mut out = Vec::new();
        let frame = CloseFrame::new(CloseCode::GOING_AWAY, "bye");
        frame.encode(&mut out);
        assert_eq!(out, [0x03, 0xe9, b'b', b'y', b'e']);
        assert_eq!(frame.encoded_len(), out.len());
        assert_eq!(
            CloseCode::MESSAGE_TOO_BIG.to_string(),
            "1009 (message too big)"
        );
        assert_eq!(CloseCode::from(4321).to_string(), "4321");
    }
}
