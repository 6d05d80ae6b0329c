//! `rws serve`: an echo server on `/echo`, chat rooms on `/chat` and
//! `/chat/<room>`, and a chat page for browsers on `/` (plain HTTP on the
//! same port).
//!
//! Every accepted connection runs in a task of a [`JoinSet`]; a
//! [`watch`] channel tells them all when the server shuts down (Ctrl-C,
//! or SIGTERM on unix), and the server then waits up to
//! [`SHUTDOWN_GRACE`] for their close handshakes.

mod chat;
mod echo;
mod http2;
mod page;
#[cfg(feature = "redis")]
mod relay;
mod shutdown;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use rws::deflate::DeflateConfig;
use rws::http::StatusCode;
use rws::tls::TlsAcceptor;
use rws::{
    Accept, Accepted, Config, Decision, Rejection, UpgradeRequest, WebSocket, WebSocketConfig,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::keepalive::KeepaliveArgs;
use crate::tls_args::ServerTlsArgs;

/// How long the server waits, in total, for the close handshakes of the
/// open connections when it shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Options of `rws serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// The largest message accepted, in bytes; larger ones close the
    /// connection with 1009.
    #[arg(long, default_value_t = 64 << 20)]
    max_message_size: usize,
    /// Refuse permessage-deflate (RFC 7692), which is otherwise accepted
    /// whenever a client offers it.
    #[arg(long)]
    no_deflate: bool,
    /// The most connections open at once; connections beyond it are
    /// answered with HTTP 503 Service Unavailable.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// How many chat messages may wait to be sent to one chat client. A
    /// client whose queue is full (it cannot keep up with its room) is
    /// disconnected with close code 1008 (policy violation), so that one
    /// slow client never slows its room down nor grows the server's memory.
    /// Binary messages from chat clients are ignored.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    chat_queue: u32,
    /// With --tls-cert and --tls-key: wss://, and the chat page over
    /// https://.
    #[command(flatten)]
    tls: ServerTlsArgs,
    #[command(flatten)]
    keepalive: KeepaliveArgs,
    /// How many threads serve connections; default: one per CPU core. With
    /// 1 the whole server runs on one thread (tokio's current-thread
    /// scheduler), which spends the fewest instructions per message.
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<NonZeroUsize>,
    /// Share the chat rooms with every `rws serve` on this Redis
    /// (redis://HOST:PORT[/DB], or rediss:// for TLS), through pub/sub: a
    /// member's lines reach the members of its room on every node. Losing
    /// Redis closes no connection: rooms go on locally and the link is
    /// tried again.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// With a rediss:// --redis: trust the CA certificates of this PEM file
    /// for Redis's certificate, instead of the system's.
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "FILE", requires = "redis")]
    redis_cacert: Option<std::path::PathBuf>,
}

/// What every connection task shares.
#[derive(Clone)]
struct Shared {
    config: WebSocketConfig,
    shutdown: shutdown::Shutdown,
    rooms: Arc<chat::Rooms>,
    chat_queue: usize,
    /// With --tls-cert: every connection starts with TLS, offering `h2`
    /// and `http/1.1` by ALPN.
    tls: Option<TlsAcceptor>,
}

/// Serves until Ctrl-C (or SIGTERM on unix).
pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    // Install the signal handlers first, so that a signal arriving once
    // the address is printed is never handled by the default action.
    let signal = shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
    tokio::pin!(signal);
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    // Refusals beyond --max-connections speak HTTP/1.1 only.
    let refusal_tls = args.tls.acceptor()?;
    let tls = refusal_tls.as_ref().map(TlsAcceptor::with_http2);
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let (ws, http) = if tls.is_some() {
        ("wss", "https")
    } else {
        ("ws", "http")
    };
    info!("listening on {ws}://{local}/echo");
    info!("chat rooms on {ws}://{local}/chat and {ws}://{local}/chat/<room>");
    info!("chat page on {http}://{local}/");
    if tls.is_some() {
        info!("HTTP/1.1 and HTTP/2 (by ALPN), WebSockets on both (RFC 8441)");
    } else {
        info!("HTTP/1.1, and HTTP/2 with prior knowledge (h2c), WebSockets on both (RFC 8441)");
    }
    let protocol = Config::default()
        .max_message_size(args.max_message_size)
        .max_frame_size(args.max_message_size.min(Config::default().max_frame_size))
        .deflate((!args.no_deflate).then(serve_deflate));
    let protocol = args.keepalive.apply(protocol);
    let rooms = chat_rooms(&args)?;
    let shared = Shared {
        config: WebSocketConfig::default().core(protocol),
        shutdown: shutdown::Shutdown::default(),
        rooms,
        chat_queue: args.chat_queue as usize,
        tls,
    };
    let permits = Arc::new(Semaphore::new(args.max_connections));
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tasks.spawn(handle(tcp, peer, shared.clone(), permit));
                    }
                    Err(_) => {
                        warn!(%peer, "refused: {} connections open (--max-connections)",
                            args.max_connections);
                        let tls = refusal_tls.clone();
                        tokio::spawn(refuse(tcp, peer, shared.config.clone(), tls));
                    }
                },
                Err(e) => warn!("accept failed: {e}"),
            },
            // Reap the finished connections.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = &mut signal => break,
        }
    }
    drop(listener);
    info!(connections = tasks.len(), "shutting down");
    shared.shutdown.stop();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            connections = tasks.len(),
            "close handshakes unfinished after {SHUTDOWN_GRACE:?}; dropping them"
        );
        tasks.abort_all();
    }
    Ok(())
}

/// The chat rooms: shared with the other nodes on `--redis` (whose link
/// then runs in a task of its own), or this process's alone.
fn chat_rooms(args: &ServeArgs) -> Result<Arc<chat::Rooms>, String> {
    #[cfg(feature = "redis")]
    if let Some(url) = &args.redis {
        let (relay, link) = relay::Relay::new(url, args.redis_cacert.as_deref())?;
        info!(
            node = relay.node(),
            "chat rooms shared with the other nodes on {url}"
        );
        let rooms = Arc::new(chat::Rooms::relayed_by(relay));
        tokio::spawn(relay::run(link, Arc::downgrade(&rooms)));
        return Ok(rooms);
    }
    let _ = args;
    Ok(Arc::default())
}

/// Resolves on Ctrl-C, or SIGINT or SIGTERM on unix. The handlers are
/// installed when this is called, not when it is first polled.
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => info!("SIGINT received"),
                _ = terminate.recv() => info!("SIGTERM received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The permessage-deflate policy of `rws serve`: no context takeover on
/// the server's side, so that an idle connection holds no compressor (about
/// 47 KiB instead of 418 KiB with 15-bit windows; see the table in the
/// `rws_proto::deflate` docs).
fn serve_deflate() -> DeflateConfig {
    DeflateConfig::default().server_no_context_takeover(true)
}

/// Answers a connection beyond `--max-connections` with 503 (over TLS
/// with --tls-cert).
async fn refuse(
    tcp: TcpStream,
    peer: SocketAddr,
    config: WebSocketConfig,
    tls: Option<TlsAcceptor>,
) {
    let builder = rws::ServerBuilder::new()
        .config(config)
        .on_request(|_| {
            Err(Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many connections\n",
            ))
        })
        .on_http(|_| {
            let mut response = rws::http::Response::new("too many connections\n".into());
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        });
    let refused = match tls {
        Some(acceptor) => builder
            .accept_tls(&acceptor, tcp)
            .await
            .map(|a| http_status(&a)),
        None => builder.accept(tcp).await.map(|a| http_status(&a)),
    };
    match refused {
        Ok(Some(status)) => info!(%peer, "refused: plain HTTP answered with {status}"),
        // Not reached: every upgrade request is rejected.
        Ok(None) => {}
        Err(e) => info!(%peer, "refused: {e}"),
    }
}

/// The status a plain HTTP request was answered with, if it was one.
fn http_status<W>(accepted: &Accepted<W>) -> Option<StatusCode> {
    match accepted {
        Accepted::Http(status) => Some(*status),
        Accepted::WebSocket(_) => None,
    }
}

/// Where an upgrade request goes.
enum Route {
    Echo,
    Chat(String),
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        match path {
            "/echo" => Some(Route::Echo),
            "/chat" => Some(Route::Chat("lobby".to_owned())),
            _ => {
                let room = path.strip_prefix("/chat/")?;
                chat::valid_room(room).then(|| Route::Chat(room.to_owned()))
            }
        }
    }
}

async fn handle(tcp: TcpStream, peer: SocketAddr, shared: Shared, _permit: OwnedSemaphorePermit) {
    let _ = tcp.set_nodelay(true);
    let timeout = shared.config.handshake_timeout;
    let builder = rws::ServerBuilder::new()
        .config(shared.config.clone())
        .on_request(decide)
        .on_http(move |req| {
            let response = page::answer(req);
            info!(%peer, "HTTP {} {} {}", req.method(), req.uri(), response.status());
            response
        });
    let Some(acceptor) = shared.tls.clone() else {
        return match tokio::time::timeout(timeout, starts_with_preface(&tcp)).await {
            Ok(true) => http2::serve(tcp, peer, shared).await,
            Ok(false) => serve(builder.accept(tcp).await, peer, shared).await,
            Err(_) => warn!(%peer, "opening handshake timed out"),
        };
    };
    let tls = match acceptor.accept(tcp, timeout).await {
        Ok(tls) => tls,
        Err(e) => return warn!(%peer, "{e}"),
    };
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        http2::serve(tls, peer, shared).await
    } else {
        serve(builder.accept(tls).await, peer, shared).await
    }
}

/// Whether a plain TCP client starts with HTTP/2's preface (h2c with prior
/// knowledge) rather than an HTTP/1.1 request: it is looked at, not read.
async fn starts_with_preface(tcp: &TcpStream) -> bool {
    let mut start = [0u8; http2::PREFACE.len()];
    loop {
        let n = match tcp.peek(&mut start).await {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n == 0 || start[..n] != http2::PREFACE[..n] {
            return false;
        }
        if n == start.len() {
            return true;
        }
        // A piece of the preface so far (the caller bounds the wait).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The permessage-deflate parameters agreed, for the connection log line.
fn deflate_of<S>(ws: &WebSocket<S>) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.deflate().map(|params| params.response_header())
}

/// Which HTTP version carried a WebSocket, for the connection log line.
fn carried_by<S>(ws: &WebSocket<S>) -> &'static str
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match ws.request().map(|r| r.version()) {
        Some(rws::http::Version::HTTP_2) => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// Accepts the upgrade requests for the endpoints that exist.
fn decide(req: &UpgradeRequest) -> Decision {
    match Route::of(req.path()) {
        Some(Route::Echo) => Ok(Accept::new()),
        Some(Route::Chat(_)) if req.protocols().any(|p| p == "chat") => {
            Ok(Accept::new().protocol("chat"))
        }
        Some(Route::Chat(_)) => Ok(Accept::new()),
        None => Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("no WebSocket endpoint at {}\n", req.path()),
        )),
    }
}

/// Runs an accepted connection on its endpoint.
async fn serve<S>(
    accepted: Result<Accepted<WebSocket<S>>, rws::Error>,
    peer: SocketAddr,
    shared: Shared,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws = match accepted {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(_)) => return,
        Err(e) => return warn!(%peer, "{e}"),
    };
    session(ws, peer, shared).await
}

/// Runs an open WebSocket on its endpoint, whichever HTTP version carried
/// it.
async fn session<S>(ws: WebSocket<S>, peer: SocketAddr, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let path = ws.request().map(|r| r.uri().path()).unwrap_or_default();
    match Route::of(path) {
        Some(Route::Echo) => echo::run(ws, peer, shared.shutdown).await,
        Some(Route::Chat(room)) => chat::run(ws, peer, room, shared).await,
        None => unreachable!("rejected requests do not open a connection"),
    }
}
