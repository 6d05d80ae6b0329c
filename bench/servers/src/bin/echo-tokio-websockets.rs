//! tokio-websockets echo server: every text or binary message back, until
//! the peer closes (it answers pings and the close itself).

use futures_util::{SinkExt, StreamExt};
use rws_bench_servers::{accept, is_disconnect, listen, MAX_MESSAGE};
use tokio_websockets::{Config, Error, Limits, ServerBuilder};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = listen().await?;
    loop {
        let tcp = accept(&listener).await;
        tokio::spawn(async move {
            match echo(tcp).await {
                Ok(()) | Err(Error::AlreadyClosed) => {}
                Err(Error::Io(e)) if is_disconnect(&e) => {}
                Err(e) => eprintln!("echo-tokio-websockets: {e}"),
            }
        });
    }
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
