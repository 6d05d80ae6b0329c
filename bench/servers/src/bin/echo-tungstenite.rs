//! tokio-tungstenite echo server: every text or binary message back, until
//! the peer closes (tungstenite answers pings and the close itself). The
//! pattern of its own echo example: split, then `forward` the filtered
//! stream into the sink, which flushes only when no message is waiting (as
//! fast as a `next()` → `send()` loop or faster, on this machine).

use futures_util::{future, StreamExt, TryStreamExt};
use rws_bench_servers::{is_disconnect, serve, MAX_MESSAGE};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    serve("echo-tungstenite", echo, |e| match e {
        Error::ConnectionClosed | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            true
        }
        Error::Io(e) => is_disconnect(e),
        _ => false,
    })
    .await
}

async fn echo(tcp: tokio::net::TcpStream) -> Result<(), Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let ws = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await?;
    let (write, read) = ws.split();
    read.try_filter(|message| future::ready(message.is_text() || message.is_binary()))
        .forward(write)
        .await
}
