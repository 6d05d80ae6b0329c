//! Helpers shared by the benchmarks: payload generators and byte pumps.
//!
//! Each benchmark binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;
use rws_proto::{Connection, Event, Message, MessageKind, State};

/// Short runs by default, so that `cargo bench -p rws-proto` takes a few
/// minutes at most on a small machine; the command line
/// (`--warm-up-time`, `--measurement-time`) overrides these.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

/// A human label for a byte count: `1 B`, `16 KiB`, `1 MiB`.
pub(crate) fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// A small deterministic PRNG (xorshift64*), so that runs are comparable.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value but zero).
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `len` incompressible bytes (not UTF-8).
pub(crate) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` bytes of ASCII prose.
pub(crate) fn ascii_text(len: usize) -> String {
    fill_text(
        len,
        &["The quick brown fox jumps over the lazy dog. 0123456789 {\"k\":[1,2,3]}\n"],
    )
}

/// `len` bytes of text mixing 1-, 2-, 3- and 4-byte UTF-8 sequences
/// (roughly half the bytes are in multi-byte sequences).
pub(crate) fn mixed_text(len: usize) -> String {
    fill_text(
        len,
        &[
            "Grüße aus Köln, ",
            "Привет, мир! ",
            "こんにちは世界。",
            "emoji 😀🎉🚀 ",
            "plain ascii words here, ",
            "ελληνικά κείμενα ",
        ],
    )
}

/// Repeats `pieces` up to `len` bytes, whole characters only, then pads
/// with ASCII to exactly `len` bytes.
fn fill_text(len: usize, pieces: &[&str]) -> String {
    let mut out = String::with_capacity(len);
    'fill: loop {
        for piece in pieces {
            for c in piece.chars() {
                if out.len() + c.len_utf8() > len {
                    break 'fill;
                }
                out.push(c);
            }
        }
    }
    while out.len() < len {
        out.push('.');
    }
    out
}

/// `len` bytes of JSON-like records: repetitive keys, varying values, as
/// an API stream would send them. `seed` makes the values differ.
pub(crate) fn json_text(len: usize, seed: u64) -> String {
    const EVENTS: [&str; 5] = ["click", "view", "scroll", "purchase", "logout"];
    const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"];
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(len + 200);
    out.push('[');
    while out.len() < len {
        let record = format!(
            "{{\"id\":{},\"user\":\"user{}\",\"event\":\"{}\",\"region\":\"{}\",\
             \"ts\":{},\"value\":{}.{:02},\"ok\":{}}},",
            rng.below(1_000_000),
            rng.below(10_000),
            EVENTS[rng.below(5) as usize],
            REGIONS[rng.below(4) as usize],
            1_700_000_000_000 + rng.below(1_000_000_000),
            rng.below(1000),
            rng.below(100),
            rng.below(2) == 0,
        );
        out.push_str(&record);
    }
    out.truncate(len);
    out
}

/// Takes all of `conn`'s pending output.
pub(crate) fn take_output(conn: &mut Connection) -> Vec<u8> {
    let bytes = conn.pending_output().to_vec();
    conn.consume_output(bytes.len());
    bytes
}

/// The wire bytes of `payload` sent by `client` as `kind` in `frames`
/// frames of (nearly) equal size; text may be cut inside a character.
pub(crate) fn fragmented(
    client: &mut Connection,
    kind: MessageKind,
    payload: &[u8],
    frames: usize,
) -> Vec<u8> {
    let frames = frames.max(1);
    let size = payload.len().div_ceil(frames).max(1);
    let chunks: Vec<&[u8]> = payload.chunks(size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        client
            .send_fragment(kind, chunk, i + 1 == chunks.len())
            .expect("send_fragment");
    }
    take_output(client)
}

/// Checks, outside the timed loop, that `wire` fed to `server` yields
/// `expected` and nothing else: a benchmark of a failing path is useless.
pub(crate) fn check_receives(server: &mut Connection, wire: &[u8], expected: &Message) {
    server.handle_input(wire);
    match server.poll_event() {
        Some(Event::Message(message)) if message == *expected => {}
        Some(Event::Message(message)) => panic!(
            "expected a {:?} message of {} bytes, got a {:?} message of {} bytes",
            expected.kind(),
            expected.len(),
            message.kind(),
            message.len()
        ),
        Some(Event::Closed(closed)) => panic!("the connection failed: {closed:?}"),
        other => panic!("expected the message, got {other:?}"),
    }
    assert_eq!(server.poll_event(), None, "one event per message");
    assert!(server.pending_output().is_empty(), "no reply expected");
}

/// Checks, after a timed loop, that `conn` is still open with nothing to
/// send: every iteration went down the path the benchmark means to
/// measure, not a failed connection that ignores its input.
pub(crate) fn check_still_open(conn: &Connection) {
    assert_eq!(conn.state(), State::Open, "the connection failed");
    assert!(conn.pending_output().is_empty(), "no reply expected");
}
