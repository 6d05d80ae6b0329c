//! A WebSocket echo server.
//!
//! ```sh
//! cargo run -p rws --example echo_server -- 127.0.0.1:9001
//! ```
//! then connect with `cargo run -p rws --example client -- ws://127.0.0.1:9001`.

use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo server on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let mut ws = match rws::accept(tcp).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("{peer}: handshake failed: {e}"),
            };
            while let Some(message) = ws.recv().await {
                match message {
                    Ok(message) => {
                        if let Err(e) = ws.send(message).await {
                            return eprintln!("{peer}: {e}");
                        }
                    }
                    Err(e) => return eprintln!("{peer}: {e}"),
                }
            }
            if let Some(closed) = ws.closed() {
                println!("{peer}: closed with {}", closed.code);
            }
        });
    }
}
