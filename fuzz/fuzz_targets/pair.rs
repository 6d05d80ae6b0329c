//! Two connected cores (a client and a server) with a fake clock: arbitrary
//! interleavings of sends, pings, closes, partial deliveries between them,
//! the clock moving, events taken, and what their transports do.
//!
//! Input layout: byte 0, flags: bit 0 permessage-deflate on both, bit 1
//! small limits, bit 2 short timers (ping every 1 s, 1 s to answer, idle
//! 3 s, close 2 s; otherwise keepalive 20 s/20 s, no idle, close 5 s);
//! then steps, each a byte `c` and its arguments: `(c & 0x7f) % 12` selects
//! send text, send binary, ping, close (each from the side `c & 0x80`
//! names), deliver some bytes either way, advance the clock, take events.
//!
//! The transports are modelled as the driver runs them: a side whose
//! `transport_action` is `Shutdown` has its remaining bytes delivered, then
//! the other side sees end of file; `Abort` drops what was not delivered.
//!
//! Checks:
//! - no panic; each side delivers exactly one `Event::Closed`, last;
//! - what a side receives is, in order, a prefix of what the other sent,
//!   and all of it when the sender started the close handshake while the
//!   receiver was open, and it completed;
//! - once both sides answer promptly (everything delivered each step, the
//!   clock still), the connection ends: after the inputs, delivering
//!   everything and moving the clock by the timeouts closes both sides,
//!   cleanly unless a side had failed;
//! - `poll_timeout` never asks for the time again right after being told
//!   it (no spinning driver), and a keepalive failure is 1011.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rws_proto::deflate::DeflateParams;
use rws_proto::{
    CloseCode, CloseFrame, Closed, Config, Connection, Event, Initiator, Message, ProtocolError,
    Role, TransportAction,
};

struct Side {
    conn: Connection,
    /// Messages sent (accepted by `send`), in order.
    sent: Vec<Message>,
    /// Messages received, in order.
    received: Vec<Message>,
    closed: Option<Closed>,
    /// Output taken from the core, not yet delivered.
    wire: Vec<u8>,
    /// The transport is closed: nothing more goes out.
    done: bool,
}

impl Side {
    fn new(role: Role, config: Config, deflate: bool, now: Instant) -> Side {
        let mut conn = Connection::new(role, config);
        if deflate {
            conn = conn.with_deflate(DeflateParams::default());
        }
        conn.handle_timeout(now);
        Side {
            conn,
            sent: Vec::new(),
            received: Vec::new(),
            closed: None,
            wire: Vec::new(),
            done: false,
        }
    }

    fn take_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            assert!(self.closed.is_none(), "event after Closed: {event:?}");
            match event {
                Event::Message(message) => self.received.push(message),
                Event::Closed(closed) => {
                    if let Some(ProtocolError::KeepaliveTimeout) = closed.error {
                        assert_eq!(closed.code, CloseCode::INTERNAL_ERROR);
                    }
                    self.closed = Some(closed);
                }
                _ => {}
            }
        }
    }

    fn take_output(&mut self) {
        if self.done {
            return;
        }
        while self.conn.wants_write() {
            let out = self.conn.pending_output();
            let n = out.len();
            self.wire.extend_from_slice(out);
            self.conn.consume_output(n);
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
            // Told the time, the core does not ask for it again at once
            // unless an event is waiting to be taken.
            self.take_events();
            if self.conn.poll_timeout().is_some_and(|t| t <= now) {
                self.conn.handle_timeout(now);
                self.take_events();
                assert!(
                    self.conn.poll_timeout().is_none_or(|t| t > now),
                    "the core keeps asking for the time"
                );
            }
        }
    }
}

/// Moves up to `n` bytes of `from`'s output to `to`; then applies the
/// transport decisions of `from`.
fn deliver(from: &mut Side, to: &mut Side, n: usize) {
    from.take_output();
    let n = n.min(from.wire.len());
    let bytes: Vec<u8> = from.wire.drain(..n).collect();
    if !bytes.is_empty() {
        to.conn.handle_input(&bytes);
    }
    transport(from, to);
}

fn transport(from: &mut Side, to: &mut Side) {
    if from.done {
        return;
    }
    match from.conn.transport_action() {
        TransportAction::Continue => {}
        TransportAction::Shutdown => {
            from.take_output();
            if from.wire.is_empty() && !from.conn.wants_write() {
                from.done = true;
                to.conn.handle_eof();
            }
        }
        TransportAction::Abort => {
            from.done = true;
            from.wire.clear();
            to.conn.handle_eof();
        }
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut input = Input(rest);
    let deflate = flags & 1 != 0;
    let mut config = Config::default();
    if flags & 2 != 0 {
        config = config.max_frame_size(300).max_message_size(600);
    }
    let second = Duration::from_secs(1);
    if flags & 4 != 0 {
        config = config
            .ping_interval(Some(second))
            .ping_timeout(Some(second))
            .idle_timeout(Some(3 * second))
            .close_timeout(2 * second);
    }
    let start = Instant::now();
    let mut now = start;
    let mut client = Side::new(Role::Client, config.clone(), deflate, now);
    let mut server = Side::new(Role::Server, config.clone(), deflate, now);

    while !input.0.is_empty() {
        let c = input.byte();
        let (me, other) = if c & 0x80 == 0 {
            (&mut client, &mut server)
        } else {
            (&mut server, &mut client)
        };
        let op = (c & 0x7f) % 12;
        match op {
            0 | 1 => {
                let len = usize::from(input.byte()) * 3;
                let message = if op == 0 {
                    Message::text("é".repeat(len / 2))
                } else {
                    Message::binary(vec![c; len])
                };
                if me.conn.send(message.clone()).is_ok() {
                    me.sent.push(message);
                }
            }
            2 => {
                let _ = me.conn.send_ping(b"hi");
            }
            3 => {
                let code = if input.byte() & 1 == 0 {
                    CloseCode::NORMAL
                } else {
                    CloseCode::GOING_AWAY
                };
                let _ = me.conn.close(Some(CloseFrame::new(code, "bye")));
            }
            4..=7 => {
                let n = usize::from(input.byte()) * 5;
                deliver(me, other, n);
            }
            8 | 9 => {
                now += Duration::from_millis(u64::from(input.byte()) * 50);
                client.tick(now);
                server.tick(now);
            }
            _ => me.take_events(),
        }
    }

    // Everything delivered at once from here, the clock moving by half a
    // second a step: both ends close within the timeouts.
    for _ in 0..200 {
        client.take_events();
        server.take_events();
        deliver(&mut client, &mut server, usize::MAX);
        deliver(&mut server, &mut client, usize::MAX);
        client.take_events();
        server.take_events();
        if client.closed.is_some() && server.closed.is_some() && client.done && server.done {
            break;
        }
        // A side that is still open with nothing to do closes now, as an
        // application would at the end.
        if client.conn.state() == rws_proto::State::Open {
            let _ = client.conn.close(None);
        }
        now += Duration::from_millis(500);
        client.tick(now);
        server.tick(now);
    }
    let client_closed = client.closed.clone().expect("the client ended");
    let server_closed = server.closed.clone().expect("the server ended");
    assert!(client.done && server.done, "both transports closed");

    // In order, a prefix of what the other side sent.
    for (receiver, sender) in [(&client, &server), (&server, &client)] {
        assert!(receiver.received.len() <= sender.sent.len());
        for (got, sent) in receiver.received.iter().zip(&sender.sent) {
            assert_eq!(got, sent, "a message changed on the way");
        }
    }
    // The sender started the close handshake while the receiver was open,
    // and it completed: the receiver read everything sent before it.
    for (receiver, sender, closed) in [
        (&client, &server, &client_closed),
        (&server, &client, &server_closed),
    ] {
        if closed.initiator == Initiator::Remote && closed.clean {
            assert_eq!(
                receiver.received.len(),
                sender.sent.len(),
                "messages lost before a clean close"
            );
        }
    }
});
