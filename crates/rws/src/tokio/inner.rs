//! The poll-based engine shared by [`WebSocket`](super::WebSocket) and its
//! split halves: it moves bytes between the transport and the core.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rws_proto::deflate::DeflateParams;
use rws_proto::{CloseFrame, Closed, Connection, Event, Message, Role, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::read_buffer::ReadBuffer;
use crate::{closing, Error, WebSocketConfig, WRITE_SLICES};

#[derive(Debug)]
pub(crate) struct Inner<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    pub(crate) config: WebSocketConfig,
    read_buf: ReadBuffer,
    /// The transport reached end of file.
    eof: bool,
    /// How the connection ended, once it has.
    pub(crate) closed: Option<Closed>,
    /// An error to report once the transport is torn down.
    deferred: Option<Error>,
    /// Bounds the close handshake and the wait for the server's EOF.
    close_timer: Option<Pin<Box<Sleep>>>,
    timed_out: bool,
    /// The transport is shut down: nothing more to read or write.
    finished: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
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
            eof: false,
            closed: None,
            deferred: None,
            close_timer: None,
            timed_out: false,
            finished: false,
        }
    }

    /// The next event, driving reads, queued writes and the closing of the
    /// transport. `None` once the transport is done.
    ///
    /// Cancel-safe: all state lives here, and an event is only taken from
    /// the core when it is returned.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        loop {
            if let Some(event) = self.conn.poll_event() {
                if let Event::Closed(closed) = &event {
                    self.closed = Some(closed.clone());
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            if self.conn.state() != State::Open && self.poll_close_timer(cx) {
                if self.conn.state() != State::Closed {
                    // The peer never answered our close frame.
                    self.conn.handle_eof();
                    continue;
                }
                self.abandon(cx);
                continue;
            }
            if self.conn.wants_write() {
                match self.poll_write_out(cx) {
                    // Written: a transport that buffers (TLS) is flushed
                    // too, without waiting for it before reading.
                    Poll::Ready(Ok(())) => match Pin::new(&mut self.stream).poll_flush(cx) {
                        Poll::Ready(Err(e)) => match self.event_io_error(e) {
                            Some(e) => return Poll::Ready(Some(Err(e))),
                            None => continue,
                        },
                        Poll::Ready(Ok(())) | Poll::Pending => {}
                    },
                    Poll::Ready(Err(e)) => match self.event_io_error(e) {
                        Some(e) => return Poll::Ready(Some(Err(e))),
                        None => continue,
                    },
                    // Reading goes on while writing waits: the core keeps
                    // automatic replies bounded (one held-back pong, one
                    // close frame), and a peer that sends while it does
                    // not read must not deadlock us.
                    Poll::Pending if self.conn.state() == State::Closed => return Poll::Pending,
                    Poll::Pending => {}
                }
            }
            if self.conn.state() == State::Closed {
                let clean = self.closed.as_ref().is_some_and(|c| c.clean);
                // RFC 6455 §7.1.1: the server closes TCP first; the client
                // waits for it, unless the connection failed.
                if self.conn.role() == Role::Server || !clean || self.eof {
                    // Errors while shutting down change nothing for the user.
                    let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
                    self.finished = true;
                    continue;
                }
            }
            let n = match ready!(self.poll_read(cx)) {
                Ok(n) => n,
                Err(e) => match self.event_io_error(e) {
                    Some(e) => return Poll::Ready(Some(Err(e))),
                    None => continue,
                },
            };
            if n == 0 {
                self.eof = true;
                self.conn.handle_eof();
            }
        }
    }

    /// The next message; pings, pongs and the close handshake are handled
    /// on the way. A protocol error or an abnormal end is returned once the
    /// transport is closed, then `None`.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match ready!(self.poll_event(cx)) {
                Some(Ok(Event::Message(message))) => return Poll::Ready(Some(Ok(message))),
                Some(Ok(Event::Closed(closed))) => self.deferred = closing::deferred_error(&closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(self.deferred.take().map(Err)),
            }
        }
    }

    /// Ready when the queued output is below the write buffer size.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let limit = self.config.write_buffer_size;
        ready!(self.poll_write_out_to(cx, limit)).map_err(|e| self.fail_io(e))?;
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.conn.send(message)?;
        Ok(())
    }

    /// Writes everything queued and flushes the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx)).map_err(|e| self.fail_io(e))?;
        ready!(Pin::new(&mut self.stream).poll_flush(cx)).map_err(|e| self.fail_io(e))?;
        Poll::Ready(Ok(()))
    }

    /// Queues a close frame (once).
    pub(crate) fn start_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.conn.close(frame)?;
        Ok(())
    }

    /// Queues a close frame (once) and flushes it, within the close timeout:
    /// a peer that does not read gets its transport shut down instead.
    pub(crate) fn poll_send_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &Option<CloseFrame>,
    ) -> Poll<Result<(), Error>> {
        if self.conn.state() == State::Open {
            self.start_close(frame.clone())?;
        }
        match self.poll_flush(cx) {
            Poll::Pending if self.poll_close_timer(cx) => {
                self.abandon(cx);
                Poll::Ready(Err(Error::AbnormalClose))
            }
            other => other,
        }
    }

    /// Drives the connection to its end after a close was sent, discarding
    /// what arrives (RFC 6455 §7.1.2: no data after close).
    pub(crate) fn poll_close_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while ready!(self.poll_event(cx)).transpose()?.is_some() {}
        Poll::Ready(closing::close_outcome(self.closed.as_ref()))
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_out_to(cx, 1)
    }

    /// Writes until fewer than `limit` bytes are queued.
    fn poll_write_out_to(&mut self, cx: &mut Context<'_>, limit: usize) -> Poll<io::Result<()>> {
        while self.conn.pending_output_len() >= limit.max(1) {
            let stream = Pin::new(&mut self.stream);
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let parts = self.conn.pending_output_vectored(&mut slices);
            // A plain write when the output is one part: `writev` costs the
            // kernel more than `write` for a single buffer.
            let n = if parts > 1 && stream.is_write_vectored() {
                ready!(stream.poll_write_vectored(cx, &slices[..parts]))?
            } else {
                ready!(stream.poll_write(cx, self.conn.pending_output()))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.consume_output(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Reads once from the transport and hands the bytes to the core
    /// (unless it is closed): how many bytes, 0 at end of file.
    ///
    /// The read goes into uninitialized memory: `ReadBuf` knows which bytes
    /// the stream filled, so the buffer is never zeroed.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // Inside a large frame, read straight into the message: one copy
        // fewer.
        if let Some(space) = self.conn.input_space() {
            let mut buf = ReadBuf::uninit(space);
            let read = Pin::new(&mut self.stream).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            return match read {
                Poll::Ready(Ok(())) => {
                    // SAFETY: `ReadBuf` only counts as filled the bytes
                    // that were initialized, and `n` is that count for the
                    // slice input_space just returned; nothing touched the
                    // connection in between.
                    unsafe { self.conn.input_filled(n) };
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Quiet in the middle of a large frame: the message
                    // holds the data, the read buffer is not needed.
                    self.read_buf.idle();
                    Poll::Pending
                }
            };
        }
        let mut buf = ReadBuf::uninit(self.read_buf.spare());
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n > 0 && self.conn.state() != State::Closed {
                    self.conn.handle_input(buf.filled());
                }
                self.read_buf.filled_uninit(n);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // The connection is quiet: hold no read buffer meanwhile.
                self.read_buf.idle();
                Poll::Pending
            }
        }
    }

    /// Whether the close timeout has expired; arms it on first call.
    fn poll_close_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timed_out {
            return true;
        }
        let timeout = self.config.close_timeout;
        let timer = self
            .close_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        self.timed_out = timer.as_mut().poll(cx).is_ready();
        self.timed_out
    }

    /// Gives up on the transport after the close timeout: one best-effort
    /// shutdown (RFC 6455 §7.1.1, the TCP connection is closed), not waited
    /// for.
    fn abandon(&mut self, cx: &mut Context<'_>) {
        let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.finished = true;
        if self.closed.is_none() {
            self.closed = Some(closing::abandoned());
        }
    }

    /// An I/O error while reading events. Once the connection has ended
    /// (the events said so), tearing down the transport can fail harmlessly,
    /// for instance when the peer resets it after the close handshake.
    fn event_io_error(&mut self, e: io::Error) -> Option<Error> {
        if self.conn.state() == State::Closed && self.closed.is_some() {
            self.finished = true;
            return None;
        }
        Some(self.fail_io(e))
    }

    /// An I/O error ends the connection: report it, then `None`.
    fn fail_io(&mut self, e: io::Error) -> Error {
        self.finished = true;
        if self.closed.is_none() {
            self.closed = Some(closing::abandoned());
        }
        Error::Io(e)
    }
}
