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
        assert_eq!(text(&output.stderr), "");
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
async fn a_server_closing_with_1008_is_an_error() {
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
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("1008"), "{stderr}");
        assert!(stderr.contains("go away"), "{stderr}");
    })
    .await;
}

#[tokio::test]
async fn a_rejected_handshake_is_an_error() {
    bounded(async {
        let (_server, addr) = serve().await;
        let output = run(&[&format!("ws://{addr}/nope")], "hello\n").await;
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("handshake rejected: 404"), "{stderr}");
        assert_eq!(text(&output.stdout), "");
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_an_error() {
    bounded(async {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let output = run(&[&format!("ws://127.0.0.1:{port}/")], "hello\n").await;
        assert_eq!(output.status.code(), Some(1), "{output:?}");
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
