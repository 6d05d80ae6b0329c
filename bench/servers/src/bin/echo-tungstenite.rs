//! tokio-tungstenite echo server: every text or binary message back, until
//! the peer closes (tungstenite answers pings and the close itself).

use futures_util::{SinkExt, StreamExt};
use rws_bench_servers::{accept, listen, MAX_MESSAGE};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = listen().await?;
    loop {
        let tcp = accept(&listener).await;
        tokio::spawn(async move {
            match echo(tcp).await {
                Ok(()) | Err(Error::ConnectionClosed) => {}
                Err(e) => eprintln!("echo-tungstenite: {e}"),
            }
        });
    }
}

async fn echo(tcp: tokio::net::TcpStream) -> Result<(), Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
