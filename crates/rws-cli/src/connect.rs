//! `rws connect`: an interactive (or scripted) WebSocket client on stdin
//! and stdout.

use std::io::{self, IsTerminal};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use clap::Args;
use rws::deflate::DeflateConfig;
use rws::http::{HeaderMap, Response, StatusCode, Uri, Version};
use rws::{
    ClientBuilder, CloseCode, Closed, Config, Error, Event, HandshakeError, Initiator, Message,
    Proxy, ReadHalf, WebSocket, WebSocketConfig, WriteHalf,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::keepalive::KeepaliveArgs;
use crate::tls_args::ClientTlsArgs;

/// At the end of stdin, how long to wait for replies in flight without
/// any arriving, and at most in all, before closing.
const LINGER_QUIET: Duration = Duration::from_millis(500);
const LINGER_MAX: Duration = Duration::from_secs(5);

/// Binary payloads longer than this are shown cut, followed by `...`.
const HEX_SHOWN: usize = 64;

const AFTER_HELP: &str = "\
Output:
  Each message received is written to stdout as one line. A text message is
  written as is, except that each newline in it is written as the two
  characters \\n, so that one message is always one line. A binary message is
  written as <binary N bytes: HEX>, HEX being its payload in lowercase hex;
  above 64 bytes only the first 64 are shown, followed by '...'.

Closing:
  At the end of stdin, rws first lets replies in flight arrive (data that
  comes after a close frame is sent is discarded): it waits until as many
  messages came in as it sent, or none came for 0.5 s, for at most 5 s. Then
  it sends a close frame (1000), waits for the server's and exits with 0.
  If the server closes first with 1000 (or with no code), rws exits with 0
  too. If it closes with another code, or the connection fails (refused,
  handshake rejected, protocol error, no close handshake), rws says why in
  one line on stderr and exits with 1.

Commands (only when stdin is a terminal; otherwise every line is a message):
  /ping [data]              send a ping; its pong is shown on stderr
  /close [code [reason]]    close the connection with this code (default 1000)
  /help                     list the commands
  //text                    send the message /text";

/// Options of `rws connect`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ConnectArgs {
    /// The WebSocket URL, such as ws://127.0.0.1:9001/echo or
    /// wss://example.com/feed.
    url: String,
    /// Send each line as a binary message instead of a text message.
    #[arg(long)]
    binary: bool,
    /// Offer a subprotocol; repeat to offer several, in order of preference.
    #[arg(long = "protocol", value_name = "P")]
    protocols: Vec<String>,
    /// Add a header field, given as 'Name: value', to the handshake
    /// request; repeatable.
    #[arg(long = "header", value_name = "HEADER", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Do not offer permessage-deflate (RFC 7692), which is offered by default.
    #[arg(long)]
    no_deflate: bool,
    /// Show the handshake request (`> `) and response (`< `), the agreed
    /// extensions, pings and close frames on stderr.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    keepalive: KeepaliveArgs,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Connect through this proxy: http://[user:password@]host[:port]
    /// (HTTP CONNECT), socks5://… or socks5h://… (SOCKS5; socks5h lets the
    /// proxy resolve the name). Without it, the proxy comes from the
    /// environment as curl reads it: https_proxy (wss://), http_proxy
    /// (ws://), all_proxy, no_proxy.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Connect directly, ignoring the proxy variables of the environment.
    #[arg(long)]
    no_proxy: bool,
    /// Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441):
    /// ALPN h2 for wss://, HTTP/2 with prior knowledge (h2c) for ws://.
    /// The server must allow it (SETTINGS_ENABLE_CONNECT_PROTOCOL).
    #[arg(long)]
    http2: bool,
}

fn parse_header(arg: &str) -> Result<(String, String), String> {
    match arg.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        Some(_) => Err(format!("{arg:?} has an empty header name")),
        None => Err(format!("{arg:?} is not of the form 'Name: value'")),
    }
}

/// Connects, then runs the session until the connection ends.
pub(crate) async fn run(args: ConnectArgs) -> Result<(), String> {
    let protocol = Config::default().deflate((!args.no_deflate).then(DeflateConfig::default));
    let protocol = args.keepalive.apply(protocol);
    let config = WebSocketConfig::default().core(protocol);
    let (host, port) = tcp_target(&args.url)?;
    let recording = Arc::new(Mutex::new(args.verbose.then(Vec::new)));
    let mut builder = ClientBuilder::new(args.url.clone()).config(config);
    for protocol in &args.protocols {
        builder = builder.protocol(protocol.clone());
    }
    for (name, value) in &args.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    builder = match &args.proxy {
        Some(url) => builder.proxy(Proxy::new(url).map_err(|e| e.to_string())?),
        None if args.no_proxy => builder,
        None => builder.proxy_from_env(),
    };
    builder = builder.tls_config(args.tls.config()?);
    if args.http2 {
        let (ws, response) = builder
            .connect_http2()
            .await
            .map_err(|e| failed(e, args.verbose, &host, port))?;
        if args.verbose {
            eprintln!("* HTTP/2 stream, extended CONNECT (RFC 8441)");
        }
        return session(ws, &response, &args).await;
    }
    let tap = recording.clone();
    let connected = builder
        .connect_with(move |stream| Tap {
            inner: stream,
            recording: tap,
        })
        .await;
    if let Some(request) = recording
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        show_request(&request);
    }
    let (ws, response) = connected.map_err(|e| failed(e, args.verbose, &host, port))?;
    session(ws, &response, &args).await
}

/// What a failed connection says on stderr.
fn failed(error: Error, verbose: bool, host: &str, port: u16) -> String {
    match error {
        Error::Handshake(HandshakeError::Rejected(response)) => {
            if verbose {
                show_response(response.version(), response.status(), response.headers());
            }
            let mut message = format!("handshake rejected: {}", response.status());
            let body = String::from_utf8_lossy(response.body());
            let body = body.trim();
            if !body.is_empty() && !body.contains('\n') && body.len() <= 200 {
                message.push_str(&format!(" ({body})"));
            }
            message
        }
        Error::Io(e) => format!("cannot connect to {host}:{port}: {e}"),
        Error::HandshakeTimeout => format!("cannot connect to {host}:{port}: timed out"),
        e => e.to_string(),
    }
}

/// Runs the session on an open WebSocket until the connection ends.
async fn session<S>(
    ws: WebSocket<S>,
    response: &Response<()>,
    args: &ConnectArgs,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if args.verbose {
        show_response(response.version(), response.status(), response.headers());
        match ws.deflate() {
            Some(params) => eprintln!("* permessage-deflate agreed: {}", params.response_header()),
            None => eprintln!("* permessage-deflate not in use"),
        }
        if let Some(protocol) = ws.protocol() {
            eprintln!("* subprotocol: {protocol}");
        }
    }
    let (read, write) = ws.split();
    let interactive = io::stdin().is_terminal();
    let (received_tx, received_rx) = watch::channel(0);
    // `/ping`s waiting for their pong: only those pongs are shown without
    // -v (the library's keepalive pings have pongs too).
    let pings = Arc::new(AtomicUsize::new(0));
    let input = tokio::spawn(send_stdin(
        write,
        args.binary,
        interactive,
        received_rx,
        pings.clone(),
    ));
    let outcome = receive(read, args.verbose, received_tx, &pings).await;
    // stdin may still be open (the server closed first); its reader is
    // left behind, and main does not wait for it.
    let input_error = if input.is_finished() {
        input.await.ok().and_then(Result::err)
    } else {
        input.abort();
        None
    };
    outcome?;
    input_error.map_or(Ok(()), Err)
}

/// The host and port of a `ws://` or `wss://` URL.
fn tcp_target(url: &str) -> Result<(String, u16), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("bad WebSocket URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("ws" | "http" | "wss" | "https") => {}
        Some(scheme) => return Err(format!("{scheme}:// is not supported; use ws:// or wss://")),
        None => {
            return Err(format!(
                "bad WebSocket URL {url:?}: use ws://host[:port]/path"
            ))
        }
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("bad WebSocket URL {url:?}: no host"))?;
    let host = host.trim_matches(['[', ']']).to_owned();
    let tls = matches!(uri.scheme_str(), Some("wss" | "https"));
    Ok((host, uri.port_u16().unwrap_or(if tls { 443 } else { 80 })))
}

fn show_request(raw: &[u8]) {
    let text = String::from_utf8_lossy(raw);
    for line in text.split("\r\n").take_while(|line| !line.is_empty()) {
        eprintln!("> {line}");
    }
}

fn show_response(version: Version, status: StatusCode, headers: &HeaderMap) {
    eprintln!("< {version:?} {status}");
    for (name, value) in headers {
        eprintln!("< {name}: {}", String::from_utf8_lossy(value.as_bytes()));
    }
}

/// Reads stdin line by line and sends each line; closes at the end.
async fn send_stdin<S>(
    mut write: WriteHalf<S>,
    binary: bool,
    interactive: bool,
    mut received: watch::Receiver<u64>,
    pings: Arc<AtomicUsize>,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0u64;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                let _ = write.close(CloseCode::NORMAL, "").await;
                return Err(format!("cannot read stdin: {e}"));
            }
        };
        let line = if interactive && line.starts_with('/') {
            match command(&mut write, &line, &pings).await {
                Command::Handled => continue,
                Command::Closed => return Ok(()),
                Command::Send(text) => text,
            }
        } else {
            line
        };
        let message = if binary {
            Message::binary(line.into_bytes())
        } else {
            Message::text(line)
        };
        if write.send(message).await.is_err() {
            // The connection is over; the read half says why.
            return Ok(());
        }
        sent += 1;
    }
    let deadline = Instant::now() + LINGER_MAX;
    while *received.borrow_and_update() < sent {
        let wait = deadline.min(Instant::now() + LINGER_QUIET);
        match tokio::time::timeout_at(wait, received.changed()).await {
            // A message arrived; count again.
            Ok(Ok(())) => {}
            // Quiet for long enough, out of time, or the connection ended.
            Err(_) | Ok(Err(_)) => break,
        }
    }
    // A failure here means the connection is already closing or closed,
    // which the read half reports.
    let _ = write.close(CloseCode::NORMAL, "").await;
    Ok(())
}

/// What became of a slash command.
enum Command {
    /// Done (or refused with a message); read the next line.
    Handled,
    /// A close frame went out; stop reading stdin.
    Closed,
    /// Not a command after all: send this line.
    Send(String),
}

async fn command<S>(write: &mut WriteHalf<S>, line: &str, pings: &AtomicUsize) -> Command
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(escaped) = line.strip_prefix("//") {
        return Command::Send(format!("/{escaped}"));
    }
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    match name {
        "/ping" => {
            if rest.len() > 125 {
                eprintln!("rws: a ping carries at most 125 bytes");
            } else {
                pings.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = write.ping(rest.as_bytes().to_vec()).await {
                    eprintln!("rws: cannot ping: {e}");
                }
            }
            Command::Handled
        }
        "/close" => {
            let rest = rest.trim_start();
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            let code = if code.is_empty() {
                CloseCode::NORMAL
            } else {
                match code.parse::<u16>().map(CloseCode::from) {
                    Ok(code) if code.is_sendable() => code,
                    _ => {
                        eprintln!(
                            "rws: {code:?} is not a close code that can be sent \
                             (1000-1003, 1007-1014, 3000-4999)"
                        );
                        return Command::Handled;
                    }
                }
            };
            if reason.len() > 123 {
                eprintln!("rws: a close reason has at most 123 bytes");
                return Command::Handled;
            }
            match write.close(code, reason).await {
                Ok(()) => Command::Closed,
                Err(e) => {
                    eprintln!("rws: cannot close: {e}");
                    Command::Handled
                }
            }
        }
        "/help" => {
            eprintln!(
                "/ping [data]            send a ping\n\
                 /close [code [reason]]  close the connection (default 1000)\n\
                 //text                  send the message /text\n\
                 end of input (Ctrl-D)   close with 1000 and exit"
            );
            Command::Handled
        }
        _ => {
            eprintln!("rws: unknown command {name}; /help lists them, //text sends /text");
            Command::Handled
        }
    }
}

/// Writes every message to stdout until the connection ends; the error
/// says how it ended when that was not a normal close.
async fn receive<S>(
    mut read: ReadHalf<S>,
    verbose: bool,
    received: watch::Sender<u64>,
    pings: &AtomicUsize,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stdout = tokio::io::stdout();
    let mut failure = None;
    let mut closed = None;
    while let Some(event) = read.recv_event().await {
        match event {
            Ok(Event::Message(message)) => {
                let mut line = format_message(&message);
                line.push('\n');
                let written = async {
                    stdout.write_all(line.as_bytes()).await?;
                    stdout.flush().await
                };
                if let Err(e) = written.await {
                    return Err(format!("cannot write to stdout: {e}"));
                }
                received.send_modify(|n| *n += 1);
            }
            Ok(Event::Pong(data)) => {
                let asked = pings
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok();
                if asked || verbose {
                    eprintln!("< pong {}", String::from_utf8_lossy(&data));
                }
            }
            Ok(Event::Ping(data)) if verbose => {
                eprintln!("< ping {}", String::from_utf8_lossy(&data));
            }
            Ok(Event::CloseReceived(frame)) if verbose => match frame {
                Some(frame) => eprintln!("< close {} {:?}", frame.code, frame.reason.as_str()),
                None => eprintln!("< close (no code)"),
            },
            Ok(Event::Closed(c)) => closed = Some(c),
            Ok(_) => {}
            Err(e) => {
                failure.get_or_insert_with(|| describe(&e));
            }
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    match closed {
        None => Err(Error::AbnormalClose.to_string()),
        Some(closed) => judge(&closed),
    }
}

/// Whether a closed connection ended well.
fn judge(closed: &Closed) -> Result<(), String> {
    if let Some(error) = &closed.error {
        return Err(format!("protocol error: {error}"));
    }
    if !closed.clean {
        return Err(format!(
            "connection ended without a close handshake ({})",
            closed.code
        ));
    }
    let normal = matches!(closed.code, CloseCode::NORMAL | CloseCode::NO_STATUS);
    if normal || closed.initiator == Initiator::Local {
        return Ok(());
    }
    let mut message = format!("server closed the connection: {}", closed.code);
    if !closed.reason.as_str().is_empty() {
        message.push_str(&format!(" {:?}", closed.reason.as_str()));
    }
    Err(message)
}

fn describe(error: &Error) -> String {
    match error {
        Error::AbnormalClose => "the connection ended without a close handshake".to_owned(),
        e => e.to_string(),
    }
}

/// One line of stdout for a message: see the `Output` section of `--help`.
fn format_message(message: &Message) -> String {
    match message {
        Message::Text(text) => text.as_str().replace('\n', "\\n"),
        Message::Binary(data) => {
            let shown = &data[..data.len().min(HEX_SHOWN)];
            let mut hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            if data.len() > HEX_SHOWN {
                hex.push_str("...");
            }
            format!("<binary {} bytes: {hex}>", data.len())
        }
    }
}

/// A stream that keeps a copy of what is written while `recording` holds
/// a buffer: the handshake request, for `--verbose`.
struct Tap<S> {
    inner: S,
    recording: Arc<Mutex<Option<Vec<u8>>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            let mut recording = this
                .recording
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(recording) = recording.as_mut() {
                recording.extend_from_slice(&buf[..n]);
            }
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_each() {
        assert_eq!(format_message(&Message::text("a\nb")), "a\\nb");
        assert_eq!(
            format_message(&Message::binary(vec![0u8, 1, 0xab])),
            "<binary 3 bytes: 0001ab>"
        );
        let long = format_message(&Message::binary(vec![0xffu8; 65]));
        assert_eq!(long, format!("<binary 65 bytes: {}...>", "ff".repeat(64)));
        assert_eq!(
            format_message(&Message::binary(Vec::new())),
            "<binary 0 bytes: >"
        );
    }

    #[test]
    fn headers_need_a_colon() {
        assert_eq!(
            parse_header("x-test: 1"),
            Ok(("x-test".to_owned(), "1".to_owned()))
        );
        assert!(parse_header("x-test").is_err());
        assert!(parse_header(": 1").is_err());
    }
}
