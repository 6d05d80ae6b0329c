//! How a connection's end is reported, the same for both adapters.

use rws_proto::{CloseCode, Closed, Initiator};

use crate::Error;

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
