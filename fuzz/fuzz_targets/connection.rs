//! The connection state machine, driven by arbitrary input.
//!
//! Input layout:
//!
//! - byte 0, flags: bit 0 role (0 client, 1 server), bit 1 small limits
//!   (`max_frame_size` 48, `max_message_size` 100), bit 2
//!   `stream_fragments`, bit 3 lazy (do not drain events and output after
//!   every step; only the `poll`/`write` commands and the end do), bit 4
//!   direct reads (input goes into `input_space` whenever it is offered),
//!   bit 5 permessage-deflate (RFC 7692, default parameters) agreed.
//! - then steps, each starting with a byte `c`:
//!   - `c < 0x80`: the next `c` bytes go to `handle_input`;
//!   - `c >= 0x80`: command `(c & 0x7f) % 14` with its arguments read from
//!     the following bytes (see `Harness::command`): send text, binary,
//!     ping, pong, close, close with a frame, send a fragment, write all
//!     output, write some, EOF, take one event, send a large binary message
//!     (to fill the output past the 4 KiB pong backlog), and
//!     `consume_output` past the end of the output.
//!
//! At the end: `handle_eof`, drain everything.
//!
//! Checks:
//! - exactly one `Event::Closed`, and no event after it; `state()` is
//!   `Closed` exactly when it was delivered (checked whenever the event
//!   queue is empty) and at the end;
//! - no message (or streamed message) over `max_message_size`, text is
//!   UTF-8, streamed fragments are well ordered, control payloads are at
//!   most 125 bytes, a received close frame carries a sendable code;
//! - a clean close follows a `CloseReceived`; a failure carries its code;
//! - command results match the documented contract (`SendError`s);
//! - no data event once this end's close frame was sent (non-lazy);
//! - everything written is a well-formed frame stream for the role (mask
//!   direction, no reserved bits, short unfragmented control frames,
//!   nothing after the close frame), and a peer `Connection` of the other
//!   role reads it without a protocol error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rws_proto::deflate::DeflateParams;
use rws_proto::frame::{FrameHeader, OpCode};
use rws_proto::{
    CloseCode, CloseFrame, Config, Connection, Event, Message, MessageKind, Role, SendError, State,
};

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

struct Harness {
    conn: Connection,
    role: Role,
    /// permessage-deflate agreed: RSV1 marks compressed messages.
    deflate: bool,
    max_message: usize,
    stream: bool,
    /// `Event::Closed` was delivered.
    closed: bool,
    close_received: bool,
    /// The last `poll_event` returned `None` and no input came since.
    quiet: bool,
    /// This end's close frame was sent while no event was pending: no data
    /// event may follow.
    data_discarded: bool,
    /// Everything taken from `pending_output`.
    wire: Vec<u8>,
    /// The fragmented message this end is sending.
    sending: Option<MessageKind>,
    /// The streamed message being received.
    streamed: Option<(MessageKind, Vec<u8>)>,
}

impl Harness {
    fn poll_one(&mut self) -> bool {
        let Some(event) = self.conn.poll_event() else {
            self.quiet = true;
            // With the queue empty, the state says whether Closed was delivered.
            assert_eq!(
                self.conn.state() == State::Closed,
                self.closed,
                "state {:?} but Closed delivered: {}",
                self.conn.state(),
                self.closed
            );
            return false;
        };
        assert!(!self.closed, "event after Event::Closed: {event:?}");
        match event {
            Event::Message(message) => {
                assert!(!self.stream, "whole message while streaming");
                assert!(!self.data_discarded, "message after our close frame");
                assert!(
                    message.len() <= self.max_message,
                    "message of {} bytes over max_message_size {}",
                    message.len(),
                    self.max_message
                );
                if let Message::Text(text) = &message {
                    assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                }
            }
            Event::Fragment(fragment) => {
                assert!(self.stream, "fragment while not streaming");
                assert!(!self.data_discarded, "fragment after our close frame");
                match (&mut self.streamed, fragment.first) {
                    (None, true) => {
                        self.streamed = Some((fragment.kind, fragment.data.to_vec()));
                    }
                    (Some((kind, data)), false) => {
                        assert_eq!(*kind, fragment.kind);
                        data.extend_from_slice(&fragment.data);
                    }
                    (open, first) => panic!("fragment first={first} with {open:?} open"),
                }
                let (kind, data) = self.streamed.as_ref().unwrap();
                assert!(
                    data.len() <= self.max_message,
                    "streamed message of {} bytes over max_message_size {}",
                    data.len(),
                    self.max_message
                );
                if fragment.last {
                    if *kind == MessageKind::Text {
                        assert!(std::str::from_utf8(data).is_ok(), "streamed text not UTF-8");
                    }
                    self.streamed = None;
                }
            }
            Event::Ping(payload) | Event::Pong(payload) => assert!(payload.len() <= 125),
            Event::CloseReceived(frame) => {
                assert!(!self.close_received, "two CloseReceived");
                self.close_received = true;
                if let Some(frame) = frame {
                    assert!(frame.code.is_sendable(), "received code {}", frame.code);
                    assert!(frame.reason.len() <= CloseFrame::MAX_REASON_LEN);
                }
            }
            Event::Closed(closed) => {
                self.closed = true;
                if closed.clean {
                    assert!(self.close_received, "clean close without CloseReceived");
                    assert!(closed.error.is_none());
                }
                if let Some(error) = &closed.error {
                    assert_eq!(closed.code, error.close_code());
                }
                if !closed.clean && closed.error.is_none() {
                    assert_eq!(closed.code, CloseCode::ABNORMAL);
                }
            }
        }
        true
    }

    fn drain_events(&mut self) {
        while self.poll_one() {}
    }

    /// Takes up to `limit` bytes of output (and what a released pong adds
    /// when the output drains, if `limit` allows).
    fn drain_output(&mut self, mut limit: usize) {
        loop {
            let out = self.conn.pending_output();
            assert_eq!(self.conn.wants_write(), !out.is_empty());
            assert!(out.len() <= self.conn.pending_output_len());
            let n = out.len().min(limit);
            if n == 0 {
                return;
            }
            self.wire.extend_from_slice(&out[..n]);
            self.conn.consume_output(n);
            limit -= n;
        }
    }

    fn expect_send(&self, state: State, result: Result<(), SendError>) {
        let expected = if state != State::Open {
            Err(SendError::Closed)
        } else if self.sending.is_some() {
            Err(SendError::FragmentOrder)
        } else {
            Ok(())
        };
        assert_eq!(result, expected);
    }

    fn command(&mut self, op: u8, input: &mut Input) {
        let state = self.conn.state();
        match op % 14 {
            0 => {
                let len = input.byte().unwrap_or(0);
                let text = String::from_utf8_lossy(input.take(len.into())).into_owned();
                let result = self.conn.send(Message::text(text));
                self.expect_send(state, result);
            }
            1 => {
                let len = input.byte().unwrap_or(0);
                let data = input.take(len.into()).to_vec();
                let result = self.conn.send(Message::binary(data));
                self.expect_send(state, result);
            }
            2 | 3 => {
                let len = input.byte().unwrap_or(0);
                let payload = input.take(len.into());
                let result = if op % 14 == 2 {
                    self.conn.send_ping(payload)
                } else {
                    self.conn.send_pong(payload)
                };
                let expected = if state != State::Open {
                    Err(SendError::Closed)
                } else if payload.len() > 125 {
                    Err(SendError::ControlPayloadTooLong(payload.len()))
                } else {
                    Ok(())
                };
                assert_eq!(result, expected);
            }
            4 => {
                assert_eq!(self.conn.close(None), Ok(()));
                self.after_close(state);
            }
            5 => {
                let code = u16::from_be_bytes([
                    input.byte().unwrap_or(0x03),
                    input.byte().unwrap_or(0xe8),
                ]);
                let len = input.byte().unwrap_or(0);
                let reason = String::from_utf8_lossy(input.take(len.into())).into_owned();
                let reason_len = reason.len();
                let code = CloseCode::from(code);
                let result = self.conn.close(Some(CloseFrame::new(code, reason)));
                if !code.is_sendable() {
                    assert_eq!(result, Err(SendError::InvalidCloseCode(code.as_u16())));
                    assert_eq!(self.conn.state(), state);
                } else if reason_len > CloseFrame::MAX_REASON_LEN {
                    assert_eq!(result, Err(SendError::CloseReasonTooLong(reason_len)));
                    assert_eq!(self.conn.state(), state);
                } else {
                    assert_eq!(result, Ok(()));
                    self.after_close(state);
                }
            }
            6 | 7 => {
                let flags = input.byte().unwrap_or(0);
                let kind = if flags & 1 == 0 {
                    MessageKind::Binary
                } else {
                    MessageKind::Text
                };
                let last = flags & 2 != 0;
                let len = input.byte().unwrap_or(0);
                let bytes = input.take(len.into());
                // Each text piece is whole UTF-8, so the message is too.
                let text;
                let data = match kind {
                    MessageKind::Text => {
                        text = String::from_utf8_lossy(bytes).into_owned();
                        text.as_bytes()
                    }
                    MessageKind::Binary => bytes,
                };
                let result = self.conn.send_fragment(kind, data, last);
                let expected = if state != State::Open {
                    Err(SendError::Closed)
                } else if self.sending.is_some_and(|open| open != kind) {
                    Err(SendError::FragmentOrder)
                } else {
                    Ok(())
                };
                assert_eq!(result, expected);
                if result.is_ok() {
                    self.sending = if last { None } else { Some(kind) };
                }
            }
            8 => self.drain_output(usize::MAX),
            9 => {
                let n = usize::from(input.byte().unwrap_or(0)) * 7;
                self.drain_output(n);
            }
            10 => self.conn.handle_eof(),
            11 => {
                self.poll_one();
            }
            12 => {
                let len = usize::from(input.byte().unwrap_or(0)) * 64;
                let fill = input.byte().unwrap_or(0);
                let result = self.conn.send(Message::binary(vec![fill; len]));
                self.expect_send(state, result);
            }
            _ => {
                // Consuming more than is pending consumes what is pending.
                let extra = usize::from(input.byte().unwrap_or(0));
                // Every part, in order: fewer bytes than queued only when
                // the slices were all used.
                let total = self.conn.pending_output_len();
                let mut room = 64;
                loop {
                    let mut slices = vec![std::io::IoSlice::new(&[]); room];
                    let parts = self.conn.pending_output_vectored(&mut slices);
                    let sum: usize = slices[..parts].iter().map(|s| s.len()).sum();
                    if sum == total {
                        for part in &slices[..parts] {
                            self.wire.extend_from_slice(part);
                        }
                        break;
                    }
                    assert!(
                        sum < total && parts == room,
                        "{sum} of {total} in {parts} parts"
                    );
                    room *= 16;
                }
                self.conn.consume_output(total + extra);
                // What may follow is the held-back pong, released on draining.
                let left = self.conn.pending_output();
                if !left.is_empty() {
                    let (header, len) = FrameHeader::decode(left).unwrap().unwrap();
                    assert_eq!(
                        header.opcode,
                        OpCode::Pong,
                        "left after draining: {left:02x?}"
                    );
                    assert_eq!(len as u64 + header.payload_len, left.len() as u64);
                }
            }
        }
    }

    fn after_close(&mut self, before: State) {
        if before == State::Open {
            assert_eq!(self.conn.state(), State::Closing);
            if self.quiet {
                self.data_discarded = true;
            }
        } else {
            assert_eq!(self.conn.state(), before);
        }
    }

    /// The bytes written are a valid frame stream for this role, and a
    /// peer reads them without failing.
    fn check_wire(&self) {
        let mut pos = 0;
        let mut close_sent = false;
        while pos < self.wire.len() {
            let (header, n) = FrameHeader::decode(&self.wire[pos..])
                .expect("our output holds a bad header")
                .expect("our output ends inside a header");
            assert!(!close_sent, "a frame after our close frame");
            match self.role {
                Role::Client => assert!(header.mask.is_some(), "unmasked client frame"),
                Role::Server => assert!(header.mask.is_none(), "masked server frame"),
            }
            // RSV1 only on the first frame of a compressed message.
            let first_data = matches!(header.opcode, OpCode::Text | OpCode::Binary);
            assert!(!header.rsv1 || (self.deflate && first_data));
            assert!(!header.rsv2 && !header.rsv3);
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= 125);
            }
            let end = pos + n + header.payload_len as usize;
            assert!(end <= self.wire.len(), "our output ends inside a payload");
            close_sent |= header.opcode == OpCode::Close;
            pos = end;
        }
        let peer_role = match self.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let mut peer = Connection::new(peer_role, Config::default());
        if self.deflate {
            peer = peer.with_deflate(DeflateParams::default());
        }
        peer.handle_input(&self.wire);
        while let Some(event) = peer.poll_event() {
            if let Event::Closed(closed) = event {
                assert!(
                    closed.error.is_none(),
                    "the peer rejects our output: {closed:?}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(flags) = input.byte() else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let mut config = Config::default();
    if flags & 2 != 0 {
        config = config.max_frame_size(48).max_message_size(100);
    }
    let stream = flags & 4 != 0;
    let lazy = flags & 8 != 0;
    let direct = flags & 16 != 0;
    let deflate = flags & 32 != 0;
    let config = config.stream_fragments(stream);
    let mut conn = Connection::new(role, config.clone());
    if deflate {
        conn = conn.with_deflate(DeflateParams::default());
    }
    let mut h = Harness {
        max_message: config.max_message_size,
        conn,
        role,
        deflate,
        stream,
        closed: false,
        close_received: false,
        quiet: true,
        data_discarded: false,
        wire: Vec::new(),
        sending: None,
        streamed: None,
    };

    while let Some(c) = input.byte() {
        if c < 0x80 {
            let chunk = input.take(c.into());
            if direct {
                feed_direct(&mut h.conn, chunk);
            } else {
                h.conn.handle_input(chunk);
            }
            h.quiet = false;
        } else {
            h.command(c & 0x7f, &mut input);
        }
        if !lazy {
            h.drain_events();
            h.drain_output(usize::MAX);
        }
    }

    h.conn.handle_eof();
    h.drain_events();
    h.drain_output(usize::MAX);
    assert!(h.closed, "no Event::Closed after EOF");
    assert_eq!(h.conn.state(), State::Closed);

    // Nothing follows the end: more input or EOF yields no event.
    h.conn.handle_input(b"\x81\x00\x89\x00\x88\x00");
    h.conn.handle_eof();
    assert_eq!(h.conn.poll_event(), None);
    assert!(h.conn.send(Message::text("late")).is_err());
    h.drain_output(usize::MAX);

    h.check_wire();
});

/// Feeds `chunk` as a transport reading straight into the message would:
/// into the room `input_space` offers, the rest through `handle_input`.
fn feed_direct(conn: &mut Connection, mut chunk: &[u8]) {
    while !chunk.is_empty() {
        let Some(space) = conn.input_space() else {
            conn.handle_input(chunk);
            return;
        };
        assert!(!space.is_empty(), "input_space offered no room");
        let n = space.len().min(chunk.len());
        for (slot, byte) in space.iter_mut().zip(&chunk[..n]) {
            slot.write(*byte);
        }
        // SAFETY: the loop above initialized the first `n` bytes of the
        // room, and nothing touched the connection in between.
        unsafe { conn.input_filled(n) };
        chunk = &chunk[n..];
    }
}
