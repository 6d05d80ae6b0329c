//! Chat rooms shared by several `rws serve` nodes through Redis pub/sub
//! (`rws serve --redis redis://HOST:PORT[/DB]`, or `rediss://` for TLS).
//!
//! Each node delivers its own members' lines to its local members at once
//! (Redis or not), and publishes them on the room's channel,
//! `rws:chat:<room>`, for the other nodes. It subscribes to a room's
//! channel while it has a member in the room, on one connection for the
//! whole node, and hands what arrives there to the room's local members.
//! A channel message is the publishing node's id (16 hex digits), a
//! newline, then the line; a node drops the messages that carry its own id,
//! so a member sees its own line once.
//!
//! What this promises:
//! - One member's lines reach every member of the room, on every node, in
//!   the order sent: a room publishes them in order, on one connection, and
//!   Redis delivers a connection's messages to each subscriber in order.
//!   Lines of members on different nodes may interleave differently on
//!   different nodes.
//! - Redis pub/sub is at-most-once: while a node's link to Redis is down
//!   its members' lines reach only its own members, and the lines of other
//!   nodes do not reach them; nothing is replayed. The members with the
//!   `chat` subprotocol are told when the link is lost and when it is back
//!   (`{"type":"relay","up":false}` / `true`), so they know lines may be
//!   missing. A line is also dropped (and counted in the log) when a room
//!   cannot take relayed lines as fast as Redis brings them, or when more
//!   than [`OUTBOX`] lines wait to be published.
//! - Losing Redis never closes a WebSocket: the node goes on serving its
//!   local members, logs the loss, tries again with backoff (up to
//!   [`MAX_BACKOFF`] apart) and subscribes again to its rooms' channels.
//! - Each member's bounded queue and the 1008 for a member that cannot keep
//!   up hold as without Redis: a slow member slows nobody, on any node.
//!
//! Presence (`here`, `joined`, `left`) stays per node: a member is told of
//! the members connected to the same node only.

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushInfo, PushKind, Value};
use rws::{Message, Utf8Bytes};
use tokio::sync::{mpsc, Notify};
use tracing::{info, warn};

use super::chat::Rooms;

/// The prefix of a room's channel: `rws:chat:<room>`.
const CHANNEL_PREFIX: &str = "rws:chat:";

/// How many lines may wait to be published; beyond it, lines are not
/// relayed (their local members still get them).
pub(super) const OUTBOX: usize = 8192;

/// How many waiting lines go to Redis in one pipeline.
const BATCH: usize = 256;

/// The first wait before trying Redis again after losing it; each failure
/// doubles it, up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between two tries to reach Redis again.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long one command (or connecting) may take before the link counts
/// as lost.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// A line to publish: the room's channel and the message's bytes.
struct Outgoing {
    channel: String,
    payload: Vec<u8>,
}

/// A node's link to the other nodes: what rooms use to publish their lines
/// and to say which channels the node needs.
pub(crate) struct Relay {
    /// This node's id, 16 hex digits, at the start of every message it
    /// publishes.
    node: String,
    outbox: mpsc::Sender<Outgoing>,
    /// The rooms with local members, whose channels the node should be
    /// subscribed to.
    wanted: Mutex<BTreeSet<String>>,
    /// Told when `wanted` changes.
    changed: Notify,
    /// Lines not published (the outbox was full, or Redis was down).
    unrelayed: AtomicU64,
    /// Relayed lines dropped because their room's queue was full.
    dropped: AtomicU64,
}

/// What [`run`] needs besides the rooms: made by [`Relay::new`].
pub(crate) struct Link {
    client: redis::Client,
    outbox: mpsc::Receiver<Outgoing>,
    relay: Arc<Relay>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("node", &self.node).finish()
    }
}

impl Relay {
    /// The relay of a node joined through the Redis at `url`
    /// (`redis://HOST:PORT[/DB]`, with a user and password if needed, or
    /// `rediss://` for TLS, whose server certificate is checked against the
    /// system's roots, or against `cacert`, a PEM file, when given);
    /// nothing is connected until [`run`].
    pub(crate) fn new(url: &str, cacert: Option<&Path>) -> Result<(Arc<Relay>, Link), String> {
        let tls = url.starts_with("rediss://");
        if !tls && !url.starts_with("redis://") {
            return Err(format!(
                "--redis {url}: expected redis://HOST:PORT[/DB] or rediss://"
            ));
        }
        if cacert.is_some() && !tls {
            return Err("--redis-cacert is for rediss:// URLs".to_owned());
        }
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|e| format!("--redis {url}: {e}"))?;
        // Pushes (RESP3) let one connection carry both the subscriptions
        // and the publishing.
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client = match cacert {
            Some(path) => {
                let root_cert = std::fs::read(path)
                    .map_err(|e| format!("--redis-cacert {}: {e}", path.display()))?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(info, certificates)
            }
            None => redis::Client::open(info),
        }
        .map_err(|e| format!("--redis {url}: {e}"))?;
        let (sender, outbox) = mpsc::channel(OUTBOX);
        let relay = Arc::new(Relay {
            node: node_id(),
            outbox: sender,
            wanted: Mutex::default(),
            changed: Notify::new(),
            unrelayed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let link = Link {
            client,
            outbox,
            relay: relay.clone(),
        };
        Ok((relay, link))
    }

    /// This node's id, as it appears in the messages it publishes.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// Publishes a local member's line to the other nodes of `room`
    /// without waiting: when too many lines wait already, it is not
    /// relayed.
    pub(super) fn publish(&self, room: &str, line: &str) {
        let mut payload = Vec::with_capacity(self.node.len() + 1 + line.len());
        payload.extend_from_slice(self.node.as_bytes());
        payload.push(b'\n');
        payload.extend_from_slice(line.as_bytes());
        let outgoing = Outgoing {
            channel: format!("{CHANNEL_PREFIX}{room}"),
            payload,
        };
        if self.outbox.try_send(outgoing).is_err() {
            count(&self.unrelayed, "lines not relayed (too many waiting)");
        }
    }

    /// The node has a member in `room` now: it follows the room's channel.
    pub(super) fn follow(&self, room: &str) {
        self.wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room.to_owned());
        self.changed.notify_one();
    }

    /// The node's last member of `room` left.
    pub(super) fn unfollow(&self, room: &str) {
        self.wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(room);
        self.changed.notify_one();
    }

    /// Splits a channel message into its room and line, unless it is this
    /// node's own, or not a line of a room.
    fn incoming(&self, channel: &[u8], payload: Vec<u8>) -> Option<(String, Message)> {
        let room = std::str::from_utf8(channel)
            .ok()?
            .strip_prefix(CHANNEL_PREFIX)?;
        let newline = payload.iter().position(|&b| b == b'\n')?;
        if &payload[..newline] == self.node.as_bytes() {
            return None;
        }
        let line = Bytes::from(payload).slice(newline + 1..);
        match Utf8Bytes::from_utf8(line) {
            Ok(line) => Some((room.to_owned(), Message::text(line))),
            Err(_) => {
                warn!(%room, "a relayed line is not UTF-8: dropped");
                None
            }
        }
    }
}

/// Adds one to `counter`, logging `what` with the total at 1, 2, 4, 8…
/// (so that a flood of drops cannot flood the log).
fn count(counter: &AtomicU64, what: &str) {
    let total = counter.fetch_add(1, Ordering::Relaxed) + 1;
    if total.is_power_of_two() {
        warn!(total, "{what}");
    }
}

/// A random id for this node (64 bits of the hasher keys std draws from
/// the OS for each process, and the process id).
fn node_id() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Runs the node's link to Redis until the server ends: publishes what the
/// rooms give [`Relay::publish`], keeps the subscriptions in step with the
/// rooms, hands what other nodes publish to `rooms`, and after losing
/// Redis, tries again with backoff.
pub(crate) async fn run(link: Link, rooms: Weak<Rooms>) {
    let Link {
        client,
        mut outbox,
        relay,
    } = link;
    let lost = Arc::new(Notify::new());
    let pushes = {
        let lost = lost.clone();
        let relay = relay.clone();
        let rooms = rooms.clone();
        move |push: PushInfo| -> Result<(), ()> {
            match push.kind {
                PushKind::Message => on_message(&relay, &rooms, push.data),
                PushKind::Disconnection => lost.notify_one(),
                _ => {}
            }
            Ok(())
        }
    };
    let config = ConnectionManagerConfig::new()
        .set_push_sender(pushes)
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT))
        // This loop retries with its own backoff.
        .set_number_of_retries(0);
    let mut redis = match ConnectionManager::new_lazy_with_config(client, config) {
        Ok(redis) => redis,
        Err(e) => return warn!("Redis: {e}; rooms stay on this node"),
    };
    let mut up = false;
    let mut ever_up = false;
    let mut backoff = MIN_BACKOFF;
    let mut subscribed = BTreeSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if !up {
            // A new connection: no subscription survives. Members are told
            // the link is back once the node follows its rooms again.
            subscribed.clear();
            let ready = match redis::cmd("PING").query_async::<()>(&mut redis).await {
                Ok(()) => resubscribe(&mut redis, &relay, &mut subscribed).await,
                Err(e) => Err(e),
            };
            match ready {
                Ok(()) => {
                    up = true;
                    backoff = MIN_BACKOFF;
                    if ever_up {
                        info!("Redis link back; lines from other nodes while it was down are lost");
                        tell_rooms(&rooms, true);
                    } else {
                        info!(node = relay.node(), "rooms shared through Redis");
                    }
                    ever_up = true;
                }
                Err(e) => {
                    warn!(
                        "Redis unreachable: {e}; rooms serve this node's members only; \
                           trying again in {backoff:?}"
                    );
                    let retry = tokio::time::sleep(backoff);
                    tokio::pin!(retry);
                    // Meanwhile lines are not relayed (nor kept, so that no
                    // old line is published late).
                    loop {
                        tokio::select! {
                            _ = &mut retry => break,
                            n = outbox.recv_many(&mut batch, BATCH) => {
                                if n == 0 {
                                    return;
                                }
                                for _ in batch.drain(..) {
                                    count(&relay.unrelayed, "lines not relayed (Redis down)");
                                }
                            }
                        }
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let result = tokio::select! {
            biased;
            _ = lost.notified() => Err("connection lost".to_owned()),
            _ = relay.changed.notified() => {
                resubscribe(&mut redis, &relay, &mut subscribed).await.map_err(|e| e.to_string())
            }
            n = outbox.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return;
                }
                let mut pipe = redis::pipe();
                for line in batch.drain(..) {
                    pipe.publish(line.channel, line.payload).ignore();
                }
                pipe.query_async::<()>(&mut redis).await.map_err(|e| e.to_string())
            }
        };
        if let Err(e) = result {
            up = false;
            warn!("Redis link lost ({e}); rooms serve this node's members only until it is back");
            tell_rooms(&rooms, false);
        }
    }
}

/// Subscribes to the channels of the rooms the node has members in, and
/// unsubscribes from the others.
async fn resubscribe(
    redis: &mut ConnectionManager,
    relay: &Relay,
    subscribed: &mut BTreeSet<String>,
) -> redis::RedisResult<()> {
    let wanted = relay
        .wanted
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let follow: Vec<String> = wanted
        .difference(subscribed)
        .map(|room| format!("{CHANNEL_PREFIX}{room}"))
        .collect();
    let unfollow: Vec<String> = subscribed
        .difference(&wanted)
        .map(|room| format!("{CHANNEL_PREFIX}{room}"))
        .collect();
    if !follow.is_empty() {
        redis.subscribe(&follow).await?;
    }
    if !unfollow.is_empty() {
        redis.unsubscribe(&unfollow).await?;
    }
    *subscribed = wanted;
    Ok(())
}

/// Hands a message of another node to its room, if the room still has
/// members here.
fn on_message(relay: &Relay, rooms: &Weak<Rooms>, data: Vec<Value>) {
    let mut data = data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
        (data.next(), data.next())
    else {
        return;
    };
    let Some((room, line)) = relay.incoming(&channel, payload) else {
        return;
    };
    let Some(rooms) = rooms.upgrade() else {
        return;
    };
    if !rooms.relayed(&room, line) {
        count(
            &relay.dropped,
            "relayed lines dropped (a room could not keep up)",
        );
    }
}

/// Tells every room whether the link to the other nodes is up.
fn tell_rooms(rooms: &Weak<Rooms>, up: bool) {
    if let Some(rooms) = rooms.upgrade() {
        rooms.link_changed(up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> Arc<Relay> {
        Relay::new("redis://127.0.0.1:1/", None).unwrap().0
    }

    #[test]
    fn only_redis_urls_are_taken() {
        assert!(Relay::new("redis://127.0.0.1:6379/2", None).is_ok());
        assert!(Relay::new("redis://127.0.0.1:6379", None).is_ok());
        assert!(Relay::new("rediss://localhost:6380", None).is_ok());
        assert!(Relay::new("http://127.0.0.1:6379", None).is_err());
        assert!(Relay::new("redis://", None).is_err());
        // A CA file for a URL without TLS, and a CA file that is not there.
        let ca = Path::new("/nonexistent/ca.pem");
        assert!(Relay::new("redis://127.0.0.1:6379", Some(ca)).is_err());
        let Err(missing) = Relay::new("rediss://localhost:6380", Some(ca)) else {
            panic!("a missing CA file was taken");
        };
        assert!(missing.contains("--redis-cacert"), "{missing}");
    }

    #[test]
    fn node_ids_are_16_hex_digits_and_differ() {
        let (a, b) = (relay(), relay());
        assert_eq!(a.node().len(), 16);
        assert!(a.node().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a.node(), b.node());
    }

    #[test]
    fn a_node_drops_its_own_lines_and_takes_the_others() {
        let (here, there) = (relay(), relay());
        let payload = |node: &str, line: &str| format!("{node}\n{line}").into_bytes();
        let channel = b"rws:chat:rust";
        assert!(here.incoming(channel, payload(here.node(), "hi")).is_none());
        let (room, line) = here
            .incoming(channel, payload(there.node(), "hi\nthere"))
            .unwrap();
        assert_eq!(room, "rust");
        assert_eq!(line.as_text(), Some("hi\nthere"));
        // Not a room's channel, no node id, not UTF-8.
        assert!(here
            .incoming(b"other:rust", payload(there.node(), "hi"))
            .is_none());
        assert!(here.incoming(channel, b"no newline".to_vec()).is_none());
        let mut bad = payload(there.node(), "");
        bad.push(0xff);
        assert!(here.incoming(channel, bad).is_none());
    }

    #[test]
    fn published_lines_carry_the_node_id() {
        let (relay, mut link) = Relay::new("redis://127.0.0.1:1/", None).unwrap();
        relay.publish("rust", "hello");
        let line = link.outbox.try_recv().unwrap();
        assert_eq!(line.channel, "rws:chat:rust");
        assert_eq!(
            line.payload,
            format!("{}\nhello", relay.node()).into_bytes()
        );
    }
}
