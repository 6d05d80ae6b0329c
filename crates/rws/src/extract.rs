//! The WebSocket extractor for axum 0.8 handlers (the `axum` feature):
//! [`WebSocketUpgrade`], in the spirit of `axum::extract::ws`, with
//! permessage-deflate on offer, over HTTP/1.1 and HTTP/2 alike.
//!
//! ```no_run
//! use axum::response::Response;
//! use axum::routing::any;
//! use axum::Router;
//! use rws::extract::WebSocketUpgrade;
//!
//! async fn echo(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(|mut ws| async move {
//!         while let Some(Ok(message)) = ws.recv().await {
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//!
//! # async fn run() {
//! let app: Router = Router::new().route("/echo", any(echo));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! Route it with `any` (or `get` plus `connect`): over HTTP/2, browsers
//! open WebSockets with CONNECT (RFC 8441), which `axum::serve` allows
//! with axum's `http2` feature.
//!
//! # Coming from `axum::extract::ws`
//!
//! - The extractor and `on_upgrade` have the same shape: change the
//!   `use` lines. The socket is an [`rws::WebSocket`](crate::WebSocket)
//!   over [`Upgraded`](crate::Upgraded).
//! - `recv` yields `Option<Result<Message, rws::Error>>` as axum's does,
//!   but ends with `None` after a normal close, and with
//!   [`Error::Closed`](crate::Error::Closed) (the code and reason) when
//!   the peer closed with an error code; pings are answered and close
//!   frames replied to without your help, so `Message` has no `Ping`,
//!   `Pong` or `Close` to match on (see [`Event`](crate::Event) through
//!   `recv_event` if you want them).
//! - `Message::Text(t)` and `Message::Binary(b)` become
//!   [`Message::text`](crate::Message::text) and
//!   [`Message::binary`](crate::Message::binary); read them with
//!   `as_text()` (text only) and `as_payload()` (either).
//! - `ws.send(Message::Close(..))` becomes
//!   `ws.close(CloseCode::NORMAL, "reason")`, which also waits for the
//!   peer's reply.
//! - permessage-deflate is on offer by default (axum's extractor has
//!   none): [`deflate`](WebSocketUpgrade::deflate) sets the policy or
//!   turns it off.
//! - `protocols`, `max_message_size`, `max_frame_size`, `on_failed_upgrade`
//!   and `selected_protocol` keep their names; the other limits and the
//!   keepalive live in [`WebSocketConfig`](crate::WebSocketConfig).

use std::fmt;
use std::future::Future;

use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::Version;
use rws_proto::deflate::DeflateConfig;
use rws_proto::handshake::{Accept, UpgradeRequest};

use crate::upgrade::{Refusal, Upgrade};
use crate::{Error, Upgraded, WebSocket, WebSocketConfig};

/// The extractor of a WebSocket upgrade request, over HTTP/1.1 or HTTP/2.
///
/// A request that is not a valid upgrade is refused with its HTTP status
/// (400, 405, 426) before the handler runs.
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    upgrade: Upgrade,
    config: WebSocketConfig,
    protocol: Option<String>,
    on_failed_upgrade: F,
}

impl<F> fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", self.upgrade.request())
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refusal> {
        Ok(WebSocketUpgrade {
            upgrade: Upgrade::from_parts(parts)?,
            config: WebSocketConfig::default().deflate(Some(DeflateConfig::default())),
            protocol: None,
            on_failed_upgrade: DefaultOnFailedUpgrade,
        })
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Refusal::into_response::<Body>(self)
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The request: path, query, headers, the subprotocols offered.
    pub fn request(&self) -> &UpgradeRequest {
        self.upgrade.request()
    }

    /// HTTP/1.1, or HTTP/2 when the WebSocket is a stream of an HTTP/2
    /// connection.
    pub fn version(&self) -> Version {
        self.upgrade.version()
    }

    /// The subprotocols the client offered, in its order.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.upgrade.request().protocols()
    }

    /// Chooses the first of `protocols` (in this order of preference) that
    /// the client offered, if any.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let offered: Vec<&str> = self.upgrade.request().protocols().collect();
        self.protocol = protocols
            .into_iter()
            .find(|p| offered.contains(&p.as_ref()))
            .map(|p| p.as_ref().to_owned());
        self
    }

    /// The subprotocol chosen, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Sets every setting of the connection at once. The extractor starts
    /// from the defaults with permessage-deflate on offer.
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The permessage-deflate policy (RFC 7692), or `None` to refuse it.
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.config = self.config.deflate(deflate);
        self
    }

    /// The largest message, in bytes (default 64 MiB); a larger one fails
    /// the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_message_size(bytes);
        self
    }

    /// The largest frame, in bytes; a larger one fails the connection with
    /// 1009.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_frame_size(bytes);
        self
    }

    /// What to do if the connection cannot be taken over after the
    /// response went out (the client left, the handshake timeout passed).
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            upgrade: self.upgrade,
            config: self.config,
            protocol: self.protocol,
            on_failed_upgrade: callback,
        }
    }

    /// Accepts: returns the response for the handler to return (101, or
    /// 200 over HTTP/2) and runs `callback` with the WebSocket in a task
    /// of its own once the connection is handed over.
    #[must_use = "the response must be returned for the WebSocket to open"]
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket<Upgraded>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let accept = match self.protocol {
            Some(protocol) => Accept::new().protocol(protocol),
            None => Accept::new(),
        };
        let (response, pending) = self.upgrade.config(self.config).accept::<Body>(accept);
        let on_failed_upgrade = self.on_failed_upgrade;
        tokio::spawn(async move {
            match pending.await {
                Ok(ws) => callback(ws).await,
                Err(error) => on_failed_upgrade.call(error),
            }
        });
        response
    }
}

/// What to do when the connection cannot be taken over after the
/// response: any `FnOnce(rws::Error)`.
pub trait OnFailedUpgrade: Send + 'static {
    /// Called with what went wrong.
    fn call(self, error: Error);
}

impl<F: FnOnce(Error) + Send + 'static> OnFailedUpgrade for F {
    fn call(self, error: Error) {
        self(error)
    }
}

/// The default [`OnFailedUpgrade`]: the error is dropped.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    fn call(self, _error: Error) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_is_an_on_failed_upgrade_given_the_error() {
        let (tx, rx) = std::sync::mpsc::channel();
        OnFailedUpgrade::call(
            move |error: Error| tx.send(error.to_string()).unwrap(),
            Error::HandshakeTimeout,
        );
        assert_eq!(rx.recv().unwrap(), Error::HandshakeTimeout.to_string());
    }
}
