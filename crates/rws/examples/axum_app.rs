//! An axum 0.8 application with two WebSocket routes, through
//! `rws::extract::WebSocketUpgrade`: `/echo` echoes every message (text as
//! text, binary as binary) and `/chat` relays each line to everyone in the
//! room. permessage-deflate is on offer on both; `axum::serve` speaks
//! HTTP/1.1 and, to clients that start with it (h2c), HTTP/2, whose
//! WebSockets are extended CONNECT streams (RFC 8441).
//!
//! ```sh
//! cargo run --release -p rws --features axum --example axum_app -- 127.0.0.1:3000
//! rws connect ws://127.0.0.1:3000/chat
//! ```

use axum::extract::State;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use rws::extract::WebSocketUpgrade;
use rws::{Message, Upgraded, WebSocket};
use tokio::sync::broadcast;

/// Messages of up to 32 MiB (Autobahn's 9.x cases send 16 MiB).
const MAX_MESSAGE: usize = 32 << 20;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let (room, _) = broadcast::channel::<String>(256);
    let app = Router::new()
        .route("/", get(|| async { "WebSocket routes: /echo, /chat\n" }))
        .route("/echo", any(echo))
        .route("/chat", any(chat))
        .with_state(room);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum_app: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn echo(ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(|mut ws| async move {
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        })
}

async fn chat(ws: WebSocketUpgrade, State(room): State<broadcast::Sender<String>>) -> Response {
    ws.protocols(["chat"])
        .on_upgrade(move |ws| member(ws, room))
}

/// One member of the room: their lines go to everyone, everyone's lines
/// come to them. A member too slow to keep up misses lines (the channel
/// keeps the last 256) and is told how many.
async fn member(ws: WebSocket<Upgraded>, room: broadcast::Sender<String>) {
    let mut lines = room.subscribe();
    let (mut read, mut write) = ws.split();
    let relay = tokio::spawn(async move {
        loop {
            let line = match lines.recv().await {
                Ok(line) => line,
                Err(broadcast::error::RecvError::Lagged(n)) => format!("({n} lines missed)"),
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if write.send(Message::text(line)).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = read.recv().await {
        if let Some(text) = message.as_text() {
            let _ = room.send(text.to_owned());
        }
    }
    relay.abort();
}
