//! yawc echo server, without hyper's server. The request head is read by hand,
//! and not one byte past it. yawc's own `WebSocket::upgrade_with_options`
//! answers it from an `http::Request` built from the head's WebSocket headers:
//! it checks the version, computes the accept key and settles permessage-deflate
//! from the client's offer. Its `UpgradeFut`, which waits for hyper, is dropped.
//! `WebSocket::from_stream_with_extensions` then wraps the TcpStream with the
//! extension the response agreed to. The echo loop is the one from yawc's docs:
//! `next_frame` (fragments reassembled, text checked for UTF-8, pings and the
//! close answered by yawc), then `send` back.
//!
//! Needs `rws_bench_servers::read_upgrade_head` to be `pub` (in lib.rs).

use std::io;

use futures_util::SinkExt;
use rws_bench_servers::{is_disconnect, read_upgrade_head, serve, MAX_MESSAGE};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use yawc::{CompressionLevel, HttpWebSocket, OpCode, Options, Role, WebSocket, WebSocketError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let options = options();
    let echo = move |tcp| echo(tcp, options.clone());
    serve("echo-yawc", echo, |e| match e {
        WebSocketError::ConnectionClosed => true,
        WebSocketError::IoError(e) => is_disconnect(e) || is_truncated(e),
        _ => false,
    })
    .await
}

/// yawc's limits are exclusive (a frame or message whose size *reaches* the
/// limit is refused with 1009), and its default frame limit is exactly 1 MiB,
/// so a 1 MiB message would be refused: hence `MAX_MESSAGE + 1`, the same
/// 64 MiB as the other servers. UTF-8 checking is off by default in yawc; the
/// other servers check it. permessage-deflate at rws's defaults (level 6,
/// messages under 64 bytes sent plain, windows of 15 bits), used when the
/// client offers it (`rws bench --deflate`). Without the client window
/// set, yawc answers a bare `client_max_window_bits` offer with 9 bits, and
/// the client's messages would be compressed otherwise than for rws.
fn options() -> Options {
    Options::default()
        .with_limits(MAX_MESSAGE + 1, MAX_MESSAGE + 1)
        .with_utf8()
        .with_compression_level(CompressionLevel::new(6))
        .with_compression_threshold(64)
        .with_client_max_window_bits(15)
}

async fn echo(mut tcp: TcpStream, options: Options) -> Result<(), WebSocketError> {
    // Boxed, so that the handshake's state does not stay in the connection's task.
    let extensions = Box::pin(handshake(&mut tcp, &options)).await?;
    let mut ws =
        WebSocket::from_stream_with_extensions(tcp, Role::Server, extensions.as_deref(), options)?;
    loop {
        // Whole messages. Pings come back here after yawc has queued their pong.
        // A close comes back after yawc has queued its echo. The next call then
        // flushes that echo and returns `ConnectionClosed`.
        let frame = ws.next_frame().await?;
        match frame.opcode() {
            OpCode::Text | OpCode::Binary => ws.send(frame).await?,
            _ => {}
        }
    }
}

/// Answers the upgrade request with 101. Returns the `Sec-WebSocket-Extensions`
/// value of the answer, if any.
async fn handshake(
    tcp: &mut TcpStream,
    options: &Options,
) -> Result<Option<String>, WebSocketError> {
    let head = read_upgrade_head(tcp).await?;
    let request = upgrade_request(&head)?;
    let (response, upgrade) = HttpWebSocket::upgrade_with_options(request, options.clone())?;
    // It waits for a hyper upgrade that will never come (the request has no
    // `OnUpgrade` extension). Drop it before the next await.
    drop(upgrade);
    let extensions = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut out = Vec::with_capacity(256);
    rws::proto::handshake::encode_response(&response.map(|_| ()), &mut out);
    tcp.write_all(&out).await?;
    Ok(extensions)
}

/// A request that carries only the headers `upgrade_with_options` reads:
/// `Sec-WebSocket-Key`, `-Version` and `-Extensions`. It does not look at the
/// method, the URI, `Upgrade` or `Connection`.
fn upgrade_request(head: &[u8]) -> io::Result<http::Request<()>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("bad request head")),
    }
    let mut request = http::Request::new(());
    for header in parsed.headers.iter() {
        let name = if header.name.eq_ignore_ascii_case("sec-websocket-key") {
            http::header::SEC_WEBSOCKET_KEY
        } else if header.name.eq_ignore_ascii_case("sec-websocket-version") {
            http::header::SEC_WEBSOCKET_VERSION
        } else if header.name.eq_ignore_ascii_case("sec-websocket-extensions") {
            http::header::SEC_WEBSOCKET_EXTENSIONS
        } else {
            continue;
        };
        let value = http::HeaderValue::from_bytes(header.value.trim_ascii())
            .map_err(|_| invalid("bad header value"))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

/// A peer that went away mid-frame: yawc's decoder has no `decode_eof`, so
/// tokio-util's `Framed` reports it as an `Other` error, "bytes remaining on
/// stream". For this server that is the same as a reset.
fn is_truncated(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string() == "bytes remaining on stream"
}
