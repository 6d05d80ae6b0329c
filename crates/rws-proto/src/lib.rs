//! # rws-proto: the sans-IO WebSocket protocol core
//!
//! RFC 6455 with no I/O, no async runtime and no clock: bytes in, events
//! out; commands in, bytes out. Use it to run WebSocket on any transport;
//! most applications use the `rws` crate, which adds tokio and blocking
//! adapters on top.
//!
//! - [`frame`]: frame headers and masking (RFC 6455 §5.2–5.3).
//! - [`handshake`]: the opening handshake for both roles (§4).
//! - [`Connection`]: the state machine for both roles (§5–§7).
//!
//! ```
//! use rws_proto::{CloseCode, CloseFrame, Config, Connection, Event, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! let mut pump = |from: &mut Connection, to: &mut Connection| {
//!     let bytes = from.pending_output().to_vec();
//!     from.consume_output(bytes.len());
//!     to.handle_input(&bytes);
//! };
//!
//! client.send(Message::text("ping?")).unwrap();
//! pump(&mut client, &mut server);
//! assert_eq!(server.poll_event(), Some(Event::Message(Message::text("ping?"))));
//!
//! // The server closes; the client's core answers by itself.
//! server.close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))).unwrap();
//! pump(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Some(Event::CloseReceived(Some(_)))));
//! pump(&mut client, &mut server);
//! assert!(matches!(server.poll_event(), Some(Event::CloseReceived(_))));
//! assert!(matches!(server.poll_event(), Some(Event::Closed(c)) if c.clean));
//! ```
#![warn(missing_docs)]

mod close;
mod connection;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
mod message;
mod random;
mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use connection::{
    Closed, Config, Connection, Event, Fragment, Initiator, PreparedMessage, Role, State,
    TransportAction,
};
pub use error::{HandshakeError, ProtocolError, SendError};
pub use message::{Message, MessageKind, Utf8Bytes};

pub use bytes;
pub use http;
