//! Chat rooms: `/chat` (the room "lobby") and `/chat/<room>`.
//!
//! Each room is a task that owns its member list and receives, through one
//! channel, the joins, the leaves and the text messages of its members, so
//! that every member sees the messages in the order the room received them
//! (its own included). The room hands each message to every member with
//! `try_send` on the member's bounded queue: a member whose queue is full
//! cannot keep up, and is disconnected with 1008 (policy violation) rather
//! than slowing the room down or letting its queue grow. A message goes
//! to every member as one shared [`PreparedMessage`]: its payload is not
//! copied, and with permessage-deflate it is compressed once for all the
//! members with the same settings (`rws serve` asks for no context
//! takeover on its side), not once per member.
//!
//! With the `chat` subprotocol, a member also gets presence events, as
//! binary messages of JSON (members' lines are text, and binary messages
//! from members are ignored, so nobody can forge one): on joining
//! `{"type":"here","names":[...]}` (who else is in the room), then
//! `{"type":"joined","name":..,"count":n}` and `{"type":"left",..}` as
//! members come and go. A member's name is the `name` of its request's
//! query (`/chat/rust?name=ann`), "guest" without one.
//!
//! With `--redis`, rooms span every node on the same Redis: see
//! [`super::relay`].
//!
//! Each connection is split: a writer task drains the member's queue into
//! the write half, while the connection task reads, forwards text messages
//! to the room and ignores binary ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rws::{CloseCode, Error, Message, PreparedMessage, WebSocket, WriteHalf};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

#[cfg(feature = "redis")]
use super::relay::Relay;
use super::Shared;

/// How many commands may wait for a room; a member that sends faster than
/// its room forwards waits (its reads are slowed), nobody else does.
const ROOM_BACKLOG: usize = 1024;

/// How long the writer tries to send its close frame. A client that cannot
/// keep up usually has its buffers full, so the close frame may never go
/// out: the connection is then dropped.
const CLOSE_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// The close code for a client that cannot keep up with its room.
const TOO_SLOW: CloseCode = CloseCode::POLICY_VIOLATION;

/// Whether `name` may name a room: 1 to 64 of `[A-Za-z0-9_-]`.
pub(super) fn valid_room(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The open rooms, by name, with their member counts. A room is removed
/// when its last member leaves; its task then ends.
#[derive(Default)]
pub(crate) struct Rooms {
    rooms: Mutex<HashMap<String, RoomHandle>>,
    next_id: AtomicU64,
    /// With `--redis`: the link to the other nodes.
    #[cfg(feature = "redis")]
    relay: Option<Arc<Relay>>,
}

struct RoomHandle {
    commands: mpsc::Sender<Command>,
    members: usize,
}

enum Command {
    Join {
        id: u64,
        queue: mpsc::Sender<Line>,
        kick: oneshot::Sender<()>,
        name: String,
        presence: bool,
    },
    Leave(u64),
    /// A line of a local member: for every member here, and for the other
    /// nodes.
    Say(Message),
    /// A line from another node (`--redis`): for the members here.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Relayed(Message),
    /// The link to the other nodes was lost (false) or is back (true).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Link(bool),
}

/// What a member's queue holds: a message shared by every member it goes
/// to.
type Line = Arc<PreparedMessage>;

struct Member {
    queue: mpsc::Sender<Line>,
    kick: Option<oneshot::Sender<()>>,
    /// The name it joined under (`?name=`), for the presence events.
    name: String,
    /// Whether it gets the presence events: it agreed on the `chat`
    /// subprotocol, which defines them.
    presence: bool,
}

/// Hands `message` to the members `to` picks. A member whose queue is full
/// cannot keep up: it is kicked (its connection closes with 1008) and
/// leaves the room, and the others are told.
fn deliver(
    members: &mut HashMap<u64, Member>,
    message: &Message,
    to: impl Fn(u64, &Member) -> bool,
) {
    let mut kicked = Vec::new();
    hand_out(members, message.clone(), to, &mut kicked);
    // Telling of one kicked member may kick another: until none is.
    while let Some(name) = kicked.pop() {
        let left = left(&name, members.len());
        hand_out(members, left, |_, member| member.presence, &mut kicked);
    }
}

/// [`deliver`] without telling: the names of the members that left (kicked,
/// or found gone) go to `kicked`.
fn hand_out(
    members: &mut HashMap<u64, Member>,
    message: Message,
    to: impl Fn(u64, &Member) -> bool,
    kicked: &mut Vec<String>,
) {
    let line = Arc::new(PreparedMessage::new(message));
    members.retain(|&id, member| {
        if !to(id, member) {
            return true;
        }
        match member.queue.try_send(line.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                if let Some(kick) = member.kick.take() {
                    let _ = kick.send(());
                }
                kicked.push(std::mem::take(&mut member.name));
                false
            }
            // Its connection is ending (its `Leave` will find it gone).
            Err(TrySendError::Closed(_)) => {
                kicked.push(std::mem::take(&mut member.name));
                false
            }
        }
    });
}

/// The presence event for `name` leaving, `count` members staying.
fn left(name: &str, count: usize) -> Message {
    presence(serde_json::json!({"type": "left", "name": name, "count": count}))
}

/// A presence event of the `chat` subprotocol: a binary message holding a
/// JSON object (text messages are the members' lines, which anyone may
/// send; binary ones only ever come from the server).
fn presence(event: serde_json::Value) -> Message {
    Message::binary(event.to_string().into_bytes())
}

/// The name a member gives in its request (`/chat/rust?name=ann`): 1 to 32
/// characters without control characters, or "guest".
pub(super) fn member_name(query: Option<&str>) -> String {
    query
        .into_iter()
        .flat_map(|query| form_urlencoded::parse(query.as_bytes()))
        .find(|(key, _)| key == "name")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|name| {
            (1..=32).contains(&name.chars().count()) && !name.chars().any(char::is_control)
        })
        .unwrap_or_else(|| "guest".to_owned())
}

impl Rooms {
    /// Rooms shared with the other nodes through `relay`.
    #[cfg(feature = "redis")]
    pub(crate) fn relayed_by(relay: Arc<Relay>) -> Rooms {
        Rooms {
            relay: Some(relay),
            ..Rooms::default()
        }
    }

    /// Counts a new member in `name`, opening the room if needed; returns
    /// the member's id and the room's command channel.
    fn join(&self, name: &str) -> (u64, mpsc::Sender<Command>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let room = rooms.entry(name.to_owned()).or_insert_with(|| {
            let (commands, receiver) = mpsc::channel(ROOM_BACKLOG);
            #[cfg(feature = "redis")]
            let relay = self.relay.clone();
            #[cfg(feature = "redis")]
            if let Some(relay) = &relay {
                relay.follow(name);
            }
            #[cfg(not(feature = "redis"))]
            let relay = None;
            tokio::spawn(room(name.to_owned(), receiver, relay));
            RoomHandle {
                commands,
                members: 0,
            }
        });
        room.members += 1;
        (id, room.commands.clone())
    }

    /// Uncounts a member of `name`, removing the room if it was the last.
    fn leave(&self, name: &str) {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(room) = rooms.get_mut(name) {
            room.members -= 1;
            if room.members == 0 {
                rooms.remove(name);
                #[cfg(feature = "redis")]
                if let Some(relay) = &self.relay {
                    relay.unfollow(name);
                }
            }
        }
    }

    /// Hands a line from another node to the room `name`, if it has members
    /// here; false when the room's queue is full (the line is dropped).
    #[cfg(feature = "redis")]
    pub(crate) fn relayed(&self, name: &str, line: Message) -> bool {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        match rooms.get(name) {
            Some(room) => room.commands.try_send(Command::Relayed(line)).is_ok(),
            None => true,
        }
    }

    /// Tells every room that the link to the other nodes is lost or back.
    #[cfg(feature = "redis")]
    pub(crate) fn link_changed(&self, up: bool) {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        for room in rooms.values() {
            let _ = room.commands.try_send(Command::Link(up));
        }
    }
}

/// What a room publishes its lines with: the relay with `--redis`.
#[cfg(feature = "redis")]
type Publisher = Option<Arc<Relay>>;
/// What a room publishes its lines with: nothing without Redis.
#[cfg(not(feature = "redis"))]
type Publisher = Option<std::convert::Infallible>;

/// A room's task: ends once every sender of `commands` is gone.
async fn room(name: String, mut commands: mpsc::Receiver<Command>, relay: Publisher) {
    info!(room = %name, "room opened");
    #[cfg(not(feature = "redis"))]
    let _ = relay;
    let mut members: HashMap<u64, Member> = HashMap::new();
    while let Some(command) = commands.recv().await {
        match command {
            Command::Join {
                id,
                queue,
                kick,
                name,
                presence: wants,
            } => {
                let count = members.len() + 1;
                let joined =
                    presence(serde_json::json!({"type": "joined", "name": name, "count": count}));
                deliver(&mut members, &joined, |_, member| member.presence);
                let here: Vec<&str> = members.values().map(|m| m.name.as_str()).collect();
                let here = presence(serde_json::json!({"type": "here", "names": here}));
                let kick = Some(kick);
                members.insert(
                    id,
                    Member {
                        queue,
                        kick,
                        name,
                        presence: wants,
                    },
                );
                if wants {
                    deliver(&mut members, &here, |member, _| member == id);
                }
            }
            Command::Leave(id) => {
                if let Some(member) = members.remove(&id) {
                    let count = members.len();
                    let left = presence(
                        serde_json::json!({"type": "left", "name": member.name, "count": count}),
                    );
                    deliver(&mut members, &left, |_, member| member.presence);
                }
            }
            Command::Say(message) => {
                deliver(&mut members, &message, |_, _| true);
                #[cfg(feature = "redis")]
                if let (Some(relay), Some(line)) = (&relay, message.as_text()) {
                    relay.publish(&name, line);
                }
            }
            Command::Relayed(message) => deliver(&mut members, &message, |_, _| true),
            Command::Link(up) => {
                let event = presence(serde_json::json!({"type": "relay", "up": up}));
                deliver(&mut members, &event, |_, member| member.presence);
            }
        }
    }
    info!(room = %name, "room closed");
}

/// Runs a chat connection until the peer closes, fails, cannot keep up, or
/// the server shuts down (then closes with 1001).
pub(super) async fn run<S>(ws: WebSocket<S>, peer: SocketAddr, name: String, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    info!(%peer, room = %name, protocol = ws.protocol(), http = super::carried_by(&ws),
        deflate = super::deflate_of(&ws), "connected on chat");
    let (id, commands) = shared.rooms.join(&name);
    let (queue, queued) = mpsc::channel(shared.chat_queue);
    let (kick, mut kicked) = oneshot::channel();
    let join = Command::Join {
        id,
        queue,
        kick,
        name: member_name(ws.request().and_then(|r| r.uri().query())),
        presence: ws.protocol() == Some("chat"),
    };
    let _ = commands.send(join).await;
    let (mut read, write) = ws.split();
    let (stop, stopped) = oneshot::channel();
    let writer = tokio::spawn(write_queue(write, queued, stopped));
    let mut stop = Some(stop);
    let shutting_down = shared.shutdown.stopped();
    tokio::pin!(shutting_down);
    let mut kick_done = false;
    let mut too_slow = false;
    let mut count = 0u64;
    let failure = loop {
        tokio::select! {
            message = read.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    count += 1;
                    // After a shutdown, just complete the close handshake.
                    if stop.is_some() {
                        let _ = commands.send(Command::Say(Message::Text(text))).await;
                    }
                }
                // Binary messages have no meaning in a chat: ignored.
                Some(Ok(Message::Binary(_))) => {}
                // The peer's own close code (4000, 1011...): an end, not
                // a failure of the server's; logged as closed below.
                Some(Err(Error::Closed(_))) => {}
                Some(Err(e)) => break Some(e),
                None => break None,
            },
            result = &mut kicked, if !kick_done => {
                kick_done = true;
                if result.is_ok() {
                    too_slow = true;
                    if let Some(stop) = stop.take() {
                        let _ = stop.send((TOO_SLOW, "cannot keep up"));
                    }
                    break None;
                }
            }
            _ = &mut shutting_down, if stop.is_some() => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send((CloseCode::GOING_AWAY, "server shutting down"));
                }
            }
        }
    };
    let _ = commands.send(Command::Leave(id)).await;
    drop(commands);
    shared.rooms.leave(&name);
    drop(stop);
    let write = writer.await;
    if too_slow {
        return warn!(%peer, room = %name, messages = count,
            "disconnected, cannot keep up; closed: {TOO_SLOW}");
    }
    if let Some(e) = failure {
        return warn!(%peer, room = %name, messages = count, "connection failed: {e}");
    }
    match write.ok().and_then(|write| read.reunite(write).ok()) {
        Some(ws) => match ws.closed() {
            Some(closed) => info!(%peer, room = %name, messages = count, "closed: {}", closed.code),
            None => info!(%peer, room = %name, messages = count, "closed"),
        },
        None => info!(%peer, room = %name, messages = count, "closed"),
    }
}

/// How the writer's queue pumping ended.
enum Ended {
    Stopped(Result<(CloseCode, &'static str), oneshot::error::RecvError>),
    Pumped(Result<(), Error>),
}

/// Drains `queue` into `write` until told to stop: then sends a close
/// frame with the code given (unless the stop sender was just dropped).
async fn write_queue<S: AsyncRead + AsyncWrite + Unpin>(
    mut write: WriteHalf<S>,
    mut queue: mpsc::Receiver<Line>,
    mut stop: oneshot::Receiver<(CloseCode, &'static str)>,
) -> WriteHalf<S> {
    let pump = async {
        while let Some(message) = queue.recv().await {
            write.feed_prepared(&message).await?;
            if queue.is_empty() {
                write.flush().await?;
            }
        }
        Ok(())
    };
    let ended = tokio::select! {
        stopped = &mut stop => Ended::Stopped(stopped),
        pumped = pump => Ended::Pumped(pumped),
    };
    let close = match ended {
        Ended::Stopped(stopped) => stopped.ok(),
        // The room let go of the queue (this member was kicked): wait for
        // the connection task's word.
        Ended::Pumped(Ok(())) => stop.await.ok(),
        Ended::Pumped(Err(_)) => None,
    };
    if let Some((code, reason)) = close {
        let _ = tokio::time::timeout(CLOSE_SEND_TIMEOUT, write.close(code, reason)).await;
    }
    write
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_come_from_the_query() {
        assert_eq!(member_name(Some("name=ann")), "ann");
        assert_eq!(member_name(Some("x=1&name=b%C3%B6b+%21")), "böb !");
        assert_eq!(member_name(Some("name=%20%20")), "guest");
        assert_eq!(member_name(Some("name=a%0Ab")), "guest");
        assert_eq!(
            member_name(Some(&format!("name={}", "é".repeat(33)))),
            "guest"
        );
        assert_eq!(
            member_name(Some(&format!("name={}", "é".repeat(32)))),
            "é".repeat(32)
        );
        assert_eq!(member_name(None), "guest");
    }
}
