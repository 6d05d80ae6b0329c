//! `rws bridge` over loopback: WebSocket clients (the rws client) to a TCP
//! service run by the test, and TCP clients through `rws serve`'s echo.
//! bridge/run.sh does the same with real programs (redis-server,
//! redis-cli, Python websockets).

mod common;

use std::time::Duration;

use rws::{ClientBuilder, CloseCode, Error, HandshakeError, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("test did not finish in time")
}

/// Starts `rws bridge --listen LISTEN --to TO`; returns it and the address
/// it announced (`ws://127.0.0.1:PORT/PATH` or `127.0.0.1:PORT`).
async fn bridge(listen: &str, to: &str) -> common::Started {
    let scheme = listen.split("://").next().expect("a scheme");
    common::start(
        &["bridge", "--listen", listen, "--to", to],
        &format!("listening on {scheme}://"),
    )
    .await
}

fn ws_url(started: &common::Started) -> String {
    let url = started.announced.split(',').next().expect("the address");
    format!("ws://{url}")
}

/// The next log line that contains `text`.
async fn log_line(started: &mut common::Started, text: &str) -> String {
    loop {
        let line = started.log.recv().await.expect("the bridge's log");
        if line.contains(text) {
            return line;
        }
    }
}

/// A TCP service of one connection: says `greeting`, then echoes what it
/// reads until the end of file, which it reports.
async fn echo_service(greeting: &'static [u8]) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let service = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.write_all(greeting).await.expect("greeting");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await.expect("read");
            if n == 0 {
                return seen;
            }
            seen.extend_from_slice(&buf[..n]);
            tcp.write_all(&buf[..n]).await.expect("echo");
        }
    });
    (addr, service)
}

#[tokio::test]
async fn websocket_clients_reach_a_tcp_service_both_ways() {
    bounded(async {
        let (target, service) = echo_service(b"hello\n").await;
        let mut started = bridge("ws://127.0.0.1:0/svc", &format!("tcp://{target}")).await;
        let url = ws_url(&started);
        assert!(url.ends_with("/svc"), "{url}");
        let (mut ws, _) = ClientBuilder::new(url)
            .protocol("binary")
            .connect()
            .await
            .expect("connect");
        // websockify's clients offer "binary".
        assert_eq!(ws.protocol(), Some("binary"));
        let mut from_target = Vec::new();
        while from_target.len() < 6 {
            let message = ws.recv().await.expect("a message").expect("ok");
            assert!(matches!(message, Message::Binary(_)), "{message:?}");
            from_target.extend_from_slice(message.as_payload());
        }
        assert_eq!(from_target, b"hello\n");
        ws.send(Message::binary(b"PING\r\n".to_vec()))
            .await
            .expect("send");
        let mut echoed = Vec::new();
        while echoed.len() < 6 {
            echoed.extend_from_slice(ws.recv().await.expect("echo").expect("ok").as_payload());
        }
        assert_eq!(echoed, b"PING\r\n");
        // The client's close reaches the service as an end of file.
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(service.await.expect("service"), b"PING\r\n");
        let line = log_line(&mut started, "session ended").await;
        assert!(line.contains("to_target=6"), "{line}");
        assert!(line.contains("to_client=12"), "{line}");
        assert!(line.contains("1000"), "{line}");
    })
    .await;
}

/// The service closes: the client gets what it said, then close 1000.
#[tokio::test]
async fn a_tcp_end_of_file_closes_the_websocket_with_1000() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            tcp.write_all(b"bye").await.expect("write");
        });
        let started = bridge("ws://127.0.0.1:0", &format!("tcp://{target}")).await;
        let (mut ws, _) = rws::connect(&ws_url(&started)).await.expect("connect");
        let mut got = Vec::new();
        while let Some(message) = ws.recv().await {
            got.extend_from_slice(message.expect("ok").as_payload());
        }
        assert_eq!(got, b"bye");
        assert_eq!(ws.closed().expect("closed").code, CloseCode::NORMAL);
    })
    .await;
}

/// RFC 6455 §7.4.1: 1011, an unexpected condition on the server's side.
#[tokio::test]
async fn an_unreachable_target_closes_with_1011_and_says_why() {
    bounded(async {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let started = bridge("ws://127.0.0.1:0", &format!("tcp://127.0.0.1:{port}")).await;
        let (mut ws, _) = rws::connect(&ws_url(&started)).await.expect("connect");
        match ws.recv().await {
            Some(Err(Error::Closed(closed))) => {
                assert_eq!(closed.code, CloseCode::INTERNAL_ERROR);
                assert!(
                    closed
                        .reason
                        .as_str()
                        .contains("cannot connect to 127.0.0.1"),
                    "{closed:?}"
                );
            }
            other => panic!("expected a close with 1011, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn another_path_is_refused_with_404() {
    bounded(async {
        let (target, _service) = echo_service(b"").await;
        let started = bridge("ws://127.0.0.1:0/vnc", &format!("tcp://{target}")).await;
        let url = ws_url(&started).replace("/vnc", "/other");
        match rws::connect(&url).await {
            Err(Error::Handshake(HandshakeError::Rejected(response))) => {
                assert_eq!(response.status(), 404);
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    })
    .await;
}

/// The reverse: a TCP client through a WebSocket to `rws serve`'s echo.
#[tokio::test]
async fn tcp_clients_go_through_a_websocket() {
    bounded(async {
        let (_server, server_addr) = common::serve(&[]).await;
        let started = bridge("tcp://127.0.0.1:0", &format!("ws://{server_addr}/echo")).await;
        let addr = started
            .announced
            .split(',')
            .next()
            .expect("addr")
            .to_owned();
        let mut tcp = TcpStream::connect(&addr).await.expect("connect");
        tcp.write_all(b"through a WebSocket").await.expect("write");
        let mut echoed = vec![0u8; 19];
        tcp.read_exact(&mut echoed).await.expect("echo");
        assert_eq!(echoed, b"through a WebSocket");
        // Our end of file closes the WebSocket (1000), and the server's
        // close ends the TCP connection.
        tcp.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        tcp.read_to_end(&mut rest).await.expect("the end");
        assert!(rest.is_empty(), "{rest:?}");
    })
    .await;
}

/// A WebSocket client that stops reading: the bridge stops reading the
/// service, so the service's writes stall instead of the bridge buffering
/// them (loopback's socket buffers hold some megabytes on each hop).
#[tokio::test]
async fn a_client_that_stops_reading_back_pressures_the_service() {
    bounded(async {
        const WANTED: usize = 256 << 20;
        const BOUND: usize = 64 << 20;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = listener.local_addr().expect("addr");
        let service = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let chunk = vec![7u8; 64 * 1024];
            let mut written = 0;
            while written < WANTED {
                match tokio::time::timeout(Duration::from_secs(2), tcp.write(&chunk)).await {
                    Ok(Ok(n)) => written += n,
                    Ok(Err(e)) => panic!("write: {e}"),
                    // Stalled: the back-pressure reached the service.
                    Err(_) => return (written, tcp),
                }
            }
            panic!("the service wrote {written} bytes without being held back");
        });
        let started = bridge("ws://127.0.0.1:0", &format!("tcp://{target}")).await;
        let (ws, _) = rws::connect(&ws_url(&started)).await.expect("connect");
        let (written, _tcp) = service.await.expect("service");
        eprintln!("the service wrote {written} bytes before the stall");
        assert!(written < BOUND, "{written} bytes went out before the stall");
        let pid = started.child.id().expect("pid");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
        let rss_kib: usize = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        eprintln!("the bridge holds {rss_kib} KiB");
        assert!(rss_kib < 64 * 1024, "the bridge holds {rss_kib} KiB");
        drop(ws);
    })
    .await;
}

/// TLS on both sides: a wss:// bridge (--tls-cert, --tls-key) in front of
/// the service, reached through a tcp:// bridge that connects to it with
/// wss:// and trusts its CA (--cacert): TCP -> wss:// -> TCP.
#[tokio::test]
async fn tls_on_both_sides() {
    bounded(async {
        let certs = common::TestCerts::new("bridge-tls");
        let (target, service) = echo_service(b"over TLS\n").await;
        let to = format!("tcp://{target}");
        let args = [
            "bridge",
            "--listen",
            "wss://127.0.0.1:0/svc",
            "--to",
            &to,
            "--tls-cert",
            &certs.cert,
            "--tls-key",
            &certs.key,
        ];
        let secure = common::start(&args, "listening on wss://").await;
        let port = secure
            .announced
            .split(',')
            .next()
            .and_then(|a| a.trim_end_matches("/svc").rsplit(':').next())
            .expect("a port")
            .to_owned();
        let url = format!("wss://localhost:{port}/svc");
        let args = [
            "bridge",
            "--listen",
            "tcp://127.0.0.1:0",
            "--to",
            &url,
            "--cacert",
            &certs.ca,
        ];
        let plain = common::start(&args, "listening on tcp://").await;
        let addr = plain.announced.split(',').next().expect("addr").to_owned();
        let mut tcp = TcpStream::connect(&addr).await.expect("connect");
        let mut greeting = vec![0u8; 9];
        tcp.read_exact(&mut greeting).await.expect("greeting");
        assert_eq!(greeting, b"over TLS\n");
        tcp.write_all(b"and back").await.expect("write");
        let mut echoed = vec![0u8; 8];
        tcp.read_exact(&mut echoed).await.expect("echo");
        assert_eq!(echoed, b"and back");
        tcp.shutdown().await.expect("shutdown");
        assert_eq!(service.await.expect("service"), b"and back");
    })
    .await;
}

/// Only ws:// to tcp:// and tcp:// to ws:// are bridges.
#[tokio::test]
async fn other_combinations_are_refused() {
    bounded(async {
        for (listen, to) in [
            ("ws://127.0.0.1:0", "ws://127.0.0.1:9/"),
            ("tcp://127.0.0.1:0", "tcp://127.0.0.1:9"),
            ("wss://127.0.0.1:0", "tcp://127.0.0.1:9"),
        ] {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rws"))
                .args(["bridge", "--listen", listen, "--to", to])
                .output()
                .await
                .expect("rws bridge");
            assert!(!output.status.success(), "{listen} -> {to}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.starts_with("rws: "), "{listen} -> {to}: {stderr}");
        }
    })
    .await;
}

/// A tcp:// bridge whose WebSocket cannot be opened lets its TCP client go
/// (an end of file: all a plain TCP client can be told).
#[tokio::test]
async fn a_websocket_that_cannot_open_ends_the_tcp_client() {
    bounded(async {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let started = bridge("tcp://127.0.0.1:0", &format!("ws://127.0.0.1:{port}/")).await;
        let addr = started
            .announced
            .split(',')
            .next()
            .expect("addr")
            .to_owned();
        let mut tcp = TcpStream::connect(&addr).await.expect("connect");
        let mut rest = Vec::new();
        tcp.read_to_end(&mut rest).await.expect("an end of file");
        assert!(rest.is_empty(), "{rest:?}");
    })
    .await;
}
