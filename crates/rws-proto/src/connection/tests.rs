//! Byte-script tests for the connection state machine: feed these bytes,
//! expect these output bytes and these events. Each test is named after the
//! RFC 6455 section it checks.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::{Closed, Config, Connection, Event, Fragment, Initiator, Role, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::{ProtocolError, SendError};
use crate::frame::{apply_mask, FrameHeader, OpCode};
use crate::message::{Message, MessageKind, Utf8Bytes};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;
const FIN: u8 = 0x80;

/// The masking key of the RFC 6455 §5.7 examples.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const ROLES: [Role; 2] = [Role::Server, Role::Client];

fn b0(fin: bool, opcode: u8) -> u8 {
    if fin {
        FIN | opcode
    } else {
        opcode
    }
}

/// A frame header with the minimal length encoding, written by hand (not by
/// `FrameHeader::encode`, so the tests do not check the code against itself).
fn header(b0: u8, key: Option<[u8; 4]>, len: u64) -> Vec<u8> {
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let mut out = vec![b0];
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = key {
        out.extend_from_slice(&key);
    }
    out
}

/// A whole frame; the payload masked with `key` if there is one.
fn raw_frame(b0: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = header(b0, key, payload.len() as u64);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        for (i, byte) in out[start..].iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    out
}

/// A frame as a client sends it: masked with [`KEY`].
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(b0(fin, opcode), Some(KEY), payload)
}

/// A frame as a server sends it: unmasked.
fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(b0(fin, opcode), None, payload)
}

/// The masking key a peer of `receiver` uses, if any.
fn peer_key(receiver: Role, key: [u8; 4]) -> Option<[u8; 4]> {
    match receiver {
        Role::Server => Some(key),
        Role::Client => None,
    }
}

/// A well-formed frame from the peer of `receiver`.
fn frame_to(receiver: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    match receiver {
        Role::Server => client_frame(fin, opcode, payload),
        Role::Client => server_frame(fin, opcode, payload),
    }
}

/// A frame from the peer of `receiver` with a raw first byte.
fn raw_to(receiver: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(b0, peer_key(receiver, KEY), payload)
}

/// Only the header of a frame from the peer of `receiver`.
fn header_to(receiver: Role, b0: u8, len: u64) -> Vec<u8> {
    header(b0, peer_key(receiver, KEY), len)
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(reason);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// All pending events.
fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Takes the events one by one, writing out the output after each, as an
/// adapter with a transport that keeps up does; returns both.
fn drain(conn: &mut Connection) -> (Vec<Event>, Vec<u8>) {
    let mut evs = Vec::new();
    let mut out = output(conn);
    while let Some(event) = conn.poll_event() {
        evs.push(event);
        out.extend(output(conn));
    }
    (evs, out)
}

/// All pending output, marked as written.
fn output(conn: &mut Connection) -> Vec<u8> {
    let out = conn.pending_output().to_vec();
    conn.consume_output(out.len());
    out
}

/// One frame as found on the wire, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wire {
    fin: bool,
    opcode: OpCode,
    masked: bool,
    payload: Vec<u8>,
}

/// Splits output into frames, unmasking them; panics on anything that is not
/// a sequence of whole, valid frames without reserved bits.
fn decode_frames(mut bytes: &[u8]) -> Vec<Wire> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = FrameHeader::decode(bytes)
            .expect("output has a valid header")
            .expect("output has a whole header");
        assert!(!(h.rsv1 || h.rsv2 || h.rsv3), "reserved bits in output");
        let end = n + usize::try_from(h.payload_len).unwrap();
        assert!(end <= bytes.len(), "truncated frame in output");
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(Wire {
            fin: h.fin,
            opcode: h.opcode,
            masked: h.mask.is_some(),
            payload,
        });
        bytes = &bytes[end..];
    }
    frames
}

/// Takes the output as whole, final frames, checking the masking direction
/// of RFC 6455 §5.1 for the connection's role.
#[track_caller]
fn sent(conn: &mut Connection) -> Vec<(OpCode, Vec<u8>)> {
    let masked = conn.role() == Role::Client;
    decode_frames(&output(conn))
        .into_iter()
        .map(|w| {
            assert!(w.fin, "unexpected fragment {w:?}");
            assert_eq!(w.masked, masked, "masking of {w:?}");
            (w.opcode, w.payload)
        })
        .collect()
}

fn text(s: &str) -> Event {
    Event::Message(Message::text(s))
}

fn binary(b: &[u8]) -> Event {
    Event::Message(Message::binary(b.to_vec()))
}

fn ping(b: &[u8]) -> Event {
    Event::Ping(Bytes::copy_from_slice(b))
}

fn pong(b: &[u8]) -> Event {
    Event::Pong(Bytes::copy_from_slice(b))
}

fn close_received(code: u16, reason: &str) -> Event {
    Event::CloseReceived(Some(CloseFrame::new(CloseCode::from(code), reason)))
}

fn closed(code: u16, reason: &str, initiator: Initiator) -> Event {
    Event::Closed(Closed {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from(reason),
        initiator,
        clean: true,
        error: None,
    })
}

/// The terminal event of a connection failed with `error`.
fn failure(error: ProtocolError) -> Event {
    Event::Closed(Closed {
        code: error.close_code(),
        reason: Utf8Bytes::default(),
        initiator: Initiator::Local,
        clean: false,
        error: Some(error),
    })
}

/// RFC 6455 §7.1.7: the connection failed with `error` and nothing else
/// happened: one close frame with the error's code out, one terminal event,
/// and from then on nothing is read or sent.
#[track_caller]
fn assert_failed(conn: &mut Connection, error: ProtocolError) {
    let got = events(conn);
    check_failure(conn, got, &[], &[], error);
}

/// `got` (the events taken from `conn`) are `before`, then the failure with
/// `error`; the output is `replies`, then the close frame with the error's
/// code and reason; from then on nothing is read or sent.
#[track_caller]
fn check_failure(
    conn: &mut Connection,
    got: Vec<Event>,
    before: &[Event],
    replies: &[(OpCode, Vec<u8>)],
    error: ProtocolError,
) {
    let code = error.close_code();
    let mut expected = before.to_vec();
    expected.push(failure(error.clone()));
    assert_eq!(got, expected);
    assert_eq!(conn.state(), State::Closed);
    let reason = error.to_string();
    let mut expected = replies.to_vec();
    expected.push((
        OpCode::Close,
        close_payload(code.as_u16(), reason.as_bytes()),
    ));
    assert_eq!(sent(conn), expected);
    let role = conn.role();
    conn.handle_input(&frame_to(role, true, PING, b"late"));
    conn.handle_input(&frame_to(role, true, TEXT, b"late"));
    conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
    conn.handle_eof();
    assert_eq!(events(conn), []);
    assert!(!conn.wants_write());
    assert_eq!(conn.send(Message::text("x")), Err(SendError::Closed));
    assert_eq!(conn.send_ping(b""), Err(SendError::Closed));
    assert_eq!(conn.state(), State::Closed);
}

/// For both roles, `input(role)` fails a fresh connection with `error`,
/// whether it arrives whole or one byte at a time.
#[track_caller]
fn fails(config: &Config, input: impl Fn(Role) -> Vec<u8>, error: ProtocolError) {
    fails_after(config, input, &[], &[], error);
}

/// For both roles, `input(role)` yields the events `before` and the pongs
/// `replies`, then fails with `error`: fed whole, one byte at a time
/// without taking events, and one byte at a time taking them as they come.
#[track_caller]
fn fails_after(
    config: &Config,
    input: impl Fn(Role) -> Vec<u8>,
    before: &[Event],
    replies: &[(OpCode, Vec<u8>)],
    error: ProtocolError,
) {
    for role in ROLES {
        eprintln!("role {role:?}");
        let bytes = input(role);
        let mut whole = Connection::new(role, config.clone());
        whole.handle_input(&bytes);
        let got = events(&mut whole);
        check_failure(&mut whole, got, before, replies, error.clone());

        let mut bytewise = Connection::new(role, config.clone());
        for byte in &bytes {
            bytewise.handle_input(std::slice::from_ref(byte));
        }
        let got = events(&mut bytewise);
        check_failure(&mut bytewise, got, before, replies, error.clone());

        let mut polled = Connection::new(role, config.clone());
        let mut got = Vec::new();
        for byte in &bytes {
            polled.handle_input(std::slice::from_ref(byte));
            got.extend(events(&mut polled));
        }
        check_failure(&mut polled, got, before, replies, error.clone());
    }
}

/// For both roles, `input(role)` yields `expected` and the pongs or close
/// replies in `replies`, whole or one byte at a time.
#[track_caller]
fn accepts(
    config: &Config,
    input: impl Fn(Role) -> Vec<u8>,
    expected: &[Event],
    replies: &[(OpCode, Vec<u8>)],
) {
    for role in ROLES {
        eprintln!("role {role:?}");
        let bytes = input(role);
        let mut whole = Connection::new(role, config.clone());
        whole.handle_input(&bytes);
        let (evs, out) = drain(&mut whole);
        assert_eq!(evs, expected);
        assert_eq!(sent_bytes(role, &out), replies);
        let mut bytewise = Connection::new(role, config.clone());
        let mut got = Vec::new();
        let mut out = Vec::new();
        for byte in &bytes {
            bytewise.handle_input(std::slice::from_ref(byte));
            let (evs, bytes) = drain(&mut bytewise);
            got.extend(evs);
            out.extend(bytes);
        }
        assert_eq!(got, expected);
        assert_eq!(sent_bytes(role, &out), replies);
    }
}

fn defaults() -> Config {
    Config::default()
}

/// Moves everything `from` has to send into `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    let bytes = output(from);
    to.handle_input(&bytes);
}

// ---------------------------------------------------------------------------
// §5.1: masking direction
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_1_server_fails_1002_on_unmasked_frame() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&server_frame(true, TEXT, b"Hello"));
    // Reading stopped at once; the close frame is written as the terminal
    // event is taken.
    assert!(!server.wants_write());
    let evs = events(&mut server);
    // Exact bytes: an unmasked close frame, code 1002 (0x03ea), then the reason.
    let reason = b"unmasked frame from client";
    let mut expected = vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
    expected.extend_from_slice(reason);
    assert_eq!(server.pending_output(), expected.as_slice());
    assert_eq!(evs.len(), 1);
    match &evs[0] {
        Event::Closed(c) => {
            assert_eq!(c.code, CloseCode::PROTOCOL_ERROR);
            assert!(!c.clean);
            assert_eq!(c.initiator, Initiator::Local);
            assert_eq!(c.error, Some(ProtocolError::UnmaskedFrame));
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(server.state(), State::Closed);
    output(&mut server);
    // Input after the failure is ignored, even well-formed input.
    server.handle_input(&client_frame(true, TEXT, b"Hello"));
    server.handle_input(&client_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut server), []);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_1_client_fails_1002_on_masked_frame() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&client_frame(true, TEXT, b"Hello"));
    assert_failed(&mut client, ProtocolError::MaskedFrame);
}

#[test]
fn rfc6455_5_1_masking_rules_apply_to_control_frames() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&server_frame(true, PING, b"x"));
    assert_failed(&mut server, ProtocolError::UnmaskedFrame);
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&client_frame(true, CLOSE, &close_payload(1000, b"")));
    assert_failed(&mut client, ProtocolError::MaskedFrame);
}

#[test]
fn rfc6455_5_1_server_fails_on_unmasked_frame_header_alone() {
    // The header is enough to know; the payload need not arrive.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&[0x81, 0x05]);
    assert_failed(&mut server, ProtocolError::UnmaskedFrame);
}

#[test]
fn rfc6455_5_1_server_output_is_unmasked() {
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::text("Hello")).unwrap();
    server.send(Message::binary(vec![1, 2, 3])).unwrap();
    server.send_ping(b"p").unwrap();
    server.send_pong(b"").unwrap();
    server
        .close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")))
        .unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[
            b"\x81\x05Hello",
            b"\x82\x03\x01\x02\x03",
            b"\x89\x01p",
            b"\x8a\x00",
            b"\x88\x05\x03\xe9bye",
        ])
    );
}

#[test]
fn rfc6455_5_3_client_output_is_masked() {
    let mut client = Connection::new(Role::Client, defaults());
    client.send(Message::text("Hello")).unwrap();
    client.send(Message::binary(vec![0u8; 300])).unwrap();
    client.send_ping(b"ping").unwrap();
    client.send_pong(b"pong").unwrap();
    client.close(None).unwrap();
    let out = output(&mut client);
    // The MASK bit is set on every frame.
    let frames = decode_frames(&out);
    assert!(frames.iter().all(|w| w.masked && w.fin), "{frames:?}");
    let got: Vec<_> = frames.into_iter().map(|w| (w.opcode, w.payload)).collect();
    assert_eq!(
        got,
        [
            (OpCode::Text, b"Hello".to_vec()),
            (OpCode::Binary, vec![0u8; 300]),
            (OpCode::Ping, b"ping".to_vec()),
            (OpCode::Pong, b"pong".to_vec()),
            (OpCode::Close, vec![]),
        ]
    );
    // The 300 zero bytes are on the wire XORed with the key, so they show
    // the key: a fresh one per frame, not a constant (RFC 6455 §5.3).
    assert_eq!(&out[..2], [0x81, 0x85]);
    let mut keys = Vec::new();
    for _ in 0..32 {
        client = Connection::new(Role::Client, defaults());
        client.send(Message::binary(vec![0u8; 4])).unwrap();
        client.send(Message::binary(vec![0u8; 4])).unwrap();
        let out = output(&mut client);
        assert_eq!(out.len(), 20);
        // The payload of zeros masked is the key itself.
        assert_eq!(out[2..6], out[6..10]);
        assert_eq!(out[12..16], out[16..20]);
        keys.push(out[2..6].to_vec());
        keys.push(out[12..16].to_vec());
    }
    keys.sort();
    keys.dedup();
    assert!(keys.len() > 1, "the masking key never changes");
}

// ---------------------------------------------------------------------------
// §5.2: base framing
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_2_rsv_bits_fail_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        for opcode in [TEXT, BINARY, PING, PONG, CLOSE] {
            eprintln!("rsv {rsv:#x} opcode {opcode:#x}");
            fails(
                &defaults(),
                |role| raw_to(role, FIN | rsv | opcode, b""),
                ProtocolError::ReservedBits,
            );
        }
    }
}

#[test]
fn rfc6455_5_2_rsv_bit_on_continuation_fails_1002() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"a"),
                &raw_to(role, FIN | 0x40 | CONT, b"b"),
            ])
        },
        ProtocolError::ReservedBits,
    );
}

#[test]
fn rfc6455_5_2_reserved_opcodes_fail_1002() {
    for op in (0x3..=0x7).chain(0xb..=0xf) {
        eprintln!("opcode {op:#x}");
        fails(
            &defaults(),
            |role| raw_to(role, FIN | op, b"abc"),
            ProtocolError::ReservedOpCode(op),
        );
        // Two bytes of header are enough to fail.
        for role in ROLES {
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&[FIN | op]);
            assert_eq!(events(&mut conn), []);
            conn.handle_input(&[0x80]);
            assert_failed(&mut conn, ProtocolError::ReservedOpCode(op));
        }
    }
}

#[test]
fn rfc6455_5_2_reserved_opcode_inside_a_message_fails_1002() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"a"),
                &raw_to(role, 0x3, b"b"),
            ])
        },
        ProtocolError::ReservedOpCode(0x3),
    );
}

#[test]
fn rfc6455_5_2_64_bit_length_with_msb_set_fails_1002() {
    for msb_len in [1u64 << 63, u64::MAX] {
        fails(
            &defaults(),
            |role| {
                let mask_bit = if role == Role::Server { 0x80 } else { 0 };
                let mut bytes = vec![0x82, mask_bit | 127];
                bytes.extend_from_slice(&msb_len.to_be_bytes());
                if role == Role::Server {
                    bytes.extend_from_slice(&KEY);
                }
                bytes
            },
            ProtocolError::InvalidPayloadLength,
        );
    }
}

#[test]
fn rfc6455_5_2_header_split_at_every_byte() {
    // 16-bit and 64-bit length encodings with a mask: a 14-byte header.
    for role in ROLES {
        let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut bytes = raw_frame(0x82, peer_key(role, [9, 8, 7, 6]), &payload);
        let mut long = vec![0x82, if role == Role::Server { 0xff } else { 0x7f }];
        long.extend_from_slice(&300u64.to_be_bytes());
        if role == Role::Server {
            long.extend_from_slice(&KEY);
            long.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
        } else {
            long.extend_from_slice(&payload);
        }
        bytes.extend_from_slice(&long);
        for cut in 0..bytes.len() {
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&bytes[..cut]);
            let mut got = events(&mut conn);
            conn.handle_input(&bytes[cut..]);
            got.extend(events(&mut conn));
            assert_eq!(got, [binary(&payload), binary(&payload)], "{role:?} {cut}");
            assert!(!conn.wants_write());
        }
    }
}

#[test]
fn rfc6455_5_2_empty_frames_are_messages() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, TEXT, b""),
                &frame_to(role, true, BINARY, b""),
                &frame_to(role, false, TEXT, b""),
                &frame_to(role, true, CONT, b""),
            ])
        },
        &[text(""), binary(b""), text("")],
        &[],
    );
}

// ---------------------------------------------------------------------------
// §5.4: fragmentation
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_4_fragmented_text_is_reassembled() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"frag"),
                &frame_to(role, false, CONT, b"mented "),
                &frame_to(role, false, CONT, b""),
                &frame_to(role, true, CONT, b"text"),
            ])
        },
        &[text("fragmented text")],
        &[],
    );
}

#[test]
fn rfc6455_5_4_fragmented_binary_is_reassembled() {
    let data: Vec<u8> = (0..=255).collect();
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, &data[..100]),
                &frame_to(role, false, CONT, &data[100..101]),
                &frame_to(role, true, CONT, &data[101..]),
            ])
        },
        &[binary(&data)],
        &[],
    );
}

#[test]
fn rfc6455_5_4_messages_after_a_fragmented_one_start_fresh() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"\xff"),
                &frame_to(role, true, CONT, b"\xfe"),
                &frame_to(role, false, TEXT, b"a"),
                &frame_to(role, true, CONT, b"b"),
                &frame_to(role, true, TEXT, b"c"),
            ])
        },
        &[binary(b"\xff\xfe"), text("ab"), text("c")],
        &[],
    );
}

#[test]
fn rfc6455_5_4_continuation_without_message_fails_1002() {
    for fin in [true, false] {
        fails(
            &defaults(),
            |role| frame_to(role, fin, CONT, b"orphan"),
            ProtocolError::UnexpectedContinuation,
        );
    }
    // Also right after a message has ended.
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"a"),
                &frame_to(role, true, CONT, b"b"),
                &frame_to(role, true, CONT, b"c"),
            ])
        },
        &[text("ab")],
        &[],
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn rfc6455_7_1_7_events_before_a_violation_come_first_in_stream_order() {
    // The message and the ping before the bad frame are delivered, the
    // ping answered, and only then the connection fails.
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, TEXT, b"ok"),
                &frame_to(role, true, PING, b"p"),
                &frame_to(role, true, CONT, b"orphan"),
                &frame_to(role, true, TEXT, b"never read"),
            ])
        },
        &[text("ok"), ping(b"p")],
        &[(OpCode::Pong, b"p".to_vec())],
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn rfc6455_7_1_7_a_message_before_a_violation_can_still_be_answered() {
    // What input calls for happens as the events are taken: an answer to
    // the message goes out before the close frame of the failure.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"question"),
            &raw_to(role, FIN | 0x40 | TEXT, b"bad"),
        ]));
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(text("question")));
        assert_eq!(conn.state(), State::Open);
        conn.send(Message::text("answer")).unwrap();
        let got = events(&mut conn);
        check_failure(
            &mut conn,
            got,
            &[],
            &[(OpCode::Text, b"answer".to_vec())],
            ProtocolError::ReservedBits,
        );
    }
}

#[test]
fn rfc6455_5_4_new_data_frame_while_message_open_fails_1002() {
    for (first, second) in [
        (TEXT, TEXT),
        (TEXT, BINARY),
        (BINARY, TEXT),
        (BINARY, BINARY),
    ] {
        for fin in [true, false] {
            fails(
                &defaults(),
                |role| {
                    cat(&[
                        &frame_to(role, false, first, b"a"),
                        &frame_to(role, fin, second, b"b"),
                    ])
                },
                ProtocolError::ExpectedContinuation,
            );
        }
    }
}

#[test]
fn rfc6455_5_4_control_frames_between_fragments_are_delivered() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, "κό".as_bytes()),
                &frame_to(role, true, PING, b"ping 1"),
                &frame_to(role, false, CONT, "σ".as_bytes()),
                &frame_to(role, true, PONG, b"pong"),
                &frame_to(role, true, PING, b""),
                &frame_to(role, true, CONT, "με".as_bytes()),
            ])
        },
        &[ping(b"ping 1"), pong(b"pong"), ping(b""), text("κόσμε")],
        &[
            (OpCode::Pong, b"ping 1".to_vec()),
            (OpCode::Pong, b"".to_vec()),
        ],
    );
}

#[test]
fn rfc6455_5_4_control_frame_between_fragments_splitting_a_code_point() {
    // "€" is e2 82 ac: split between fragments with a ping in between.
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xe2"),
                &frame_to(role, true, PING, b"\xe2"),
                &frame_to(role, false, CONT, b"\x82"),
                &frame_to(role, true, CONT, b"\xac"),
            ])
        },
        &[ping(b"\xe2"), text("€")],
        &[(OpCode::Pong, b"\xe2".to_vec())],
    );
}

#[test]
fn rfc6455_5_4_send_fragment_opcodes() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"Hel", false)
        .unwrap();
    server
        .send_fragment(MessageKind::Text, b"l", false)
        .unwrap();
    server.send_fragment(MessageKind::Text, b"o", true).unwrap();
    server
        .send_fragment(MessageKind::Binary, &[1], false)
        .unwrap();
    server
        .send_fragment(MessageKind::Binary, &[2, 3], true)
        .unwrap();
    server
        .send_fragment(MessageKind::Text, b"one", true)
        .unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[
            b"\x01\x03Hel",
            b"\x00\x01l",
            b"\x80\x01o",
            b"\x02\x01\x01",
            b"\x80\x02\x02\x03",
            b"\x81\x03one",
        ])
    );
    // The same from a client, masked.
    let mut client = Connection::new(Role::Client, defaults());
    client
        .send_fragment(MessageKind::Binary, b"ab", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, b"", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, b"c", true)
        .unwrap();
    let frames = decode_frames(&output(&mut client));
    let wire = |fin, opcode, payload: &[u8]| Wire {
        fin,
        opcode,
        masked: true,
        payload: payload.to_vec(),
    };
    assert_eq!(
        frames,
        [
            wire(false, OpCode::Binary, b"ab"),
            wire(false, OpCode::Continuation, b""),
            wire(true, OpCode::Continuation, b"c"),
        ]
    );
}

#[test]
fn rfc6455_5_4_send_fragment_rejects_out_of_order_use() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"a", false)
        .unwrap();
    output(&mut server);
    // A fragment of another kind, or a whole message, cannot interleave.
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"b", false),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"b", true),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send(Message::text("c")),
        Err(SendError::FragmentOrder)
    );
    assert_eq!(
        server.send(Message::binary(vec![1])),
        Err(SendError::FragmentOrder)
    );
    assert!(!server.wants_write(), "a rejected call wrote something");
    // Control frames may interleave (RFC 6455 §5.4).
    server.send_ping(b"p").unwrap();
    server.send_fragment(MessageKind::Text, b"d", true).unwrap();
    // After the last fragment, anything goes again.
    server.send(Message::binary(vec![7])).unwrap();
    assert_eq!(
        output(&mut server),
        cat(&[b"\x89\x01p", b"\x80\x01d", b"\x82\x01\x07"])
    );
    // The other way round: binary open, text rejected.
    server
        .send_fragment(MessageKind::Binary, b"x", false)
        .unwrap();
    assert_eq!(
        server.send_fragment(MessageKind::Text, b"y", true),
        Err(SendError::FragmentOrder)
    );
}

// ---------------------------------------------------------------------------
// §5.5: control frames
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_5_control_frame_with_fin_clear_fails_1002() {
    for opcode in [PING, PONG, CLOSE] {
        eprintln!("opcode {opcode:#x}");
        fails(
            &defaults(),
            |role| frame_to(role, false, opcode, b""),
            ProtocolError::FragmentedControlFrame,
        );
        // Also in the middle of a fragmented message.
        fails(
            &defaults(),
            |role| {
                cat(&[
                    &frame_to(role, false, TEXT, b"a"),
                    &frame_to(role, false, opcode, b"b"),
                ])
            },
            ProtocolError::FragmentedControlFrame,
        );
    }
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_fails_1002() {
    for opcode in [PING, PONG, CLOSE] {
        for len in [126usize, 127, 0xffff, 0x10000] {
            eprintln!("opcode {opcode:#x} len {len}");
            let mut payload = close_payload(1000, b"");
            payload.resize(len, b'a');
            fails(
                &defaults(),
                |role| frame_to(role, true, opcode, &payload),
                ProtocolError::ControlFrameTooLong(len as u64),
            );
        }
    }
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_fails_on_the_header() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&header_to(role, FIN | PING, 126));
        assert_failed(&mut conn, ProtocolError::ControlFrameTooLong(126));
    }
}

#[test]
fn rfc6455_5_5_control_frames_of_125_bytes_are_accepted() {
    let payload: Vec<u8> = (0..125).collect();
    let reason = "r".repeat(123);
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PING, &payload),
                &frame_to(role, true, PONG, &payload),
                &frame_to(role, true, CLOSE, &close_payload(1000, reason.as_bytes())),
            ])
        },
        &[
            ping(&payload),
            pong(&payload),
            close_received(1000, &reason),
            closed(1000, &reason, Initiator::Remote),
        ],
        &[
            (OpCode::Pong, payload.clone()),
            (OpCode::Close, close_payload(1000, b"")),
        ],
    );
}

#[test]
fn rfc6455_5_5_2_ping_is_answered_with_identical_pong() {
    // Server: exact bytes of the unmasked pong.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut server), [ping(b"Hello")]);
    assert_eq!(output(&mut server), b"\x8a\x05Hello");
    server.handle_input(&client_frame(true, PING, b""));
    assert_eq!(events(&mut server), [ping(b"")]);
    assert_eq!(output(&mut server), b"\x8a\x00");
    let binary_payload: Vec<u8> = (0..125).map(|i| 255 - i).collect();
    server.handle_input(&client_frame(true, PING, &binary_payload));
    assert_eq!(events(&mut server), [ping(&binary_payload)]);
    assert_eq!(output(&mut server), cat(&[b"\x8a\x7d", &binary_payload]));
    assert_eq!(server.state(), State::Open);
    // Client: masked pong with the same payload.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&server_frame(true, PING, b"Hello"));
    assert_eq!(events(&mut client), [ping(b"Hello")]);
    let out = output(&mut client);
    assert_eq!(&out[..2], [0x8a, 0x85]);
    assert_eq!(
        sent_bytes(Role::Client, &out),
        [(OpCode::Pong, b"Hello".to_vec())]
    );
}

/// `sent` for bytes already taken.
fn sent_bytes(role: Role, bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    decode_frames(bytes)
        .into_iter()
        .map(|w| {
            assert!(w.fin);
            assert_eq!(w.masked, role == Role::Client);
            (w.opcode, w.payload)
        })
        .collect()
}

#[test]
fn rfc6455_5_5_2_each_ping_gets_its_own_pong() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PING, b"1"),
                &frame_to(role, true, PING, b"2"),
                &frame_to(role, true, PING, b"3"),
            ])
        },
        &[ping(b"1"), ping(b"2"), ping(b"3")],
        &[
            (OpCode::Pong, b"1".to_vec()),
            (OpCode::Pong, b"2".to_vec()),
            (OpCode::Pong, b"3".to_vec()),
        ],
    );
}

#[test]
fn rfc6455_5_5_3_while_output_waits_only_the_latest_pong_is_kept() {
    // A peer that floods pings without reading cannot grow the output: once
    // 4 KiB wait, the held-back pong is replaced, and goes out before the
    // next frame.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        let waiting = conn.pending_output().len();
        for i in 0..1000u32 {
            conn.handle_input(&frame_to(role, true, PING, &i.to_be_bytes()));
        }
        let evs = events(&mut conn);
        assert_eq!(evs.len(), 1000);
        assert_eq!(conn.pending_output().len(), waiting, "no pong appended");
        conn.send(Message::text("after")).unwrap();
        let frames = sent(&mut conn);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1], (OpCode::Pong, 999u32.to_be_bytes().to_vec()));
        assert_eq!(frames[2], (OpCode::Text, b"after".to_vec()));
        // With nothing else to send, a held-back pong goes out once the
        // output drains.
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        conn.handle_input(&frame_to(role, true, PING, b"x"));
        conn.handle_input(&frame_to(role, true, PING, b"y"));
        assert_eq!(events(&mut conn), [ping(b"x"), ping(b"y")]);
        assert_eq!(sent(&mut conn).len(), 1);
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"y".to_vec())]);
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_5_5_3_a_held_back_pong_never_follows_a_newer_one() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::binary(vec![7u8; 5000])).unwrap();
        conn.handle_input(&frame_to(role, true, PING, b"A"));
        assert_eq!(events(&mut conn), [ping(b"A")]);
        // Part of the output is written: below the backlog, B's pong is
        // appended at once and A's, now stale, is dropped.
        let n = conn.pending_output().len() - 100;
        conn.consume_output(n);
        conn.handle_input(&frame_to(role, true, PING, b"B"));
        assert_eq!(events(&mut conn), [ping(b"B")]);
        let rest = output(&mut conn);
        assert!(rest.len() < 120, "{} bytes", rest.len());
        assert_eq!(sent(&mut conn), []);
        assert!(!conn.wants_write());
        // What was written last is the pong to B.
        let pong_b = &rest[rest.len() - if role == Role::Client { 7 } else { 3 }..];
        assert_eq!(pong_b[0], 0x8a);
    }
}

#[test]
fn consume_output_past_the_end_is_harmless() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.send(Message::text("hello")).unwrap();
        let all = conn.pending_output().to_vec();
        conn.consume_output(1);
        conn.consume_output(usize::MAX);
        assert!(!conn.wants_write());
        assert_eq!(conn.pending_output(), b"");
        conn.send(Message::text("again")).unwrap();
        assert_eq!(conn.pending_output().len(), all.len());
    }
}

#[test]
fn rfc6455_5_5_2_pongs_below_the_backlog_are_all_sent() {
    // Autobahn 2.10: ten pings in one read get ten pongs, even when the
    // output is drained only after all events are taken.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        let mut input = Vec::new();
        for i in 0..10u8 {
            input.extend(frame_to(role, true, PING, &[i; 125]));
        }
        conn.handle_input(&input);
        assert_eq!(events(&mut conn).len(), 10);
        let pongs: Vec<_> = (0..10u8).map(|i| (OpCode::Pong, vec![i; 125])).collect();
        assert_eq!(sent(&mut conn), pongs);
    }
}

#[test]
fn rfc6455_5_5_2_pong_is_queued_when_the_ping_event_is_taken() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, PING, b"a"),
            &frame_to(role, true, PING, b"b"),
        ]));
        // Parsed, but not applied until taken.
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(ping(b"a")));
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"a".to_vec())]);
        assert_eq!(conn.poll_event(), Some(ping(b"b")));
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"b".to_vec())]);
        assert_eq!(conn.poll_event(), None);
    }
}

#[test]
fn rfc6455_5_5_2_no_pong_after_a_local_close_sent_before_the_ping_was_taken() {
    // The ping was parsed, then this end closed: the close frame stays the
    // last frame sent.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, PING, b"p"));
        conn.close(None).unwrap();
        assert_eq!(events(&mut conn), [ping(b"p")]);
        assert_eq!(sent(&mut conn), [(OpCode::Close, vec![])]);
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_5_3_unsolicited_pong_is_delivered_without_reply() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, PONG, b"heartbeat"),
                &frame_to(role, true, PONG, b""),
            ])
        },
        &[pong(b"heartbeat"), pong(b"")],
        &[],
    );
}

#[test]
fn rfc6455_5_5_ping_and_pong_payloads_over_125_bytes_cannot_be_sent() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        assert_eq!(
            conn.send_ping(&[0; 126]),
            Err(SendError::ControlPayloadTooLong(126))
        );
        assert_eq!(
            conn.send_pong(&[0; 200]),
            Err(SendError::ControlPayloadTooLong(200))
        );
        assert!(!conn.wants_write());
        conn.send_ping(&[1; 125]).unwrap();
        conn.send_pong(&[2; 125]).unwrap();
        assert_eq!(
            sent(&mut conn),
            [(OpCode::Ping, vec![1; 125]), (OpCode::Pong, vec![2; 125])]
        );
        assert_eq!(conn.state(), State::Open);
    }
}

// ---------------------------------------------------------------------------
// §8.1, §5.6: UTF-8 in text messages
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_8_1_invalid_utf8_text_fails_1007() {
    let bad: [&[u8]; 7] = [
        b"\xff",
        b"\x80",
        b"\xc0\xaf",                 // overlong
        b"\xed\xa0\x80",             // a surrogate
        b"\xf4\x90\x80\x80",         // over U+10FFFF
        b"ok\xe2\x82(",              // a truncated sequence, then more
        b"\xce\xba\xe1\xbd\xb9\xcf", // a truncated sequence at the end
    ];
    for payload in bad {
        eprintln!("payload {payload:?}");
        fails(
            &defaults(),
            |role| frame_to(role, true, TEXT, payload),
            ProtocolError::InvalidUtf8,
        );
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_fast_before_the_frame_completes() {
    // A 20-byte text frame; its first 10 bytes hold "\xf4\x90", which no
    // continuation can make valid.
    let payload = b"hello\xf4\x90\x80\x80 and the rest";
    let payload = &payload[..20];
    for role in ROLES {
        let frame = frame_to(role, true, TEXT, payload);
        let header_len = frame.len() - 20;
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame[..header_len + 10]);
        // The failure is decided before the other 10 bytes arrive: the
        // terminal event is there, and taking it queues the close 1007.
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        conn.handle_input(&frame[header_len + 10..]);
        assert_eq!(events(&mut conn), []);
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_on_the_first_bad_byte() {
    // Fed one byte at a time, the failure comes with the 0x90 after 0xf4,
    // while the frame (and the message) are far from complete.
    for role in ROLES {
        let payload = b"ab\xf4\x90cdefgh";
        let frame = frame_to(role, false, TEXT, payload);
        let header_len = frame.len() - payload.len();
        let mut conn = Connection::new(role, defaults());
        for (i, byte) in frame.iter().enumerate() {
            conn.handle_input(std::slice::from_ref(byte));
            if i < header_len + 3 {
                assert_eq!(events(&mut conn), [], "byte {i}");
                assert!(!conn.wants_write());
            } else {
                assert_failed(&mut conn, ProtocolError::InvalidUtf8);
                break;
            }
        }
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_split_across_fragments_fails_1007() {
    // "\xed" then "\xa0\x80": a surrogate, each half harmless alone.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, false, TEXT, b"a\xed"));
        assert_eq!(events(&mut conn), []);
        assert!(!conn.wants_write());
        conn.handle_input(&frame_to(role, true, CONT, b"\xa0\x80"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
    fails_after(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xf0"),
                &frame_to(role, false, CONT, b"\x9d"),
                &frame_to(role, true, PING, b""),
                &frame_to(role, false, CONT, b"\x84"),
                &frame_to(role, true, CONT, b"\x9e\xff"),
            ])
        },
        &[ping(b"")],
        &[(OpCode::Pong, vec![])],
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_even_if_the_message_would_continue() {
    // The bad byte is in a non-final fragment: no need to wait for the end.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xc3\x28"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
}

#[test]
fn rfc6455_8_1_truncated_code_point_at_end_of_message_fails_1007() {
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"ok"),
                &frame_to(role, true, CONT, b"\xe2\x82"),
            ])
        },
        ProtocolError::InvalidUtf8,
    );
    // The last fragment is empty and the one before ends mid-sequence.
    fails(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"ok\xf0\x9f"),
                &frame_to(role, true, CONT, b""),
            ])
        },
        ProtocolError::InvalidUtf8,
    );
    // A single frame.
    fails(
        &defaults(),
        |role| frame_to(role, true, TEXT, b"\xc3"),
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn rfc6455_8_1_truncated_code_point_is_not_carried_into_the_next_message() {
    // A truncated sequence fails its own message; it must not complete with
    // the start of the next one. Check the converse too: a complete
    // message leaves no state behind.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, "€".as_bytes()),
            &frame_to(role, true, TEXT, b"\xe2\x82"),
        ]));
        let evs = events(&mut conn);
        assert_eq!(evs[0], text("€"));
        assert_eq!(evs[1..], [failure(ProtocolError::InvalidUtf8)]);
    }
}

#[test]
fn rfc6455_8_1_valid_text_split_at_every_byte_boundary() {
    let message = "κόσμε a€𝄞 ✓ é";
    let bytes = message.as_bytes();
    for role in ROLES {
        for cut in 0..=bytes.len() {
            let input = cat(&[
                &frame_to(role, false, TEXT, &bytes[..cut]),
                &frame_to(role, true, CONT, &bytes[cut..]),
            ]);
            let mut conn = Connection::new(role, defaults());
            conn.handle_input(&input);
            assert_eq!(events(&mut conn), [text(message)], "{role:?} cut {cut}");
            assert!(!conn.wants_write());
            // And one byte at a time.
            let mut conn = Connection::new(role, defaults());
            let mut got = Vec::new();
            for byte in &input {
                conn.handle_input(std::slice::from_ref(byte));
                got.extend(events(&mut conn));
            }
            assert_eq!(got, [text(message)], "{role:?} cut {cut} bytewise");
        }
    }
}

#[test]
fn rfc6455_8_1_binary_messages_are_not_utf8_checked() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, true, BINARY, b"\xff\xfe\xed\xa0\x80"),
                &frame_to(role, false, BINARY, b"\xe2"),
                &frame_to(role, true, CONT, b""),
            ])
        },
        &[binary(b"\xff\xfe\xed\xa0\x80"), binary(b"\xe2")],
        &[],
    );
}

#[test]
fn rfc6455_8_1_ping_payloads_are_not_utf8_checked() {
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"\xe2"),
                &frame_to(role, true, PING, b"\xff"),
                &frame_to(role, true, CONT, b"\x82\xac"),
            ])
        },
        &[ping(b"\xff"), text("€")],
        &[(OpCode::Pong, b"\xff".to_vec())],
    );
}

// ---------------------------------------------------------------------------
// §5.5.1, §7: the close handshake initiated by the peer
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_5_1_peer_close_is_echoed_and_closes_cleanly() {
    // Server: exact reply bytes, code 1000 echoed without the reason.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, CLOSE, &close_payload(1000, b"bye")));
    assert_eq!(
        events(&mut server),
        [
            close_received(1000, "bye"),
            closed(1000, "bye", Initiator::Remote)
        ]
    );
    assert_eq!(output(&mut server), [0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(server.state(), State::Closed);
    // Client: the same, masked.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&server_frame(true, CLOSE, &close_payload(1001, b"going")));
    assert_eq!(
        events(&mut client),
        [
            close_received(1001, "going"),
            closed(1001, "going", Initiator::Remote)
        ]
    );
    assert_eq!(
        sent(&mut client),
        [(OpCode::Close, close_payload(1001, b""))]
    );
    assert_eq!(client.state(), State::Closed);
    for conn in [&mut server, &mut client] {
        // No data after close (RFC 6455 §5.5.1), in either direction.
        assert_eq!(conn.send(Message::text("late")), Err(SendError::Closed));
        assert_eq!(conn.send_ping(b""), Err(SendError::Closed));
        assert_eq!(conn.send_pong(b""), Err(SendError::Closed));
        assert_eq!(
            conn.send_fragment(MessageKind::Text, b"x", true),
            Err(SendError::Closed)
        );
        // close() after the handshake is a no-op.
        assert_eq!(conn.close(None), Ok(()));
        let role = conn.role();
        conn.handle_input(&frame_to(role, true, TEXT, b"late"));
        conn.handle_input(&frame_to(role, true, PING, b"late"));
        conn.handle_eof();
        assert_eq!(events(conn), []);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_5_5_1_a_message_before_the_peer_close_can_still_be_answered() {
    // The reply to the close is written as its event is taken, so data
    // sent in answer to an earlier message goes out before it.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"last words"),
            &frame_to(role, true, CLOSE, &close_payload(1000, b"")),
            &frame_to(role, true, TEXT, b"after close"),
        ]));
        assert!(!conn.wants_write());
        assert_eq!(conn.poll_event(), Some(text("last words")));
        conn.send(Message::text("noted")).unwrap();
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, ""),
                closed(1000, "", Initiator::Remote)
            ]
        );
        assert_eq!(
            sent(&mut conn),
            [
                (OpCode::Text, b"noted".to_vec()),
                (OpCode::Close, close_payload(1000, b"")),
            ]
        );
        assert_eq!(conn.send(Message::text("late")), Err(SendError::Closed));
    }
}

#[test]
fn rfc6455_7_1_3_local_close_before_the_peer_close_event_is_taken() {
    // Both ends closed at once: the peer's close answers ours, no reply.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1001, b"")));
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
            .unwrap();
        assert_eq!(
            events(&mut conn),
            [close_received(1001, ""), closed(1001, "", Initiator::Local)]
        );
        assert_eq!(sent(&mut conn), [(OpCode::Close, close_payload(1000, b""))]);
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_empty_close_is_answered_with_empty_close_code_1005() {
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, CLOSE, b""));
    assert_eq!(
        events(&mut server),
        [
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Remote)
        ]
    );
    assert_eq!(output(&mut server), [0x88, 0x00]);
    assert_eq!(server.state(), State::Closed);
    accepts(
        &defaults(),
        |role| frame_to(role, true, CLOSE, b""),
        &[
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Remote),
        ],
        &[(OpCode::Close, vec![])],
    );
}

#[test]
fn rfc6455_5_5_1_close_in_the_middle_of_a_fragmented_message() {
    // The unfinished message is dropped; the close is answered.
    accepts(
        &defaults(),
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"never"),
                &frame_to(role, true, CLOSE, &close_payload(1001, b"")),
                &frame_to(role, true, CONT, b" finished"),
            ])
        },
        &[
            close_received(1001, ""),
            closed(1001, "", Initiator::Remote),
        ],
        &[(OpCode::Close, close_payload(1001, b""))],
    );
}

#[test]
fn rfc6455_5_5_1_close_payload_of_one_byte_fails_1002() {
    fails(
        &defaults(),
        |role| frame_to(role, true, CLOSE, b"\x03"),
        ProtocolError::InvalidCloseLength,
    );
}

#[test]
fn rfc6455_7_4_invalid_close_codes_fail_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        eprintln!("code {code}");
        fails(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(code, b"")),
            ProtocolError::InvalidCloseCode(code),
        );
    }
}

#[test]
fn rfc6455_7_4_valid_close_codes_are_accepted() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        eprintln!("code {code}");
        accepts(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(code, b"why")),
            &[
                close_received(code, "why"),
                closed(code, "why", Initiator::Remote),
            ],
            &[(OpCode::Close, close_payload(code, b""))],
        );
    }
}

#[test]
fn rfc6455_5_5_1_close_reason_with_invalid_utf8_fails_1007() {
    for reason in [&b"\xff"[..], b"ok\xe2\x82", b"\xed\xa0\x80"] {
        fails(
            &defaults(),
            |role| frame_to(role, true, CLOSE, &close_payload(1000, reason)),
            ProtocolError::InvalidCloseReason,
        );
    }
    // Valid multi-byte reasons are fine.
    accepts(
        &defaults(),
        |role| frame_to(role, true, CLOSE, &close_payload(1000, "ciao €".as_bytes())),
        &[
            close_received(1000, "ciao €"),
            closed(1000, "ciao €", Initiator::Remote),
        ],
        &[(OpCode::Close, close_payload(1000, b""))],
    );
}

// ---------------------------------------------------------------------------
// §7.1.2: the close handshake initiated locally
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_7_1_2_local_close_queues_the_frame_and_enters_closing() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "done")))
        .unwrap();
    assert_eq!(server.state(), State::Closing);
    assert_eq!(output(&mut server), b"\x88\x06\x03\xe8done");
    assert_eq!(events(&mut server), []);
    // No data after the close frame (RFC 6455 §5.5.1).
    assert_eq!(server.send(Message::text("x")), Err(SendError::Closed));
    assert_eq!(
        server.send(Message::binary(vec![1])),
        Err(SendError::Closed)
    );
    assert_eq!(
        server.send_fragment(MessageKind::Binary, b"x", false),
        Err(SendError::Closed)
    );
    assert_eq!(server.send_ping(b"x"), Err(SendError::Closed));
    assert_eq!(server.send_pong(b"x"), Err(SendError::Closed));
    assert!(!server.wants_write());
    // The client role masks its close frame.
    let mut client = Connection::new(Role::Client, defaults());
    client.close(None).unwrap();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(sent(&mut client), [(OpCode::Close, vec![])]);
}

#[test]
fn rfc6455_7_1_2_empty_local_close() {
    let mut server = Connection::new(Role::Server, defaults());
    server.close(None).unwrap();
    assert_eq!(output(&mut server), [0x88, 0x00]);
    server.handle_input(&client_frame(true, CLOSE, b""));
    assert_eq!(
        events(&mut server),
        [
            Event::CloseReceived(None),
            closed(1005, "", Initiator::Local)
        ]
    );
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_7_1_2_peer_close_reply_completes_a_local_close() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")))
            .unwrap();
        assert_eq!(
            sent(&mut conn),
            [(OpCode::Close, close_payload(1001, b"bye"))]
        );
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"ok")));
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, "ok"),
                closed(1000, "ok", Initiator::Local)
            ]
        );
        // No second close frame is sent.
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_5_5_1_data_received_while_closing_is_discarded() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        // A message starts before the close and ends after it.
        conn.handle_input(&frame_to(role, false, TEXT, b"before "));
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&cat(&[
            &frame_to(role, true, CONT, b"close"),
            &frame_to(role, true, TEXT, b"text"),
            &frame_to(role, false, BINARY, b"bin"),
            &frame_to(role, true, PONG, b"pong"),
            &frame_to(role, true, CONT, b"ary"),
        ]));
        assert_eq!(events(&mut conn), [pong(b"pong")]);
        assert_eq!(conn.state(), State::Closing);
        // The close frame is the last frame sent.
        assert!(!conn.wants_write());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        assert_eq!(
            events(&mut conn),
            [close_received(1000, ""), closed(1000, "", Initiator::Local)]
        );
        assert!(!conn.wants_write());
    }
}

#[test]
fn rfc6455_5_5_1_nothing_is_sent_after_the_close_frame_even_for_a_ping() {
    // A ping that arrives after this end sent its close frame is reported,
    // but no pong follows the close frame: it stays the last frame sent.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, PING, b"late"));
        assert_eq!(events(&mut conn), [ping(b"late")]);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_4_fragmentation_rules_still_hold_while_closing() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, CONT, b"orphan"));
        // The close frame was already sent: none is sent again.
        let error = ProtocolError::UnexpectedContinuation;
        assert_eq!(events(&mut conn), [failure(error)]);
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_2_invalid_close_frame_reply_while_closing_fails() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        output(&mut conn);
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1005, b"")));
        assert_eq!(
            events(&mut conn),
            [failure(ProtocolError::InvalidCloseCode(1005))]
        );
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_2_calling_close_twice_is_a_no_op() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
            .unwrap();
        output(&mut conn);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "again"))),
            Ok(())
        );
        assert_eq!(conn.close(None), Ok(()));
        assert!(!conn.wants_write());
        assert_eq!(conn.state(), State::Closing);
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_7_4_local_close_rejects_unsendable_codes_and_long_reasons() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert_eq!(
                conn.close(Some(CloseFrame::new(CloseCode::from(code), ""))),
                Err(SendError::InvalidCloseCode(code))
            );
        }
        let long = "x".repeat(124);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::NORMAL, long))),
            Err(SendError::CloseReasonTooLong(124))
        );
        // Multi-byte: 62 two-byte characters are 124 bytes.
        let long = "é".repeat(62);
        assert_eq!(
            conn.close(Some(CloseFrame::new(CloseCode::NORMAL, long))),
            Err(SendError::CloseReasonTooLong(124))
        );
        // Nothing happened.
        assert_eq!(conn.state(), State::Open);
        assert!(!conn.wants_write());
        conn.send(Message::text("still open")).unwrap();
        // 123 bytes is the limit and works.
        let max = "y".repeat(123);
        conn.close(Some(CloseFrame::new(CloseCode::from(4999), max.clone())))
            .unwrap();
        assert_eq!(
            sent(&mut conn),
            [
                (OpCode::Text, b"still open".to_vec()),
                (OpCode::Close, close_payload(4999, max.as_bytes())),
            ]
        );
        assert_eq!(conn.state(), State::Closing);
    }
}

#[test]
fn rfc6455_5_4_close_may_interrupt_a_fragmented_send() {
    let mut server = Connection::new(Role::Server, defaults());
    server
        .send_fragment(MessageKind::Text, b"half", false)
        .unwrap();
    server.close(None).unwrap();
    assert_eq!(
        server.send_fragment(MessageKind::Text, b" more", true),
        Err(SendError::Closed)
    );
    assert_eq!(output(&mut server), cat(&[b"\x01\x04half", b"\x88\x00"]));
}

// ---------------------------------------------------------------------------
// §7.1.5: the transport ends
// ---------------------------------------------------------------------------

fn abnormal() -> Event {
    Event::Closed(Closed {
        code: CloseCode::ABNORMAL,
        reason: Utf8Bytes::default(),
        initiator: Initiator::Remote,
        clean: false,
        error: None,
    })
}

#[test]
fn rfc6455_7_1_5_eof_before_close_is_abnormal_1006() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, TEXT, b"hi"));
        // Half a frame is pending when the transport ends.
        conn.handle_input(&frame_to(role, false, TEXT, b"half")[..3]);
        conn.handle_eof();
        assert_eq!(events(&mut conn), [text("hi"), abnormal()]);
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.wants_write());
        // Only once.
        conn.handle_eof();
        conn.handle_input(&frame_to(role, true, TEXT, b"late"));
        assert_eq!(events(&mut conn), []);
        assert_eq!(conn.send(Message::text("x")), Err(SendError::Closed));
    }
}

#[test]
fn rfc6455_7_1_5_eof_after_a_clean_close_adds_no_event() {
    for role in ROLES {
        // Closed by the peer.
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        assert_eq!(events(&mut conn).len(), 2);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
        // Closed by this end.
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_input(&frame_to(role, true, CLOSE, b""));
        assert_eq!(events(&mut conn).len(), 2);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
        // Failed.
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&raw_to(role, 0x83, b""));
        assert_eq!(events(&mut conn).len(), 1);
        conn.handle_eof();
        assert_eq!(events(&mut conn), []);
    }
}

#[test]
fn rfc6455_7_1_5_eof_after_queued_events_comes_last() {
    // Events already parsed come before the abnormal end.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&cat(&[
            &frame_to(role, true, TEXT, b"one"),
            &frame_to(role, true, PING, b"two"),
        ]));
        conn.handle_eof();
        assert_eq!(events(&mut conn), [text("one"), ping(b"two"), abnormal()]);
        // The ping came before the end, so it was answered.
        assert_eq!(sent(&mut conn), [(OpCode::Pong, b"two".to_vec())]);
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_eof_right_after_the_peer_close_frame_is_clean() {
    // The close frame arrived, then the transport ended, before any event
    // was taken: the close handshake still counts.
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&frame_to(role, true, CLOSE, &close_payload(1000, b"")));
        conn.handle_eof();
        assert_eq!(
            events(&mut conn),
            [
                close_received(1000, ""),
                closed(1000, "", Initiator::Remote)
            ]
        );
        assert_eq!(sent(&mut conn), [(OpCode::Close, close_payload(1000, b""))]);
    }
}

#[test]
fn rfc6455_7_1_5_eof_while_closing_is_abnormal_1006() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_eof();
        let evs = events(&mut conn);
        assert_eq!(evs.len(), 1);
        let Event::Closed(c) = &evs[0] else {
            panic!("expected Closed, got {evs:?}");
        };
        assert_eq!(
            (c.code, c.clean, &c.error),
            (CloseCode::ABNORMAL, false, &None)
        );
        assert_eq!(conn.state(), State::Closed);
    }
}

#[test]
fn rfc6455_7_1_5_eof_while_closing_keeps_the_local_initiator() {
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.close(None).unwrap();
        conn.handle_eof();
        let evs = events(&mut conn);
        let Some(Event::Closed(c)) = evs.first() else {
            panic!("expected Closed, got {evs:?}");
        };
        assert_eq!(c.initiator, Initiator::Local);
    }
}

// ---------------------------------------------------------------------------
// Limits: max_frame_size and max_message_size (close code 1009)
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_7_4_1_frame_over_max_frame_size_fails_1009_on_the_header() {
    let config = Config::default().max_frame_size(100);
    let error = ProtocolError::FrameTooLarge {
        size: 101,
        limit: 100,
    };
    for role in ROLES {
        // Only the header: the payload never needs to arrive.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&header_to(role, FIN | BINARY, 101));
        assert_failed(&mut conn, error.clone());
    }
    fails(
        &config,
        |role| frame_to(role, true, TEXT, &[b'a'; 101]),
        error.clone(),
    );
    // A continuation over the limit, after a fragment within it.
    fails(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, &[1; 100]),
                &header_to(role, CONT, 101),
            ])
        },
        error,
    );
}

#[test]
fn rfc6455_7_4_1_frames_at_max_frame_size_are_accepted() {
    // The limit is per frame: a message of two full frames is fine.
    let config = Config::default().max_frame_size(100);
    accepts(
        &config,
        |role| {
            cat(&[
                &frame_to(role, true, BINARY, &[7; 100]),
                &frame_to(role, false, TEXT, &[b'a'; 100]),
                &frame_to(role, true, CONT, &[b'b'; 100]),
            ])
        },
        &[
            binary(&[7; 100]),
            text(&format!("{}{}", "a".repeat(100), "b".repeat(100))),
        ],
        &[],
    );
}

#[test]
fn rfc6455_7_4_1_message_over_max_message_size_fails_1009() {
    let config = Config::default().max_message_size(10);
    for role in ROLES {
        // Fails on the header of the fragment that would go over.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"01234"));
        assert_eq!(events(&mut conn), []);
        conn.handle_input(&header_to(role, FIN | CONT, 6));
        assert_failed(
            &mut conn,
            ProtocolError::MessageTooLarge {
                size: 11,
                limit: 10,
            },
        );
    }
    fails_after(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, BINARY, b"0123"),
                &frame_to(role, false, CONT, b"456"),
                &frame_to(role, true, PING, b"control frames do not count"),
                &frame_to(role, true, CONT, b"7890"),
            ])
        },
        &[ping(b"control frames do not count")],
        &[(OpCode::Pong, b"control frames do not count".to_vec())],
        ProtocolError::MessageTooLarge {
            size: 11,
            limit: 10,
        },
    );
    fails(
        &config,
        |role| frame_to(role, true, TEXT, b"0123456789a"),
        ProtocolError::MessageTooLarge {
            size: 11,
            limit: 10,
        },
    );
}

#[test]
fn rfc6455_7_4_1_message_of_exactly_max_message_size_is_accepted() {
    let config = Config::default().max_message_size(10);
    accepts(
        &config,
        |role| {
            cat(&[
                &frame_to(role, false, TEXT, b"012"),
                &frame_to(role, true, PING, b"not counted"),
                &frame_to(role, false, CONT, b"345"),
                &frame_to(role, true, CONT, b"6789"),
                // The count starts again with each message.
                &frame_to(role, true, BINARY, b"0123456789"),
            ])
        },
        &[
            ping(b"not counted"),
            text("0123456789"),
            binary(b"0123456789"),
        ],
        &[(OpCode::Pong, b"not counted".to_vec())],
    );
}

#[test]
fn rfc6455_7_4_1_frame_announcing_2_pow_62_bytes_fails_1009_on_the_header() {
    let error = ProtocolError::FrameTooLarge {
        size: 1 << 62,
        limit: Config::default().max_frame_size,
    };
    for role in ROLES {
        let mut conn = Connection::new(role, defaults());
        conn.handle_input(&header_to(role, FIN | BINARY, 1 << 62));
        assert_failed(&mut conn, error.clone());
    }
    // Also as a continuation of an open message.
    let mut conn = Connection::new(Role::Server, defaults());
    conn.handle_input(&cat(&[
        &client_frame(false, TEXT, b"a"),
        &header_to(Role::Server, CONT, (1 << 63) - 1),
    ]));
    assert_failed(
        &mut conn,
        ProtocolError::FrameTooLarge {
            size: (1 << 63) - 1,
            limit: Config::default().max_frame_size,
        },
    );
}

// ---------------------------------------------------------------------------
// Config::stream_fragments
// ---------------------------------------------------------------------------

fn fragments(evs: Vec<Event>) -> Vec<Fragment> {
    evs.into_iter()
        .map(|e| match e {
            Event::Fragment(f) => f,
            other => panic!("expected a fragment, got {other:?}"),
        })
        .collect()
}

#[track_caller]
fn assert_one_message(frags: &[Fragment], kind: MessageKind, data: &[u8]) {
    assert!(!frags.is_empty());
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.kind, kind, "fragment {i}");
        assert_eq!(f.first, i == 0, "fragment {i}");
        assert_eq!(f.last, i == frags.len() - 1, "fragment {i}");
    }
    let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
    assert_eq!(joined, data);
}

#[test]
fn config_stream_fragments_delivers_pieces_in_order() {
    let message = "κόσμε a€𝄞 ✓, streamed in pieces".as_bytes();
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        // A cut in the middle of "ό": a piece may end inside a character.
        let input = cat(&[
            &frame_to(role, false, TEXT, &message[..3]),
            &frame_to(role, true, CONT, &message[3..]),
        ]);
        for chunk in 1..=input.len() {
            let mut conn = Connection::new(role, config.clone());
            let mut evs = Vec::new();
            for piece in input.chunks(chunk) {
                conn.handle_input(piece);
                evs.extend(events(&mut conn));
            }
            let frags = fragments(evs);
            assert_one_message(&frags, MessageKind::Text, message);
            // No empty pieces here: each one carries data.
            assert!(frags.iter().all(|f| !f.data.is_empty()), "{frags:?}");
            assert!(!conn.wants_write());
            if chunk == input.len() {
                // Fed whole: one piece per frame.
                assert_eq!(frags.len(), 2);
                assert_eq!(frags[0].data, &message[..3]);
            }
        }
    }
}

#[test]
fn config_stream_fragments_binary_with_interleaved_ping() {
    let config = Config::default().stream_fragments(true);
    let data: Vec<u8> = (0..200).map(|i| (i * 7) as u8).collect();
    for role in ROLES {
        let input = cat(&[
            &frame_to(role, false, BINARY, &data[..150]),
            &frame_to(role, true, PING, b"p"),
            &frame_to(role, false, CONT, b""),
            &frame_to(role, true, CONT, &data[150..]),
            &frame_to(role, true, BINARY, b""),
        ]);
        for chunk in [1, 2, 5, 64, input.len()] {
            let mut conn = Connection::new(role, config.clone());
            let mut evs = Vec::new();
            for piece in input.chunks(chunk) {
                conn.handle_input(piece);
                evs.extend(events(&mut conn));
            }
            let ping_at = evs.iter().position(|e| *e == ping(b"p")).unwrap();
            evs.remove(ping_at);
            // The empty message is one empty piece, first and last.
            let empty = evs.pop().unwrap();
            assert_eq!(
                empty,
                Event::Fragment(Fragment {
                    kind: MessageKind::Binary,
                    data: Bytes::new(),
                    first: true,
                    last: true,
                })
            );
            let frags = fragments(evs);
            // The ping came after the first frame's data, before the rest.
            let before: usize = frags[..ping_at].iter().map(|f| f.data.len()).sum();
            assert_eq!(before, 150, "chunk {chunk}");
            assert_one_message(&frags, MessageKind::Binary, &data);
            assert_eq!(sent(&mut conn), [(OpCode::Pong, b"p".to_vec())]);
        }
    }
}

#[test]
fn config_stream_fragments_never_delivers_whole_messages() {
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, true, TEXT, b"whole"));
        assert_eq!(
            events(&mut conn),
            [Event::Fragment(Fragment {
                kind: MessageKind::Text,
                data: Bytes::from_static(b"whole"),
                first: true,
                last: true,
            })]
        );
    }
}

#[test]
fn config_stream_fragments_invalid_utf8_still_fails_1007() {
    let config = Config::default().stream_fragments(true);
    for role in ROLES {
        // The first fragment is delivered; the bad byte then fails.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xed"));
        let frags = fragments(events(&mut conn));
        assert_eq!(frags.len(), 1);
        assert_eq!(frags[0].data, &b"ok\xed"[..]);
        conn.handle_input(&frame_to(role, true, CONT, b"\xa0\x80"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        // A truncated sequence at the end of the message.
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, TEXT, b"ok\xe2"));
        assert_eq!(events(&mut conn).len(), 1);
        conn.handle_input(&frame_to(role, true, CONT, b"\x82"));
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
        // Fail-fast inside a frame that is not complete.
        let mut conn = Connection::new(role, config.clone());
        let frame = frame_to(role, true, TEXT, b"\xff and more");
        conn.handle_input(&frame[..frame.len() - 5]);
        assert_failed(&mut conn, ProtocolError::InvalidUtf8);
    }
}

#[test]
fn config_stream_fragments_respects_max_message_size() {
    let config = Config::default().stream_fragments(true).max_message_size(4);
    for role in ROLES {
        let mut conn = Connection::new(role, config.clone());
        conn.handle_input(&frame_to(role, false, BINARY, b"12"));
        let frags = fragments(events(&mut conn));
        assert_one_message_start(&frags, MessageKind::Binary, b"12");
        // The header of the fragment that goes over is enough.
        conn.handle_input(&header_to(role, FIN | CONT, 3));
        assert_failed(
            &mut conn,
            ProtocolError::MessageTooLarge { size: 5, limit: 4 },
        );
    }
}

/// The pieces start a message and have not ended it.
#[track_caller]
fn assert_one_message_start(frags: &[Fragment], kind: MessageKind, data: &[u8]) {
    assert!(!frags.is_empty());
    for (i, f) in frags.iter().enumerate() {
        assert_eq!((f.kind, f.first, f.last), (kind, i == 0, false), "{i}");
    }
    let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
    assert_eq!(joined, data);
}

// ---------------------------------------------------------------------------
// §5.7 examples, as bytes on the wire
// ---------------------------------------------------------------------------

#[test]
fn rfc6455_5_7_single_frame_unmasked_text() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [text("Hello")]);
    assert!(!client.wants_write());
    // The same message produced by a server.
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::text("Hello")).unwrap();
    assert_eq!(
        output(&mut server),
        [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
}

#[test]
fn rfc6455_5_7_single_frame_masked_text() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    // The helper agrees with the RFC.
    assert_eq!(client_frame(true, TEXT, b"Hello"), bytes);
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&bytes);
    assert_eq!(events(&mut server), [text("Hello")]);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_7_fragmented_unmasked_text() {
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!(events(&mut client), []);
    client.handle_input(&[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [text("Hello")]);
}

#[test]
fn rfc6455_5_7_unmasked_ping_and_masked_pong() {
    // A ping "Hello" to a client; its pong is masked.
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), [ping(b"Hello")]);
    let out = output(&mut client);
    assert_eq!(out.len(), 11);
    assert_eq!(&out[..2], [0x8a, 0x85]);
    let mut payload = out[6..].to_vec();
    apply_mask(&mut payload, [out[2], out[3], out[4], out[5]], 0);
    assert_eq!(payload, b"Hello");
    // The RFC's masked pong "Hello" to a server.
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(events(&mut server), [pong(b"Hello")]);
    assert!(!server.wants_write());
}

#[test]
fn rfc6455_5_7_256_bytes_binary_in_a_single_unmasked_frame() {
    let data: Vec<u8> = (0..=255).collect();
    let bytes = cat(&[&[0x82, 0x7e, 0x01, 0x00], &data]);
    let mut client = Connection::new(Role::Client, defaults());
    client.handle_input(&bytes);
    assert_eq!(events(&mut client), [binary(&data)]);
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::binary(data)).unwrap();
    assert_eq!(output(&mut server), bytes);
}

#[test]
fn rfc6455_5_7_64_kib_binary_in_a_single_unmasked_frame() {
    let data: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let bytes = cat(&[&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00], &data]);
    let mut client = Connection::new(Role::Client, defaults());
    // In uneven pieces.
    for piece in bytes.chunks(4099) {
        client.handle_input(piece);
    }
    assert_eq!(events(&mut client), [binary(&data)]);
    let mut server = Connection::new(Role::Server, defaults());
    server.send(Message::binary(data.clone())).unwrap();
    assert_eq!(output(&mut server), bytes);
    // And masked, from a client to a server.
    let mut client = Connection::new(Role::Client, defaults());
    client.send(Message::binary(data.clone())).unwrap();
    let out = output(&mut client);
    assert_eq!(&out[..10], [0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
    assert_eq!(out.len(), 14 + 65536);
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&out);
    assert_eq!(events(&mut server), [binary(&data)]);
}

// ---------------------------------------------------------------------------
// Output buffer
// ---------------------------------------------------------------------------

#[test]
fn output_can_be_consumed_in_pieces() {
    let mut server = Connection::new(Role::Server, defaults());
    assert!(!server.wants_write());
    server.send(Message::text("Hello")).unwrap();
    assert!(server.wants_write());
    server.consume_output(3);
    assert_eq!(server.pending_output(), b"ello");
    server.send(Message::text("!")).unwrap();
    assert_eq!(server.pending_output(), b"ello\x81\x01!");
    server.consume_output(100);
    assert_eq!(server.pending_output(), b"");
    assert!(!server.wants_write());
    server.send_ping(b"").unwrap();
    assert_eq!(server.pending_output(), b"\x89\x00");
}

// ---------------------------------------------------------------------------
// A client and a server talking to each other
// ---------------------------------------------------------------------------

/// Sends messages both ways, a ping each way, then closes from `closer`.
fn conversation(closer: Role) {
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());

    client.send(Message::text("hello, server")).unwrap();
    client.send(Message::binary(vec![0, 1, 2])).unwrap();
    client
        .send_fragment(MessageKind::Text, &"κό".as_bytes()[..3], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, &"κό".as_bytes()[3..], true)
        .unwrap();
    pump(&mut client, &mut server);
    assert_eq!(
        events(&mut server),
        [text("hello, server"), binary(&[0, 1, 2]), text("κό")]
    );
    assert!(!server.wants_write());

    server.send(Message::text("hello, client")).unwrap();
    server.send(Message::binary(vec![0u8; 70_000])).unwrap();
    pump(&mut server, &mut client);
    assert_eq!(
        events(&mut client),
        [text("hello, client"), binary(&[0u8; 70_000])]
    );

    client.send_ping(b"from client").unwrap();
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), [ping(b"from client")]);
    pump(&mut server, &mut client);
    assert_eq!(events(&mut client), [pong(b"from client")]);

    server.send_ping(b"from server").unwrap();
    pump(&mut server, &mut client);
    assert_eq!(events(&mut client), [ping(b"from server")]);
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), [pong(b"from server")]);

    let (initiator, responder) = match closer {
        Role::Client => (&mut client, &mut server),
        Role::Server => (&mut server, &mut client),
    };
    initiator
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "goodbye")))
        .unwrap();
    assert_eq!(initiator.state(), State::Closing);
    pump(initiator, responder);
    assert_eq!(
        events(responder),
        [
            close_received(1000, "goodbye"),
            closed(1000, "goodbye", Initiator::Remote)
        ]
    );
    assert_eq!(responder.state(), State::Closed);
    pump(responder, initiator);
    assert_eq!(
        events(initiator),
        [close_received(1000, ""), closed(1000, "", Initiator::Local)]
    );
    for conn in [&mut client, &mut server] {
        assert_eq!(conn.state(), State::Closed);
        assert!(!conn.wants_write());
        conn.handle_eof();
        assert_eq!(events(conn), []);
    }
}

#[test]
fn rfc6455_7_pair_close_initiated_by_client() {
    conversation(Role::Client);
}

#[test]
fn rfc6455_7_pair_close_initiated_by_server() {
    conversation(Role::Server);
}

#[test]
fn rfc6455_7_pair_simultaneous_close() {
    // RFC 6455 §7.1.3: both ends close at once; both end cleanly.
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());
    client
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "c")))
        .unwrap();
    server
        .close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "s")))
        .unwrap();
    pump(&mut client, &mut server);
    pump(&mut server, &mut client);
    assert_eq!(
        events(&mut server),
        [
            close_received(1000, "c"),
            closed(1000, "c", Initiator::Local)
        ]
    );
    assert_eq!(
        events(&mut client),
        [
            close_received(1001, "s"),
            closed(1001, "s", Initiator::Local)
        ]
    );
    assert!(!client.wants_write() && !server.wants_write());
}

#[test]
fn rfc6455_7_pair_failure_reaches_the_peer_as_a_close() {
    // A server that fails tells the client why, with a close frame.
    let mut client = Connection::new(Role::Client, defaults());
    let mut server = Connection::new(Role::Server, defaults());
    server.handle_input(&client_frame(true, TEXT, b"\xff"));
    assert_eq!(events(&mut server), [failure(ProtocolError::InvalidUtf8)]);
    pump(&mut server, &mut client);
    let reason = ProtocolError::InvalidUtf8.to_string();
    assert_eq!(
        events(&mut client),
        [
            close_received(1007, &reason),
            closed(1007, &reason, Initiator::Remote)
        ]
    );
    // The client's reply is ignored by the failed server.
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server), []);
}

// ---------------------------------------------------------------------------
// Property tests: chunking is invisible
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Control {
    ping: bool,
    payload: Vec<u8>,
    key: [u8; 4],
}

#[derive(Clone, Debug)]
enum Item {
    Data {
        text: bool,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        controls: Vec<Control>,
        key: [u8; 4],
    },
    Control(Control),
}

/// What a stream of frames should produce.
#[derive(Debug, Default)]
struct Script {
    bytes: Vec<u8>,
    events: Vec<Event>,
    replies: Vec<(OpCode, Vec<u8>)>,
}

impl Script {
    fn control(&mut self, receiver: Role, c: &Control) {
        let opcode = if c.ping { PING } else { PONG };
        self.bytes.extend(raw_frame(
            FIN | opcode,
            peer_key(receiver, c.key),
            &c.payload,
        ));
        if c.ping {
            self.events.push(ping(&c.payload));
            self.replies.push((OpCode::Pong, c.payload.clone()));
        } else {
            self.events.push(pong(&c.payload));
        }
    }

    fn item(&mut self, receiver: Role, item: &Item) {
        let (is_text, payload, cuts, controls, key) = match item {
            Item::Control(c) => return self.control(receiver, c),
            Item::Data {
                text,
                payload,
                cuts,
                controls,
                key,
            } => (text, payload, cuts, controls, key),
        };
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
        points.sort_unstable();
        points.push(payload.len());
        let mut start = 0;
        for (i, &end) in points.iter().enumerate() {
            let opcode = match (i, is_text) {
                (0, true) => TEXT,
                (0, false) => BINARY,
                _ => CONT,
            };
            let fin = i == points.len() - 1;
            self.bytes.extend(raw_frame(
                b0(fin, opcode),
                peer_key(receiver, *key),
                &payload[start..end],
            ));
            start = end;
            if let (false, Some(c)) = (fin, controls.get(i)) {
                self.control(receiver, c);
            }
        }
        self.events.push(if *is_text {
            text(std::str::from_utf8(payload).unwrap())
        } else {
            binary(payload)
        });
    }

    fn close(&mut self, receiver: Role, code: u16, reason: &str, key: [u8; 4]) {
        self.bytes.extend(raw_frame(
            FIN | CLOSE,
            peer_key(receiver, key),
            &close_payload(code, reason.as_bytes()),
        ));
        self.events.push(close_received(code, reason));
        self.events.push(closed(code, reason, Initiator::Remote));
        self.replies.push((OpCode::Close, close_payload(code, b"")));
    }
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

fn arb_control() -> impl Strategy<Value = Control> {
    (any::<bool>(), vec(any::<u8>(), 0..=125), any::<[u8; 4]>())
        .prop_map(|(ping, payload, key)| Control { ping, payload, key })
}

fn arb_item() -> impl Strategy<Value = Item> {
    let payload = prop_oneof![
        vec(any::<char>(), 0..40)
            .prop_map(|cs| (true, cs.into_iter().collect::<String>().into_bytes())),
        vec(any::<u8>(), 0..300).prop_map(|b| (false, b)),
    ];
    prop_oneof![
        3 => (payload, vec(any::<usize>(), 0..4), vec(arb_control(), 0..3), any::<[u8; 4]>())
            .prop_map(|((text, payload), cuts, controls, key)| Item::Data {
                text,
                payload,
                cuts,
                controls,
                key,
            }),
        1 => arb_control().prop_map(Item::Control),
    ]
}

fn arb_close() -> impl Strategy<Value = (u16, String, [u8; 4])> {
    (
        prop::sample::select(vec![1000u16, 1001, 1003, 1008, 1011, 3000, 4000, 4999]),
        vec(any::<char>(), 0..20).prop_map(|cs| cs.into_iter().collect::<String>()),
        any::<[u8; 4]>(),
    )
}

/// Feeds `bytes` cut at `cuts` (positions, reduced modulo the length),
/// collecting the events and output after each piece.
fn feed_in_pieces(role: Role, bytes: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    let mut conn = Connection::new(role, defaults());
    let mut evs = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for end in points {
        conn.handle_input(&bytes[start..end]);
        start = end;
        let (e, o) = drain(&mut conn);
        evs.extend(e);
        out.extend(o);
    }
    (evs, out)
}

fn feed_whole(role: Role, bytes: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = Connection::new(role, defaults());
    conn.handle_input(bytes);
    drain(&mut conn)
}

/// The output's frames; the bytes themselves differ between runs of a
/// client, whose masking keys are random.
fn wire(role: Role, out: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    sent_bytes(role, out)
}

/// Garbage appended to a valid prefix.
#[derive(Clone, Debug)]
enum Garbage {
    /// Any bytes.
    Raw(Vec<u8>),
    /// A well-masked text frame with random payload: mostly invalid UTF-8.
    Text { fin: bool, payload: Vec<u8> },
    /// A random first byte (reserved bits, opcodes) on a random payload.
    Header { b0: u8, payload: Vec<u8> },
}

impl Garbage {
    fn bytes(&self, receiver: Role) -> Vec<u8> {
        match self {
            Garbage::Raw(bytes) => bytes.clone(),
            Garbage::Text { fin, payload } => frame_to(receiver, *fin, TEXT, payload),
            Garbage::Header { b0, payload } => raw_to(receiver, *b0, payload),
        }
    }
}

fn arb_garbage() -> impl Strategy<Value = Garbage> {
    prop_oneof![
        vec(any::<u8>(), 1..40).prop_map(Garbage::Raw),
        (any::<bool>(), vec(any::<u8>(), 1..40))
            .prop_map(|(fin, payload)| Garbage::Text { fin, payload }),
        (any::<u8>(), vec(any::<u8>(), 0..140))
            .prop_map(|(b0, payload)| Garbage::Header { b0, payload }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// RFC 6455 §5.4 ("intermediaries ... MAY change the fragmentation"), and
    /// TCP, may cut a stream anywhere: the events and the output do not
    /// depend on where.
    #[test]
    fn prop_rfc6455_5_any_chunking_of_a_valid_stream_is_invisible(
        role in arb_role(),
        items in vec(arb_item(), 0..8),
        (code, reason, key) in arb_close(),
        trailing in vec(any::<u8>(), 0..10),
        cuts in vec(any::<usize>(), 0..24),
    ) {
        let mut script = Script::default();
        for item in &items {
            script.item(role, item);
        }
        script.close(role, code, &reason, key);
        // Anything after the close frame is ignored.
        script.bytes.extend_from_slice(&trailing);

        let (whole_events, whole_out) = feed_whole(role, &script.bytes);
        prop_assert_eq!(&whole_events, &script.events);
        prop_assert_eq!(wire(role, &whole_out), script.replies.clone());

        let (events, out) = feed_in_pieces(role, &script.bytes, &cuts);
        prop_assert_eq!(&events, &whole_events);
        if role == Role::Server {
            prop_assert_eq!(&out, &whole_out);
        }
        prop_assert_eq!(wire(role, &out), script.replies);
    }

    /// The same for a stream that breaks the protocol somewhere after a
    /// valid prefix: the failure (or the wait for more input) is the same
    /// however the bytes arrive.
    #[test]
    fn prop_rfc6455_7_1_7_any_chunking_of_an_invalid_stream_is_invisible(
        role in arb_role(),
        items in vec(arb_item(), 0..5),
        garbage in arb_garbage(),
        cuts in vec(any::<usize>(), 0..24),
    ) {
        let mut script = Script::default();
        for item in &items {
            script.item(role, item);
        }
        let prefix_events = script.events.len();
        script.bytes.extend(garbage.bytes(role));

        let (whole_events, whole_out) = feed_whole(role, &script.bytes);
        // The valid prefix's events come first, untouched.
        prop_assert_eq!(&whole_events[..prefix_events], &script.events[..]);

        let (events, out) = feed_in_pieces(role, &script.bytes, &cuts);
        prop_assert_eq!(&events, &whole_events);
        if role == Role::Server {
            prop_assert_eq!(&out, &whole_out);
        }
        prop_assert_eq!(wire(role, &out), wire(role, &whole_out));

        // A stream fed one byte at a time, too.
        let every: Vec<usize> = (0..script.bytes.len()).collect();
        let (events, out) = feed_in_pieces(role, &script.bytes, &every);
        prop_assert_eq!(&events, &whole_events);
        prop_assert_eq!(wire(role, &out), wire(role, &whole_out));
    }

    /// Any valid text, cut anywhere into fragments, arrives intact.
    #[test]
    fn prop_rfc6455_8_1_text_cut_into_fragments_is_valid(
        role in arb_role(),
        chars in vec(any::<char>(), 0..60),
        cuts in vec(any::<usize>(), 0..6),
        stream in any::<bool>(),
    ) {
        let message: String = chars.into_iter().collect();
        let item = Item::Data {
            text: true,
            payload: message.clone().into_bytes(),
            cuts,
            controls: Vec::new(),
            key: KEY,
        };
        let mut script = Script::default();
        script.item(role, &item);
        let mut conn = Connection::new(role, Config::default().stream_fragments(stream));
        conn.handle_input(&script.bytes);
        let evs = events(&mut conn);
        if stream {
            let frags = fragments(evs);
            prop_assert!(frags.first().is_some_and(|f| f.first));
            prop_assert!(frags.last().is_some_and(|f| f.last));
            let joined: Vec<u8> = frags.iter().flat_map(|f| f.data.to_vec()).collect();
            prop_assert_eq!(joined, message.into_bytes());
        } else {
            prop_assert_eq!(evs, vec![text(&message)]);
        }
        prop_assert!(!conn.wants_write());
    }
}
