//! The blocking I/O behind [`WebSocket`](super::WebSocket): it performs
//! the [`Driver`]'s steps on a `Read + Write` stream, one call at a time,
//! and bounds its waits by the core's deadlines through the socket's
//! timeouts when the stream is a known `TcpStream`.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::ops::{ControlFlow, Deref, DerefMut};
use std::time::Instant;

use rws_proto::deflate::DeflateParams;
use rws_proto::{Event, Message, Role, State};

use super::socket::{is_timeout, SocketOf, SocketTimer};
use crate::driver::{Driver, Step};
use crate::handshake_spec::Agreed;
use crate::read_buffer::ReadBuffer;
use crate::{Error, WebSocketConfig, WRITE_SLICES};

pub(crate) struct Inner<S> {
    pub(crate) stream: S,
    driver: Driver,
    /// The `TcpStream` under `stream`, when known: its timeouts bound the
    /// waits by the core's deadlines, and it is shut down at the end.
    pub(crate) socket: Option<SocketOf<S>>,
    /// Ends the TLS session on the stream (queues its close_notify), when
    /// the stream is a known TLS one.
    pub(crate) close_notify: Option<fn(&mut S)>,
    timer: SocketTimer,
    read_buf: ReadBuffer,
}

impl<S> Deref for Inner<S> {
    type Target = Driver;

    fn deref(&self) -> &Driver {
        &self.driver
    }
}

impl<S> DerefMut for Inner<S> {
    fn deref_mut(&mut self) -> &mut Driver {
        &mut self.driver
    }
}

impl<S: Read + Write> Inner<S> {
    pub(crate) fn new(
        stream: S,
        role: Role,
        config: WebSocketConfig,
        leftover: &[u8],
        deflate: Option<DeflateParams>,
    ) -> Self {
        Self::on(
            stream,
            Driver::new(role, config, leftover, deflate, Instant::now),
        )
    }

    fn on(stream: S, driver: Driver) -> Self {
        let read_buf = ReadBuffer::new(driver.config.max_read_buffer);
        Inner {
            stream,
            driver,
            socket: None,
            close_notify: None,
            timer: SocketTimer::default(),
            read_buf,
        }
    }

    /// The connection a handshake agreed on (subprotocol, deflate).
    pub(crate) fn opened(
        stream: S,
        role: Role,
        config: WebSocketConfig,
        leftover: &[u8],
        agreed: Agreed,
    ) -> Self {
        Self::on(
            stream,
            Driver::opened(role, config, leftover, agreed, Instant::now),
        )
    }

    /// The next event, driving reads, queued writes, the deadlines and the
    /// closing of the transport. `None` once the transport is done.
    ///
    /// Events are taken from the core one at a time; what taking one
    /// queued (a pong, a close reply) is written before the next read.
    pub(crate) fn next_event(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(event) = self.driver.poll_event() {
                return Some(Ok(event));
            }
            match self.driver.next_step(false) {
                Step::Again => {}
                Step::Done => return None,
                Step::Shutdown => {
                    self.shutdown();
                    self.finish();
                }
                // Never asked for: writes here block instead.
                Step::Write | Step::Wait => {
                    if let Err(e) = self.arm().and_then(|()| self.write_out(1)) {
                        if let Some(e) = self.event_io_error(e) {
                            return Some(Err(e));
                        }
                    }
                }
                Step::Read => {
                    if let Err(e) = self.arm() {
                        if let Some(e) = self.event_io_error(e) {
                            return Some(Err(e));
                        }
                        continue;
                    }
                    match self.read() {
                        Ok(0) => self.driver.eof(),
                        Ok(n) => {
                            if self.driver.conn.state() != State::Closed {
                                let input = self.read_buf.filled(n);
                                self.driver.conn.handle_input(input);
                            }
                            // A generic stream's deadlines are checked
                            // whenever a read returns.
                            if self.socket.is_none() && self.driver.deadline_passed() {
                                self.driver.tick();
                            }
                        }
                        Err(e) => {
                            if let Some(e) = self.event_io_error(e) {
                                return Some(Err(e));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The next message; pings, pongs and the close handshake are handled
    /// on the way. A protocol error or an abnormal end is returned once the
    /// transport is closed, then `None`.
    pub(crate) fn recv(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let item = self.next_event();
            if let ControlFlow::Break(result) = self.driver.recv_filter(item) {
                return result;
            }
        }
    }

    /// Writes until the queued output is below the write buffer size.
    pub(crate) fn make_room(&mut self) -> Result<(), Error> {
        let limit = self.driver.config.write_buffer_size;
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
        self.driver.close_outcome()
    }

    /// Bounds the next read (and, while closing, write) by the core's next
    /// deadline, on a known `TcpStream`.
    fn arm(&mut self) -> io::Result<()> {
        let Some(socket) = self.socket else {
            return Ok(());
        };
        let deadline = self.driver.deadline();
        let closing = self.driver.closing();
        self.timer.arm(socket(&self.stream), deadline, closing)
    }

    /// Writes until fewer than `limit` bytes are queued.
    fn write_out(&mut self, limit: usize) -> io::Result<()> {
        let conn = &mut self.driver.conn;
        while conn.pending_output_len() >= limit.max(1) {
            // A plain write for one part: `writev` costs the kernel more,
            // and no slices need filling.
            let written = if conn.pending_output_parts() > 1 {
                let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
                let parts = conn.pending_output_vectored(&mut slices);
                self.stream.write_vectored(&slices[..parts])
            } else {
                self.stream.write(conn.pending_output())
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => conn.consume_output(n),
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

    /// Flushes and, on a known `TcpStream`, shuts down its sending side
    /// (RFC 6455 §7.1.1, the TCP connection is closed). Errors change
    /// nothing for the user.
    fn shutdown(&mut self) {
        if self.driver.conn.transport_action() != rws_proto::TransportAction::Abort {
            // TLS ends with its close_notify, written by the flush: a peer
            // can then tell the end from a cut connection.
            if let Some(close_notify) = self.close_notify {
                close_notify(&mut self.stream);
            }
            let _ = flush(&mut self.stream);
        }
        if let Some(socket) = self.socket {
            let _ = socket(&self.stream).shutdown(Shutdown::Write);
        }
    }

    /// The transport is done; the socket gets the caller's timeouts back.
    fn finish(&mut self) {
        self.driver.finish();
        if let Some(socket) = self.socket {
            self.timer.restore(socket(&self.stream));
        }
    }

    /// An I/O error while reading events: `None` to look again.
    fn event_io_error(&mut self, e: io::Error) -> Option<Error> {
        if is_timeout(&e) {
            if self.driver.deadline_passed() {
                self.driver.tick();
                return None;
            }
            // While closing, the deadlines decide (a generic stream's own
            // timeouts only make it look again); a timeout of the
            // adapter's that ended a read early does too.
            if self.driver.closing() || (self.socket.is_some() && !self.timer.callers_timeout()) {
                return None;
            }
            // The caller's timeout on an open connection: nothing was
            // lost, the connection goes on.
            return Some(Error::Io(e));
        }
        if self.driver.conn.state() == State::Closed && self.driver.closed.is_some() {
            // The connection has ended (the events said so): tearing down
            // the transport can fail harmlessly, for instance when the
            // peer resets it after the close handshake.
            self.finish();
            return None;
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
        if let Some(socket) = self.socket {
            self.timer.restore(socket(&self.stream));
        }
        self.driver.fail_io(e)
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
