//! tokio-websockets echo server: every text or binary message back, until
//! the peer closes (it answers pings and the close itself).

use futures_util::{SinkExt, StreamExt};
use rws_bench_servers::{is_disconnect, serve, MAX_MESSAGE};
use tokio_websockets::{Config, Error, Limits, ServerBuilder};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    serve("echo-tokio-websockets", echo, |e| match e {
        Error::AlreadyClosed => true,
        Error::Io(e) => is_disconnect(e),
        _ => false,
    })
    .await
}

async fn echo(tcp: tokio::net::TcpStream) -> Result<(), Error> {
    let (_request, mut ws) = ServerBuilder::new()
        .config(Config::default().frame_size(MAX_MESSAGE))
        .limits(Limits::default().max_payload_len(Some(MAX_MESSAGE)))
        .accept(tcp)
        .await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
