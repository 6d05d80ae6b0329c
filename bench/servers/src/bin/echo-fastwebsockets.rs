//! fastwebsockets echo server, without hyper: the HTTP upgrade is done by
//! hand, then `WebSocket::after_handshake` and a `FragmentCollector` (which
//! reassembles fragmented messages and checks UTF-8), as its README does.

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
use rws_bench_servers::{is_disconnect, serve, upgrade, MAX_MESSAGE};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    serve("echo-fastwebsockets", echo, |e| match e {
        WebSocketError::ConnectionClosed | WebSocketError::UnexpectedEOF => true,
        WebSocketError::IoError(e) => is_disconnect(e),
        _ => false,
    })
    .await
}

async fn echo(mut tcp: tokio::net::TcpStream) -> Result<(), WebSocketError> {
    upgrade(&mut tcp).await?;
    let mut ws = WebSocket::after_handshake(tcp, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(MAX_MESSAGE);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
