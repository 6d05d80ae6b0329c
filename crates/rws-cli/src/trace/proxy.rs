//! The tracing proxy: relays each client to the upstream server, bytes
//! unchanged (but the request target and `Host`, which name the upstream),
//! and traces both directions as they pass.
//!
//! Over TLS it terminates: clients reach it over TLS with its own
//! certificate (--tls-cert), it reaches a `wss://` upstream over another
//! TLS connection, and traces the bytes in between.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rws::http::Uri;
use rws::tls::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use super::analyze::ConnTrace;
use super::record::{Dir, Event, Record};
use super::Printer;

/// The largest request head rewritten; a longer one is relayed as it is.
const MAX_HEAD: usize = 64 << 10;

/// Either side's stream: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type Stream = Box<dyn Io>;

/// Where the proxy relays to, from a `ws[s]://HOST[:PORT][/path]` URL.
#[derive(Clone)]
pub(super) struct Upstream {
    /// `HOST:PORT`, to connect to.
    authority: String,
    /// The host name, for the upstream's certificate.
    server_name: String,
    /// `wss://`: TLS to the upstream, with this configuration.
    tls: Option<Arc<rws::tls::rustls::ClientConfig>>,
    /// The `Host` value to send.
    host: String,
    /// The request target replacing the client's, when the URL had a path.
    target: Option<String>,
}

impl Upstream {
    /// Parses a `ws://` or `wss://` URL; `tls` is the configuration for
    /// `wss://`, called only then.
    pub(super) fn parse(
        url: &str,
        tls: impl FnOnce() -> Result<Arc<rws::tls::rustls::ClientConfig>, String>,
    ) -> Result<Upstream, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("bad upstream URL {url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("ws") => None,
            Some("wss") => Some(tls()?),
            _ => {
                return Err(format!(
                    "the upstream must be a ws:// or wss:// URL, not {url:?}"
                ))
            }
        };
        let authority = uri.authority().ok_or("the upstream URL has no host")?;
        let port = authority
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let host = authority.host();
        // `ws://host` and `ws://host/` both parse to the path "/": only a
        // URL that names a path (or query) replaces the client's target.
        let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
        let names_target = rest.contains(['/', '?']);
        let target = uri
            .path_and_query()
            .filter(|_| names_target)
            .map(|p| p.as_str().to_owned());
        Ok(Upstream {
            authority: format!("{host}:{port}"),
            server_name: host.trim_matches(['[', ']']).to_owned(),
            tls,
            host: authority.as_str().to_owned(),
            target,
        })
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "wss"
        } else {
            "ws"
        }
    }

    /// Connects to the upstream: TCP, then TLS for `wss://`.
    async fn connect(&self) -> Result<(Stream, SocketAddr), String> {
        let tcp = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let addr = tcp.peer_addr().map_err(|e| e.to_string())?;
        let Some(config) = &self.tls else {
            return Ok((Box::new(tcp), addr));
        };
        let name = rws::tls::rustls::pki_types::ServerName::try_from(self.server_name.clone())
            .map_err(|e| format!("{:?} is not a server name: {e}", self.server_name))?;
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        Ok((Box::new(tls), addr))
    }
}

/// Accepts clients (over TLS with `tls`) until the process is stopped.
pub(super) async fn run(
    listen: SocketAddr,
    tls: Option<TlsAcceptor>,
    upstream: Upstream,
    printer: Arc<Printer>,
) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    info!(
        "tracing on {scheme}://{local}/ -> {}://{}",
        upstream.scheme(),
        upstream.authority
    );
    let tls = tls.map(|acceptor| tokio_rustls::TlsAcceptor::from(acceptor.config().clone()));
    let upstream = Arc::new(upstream);
    let mut next_id = 0;
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("accept failed: {e}");
                continue;
            }
        };
        next_id += 1;
        tokio::spawn(relay(
            next_id,
            client,
            tls.clone(),
            peer,
            upstream.clone(),
            printer.clone(),
        ));
    }
}

/// The time now, since the UNIX epoch.
fn now() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// One connection: the trace both directions feed, and where it prints.
struct Traced {
    trace: Mutex<ConnTrace>,
    printer: Arc<Printer>,
}

impl Traced {
    fn feed(&self, dir: Dir, data: &[u8]) {
        let mut records = Vec::new();
        self.lock().feed(dir, now(), data, &mut records);
        self.printer.print(&records);
    }

    fn end(&self, dir: Dir, how: &str) {
        let mut records = Vec::new();
        self.lock().end(dir, now(), how, &mut records);
        self.printer.print(&records);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnTrace> {
        self.trace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn relay(
    id: u64,
    client: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    peer: SocketAddr,
    upstream: Arc<Upstream>,
    printer: Arc<Printer>,
) {
    let _ = client.set_nodelay(true);
    let client: Stream = match tls {
        None => Box::new(client),
        Some(acceptor) => {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(client));
            match handshake.await {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => return warn!(%peer, "TLS with the client failed: {e}"),
                Err(_) => return warn!(%peer, "TLS with the client timed out"),
            }
        }
    };
    let (server, server_addr) = match upstream.connect().await {
        Ok(server) => server,
        Err(e) => {
            warn!(%peer, "cannot reach the upstream {}: {e}", upstream.authority);
            let body = format!("cannot reach the upstream {}: {e}\n", upstream.authority);
            let answer = format!(
                "HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            refuse(client, answer.as_bytes()).await;
            return;
        }
    };
    printer.print(&[Record {
        time: now(),
        conn: id,
        dir: None,
        event: Event::Open {
            client: peer,
            server: server_addr,
        },
    }]);
    let traced = Arc::new(Traced {
        trace: Mutex::new(ConnTrace::new(id)),
        printer,
    });
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(server);
    let upstream_head = async {
        let mut from = client_read;
        let mut to = server_write;
        match relay_head(&mut from, &mut to, &upstream, &traced).await {
            Ok(()) => pump(from, to, Dir::ClientToServer, &traced).await,
            Err(how) => traced.end(Dir::ClientToServer, &how),
        }
    };
    tokio::join!(
        upstream_head,
        pump(server_read, client_write, Dir::ServerToClient, &traced)
    );
}

/// Answers a client the proxy cannot serve, then closes gently: its
/// request is read and dropped (at most `MAX_HEAD` bytes, for at most a
/// second), because closing a socket with unread input resets it and the
/// client could lose the answer.
async fn refuse(mut client: Stream, answer: &[u8]) {
    if client.write_all(answer).await.is_err() || client.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut left = MAX_HEAD;
        let mut buf = [0; 4096];
        while left > 0 {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Relays the request head with the upstream's target and `Host`.
async fn relay_head(
    from: &mut ReadHalf<Stream>,
    to: &mut WriteHalf<Stream>,
    upstream: &Upstream,
    traced: &Traced,
) -> Result<(), String> {
    let mut head = Vec::with_capacity(1024);
    let end = loop {
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break Some(at + 4);
        }
        if head.len() > MAX_HEAD {
            break None;
        }
        let n = from
            .read_buf(&mut head)
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            // Relay what came; the trace says where the stream ended.
            traced.feed(Dir::ClientToServer, &head);
            let _ = to.write_all(&head).await;
            let _ = to.shutdown().await;
            return Err("EOF".into());
        }
    };
    let bytes = match end {
        Some(end) => {
            let mut bytes = rewrite_head(&head[..end], upstream);
            bytes.extend_from_slice(&head[end..]);
            bytes
        }
        None => head,
    };
    traced.feed(Dir::ClientToServer, &bytes);
    to.write_all(&bytes)
        .await
        .map_err(|e| format!("write error: {e}"))
}

/// The request head with the upstream's request target (when its URL had
/// a path) and `Host`; every other byte as it was.
fn rewrite_head(head: &[u8], upstream: &Upstream) -> Vec<u8> {
    let text = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
    let mut out = Vec::with_capacity(head.len() + 64);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0 {
            out.extend_from_slice(&request_line(line, upstream));
        } else if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            out.extend_from_slice(b"Host: ");
            out.extend_from_slice(upstream.host.as_bytes());
        } else {
            out.extend_from_slice(line);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn request_line(line: &[u8], upstream: &Upstream) -> Vec<u8> {
    let Some(target) = &upstream.target else {
        return line.to_vec();
    };
    let mut parts = line.splitn(3, |&b| b == b' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(_), Some(version)) => {
            [method, b" ", target.as_bytes(), b" ", version].concat()
        }
        _ => line.to_vec(),
    }
}

/// Relays one direction until its end, tracing what passes.
async fn pump(mut from: ReadHalf<Stream>, mut to: WriteHalf<Stream>, dir: Dir, traced: &Traced) {
    let mut buf = vec![0; 64 << 10];
    let how = loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break "EOF".to_owned(),
            Ok(n) => n,
            Err(e) => break format!("read error: {e}"),
        };
        // Relay first: the trace must not delay the peers more than it must.
        if let Err(e) = to.write_all(&buf[..n]).await {
            traced.feed(dir, &buf[..n]);
            break format!("write error: {e}");
        }
        traced.feed(dir, &buf[..n]);
    };
    traced.end(dir, &how);
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No TLS configuration: a `ws://` URL must not ask for one.
    fn no_tls() -> Result<Arc<rws::tls::rustls::ClientConfig>, String> {
        Err("asked for TLS".into())
    }

    #[test]
    fn upstream_urls() {
        let u = Upstream::parse("ws://127.0.0.1:9001/echo", no_tls).unwrap();
        assert_eq!(u.authority, "127.0.0.1:9001");
        assert_eq!(u.target.as_deref(), Some("/echo"));
        assert!(u.tls.is_none());
        let u = Upstream::parse("ws://example.com", no_tls).unwrap();
        assert_eq!((u.authority.as_str(), u.target), ("example.com:80", None));
        // wss://: port 443 by default, TLS with the configuration given.
        let tls = || {
            rws::tls::ClientTls::new()
                .build()
                .map_err(|e| e.to_string())
        };
        let u = Upstream::parse("wss://example.com/feed", tls).unwrap();
        assert_eq!(
            (u.authority.as_str(), u.server_name.as_str()),
            ("example.com:443", "example.com")
        );
        assert!(u.tls.is_some());
        assert!(Upstream::parse("wss://example.com", no_tls).is_err());
        assert!(Upstream::parse("http://example.com", no_tls).is_err());
    }

    #[test]
    fn the_head_names_the_upstream() {
        let u = Upstream::parse("ws://10.0.0.1:9001/echo?x=1", no_tls).unwrap();
        let head = b"GET /chat HTTP/1.1\r\nhost: proxy:9002\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(
            rewrite_head(head, &u),
            b"GET /echo?x=1 HTTP/1.1\r\nHost: 10.0.0.1:9001\r\nUpgrade: websocket\r\n\r\n"
        );
        let keep = Upstream::parse("ws://10.0.0.1:9001", no_tls).unwrap();
        assert_eq!(
            rewrite_head(head, &keep),
            b"GET /chat HTTP/1.1\r\nHost: 10.0.0.1:9001\r\nUpgrade: websocket\r\n\r\n"
        );
    }
}
