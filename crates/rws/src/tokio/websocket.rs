//! [`WebSocket`]: one connection, for either role.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use rws_proto::deflate::DeflateParams;
use rws_proto::{
    CloseCode, CloseFrame, Event, Message, MessageKind, PreparedMessage, Role, Utf8Bytes,
};
use tokio::io::{AsyncRead, AsyncWrite};

use super::inner::Inner;
use super::split::{self, ReadHalf, WriteHalf};
use super::WebSocketConfig;
use crate::Error;

/// A WebSocket connection after the opening handshake. Clients and servers
/// hold the same type: messages in both directions, then the close.
///
/// Pings are answered and close frames replied to without the caller's
/// help. [`recv`](Self::recv) yields messages until the connection closes;
/// it is also a [`Stream`] of messages and a [`Sink`] for them, and
/// [`split`](Self::split) gives halves for two tasks.
#[derive(Debug)]
pub struct WebSocket<S> {
    inner: Inner<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    crate::driver::websocket_constructors!();

    /// The next message, or `None` after the connection closed cleanly.
    ///
    /// How the connection ended shows here, so that a loop over `recv`
    /// needs no second call to tell a normal end from an error:
    ///
    /// - `None` at once: a normal end, the close handshake done with 1000
    ///   (normal closure), 1001 (going away) or no code, or begun by this
    ///   end ([`closed`](Self::closed) has the reason). As the end of a
    ///   file, it ends `while let` loops and lets `?` pass.
    /// - [`Error::Closed`] first: the peer closed with another code (1011,
    ///   4000, ...); it carries the code and the reason.
    /// - [`Error::Protocol`] first: the peer broke the protocol, or sent
    ///   nothing within the keepalive ping timeout; the connection was
    ///   failed with the error's close code once the close frame was out.
    /// - [`Error::AbnormalClose`] first: the connection ended without a
    ///   close handshake (1006), or the close timeout passed.
    ///
    /// `None` follows each of them.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no message
    /// is lost; the next call returns it.
    ///
    /// With [`Config::stream_fragments`](rws_proto::Config::stream_fragments)
    /// on, messages arrive as [`Event::Fragment`]s, to be read with
    /// [`recv_event`](Self::recv_event); one that reaches `recv` is
    /// returned as [`Error::Streamed`], with its data, never dropped.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.inner.poll_recv(cx)).await
    }

    /// The next event: messages, and also pings, pongs, the peer's close
    /// frame and the terminal [`Event::Closed`]. `None` once the transport
    /// is closed. Cancel-safe like [`recv`](Self::recv).
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.inner.poll_event(cx)).await
    }

    /// Sends a message and flushes it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing, waiting first if the write buffer
    /// is full. Batch several with `feed`, then [`flush`](Self::flush).
    ///
    /// [`recv`](Self::recv) (and [`recv_event`](Self::recv_event)) write out
    /// what is queued before they wait for input, so a loop that answers
    /// what it receives can `feed` its replies: the replies to messages
    /// that arrived together leave together, in one write, and none waits
    /// for more input.
    ///
    /// ```no_run
    /// # async fn run(mut ws: rws::WebSocket<tokio::net::TcpStream>) -> Result<(), rws::Error> {
    /// // An echo server.
    /// while let Some(message) = ws.recv().await {
    ///     ws.feed(message?).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.start_send(message.into())
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Queues a message prepared for many connections (a broadcast),
    /// without flushing, as [`feed`](Self::feed): with permessage-deflate
    /// and no context takeover on this side, its compression is done once
    /// for every connection with the same settings (see
    /// [`PreparedMessage`]).
    ///
    /// ```no_run
    /// # async fn run(mut members: Vec<rws::WebSocket<tokio::net::TcpStream>>) -> Result<(), rws::Error> {
    /// use rws::{Message, PreparedMessage};
    ///
    /// let line = PreparedMessage::new(Message::text("hello, everyone"));
    /// for ws in &mut members {
    ///     ws.feed_prepared(&line).await?;
    ///     ws.flush().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn feed_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.start_send_prepared(prepared)
    }

    /// Sends one piece of a message sent piece by piece (RFC 6455 §5.4)
    /// and flushes it: the first call starts a message of `kind`, the
    /// call with `last` set ends it, and no other message may be sent in
    /// between ([`SendError::FragmentOrder`](rws_proto::SendError::FragmentOrder)).
    /// Text must be UTF-8 as a whole; a piece may end inside a character.
    ///
    /// ```no_run
    /// # async fn run(mut ws: rws::WebSocket<tokio::net::TcpStream>) -> Result<(), rws::Error> {
    /// use rws::MessageKind;
    ///
    /// for (i, chunk) in [&b"a large "[..], b"file, ", b"streamed"].iter().enumerate() {
    ///     ws.send_fragment(MessageKind::Binary, *chunk, i == 2).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.conn.send_fragment(kind, data, last)?;
        self.flush().await
    }

    /// Sends a ping (at most 125 bytes); the pong arrives as
    /// [`Event::Pong`] through [`recv_event`](Self::recv_event).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.conn.send_ping(&payload.into())?;
        self.flush().await
    }

    /// Closes the connection: sends a close frame with `code` and `reason`
    /// (at most 123 bytes), waits for the peer's close frame, discarding
    /// messages that arrive meanwhile, and closes the transport, all within
    /// the close timeout. Ok if the close handshake completed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.inner
            .start_close(Some(CloseFrame::new(code, Utf8Bytes::from(reason))))?;
        poll_fn(|cx| self.inner.poll_close_handshake(cx)).await
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.inner.stream
    }

    /// Splits into a reading and a writing half, for two tasks. The read
    /// half still answers pings and close frames.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split::split(self.inner)
    }

    pub(crate) fn from_inner(inner: Inner<S>) -> Self {
        WebSocket { inner }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_recv(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().inner.start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().inner.poll_flush(cx)
    }

    /// Sends a close frame (1000) and flushes it; the stream side then
    /// yields what is left and ends.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let frame = Some(CloseFrame::new(CloseCode::NORMAL, ""));
        self.get_mut().inner.poll_send_close(cx, &frame)
    }
}
