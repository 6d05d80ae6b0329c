//! The chat fan-out mode (`--rooms N`): members of `rws serve`'s chat rooms
//! spread over one or more nodes, one sender per room, and the lines
//! delivered to every member counted from frame headers.
//!
//! Member `i` joins room `i % rooms` on node `(i / rooms) % nodes`, so every
//! room has members on every node when there are enough. The first member
//! of each room also sends: lines of `--size` bytes of text, keeping at
//! most `--depth` of them in flight, a line being in flight until every
//! member of the room has it. The rate measured is thus what the servers
//! can deliver without a member falling behind (and being dropped with
//! 1008 by `--chat-queue`).
//!
//! With `--deflate` the members offer permessage-deflate (no context
//! takeover either way); the servers compress each line and the members
//! count the frames without inflating them (each frame stands alone).
//! Lines are sent uncompressed.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rws::proto::frame::{FrameHeader, OpCode};
use rws::proto::handshake::ClientHandshake;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::wire::{self, open, BenchStream, Opened};
use super::ErrorKind;

/// What the fan-out run is given.
pub(super) struct FanoutPlan {
    /// The chat base of each node (`ws://HOST:PORT/chat`), resolved.
    pub nodes: Vec<(String, SocketAddr)>,
    pub rooms: usize,
    pub members: usize,
    pub size: usize,
    pub depth: usize,
    pub deflate: bool,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the fan-out run measured.
pub(super) struct FanoutResult {
    /// Lines sent, and delivered to members, in the measured window.
    pub sent: u64,
    pub delivered: u64,
    pub opened: usize,
    pub errors: BTreeMap<ErrorKind, u64>,
}

/// A room's progress: how many lines its sender sent, and how many each
/// member received; the sender waits on `progress` while too many are in
/// flight.
struct Room {
    sent: Cell<u64>,
    received: RefCell<Vec<u64>>,
    progress: Notify,
}

impl Room {
    /// Lines every member of the room has.
    fn everyone_has(&self) -> u64 {
        self.received.borrow().iter().copied().min().unwrap_or(0)
    }
}

/// Shared by every task of the run (one thread).
struct Counters {
    measuring: Cell<bool>,
    stopped: Cell<bool>,
    sent: Cell<u64>,
    delivered: Cell<u64>,
    errors: RefCell<BTreeMap<ErrorKind, u64>>,
}

impl Counters {
    fn error(&self, kind: ErrorKind) {
        if !self.stopped.get() {
            *self.errors.borrow_mut().entry(kind).or_default() += 1;
        }
    }
}

/// Runs the fan-out on a current-thread runtime of this thread; `measure`
/// is called when the measured window starts and again when it ends.
pub(super) fn run(plan: FanoutPlan, mut measure: impl FnMut()) -> Result<FanoutResult, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let counters = Rc::new(Counters {
            measuring: Cell::new(false),
            stopped: Cell::new(false),
            sent: Cell::new(0),
            delivered: Cell::new(0),
            errors: RefCell::default(),
        });
        let rooms: Vec<Rc<Room>> = (0..plan.rooms)
            .map(|r| {
                let members = (r..plan.members).step_by(plan.rooms).count();
                Rc::new(Room {
                    sent: Cell::new(0),
                    received: RefCell::new(vec![0; members]),
                    progress: Notify::new(),
                })
            })
            .collect();
        // Open every member, a room's in order, so that a member's index
        // in its room is known.
        let run_id = std::process::id();
        let mut opened = Vec::with_capacity(plan.members);
        for i in 0..plan.members {
            let (base, addr) = &plan.nodes[(i / plan.rooms) % plan.nodes.len()];
            let url = format!("{base}/fanout-{run_id}-{}", i % plan.rooms);
            let mut handshake =
                ClientHandshake::new(&url, &[]).map_err(|e| format!("{url}: {e}"))?;
            if plan.deflate {
                handshake = handshake.deflate(&wire::deflate_offer());
            }
            let mut request = Vec::new();
            handshake.encode_request(&mut request);
            match open(*addr, None, &handshake, &request).await {
                Ok(stream) => opened.push(Some(stream)),
                Err(kind) => {
                    counters.error(kind);
                    opened.push(None);
                }
            }
        }
        let count = opened.iter().filter(|o| o.is_some()).count();
        // Members join their rooms asynchronously (and, across nodes, the
        // nodes subscribe to the rooms' channels): let them settle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let line = line_frame(plan.size);
        for (i, stream) in opened.into_iter().enumerate() {
            let Some(stream) = stream else { continue };
            let room = rooms[i % plan.rooms].clone();
            let seat = i / plan.rooms;
            let counters = counters.clone();
            let sends = (i < plan.rooms).then(|| (line.clone(), plan.depth));
            tokio::task::spawn_local(member(stream, room, seat, counters, sends));
        }
        tokio::time::sleep(plan.warmup).await;
        measure();
        counters.measuring.set(true);
        tokio::time::sleep(plan.duration).await;
        counters.measuring.set(false);
        measure();
        counters.stopped.set(true);
        let errors = counters.errors.borrow().clone();
        Ok(FanoutResult {
            sent: counters.sent.get(),
            delivered: counters.delivered.get(),
            opened: count,
            errors,
        })
    })
}

/// One masked text frame of `size` bytes of ASCII words (the key is fixed:
/// the bench sends the same bytes again and again, as `rws bench` does).
fn line_frame(size: usize) -> Rc<Vec<u8>> {
    let payload = wire::payload(size);
    let key = [0x5a, 0x17, 0xc3, 0x88];
    let mut header = FrameHeader::new(OpCode::Text, payload.len() as u64);
    header.mask = Some(key);
    let mut frame = Vec::with_capacity(payload.len() + 14);
    header.encode(&mut frame);
    frame.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    Rc::new(frame)
}

/// A member: counts the text frames it receives; the room's sender also
/// sends lines while fewer than `depth` are in flight.
async fn member(
    opened: Opened,
    room: Rc<Room>,
    seat: usize,
    counters: Rc<Counters>,
    sends: Option<(Rc<Vec<u8>>, usize)>,
) {
    let Opened {
        stream, leftover, ..
    } = opened;
    let BenchStream::Plain(tcp) = stream else {
        return counters.error(ErrorKind::Protocol);
    };
    let (mut read, mut write) = tcp.into_split();
    if let Some((line, depth)) = sends {
        let (room, counters) = (room.clone(), counters.clone());
        tokio::task::spawn_local(async move {
            loop {
                while room.sent.get() - room.everyone_has() >= depth as u64 {
                    room.progress.notified().await;
                }
                if counters.stopped.get() {
                    return;
                }
                if write.write_all(&line).await.is_err() {
                    return counters.error(ErrorKind::Io);
                }
                room.sent.set(room.sent.get() + 1);
                if counters.measuring.get() {
                    counters.sent.set(counters.sent.get() + 1);
                }
            }
        });
    }
    let mut counter = FrameCounter::default();
    let mut buf = leftover;
    buf.reserve(64 << 10);
    loop {
        let (lines, closed) = counter.feed(&buf);
        buf.clear();
        if lines > 0 {
            room.received.borrow_mut()[seat] += lines;
            room.progress.notify_one();
            if counters.measuring.get() {
                counters.delivered.set(counters.delivered.get() + lines);
            }
        }
        if closed {
            return counters.error(ErrorKind::Closed);
        }
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return counters.error(ErrorKind::Closed),
            Ok(_) => {}
        }
    }
}

/// Counts the whole text messages in a stream of server frames, a header
/// at a time, skipping payloads (binary messages and control frames are
/// not counted; a close frame ends the count).
#[derive(Default)]
struct FrameCounter {
    /// Bytes of a header cut by the end of a read.
    header: Vec<u8>,
    /// Payload bytes left to skip.
    skip: u64,
    /// The message being received is text.
    text: bool,
}

impl FrameCounter {
    /// The text messages ended in `data`, and whether a close frame came.
    fn feed(&mut self, mut data: &[u8]) -> (u64, bool) {
        let mut lines = 0;
        loop {
            let skipped = self.skip.min(data.len() as u64) as usize;
            self.skip -= skipped as u64;
            data = &data[skipped..];
            if data.is_empty() {
                return (lines, false);
            }
            // A header is at most 14 bytes: gather them, across reads.
            let start = self.header.len();
            let taken = (14 - start).min(data.len());
            self.header.extend_from_slice(&data[..taken]);
            let (header, used) = match FrameHeader::decode(&self.header) {
                Ok(Some(decoded)) => decoded,
                // All of `data` went into the header so far.
                Ok(None) => return (lines, false),
                // Not a frame header: the stream is over for counting.
                Err(_) => return (lines, true),
            };
            data = &data[used - start..];
            self.header.clear();
            self.skip = header.payload_len;
            match header.opcode {
                OpCode::Close => return (lines, true),
                OpCode::Text => self.text = true,
                OpCode::Binary => self.text = false,
                _ => {}
            }
            if header.fin && !header.opcode.is_control() && self.text {
                lines += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        let mut out = Vec::new();
        header.encode(&mut out);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn lines_are_counted_across_any_reads() {
        let mut stream = Vec::new();
        stream.extend(frame(true, OpCode::Text, b"one"));
        stream.extend(frame(true, OpCode::Binary, b"{\"presence\":1}"));
        stream.extend(frame(true, OpCode::Ping, b""));
        stream.extend(frame(false, OpCode::Text, &[b'x'; 300]));
        stream.extend(frame(true, OpCode::Continuation, &[b'y'; 70_000]));
        stream.extend(frame(true, OpCode::Text, b"three"));
        for cut in [1, 2, 3, 7, 13, 100, 4096, stream.len()] {
            let mut counter = FrameCounter::default();
            let mut lines = 0;
            for chunk in stream.chunks(cut) {
                let (n, closed) = counter.feed(chunk);
                assert!(!closed);
                lines += n;
            }
            assert_eq!(lines, 3, "cut {cut}");
        }
        let mut counter = FrameCounter::default();
        assert_eq!(
            counter.feed(&frame(true, OpCode::Close, &[3, 232])),
            (0, true)
        );
    }
}
