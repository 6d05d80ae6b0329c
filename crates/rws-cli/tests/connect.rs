//! `rws connect` over loopback: the binary is driven through its stdin,
//! stdout and stderr against `rws serve` or a small server in the test.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use rws::http::StatusCode;
use rws::{Accept, CloseCode, Message, Rejection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Starts `rws serve` on a free port; returns the child and its address.
async fn serve() -> (Child, String) {
    common::serve(&[]).await
}

/// Starts `rws connect` with piped stdin, stdout and stderr.
fn connect(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rws"))
        .arg("connect")
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rws connect")
}

/// Runs `rws connect` with `input` on stdin, then the end of stdin.
async fn run(args: &[&str], input: &str) -> Output {
    let mut child = connect(args);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    child.wait_with_output().await.expect("rws connect output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("test did not finish in time")
}

#[tokio::test]
async fn lines_are_echoed_and_eof_closes_cleanly() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/echo");
        let output = run(&[&url], "hello\nwörld\n/not a command\n\nlast").await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            text(&output.stdout),
            "hello\nwörld\n/not a command\n\nlast\n"
        );
        // The close code always goes to stderr: 1000, sent by rws at the
        // end of stdin (RFC 6455 §7.4.1).
        assert_eq!(
            text(&output.stderr),
            "rws: closed by rws: 1000 (normal closure)\n"
        );
    })
    .await;
}

#[tokio::test]
async fn binary_lines_are_shown_in_hex() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/echo");
        let long = "a".repeat(65);
        let output = run(&["--binary", &url], &format!("hi\n{long}\n")).await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            text(&output.stdout),
            format!(
                "<binary 2 bytes: 6869>\n<binary 65 bytes: {}...>\n",
                "61".repeat(64)
            )
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_closing_with_1008_exits_with_6() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = rws::accept(tcp).await.expect("handshake");
            let first = ws.recv().await.expect("a message").expect("ok");
            ws.close(CloseCode::POLICY_VIOLATION, "go away")
                .await
                .expect("close");
            first
        });
        let mut child = connect(&[&format!("ws://{addr}/")]);
        // stdin stays open: the server's close alone ends the session.
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"first\nsecond\n").await.expect("write");
        let output = child.wait_with_output().await.expect("output");
        drop(stdin);
        assert_eq!(server.await.expect("server"), Message::text("first"));
        assert_eq!(output.status.code(), Some(6), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("1008"), "{stderr}");
        assert!(stderr.contains("go away"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn a_rejected_handshake_exits_with_4() {
    bounded(async {
        let (_server, addr) = serve().await;
        let output = run(&[&format!("ws://{addr}/nope")], "hello\n").await;
        assert_eq!(output.status.code(), Some(4), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("handshake rejected: 404"), "{stderr}");
        assert_eq!(text(&output.stdout), "");
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_exits_with_3() {
    bounded(async {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let output = run(&[&format!("ws://127.0.0.1:{port}/")], "hello\n").await;
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with(&format!("rws: cannot connect to 127.0.0.1:{port}")),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn headers_reach_the_server() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut seen = None;
            let mut ws = rws::ServerBuilder::new()
                .on_request(|req| {
                    seen = req
                        .headers()
                        .get("x-test")
                        .map(|v| v.to_str().unwrap_or_default().to_owned());
                    if seen.is_some() {
                        Ok(Accept::new())
                    } else {
                        Err(Rejection::new(StatusCode::BAD_REQUEST, "no x-test"))
                    }
                })
                .accept(tcp)
                .await
                .expect("handshake");
            while let Some(message) = ws.recv().await {
                message.expect("no error");
            }
            seen
        });
        let output = run(&["--header", "x-test: 1", &format!("ws://{addr}/")], "").await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(server.await.expect("server").as_deref(), Some("1"));
    })
    .await;
}

#[tokio::test]
async fn a_header_without_colon_is_a_usage_error() {
    bounded(async {
        let output = run(&["--header", "x-test", "ws://127.0.0.1:9/"], "").await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("'Name: value'"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn verbose_shows_the_handshake() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/echo");
        let output = run(&["-v", "--protocol", "chat", &url], "hi\n").await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(text(&output.stdout), "hi\n");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("> GET /echo HTTP/1.1\n"), "{stderr}");
        assert!(
            stderr.contains("> sec-websocket-protocol: chat\n"),
            "{stderr}"
        );
        assert!(
            stderr.contains("> sec-websocket-extensions: permessage-deflate"),
            "{stderr}"
        );
        assert!(
            stderr.contains("< HTTP/1.1 101 Switching Protocols\n"),
            "{stderr}"
        );
        assert!(
            stderr.contains("* permessage-deflate agreed: permessage-deflate"),
            "{stderr}"
        );

        let output = run(&["-v", "--no-deflate", &url], "").await;
        assert!(output.status.success(), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("> sec-websocket-extensions"), "{stderr}");
        assert!(
            stderr.contains("* permessage-deflate not in use"),
            "{stderr}"
        );
    })
    .await;
}

/// On a terminal, lines that start with `/` are commands. The terminal is
/// a pseudo-terminal from util-linux's `script`; a server in the test
/// records what arrives.
#[tokio::test]
async fn slash_commands_work_on_a_terminal() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = rws::accept(tcp).await.expect("handshake");
            let mut seen = Vec::new();
            while let Some(event) = ws.recv_event().await {
                match event.expect("no error") {
                    rws::Event::Ping(data) => seen.push(format!("ping {data:?}")),
                    rws::Event::Message(Message::Text(text)) => {
                        ws.send(Message::text(text.to_string()))
                            .await
                            .expect("echo");
                        seen.push(format!("text {text}"));
                    }
                    rws::Event::CloseReceived(Some(frame)) => {
                        seen.push(format!("close {} {}", frame.code, frame.reason))
                    }
                    _ => {}
                }
            }
            seen
        });
        let command = format!("{} connect ws://{addr}/", env!("CARGO_BIN_EXE_rws"));
        let mut child = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("util-linux's script runs rws connect on a pseudo-terminal");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        stdin.write_all(b"/ping hi\nhello\n").await.expect("write");
        // The terminal echoes the typed line, then the server's echo is
        // shown: wait for both before closing, so that the echo is not
        // discarded as data arriving after our close frame.
        let mut shown = String::new();
        let hellos = |shown: &str| shown.lines().filter(|l| l.trim_end() == "hello").count();
        while hellos(&shown) < 2 {
            let mut chunk = [0; 1024];
            let n = stdout.read(&mut chunk).await.expect("read the terminal");
            assert!(n > 0, "rws connect ended early: {shown}");
            shown.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        stdin
            .write_all(b"//slash\n/nope\n/close 4000 bye\n")
            .await
            .expect("write");
        // stdin stays open: /close alone must end the session.
        let mut rest = Vec::new();
        stdout
            .read_to_end(&mut rest)
            .await
            .expect("read the terminal");
        let status = child.wait().await.expect("exit");
        drop(stdin);
        shown.push_str(&String::from_utf8_lossy(&rest));
        let shown = shown.replace('\r', "");
        assert!(status.success(), "{shown}");
        assert_eq!(
            server.await.expect("server"),
            [
                "ping b\"hi\"",
                "text hello",
                "text /slash",
                "close 4000 bye"
            ]
        );
        assert!(shown.contains("< pong hi\n"), "{shown}");
        // The terminal's echo of typed lines may land inside this message
        // (stderr is written in pieces): check its parts.
        assert!(shown.contains("rws: unknown command"), "{shown}");
        assert!(shown.contains("/help lists them"), "{shown}");
    })
    .await;
}

/// A server of a few lines: accepts one connection, answers its upgrade
/// request with 101 (RFC 6455 §4.2.2), writes `then`, and reads until
/// the client goes (or, with `hang_up`, closes TCP at once).
async fn raw_server(then: &'static [u8], hang_up: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            tcp.read_exact(&mut byte).await.expect("request");
            request.push(byte[0]);
        }
        let request = String::from_utf8(request).expect("UTF-8");
        let key = request
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("a key");
        let accept = rws::proto::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        tcp.write_all(response.as_bytes()).await.expect("101");
        tcp.write_all(then).await.expect("then");
        if !hang_up {
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await;
        }
    });
    addr
}

/// Runs `rws connect` with stdin left open (so that only the session's
/// own end, not the end of stdin, closes it).
async fn run_open(args: &[&str]) -> Output {
    let mut child = connect(args);
    let stdin = child.stdin.take().expect("stdin");
    let output = child.wait_with_output().await.expect("output");
    drop(stdin);
    output
}

#[tokio::test]
async fn a_bad_url_exits_with_2() {
    bounded(async {
        let output = run(&["ftp://127.0.0.1/"], "").await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(text(&output.stderr).contains("ftp://"), "{output:?}");
    })
    .await;
}

/// A reserved opcode (0x3, RFC 6455 §5.2) from the server: rws fails the
/// connection with 1002 and exits with 5.
#[tokio::test]
async fn a_protocol_error_exits_with_5() {
    bounded(async {
        let addr = raw_server(&[0x83, 0x00], false).await;
        let output = run_open(&[&format!("ws://{addr}/")]).await;
        assert_eq!(output.status.code(), Some(5), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("protocol error"), "{stderr}");
        assert!(stderr.contains("1002"), "{stderr}");
    })
    .await;
}

/// TCP closed with no close frame: RFC 6455 §7.1.5's 1006, exit 7.
#[tokio::test]
async fn a_dropped_connection_exits_with_7() {
    bounded(async {
        let addr = raw_server(b"", true).await;
        let output = run_open(&[&format!("ws://{addr}/")]).await;
        assert_eq!(output.status.code(), Some(7), "{output:?}");
        assert!(
            text(&output.stderr).contains("without a close handshake"),
            "{output:?}"
        );
    })
    .await;
}

/// A refusal's Retry-After is said without -v.
#[tokio::test]
async fn a_refusal_shows_retry_after() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let _ = rws::ServerBuilder::new()
                .on_request(|_| {
                    Err(Rejection::new(StatusCode::SERVICE_UNAVAILABLE, "busy")
                        .header("retry-after", "30"))
                })
                .accept(tcp)
                .await;
        });
        let output = run(&[&format!("ws://{addr}/")], "").await;
        assert_eq!(output.status.code(), Some(4), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("503"), "{stderr}");
        assert!(stderr.contains("retry after 30"), "{stderr}");
    })
    .await;
}

/// The server going away (1001, RFC 6455 §7.4.1) is a normal end: exit 0,
/// the code on stderr.
#[tokio::test]
async fn a_server_going_away_exits_with_0() {
    bounded(async {
        let (mut server, addr) = serve().await;
        let mut child = connect(&[&format!("ws://{addr}/echo")]);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"up\n").await.expect("write");
        // Wait for the echo, so that the session is open before the signal.
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = [0u8; 3];
        stdout.read_exact(&mut first).await.expect("the echo");
        assert_eq!(&first, b"up\n");
        let pid = server.id().expect("pid");
        let killed = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let _ = server.wait().await;
        let output = child.wait_with_output().await.expect("output");
        drop(stdin);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("closed by the server: 1001 (going away) \"server shutting down\""),
            "{stderr}"
        );
    })
    .await;
}

/// `--send` instead of stdin, `--count` replies, then a clean close.
#[tokio::test]
async fn send_and_count_exit_after_the_replies() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/echo");
        let output = run_open(&["--send", "a", "--send", "b c", "--count", "2", &url]).await;
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(text(&output.stdout), "a\nb c\n");
        assert_eq!(
            text(&output.stderr),
            "rws: closed by rws: 1000 (normal closure)\n"
        );
    })
    .await;
}

/// `--count` ends the session even while stdin is open, and shows no
/// message past the count.
#[tokio::test]
async fn count_ends_the_session_with_stdin_open() {
    bounded(async {
        let (_server, addr) = serve().await;
        let mut child = connect(&["--count", "2", &format!("ws://{addr}/echo")]);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"x\ny\nz\n").await.expect("write");
        let output = child.wait_with_output().await.expect("output");
        drop(stdin);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(text(&output.stdout), "x\ny\n");
    })
    .await;
}

#[tokio::test]
async fn jsonl_shows_every_event() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/echo");
        let output = run_open(&["--jsonl", "--send", "hé", "--count", "1", &url]).await;
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let lines: Vec<serde_json::Value> = text(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
            .collect();
        let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["open", "text", "close"], "{lines:?}");
        // rws serve accepts permessage-deflate (RFC 7692).
        assert!(lines[0]["deflate"]
            .as_str()
            .unwrap()
            .starts_with("permessage-deflate"));
        assert_eq!(lines[1]["text"], "hé");
        assert_eq!(lines[1]["length"], 3);
        assert_eq!(lines[2]["code"], 1000);
        assert_eq!(lines[2]["by"], "client");
        assert_eq!(lines[2]["clean"], true);
        for line in &lines {
            assert!(line["time"].as_f64().unwrap() > 1.7e9, "{line}");
        }
    })
    .await;
}

/// Nobody speaks in the chat room: `--message-timeout` closes (1000) and
/// exits with 8.
#[tokio::test]
async fn message_timeout_exits_with_8() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/chat/quiet");
        let started = std::time::Instant::now();
        let output = run_open(&["--message-timeout", "0.3", &url]).await;
        assert_eq!(output.status.code(), Some(8), "{output:?}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("closed by rws: 1000"), "{stderr}");
        assert!(stderr.contains("--message-timeout"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn timeout_exits_with_8() {
    bounded(async {
        let (_server, addr) = serve().await;
        let url = format!("ws://{addr}/chat/quiet");
        let output = run_open(&["--timeout", "0.3", &url]).await;
        assert_eq!(output.status.code(), Some(8), "{output:?}");
        assert!(text(&output.stderr).contains("--timeout"), "{output:?}");
    })
    .await;
}

/// A server that accepts TCP and never answers: `--timeout` covers the
/// handshake too.
#[tokio::test]
async fn timeout_covers_connecting() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _held = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(tcp);
        });
        let output = run_open(&["--timeout", "0.3", &format!("ws://{addr}/")]).await;
        assert_eq!(output.status.code(), Some(8), "{output:?}");
        assert!(
            text(&output.stderr).contains("while connecting"),
            "{output:?}"
        );
    })
    .await;
}

/// `--reconnect`: the server closes with 1011; rws says so, waits, connects
/// again and sends its `--send` message again; `--count` ends the run.
#[tokio::test]
async fn reconnect_replays_send_after_the_server_closes() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("first");
            let mut ws = rws::accept(tcp).await.expect("handshake");
            let first = ws.recv().await.expect("a message").expect("ok");
            ws.close(CloseCode::INTERNAL_ERROR, "restarting")
                .await
                .expect("close");
            let (tcp, _) = listener.accept().await.expect("second");
            let mut ws = rws::accept(tcp).await.expect("handshake");
            let second = ws.recv().await.expect("a message").expect("ok");
            ws.send(Message::text("welcome back")).await.expect("send");
            while let Some(Ok(_)) = ws.recv().await {}
            (first, second)
        });
        let url = format!("ws://{addr}/");
        let output = run_open(&["--reconnect", "--send", "hi", "--count", "1", &url]).await;
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(text(&output.stdout), "welcome back\n");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("1011 (internal error) \"restarting\""),
            "{stderr}"
        );
        assert!(stderr.contains("reconnecting in "), "{stderr}");
        let (first, second) = server.await.expect("server");
        assert_eq!((first, second), (Message::text("hi"), Message::text("hi")));
    })
    .await;
}

/// A 503 with Retry-After: 1 (RFC 9110 §10.2.3) is tried again, not before
/// a second has passed.
#[tokio::test]
async fn reconnect_waits_for_retry_after() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("first");
            let refused = std::time::Instant::now();
            let _ = rws::ServerBuilder::new()
                .on_request(|_| {
                    Err(Rejection::new(StatusCode::SERVICE_UNAVAILABLE, "busy")
                        .header("retry-after", "1"))
                })
                .accept(tcp)
                .await;
            let (tcp, _) = listener.accept().await.expect("second");
            let waited = refused.elapsed();
            let mut ws = rws::accept(tcp).await.expect("handshake");
            ws.send(Message::text("in")).await.expect("send");
            while let Some(Ok(_)) = ws.recv().await {}
            waited
        });
        let output = run_open(&["--reconnect", "--count", "1", &format!("ws://{addr}/")]).await;
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(text(&output.stdout), "in\n");
        assert!(text(&output.stderr).contains("retry after 1"), "{output:?}");
        let waited = server.await.expect("server");
        assert!(waited >= Duration::from_secs(1), "{waited:?}");
    })
    .await;
}

/// A refusal of the request itself (404) is not tried again.
#[tokio::test]
async fn reconnect_gives_up_on_a_404() {
    bounded(async {
        let (_server, addr) = serve().await;
        let output = run_open(&["--reconnect", &format!("ws://{addr}/nope")]).await;
        assert_eq!(output.status.code(), Some(4), "{output:?}");
        assert!(!text(&output.stderr).contains("reconnecting"), "{output:?}");
    })
    .await;
}

/// stdin outlasts a connection: after the server went away (1001), the
/// next connection goes on from the next line, with the `--preamble`
/// lines first again.
#[tokio::test]
async fn reconnect_goes_on_with_stdin_and_replays_the_preamble() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (second_tx, second_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (tcp, _) = listener.accept().await.expect("first");
            let mut ws = rws::accept(tcp).await.expect("handshake");
            for _ in 0..2 {
                let message = ws.recv().await.expect("a message").expect("ok");
                ws.send(message.clone()).await.expect("echo");
                seen.push(message);
            }
            ws.close(CloseCode::GOING_AWAY, "").await.expect("close");
            let (tcp, _) = listener.accept().await.expect("second");
            let _ = second_tx.send(());
            let mut ws = rws::accept(tcp).await.expect("handshake");
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message.clone()).await.expect("echo");
                seen.push(message);
            }
            seen
        });
        let dir = std::env::temp_dir().join(format!("rws-preamble-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let preamble = dir.join("login");
        std::fs::write(&preamble, "login\n").expect("preamble");
        let mut child = connect(&[
            "--reconnect",
            "--preamble",
            preamble.to_str().expect("UTF-8"),
            &format!("ws://{addr}/"),
        ]);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"a\n").await.expect("write");
        // Only once the second connection is there: "b" cannot go on the
        // first.
        second_rx.await.expect("a second connection");
        stdin.write_all(b"b\n").await.expect("write");
        drop(stdin);
        let output = child.wait_with_output().await.expect("output");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(text(&output.stdout), "login\na\nlogin\nb\n");
        let texts: Vec<Message> = ["login", "a", "login", "b"].map(Message::text).into();
        assert_eq!(server.await.expect("server"), texts);
    })
    .await;
}

/// `--help` documents every exit status the tests above check.
#[tokio::test]
async fn help_lists_the_exit_statuses() {
    let output = Command::new(env!("CARGO_BIN_EXE_rws"))
        .args(["connect", "--help"])
        .output()
        .await
        .expect("rws connect --help");
    assert!(output.status.success());
    let help = text(&output.stdout);
    let section = help
        .split("Exit status:")
        .nth(1)
        .expect("an Exit status section");
    for status in 0..=8 {
        assert!(
            section
                .lines()
                .any(|line| line.starts_with(&format!("  {status}  "))),
            "status {status} in {section}"
        );
    }
}

/// A `--preamble` that cannot be read is a usage error (2), before any
/// connection.
#[tokio::test]
async fn an_unreadable_preamble_exits_with_2() {
    bounded(async {
        let output = run(
            &["--preamble", "/nonexistent/login", "ws://127.0.0.1:9/"],
            "",
        )
        .await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(
            text(&output.stderr).contains("/nonexistent/login"),
            "{output:?}"
        );
    })
    .await;
}

/// `--reconnect` within `--timeout`: a server that stays down ends the run
/// with 8 once the next wait would pass the deadline.
#[tokio::test]
async fn reconnect_stops_at_the_timeout() {
    bounded(async {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let url = format!("ws://127.0.0.1:{port}/");
        let started = std::time::Instant::now();
        let output = run_open(&["--reconnect", "--timeout", "1", &url]).await;
        assert_eq!(output.status.code(), Some(8), "{output:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let stderr = text(&output.stderr);
        assert!(stderr.contains("reconnecting in "), "{stderr}");
        assert!(stderr.contains("--timeout"), "{stderr}");
    })
    .await;
}
