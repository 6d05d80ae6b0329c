//! The client of WebSockets over HTTP/2 (RFC 8441, the `hyper` feature):
//! each WebSocket is a stream of an HTTP/2 connection, opened by an
//! extended CONNECT, and several share one connection.
//!
//! ```no_run
//! # async fn run() -> Result<(), rws::Error> {
//! use rws::http2::Http2Connection;
//! use rws::{ClientBuilder, Message};
//!
//! // One WebSocket on a connection of its own:
//! let (mut ws, _response) = ClientBuilder::new("wss://example.com/chat")
//!     .connect_http2()
//!     .await?;
//! ws.send(Message::text("hello")).await?;
//!
//! // Several on one connection:
//! let h2 = Http2Connection::connect(ClientBuilder::new("wss://example.com/")).await?;
//! let (a, _) = ClientBuilder::new("wss://example.com/a").connect_over(&h2).await?;
//! let (b, _) = ClientBuilder::new("wss://example.com/b").connect_over(&h2).await?;
//! # Ok(()) }
//! ```
//!
//! `wss://` negotiates `h2` by ALPN (the `rustls` feature); `ws://` speaks
//! HTTP/2 over plain TCP with prior knowledge (h2c). The server must have
//! sent `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3); a server that
//! did not is a [`HandshakeError`], as is one that does not speak `h2`.
//!
//! Each WebSocket's stream is flow-controlled on its own: one that is not
//! read holds back only its own stream. Closing a WebSocket ends its
//! stream, not the connection; the connection ends when the
//! [`Http2Connection`] and every WebSocket on it are dropped.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rws_proto::handshake::{ClientHandshake, MAX_REJECTION_BODY};
use rws_proto::{HandshakeError, Role};
use tokio::time::Instant;

use crate::handshake_spec::{Agreed, ClientSpec, Endpoint};
use crate::tokio::transport;
#[cfg(feature = "rustls")]
use crate::tokio::transport::MaybeTlsStream;
use crate::{ClientBuilder, Error, Upgraded, WebSocket};

/// The receive window of each WebSocket's stream: 1 MiB.
pub const STREAM_WINDOW: u32 = 1 << 20;

/// The receive window of a whole HTTP/2 connection: 16 MiB, so that 16
/// WebSockets that are not read still leave room for the others.
pub const CONNECTION_WINDOW: u32 = 16 << 20;

/// An HTTP/2 connection to a server that accepts WebSockets as streams.
/// Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct Http2Connection {
    send: SendRequest<Empty<Bytes>>,
}

impl fmt::Debug for Http2Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Connection")
            .field("closed", &self.send.is_closed())
            .finish()
    }
}

impl Http2Connection {
    /// Opens an HTTP/2 connection to the host of `builder`'s URL, with its
    /// proxy and TLS settings (ALPN `h2` for `wss://`, prior knowledge for
    /// `ws://`), and waits for the server's settings, all within the
    /// handshake timeout. Only the URL's scheme, host and port matter here;
    /// WebSockets are then opened with [`ClientBuilder::connect_over`].
    pub async fn connect(builder: ClientBuilder) -> Result<Http2Connection, Error> {
        let mut spec = builder.spec;
        let deadline = Instant::now() + spec.config.handshake_timeout;
        Ok(connection_for(&mut spec, deadline).await?.0)
    }

    /// Runs the HTTP/2 handshake on a stream the caller opened (that speaks
    /// HTTP/2 already: TLS with ALPN `h2`, or plain TCP to a server that
    /// takes h2c) and waits for the server's settings.
    pub async fn handshake<S>(stream: S, timeout: Duration) -> Result<Http2Connection, Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let deadline = Instant::now() + timeout;
        tokio::time::timeout_at(deadline, start(stream, deadline))
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }

    /// Whether the connection has ended (the server closed it, or it
    /// failed); no WebSocket can be opened on it any more.
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// Opens a WebSocket as a stream of this connection.
    async fn open_websocket(
        &self,
        handshake: ClientHandshake,
        spec: ClientSpec,
    ) -> Result<(WebSocket<Upgraded>, Response<()>), Error> {
        let mut request = handshake.http2_request().map(|()| Empty::new());
        request
            .extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let mut send = self.send.clone();
        send.ready().await.map_err(hyper_error)?;
        let mut response = send.send_request(request).await.map_err(hyper_error)?;
        if !response.status().is_success() {
            // The refusal's body, as much as is kept of it.
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_REJECTION_BODY).collect().await;
            let body = body.map(|b| b.to_bytes()).unwrap_or_default();
            let head = Response::from_parts(parts, ());
            return Err(match handshake.check_http2_response(&head, &body) {
                Err(rejected) => rejected.into(),
                Ok(()) => unreachable!("a status other than 2xx is a rejection"),
            });
        }
        let on_upgrade = hyper::upgrade::on(&mut response);
        let head = response.map(|_| ());
        handshake.check_http2_response(&head, &[])?;
        let agreed = Agreed::from_response(&handshake, &head)?;
        let upgraded = on_upgrade.await.map_err(hyper_error)?;
        let ws = WebSocket::opened(
            TokioIo::new(upgraded),
            Role::Client,
            spec.config,
            &[],
            agreed,
        );
        Ok((ws, head))
    }
}

/// Opens, by `deadline`, the HTTP/2 connection to the host of `spec`'s
/// URL; with it, the handshake of the WebSocket `spec` describes.
async fn connection_for(
    spec: &mut ClientSpec,
    deadline: Instant,
) -> Result<(Http2Connection, ClientHandshake), Error> {
    spec.http2 = true;
    let handshake = spec.handshake()?;
    let endpoint = Endpoint::of(&handshake)?;
    let open = Box::pin(open(spec, &endpoint, deadline));
    let connection = tokio::time::timeout_at(deadline, open)
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
    Ok((connection, handshake))
}

/// Opens the transport to `endpoint` and starts HTTP/2 on it.
async fn open(
    spec: &ClientSpec,
    endpoint: &Endpoint,
    deadline: Instant,
) -> Result<Http2Connection, Error> {
    let stream = transport::open(spec, endpoint).await?;
    #[cfg(feature = "rustls")]
    if let MaybeTlsStream::Rustls(tls) = &stream {
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(HandshakeError::Header {
                name: "ALPN",
                problem: "the server did not agree to HTTP/2 (h2)",
            }
            .into());
        }
    }
    start(stream, deadline).await
}

/// The HTTP/2 handshake on `stream`, then the wait for the server's
/// settings: a WebSocket may be opened only once the server has said it
/// takes extended CONNECT (RFC 8441 §3).
async fn start<S>(stream: S, deadline: Instant) -> Result<Http2Connection, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        // No limit until the server's settings say one (RFC 9113 §6.5.2's
        // initial value), so that their arrival shows.
        .initial_max_send_streams(usize::MAX)
        // What one WebSocket not read may hold of the connection, and the
        // connection: room for 16 stalled streams before their neighbours
        // wait (RFC 9113 §5.2: both windows bound what is sent).
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(hyper_error)?;
    // Drive the connection until the server's SETTINGS frame (its first)
    // has been read: the flag is up, or the settings evidently arrived
    // without it (the limit on streams starts unset, and servers send
    // one). hyper reads the frames in a task of its own and gives no
    // signal when settings arrive, so look every millisecond meanwhile. A
    // server whose settings say neither is waited for until the deadline.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let allowed = poll_fn(|cx| loop {
        if connection.is_extended_connect_protocol_enabled() {
            return Poll::Ready(Ok(true));
        }
        if connection.current_max_send_streams() != usize::MAX {
            return Poll::Ready(Ok(false));
        }
        match Pin::new(&mut connection).poll(cx) {
            Poll::Pending => {}
            Poll::Ready(Ok(())) => return Poll::Ready(Ok(false)),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(hyper_error(e))),
        }
        if tick.poll_tick(cx).is_pending() {
            return Poll::Pending;
        }
    });
    let allowed = tokio::time::timeout_at(deadline, allowed).await;
    if !matches!(allowed, Ok(Ok(true))) {
        if let Ok(Err(e)) = allowed {
            return Err(e);
        }
        return Err(HandshakeError::Header {
            name: "SETTINGS_ENABLE_CONNECT_PROTOCOL",
            problem: "not sent: the server takes no WebSockets over HTTP/2",
        }
        .into());
    }
    tokio::spawn(async move {
        // Its end is seen by every WebSocket on it (their streams fail)
        // and by `is_closed`.
        let _ = connection.await;
    });
    Ok(Http2Connection { send })
}

fn hyper_error(error: hyper::Error) -> Error {
    Error::Io(std::io::Error::other(error))
}

impl ClientBuilder {
    /// Opens the WebSocket as a stream of a new HTTP/2 connection of its
    /// own (RFC 8441): [`Http2Connection::connect`], then
    /// [`connect_over`](Self::connect_over). The connection ends with the
    /// WebSocket.
    pub async fn connect_http2(self) -> Result<(WebSocket<Upgraded>, Response<()>), Error> {
        let mut spec = self.spec;
        let deadline = Instant::now() + spec.config.handshake_timeout;
        let (connection, handshake) = connection_for(&mut spec, deadline).await?;
        let run = connection.open_websocket(handshake, spec);
        tokio::time::timeout_at(deadline, Box::pin(run))
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }

    /// Opens the WebSocket as a new stream of `connection`, within the
    /// handshake timeout. The URL's path and query are the stream's; its
    /// host should be the connection's.
    pub async fn connect_over(
        self,
        connection: &Http2Connection,
    ) -> Result<(WebSocket<Upgraded>, Response<()>), Error> {
        let spec = self.spec;
        let handshake = spec.handshake()?;
        let timeout = spec.config.handshake_timeout;
        let run = connection.open_websocket(handshake, spec);
        tokio::time::timeout(timeout, Box::pin(run))
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }
}
