//! Read and write halves of a [`WebSocket`], usable from two tasks.
//!
//! Both halves share the connection behind a mutex that is held only
//! inside a poll, never across an await. The read half also writes (pongs,
//! close replies), so both halves may wait for the transport to become
//! writable; a transport keeps one write waker, so the halves register
//! theirs here and the transport gets one that wakes both.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use rws_proto::{CloseCode, CloseFrame, Event, Message, MessageKind, PreparedMessage, Utf8Bytes};
use tokio::io::{AsyncRead, AsyncWrite};

use super::inner::Inner;
use super::WebSocket;
use crate::Error;

/// The reading half of a split [`WebSocket`].
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocket`].
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The halves passed to [`ReadHalf::reunite`] came from different sockets.
#[derive(Debug)]
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

struct Shared<S> {
    inner: Mutex<Inner<S>>,
    wakers: Arc<Wakers>,
    protocol: Option<String>,
}

/// The wakers of the two halves; waking it wakes both (each once).
#[derive(Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

const READER: usize = 0;
const WRITER: usize = 1;

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.slots.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

pub(super) fn split<S>(inner: Inner<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    // Kept outside the lock, so that `protocol()` can lend it.
    let protocol = inner.protocol().map(str::to_owned);
    let shared = Arc::new(Shared {
        inner: Mutex::new(inner),
        wakers: Arc::new(Wakers::default()),
        protocol,
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

impl<S> Shared<S> {
    /// Runs `f` on the connection with a context whose waker wakes this
    /// half, and the other if it waits too.
    fn with<T>(
        &self,
        slot: usize,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Inner<S>, &mut Context<'_>) -> T,
    ) -> T {
        {
            let mut slots = self
                .wakers
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &mut slots[slot] {
                Some(w) if w.will_wake(cx.waker()) => {}
                other => *other = Some(cx.waker().clone()),
            }
        }
        let waker = Waker::from(self.wakers.clone());
        let mut shared_cx = Context::from_waker(&waker);
        f(&mut self.lock(), &mut shared_cx)
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next message, as [`WebSocket::recv`]. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.with(READER, cx, Inner::poll_recv)).await
    }

    /// The next event, as [`WebSocket::recv_event`]. Cancel-safe.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.shared.with(READER, cx, Inner::poll_event)).await
    }

    /// Puts the halves back together.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        let shared = Arc::try_unwrap(self.shared).unwrap_or_else(|_| {
            unreachable!("both halves were given, so no other reference exists")
        });
        let inner = shared
            .inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocket::from_inner(inner))
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Sends a message and flushes it, as [`WebSocket::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message, waiting if the write buffer is full.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.shared.with(WRITER, cx, Inner::poll_ready)).await?;
        self.shared.lock().start_send(message.into())
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.with(WRITER, cx, Inner::poll_flush)).await
    }

    /// Queues a message prepared for many connections, as
    /// [`WebSocket::feed_prepared`].
    pub async fn feed_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        poll_fn(|cx| self.shared.with(WRITER, cx, Inner::poll_ready)).await?;
        self.shared.lock().start_send_prepared(prepared)
    }

    /// Sends one piece of a message sent piece by piece, as
    /// [`WebSocket::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.shared.with(WRITER, cx, Inner::poll_ready)).await?;
        self.shared.lock().conn.send_fragment(kind, data, last)?;
        self.flush().await
    }

    /// Sends a ping; its pong arrives on the read half.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        poll_fn(|cx| self.shared.with(WRITER, cx, Inner::poll_ready)).await?;
        self.shared.lock().conn.send_ping(&payload.into())?;
        self.flush().await
    }

    /// Sends a close frame and flushes it. The read half then yields what
    /// is left, completes the close handshake and ends.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let frame = Some(CloseFrame::new(code, Utf8Bytes::from(reason)));
        poll_fn(|cx| {
            self.shared
                .with(WRITER, cx, |inner, cx| inner.poll_send_close(cx, &frame))
        })
        .await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.with(READER, cx, Inner::poll_recv)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.with(WRITER, cx, Inner::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.shared.lock().start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.with(WRITER, cx, Inner::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let frame = Some(CloseFrame::new(CloseCode::NORMAL, ""));
        self.shared
            .with(WRITER, cx, |inner, cx| inner.poll_send_close(cx, &frame))
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
