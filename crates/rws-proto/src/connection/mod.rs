//! The connection state machine: bytes in, events out; commands in, bytes out.
//!
//! One [`Connection`] type serves both roles. It reassembles fragmented
//! messages, validates UTF-8 as bytes arrive, answers pings and close frames
//! by itself and fails the connection with the right close code when the
//! peer breaks RFC 6455. It does no I/O and owns no clock: an adapter feeds
//! it bytes, writes out what it queues, tells it the time when it asks
//! ([`Connection::poll_timeout`]) and does with the transport what
//! [`Connection::transport_action`] says.

mod compression;
mod lifecycle;
mod output;
mod prepared;
mod read;
mod write;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::deflate::{DeflateConfig, DeflateParams};
use crate::error::ProtocolError;
use crate::message::{Message, MessageKind, Utf8Bytes};

use self::compression::Compression;
use self::lifecycle::Lifecycle;
pub use self::lifecycle::TransportAction;
use self::output::Output;
pub use self::prepared::PreparedMessage;
use self::read::Reader;
use self::write::MaskSource;

/// Which end of the connection this is. It decides the masking direction
/// (RFC 6455 §5.1) and nothing else after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that opened the connection; masks what it sends.
    Client,
    /// The end that accepted the connection; requires masked frames.
    Server,
}

/// Limits and options for a [`Connection`].
///
/// ```
/// use rws_proto::Config;
///
/// let config = Config::default().max_message_size(1 << 20);
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a larger one fails with 1009.
    /// Default: 16 MiB.
    pub max_frame_size: usize,
    /// The largest message accepted (the sum of its fragments); a larger
    /// one fails with 1009. Default: 64 MiB.
    pub max_message_size: usize,
    /// Deliver data as [`Event::Fragment`]s as they arrive instead of
    /// buffering whole messages. Default: off.
    pub stream_fragments: bool,
    /// permessage-deflate (RFC 7692): what to offer or accept in the
    /// handshake, and how to compress. Default: `None`, off.
    pub deflate: Option<DeflateConfig>,
    /// Keepalive: how often to send a ping while the connection is open;
    /// `None` sends none. Default: 20 s, as python `websockets`: short
    /// enough to keep NAT and proxy mappings alive (many drop idle TCP
    /// flows after 30–60 s), long enough to cost nothing.
    pub ping_interval: Option<Duration>,
    /// Keepalive: how long after a ping the connection fails (1011,
    /// [`ProtocolError::KeepaliveTimeout`](crate::ProtocolError::KeepaliveTimeout))
    /// if nothing at all has arrived; any frame, not only the pong, proves
    /// the peer alive. `None` never fails. Default: 20 s, so a dead peer is
    /// noticed within 40 s (`ping_interval + ping_timeout`).
    pub ping_timeout: Option<Duration>,
    /// How long the connection may stay open with no message sent or
    /// received (pings and pongs do not count); then it starts the close
    /// handshake with 1001 and the reason `"idle timeout"`. Default: `None`.
    pub idle_timeout: Option<Duration>,
    /// How long after the connection leaves [`State::Open`] the close
    /// handshake and the closing of the transport may take: a peer that
    /// has not answered a close frame by then is given up (1006), and so
    /// is a server that does not close the TCP connection after the close
    /// handshake (RFC 6455 §7.1.1). Default: 5 s.
    pub close_timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            stream_fragments: false,
            deflate: None,
            ping_interval: Some(lifecycle::DEFAULT_PING_INTERVAL),
            ping_timeout: Some(lifecycle::DEFAULT_PING_TIMEOUT),
            idle_timeout: None,
            close_timeout: lifecycle::DEFAULT_CLOSE_TIMEOUT,
        }
    }
}

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: usize) -> Config {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: usize) -> Config {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`stream_fragments`](Self::stream_fragments).
    pub fn stream_fragments(mut self, on: bool) -> Config {
        self.stream_fragments = on;
        self
    }

    /// Sets [`deflate`](Self::deflate).
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Config {
        self.deflate = deflate;
        self
    }

    /// Sets [`ping_interval`](Self::ping_interval); `None` turns keepalive off.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Config {
        self.ping_interval = interval;
        self
    }

    /// Sets [`ping_timeout`](Self::ping_timeout).
    pub fn ping_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.ping_timeout = timeout;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> Config {
        self.close_timeout = timeout;
        self
    }
}

/// Where the close handshake stands (RFC 6455 §7).
///
/// ```text
///              close() sent                 peer's close received
///   Open ─────────────────────▶ Closing ─────────────────────────▶ Closed
///    │                                                              ▲
///    │  peer's close received (reply queued), failure, or EOF       │
///    └──────────────────────────────────────────────────────────────┘
/// ```
///
/// In `Closing` no data can be sent and received data is discarded. In
/// `Closed` nothing more is read; once [`Connection::pending_output`] is
/// drained, the server closes the TCP connection and the client waits for
/// the server to do so (RFC 6455 §7.1.1), within [`Config::close_timeout`]:
/// [`Connection::transport_action`] says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// This end sent a close frame and waits for the peer's.
    Closing,
    /// Close frames were exchanged, or the connection failed or ended.
    Closed,
}

/// Which side started the closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This end: by [`Connection::close`] or by failing the connection.
    Local,
    /// The peer: by a close frame or by ending the transport.
    Remote,
}

/// How a connection ended: the terminal [`Event::Closed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// RFC 6455 §7.1.5: the code of the close frame received, 1005 if it had
    /// none, 1006 if none arrived; for a failure, the error's close code
    /// (sent unless this end had already sent a close frame).
    pub code: CloseCode,
    /// The reason of the close frame received, if any.
    pub reason: Utf8Bytes,
    /// Who started the closing.
    pub initiator: Initiator,
    /// Whether close frames were exchanged (RFC 6455 §7.1.4 "cleanly").
    pub clean: bool,
    /// The protocol violation that failed the connection, if one did.
    pub error: Option<ProtocolError>,
}

/// A piece of a message, delivered as it arrives when
/// [`Config::stream_fragments`] is on.
///
/// The pieces of one message arrive in order, the first with `first` set
/// and the last with `last` set; text is UTF-8-checked across pieces, but a
/// piece may end inside a character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Text or binary.
    pub kind: MessageKind,
    /// The unmasked payload bytes.
    pub data: Bytes,
    /// The first piece of its message.
    pub first: bool,
    /// The last piece of its message.
    pub last: bool,
}

/// What happened on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole message arrived.
    Message(Message),
    /// A piece of a message arrived (only with [`Config::stream_fragments`]).
    Fragment(Fragment),
    /// A ping arrived. Taking this event queued its pong, unless this end
    /// already sent its close frame, which stays the last frame it sends.
    /// While 4 KiB or more of output wait to be written, only the latest
    /// ping's pong is kept, and it goes out before the next frame
    /// (RFC 6455 §5.5.3): a ping flood cannot grow the output.
    Ping(Bytes),
    /// A pong arrived, solicited or not.
    Pong(Bytes),
    /// The peer's close frame arrived (`None` for an empty one); the reply,
    /// if one is due, is already queued.
    CloseReceived(Option<CloseFrame>),
    /// The connection ended; no event follows.
    Closed(Closed),
}

/// A WebSocket connection after the handshake, for either role.
///
/// Input is parsed as it arrives, but what it calls for (a pong, a close
/// reply, failing the connection) happens in stream order as
/// [`poll_event`](Self::poll_event) hands out the events: a message that
/// arrived before a bad frame or a close frame can still be answered.
///
/// ```
/// use rws_proto::{Config, Connection, Event, Message, Role};
///
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
/// client.send(Message::text("hello")).unwrap();
///
/// // Move the client's bytes to the server.
/// let bytes = client.pending_output().to_vec();
/// client.consume_output(bytes.len());
/// server.handle_input(&bytes);
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::text("hello"))));
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    reader: Reader,
    out: Output,
    masks: MaskSource,
    sending: Option<MessageKind>,
    /// A pong held back while output was waiting (see `queue_pong`).
    pong: Option<Bytes>,
    /// permessage-deflate, once negotiated.
    compression: Option<Box<Compression>>,
    queue: VecDeque<Pending>,
    /// Deadlines, and what the transport has done.
    lifecycle: Lifecycle,
}

/// What the input produced, in stream order, applied when taken.
#[derive(Debug)]
enum Pending {
    Event(Event),
    Ping(Bytes),
    Close(Option<CloseFrame>),
    Fail(ProtocolError),
    Eof,
}

impl Connection {
    /// A connection in the [`State::Open`] state.
    pub fn new(role: Role, config: Config) -> Connection {
        Connection {
            role,
            config,
            state: State::Open,
            reader: Reader::default(),
            out: Output::default(),
            masks: MaskSource::default(),
            sending: None,
            pong: None,
            compression: None,
            queue: VecDeque::new(),
            lifecycle: Lifecycle::default(),
        }
    }

    /// Turns on permessage-deflate with the parameters the opening
    /// handshake agreed; the level and threshold come from
    /// [`Config::deflate`] (or its defaults).
    ///
    /// ```
    /// use rws_proto::deflate::DeflateParams;
    /// use rws_proto::{Config, Connection, Event, Message, Role};
    ///
    /// let params = DeflateParams::default();
    /// let mut client = Connection::new(Role::Client, Config::default()).with_deflate(params);
    /// let mut server = Connection::new(Role::Server, Config::default()).with_deflate(params);
    /// let text = "compress me, compress me, compress me, compress me, compress me, compress me";
    /// client.send(Message::text(text)).unwrap();
    /// let wire = client.pending_output().to_vec();
    /// assert!(wire.len() < text.len());
    /// assert_eq!(wire[0], 0xc1); // FIN, RSV1, text
    /// server.handle_input(&wire);
    /// assert_eq!(server.poll_event(), Some(Event::Message(Message::text(text))));
    /// ```
    pub fn with_deflate(mut self, params: DeflateParams) -> Connection {
        let config = self.config.deflate.clone().unwrap_or_default();
        self.compression = Some(Box::new(Compression::new(self.role, params, &config)));
        self
    }

    /// The permessage-deflate parameters in use, if it was negotiated.
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.compression.as_ref().map(|c| &c.params)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    #[inline]
    pub fn state(&self) -> State {
        self.state
    }

    /// The next event, if any.
    ///
    /// Taking an event applies what it calls for: a ping queues its pong,
    /// the peer's close frame queues the reply, a protocol violation queues
    /// the close frame with its code (RFC 6455 §7.1.7). So take the events,
    /// then write the output, then read: a loop that blocks in a read with
    /// a reply still queued waits for a peer that waits for it. The
    /// `transport_loop` example of this crate is such a loop, over
    /// `std::net`.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        // Inlined into the adapter: the common look that finds nothing
        // costs a comparison, not a call.
        if self.queue.is_empty() {
            return None;
        }
        self.next_event()
    }

    /// The next event of a queue that is not empty, applied.
    fn next_event(&mut self) -> Option<Event> {
        loop {
            let event = match self.queue.pop_front()? {
                Pending::Event(event) => Some(event),
                Pending::Ping(payload) => Some(self.apply_ping(payload)),
                Pending::Close(frame) => self.apply_close(frame),
                Pending::Fail(error) => self.apply_fail(error),
                Pending::Eof => self.apply_eof(),
            };
            if event.is_some() {
                return event;
            }
        }
    }

    /// The next bytes waiting to be written to the transport: all of them,
    /// or, when large payloads are queued without a copy (a server's
    /// messages of 8 KiB or more), the part before the next such payload.
    /// Write them, [`consume_output`](Self::consume_output) what was
    /// written, and go on while [`wants_write`](Self::wants_write);
    /// [`pending_output_vectored`](Self::pending_output_vectored) gives
    /// every part at once for a vectored write.
    #[inline]
    pub fn pending_output(&self) -> &[u8] {
        self.out.pending()
    }

    /// Fills `slices` with the parts of the queued output, in order, for a
    /// vectored write (`write_vectored`): how many were set. Large payloads
    /// of a server's messages are parts of their own, never copied.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use rws_proto::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let payload = rws_proto::bytes::Bytes::from(vec![0u8; 60 << 10]);
    /// server.send(Message::Binary(payload.clone())).unwrap();
    /// let mut slices = [IoSlice::new(&[]); 4];
    /// let n = server.pending_output_vectored(&mut slices);
    /// assert_eq!(n, 2, "the header, then the payload");
    /// assert_eq!(slices[1].as_ptr(), payload.as_ptr(), "not copied");
    /// assert_eq!(server.pending_output_len(), 4 + (60 << 10));
    /// ```
    pub fn pending_output_vectored<'a>(&'a self, slices: &mut [std::io::IoSlice<'a>]) -> usize {
        self.out.pending_vectored(slices)
    }

    /// How many parts [`pending_output_vectored`](Self::pending_output_vectored)
    /// would give: with one (or none), [`pending_output`](Self::pending_output)
    /// is everything, and a plain write needs no slices.
    ///
    /// ```
    /// use rws_proto::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// assert_eq!(server.pending_output_parts(), 0);
    /// server.send(Message::text("small")).unwrap();
    /// assert_eq!(server.pending_output_parts(), 1, "copied into the buffer");
    /// server.send(Message::binary(vec![0u8; 60 << 10])).unwrap();
    /// assert_eq!(server.pending_output_parts(), 2, "and a payload of its own");
    /// ```
    #[inline]
    pub fn pending_output_parts(&self) -> usize {
        self.out.parts()
    }

    /// How many bytes are waiting to be written, in all.
    #[inline]
    pub fn pending_output_len(&self) -> usize {
        self.out.len()
    }

    /// Marks the first `n` bytes of the queued output as written (they may
    /// span several parts of a vectored write).
    ///
    /// # Panics
    ///
    /// If `n` is more than [`pending_output`](Self::pending_output) last
    /// returned (less what was consumed since) while more than that is
    /// queued: the bytes past it were never handed out, and skipping them
    /// would corrupt the stream (past the end of everything queued is
    /// harmless). After
    /// [`pending_output_vectored`](Self::pending_output_vectored), any `n`
    /// is taken (past the end, everything queued).
    #[inline]
    pub fn consume_output(&mut self, n: usize) {
        if self.out.consume(n) {
            self.release_pong();
        }
    }

    /// Appends everything waiting to be written to `buf` and marks it
    /// written: how many bytes. The simplest correct way to drain the
    /// output (a pong held back while output waited comes along); a
    /// transport that can write vectored, or cannot take everything at
    /// once, uses [`pending_output_vectored`](Self::pending_output_vectored)
    /// and [`consume_output`](Self::consume_output) instead.
    ///
    /// Write it before the next blocking read: taking an event may have
    /// queued a reply (a pong, the close reply) that the peer waits for.
    ///
    /// ```
    /// use rws_proto::{Config, Connection, Message, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let big = vec![7u8; 60 << 10]; // queued by reference, a part of its own
    /// server.send(Message::binary(big)).unwrap();
    /// server.send(Message::text("after")).unwrap();
    /// let mut wire = Vec::new();
    /// let n = server.poll_transmit(&mut wire);
    /// assert_eq!(n, 4 + (60 << 10) + 7);
    /// assert!(wire.ends_with(b"\x81\x05after"));
    /// assert!(!server.wants_write());
    /// ```
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let start = buf.len();
        while self.wants_write() {
            let part = self.out.pending();
            buf.extend_from_slice(part);
            let n = part.len();
            self.consume_output(n);
        }
        buf.len() - start
    }

    /// Whether bytes are waiting to be written.
    #[inline]
    pub fn wants_write(&self) -> bool {
        self.out.len() > 0
    }

    /// The transport reached end of file. Unless the close handshake was
    /// done, the connection ends abnormally (1006) once the events before
    /// it are taken.
    pub fn handle_eof(&mut self) {
        self.lifecycle.eof = true;
        if !self.reader.stopped {
            self.reader.stopped = true;
            self.queue.push_back(Pending::Eof);
        }
    }

    /// Stops reading and queues the failure behind the events before it.
    fn fail(&mut self, error: ProtocolError) {
        self.reader.stopped = true;
        self.queue.push_back(Pending::Fail(error));
    }

    fn push_event(&mut self, event: Event) {
        self.queue.push_back(Pending::Event(event));
    }

    /// RFC 6455 §5.5.2: answer a ping with a pong of the same payload
    /// (not after a close frame was sent).
    fn apply_ping(&mut self, payload: Bytes) -> Event {
        if self.state == State::Open {
            self.queue_pong(payload.clone());
        }
        Event::Ping(payload)
    }

    /// RFC 6455 §7.1.7 "Fail the WebSocket Connection": send a close frame
    /// with the error's code (unless one was sent) and read nothing more.
    fn apply_fail(&mut self, error: ProtocolError) -> Option<Event> {
        let code = error.close_code();
        match self.state {
            State::Open => {
                let mut reason = error.to_string();
                reason.truncate(CloseFrame::MAX_REASON_LEN);
                self.write_close(&CloseFrame::new(code, reason));
            }
            State::Closing => {}
            State::Closed => return None,
        }
        self.state = State::Closed;
        Some(Event::Closed(Closed {
            code,
            reason: Utf8Bytes::default(),
            initiator: Initiator::Local,
            clean: false,
            error: Some(error),
        }))
    }

    /// The transport ended; abnormal unless the close handshake was done.
    fn apply_eof(&mut self) -> Option<Event> {
        let initiator = match self.state {
            State::Open => Initiator::Remote,
            State::Closing => Initiator::Local,
            State::Closed => return None,
        };
        self.state = State::Closed;
        Some(Event::Closed(Closed {
            code: CloseCode::ABNORMAL,
            reason: Utf8Bytes::default(),
            initiator,
            clean: false,
            error: None,
        }))
    }

    /// The peer's close frame (RFC 6455 §5.5.1): reply if we have not sent
    /// ours, and end.
    fn apply_close(&mut self, frame: Option<CloseFrame>) -> Option<Event> {
        let initiator = match self.state {
            State::Open => {
                // Echo the status code, as most peers and Autobahn expect.
                match &frame {
                    Some(f) => self.write_close(&CloseFrame::new(f.code, "")),
                    None => self.write_frame(true, crate::frame::OpCode::Close, &[]),
                }
                Initiator::Remote
            }
            State::Closing => Initiator::Local,
            State::Closed => return None,
        };
        self.state = State::Closed;
        self.lifecycle.clean = true;
        let (code, reason) = match &frame {
            Some(f) => (f.code, f.reason.clone()),
            None => (CloseCode::NO_STATUS, Utf8Bytes::default()),
        };
        self.queue.push_front(Pending::Event(Event::Closed(Closed {
            code,
            reason,
            initiator,
            clean: true,
            error: None,
        })));
        Some(Event::CloseReceived(frame))
    }
}

#[cfg(test)]
mod tests;
