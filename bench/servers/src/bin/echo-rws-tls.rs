//! rws over TLS: the echo of echo-rws.rs on the TLS stream that
//! `serve_tls` accepted (the same rustls and provider for every TLS server).
//!
//!   echo-rws-tls ADDR CERT.pem KEY.pem

use rws::{Config, ServerBuilder, WebSocketConfig};
use rws_bench_servers::{is_disconnect, serve_tls, MAX_MESSAGE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let config = WebSocketConfig::default().core(
        Config::default()
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE),
    );
    let echo = move |tls| echo(tls, config.clone());
    serve_tls("echo-rws-tls", echo, |e| match e {
        rws::Error::AbnormalClose => true,
        rws::Error::Io(e) => is_disconnect(e),
        _ => false,
    })
    .await
}

async fn echo(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    config: WebSocketConfig,
) -> Result<(), rws::Error> {
    let mut ws = ServerBuilder::new().config(config).accept(tls).await?;
    while let Some(message) = ws.recv().await {
        ws.feed(message?).await?;
    }
    Ok(())
}
