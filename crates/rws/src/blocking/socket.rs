//! Time limits without a timer: the blocking adapter bounds its waits with
//! a `TcpStream`'s read and write timeouts.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::handshake_util as util;
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
