//! The blocking engine behind [`WebSocket`](super::WebSocket): it moves
//! bytes between the stream and the core, one call at a time.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use rws_proto::deflate::DeflateParams;
use rws_proto::{Closed, Connection, Event, Message, Role, State};

use super::socket::{is_timeout, Deadline, SocketOf};
use crate::read_buffer::ReadBuffer;
use crate::{closing, Error, WebSocketConfig, WRITE_SLICES};

pub(crate) struct Inner<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    pub(crate) config: WebSocketConfig,
    /// The `TcpStream` under `stream`, when known: its timeouts bound the
    /// close handshake, and it is shut down at the end.
    pub(crate) socket: Option<SocketOf<S>>,
    read_buf: ReadBuffer,
    /// The transport reached end of file.
    eof: bool,
    /// How the connection ended, once it has.
    pub(crate) closed: Option<Closed>,
    /// An error to report once the transport is torn down.
    deferred: Option<Error>,
    /// Bounds the close handshake and the wait for the server's EOF; set
    /// when the connection leaves [`State::Open`].
    close_deadline: Option<Deadline>,
    timed_out: bool,
    /// The transport is shut down: nothing more to read or write.
    finished: bool,
}

impl<S: Read + Write> Inner<S> {
    pub(crate) fn new(
        stream: S,
        role: Role,
        config: WebSocketConfig,
        leftover: &[u8],
        deflate: Option<DeflateParams>,
    ) -> Self {
        let conn = closing::open_connection(role, &config, leftover, deflate);
        Inner {
            stream,
            conn,
            read_buf: ReadBuffer::new(config.max_read_buffer),
            config,
            socket: None,
            eof: false,
            closed: None,
            deferred: None,
            close_deadline: None,
            timed_out: false,
            finished: false,
        }
    }

    /// The next event, driving reads, queued writes and the closing of the
    /// transport. `None` once the transport is done.
    ///
    /// Events are taken from the core one at a time; what taking one
    /// queued (a pong, a close reply) is written before the next read.
    pub(crate) fn next_event(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(event) = self.conn.poll_event() {
                if let Event::Closed(closed) = &event {
                    self.closed = Some(closed.clone());
                }
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if self.conn.state() != State::Open && self.close_timer_expired() {
                if self.conn.state() != State::Closed {
                    // The peer never answered our close frame.
                    self.conn.handle_eof();
                    continue;
                }
                self.abandon();
                continue;
            }
            if self.conn.wants_write() {
                if let Err(e) = self.write_out(1) {
                    match self.event_io_error(e) {
                        Some(e) => return Some(Err(e)),
                        None => continue,
                    }
                }
            }
            if self.conn.state() == State::Closed {
                let clean = self.closed.as_ref().is_some_and(|c| c.clean);
                // RFC 6455 §7.1.1: the server closes TCP first; the client
                // waits for it, unless the connection failed.
                if self.conn.role() == Role::Server || !clean || self.eof {
                    self.shutdown();
                    self.finish();
                    continue;
                }
            }
            let n = match self.read() {
                Ok(n) => n,
                Err(e) => match self.event_io_error(e) {
                    Some(e) => return Some(Err(e)),
                    None => continue,
                },
            };
            if n == 0 {
                self.eof = true;
                self.conn.handle_eof();
            } else if self.conn.state() != State::Closed {
                self.conn.handle_input(self.read_buf.filled(n));
            }
        }
    }

    /// The next message; pings, pongs and the close handshake are handled
    /// on the way. A protocol error or an abnormal end is returned once the
    /// transport is closed, then `None`.
    pub(crate) fn recv(&mut self) -> Option<Result<Message, Error>> {
        loop {
            match self.next_event() {
                Some(Ok(Event::Message(message))) => return Some(Ok(message)),
                Some(Ok(Event::Closed(closed))) => self.deferred = closing::deferred_error(&closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(Err(e)),
                None => return self.deferred.take().map(Err),
            }
        }
    }

    /// Writes until the queued output is below the write buffer size.
    pub(crate) fn make_room(&mut self) -> Result<(), Error> {
        let limit = self.config.write_buffer_size;
        self.write_out(limit).map_err(|e| self.send_io_error(e))
    }

    /// Writes everything queued and flushes the stream.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.write_out(1).map_err(|e| self.send_io_error(e))?;
        flush(&mut self.stream).map_err(|e| self.send_io_error(e))
    }

    /// Drives the connection to its end after a close was queued,
    /// discarding what arrives (RFC 6455 §7.1.2: no data after close).
    pub(crate) fn close_handshake(&mut self) -> Result<(), Error> {
        while self.next_event().transpose()?.is_some() {}
        closing::close_outcome(self.closed.as_ref())
    }

    /// Writes until fewer than `limit` bytes are queued.
    fn write_out(&mut self, limit: usize) -> io::Result<()> {
        while self.conn.pending_output_len() >= limit.max(1) {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let parts = self.conn.pending_output_vectored(&mut slices);
            // A plain write for one part: `writev` costs the kernel more.
            let written = if parts > 1 {
                self.stream.write_vectored(&slices[..parts])
            } else {
                self.stream.write(self.conn.pending_output())
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.conn.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read(&mut self) -> io::Result<usize> {
        loop {
            match self.stream.read(self.read_buf.space()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if is_timeout(&e) {
                        self.read_buf.idle();
                    }
                    return Err(e);
                }
                Ok(n) => return Ok(n),
            }
        }
    }

    /// Whether the close timeout has expired; starts it on first call. On
    /// a known `TcpStream`, also bounds the next read or write by it.
    fn close_timer_expired(&mut self) -> bool {
        if self.timed_out {
            return true;
        }
        let timeout = self.config.close_timeout;
        let deadline = self
            .close_deadline
            .get_or_insert_with(|| Deadline::after(timeout));
        let left = match self.socket {
            // A socket whose timeouts cannot be set counts as timed out.
            Some(socket) => deadline.limit(socket(&self.stream)).unwrap_or(false),
            None => !deadline.passed(),
        };
        self.timed_out = !left;
        self.timed_out
    }

    /// Flushes and, on a known `TcpStream`, shuts down its sending side
    /// (RFC 6455 §7.1.1, the TCP connection is closed). Errors change
    /// nothing for the user.
    fn shutdown(&mut self) {
        let _ = flush(&mut self.stream);
        if let Some(socket) = self.socket {
            let _ = socket(&self.stream).shutdown(Shutdown::Write);
        }
    }

    /// The transport is done; the socket gets its timeouts back.
    fn finish(&mut self) {
        self.finished = true;
        if let (Some(socket), Some(deadline)) = (self.socket, &mut self.close_deadline) {
            deadline.restore(socket(&self.stream));
        }
    }

    /// Gives up on the transport after the close timeout.
    fn abandon(&mut self) {
        self.shutdown();
        self.finish();
        if self.closed.is_none() {
            self.closed = Some(closing::abandoned());
        }
    }

    /// An I/O error while reading events.
    fn event_io_error(&mut self, e: io::Error) -> Option<Error> {
        if self.conn.state() != State::Open && is_timeout(&e) {
            // While closing, the close timer decides (a generic stream's
            // own timeouts only make it look again).
            return None;
        }
        if self.conn.state() == State::Closed && self.closed.is_some() {
            // The connection has ended (the events said so): tearing down
            // the transport can fail harmlessly, for instance when the
            // peer resets it after the close handshake.
            self.finish();
            return None;
        }
        if is_timeout(&e) {
            // The caller's timeout on an open connection: nothing was lost,
            // the connection goes on.
            return Some(Error::Io(e));
        }
        Some(self.fail_io(e))
    }

    /// An I/O error while sending: a timeout leaves the output queued,
    /// anything else ends the connection.
    fn send_io_error(&mut self, e: io::Error) -> Error {
        if is_timeout(&e) {
            return Error::Io(e);
        }
        self.fail_io(e)
    }

    /// An I/O error ends the connection: report it, then `None`.
    fn fail_io(&mut self, e: io::Error) -> Error {
        self.finish();
        if self.closed.is_none() {
            self.closed = Some(closing::abandoned());
        }
        Error::Io(e)
    }
}

/// Flushes, retrying when interrupted.
fn flush(stream: &mut impl Write) -> io::Result<()> {
    loop {
        match stream.flush() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
