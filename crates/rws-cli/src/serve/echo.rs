//! `/echo`: every message is sent back as it came. The Autobahn test suite
//! runs against this endpoint, so it must not change.

use std::future::Future;
use std::net::SocketAddr;
use std::task::Poll;

use rws::{CloseCode, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{info, warn};

/// Echoes until the peer closes or the server shuts down (then closes
/// with 1001 and waits for the peer's close frame).
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
    peer: SocketAddr,
    shutdown: super::shutdown::Shutdown,
) {
    info!(%peer, http = super::carried_by(&ws), deflate = super::deflate_of(&ws), "connected on /echo");
    let mut count = 0u64;
    // One wait for the shutdown for the whole session, looked at first, so
    // that a peer that never pauses cannot hold it off. Polled by hand, not
    // through `tokio::select!`: around every message, the macro's
    // branch bookkeeping cost more than the wait itself.
    let mut shutting_down = std::pin::pin!(shutdown.stopped());
    loop {
        let next = {
            let mut recv = std::pin::pin!(ws.recv());
            std::future::poll_fn(|cx| {
                if shutting_down.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                recv.as_mut().poll(cx).map(Some)
            })
            .await
        };
        let Some(message) = next else {
            let _ = ws
                .close(CloseCode::GOING_AWAY, "server shutting down")
                .await;
            break;
        };
        let Some(message) = message else { break };
        let sent = match message {
            // `feed`: `recv` writes it before it waits for more, and the
            // replies to messages that arrived together leave together.
            Ok(message) => ws.feed(message).await,
            // The peer's own close code (4000, 1011...): an end, not a
            // failure of the server's; logged as closed below.
            Err(rws::Error::Closed(_)) => continue,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            return warn!(%peer, messages = count, "connection failed: {e}");
        }
        count += 1;
    }
    match ws.closed() {
        Some(closed) => info!(%peer, messages = count, "closed: {}", closed.code),
        None => info!(%peer, messages = count, "closed"),
    }
}
