//! rws echo server: every message back as it came, until the peer closes.

use rws::deflate::DeflateConfig;
use rws::{Config, ServerBuilder, WebSocketConfig};
use rws_bench_servers::{accept, is_disconnect, listen, MAX_MESSAGE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = listen().await?;
    let config = WebSocketConfig::default().protocol(
        Config::default()
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE)
            // permessage-deflate when the client offers it (`rws bench
            // --deflate`), at the defaults: level 6, messages under 64
            // bytes sent plain, windows of 15 bits.
            .deflate(Some(DeflateConfig::default())),
    );
    loop {
        let tcp = accept(&listener).await;
        let config = config.clone();
        tokio::spawn(async move {
            match echo(tcp, config).await {
                Ok(()) | Err(rws::Error::AbnormalClose) => {}
                Err(rws::Error::Io(e)) if is_disconnect(&e) => {}
                Err(e) => eprintln!("echo-rws: {e}"),
            }
        });
    }
}

async fn echo(tcp: tokio::net::TcpStream, config: WebSocketConfig) -> Result<(), rws::Error> {
    let mut ws = ServerBuilder::new().config(config).accept(tcp).await?;
    // `feed`, not `send`: `recv` writes the queued replies before it waits
    // for input, so replies to messages that arrived together leave in one
    // write (the pattern the rws docs give for request/response loops).
    while let Some(message) = ws.recv().await {
        ws.feed(message?).await?;
    }
    Ok(())
}
