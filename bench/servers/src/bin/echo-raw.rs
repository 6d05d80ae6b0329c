//! The raw-TCP ceiling: after the HTTP upgrade, every byte read is written
//! back as it is (masked client frames included; the load generator counts
//! them), through one 1 MiB buffer per connection, allocated when its first
//! bytes arrive (so that idle connections stay small). No framing, no
//! allocation per read.

use rws_bench_servers::{is_disconnect, serve, upgrade};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    serve("echo-raw", echo, is_disconnect).await
}

async fn echo(mut tcp: tokio::net::TcpStream) -> std::io::Result<()> {
    upgrade(&mut tcp).await?;
    tcp.readable().await?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        tcp.write_all(&buf[..n]).await?;
    }
}
