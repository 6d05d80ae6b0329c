//! tokio-tungstenite over TLS: the echo of echo-tungstenite.rs on the TLS
//! stream that `serve_tls` accepted (the same rustls and provider for every
//! TLS server).
//!
//!   echo-tungstenite-tls ADDR CERT.pem KEY.pem

use futures_util::{future, StreamExt, TryStreamExt};
use rws_bench_servers::{is_disconnect, serve_tls, MAX_MESSAGE};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    serve_tls("echo-tungstenite-tls", echo, |e| match e {
        Error::ConnectionClosed | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            true
        }
        Error::Io(e) => is_disconnect(e),
        _ => false,
    })
    .await
}

async fn echo(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Result<(), Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let ws = tokio_tungstenite::accept_async_with_config(tls, Some(config)).await?;
    let (write, read) = ws.split();
    read.try_filter(|message| future::ready(message.is_text() || message.is_binary()))
        .forward(write)
        .await
}
