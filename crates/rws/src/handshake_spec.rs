//! The opening handshake logic both adapters share, free of I/O: the
//! client's request from a builder's settings, how much to read, and the
//! server's answer to a request.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use rws_proto::deflate::{DeflateConfig, DeflateParams};
use rws_proto::handshake::{
    encode_response, error_response, is_upgrade_request, Accept, ClientHandshake, HeadLimits,
    Rejection, UpgradeRequest, MAX_REJECTION_BODY,
};
use rws_proto::HandshakeError;

use crate::proxy::Proxy;
use crate::{Error, WebSocketConfig};

/// The most a server reads and discards from the client after refusing it
/// (any status but 101), before it drops the connection.
///
/// Closing a socket with received data still unread makes the kernel reset
/// the connection instead of closing it gently, and a client still sending
/// its request (a body, frames after the head) then fails with "connection
/// reset" before it reads the answer. So, after writing the answer and
/// shutting down the sending side, the server reads what the client still
/// sends until the end of file, up to this many bytes and for up to
/// [`DRAIN_TIMEOUT`].
pub(crate) const DRAIN_LIMIT: u64 = 64 << 10;

/// The longest a server waits for the client's end of file after refusing
/// it; see [`DRAIN_LIMIT`].
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// The application's answer to an upgrade request.
pub type Decision = Result<Accept, Rejection>;

/// A server's handler for plain HTTP requests, those that do not ask for a
/// WebSocket (no `Upgrade: websocket`): it gets the request head (a body
/// is not given to it) and returns the response, after which the
/// connection is closed.
pub(crate) type HttpHandler = Box<dyn FnOnce(&Request<()>) -> Response<Bytes> + Send>;

/// What a server builder collects: the settings and the application's
/// handlers.
pub(crate) struct ServerSpec<F> {
    pub(crate) config: WebSocketConfig,
    pub(crate) handlers: Handlers<F>,
}

/// The application's handlers for upgrade requests and plain HTTP requests.
pub(crate) struct Handlers<F> {
    on_request: F,
    on_http: Option<HttpHandler>,
}

impl ServerSpec<fn(&UpgradeRequest) -> Decision> {
    /// Accepts every valid upgrade request; no plain HTTP handler.
    pub(crate) fn new() -> Self {
        ServerSpec {
            config: WebSocketConfig::default(),
            handlers: Handlers {
                on_request: |_| Ok(Accept::new()),
                on_http: None,
            },
        }
    }
}

impl<F> ServerSpec<F> {
    pub(crate) fn on_request<G>(self, on_request: G) -> ServerSpec<G> {
        ServerSpec {
            config: self.config,
            handlers: Handlers {
                on_request,
                on_http: self.handlers.on_http,
            },
        }
    }

    pub(crate) fn on_http<H>(&mut self, on_http: H)
    where
        H: FnOnce(&Request<()>) -> Response<Bytes> + Send + 'static,
    {
        self.handlers.on_http = Some(Box::new(on_http));
    }
}

/// A request head before the application decides on it.
pub(crate) enum Sorted {
    /// Answered already: an invalid request, or plain HTTP for `on_http`.
    Answered(Answer),
    /// A valid upgrade request, for `on_request`.
    Upgrade(UpgradeRequest),
}

impl<F> Handlers<F> {
    /// Sorts what the request head parsed to (a plain HTTP request goes to
    /// `on_http` when there is one; anything else must be a valid
    /// upgrade), with how many bytes of the input the head took (none for
    /// a head that did not parse); hands back `on_request`.
    pub(crate) fn sort(
        self,
        parsed: Result<(Request<()>, usize), HandshakeError>,
    ) -> (Sorted, usize, F) {
        let (request, used) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return (Sorted::Answered(Answer::invalid(e)), 0, self.on_request),
        };
        let sorted = match self.on_http {
            Some(on_http) if !is_upgrade_request(&request) => {
                let mut response = on_http(&request);
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                let status = response.status();
                Sorted::Answered(Answer::new(&response, Ok(Reply::Http(status))))
            }
            _ => match UpgradeRequest::from_request(request) {
                Ok(request) => Sorted::Upgrade(request),
                Err(e) => Sorted::Answered(Answer::invalid(e)),
            },
        };
        (sorted, used, self.on_request)
    }
}

impl<F: FnOnce(&UpgradeRequest) -> Decision> Handlers<F> {
    /// The answer to what the request head parsed to, with a synchronous
    /// `on_request`, and how many bytes of the input the head took.
    #[cfg(feature = "blocking")]
    pub(crate) fn answer(
        self,
        parsed: Result<(Request<()>, usize), HandshakeError>,
        config: &WebSocketConfig,
    ) -> (Answer, usize) {
        let (sorted, used, on_request) = self.sort(parsed);
        let answer = match sorted {
            Sorted::Answered(answer) => answer,
            Sorted::Upgrade(request) => Answer::decide(&request, on_request(&request), config),
        };
        (answer, used)
    }
}

/// The constructor and the `Default` and `Debug` impls both adapters'
/// `ServerBuilder`s share (a `spec` and an `http` marker field), written
/// once. Expanded beside each builder's definition.
macro_rules! server_builder_basics {
    () => {
        impl ServerBuilder {
            /// A server that accepts every valid upgrade request.
            pub fn new() -> ServerBuilder {
                ServerBuilder {
                    spec: $crate::handshake_spec::ServerSpec::new(),
                    http: ::std::marker::PhantomData,
                }
            }
        }

        impl Default for ServerBuilder {
            fn default() -> ServerBuilder {
                ServerBuilder::new()
            }
        }

        impl<F, H> ::std::fmt::Debug for ServerBuilder<F, H> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("ServerBuilder")
                    .field("config", &self.spec.config)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use server_builder_basics;

/// The methods both adapters' `ClientBuilder`s share, written once: the
/// target, subprotocols, headers and settings, all kept in a
/// [`ClientSpec`] field named `spec`. Expanded inside each builder's `impl`.
macro_rules! client_builder_methods {
    () => {
        /// A client for `url` (`ws://host[:port]/path`).
        pub fn new(url: impl Into<String>) -> Self {
            Self {
                spec: $crate::handshake_spec::ClientSpec::url(url.into()),
            }
        }

        /// A client for a request the caller built: its URI (`ws://…`),
        /// headers and `Sec-WebSocket-Protocol` are kept; the handshake
        /// fields are set.
        ///
        /// ```
        /// let request = rws::http::Request::get("ws://127.0.0.1:9001/echo")
        ///     .header("user-agent", "my-app/1.0")
        ///     .body(())
        ///     .unwrap();
        /// let builder = rws::ClientBuilder::from_request(request);
        /// ```
        pub fn from_request(request: ::http::Request<()>) -> Self {
            Self {
                spec: $crate::handshake_spec::ClientSpec::request(request),
            }
        }

        /// Offers a subprotocol; call again to offer more, in order of
        /// preference.
        pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
            self.spec.protocol(protocol.into());
            self
        }

        /// Adds a header field to the request.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.spec.header(name.into(), value.into());
            self
        }

        /// Sets the connection's settings.
        pub fn config(mut self, config: $crate::WebSocketConfig) -> Self {
            self.spec.config = config;
            self
        }

        /// Connects through `proxy` (HTTP `CONNECT` or SOCKS5), for `ws://`
        /// and `wss://` alike; TLS runs end to end inside the tunnel.
        ///
        /// ```no_run
        /// # fn run() -> Result<(), rws::Error> {
        /// let proxy = rws::Proxy::new("http://user:password@proxy.example:3128")?;
        /// let builder = rws::ClientBuilder::new("wss://echo.example/").proxy(proxy);
        /// # Ok(()) }
        /// ```
        pub fn proxy(mut self, proxy: $crate::Proxy) -> Self {
            self.spec.proxy = $crate::handshake_spec::ProxyChoice::Given(proxy);
            self
        }

        /// Connects through the proxy the environment names for the URL,
        /// as curl reads it ([`Proxy::from_env`](crate::Proxy::from_env)):
        /// `https_proxy` for `wss://`, `http_proxy` for `ws://`,
        /// `all_proxy`, and `no_proxy`. Without this call the environment
        /// is not read.
        pub fn proxy_from_env(mut self) -> Self {
            self.spec.proxy = $crate::handshake_spec::ProxyChoice::FromEnv;
            self
        }

        /// The TLS configuration for `wss://` (the `rustls` feature): a
        /// private CA, a client certificate, another verifier. Without
        /// it, the web PKI's roots (see [`tls`](crate::tls)). Build one
        /// with [`ClientTls`](crate::tls::ClientTls), or bring your own
        /// (give it ALPN `http/1.1`).
        #[cfg(feature = "rustls")]
        pub fn tls_config(
            mut self,
            config: ::std::sync::Arc<$crate::tls::rustls::ClientConfig>,
        ) -> Self {
            self.spec.tls = Some(config);
            self
        }
    };
}
pub(crate) use client_builder_methods;

/// What a client builder collects: the target, subprotocols, headers and
/// settings.
pub(crate) struct ClientSpec {
    target: Target,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    pub(crate) config: WebSocketConfig,
    pub(crate) proxy: ProxyChoice,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The connection is for HTTP/2 (ALPN `h2` over TLS).
    #[cfg(feature = "hyper")]
    pub(crate) http2: bool,
}

/// Whether and how a client goes through a proxy.
#[derive(Debug)]
pub(crate) enum ProxyChoice {
    Direct,
    Given(Proxy),
    FromEnv,
}

/// Where a client's TCP connection leads, from its URL.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The host, without the brackets of an IPv6 address.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `wss://`: TLS on top of TCP.
    pub(crate) tls: bool,
    /// The URL, to look the proxy up with.
    url: String,
}

impl Endpoint {
    /// The endpoint of the handshake's URL: `ws://` (or `http://`) on port
    /// 80 by default, `wss://` (or `https://`) on 443.
    pub(crate) fn of(handshake: &ClientHandshake) -> Result<Endpoint, Error> {
        let uri = handshake.request().uri();
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let (tls, port) = match scheme.as_str() {
            "ws" | "http" => (false, 80),
            "wss" | "https" => (true, 443),
            _ => {
                return Err(
                    HandshakeError::Url(format!("{uri}: the scheme must be ws or wss")).into(),
                )
            }
        };
        if tls && !cfg!(feature = "rustls") {
            return Err(HandshakeError::Url(format!(
                "{uri}: wss:// needs the rustls feature of the rws crate"
            ))
            .into());
        }
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        Ok(Endpoint {
            host: host.to_owned(),
            port: uri.port_u16().unwrap_or(port),
            tls,
            url: uri.to_string(),
        })
    }
}

#[derive(Debug)]
enum Target {
    Url(String),
    Request(Request<()>),
}

impl ClientSpec {
    pub(crate) fn url(url: String) -> ClientSpec {
        ClientSpec::with_target(Target::Url(url))
    }

    pub(crate) fn request(request: Request<()>) -> ClientSpec {
        ClientSpec::with_target(Target::Request(request))
    }

    fn with_target(target: Target) -> ClientSpec {
        ClientSpec {
            target,
            protocols: Vec::new(),
            headers: Vec::new(),
            config: WebSocketConfig::default(),
            proxy: ProxyChoice::Direct,
            #[cfg(feature = "rustls")]
            tls: None,
            #[cfg(feature = "hyper")]
            http2: false,
        }
    }

    /// The proxy to reach `endpoint` through, if any.
    pub(crate) fn proxy_for(&self, endpoint: &Endpoint) -> Result<Option<Proxy>, Error> {
        Ok(match &self.proxy {
            ProxyChoice::Direct => None,
            ProxyChoice::Given(proxy) => Some(proxy.clone()),
            ProxyChoice::FromEnv => Proxy::from_env(&endpoint.url)?,
        })
    }

    /// The TLS configuration for `wss://`: the caller's, or the web PKI.
    #[cfg(feature = "rustls")]
    pub(crate) fn tls_config(&self) -> std::sync::Arc<rustls::ClientConfig> {
        let config = match &self.tls {
            Some(config) => config.clone(),
            None => crate::tls::default_client_config(),
        };
        #[cfg(feature = "hyper")]
        if self.http2 {
            let mut h2 = (*config).clone();
            h2.alpn_protocols = vec![b"h2".to_vec()];
            return std::sync::Arc::new(h2);
        }
        config
    }

    pub(crate) fn protocol(&mut self, protocol: String) {
        self.protocols.push(protocol);
    }

    pub(crate) fn header(&mut self, name: String, value: String) {
        self.headers.push((name, value));
    }

    /// The handshake: the target's request with the subprotocols offered
    /// and the extra headers added.
    pub(crate) fn handshake(&self) -> Result<ClientHandshake, Error> {
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
        let mut handshake = ClientHandshake::from_request(request)?.limits(self.config.head_limits);
        if let Some(deflate) = &self.config.core.deflate {
            handshake = handshake.deflate(deflate);
        }
        Ok(handshake)
    }

    /// Debug output for a builder named `name` that holds this.
    pub(crate) fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("target", &self.target)
            .field("protocols", &self.protocols)
            .field("headers", &self.headers)
            .field("config", &self.config)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// What an opening handshake agreed on.
#[derive(Debug, Default)]
pub(crate) struct Agreed {
    /// The subprotocol, if any.
    pub(crate) protocol: Option<String>,
    /// The permessage-deflate parameters, if negotiated.
    pub(crate) deflate: Option<DeflateParams>,
    /// The policy they were agreed under (its level and threshold apply),
    /// when it is not the configuration's.
    pub(crate) deflate_config: Option<DeflateConfig>,
    /// The head of the upgrade request as it arrived, on a server.
    pub(crate) request_head: Option<Box<[u8]>>,
    /// The upgrade request already parsed, on a server that did not read
    /// it itself (an HTTP library's upgrade).
    pub(crate) request: Option<Box<Request<()>>>,
}

impl Agreed {
    /// What a client's handshake agreed on, from the server's 101.
    pub(crate) fn from_response(
        handshake: &ClientHandshake,
        response: &Response<()>,
    ) -> Result<Agreed, Error> {
        Ok(Agreed {
            protocol: response_protocol(response),
            deflate: handshake.deflate_params(response)?,
            deflate_config: None,
            request_head: None,
            request: None,
        })
    }

    /// What a server agrees to when `accept` answers `request` (its
    /// permessage-deflate policy, or else the configuration's), and the
    /// response that says so.
    pub(crate) fn accepting(
        request: &UpgradeRequest,
        mut accept: Accept,
        config: &WebSocketConfig,
    ) -> (Response<()>, Agreed) {
        if accept.deflate_config().is_none() {
            if let Some(deflate) = &config.core.deflate {
                accept = accept.deflate(deflate.clone());
            }
        }
        let response = request.accept(&accept);
        let deflate = accept
            .deflate_config()
            .and_then(|c| request.negotiate_deflate(c));
        let agreed = Agreed {
            protocol: response_protocol(&response),
            deflate,
            deflate_config: accept.deflate_config().cloned(),
            // Set by the adapter, which holds the request.
            request_head: None,
            request: None,
        };
        (response, agreed)
    }
}

/// The subprotocol a 101 response agreed on, if any.
fn response_protocol<B>(response: &Response<B>) -> Option<String> {
    response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// How many more bytes a client may read for the server's answer, with
/// `read` already read: a head and a rejection's body at most.
pub(crate) fn response_room(read: usize, limits: &HeadLimits) -> usize {
    let most = limits.max_head_size + MAX_REJECTION_BODY;
    most - read.min(most)
}

/// How many more bytes a server may read for the request, with `read`
/// already read: never more than one byte past the head limit.
pub(crate) fn request_room(read: usize, limits: &HeadLimits) -> usize {
    (limits.max_head_size + 1).saturating_sub(read)
}

/// The peer hung up before the handshake was done.
pub(crate) fn closed_during_handshake() -> Error {
    HandshakeError::Http("connection closed during the handshake".into()).into()
}

/// What a server's `accept` returns once it answered plain HTTP as well
/// as WebSocket upgrades (the builder's `on_http` is set): serving a page
/// or a health check is an outcome, not an error.
///
/// ```no_run
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), rws::Error> {
/// use rws::http::Response;
/// use rws::Accepted;
///
/// let served = rws::ServerBuilder::new()
///     .on_http(|_| Response::new("a page".into()))
///     .accept(tcp)
///     .await?;
/// match served {
///     Accepted::WebSocket(mut ws) => while let Some(message) = ws.recv().await {
///         ws.send(message?).await?;
///     },
///     Accepted::Http(status) => println!("served plain HTTP: {status}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub enum Accepted<W> {
    /// An upgrade request was accepted: the connection.
    WebSocket(W),
    /// A plain HTTP request was answered by `on_http` with this status;
    /// the connection is closed.
    Http(StatusCode),
}

/// A server builder's state without `on_http`: plain HTTP requests get 426
/// Upgrade Required, and `accept` returns the `WebSocket` itself.
#[derive(Debug)]
pub struct NoHttp;

/// A server builder's state with `on_http`: `accept` returns an
/// [`Accepted`].
#[derive(Debug)]
pub struct WithHttp;

/// How a request was answered.
#[derive(Debug)]
pub(crate) enum Reply {
    /// 101: the connection opens with what was agreed.
    Open(Agreed),
    /// A plain HTTP response with this status, from `on_http`.
    Http(StatusCode),
}

/// `accept` on a builder without `on_http`: a WebSocket, since no plain
/// HTTP request can be answered as one.
pub(crate) fn websocket<W>(accepted: Accepted<W>) -> Result<W, Error> {
    match accepted {
        Accepted::WebSocket(ws) => Ok(ws),
        // Not reached: without `on_http` a plain request is refused with
        // 426, an error.
        Accepted::Http(status) => {
            Err(HandshakeError::Http(format!("plain HTTP answered with {status}")).into())
        }
    }
}

/// A server's answer to the client: the encoded response and what follows.
pub(crate) struct Answer {
    /// The HTTP response to write and flush.
    pub(crate) bytes: Vec<u8>,
    /// Whether to shut the transport down after it (every status but 101),
    /// then drain what the client still sends (see [`DRAIN_LIMIT`]).
    pub(crate) shutdown: bool,
    /// The agreed subprotocol when the connection opens, or the error to
    /// return once the response is written.
    pub(crate) outcome: Result<Reply, Error>,
}

impl Answer {
    /// The answer to a valid request, as the application decided.
    ///
    /// permessage-deflate is accepted under the application's policy, or
    /// else under the configuration's.
    pub(crate) fn decide(
        request: &UpgradeRequest,
        decision: Decision,
        config: &WebSocketConfig,
    ) -> Answer {
        match decision {
            Ok(accept) => {
                let (response, agreed) = Agreed::accepting(request, accept, config);
                Answer::new(&response.map(|()| Bytes::new()), Ok(Reply::Open(agreed)))
            }
            Err(rejection) => {
                let bytes = Answer::new(rejection.response(), Ok(Reply::Open(Agreed::default())));
                let error = HandshakeError::Rejected(rejection.into_response());
                Answer {
                    outcome: Err(error.into()),
                    ..bytes
                }
            }
        }
    }

    /// The answer to an invalid request: its HTTP status.
    pub(crate) fn invalid(error: HandshakeError) -> Answer {
        Answer::new(&error_response(&error), Err(error.into()))
    }

    fn new(response: &Response<Bytes>, outcome: Result<Reply, Error>) -> Answer {
        let mut bytes = Vec::new();
        encode_response(response, &mut bytes);
        Answer {
            bytes,
            shutdown: response.status() != StatusCode::SWITCHING_PROTOCOLS,
            outcome,
        }
    }
}
