//! The opening handshake over tokio streams: [`connect`], [`accept`] and
//! their builders.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::marker::PhantomData;

use bytes::Bytes;
use http::{Request, Response};
use rws_proto::handshake::{self, ClientHandshake, UpgradeRequest};
use rws_proto::Role;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::transport::{self, MaybeTlsStream};
use super::{WebSocket, WebSocketConfig};
use crate::handshake_spec::{
    self as util, Accepted, Agreed, Answer, ClientSpec, Endpoint, NoHttp, Reply, ServerSpec,
    Sorted, WithHttp,
};
use crate::Error;

pub use crate::handshake_spec::Decision;

/// Connects to a `ws://` or `wss://` URL (`wss://` with the `rustls`
/// feature) with the default settings.
///
/// Returns the connection and the server's 101 response. A non-101 answer
/// is [`Error::Handshake`] with
/// [`HandshakeError::Rejected`](crate::HandshakeError::Rejected), which keeps the
/// status, headers and body.
pub async fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    ClientBuilder::new(url).connect().await
}

/// Accepts a WebSocket on a stream with the default settings, taking any
/// path and no subprotocol. An invalid request is answered with its HTTP
/// status (400, 405, 426, 431) and returned as [`Error::Handshake`].
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(stream).await
}

/// Builds a client connection: URL, subprotocols, headers and settings.
///
/// ```no_run
/// # async fn run() -> Result<(), rws::Error> {
/// let (ws, response) = rws::ClientBuilder::new("ws://127.0.0.1:9001/chat")
///     .protocol("chat")
///     .header("authorization", "Bearer 123")
///     .connect()
///     .await?;
/// assert_eq!(ws.protocol(), Some("chat"));
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    pub(crate) spec: ClientSpec,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.debug("ClientBuilder", f)
    }
}

impl ClientBuilder {
    util::client_builder_methods!();

    /// Opens the connection to the URL's host (TCP with `TCP_NODELAY`, a
    /// proxy's tunnel if one is set, TLS for `wss://`) and runs the
    /// handshake on it, all within the handshake timeout.
    pub async fn connect(self) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
        self.connect_with(|stream| stream).await
    }

    /// [`connect`](Self::connect), with the opened stream (TCP, the
    /// proxy's tunnel, TLS) given to `wrap` before the handshake runs on
    /// it: to count or record the bytes that pass, for instance.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), rws::Error> {
    /// // A stream type of your own that wraps another (a byte counter, a tap).
    /// # type Counted<S> = S;
    /// # fn counted<S>(s: S) -> Counted<S> { s }
    /// let (ws, _) = rws::ClientBuilder::new("wss://echo.example/")
    ///     .connect_with(|stream| counted(stream))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with<W, F>(self, wrap: F) -> Result<(WebSocket<W>, Response<()>), Error>
    where
        F: FnOnce(MaybeTlsStream) -> W,
        W: AsyncRead + AsyncWrite + Unpin,
    {
        // Boxed, as for `accept`: the state of the TCP, proxy and TLS
        // handshakes is not kept in the caller's task afterwards.
        Box::pin(async move {
            let handshake = self.spec.handshake()?;
            let endpoint = Endpoint::of(&handshake)?;
            let deadline = Instant::now() + self.spec.config.handshake_timeout;
            let open = transport::open(&self.spec, &endpoint);
            let stream = tokio::time::timeout_at(deadline, open)
                .await
                .map_err(|_| Error::HandshakeTimeout)??;
            client_handshake(wrap(stream), handshake, self.spec.config, deadline).await
        })
        .await
    }

    /// Runs the handshake on a stream the caller connected (TLS, a proxy
    /// tunnel, a Unix socket).
    pub async fn connect_on<S>(self, stream: S) -> Result<(WebSocket<S>, Response<()>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.spec.handshake()?;
        let deadline = Instant::now() + self.spec.config.handshake_timeout;
        client_handshake(stream, handshake, self.spec.config, deadline).await
    }
}

async fn client_handshake<S>(
    mut stream: S,
    handshake: ClientHandshake,
    config: WebSocketConfig,
    deadline: Instant,
) -> Result<(WebSocket<S>, Response<()>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let run = async {
        let mut out = Vec::new();
        handshake.encode_request(&mut out);
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            let room = util::response_room(buf.len(), &config.head_limits);
            let n = (&mut stream).take(room as u64).read_buf(&mut buf).await?;
            let eof = n == 0;
            if let Some((response, used)) = handshake.handle_response(&buf, eof)? {
                let agreed = Agreed::from_response(&handshake, &response)?;
                let leftover = buf.split_off(used);
                let ws = WebSocket::opened(stream, Role::Client, config.clone(), &leftover, agreed);
                return Ok((ws, response));
            }
            if eof {
                return Err(util::closed_during_handshake());
            }
        }
    };
    tokio::time::timeout_at(deadline, run)
        .await
        .map_err(|_| Error::HandshakeTimeout)?
}

/// Builds a server connection: settings and a callback that looks at each
/// request and accepts (choosing a subprotocol, adding headers) or rejects.
///
/// The second type parameter says whether plain HTTP requests are served
/// too: without `on_http` ([`NoHttp`](crate::NoHttp)), `accept` returns the
/// `WebSocket`; after `on_http` ([`WithHttp`](crate::WithHttp)), it returns
/// an [`Accepted`](crate::Accepted), since a request may have been answered
/// as a page instead.
///
/// ```no_run
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), rws::Error> {
/// use rws::http::StatusCode;
/// use rws::{Accept, Rejection};
///
/// let ws = rws::ServerBuilder::new()
///     .on_request(|req| {
///         if req.origin() != Some("https://example.com") {
///             return Err(Rejection::new(StatusCode::FORBIDDEN, "forbidden origin"));
///         }
///         let chat = req.protocols().any(|p| p == "chat");
///         Ok(if chat { Accept::new().protocol("chat") } else { Accept::new() })
///     })
///     .accept(tcp)
///     .await?;
/// # Ok(()) }
/// ```
pub struct ServerBuilder<F = fn(&UpgradeRequest) -> Decision, H = NoHttp> {
    spec: ServerSpec<F>,
    http: PhantomData<H>,
}

util::server_builder_basics!();

/// What decides on an upgrade request: a closure given to
/// [`ServerBuilder::on_request`] (it answers at once), or one given to
/// [`ServerBuilder::on_request_async`] (it may await, for instance an
/// authentication lookup, before it answers).
///
/// Sealed: only these two kinds exist.
pub trait OnRequest: sealed::Sealed {
    /// The decision, when it is ready.
    type Decided: Future<Output = Decision>;

    /// Decides on `request`.
    fn decide(self, request: &UpgradeRequest) -> Self::Decided;
}

impl<F: FnOnce(&UpgradeRequest) -> Decision> sealed::Sealed for F {}

impl<F: FnOnce(&UpgradeRequest) -> Decision> OnRequest for F {
    type Decided = Ready<Decision>;

    fn decide(self, request: &UpgradeRequest) -> Ready<Decision> {
        ready(self(request))
    }
}

/// An asynchronous upgrade-request callback, from
/// [`ServerBuilder::on_request_async`].
pub struct AsyncOnRequest<G>(G);

impl<G> fmt::Debug for AsyncOnRequest<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncOnRequest").finish_non_exhaustive()
    }
}

impl<G> sealed::Sealed for AsyncOnRequest<G> {}

impl<G, D> OnRequest for AsyncOnRequest<G>
where
    G: FnOnce(UpgradeRequest) -> D,
    D: Future<Output = Decision>,
{
    type Decided = D;

    fn decide(self, request: &UpgradeRequest) -> D {
        (self.0)(request.clone())
    }
}

mod sealed {
    pub trait Sealed {}
}

impl<F: OnRequest, H> ServerBuilder<F, H> {
    /// Sets the connection's settings.
    pub fn config(mut self, config: WebSocketConfig) -> ServerBuilder<F, H> {
        self.spec.config = config;
        self
    }

    /// Sets the callback that accepts or rejects each valid request.
    pub fn on_request<G>(self, on_request: G) -> ServerBuilder<G, H>
    where
        G: FnOnce(&UpgradeRequest) -> Decision,
    {
        ServerBuilder {
            spec: self.spec.on_request(on_request),
            http: PhantomData,
        }
    }

    /// Sets an asynchronous callback that accepts or rejects each valid
    /// request: it gets the request (its path, query and headers) and may
    /// await before it answers, for instance to look a token up. It runs
    /// within the handshake timeout.
    ///
    /// ```no_run
    /// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), rws::Error> {
    /// use rws::http::StatusCode;
    /// use rws::{Accept, Rejection, UpgradeRequest};
    ///
    /// # async fn token_is_valid(_: &str) -> bool { true }
    /// let ws = rws::ServerBuilder::new()
    ///     .on_request_async(|req: UpgradeRequest| async move {
    ///         let token = req.query().unwrap_or_default().trim_start_matches("token=");
    ///         if token_is_valid(token).await {
    ///             Ok(Accept::new())
    ///         } else {
    ///             Err(Rejection::new(StatusCode::UNAUTHORIZED, "bad token"))
    ///         }
    ///     })
    ///     .accept(tcp)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_request_async<G, D>(self, on_request: G) -> ServerBuilder<AsyncOnRequest<G>, H>
    where
        G: FnOnce(UpgradeRequest) -> D,
        D: Future<Output = Decision>,
    {
        ServerBuilder {
            spec: self.spec.on_request(AsyncOnRequest(on_request)),
            http: PhantomData,
        }
    }

    /// Answers plain HTTP requests on the same port, those that do not ask
    /// for a WebSocket (no `Upgrade: websocket`), with `on_http`'s response
    /// instead of 426 Upgrade Required: a page, a health check. The request
    /// body, if any, is not given to `on_http`; the connection is closed
    /// after the response (`Connection: close`), and `accept` returns
    /// [`Accepted::Http`] with the status sent (an outcome, not an error).
    /// What the client sends after the head is read and discarded, as after
    /// any refusal (see [`accept`](ServerBuilder::accept)).
    pub fn on_http<G>(mut self, on_http: G) -> ServerBuilder<F, WithHttp>
    where
        G: FnOnce(&Request<()>) -> Response<Bytes> + Send + 'static,
    {
        self.spec.on_http(on_http);
        ServerBuilder {
            spec: self.spec,
            http: PhantomData,
        }
    }

    /// Reads the request, answers it and opens the connection, or says
    /// which plain HTTP status it was answered with.
    async fn serve<S>(self, mut stream: S) -> Result<Accepted<WebSocket<S>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let ServerSpec { config, handlers } = self.spec;
        let run = async {
            let mut buf = Vec::with_capacity(1024);
            let limits = config.head_limits;
            let parsed = loop {
                match handshake::read_request(&buf, &limits) {
                    Ok(Some(parsed)) => break Ok(parsed),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                }
                let room = util::request_room(buf.len(), &limits) as u64;
                if (&mut stream).take(room).read_buf(&mut buf).await? == 0 {
                    return Err(util::closed_during_handshake());
                }
            };
            let (sorted, used, on_request) = handlers.sort(parsed);
            let answer = match sorted {
                Sorted::Answered(answer) => answer,
                Sorted::Upgrade(request) => {
                    let decision = on_request.decide(&request).await;
                    Answer::decide(&request, decision, &config)
                }
            };
            respond(&mut stream, &answer).await?;
            Ok((answer, buf, used))
        };
        let (answer, buf, used) = tokio::time::timeout(config.handshake_timeout, run)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        if answer.shutdown {
            // Outside the handshake timeout: it must not turn the refusal
            // into a timeout.
            drain(&mut stream).await;
        }
        Ok(match answer.outcome? {
            Reply::Open(mut agreed) => {
                agreed.request_head = Some(buf[..used].into());
                Accepted::WebSocket(WebSocket::opened(
                    stream,
                    Role::Server,
                    config,
                    &buf[used..],
                    agreed,
                ))
            }
            Reply::Http(status) => Accepted::Http(status),
        })
    }
}

/// A server's end of a `wss://` connection (the `rustls` feature), from
/// [`ServerBuilder::accept_tls`].
#[cfg(feature = "rustls")]
pub type TlsStream<S> = tokio_rustls::server::TlsStream<S>;

#[cfg(feature = "rustls")]
impl<F: OnRequest, H> ServerBuilder<F, H> {
    /// The TLS handshake within the handshake timeout, then [`serve`](Self::serve).
    async fn serve_tls<S>(
        self,
        acceptor: &crate::tls::TlsAcceptor,
        stream: S,
    ) -> Result<Accepted<WebSocket<TlsStream<S>>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = acceptor
            .accept(stream, self.spec.config.handshake_timeout)
            .await?;
        self.serve(tls).await
    }
}

impl<F: OnRequest> ServerBuilder<F, NoHttp> {
    /// Reads the upgrade request from `stream`, answers it and returns the
    /// connection. An invalid or rejected request is answered with its
    /// status and returned as an error ([`HandshakeError::Rejected`](crate::HandshakeError::Rejected) for the
    /// application's rejections).
    ///
    /// After any answer but 101, `accept` shuts the stream's sending side
    /// down and reads and discards what the client still sends (a request
    /// body, frames) until it closes, at most 64 KiB for at most a second
    /// (on top of the handshake timeout), before it returns: closing a
    /// socket with unread input resets the connection, and a client still
    /// sending would fail before it reads the answer.
    pub async fn accept<S>(self, stream: S) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Boxed: the handshake's state (buffers, the timeout, the
        // application's hook) would otherwise stay in the caller's task
        // for the whole life of the connection, its size fixed at the
        // largest (2.5 KiB more per idle connection, measured).
        util::websocket(Box::pin(self.serve(stream)).await?)
    }

    /// [`accept`](Self::accept) over TLS (the `rustls` feature): the TLS
    /// handshake with `acceptor`, then the WebSocket handshake, each within
    /// the handshake timeout. A refused TLS handshake is [`Error::Tls`]
    /// (for instance when the client does not trust the certificate).
    #[cfg(feature = "rustls")]
    pub async fn accept_tls<S>(
        self,
        acceptor: &crate::tls::TlsAcceptor,
        stream: S,
    ) -> Result<WebSocket<TlsStream<S>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        util::websocket(Box::pin(self.serve_tls(acceptor, stream)).await?)
    }
}

impl<F: OnRequest> ServerBuilder<F, WithHttp> {
    /// Reads the request from `stream` and answers it: an upgrade request
    /// opens the connection ([`Accepted::WebSocket`]), a plain HTTP request
    /// is answered by `on_http` ([`Accepted::Http`] with the status sent).
    /// An invalid or rejected upgrade is an error, as for
    /// [`accept`](ServerBuilder::accept) without `on_http`, and the same
    /// draining follows every answer but 101.
    pub async fn accept<S>(self, stream: S) -> Result<Accepted<WebSocket<S>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        Box::pin(self.serve(stream)).await
    }

    /// [`accept`](ServerBuilder::accept) over TLS, as
    /// [`accept_tls`](ServerBuilder::accept_tls) without `on_http`: a
    /// plain HTTP request (a page over `https://`) is answered by
    /// `on_http`.
    #[cfg(feature = "rustls")]
    pub async fn accept_tls<S>(
        self,
        acceptor: &crate::tls::TlsAcceptor,
        stream: S,
    ) -> Result<Accepted<WebSocket<TlsStream<S>>>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        Box::pin(self.serve_tls(acceptor, stream)).await
    }
}

/// Writes the answer, and shuts the transport down after a refusal.
async fn respond<S>(stream: &mut S, answer: &Answer) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
{
    stream.write_all(&answer.bytes).await?;
    stream.flush().await?;
    if answer.shutdown {
        stream.shutdown().await?;
    }
    Ok(())
}

/// After a refusal, reads and discards what the client still sends until
/// the end of file, at most [`DRAIN_LIMIT`](util::DRAIN_LIMIT) bytes for at
/// most [`DRAIN_TIMEOUT`](util::DRAIN_TIMEOUT), so that dropping the
/// stream closes it rather than resetting it. Errors end it quietly: the
/// answer is already sent.
async fn drain<S>(stream: &mut S)
where
    S: AsyncRead + Unpin,
{
    let mut rest = stream.take(util::DRAIN_LIMIT);
    let mut sink = tokio::io::sink();
    let discard = tokio::io::copy(&mut rest, &mut sink);
    let _ = tokio::time::timeout(util::DRAIN_TIMEOUT, discard).await;
}
