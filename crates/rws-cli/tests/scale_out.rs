//! `rws serve --redis`: chat rooms shared by several nodes through a real
//! Redis (Debian's `redis-server`, started by each test on a loopback port
//! of its own).
//!
//! These tests need `redis-server` on the PATH, so `cargo test` skips
//! them (they are `#[ignore]`d, and reported as such); `scale-out/run.sh`
//! installs Redis when it is missing and runs them, and `.ci/run` calls it.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{serve_with_log, TestCerts};
use rws::{CloseCode, Message, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("test did not finish in time")
}

/// A `redis-server` on a loopback port, killed when dropped.
struct Redis {
    port: u16,
    /// With TLS: the port of its TLS listener (besides the plain one the
    /// tests use to look at it), and its certificates.
    tls: Option<(u16, TestCerts)>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("addr").port()
}

impl Redis {
    async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            tls: None,
            child: None,
        };
        redis.run().await;
        redis
    }

    /// A Redis that also listens with TLS, with a certificate for
    /// localhost signed by a CA made now.
    async fn start_tls() -> Redis {
        let certs = TestCerts::new(&format!("redis-{}", free_port()));
        let mut redis = Redis {
            port: free_port(),
            tls: Some((free_port(), certs)),
            child: None,
        };
        redis.run().await;
        redis
    }

    /// Starts the server on its port(s) and waits until it answers.
    async fn run(&mut self) {
        let mut command = Command::new("redis-server");
        if let Some((port, certs)) = &self.tls {
            command
                .args(["--tls-port", &port.to_string()])
                .args(["--tls-cert-file", &certs.cert, "--tls-key-file", &certs.key])
                .args(["--tls-ca-cert-file", &certs.ca, "--tls-auth-clients", "no"]);
        }
        let child = command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server (is it installed? scale-out/run.sh installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if let Ok(reply) = self.command("PING").await {
                if reply == "+PONG" {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// The URL nodes are given: rediss:// to localhost when it has TLS.
    fn url(&self) -> String {
        match &self.tls {
            Some((port, _)) => format!("rediss://localhost:{port}"),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Sends one inline command and returns the reply's bytes, flattened
    /// to one line per RESP line (enough for PING and PUBSUB NUMSUB).
    async fn command(&self, command: &str) -> std::io::Result<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        tcp.write_all(format!("{command}\r\nQUIT\r\n").as_bytes())
            .await?;
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).await?;
        Ok(reply
            .trim_end()
            .trim_end_matches("+OK")
            .trim_end()
            .to_owned())
    }

    /// Waits until `count` nodes are subscribed to `room`'s channel.
    async fn wait_for_subscribers(&self, room: &str, count: usize) {
        let expected = format!(":{count}");
        for _ in 0..400 {
            let reply = self
                .command(&format!("PUBSUB NUMSUB rws:chat:{room}"))
                .await
                .expect("PUBSUB NUMSUB");
            if reply.lines().last() == Some(expected.as_str()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{room}'s channel never had {count} subscribers");
    }
}

/// A node: `rws serve --redis URL`, with its address and log; started once
/// its link to Redis is up.
struct Node {
    _child: Child,
    addr: String,
    log: mpsc::UnboundedReceiver<String>,
}

impl Node {
    async fn start(redis: &Redis, args: &[&str]) -> Node {
        let url = redis.url();
        let mut all = vec!["--redis", url.as_str()];
        if let Some((_, certs)) = &redis.tls {
            all.extend(["--redis-cacert", certs.ca.as_str()]);
        }
        all.extend_from_slice(args);
        let (child, addr, mut log) = serve_with_log(&all).await;
        wait_for_line(&mut log, "rooms shared through Redis").await;
        Node {
            _child: child,
            addr,
            log,
        }
    }

    async fn join(&self, room: &str, name: &str) -> WebSocket<rws::MaybeTlsStream> {
        let url = format!("ws://{}/chat/{room}?name={name}", self.addr);
        let (ws, _) = rws::ClientBuilder::new(url)
            .protocol("chat")
            .connect()
            .await
            .expect("join");
        ws
    }
}

async fn wait_for_line(log: &mut mpsc::UnboundedReceiver<String>, text: &str) -> String {
    loop {
        let line = log.recv().await.expect("the server's log ended");
        if line.contains(text) {
            return line;
        }
    }
}

/// The next text message, skipping presence events.
async fn next_line<S>(ws: &mut WebSocket<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match ws.recv().await.expect("a message").expect("no error") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Binary(_) => {}
        }
    }
}

/// The next presence event of the given type, skipping lines and others.
async fn next_event<S>(ws: &mut WebSocket<S>, kind: &str) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        if let Message::Binary(event) = ws.recv().await.expect("a message").expect("no error") {
            let event: serde_json::Value = serde_json::from_slice(&event).expect("JSON");
            if event["type"] == kind {
                return event;
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs redis-server: scale-out/run.sh runs these"]
async fn three_nodes_share_a_room_every_line_once_and_in_order() {
    bounded(async {
        let redis = Redis::start().await;
        // Each member's queue holds every line of the test (3 × LINES), so
        // that no member is dropped for not keeping up, however slowly
        // this process reads on a loaded machine.
        let queue = ["--chat-queue", "1024"];
        let nodes = [
            Node::start(&redis, &queue).await,
            Node::start(&redis, &queue).await,
            Node::start(&redis, &queue).await,
        ];
        let mut members = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            members.push(node.join("shared", &format!("m{i}")).await);
        }
        // Another room, on two of the nodes: it must hear nothing of the
        // first.
        let mut apart = [
            nodes[0].join("apart", "a0").await,
            nodes[2].join("apart", "a2").await,
        ];
        redis.wait_for_subscribers("shared", 3).await;
        redis.wait_for_subscribers("apart", 2).await;

        const LINES: usize = 200;
        let mut tasks = Vec::new();
        for (i, member) in members.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let (mut read, mut write) = member.split();
                let writer = tokio::spawn(async move {
                    for k in 0..LINES {
                        write
                            .send(Message::text(format!("m{i} {k}")))
                            .await
                            .expect("send");
                    }
                    write
                });
                // Every line of every member, its own included, once and
                // in each sender's order.
                let mut next = [0usize; 3];
                for _ in 0..3 * LINES {
                    let line = loop {
                        match read.recv().await.expect("a line").expect("no error") {
                            Message::Text(text) => break text.as_str().to_owned(),
                            Message::Binary(_) => {}
                        }
                    };
                    let (from, k) = line.split_once(' ').expect("m<i> <k>");
                    let from: usize = from[1..].parse().expect("sender");
                    let k: usize = k.parse().expect("number");
                    assert_eq!(k, next[from], "member {i}: line {line:?} out of order");
                    next[from] += 1;
                }
                assert_eq!(next, [LINES; 3]);
                read.reunite(writer.await.expect("writer"))
                    .expect("reunite")
            }));
        }
        let mut members = Vec::new();
        for task in tasks {
            members.push(task.await.expect("a member saw every line once, in order"));
        }
        // Nothing more arrives (no line twice), and the other room got
        // none: its first line is the one said there.
        tokio::time::sleep(Duration::from_millis(300)).await;
        apart[1].send(Message::text("apart")).await.expect("send");
        for ws in apart.iter_mut() {
            assert_eq!(next_line(ws).await, "apart");
        }
        for ws in members.iter_mut() {
            ws.send(Message::text("end")).await.expect("send");
        }
        for ws in members.iter_mut() {
            for _ in 0..3 {
                assert_eq!(next_line(ws).await, "end", "a line came twice");
            }
            ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs redis-server: scale-out/run.sh runs these"]
async fn a_redis_restart_closes_no_connection_and_the_rooms_join_again() {
    bounded(async {
        let mut redis = Redis::start().await;
        let mut one = Node::start(&redis, &[]).await;
        let two = Node::start(&redis, &[]).await;
        let mut ann = one.join("r", "ann").await;
        let mut bob = two.join("r", "bob").await;
        redis.wait_for_subscribers("r", 2).await;
        ann.send(Message::text("before")).await.expect("send");
        assert_eq!(next_line(&mut ann).await, "before");
        assert_eq!(next_line(&mut bob).await, "before");

        redis.stop().await;
        // Both are told, and keep their connections.
        assert_eq!(next_event(&mut ann, "relay").await["up"], false);
        assert_eq!(next_event(&mut bob, "relay").await["up"], false);
        wait_for_line(&mut one.log, "Redis link lost").await;
        // Meanwhile a line reaches its own node's members only.
        ann.send(Message::text("during")).await.expect("send");
        assert_eq!(next_line(&mut ann).await, "during");

        redis.run().await;
        assert_eq!(next_event(&mut ann, "relay").await["up"], true);
        assert_eq!(next_event(&mut bob, "relay").await["up"], true);
        redis.wait_for_subscribers("r", 2).await;
        bob.send(Message::text("after")).await.expect("send");
        ann.send(Message::text("after too")).await.expect("send");
        // The first two lines each sees since are these two (the line said
        // during the outage never reached Bob: at-most-once, and he was
        // told). Each sees its own line at once, the other's through
        // Redis, so their order differs.
        for ws in [&mut ann, &mut bob] {
            let mut lines = [next_line(ws).await, next_line(ws).await];
            lines.sort();
            assert_eq!(lines, ["after", "after too"]);
        }
        for ws in [&mut ann, &mut bob] {
            ws.close(CloseCode::NORMAL, "bye").await.expect("close");
            assert_eq!(ws.closed().expect("closed").code, CloseCode::NORMAL);
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs redis-server: scale-out/run.sh runs these"]
async fn a_node_started_before_redis_joins_once_it_is_up() {
    bounded(async {
        let mut redis = Redis::start().await;
        redis.stop().await;
        let url = redis.url();
        let (_child, addr, mut log) = serve_with_log(&["--redis", &url]).await;
        wait_for_line(&mut log, "Redis unreachable").await;
        // The room works locally meanwhile.
        let (mut early, _) = rws::connect(&format!("ws://{addr}/chat/late"))
            .await
            .expect("join");
        early.send(Message::text("local")).await.expect("send");
        assert_eq!(next_line(&mut early).await, "local");
        redis.run().await;
        wait_for_line(&mut log, "rooms shared through Redis").await;
        let other = Node::start(&redis, &[]).await;
        let mut there = other.join("late", "there").await;
        redis.wait_for_subscribers("late", 2).await;
        there.send(Message::text("hello")).await.expect("send");
        assert_eq!(next_line(&mut early).await, "hello");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs redis-server: scale-out/run.sh runs these"]
async fn a_slow_member_on_one_node_is_closed_with_1008_and_slows_no_one() {
    bounded(async {
        let redis = Redis::start().await;
        let one = Node::start(&redis, &["--chat-queue", "64"]).await;
        let mut two = Node::start(&redis, &["--chat-queue", "4"]).await;
        let three = Node::start(&redis, &["--chat-queue", "64"]).await;

        // A raw member of node two with a small receive buffer that never
        // reads.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut slow = socket
            .connect(two.addr.parse().expect("addr"))
            .await
            .expect("tcp");
        let request = format!(
            "GET /chat/flood HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            two.addr
        );
        slow.write_all(request.as_bytes()).await.expect("request");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            slow.read_exact(&mut byte).await.expect("response");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"));

        let fast = one.join("flood", "fast").await;
        let mut far = three.join("flood", "far").await;
        redis.wait_for_subscribers("flood", 3).await;

        const COUNT: usize = 3000;
        let (mut read, mut write) = fast.split();
        // The sender keeps at most 8 of its lines in flight, as seen by
        // itself (its own lines come back from node one at once) and by
        // the member on node three (through Redis): both keep up.
        let (credit, mut credits) = mpsc::channel::<()>(8);
        let (far_credit, mut far_credits) = mpsc::channel::<()>(8);
        let reader = tokio::spawn(async move {
            for i in 0..COUNT {
                let line = loop {
                    match read.recv().await.expect("a line").expect("no error") {
                        Message::Text(text) => break text.as_str().to_owned(),
                        Message::Binary(_) => {}
                    }
                };
                assert!(line.starts_with(&format!("{i:06}")));
                let _ = credit.try_send(());
            }
            read
        });
        let far_reader = tokio::spawn(async move {
            for i in 0..COUNT {
                let line = next_line(&mut far).await;
                assert!(line.starts_with(&format!("{i:06}")), "{i}: {}", &line[..6]);
                let _ = far_credit.try_send(());
            }
            far
        });
        for i in 0..COUNT {
            if i >= 8 {
                credits.recv().await.expect("credit");
                far_credits.recv().await.expect("credit from node three");
            }
            let text = format!("{i:06}{}", "x".repeat(1018));
            write.send(Message::text(text)).await.expect("send");
        }
        let read = reader.await.expect("the sender got all its lines back");
        let mut far = far_reader
            .await
            .expect("node three's member got every line");
        let line = wait_for_line(&mut two.log, "cannot keep up").await;
        assert!(line.contains("1008"), "{line}");
        // The slow member's connection ends: reading on, it finds the
        // close frame with 1008 after the lines it had not read, or the
        // end of the stream if that frame could not be sent in time.
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
        if let Some(at) = find_close(&rest) {
            assert_eq!(&rest[at + 2..at + 4], &1008u16.to_be_bytes());
        }
        let mut fast = read.reunite(write).expect("reunite");
        for ws in [&mut fast, &mut far] {
            ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        }
    })
    .await;
}

/// Where the server's close frame starts in the bytes a client read, if
/// it is there: walks the frames (unmasked, from the server).
fn find_close(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 if at + 4 <= bytes.len() => (
                u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize,
                4,
            ),
            127 if at + 10 <= bytes.len() => (
                u64::from_be_bytes(bytes[at + 2..at + 10].try_into().ok()?) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if opcode == 8 {
            return Some(at);
        }
        at += header + len;
    }
    None
}

#[tokio::test]
#[ignore = "needs redis-server: scale-out/run.sh runs these"]
async fn nodes_share_rooms_over_rediss_and_check_its_certificate() {
    bounded(async {
        let redis = Redis::start_tls().await;
        let one = Node::start(&redis, &[]).await;
        let two = Node::start(&redis, &[]).await;
        let mut ann = one.join("tls", "ann").await;
        let mut bob = two.join("tls", "bob").await;
        redis.wait_for_subscribers("tls", 2).await;
        ann.send(Message::text("over TLS")).await.expect("send");
        assert_eq!(next_line(&mut bob).await, "over TLS");

        // Without the CA, the system's roots do not know Redis's
        // certificate: the node stays on its own and says why.
        let url = redis.url();
        let (_child, _, mut log) = serve_with_log(&["--redis", &url]).await;
        let line = wait_for_line(&mut log, "Redis unreachable").await;
        assert!(line.to_lowercase().contains("certificate"), "{line}");
    })
    .await;
}
