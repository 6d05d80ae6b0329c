//! The close handshake, its timeout, and peers that vanish.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rws::{CloseCode, Error, Initiator, Message, SendError, State, WebSocketConfig};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn server_initiated_close() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        server.send("last words").await.expect("send");
        let (closed, (first, end)) =
            tokio::join!(server.close(CloseCode::GOING_AWAY, "bye"), async {
                let first = client.recv().await;
                let end = client.recv().await;
                (first, end)
            });
        closed.expect("the server's close completes");
        assert_eq!(
            first.expect("a message").expect("ok"),
            Message::text("last words")
        );
        assert!(end.is_none(), "{end:?}");

        let on_client = client.closed().expect("client closed");
        assert_eq!(on_client.code, CloseCode::GOING_AWAY);
        assert_eq!(on_client.code.as_u16(), 1001);
        assert_eq!(on_client.reason, "bye");
        assert_eq!(on_client.initiator, Initiator::Remote);
        assert!(on_client.clean);

        let on_server = server.closed().expect("server closed");
        assert_eq!(on_server.initiator, Initiator::Local);
        assert!(on_server.clean);
        // The client echoes the code.
        assert_eq!(on_server.code, CloseCode::GOING_AWAY);
        assert_eq!(server.state(), State::Closed);
        assert_eq!(client.state(), State::Closed);
    })
    .await
}

#[tokio::test]
async fn close_discards_messages_that_cross_the_close_frame() {
    bounded(async {
        let (listener, addr) = listen().await;
        let (mut server, mut raw) = tokio::join!(
            accept_with(&listener, WebSocketConfig::default()),
            Raw::handshake(addr)
        );
        let raw_side = async {
            let close = raw.read_frame().await.expect("the server's close");
            assert_eq!(close.close_code(), Some(1000));
            // Data sent before the peer noticed the close, then the reply.
            raw.write(&client_frame(TEXT, b"too late")).await;
            raw.write(&client_frame(CLOSE, &close_payload(1000, "")))
                .await;
            raw.expect_eof().await;
        };
        let (closed, ()) = tokio::join!(server.close(CloseCode::NORMAL, ""), raw_side);
        closed.expect("clean close");
        assert!(server.recv().await.is_none());
    })
    .await
}

#[tokio::test]
async fn close_times_out_when_the_peer_never_answers() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().close_timeout(Duration::from_millis(300));
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        let started = Instant::now();
        let (closed, close_frame) =
            tokio::join!(server.close(CloseCode::GOING_AWAY, "bye"), raw.read_frame());
        let elapsed = started.elapsed();
        let close_frame = close_frame.expect("the server's close frame");
        assert_eq!(close_frame.close_code(), Some(1001));
        assert_eq!(close_frame.close_reason(), "bye");
        assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
        assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");

        let on_server = server.closed().expect("closed");
        assert_eq!(on_server.code, CloseCode::ABNORMAL);
        assert!(!on_server.clean);
        assert_eq!(server.state(), State::Closed);
        assert!(server.recv().await.is_none());
        drop(raw);
    })
    .await
}

/// After `close` gave up on the peer, the transport is closed: `close`
/// promises to close it, and a server closes TCP first (RFC 6455 §7.1.1).
#[tokio::test]
async fn transport_is_closed_after_the_close_timeout() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().close_timeout(Duration::from_millis(300));
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        let (closed, close_frame) =
            tokio::join!(server.close(CloseCode::NORMAL, ""), raw.read_frame());
        assert!(close_frame.is_some());
        assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
        // `server` is still alive: only a shutdown can end the stream.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(1), raw.tcp.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0))),
            "expected end of file from the server, got {read:?}"
        );
        drop(server);
    })
    .await
}

/// `Initiator::Local` is "this end, by close()": the peer's silence does
/// not make it the initiator.
#[tokio::test]
async fn close_timeout_keeps_the_local_initiator() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().close_timeout(Duration::from_millis(300));
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        let (closed, _) = tokio::join!(server.close(CloseCode::NORMAL, ""), raw.read_frame());
        assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
        let on_server = server.closed().expect("closed");
        assert_eq!(on_server.initiator, Initiator::Local, "{on_server:?}");
    })
    .await
}

#[tokio::test]
async fn close_ends_early_when_the_peer_hangs_up() {
    bounded(async {
        let (listener, addr) = listen().await;
        // A long close timeout: the peer's EOF must end the wait, not it.
        let config = WebSocketConfig::default().close_timeout(Duration::from_secs(5));
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        let started = Instant::now();
        let raw_side = async move {
            raw.read_frame().await.expect("the server's close");
            drop(raw);
        };
        let (closed, ()) = tokio::join!(server.close(CloseCode::NORMAL, ""), raw_side);
        assert!(matches!(closed, Err(Error::AbnormalClose)), "{closed:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let on_server = server.closed().expect("closed");
        assert_eq!(on_server.code, CloseCode::ABNORMAL);
        assert!(!on_server.clean);
    })
    .await
}

#[tokio::test]
async fn client_close_returns_when_the_server_keeps_tcp_open() {
    bounded(async {
        let (listener, addr) = listen().await;
        let config = WebSocketConfig::default().close_timeout(Duration::from_millis(300));
        let server = async {
            let mut raw = Raw::accept(&listener).await;
            let request = raw.read_head().await;
            let key = request.get("sec-websocket-key").expect("key");
            let accept = rws::proto::handshake::accept_key(key.as_bytes());
            raw.write(
                format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                )
                .as_bytes(),
            )
            .await;
            raw
        };
        let client = rws::ClientBuilder::new(ws_url(addr, "/"))
            .config(config)
            .connect();
        let (client, mut raw) = tokio::join!(client, server);
        let (mut client, _) = client.expect("handshake");

        let started = Instant::now();
        let raw_side = async {
            let close = raw.read_frame().await.expect("the client's close");
            assert!(close.masked, "clients mask");
            assert_eq!(close.close_code(), Some(1000));
            assert_eq!(close.close_reason(), "bye");
            raw.write(&server_frame(CLOSE, &close_payload(1000, "")))
                .await;
            // ... and TCP stays open.
        };
        let (closed, ()) = tokio::join!(client.close(CloseCode::NORMAL, "bye"), raw_side);
        let elapsed = started.elapsed();
        closed.expect("the close handshake completed");
        // The client waited for the server to close TCP, but not forever.
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
        let on_client = client.closed().expect("closed");
        assert!(on_client.clean);
        assert_eq!(on_client.initiator, Initiator::Local);
        assert_eq!(on_client.code, CloseCode::NORMAL);
        assert!(client.recv().await.is_none());
        drop(raw);
    })
    .await
}

#[tokio::test]
async fn invalid_close_arguments_are_refused_and_the_connection_stays_open() {
    bounded(async {
        let (mut client, mut server) = pair().await;
        assert!(matches!(
            client.close(CloseCode::ABNORMAL, "").await,
            Err(Error::Send(SendError::InvalidCloseCode(1006)))
        ));
        let long = "x".repeat(124);
        assert!(matches!(
            client.close(CloseCode::NORMAL, &long).await,
            Err(Error::Send(SendError::CloseReasonTooLong(124)))
        ));
        assert_eq!(client.state(), State::Open);
        client.send("still open").await.expect("send");
        let got = server.recv().await.expect("message").expect("ok");
        assert_eq!(got.as_text(), Some("still open"));
        let longest = "y".repeat(123);
        let (closed, end) =
            tokio::join!(client.close(CloseCode::from(4000), &longest), server.recv());
        closed.expect("close");
        // 4000 is not a normal end: the server's recv reports it.
        assert!(
            matches!(&end, Some(Err(Error::Closed(c))) if c.reason.len() == 123),
            "{end:?}"
        );
        assert!(server.recv().await.is_none());
        let on_server = server.closed().expect("closed");
        assert_eq!(on_server.code.as_u16(), 4000);
        assert_eq!(on_server.reason.len(), 123);
    })
    .await
}

#[tokio::test]
async fn vanished_peer_is_an_abnormal_close() {
    bounded(async {
        let (listener, addr) = listen().await;
        let (mut server, raw) = tokio::join!(
            accept_with(&listener, WebSocketConfig::default()),
            Raw::handshake(addr)
        );
        drop(raw);
        let first = server.recv().await;
        assert!(
            matches!(first, Some(Err(Error::AbnormalClose))),
            "{first:?}"
        );
        assert!(server.recv().await.is_none());
        let closed = server.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::ABNORMAL);
        assert_eq!(closed.code.as_u16(), 1006);
        assert!(!closed.clean);
        assert_eq!(closed.error, None);
        assert_eq!(server.state(), State::Closed);
    })
    .await
}

#[tokio::test]
async fn vanished_peer_mid_message_is_an_abnormal_close() {
    bounded(async {
        let (listener, addr) = listen().await;
        let (mut server, mut raw) = tokio::join!(
            accept_with(&listener, WebSocketConfig::default()),
            Raw::handshake(addr)
        );
        let mut bytes = client_frame(TEXT, b"complete");
        let partial = client_frame(BINARY, &[1; 300]);
        bytes.extend_from_slice(&partial[..100]);
        raw.write(&bytes).await;
        drop(raw);
        let first = server.recv().await.expect("a message").expect("ok");
        assert_eq!(first, Message::text("complete"));
        let second = server.recv().await;
        assert!(
            matches!(second, Some(Err(Error::AbnormalClose))),
            "{second:?}"
        );
        assert!(server.recv().await.is_none());
    })
    .await
}
