//! The tokio adapter: [`WebSocket`] over any `AsyncRead + AsyncWrite`
//! stream, [`connect`] and [`accept`] with their builders.
//!
//! The core decides every deadline (keepalive, idle, close); this adapter
//! runs the shared driver and waits for the next deadline on one tokio
//! timer. The opening handshake is bounded by
//! [`WebSocketConfig::handshake_timeout`].

mod handshake;
mod inner;
mod split;
pub(crate) mod transport;
mod websocket;

#[cfg(feature = "rustls")]
pub use self::handshake::TlsStream;
pub use self::handshake::{
    accept, connect, AsyncOnRequest, ClientBuilder, Decision, OnRequest, ServerBuilder,
};
pub use self::split::{ReadHalf, ReuniteError, WriteHalf};
pub use self::transport::MaybeTlsStream;
pub use self::websocket::WebSocket;
pub(crate) use crate::config::WebSocketConfig;
