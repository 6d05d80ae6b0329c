//! Measures the heap a connection holds with permessage-deflate, per
//! negotiated parameter set, with a counting allocator (exact, not RSS).
//!
//! ```sh
//! cargo run --release -p rws-proto --example deflate_memory
//! ```
//!
//! Each row opens 100 server-side connections, has each receive one
//! compressed message and send one (so both the inflater and the
//! compressor were needed), drains everything, and reports the bytes the
//! server's `Connection` still holds while idle. Socket, task and read
//! buffer costs of an adapter come on top. The few compressors and
//! inflaters the thread keeps for connections without context takeover
//! (`rws_proto::deflate::release_spares`) are not the connections': they
//! are released before counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use rws_proto::deflate::{release_spares, DeflateConfig, DeflateParams};
use rws_proto::{Config, Connection, Event, Message, Role};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 100;

fn main() {
    let text = r#"{"id":1234,"type":"update","payload":{"temperature":21.5,"unit":"C","sensor":"kitchen"}}"#.repeat(20);
    println!("| parameters | bytes per idle connection |");
    println!("| --- | ---: |");
    let rows: [(&str, Option<Params>); 7] = [
        ("no compression", None),
        (
            "context takeover both ways, 15-bit windows",
            Some((false, false, 15)),
        ),
        (
            "context takeover both ways, 12-bit windows",
            Some((false, false, 12)),
        ),
        (
            "context takeover both ways, 9-bit windows",
            Some((false, false, 9)),
        ),
        (
            "server_no_context_takeover only, 15-bit windows",
            Some((true, false, 15)),
        ),
        (
            "no context takeover either way, 15-bit windows",
            Some((true, true, 15)),
        ),
        (
            "no context takeover either way, 9-bit windows",
            Some((true, true, 9)),
        ),
    ];
    for (name, params) in rows {
        release_spares();
        let before = LIVE.load(Ordering::Relaxed);
        let mut servers = Vec::with_capacity(CONNECTIONS);
        let base = LIVE.load(Ordering::Relaxed);
        for _ in 0..CONNECTIONS {
            servers.push(open_and_exchange(params, &text));
        }
        release_spares();
        let held = LIVE.load(Ordering::Relaxed) - base;
        let per = held as usize / CONNECTIONS;
        println!("| {name} | {per} ({:.1} KiB) |", per as f64 / 1024.0);
        drop(servers);
        assert!(LIVE.load(Ordering::Relaxed) <= before + 4096, "leak");
    }
}

/// A server connection that received and sent one compressed message.
/// (server_no_context_takeover, client_no_context_takeover, window bits)
type Params = (bool, bool, u8);

fn open_and_exchange(params: Option<Params>, text: &str) -> Connection {
    let config = Config::default().deflate(Some(DeflateConfig::default()));
    let mut server = Connection::new(Role::Server, config.clone());
    let mut client = Connection::new(Role::Client, config);
    if let Some((server_no_context, client_no_context, bits)) = params {
        let mut p = DeflateParams::default();
        p.server_no_context_takeover = server_no_context;
        p.client_no_context_takeover = client_no_context;
        p.server_max_window_bits = bits;
        p.client_max_window_bits = bits;
        server = server.with_deflate(p);
        client = client.with_deflate(p);
    }
    client.send(Message::text(text)).unwrap();
    let wire = client.pending_output().to_vec();
    server.handle_input(&wire);
    while let Some(event) = server.poll_event() {
        assert!(matches!(event, Event::Message(_)));
    }
    server.send(Message::text(text)).unwrap();
    let n = server.pending_output().len();
    server.consume_output(n);
    server
}
