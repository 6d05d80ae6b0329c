//! The stream a client's `connect` opens: TCP, straight or through a
//! proxy's tunnel, with TLS on top for `wss://`; and the server's TLS
//! handshake. Every step is bounded by the handshake's deadline through the
//! socket's timeouts.

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use super::socket::{self, handshake_io_error, Deadline, Exchange};
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
    Rustls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP connection underneath (to the server, or to the proxy), for
    /// instance to set its timeouts.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => &tls.sock,
        }
    }

    /// Whether TLS runs on the connection.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

/// The [`SocketOf`](super::socket::SocketOf) a [`MaybeTlsStream`].
pub(crate) fn tcp_of(stream: &MaybeTlsStream) -> &TcpStream {
    stream.tcp()
}

/// Queues the TLS session's close_notify, if TLS runs on the stream.
#[cfg(feature = "rustls")]
pub(crate) fn close_notify(stream: &mut MaybeTlsStream) {
    if let MaybeTlsStream::Rustls(tls) = stream {
        tls.conn.send_close_notify();
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.flush(),
        }
    }
}

/// Opens the stream to `endpoint` before `deadline`: TCP (through the
/// proxy, if any), then TLS for `wss://`.
pub(crate) fn open(
    spec: &ClientSpec,
    endpoint: &Endpoint,
    deadline: &Deadline,
) -> Result<MaybeTlsStream, Error> {
    let tcp = match spec.proxy_for(endpoint)? {
        None => connect_tcp(&endpoint.host, endpoint.port, deadline)?,
        Some(proxy) => through(&proxy, endpoint, deadline)?,
    };
    tcp.set_nodelay(true)?;
    if !endpoint.tls {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "rustls")]
    {
        let name = crate::tls::server_name(&endpoint.host)?;
        let conn = rustls::ClientConnection::new(spec.tls_config(), name)
            .map_err(|e| crate::tls::handshake_error(io::Error::other(e), &endpoint.host))?;
        let peer = format!("the server {}", endpoint.host);
        let tls = tls_handshake(conn, tcp, deadline, &peer)?;
        Ok(MaybeTlsStream::Rustls(Box::new(tls)))
    }
    #[cfg(not(feature = "rustls"))]
    unreachable!("Endpoint refuses wss:// without the rustls feature")
}

/// Runs a TLS handshake on `tcp` before `deadline`.
#[cfg(feature = "rustls")]
pub(crate) fn tls_handshake<C, D>(
    mut conn: C,
    mut tcp: TcpStream,
    deadline: &Deadline,
    peer: &str,
) -> Result<rustls::StreamOwned<C, TcpStream>, Error>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<D>>,
    D: rustls::SideData,
{
    let mut deadline = deadline.same();
    let result = loop {
        if !conn.is_handshaking() {
            break Ok(());
        }
        match deadline.limit(&tcp) {
            Ok(true) => {}
            Ok(false) => break Err(Error::HandshakeTimeout),
            Err(e) => break Err(e.into()),
        }
        if let Err(e) = conn.complete_io(&mut tcp) {
            break Err(match handshake_io_error(e) {
                Error::Io(e) => crate::tls::handshake_error(e, peer),
                other => other,
            });
        }
    };
    deadline.restore(&tcp);
    result.map(|()| rustls::StreamOwned::new(conn, tcp))
}

/// Connects to the first address of `host` that answers before `deadline`.
pub(crate) fn connect_tcp(host: &str, port: u16, deadline: &Deadline) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let left = deadline.left().ok_or(Error::HandshakeTimeout)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => handshake_io_error(e),
        None => io::Error::new(io::ErrorKind::InvalidInput, "no address for the host").into(),
    })
}

/// A TCP connection to `proxy` with a tunnel to `endpoint` open on it.
fn through(proxy: &Proxy, endpoint: &Endpoint, deadline: &Deadline) -> Result<TcpStream, Error> {
    let (host, port) = proxy.addr();
    let mut tcp = connect_tcp(host, port, deadline).map_err(|e| match e {
        Error::Io(source) => ProxyError::Connect {
            proxy: proxy.to_string(),
            source,
        }
        .into(),
        other => other,
    })?;
    let destination = if proxy.resolves_here() {
        let addr = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for the host"))?;
        Destination::Ip(addr.ip())
    } else {
        Destination::of(&endpoint.host)
    };
    let (mut tunnel, first) = Tunnel::start(proxy, destination, endpoint.port);
    let mut io = Exchange {
        stream: &mut tcp,
        socket: Some(socket::tcp),
        deadline: deadline.same(),
    };
    let result = (|| {
        io.write_all(&first)?;
        let mut input = Vec::new();
        loop {
            match tunnel.input(&mut input)? {
                Progress::More => {
                    if io.read_into(&mut input, 4 << 10)? == 0 {
                        return Err(ProxyError::Malformed {
                            proxy: tunnel.proxy(),
                            what: "it closed the connection before the tunnel opened".into(),
                        }
                        .into());
                    }
                }
                Progress::Send(bytes) => io.write_all(&bytes)?,
                Progress::Open if input.is_empty() => return Ok(()),
                Progress::Open => {
                    return Err(ProxyError::Malformed {
                        proxy: tunnel.proxy(),
                        what: "it sent data before the client spoke".into(),
                    }
                    .into())
                }
            }
        }
    })();
    io.restore();
    result.map(|()| tcp)
}
