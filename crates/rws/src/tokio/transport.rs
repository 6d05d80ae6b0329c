//! The stream a client's `connect` opens: TCP, straight or through a
//! proxy's tunnel, with TLS on top for `wss://`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::handshake_spec::{ClientSpec, Endpoint};
use crate::proxy::{Destination, Progress, Proxy, ProxyError, Tunnel};
use crate::Error;

/// The stream under a connection from `connect`: plain TCP for `ws://`,
/// TLS over TCP for `wss://` (the `rustls` feature), either possibly
/// through a proxy's tunnel.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP connection underneath (to the server, or to the proxy).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.get_ref().0,
        }
    }

    /// Whether TLS runs on the connection.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

/// Delegates to the variant's stream.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }
}

/// Opens the stream to `endpoint`: TCP (through the proxy, if any), then
/// TLS for `wss://`. The caller bounds it in time.
pub(crate) async fn open(spec: &ClientSpec, endpoint: &Endpoint) -> Result<MaybeTlsStream, Error> {
    let tcp = match spec.proxy_for(endpoint)? {
        None => TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?,
        Some(proxy) => through(&proxy, endpoint).await?,
    };
    tcp.set_nodelay(true)?;
    if !endpoint.tls {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "rustls")]
    {
        let connector = tokio_rustls::TlsConnector::from(spec.tls_config());
        let name = crate::tls::server_name(&endpoint.host)?;
        let peer = format!("the server {}", endpoint.host);
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| crate::tls::handshake_error(e, &peer))?;
        Ok(MaybeTlsStream::Rustls(Box::new(tls)))
    }
    #[cfg(not(feature = "rustls"))]
    unreachable!("Endpoint refuses wss:// without the rustls feature")
}

/// A TCP connection to `proxy` with a tunnel to `endpoint` open on it.
async fn through(proxy: &Proxy, endpoint: &Endpoint) -> Result<TcpStream, Error> {
    let (host, port) = proxy.addr();
    let mut tcp = TcpStream::connect((host, port))
        .await
        .map_err(|source| ProxyError::Connect {
            proxy: proxy.to_string(),
            source,
        })?;
    let destination = if proxy.resolves_here() {
        let mut addrs = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)).await?;
        let addr = addrs.next().ok_or_else(|| no_address(&endpoint.host))?;
        Destination::Ip(addr.ip())
    } else {
        Destination::of(&endpoint.host)
    };
    let (mut tunnel, first) = Tunnel::start(proxy, destination, endpoint.port);
    tcp.write_all(&first).await?;
    let mut input = Vec::new();
    loop {
        match tunnel.input(&mut input)? {
            Progress::More => {
                if tcp.read_buf(&mut input).await? == 0 {
                    return Err(ProxyError::Malformed {
                        proxy: tunnel.proxy(),
                        what: "it closed the connection before the tunnel opened".into(),
                    }
                    .into());
                }
            }
            Progress::Send(bytes) => tcp.write_all(&bytes).await?,
            Progress::Open if input.is_empty() => return Ok(tcp),
            Progress::Open => {
                return Err(ProxyError::Malformed {
                    proxy: tunnel.proxy(),
                    what: "it sent data before the client spoke".into(),
                }
                .into())
            }
        }
    }
}

fn no_address(host: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
}
