//! The one transport loop behind both adapters.
//!
//! The core decides everything about the connection, time included
//! (`poll_timeout`, `transport_action`); the [`Driver`] turns its outputs
//! into I/O steps (write, shut down, read, wait until a deadline) and the
//! outcome of each step back into inputs. The tokio and the blocking
//! adapter only perform the steps, each with its own kind of I/O.

use std::io;
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::Instant;

use rws_proto::deflate::DeflateParams;
use rws_proto::handshake::read_request;
use rws_proto::{
    CloseCode, Closed, Connection, Event, Initiator, Message, Role, State, TransportAction,
};

use crate::handshake_spec::Agreed;
use crate::{Error, WebSocketConfig};

/// What the adapter does next, once [`Driver::poll_event`] has no event.
#[derive(Debug)]
pub(crate) enum Step {
    /// Write the queued output ([`Connection::pending_output_vectored`]),
    /// then report with [`Connection::consume_output`].
    Write,
    /// Shut down the transport (best effort), then call
    /// [`Driver::finish`]: the connection is over.
    Shutdown,
    /// Read from the transport: input to [`Connection::handle_input`], end
    /// of file to [`Driver::eof`].
    Read,
    /// Nothing to do until the transport can take the queued output or a
    /// deadline passes ([`Driver::deadline`]); only when the adapter said
    /// its last write would block.
    Wait,
    /// The core was told the time: look for events again.
    Again,
    /// The transport is closed: no more events.
    Done,
}

/// A connection after its handshake and the state of its transport.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) conn: Connection,
    pub(crate) config: WebSocketConfig,
    /// The subprotocol the handshake agreed on, if any.
    protocol: Option<String>,
    /// The head of the upgrade request a server accepted, as it arrived
    /// (a few hundred bytes; parsed only if asked for: a parsed request
    /// with its header map took about 1 KiB more per idle connection,
    /// measured).
    request_head: Option<Box<[u8]>>,
    /// `request_head` parsed, once asked for.
    request: OnceLock<Option<Box<http::Request<()>>>>,
    /// How the connection ended, once it has.
    pub(crate) closed: Option<Closed>,
    /// An error `recv` reports once the transport is torn down.
    deferred: Option<Error>,
    /// The latest time given to the core.
    now: Instant,
    /// The adapter's clock (tokio's, so that paused time in tests works).
    clock: fn() -> Instant,
    /// The transport is closed: nothing more to read or write.
    finished: bool,
}

impl Driver {
    /// The core of a connection whose handshake is done: permessage-deflate
    /// on if it was agreed, the bytes read past the handshake fed, and its
    /// deadlines started.
    pub(crate) fn new(
        role: Role,
        config: WebSocketConfig,
        leftover: &[u8],
        deflate: Option<DeflateParams>,
        clock: fn() -> Instant,
    ) -> Driver {
        let mut conn = Connection::new(role, config.core.clone());
        if let Some(params) = deflate {
            conn = conn.with_deflate(params);
        }
        let now = clock();
        conn.handle_timeout(now);
        if !leftover.is_empty() {
            conn.handle_input(leftover);
        }
        Driver {
            conn,
            config,
            protocol: None,
            request_head: None,
            request: OnceLock::new(),
            closed: None,
            deferred: None,
            now,
            clock,
            finished: false,
        }
    }

    /// The connection a handshake agreed on: its subprotocol, and
    /// permessage-deflate with the parameters and the settings agreed.
    pub(crate) fn opened(
        role: Role,
        mut config: WebSocketConfig,
        leftover: &[u8],
        agreed: Agreed,
        clock: fn() -> Instant,
    ) -> Driver {
        if let Some(deflate) = agreed.deflate_config {
            config.core.deflate = Some(deflate);
        }
        let mut driver = Driver::new(role, config, leftover, agreed.deflate, clock);
        driver.protocol = agreed.protocol;
        driver.request_head = agreed.request_head;
        if let Some(request) = agreed.request {
            driver.request = OnceLock::from(Some(request));
        }
        driver
    }

    /// The upgrade request a server accepted, if this is one.
    pub(crate) fn request(&self) -> Option<&http::Request<()>> {
        if let Some(parsed) = self.request.get() {
            return parsed.as_deref();
        }
        let head = self.request_head.as_deref()?;
        self.request
            .get_or_init(|| {
                // It parsed under these limits when it was accepted.
                let parsed = read_request(head, &self.config.head_limits);
                parsed.ok().flatten().map(|(request, _)| Box::new(request))
            })
            .as_deref()
    }

    /// The subprotocol the handshake agreed on, if any.
    pub(crate) fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The next event of the core's, if any (the end is remembered).
    #[inline]
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        let event = self.conn.poll_event()?;
        if let Event::Closed(closed) = &event {
            self.closed = Some(closed.clone());
        }
        Some(event)
    }

    /// The next step, once [`poll_event`](Self::poll_event) returned
    /// `None`. `write_blocked`: the adapter's last write would have blocked
    /// (only the non-blocking adapter says so), so reading goes on
    /// meanwhile, unless there is nothing left to read for.
    #[inline]
    pub(crate) fn next_step(&mut self, write_blocked: bool) -> Step {
        if self.finished {
            return Step::Done;
        }
        let wants_write = self.conn.wants_write();
        if self.conn.state() == State::Open && self.config.core.idle_timeout.is_none() {
            // While open without an idle timeout, no deadline waits for a
            // time to be armed from: the only ones are the keepalive's,
            // and the adapter's timer (or socket timeout) tells the core
            // when they come. The hot path of every message.
            return if wants_write && !write_blocked {
                Step::Write
            } else {
                Step::Read
            };
        }
        // The core wants the time to arm a deadline. Told it, it does not
        // ask again at once (its contract, checked by the `pair` fuzz
        // target), so this cannot spin.
        if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
            self.tick();
            return Step::Again;
        }
        if self.conn.state() == State::Open {
            // While open, the transport action is always `Continue`.
            return if wants_write && !write_blocked {
                Step::Write
            } else {
                Step::Read
            };
        }
        match self.conn.transport_action() {
            TransportAction::Abort => Step::Shutdown,
            TransportAction::Shutdown if !wants_write => Step::Shutdown,
            _ if wants_write && !write_blocked => Step::Write,
            // Reading goes on while writing waits: the core keeps
            // automatic replies bounded (one held-back pong, one close
            // frame), and a peer that sends while it does not read must
            // not deadlock us. Once closed, nothing is read for.
            _ if wants_write && self.conn.state() == State::Closed => Step::Wait,
            _ => Step::Read,
        }
    }

    /// The deadline the adapter waits for at most, if any: when it passes,
    /// call [`tick`](Self::tick).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// Whether the deadline checks matter on every step, not only when
    /// the transport is quiet: while closing, a peer that keeps sending must
    /// not hold off the close timeout.
    pub(crate) fn closing(&self) -> bool {
        self.conn.state() != State::Open
    }

    /// Tells the core the time (a deadline may have passed).
    pub(crate) fn tick(&mut self) {
        self.now = (self.clock)().max(self.now);
        self.conn.handle_timeout(self.now);
    }

    /// Whether the deadline has passed by the adapter's clock.
    #[cfg(feature = "blocking")]
    pub(crate) fn deadline_passed(&self) -> bool {
        self.deadline().is_some_and(|t| t <= (self.clock)())
    }

    /// The transport reached end of file.
    pub(crate) fn eof(&mut self) {
        self.conn.handle_eof();
    }

    /// The transport is shut down: nothing more to read or write.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
        let gave_up = self.conn.transport_action() == TransportAction::Abort;
        match &mut self.closed {
            None => self.closed = Some(abandoned()),
            // Both close frames were exchanged as far as the core knows,
            // but the close timeout gave up on output still queued: this
            // end's close frame never left, so the peer did not get it
            // (RFC 6455 §7.1.4 counts a frame sent, not queued).
            Some(closed) if gave_up && self.conn.wants_write() => closed.clean = false,
            Some(_) => {}
        }
    }

    /// What `recv` makes of one result of the event loop: a message (or
    /// the end) to return, or go on. A protocol error or an abnormal end is
    /// returned once the transport is closed, then `None`.
    pub(crate) fn recv_filter(
        &mut self,
        item: Option<Result<Event, Error>>,
    ) -> ControlFlow<Option<Result<Message, Error>>> {
        match item {
            Some(Ok(Event::Message(message))) => ControlFlow::Break(Some(Ok(message))),
            // Never dropped: a caller reading streamed pieces with the
            // whole-message API gets them, loudly.
            Some(Ok(Event::Fragment(fragment))) => {
                ControlFlow::Break(Some(Err(Error::Streamed(fragment))))
            }
            Some(Ok(Event::Closed(closed))) => {
                self.deferred = deferred_error(&closed);
                ControlFlow::Continue(())
            }
            Some(Ok(_)) => ControlFlow::Continue(()),
            Some(Err(e)) => ControlFlow::Break(Some(Err(e))),
            None => ControlFlow::Break(self.deferred.take().map(Err)),
        }
    }

    /// What `close` returns once the connection ended: Ok if the close
    /// handshake completed.
    pub(crate) fn close_outcome(&self) -> Result<(), Error> {
        match &self.closed {
            Some(closed) if closed.clean => Ok(()),
            Some(Closed { error: Some(e), .. }) => Err(Error::Protocol(e.clone())),
            _ => Err(Error::AbnormalClose),
        }
    }

    #[cfg(feature = "tokio")]
    /// An I/O error while reading events. Once the connection has ended
    /// (the events said so), tearing down the transport can fail
    /// harmlessly, for instance when the peer resets it after the close
    /// handshake: then `None`.
    pub(crate) fn event_io_error(&mut self, e: io::Error) -> Option<Error> {
        if self.conn.state() == State::Closed && self.closed.is_some() {
            self.finish();
            return None;
        }
        Some(self.fail_io(e))
    }

    /// An I/O error ends the connection: report it, then `None`.
    pub(crate) fn fail_io(&mut self, e: io::Error) -> Error {
        self.finish();
        Error::Io(e)
    }
}

/// The constructors and getters both adapters' `WebSocket`s share,
/// written once over their `Inner` (which holds the [`Driver`]).
/// Expanded inside each `impl WebSocket`.
macro_rules! websocket_constructors {
    () => {
        /// Wraps a stream on which the handshake is already done.
        ///
        /// `leftover` holds bytes read past the handshake, which belong to
        /// the first frames. Most code uses `connect`, `accept` or their
        /// builders instead. (The blocking adapter enforces deadlines here
        /// only whenever a read returns; see its module documentation.)
        pub fn from_raw(stream: S, role: Role, config: WebSocketConfig, leftover: &[u8]) -> Self {
            Self::from_raw_with_deflate(stream, role, config, leftover, None)
        }

        /// [`from_raw`](Self::from_raw) for a connection whose handshake
        /// agreed on permessage-deflate with these parameters.
        pub fn from_raw_with_deflate(
            stream: S,
            role: Role,
            config: WebSocketConfig,
            leftover: &[u8],
            deflate: Option<DeflateParams>,
        ) -> Self {
            WebSocket {
                inner: Inner::new(stream, role, config, leftover, deflate),
            }
        }

        /// The permessage-deflate parameters agreed in the handshake, if
        /// any.
        pub fn deflate(&self) -> Option<&DeflateParams> {
            self.inner.conn.deflate()
        }

        /// How the connection ended, once it has.
        pub fn closed(&self) -> Option<&rws_proto::Closed> {
            self.inner.closed.as_ref()
        }

        /// Where the close handshake stands.
        pub fn state(&self) -> rws_proto::State {
            self.inner.conn.state()
        }

        /// This end's role.
        pub fn role(&self) -> Role {
            self.inner.conn.role()
        }

        /// The subprotocol agreed in the handshake, if any.
        pub fn protocol(&self) -> Option<&str> {
            self.inner.protocol()
        }

        /// The upgrade request this server accepted: its path, query and
        /// headers (a cookie, a token), for the application to use after
        /// `accept`. `None` on a client, and on a connection made with
        /// [`from_raw`](Self::from_raw).
        pub fn request(&self) -> Option<&::http::Request<()>> {
            self.inner.request()
        }

        /// The configuration.
        pub fn config(&self) -> &WebSocketConfig {
            &self.inner.config
        }

        /// Opens the connection a handshake agreed on.
        pub(crate) fn opened(
            stream: S,
            role: Role,
            config: WebSocketConfig,
            leftover: &[u8],
            agreed: $crate::handshake_spec::Agreed,
        ) -> Self {
            WebSocket {
                inner: Inner::opened(stream, role, config, leftover, agreed),
            }
        }
    };
}
pub(crate) use websocket_constructors;

/// The end of a connection this side gave up on (the transport failed or
/// was aborted) before the core saw an end: 1006, not clean.
fn abandoned() -> Closed {
    Closed {
        code: CloseCode::ABNORMAL,
        reason: Default::default(),
        initiator: Initiator::Local,
        clean: false,
        error: None,
    }
}

/// The error `recv` reports after the transport is torn down: the protocol
/// violation, an abnormal end, or the peer's close with an error code;
/// none for a normal close (1000, 1001 or no code) or one this end began.
fn deferred_error(closed: &Closed) -> Option<Error> {
    if let Some(error) = &closed.error {
        Some(Error::Protocol(error.clone()))
    } else if !closed.clean {
        Some(Error::AbnormalClose)
    } else if closed.initiator == Initiator::Remote && !is_normal(closed.code) {
        Some(Error::Closed(closed.clone()))
    } else {
        None
    }
}

/// RFC 6455 §7.4.1: 1000 "normal closure" and 1001 "going away" (a server
/// going down, a browser leaving the page) end a connection normally; so
/// does a close frame without a code (1005).
fn is_normal(code: CloseCode) -> bool {
    code == CloseCode::NORMAL || code == CloseCode::GOING_AWAY || code == CloseCode::NO_STATUS
}
