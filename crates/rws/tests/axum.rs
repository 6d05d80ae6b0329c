//! The axum extractor (`rws::extract::WebSocketUpgrade`) in an axum 0.8
//! application served by `axum::serve`: over HTTP/1.1 and over HTTP/2
//! (h2c), with permessage-deflate, subprotocols, limits and refusals.

mod common;

use std::net::SocketAddr;

use axum::response::Response;
use axum::routing::any;
use axum::Router;
use common::bounded;
use rws::deflate::DeflateConfig;
use rws::extract::WebSocketUpgrade;
use rws::http::Version;
use rws::{ClientBuilder, Error, HandshakeError, Message, WebSocketConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Echoes each message, prefixed with what the server saw: the HTTP
/// version, the subprotocol and whether deflate was agreed.
async fn echo(ws: WebSocketUpgrade) -> Response {
    let version = ws.version();
    let offered = ws.requested_protocols().collect::<Vec<_>>().join("+");
    let ws = ws.protocols(["superchat", "chat"]).max_message_size(1000);
    let selected = ws.selected_protocol().map(str::to_owned);
    ws.on_upgrade(move |mut ws| async move {
        assert_eq!(ws.protocol(), selected.as_deref());
        let seen = format!(
            "{version:?} {:?} deflate={} offered={offered}",
            ws.protocol(),
            ws.deflate().is_some()
        );
        ws.send(Message::text(seen)).await.unwrap();
        while let Some(Ok(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                break;
            }
        }
    })
}

async fn plain(ws: WebSocketUpgrade) -> Response {
    ws.deflate(None).on_upgrade(|mut ws| async move {
        let seen = format!("deflate={}", ws.deflate().is_some());
        ws.send(Message::text(seen)).await.unwrap();
    })
}

async fn app() -> SocketAddr {
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/plain", any(plain));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn deflating() -> WebSocketConfig {
    WebSocketConfig::default().deflate(Some(DeflateConfig::default()))
}

#[tokio::test]
async fn http1_echo_with_the_servers_protocol_choice_and_deflate() {
    bounded(async {
        let addr = app().await;
        let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/echo"))
            .protocol("chat")
            .protocol("superchat")
            .config(deflating())
            .connect()
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        // The server's order of preference decides, among those offered.
        assert_eq!(ws.protocol(), Some("superchat"));
        assert!(ws.deflate().is_some());
        let hello = ws.recv().await.unwrap().unwrap();
        assert_eq!(
            hello.as_text(),
            Some("HTTP/1.1 Some(\"superchat\") deflate=true offered=chat+superchat")
        );
        for message in [Message::text("héllo"), Message::binary(vec![1u8, 2, 3])] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), message);
        }
    })
    .await;
}

#[tokio::test]
async fn http2_echo_through_axum_serve() {
    bounded(async {
        let addr = app().await;
        let (mut ws, response) = ClientBuilder::new(format!("ws://{addr}/echo"))
            .protocol("chat")
            .config(deflating())
            .connect_http2()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(ws.protocol(), Some("chat"));
        let hello = ws.recv().await.unwrap().unwrap();
        assert_eq!(
            hello.as_text(),
            Some("HTTP/2.0 Some(\"chat\") deflate=true offered=chat")
        );
        ws.send(Message::text("over a stream")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("over a stream")
        );
    })
    .await;
}

#[tokio::test]
async fn the_extractors_limit_fails_a_large_message_with_1009() {
    bounded(async {
        let addr = app().await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/echo"))
            .connect()
            .await
            .unwrap();
        ws.recv().await.unwrap().unwrap();
        ws.send(Message::binary(vec![0u8; 2000])).await.unwrap();
        match ws.recv().await {
            Some(Err(Error::Closed(closed))) => assert_eq!(closed.code.as_u16(), 1009),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn deflate_can_be_turned_off_and_no_protocol_is_forced() {
    bounded(async {
        let addr = app().await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{addr}/plain"))
            .protocol("chat")
            .config(deflating())
            .connect()
            .await
            .unwrap();
        assert_eq!(ws.protocol(), None);
        assert!(ws.deflate().is_none());
        let seen = ws.recv().await.unwrap().unwrap();
        assert_eq!(seen.as_text(), Some("deflate=false"));
    })
    .await;
}

#[tokio::test]
async fn an_invalid_upgrade_is_refused_before_the_handler() {
    bounded(async {
        let addr = app().await;
        // RFC 6455 §4.2.2: an unsupported version gets 426 with the
        // versions supported.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 8\r\n\r\n",
            common::KEY
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0; 4096];
        let n = tcp.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 426"), "{answer}");
        assert!(answer.contains("sec-websocket-version: 13"), "{answer}");
        // A key that is not 16 bytes: 400.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0; 4096];
        let n = tcp.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 400"), "{answer}");
        assert!(answer.contains("sec-websocket-key"), "{answer}");
    })
    .await;
}

#[tokio::test]
async fn an_http2_server_refusal_reaches_the_client_whole() {
    bounded(async {
        let addr = app().await;
        // No such route: axum's 404, over HTTP/2.
        let result = ClientBuilder::new(format!("ws://{addr}/nowhere"))
            .connect_http2()
            .await;
        match result {
            Err(Error::Handshake(HandshakeError::Rejected(r))) => assert_eq!(r.status(), 404),
            other => panic!("{:?}", other.map(|_| ())),
        }
    })
    .await;
}
