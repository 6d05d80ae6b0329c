//! A message framed once for many connections: [`PreparedMessage`].

use std::sync::{Mutex, OnceLock, PoisonError};

use bytes::Bytes;

use super::compression::compress_alone;
use crate::message::Message;

/// A compressor's level and window bits.
type Settings = (u32, u8);

/// A message to send to many connections (a broadcast), whose
/// permessage-deflate compression is done once per distinct compressor
/// setting instead of once per connection.
///
/// Connections that compress each message on their own (no context
/// takeover on their side, as a server asks with
/// [`DeflateConfig::server_no_context_takeover`](crate::deflate::DeflateConfig::server_no_context_takeover))
/// and with the same level and window produce the same compressed bytes
/// for a message: the first [`Connection::send_prepared`](crate::Connection::send_prepared)
/// compresses it, and every other connection with those settings sends the
/// same bytes (shared, not copied, when large). Connections with context
/// takeover compress it with their own context, and connections without
/// compression send it as it is, so any connection may be given any
/// prepared message. It can be shared between threads (`Arc`).
///
/// ```
/// use rws_proto::deflate::{DeflateConfig, DeflateParams};
/// use rws_proto::{Config, Connection, Event, Message, PreparedMessage, Role};
///
/// let mut params = DeflateParams::default();
/// params.server_no_context_takeover = true;
/// let config = Config::default().deflate(Some(DeflateConfig::default()));
/// let mut servers: Vec<Connection> = (0..3)
///     .map(|_| Connection::new(Role::Server, config.clone()).with_deflate(params.clone()))
///     .collect();
/// let line = PreparedMessage::new(Message::text("hello, everyone! ".repeat(20)));
/// for server in &mut servers {
///     server.send_prepared(&line).unwrap();
/// }
/// // Compressed once: the same frame for each, far shorter than the text.
/// let frame = servers[0].pending_output().to_vec();
/// assert!(frame.len() < 60);
/// assert!(servers.iter().all(|server| server.pending_output() == frame));
///
/// // A client inflates it as usual.
/// let mut client = Connection::new(Role::Client, config).with_deflate(params);
/// client.handle_input(&frame);
/// assert_eq!(client.poll_event(), Some(Event::Message(line.message().clone())));
/// ```
#[derive(Debug)]
pub struct PreparedMessage {
    message: Message,
    /// The compressed payload for the first compressor settings asked for
    /// (a server usually has one), `None` when the message goes out as it
    /// is under them.
    first: OnceLock<(Settings, Option<Bytes>)>,
    /// The same for other settings.
    others: Mutex<Vec<(Settings, Option<Bytes>)>>,
}

impl PreparedMessage {
    /// Prepares `message`; nothing is compressed until a connection sends
    /// it.
    pub fn new(message: Message) -> PreparedMessage {
        PreparedMessage {
            message,
            first: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message's payload compressed with `settings` and no context,
    /// compressed on the first call for these settings only: `None` when
    /// it goes out uncompressed.
    pub(super) fn compressed(&self, settings: Settings) -> Option<Bytes> {
        let (first, compressed) = self
            .first
            .get_or_init(|| (settings, self.compress(settings)));
        if *first == settings {
            return compressed.clone();
        }
        let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, compressed)) = others.iter().find(|(s, _)| *s == settings) {
            return compressed.clone();
        }
        let compressed = self.compress(settings);
        others.push((settings, compressed.clone()));
        compressed
    }

    /// How many times the payload was compressed (for tests).
    #[cfg(test)]
    pub(super) fn compressions(&self) -> usize {
        let first = self.first.get().is_some_and(|(_, c)| c.is_some());
        let others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        usize::from(first) + others.iter().filter(|(_, c)| c.is_some()).count()
    }

    fn compress(&self, (level, bits): Settings) -> Option<Bytes> {
        let mut out = Vec::new();
        match compress_alone(level, bits, self.message.as_payload(), &mut out) {
            Some(true) => Some(Bytes::from(out)),
            _ => None,
        }
    }
}

impl From<Message> for PreparedMessage {
    fn from(message: Message) -> PreparedMessage {
        PreparedMessage::new(message)
    }
}
