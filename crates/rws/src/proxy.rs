//! Client connections through a proxy: HTTP `CONNECT` (RFC 9110 §9.3.6),
//! with Basic credentials from the proxy URL, and SOCKS5 (RFC 1928, with
//! the username/password method of RFC 1929), chosen on the client builder
//! or read from the environment as curl reads it.
//!
//! The tunnel's exchange is sans-IO, like the core: [`Tunnel`] says what
//! to send and takes what the proxy answers; each adapter moves the bytes.
// Without an adapter nothing opens tunnels; the types stay for the API.
#![cfg_attr(not(any(feature = "tokio", feature = "blocking")), allow(dead_code))]

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use http::Uri;

/// A proxy to reach WebSocket servers through, from its URL:
///
/// - `http://[user:password@]host[:port]`: HTTP `CONNECT`, with Basic
///   credentials if the URL has them (percent-encoded, as in any URL);
/// - `socks5://[user:password@]host[:port]`: SOCKS5, the server's name
///   resolved here;
/// - `socks5h://…`: SOCKS5, the name resolved by the proxy (the server may
///   be known only there).
///
/// The port is 1080 when the URL has none, as in curl. Both `ws://` and
/// `wss://` go through the tunnel; TLS runs end to end inside it.
///
/// ```
/// use rws::Proxy;
///
/// let proxy = Proxy::new("http://alice:s%40cret@127.0.0.1:3128")?;
/// assert_eq!(proxy.to_string(), "http://alice@127.0.0.1:3128");
/// assert!(Proxy::new("ftp://127.0.0.1").is_err());
/// # Ok::<(), rws::ProxyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

/// Which protocol a proxy speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProxyKind {
    Http,
    /// SOCKS5; `remote_names` for `socks5h`.
    Socks5 {
        remote_names: bool,
    },
}

/// The port of a proxy URL without one, as in curl.
const DEFAULT_PORT: u16 = 1080;

impl Proxy {
    /// Parses a proxy URL (see the type's documentation).
    pub fn new(url: &str) -> Result<Proxy, ProxyError> {
        let bad = |why: &str| ProxyError::Url(format!("{url:?}: {why}"));
        let uri: Uri = url.trim().parse().map_err(|_| bad("not a URL"))?;
        let kind = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => ProxyKind::Http,
            Some("socks5") => ProxyKind::Socks5 {
                remote_names: false,
            },
            Some("socks5h") => ProxyKind::Socks5 { remote_names: true },
            Some("https") => return Err(bad("TLS to the proxy itself is not supported")),
            Some(_) => return Err(bad("the scheme must be http, socks5 or socks5h")),
            None => return Err(bad("no scheme (http://, socks5://, socks5h://)")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let host = authority.host().trim_matches(['[', ']']);
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let credentials = match authority.as_str().rsplit_once('@') {
            Some((userinfo, _)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |s: &str| percent_decode(s).ok_or_else(|| bad("bad %-escape"));
                Some((decode(user)?, decode(password)?))
            }
            None => None,
        };
        Ok(Proxy {
            kind,
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(DEFAULT_PORT),
            credentials,
        })
    }

    /// The proxy for `url` (a `ws://` or `wss://` URL) that the environment
    /// names, as curl reads it, or `None` for a direct connection:
    /// `https_proxy`/`HTTPS_PROXY` for `wss://`, `http_proxy`/`HTTP_PROXY`
    /// for `ws://`, then `all_proxy`/`ALL_PROXY`; none when `no_proxy`/
    /// `NO_PROXY` lists the host (`*`, a host name, a domain that the
    /// host is in, with or without a leading dot, or an IP address).
    /// The lowercase name wins over the uppercase one.
    pub fn from_env(url: &str) -> Result<Option<Proxy>, ProxyError> {
        Proxy::from_lookup(url, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    fn from_lookup(
        url: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        let var = |lower: &str, upper: &str| {
            var(lower)
                .or_else(|| var(upper))
                .filter(|v| !v.trim().is_empty())
        };
        let Ok(uri) = url.parse::<Uri>() else {
            return Ok(None);
        };
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        if let Some(list) = var("no_proxy", "NO_PROXY") {
            if no_proxy_matches(&list, host) {
                return Ok(None);
            }
        }
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let named = match scheme.as_str() {
            "wss" | "https" => var("https_proxy", "HTTPS_PROXY"),
            _ => var("http_proxy", "HTTP_PROXY"),
        };
        match named.or_else(|| var("all_proxy", "ALL_PROXY")) {
            Some(proxy) => Proxy::new(&proxy).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the destination's name is resolved here (`socks5://`)
    /// rather than by the proxy (`http://`, `socks5h://`).
    pub(crate) fn resolves_here(&self) -> bool {
        self.kind
            == ProxyKind::Socks5 {
                remote_names: false,
            }
    }

    /// The proxy's host and port, to open the TCP connection to.
    pub(crate) fn addr(&self) -> (&str, u16) {
        (&self.host, self.port)
    }
}

impl fmt::Display for Proxy {
    /// The URL without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 {
                remote_names: false,
            } => "socks5",
            ProxyKind::Socks5 { remote_names: true } => "socks5h",
        };
        write!(f, "{scheme}://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

/// Whether a `NO_PROXY` list names `host`.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        let entry = entry
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if entry == "*" {
            return true;
        }
        if entry.is_empty() {
            return false;
        }
        if let (Ok(a), Ok(b)) = (entry.parse::<IpAddr>(), host.parse::<IpAddr>()) {
            return a == b;
        }
        host == entry || host.ends_with(&format!(".{entry}"))
    })
}

/// `%XX` escapes decoded; `None` for a bad escape or bytes that are not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What went wrong on the way through a proxy; every variant names the
/// proxy (its URL without the password).
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL is not one rws can use.
    Url(String),
    /// The TCP connection to the proxy failed.
    Connect {
        /// The proxy.
        proxy: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP proxy refused the tunnel (407 Proxy Authentication
    /// Required, 403 Forbidden, 502 Bad Gateway, …).
    Refused {
        /// The proxy.
        proxy: String,
        /// The status of its answer.
        status: u16,
        /// The reason phrase of its answer.
        reason: String,
    },
    /// The SOCKS5 proxy refused the connection with this reply code
    /// (RFC 1928 §6: 1 general failure, 2 not allowed by its rules,
    /// 3 network unreachable, 4 host unreachable, 5 connection refused,
    /// 6 TTL expired, 7 command not supported, 8 address type not
    /// supported).
    Socks {
        /// The proxy.
        proxy: String,
        /// The reply code.
        code: u8,
    },
    /// The SOCKS5 proxy accepts none of the authentication methods offered
    /// (no credentials in the URL while it wants some, or the other way
    /// round), or refused the username and password.
    SocksAuth {
        /// The proxy.
        proxy: String,
        /// What it said.
        what: &'static str,
    },
    /// The proxy's answer is not what the protocol allows.
    Malformed {
        /// The proxy.
        proxy: String,
        /// What was wrong.
        what: String,
    },
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Url(why) => write!(f, "bad proxy URL {why}"),
            ProxyError::Connect { proxy, source } => {
                write!(f, "cannot connect to the proxy {proxy}: {source}")
            }
            ProxyError::Refused {
                proxy,
                status,
                reason,
            } => write!(f, "the proxy {proxy} refused the tunnel: {status} {reason}"),
            ProxyError::Socks { proxy, code } => write!(
                f,
                "the SOCKS5 proxy {proxy} refused the connection: {} (reply {code})",
                socks_reply(*code)
            ),
            ProxyError::SocksAuth { proxy, what } => {
                write!(f, "the SOCKS5 proxy {proxy} {what}")
            }
            ProxyError::Malformed { proxy, what } => {
                write!(f, "the proxy {proxy} answered badly: {what}")
            }
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Connect { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// RFC 1928 §6's meaning of a SOCKS5 reply code.
fn socks_reply(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply code",
    }
}

/// Where the tunnel leads: a name (resolved by the proxy) or an address.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    Name(String),
    Ip(IpAddr),
}

impl Destination {
    /// `host` as an address if it is one, else as a name.
    pub(crate) fn of(host: &str) -> Destination {
        match host.trim_matches(['[', ']']).parse() {
            Ok(ip) => Destination::Ip(ip),
            Err(_) => Destination::Name(host.to_owned()),
        }
    }
}

/// The most a proxy's answer may take before the tunnel opens.
const ANSWER_LIMIT: usize = 16 * 1024;

/// Where a tunnel's exchange stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// HTTP: waiting for the answer's head.
    HttpAnswer,
    /// SOCKS5: waiting for the chosen method (2 bytes).
    SocksMethod,
    /// SOCKS5: waiting for the username/password verdict (2 bytes).
    SocksAuth,
    /// SOCKS5: waiting for the reply to CONNECT.
    SocksReply,
    Open,
}

/// What the adapter does after [`Tunnel::input`].
#[derive(Debug, PartialEq)]
pub(crate) enum Progress {
    /// Read more from the proxy.
    More,
    /// Send these bytes, then read more.
    Send(Vec<u8>),
    /// The tunnel is open: the stream now leads to the destination.
    Open,
}

/// One tunnel's exchange with a proxy, without I/O.
#[derive(Debug)]
pub(crate) struct Tunnel {
    proxy: Proxy,
    destination: Destination,
    port: u16,
    stage: Stage,
}

impl Tunnel {
    /// The exchange to open a tunnel to `destination`:`port` through
    /// `proxy`, and the first bytes to send.
    pub(crate) fn start(proxy: &Proxy, destination: Destination, port: u16) -> (Tunnel, Vec<u8>) {
        let mut tunnel = Tunnel {
            proxy: proxy.clone(),
            destination,
            port,
            stage: Stage::HttpAnswer,
        };
        let first = match proxy.kind {
            ProxyKind::Http => tunnel.connect_request(),
            ProxyKind::Socks5 { .. } => {
                tunnel.stage = Stage::SocksMethod;
                // Version 5, then the methods offered: none (0), and
                // username/password (2) when there are credentials.
                match proxy.credentials {
                    Some(_) => vec![5, 2, 0, 2],
                    None => vec![5, 1, 0],
                }
            }
        };
        (tunnel, first)
    }

    /// The proxy's URL, for errors.
    pub(crate) fn proxy(&self) -> String {
        self.proxy.to_string()
    }

    fn malformed(&self, what: impl Into<String>) -> ProxyError {
        ProxyError::Malformed {
            proxy: self.proxy(),
            what: what.into(),
        }
    }

    /// The `CONNECT` request (RFC 9110 §9.3.6): the target in authority
    /// form, and Basic credentials (RFC 7617) if the URL had them.
    fn connect_request(&self) -> Vec<u8> {
        let target = match &self.destination {
            Destination::Name(name) => format!("{name}:{}", self.port),
            Destination::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            Destination::Ip(ip) => format!("{ip}:{}", self.port),
        };
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, password)) = &self.proxy.credentials {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        request.into_bytes()
    }

    /// The SOCKS5 CONNECT request (RFC 1928 §4).
    fn socks_request(&self) -> Vec<u8> {
        let mut request = vec![5, 1, 0];
        match &self.destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Name(name) => {
                request.push(3);
                // Checked in `input` before this is built.
                request.push(name.len() as u8);
                request.extend_from_slice(name.as_bytes());
            }
        }
        request.extend_from_slice(&self.port.to_be_bytes());
        request
    }

    /// Takes what the proxy sent (`input`, all of it so far; what this
    /// used is drained from it) and says what comes next. Bytes left in
    /// `input` once the tunnel is open came from the destination.
    pub(crate) fn input(&mut self, input: &mut Vec<u8>) -> Result<Progress, ProxyError> {
        if input.len() > ANSWER_LIMIT {
            return Err(self.malformed(format!("an answer over {ANSWER_LIMIT} bytes")));
        }
        match self.stage {
            Stage::Open => Ok(Progress::Open),
            Stage::HttpAnswer => self.http_answer(input),
            Stage::SocksMethod => {
                let Some(reply) = take(input, 2) else {
                    return Ok(Progress::More);
                };
                if reply[0] != 5 {
                    return Err(self.malformed(format!("SOCKS version {}", reply[0])));
                }
                match (reply[1], &self.proxy.credentials) {
                    (0, _) => self.socks_connect(),
                    (2, Some((user, password))) => {
                        if user.len() > 255 || password.len() > 255 {
                            return Err(ProxyError::Url(format!(
                                "{}: SOCKS5 credentials are at most 255 bytes each",
                                self.proxy()
                            )));
                        }
                        // RFC 1929: version 1, then the username and the
                        // password, each after its length.
                        let mut auth = vec![1, user.len() as u8];
                        auth.extend_from_slice(user.as_bytes());
                        auth.push(password.len() as u8);
                        auth.extend_from_slice(password.as_bytes());
                        self.stage = Stage::SocksAuth;
                        Ok(Progress::Send(auth))
                    }
                    (0xff, None) => Err(ProxyError::SocksAuth {
                        proxy: self.proxy(),
                        what: "wants credentials (user:password@ in the proxy URL)",
                    }),
                    (0xff, Some(_)) => Err(ProxyError::SocksAuth {
                        proxy: self.proxy(),
                        what: "accepts no username/password authentication",
                    }),
                    (method, _) => Err(self.malformed(format!("method {method} was not offered"))),
                }
            }
            Stage::SocksAuth => {
                let Some(reply) = take(input, 2) else {
                    return Ok(Progress::More);
                };
                if reply[1] != 0 {
                    return Err(ProxyError::SocksAuth {
                        proxy: self.proxy(),
                        what: "refused the username and password",
                    });
                }
                self.socks_connect()
            }
            Stage::SocksReply => self.socks_reply(input),
        }
    }

    fn socks_connect(&mut self) -> Result<Progress, ProxyError> {
        if let Destination::Name(name) = &self.destination {
            if name.len() > 255 {
                return Err(self.malformed("a host name over 255 bytes cannot be sent"));
            }
        }
        self.stage = Stage::SocksReply;
        Ok(Progress::Send(self.socks_request()))
    }

    /// RFC 1928 §6: version, reply code, reserved, then the bound address
    /// (whose length its type gives) and port.
    fn socks_reply(&mut self, input: &mut Vec<u8>) -> Result<Progress, ProxyError> {
        if input.len() < 5 {
            return Ok(Progress::More);
        }
        if input[0] != 5 {
            return Err(self.malformed(format!("SOCKS version {}", input[0])));
        }
        if input[1] != 0 {
            return Err(ProxyError::Socks {
                proxy: self.proxy(),
                code: input[1],
            });
        }
        let address = match input[3] {
            1 => 4,
            4 => 16,
            3 => 1 + input[4] as usize,
            other => return Err(self.malformed(format!("address type {other}"))),
        };
        if take(input, 4 + address + 2).is_none() {
            return Ok(Progress::More);
        }
        self.stage = Stage::Open;
        Ok(Progress::Open)
    }

    fn http_answer(&mut self, input: &mut Vec<u8>) -> Result<Progress, ProxyError> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let used = match response.parse(input) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) => return Ok(Progress::More),
            Err(e) => return Err(self.malformed(format!("not an HTTP answer ({e})"))),
        };
        let status = response.code.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(ProxyError::Refused {
                proxy: self.proxy(),
                status,
                reason: response.reason.unwrap_or_default().to_owned(),
            });
        }
        input.drain(..used);
        self.stage = Stage::Open;
        Ok(Progress::Open)
    }
}

/// The first `n` bytes of `input`, drained, once there are that many.
fn take(input: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    (input.len() >= n).then(|| input.drain(..n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn proxy_urls_parse_with_curls_default_port_and_decoded_credentials() {
        let proxy = Proxy::new("http://alice:s%40cret@proxy.example:3128").unwrap();
        assert_eq!(proxy.kind, ProxyKind::Http);
        assert_eq!(proxy.addr(), ("proxy.example", 3128));
        assert_eq!(
            proxy.credentials,
            Some(("alice".to_owned(), "s@cret".to_owned()))
        );
        let proxy = Proxy::new("socks5h://[::1]").unwrap();
        assert_eq!(proxy.addr(), ("::1", 1080));
        assert!(!proxy.resolves_here());
        assert!(Proxy::new("socks5://127.0.0.1:9050")
            .unwrap()
            .resolves_here());
        assert_eq!(proxy.to_string(), "socks5h://[::1]:1080");
        for bad in [
            "127.0.0.1:3128",
            "https://p:1",
            "ftp://p",
            "http://",
            "http://u:%zz@p",
        ] {
            assert!(Proxy::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let vars = [
            ("https_proxy", "http://tls-proxy:1"),
            ("HTTP_PROXY", "http://plain-proxy:2"),
            ("ALL_PROXY", "socks5h://all:3"),
            ("NO_PROXY", "localhost, .internal.example,10.0.0.1"),
        ];
        let pick = |url| {
            Proxy::from_lookup(url, env(&vars))
                .unwrap()
                .map(|p| p.to_string())
        };
        assert_eq!(
            pick("wss://a.example/").as_deref(),
            Some("http://tls-proxy:1")
        );
        assert_eq!(
            pick("ws://a.example/").as_deref(),
            Some("http://plain-proxy:2")
        );
        assert_eq!(pick("ws://localhost:9/"), None);
        assert_eq!(pick("ws://db.internal.example/"), None);
        assert_eq!(pick("ws://internal.example/"), None);
        assert_eq!(
            pick("ws://notinternal.example/").as_deref(),
            Some("http://plain-proxy:2")
        );
        assert_eq!(pick("ws://10.0.0.1/"), None);
        // Only ALL_PROXY: both schemes use it.
        let vars = [("ALL_PROXY", "socks5h://all:3")];
        let pick = |url| {
            Proxy::from_lookup(url, env(&vars))
                .unwrap()
                .map(|p| p.to_string())
        };
        assert_eq!(pick("wss://a.example/").as_deref(), Some("socks5h://all:3"));
        // Lowercase first; `*` turns proxies off; empty is unset.
        let vars = [
            ("http_proxy", "http://low:1"),
            ("HTTP_PROXY", "http://up:2"),
        ];
        let got = Proxy::from_lookup("ws://a/", env(&vars)).unwrap().unwrap();
        assert_eq!(got.to_string(), "http://low:1");
        let vars = [("http_proxy", "http://low:1"), ("no_proxy", "*")];
        assert!(Proxy::from_lookup("ws://a/", env(&vars)).unwrap().is_none());
        let vars = [("http_proxy", " ")];
        assert!(Proxy::from_lookup("ws://a/", env(&vars)).unwrap().is_none());
    }

    /// Feeds the proxy's bytes one at a time, as a slow proxy would.
    fn feed(tunnel: &mut Tunnel, answer: &[u8]) -> Result<Progress, ProxyError> {
        let mut input = Vec::new();
        let mut last = Progress::More;
        for &byte in answer {
            input.push(byte);
            last = tunnel.input(&mut input)?;
        }
        assert!(input.is_empty(), "all of the answer used");
        Ok(last)
    }

    #[test]
    fn http_connect_sends_the_target_in_authority_form_with_basic_credentials() {
        let proxy = Proxy::new("http://Aladdin:open%20sesame@p:8080").unwrap();
        let (mut tunnel, first) = Tunnel::start(&proxy, Destination::of("[::1]"), 443);
        // RFC 7617 §2's example credentials.
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
        assert_eq!(feed(&mut tunnel, answer).unwrap(), Progress::Open);
    }

    #[test]
    fn http_refusals_name_the_proxy_and_its_status() {
        let proxy = Proxy::new("http://p:8080").unwrap();
        let (mut tunnel, first) = Tunnel::start(&proxy, Destination::of("example.com"), 80);
        assert_eq!(
            first,
            b"CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"
        );
        let answer = b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
        let error = feed(&mut tunnel, answer).unwrap_err();
        assert!(matches!(error, ProxyError::Refused { status: 407, .. }));
        assert_eq!(
            error.to_string(),
            "the proxy http://p:8080 refused the tunnel: 407 Proxy Authentication Required"
        );
        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("a"), 80);
        let error = feed(&mut tunnel, b"SSH-2.0-x\r\n").unwrap_err();
        assert!(matches!(error, ProxyError::Malformed { .. }), "{error}");
    }

    #[test]
    fn socks5_without_credentials_connects_by_name_or_address() {
        // RFC 1928: greeting, method 0 chosen, CONNECT with ATYP 3 (a
        // name) or 1 (IPv4), the reply with a bound IPv4 address.
        let proxy = Proxy::new("socks5h://p").unwrap();
        let (mut tunnel, first) = Tunnel::start(&proxy, Destination::of("echo.example"), 9001);
        assert_eq!(first, [5, 1, 0]);
        let mut input = vec![5, 0];
        let Progress::Send(request) = tunnel.input(&mut input).unwrap() else {
            panic!("a request");
        };
        let mut want = vec![5, 1, 0, 3, 12];
        want.extend_from_slice(b"echo.example");
        want.extend_from_slice(&[0x23, 0x29]);
        assert_eq!(request, want);
        let reply = [5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];
        assert_eq!(feed(&mut tunnel, &reply).unwrap(), Progress::Open);

        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("10.1.2.3"), 80);
        let Progress::Send(request) = tunnel.input(&mut vec![5, 0]).unwrap() else {
            panic!("a request");
        };
        assert_eq!(request, [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]);
        // A reply with a bound name (ATYP 3) is as long as the name says,
        // and what follows it belongs to the destination.
        let mut input = vec![5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 80, 0x81];
        assert_eq!(tunnel.input(&mut input).unwrap(), Progress::Open);
        assert_eq!(input, [0x81]);
    }

    #[test]
    fn socks5_with_credentials_authenticates_as_rfc_1929_says() {
        let proxy = Proxy::new("socks5://bob:pw@p").unwrap();
        let (mut tunnel, first) = Tunnel::start(&proxy, Destination::of("::1"), 443);
        assert_eq!(first, [5, 2, 0, 2]);
        let Progress::Send(auth) = tunnel.input(&mut vec![5, 2]).unwrap() else {
            panic!("credentials");
        };
        assert_eq!(auth, [1, 3, b'b', b'o', b'b', 2, b'p', b'w']);
        let error = tunnel.input(&mut vec![1, 1]).unwrap_err();
        assert!(matches!(error, ProxyError::SocksAuth { .. }), "{error}");

        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("::1"), 443);
        tunnel.input(&mut vec![5, 2]).unwrap();
        let Progress::Send(request) = tunnel.input(&mut vec![1, 0]).unwrap() else {
            panic!("a request");
        };
        let mut want = vec![5, 1, 0, 4];
        want.extend_from_slice(&"::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        want.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(request, want);
    }

    #[test]
    fn socks5_failures_name_the_reply_code() {
        let proxy = Proxy::new("socks5h://p:1080").unwrap();
        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("a"), 80);
        tunnel.input(&mut vec![5, 0]).unwrap();
        let error = tunnel
            .input(&mut vec![5, 5, 0, 1, 0, 0, 0, 0, 0, 0])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the SOCKS5 proxy socks5h://p:1080 refused the connection: connection refused (reply 5)"
        );
        // A proxy that wants credentials we do not have.
        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("a"), 80);
        let error = tunnel.input(&mut vec![5, 0xff]).unwrap_err();
        assert!(error.to_string().contains("wants credentials"), "{error}");
    }

    #[test]
    fn an_endless_answer_is_cut_off() {
        let proxy = Proxy::new("http://p").unwrap();
        let (mut tunnel, _) = Tunnel::start(&proxy, Destination::of("a"), 80);
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', ANSWER_LIMIT));
        assert!(tunnel.input(&mut input).is_err());
    }
}
