//! Hostile input is normal input: arbitrary bytes fed to the connection and
//! to the handshake parsers never panic, and the connection always ends in a
//! well-formed state.

use proptest::collection::vec;
use proptest::prelude::*;
use rws_proto::deflate::DeflateParams;
use rws_proto::handshake::{parse_request, ClientHandshake, HeadLimits};
use rws_proto::{Config, Connection, Event, Role, State};

/// Feeds `chunks` and drains events after each; returns the events.
fn run(role: Role, config: Config, chunks: &[Vec<u8>], eof: bool) -> (Vec<Event>, Connection) {
    run_with(Connection::new(role, config), chunks, eof)
}

fn run_with(mut conn: Connection, chunks: &[Vec<u8>], eof: bool) -> (Vec<Event>, Connection) {
    let mut events = Vec::new();
    for chunk in chunks {
        conn.handle_input(chunk);
        while let Some(event) = conn.poll_event() {
            events.push(event);
        }
        let n = conn.pending_output_len();
        conn.consume_output(n);
    }
    if eof {
        conn.handle_eof();
        while let Some(event) = conn.poll_event() {
            events.push(event);
        }
    }
    (events, conn)
}

/// Bytes that look like frames often enough to get past the first header.
fn frame_like() -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), 0u8..=130, vec(any::<u8>(), 0..200)).prop_map(|(b0, len, rest)| {
        let mut bytes = vec![b0, len | 0x80];
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend(rest);
        bytes
    })
}

/// A masked frame with RSV1 set and arbitrary bytes as compressed payload.
fn compressed_like() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), 0u8..4, vec(any::<u8>(), 0..120)).prop_map(|(fin, op, payload)| {
        let b0 = (if fin { 0x80 } else { 0 }) | 0x40 | (op & 0x3);
        let mut bytes = vec![b0, 0x80 | payload.len() as u8, 9, 8, 7, 6];
        bytes.extend(payload);
        bytes
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_end_once(
        chunks in vec(prop_oneof![vec(any::<u8>(), 0..64), frame_like()], 0..8),
        server in any::<bool>(),
        small in any::<bool>(),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let config = if small {
            Config::default().max_frame_size(16).max_message_size(32)
        } else {
            Config::default()
        };
        let (events, conn) = run(role, config.clone(), &chunks, true);
        // The connection always ends, with exactly one terminal event, last.
        prop_assert_eq!(conn.state(), State::Closed);
        let closed = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        prop_assert_eq!(closed, 1);
        prop_assert!(matches!(events.last(), Some(Event::Closed(_))));
        // No message exceeds the configured limit.
        for event in &events {
            if let Event::Message(m) = event {
                prop_assert!(m.len() <= config.max_message_size);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_with_permessage_deflate_never_panic(
        chunks in vec(prop_oneof![vec(any::<u8>(), 0..64), frame_like(), compressed_like()], 0..8),
        server in any::<bool>(),
        small in any::<bool>(),
        no_context in any::<bool>(),
        bits in 8u8..=15,
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let config = if small {
            Config::default().max_frame_size(64).max_message_size(100)
        } else {
            Config::default()
        };
        let mut params = DeflateParams::default();
        params.server_no_context_takeover = no_context;
        params.client_no_context_takeover = !no_context;
        params.server_max_window_bits = bits;
        params.client_max_window_bits = bits;
        let conn = Connection::new(role, config.clone()).with_deflate(params);
        let (events, conn) = run_with(conn, &chunks, true);
        prop_assert_eq!(conn.state(), State::Closed);
        let closed = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        prop_assert_eq!(closed, 1);
        for event in &events {
            if let Event::Message(m) = event {
                prop_assert!(m.len() <= config.max_message_size);
            }
        }
    }

    #[test]
    fn arbitrary_request_heads_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse_request(&bytes, &HeadLimits::default());
        let mut prefixed = b"GET / HTTP/1.1\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = parse_request(&prefixed, &HeadLimits::default());
    }

    #[test]
    fn a_valid_upgrade_request_parses_whole_and_waits_when_cut(
        path in "/[a-z0-9_-]{0,20}(/[a-z0-9_-]{1,10}){0,3}",
        key in vec(any::<u8>(), 16),
        extra in vec(("x-[a-z]{1,12}", "[ -~]{0,40}"), 0..6),
        trailing in vec(any::<u8>(), 0..32),
        cut_at in any::<prop::sample::Index>(),
    ) {
        // RFC 6455 §4.1: a client's opening handshake, with any extra
        // fields, followed by whatever the client sends next.
        let key = base64_16(&key);
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (name, value) in &extra {
            head.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        head.push_str("\r\n");
        let mut bytes = head.clone().into_bytes();
        bytes.extend_from_slice(&trailing);
        let parsed = parse_request(&bytes, &HeadLimits::default());
        let (request, used) = parsed.expect("a valid request").expect("a whole head");
        prop_assert_eq!(used, head.len());
        prop_assert_eq!(request.path(), path.as_str());
        // Any cut before the end of the head: wait for more, no error.
        let cut = cut_at.index(head.len());
        prop_assert!(matches!(parse_request(&bytes[..cut], &HeadLimits::default()), Ok(None)));
    }

    #[test]
    fn a_valid_101_parses_whole_waits_when_cut_and_fails_cut_at_eof(
        extra in vec(("x-[a-z]{1,12}", "[ -~]{0,40}"), 0..6),
        trailing in vec(any::<u8>(), 0..32),
        cut_at in any::<prop::sample::Index>(),
    ) {
        // RFC 6455 §4.2.2: the server's 101 with the accept value of the
        // client's key, extra fields, then the first frames.
        let handshake = ClientHandshake::new("ws://127.0.0.1/", &[]).unwrap();
        let key = handshake.request().headers()["sec-websocket-key"].as_bytes().to_vec();
        let mut head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n",
            rws_proto::handshake::accept_key(&key)
        );
        for (name, value) in &extra {
            head.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        head.push_str("\r\n");
        let mut bytes = head.clone().into_bytes();
        bytes.extend_from_slice(&trailing);
        let (response, used) = handshake
            .handle_response(&bytes, false)
            .expect("a valid 101")
            .expect("a whole head");
        prop_assert_eq!(response.status().as_u16(), 101);
        prop_assert_eq!(used, head.len());
        let cut = cut_at.index(head.len());
        prop_assert!(matches!(handshake.handle_response(&bytes[..cut], false), Ok(None)));
        // The stream ended inside the head: an error, not a wait.
        prop_assert!(handshake.handle_response(&bytes[..cut], true).is_err());
    }

    #[test]
    fn arbitrary_response_heads_never_panic(bytes in vec(any::<u8>(), 0..512), eof in any::<bool>()) {
        let handshake = ClientHandshake::new("ws://127.0.0.1/", &[]).unwrap();
        let _ = handshake.handle_response(&bytes, eof);
        let mut prefixed = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = handshake.handle_response(&prefixed, eof);
    }
}

#[test]
fn a_huge_announced_length_allocates_nothing_up_front() {
    // A masked binary frame announcing 2^62 bytes, followed by 10 bytes.
    let mut bytes = vec![0x82, 0xff];
    bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&[0; 10]);
    let config = Config::default()
        .max_frame_size(usize::MAX)
        .max_message_size(usize::MAX);
    let (events, conn) = run(Role::Server, config, &[bytes], false);
    // Nothing is delivered and the connection waits for more: the 10 bytes
    // were taken without reserving room for the announced length.
    assert!(events.is_empty());
    assert_eq!(conn.state(), State::Open);
}

/// 16 bytes in base64 (RFC 4648 §4, with padding): a `Sec-WebSocket-Key`.
fn base64_16(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}
