//! # rws: WebSocket for Rust
//!
//! RFC 6455 for both roles: a sans-IO protocol core ([`rws_proto`],
//! re-exported as [`proto`]), a tokio adapter (the `tokio` feature, re-exported at
//! the crate root) and a blocking adapter over `std::io` streams
//! ([`blocking`], the `blocking` feature); both features are on by default.
//! After the opening handshake, client and server hold the same
//! `WebSocket` type with the same lifecycle: open, messages, close.
//!
//! A client:
//!
//! ```no_run
//! # async fn run() -> Result<(), rws::Error> {
//! use rws::{CloseCode, Message};
//!
//! let (mut ws, _response) = rws::connect("ws://127.0.0.1:9001/echo").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.recv().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(CloseCode::NORMAL, "done").await?;
//! # Ok(()) }
//! ```
//!
//! A server:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = rws::accept(tcp).await?;
//!         while let Some(message) = ws.recv().await {
//!             ws.send(message?).await?;
//!         }
//!         Ok::<_, rws::Error>(())
//!     });
//! }
//! # }
//! ```
//!
//! `wss://` works the same way with the `rustls` feature (see the `tls`
//! module for the roots and the provider, and `tls::TlsAcceptor` for
//! servers), and a
//! client can go through an HTTP CONNECT or SOCKS5 proxy ([`Proxy`]):
//!
//! ```no_run
//! # async fn run() -> Result<(), rws::Error> {
//! # #[cfg(feature = "rustls")] {
//! let (ws, _) = rws::ClientBuilder::new("wss://echo.example/feed")
//!     .proxy(rws::Proxy::new("http://proxy.example:3128")?)
//!     .connect()
//!     .await?;
//! # }
//! # Ok(()) }
//! ```
//!
//! Inside a hyper 1.x or axum 0.8 server, the `hyper` feature's
//! `upgrade` module and the `axum` feature's `extract::WebSocketUpgrade`
//! turn a request into the same `WebSocket`, over HTTP/1.1 or HTTP/2
//! (RFC 8441); the `hyper` feature's `http2` module opens WebSockets as
//! streams of an HTTP/2 connection. Both features are off by default.
//!
//! Everything a program needs is at the crate root, so a glob import works
//! beside tokio's own macros:
//!
//! ```no_run
//! use rws::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let (mut ws, _response) = connect("ws://127.0.0.1:9001/echo").await?;
//!     ws.send(Message::text("hello")).await?;
//!     ws.close(CloseCode::NORMAL, "").await
//! }
//! ```
#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
mod config;
#[cfg(any(feature = "tokio", feature = "blocking"))]
mod driver;
mod error;
#[cfg(feature = "axum")]
pub mod extract;
#[cfg(any(feature = "tokio", feature = "blocking"))]
mod handshake_spec;
#[cfg(feature = "hyper")]
pub mod http2;
mod proxy;
#[cfg(any(feature = "tokio", feature = "blocking"))]
mod read_buffer;
#[cfg(feature = "rustls")]
pub mod tls;
#[cfg(feature = "hyper")]
pub mod upgrade;

/// The most parts of the queued output given to one vectored write.
#[cfg(any(feature = "tokio", feature = "blocking"))]
const WRITE_SLICES: usize = 16;
// Private, re-exported below: a public `rws::tokio` would shadow the tokio
// crate in code that does `use rws::*;` (then `#[tokio::main]` fails).
#[cfg(feature = "tokio")]
mod tokio;

pub use config::WebSocketConfig;
pub use error::Error;
#[cfg(any(feature = "tokio", feature = "blocking"))]
pub use handshake_spec::{Accepted, NoHttp, WithHttp};
pub use proxy::{Proxy, ProxyError};
/// The sans-IO protocol core, whole: the [`Connection`](proto::Connection)
/// state machine, frames, the handshake's parts, for those who drive the
/// protocol themselves (the crate root has what a program needs).
pub use rws_proto as proto;

/// The Rust examples of the README, compiled by `cargo test` as doctests
/// (those marked `no_run` are compiled, not run), so that they cannot fall
/// behind the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
pub use rws_proto::handshake::{Accept, HeadLimits, Rejection, UpgradeRequest};
pub use rws_proto::{bytes, deflate, http};
pub use rws_proto::{
    CloseCode, CloseFrame, Closed, Config, Event, Fragment, HandshakeError, Initiator, Message,
    MessageKind, PreparedMessage, ProtocolError, Role, SendError, State, Utf8Bytes,
};

#[cfg(all(feature = "tokio", feature = "rustls"))]
pub use crate::tokio::TlsStream;
#[cfg(feature = "tokio")]
pub use crate::tokio::{
    accept, connect, AsyncOnRequest, ClientBuilder, Decision, MaybeTlsStream, OnRequest, ReadHalf,
    ReuniteError, ServerBuilder, WebSocket, WriteHalf,
};
#[cfg(feature = "hyper")]
pub use crate::upgrade::Upgraded;
