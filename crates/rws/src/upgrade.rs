//! WebSockets inside a hyper 1.x server (the `hyper` feature): an HTTP/1.1
//! `Upgrade` or an HTTP/2 extended CONNECT (RFC 8441), checked, answered
//! and opened as [`accept`](crate::accept) does it, subprotocol and
//! permessage-deflate included.
//!
//! A hyper service answers the request with the response from
//! [`Upgrade::accept`] and awaits the [`PendingWebSocket`] in a task of its
//! own: hyper hands the connection (or, over HTTP/2, the stream) over once
//! the response is sent.
//!
//! ```no_run
//! use rws::bytes::Bytes;
//! use rws::http::{Request, Response};
//! use rws::upgrade::Upgrade;
//! use rws::Accept;
//!
//! # type Body = http_body_util::Full<Bytes>;
//! async fn handle(mut request: Request<hyper::body::Incoming>) -> Result<Response<Body>, hyper::Error> {
//!     let upgrade = match Upgrade::from_request(&mut request) {
//!         Ok(upgrade) => upgrade,
//!         // Not a WebSocket: serve it as plain HTTP (here: the error's status).
//!         Err(refusal) => return Ok(refusal.into_response()),
//!     };
//!     let (response, pending) = upgrade.accept(Accept::new());
//!     tokio::spawn(async move {
//!         let mut ws = pending.await?;
//!         while let Some(message) = ws.recv().await {
//!             ws.send(message?).await?;
//!         }
//!         Ok::<_, rws::Error>(())
//!     });
//!     Ok(response)
//! }
//! ```
//!
//! The server's HTTP/2 side must allow extended CONNECT:
//! `hyper::server::conn::http2::Builder::enable_connect_protocol` (hyper
//! then sends `SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3).
//!
//! hyper reads and bounds the request head itself (its own limits apply,
//! not [`HeadLimits`](crate::HeadLimits)); the rest of the
//! [`WebSocketConfig`] applies as on any connection, and the handshake
//! timeout bounds the wait for hyper to hand the connection over.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header;
use http::request::Parts;
use http::{Extensions, Method, Request, Response, Version};
use hyper::upgrade::OnUpgrade;
use rws_proto::handshake::{self, Accept, Rejection, UpgradeRequest};
use rws_proto::{HandshakeError, Role};

use crate::handshake_spec::Agreed;
use crate::{Error, WebSocket, WebSocketConfig};

/// The stream under a WebSocket that hyper handed over: an HTTP/1.1
/// connection, or one stream of an HTTP/2 connection (flow-controlled on
/// its own, so a reader that stops reading holds back only its stream).
pub type Upgraded = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// Whether `request` asks for a WebSocket: `Upgrade: websocket` over
/// HTTP/1.1, or a CONNECT with `:protocol` `websocket` over HTTP/2.
/// Whether it asks correctly is for [`Upgrade::from_request`] to say.
///
/// ```
/// use rws::http::Request;
///
/// let get = Request::get("/chat").header("upgrade", "websocket").body(()).unwrap();
/// assert!(rws::upgrade::is_upgrade_request(&get));
/// assert!(!rws::upgrade::is_upgrade_request(&Request::get("/").body(()).unwrap()));
/// ```
pub fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    if request.method() == Method::CONNECT {
        return protocol(request).is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
    }
    handshake::is_upgrade_request(&head(request))
}

/// The `:protocol` pseudo-header of an HTTP/2 request, which hyper keeps
/// in the request's extensions.
fn protocol<B>(request: &Request<B>) -> Option<&str> {
    let protocol = request.extensions().get::<hyper::ext::Protocol>()?;
    Some(protocol.as_str())
}

/// The core's checks, for the request's HTTP version.
fn check(head: Request<()>, protocol: Option<&str>) -> Result<UpgradeRequest, Refusal> {
    let version = head.version();
    let checked = if version == Version::HTTP_2 {
        UpgradeRequest::from_extended_connect(head, protocol)
    } else {
        UpgradeRequest::from_request(head)
    };
    checked.map_err(|error| Refusal { error, version })
}

fn version_of(request: &UpgradeRequest) -> Version {
    if request.is_http2() {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    }
}

/// The request's head without its body or extensions.
fn head<B>(request: &Request<B>) -> Request<()> {
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.version_mut() = request.version();
    *head.headers_mut() = request.headers().clone();
    head
}

/// A valid upgrade request received by a hyper service, for the service to
/// accept or reject.
pub struct Upgrade {
    request: UpgradeRequest,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("request", &self.request)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Upgrade {
    /// Checks `request` with the core's rules (RFC 6455 §4.2.1 over
    /// HTTP/1.1, RFC 8441 §4 over HTTP/2) and takes hyper's handle on its
    /// connection. A request that fails is a [`Refusal`]: the HTTP answer
    /// (400, 405, 426 with `Sec-WebSocket-Version: 13`) and the error.
    pub fn from_request<B>(request: &mut Request<B>) -> Result<Upgrade, Refusal> {
        let checked = check(head(request), protocol(request))?;
        Upgrade::taking(checked, request.extensions_mut())
    }

    /// [`from_request`](Self::from_request) on the head of a request, as
    /// frameworks hand it to extractors.
    pub fn from_parts(parts: &mut Parts) -> Result<Upgrade, Refusal> {
        let mut head = Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        *head.headers_mut() = parts.headers.clone();
        let protocol = parts.extensions.get::<hyper::ext::Protocol>();
        let checked = check(head, protocol.map(|p| p.as_str()))?;
        Upgrade::taking(checked, &mut parts.extensions)
    }

    /// The upgrade of a checked request, with hyper's handle on the
    /// connection taken from its extensions.
    fn taking(request: UpgradeRequest, extensions: &mut Extensions) -> Result<Upgrade, Refusal> {
        let version = version_of(&request);
        let on_upgrade = extensions.remove::<OnUpgrade>().ok_or(Refusal {
            error: HandshakeError::Http(
                "the server hands no connection over (hyper without upgrades)".into(),
            ),
            version,
        })?;
        Ok(Upgrade {
            request,
            on_upgrade,
            config: WebSocketConfig::default(),
        })
    }

    /// The request: path, query, headers, the subprotocols offered.
    pub fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// The HTTP version that carries the WebSocket: HTTP/1.1, or HTTP/2
    /// for a stream of an HTTP/2 connection.
    pub fn version(&self) -> Version {
        version_of(&self.request)
    }

    /// Sets the connection's settings (limits, deflate policy, timers).
    pub fn config(mut self, config: WebSocketConfig) -> Upgrade {
        self.config = config;
        self
    }

    /// Accepts: the response to return from the service (101, or 200 over
    /// HTTP/2) with the subprotocol and extra headers of `accept`, and
    /// permessage-deflate agreed under `accept`'s policy or else the
    /// configuration's, exactly as [`ServerBuilder`](crate::ServerBuilder)
    /// does; and the WebSocket, once hyper hands the connection over.
    pub fn accept<B: From<Bytes>>(self, accept: Accept) -> (Response<B>, PendingWebSocket) {
        let (response, mut agreed) = Agreed::accepting(&self.request, accept, &self.config);
        agreed.request = Some(Box::new(self.request.into_request()));
        let timeout = self.config.handshake_timeout;
        let pending = PendingWebSocket {
            inner: Box::pin(open(self.on_upgrade, self.config, agreed, timeout)),
        };
        (response.map(|()| B::from(Bytes::new())), pending)
    }

    /// Rejects: the response to return from the service, with the
    /// rejection's status, headers and body (the connection-specific
    /// fields HTTP/2 forbids are left out over HTTP/2).
    pub fn reject<B: From<Bytes>>(self, rejection: Rejection) -> Response<B> {
        for_version(*rejection.into_response(), self.version())
    }
}

/// Opens the WebSocket on the connection hyper hands over.
async fn open(
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
    agreed: Agreed,
    timeout: std::time::Duration,
) -> Result<WebSocket<Upgraded>, Error> {
    let upgraded = tokio::time::timeout(timeout, on_upgrade)
        .await
        .map_err(|_| Error::HandshakeTimeout)?
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let stream = hyper_util::rt::TokioIo::new(upgraded);
    Ok(WebSocket::opened(stream, Role::Server, config, &[], agreed))
}

/// The WebSocket an accepted [`Upgrade`] opens, once hyper has sent the
/// response and handed the connection (or the HTTP/2 stream) over: a
/// future to await in a task of its own, not in the service, which must
/// return the response first.
pub struct PendingWebSocket {
    inner: Pin<Box<dyn Future<Output = Result<WebSocket<Upgraded>, Error>> + Send>>,
}

impl fmt::Debug for PendingWebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingWebSocket").finish_non_exhaustive()
    }
}

impl Future for PendingWebSocket {
    type Output = Result<WebSocket<Upgraded>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// A request that cannot open a WebSocket: the error and the HTTP answer
/// it gets.
#[derive(Debug)]
pub struct Refusal {
    error: HandshakeError,
    version: Version,
}

impl Refusal {
    /// What is wrong with the request.
    pub fn error(&self) -> &HandshakeError {
        &self.error
    }

    /// The HTTP answer: the error's status (400, 405, 426 with
    /// `Sec-WebSocket-Version: 13`) and a short text body.
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        for_version(handshake::error_response(&self.error), self.version)
    }

    /// The error.
    pub fn into_error(self) -> HandshakeError {
        self.error
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        Error::Handshake(refusal.error)
    }
}

/// `response` as it may go out over `version`: HTTP/2 forbids the
/// connection-specific fields (RFC 9113 §8.2.2).
fn for_version<B: From<Bytes>>(response: Response<Bytes>, version: Version) -> Response<B> {
    let mut response = response.map(B::from);
    if version == Version::HTTP_2 {
        let h = response.headers_mut();
        h.remove(header::UPGRADE);
        h.remove(header::CONNECTION);
        *response.version_mut() = Version::HTTP_2;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h2_connect(protocol: Option<&str>) -> Request<()> {
        let mut request = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        if let Some(p) = protocol {
            request
                .extensions_mut()
                .insert(hyper::ext::Protocol::from(p));
        }
        request
    }

    #[test]
    fn an_upgrade_request_over_either_version_is_recognised() {
        assert!(is_upgrade_request(&h2_connect(Some("websocket"))));
        // RFC 8441 §4: CONNECT without :protocol is a plain tunnel.
        assert!(!is_upgrade_request(&h2_connect(None)));
        assert!(!is_upgrade_request(&h2_connect(Some("connect-udp"))));
        let get = Request::get("/")
            .header("upgrade", "WebSocket")
            .body(())
            .unwrap();
        assert!(is_upgrade_request(&get));
    }

    #[test]
    fn refusals_over_http2_carry_no_connection_specific_fields() {
        // RFC 6455 §4.2.2's 426 names the protocol with Upgrade over
        // HTTP/1.1; RFC 9113 §8.2.2 forbids the field over HTTP/2.
        let mut old = h2_connect(Some("websocket"));
        old.headers_mut()
            .insert("sec-websocket-version", http::HeaderValue::from_static("8"));
        let refusal = Upgrade::from_request(&mut old).unwrap_err();
        assert_eq!(refusal.error().status(), 426);
        let source = std::error::Error::source(&refusal).expect("the handshake error");
        assert_eq!(source.to_string(), refusal.error().to_string());
        let response: Response<Bytes> = refusal.into_response();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(!response.headers().contains_key("upgrade"));
        assert!(!response.headers().contains_key("connection"));
        let mut old = Request::get("/")
            .header("host", "h")
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "8")
            .body(())
            .unwrap();
        let response: Response<Bytes> =
            Upgrade::from_request(&mut old).unwrap_err().into_response();
        assert_eq!(response.headers()["upgrade"], "websocket");
    }

    #[test]
    fn a_valid_request_without_hypers_handle_is_refused() {
        // A request that did not come through a hyper connection with
        // upgrades has nothing to hand over.
        let refusal = Upgrade::from_request(&mut h2_connect(Some("websocket"))).unwrap_err();
        assert!(
            refusal.to_string().contains("hands no connection over"),
            "{refusal}"
        );
    }
}
