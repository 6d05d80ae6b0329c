//! Byte-script tests for the connection state machine: feed these bytes,
//! expect these output bytes and these events. Each test is named after the
//! RFC 6455 section it checks.

use bytes::Bytes;

use super::{Closed, Config, Connection, Event, Fragment, Initiator, Role, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::{ProtocolError, SendError};
use crate::frame::{apply_mask, FrameHeader, OpCode};
use crate::message::{Message, MessageKind, Utf8Bytes};

mod close;
mod control;
mod deflate;
mod direct;
mod framing;
mod limits;
mod masking;
mod output;
mod prepared;
mod props;
mod timers;
mod utf8;

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

/// All pending output, marked as written, taken part by part as a
/// transport would.
fn output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        let part = conn.pending_output().to_vec();
        assert!(!part.is_empty(), "wants_write with nothing pending");
        conn.consume_output(part.len());
        out.extend(part);
    }
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

/// Splits output into headers and unmasked payloads; panics on anything
/// that is not a sequence of whole, valid frames.
fn split_frames(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = FrameHeader::decode(bytes)
            .expect("output has a valid header")
            .expect("output has a whole header");
        let end = n + usize::try_from(h.payload_len).unwrap();
        assert!(end <= bytes.len(), "truncated frame in output");
        let mut payload = bytes[n..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((h, payload));
        bytes = &bytes[end..];
    }
    frames
}

/// Splits output into frames, unmasking them; panics on anything that is not
/// a sequence of whole, valid frames without reserved bits.
fn decode_frames(bytes: &[u8]) -> Vec<Wire> {
    split_frames(bytes)
        .into_iter()
        .map(|(h, payload)| {
            assert!(!(h.rsv1 || h.rsv2 || h.rsv3), "reserved bits in output");
            Wire {
                fin: h.fin,
                opcode: h.opcode,
                masked: h.mask.is_some(),
                payload,
            }
        })
        .collect()
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

/// The close code a connection that failed with `error` must send, as
/// RFC 6455 §7.4.1 and RFC 7692 name it, written here as a literal and not
/// taken from `ProtocolError::close_code` (the code under test):
/// 1002 for a broken protocol rule, 1007 for data inconsistent with its
/// message, 1009 for a message too big to process, 1011 for a condition
/// that prevented the endpoint from going on.
fn rfc_close_code(error: &ProtocolError) -> u16 {
    match error {
        // §5.1, §5.2, §5.4, §5.5, §5.5.1, §7.4: "protocol error".
        ProtocolError::UnmaskedFrame
        | ProtocolError::MaskedFrame
        | ProtocolError::ReservedBits
        | ProtocolError::ReservedOpCode(_)
        | ProtocolError::InvalidPayloadLength
        | ProtocolError::FragmentedControlFrame
        | ProtocolError::ControlFrameTooLong(_)
        | ProtocolError::UnexpectedContinuation
        | ProtocolError::ExpectedContinuation
        | ProtocolError::InvalidCloseLength
        | ProtocolError::InvalidCloseCode(_) => 1002,
        // §8.1, §5.5.1, and RFC 7692's compressed payload: "data within a
        // message that was not consistent with the type of the message".
        ProtocolError::InvalidUtf8
        | ProtocolError::InvalidCloseReason
        | ProtocolError::InvalidCompressedData => 1007,
        // "a message that is too big for it to process".
        ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => 1009,
        // "an unexpected condition that prevented it from fulfilling the
        // request" (what Python's websockets sends on a keepalive timeout).
        ProtocolError::KeepaliveTimeout => 1011,
    }
}

#[test]
fn rfc6455_7_4_1_every_protocol_error_maps_to_the_rfcs_close_code() {
    let every = [
        (ProtocolError::UnmaskedFrame, 1002),
        (ProtocolError::MaskedFrame, 1002),
        (ProtocolError::ReservedBits, 1002),
        (ProtocolError::ReservedOpCode(3), 1002),
        (ProtocolError::InvalidPayloadLength, 1002),
        (ProtocolError::FragmentedControlFrame, 1002),
        (ProtocolError::ControlFrameTooLong(126), 1002),
        (ProtocolError::UnexpectedContinuation, 1002),
        (ProtocolError::ExpectedContinuation, 1002),
        (ProtocolError::InvalidUtf8, 1007),
        (ProtocolError::InvalidCloseLength, 1002),
        (ProtocolError::InvalidCloseCode(1005), 1002),
        (ProtocolError::InvalidCloseReason, 1007),
        (ProtocolError::InvalidCompressedData, 1007),
        (ProtocolError::FrameTooLarge { size: 2, limit: 1 }, 1009),
        (ProtocolError::MessageTooLarge { size: 2, limit: 1 }, 1009),
        (ProtocolError::KeepaliveTimeout, 1011),
    ];
    for (error, code) in every {
        assert_eq!(error.close_code().as_u16(), code, "{error:?}");
        assert_eq!(rfc_close_code(&error), code, "{error:?}");
    }
}

/// The terminal event of a connection failed with `error`.
fn failure(error: ProtocolError) -> Event {
    Event::Closed(Closed {
        code: CloseCode::from(rfc_close_code(&error)),
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
/// `error`; the output is `replies`, then the close frame with the RFC's
/// code for the error ([`rfc_close_code`]) and the error's text as reason;
/// from then on nothing is read or sent.
#[track_caller]
fn check_failure(
    conn: &mut Connection,
    got: Vec<Event>,
    before: &[Event],
    replies: &[(OpCode, Vec<u8>)],
    error: ProtocolError,
) {
    let code = CloseCode::from(rfc_close_code(&error));
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

fn fragments(evs: Vec<Event>) -> Vec<Fragment> {
    evs.into_iter()
        .map(|e| match e {
            Event::Fragment(f) => f,
            other => panic!("expected a fragment, got {other:?}"),
        })
        .collect()
}
