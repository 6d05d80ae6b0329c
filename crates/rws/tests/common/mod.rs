//! Helpers shared by the integration tests: a time bound, loopback
//! listeners, rws pairs, and a "raw" peer that speaks HTTP and WebSocket
//! frames by hand over a plain `TcpStream`.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rws::{WebSocket, WebSocketConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// RFC 6455 §1.3's sample key and its accept value.
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub(crate) const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The masking key the raw client uses.
pub(crate) const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) const CONTINUATION: u8 = 0x0;
pub(crate) const TEXT: u8 = 0x1;
pub(crate) const BINARY: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;
pub(crate) const PONG: u8 = 0xa;

/// Every test body runs under this bound so that a hang fails the test.
pub(crate) async fn bounded<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), body)
        .await
        .expect("test did not finish within 10 s")
}

/// A listener on an ephemeral loopback port.
pub(crate) async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

pub(crate) fn ws_url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// Accepts one TCP connection and runs the rws server handshake on it.
pub(crate) async fn accept_with(
    listener: &TcpListener,
    config: WebSocketConfig,
) -> WebSocket<TcpStream> {
    let (tcp, _) = listener.accept().await.expect("accept");
    rws::ServerBuilder::new()
        .config(config)
        .accept(tcp)
        .await
        .expect("server handshake")
}

/// A connected rws client and rws server, with the given settings.
pub(crate) async fn pair_with(
    client_config: WebSocketConfig,
    server_config: WebSocketConfig,
) -> (WebSocket<TcpStream>, WebSocket<TcpStream>) {
    let (listener, addr) = listen().await;
    let url = ws_url(addr, "/");
    let (server, client) = tokio::join!(
        accept_with(&listener, server_config),
        rws::ClientBuilder::new(url)
            .config(client_config)
            .connect_with(plain)
    );
    let (client, response) = client.expect("client handshake");
    assert_eq!(response.status(), 101);
    (client, server)
}

/// The TCP stream of a `ws://` connection (for `connect_with`), so that
/// both ends of a pair have the same type.
pub(crate) fn plain(stream: rws::MaybeTlsStream) -> TcpStream {
    match stream {
        rws::MaybeTlsStream::Plain(tcp) => tcp,
        other => panic!("ws:// opened {other:?}"),
    }
}

/// A connected rws client and rws server with default settings.
pub(crate) async fn pair() -> (WebSocket<TcpStream>, WebSocket<TcpStream>) {
    pair_with(WebSocketConfig::default(), WebSocketConfig::default()).await
}

/// An upgrade request with the sample key; `extra` holds more header
/// lines, each ending in CRLF.
pub(crate) fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// One frame, masked with `mask` if given.
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 | opcode } else { opcode }];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A final frame as a client sends it: masked.
pub(crate) fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, payload, Some(MASK))
}

/// A final frame as a server sends it: unmasked.
pub(crate) fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, payload, None)
}

/// A close frame's payload: the code, big-endian, then the reason.
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// A frame read off the wire, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Parses one frame from the start of `buf`: the frame and its length,
    /// or `None` if `buf` holds only part of it.
    pub(crate) fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
        if buf.len() < 2 {
            return None;
        }
        let masked = buf[1] & 0x80 != 0;
        let (len, mut pos) = match buf[1] & 0x7f {
            126 => {
                let bytes = buf.get(2..4)?;
                (u16::from_be_bytes([bytes[0], bytes[1]]) as usize, 4)
            }
            127 => {
                let bytes: [u8; 8] = buf.get(2..10)?.try_into().unwrap();
                (u64::from_be_bytes(bytes) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let key = if masked {
            let key: [u8; 4] = buf.get(pos..pos + 4)?.try_into().unwrap();
            pos += 4;
            Some(key)
        } else {
            None
        };
        let mut payload = buf.get(pos..pos + len)?.to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        let frame = Frame {
            fin: buf[0] & 0x80 != 0,
            rsv: (buf[0] >> 4) & 0x7,
            opcode: buf[0] & 0x0f,
            masked,
            payload,
        };
        Some((frame, pos + len))
    }

    /// The status code of a close frame.
    pub(crate) fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// The reason of a close frame.
    pub(crate) fn close_reason(&self) -> String {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        String::from_utf8(self.payload.get(2..).unwrap_or_default().to_vec())
            .expect("close reason is UTF-8")
    }
}

/// An HTTP head: the start line and the header fields, names lowercased.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    fn parse(text: &str) -> Head {
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let start = lines.next().expect("start line").to_owned();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header line has a colon");
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Head { start, headers }
    }

    /// The status code of a response.
    pub(crate) fn status(&self) -> u16 {
        assert!(self.start.starts_with("HTTP/1.1 "), "{:?}", self.start);
        self.start[9..12].parse().expect("status code")
    }

    /// The first value of a header field.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A peer that writes and reads bytes by hand.
pub(crate) struct Raw {
    pub tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub(crate) fn new(tcp: TcpStream) -> Raw {
        Raw {
            tcp,
            buf: Vec::new(),
        }
    }

    pub(crate) async fn connect(addr: SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        Raw::new(tcp)
    }

    /// Accepts one TCP connection (to act as a raw server).
    pub(crate) async fn accept(listener: &TcpListener) -> Raw {
        let (tcp, _) = listener.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        Raw::new(tcp)
    }

    /// Connects and does the client handshake with the sample key.
    pub(crate) async fn handshake(addr: SocketAddr) -> Raw {
        let mut raw = Raw::connect(addr).await;
        raw.write(upgrade_request("/", "").as_bytes()).await;
        let head = raw.read_head().await;
        assert_eq!(head.status(), 101, "{head:?}");
        assert_eq!(head.get("sec-websocket-accept"), Some(ACCEPT));
        raw
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// Reads more input into the buffer; false at end of file.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 << 10];
        let n = self.tcp.read(&mut chunk).await.expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads an HTTP head, keeping what follows it.
    pub(crate) async fn read_head(&mut self) -> Head {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return Head::parse(std::str::from_utf8(&head).expect("head is UTF-8"));
            }
            assert!(self.fill().await, "end of file inside an HTTP head");
        }
    }

    /// Reads exactly `n` bytes.
    pub(crate) async fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "end of file before {n} bytes");
        }
        self.buf.drain(..n).collect()
    }

    /// The next frame, or `None` at end of file between frames.
    pub(crate) async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = Frame::parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if !self.fill().await {
                assert!(self.buf.is_empty(), "end of file inside a frame");
                return None;
            }
        }
    }

    /// Everything up to the end of file.
    pub(crate) async fn read_to_eof(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing but the end of file follows.
    pub(crate) async fn expect_eof(&mut self) {
        let rest = self.read_to_eof().await;
        assert!(rest.is_empty(), "expected end of file, got {rest:?}");
    }
}
