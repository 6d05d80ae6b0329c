//! The poll-based I/O behind [`WebSocket`](super::WebSocket) and its split
//! halves: it performs the [`Driver`]'s steps on an `AsyncRead +
//! AsyncWrite` stream and its deadlines on a tokio timer.

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::ops::{ControlFlow, Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::Instant;

use rws_proto::deflate::DeflateParams;
use rws_proto::{CloseFrame, Event, Message, PreparedMessage, Role, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::driver::{Driver, Step};
use crate::handshake_spec::Agreed;
use crate::read_buffer::{self, ReadBuffer};
use crate::{Error, WebSocketConfig, WRITE_SLICES};

#[derive(Debug)]
pub(crate) struct Inner<S> {
    pub(crate) stream: S,
    driver: Driver,
    read_buf: ReadBuffer,
    /// The core's next deadline, once one was asked for; allocated then,
    /// so a connection without deadlines holds no timer.
    timer: Option<Pin<Box<Sleep>>>,
    /// The deadline `timer` is set to.
    armed: Option<Instant>,
    /// The waker `timer` was last polled with, so that a quiet read with
    /// the same task does not register it again.
    waker: Option<Waker>,
}

/// tokio's clock, which tests can pause and advance.
fn tokio_now() -> Instant {
    tokio::time::Instant::now().into_std()
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

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    pub(crate) fn new(
        stream: S,
        role: Role,
        config: WebSocketConfig,
        leftover: &[u8],
        deflate: Option<DeflateParams>,
    ) -> Self {
        Self::on(
            stream,
            Driver::new(role, config, leftover, deflate, tokio_now),
        )
    }

    fn on(stream: S, driver: Driver) -> Self {
        let read_buf = ReadBuffer::new(driver.config.max_read_buffer);
        Inner {
            stream,
            driver,
            read_buf,
            timer: None,
            armed: None,
            waker: None,
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
            Driver::opened(role, config, leftover, agreed, tokio_now),
        )
    }

    /// The next event, driving reads, queued writes, the deadlines and the
    /// closing of the transport. `None` once the transport is done.
    ///
    /// Cancel-safe: all state lives here, and an event is only taken from
    /// the core when it is returned.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        let mut write_blocked = false;
        // Whether the core may have an event: not after a write, which
        // only takes output (one look fewer per message).
        let mut look = true;
        loop {
            if self.driver.closing() && self.poll_timer(cx) {
                look = true;
                continue;
            }
            if look {
                if let Some(event) = self.driver.poll_event() {
                    return Poll::Ready(Some(Ok(event)));
                }
            }
            look = true;
            match self.driver.next_step(write_blocked) {
                Step::Again => {}
                Step::Done => return Poll::Ready(None),
                Step::Shutdown => {
                    // Not waited for when the close timeout has passed.
                    let abort =
                        self.driver.conn.transport_action() == rws_proto::TransportAction::Abort;
                    let shutdown = Pin::new(&mut self.stream).poll_shutdown(cx);
                    if shutdown.is_pending() && !abort {
                        if self.poll_timer(cx) {
                            continue;
                        }
                        return Poll::Pending;
                    }
                    // Errors while shutting down change nothing for the user.
                    self.driver.finish();
                }
                Step::Write => match self.poll_write_out(cx) {
                    // Written: a transport that buffers (TLS) is flushed
                    // too, without waiting for it before reading.
                    Poll::Ready(Ok(())) => {
                        look = false;
                        if let Poll::Ready(Err(e)) = Pin::new(&mut self.stream).poll_flush(cx) {
                            if let Some(e) = self.driver.event_io_error(e) {
                                return Poll::Ready(Some(Err(e)));
                            }
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        if let Some(e) = self.driver.event_io_error(e) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    Poll::Pending => write_blocked = true,
                },
                Step::Wait => {
                    if self.poll_timer(cx) {
                        continue;
                    }
                    return Poll::Pending;
                }
                Step::Read => match self.poll_read(cx) {
                    Poll::Ready(Ok(0)) => self.driver.eof(),
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => {
                        if let Some(e) = self.driver.event_io_error(e) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    Poll::Pending => {
                        if self.poll_timer(cx) {
                            continue;
                        }
                        return Poll::Pending;
                    }
                },
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
                item => {
                    if let ControlFlow::Break(result) = self.driver.recv_filter(item) {
                        return Poll::Ready(result);
                    }
                }
            }
        }
    }

    /// Ready when the queued output is below the write buffer size.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let limit = self.driver.config.write_buffer_size;
        ready!(self.poll_write_out_to(cx, limit)).map_err(|e| self.driver.fail_io(e))?;
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.driver.conn.send(message)?;
        Ok(())
    }

    pub(crate) fn start_send_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        self.driver.conn.send_prepared(prepared)?;
        Ok(())
    }

    /// Writes everything queued and flushes the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx)).map_err(|e| self.driver.fail_io(e))?;
        ready!(Pin::new(&mut self.stream).poll_flush(cx)).map_err(|e| self.driver.fail_io(e))?;
        Poll::Ready(Ok(()))
    }

    /// Queues a close frame (once).
    pub(crate) fn start_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.driver.conn.close(frame)?;
        Ok(())
    }

    /// Queues a close frame (once) and flushes it, within the close timeout:
    /// a peer that does not read gets its transport shut down instead.
    pub(crate) fn poll_send_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &Option<CloseFrame>,
    ) -> Poll<Result<(), Error>> {
        if self.driver.conn.state() == State::Open {
            self.start_close(frame.clone())?;
        }
        loop {
            match self.poll_flush(cx) {
                // A deadline passed while the peer does not read: the close
                // timeout gives the transport up.
                Poll::Pending if self.poll_timer(cx) => {
                    if self.driver.conn.transport_action() == rws_proto::TransportAction::Abort {
                        let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
                        self.driver.finish();
                        return Poll::Ready(Err(Error::AbnormalClose));
                    }
                }
                other => return other,
            }
        }
    }

    /// Drives the connection to its end after a close was sent, discarding
    /// what arrives (RFC 6455 §7.1.2: no data after close).
    pub(crate) fn poll_close_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while ready!(self.poll_event(cx)).transpose()?.is_some() {}
        Poll::Ready(self.driver.close_outcome())
    }

    /// Whether a deadline of the core's has passed (the core was told the
    /// time): the caller looks at the connection again. Otherwise the
    /// timer is set to the next deadline and will wake the task.
    ///
    /// The timer is moved only to an earlier deadline or after it fired:
    /// when a deadline moves later (keepalive after every ping), the timer
    /// fires early once and is set again, instead of being reset on every
    /// message.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.driver.deadline() else {
            return false;
        };
        let rearm = self.armed.is_none_or(|armed| deadline < armed);
        if rearm {
            let at = tokio::time::Instant::from_std(deadline);
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = Some(deadline);
        }
        let Some(timer) = self.timer.as_mut() else {
            return false;
        };
        let registered = !rearm
            && self
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()));
        if registered {
            // The timer already holds this task's waker and will wake it
            // when it fires: look, without registering again (the common
            // case, on every quiet read).
            if !timer.is_elapsed() {
                return false;
            }
        } else if timer.as_mut().poll(cx).is_pending() {
            self.waker = Some(cx.waker().clone());
            return false;
        }
        self.armed = None;
        self.waker = None;
        self.driver.tick();
        true
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_out_to(cx, 1)
    }

    /// Writes until fewer than `limit` bytes are queued.
    fn poll_write_out_to(&mut self, cx: &mut Context<'_>, limit: usize) -> Poll<io::Result<()>> {
        let conn = &mut self.driver.conn;
        while conn.pending_output_len() >= limit.max(1) {
            let stream = Pin::new(&mut self.stream);
            // A plain write when the output is one part: `writev` costs the
            // kernel more than `write` for a single buffer, and no slices
            // need filling.
            let n = if conn.pending_output_parts() > 1 && stream.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
                let parts = conn.pending_output_vectored(&mut slices);
                ready!(stream.poll_write_vectored(cx, &slices[..parts]))?
            } else {
                ready!(stream.poll_write(cx, conn.pending_output()))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            conn.consume_output(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Reads once from the transport and hands the bytes to the core
    /// (unless it is closed): how many bytes, 0 at end of file.
    ///
    /// The read goes into uninitialized memory: `ReadBuf` knows which bytes
    /// the stream filled, so the buffer is never zeroed.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let conn = &mut self.driver.conn;
        // Inside a large frame, read straight into the message: one copy
        // fewer.
        if let Some(space) = conn.input_space() {
            let mut buf = ReadBuf::uninit(space);
            let read = Pin::new(&mut self.stream).poll_read(cx, &mut buf);
            let n = buf.filled().len();
            return match read {
                Poll::Ready(Ok(())) => {
                    // SAFETY: `ReadBuf` only counts as filled the bytes
                    // that were initialized, and `n` is that count for the
                    // slice input_space just returned; nothing touched the
                    // connection in between.
                    unsafe { conn.input_filled(n) };
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
        let mut stack = [MaybeUninit::uninit(); read_buffer::INITIAL];
        let mut buf = ReadBuf::uninit(self.read_buf.spare(&mut stack));
        let offered = buf.capacity();
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n > 0 && conn.state() != State::Closed {
                    conn.handle_input(buf.filled());
                }
                self.read_buf.filled_uninit(n, offered);
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
}
