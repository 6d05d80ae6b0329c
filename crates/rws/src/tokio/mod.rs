//! The tokio adapter: [`WebSocket`] over any `AsyncRead + AsyncWrite`
//! stream, [`connect`] and [`accept`] with their builders.
//!
//! Time-based policy lives here, not in the core: the opening handshake and
//! the close handshake are bounded by [`WebSocketConfig`]'s timeouts.

mod handshake;
mod inner;
mod split;
mod websocket;

pub use self::handshake::{accept, connect, ClientBuilder, Decision, ServerBuilder};
pub use self::split::{ReadHalf, ReuniteError, WriteHalf};
pub use self::websocket::WebSocket;
pub use crate::config::WebSocketConfig;
