//! How a connection begins after the handshake and how its end is
//! reported, the same for both adapters.

use rws_proto::deflate::DeflateParams;
use rws_proto::{CloseCode, Closed, Connection, Initiator, Role};

use crate::{Error, WebSocketConfig};

/// The core of a connection whose handshake is done: permessage-deflate on
/// if it was agreed, and the bytes read past the handshake already fed.
pub(crate) fn open_connection(
    role: Role,
    config: &WebSocketConfig,
    leftover: &[u8],
    deflate: Option<DeflateParams>,
) -> Connection {
    let mut conn = Connection::new(role, config.protocol.clone());
    if let Some(params) = deflate {
        conn = conn.with_deflate(params);
    }
    if !leftover.is_empty() {
        conn.handle_input(leftover);
    }
    conn
}

/// The end of a connection this side gave up on (the transport failed or
/// the close timeout passed) before the core saw an end: 1006, not clean.
pub(crate) fn abandoned() -> Closed {
    Closed {
        code: CloseCode::ABNORMAL,
        reason: Default::default(),
        initiator: Initiator::Local,
        clean: false,
        error: None,
    }
}

/// The error `recv` reports after the transport is torn down: the
/// protocol violation, or an abnormal end; none for a clean close.
pub(crate) fn deferred_error(closed: &Closed) -> Option<Error> {
    if let Some(error) = &closed.error {
        Some(Error::Protocol(error.clone()))
    } else if !closed.clean {
        Some(Error::AbnormalClose)
    } else {
        None
    }
}

/// What `close` returns once the connection ended: Ok if the close
/// handshake completed.
pub(crate) fn close_outcome(closed: Option<&Closed>) -> Result<(), Error> {
    match closed {
        Some(closed) if closed.clean => Ok(()),
        Some(Closed { error: Some(e), .. }) => Err(Error::Protocol(e.clone())),
        _ => Err(Error::AbnormalClose),
    }
}
