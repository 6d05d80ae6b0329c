//! `rws bridge`: WebSocket clients to a TCP service (websockify's model,
//! for noVNC and the like), or TCP clients through a WebSocket.
//!
//! Every client gets its own connection to the target. Bytes go both ways
//! as binary messages; each direction reads only as fast as the other side
//! takes what it wrote, so a slow side slows the other down instead of
//! being buffered without bound. A TCP end of file closes the WebSocket
//! with 1000; a WebSocket close shuts the TCP connection's write side; a
//! target that cannot be reached closes the WebSocket with 1011 and says
//! why.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use rws::http::{StatusCode, Uri};
use rws::tls::TlsAcceptor;
use rws::{
    Accept, ClientBuilder, CloseCode, Config, Event, Message, Rejection, UpgradeRequest, WebSocket,
    WebSocketConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::keepalive::KeepaliveArgs;
use crate::tls_args::{ClientTlsArgs, ServerTlsArgs};

/// How much of a TCP stream goes into one binary message at most.
const CHUNK: usize = 16 * 1024;

/// The longest close reason (RFC 6455 §5.5: a control frame's payload is
/// at most 125 bytes, two of which are the code).
const MAX_REASON: usize = 123;

const AFTER_HELP: &str = "\
Examples:
  rws bridge --listen ws://127.0.0.1:6080/websockify --to tcp://127.0.0.1:5900
      (noVNC to a VNC server, as websockify does)
  rws bridge --listen tcp://127.0.0.1:6379 --to wss://example.com/redis
      (a local port tunnelled through a WebSocket)

Messages:
  Binary messages carry the bytes; a text message from a WebSocket client
  is forwarded as its UTF-8 bytes. The 'binary' subprotocol is selected when
  a client offers it.

Ends:
  The TCP side's end of file closes the WebSocket with 1000; a WebSocket
  close shuts the TCP write side; a target that cannot be reached, or a
  TCP connection that fails, closes the WebSocket with 1011 and the reason.
  One log line per session says how it ended and how many bytes went each
  way.";

/// Options of `rws bridge`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct BridgeArgs {
    /// Where clients connect: ws://ADDR[/PATH] (wss:// with --tls-cert and
    /// --tls-key) for WebSocket clients, only on PATH if given; or
    /// tcp://ADDR for TCP clients.
    #[arg(long, value_name = "URL")]
    listen: String,
    /// Where each client is bridged to: tcp://HOST:PORT from ws://, or a
    /// ws:// or wss:// URL from tcp://.
    #[arg(long, value_name = "URL")]
    to: String,
    #[command(flatten)]
    tls: ServerTlsArgs,
    #[command(flatten)]
    client_tls: ClientTlsArgs,
    #[command(flatten)]
    keepalive: KeepaliveArgs,
}

/// Which way the bridge goes.
enum Mode {
    /// WebSocket clients on `listen` (only `path` if set), TCP to `target`.
    FromWebSocket {
        listen: String,
        path: Option<String>,
        tls: Option<TlsAcceptor>,
        target: String,
    },
    /// TCP clients on `listen`, a WebSocket to `url`.
    FromTcp { listen: String, url: String },
}

/// Runs the bridge until Ctrl-C (or SIGTERM).
pub(crate) async fn run(args: BridgeArgs) -> Result<(), String> {
    let mode = mode(&args)?;
    let config = WebSocketConfig::default().core(args.keepalive.apply(Config::default()));
    let signal =
        crate::serve::shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
    tokio::pin!(signal);
    let listen = match &mode {
        Mode::FromWebSocket { listen, .. } | Mode::FromTcp { listen, .. } => listen.clone(),
    };
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mode = Arc::new(mode);
    match &*mode {
        Mode::FromWebSocket {
            path, tls, target, ..
        } => {
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            let path = path.as_deref().unwrap_or("/");
            info!("listening on {scheme}://{local}{path}, bridged to tcp://{target}");
        }
        Mode::FromTcp { url, .. } => info!("listening on tcp://{local}, bridged to {url}"),
    }
    let client_tls = args.client_tls.config()?;
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let mode = mode.clone();
                    let config = config.clone();
                    let client_tls = client_tls.clone();
                    sessions.spawn(async move {
                        match &*mode {
                            Mode::FromWebSocket { path, tls, target, .. } => {
                                from_websocket(tcp, peer, path.as_deref(), tls.clone(), target, config).await
                            }
                            Mode::FromTcp { url, .. } => from_tcp(tcp, peer, url, config, client_tls).await,
                        }
                    });
                }
                Err(e) => warn!("accept failed: {e}"),
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = &mut signal => break,
        }
    }
    info!(sessions = sessions.len(), "stopping");
    Ok(())
}

/// The mode from `--listen` and `--to`.
fn mode(args: &BridgeArgs) -> Result<Mode, String> {
    let listen: Uri = args
        .listen
        .parse()
        .map_err(|e| format!("bad --listen URL {:?}: {e}", args.listen))?;
    let address = |uri: &Uri, what: &str| {
        uri.authority()
            .filter(|a| a.port_u16().is_some())
            .map(|a| a.to_string())
            .ok_or_else(|| format!("{what} {uri} needs a host and a port"))
    };
    match (listen.scheme_str(), args.to.split_once("://")) {
        (Some(scheme @ ("ws" | "wss")), Some(("tcp", _))) => {
            let to: Uri = args
                .to
                .parse()
                .map_err(|e| format!("bad --to URL {:?}: {e}", args.to))?;
            let tls = args.tls.acceptor()?;
            if (scheme == "wss") != tls.is_some() {
                return Err(
                    "--listen wss:// goes with --tls-cert and --tls-key, ws:// without".into(),
                );
            }
            let path = match listen.path() {
                "" | "/" => None,
                path => Some(path.to_owned()),
            };
            Ok(Mode::FromWebSocket {
                listen: address(&listen, "--listen")?,
                path,
                tls,
                target: address(&to, "--to")?,
            })
        }
        (Some("tcp"), Some(("ws" | "wss", _))) => Ok(Mode::FromTcp {
            listen: address(&listen, "--listen")?,
            url: args.to.clone(),
        }),
        _ => Err(
            "bridge ws:// (or wss://) to tcp://, or tcp:// to ws:// (or wss://): \
             --listen ws://ADDR[/PATH] --to tcp://HOST:PORT, or --listen tcp://ADDR --to ws://URL"
                .into(),
        ),
    }
}

/// A WebSocket client, bridged to a new TCP connection to `target`.
async fn from_websocket(
    tcp: TcpStream,
    peer: SocketAddr,
    path: Option<&str>,
    tls: Option<TlsAcceptor>,
    target: &str,
    config: WebSocketConfig,
) {
    let builder = rws::ServerBuilder::new()
        .config(config.clone())
        .on_request(move |req: &UpgradeRequest| decide(req, path));
    match tls {
        None => match builder.accept(tcp).await {
            Ok(ws) => websocket_to_tcp(ws, peer, target).await,
            Err(e) => warn!(%peer, "{e}"),
        },
        Some(acceptor) => {
            let stream = match acceptor.accept(tcp, config.handshake_timeout).await {
                Ok(stream) => stream,
                Err(e) => return warn!(%peer, "{e}"),
            };
            match builder.accept(stream).await {
                Ok(ws) => websocket_to_tcp(ws, peer, target).await,
                Err(e) => warn!(%peer, "{e}"),
            }
        }
    }
}

/// Accepts the upgrade on `path` (any path without one), with the
/// `binary` subprotocol when offered (websockify's clients offer it).
fn decide(req: &UpgradeRequest, path: Option<&str>) -> Result<Accept, Rejection> {
    if path.is_some_and(|path| req.path() != path) {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("no bridge at {}\n", req.path()),
        ));
    }
    if req.protocols().any(|p| p == "binary") {
        Ok(Accept::new().protocol("binary"))
    } else {
        Ok(Accept::new())
    }
}

async fn websocket_to_tcp<S>(mut ws: WebSocket<S>, peer: SocketAddr, target: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let tcp = match TcpStream::connect(target).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let reason = reason(&format!("cannot connect to {target}: {e}"));
            warn!(%peer, "{reason}");
            let _ = ws.close(CloseCode::INTERNAL_ERROR, &reason).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    debug!(%peer, "bridging to tcp://{target}");
    let pumped = pump(ws, tcp).await;
    session_ended(peer, pumped.to_tcp, pumped.to_websocket, &pumped.end);
}

/// A TCP client, bridged through a new WebSocket to `url`.
async fn from_tcp(
    tcp: TcpStream,
    peer: SocketAddr,
    url: &str,
    config: WebSocketConfig,
    tls: Arc<rws::tls::rustls::ClientConfig>,
) {
    let connected = ClientBuilder::new(url)
        .config(config)
        .tls_config(tls)
        .connect()
        .await;
    let ws = match connected {
        Ok((ws, _)) => ws,
        // The TCP client is let go: closing its connection is all a plain
        // TCP client can be told.
        Err(e) => return warn!(%peer, "cannot open {url}: {e}"),
    };
    debug!(%peer, "bridging to {url}");
    let pumped = pump(ws, tcp).await;
    session_ended(peer, pumped.to_websocket, pumped.to_tcp, &pumped.end);
}

/// The one log line of a session: how it ended, the bytes each way.
fn session_ended(peer: SocketAddr, to_target: u64, to_client: u64, end: &str) {
    info!(%peer, to_target, to_client, "session ended: {end}");
}

/// `text`, cut to a close reason's length on a character boundary.
fn reason(text: &str) -> String {
    let mut end = text.len().min(MAX_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// What a bridged session did.
struct Pumped {
    /// Bytes written to the TCP connection, and to the WebSocket.
    to_tcp: u64,
    to_websocket: u64,
    /// How it ended, for the log.
    end: String,
}

/// Carries bytes both ways until the session ends (see the module docs).
async fn pump<S>(ws: WebSocket<S>, tcp: TcpStream) -> Pumped
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws_read, mut ws_write) = ws.split();
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    let mut to_tcp = 0u64;
    let mut to_websocket = 0u64;
    // WebSocket to TCP, until the WebSocket is closed; then the target
    // gets an end of file.
    let up = async {
        let mut end = "the WebSocket ended without a close handshake".to_owned();
        while let Some(event) = ws_read.recv_event().await {
            match event {
                Ok(Event::Message(message)) => {
                    let data = message.as_payload();
                    if let Err(e) = tcp_write.write_all(data).await {
                        end = format!("writing to TCP failed: {e}");
                        break;
                    }
                    to_tcp += data.len() as u64;
                }
                Ok(Event::Closed(closed)) => {
                    end = format!("WebSocket closed: {}", closed.code);
                    if !closed.reason.as_str().is_empty() {
                        end.push_str(&format!(" {:?}", closed.reason.as_str()));
                    }
                }
                Ok(_) => {}
                Err(e) => end = format!("WebSocket failed: {e}"),
            }
        }
        let _ = tcp_write.shutdown().await;
        end
    };
    // TCP to WebSocket, until the TCP side's end of file (then the
    // WebSocket closes with 1000) or failure (1011).
    let down = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match tcp_read.read(&mut buf).await {
                Ok(0) => {
                    let _ = ws_write.close(CloseCode::NORMAL, "").await;
                    return "TCP end of file".to_owned();
                }
                Ok(n) => {
                    if ws_write
                        .send(Message::binary(buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        return "the WebSocket is gone".to_owned();
                    }
                    to_websocket += n as u64;
                }
                Err(e) => {
                    let why = reason(&format!("the TCP connection failed: {e}"));
                    let _ = ws_write.close(CloseCode::INTERNAL_ERROR, &why).await;
                    return why;
                }
            }
        }
    };
    let end = {
        tokio::pin!(up, down);
        tokio::select! {
            // The WebSocket is closed: nothing read from TCP could go
            // anywhere.
            end = &mut up => end,
            // TCP's end: the WebSocket's close handshake finishes in `up`.
            first = &mut down => {
                let end = up.await;
                format!("{first}; {end}")
            }
        }
    };
    Pumped {
        to_tcp,
        to_websocket,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_close_frame() {
        assert_eq!(reason("short"), "short");
        // 2-byte characters: 123 bytes would split one.
        let long = "é".repeat(100);
        let cut = reason(&long);
        assert_eq!(cut.len(), 122);
        assert!(long.starts_with(&cut));
    }
}
