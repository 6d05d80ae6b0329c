//! A WebSocket client: sends each line of stdin as a text message and
//! prints what comes back.
//!
//! ```sh
//! cargo run -p rws --example client -- ws://127.0.0.1:9001/echo
//! ```

use rws::{CloseCode, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), rws::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/echo".into());
    let (ws, _) = rws::connect(&url).await?;
    let (mut read, mut write) = ws.split();
    let printer = tokio::spawn(async move {
        while let Some(message) = read.recv().await {
            match message {
                Ok(Message::Text(text)) => println!("{text}"),
                Ok(Message::Binary(data)) => println!("<{} bytes of binary>", data.len()),
                Err(e) => return eprintln!("error: {e}"),
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        write.send(Message::text(line)).await?;
    }
    write.close(CloseCode::NORMAL, "bye").await?;
    let _ = printer.await;
    Ok(())
}
