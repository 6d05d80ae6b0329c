//! Time and the transport: the connection's deadlines (keepalive, idle,
//! close), still without a clock, and when the transport is shut down.
//!
//! The model is quinn-proto's: the core says when it next needs to be woken
//! ([`Connection::poll_timeout`]) and is told when that time has come
//! ([`Connection::handle_timeout`]). It never reads a clock; the only times
//! it knows are the ones it is given. A deadline that depends on something
//! that happened between two calls (the close handshake started, a message
//! moved while the idle timeout is on) is armed at the next time it is
//! told: until then `poll_timeout` returns the last time it was given,
//! which has passed, so that a driver tells it the time again at once.

use std::time::{Duration, Instant};

use super::{Connection, Pending, Role, State};
use crate::close::{CloseCode, CloseFrame};
use crate::error::ProtocolError;

/// What an adapter does with the transport, as
/// [`Connection::transport_action`] decides it. While the connection is
/// [`State::Open`] it is always [`TransportAction::Continue`].
///
/// RFC 6455 §7.1.1: once the close handshake is done, the server closes the
/// TCP connection first; the client waits for it to (within the close
/// timeout), so that the server is not the side left in `TIME_WAIT`. A
/// connection that failed, or whose peer already ended its side, is closed
/// at once, and one whose close timeout passed is given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportAction {
    /// Go on: write what is queued and read what comes.
    Continue,
    /// The connection is over: write out what is queued, then shut down the
    /// transport's writing side (TCP `FIN`, a TLS `close_notify`) and close
    /// it. Nothing more is read.
    Shutdown,
    /// The close timeout passed: close the transport now, without waiting
    /// to write what is still queued (the peer is not reading it).
    Abort,
}

/// The connection's deadlines and what the transport knows.
#[derive(Debug, Default)]
pub(super) struct Lifecycle {
    /// The latest time [`Connection::handle_timeout`] was given; `None`
    /// until the first call, and no deadline runs before it.
    now: Option<Instant>,
    /// When the next keepalive ping is due.
    next_ping: Option<Instant>,
    /// When the connection fails unless something arrives first: set when
    /// a keepalive ping leaves, cleared by any input.
    pong_due: Option<Instant>,
    /// When the idle timeout closes the connection.
    idle_due: Option<Instant>,
    /// The earliest of the three above, as the last `handle_timeout` left
    /// them: what `poll_timeout` returns while the connection is open.
    open_due: Option<Instant>,
    /// A message moved since `idle_due` was set.
    idle_touched: bool,
    /// When the close handshake and the closing of the transport are given
    /// up; armed once the connection leaves [`State::Open`].
    close_due: Option<Instant>,
    /// The close timeout passed.
    close_expired: bool,
    /// The transport reached end of file.
    pub(super) eof: bool,
    /// Close frames were exchanged.
    pub(super) clean: bool,
    /// Keepalive pings sent, their payload.
    pings: u32,
}

impl Lifecycle {
    /// Something arrived from the peer: proof of life, whatever it is.
    #[inline]
    pub(super) fn heard(&mut self) {
        self.pong_due = None;
    }

    /// A data frame moved, in either direction (for the idle timeout).
    #[inline]
    pub(super) fn touched(&mut self) {
        self.idle_touched = true;
    }
}

impl Connection {
    /// The next time the connection needs [`handle_timeout`](Self::handle_timeout),
    /// or `None` if nothing is due.
    ///
    /// Deadlines run once `handle_timeout` has been called once: call it
    /// when the connection opens, then whenever this time comes, and
    /// again whenever this returns a time that has already passed (the
    /// core then wants to know the time to arm a deadline: after the close
    /// handshake starts, or, with [`Config::idle_timeout`](super::Config::idle_timeout)
    /// on, after a message moves). Checking after every step of a
    /// transport loop is cheap: it compares a few fields.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use rws_proto::{Config, Connection, Role};
    ///
    /// let config = Config::default().ping_interval(Some(Duration::from_secs(20)));
    /// let mut conn = Connection::new(Role::Server, config);
    /// assert_eq!(conn.poll_timeout(), None, "no deadline before the first time given");
    /// let start = Instant::now();
    /// conn.handle_timeout(start);
    /// assert_eq!(conn.poll_timeout(), Some(start + Duration::from_secs(20)));
    /// ```
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.lifecycle.now?;
        let life = &self.lifecycle;
        if self.state == State::Open {
            if self.reader.stopped {
                // The end is queued: nothing is due until the events are
                // taken.
                return None;
            }
            if life.idle_touched && self.config.idle_timeout.is_some() {
                return Some(now);
            }
            // Kept by `handle_timeout`; an answer that cleared the pong
            // deadline since makes it early, never late.
            return life.open_due;
        }
        if life.close_expired {
            return None;
        }
        Some(life.close_due.unwrap_or(now))
    }

    /// Tells the connection the time: what is due happens, and deadlines
    /// waiting for a time are armed from `now`.
    ///
    /// - A keepalive ping goes out every [`Config::ping_interval`](super::Config::ping_interval)
    ///   while the connection is open. If nothing at all arrives within
    ///   [`Config::ping_timeout`](super::Config::ping_timeout) of a ping,
    ///   the connection fails with 1011 and
    ///   [`ProtocolError::KeepaliveTimeout`]; it does not then wait for an
    ///   answer to its close frame.
    /// - With [`Config::idle_timeout`](super::Config::idle_timeout), a
    ///   connection on which no message moved either way for that long
    ///   starts the close handshake with 1001 and the reason
    ///   `"idle timeout"`.
    /// - [`Config::close_timeout`](super::Config::close_timeout) after the
    ///   connection leaves [`State::Open`], a peer that has not answered the
    ///   close frame is given up (the connection ends with 1006) and the
    ///   transport is aborted ([`TransportAction::Abort`]).
    ///
    /// Times earlier than one given before count as that one: time never
    /// goes back.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use rws_proto::{Config, Connection, Event, Role};
    ///
    /// let second = Duration::from_secs(1);
    /// let config = Config::default().ping_interval(Some(second)).ping_timeout(Some(second));
    /// let mut conn = Connection::new(Role::Server, config);
    /// let start = Instant::now();
    /// conn.handle_timeout(start);
    /// conn.handle_timeout(start + second);
    /// assert_eq!(conn.pending_output(), b"\x89\x04\x00\x00\x00\x01", "a keepalive ping");
    /// conn.consume_output(6);
    /// // No answer within the ping timeout: the connection fails with 1011.
    /// conn.handle_timeout(start + 2 * second);
    /// let Some(Event::Closed(closed)) = conn.poll_event() else { panic!() };
    /// assert_eq!(closed.code.as_u16(), 1011);
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = match self.lifecycle.now {
            Some(before) if before > now => before,
            _ => now,
        };
        self.lifecycle.now = Some(now);
        if self.state == State::Open {
            self.keepalive(now);
        }
        if self.state == State::Open {
            self.idle(now);
        }
        let life = &mut self.lifecycle;
        life.open_due = earliest([life.next_ping, life.pong_due, life.idle_due]);
        if self.state != State::Open {
            self.close_timer(now);
        }
    }

    /// What to do with the transport now. See [`TransportAction`].
    ///
    /// ```
    /// use rws_proto::{CloseCode, CloseFrame, Config, Connection, Role, TransportAction};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// assert_eq!(server.transport_action(), TransportAction::Continue);
    /// // The client's close frame (masked with a zero key) arrives; the reply is queued.
    /// server.handle_input(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    /// while server.poll_event().is_some() {}
    /// // RFC 6455 §7.1.1: the server closes the TCP connection first.
    /// assert_eq!(server.transport_action(), TransportAction::Shutdown);
    /// ```
    pub fn transport_action(&self) -> TransportAction {
        let life = &self.lifecycle;
        if life.close_expired {
            return TransportAction::Abort;
        }
        if self.state != State::Closed {
            return TransportAction::Continue;
        }
        if self.role == Role::Server || !life.clean || life.eof {
            TransportAction::Shutdown
        } else {
            TransportAction::Continue
        }
    }

    /// RFC 6455 §5.5.2: a ping every `ping_interval`; failure when nothing
    /// arrived within `ping_timeout` of one.
    fn keepalive(&mut self, now: Instant) {
        let Some(interval) = self.config.ping_interval else {
            return;
        };
        let life = &mut self.lifecycle;
        if self.reader.stopped {
            return;
        }
        if life.pong_due.is_some_and(|due| now >= due) {
            life.pong_due = None;
            self.fail(ProtocolError::KeepaliveTimeout);
            return;
        }
        match life.next_ping {
            Some(due) if now >= due => {}
            Some(_) => return,
            None => {
                life.next_ping = Some(after(now, interval));
                return;
            }
        }
        life.next_ping = Some(after(now, interval));
        if life.pong_due.is_some() {
            // The last ping is still unanswered and within its timeout.
            return;
        }
        life.pings = life.pings.wrapping_add(1);
        life.pong_due = self.config.ping_timeout.map(|timeout| after(now, timeout));
        let payload = life.pings.to_be_bytes();
        // Cannot fail: the connection is open and the payload is 4 bytes.
        let _ = self.send_ping(&payload);
    }

    /// Closes a connection on which no message moved for `idle_timeout`.
    fn idle(&mut self, now: Instant) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        let life = &mut self.lifecycle;
        match life.idle_due {
            Some(due) if now >= due && !life.idle_touched => {
                life.idle_due = None;
                // Cannot fail: the code is sendable, the reason short.
                let _ = self.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout")));
            }
            Some(_) if !life.idle_touched => {}
            _ => {
                life.idle_touched = false;
                life.idle_due = Some(after(now, timeout));
            }
        }
    }

    /// Bounds the close handshake and the closing of the transport.
    fn close_timer(&mut self, now: Instant) {
        let life = &mut self.lifecycle;
        if life.close_expired {
            return;
        }
        let Some(due) = life.close_due else {
            life.close_due = Some(after(now, self.config.close_timeout));
            return;
        };
        if now < due {
            return;
        }
        life.close_expired = true;
        life.close_due = None;
        if self.state == State::Closing && !self.reader.stopped {
            // The peer never answered our close frame: the connection ends
            // as if the transport had (1006, not clean).
            self.reader.stopped = true;
            self.queue.push_back(Pending::Eof);
        }
    }
}

/// `duration` after `now`, at least a millisecond later (so that a zero
/// interval cannot make a driver spin); a duration too long to be a time
/// (such as `Duration::MAX`) counts as a century.
fn after(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(duration.max(Duration::from_millis(1)))
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// The earliest of some deadlines.
fn earliest(deadlines: [Option<Instant>; 3]) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// The defaults of the timers, after python `websockets` (ping every 20 s,
/// 20 s to answer) and RFC 6455 practice (a few seconds to close).
pub(super) const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
pub(super) const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
pub(super) const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
