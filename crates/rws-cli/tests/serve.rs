//! `rws serve` over loopback: the binary is started on port 0 and driven
//! with the rws client.

use std::process::Stdio;
use std::time::Duration;

use rws::{CloseCode, Error, HandshakeError, Message};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `rws serve` on a free port; returns the child and its address.
async fn serve(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rws"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start rws serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read stderr")
            .expect("rws serve exited");
        if let Some(rest) = line.split("listening on ws://").nth(1) {
            break rest.trim_end_matches("/echo").to_owned();
        }
    };
    // Keep draining the log so that the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

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
        assert!(
            ws.recv().await.is_none(),
            "the server closes the connection"
        );
        let closed = ws.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::MESSAGE_TOO_BIG);
    })
    .await;
}
