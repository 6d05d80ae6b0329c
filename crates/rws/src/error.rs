//! The adapters' error type.

use std::{fmt, io};

use rws_proto::{Closed, Fragment, HandshakeError, ProtocolError, SendError};

use crate::proxy::ProxyError;

/// Everything that can go wrong on a WebSocket connection.
///
/// How a connection ended is visible where messages are read: `recv` (and
/// the `Stream`) ends with `None` after a normal close, and with one of
/// these first after any other end: [`Error::Closed`] (the peer closed
/// with an error code, such as 1011, and its reason), [`Error::Protocol`]
/// (the peer broke the protocol, or went silent under keepalive; the
/// connection was failed with [`ProtocolError::close_code`]),
/// [`Error::AbnormalClose`] (no close handshake: 1006) or [`Error::Io`].
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
    /// The peer closed the connection with a code other than 1000 (normal
    /// closure), 1001 (going away) or none (1005): the code, the reason
    /// and the rest of how it ended. The close handshake itself completed.
    Closed(Closed),
    /// A message or command could not be sent.
    Send(SendError),
    /// The opening handshake took longer than its timeout.
    HandshakeTimeout,
    /// A piece of a streamed message reached `recv` (or the `Stream`),
    /// which return whole messages: with
    /// [`Config::stream_fragments`](rws_proto::Config::stream_fragments) on,
    /// read with `recv_event`. The piece is here, so nothing is lost, and
    /// the connection goes on.
    Streamed(Fragment),
    /// The way to the server through a proxy failed: which proxy answered
    /// what.
    Proxy(ProxyError),
    /// TLS failed: a certificate refused (the message says why: expired,
    /// self-signed, for another name), a handshake the peer refused, a
    /// certificate or key file that cannot be used.
    #[cfg(feature = "rustls")]
    Tls(crate::tls::TlsError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::AbnormalClose => f.write_str("connection ended without a close handshake"),
            Error::Closed(closed) if closed.reason.is_empty() => {
                write!(f, "closed by the peer with {}", closed.code)
            }
            Error::Closed(closed) => write!(
                f,
                "closed by the peer with {}: {}",
                closed.code,
                closed.reason.as_str()
            ),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::Streamed(fragment) => write!(
                f,
                "a streamed piece of {} bytes reached recv (stream_fragments is on: use recv_event)",
                fragment.data.len()
            ),
            Error::Proxy(e) => e.fmt(f),
            #[cfg(feature = "rustls")]
            Error::Tls(e) => e.fmt(f),
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
            Error::Proxy(e) => Some(e),
            #[cfg(feature = "rustls")]
            Error::Tls(e) => Some(e),
            Error::AbnormalClose
            | Error::Closed(_)
            | Error::Streamed(_)
            | Error::HandshakeTimeout => None,
        }
    }
}

impl From<io::Error> for Error {
    /// [`Error::Io`], or [`Error::Tls`] when the error is rustls refusing
    /// something (an alert from the peer after the handshake, for
    /// instance a server that wanted a client certificate).
    fn from(e: io::Error) -> Error {
        #[cfg(feature = "rustls")]
        return crate::tls::handshake_error(e, "the peer");
        #[cfg(not(feature = "rustls"))]
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

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Error {
        Error::Proxy(e)
    }
}
