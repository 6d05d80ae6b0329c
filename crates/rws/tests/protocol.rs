//! Protocol violations by a raw client, and control frames, as the rws
//! server sees them and as they look on the wire.

mod common;

use common::*;
use rws::bytes::Bytes;
use rws::{CloseCode, Error, Event, Initiator, Message, ProtocolError, WebSocket, WebSocketConfig};
use tokio::net::TcpStream;

struct Failure {
    /// The close frame the raw client received.
    close: Frame,
    /// What the server's `recv` returned, up to and including `None`.
    results: Vec<Result<Message, Error>>,
    server: WebSocket<TcpStream>,
}

/// A raw client sends `bytes` after the handshake and reads what comes
/// back: one close frame, then the end of file.
async fn violate(config: WebSocketConfig, bytes: Vec<u8>) -> Failure {
    let (listener, addr) = listen().await;
    let (mut server, mut raw) = tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
    let server_side = async {
        let mut results = Vec::new();
        while let Some(result) = server.recv().await {
            results.push(result);
            assert!(results.len() < 10, "recv does not end: {results:?}");
        }
        results
    };
    let raw_side = async {
        raw.write(&bytes).await;
        let close = raw.read_frame().await.expect("a close frame");
        raw.expect_eof().await;
        close
    };
    let (results, close) = tokio::join!(server_side, raw_side);
    assert_eq!(close.opcode, CLOSE, "{close:?}");
    assert!(close.fin);
    assert!(!close.masked, "servers do not mask");
    Failure {
        close,
        results,
        server,
    }
}

fn check_failed(failure: &Failure, error: &ProtocolError, code: u16) {
    assert_eq!(failure.close.close_code(), Some(code));
    let last = failure.results.last().expect("an error before None");
    match last {
        Err(Error::Protocol(e)) => assert_eq!(e, error),
        other => panic!("expected {error:?}, got {other:?}"),
    }
    let closed = failure.server.closed().expect("closed");
    assert_eq!(closed.code.as_u16(), code);
    assert_eq!(closed.initiator, Initiator::Local);
    assert!(!closed.clean);
    assert_eq!(closed.error.as_ref(), Some(error));
}

#[tokio::test]
async fn unmasked_frame_fails_with_1002() {
    bounded(async {
        // A good message first: it is still delivered, in order.
        let mut bytes = client_frame(TEXT, b"before");
        bytes.extend(server_frame(TEXT, b"unmasked"));
        let failure = violate(WebSocketConfig::default(), bytes).await;
        check_failed(&failure, &ProtocolError::UnmaskedFrame, 1002);
        assert_eq!(failure.results.len(), 2, "{:?}", failure.results);
        assert_eq!(
            failure.results[0].as_ref().expect("a message"),
            &Message::text("before")
        );
    })
    .await
}

#[tokio::test]
async fn invalid_utf8_fails_with_1007() {
    bounded(async {
        let bytes = client_frame(TEXT, b"valid, then \xc3\x28");
        let failure = violate(WebSocketConfig::default(), bytes).await;
        check_failed(&failure, &ProtocolError::InvalidUtf8, 1007);
        assert_eq!(failure.results.len(), 1, "{:?}", failure.results);
    })
    .await
}

#[tokio::test]
async fn invalid_utf8_across_fragments_fails_with_1007() {
    bounded(async {
        // "é" is c3 a9: the first fragment ends mid-character (fine), the
        // second continues it with a byte that is not a continuation.
        let mut bytes = frame(false, TEXT, b"caf\xc3", Some(MASK));
        bytes.extend(frame(true, CONTINUATION, b"\x28", Some(MASK)));
        let failure = violate(WebSocketConfig::default(), bytes).await;
        check_failed(&failure, &ProtocolError::InvalidUtf8, 1007);
    })
    .await
}

#[tokio::test]
async fn message_over_the_limit_fails_with_1009() {
    bounded(async {
        let config = WebSocketConfig::default().max_message_size(1024);
        // Two fragments of 600 bytes: each frame fits, the message does not.
        let mut bytes = frame(false, BINARY, &[7; 600], Some(MASK));
        bytes.extend(frame(true, CONTINUATION, &[7; 600], Some(MASK)));
        let failure = violate(config, bytes).await;
        check_failed(
            &failure,
            &ProtocolError::MessageTooLarge {
                size: 1200,
                limit: 1024,
            },
            1009,
        );
    })
    .await
}

#[tokio::test]
async fn message_at_the_limit_is_accepted() {
    bounded(async {
        let config = WebSocketConfig::default().max_message_size(1024);
        let (listener, addr) = listen().await;
        let (mut server, mut raw) =
            tokio::join!(accept_with(&listener, config), Raw::handshake(addr));
        raw.write(&client_frame(BINARY, &[9; 1024])).await;
        let message = server.recv().await.expect("a message").expect("ok");
        assert_eq!(message, Message::binary(vec![9; 1024]));
    })
    .await
}

#[tokio::test]
async fn raw_ping_gets_an_unmasked_pong() {
    bounded(async {
        let (listener, addr) = listen().await;
        let (mut server, mut raw) = tokio::join!(
            accept_with(&listener, WebSocketConfig::default()),
            Raw::handshake(addr)
        );
        let server_side = async {
            let event = server.recv_event().await.expect("an event").expect("ok");
            assert_eq!(event, Event::Ping(Bytes::from_static(b"hi")));
            // The pong goes out while the server waits for more.
            let end = server.recv().await;
            assert!(end.is_none(), "{end:?}");
        };
        let raw_side = async {
            raw.write(&client_frame(PING, b"hi")).await;
            let pong = raw.read_frame().await.expect("a pong");
            assert_eq!(
                pong,
                Frame {
                    fin: true,
                    rsv: 0,
                    opcode: PONG,
                    masked: false,
                    payload: b"hi".to_vec(),
                }
            );
            raw.write(&client_frame(CLOSE, &close_payload(1000, "ok")))
                .await;
            let reply = raw.read_frame().await.expect("a close reply");
            assert!(!reply.masked);
            assert_eq!(reply.close_code(), Some(1000));
            raw.expect_eof().await;
        };
        tokio::join!(server_side, raw_side);
        let closed = server.closed().expect("closed");
        assert!(closed.clean);
        assert_eq!(closed.code, CloseCode::NORMAL);
        assert_eq!(closed.reason, "ok");
        assert_eq!(closed.initiator, Initiator::Remote);
    })
    .await
}

#[tokio::test]
async fn client_fails_on_a_masked_frame_from_the_server() {
    bounded(async {
        let (listener, addr) = listen().await;
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
        let url = ws_url(addr, "/");
        let (client, mut raw) = tokio::join!(rws::connect(&url), server);
        let (mut client, _) = client.expect("handshake");
        // Servers must not mask.
        raw.write(&client_frame(TEXT, b"masked")).await;
        let client_side = async {
            let first = client.recv().await;
            let second = client.recv().await;
            (first, second)
        };
        let raw_side = async {
            let close = raw.read_frame().await.expect("a close frame");
            // The client fails the connection and closes TCP itself.
            raw.expect_eof().await;
            close
        };
        let ((first, second), close) = tokio::join!(client_side, raw_side);
        assert!(close.masked, "clients mask");
        assert_eq!(close.close_code(), Some(1002));
        assert!(
            matches!(
                first,
                Some(Err(Error::Protocol(ProtocolError::MaskedFrame)))
            ),
            "{first:?}"
        );
        assert!(second.is_none());
        let closed = client.closed().expect("closed");
        assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR);
        assert!(!closed.clean);
    })
    .await
}
