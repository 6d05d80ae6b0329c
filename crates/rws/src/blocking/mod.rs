//! The blocking adapter: [`WebSocket`] over any `std::io::Read + Write`
//! stream, [`connect`] and [`accept`] with their builders. No async runtime
//! is involved: every call blocks the thread until it is done.
//!
//! It runs the same protocol core with the same semantics as the tokio
//! adapter: [`recv`](WebSocket::recv) yields messages and answers pings and
//! close frames on the way; [`close`](WebSocket::close) runs the close
//! handshake and closes the transport as RFC 6455 §7.1.1 asks (a server
//! shuts TCP down first, a client waits for the server to).
//!
//! ```no_run
//! use rws::{CloseCode, Message};
//!
//! let (mut ws, _response) = rws::blocking::connect("ws://127.0.0.1:9001/echo")?;
//! ws.send(Message::text("hello"))?;
//! println!("{:?}", ws.recv());
//! ws.close(CloseCode::NORMAL, "done")?;
//! # Ok::<(), rws::Error>(())
//! ```
//!
//! # Timeouts
//!
//! Without a timer, the adapter bounds its waits with the socket's read and
//! write timeouts, so it enforces [`WebSocketConfig`]'s handshake timeout
//! and the core's deadlines (keepalive pings and their timeout, the idle
//! and close timeouts) on the `TcpStream`s it knows about: those of
//! [`connect`], [`ClientBuilder::connect`], [`accept_tcp`] and
//! [`ServerBuilder::accept_tcp`]. Before each read it sets the socket's
//! read timeout to the time left until the next deadline (and, while
//! closing, the write timeout too), and puts the previous ones back at the
//! end.
//!
//! A read timeout the caller sets on such a socket (`get_ref()`) is still
//! honoured: a read waits for whichever comes first, and the caller's
//! timeout is returned as before (below).
//!
//! On any other stream ([`accept`], [`ServerBuilder::accept`],
//! [`ClientBuilder::connect_on`], [`WebSocket::from_raw`]) the caller sets
//! the timeouts: the deadlines are then only checked whenever a read or
//! write returns, and a timeout of the stream's (`WouldBlock` or
//! `TimedOut`) while closing makes the adapter look at the deadlines and
//! try again. Only a known `TcpStream` is shut down at the end; other
//! streams end when dropped.
//!
//! While the connection is open, a timeout the caller set on the stream is
//! returned as [`Error::Io`](crate::Error::Io) with kind `WouldBlock` or
//! `TimedOut` and does not end the connection: nothing was lost, and the
//! next call carries on. Every other I/O error ends it.
//!
//! Reading and writing happen in turn on one thread: a peer that neither
//! reads nor closes can hold a write up until the write timeout.

mod handshake;
mod inner;
mod socket;
mod transport;
mod websocket;

#[cfg(feature = "rustls")]
pub use self::handshake::TlsStream;
pub use self::handshake::{accept, accept_tcp, connect, ClientBuilder, ServerBuilder};
pub use self::transport::MaybeTlsStream;
pub use self::websocket::{Incoming, WebSocket};
pub use crate::config::WebSocketConfig;
pub use crate::handshake_spec::{Accepted, Decision, NoHttp, WithHttp};
