//! `rws serve`: an echo server on `/echo`.

use std::net::SocketAddr;

use clap::Args;
use rws::deflate::DeflateConfig;
use rws::http::StatusCode;
use rws::{Accept, Config, Rejection, WebSocketConfig};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

/// Options of `rws serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
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
}

/// Serves until Ctrl-C.
pub async fn run(args: ServeArgs) -> Result<(), String> {
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    info!("listening on ws://{local}/echo");
    let protocol = Config::default()
        .max_message_size(args.max_message_size)
        .max_frame_size(args.max_message_size.min(Config::default().max_frame_size))
        .deflate((!args.no_deflate).then(serve_deflate));
    let config = WebSocketConfig::default().protocol(protocol);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let config = config.clone();
                    tokio::spawn(async move { handle(tcp, peer, config).await });
                }
                Err(e) => warn!("accept failed: {e}"),
            },
            _ = tokio::signal::ctrl_c() => {
                info!("shutting down");
                return Ok(());
            }
        }
    }
}

/// The permessage-deflate policy of `rws serve`: no context takeover on
/// the server's side, so that an idle connection holds no compressor (about
/// 47 KiB instead of 418 KiB with 15-bit windows; see the table in the
/// `rws_proto::deflate` docs).
fn serve_deflate() -> DeflateConfig {
    DeflateConfig::default().server_no_context_takeover(true)
}

async fn handle(tcp: TcpStream, peer: SocketAddr, config: WebSocketConfig) {
    let _ = tcp.set_nodelay(true);
    let accepted = rws::ServerBuilder::new()
        .config(config)
        .on_request(|req| match req.path() {
            "/echo" => Ok(Accept::new()),
            path => Err(Rejection::new(
                StatusCode::NOT_FOUND,
                format!("no WebSocket endpoint at {path}\n"),
            )),
        })
        .accept(tcp)
        .await;
    let mut ws = match accepted {
        Ok(ws) => ws,
        Err(e) => return warn!(%peer, "{e}"),
    };
    info!(%peer, "connected on /echo");
    let mut count = 0u64;
    while let Some(message) = ws.recv().await {
        let sent = match message {
            Ok(message) => ws.send(message).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            return warn!(%peer, messages = count, "connection failed: {e}");
        }
        count += 1;
    }
    match ws.closed() {
        Some(closed) => info!(%peer, messages = count, "closed: {}", closed.code),
        None => info!(%peer, messages = count, "closed"),
    }
}
