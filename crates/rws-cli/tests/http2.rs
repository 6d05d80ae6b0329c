//! `rws serve` and `rws connect` over HTTP/2 (RFC 8441): ALPN `h2` over
//! TLS, h2c with prior knowledge over TCP, a room shared by members on
//! both HTTP versions, the log line that says which carried each
//! WebSocket, and the shutdown.

mod common;

use std::process::Stdio;
use std::time::Duration;

use rws::deflate::DeflateConfig;
use rws::http2::Http2Connection;
use rws::tls::ClientTls;
use rws::{ClientBuilder, CloseCode, Message, WebSocketConfig};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), test)
        .await
        .expect("test did not finish in time")
}

/// The next log line that holds `marker`.
async fn log_line(log: &mut mpsc::UnboundedReceiver<String>, marker: &str) -> String {
    loop {
        let line = log.recv().await.expect("the server is still logging");
        if line.contains(marker) {
            return line;
        }
    }
}

fn deflating() -> WebSocketConfig {
    WebSocketConfig::default().deflate(Some(DeflateConfig::default()))
}

/// The next chat line (text), past the presence events (binary) that
/// members with the `chat` subprotocol get.
async fn next_line<S>(ws: &mut rws::WebSocket<S>) -> String
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

#[tokio::test]
async fn serve_over_tls_takes_websockets_as_http2_streams_by_alpn() {
    bounded(async {
        let certs = common::TestCerts::new("h2-serve");
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &certs.cert,
            "--tls-key",
            &certs.key,
        ];
        let mut started = common::start(&args, "listening on wss://").await;
        let addr = started.announced.trim_end_matches("/echo").to_owned();
        let tls = ClientTls::new()
            .add_ca_pem(certs.ca_pem.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        let url =
            |path: &str| format!("wss://localhost:{}{path}", addr.rsplit(':').next().unwrap());
        // Two WebSockets on one HTTP/2 connection, negotiated by ALPN.
        let h2 = Http2Connection::connect(ClientBuilder::new(url("/")).tls_config(tls.clone()))
            .await
            .expect("an HTTP/2 connection");
        let (mut echo, response) = ClientBuilder::new(url("/echo"))
            .config(deflating())
            .connect_over(&h2)
            .await
            .expect("a WebSocket over HTTP/2");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), rws::http::Version::HTTP_2);
        assert!(echo.deflate().is_some(), "deflate agreed over HTTP/2");
        let line = log_line(&mut started.log, "connected on /echo").await;
        assert!(line.contains("http=\"HTTP/2\""), "{line}");
        let (mut chat, _) = ClientBuilder::new(url("/chat/h2"))
            .protocol("chat")
            .connect_over(&h2)
            .await
            .unwrap();
        assert_eq!(chat.protocol(), Some("chat"));
        // A member over HTTP/1.1 in the same room: ALPN http/1.1 only.
        let h1_tls = ClientTls::new()
            .add_ca_pem(certs.ca_pem.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        let (mut old, _) = ClientBuilder::new(url("/chat/h2"))
            .tls_config(h1_tls)
            .connect()
            .await
            .unwrap();
        let line = log_line(&mut started.log, "connected on chat").await;
        assert!(line.contains("http=\"HTTP/2\""), "{line}");
        let line = log_line(&mut started.log, "connected on chat").await;
        assert!(line.contains("http=\"HTTP/1.1\""), "{line}");
        for (i, message) in ["x".repeat(70_000), "hello".to_owned()].iter().enumerate() {
            echo.send(Message::text(message.clone())).await.unwrap();
            let back = echo.recv().await.unwrap().unwrap();
            assert_eq!(back.as_text(), Some(message.as_str()), "message {i}");
        }
        chat.send(Message::text("from h2")).await.unwrap();
        old.send(Message::text("from h1")).await.unwrap();
        for ws_lines in [
            [next_line(&mut chat).await, next_line(&mut chat).await],
            [next_line(&mut old).await, next_line(&mut old).await],
        ] {
            let mut lines = ws_lines;
            lines.sort();
            assert_eq!(lines, ["from h1", "from h2"]);
        }
        // Closing one WebSocket leaves the connection and the other.
        echo.close(CloseCode::NORMAL, "").await.unwrap();
        chat.send(Message::text("still")).await.unwrap();
        assert_eq!(next_line(&mut chat).await, "still");
        assert!(!h2.is_closed());
        // On SIGTERM the server says 1001 on every stream.
        let pid = started.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = old.recv().await; // "still", relayed to the other member
                                  // A normal end, maybe after a presence event (`old` leaving).
        while let Some(message) = chat.recv().await {
            assert!(
                matches!(message, Ok(Message::Binary(_))),
                "only presence events before the end: {message:?}"
            );
        }
        assert_eq!(chat.closed().unwrap().code, CloseCode::GOING_AWAY);
        let exit = tokio::time::timeout(Duration::from_secs(5), started.child.wait())
            .await
            .expect("exits within 5 s")
            .unwrap();
        assert!(exit.success(), "{exit:?}");
    })
    .await;
}

#[tokio::test]
async fn connect_http2_talks_to_serve_over_h2c() {
    bounded(async {
        let (_child, addr, mut log) = common::serve_with_log(&[]).await;
        let mut connect = Command::new(env!("CARGO_BIN_EXE_rws"))
            .args(["connect", "--http2", "-v", &format!("ws://{addr}/echo")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = connect.stdin.take().unwrap();
        stdin.write_all(b"one\ntwo\n").await.unwrap();
        drop(stdin);
        let output = connect.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(stdout, "one\ntwo\n");
        assert!(stderr.contains("< HTTP/2.0 200"), "{stderr}");
        let line = log_line(&mut log, "connected on /echo").await;
        assert!(line.contains("http=\"HTTP/2\""), "{line}");
    })
    .await;
}

#[tokio::test]
async fn serve_over_h2c_refuses_unknown_paths_with_404() {
    bounded(async {
        let (_child, addr) = common::serve(&[]).await;
        let refused = ClientBuilder::new(format!("ws://{addr}/nowhere"))
            .connect_http2()
            .await;
        match refused {
            Err(rws::Error::Handshake(rws::HandshakeError::Rejected(r))) => {
                assert_eq!(r.status(), 404);
                assert!(String::from_utf8_lossy(r.body()).contains("/nowhere"));
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    })
    .await;
}
