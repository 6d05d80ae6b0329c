//! What the echo servers share: the listening socket, and for the servers
//! that do the HTTP upgrade themselves (fastwebsockets without hyper, the
//! raw-TCP ceiling) a minimal RFC 6455 §4.2 handshake.

use std::io::{self, Write};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Largest message and frame every server accepts: 64 MiB, so that the
/// 1 MiB messages of the benchmark pass everywhere.
pub const MAX_MESSAGE: usize = 64 << 20;

/// The listen backlog asked for (the kernel lowers it to somaxconn).
const LISTEN_BACKLOG: u32 = 65535;

/// Largest HTTP request head read by [`read_upgrade_head`].
const MAX_HEAD: usize = 16 << 10;

/// RFC 6455 §1.3: the GUID appended to `Sec-WebSocket-Key`.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Binds the address given as the first argument (default
/// `127.0.0.1:9100`, an IP address and port) and prints `listening on ADDR`
/// once bound.
pub async fn listen() -> io::Result<TcpListener> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let socket = match addr {
        std::net::SocketAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // The kernel caps the accept queue at net.core.somaxconn; tokio's
    // default of 1024 overflows when thousands of connections open at once,
    // and a dropped SYN costs its client a second.
    let listener = socket.listen(LISTEN_BACKLOG)?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {}", listener.local_addr()?)?;
    out.flush()?;
    Ok(listener)
}

/// Accepts the next connection with `TCP_NODELAY` set; transient accept
/// errors (too many open files, a connection reset before accept) are
/// reported and skipped.
pub async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                if let Err(e) = tcp.set_nodelay(true) {
                    eprintln!("set_nodelay: {e}");
                }
                return tcp;
            }
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// The whole server: listens (see [`listen`]), then runs `echo` on every
/// connection accepted (see [`accept`]), each in a task of its own. An
/// error the connection ends with is printed, prefixed with `name`, unless
/// `expected` says it is the normal end of a benchmark's connection (the
/// peer closing, or dropping the connection without a close handshake).
pub async fn serve<F, T, E>(name: &'static str, echo: F, expected: fn(&E) -> bool) -> io::Result<()>
where
    F: Fn(TcpStream) -> T,
    T: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let listener = listen().await?;
    loop {
        let connection = echo(accept(&listener).await);
        tokio::spawn(async move {
            match connection.await {
                Err(e) if !expected(&e) => eprintln!("{name}: {e}"),
                _ => {}
            }
        });
    }
}

/// [`serve`] over TLS: the certificate chain and key (PEM files) are the
/// second and third arguments; each connection's TLS handshake (rustls
/// with ring, ALPN http/1.1, as rws's own acceptor) runs in its task
/// before `echo` gets the stream.
pub async fn serve_tls<F, T, E>(
    name: &'static str,
    echo: F,
    expected: fn(&E) -> bool,
) -> io::Result<()>
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> T + Clone + Send + 'static,
    T: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let arg = |i: usize| std::env::args().nth(i).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("usage: {name} ADDR CERT.pem KEY.pem"))
    });
    let invalid = |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let chain = CertificateDer::pem_file_iter(arg(2)?)
        .map_err(|e| invalid(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_file(arg(3)?).map_err(|e| invalid(&e))?;
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = listen().await?;
    loop {
        let tcp = accept(&listener).await;
        let (acceptor, echo) = (acceptor.clone(), echo.clone());
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => return eprintln!("{name}: TLS: {e}"),
            };
            match echo(tls).await {
                Err(e) if !expected(&e) => eprintln!("{name}: {e}"),
                _ => {}
            }
        });
    }
}

/// Whether an I/O error is the peer going away (the load generator drops its
/// connections at the end of a run without a close handshake): not worth a
/// line on stderr.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}

/// Reads an HTTP upgrade request head and answers it with 101, without
/// consuming any byte after the head (the server's WebSocket layer must see
/// the first frame even if the client sent it early): the head is found with
/// `peek` and then read exactly. Only the key is checked; this is a
/// benchmark peer, not a validating server.
pub async fn upgrade(tcp: &mut TcpStream) -> io::Result<()> {
    // Boxed, so that its buffers do not stay in the connection's task.
    let head = Box::pin(read_upgrade_head(tcp)).await?;
    let key = upgrade_key(&head)?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    tcp.write_all(response.as_bytes()).await
}

/// The request head, up to and including its blank line, and not one byte
/// more.
pub async fn read_upgrade_head(tcp: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut peeked = [0u8; 512];
    loop {
        let n = tcp.peek(&mut peeked).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // The terminator may straddle what was already consumed: search
        // from three bytes back.
        let from = head.len().saturating_sub(3);
        let mut window = head[from..].to_vec();
        window.extend_from_slice(&peeked[..n]);
        let end = find_blank_line(&window);
        let take = end.map_or(n, |end| end - (head.len() - from));
        let start = head.len();
        head.resize(start + take, 0);
        tcp.read_exact(&mut head[start..]).await?;
        if end.is_some() {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
}

/// The end (exclusive) of the first `\r\n\r\n` in `bytes`.
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The `Sec-WebSocket-Key` of a complete request head.
pub fn upgrade_key(head: &[u8]) -> io::Result<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad request head",
            ))
        }
    }
    request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| h.value.trim_ascii().to_vec())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Sec-WebSocket-Key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
