//! The server side of the opening handshake (RFC 6455 §4.2).

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};

use super::{accept_key, has_token, header_list, header_values, HeadLimits, BASE64};
use crate::deflate::{server_negotiate, DeflateConfig, DeflateParams};
use crate::error::HandshakeError;

/// A valid upgrade request, for the application to accept or reject.
///
/// ```
/// use rws_proto::handshake::{parse_request, Accept, HeadLimits};
///
/// let bytes = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let (request, used) = parse_request(bytes, &HeadLimits::default()).unwrap().unwrap();
/// assert_eq!(used, bytes.len());
/// assert_eq!(request.path(), "/chat");
/// assert_eq!(request.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
///
/// let response = request.accept(&Accept::new().protocol("chat"));
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
///
/// Over HTTP/2 a WebSocket is a stream opened by an extended CONNECT
/// (RFC 8441), which [`from_extended_connect`](Self::from_extended_connect)
/// checks; the rest is the same.
#[derive(Clone, Debug)]
pub struct UpgradeRequest {
    request: Request<()>,
    /// The `Sec-WebSocket-Accept` value; none over HTTP/2, which has no key
    /// (RFC 8441 §5).
    accept: Option<String>,
}

impl UpgradeRequest {
    /// Checks that `request` is a valid WebSocket upgrade (RFC 6455
    /// §4.2.1): GET, HTTP/1.1 or later, `Host`, `Upgrade: websocket`,
    /// `Connection: Upgrade`, `Sec-WebSocket-Version: 13` and a 16-byte
    /// `Sec-WebSocket-Key`.
    pub fn from_request(request: Request<()>) -> Result<UpgradeRequest, HandshakeError> {
        if request.method() != http::Method::GET {
            return Err(HandshakeError::Method(request.method().clone()));
        }
        if request.version() < http::Version::HTTP_11 {
            return Err(HandshakeError::Version);
        }
        let accept = check_request(request.headers())?;
        Ok(UpgradeRequest {
            request,
            accept: Some(accept),
        })
    }

    /// Checks that `request`, with `protocol` the value of its `:protocol`
    /// pseudo-header (which the `http` types cannot hold as a header: an
    /// HTTP/2 library passes it beside the request), opens a WebSocket over
    /// HTTP/2 (RFC 8441 §4, §5): CONNECT, `:protocol` `websocket`, an
    /// authority, and `Sec-WebSocket-Version: 13`. There is no key, and no
    /// `Upgrade` or `Connection` field; [`accept`](Self::accept) answers
    /// 200.
    ///
    /// ```
    /// use rws_proto::handshake::{Accept, UpgradeRequest};
    /// use rws_proto::http::{Method, Request, Version};
    ///
    /// // RFC 8441 §5.1's example.
    /// let request = Request::builder()
    ///     .method(Method::CONNECT)
    ///     .version(Version::HTTP_2)
    ///     .uri("https://server.example.com/chat")
    ///     .header("sec-websocket-protocol", "chat, superchat")
    ///     .header("sec-websocket-extensions", "permessage-deflate")
    ///     .header("sec-websocket-version", "13")
    ///     .header("origin", "http://www.example.com")
    ///     .body(())
    ///     .unwrap();
    /// let upgrade = UpgradeRequest::from_extended_connect(request, Some("websocket")).unwrap();
    /// let response = upgrade.accept(&Accept::new().protocol("chat"));
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    /// ```
    pub fn from_extended_connect(
        request: Request<()>,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, HandshakeError> {
        if request.method() != http::Method::CONNECT {
            return Err(HandshakeError::Method(request.method().clone()));
        }
        if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
            return Err(HandshakeError::Header {
                name: ":protocol",
                problem: "missing or not websocket",
            });
        }
        if request.uri().authority().is_none() {
            return Err(HandshakeError::Header {
                name: ":authority",
                problem: "missing",
            });
        }
        let versions: Vec<&str> = header_list(request.headers(), "sec-websocket-version").collect();
        if versions != ["13"] {
            return Err(HandshakeError::UnsupportedVersion);
        }
        Ok(UpgradeRequest {
            request,
            accept: None,
        })
    }

    /// Whether this request opens a stream of an HTTP/2 connection
    /// (RFC 8441) rather than taking over an HTTP/1.1 connection.
    pub fn is_http2(&self) -> bool {
        self.accept.is_none()
    }

    /// The whole request.
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        self.request.uri()
    }

    /// The path of the request target.
    pub fn path(&self) -> &str {
        self.request.uri().path()
    }

    /// The query of the request target, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.request.uri().query()
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// The `Origin` field, which browsers always send (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&str> {
        self.headers().get(header::ORIGIN)?.to_str().ok()
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        header_list(self.headers(), "sec-websocket-protocol")
    }

    /// The response that accepts the request: 101 Switching Protocols, or
    /// 200 over HTTP/2 (RFC 8441 §5), with the subprotocol and the
    /// permessage-deflate parameters agreed.
    ///
    /// A protocol in `accept` that the client did not offer is left out, so
    /// that the client does not fail the handshake.
    pub fn accept(&self, accept: &Accept) -> Response<()> {
        let mut response = Response::new(());
        let h = response.headers_mut();
        h.extend(accept.headers.clone());
        match &self.accept {
            Some(key) => {
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let h = response.headers_mut();
                h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
                if let Ok(value) = HeaderValue::from_str(key) {
                    h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
                }
            }
            None => {
                // HTTP/2 forbids the connection-specific fields (RFC 9113
                // §8.2.2) that an application might have added.
                for name in [header::UPGRADE, header::CONNECTION] {
                    h.remove(name);
                }
                *response.version_mut() = http::Version::HTTP_2;
            }
        }
        let h = response.headers_mut();
        if let Some(protocol) = &accept.protocol {
            if self.protocols().any(|p| p == protocol) {
                if let Ok(value) = HeaderValue::from_str(protocol) {
                    h.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
                }
            }
        }
        let deflate = accept
            .deflate
            .as_ref()
            .and_then(|c| self.negotiate_deflate(c));
        if let Some(params) = deflate {
            if let Ok(value) = HeaderValue::from_str(&params.response_header()) {
                h.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
            }
        }
        response
    }

    /// The permessage-deflate parameters this end agrees to under `config`:
    /// the first of the client's offers it can honour (RFC 7692 §5), or
    /// `None`. [`accept`](Self::accept) answers with them when
    /// [`Accept::deflate`] is set.
    pub fn negotiate_deflate(&self, config: &DeflateConfig) -> Option<DeflateParams> {
        server_negotiate(
            header_values(self.headers(), "sec-websocket-extensions"),
            config,
        )
    }

    /// Turns this into the request.
    pub fn into_request(self) -> Request<()> {
        self.request
    }
}

/// How the application accepts an upgrade: a subprotocol and extra headers.
///
/// ```
/// use rws_proto::handshake::Accept;
///
/// let accept = Accept::new().protocol("chat").header("x-server", "rws");
/// assert_eq!(accept.chosen_protocol(), Some("chat"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Accept {
    protocol: Option<String>,
    headers: HeaderMap,
    deflate: Option<DeflateConfig>,
}

impl Accept {
    /// Accept with no subprotocol and no extra headers.
    pub fn new() -> Accept {
        Accept::default()
    }

    /// Selects a subprotocol (one the client offered).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Accept {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds a header to the 101 response. Invalid names or values are
    /// ignored.
    pub fn header(mut self, name: &str, value: &str) -> Accept {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.append(name, value);
        }
        self
    }

    /// The selected subprotocol.
    pub fn chosen_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Accepts permessage-deflate when the client offers it, as `config`
    /// allows (RFC 7692).
    pub fn deflate(mut self, config: DeflateConfig) -> Accept {
        self.deflate = Some(config);
        self
    }

    /// The permessage-deflate policy, if set.
    pub fn deflate_config(&self) -> Option<&DeflateConfig> {
        self.deflate.as_ref()
    }
}

/// How the application turns an upgrade request down: an HTTP response
/// with a status, headers and a body.
///
/// ```
/// use rws_proto::handshake::Rejection;
/// use rws_proto::http::StatusCode;
///
/// let no = Rejection::new(StatusCode::FORBIDDEN, "origin not allowed").header("x-why", "origin");
/// assert_eq!(no.response().status(), 403);
/// assert_eq!(no.response().body().as_ref(), b"origin not allowed");
/// ```
#[derive(Debug)]
pub struct Rejection(Box<Response<Bytes>>);

impl Rejection {
    /// A rejection with `status` and a plain-text `body`.
    pub fn new(status: StatusCode, body: impl Into<Bytes>) -> Rejection {
        let mut response = Response::new(body.into());
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Rejection(Box::new(response))
    }

    /// Adds a header. Invalid names or values are ignored.
    pub fn header(mut self, name: &str, value: &str) -> Rejection {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.0.headers_mut().append(name, value);
        }
        self
    }

    /// The response.
    pub fn response(&self) -> &Response<Bytes> {
        &self.0
    }

    /// Turns this into the response.
    pub fn into_response(self) -> Box<Response<Bytes>> {
        self.0
    }
}

impl From<Response<Bytes>> for Rejection {
    fn from(response: Response<Bytes>) -> Rejection {
        Rejection(Box::new(response))
    }
}

/// Parses an upgrade request from the start of `buf` and checks it
/// (RFC 6455 §4.2.1): [`read_request`] then [`UpgradeRequest::from_request`].
///
/// `Ok(None)`: more bytes are needed. `Ok(Some((request, n)))`: `buf[n..]`
/// already belongs to the WebSocket. Errors carry the HTTP status to answer
/// with ([`HandshakeError::status`]; [`error_response`] builds the answer).
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(UpgradeRequest, usize)>, HandshakeError> {
    match read_request(buf, limits)? {
        Some((request, used)) => Ok(Some((UpgradeRequest::from_request(request)?, used))),
        None => Ok(None),
    }
}

/// Parses the head of any HTTP/1.x request from the start of `buf`, under
/// `limits`, without checking it is an upgrade: a server that also answers
/// plain HTTP on its port (a page, a health check) looks at the request
/// with [`is_upgrade_request`] before it goes on with
/// [`UpgradeRequest::from_request`].
///
/// `Ok(None)`: more bytes are needed. `Ok(Some((request, n)))`: the head is
/// `buf[..n]`; a body, if any, is not read.
///
/// ```
/// use rws_proto::handshake::{is_upgrade_request, read_request, HeadLimits};
///
/// let bytes = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
/// let (request, used) = read_request(bytes, &HeadLimits::default()).unwrap().unwrap();
/// assert_eq!((request.uri().path(), used), ("/", bytes.len()));
/// assert!(!is_upgrade_request(&request));
/// assert!(read_request(&bytes[..10], &HeadLimits::default()).unwrap().is_none());
/// ```
pub fn read_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(Request<()>, usize)>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= limits.max_head_size => n,
        Ok(httparse::Status::Partial) if buf.len() <= limits.max_head_size => return Ok(None),
        Ok(_) => {
            return Err(HandshakeError::HeadTooLarge {
                limit: limits.max_head_size,
            })
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::TooManyHeaders {
                limit: limits.max_headers,
            })
        }
        Err(e) => return Err(HandshakeError::Http(e.to_string())),
    };
    let method = http::Method::from_bytes(parsed.method.unwrap_or_default().as_bytes())
        .map_err(|_| HandshakeError::Http("bad method".into()))?;
    // httparse reads HTTP/1.0 and HTTP/1.1 only.
    let version = match parsed.version {
        Some(1) => http::Version::HTTP_11,
        _ => http::Version::HTTP_10,
    };
    let uri: Uri = parsed
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| HandshakeError::Http("bad request target".into()))?;
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .version(version)
        .body(())
        .map_err(|e| HandshakeError::Http(e.to_string()))?;
    let h = request.headers_mut();
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| HandshakeError::Http(format!("bad header name {:?}", field.name)))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| HandshakeError::Http(format!("bad value for {name}")))?;
        h.append(name, value);
    }
    Ok(Some((request, head_len)))
}

/// Whether a request asks for a WebSocket: its `Upgrade` field names
/// `websocket`. Whether it asks correctly is for
/// [`UpgradeRequest::from_request`] to say.
pub fn is_upgrade_request(request: &Request<()>) -> bool {
    has_token(request.headers(), "upgrade", "websocket")
}

/// RFC 6455 §4.2.1's checks on the fields; returns the accept key.
fn check_request(h: &HeaderMap) -> Result<String, HandshakeError> {
    if !h.contains_key(header::HOST) {
        return Err(HandshakeError::Header {
            name: "Host",
            problem: "missing",
        });
    }
    if !has_token(h, "upgrade", "websocket") {
        return Err(HandshakeError::Header {
            name: "Upgrade",
            problem: "missing or not websocket",
        });
    }
    if !has_token(h, "connection", "upgrade") {
        return Err(HandshakeError::Header {
            name: "Connection",
            problem: "missing or not upgrade",
        });
    }
    let versions: Vec<&str> = header_list(h, "sec-websocket-version").collect();
    if versions != ["13"] {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let mut keys = h.get_all(header::SEC_WEBSOCKET_KEY).into_iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) => key.as_bytes().trim_ascii(),
        _ => {
            return Err(HandshakeError::Header {
                name: "Sec-WebSocket-Key",
                problem: "missing or repeated",
            })
        }
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => Ok(accept_key(key)),
        _ => Err(HandshakeError::Header {
            name: "Sec-WebSocket-Key",
            problem: "not 16 bytes in base64",
        }),
    }
}

/// The HTTP answer to a request that failed the handshake: the error's
/// status, a short text body, and `Sec-WebSocket-Version: 13` with 426.
pub fn error_response(error: &HandshakeError) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!("{error}\n")));
    *response.status_mut() = error.status();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if error.status() == StatusCode::UPGRADE_REQUIRED {
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    response
}

/// Appends an HTTP/1.1 response to `out`. Every status but 101 gets a
/// `Content-Length` (unless set) and its body.
pub fn encode_response<B: ResponseBody>(response: &Response<B>, out: &mut Vec<u8>) {
    let status = response.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = response.body().bytes();
    if status != StatusCode::SWITCHING_PROTOCOLS
        && !response.headers().contains_key(header::CONTENT_LENGTH)
    {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if status != StatusCode::SWITCHING_PROTOCOLS {
        out.extend_from_slice(body);
    }
}

/// A response body [`encode_response`] can write: `()` for none, or bytes.
pub trait ResponseBody {
    /// The body's bytes.
    fn bytes(&self) -> &[u8];
}

impl ResponseBody for () {
    fn bytes(&self) -> &[u8] {
        &[]
    }
}

impl ResponseBody for Bytes {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl ResponseBody for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl ResponseBody for String {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl ResponseBody for &'static str {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\n";

    fn parse(extra: &str) -> Result<Option<(UpgradeRequest, usize)>, HandshakeError> {
        let text = format!("{GOOD}{extra}\r\n");
        parse_request(text.as_bytes(), &HeadLimits::default())
    }

    fn without(field: &str) -> String {
        let mut text: String = GOOD
            .split_inclusive("\r\n")
            .filter(|l| !l.to_ascii_lowercase().starts_with(field))
            .collect();
        text.push_str("\r\n");
        text
    }

    #[test]
    fn rfc6455_1_3_the_example_handshake() {
        let (req, n) = parse("").unwrap().unwrap();
        assert_eq!(n, GOOD.len() + 2);
        assert_eq!(req.origin(), Some("http://example.com"));
        let response = req.accept(&Accept::new());
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let mut out = Vec::new();
        encode_response(&response, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("upgrade: websocket\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn rfc6455_4_2_1_partial_requests_wait_and_trailing_bytes_are_kept() {
        let mut text = format!("{GOOD}\r\n").into_bytes();
        let head = text.len();
        for cut in 0..head {
            assert!(parse_request(&text[..cut], &HeadLimits::default())
                .unwrap()
                .is_none());
        }
        text.extend_from_slice(&[0x81, 0x80]);
        let (_, n) = parse_request(&text, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&text[n..], &[0x81, 0x80]);
    }

    #[test]
    fn rfc6455_4_2_1_required_fields() {
        for (field, status) in [
            ("upgrade", 400),
            ("connection", 400),
            ("sec-websocket-key", 400),
            ("host", 400),
            ("sec-websocket-version", 426),
        ] {
            let err = parse_request(without(field).as_bytes(), &HeadLimits::default()).unwrap_err();
            assert_eq!(err.status(), status, "{field}: {err}");
        }
    }

    #[test]
    fn rfc6455_4_2_1_method_version_and_key() {
        let post = GOOD.replacen("GET", "POST", 1) + "\r\n";
        let err = parse_request(post.as_bytes(), &HeadLimits::default()).unwrap_err();
        assert_eq!(err.status(), 405);
        let old = GOOD.replacen("HTTP/1.1", "HTTP/1.0", 1) + "\r\n";
        assert!(matches!(
            parse_request(old.as_bytes(), &HeadLimits::default()),
            Err(HandshakeError::Version)
        ));
        let v8 = GOOD.replacen("Version: 13", "Version: 8", 1) + "\r\n";
        let err = parse_request(v8.as_bytes(), &HeadLimits::default()).unwrap_err();
        let response = error_response(&err);
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        let short = GOOD.replacen("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1) + "\r\n";
        let err = parse_request(short.as_bytes(), &HeadLimits::default()).unwrap_err();
        assert!(matches!(
            err,
            HandshakeError::Header {
                name: "Sec-WebSocket-Key",
                ..
            }
        ));
    }

    #[test]
    fn tokens_are_case_insensitive_lists() {
        let text = GOOD
            .replacen("Upgrade: websocket", "upgrade: WebSocket", 1)
            .replacen("Connection: Upgrade", "Connection: keep-alive, upgrade", 1)
            + "\r\n";
        assert!(parse_request(text.as_bytes(), &HeadLimits::default())
            .unwrap()
            .is_some());
    }

    #[test]
    fn head_limits_are_enforced() {
        let limits = HeadLimits::default().max_head_size(100);
        let big = format!("{GOOD}X-Pad: {}\r\n\r\n", "a".repeat(200));
        assert!(matches!(
            parse_request(big.as_bytes(), &limits),
            Err(HandshakeError::HeadTooLarge { limit: 100 })
        ));
        // An unfinished head over the limit fails too: no waiting forever.
        let endless = "a".repeat(101);
        assert!(matches!(
            parse_request(endless.as_bytes(), &limits),
            Err(HandshakeError::HeadTooLarge { .. })
        ));
        let limits = HeadLimits::default().max_headers(4);
        assert!(matches!(parse(""), Ok(Some(_))));
        let err = parse_request(format!("{GOOD}\r\n").as_bytes(), &limits).unwrap_err();
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn accept_selects_only_an_offered_protocol_and_adds_headers() {
        let (req, _) = parse("Sec-WebSocket-Protocol: a, b\r\n").unwrap().unwrap();
        let r = req.accept(&Accept::new().protocol("b").header("x-id", "7"));
        assert_eq!(r.headers()["sec-websocket-protocol"], "b");
        assert_eq!(r.headers()["x-id"], "7");
        let r = req.accept(&Accept::new().protocol("c"));
        assert!(!r.headers().contains_key("sec-websocket-protocol"));
    }

    #[test]
    fn rejections_are_encoded_with_a_length() {
        let mut response = Response::new(Bytes::from_static(b"go away"));
        *response.status_mut() = StatusCode::FORBIDDEN;
        let mut out = Vec::new();
        encode_response(&response, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(text.ends_with("content-length: 7\r\n\r\ngo away"));
    }

    /// RFC 8441 §5.1's example request, with `:protocol` apart.
    fn extended_connect() -> http::request::Builder {
        Request::builder()
            .method(http::Method::CONNECT)
            .version(http::Version::HTTP_2)
            .uri("https://server.example.com/chat?room=1")
            .header("sec-websocket-protocol", "chat, superchat")
            .header("sec-websocket-extensions", "permessage-deflate")
            .header("sec-websocket-version", "13")
            .header("origin", "http://www.example.com")
    }

    #[test]
    fn rfc8441_5_an_extended_connect_is_answered_200_without_a_key() {
        let request = extended_connect().body(()).unwrap();
        let upgrade = UpgradeRequest::from_extended_connect(request, Some("websocket")).unwrap();
        assert!(upgrade.is_http2());
        assert_eq!((upgrade.path(), upgrade.query()), ("/chat", Some("room=1")));
        assert_eq!(
            upgrade.protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let accept = Accept::new()
            .protocol("chat")
            .header("connection", "Upgrade")
            .header("x-served-by", "rws")
            .deflate(DeflateConfig::default());
        let response = upgrade.accept(&accept);
        // RFC 8441 §5: a 2xx answer; no Sec-WebSocket-Accept (§5: the key
        // and accept fields are not used); RFC 9113 §8.2.2: no
        // connection-specific fields.
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        let h = response.headers();
        assert_eq!(h["sec-websocket-protocol"], "chat");
        assert_eq!(h["sec-websocket-extensions"], "permessage-deflate");
        assert_eq!(h["x-served-by"], "rws");
        for absent in ["sec-websocket-accept", "upgrade", "connection"] {
            assert!(!h.contains_key(absent), "{absent} in {h:?}");
        }
    }

    #[test]
    fn rfc8441_4_method_protocol_authority_and_version_are_checked() {
        let ok = |b: http::request::Builder, p: Option<&str>| {
            UpgradeRequest::from_extended_connect(b.body(()).unwrap(), p)
        };
        assert!(ok(extended_connect(), Some("websocket")).is_ok());
        // Upgrade tokens compare case-insensitively (RFC 9110 §7.8).
        assert!(ok(extended_connect(), Some("WebSocket")).is_ok());
        let get = extended_connect().method(http::Method::GET);
        assert_eq!(ok(get, Some("websocket")).unwrap_err().status(), 405);
        for protocol in [None, Some("connect-udp")] {
            let e = ok(extended_connect(), protocol).unwrap_err();
            assert!(
                matches!(
                    e,
                    HandshakeError::Header {
                        name: ":protocol",
                        ..
                    }
                ),
                "{e:?}"
            );
            assert_eq!(e.status(), 400);
        }
        let no_authority = extended_connect().uri("/chat");
        let e = ok(no_authority, Some("websocket")).unwrap_err();
        assert!(
            matches!(
                e,
                HandshakeError::Header {
                    name: ":authority",
                    ..
                }
            ),
            "{e:?}"
        );
        let mut old = extended_connect().body(()).unwrap();
        old.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        let e = UpgradeRequest::from_extended_connect(old, Some("websocket")).unwrap_err();
        assert_eq!(e.status(), 426);
        let mut none = extended_connect().body(()).unwrap();
        none.headers_mut().remove("sec-websocket-version");
        assert!(UpgradeRequest::from_extended_connect(none, Some("websocket")).is_err());
    }

    #[test]
    fn an_http1_request_is_not_http2() {
        let (request, _) = parse("").unwrap().unwrap();
        assert!(!request.is_http2());
        assert_eq!(request.accept(&Accept::new()).status(), 101);
    }
}
