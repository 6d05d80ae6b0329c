//! `rws serve` over HTTP/2: the connections whose client chose `h2` by
//! ALPN (with --tls-cert), or opened plain TCP with HTTP/2's preface (h2c
//! with prior knowledge). hyper speaks HTTP/2, with extended CONNECT
//! allowed (RFC 8441 `SETTINGS_ENABLE_CONNECT_PROTOCOL`); each WebSocket
//! is a stream, accepted by `rws::upgrade` and run on the same endpoints
//! as over HTTP/1.1; the page is served on the same connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rws::bytes::Bytes;
// The client's windows serve here too: what one WebSocket not read may
// hold of the connection's receive window, and the connection's (16 such
// streams before their neighbours wait, RFC 9113 §5.2).
use rws::http::{Request, Response};
use rws::http2::{CONNECTION_WINDOW, STREAM_WINDOW};
use rws::upgrade::Upgrade;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::{decide, page, Shared};

/// The most WebSockets (and page requests) open at once on one HTTP/2
/// connection.
const MAX_STREAMS: u32 = 256;

/// The HTTP/2 preface a client with prior knowledge starts with
/// (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves one HTTP/2 connection until it ends; when the server shuts
/// down, says GOAWAY, lets the WebSockets close (1001) and waits for them.
pub(super) async fn serve<S>(io: S, peer: SocketAddr, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let streams = Arc::new(Mutex::new(JoinSet::new()));
    let service = {
        let (streams, shared) = (streams.clone(), shared.clone());
        service_fn(move |request| {
            let answer = answer(request, peer, &shared, &streams);
            async move { Ok::<_, Infallible>(answer) }
        })
    };
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .enable_connect_protocol()
        .max_concurrent_streams(MAX_STREAMS)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = shared.shutdown.stopped() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        warn!(%peer, "HTTP/2 connection failed: {e}");
    }
    // The WebSockets' streams ended with the connection; their tasks log
    // how.
    let mut streams = std::mem::take(&mut *streams.lock().expect("not poisoned"));
    while streams.join_next().await.is_some() {}
}

/// Answers one request: a WebSocket on an endpoint, or the page.
fn answer(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
    streams: &Mutex<JoinSet<()>>,
) -> Response<Full<Bytes>> {
    if !rws::upgrade::is_upgrade_request(&request) {
        let mut head = Request::new(());
        *head.method_mut() = request.method().clone();
        *head.uri_mut() = request.uri().clone();
        *head.version_mut() = request.version();
        let response = page::answer(&head);
        info!(%peer, http = "HTTP/2", "HTTP {} {} {}", request.method(), request.uri().path(), response.status());
        return response.map(Full::new);
    }
    let upgrade = match Upgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade.config(shared.config.clone()),
        Err(refusal) => {
            warn!(%peer, http = "HTTP/2", "refused: {refusal}");
            return refusal.into_response();
        }
    };
    match decide(upgrade.request()) {
        Ok(accept) => {
            let (response, pending) = upgrade.accept(accept);
            let shared = shared.clone();
            let mut streams = streams.lock().expect("not poisoned");
            // Reap the streams that ended: a JoinSet keeps a finished task
            // until it is joined, and a client that opens and closes
            // WebSockets on one connection would grow it without bound.
            while streams.try_join_next().is_some() {}
            streams.spawn(async move {
                match pending.await {
                    Ok(ws) => super::session(ws, peer, shared).await,
                    Err(e) => warn!(%peer, http = "HTTP/2", "{e}"),
                }
            });
            response
        }
        Err(rejection) => {
            info!(%peer, http = "HTTP/2", "refused: {}", rejection.response().status());
            upgrade.reject(rejection)
        }
    }
}
