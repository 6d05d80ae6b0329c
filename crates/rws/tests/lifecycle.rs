//! The connection lifecycle over loopback, one test body for both
//! adapters and both roles: keepalive pings and the 1011 for a peer that
//! went silent, data as proof of life, the idle timeout, the close
//! timeout. The far end is a raw TCP peer driven by the test (it answers
//! pings or not, as the case needs), so what is on the wire is checked
//! byte for byte against RFC 6455, not against rws.
//!
//! Every raw socket has 10 s timeouts, and every run is bounded by them.
#![cfg(all(feature = "tokio", feature = "blocking"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rws::{CloseCode, Closed, Error, Initiator, Message, ProtocolError, Role, WebSocketConfig};

const LIMIT: Duration = Duration::from_secs(10);
const MS: Duration = Duration::from_millis(1);

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Adapter {
    Tokio,
    Blocking,
}

const ADAPTERS: [Adapter; 2] = [Adapter::Tokio, Adapter::Blocking];
const ROLES: [Role; 2] = [Role::Server, Role::Client];

/// What the endpoint under test does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    /// Echo every message until `recv` ends.
    Echo,
    /// Close at once with 1000, then report.
    Close,
    /// Send a message far larger than the socket buffers to a peer that
    /// does not read, giving up on the send after 200 ms (a write timeout
    /// of the caller's, or a cancelled future), then close with 1000 while
    /// the output is still stuck. The blocking endpoint's caller sets a
    /// 10 s write timeout before the close: the close timeout must still
    /// bound it.
    FloodThenClose,
}

/// Larger than what loopback's socket buffers take on both sides.
const FLOOD: usize = 32 << 20;
/// How long the endpoint tries to send the flood.
const FLOOD_FOR: Duration = Duration::from_millis(200);

/// What the endpoint under test saw.
#[derive(Debug)]
struct Report {
    messages: Vec<Message>,
    /// What `recv` (or `close`) returned as errors, in order.
    errors: Vec<Error>,
    closed: Option<Closed>,
    /// From the opening of the connection (with `FloodThenClose`, from the
    /// call to `close`) to the end of the plan.
    elapsed: Duration,
}

/// Runs the endpoint under test in a thread: `role` over `adapter`,
/// accepting on or connecting to `addr`.
fn endpoint(
    adapter: Adapter,
    role: Role,
    config: WebSocketConfig,
    plan: Plan,
    listener: Option<TcpListener>,
    addr: SocketAddr,
) -> UnderTest {
    let (done, report) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(run_endpoint(adapter, role, config, plan, listener, addr));
    });
    UnderTest { report }
}

/// The endpoint under test, running in its thread.
struct UnderTest {
    report: mpsc::Receiver<Report>,
}

impl UnderTest {
    /// Its report, within a bound (a test whose endpoint never ends fails
    /// instead of hanging).
    fn join(self) -> Result<Report, mpsc::RecvTimeoutError> {
        self.report.recv_timeout(LIMIT)
    }

    /// Whether it has ended, without waiting.
    fn is_finished(&self) -> bool {
        !matches!(self.report.try_recv(), Err(mpsc::TryRecvError::Empty))
    }
}

fn run_endpoint(
    adapter: Adapter,
    role: Role,
    config: WebSocketConfig,
    plan: Plan,
    listener: Option<TcpListener>,
    addr: SocketAddr,
) -> Report {
    match adapter {
        Adapter::Blocking => match role {
            Role::Server => {
                let (tcp, _) = listener.expect("listener").accept().expect("accept");
                let ws = rws::blocking::ServerBuilder::new()
                    .config(config)
                    .accept_tcp(tcp)
                    .expect("server handshake");
                run_blocking(ws, plan, |tcp| tcp)
            }
            Role::Client => {
                let (ws, _) = rws::blocking::ClientBuilder::new(format!("ws://{addr}/"))
                    .config(config)
                    .connect()
                    .expect("client handshake");
                run_blocking(ws, plan, rws::blocking::MaybeTlsStream::tcp)
            }
        },
        Adapter::Tokio => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut ws = match role {
                    Role::Server => {
                        let listener = listener.expect("listener");
                        listener.set_nonblocking(true).expect("nonblocking");
                        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio");
                        let (tcp, _) = listener.accept().await.expect("accept");
                        rws::ServerBuilder::new()
                            .config(config)
                            .accept(tcp)
                            .await
                            .expect("server handshake")
                    }
                    Role::Client => {
                        rws::ClientBuilder::new(format!("ws://{addr}/"))
                            .config(config)
                            .connect_with(plain)
                            .await
                            .expect("client handshake")
                            .0
                    }
                };
                let started = Instant::now();
                let mut report = Report {
                    messages: Vec::new(),
                    errors: Vec::new(),
                    closed: None,
                    elapsed: Duration::ZERO,
                };
                let run = async {
                    match plan {
                        Plan::Echo => {
                            while let Some(item) = ws.recv().await {
                                match item {
                                    Ok(message) => {
                                        report.messages.push(message.clone());
                                        if let Err(e) = ws.send(message).await {
                                            report.errors.push(e);
                                        }
                                    }
                                    Err(e) => report.errors.push(e),
                                }
                            }
                        }
                        Plan::Close => {
                            if let Err(e) = ws.close(CloseCode::NORMAL, "").await {
                                report.errors.push(e);
                            }
                        }
                        Plan::FloodThenClose => {
                            let send = ws.send(vec![0; FLOOD]);
                            match tokio::time::timeout(FLOOD_FOR, send).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => report.errors.push(e),
                                Err(_) => report
                                    .errors
                                    .push(Error::Io(std::io::ErrorKind::TimedOut.into())),
                            }
                            let closing = Instant::now();
                            if let Err(e) = ws.close(CloseCode::NORMAL, "").await {
                                report.errors.push(e);
                            }
                            report.elapsed = closing.elapsed();
                        }
                    }
                };
                tokio::time::timeout(LIMIT, run).await.expect("bounded");
                if plan != Plan::FloodThenClose {
                    report.elapsed = started.elapsed();
                }
                report.closed = ws.closed().cloned();
                report
            })
        }
    }
}

/// The plan on a blocking connection; `tcp` reaches its socket (for the
/// caller's timeouts).
fn run_blocking<S: Read + Write>(
    mut ws: rws::blocking::WebSocket<S>,
    plan: Plan,
    tcp: fn(&S) -> &TcpStream,
) -> Report {
    let started = Instant::now();
    let mut report = Report {
        messages: Vec::new(),
        errors: Vec::new(),
        closed: None,
        elapsed: Duration::ZERO,
    };
    match plan {
        Plan::Echo => {
            while let Some(item) = ws.recv() {
                match item {
                    Ok(message) => {
                        report.messages.push(message.clone());
                        if let Err(e) = ws.send(message) {
                            report.errors.push(e);
                        }
                    }
                    Err(e) => report.errors.push(e),
                }
            }
        }
        Plan::Close => {
            if let Err(e) = ws.close(CloseCode::NORMAL, "") {
                report.errors.push(e);
            }
        }
        Plan::FloodThenClose => {
            tcp(ws.get_ref())
                .set_write_timeout(Some(FLOOD_FOR))
                .expect("timeout");
            if let Err(e) = ws.send(vec![0; FLOOD]) {
                report.errors.push(e);
            }
            let long = Some(Duration::from_secs(10));
            tcp(ws.get_ref()).set_write_timeout(long).expect("timeout");
            let closing = Instant::now();
            if let Err(e) = ws.close(CloseCode::NORMAL, "") {
                report.errors.push(e);
            }
            report.elapsed = closing.elapsed();
        }
    }
    if plan != Plan::FloodThenClose {
        report.elapsed = started.elapsed();
    }
    report.closed = ws.closed().cloned();
    report
}

/// The TCP stream of a `ws://` connection, so that both roles have one
/// type.
fn plain(stream: rws::MaybeTlsStream) -> tokio::net::TcpStream {
    match stream {
        rws::MaybeTlsStream::Plain(tcp) => tcp,
        other => panic!("ws:// opened {other:?}"),
    }
}

/// The far end, raw: it speaks RFC 6455 by hand.
struct Peer {
    tcp: TcpStream,
    /// The role of the endpoint under test; the peer has the other.
    role: Role,
    buf: Vec<u8>,
}

/// A frame as the peer reads it: first byte, unmasked payload, masked.
#[derive(Debug)]
struct Frame {
    b0: u8,
    payload: Vec<u8>,
    masked: bool,
}

impl Frame {
    fn opcode(&self) -> u8 {
        self.b0 & 0x0f
    }

    fn close_code(&self) -> u16 {
        u16::from_be_bytes([self.payload[0], self.payload[1]])
    }
}

impl Peer {
    /// Starts the endpoint under test and opens the connection to it.
    fn start(
        adapter: Adapter,
        role: Role,
        config: WebSocketConfig,
        plan: Plan,
    ) -> (Peer, UnderTest) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        match role {
            Role::Server => {
                let under_test = endpoint(adapter, role, config, plan, Some(listener), addr);
                let tcp = TcpStream::connect(addr).expect("connect");
                let mut peer = Peer::new(tcp, role);
                let request = format!(
                    "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                     Sec-WebSocket-Version: 13\r\n\r\n"
                );
                peer.tcp.write_all(request.as_bytes()).expect("request");
                let head = peer.read_head();
                assert!(head.starts_with("HTTP/1.1 101"), "{head}");
                // RFC 6455 §1.3's example key and accept value.
                assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
                (peer, under_test)
            }
            Role::Client => {
                let under_test = endpoint(adapter, role, config, plan, None, addr);
                let (tcp, _) = listener.accept().expect("accept");
                let mut peer = Peer::new(tcp, role);
                let head = peer.read_head();
                let key = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("sec-websocket-key")
                            .then(|| value.trim().to_string())
                    })
                    .expect("a key");
                let accept = rws::proto::handshake::accept_key(key.as_bytes());
                let response = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                peer.tcp.write_all(response.as_bytes()).expect("response");
                (peer, under_test)
            }
        }
    }

    fn new(tcp: TcpStream, role: Role) -> Peer {
        tcp.set_read_timeout(Some(LIMIT)).expect("timeout");
        tcp.set_write_timeout(Some(LIMIT)).expect("timeout");
        Peer {
            tcp,
            role,
            buf: Vec::new(),
        }
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0; 4096];
        let n = self.tcp.read(&mut chunk).expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end + 4].to_vec()).expect("utf-8");
                self.buf.drain(..end + 4);
                return head;
            }
            assert!(self.fill(), "EOF in the handshake");
        }
    }

    /// The next frame (short ones only: these tests send no more), or
    /// `None` at end of file.
    fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 2 {
                let masked = self.buf[1] & 0x80 != 0;
                let len = (self.buf[1] & 0x7f) as usize;
                assert!(len < 126, "short frames only");
                let start = if masked { 6 } else { 2 };
                if self.buf.len() >= start + len {
                    let mut payload = self.buf[start..start + len].to_vec();
                    if masked {
                        let key = [self.buf[2], self.buf[3], self.buf[4], self.buf[5]];
                        for (i, byte) in payload.iter_mut().enumerate() {
                            *byte ^= key[i % 4];
                        }
                    }
                    let b0 = self.buf[0];
                    self.buf.drain(..start + len);
                    return Some(Frame {
                        b0,
                        payload,
                        masked,
                    });
                }
            }
            if !self.fill() {
                assert!(self.buf.is_empty(), "EOF inside a frame");
                return None;
            }
        }
    }

    /// Writes a frame as the peer must: masked if the peer is the client
    /// (RFC 6455 §5.1), with a fixed key.
    fn write_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut out = vec![0x80 | opcode];
        assert!(payload.len() < 126);
        if self.role == Role::Server {
            let key = [0x37, 0xfa, 0x21, 0x3d];
            out.push(0x80 | payload.len() as u8);
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.push(payload.len() as u8);
            out.extend_from_slice(payload);
        }
        self.tcp.write_all(&out).expect("write");
    }

    /// The peer starts the close handshake with `code` and finishes it as
    /// RFC 6455 §7.1.1 asks: a peer that is the server closes TCP once the
    /// reply is in; then it reads until the end of file.
    fn close(&mut self, code: u16) {
        self.write_frame(CLOSE, &code.to_be_bytes());
        self.answer_close();
    }

    /// Reads up to the close frame of the endpoint under test (answering
    /// pings meanwhile), shuts down if the peer is the server, and reads
    /// until the end of file.
    fn answer_close(&mut self) {
        loop {
            let frame = self.read_frame().expect("a close frame");
            if frame.opcode() == CLOSE {
                break;
            }
        }
        if self.role == Role::Client {
            self.tcp
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown");
        }
        assert!(self.read_frame().is_none(), "EOF after the close handshake");
    }

    /// Checks that a frame from the endpoint under test is masked as its
    /// role requires.
    fn check_masking(&self, frame: &Frame) {
        assert_eq!(frame.masked, self.role == Role::Client, "RFC 6455 §5.1");
    }
}

fn keepalive(interval: u64, timeout: u64) -> WebSocketConfig {
    WebSocketConfig::default()
        .ping_interval(Some(Duration::from_millis(interval)))
        .ping_timeout(Some(Duration::from_millis(timeout)))
}

#[test]
fn a_silent_peer_is_pinged_then_failed_with_1011_without_waiting_for_an_answer() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let config = keepalive(200, 300).close_timeout(Duration::from_secs(5));
            let (mut peer, under_test) = Peer::start(adapter, role, config, Plan::Echo);
            let started = Instant::now();
            let ping = peer.read_frame().expect("a ping");
            let at = started.elapsed();
            assert_eq!(ping.b0, 0x80 | PING, "{adapter:?} {role:?}");
            peer.check_masking(&ping);
            assert!(
                at >= 150 * MS && at < 1000 * MS,
                "{adapter:?} {role:?}: {at:?}"
            );
            // Not answered: the close frame comes ping_timeout later.
            let close = peer.read_frame().expect("a close frame");
            let at = started.elapsed();
            assert_eq!(close.opcode(), CLOSE, "{adapter:?} {role:?}");
            assert_eq!(close.close_code(), 1011, "{adapter:?} {role:?}");
            assert_eq!(&close.payload[2..], b"keepalive ping timeout");
            assert!(at >= 450 * MS, "{adapter:?} {role:?}: {at:?}");
            // The transport ends at once, not after the 5 s close timeout.
            assert!(peer.read_frame().is_none(), "{adapter:?} {role:?}: EOF");
            let at = started.elapsed();
            assert!(at < 2000 * MS, "{adapter:?} {role:?}: {at:?}");
            let report = under_test.join().expect("endpoint");
            assert!(
                matches!(
                    report.errors.as_slice(),
                    [Error::Protocol(ProtocolError::KeepaliveTimeout)]
                ),
                "{adapter:?} {role:?}: {report:?}"
            );
            let closed = report.closed.expect("closed");
            assert_eq!(closed.code, CloseCode::INTERNAL_ERROR);
            assert_eq!(closed.initiator, Initiator::Local);
            assert!(!closed.clean);
        }
    }
}

#[test]
fn answered_pings_keep_the_connection_open() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let (mut peer, under_test) =
                Peer::start(adapter, role, keepalive(100, 150), Plan::Echo);
            let started = Instant::now();
            let mut pings = 0;
            while started.elapsed() < 700 * MS {
                let frame = peer.read_frame().expect("a frame");
                assert_eq!(frame.opcode(), PING, "{adapter:?} {role:?}");
                pings += 1;
                peer.write_frame(PONG, &frame.payload);
            }
            assert!(pings >= 4, "{adapter:?} {role:?}: {pings} pings in 700 ms");
            peer.write_frame(TEXT, b"still there");
            let echo = loop {
                let frame = peer.read_frame().expect("the echo");
                if frame.opcode() != PING {
                    break frame;
                }
            };
            assert_eq!(echo.opcode(), TEXT);
            assert_eq!(echo.payload, b"still there");
            peer.close(1000);
            let report = under_test.join().expect("endpoint");
            assert!(report.errors.is_empty(), "{adapter:?} {role:?}: {report:?}");
            assert!(report.closed.expect("closed").clean);
        }
    }
}

#[test]
fn messages_from_the_peer_are_proof_of_life() {
    for adapter in ADAPTERS {
        for role in ROLES {
            // Pings every 100 ms, 150 ms to answer; the peer never answers
            // a ping but sends a message every 50 ms for 600 ms.
            let (mut peer, under_test) =
                Peer::start(adapter, role, keepalive(100, 150), Plan::Echo);
            let started = Instant::now();
            let mut echoes = 0;
            while started.elapsed() < 600 * MS {
                peer.write_frame(TEXT, b"tick");
                loop {
                    let frame = peer.read_frame().expect("a frame");
                    match frame.opcode() {
                        PING => continue,
                        TEXT => break,
                        other => panic!("{adapter:?} {role:?}: opcode {other}"),
                    }
                }
                echoes += 1;
                thread::sleep(50 * MS);
            }
            assert!(echoes >= 6, "{adapter:?} {role:?}");
            peer.close(1000);
            let report = under_test.join().expect("endpoint");
            assert!(report.errors.is_empty(), "{adapter:?} {role:?}: {report:?}");
            assert_eq!(report.messages.len(), echoes);
        }
    }
}

#[test]
fn the_idle_timeout_closes_with_1001_even_while_pings_are_answered() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let config = keepalive(100, 1000).idle_timeout(Some(400 * MS));
            let (mut peer, under_test) = Peer::start(adapter, role, config, Plan::Echo);
            let started = Instant::now();
            let close = loop {
                let frame = peer.read_frame().expect("a frame");
                if frame.opcode() == PING {
                    peer.write_frame(PONG, &frame.payload);
                    continue;
                }
                break frame;
            };
            let at = started.elapsed();
            assert_eq!(close.opcode(), CLOSE, "{adapter:?} {role:?}");
            assert_eq!(close.close_code(), 1001);
            assert_eq!(&close.payload[2..], b"idle timeout");
            assert!(
                at >= 350 * MS && at < 2000 * MS,
                "{adapter:?} {role:?}: {at:?}"
            );
            peer.write_frame(CLOSE, &1001u16.to_be_bytes());
            if role == Role::Client {
                peer.tcp
                    .shutdown(std::net::Shutdown::Write)
                    .expect("shutdown");
            }
            assert!(peer.read_frame().is_none(), "EOF after the close handshake");
            let report = under_test.join().expect("endpoint");
            assert!(report.errors.is_empty(), "{adapter:?} {role:?}: {report:?}");
            let closed = report.closed.expect("closed");
            assert!(closed.clean);
            assert_eq!(closed.initiator, Initiator::Local);
            assert_eq!(closed.code, CloseCode::GOING_AWAY);
        }
    }
}

#[test]
fn a_peer_that_never_answers_the_close_is_abandoned_at_the_close_timeout() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let config = WebSocketConfig::default().close_timeout(300 * MS);
            let (mut peer, under_test) = Peer::start(adapter, role, config, Plan::Close);
            let close = peer.read_frame().expect("the close frame");
            assert_eq!(close.opcode(), CLOSE);
            assert_eq!(close.close_code(), 1000);
            let started = Instant::now();
            // No answer: the endpoint gives up and closes TCP.
            assert!(peer.read_frame().is_none(), "{adapter:?} {role:?}: EOF");
            let waited = started.elapsed();
            assert!(
                waited >= 200 * MS && waited < 3000 * MS,
                "{adapter:?} {role:?}: {waited:?}"
            );
            let report = under_test.join().expect("endpoint");
            assert!(
                matches!(report.errors.as_slice(), [Error::AbnormalClose]),
                "{adapter:?} {role:?}: {report:?}"
            );
            let closed = report.closed.expect("closed");
            assert_eq!(closed.code, CloseCode::ABNORMAL);
            assert_eq!(closed.initiator, Initiator::Local);
            assert!(!closed.clean);
        }
    }
}

#[test]
fn a_close_stuck_behind_output_the_peer_does_not_read_ends_at_the_close_timeout() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let config = WebSocketConfig::default().close_timeout(300 * MS);
            let (mut peer, under_test) = Peer::start(adapter, role, config, Plan::FloodThenClose);
            // The peer reads nothing: the flood and the close frame behind
            // it stay stuck in the endpoint's output. It sends its own close
            // frame, which the endpoint reads once it closes: the close
            // handshake is then over but for the reply, which cannot leave.
            peer.write_frame(CLOSE, &1000u16.to_be_bytes());
            let report = under_test.join().expect("endpoint");
            drop(peer);
            match report.errors.as_slice() {
                [Error::Io(e), Error::AbnormalClose] => assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{adapter:?} {role:?}: {e:?}"
                ),
                other => {
                    panic!("{adapter:?} {role:?}: the send timed out, then the close: {other:?}")
                }
            }
            // Bounded by the close timeout, not by the caller's 10 s write
            // timeout (blocking) or by the peer (which never reads).
            assert!(
                report.elapsed >= 250 * MS && report.elapsed < 3000 * MS,
                "{adapter:?} {role:?}: the close took {:?}",
                report.elapsed
            );
            // RFC 6455 §7.1.5: the code of the close frame received (tokio
            // reads while its write waits; a blocking write holds the one
            // thread, so the peer's close is read only if a write returns
            // before the deadline, else 1006); never clean, since this
            // end's close frame never left (§7.1.4).
            let closed = report.closed.expect("closed");
            let codes: &[CloseCode] = match adapter {
                Adapter::Tokio => &[CloseCode::NORMAL],
                Adapter::Blocking => &[CloseCode::NORMAL, CloseCode::ABNORMAL],
            };
            assert!(
                codes.contains(&closed.code),
                "{adapter:?} {role:?}: {closed:?}"
            );
            assert_eq!(closed.initiator, Initiator::Local);
            assert!(!closed.clean, "{adapter:?} {role:?}");
        }
    }
}

#[test]
fn rfc6455_7_1_1_after_the_close_handshake_the_server_closes_tcp_first() {
    for adapter in ADAPTERS {
        for role in ROLES {
            let config = WebSocketConfig::default().close_timeout(Duration::from_secs(5));
            let (mut peer, under_test) = Peer::start(adapter, role, config, Plan::Echo);
            peer.write_frame(CLOSE, &1000u16.to_be_bytes());
            let reply = peer.read_frame().expect("the close reply");
            assert_eq!(reply.opcode(), CLOSE);
            let started = Instant::now();
            match role {
                // The server under test closes TCP at once.
                Role::Server => assert!(peer.read_frame().is_none()),
                // The client under test waits for the server (the peer)
                // to close TCP: its end comes only after ours.
                Role::Client => {
                    thread::sleep(300 * MS);
                    assert!(!under_test.is_finished(), "{adapter:?}: the client waits");
                    peer.tcp
                        .shutdown(std::net::Shutdown::Write)
                        .expect("shutdown");
                    assert!(peer.read_frame().is_none());
                }
            }
            assert!(started.elapsed() < 2000 * MS, "{adapter:?} {role:?}");
            let report = under_test.join().expect("endpoint");
            assert!(report.errors.is_empty(), "{adapter:?} {role:?}: {report:?}");
            assert!(report.closed.expect("closed").clean);
        }
    }
}

#[test]
fn tokio_split_halves_keep_alive_with_pings_on_the_writer_and_pongs_on_the_reader() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let peer = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut peer = Peer::new(tcp, Role::Client);
        let head = peer.read_head();
        let key = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| v.trim().to_string())
            })
            .expect("key");
        let accept = rws::proto::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        peer.tcp.write_all(response.as_bytes()).expect("response");
        // Answer pings, count messages, until the client's close.
        let (mut pings, mut texts) = (0, 0);
        while let Some(frame) = peer.read_frame() {
            peer.check_masking(&frame);
            match frame.opcode() {
                PING => {
                    pings += 1;
                    peer.write_frame(PONG, &frame.payload);
                }
                TEXT => texts += 1,
                CLOSE => {
                    peer.write_frame(CLOSE, &frame.payload[..2]);
                    peer.tcp
                        .shutdown(std::net::Shutdown::Write)
                        .expect("shutdown");
                }
                other => panic!("opcode {other}"),
            }
        }
        (pings, texts)
    });
    runtime.block_on(async {
        let (ws, _) = rws::ClientBuilder::new(format!("ws://{addr}/"))
            .config(keepalive(100, 150))
            .connect()
            .await
            .expect("connect");
        let (mut read, mut write) = ws.split();
        let reader = tokio::spawn(async move {
            let mut errors = Vec::new();
            while let Some(item) = read.recv().await {
                if let Err(e) = item {
                    errors.push(e.to_string());
                }
            }
            errors
        });
        for _ in 0..8 {
            write
                .send(Message::text("from the writer"))
                .await
                .expect("send");
            tokio::time::sleep(100 * MS).await;
        }
        write.close(CloseCode::NORMAL, "").await.expect("close");
        let errors = tokio::time::timeout(LIMIT, reader)
            .await
            .expect("bounded")
            .expect("join");
        assert!(errors.is_empty(), "{errors:?}");
    });
    let (pings, texts) = peer.join().expect("peer");
    assert_eq!(texts, 8);
    assert!(pings >= 4, "{pings} pings in 800 ms");
}

#[test]
fn tokio_split_read_half_reports_a_silent_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // A raw client that goes quiet after the handshake and records what
    // the server under test sends until it closes TCP.
    let silent = thread::spawn(move || {
        let tcp = TcpStream::connect(addr).expect("connect");
        let mut peer = Peer::new(tcp, Role::Server);
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        peer.tcp.write_all(request.as_bytes()).expect("request");
        peer.read_head();
        let mut opcodes = Vec::new();
        while let Some(frame) = peer.read_frame() {
            opcodes.push(frame.opcode());
        }
        opcodes
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let errors = runtime.block_on(async move {
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio");
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = rws::ServerBuilder::new()
            .config(keepalive(100, 200))
            .accept(tcp)
            .await
            .expect("accept");
        // Only the read half is driven; the write half stays idle.
        let (mut read, _write) = ws.split();
        let mut errors = Vec::new();
        let run = async {
            while let Some(item) = read.recv().await {
                if let Err(e) = item {
                    errors.push(e);
                }
            }
        };
        tokio::time::timeout(LIMIT, run).await.expect("bounded");
        errors
    });
    assert_eq!(silent.join().expect("peer"), vec![PING, CLOSE]);
    assert!(
        matches!(
            errors.as_slice(),
            [Error::Protocol(ProtocolError::KeepaliveTimeout)]
        ),
        "{errors:?}"
    );
}

#[test]
fn recv_ends_with_the_peers_error_close_code_and_reason_and_quietly_after_a_normal_one() {
    for adapter in ADAPTERS {
        for role in ROLES {
            // RFC 6455 §7.4: 1000 and 1001 end normally, so does an empty
            // close frame (1005 on this side); 1011 and 4000 do not.
            for (code, reason, normal) in [
                (Some(1000), "done", true),
                (Some(1001), "bye", true),
                (None, "", true),
                (Some(1011), "database down", false),
                (Some(4000), "kicked", false),
            ] {
                let (mut peer, under_test) =
                    Peer::start(adapter, role, WebSocketConfig::default(), Plan::Echo);
                let mut payload = Vec::new();
                if let Some(code) = code {
                    payload.extend_from_slice(&u16::to_be_bytes(code));
                    payload.extend_from_slice(reason.as_bytes());
                }
                peer.write_frame(CLOSE, &payload);
                peer.answer_close();
                let report = under_test.join().expect("endpoint");
                let what = format!("{adapter:?} {role:?} {code:?}: {report:?}");
                if normal {
                    assert!(report.errors.is_empty(), "{what}");
                } else {
                    let [Error::Closed(closed)] = report.errors.as_slice() else {
                        panic!("{what}");
                    };
                    assert_eq!(Some(closed.code.as_u16()), code, "{what}");
                    assert_eq!(closed.reason.as_str(), reason, "{what}");
                    assert_eq!(closed.initiator, Initiator::Remote);
                    assert!(closed.clean);
                }
            }
        }
    }
}
