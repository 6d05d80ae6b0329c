//! `rws connect`: an interactive (or scripted) WebSocket client on stdin
//! and stdout.

mod backoff;
mod output;

use std::io::{self, IsTerminal};
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use clap::Args;
use rws::deflate::DeflateConfig;
use rws::http::{header, HeaderMap, Response, StatusCode, Uri, Version};
use rws::{
    ClientBuilder, CloseCode, Closed, Config, Error, Event, HandshakeError, Initiator, Message,
    ProtocolError, Proxy, ReadHalf, WebSocket, WebSocketConfig, WriteHalf,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::exit::{Failure, Status};
use crate::keepalive::{parse_secs, KeepaliveArgs};
use crate::tls_args::ClientTlsArgs;
use backoff::Backoff;
use output::{format_message, jsonl};

/// At the end of the input, how long to wait for replies in flight without
/// any arriving, and at most in all, before closing; also how long the
/// close handshake may take once rws decided to close (`--count`, a
/// timeout).
const LINGER_QUIET: Duration = Duration::from_millis(500);
const LINGER_MAX: Duration = Duration::from_secs(5);

const AFTER_HELP: &str = "\
Output:
  Each message received is written to stdout as one line. A text message is
  written as is, except that each newline in it is written as the two
  characters \\n, so that one message is always one line. A binary message is
  written as <binary N bytes: HEX>, HEX being its payload in lowercase hex;
  above 64 bytes only the first 64 are shown, followed by '...'.
  With --jsonl, stdout has one JSON object per line instead, for every
  message and event, each with \"time\" (seconds since 1970, to the
  millisecond) and \"kind\": \"open\" (\"protocol\", \"deflate\"), \"text\"
  (\"text\", \"length\"), \"binary\", \"ping\" and \"pong\" (\"base64\",
  \"length\"), and last \"close\" (\"code\", \"reason\", \"by\": \"server\" or
  \"client\", \"clean\", \"error\").

Closing:
  At the end of the input (stdin, or the --send messages), rws first lets
  replies in flight arrive (data that comes after a close frame is sent is
  discarded): it waits until as many messages came in as it sent, or none
  came for 0.5 s, for at most 5 s. With --count N it waits for the Nth
  message instead (bound it with --timeout). Then it sends a close frame
  (1000) and waits for the server's. The close code and reason are always
  written to stderr.

Exit status:
  0  the close handshake completed with 1000, 1001 or no code, whoever
     closed first (or rws closed with a code given to /close)
  1  another failure (stdin or stdout unusable)
  2  usage error: bad option, URL or file
  3  cannot connect: name resolution, refused, TLS, proxy, handshake timeout
  4  the server refused the handshake: its HTTP status (and Retry-After)
     on stderr
  5  protocol error: the server broke RFC 6455 (or RFC 7692)
  6  the server closed with an error code (neither 1000 nor 1001); the
     code and reason on stderr
  7  the connection ended without a close handshake (1006)
  8  timeout: --timeout, --message-timeout, or an unanswered keepalive ping

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
    /// Send this text as a message instead of reading stdin; repeat to
    /// send several, in order (binary with --binary).
    #[arg(long = "send", value_name = "TEXT")]
    sends: Vec<String>,
    /// Close and exit (0) once N messages have arrived; later ones are not
    /// shown.
    #[arg(long, value_name = "N")]
    count: Option<NonZeroU64>,
    /// Give up after SECS seconds in all, connecting included: close and
    /// exit with 8.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,
    /// Give up when no message arrives for SECS seconds (since the
    /// connection opened, or the last message): close and exit with 8.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    message_timeout: Option<Duration>,
    /// Write every message and event to stdout as one JSON object per line
    /// (see Output below).
    #[arg(long)]
    jsonl: bool,
    /// Connect again when the server closes, the connection drops or
    /// fails, or the server refuses it for now (5xx, 429): after a
    /// jittered wait that doubles from 0.5 s up to 30 s (at least its
    /// Retry-After), back to 0.5 s after a session of 10 s or more. The
    /// --preamble and --send messages are sent again on every connection;
    /// stdin goes on from the next line. Each time is said on stderr.
    #[arg(long)]
    reconnect: bool,
    /// Send each line of FILE as a message first on every connection
    /// (a login, a subscription), before --send or stdin.
    #[arg(long, value_name = "FILE")]
    preamble: Option<std::path::PathBuf>,
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

/// Connects, then runs the session until the connection ends; with
/// `--reconnect`, connects again when the server ended it or it failed.
pub(crate) async fn run(args: ConnectArgs) -> Result<(), Failure> {
    let deadline = args.timeout.map(|timeout| Instant::now() + timeout);
    let usage = |message: String| Failure::new(Status::Usage, message);
    let target = tcp_target(&args.url).map_err(usage)?;
    let proxy = match &args.proxy {
        Some(url) => Some(Proxy::new(url).map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let tls = args.tls.config().map_err(usage)?;
    let preamble = match &args.preamble {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let input = if args.sends.is_empty() {
        Input::Stdin {
            lines: StdinLines::start(),
            interactive: io::stdin().is_terminal(),
        }
    } else {
        Input::Given(args.sends.clone())
    };
    let mut run = Run {
        target,
        proxy,
        tls,
        deadline,
        input,
        preamble,
        received: 0,
    };
    let mut backoff = Backoff::new(RECONNECT_FIRST, RECONNECT_MAX);
    loop {
        let started = Instant::now();
        let outcome = attempt(&args, &mut run).await;
        if !args.reconnect {
            return outcome.map(drop);
        }
        let at_least = match &outcome {
            Ok(Ended { by_server: false }) => return Ok(()),
            Ok(Ended { by_server: true }) => Duration::ZERO,
            Err(failure) => match failure.retry_after {
                Some(after) => {
                    eprintln!("rws: {failure}");
                    after
                }
                None => return outcome.map(drop),
            },
        };
        if started.elapsed() >= RECONNECT_RESET {
            backoff.reset();
        }
        let wait = backoff.next_wait().max(at_least);
        if run.deadline.is_some_and(|at| Instant::now() + wait >= at) {
            return Err(Failure::new(
                Status::Timeout,
                "timed out (--timeout) before reconnecting",
            ));
        }
        eprintln!("rws: reconnecting in {:.1} s", wait.as_secs_f64());
        tokio::time::sleep(wait).await;
    }
}

/// With `--reconnect`: the first wait, the longest, and how long a session
/// must last for the waits to start again from the first.
const RECONNECT_FIRST: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
const RECONNECT_RESET: Duration = Duration::from_secs(10);

/// What lasts from one connection to the next.
struct Run {
    /// The host and port connected to (for messages).
    target: (String, u16),
    proxy: Option<Proxy>,
    tls: Arc<rws::tls::rustls::ClientConfig>,
    /// `--timeout`, as an instant.
    deadline: Option<Instant>,
    input: Input,
    /// `--preamble`'s lines, sent first on every connection.
    preamble: Vec<String>,
    /// Messages received so far, for `--count`.
    received: u64,
}

/// How a session that went well ended.
struct Ended {
    /// The server closed first (a reason to reconnect), not rws.
    by_server: bool,
}

/// One connection and its session.
async fn attempt(args: &ConnectArgs, run: &mut Run) -> Result<Ended, Failure> {
    let (host, port) = (&run.target.0, run.target.1);
    let protocol = Config::default().deflate((!args.no_deflate).then(DeflateConfig::default));
    let protocol = args.keepalive.apply(protocol);
    let config = WebSocketConfig::default().core(protocol);
    let recording = Arc::new(Mutex::new(args.verbose.then(Vec::new)));
    let mut builder = ClientBuilder::new(args.url.clone()).config(config);
    for protocol in &args.protocols {
        builder = builder.protocol(protocol.clone());
    }
    for (name, value) in &args.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    builder = match &run.proxy {
        Some(proxy) => builder.proxy(proxy.clone()),
        None if args.no_proxy => builder,
        None => builder.proxy_from_env(),
    };
    builder = builder.tls_config(run.tls.clone());
    if args.http2 {
        let (ws, response) = within(run.deadline, builder.connect_http2())
            .await?
            .map_err(|e| failed(e, args.verbose, host, port))?;
        if args.verbose {
            eprintln!("* HTTP/2 stream, extended CONNECT (RFC 8441)");
        }
        return session(ws, &response, args, run).await;
    }
    let tap = recording.clone();
    let connected = within(
        run.deadline,
        builder.connect_with(move |stream| Tap {
            inner: stream,
            recording: tap,
        }),
    )
    .await?;
    if let Some(request) = recording
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        show_request(&request);
    }
    let (ws, response) = connected.map_err(|e| failed(e, args.verbose, host, port))?;
    session(ws, &response, args, run).await
}

/// `connecting` within `--timeout`.
async fn within<T>(
    deadline: Option<Instant>,
    connecting: impl std::future::Future<Output = T>,
) -> Result<T, Failure> {
    match deadline {
        None => Ok(connecting.await),
        Some(deadline) => tokio::time::timeout_at(deadline, connecting)
            .await
            .map_err(|_| Failure::new(Status::Timeout, "timed out (--timeout) while connecting")),
    }
}

/// What a failed connection says on stderr, and its exit status.
fn failed(error: Error, verbose: bool, host: &str, port: u16) -> Failure {
    let cannot_connect = |why: String| {
        Failure::new(
            Status::Connect,
            format!("cannot connect to {host}:{port}: {why}"),
        )
        .retryable(Duration::ZERO)
    };
    match error {
        Error::Handshake(HandshakeError::Rejected(response)) => {
            if verbose {
                show_response(response.version(), response.status(), response.headers());
            }
            let mut message = format!("handshake rejected: {}", response.status());
            if let Some(after) = response.headers().get(header::RETRY_AFTER) {
                let after = String::from_utf8_lossy(after.as_bytes());
                message.push_str(&format!(", retry after {after}"));
            }
            let body = String::from_utf8_lossy(response.body());
            let body = body.trim();
            if !body.is_empty() && !body.contains('\n') && body.len() <= 200 {
                message.push_str(&format!(" ({body})"));
            }
            let refused = Failure::new(Status::Refused, message);
            // Worth another try: the server is busy or failing (5xx), too
            // many requests (429), or it timed out waiting (408); not a
            // refusal of the request itself (404, 403...).
            let status = response.status();
            if status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
            {
                refused.retryable(retry_after(response.headers()))
            } else {
                refused
            }
        }
        Error::Handshake(e @ (HandshakeError::Url(_) | HandshakeError::Request(_))) => {
            Failure::new(Status::Usage, e.to_string())
        }
        Error::Handshake(e) => {
            Failure::new(Status::Protocol, format!("bad handshake: {e}")).retryable(Duration::ZERO)
        }
        Error::Io(e) => cannot_connect(e.to_string()),
        Error::HandshakeTimeout => cannot_connect("timed out".to_owned()),
        // Their messages name the server or the proxy already.
        e @ (Error::Tls(_) | Error::Proxy(_)) => {
            Failure::new(Status::Connect, e.to_string()).retryable(Duration::ZERO)
        }
        e => Failure::new(Status::Failure, e.to_string()),
    }
}

/// A `Retry-After` in seconds (RFC 9110 §10.2.3; the HTTP-date form is
/// left to the backoff), or no wait.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |secs| Duration::from_secs(secs.min(3600)))
}

/// What drives a session, from the options.
struct Plan {
    binary: bool,
    verbose: bool,
    jsonl: bool,
    count: Option<u64>,
    timeout: Option<Duration>,
    /// `--timeout`, as an instant.
    deadline: Option<Instant>,
    message_timeout: Option<Duration>,
}

/// Runs the session on an open WebSocket until the connection ends.
async fn session<S>(
    ws: WebSocket<S>,
    response: &Response<()>,
    args: &ConnectArgs,
    run: &mut Run,
) -> Result<Ended, Failure>
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
    let plan = Plan {
        binary: args.binary,
        verbose: args.verbose,
        jsonl: args.jsonl,
        count: args.count.map(NonZeroU64::get),
        timeout: args.timeout,
        deadline: run.deadline,
        message_timeout: args.message_timeout,
    };
    let mut stdout = tokio::io::stdout();
    if plan.jsonl {
        let deflate = ws.deflate().map(|params| params.response_header());
        let line = jsonl::open(ws.protocol(), deflate);
        write_line(&mut stdout, line).await?;
    }
    let (read, write) = ws.split();
    let (received_tx, received_rx) = watch::channel(0);
    let (stop_tx, stop_rx) = watch::channel(false);
    // `/ping`s waiting for their pong: only those pongs are shown without
    // -v (the library's keepalive pings have pongs too).
    let pings = Arc::new(AtomicUsize::new(0));
    let sender = Sender {
        binary: plan.binary,
        // With --count, or --send and --reconnect (subscribe, then listen),
        // the end of the input is not the end of the session.
        wait_at_end: plan.count.is_some() || (args.reconnect && !args.sends.is_empty()),
        received: received_rx,
        stop: stop_rx,
        pings: pings.clone(),
    };
    let input = tokio::spawn(send_input(
        write,
        run.preamble.clone(),
        run.input.clone(),
        sender,
    ));
    let outcome = receive(
        read,
        &plan,
        &mut run.received,
        stdout,
        received_tx,
        stop_tx,
        &pings,
    )
    .await;
    // stdin may still be open (the server closed first): the sender is
    // stopped, and the line reader waits for the next session (or main
    // does not wait for it).
    let input_error = if input.is_finished() {
        input.await.ok().and_then(Result::err)
    } else {
        input.abort();
        None
    };
    let ended = outcome?;
    input_error.map_or(Ok(ended), |e| Err(Failure::new(Status::Failure, e)))
}

/// Writes one line to stdout.
async fn write_line(stdout: &mut tokio::io::Stdout, mut line: String) -> Result<(), Failure> {
    line.push('\n');
    let written = async {
        stdout.write_all(line.as_bytes()).await?;
        stdout.flush().await
    };
    written
        .await
        .map_err(|e| Failure::new(Status::Failure, format!("cannot write to stdout: {e}")))
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

/// Where the messages to send come from.
#[derive(Clone)]
enum Input {
    /// stdin, a line per message; slash commands on a terminal.
    Stdin {
        lines: StdinLines,
        interactive: bool,
    },
    /// `--send`, in order (again on every connection).
    Given(Vec<String>),
}

/// The lines of stdin, read by a task of their own so that they outlast
/// a connection: with `--reconnect`, the next session goes on from the
/// next line.
#[derive(Clone)]
struct StdinLines(Arc<tokio::sync::Mutex<Lines>>);

struct Lines {
    read: mpsc::Receiver<io::Result<String>>,
    /// A line taken for a connection that ended before the line was sent:
    /// the next connection sends it first.
    unsent: Option<String>,
}

impl StdinLines {
    fn start() -> StdinLines {
        // One line ahead at most: stdin is read as fast as it is sent.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            loop {
                let line = match lines.next_line().await {
                    Ok(Some(line)) => Ok(line),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let failed = line.is_err();
                if tx.send(line).await.is_err() || failed {
                    return;
                }
            }
        });
        StdinLines(Arc::new(tokio::sync::Mutex::new(Lines {
            read: rx,
            unsent: None,
        })))
    }
}

/// What the sending task needs besides its input.
struct Sender {
    binary: bool,
    /// At the end of the input, wait for the receiver to stop the session
    /// rather than lingering and closing.
    wait_at_end: bool,
    /// How many messages arrived so far.
    received: watch::Receiver<u64>,
    /// Set when the receiver decided the session is over (`--count`
    /// reached, a timeout): close now.
    stop: watch::Receiver<bool>,
    pings: Arc<AtomicUsize>,
}

impl Sender {
    fn message(&self, line: String) -> Message {
        if self.binary {
            Message::binary(line.into_bytes())
        } else {
            Message::text(line)
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Sends the preamble and the input, a message each, then closes (see the
/// `Closing` section of `--help`).
async fn send_input<S>(
    mut write: WriteHalf<S>,
    preamble: Vec<String>,
    input: Input,
    mut sender: Sender,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut sent = 0u64;
    let (given, stdin) = match input {
        Input::Given(texts) => (texts, None),
        Input::Stdin { lines, interactive } => (Vec::new(), Some((lines, interactive))),
    };
    for text in preamble.into_iter().chain(given) {
        if sender.stopped() {
            break;
        }
        if write.send(sender.message(text)).await.is_err() {
            // The connection is over; the read half says why.
            return Ok(());
        }
        sent += 1;
    }
    if let Some((lines, interactive)) = stdin {
        let mut lines = lines.0.lock().await;
        loop {
            // `recv` is cancel-safe: a line is either returned or still
            // queued, for this session or the next.
            let line = match lines.unsent.take() {
                Some(line) => Some(Ok(line)),
                None => tokio::select! {
                    biased;
                    _ = sender.stop.wait_for(|stop| *stop) => break,
                    line = lines.read.recv() => line,
                },
            };
            let line = match line {
                Some(Ok(line)) => line,
                None => break,
                Some(Err(e)) => {
                    let _ = write.close(CloseCode::NORMAL, "").await;
                    return Err(format!("cannot read stdin: {e}"));
                }
            };
            let line = if interactive && line.starts_with('/') {
                match command(&mut write, &line, &sender.pings).await {
                    Command::Handled => continue,
                    Command::Closed => return Ok(()),
                    Command::Send(text) => text,
                }
            } else {
                line
            };
            // Kept until sent: a connection that ends meanwhile (the send
            // fails, or this task is stopped) leaves it to the next.
            lines.unsent = Some(line.clone());
            if write.send(sender.message(line)).await.is_err() {
                return Ok(());
            }
            lines.unsent = None;
            sent += 1;
        }
    }
    if sender.wait_at_end {
        // Until the receiver has its messages or gives up; an error means
        // it is gone, and the connection with it.
        let _ = sender.stop.wait_for(|stop| *stop).await;
    } else {
        linger(&mut sender, sent).await;
    }
    // A failure here means the connection is already closing or closed,
    // which the read half reports.
    let _ = write.close(CloseCode::NORMAL, "").await;
    Ok(())
}

/// Waits for the replies to `sent` messages (see `LINGER_QUIET` and
/// `LINGER_MAX`), or for the receiver to stop the session.
async fn linger(sender: &mut Sender, sent: u64) {
    let deadline = Instant::now() + LINGER_MAX;
    while *sender.received.borrow_and_update() < sent && !sender.stopped() {
        let wait = deadline.min(Instant::now() + LINGER_QUIET);
        let next = async {
            tokio::select! {
                changed = sender.received.changed() => changed.is_ok(),
                _ = sender.stop.changed() => true,
            }
        };
        match tokio::time::timeout_at(wait, next).await {
            // A message arrived, or a stop: look again.
            Ok(true) => {}
            // Quiet for long enough, out of time, or the connection ended.
            Err(_) | Ok(false) => break,
        }
    }
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

/// Why rws decided to end the session before the server did.
#[derive(Clone, Copy)]
enum Ending {
    /// `--count` messages arrived.
    Counted,
    /// `--timeout` passed.
    SessionTimeout(Duration),
    /// `--message-timeout` passed with no message.
    MessageTimeout(Duration),
}

/// Shows every message (stdout) and event until the connection ends, and
/// judges how it ended.
async fn receive<S>(
    mut read: ReadHalf<S>,
    plan: &Plan,
    count: &mut u64,
    mut stdout: tokio::io::Stdout,
    received: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    pings: &AtomicUsize,
) -> Result<Ended, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut failure = None;
    let mut closed = None;
    let mut last_message = Instant::now();
    let mut ending: Option<Ending> = None;
    // Once rws decided to end: by when the close handshake must be done.
    let mut closing_by: Option<Instant> = None;
    let end = |why: Ending, ending: &mut Option<Ending>, closing_by: &mut Option<Instant>| {
        ending.get_or_insert(why);
        closing_by.get_or_insert(Instant::now() + LINGER_MAX);
        let _ = stop.send(true);
    };
    loop {
        let due = match closing_by {
            Some(by) => Some((by, None)),
            None => {
                let session = plan
                    .deadline
                    .zip(plan.timeout)
                    .map(|(at, t)| (at, Some(Ending::SessionTimeout(t))));
                let quiet = plan
                    .message_timeout
                    .map(|t| (last_message + t, Some(Ending::MessageTimeout(t))));
                match (session, quiet) {
                    (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                    (a, b) => a.or(b),
                }
            }
        };
        let event = match due {
            None => read.recv_event().await,
            // `recv_event` is cancel-safe.
            Some((at, why)) => tokio::select! {
                event = read.recv_event() => event,
                _ = tokio::time::sleep_until(at) => match why {
                    Some(why) => {
                        end(why, &mut ending, &mut closing_by);
                        continue;
                    }
                    // The close handshake took too long: give up on it.
                    None => break,
                },
            },
        };
        let Some(event) = event else { break };
        match event {
            Ok(Event::Message(message)) => {
                if plan.count.is_some_and(|n| *count >= n) {
                    // Past --count: not shown.
                    continue;
                }
                let line = if plan.jsonl {
                    jsonl::message(&message)
                } else {
                    format_message(&message)
                };
                write_line(&mut stdout, line).await?;
                *count += 1;
                last_message = Instant::now();
                received.send_modify(|n| *n += 1);
                if plan.count == Some(*count) {
                    end(Ending::Counted, &mut ending, &mut closing_by);
                }
            }
            Ok(Event::Pong(data)) => {
                let asked = pings
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok();
                if plan.jsonl {
                    write_line(&mut stdout, jsonl::control("pong", &data)).await?;
                }
                if asked || plan.verbose {
                    eprintln!("< pong {}", String::from_utf8_lossy(&data));
                }
            }
            Ok(Event::Ping(data)) => {
                if plan.jsonl {
                    write_line(&mut stdout, jsonl::control("ping", &data)).await?;
                }
                if plan.verbose {
                    eprintln!("< ping {}", String::from_utf8_lossy(&data));
                }
            }
            Ok(Event::CloseReceived(frame)) if plan.verbose => match frame {
                Some(frame) => eprintln!("< close {} {:?}", frame.code, frame.reason.as_str()),
                None => eprintln!("< close (no code)"),
            },
            Ok(Event::Closed(c)) => {
                if plan.jsonl {
                    write_line(&mut stdout, jsonl::close(&c)).await?;
                }
                closed = Some(c);
            }
            Ok(_) => {}
            Err(e) => {
                failure.get_or_insert_with(|| describe(&e));
            }
        }
    }
    let timed_out = match ending {
        Some(Ending::SessionTimeout(t)) => {
            Some(format!("timed out after {} s (--timeout)", t.as_secs_f64()))
        }
        Some(Ending::MessageTimeout(t)) => Some(format!(
            "timed out: no message for {} s (--message-timeout)",
            t.as_secs_f64()
        )),
        Some(Ending::Counted) | None => None,
    };
    let outcome = match (timed_out, failure, &closed) {
        (Some(why), _, _) => Err(Failure::new(Status::Timeout, why)),
        (None, Some(failure), _) => Err(failure),
        (None, None, None) => Err(describe(&Error::AbnormalClose)),
        (None, None, Some(closed)) => judge(closed).map(|()| Ended {
            by_server: closed.initiator == Initiator::Remote,
        }),
    };
    // The close code on stderr: here when the session ended well or timed
    // out; a failure's own line has it.
    if let Some(closed) = &closed {
        if outcome
            .as_ref()
            .map_or_else(|f| f.status == Status::Timeout, |_| true)
        {
            eprintln!("rws: {}", announce(closed));
        }
    }
    outcome
}

/// The line on stderr that says how the connection closed.
fn announce(closed: &Closed) -> String {
    let by = match closed.initiator {
        Initiator::Local => "rws",
        Initiator::Remote => "the server",
    };
    let mut line = format!("closed by {by}: {}", closed.code);
    if !closed.reason.as_str().is_empty() {
        line.push_str(&format!(" {:?}", closed.reason.as_str()));
    }
    line
}

/// Whether a closed connection ended well, and if not its exit status.
fn judge(closed: &Closed) -> Result<(), Failure> {
    if let Some(error) = &closed.error {
        return Err(protocol_failure(error));
    }
    if !closed.clean {
        return Err(Failure::new(
            Status::Dropped,
            format!(
                "connection ended without a close handshake ({})",
                closed.code
            ),
        )
        .retryable(Duration::ZERO));
    }
    let normal = matches!(
        closed.code,
        CloseCode::NORMAL | CloseCode::GOING_AWAY | CloseCode::NO_STATUS
    );
    if normal || closed.initiator == Initiator::Local {
        return Ok(());
    }
    let mut message = format!("server closed the connection: {}", closed.code);
    if !closed.reason.as_str().is_empty() {
        message.push_str(&format!(" {:?}", closed.reason.as_str()));
    }
    Err(Failure::new(Status::PeerError, message).retryable(Duration::ZERO))
}

fn protocol_failure(error: &ProtocolError) -> Failure {
    let status = match error {
        ProtocolError::KeepaliveTimeout => Status::Timeout,
        _ => Status::Protocol,
    };
    Failure::new(
        status,
        format!(
            "protocol error: {error} (closed with {})",
            error.close_code()
        ),
    )
}

fn describe(error: &Error) -> Failure {
    match error {
        Error::AbnormalClose => Failure::new(
            Status::Dropped,
            "the connection ended without a close handshake (1006)",
        )
        .retryable(Duration::ZERO),
        Error::Io(e) => {
            Failure::new(Status::Dropped, format!("connection lost: {e}")).retryable(Duration::ZERO)
        }
        Error::Protocol(e) => protocol_failure(e),
        Error::Closed(closed) => judge(closed)
            .err()
            .unwrap_or_else(|| Failure::new(Status::PeerError, format!("closed: {}", closed.code))),
        e => Failure::new(Status::Failure, e.to_string()),
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
