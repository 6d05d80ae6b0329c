//! rws echo server: every message back as it came, until the peer closes.

use rws::deflate::DeflateConfig;
use rws::{Config, ServerBuilder, WebSocketConfig};
use rws_bench_servers::{is_disconnect, serve, MAX_MESSAGE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let config = WebSocketConfig::default().core(
        Config::default()
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE)
            // permessage-deflate when the client offers it (`rws bench
            // --deflate`), at the defaults: level 6, messages under 64
            // bytes sent plain, windows of 15 bits.
            .deflate(Some(DeflateConfig::default())),
    );
    let echo = move |tcp| echo(tcp, config.clone());
    serve("echo-rws", echo, |e| match e {
        rws::Error::AbnormalClose => true,
        rws::Error::Io(e) => is_disconnect(e),
        _ => false,
    })
    .await
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
