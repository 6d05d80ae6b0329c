//! The opening handshake over blocking streams: [`connect`], [`accept`] and
//! their builders.

use std::fmt;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::TcpStream;

use bytes::Bytes;
use http::{Request, Response};
use rws_proto::handshake::{self, ClientHandshake, HeadLimits, UpgradeRequest};
use rws_proto::Role;

use super::socket::{self, Deadline, Exchange, SocketOf};
use super::transport::{self, MaybeTlsStream};
use super::WebSocket;
use crate::handshake_spec::{
    self as util, Accepted, Agreed, ClientSpec, Decision, Endpoint, Handlers, NoHttp, Reply,
    ServerSpec, WithHttp,
};
use crate::{Error, WebSocketConfig};

/// Connects to a `ws://` or `wss://` URL (`wss://` with the `rustls`
/// feature) with the default settings, with `TCP_NODELAY` on and the
/// handshake bounded by the handshake timeout.
///
/// Returns the connection and the server's 101 response. A non-101 answer
/// is [`Error::Handshake`] with
/// [`HandshakeError::Rejected`](crate::HandshakeError::Rejected), which
/// keeps the status, headers and body.
///
/// ```no_run
/// use rws::{CloseCode, Message};
///
/// let (mut ws, _response) = rws::blocking::connect("ws://127.0.0.1:9001/echo")?;
/// ws.send(Message::text("hello"))?;
/// if let Some(reply) = ws.recv() {
///     println!("{:?}", reply?);
/// }
/// ws.close(CloseCode::NORMAL, "done")?;
/// # Ok::<(), rws::Error>(())
/// ```
pub fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
    ClientBuilder::new(url).connect()
}

/// Accepts a WebSocket on a stream with the default settings, taking any
/// path and no subprotocol. An invalid request is answered with its HTTP
/// status (400, 405, 426, 431) and returned as [`Error::Handshake`].
///
/// The handshake and close timeouts are only enforced by the stream's own
/// timeouts, which the caller sets; for a `TcpStream`, [`accept_tcp`] sets
/// them.
///
/// ```no_run
/// use std::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// for tcp in listener.incoming() {
///     std::thread::spawn(move || {
///         let mut ws = rws::blocking::accept(tcp?)?;
///         while let Some(message) = ws.recv() {
///             ws.send(message?)?; // echo
///         }
///         Ok::<_, rws::Error>(())
///     });
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn accept<S: Read + Write>(stream: S) -> Result<WebSocket<S>, Error> {
    ServerBuilder::new().accept(stream)
}

/// [`accept`] for a `TcpStream`, with the handshake and close timeouts
/// enforced through the socket's timeouts (which are put back after).
pub fn accept_tcp(stream: TcpStream) -> Result<WebSocket<TcpStream>, Error> {
    ServerBuilder::new().accept_tcp(stream)
}

/// Builds a client connection: URL, subprotocols, headers and settings.
///
/// ```no_run
/// let (ws, response) = rws::blocking::ClientBuilder::new("ws://127.0.0.1:9001/chat")
///     .protocol("chat")
///     .header("authorization", "Bearer 123")
///     .connect()?;
/// assert_eq!(ws.protocol(), Some("chat"));
/// # Ok::<(), rws::Error>(())
/// ```
pub struct ClientBuilder {
    spec: ClientSpec,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.debug("ClientBuilder", f)
    }
}

impl ClientBuilder {
    util::client_builder_methods!();

    /// Opens the connection to the URL's host (TCP with `TCP_NODELAY`, a
    /// proxy's tunnel if one is set, TLS for `wss://` with the `rustls`
    /// feature) and runs the handshake on it, all within the handshake
    /// timeout. The close timeout is enforced too (see the [module
    /// documentation](super)).
    pub fn connect(self) -> Result<(WebSocket<MaybeTlsStream>, Response<()>), Error> {
        let handshake = self.spec.handshake()?;
        let endpoint = Endpoint::of(&handshake)?;
        let deadline = Deadline::after(self.spec.config.handshake_timeout);
        let stream = transport::open(&self.spec, &endpoint, &deadline)?;
        let (ws, response) = client_handshake(
            stream,
            Some(transport::tcp_of),
            handshake,
            self.spec.config,
            deadline,
        )?;
        let ws = ws.with_socket(transport::tcp_of);
        #[cfg(feature = "rustls")]
        let ws = ws.with_close_notify(transport::close_notify);
        Ok((ws, response))
    }

    /// Runs the handshake on a stream the caller connected (TLS, a proxy
    /// tunnel, a Unix socket). Its timeouts are the caller's to set: the
    /// handshake timeout is only checked between reads.
    pub fn connect_on<S: Read + Write>(
        self,
        stream: S,
    ) -> Result<(WebSocket<S>, Response<()>), Error> {
        let handshake = self.spec.handshake()?;
        let deadline = Deadline::after(self.spec.config.handshake_timeout);
        client_handshake(stream, None, handshake, self.spec.config, deadline)
    }
}

fn client_handshake<S: Read + Write>(
    mut stream: S,
    socket: Option<SocketOf<S>>,
    handshake: ClientHandshake,
    config: WebSocketConfig,
    deadline: Deadline,
) -> Result<(WebSocket<S>, Response<()>), Error> {
    let mut io = Exchange {
        stream: &mut stream,
        socket,
        deadline,
    };
    let result = request_upgrade(&mut io, &handshake, &config.head_limits);
    io.restore();
    let (response, leftover) = result?;
    let agreed = Agreed::from_response(&handshake, &response)?;
    let ws = WebSocket::opened(stream, Role::Client, config, &leftover, agreed);
    Ok((ws, response))
}

/// Sends the request and reads the answer: the 101 response and the bytes
/// after it.
fn request_upgrade<S: Read + Write>(
    io: &mut Exchange<'_, S>,
    handshake: &ClientHandshake,
    limits: &HeadLimits,
) -> Result<(Response<()>, Vec<u8>), Error> {
    let mut out = Vec::new();
    handshake.encode_request(&mut out);
    io.write_all(&out)?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let room = util::response_room(buf.len(), limits);
        let n = io.read_into(&mut buf, room)?;
        let eof = n == 0;
        if let Some((response, used)) = handshake.handle_response(&buf, eof)? {
            return Ok((response, buf.split_off(used)));
        }
        if eof {
            return Err(util::closed_during_handshake());
        }
    }
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
/// # fn run(tcp: std::net::TcpStream) -> Result<(), rws::Error> {
/// use rws::http::StatusCode;
/// use rws::{Accept, Rejection};
///
/// let ws = rws::blocking::ServerBuilder::new()
///     .on_request(|req| {
///         if req.origin() != Some("https://example.com") {
///             return Err(Rejection::new(StatusCode::FORBIDDEN, "forbidden origin"));
///         }
///         let chat = req.protocols().any(|p| p == "chat");
///         Ok(if chat { Accept::new().protocol("chat") } else { Accept::new() })
///     })
///     .accept_tcp(tcp)?;
/// # Ok(()) }
/// ```
pub struct ServerBuilder<F = fn(&UpgradeRequest) -> Decision, H = NoHttp> {
    spec: ServerSpec<F>,
    http: PhantomData<H>,
}

util::server_builder_basics!();

impl<F: FnOnce(&UpgradeRequest) -> Decision, H> ServerBuilder<F, H> {
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

    /// Answers plain HTTP requests on the same port, those that do not ask
    /// for a WebSocket (no `Upgrade: websocket`), with `on_http`'s response
    /// instead of 426 Upgrade Required: a page, a health check. The request
    /// body, if any, is not given to `on_http`; the connection is closed
    /// after the response (`Connection: close`), and `accept` returns
    /// [`Accepted::Http`] with the status sent (an outcome, not an error).
    /// On a `TcpStream`, what the client sends after the head is read and
    /// discarded, as after any refusal (see
    /// [`accept_tcp`](ServerBuilder::accept_tcp)).
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
    fn serve_on<S: Read + Write>(
        self,
        mut stream: S,
        socket: Option<SocketOf<S>>,
    ) -> Result<Accepted<WebSocket<S>>, Error> {
        let ServerSpec { config, handlers } = self.spec;
        let mut io = Exchange {
            stream: &mut stream,
            socket,
            deadline: Deadline::after(config.handshake_timeout),
        };
        let result = answer_upgrade(&mut io, &config, handlers);
        io.restore();
        let (reply, leftover) = result?;
        Ok(match reply {
            Reply::Open(agreed) => Accepted::WebSocket(WebSocket::opened(
                stream,
                Role::Server,
                config,
                &leftover,
                agreed,
            )),
            Reply::Http(status) => Accepted::Http(status),
        })
    }
}

impl<F: FnOnce(&UpgradeRequest) -> Decision> ServerBuilder<F, NoHttp> {
    /// Reads the upgrade request from `stream`, answers it and returns the
    /// connection. An invalid or rejected request is answered with its
    /// status and returned as an error
    /// ([`HandshakeError::Rejected`](crate::HandshakeError::Rejected) for
    /// the application's rejections).
    ///
    /// The stream's timeouts are the caller's to set: the handshake timeout
    /// is only checked between reads, and the core's deadlines whenever a
    /// read returns. For a `TcpStream`, use [`accept_tcp`](Self::accept_tcp).
    pub fn accept<S: Read + Write>(self, stream: S) -> Result<WebSocket<S>, Error> {
        util::websocket(self.serve_on(stream, None)?)
    }

    /// [`accept`](Self::accept) for a `TcpStream`, with the handshake
    /// timeout and the core's deadlines enforced through the socket's
    /// timeouts (which are put back after), and the socket shut down at the
    /// end of the connection.
    ///
    /// After any answer but 101, the socket's sending side is shut down and
    /// what the client still sends (a request body, frames) is read and
    /// discarded until it closes, at most 64 KiB for at most a second (on
    /// top of the handshake timeout), before `accept_tcp` returns: closing
    /// a socket with unread input resets the connection, and a client
    /// still sending would fail before it reads the answer.
    /// [`accept`](Self::accept) on a generic stream does neither: the
    /// stream ends when the caller drops it.
    pub fn accept_tcp(self, stream: TcpStream) -> Result<WebSocket<TcpStream>, Error> {
        let ws = util::websocket(self.serve_on(stream, Some(socket::tcp))?)?;
        Ok(ws.with_socket(socket::tcp))
    }

    /// [`accept_tcp`](Self::accept_tcp) over TLS (the `rustls` feature):
    /// the TLS handshake with `acceptor`, then the WebSocket handshake,
    /// each within the handshake timeout. A refused TLS handshake is
    /// [`Error::Tls`].
    #[cfg(feature = "rustls")]
    pub fn accept_tls(
        self,
        acceptor: &crate::tls::TlsAcceptor,
        stream: TcpStream,
    ) -> Result<WebSocket<TlsStream>, Error> {
        let tls = tls_accept(acceptor, stream, self.spec.config.handshake_timeout)?;
        let ws = util::websocket(self.serve_on(tls, Some(tls_socket))?)?;
        Ok(ws
            .with_socket(tls_socket)
            .with_close_notify(tls_close_notify))
    }
}

/// A server's end of a `wss://` connection (the `rustls` feature), from
/// [`ServerBuilder::accept_tls`].
#[cfg(feature = "rustls")]
pub type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// Queues the TLS session's close_notify on a [`TlsStream`].
#[cfg(feature = "rustls")]
fn tls_close_notify(stream: &mut TlsStream) {
    stream.conn.send_close_notify();
}

/// The [`SocketOf`] a [`TlsStream`].
#[cfg(feature = "rustls")]
fn tls_socket(stream: &TlsStream) -> &TcpStream {
    &stream.sock
}

/// The server's TLS handshake on `tcp` within `timeout`.
#[cfg(feature = "rustls")]
fn tls_accept(
    acceptor: &crate::tls::TlsAcceptor,
    tcp: TcpStream,
    timeout: std::time::Duration,
) -> Result<TlsStream, Error> {
    let conn = rustls::ServerConnection::new(acceptor.config().clone())
        .map_err(|e| crate::tls::handshake_error(std::io::Error::other(e), "the client"))?;
    transport::tls_handshake(conn, tcp, &Deadline::after(timeout), "the client")
}

impl<F: FnOnce(&UpgradeRequest) -> Decision> ServerBuilder<F, WithHttp> {
    /// Reads the request from `stream` and answers it: an upgrade request
    /// opens the connection ([`Accepted::WebSocket`]), a plain HTTP request
    /// is answered by `on_http` ([`Accepted::Http`]). Timeouts as for
    /// [`accept`](ServerBuilder::accept) without `on_http`.
    pub fn accept<S: Read + Write>(self, stream: S) -> Result<Accepted<WebSocket<S>>, Error> {
        self.serve_on(stream, None)
    }

    /// [`accept`](ServerBuilder::accept) for a `TcpStream`, as
    /// [`accept_tcp`](ServerBuilder::accept_tcp) without `on_http`.
    pub fn accept_tcp(self, stream: TcpStream) -> Result<Accepted<WebSocket<TcpStream>>, Error> {
        Ok(match self.serve_on(stream, Some(socket::tcp))? {
            Accepted::WebSocket(ws) => Accepted::WebSocket(ws.with_socket(socket::tcp)),
            Accepted::Http(status) => Accepted::Http(status),
        })
    }

    /// [`accept_tcp`](ServerBuilder::accept_tcp) over TLS, as
    /// [`accept_tls`](ServerBuilder::accept_tls) without `on_http`.
    #[cfg(feature = "rustls")]
    pub fn accept_tls(
        self,
        acceptor: &crate::tls::TlsAcceptor,
        stream: TcpStream,
    ) -> Result<Accepted<WebSocket<TlsStream>>, Error> {
        let tls = tls_accept(acceptor, stream, self.spec.config.handshake_timeout)?;
        Ok(match self.serve_on(tls, Some(tls_socket))? {
            Accepted::WebSocket(ws) => Accepted::WebSocket(
                ws.with_socket(tls_socket)
                    .with_close_notify(tls_close_notify),
            ),
            Accepted::Http(status) => Accepted::Http(status),
        })
    }
}

/// Reads the request and answers it: how it was answered and the bytes
/// after the request.
fn answer_upgrade<S, F>(
    io: &mut Exchange<'_, S>,
    config: &WebSocketConfig,
    handlers: Handlers<F>,
) -> Result<(Reply, Vec<u8>), Error>
where
    S: Read + Write,
    F: FnOnce(&UpgradeRequest) -> Decision,
{
    let limits = &config.head_limits;
    let mut buf = Vec::with_capacity(1024);
    let parsed = loop {
        match handshake::read_request(&buf, limits) {
            Ok(Some(parsed)) => break Ok(parsed),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let room = util::request_room(buf.len(), limits);
        if io.read_into(&mut buf, room)? == 0 {
            return Err(util::closed_during_handshake());
        }
    };
    let (answer, used) = handlers.answer(parsed, config);
    io.write_all(&answer.bytes)?;
    if answer.shutdown {
        io.shutdown()?;
        io.drain();
    }
    let mut reply = answer.outcome?;
    let leftover = buf.split_off(used);
    if let Reply::Open(agreed) = &mut reply {
        agreed.request_head = Some(buf.into_boxed_slice());
    }
    Ok((reply, leftover))
}
