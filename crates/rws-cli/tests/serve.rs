//! `rws serve` over loopback: the binary is started on port 0 and driven
//! with the rws client.

mod common;

use common::{serve, serve_with_log};

use std::time::Duration;

use rws::{CloseCode, Error, HandshakeError, MaybeTlsStream, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("test did not finish in time")
}

#[tokio::test]
async fn serve_echoes_text_and_binary_on_echo() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        let (mut ws, _) = rws::connect(&format!("ws://{addr}/echo"))
            .await
            .expect("connect");
        for message in [
            Message::text("hello"),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::text("é".repeat(40_000)),
            Message::binary(Vec::new()),
        ] {
            ws.send(message.clone()).await.expect("send");
            let echo = ws.recv().await.expect("a reply").expect("no error");
            assert_eq!(echo, message);
        }
        ws.close(CloseCode::NORMAL, "bye")
            .await
            .expect("clean close");
        assert_eq!(ws.closed().expect("closed").code, CloseCode::NORMAL);
    })
    .await;
}

#[tokio::test]
async fn serve_answers_404_elsewhere() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        match rws::connect(&format!("ws://{addr}/nope")).await {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), 404);
                assert!(String::from_utf8_lossy(response.body()).contains("/nope"));
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    })
    .await;
}

/// A browser or curl on /echo without an upgrade: 426 Upgrade Required
/// (RFC 9110 §15.5.22, with the Upgrade field it requires), not a 404 for
/// an endpoint that exists.
#[tokio::test]
async fn serve_answers_426_to_plain_http_on_a_websocket_endpoint() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        for path in ["/echo", "/chat/rust"] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let answer = http_get(&addr, &request).await;
            let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
            assert!(
                head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
                "{head}"
            );
            assert!(
                head.to_ascii_lowercase().contains("\r\nupgrade: websocket"),
                "{head}"
            );
            assert!(
                body.contains(&format!("{path} is a WebSocket endpoint")),
                "{body}"
            );
        }
    })
    .await;
}

/// Sends one plain HTTP request and reads the answer to the end.
async fn http_get(addr: &str, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.expect("read");
    String::from_utf8(answer).expect("a UTF-8 answer")
}

#[tokio::test]
async fn serve_has_the_chat_page_on_the_root() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        let page = http_get(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (head, body) = page.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("content-type: text/html; charset=utf-8"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(
            body.contains("<html") && body.contains("new WebSocket("),
            "{body}"
        );

        let missing = http_get(&addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let post = http_get(&addr, "POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        // The page's port still serves WebSockets.
        let (mut ws, _) = rws::connect(&format!("ws://{addr}/echo"))
            .await
            .expect("connect");
        ws.send(Message::text("still here")).await.expect("send");
        assert_eq!(
            ws.recv().await.expect("echo").expect("ok"),
            Message::text("still here")
        );
    })
    .await;
}

#[tokio::test]
async fn serve_enforces_max_message_size() {
    bounded(async {
        let (_child, addr) = serve(&["--max-message-size", "1000"]).await;
        let (mut ws, _) = rws::connect(&format!("ws://{addr}/echo"))
            .await
            .expect("connect");
        ws.send(Message::binary(vec![1u8; 1000]))
            .await
            .expect("send");
        assert_eq!(ws.recv().await.expect("reply").expect("ok").len(), 1000);
        ws.send(Message::binary(vec![1u8; 1001]))
            .await
            .expect("send");
        // The server closes the connection with 1009 (RFC 6455 §7.4.1),
        // which recv reports before it ends.
        match ws.recv().await {
            Some(Err(Error::Closed(closed))) => {
                assert_eq!(closed.code.as_u16(), 1009);
            }
            other => panic!("expected the server's 1009, got {other:?}"),
        }
        assert!(ws.recv().await.is_none());
        let closed = ws.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG);
    })
    .await;
}

async fn chat(addr: &str, path: &str) -> WebSocket<MaybeTlsStream> {
    rws::connect(&format!("ws://{addr}{path}"))
        .await
        .expect("connect")
        .0
}

async fn recv_text<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> String {
    match ws.recv().await.expect("a message").expect("no error") {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn chat_broadcasts_within_a_room() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        let mut room = Vec::new();
        for i in 0..3 {
            let mut ws = chat(&addr, "/chat/room1").await;
            // The member has joined once its own message comes back.
            ws.send(Message::text(format!("sync {i}")))
                .await
                .expect("send");
            assert_eq!(recv_text(&mut ws).await, format!("sync {i}"));
            room.push(ws);
        }
        let mut other = chat(&addr, "/chat/other").await;
        for (i, ws) in room.iter_mut().enumerate() {
            ws.send(Message::text(format!("hello {i}")))
                .await
                .expect("send");
        }
        // Every member gets all three, in the same order (the room's).
        let mut orders = Vec::new();
        for ws in &mut room {
            let mut got = Vec::new();
            while got.len() < 3 {
                let text = recv_text(ws).await;
                if !text.starts_with("sync") {
                    got.push(text);
                }
            }
            orders.push(got);
        }
        let mut sorted = orders[0].clone();
        sorted.sort();
        assert_eq!(sorted, ["hello 0", "hello 1", "hello 2"]);
        assert!(orders.iter().all(|order| *order == orders[0]), "{orders:?}");
        // Binary messages are ignored, and nothing leaked into /chat/other.
        room[0]
            .send(Message::binary(vec![1u8, 2]))
            .await
            .expect("send");
        other.send(Message::text("only me")).await.expect("send");
        assert_eq!(recv_text(&mut other).await, "only me");
        room[0].send(Message::text("last")).await.expect("send");
        for ws in &mut room {
            assert_eq!(recv_text(ws).await, "last");
        }
        // The lobby is a room too.
        let mut lobby = chat(&addr, "/chat").await;
        lobby.send(Message::text("hi lobby")).await.expect("send");
        assert_eq!(recv_text(&mut lobby).await, "hi lobby");
        for ws in room.iter_mut().chain([&mut other, &mut lobby]) {
            ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        }
    })
    .await;
}

/// With the `chat` subprotocol, members get presence events: binary
/// messages of JSON (`here` on joining, `joined`, `left`), with the names
/// given as `?name=` (percent-decoded); members without it get none.
#[tokio::test]
async fn chat_members_with_the_subprotocol_see_who_joins_and_leaves() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        let member = |name: &str| {
            rws::ClientBuilder::new(format!("ws://{addr}/chat/presence?name={name}"))
                .protocol("chat")
        };
        let event = |message: Message| -> serde_json::Value {
            match message {
                Message::Binary(data) => serde_json::from_slice(&data).expect("JSON"),
                other => panic!("expected a presence event, got {other:?}"),
            }
        };
        let (mut ann, _) = member("ann").connect().await.expect("ann");
        let here = event(ann.recv().await.expect("here").expect("ok"));
        assert_eq!(here, serde_json::json!({"type": "here", "names": []}));
        // A member without the subprotocol: no events, and it counts.
        let mut plain = chat(&addr, "/chat/presence?name=pat").await;
        let joined = event(ann.recv().await.expect("joined").expect("ok"));
        assert_eq!(
            joined,
            serde_json::json!({"type": "joined", "name": "pat", "count": 2})
        );
        let (mut bob, _) = member("b%C3%B6b%20").connect().await.expect("bob");
        let here = event(bob.recv().await.expect("here").expect("ok"));
        let mut names: Vec<String> = serde_json::from_value(here["names"].clone()).expect("names");
        names.sort();
        assert_eq!(names, ["ann", "pat"]);
        let joined = event(ann.recv().await.expect("joined").expect("ok"));
        assert_eq!(
            joined,
            serde_json::json!({"type": "joined", "name": "böb", "count": 3})
        );
        bob.close(CloseCode::NORMAL, "").await.expect("close");
        let left = event(ann.recv().await.expect("left").expect("ok"));
        assert_eq!(
            left,
            serde_json::json!({"type": "left", "name": "böb", "count": 2})
        );
        // The plain member saw none of it: its next message is a line.
        ann.send(Message::text("ann: hi")).await.expect("send");
        assert_eq!(recv_text(&mut plain).await, "ann: hi");
    })
    .await;
}

#[tokio::test]
async fn chat_selects_its_subprotocol_when_offered() {
    bounded(async {
        let (_child, addr) = serve(&[]).await;
        let (ws, _) = rws::ClientBuilder::new(format!("ws://{addr}/chat/room"))
            .protocol("chat")
            .connect()
            .await
            .expect("connect");
        assert_eq!(ws.protocol(), Some("chat"));
        let (ws, _) = rws::ClientBuilder::new(format!("ws://{addr}/chat/room"))
            .protocol("other")
            .connect()
            .await
            .expect("connect");
        assert_eq!(ws.protocol(), None);
        let ws = chat(&addr, "/chat/room").await;
        assert_eq!(ws.protocol(), None);
        for bad in [
            "/chat/",
            "/chat/a.b",
            "/chat/a/b",
            &format!("/chat/{}", "a".repeat(65)),
        ] {
            match rws::connect(&format!("ws://{addr}{bad}")).await {
                Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                    assert_eq!(response.status(), 404, "{bad}");
                }
                other => panic!("expected a 404 for {bad}, got {other:?}"),
            }
        }
        chat(&addr, &format!("/chat/{}", "a-_Z9".repeat(12) + "abcd")).await;
    })
    .await;
}

#[tokio::test]
async fn chat_disconnects_a_client_that_cannot_keep_up() {
    bounded(async {
        let (_child, addr, mut log) = serve_with_log(&["--chat-queue", "4"]).await;
        // A raw client with a small receive buffer that never reads.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut slow = socket
            .connect(addr.parse().expect("addr"))
            .await
            .expect("tcp");
        let request = format!(
            "GET /chat/slow?name=slow HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        slow.write_all(request.as_bytes()).await.expect("request");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            slow.read_exact(&mut byte).await.expect("response");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        // Say something (masked), so that the slow client has surely joined
        // before the flood.
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x81, 0x80 | 4];
        frame.extend_from_slice(&mask);
        frame.extend(b"here".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        slow.write_all(&frame).await.expect("frame");

        // With the chat subprotocol: presence events too.
        let (fast, _) = rws::ClientBuilder::new(format!("ws://{addr}/chat/slow?name=fast"))
            .protocol("chat")
            .connect()
            .await
            .expect("connect");
        let (mut read, mut write) = fast.split();
        const COUNT: usize = 5000;
        // The fast client keeps at most 2 of its messages in flight, so its
        // own queue (4) never fills: it keeps up.
        let (credit, mut credits) = mpsc::channel::<()>(2);
        // Told when the room announces the slow member gone, that is when
        // it is kicked: the slow member then starts reading, while the
        // server still tries to send it the close frame.
        let (kicked, was_kicked) = tokio::sync::oneshot::channel::<()>();
        let slow_reader = tokio::spawn(async move {
            let _ = was_kicked.await;
            let mut rest = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest))
                .await
                .expect("the server ends the slow member's connection")
                .expect("read");
            rest
        });
        let reader = tokio::spawn(async move {
            let mut kicked = Some(kicked);
            let left = serde_json::json!({"type": "left", "name": "slow", "count": 1});
            let mut seen = 0usize;
            let mut events = Vec::new();
            while seen < COUNT {
                match read.recv().await.expect("a message").expect("no error") {
                    Message::Text(text) if text.as_str() == "here" => {}
                    Message::Text(text) => {
                        assert_eq!(text.len(), 1024);
                        assert!(text.as_str().starts_with(&format!("{seen:06}")));
                        seen += 1;
                        let _ = credit.try_send(());
                    }
                    Message::Binary(event) => {
                        let event: serde_json::Value =
                            serde_json::from_slice(&event).expect("JSON");
                        if event == left {
                            kicked.take().map(|kicked| kicked.send(()));
                        }
                        events.push(event);
                    }
                }
            }
            (read, events)
        });
        for i in 0..COUNT {
            if i >= 2 {
                credits.recv().await.expect("credit");
            }
            let text = format!("{i:06}{}", "x".repeat(1018));
            write.send(Message::text(text)).await.expect("send");
        }
        let (read, mut events) = reader.await.expect("the fast client received all it sent");
        let mut fast = read.reunite(write).expect("reunite");
        loop {
            let line = log.recv().await.expect("the server's log");
            if line.contains("cannot keep up") {
                break;
            }
        }
        // The slow member, reading once kicked, finds after the lines it
        // had not read the close frame with 1008 (RFC 6455 §7.4.1: "a
        // message that violates its policy"), then the end of the stream.
        let rest = slow_reader.await.expect("the slow member's reader");
        let close = server_close_frame(&rest).expect("a close frame after the lines");
        assert_eq!(&close[..2], &1008u16.to_be_bytes(), "{close:?}");
        // The room tells the others that the slow member left, as soon as
        // it is kicked.
        let gone = serde_json::json!({"type": "left", "name": "slow", "count": 1});
        while !events.contains(&gone) {
            match fast
                .recv()
                .await
                .expect("a presence event")
                .expect("no error")
            {
                Message::Binary(event) => {
                    events.push(serde_json::from_slice(&event).expect("JSON"))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Before that, it learnt of the slow member: there when it joined,
        // or joining after it (the two joins race).
        let there = serde_json::json!({"type": "here", "names": ["slow"]});
        let came = serde_json::json!({"type": "joined", "name": "slow", "count": 2});
        assert!(events[0] == there || events.contains(&came), "{events:?}");
        fast.close(CloseCode::NORMAL, "bye").await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn serve_refuses_connections_beyond_the_maximum() {
    bounded(async {
        let (_child, addr) = serve(&["--max-connections", "2"]).await;
        let _first = chat(&addr, "/echo").await;
        let _second = chat(&addr, "/chat").await;
        match rws::connect(&format!("ws://{addr}/echo")).await {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), 503);
            }
            other => panic!("expected a 503, got {other:?}"),
        }
        // Closing one makes room again.
        let mut first = _first;
        first.close(CloseCode::NORMAL, "bye").await.expect("close");
        let mut third = loop {
            match rws::connect(&format!("ws://{addr}/echo")).await {
                Ok((ws, _)) => break ws,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        third.send(Message::text("ok")).await.expect("send");
        assert_eq!(recv_text(&mut third).await, "ok");
    })
    .await;
}

/// Plain HTTP counts against `--max-connections` too: beyond it, the page
/// is answered with 503, and once a connection ends it is served again.
#[tokio::test]
async fn serve_answers_plain_http_with_503_beyond_the_maximum() {
    bounded(async {
        let (_child, addr) = serve(&["--max-connections", "1"]).await;
        let mut ws = chat(&addr, "/echo").await;
        // The connection is open and holds the only permit.
        ws.send(Message::text("held")).await.expect("send");
        assert_eq!(recv_text(&mut ws).await, "held");

        let refused = http_get(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (head, body) = refused.split_once("\r\n\r\n").expect("a head");
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert_eq!(body, "too many connections\n");

        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        // The server frees the permit when its task ends, just after the
        // close handshake: a few tries may still be refused.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let page = loop {
            let answer = http_get(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
            if answer.starts_with("HTTP/1.1 200 OK\r\n") {
                break answer;
            }
            assert!(
                answer.starts_with("HTTP/1.1 503 "),
                "expected 200 or 503, got {answer}"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "still refused 5 s after the WebSocket closed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(page.contains("new WebSocket("), "{page}");
    })
    .await;
}

#[tokio::test]
async fn serve_closes_every_connection_with_1001_on_sigint() {
    closes_every_connection_with_1001_on("-INT", &[]).await;
}

/// The same on one thread (tokio's current-thread scheduler, where the
/// signal, the listener and every connection share the thread), and on the
/// other signal a service manager sends.
#[tokio::test]
async fn serve_on_one_thread_closes_every_connection_with_1001_on_sigterm() {
    closes_every_connection_with_1001_on("-TERM", &["--threads", "1"]).await;
}

/// `--threads 1`: the process has one thread, the one serving (Linux's
/// /proc lists a process's threads).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn serve_threads_1_runs_on_one_thread() {
    bounded(async {
        let (child, addr) = serve(&["--threads", "1"]).await;
        let mut echo = chat(&addr, "/echo").await;
        echo.send(Message::text("a")).await.expect("send");
        assert_eq!(recv_text(&mut echo).await, "a");
        let pid = child.id().expect("pid");
        let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("/proc")
            .count();
        assert_eq!(threads, 1);
    })
    .await;
}

/// Echo and chat connections both get 1001 "server shutting down" when the
/// server is sent `signal`, and the server exits with success.
async fn closes_every_connection_with_1001_on(signal: &str, args: &[&str]) {
    bounded(async {
        let (mut child, addr) = serve(args).await;
        let mut echo = chat(&addr, "/echo").await;
        let mut room = chat(&addr, "/chat").await;
        // Both connections are up and running.
        echo.send(Message::text("a")).await.expect("send");
        assert_eq!(recv_text(&mut echo).await, "a");
        room.send(Message::text("b")).await.expect("send");
        assert_eq!(recv_text(&mut room).await, "b");
        let pid = child.id().expect("pid");
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        for ws in [&mut echo, &mut room] {
            assert!(ws.recv().await.is_none(), "the server closes");
            let closed = ws.closed().expect("closed");
            assert_eq!(closed.code, CloseCode::GOING_AWAY);
            assert_eq!(closed.reason.as_str(), "server shutting down");
        }
        let exit = tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .expect("exits within 5 s")
            .expect("wait");
        assert!(exit.success(), "{exit:?}");
    })
    .await;
}

/// A raw client: the upgrade request of RFC 6455 §1.3, then every byte the
/// server sends until it closes TCP or `quiet` passes with nothing.
async fn raw_silent_client(addr: &str, quiet: Duration) -> Vec<u8> {
    raw_client_for(addr, quiet, Duration::MAX).await
}

/// [`raw_silent_client`], which also stops once `total` has passed.
async fn raw_client_for(addr: &str, quiet: Duration, total: Duration) -> Vec<u8> {
    let start = tokio::time::Instant::now();
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut all = Vec::new();
    let mut chunk = [0; 1024];
    while start.elapsed() < total {
        let wait = quiet.min(total.saturating_sub(start.elapsed()));
        match tokio::time::timeout(wait, tcp.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => all.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    assert!(all.starts_with(b"HTTP/1.1 101"));
    all.split_off(end + 4)
}

#[tokio::test]
async fn serve_pings_a_silent_client_and_fails_it_with_1011() {
    bounded(async {
        let (_child, addr, mut log) =
            serve_with_log(&["--ping-interval", "0.2", "--ping-timeout", "0.3"]).await;
        let frames = raw_silent_client(&addr, Duration::from_secs(5)).await;
        // An unmasked ping with a 4-byte payload, then (unanswered) a close
        // frame with 1011 and the reason; then the server closed TCP.
        assert_eq!(frames[..2], [0x89, 0x04], "{frames:?}");
        let close = &frames[6..];
        assert_eq!(close[0], 0x88, "{frames:?}");
        assert_eq!(close[2..4], [0x03, 0xf3], "1011");
        assert_eq!(&close[4..], b"keepalive ping timeout");
        loop {
            let line = log.recv().await.expect("a log line");
            if line.contains("connection failed") {
                assert!(line.contains("keepalive ping timeout"), "{line}");
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn serve_ping_timeout_0_pings_but_never_fails_the_connection() {
    bounded(async {
        // Pings every 0.1 s to a client that never answers: with a timeout
        // the connection would fail after the first one (as in the test
        // above); with 0 it stays open.
        let (_child, addr) = serve(&["--ping-interval", "0.1", "--ping-timeout", "0"]).await;
        let frames = raw_client_for(&addr, Duration::from_secs(2), Duration::from_secs(1)).await;
        // Unmasked pings with a 4-byte payload (6 bytes each), nothing else.
        assert!(frames.len() >= 3 * 6, "at least 3 pings: {frames:?}");
        for ping in frames.chunks(6) {
            assert_eq!(ping[..2], [0x89, 0x04], "only pings: {frames:?}");
        }
    })
    .await;
}

/// The payload of the first close frame in what a client read from the
/// server (unmasked frames, walked header by header), if there is one.
fn server_close_frame(mut bytes: &[u8]) -> Option<Vec<u8>> {
    while bytes.len() >= 2 {
        let (len, header) = match bytes[1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
                4,
            ),
            127 => (
                usize::try_from(u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?)).ok()?,
                10,
            ),
            n => (usize::from(n), 2),
        };
        let frame = bytes.get(header..header + len)?;
        if bytes[0] & 0x0f == 0x8 {
            return Some(frame.to_vec());
        }
        bytes = &bytes[header + len..];
    }
    None
}

/// `--no-deflate` declines permessage-deflate (RFC 7692 §5: the server
/// answers without the extension), which is otherwise accepted.
#[tokio::test]
async fn serve_no_deflate_declines_permessage_deflate() {
    bounded(async {
        let offer =
            rws::WebSocketConfig::default().deflate(Some(rws::deflate::DeflateConfig::default()));
        for (args, agreed) in [(&[][..], true), (&["--no-deflate"][..], false)] {
            let (_child, addr) = serve(args).await;
            let (mut ws, response) = rws::ClientBuilder::new(format!("ws://{addr}/echo"))
                .config(offer.clone())
                .connect()
                .await
                .expect("connect");
            let header = response.headers().get("sec-websocket-extensions");
            assert_eq!(header.is_some(), agreed, "{args:?}: {header:?}");
            assert_eq!(ws.deflate().is_some(), agreed, "{args:?}");
            let text = "compressible ".repeat(100);
            ws.send(Message::text(text.clone())).await.expect("send");
            assert_eq!(recv_text(&mut ws).await, text);
            ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        }
    })
    .await;
}
