//! The adapters' error type.

use std::{fmt, io};

use rws_proto::{http, HandshakeError, ProtocolError, SendError};

/// Everything that can go wrong on a WebSocket connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The opening handshake failed; for a client, a non-101 answer is
    /// [`HandshakeError::Rejected`] with the whole response.
    Handshake(HandshakeError),
    /// The peer broke the protocol; the connection was failed with
    /// [`ProtocolError::close_code`].
    Protocol(ProtocolError),
    /// The connection ended without a close handshake (close code 1006).
    AbnormalClose,
    /// A message or command could not be sent.
    Send(SendError),
    /// The opening handshake took longer than its timeout.
    HandshakeTimeout,
    /// The request was plain HTTP, not an upgrade, and the server
    /// builder's `on_http` handler answered it with this status; no
    /// connection was opened.
    PlainHttp(http::StatusCode),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::AbnormalClose => f.write_str("connection ended without a close handshake"),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::PlainHttp(status) => write!(f, "plain HTTP request answered with {status}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::AbnormalClose | Error::HandshakeTimeout | Error::PlainHttp(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Error {
        Error::Handshake(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        Error::Send(e)
    }
}
