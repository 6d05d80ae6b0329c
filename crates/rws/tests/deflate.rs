//! permessage-deflate (RFC 7692) through the tokio adapter over loopback
//! TCP: what both ends agree on, messages with and without it, and the
//! negotiation against hand-written peers.

mod common;

use common::*;
use rws::deflate::{DeflateConfig, DeflateParams};
use rws::{
    Accept, ClientBuilder, CloseCode, Error, HandshakeError, Message, ProtocolError, ServerBuilder,
    WebSocket, WebSocketConfig,
};
use tokio::net::TcpStream;

/// RFC 7692 §7.2.3.1: "Hello" compressed.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// RFC 7692 §7.2.3.2: the second "Hello" with context takeover.
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

/// RSV1 in a frame's first byte, and as `Frame::rsv` reports it.
const RSV1: u8 = 0x40;
const RSV1_BITS: u8 = 0b100;

fn with_deflate(deflate: DeflateConfig) -> WebSocketConfig {
    WebSocketConfig::default().deflate(Some(deflate))
}

/// 100 KiB of text that compresses well.
fn compressible_text() -> String {
    let words = ["alpha ", "beta ", "gamma ", "délta ", "✓ ", "{\"id\":42} "];
    let mut text = String::new();
    let mut i = 0usize;
    while text.len() < 100 << 10 {
        text.push_str(words[(i * 7 + i / 3) % words.len()]);
        i += 1;
    }
    text
}

/// 100 KiB of binary that compresses well.
fn compressible_binary() -> Vec<u8> {
    (0..100usize << 10).map(|i| (i / 64 % 7) as u8).collect()
}

fn messages() -> Vec<Message> {
    vec![
        Message::text(""),
        Message::text("Hello"),
        Message::text(compressible_text()),
        Message::binary(compressible_binary()),
        Message::binary(vec![1, 2, 3]),
        Message::text(compressible_text()),
    ]
}

/// Echoes every message until the connection ends.
async fn echo(mut ws: WebSocket<TcpStream>) -> WebSocket<TcpStream> {
    while let Some(message) = ws.recv().await {
        ws.send(message.expect("server recv"))
            .await
            .expect("server send");
    }
    ws
}

/// Sends the messages through an echoing server and closes.
async fn echo_all(mut client: WebSocket<TcpStream>, server: WebSocket<TcpStream>) {
    let server = tokio::spawn(echo(server));
    for message in messages() {
        client.send(message.clone()).await.expect("client send");
        let echoed = client.recv().await.expect("an echo").expect("no error");
        assert_eq!(echoed, message);
    }
    client
        .close(CloseCode::NORMAL, "done")
        .await
        .expect("clean close");
    let server = server.await.expect("server task");
    assert!(server.closed().expect("closed").clean);
}

/// A masked frame with RSV1 set, as a raw client sends it.
fn compressed_client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = frame(true, opcode, payload, Some(MASK));
    frame[0] |= RSV1;
    frame
}

/// A raw client sends an upgrade request with `extensions` (if any) to an
/// rws server with `config`: the server's connection, the raw client and
/// the response head.
async fn raw_client_to(
    config: WebSocketConfig,
    extensions: Option<&str>,
) -> (WebSocket<TcpStream>, Raw, Head) {
    let (listener, addr) = listen().await;
    let server = accept_with(&listener, config);
    let client = async {
        let mut raw = Raw::connect(addr).await;
        let extra = match extensions {
            Some(value) => format!("Sec-WebSocket-Extensions: {value}\r\n"),
            None => String::new(),
        };
        raw.write(upgrade_request("/", &extra).as_bytes()).await;
        let head = raw.read_head().await;
        (raw, head)
    };
    let (server, (raw, head)) = tokio::join!(server, client);
    assert_eq!(head.status(), 101, "{head:?}");
    (server, raw, head)
}

/// An rws client with `config` against a raw server that answers with a
/// 101 carrying `extensions` (if any). The raw server is returned so that
/// TCP stays open.
async fn client_against_raw(
    config: WebSocketConfig,
    extensions: Option<&str>,
) -> (Result<WebSocket<TcpStream>, Error>, Raw, Head) {
    let (listener, addr) = listen().await;
    let client = ClientBuilder::new(ws_url(addr, "/"))
        .config(config)
        .connect_with(plain);
    let server = async {
        let mut raw = Raw::accept(&listener).await;
        let request = raw.read_head().await;
        let key = request.get("sec-websocket-key").expect("a key");
        let accept = rws::proto::handshake::accept_key(key.as_bytes());
        let extra = match extensions {
            Some(value) => format!("Sec-WebSocket-Extensions: {value}\r\n"),
            None => String::new(),
        };
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        );
        raw.write(response.as_bytes()).await;
        (raw, request)
    };
    let (client, (raw, request)) = tokio::join!(client, server);
    (client.map(|(ws, _)| ws), raw, request)
}

// ---------------------------------------------------------------------------
// rws against rws
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rfc7692_both_ends_agree_on_the_same_parameters() {
    bounded(async {
        let config = with_deflate(DeflateConfig::default());
        let (client, server) = pair_with(config.clone(), config).await;
        assert_eq!(client.deflate(), Some(&DeflateParams::default()));
        assert_eq!(server.deflate(), client.deflate());
        echo_all(client, server).await;
    })
    .await
}

#[tokio::test]
async fn rfc7692_echo_of_100_kib_of_compressible_text_and_binary() {
    bounded(async {
        // Smaller windows and no context takeover, too.
        for deflate in [
            DeflateConfig::default(),
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true)
                .server_max_window_bits(9)
                .client_max_window_bits(10),
        ] {
            let config = with_deflate(deflate);
            let (client, server) = pair_with(config.clone(), config).await;
            let agreed = *client.deflate().expect("deflate agreed");
            assert_eq!(server.deflate(), Some(&agreed));
            echo_all(client, server).await;
        }
    })
    .await
}

#[tokio::test]
async fn rfc7692_a_server_without_deflate_declines_the_offer() {
    bounded(async {
        let (client, server) = pair_with(
            with_deflate(DeflateConfig::default()),
            WebSocketConfig::default(),
        )
        .await;
        assert_eq!(client.deflate(), None);
        assert_eq!(server.deflate(), None);
        echo_all(client, server).await;
    })
    .await
}

#[tokio::test]
async fn rfc7692_a_client_that_does_not_offer_gets_no_deflate() {
    bounded(async {
        let (client, server) = pair_with(
            WebSocketConfig::default(),
            with_deflate(DeflateConfig::default()),
        )
        .await;
        assert_eq!(client.deflate(), None);
        assert_eq!(server.deflate(), None);
        echo_all(client, server).await;
    })
    .await
}

#[tokio::test]
async fn rfc7692_7_1_1_1_server_no_context_takeover_is_seen_by_the_client() {
    bounded(async {
        let (client, server) = pair_with(
            with_deflate(DeflateConfig::default()),
            with_deflate(DeflateConfig::default().server_no_context_takeover(true)),
        )
        .await;
        let agreed = client.deflate().expect("deflate agreed");
        assert!(agreed.server_no_context_takeover);
        assert!(!agreed.client_no_context_takeover);
        assert_eq!(server.deflate(), Some(agreed));
        echo_all(client, server).await;
    })
    .await
}

#[tokio::test]
async fn rfc7692_a_prepared_broadcast_reaches_every_client_whole() {
    bounded(async {
        // Three server connections without context takeover and one with:
        // the same prepared messages, sent through the write halves too.
        let mut pairs = Vec::new();
        for no_context in [true, true, true, false] {
            pairs.push(
                pair_with(
                    with_deflate(DeflateConfig::default()),
                    with_deflate(DeflateConfig::default().server_no_context_takeover(no_context)),
                )
                .await,
            );
        }
        let lines: Vec<rws::PreparedMessage> = messages()
            .into_iter()
            .map(rws::PreparedMessage::new)
            .collect();
        for (i, (mut client, mut server)) in pairs.into_iter().enumerate() {
            if i % 2 == 0 {
                for line in &lines {
                    server.feed_prepared(line).await.expect("feed");
                }
                server.flush().await.expect("flush");
            } else {
                let (read, mut write) = server.split();
                for line in &lines {
                    write.feed_prepared(line).await.expect("feed");
                }
                write.flush().await.expect("flush");
                server = read.reunite(write).expect("reunite");
            }
            for line in &lines {
                let got = client.recv().await.expect("a line").expect("no error");
                assert_eq!(&got, line.message());
            }
            drop(server);
        }
    })
    .await
}

#[tokio::test]
async fn rfc7692_a_servers_accept_policy_turns_deflate_on() {
    bounded(async {
        // No deflate in the server's configuration; the callback's Accept
        // carries the policy.
        let (listener, addr) = listen().await;
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            ServerBuilder::new()
                .on_request(|_| {
                    Ok(Accept::new()
                        .deflate(DeflateConfig::default().client_no_context_takeover(true)))
                })
                .accept(tcp)
                .await
                .expect("server handshake")
        };
        let client = ClientBuilder::new(ws_url(addr, "/"))
            .config(with_deflate(DeflateConfig::default()))
            .connect_with(plain);
        let (server, client) = tokio::join!(server, client);
        let (client, _) = client.expect("client handshake");
        let agreed = client.deflate().expect("deflate agreed");
        assert!(agreed.client_no_context_takeover);
        assert_eq!(server.deflate(), Some(agreed));
        echo_all(client, server).await;
    })
    .await
}

#[tokio::test]
async fn rfc7692_a_servers_accept_policy_sets_the_threshold() {
    bounded(async {
        // The callback's policy says: never compress (threshold 1 MiB).
        let (listener, addr) = listen().await;
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            ServerBuilder::new()
                .on_request(|_| {
                    Ok(Accept::new().deflate(DeflateConfig::default().threshold(1 << 20)))
                })
                .accept(tcp)
                .await
                .expect("server handshake")
        };
        let client = async {
            let mut raw = Raw::connect(addr).await;
            let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
            raw.write(upgrade_request("/", extra).as_bytes()).await;
            let head = raw.read_head().await;
            (raw, head)
        };
        let (mut server, (mut raw, head)) = tokio::join!(server, client);
        assert_eq!(
            head.get("sec-websocket-extensions"),
            Some("permessage-deflate")
        );
        let text = compressible_text();
        server
            .send(Message::text(text.clone()))
            .await
            .expect("send");
        let frame = raw.read_frame().await.expect("a frame");
        assert_eq!(frame.rsv, 0, "compressed below the policy's threshold");
        assert_eq!(frame.payload, text.as_bytes());
    })
    .await
}

// ---------------------------------------------------------------------------
// The rws server against hand-written offers (RFC 7692 §5)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rfc7692_5_the_server_declines_an_offer_it_cannot_honour() {
    bounded(async {
        // zlib cannot compress with an 8-bit window.
        let (mut server, mut raw, head) = raw_client_to(
            with_deflate(DeflateConfig::default()),
            Some("permessage-deflate; server_max_window_bits=8"),
        )
        .await;
        assert_eq!(head.get("sec-websocket-accept"), Some(ACCEPT));
        assert_eq!(head.get("sec-websocket-extensions"), None, "{head:?}");
        assert_eq!(server.deflate(), None);
        // Plain messages work; RSV1 is then a protocol error (1002).
        raw.write(&client_frame(TEXT, b"plain")).await;
        let message = server.recv().await.expect("a message").expect("no error");
        assert_eq!(message, Message::text("plain"));
        raw.write(&compressed_client_frame(TEXT, &HELLO)).await;
        let result = server.recv().await.expect("an error");
        assert!(
            matches!(result, Err(Error::Protocol(ProtocolError::ReservedBits))),
            "{result:?}"
        );
        let close = raw.read_frame().await.expect("a close frame");
        assert_eq!(close.close_code(), Some(1002));
    })
    .await
}

#[tokio::test]
async fn rfc7692_5_the_server_accepts_the_first_offer_it_can_honour() {
    bounded(async {
        // A policy that limits the client's window tells the two offers
        // apart: only the first allows it.
        let policy = DeflateConfig::default()
            .client_max_window_bits(10)
            .threshold(0);
        let (mut server, mut raw, head) = raw_client_to(
            with_deflate(policy),
            Some("permessage-deflate; client_max_window_bits, permessage-deflate"),
        )
        .await;
        assert_eq!(
            head.get("sec-websocket-extensions"),
            Some("permessage-deflate; client_max_window_bits=10")
        );
        let agreed = server.deflate().expect("deflate agreed");
        assert_eq!(agreed.client_max_window_bits, 10);
        assert_eq!(agreed.server_max_window_bits, 15);

        // RFC 7692 §7.2.3.1–2 over the wire, both ways.
        raw.write(&compressed_client_frame(TEXT, &HELLO)).await;
        raw.write(&compressed_client_frame(TEXT, &HELLO_AGAIN))
            .await;
        for _ in 0..2 {
            let message = server.recv().await.expect("a message").expect("no error");
            assert_eq!(message, Message::text("Hello"));
        }
        server.send(Message::text("Hello")).await.expect("send");
        server.send(Message::text("Hello")).await.expect("send");
        for payload in [&HELLO[..], &HELLO_AGAIN[..]] {
            let frame = raw.read_frame().await.expect("a frame");
            assert!(frame.fin && !frame.masked);
            assert_eq!((frame.rsv, frame.opcode), (RSV1_BITS, TEXT));
            assert_eq!(frame.payload, payload);
        }
    })
    .await
}

#[tokio::test]
async fn rfc7692_5_the_server_answers_the_first_good_offer_with_default_policy() {
    bounded(async {
        let (server, _raw, head) = raw_client_to(
            with_deflate(DeflateConfig::default()),
            Some("x-unknown, permessage-deflate; bogus, permessage-deflate; server_no_context_takeover, permessage-deflate"),
        )
        .await;
        assert_eq!(
            head.get("sec-websocket-extensions"),
            Some("permessage-deflate; server_no_context_takeover")
        );
        assert!(server.deflate().expect("agreed").server_no_context_takeover);
    })
    .await
}

// ---------------------------------------------------------------------------
// The rws client against hand-written answers (RFC 7692 §5)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rfc7692_5_the_client_offers_and_inflates_a_raw_servers_hello() {
    bounded(async {
        let (client, mut raw, request) = client_against_raw(
            with_deflate(DeflateConfig::default()),
            Some("permessage-deflate"),
        )
        .await;
        assert_eq!(
            request.get("sec-websocket-extensions"),
            Some("permessage-deflate; client_max_window_bits")
        );
        let mut client = client.expect("client handshake");
        assert_eq!(client.deflate(), Some(&DeflateParams::default()));
        let mut hello = server_frame(TEXT, &HELLO);
        hello[0] |= RSV1;
        let mut again = server_frame(TEXT, &HELLO_AGAIN);
        again[0] |= RSV1;
        raw.write(&hello).await;
        raw.write(&again).await;
        for _ in 0..2 {
            let message = client.recv().await.expect("a message").expect("no error");
            assert_eq!(message, Message::text("Hello"));
        }
    })
    .await
}

#[tokio::test]
async fn rfc7692_5_the_client_fails_on_a_window_outside_8_to_15() {
    bounded(async {
        let (client, _raw, _) = client_against_raw(
            with_deflate(DeflateConfig::default()),
            Some("permessage-deflate; server_max_window_bits=16"),
        )
        .await;
        assert!(
            matches!(client, Err(Error::Handshake(HandshakeError::Extension(_)))),
            "{client:?}"
        );
    })
    .await
}

#[tokio::test]
async fn rfc7692_5_the_client_fails_on_an_unoffered_extension() {
    bounded(async {
        for config in [
            with_deflate(DeflateConfig::default()),
            WebSocketConfig::default(),
        ] {
            let (client, _raw, _) = client_against_raw(config, Some("x-unknown")).await;
            match client {
                Err(Error::Handshake(HandshakeError::UnofferedExtension(name))) => {
                    assert_eq!(name, "x-unknown")
                }
                other => panic!("expected UnofferedExtension, got {other:?}"),
            }
        }
        // permessage-deflate itself, when it was not offered.
        let (client, _raw, request) =
            client_against_raw(WebSocketConfig::default(), Some("permessage-deflate")).await;
        assert_eq!(request.get("sec-websocket-extensions"), None);
        assert!(
            matches!(
                client,
                Err(Error::Handshake(HandshakeError::UnofferedExtension(_)))
            ),
            "{client:?}"
        );
    })
    .await
}

#[tokio::test]
async fn rfc7692_5_a_server_that_declines_leaves_the_client_uncompressed() {
    bounded(async {
        let (client, mut raw, _) =
            client_against_raw(with_deflate(DeflateConfig::default()), None).await;
        let mut client = client.expect("client handshake");
        assert_eq!(client.deflate(), None);
        // The client sends a compressible message as it is.
        let text = compressible_text();
        client
            .send(Message::text(text.clone()))
            .await
            .expect("send");
        let frame = raw.read_frame().await.expect("a frame");
        assert_eq!(frame.rsv, 0);
        assert!(frame.masked);
        assert_eq!(frame.payload, text.as_bytes());
    })
    .await
}
