//! What the core keeps on the heap, counted exactly by this test binary's
//! global allocator (per thread, so that tests running side by side do not
//! disturb each other): buffers are reused while they are small, and
//! released once a large message has passed, so that a connection that
//! once saw a large message does not hold its size while idle (the idle
//! memory budget of README and BENCHMARKS.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rws_proto::deflate::{server_negotiate, DeflateConfig};
use rws_proto::{Config, Connection, Event, Message, Role};

/// The system allocator, counting each thread's allocations and bytes in use.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: isize, allocations: usize) {
    // `try_with`: nothing is counted while the thread's locals are gone.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + allocations));
}

// SAFETY: every call is passed to the system allocator as it came; the
// counters only add and subtract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize), 0);
        // SAFETY: ptr came from alloc/realloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as alloc.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: ptr came from this allocator with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize, 1);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Writes everything queued into `wire` (which has room for it).
fn drain(conn: &mut Connection, wire: &mut Vec<u8>) {
    wire.clear();
    conn.poll_transmit(wire);
}

/// Pseudo-random bytes (xorshift), `alphabet` distinct values.
fn noise(len: usize, alphabet: u8) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % u64::from(alphabet)) as u8
        })
        .collect()
}

/// A client and a server that agreed on permessage-deflate with the
/// defaults (context takeover both ways).
fn deflating_pair() -> (Connection, Connection) {
    let config = Config::default().deflate(Some(DeflateConfig::default()));
    let params = server_negotiate(["permessage-deflate"], &DeflateConfig::default()).unwrap();
    let client = Connection::new(Role::Client, config.clone()).with_deflate(params);
    let server = Connection::new(Role::Server, config).with_deflate(params);
    (client, server)
}

#[test]
fn small_messages_reuse_the_output_buffer() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut wire = Vec::with_capacity(64 << 10);
    let messages: Vec<Message> = (0..10).map(|_| Message::binary(vec![7u8; 4000])).collect();
    let mut messages = messages.into_iter();
    server.send(messages.next().unwrap()).unwrap();
    drain(&mut server, &mut wire);
    let before = allocations();
    for message in messages {
        server.send(message).unwrap();
        drain(&mut server, &mut wire);
        assert_eq!(wire.len(), 4 + 4000);
    }
    assert_eq!(
        allocations() - before,
        0,
        "the buffer of the first message is reused"
    );
}

#[test]
fn a_large_backlog_sent_does_not_stay_in_the_output_buffer() {
    // 300 messages of 1,000 bytes queued before the transport takes any:
    // copied into one buffer of 300 KB, released once written.
    let mut server = Connection::new(Role::Server, Config::default());
    let mut wire = Vec::with_capacity(400 << 10);
    let before = live();
    for _ in 0..300 {
        server.send(Message::binary(vec![7u8; 1000])).unwrap();
    }
    drain(&mut server, &mut wire);
    assert_eq!(wire.len(), 300 * (4 + 1000));
    let kept = live() - before;
    assert!(
        kept < 8 << 10,
        "{kept} bytes kept after a 300 KB backlog left"
    );
}

#[test]
fn a_large_compressed_message_received_does_not_stay_in_the_core() {
    let (mut client, mut server) = deflating_pair();
    let mut wire = Vec::with_capacity(1 << 20);
    // 400 KiB of 4-bit noise compresses to about half: a payload well over
    // 64 KiB arrives in one piece.
    // The payload is made (and freed) within the counted span.
    let mut receive = |len: usize| {
        client.send(Message::binary(noise(len, 16))).unwrap();
        drain(&mut client, &mut wire);
        server.handle_input(&wire);
        let size = match server.poll_event() {
            Some(Event::Message(m)) => m.len(),
            other => panic!("{other:?}"),
        };
        (size, wire.len())
    };
    // The first message sets up the inflater (kept: context takeover).
    assert_eq!(receive(1000).0, 1000);
    let before = live();
    let (size, compressed) = receive(400 << 10);
    assert_eq!(size, 400 << 10);
    assert!(compressed > 100 << 10, "compressed to {compressed} bytes");
    assert_eq!(receive(1000).0, 1000);
    let kept = live() - before;
    assert!(
        kept < 16 << 10,
        "{kept} bytes kept after a 400 KiB compressed message"
    );
}

#[test]
fn a_large_inflated_message_grows_by_doubling() {
    // 4 MiB of zeros compress to a few KiB; the message they inflate to
    // grows by doubling (about a dozen steps from 1 KiB), not by a step
    // at a time (64 of them).
    let (mut client, mut server) = deflating_pair();
    client.send(Message::binary(vec![0u8; 4 << 20])).unwrap();
    let mut wire = Vec::new();
    drain(&mut client, &mut wire);
    assert!(wire.len() < 64 << 10, "compressed to {} bytes", wire.len());
    let before = allocations();
    server.handle_input(&wire);
    let made = allocations() - before;
    match server.poll_event() {
        Some(Event::Message(m)) => assert_eq!(m.len(), 4 << 20),
        other => panic!("{other:?}"),
    }
    assert!(made <= 24, "{made} allocations to inflate 4 MiB");
}
