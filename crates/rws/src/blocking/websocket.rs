//! [`WebSocket`]: one blocking connection, for either role.

use std::fmt;
use std::io::{Read, Write};
use std::iter::FusedIterator;

use bytes::Bytes;
use rws_proto::deflate::DeflateParams;
use rws_proto::{CloseCode, CloseFrame, Event, Message, MessageKind, Role, Utf8Bytes};

use super::inner::Inner;
use super::socket::SocketOf;
use crate::{Error, WebSocketConfig};

/// A WebSocket connection over a blocking stream, after the opening
/// handshake. Clients and servers hold the same type: messages in both
/// directions, then the close.
///
/// Pings are answered and close frames replied to without the caller's
/// help, while [`recv`](Self::recv) or [`recv_event`](Self::recv_event)
/// runs. Every method blocks until it is done or the stream fails; see the
/// [module documentation](super) for timeouts.
pub struct WebSocket<S> {
    inner: Inner<S>,
}

impl<S: Read + Write> WebSocket<S> {
    crate::driver::websocket_constructors!();

    /// Lets the connection bound its close handshake with the socket's
    /// timeouts and shut the socket down at the end.
    pub(crate) fn with_socket(mut self, socket: SocketOf<S>) -> Self {
        self.inner.socket = Some(socket);
        self
    }

    /// Lets the connection end the TLS session on its stream (a
    /// close_notify) before it shuts the socket down.
    #[cfg(feature = "rustls")]
    pub(crate) fn with_close_notify(mut self, close_notify: fn(&mut S)) -> Self {
        self.inner.close_notify = Some(close_notify);
        self
    }

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
    /// If a read timeout the caller set on the stream expires while the
    /// connection is open, the result is [`Error::Io`] with kind
    /// `WouldBlock` or `TimedOut`; nothing is lost and the connection stays
    /// usable: call again.
    ///
    /// With [`Config::stream_fragments`](rws_proto::Config::stream_fragments)
    /// on, messages arrive as [`Event::Fragment`]s, to be read with
    /// [`recv_event`](Self::recv_event); one that reaches `recv` is
    /// returned as [`Error::Streamed`], with its data, never dropped.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.inner.recv()
    }

    /// The next event: messages, and also pings, pongs, the peer's close
    /// frame and the terminal [`Event::Closed`]. `None` once the transport
    /// is closed; call until then, so that the reply to the peer's close
    /// frame goes out.
    pub fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        self.inner.next_event()
    }

    /// An iterator over the incoming messages: [`recv`](Self::recv) until
    /// it returns `None`.
    ///
    /// ```no_run
    /// # fn run(mut ws: rws::blocking::WebSocket<std::net::TcpStream>) -> Result<(), rws::Error> {
    /// for message in ws.incoming() {
    ///     println!("{:?}", message?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn incoming(&mut self) -> Incoming<'_, S> {
        Incoming { ws: self }
    }

    /// Sends a message and flushes it.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.feed(message)?;
        self.flush()
    }

    /// Queues a message without flushing, first writing out queued output
    /// while it is over the write buffer size. Batch several with `feed`,
    /// then [`flush`](Self::flush).
    ///
    /// If a write timeout the caller set expires, the result is
    /// [`Error::Io`] with kind `WouldBlock` or `TimedOut`, the message is
    /// not queued and the connection stays usable.
    pub fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.inner.make_room()?;
        self.inner.conn.send(message.into())?;
        Ok(())
    }

    /// Writes out everything queued and flushes the stream. After a write
    /// timeout, what was not written stays queued for the next call.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.inner.flush()
    }

    /// Queues a message prepared for many connections (a broadcast),
    /// without flushing, as [`feed`](Self::feed): with permessage-deflate
    /// and no context takeover on this side, its compression is done once
    /// for every connection with the same settings (see
    /// [`PreparedMessage`](crate::PreparedMessage)).
    pub fn feed_prepared(&mut self, prepared: &crate::PreparedMessage) -> Result<(), Error> {
        self.inner.make_room()?;
        self.inner.conn.send_prepared(prepared)?;
        Ok(())
    }

    /// Sends one piece of a message sent piece by piece (RFC 6455 §5.4)
    /// and flushes it: the first call starts a message of `kind`, the
    /// call with `last` set ends it, and no other message may be sent in
    /// between ([`SendError::FragmentOrder`](rws_proto::SendError::FragmentOrder)).
    /// Text must be UTF-8 as a whole; a piece may end inside a character.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        self.inner.make_room()?;
        self.inner.conn.send_fragment(kind, data, last)?;
        self.flush()
    }

    /// Sends a ping (at most 125 bytes); the pong arrives as
    /// [`Event::Pong`] through [`recv_event`](Self::recv_event).
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.inner.make_room()?;
        self.inner.conn.send_ping(&payload.into())?;
        self.flush()
    }

    /// Closes the connection: sends a close frame with `code` and `reason`
    /// (at most 123 bytes), waits for the peer's close frame, discarding
    /// messages that arrive meanwhile, and closes the transport (RFC 6455
    /// §7.1.1: a server shuts TCP down first, a client waits for the
    /// server to), within the close timeout. Ok if the close handshake
    /// completed.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame::new(code, Utf8Bytes::from(reason));
        self.inner.conn.close(Some(frame))?;
        self.inner.close_handshake()
    }

    /// The underlying stream, for instance to set its timeouts.
    pub fn get_ref(&self) -> &S {
        &self.inner.stream
    }

    /// The underlying stream, mutably. Reading from or writing to it
    /// directly breaks the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner.stream
    }
}

impl<S: fmt::Debug> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("stream", &self.inner.stream)
            .field("role", &self.inner.conn.role())
            .field("state", &self.inner.conn.state())
            .field("protocol", &self.inner.protocol())
            .field("closed", &self.inner.closed)
            .finish_non_exhaustive()
    }
}

/// The incoming messages of a [`WebSocket`], from
/// [`WebSocket::incoming`].
#[derive(Debug)]
pub struct Incoming<'a, S> {
    ws: &'a mut WebSocket<S>,
}

impl<S: Read + Write> Iterator for Incoming<'_, S> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Result<Message, Error>> {
        self.ws.recv()
    }
}

impl<S: Read + Write> FusedIterator for Incoming<'_, S> {}
