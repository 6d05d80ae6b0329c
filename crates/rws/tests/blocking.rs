//! The blocking adapter over loopback TCP, with std threads: round trips,
//! the close handshake in both directions, control frames, violations,
//! timeouts, and interop with the tokio adapter.
//!
//! Every socket gets 10 s read and write timeouts, so no test can hang.
#![cfg(feature = "blocking")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rws::blocking::{self, WebSocket};
use rws::bytes::Bytes;
use rws::http::StatusCode;
use rws::{
    Accept, CloseCode, Closed, Error, Event, HandshakeError, Initiator, Message, ProtocolError,
    Rejection, Role, State, WebSocketConfig,
};

/// The bound on every read and write in these tests.
const LIMIT: Duration = Duration::from_secs(10);

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

fn bound(tcp: &TcpStream) {
    tcp.set_read_timeout(Some(LIMIT)).expect("read timeout");
    tcp.set_write_timeout(Some(LIMIT)).expect("write timeout");
}

/// Accepts one TCP connection with bounded I/O.
fn accept_tcp(listener: &TcpListener) -> TcpStream {
    let (tcp, _) = listener.accept().expect("accept");
    bound(&tcp);
    tcp
}

/// A thread that accepts one WebSocket with `config` and runs `body` on it.
fn serve<T, F>(listener: TcpListener, config: WebSocketConfig, body: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce(WebSocket<TcpStream>) -> T + Send + 'static,
{
    thread::spawn(move || {
        let tcp = accept_tcp(&listener);
        let ws = blocking::ServerBuilder::new()
            .config(config)
            .accept_tcp(tcp)
            .expect("server handshake");
        body(ws)
    })
}

/// A blocking client with bounded I/O.
fn client(addr: SocketAddr) -> WebSocket<blocking::MaybeTlsStream> {
    let (ws, response) = blocking::connect(&url(addr)).expect("client handshake");
    assert_eq!(response.status(), 101);
    assert!(!ws.get_ref().is_tls());
    bound(ws.get_ref().tcp());
    ws
}

/// Echoes messages until the connection ends; returns how it ended.
fn echo(mut ws: WebSocket<TcpStream>) -> Closed {
    while let Some(message) = ws.recv() {
        ws.send(message.expect("a message")).expect("echo");
    }
    ws.closed().expect("closed").clone()
}

fn messages() -> Vec<Message> {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    vec![
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        Message::text("é€😀".repeat(5000)),
        Message::binary(big),
    ]
}

fn join<T>(handle: JoinHandle<T>) -> T {
    handle.join().expect("the server thread panicked")
}

#[test]
fn echo_round_trip_text_and_binary() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), echo);
    let mut ws = client(addr);
    assert_eq!(ws.role(), Role::Client);
    assert_eq!(ws.protocol(), None);
    for message in messages() {
        ws.send(message.clone()).expect("send");
        assert_eq!(ws.recv().expect("an echo").expect("ok"), message);
    }
    // Batched with feed, then one flush. Small enough that the echoes fit
    // in the socket buffers while this thread is still writing.
    let small = &messages()[..4];
    for message in small {
        ws.feed(message.clone()).expect("feed");
    }
    ws.flush().expect("flush");
    for message in small {
        assert_eq!(&ws.recv().expect("an echo").expect("ok"), message);
    }
    ws.close(CloseCode::NORMAL, "done").expect("clean close");
    assert!(ws.recv().is_none());
    let on_server = join(server);
    assert!(on_server.clean);
    assert_eq!(on_server.code, CloseCode::NORMAL);
    assert_eq!(on_server.reason, "done");
}

#[test]
fn client_close_is_clean_on_both_sides() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), |mut ws| {
        assert_eq!(
            ws.recv().expect("a message").expect("ok"),
            Message::text("one more")
        );
        let end = ws.recv();
        assert!(end.is_none(), "{end:?}");
        assert_eq!(ws.state(), State::Closed);
        ws.closed().expect("closed").clone()
    });
    let mut ws = client(addr);
    ws.send("one more").expect("send");
    ws.close(CloseCode::GOING_AWAY, "bye").expect("clean close");
    assert_eq!(ws.state(), State::Closed);
    let on_client = ws.closed().expect("closed").clone();
    // The server echoes the code.
    assert_eq!(on_client.code.as_u16(), 1001);
    assert_eq!(on_client.initiator, Initiator::Local);
    assert!(on_client.clean);
    assert!(on_client.error.is_none());
    assert!(ws.recv().is_none());
    assert!(ws.recv_event().is_none());
    // The close timeout borrowed the socket's timeouts and gave them back.
    assert_eq!(
        ws.get_ref().tcp().read_timeout().expect("timeout"),
        Some(LIMIT)
    );
    assert_eq!(
        ws.get_ref().tcp().write_timeout().expect("timeout"),
        Some(LIMIT)
    );

    let on_server = join(server);
    assert_eq!(on_server.code.as_u16(), 1001);
    assert_eq!(on_server.reason, "bye");
    assert_eq!(on_server.initiator, Initiator::Remote);
    assert!(on_server.clean);
}

#[test]
fn server_initiated_close() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), |mut ws| {
        ws.send("last words").expect("send");
        let closed = ws.close(CloseCode::from(4000), "custom");
        (closed, ws.closed().cloned(), ws.recv().is_none())
    });
    let mut ws = client(addr);
    assert_eq!(
        ws.recv().expect("a message").expect("ok"),
        Message::text("last words")
    );
    // 4000 is not a normal end: recv says so, with the code and reason,
    // before it ends.
    match ws.recv() {
        Some(Err(Error::Closed(closed))) => {
            assert_eq!(closed.code.as_u16(), 4000);
            assert_eq!(closed.reason, "custom");
        }
        other => panic!("expected the peer's 4000, got {other:?}"),
    }
    let end = ws.recv();
    assert!(end.is_none(), "{end:?}");
    let on_client = ws.closed().expect("closed");
    assert_eq!(on_client.code.as_u16(), 4000);
    assert_eq!(on_client.reason, "custom");
    assert_eq!(on_client.initiator, Initiator::Remote);
    assert!(on_client.clean);

    let (closed, on_server, ended) = join(server);
    closed.expect("the server's close completes");
    let on_server = on_server.expect("closed");
    assert_eq!(on_server.code.as_u16(), 4000);
    assert_eq!(on_server.initiator, Initiator::Local);
    assert!(on_server.clean);
    assert!(ended);
}

#[test]
fn ping_and_pong_through_recv_event() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), |mut ws| {
        let mut events = Vec::new();
        match ws.recv_event() {
            Some(Ok(Event::Ping(payload))) => assert_eq!(payload, "from client"),
            other => panic!("expected a ping, got {other:?}"),
        }
        ws.ping(Bytes::from_static(b"from server")).expect("ping");
        while let Some(event) = ws.recv_event() {
            events.push(event.expect("an event"));
        }
        events
    });
    let mut ws = client(addr);
    ws.ping(Bytes::from_static(b"from client")).expect("ping");
    match ws.recv_event() {
        Some(Ok(Event::Pong(payload))) => assert_eq!(payload, "from client"),
        other => panic!("expected the pong, got {other:?}"),
    }
    match ws.recv_event() {
        Some(Ok(Event::Ping(payload))) => assert_eq!(payload, "from server"),
        other => panic!("expected the server's ping, got {other:?}"),
    }
    ws.close(CloseCode::NORMAL, "").expect("clean close");

    let events = join(server);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0], Event::Pong(Bytes::from_static(b"from server")));
    assert!(
        matches!(&events[1], Event::CloseReceived(Some(f)) if f.code == CloseCode::NORMAL),
        "{events:?}"
    );
    assert!(
        matches!(&events[2], Event::Closed(c) if c.clean),
        "{events:?}"
    );
}

/// A peer that speaks HTTP and frames by hand.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).expect("connect");
        bound(&tcp);
        Raw {
            tcp,
            buf: Vec::new(),
        }
    }

    /// Sends an upgrade request with `extra` header lines (each ending in
    /// CRLF) and the given version.
    fn request(&mut self, version: u8, extra: &str) {
        let request = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\
             {extra}\r\n"
        );
        self.tcp.write_all(request.as_bytes()).expect("write");
    }

    /// Reads more input; false at end of file.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// An HTTP head, lowercased.
    fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8(head).expect("UTF-8").to_ascii_lowercase();
            }
            assert!(self.fill(), "end of file inside an HTTP head");
        }
    }

    /// The next unmasked frame: opcode and payload (short frames only).
    fn read_frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "servers do not mask");
                let len = (self.buf[1] & 0x7f) as usize;
                assert!(len < 126);
                if self.buf.len() >= 2 + len {
                    let frame: Vec<u8> = self.buf.drain(..2 + len).collect();
                    return (frame[0] & 0x0f, frame[2..].to_vec());
                }
            }
            assert!(self.fill(), "end of file before a frame");
        }
    }

    fn expect_eof(&mut self) {
        while self.fill() {}
        assert!(
            self.buf.is_empty(),
            "expected end of file, got {:?}",
            self.buf
        );
    }
}

/// A short frame, masked with `mask` if given.
fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![0x80 | opcode, payload.len() as u8];
    match mask {
        Some(key) => {
            out[1] |= 0x80;
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

#[test]
fn unmasked_frame_from_a_raw_client_fails_with_1002() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), |mut ws| {
        let mut results = Vec::new();
        while let Some(result) = ws.recv() {
            results.push(result);
            assert!(results.len() < 10, "recv does not end: {results:?}");
        }
        (results, ws.closed().cloned())
    });
    let mut raw = Raw::connect(addr);
    raw.request(13, "");
    let head = raw.read_head();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="));
    let mut bytes = frame(0x1, b"before", Some([1, 2, 3, 4]));
    bytes.extend(frame(0x1, b"unmasked", None));
    raw.tcp.write_all(&bytes).expect("write");
    let (opcode, payload) = raw.read_frame();
    assert_eq!(opcode, 0x8);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1002);
    raw.expect_eof();

    let (results, closed) = join(server);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(
        results[0].as_ref().expect("a message"),
        &Message::text("before")
    );
    assert!(
        matches!(
            &results[1],
            Err(Error::Protocol(ProtocolError::UnmaskedFrame))
        ),
        "{results:?}"
    );
    let closed = closed.expect("closed");
    assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
    assert_eq!(closed.initiator, Initiator::Local);
    assert!(!closed.clean);
}

#[test]
fn version_8_is_answered_with_426() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || blocking::accept_tcp(accept_tcp(&listener)).map(|_| ()));
    let mut raw = Raw::connect(addr);
    raw.request(8, "");
    let head = raw.read_head();
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
    while raw.fill() {}
    let result = join(server);
    assert!(
        matches!(
            result,
            Err(Error::Handshake(HandshakeError::UnsupportedVersion))
        ),
        "{result:?}"
    );
}

#[test]
fn builders_agree_on_a_protocol_or_reject() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let chat = blocking::ServerBuilder::new()
            .on_request(|req| {
                assert_eq!(req.headers()["x-token"], "42");
                Ok(Accept::new().protocol("chat"))
            })
            .accept_tcp(accept_tcp(&listener))
            .map(|ws| {
                // The accepted request stays on the connection.
                let request = ws.request().expect("a server keeps its request");
                assert_eq!(request.uri().path(), "/");
                assert_eq!(request.headers()["x-token"], "42");
                ws.protocol().map(str::to_owned)
            });
        let refused = blocking::ServerBuilder::new()
            .on_request(|_| Err(Rejection::new(StatusCode::FORBIDDEN, "no")))
            .accept(accept_tcp(&listener))
            .map(|_| ());
        (chat, refused)
    });
    let (ws, response) = blocking::ClientBuilder::new(url(addr))
        .protocol("superchat")
        .protocol("chat")
        .header("x-token", "42")
        .connect()
        .expect("handshake");
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.request().is_none(), "a client has no upgrade request");
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    drop(ws);

    let tcp = TcpStream::connect(addr).expect("connect");
    bound(&tcp);
    let request = rws::http::Request::get(url(addr))
        .body(())
        .expect("request");
    let refused = blocking::ClientBuilder::from_request(request).connect_on(tcp);
    match refused {
        Err(Error::Handshake(HandshakeError::Rejected(response))) => {
            assert_eq!(response.status(), 403);
            assert_eq!(response.body().as_ref(), b"no");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let (chat, refused) = join(server);
    assert_eq!(chat.expect("accepted"), Some("chat".to_owned()));
    assert!(
        matches!(refused, Err(Error::Handshake(HandshakeError::Rejected(_)))),
        "{refused:?}"
    );
}

#[test]
fn silent_client_hits_the_handshake_timeout() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let config = WebSocketConfig::default().handshake_timeout(Duration::from_millis(200));
        let started = Instant::now();
        let result = blocking::ServerBuilder::new()
            .config(config)
            .accept_tcp(accept_tcp(&listener))
            .map(|_| ());
        (result, started.elapsed())
    });
    let raw = Raw::connect(addr);
    let (result, elapsed) = join(server);
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    drop(raw);
}

#[test]
fn close_times_out_when_the_peer_never_answers() {
    let (listener, addr) = listen();
    let config = WebSocketConfig::default().close_timeout(Duration::from_millis(300));
    let server = serve(listener, config, |mut ws| {
        let started = Instant::now();
        let closed = ws.close(CloseCode::NORMAL, "");
        (closed, started.elapsed(), ws.closed().cloned())
    });
    let mut raw = Raw::connect(addr);
    raw.request(13, "");
    raw.read_head();
    let (opcode, _) = raw.read_frame();
    assert_eq!(opcode, 0x8);
    // No answer; the server gives up and closes TCP.
    raw.expect_eof();
    let (closed, elapsed, on_server) = join(server);
    assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let on_server = on_server.expect("closed");
    assert_eq!(on_server.code, CloseCode::ABNORMAL);
    assert_eq!(on_server.initiator, Initiator::Local);
    assert!(!on_server.clean);
}

#[test]
fn a_read_timeout_while_open_does_not_end_the_connection() {
    let (listener, addr) = listen();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let server = serve(listener, WebSocketConfig::default(), move |mut ws| {
        wait.recv().expect("go");
        ws.send("late").expect("send");
        echo(ws)
    });
    let mut ws = client(addr);
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    match ws.recv() {
        Some(Err(Error::Io(e))) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e:?}"
        ),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(ws.state(), State::Open);
    bound(ws.get_ref().tcp());
    go.send(()).expect("go");
    assert_eq!(
        ws.recv().expect("a message").expect("ok"),
        Message::text("late")
    );
    ws.close(CloseCode::NORMAL, "").expect("clean close");
    assert!(join(server).clean);
}

#[cfg(feature = "tokio")]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[cfg(feature = "tokio")]
#[test]
fn blocking_client_against_a_tokio_server() {
    let (listener, addr) = listen();
    listener.set_nonblocking(true).expect("nonblocking");
    let server = thread::spawn(move || {
        runtime().block_on(async {
            let work = async {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let (tcp, _) = listener.accept().await.expect("accept");
                let mut ws = rws::accept(tcp).await.expect("server handshake");
                while let Some(message) = ws.recv().await {
                    ws.send(message.expect("a message")).await.expect("echo");
                }
                ws.closed().expect("closed").clone()
            };
            tokio::time::timeout(LIMIT, work)
                .await
                .expect("the tokio server finished within 10 s")
        })
    });
    let mut ws = client(addr);
    for message in messages() {
        ws.send(message.clone()).expect("send");
        assert_eq!(ws.recv().expect("an echo").expect("ok"), message);
    }
    ws.close(CloseCode::NORMAL, "interop").expect("clean close");
    assert!(ws.recv().is_none());
    let on_server = join(server);
    assert!(on_server.clean);
    assert_eq!(on_server.reason, "interop");
    assert_eq!(on_server.initiator, Initiator::Remote);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_client_against_a_blocking_server() {
    let (listener, addr) = listen();
    let server = serve(listener, WebSocketConfig::default(), echo);
    let on_client = runtime().block_on(async {
        let work = async {
            let (mut ws, _) = rws::connect(&url(addr)).await.expect("client handshake");
            for message in messages() {
                ws.send(message.clone()).await.expect("send");
                let echoed = ws.recv().await.expect("an echo").expect("ok");
                assert_eq!(echoed, message);
            }
            ws.close(CloseCode::NORMAL, "interop")
                .await
                .expect("clean close");
            assert!(ws.recv().await.is_none());
            ws.closed().expect("closed").clone()
        };
        tokio::time::timeout(LIMIT, work)
            .await
            .expect("the tokio client finished within 10 s")
    });
    assert!(on_client.clean);
    assert_eq!(on_client.initiator, Initiator::Local);
    let on_server = join(server);
    assert!(on_server.clean);
    assert_eq!(on_server.reason, "interop");
}

/// The blocking server builder answers plain HTTP with `on_http` too.
#[test]
fn plain_http_is_answered_by_on_http() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener);
        blocking::ServerBuilder::new()
            .on_http(|req| rws::http::Response::new(Bytes::from(format!("{}\n", req.uri()))))
            .accept_tcp(tcp)
            .map(|accepted| match accepted {
                rws::Accepted::Http(status) => Some(status),
                rws::Accepted::WebSocket(_) => None,
            })
    });
    let mut tcp = TcpStream::connect(addr).expect("connect");
    bound(&tcp);
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("read to the end");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n/health\n"), "{answer}");
    let result = join(server);
    assert!(
        // Serving plain HTTP is an outcome, not an error.
        matches!(result, Ok(Some(StatusCode::OK))),
        "{result:?}"
    );
}

#[test]
fn fragments_sent_piece_by_piece_and_never_dropped_by_recv() {
    let (listener, addr) = listen();
    let streaming = WebSocketConfig::default().stream_fragments(true);
    let server = serve(listener, streaming, |mut ws| {
        // A streamed piece that reaches recv comes with its data.
        let mut data = Vec::new();
        loop {
            match ws.recv() {
                Some(Err(Error::Streamed(fragment))) => {
                    data.extend_from_slice(&fragment.data);
                    if fragment.last {
                        break;
                    }
                }
                other => panic!("expected the pieces, got {other:?}"),
            }
        }
        ws.close(CloseCode::NORMAL, "").expect("close");
        data
    });
    let mut ws = client(addr);
    for (i, piece) in [&b"caf\xc3"[..], b"\xa9 au ", b"lait"].iter().enumerate() {
        ws.send_fragment(rws::MessageKind::Text, piece, i == 2)
            .expect("a piece");
    }
    assert!(ws.recv().is_none(), "the server closes with 1000");
    assert_eq!(join(server), "café au lait".as_bytes());
}
