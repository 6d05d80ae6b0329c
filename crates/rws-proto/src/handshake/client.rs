//! The client side of the opening handshake (RFC 6455 §4.1).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri};

use super::{accept_key, generate_key, has_token, header_list, header_values, HeadLimits};
use crate::deflate::{client_offer, parse_response, DeflateConfig, DeflateParams};
use crate::error::HandshakeError;

/// The most of a rejection's body that is kept (64 KiB).
pub const MAX_REJECTION_BODY: usize = 64 << 10;

/// A client's opening handshake: the request it sends and what it expects back.
///
/// ```
/// use rws_proto::handshake::ClientHandshake;
///
/// let hs = ClientHandshake::new("ws://example.com/chat", &["chat"]).unwrap();
/// let mut out = Vec::new();
/// hs.encode_request(&mut out);
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("GET /chat HTTP/1.1\r\n"));
/// assert!(text.contains("sec-websocket-protocol: chat\r\n"));
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    request: Request<()>,
    accept: String,
    limits: HeadLimits,
    deflate: Option<DeflateConfig>,
}

impl ClientHandshake {
    /// A handshake for a `ws://` (or `wss://`) URL offering `protocols`.
    pub fn new(url: &str, protocols: &[&str]) -> Result<ClientHandshake, HandshakeError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| HandshakeError::Url(format!("{e}")))?;
        let mut request = Request::get(uri)
            .body(())
            .map_err(|e| HandshakeError::Url(e.to_string()))?;
        if !protocols.is_empty() {
            let list = protocols.join(", ");
            let value = HeaderValue::from_str(&list)
                .map_err(|_| HandshakeError::Request(format!("bad subprotocol list {list:?}")))?;
            request
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
        ClientHandshake::from_request(request)
    }

    /// A handshake for a request the caller built: its URI, subprotocols
    /// (`Sec-WebSocket-Protocol`) and extra headers are kept; `Host`,
    /// `Upgrade`, `Connection`, `Sec-WebSocket-Version` and a fresh
    /// `Sec-WebSocket-Key` are set.
    pub fn from_request(mut request: Request<()>) -> Result<ClientHandshake, HandshakeError> {
        let uri = request.uri();
        match uri.scheme_str() {
            Some("ws" | "wss" | "http" | "https") => {}
            other => return Err(HandshakeError::Url(format!("scheme {other:?} is not ws"))),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| HandshakeError::Url("no host".into()))?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| HandshakeError::Url("bad host".into()))?;
        let key = generate_key();
        let accept = accept_key(key.as_bytes());
        *request.method_mut() = http::Method::GET;
        *request.version_mut() = http::Version::HTTP_11;
        let h = request.headers_mut();
        h.entry(header::HOST).or_insert(host);
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        let key =
            HeaderValue::from_str(&key).map_err(|_| HandshakeError::Request("bad key".into()))?;
        h.insert(header::SEC_WEBSOCKET_KEY, key);
        Ok(ClientHandshake {
            request,
            accept,
            limits: HeadLimits::default(),
            deflate: None,
        })
    }

    /// Offers permessage-deflate (RFC 7692) as `config` says; the answer is
    /// checked against the offer, and [`deflate_params`](Self::deflate_params)
    /// gives what was agreed.
    ///
    /// ```
    /// use rws_proto::deflate::DeflateConfig;
    /// use rws_proto::handshake::ClientHandshake;
    ///
    /// let hs = ClientHandshake::new("ws://h/", &[]).unwrap().deflate(&DeflateConfig::default());
    /// let offer = &hs.request().headers()["sec-websocket-extensions"];
    /// assert_eq!(offer, "permessage-deflate; client_max_window_bits");
    /// ```
    pub fn deflate(mut self, config: &DeflateConfig) -> ClientHandshake {
        if let Ok(value) = HeaderValue::from_str(&client_offer(config)) {
            self.request
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
            self.deflate = Some(config.clone());
        }
        self
    }

    /// The permessage-deflate parameters a valid 101 response agreed, if
    /// any.
    pub fn deflate_params(
        &self,
        response: &Response<()>,
    ) -> Result<Option<DeflateParams>, HandshakeError> {
        let answers = header_values(response.headers(), "sec-websocket-extensions");
        match &self.deflate {
            Some(config) => parse_response(answers, config),
            None => match header_list(response.headers(), "sec-websocket-extensions").next() {
                Some(extension) => Err(HandshakeError::UnofferedExtension(extension.to_owned())),
                None => Ok(None),
            },
        }
    }

    /// Sets the bounds on the response head.
    pub fn limits(mut self, limits: HeadLimits) -> ClientHandshake {
        self.limits = limits;
        self
    }

    /// The request to send.
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// Appends the HTTP/1.1 request to `out`.
    pub fn encode_request(&self, out: &mut Vec<u8>) {
        let uri = self.request.uri();
        let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in self.request.headers() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The request that opens this WebSocket as a stream of an HTTP/2
    /// connection (RFC 8441 §4, §5): CONNECT to the URL as `http` or
    /// `https`, with the subprotocols, extensions, version and extra
    /// headers of the HTTP/1.1 request but none of its connection-specific
    /// fields (`Host`, which is the `:authority`, `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Key`). The HTTP/2 library sends it with the
    /// `:protocol` pseudo-header set to `websocket`, which the `http` types
    /// cannot carry, and only on a connection whose server sent
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3).
    ///
    /// ```
    /// use rws_proto::handshake::ClientHandshake;
    ///
    /// let hs = ClientHandshake::new("wss://example.com/chat", &["chat"]).unwrap();
    /// let request = hs.http2_request();
    /// assert_eq!(request.method(), "CONNECT");
    /// assert_eq!(request.uri(), "https://example.com/chat");
    /// assert_eq!(request.headers()["sec-websocket-protocol"], "chat");
    /// assert!(!request.headers().contains_key("sec-websocket-key"));
    /// ```
    pub fn http2_request(&self) -> Request<()> {
        let original = self.request.uri();
        let scheme = match original.scheme_str() {
            Some("ws" | "http") => "http",
            _ => "https",
        };
        let mut parts = original.clone().into_parts();
        parts.scheme = Some(scheme.parse().expect("http and https are schemes"));
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        let mut request = Request::new(());
        *request.method_mut() = http::Method::CONNECT;
        *request.version_mut() = http::Version::HTTP_2;
        // `from_request` checked the authority; the scheme and path are
        // valid by construction.
        *request.uri_mut() = Uri::from_parts(parts).unwrap_or_else(|_| original.clone());
        let h = request.headers_mut();
        for (name, value) in self.request.headers() {
            let connection_specific = [
                header::HOST,
                header::UPGRADE,
                header::CONNECTION,
                header::SEC_WEBSOCKET_KEY,
            ]
            .contains(name);
            if !connection_specific {
                h.append(name, value.clone());
            }
        }
        request
    }

    /// Checks the server's answer to [`http2_request`](Self::http2_request)
    /// (RFC 8441 §5): a 2xx status, and a subprotocol and extensions among
    /// those offered. Any other status is [`HandshakeError::Rejected`] with
    /// the response and `body` (what the caller read of it, at most
    /// [`MAX_REJECTION_BODY`] bytes are kept).
    ///
    /// ```
    /// use rws_proto::handshake::ClientHandshake;
    /// use rws_proto::http::Response;
    ///
    /// let hs = ClientHandshake::new("wss://example.com/chat", &["chat"]).unwrap();
    /// let ok = Response::builder().status(200).header("sec-websocket-protocol", "chat");
    /// assert!(hs.check_http2_response(&ok.body(()).unwrap(), &[]).is_ok());
    /// let no = Response::builder().status(404).body(()).unwrap();
    /// assert!(hs.check_http2_response(&no, b"not here").is_err());
    /// ```
    pub fn check_http2_response(
        &self,
        response: &Response<()>,
        body: &[u8],
    ) -> Result<(), HandshakeError> {
        if !response.status().is_success() {
            let mut rejected = Response::new(Bytes::copy_from_slice(
                &body[..body.len().min(MAX_REJECTION_BODY)],
            ));
            *rejected.status_mut() = response.status();
            *rejected.version_mut() = response.version();
            *rejected.headers_mut() = response.headers().clone();
            return Err(HandshakeError::Rejected(Box::new(rejected)));
        }
        self.check_agreement(response)
    }

    /// Parses and checks the server's response from the start of `buf`.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some((response, n)))`: the
    /// connection is open and `buf[n..]` already belongs to the WebSocket.
    /// A status other than 101 is [`HandshakeError::Rejected`] with the
    /// whole response; its body is complete once `Content-Length` bytes
    /// (at most [`MAX_REJECTION_BODY`]) arrived, or, with no length, at
    /// `eof`.
    pub fn handle_response(
        &self,
        buf: &[u8],
        eof: bool,
    ) -> Result<Option<(Response<()>, usize)>, HandshakeError> {
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Response::new(&mut headers);
        let head_len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(n)) if n <= self.limits.max_head_size => n,
            Ok(httparse::Status::Partial) if buf.len() <= self.limits.max_head_size => {
                if eof {
                    return Err(HandshakeError::Http(
                        "connection closed during the handshake".into(),
                    ));
                }
                return Ok(None);
            }
            Ok(_) => {
                return Err(HandshakeError::HeadTooLarge {
                    limit: self.limits.max_head_size,
                })
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HandshakeError::TooManyHeaders {
                    limit: self.limits.max_headers,
                })
            }
            Err(e) => return Err(HandshakeError::Http(e.to_string())),
        };
        let status = parsed
            .code
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| HandshakeError::Http("bad status code".into()))?;
        let mut response = Response::builder().status(status);
        for h in parsed.headers.iter() {
            response = response.header(h.name, h.value);
        }
        let response = response
            .body(())
            .map_err(|e| HandshakeError::Http(e.to_string()))?;
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return rejection(response, &buf[head_len..], eof);
        }
        self.check_response(&response)?;
        Ok(Some((response, head_len)))
    }

    fn check_response(&self, response: &Response<()>) -> Result<(), HandshakeError> {
        let h = response.headers();
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
        let accept = h
            .get(header::SEC_WEBSOCKET_ACCEPT)
            .map(HeaderValue::as_bytes);
        if accept != Some(self.accept.as_bytes()) {
            return Err(HandshakeError::AcceptMismatch);
        }
        self.check_agreement(response)
    }

    /// The subprotocol and extensions chosen must have been offered.
    fn check_agreement(&self, response: &Response<()>) -> Result<(), HandshakeError> {
        let h = response.headers();
        let offered: Vec<&str> =
            header_list(self.request.headers(), "sec-websocket-protocol").collect();
        let mut chosen = header_list(h, "sec-websocket-protocol");
        if let Some(protocol) = chosen.next() {
            if !offered.contains(&protocol) || chosen.next().is_some() {
                return Err(HandshakeError::UnofferedProtocol(protocol.to_owned()));
            }
        }
        // Only an offered extension may be accepted, as it was offered.
        self.deflate_params(response)?;
        Ok(())
    }
}

/// A non-101 answer, once its body is complete.
fn rejection(
    response: Response<()>,
    rest: &[u8],
    eof: bool,
) -> Result<Option<(Response<()>, usize)>, HandshakeError> {
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let want = length.unwrap_or(MAX_REJECTION_BODY).min(MAX_REJECTION_BODY);
    let complete = rest.len() >= want || eof;
    if !complete {
        return Ok(None);
    }
    let body = Bytes::copy_from_slice(&rest[..want.min(rest.len())]);
    let (parts, ()) = response.into_parts();
    Err(HandshakeError::Rejected(Box::new(Response::from_parts(
        parts, body,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_for(hs: &ClientHandshake, extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            hs.accept
        )
        .into_bytes()
    }

    #[test]
    fn rfc6455_4_1_request_has_the_required_fields() {
        let hs =
            ClientHandshake::new("ws://127.0.0.1:9001/a/b?x=1", &["chat", "superchat"]).unwrap();
        let h = hs.request().headers();
        assert_eq!(h["host"], "127.0.0.1:9001");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "Upgrade");
        assert_eq!(h["sec-websocket-version"], "13");
        assert_eq!(h["sec-websocket-protocol"], "chat, superchat");
        let mut out = Vec::new();
        hs.encode_request(&mut out);
        assert!(out.starts_with(b"GET /a/b?x=1 HTTP/1.1\r\n"));
        assert!(out.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn rejects_non_websocket_urls() {
        assert!(matches!(
            ClientHandshake::new("ftp://x/", &[]),
            Err(HandshakeError::Url(_))
        ));
        assert!(matches!(
            ClientHandshake::new("/path", &[]),
            Err(HandshakeError::Url(_))
        ));
    }

    #[test]
    fn rfc6455_4_1_accepts_a_valid_response_and_keeps_trailing_bytes() {
        let hs = ClientHandshake::new("ws://h/", &[]).unwrap();
        let mut bytes = response_for(&hs, "");
        let head = bytes.len();
        bytes.extend_from_slice(&[0x81, 0x00]);
        for cut in 0..head {
            assert!(hs.handle_response(&bytes[..cut], false).unwrap().is_none());
        }
        let (response, n) = hs.handle_response(&bytes, false).unwrap().unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(&bytes[n..], &[0x81, 0x00]);
    }

    #[test]
    fn rfc6455_4_1_rejects_a_wrong_accept_or_missing_tokens() {
        let hs = ClientHandshake::new("ws://h/", &[]).unwrap();
        let bad = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: xxx\r\n\r\n";
        assert!(matches!(
            hs.handle_response(bad, false),
            Err(HandshakeError::AcceptMismatch)
        ));
        let no_upgrade = format!(
            "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            hs.accept
        );
        assert!(matches!(
            hs.handle_response(no_upgrade.as_bytes(), false),
            Err(HandshakeError::Header {
                name: "Upgrade",
                ..
            })
        ));
    }

    #[test]
    fn rfc6455_4_1_subprotocol_must_have_been_offered() {
        let hs = ClientHandshake::new("ws://h/", &["chat"]).unwrap();
        let ok = response_for(&hs, "Sec-WebSocket-Protocol: chat\r\n");
        assert!(hs.handle_response(&ok, false).unwrap().is_some());
        let bad = response_for(&hs, "Sec-WebSocket-Protocol: other\r\n");
        assert!(
            matches!(hs.handle_response(&bad, false), Err(HandshakeError::UnofferedProtocol(p)) if p == "other")
        );
    }

    #[test]
    fn rfc6455_4_1_extension_must_have_been_offered() {
        let hs = ClientHandshake::new("ws://h/", &[]).unwrap();
        let bad = response_for(&hs, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert!(matches!(
            hs.handle_response(&bad, false),
            Err(HandshakeError::UnofferedExtension(_))
        ));
    }

    #[test]
    fn a_rejection_keeps_status_headers_and_body() {
        let hs = ClientHandshake::new("ws://h/", &[]).unwrap();
        let bytes =
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nslow";
        assert!(hs
            .handle_response(&bytes[..bytes.len() - 1], false)
            .unwrap()
            .is_none());
        match hs.handle_response(bytes, false) {
            Err(HandshakeError::Rejected(r)) => {
                assert_eq!(r.status(), 429);
                assert_eq!(r.headers()["retry-after"], "30");
                assert_eq!(r.body().as_ref(), b"slow");
            }
            other => panic!("{other:?}"),
        }
        // With no length, the body ends at EOF.
        let bytes = b"HTTP/1.1 403 Forbidden\r\n\r\nno";
        assert!(hs.handle_response(bytes, false).unwrap().is_none());
        assert!(
            matches!(hs.handle_response(bytes, true), Err(HandshakeError::Rejected(r)) if r.body().as_ref() == b"no")
        );
    }

    #[test]
    fn response_head_limits() {
        let hs = ClientHandshake::new("ws://h/", &[])
            .unwrap()
            .limits(HeadLimits::default().max_head_size(64));
        let long = vec![b'a'; 100];
        assert!(matches!(
            hs.handle_response(&long, false),
            Err(HandshakeError::HeadTooLarge { .. }) | Err(HandshakeError::Http(_))
        ));
        let mut many = b"HTTP/1.1 101 OK\r\n".to_vec();
        for i in 0..70 {
            many.extend_from_slice(format!("x{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let hs = ClientHandshake::new("ws://h/", &[]).unwrap();
        assert!(matches!(
            hs.handle_response(&many, false),
            Err(HandshakeError::TooManyHeaders { limit: 64 })
        ));
    }

    #[test]
    fn rfc8441_5_the_request_is_a_connect_without_connection_fields() {
        let mut request = Request::get("wss://server.example.com/chat?room=1")
            .header("sec-websocket-protocol", "chat, superchat")
            .header("origin", "http://www.example.com")
            .header("authorization", "Bearer 1")
            .body(())
            .unwrap();
        request
            .headers_mut()
            .insert("host", HeaderValue::from_static("elsewhere"));
        let hs = ClientHandshake::from_request(request)
            .unwrap()
            .deflate(&DeflateConfig::default());
        let h2 = hs.http2_request();
        assert_eq!(h2.method(), http::Method::CONNECT);
        assert_eq!(h2.version(), http::Version::HTTP_2);
        // §5: `:scheme` and `:path` of the target URI; `:authority` its host.
        assert_eq!(h2.uri(), "https://server.example.com/chat?room=1");
        let h = h2.headers();
        assert_eq!(h["sec-websocket-version"], "13");
        assert_eq!(h["sec-websocket-protocol"], "chat, superchat");
        assert_eq!(h["origin"], "http://www.example.com");
        assert_eq!(h["authorization"], "Bearer 1");
        assert!(h["sec-websocket-extensions"]
            .to_str()
            .unwrap()
            .starts_with("permessage-deflate"));
        for absent in ["host", "upgrade", "connection", "sec-websocket-key"] {
            assert!(!h.contains_key(absent), "{absent} in {h:?}");
        }
        let plain = ClientHandshake::new("ws://h:8080", &[]).unwrap();
        assert_eq!(plain.http2_request().uri(), "http://h:8080/");
    }

    #[test]
    fn rfc8441_5_a_2xx_answer_is_checked_like_a_101() {
        let hs = ClientHandshake::new("wss://h/", &["chat"]).unwrap();
        let answer = |status: u16, extra: &[(&str, &str)]| {
            let mut b = Response::builder().status(status);
            for (name, value) in extra {
                b = b.header(*name, *value);
            }
            b.body(()).unwrap()
        };
        assert!(hs.check_http2_response(&answer(200, &[]), b"").is_ok());
        let chat = answer(200, &[("sec-websocket-protocol", "chat")]);
        assert!(hs.check_http2_response(&chat, b"").is_ok());
        let other = answer(200, &[("sec-websocket-protocol", "other")]);
        assert!(matches!(
            hs.check_http2_response(&other, b""),
            Err(HandshakeError::UnofferedProtocol(p)) if p == "other"
        ));
        let deflate = answer(200, &[("sec-websocket-extensions", "permessage-deflate")]);
        assert!(matches!(
            hs.check_http2_response(&deflate, b""),
            Err(HandshakeError::UnofferedExtension(_))
        ));
        let busy = answer(503, &[("retry-after", "9")]);
        match hs.check_http2_response(&busy, b"busy") {
            Err(HandshakeError::Rejected(r)) => {
                assert_eq!(r.status(), 503);
                assert_eq!(r.headers()["retry-after"], "9");
                assert_eq!(r.body().as_ref(), b"busy");
            }
            other => panic!("{other:?}"),
        }
    }
}
