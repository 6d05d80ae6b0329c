//! What a server does after refusing a client (any answer but 101: the
//! application's rejection, an invalid request, `on_http`'s answer): it
//! shuts its sending side down and reads and discards what the client still
//! sends, at most 64 KiB for at most a second, before it closes. Closing a
//! socket with unread input makes the kernel reset the connection, and a
//! client still sending its request would then fail before it reads the
//! answer.
//!
//! Both adapters, each serving on a thread of its own (the tokio one in a
//! runtime of its own), against a raw blocking client over loopback. Every
//! client socket has 10 s timeouts, so no test can hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rws::bytes::Bytes;
use rws::http::{Response, StatusCode};
use rws::{Accepted, Error, HandshakeError, Rejection};

/// The bound on every read and write of the clients here.
const LIMIT: Duration = Duration::from_secs(10);

/// The pause after the answer arrives, and between the parts sent after
/// it: time for a server that does not read on to drop the connection, and
/// for the reset to come back before the next write; all the parts go
/// well within the second a draining server keeps reading.
const PAUSE: Duration = Duration::from_millis(20);

/// The size of each part of what follows the request head.
const PART: usize = 8 << 10;

/// What a refusing server answers a plain HTTP request with (`on_http`).
const HTTP_BODY: &[u8] = b"ok";

/// What a refusing server rejects every upgrade request with.
const REJECTION_BODY: &[u8] = b"forbidden";

/// A server for one connection: one of the two adapters.
type Serve = fn(TcpStream) -> Result<Option<StatusCode>, Error>;

/// The tokio adapter: answers plain HTTP with 200 "ok" and rejects every
/// upgrade with 403.
fn tokio_server(tcp: TcpStream) -> Result<Option<StatusCode>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        tcp.set_nonblocking(true)?;
        let tcp = tokio::net::TcpStream::from_std(tcp)?;
        rws::ServerBuilder::new()
            .on_request(|_| Err(Rejection::new(StatusCode::FORBIDDEN, REJECTION_BODY)))
            .on_http(|_| Response::new(Bytes::from_static(HTTP_BODY)))
            .accept(tcp)
            .await
            .map(plain_http_status)
    })
}

/// The blocking adapter, on a `TcpStream`, refusing as [`tokio_server`]
/// does.
fn blocking_server(tcp: TcpStream) -> Result<Option<StatusCode>, Error> {
    rws::blocking::ServerBuilder::new()
        .on_request(|_| Err(Rejection::new(StatusCode::FORBIDDEN, REJECTION_BODY)))
        .on_http(|_| Response::new(Bytes::from_static(HTTP_BODY)))
        .accept_tcp(tcp)
        .map(plain_http_status)
}

/// The status `on_http` answered with, if the request was plain HTTP
/// (serving it is an outcome, not an error).
fn plain_http_status<W>(accepted: Accepted<W>) -> Option<StatusCode> {
    match accepted {
        Accepted::Http(status) => Some(status),
        Accepted::WebSocket(_) => None,
    }
}

/// A server thread for one connection on an ephemeral loopback port; it
/// reports how `serve` ended and when.
struct Server {
    addr: SocketAddr,
    done: Receiver<(Result<Option<StatusCode>, Error>, Instant)>,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(serve: Serve) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let (tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            let result = serve(tcp);
            let _ = tx.send((result, Instant::now()));
        });
        Server { addr, done, thread }
    }

    /// How `serve` ended, and when; `None` if it has not within `wait`.
    fn ended_within(&self, wait: Duration) -> Option<(Result<Option<StatusCode>, Error>, Instant)> {
        self.done.recv_timeout(wait).ok()
    }

    fn join(self) {
        self.thread.join().expect("the server thread panicked");
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_read_timeout(Some(LIMIT)).expect("read timeout");
    tcp.set_write_timeout(Some(LIMIT)).expect("write timeout");
    tcp
}

/// A client sends `head` and the first part of `after`; once the answer
/// has arrived, it sends the other parts, a pause before each (a server
/// that does not read on has dropped the connection by then); then it
/// reads the answer to the end of file. Returns how the server ended and
/// the answer.
fn send_after_the_answer(
    serve: Serve,
    head: &[u8],
    after: &[u8],
) -> (Result<Option<StatusCode>, Error>, Vec<u8>) {
    let server = Server::start(serve);
    let mut tcp = connect(server.addr);
    let mut parts = after.chunks(PART);
    tcp.write_all(head).expect("write the head");
    tcp.write_all(parts.next().expect("a first part"))
        .expect("write the first part");
    let arrived = tcp.peek(&mut [0; 1]).expect("wait for the answer");
    assert_eq!(arrived, 1, "the server closed without an answer");
    for (i, part) in parts.enumerate() {
        thread::sleep(PAUSE);
        if let Err(e) = tcp.write_all(part) {
            panic!(
                "the client could not send part {} of its request: {e}",
                i + 2
            );
        }
    }
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer)
        .expect("read the answer to the end of file");
    drop(tcp);
    let (result, _) = server
        .ended_within(LIMIT)
        .expect("the server ends once the client has closed");
    server.join();
    (result, answer)
}

/// A POST head announcing a body of `length` bytes.
fn post(length: usize) -> Vec<u8> {
    format!("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n")
        .into_bytes()
}

/// An upgrade request that the refusing servers reject.
fn upgrade() -> Vec<u8> {
    b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec()
}

/// A masked binary frame with a payload of `len` bytes, as a client sends.
fn binary_frame(len: u16) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x82, 0x80 | 126];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend((0..len).map(|i| b'x' ^ mask[usize::from(i) % 4]));
    frame
}

/// The status code and the body of an HTTP answer.
fn status_and_body(answer: &[u8]) -> (u16, &[u8]) {
    let text = String::from_utf8_lossy(answer);
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {text:?}"));
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, &answer[end + 4..])
}

/// `on_http` answers a POST after its head; the client, still sending its
/// 32 KiB body, finishes it and then reads the whole answer.
fn on_http_answer_reaches_a_client_still_sending_its_body(serve: Serve) {
    let body = vec![b'x'; 32 << 10];
    let (result, answer) = send_after_the_answer(serve, &post(body.len()), &body);
    assert_eq!(status_and_body(&answer), (200, HTTP_BODY));
    assert!(matches!(result, Ok(Some(StatusCode::OK))), "{result:?}");
}

/// The application rejects an upgrade request followed by frames; the
/// client, still sending frames, finishes and then reads the whole answer.
fn rejection_reaches_a_client_still_sending_frames(serve: Serve) {
    let frames = binary_frame(32 << 10);
    let (result, answer) = send_after_the_answer(serve, &upgrade(), &frames);
    assert_eq!(status_and_body(&answer), (403, REJECTION_BODY));
    match result {
        Err(Error::Handshake(HandshakeError::Rejected(response))) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("expected the rejection, got {other:?}"),
    }
}

/// A client that sends `head`, then `chunk` every `pause` until a write
/// fails (the server has gone) or `LIMIT` passes.
fn keep_sending(
    addr: SocketAddr,
    head: Vec<u8>,
    chunk: Vec<u8>,
    pause: Duration,
) -> JoinHandle<()> {
    let mut tcp = connect(addr);
    thread::spawn(move || {
        let start = Instant::now();
        if tcp.write_all(&head).is_err() {
            return;
        }
        while start.elapsed() < LIMIT && tcp.write_all(&chunk).is_ok() {
            thread::sleep(pause);
        }
    })
}

/// A client that sends as fast as it can after a refused request does not
/// keep the server reading (the server stops after 64 KiB, or a second at
/// the most).
fn flooding_client_is_dropped(serve: Serve) {
    let start = Instant::now();
    let server = Server::start(serve);
    let client = keep_sending(server.addr, post(1 << 30), vec![b'x'; PART], Duration::ZERO);
    let (result, at) = server
        .ended_within(Duration::from_secs(5))
        .expect("the server ends within 5 s");
    assert!(matches!(result, Ok(Some(StatusCode::OK))), "{result:?}");
    // The byte bound ended it, not the second.
    let took = at - start;
    assert!(took < Duration::from_millis(900), "{took:?}");
    server.join();
    client.join().expect("the client thread panicked");
}

/// A client that never stops sending, slowly, after a refused request
/// keeps the server reading for a second, not longer.
fn trickling_client_is_dropped_after_a_second(serve: Serve) {
    let start = Instant::now();
    let server = Server::start(serve);
    let client = keep_sending(server.addr, upgrade(), vec![b'x'; 64], PAUSE);
    let (result, at) = server
        .ended_within(Duration::from_secs(5))
        .expect("the server ends within 5 s");
    assert!(
        matches!(result, Err(Error::Handshake(HandshakeError::Rejected(_)))),
        "{result:?}"
    );
    let took = at - start;
    // It did read for its second (1.28 KiB, far below the byte bound).
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    server.join();
    client.join().expect("the client thread panicked");
}

#[test]
fn tokio_on_http_answer_reaches_a_client_still_sending_its_body() {
    on_http_answer_reaches_a_client_still_sending_its_body(tokio_server);
}

#[test]
fn blocking_on_http_answer_reaches_a_client_still_sending_its_body() {
    on_http_answer_reaches_a_client_still_sending_its_body(blocking_server);
}

#[test]
fn tokio_rejection_reaches_a_client_still_sending_frames() {
    rejection_reaches_a_client_still_sending_frames(tokio_server);
}

#[test]
fn blocking_rejection_reaches_a_client_still_sending_frames() {
    rejection_reaches_a_client_still_sending_frames(blocking_server);
}

#[test]
fn tokio_flooding_client_is_dropped() {
    flooding_client_is_dropped(tokio_server);
}

#[test]
fn blocking_flooding_client_is_dropped() {
    flooding_client_is_dropped(blocking_server);
}

#[test]
fn tokio_trickling_client_is_dropped_after_a_second() {
    trickling_client_is_dropped_after_a_second(tokio_server);
}

#[test]
fn blocking_trickling_client_is_dropped_after_a_second() {
    trickling_client_is_dropped_after_a_second(blocking_server);
}
