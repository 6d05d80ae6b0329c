//! Time limits without a timer: the blocking adapter bounds its waits with
//! a `TcpStream`'s read and write timeouts.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::handshake_spec as util;
use crate::Error;

/// How to reach the `TcpStream` under a stream, for the connections that
/// know they run on one (from `connect` and `accept_tcp`).
pub(crate) type SocketOf<S> = fn(&S) -> &TcpStream;

/// The [`SocketOf`] a `TcpStream`.
pub(crate) fn tcp(stream: &TcpStream) -> &TcpStream {
    stream
}

/// Whether an I/O error is a read or write timeout expiring (`WouldBlock`
/// on Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A point in time that bounds a socket's reads and writes; it puts the
/// socket's previous timeouts back when asked.
#[derive(Debug)]
pub(crate) struct Deadline {
    /// `None` when the timeout is too long to be a point in time.
    at: Option<Instant>,
    /// The socket's read and write timeouts before the first `limit`.
    saved: Option<(Option<Duration>, Option<Duration>)>,
}

impl Deadline {
    /// `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(timeout),
            saved: None,
        }
    }

    /// The same point in time, with no timeouts saved (for another step
    /// of the same handshake).
    pub(crate) fn same(&self) -> Deadline {
        Deadline {
            at: self.at,
            saved: None,
        }
    }

    /// The time left, `None` once it has passed.
    pub(crate) fn left(&self) -> Option<Duration> {
        match self.at {
            Some(at) => Some(at.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero()),
            None => Some(Duration::MAX),
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.left().is_none()
    }

    /// Sets `socket`'s read and write timeouts to the time left, saving
    /// the previous ones the first time. `Ok(false)` once it has passed.
    pub(crate) fn limit(&mut self, socket: &TcpStream) -> io::Result<bool> {
        let Some(left) = self.left() else {
            return Ok(false);
        };
        if self.at.is_none() {
            return Ok(true);
        }
        if self.saved.is_none() {
            self.saved = Some((socket.read_timeout()?, socket.write_timeout()?));
        }
        socket.set_read_timeout(Some(left))?;
        socket.set_write_timeout(Some(left))?;
        Ok(true)
    }

    /// Puts back the timeouts `limit` found, if it changed them.
    pub(crate) fn restore(&mut self, socket: &TcpStream) {
        if let Some((read, write)) = self.saved.take() {
            // Best effort: the socket may already be shut down.
            let _ = socket.set_read_timeout(read);
            let _ = socket.set_write_timeout(write);
        }
    }
}

/// A stream during the handshake: every read and write is bounded by the
/// deadline, through the socket's timeouts when it is a known `TcpStream`
/// and by checks between calls otherwise.
pub(crate) struct Exchange<'a, S> {
    pub(crate) stream: &'a mut S,
    pub(crate) socket: Option<SocketOf<S>>,
    pub(crate) deadline: Deadline,
}

impl<S: Read + Write> Exchange<'_, S> {
    /// Fails with [`Error::HandshakeTimeout`] once the deadline passed.
    fn check(&mut self) -> Result<(), Error> {
        let left = match self.socket {
            Some(socket) => self.deadline.limit(socket(self.stream))?,
            None => !self.deadline.passed(),
        };
        if left {
            Ok(())
        } else {
            Err(Error::HandshakeTimeout)
        }
    }

    /// Reads at most `room` bytes onto the end of `buf`; 0 at end of file.
    pub(crate) fn read_into(&mut self, buf: &mut Vec<u8>, room: usize) -> Result<usize, Error> {
        let start = buf.len();
        buf.resize(start + room.min(4 << 10), 0);
        let result = loop {
            if let Err(e) = self.check() {
                break Err(e);
            }
            match self.stream.read(&mut buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(handshake_io_error(e)),
                Ok(n) => break Ok(n),
            }
        };
        buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Writes all of `bytes` and flushes.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            self.check()?;
            match self.stream.write(bytes) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(handshake_io_error(e)),
            }
        }
        self.check()?;
        self.stream.flush().map_err(handshake_io_error)
    }

    /// Ends the transport after a refusal: shuts a known `TcpStream` down
    /// (a generic stream ends when the caller drops it).
    pub(crate) fn shutdown(&mut self) -> Result<(), Error> {
        if let Some(socket) = self.socket {
            socket(self.stream).shutdown(Shutdown::Write)?;
        }
        Ok(())
    }

    /// After a refusal, on a known `TcpStream`: reads and discards what the
    /// client still sends until the end of file, at most
    /// [`DRAIN_LIMIT`](util::DRAIN_LIMIT) bytes for at most
    /// [`DRAIN_TIMEOUT`](util::DRAIN_TIMEOUT), so that dropping the stream
    /// closes it rather than resetting it. Errors end it quietly: the
    /// answer is already sent.
    ///
    /// A generic stream is not drained: its sending side cannot be shut
    /// down, so the client sees no end of file and has no reason to close,
    /// and its reads can only be bounded by the caller's own timeouts, so
    /// the wait could last as long as those allow.
    pub(crate) fn drain(&mut self) {
        let Some(socket) = self.socket else {
            return;
        };
        // Not bounded by the handshake deadline: the refusal must not
        // become a timeout.
        let mut deadline = Deadline::after(util::DRAIN_TIMEOUT);
        let mut chunk = [0; 4 << 10];
        let mut left = util::DRAIN_LIMIT;
        while left > 0 && matches!(deadline.limit(socket(self.stream)), Ok(true)) {
            let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => break,
                Ok(n) => left = left.saturating_sub(n as u64),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        deadline.restore(socket(self.stream));
    }

    /// Puts the socket's own timeouts back.
    pub(crate) fn restore(&mut self) {
        if let Some(socket) = self.socket {
            self.deadline.restore(socket(self.stream));
        }
    }
}

/// A timeout during the handshake is the handshake timeout (the caller's,
/// on a generic stream).
pub(crate) fn handshake_io_error(e: io::Error) -> Error {
    if is_timeout(&e) {
        Error::HandshakeTimeout
    } else {
        Error::Io(e)
    }
}

/// How late past a deadline a blocking read may end: the socket's timeout
/// is set again only when the one on it would overshoot by more (or wake
/// more than twice too early), so that a busy connection sets it about
/// once per this much time, not on every read.
const SLACK: Duration = Duration::from_millis(20);

/// The core's deadlines on a known `TcpStream`: its read timeout (and,
/// while closing, its write timeout) bounded by the next deadline, and the
/// caller's own timeouts still honoured.
///
/// The caller may set timeouts on the socket at any time (`get_ref()`):
/// before each read the timeout on the socket is read back, and one the
/// adapter did not set is the caller's from then on.
#[derive(Debug, Default)]
pub(crate) struct SocketTimer {
    /// The read timeout the adapter last set, if it set one.
    ours: Option<Option<Duration>>,
    /// The caller's read and write timeouts, once read from the socket.
    user: Option<(Option<Duration>, Option<Duration>)>,
    /// The adapter changed the write timeout (while closing).
    write_set: bool,
    /// The timeout on the socket for the coming read is the caller's.
    users_turn: bool,
}

impl SocketTimer {
    /// Bounds the next read (and, while `closing`, writes) by `deadline`
    /// and the caller's read timeout, whichever is first.
    pub(crate) fn arm(
        &mut self,
        socket: &TcpStream,
        deadline: Option<Instant>,
        closing: bool,
    ) -> io::Result<()> {
        let on_socket = socket.read_timeout()?;
        let user = match &mut self.user {
            // The timeout on the socket is the one the adapter set.
            Some((read, _)) if self.ours == Some(on_socket) => *read,
            // The caller's: the first one, or one set since.
            Some((read, _)) => {
                *read = on_socket;
                self.ours = None;
                on_socket
            }
            None => {
                self.user = Some((on_socket, socket.write_timeout()?));
                on_socket
            }
        };
        let left = deadline.map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        let want = match (user, left) {
            (Some(user), Some(left)) => Some(user.min(left)),
            (user, left) => user.or(left),
        };
        self.users_turn = want.is_some() && want == user;
        let keep = match (on_socket, want) {
            (None, None) => true,
            (Some(have), Some(want)) => {
                have <= want.saturating_add(SLACK) && have.saturating_mul(2) >= want
            }
            _ => false,
        };
        if !keep {
            socket.set_read_timeout(want)?;
            // As the socket keeps it (the kernel rounds it to its ticks),
            // to recognize it later.
            self.ours = Some(socket.read_timeout()?);
        }
        if closing {
            // The caller's write timeout still bounds each write.
            let write = match (self.user.and_then(|(_, write)| write), left) {
                (Some(user), Some(left)) => Some(user.min(left)),
                (user, left) => user.or(left),
            };
            socket.set_write_timeout(write)?;
            self.write_set = true;
        }
        Ok(())
    }

    /// Whether a read timeout that just expired was the caller's (return
    /// it) rather than the adapter's (look at the deadlines again).
    pub(crate) fn callers_timeout(&self) -> bool {
        self.users_turn
    }

    /// Puts the caller's timeouts back.
    pub(crate) fn restore(&mut self, socket: &TcpStream) {
        if let Some((read, write)) = self.user {
            // Best effort: the socket may already be shut down.
            if self.ours.is_some() {
                let _ = socket.set_read_timeout(read);
            }
            if self.write_set {
                let _ = socket.set_write_timeout(write);
            }
        }
        self.ours = None;
        self.write_set = false;
    }
}
