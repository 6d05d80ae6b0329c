//! The echo server that the Autobahn TestSuite tests as a server.
//!
//! Listens on the address given as the first argument (default
//! 127.0.0.1:9002) and echoes every message on any path, text as text and
//! binary as binary.
//!
//! ```sh
//! cargo run --release -p rws --example autobahn_server -- 127.0.0.1:9002
//! ```

use rws::deflate::DeflateConfig;
use rws::{Config, WebSocketConfig};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "autobahn_server: listening on ws://{}",
        listener.local_addr()?
    );
    // Autobahn's 9.x cases send messages of up to 16 MiB; 12.x and 13.x
    // offer permessage-deflate.
    let protocol = Config::default()
        .max_message_size(32 << 20)
        .deflate(Some(DeflateConfig::default()));
    let config = WebSocketConfig::default().core(protocol);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let config = config.clone();
        tokio::spawn(async move {
            let mut ws = match rws::ServerBuilder::new().config(config).accept(tcp).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("handshake failed: {e}"),
            };
            while let Some(message) = ws.recv().await {
                match message {
                    Ok(message) => {
                        if ws.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
    }
}
