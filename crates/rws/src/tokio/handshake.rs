//! The opening handshake over tokio streams: [`connect`], [`accept`] and
//! their builders.

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use rws_proto::handshake::{
    self, encode_response, error_response, Accept, ClientHandshake, Rejection, UpgradeRequest,
    MAX_REJECTION_BODY,
};
use rws_proto::{HandshakeError, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{WebSocket, WebSocketConfig};
use crate::Error;

/// Connects to a `ws://` URL with the default settings.
///
/// Returns the connection and the server's 101 response. A non-101 answer
/// is [`Error::Handshake`] with [`HandshakeError::Rejected`], which keeps the
/// status, headers and body.
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response<()>), Error> {
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
#[derive(Debug)]
pub struct ClientBuilder {
    target: Target,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    config: WebSocketConfig,
}

#[derive(Debug)]
enum Target {
    Url(String),
    Request(Request<()>),
}

impl ClientBuilder {
    /// A client for `url` (`ws://host[:port]/path`).
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::with_target(Target::Url(url.into()))
    }

    /// A client for a request the caller built: its URI (`ws://…`), headers
    /// and `Sec-WebSocket-Protocol` are kept; the handshake fields are set.
    ///
    /// ```
    /// let request = rws::http::Request::get("ws://127.0.0.1:9001/echo")
    ///     .header("user-agent", "my-app/1.0")
    ///     .body(())
    ///     .unwrap();
    /// let builder = rws::ClientBuilder::from_request(request);
    /// ```
    pub fn from_request(request: Request<()>) -> ClientBuilder {
        ClientBuilder::with_target(Target::Request(request))
    }

    fn with_target(target: Target) -> ClientBuilder {
        ClientBuilder {
            target,
            protocols: Vec::new(),
            headers: Vec::new(),
            config: WebSocketConfig::default(),
        }
    }

    /// Offers a subprotocol; call again to offer more, in order of preference.
    pub fn protocol(mut self, protocol: impl Into<String>) -> ClientBuilder {
        self.protocols.push(protocol.into());
        self
    }

    /// Adds a header field to the request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the connection's settings.
    pub fn config(mut self, config: WebSocketConfig) -> ClientBuilder {
        self.config = config;
        self
    }

    /// Opens a TCP connection to the URL's host and runs the handshake on it.
    pub async fn connect(self) -> Result<(WebSocket<TcpStream>, Response<()>), Error> {
        let handshake = self.handshake()?;
        let uri = handshake.request().uri();
        if uri.scheme_str() != Some("ws") && uri.scheme_str() != Some("http") {
            return Err(HandshakeError::Url("only ws:// is supported here".into()).into());
        }
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        let port = uri.port_u16().unwrap_or(80);
        let timeout = self.config.handshake_timeout;
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        tcp.set_nodelay(true)?;
        client_handshake(tcp, handshake, self.config).await
    }

    /// Runs the handshake on a stream the caller connected (TLS, a proxy
    /// tunnel, a Unix socket).
    pub async fn connect_on<S>(self, stream: S) -> Result<(WebSocket<S>, Response<()>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.handshake()?;
        client_handshake(stream, handshake, self.config).await
    }

    fn handshake(&self) -> Result<ClientHandshake, Error> {
        let mut request = match &self.target {
            Target::Url(url) => {
                let uri: Uri = url
                    .parse()
                    .map_err(|e| HandshakeError::Url(format!("{url:?}: {e}")))?;
                let mut request = Request::new(());
                *request.uri_mut() = uri;
                request
            }
            Target::Request(request) => request.clone(),
        };
        let bad = |what: String| Error::Handshake(HandshakeError::Request(what));
        let headers = request.headers_mut();
        if !self.protocols.is_empty() {
            let list = self.protocols.join(", ");
            let value = HeaderValue::from_str(&list)
                .map_err(|_| bad(format!("bad subprotocol list {list:?}")))?;
            headers.append(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("bad header name {name:?}")))?;
            let value =
                HeaderValue::from_str(value).map_err(|_| bad(format!("bad value for {name}")))?;
            headers.append(name, value);
        }
        Ok(ClientHandshake::from_request(request)?.limits(self.config.head_limits))
    }
}

async fn client_handshake<S>(
    mut stream: S,
    handshake: ClientHandshake,
    config: WebSocketConfig,
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
        let most = config.head_limits.max_head_size + MAX_REJECTION_BODY;
        loop {
            let n = (&mut stream)
                .take((most - buf.len().min(most)) as u64)
                .read_buf(&mut buf)
                .await?;
            let eof = n == 0;
            if let Some((response, used)) = handshake.handle_response(&buf, eof)? {
                let protocol = response
                    .headers()
                    .get(header::SEC_WEBSOCKET_PROTOCOL)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let leftover = buf.split_off(used);
                let ws = WebSocket::from_raw(stream, Role::Client, config.clone(), &leftover)
                    .with_protocol(protocol);
                return Ok((ws, response));
            }
            if eof {
                return Err(
                    HandshakeError::Http("connection closed during the handshake".into()).into(),
                );
            }
        }
    };
    tokio::time::timeout(config.handshake_timeout, run)
        .await
        .map_err(|_| Error::HandshakeTimeout)?
}

/// The application's answer to an upgrade request.
pub type Decision = Result<Accept, Rejection>;

/// Builds a server connection: settings and a callback that looks at each
/// request and accepts (choosing a subprotocol, adding headers) or rejects.
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
pub struct ServerBuilder<F = fn(&UpgradeRequest) -> Decision> {
    config: WebSocketConfig,
    on_request: F,
}

impl ServerBuilder {
    /// A server that accepts every valid upgrade request.
    pub fn new() -> ServerBuilder {
        ServerBuilder {
            config: WebSocketConfig::default(),
            on_request: |_| Ok(Accept::new()),
        }
    }
}

impl Default for ServerBuilder {
    fn default() -> ServerBuilder {
        ServerBuilder::new()
    }
}

impl<F> fmt::Debug for ServerBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<F: FnOnce(&UpgradeRequest) -> Decision> ServerBuilder<F> {
    /// Sets the connection's settings.
    pub fn config(mut self, config: WebSocketConfig) -> ServerBuilder<F> {
        self.config = config;
        self
    }

    /// Sets the callback that accepts or rejects each valid request.
    pub fn on_request<G>(self, on_request: G) -> ServerBuilder<G>
    where
        G: FnOnce(&UpgradeRequest) -> Decision,
    {
        ServerBuilder {
            config: self.config,
            on_request,
        }
    }

    /// Reads the upgrade request from `stream`, answers it and returns the
    /// connection. An invalid or rejected request is answered with its
    /// status and returned as an error ([`HandshakeError::Rejected`] for the
    /// application's rejections).
    pub async fn accept<S>(self, mut stream: S) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let config = self.config;
        let on_request = self.on_request;
        let run = async {
            let mut buf = Vec::with_capacity(1024);
            let limits = config.head_limits;
            let parsed = loop {
                match handshake::parse_request(&buf, &limits) {
                    Ok(Some(parsed)) => break parsed,
                    Ok(None) => {}
                    Err(e) => {
                        respond(&mut stream, &error_response(&e)).await?;
                        return Err(e.into());
                    }
                }
                // Never read more than one byte past the head limit.
                let room = (limits.max_head_size + 1).saturating_sub(buf.len()) as u64;
                if (&mut stream).take(room).read_buf(&mut buf).await? == 0 {
                    return Err(HandshakeError::Http(
                        "connection closed during the handshake".into(),
                    )
                    .into());
                }
            };
            let (request, used) = parsed;
            match on_request(&request) {
                Ok(accept) => {
                    let response = request.accept(&accept);
                    let protocol = response
                        .headers()
                        .get(header::SEC_WEBSOCKET_PROTOCOL)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    respond(&mut stream, &response.map(|()| Bytes::new())).await?;
                    let ws =
                        WebSocket::from_raw(stream, Role::Server, config.clone(), &buf[used..])
                            .with_protocol(protocol);
                    Ok(ws)
                }
                Err(rejection) => {
                    respond(&mut stream, rejection.response()).await?;
                    Err(HandshakeError::Rejected(rejection.into_response()).into())
                }
            }
        };
        tokio::time::timeout(config.handshake_timeout, run)
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }
}

async fn respond<S>(stream: &mut S, response: &Response<Bytes>) -> Result<(), Error>
where
    S: AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    encode_response(response, &mut out);
    stream.write_all(&out).await?;
    stream.flush().await?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        stream.shutdown().await?;
    }
    Ok(())
}
