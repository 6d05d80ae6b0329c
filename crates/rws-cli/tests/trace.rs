//! `rws trace` as a proxy over loopback: between the rws client and
//! `rws serve`, and between a raw client and a raw server in the test that
//! send a script of broken frames, each of which must be flagged on its
//! own line.

mod common;

use std::time::Duration;

use rws::{CloseCode, Message};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("test did not finish in time")
}

/// A running `rws trace` proxy: its address and its stdout lines.
struct Trace {
    _child: Child,
    addr: String,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// Starts `rws trace --listen 127.0.0.1:0 --upstream UPSTREAM ARGS`.
async fn trace(upstream: &str, args: &[&str]) -> Trace {
    let mut all = vec!["trace", "--listen", "127.0.0.1:0", "--upstream", upstream];
    all.extend_from_slice(args);
    let tls = args.contains(&"--tls-cert");
    let marker = if tls {
        "tracing on wss://"
    } else {
        "tracing on ws://"
    };
    let mut started = common::start(&all, marker).await;
    let addr = started
        .announced
        .split('/')
        .next()
        .expect("an address")
        .to_owned();
    let stdout = started.child.stdout.take().expect("stdout");
    Trace {
        _child: started.child,
        addr,
        stdout: BufReader::new(stdout).lines(),
    }
}

impl Trace {
    /// Reads lines until both directions of a connection have ended.
    async fn until_both_ends(&mut self) -> Vec<String> {
        self.until_ends(2).await
    }

    /// Reads lines until `count` "end of stream" lines were shown.
    async fn until_ends(&mut self, count: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let mut ends = 0;
        while ends < count {
            let line = self
                .stdout
                .next_line()
                .await
                .expect("read stdout")
                .expect("rws trace exited");
            if line.contains("end of stream") {
                ends += 1;
            }
            lines.push(line);
        }
        lines
    }

    async fn json_until_both_ends(&mut self) -> Vec<Value> {
        self.until_both_ends()
            .await
            .iter()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

fn frames(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["event"] == "frame").collect()
}

fn violations(record: &Value) -> Vec<String> {
    record["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["kind"].as_str().expect("a kind").to_owned())
        .collect()
}

#[tokio::test]
async fn trace_relays_and_shows_an_echo_session() {
    bounded(async {
        let (_server, server) = common::serve(&[]).await;
        let mut trace = trace(&format!("ws://{server}/echo"), &["--json"]).await;
        // The client asks for another path: --upstream's path replaces it.
        let (mut ws, _) = rws::connect(&format!("ws://{}/anything", trace.addr))
            .await
            .expect("connect through the proxy");
        ws.send(Message::text("hello")).await.expect("send");
        assert_eq!(
            ws.recv().await.expect("echo").expect("ok"),
            Message::text("hello")
        );
        ws.send(Message::binary(vec![0u8, 1, 2, 0xff]))
            .await
            .expect("send");
        assert_eq!(
            ws.recv().await.expect("echo").expect("ok"),
            Message::binary(vec![0u8, 1, 2, 0xff])
        );
        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        let records = trace.json_until_both_ends().await;

        assert_eq!(records[0]["event"], "open");
        let heads: Vec<&Value> = records.iter().filter(|r| r["event"] == "head").collect();
        assert_eq!(heads.len(), 2, "{records:#?}");
        assert!(heads[0]["head"]
            .as_str()
            .unwrap()
            .starts_with("GET /echo HTTP/1.1\n"));
        assert_eq!(heads[0]["from"], "client");
        assert!(heads[1]["head"]
            .as_str()
            .unwrap()
            .starts_with("HTTP/1.1 101 "));

        let frames = frames(&records);
        assert_eq!(frames.len(), 6, "{frames:#?}");
        let text = frames[0];
        assert_eq!(text["from"], "client");
        assert_eq!(text["opcode"], "text");
        assert_eq!(text["fin"], true);
        assert_eq!(text["mask"].as_str().map(str::len), Some(8));
        assert_eq!(
            (text["len"].as_u64(), &text["len_encoding"]),
            (Some(5), &Value::from("7-bit"))
        );
        assert_eq!(text["text"], "hello");
        assert_eq!(frames[1]["from"], "server");
        assert_eq!(frames[1]["mask"], Value::Null);
        assert_eq!(frames[3]["hex"], "000102ff");
        assert_eq!(frames[4]["opcode"], "close");
        assert_eq!(
            (frames[4]["close_code"].as_u64(), &frames[4]["close_reason"]),
            (Some(1000), &Value::from("bye"))
        );
        for frame in frames {
            assert!(violations(frame).is_empty(), "{frame}");
        }
    })
    .await;
}

#[tokio::test]
async fn trace_terminates_tls_on_both_sides_and_shows_the_frames_in_between() {
    bounded(async {
        let certs = common::TestCerts::new("trace-tls");
        let (_server, port) = certs.serve().await;
        let (ca_file, ca_pem) = (&certs.ca, &certs.ca_pem);
        let tls = [
            "--tls-cert",
            certs.cert.as_str(),
            "--tls-key",
            certs.key.as_str(),
        ];
        let upstream = format!("wss://localhost:{port}/echo");
        let args = [&tls[..], &["--cacert", ca_file.as_str(), "--json"][..]].concat();
        let mut trace = trace(&upstream, &args).await;
        let trace_port = trace.addr.rsplit(':').next().unwrap().to_owned();

        let client_tls = rws::tls::ClientTls::new()
            .without_web_pki()
            .add_ca_pem(ca_pem.as_bytes())
            .expect("CA")
            .build()
            .expect("config");
        let (mut ws, _) = rws::ClientBuilder::new(format!("wss://localhost:{trace_port}/x"))
            .tls_config(client_tls)
            .connect()
            .await
            .expect("connect through the tracer over TLS");
        ws.send(Message::text("secret")).await.expect("send");
        assert_eq!(
            ws.recv().await.expect("echo").expect("ok"),
            Message::text("secret")
        );
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let records = trace.json_until_both_ends().await;
        let frames = frames(&records);
        // The tracer saw the plaintext frames both ways, the upgrade too.
        assert_eq!(frames[0]["from"], "client");
        assert_eq!(frames[0]["text"], "secret");
        assert_eq!(frames[1]["from"], "server");
        assert_eq!(frames[1]["text"], "secret");
        let heads: Vec<&Value> = records.iter().filter(|r| r["event"] == "head").collect();
        assert!(heads[0]["head"]
            .as_str()
            .unwrap()
            .starts_with("GET /echo HTTP/1.1\n"));
        for frame in frames {
            assert!(violations(frame).is_empty(), "{frame}");
        }
    })
    .await;
}

/// Reads an HTTP head, byte by byte (nothing after it is taken).
async fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        tcp.read_exact(&mut byte).await.expect("an HTTP head");
        head.push(byte[0]);
    }
    head
}

/// A raw client past the handshake (through the proxy at `addr`).
async fn raw_client(addr: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("request");
    let head = read_head(&mut tcp).await;
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Writes a script of frames, then reads until the peer closes: returns
/// what it read.
async fn play(tcp: &mut TcpStream, script: &[Vec<u8>]) -> Vec<u8> {
    for frame in script {
        tcp.write_all(frame).await.expect("write");
    }
    tcp.shutdown().await.expect("shutdown");
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    rest
}

fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    let mut body = payload.to_vec();
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        rws::proto::frame::apply_mask(&mut body, key, 0);
    }
    out.extend(body);
    out
}

const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

#[tokio::test]
async fn trace_flags_each_violation_on_its_frame() {
    bounded(async {
        let upstream = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream_addr = upstream.local_addr().expect("addr");
        let mut trace = trace(&format!("ws://{upstream_addr}"), &["--json"]).await;

        // The server's script: every frame breaks one rule.
        let mut non_minimal = vec![0x82, 126, 0, 3];
        non_minimal.extend_from_slice(b"abc");
        let server_script = vec![
            frame(0x81, b"masked", KEY),         // masked server frame
            frame(0xc1, b"rsv1", None),          // RSV1 with no extension
            non_minimal,                         // 16-bit length for 3 bytes
            frame(0x09, b"frag", None),          // fragmented ping
            frame(0x8a, &[b'p'; 126], None),     // oversized pong
            frame(0x83, b"", None),              // reserved opcode
            frame(0x81, b"ok\xffbad", None),     // invalid UTF-8 at byte 2
            frame(0x88, &[0x03, 0xed], None),    // close code 1005
        ];
        let server = async {
            let (mut tcp, _) = upstream.accept().await.expect("accept");
            read_head(&mut tcp).await;
            tcp.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            )
            .await
            .expect("101");
            play(&mut tcp, &server_script).await
        };
        // The client's script.
        let client_script = vec![
            frame(0x81, b"unmasked", None),      // unmasked client frame
            frame(0x80, b"cont", KEY),           // continuation with no message
            frame(0x01, b"one", KEY),
            frame(0x82, b"two", KEY),            // new message before the end
            frame(0x88, &[0x03], KEY),           // close payload of 1 byte
            frame(0x81, b"late", KEY),           // frame after close
        ];
        let client = async {
            let mut tcp = raw_client(&trace.addr).await;
            play(&mut tcp, &client_script).await
        };
        let (server_got, client_got) = tokio::join!(server, client);
        // The tracer flags the broken frames and relays every byte as it
        // came, both ways: it is a witness, not a filter.
        assert_eq!(client_got, server_script.concat(), "what the client received");
        assert_eq!(server_got, client_script.concat(), "what the server received");
        let records = trace.json_until_both_ends().await;
        let from = |side: &str| -> Vec<Vec<String>> {
            frames(&records)
                .into_iter()
                .filter(|f| f["from"] == side)
                .map(violations)
                .collect()
        };
        assert_eq!(
            from("server"),
            [
                vec!["masked_server_frame"],
                vec!["reserved_bits"],
                vec!["non_minimal_length"],
                vec!["fragmented_control_frame"],
                vec!["oversized_control_frame"],
                vec!["reserved_opcode"],
                vec!["invalid_utf8"],
                vec!["invalid_close_code"],
            ]
        );
        assert_eq!(
            from("client"),
            [
                vec!["unmasked_client_frame"],
                vec!["unexpected_continuation"],
                vec![],
                vec!["expected_continuation"],
                vec!["close_length_1"],
                vec!["frame_after_close"],
            ]
        );
        let utf8 = frames(&records)
            .into_iter()
            .find(|f| violations(f) == ["invalid_utf8"])
            .expect("the UTF-8 frame");
        assert_eq!(utf8["violations"][0]["text"], "invalid UTF-8 at byte 2 of the message");
    })
    .await;
}

#[tokio::test]
async fn trace_text_lines_messages_and_filters() {
    bounded(async {
        let (_server, server) = common::serve(&[]).await;
        let mut trace = trace(
            &format!("ws://{server}/echo"),
            &["--messages", "--direction", "s2c", "--opcode", "text,close"],
        )
        .await;
        // A fragmented text message with a ping between its fragments.
        let mut tcp = raw_client(&trace.addr).await;
        let script = [
            frame(0x01, b"Hel", KEY),
            frame(0x89, b"p", KEY),
            frame(0x80, b"lo", KEY),
            frame(0x88, &[0x03, 0xe8], KEY),
        ];
        play(&mut tcp, &script).await;
        // The filter shows the end of the server's stream only.
        let lines = trace.until_ends(1).await;
        // Only what the server sent, and of that only text and close: the
        // handshake's response, its notes, the echo as one message, the
        // close; no pong, nothing the client sent.
        assert!(lines.iter().all(|l| !l.contains(" C->S ")), "{lines:#?}");
        assert!(lines.iter().all(|l| !l.contains("pong")), "{lines:#?}");
        let message = lines
            .iter()
            .find(|l| l.contains(" text "))
            .expect("the echo");
        assert!(
            message.contains(" S->C text   5 bytes in 1 frame \"Hello\""),
            "{message}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" close ") && l.contains("code=1000")),
            "{lines:#?}"
        );
    })
    .await;
}

/// One side of a TCP conversation in a test capture.
struct Peer {
    ip: [u8; 4],
    port: u16,
    seq: u32,
}

/// A TCP conversation written packet by packet into a capture, over
/// Ethernet and IPv4, with times 1 ms apart.
struct Conversation {
    client: Peer,
    server: Peer,
    packets: Vec<(u64, Vec<u8>)>,
}

impl Conversation {
    fn new() -> Conversation {
        let client = Peer {
            ip: [10, 0, 0, 1],
            port: 50_123,
            seq: 1_000,
        };
        let server = Peer {
            ip: [10, 0, 0, 2],
            port: 9001,
            seq: 7_000,
        };
        Conversation {
            client,
            server,
            packets: Vec::new(),
        }
    }

    /// A segment from the client (or the server) with these flags and
    /// payload; returns the bytes so that a test may reorder them.
    fn segment(&mut self, from_client: bool, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (from, to) = if from_client {
            (&mut self.client, &self.server)
        } else {
            (&mut self.server, &self.client)
        };
        let mut tcp = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(from.ip, to.ip, 64)
            .tcp(from.port, to.port, from.seq, 65_535);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') {
            tcp = tcp.ack(to.seq);
        }
        if flags.contains('F') {
            tcp = tcp.fin();
        }
        let mut bytes = Vec::new();
        tcp.write(&mut bytes, payload).expect("a packet");
        let used = payload.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
        from.seq = from.seq.wrapping_add(used);
        bytes
    }

    fn send(&mut self, from_client: bool, flags: &str, payload: &[u8]) {
        let packet = self.segment(from_client, flags, payload);
        self.push(packet);
    }

    fn push(&mut self, packet: Vec<u8>) {
        let time = 1_700_000_000_000_000 + 1000 * self.packets.len() as u64;
        self.packets.push((time, packet));
    }

    /// The classic libpcap file (microseconds, Ethernet).
    fn pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
            out.extend(word.to_le_bytes());
        }
        for (micros, packet) in &self.packets {
            let len = packet.len() as u32;
            for word in [
                (micros / 1_000_000) as u32,
                (micros % 1_000_000) as u32,
                len,
                len,
            ] {
                out.extend(word.to_le_bytes());
            }
            out.extend(packet);
        }
        out
    }

    /// The same packets as pcapng: a section, an Ethernet interface with
    /// the default microsecond resolution, enhanced packet blocks.
    fn pcapng(&self) -> Vec<u8> {
        fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
            let len = 12 + body.len() as u32;
            out.extend(kind.to_le_bytes());
            out.extend(len.to_le_bytes());
            out.extend(body);
            out.extend(len.to_le_bytes());
        }
        let mut out = Vec::new();
        let mut section = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        section.extend([1, 0, 0, 0]);
        section.extend([0xff; 8]);
        block(&mut out, 0x0a0d_0d0a, &section);
        block(&mut out, 1, &[1, 0, 0, 0, 0xff, 0xff, 0, 0]);
        for (micros, packet) in &self.packets {
            let mut body = Vec::new();
            let len = packet.len() as u32;
            for word in [0, (micros >> 32) as u32, *micros as u32, len, len] {
                body.extend(word.to_le_bytes());
            }
            body.extend(packet);
            body.resize(body.len().next_multiple_of(4), 0);
            block(&mut out, 6, &body);
        }
        out
    }
}

/// A captured session: the handshake split over two segments, a masked
/// text frame whose two segments arrive in reverse order, the echo, an
/// unmasked client frame (a violation), the close handshake and FINs.
fn captured_session() -> Conversation {
    let mut c = Conversation::new();
    c.send(true, "S", b"");
    c.send(false, "SA", b"");
    c.send(true, "A", b"");
    c.send(
        true,
        "A",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
    );
    c.send(
        true,
        "A",
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    );
    c.send(
        false,
        "A",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let text = frame(0x81, b"captured", KEY);
    let first = c.segment(true, "A", &text[..5]);
    let second = c.segment(true, "A", &text[5..]);
    c.push(second);
    c.push(first);
    c.send(false, "A", &frame(0x81, b"captured", None));
    c.send(true, "A", &frame(0x82, b"\x00\x01", None));
    c.send(true, "A", &frame(0x88, &[0x03, 0xe8], KEY));
    c.send(false, "A", &frame(0x88, &[0x03, 0xe8], None));
    c.send(false, "FA", b"");
    c.send(true, "FA", b"");
    c
}

/// Runs `rws trace --pcap FILE ARGS` on `bytes`: its stdout lines.
async fn trace_capture(name: &str, bytes: &[u8], args: &[&str]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("rws-trace-{}-{name}", std::process::id()));
    std::fs::write(&dir, bytes).expect("write the capture");
    let output = Command::new(env!("CARGO_BIN_EXE_rws"))
        .args(["trace", "--pcap"])
        .arg(&dir)
        .args(args)
        .output()
        .await
        .expect("run rws trace --pcap");
    let _ = std::fs::remove_file(&dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn trace_reads_pcap_and_pcapng_captures() {
    bounded(async {
        let session = captured_session();
        let lines = trace_capture("a.pcap", &session.pcap(), &["--json"]).await;
        let records: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(records[0]["event"], "open");
        assert_eq!(records[0]["client"], "10.0.0.1:50123");
        assert_eq!(records[0]["server"], "10.0.0.2:9001");
        assert_eq!(records[0]["time"], "22:13:20.000000");
        let heads: Vec<&Value> = records.iter().filter(|r| r["event"] == "head").collect();
        assert_eq!(heads.len(), 2);
        assert!(heads[0]["head"]
            .as_str()
            .unwrap()
            .ends_with("Sec-WebSocket-Version: 13"));
        let frames = frames(&records);
        let summary: Vec<(String, String, Vec<String>)> = frames
            .iter()
            .map(|f| {
                let shown = f["text"]
                    .as_str()
                    .or(f["hex"].as_str())
                    .unwrap_or("")
                    .to_owned();
                (f["from"].as_str().unwrap().to_owned(), shown, violations(f))
            })
            .collect();
        let s = |from: &str, shown: &str, v: &[&str]| {
            (
                from.to_owned(),
                shown.to_owned(),
                v.iter().map(|v| v.to_string()).collect(),
            )
        };
        assert_eq!(
            summary,
            [
                s("client", "captured", &[]),
                s("server", "captured", &[]),
                s("client", "0001", &["unmasked_client_frame"]),
                s("client", "", &[]),
                s("server", "", &[]),
            ]
        );
        let ends = records
            .iter()
            .filter(|r| r["note"] == "end of stream (FIN)")
            .count();
        assert_eq!(ends, 2);

        // pcapng gives the same trace.
        let from_pcapng = trace_capture("a.pcapng", &session.pcapng(), &["--json"]).await;
        assert_eq!(from_pcapng, lines);
        // And text lines say the same.
        let text = trace_capture("b.pcap", &session.pcap(), &["--direction", "c2s"]).await;
        assert!(text.iter().all(|l| !l.contains("S->C")), "{text:#?}");
        let unmasked = text
            .iter()
            .find(|l| l.contains(" binary "))
            .expect("the binary frame");
        assert!(
            unmasked.ends_with("unmasked len=2 (7-bit) 0001  !! unmasked client frame"),
            "{unmasked}"
        );
    })
    .await;
}

#[tokio::test]
async fn trace_says_why_a_capture_cannot_be_read() {
    bounded(async {
        let output = Command::new(env!("CARGO_BIN_EXE_rws"))
            .args(["trace", "--pcap", "/nonexistent/capture.pcap"])
            .output()
            .await
            .expect("run");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot open /nonexistent/capture.pcap"),
            "{stderr}"
        );
        let dir = std::env::temp_dir().join(format!("rws-trace-{}-garbage", std::process::id()));
        std::fs::write(&dir, b"this is not a capture at all").expect("write");
        let output = Command::new(env!("CARGO_BIN_EXE_rws"))
            .args(["trace", "--pcap"])
            .arg(&dir)
            .output()
            .await
            .expect("run");
        let _ = std::fs::remove_file(&dir);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("rws: "));

        // A capture cut in the middle of a record (a capture program killed
        // mid-write) is traced as far as it goes, then the error is told.
        let mut cut = captured_session().pcap();
        cut.truncate(cut.len() - 30);
        let path = std::env::temp_dir().join(format!("rws-trace-{}-cut", std::process::id()));
        std::fs::write(&path, &cut).expect("write");
        let output = Command::new(env!("CARGO_BIN_EXE_rws"))
            .args(["trace", "--pcap"])
            .arg(&path)
            .output()
            .await
            .expect("run");
        let _ = std::fs::remove_file(&path);
        assert!(!output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(" S->C FIN rsv=000 close "), "{stdout}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("truncated capture"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn trace_answers_502_when_the_upstream_is_unreachable() {
    bounded(async {
        // Nothing listens on the port of a listener just closed.
        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = closed.local_addr().expect("addr");
        drop(closed);
        let trace = trace(&format!("ws://{upstream}"), &[]).await;
        let mut tcp = TcpStream::connect(&trace.addr).await.expect("connect");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("request");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.expect("answer");
        assert!(
            answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains(&format!("cannot reach the upstream {upstream}")),
            "{answer}"
        );
    })
    .await;
}
