//! permessage-deflate (RFC 7692) between a client and a server
//! [`Connection`], in uncompressed bytes per second:
//!
//! - `roundtrip`: the client compresses (`send` + taking the output), the
//!   server inflates (`handle_input` + `poll_event`);
//! - `compress` and `inflate`: each half alone (without context takeover
//!   only, where every message stands alone and can be replayed).
//!
//! Payloads are JSON-like text (repetitive keys, varying values) and
//! incompressible random bytes (sent as binary), 1 KiB and 64 KiB. Each
//! case cycles through at least 16 different messages and at least
//! 128 KiB of them, four times the largest LZ77 window (32 KiB), so that
//! with context takeover a message is never compressed against an
//! identical copy of itself still in the window. `takeover` is the default negotiation (both compressors keep
//! their window between messages); `no_takeover` resets them after each
//! message, which also frees and re-creates the compressor every time.
//!
//! Run with `cargo bench -p rws-proto --bench deflate`; add
//! `-- --warm-up-time 0.5 --measurement-time 1` for a quick look. The
//! compressed size of each case is printed once before it runs.

mod common;

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use rws_proto::deflate::DeflateParams;
use rws_proto::{Config, Connection, Message, Role};

const SIZES: [usize; 2] = [1 << 10, 64 << 10];
/// Distinct messages per case, at least.
const MIN_POOL: usize = 16;
/// Distinct bytes per case, at least: well past the 32 KiB window.
const MIN_POOL_BYTES: usize = 128 << 10;

fn params(takeover: bool) -> DeflateParams {
    let mut params = DeflateParams::default();
    params.server_no_context_takeover = !takeover;
    params.client_no_context_takeover = !takeover;
    params
}

fn pair(takeover: bool) -> (Connection, Connection) {
    let params = params(takeover);
    (
        Connection::new(Role::Client, Config::default()).with_deflate(params),
        Connection::new(Role::Server, Config::default()).with_deflate(params),
    )
}

fn pool(payload: &str, size: usize) -> Vec<Message> {
    let count = MIN_POOL.max(MIN_POOL_BYTES.div_ceil(size));
    (0..count as u64)
        .map(|seed| match payload {
            "json" => Message::text(common::json_text(size, seed + 1)),
            _ => Message::binary(common::random_bytes(size, seed + 1)),
        })
        .collect()
}

/// Sends the pool once through a fresh pair, checks every message arrives
/// intact, and returns the compressed wire bytes of each message.
fn check_and_wires(messages: &[Message], takeover: bool) -> Vec<Vec<u8>> {
    let (mut client, mut server) = pair(takeover);
    messages
        .iter()
        .map(|message| {
            client.send(message.clone()).expect("send");
            let wire = common::take_output(&mut client);
            common::check_receives(&mut server, &wire, message);
            wire
        })
        .collect()
}

fn deflate(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for payload in ["json", "random"] {
            let messages = pool(payload, size);
            for takeover in [true, false] {
                bench_case(&mut group, payload, size, &messages, takeover);
            }
        }
    }
    group.finish();
}

fn bench_case(
    group: &mut BenchmarkGroup<'_, WallTime>,
    payload: &str,
    size: usize,
    messages: &[Message],
    takeover: bool,
) {
    let context = if takeover { "takeover" } else { "no_takeover" };
    let label = common::size_label(size);
    let wires = check_and_wires(messages, takeover);
    let wire_len: usize = wires.iter().map(Vec::len).sum();
    eprintln!(
        "deflate {payload} {label} {context}: {} bytes on the wire per message ({:.1}%)",
        wire_len / messages.len(),
        100.0 * wire_len as f64 / (size * messages.len()) as f64
    );

    let (mut client, mut server) = pair(takeover);
    let id = BenchmarkId::new(format!("roundtrip/{payload}/{context}"), &label);
    group.bench_function(id, |b| {
        let mut next = messages.iter().cycle();
        b.iter(|| {
            let message = next.next().expect("a non-empty pool");
            client.send(message.clone()).expect("send");
            let wire = client.pending_output();
            let n = wire.len();
            server.handle_input(wire);
            client.consume_output(n);
            black_box(server.poll_event())
        });
    });
    common::check_still_open(&client);
    common::check_still_open(&server);

    if takeover {
        return;
    }
    let (mut client, _) = pair(takeover);
    let id = BenchmarkId::new(format!("compress/{payload}/{context}"), &label);
    group.bench_function(id, |b| {
        let mut next = messages.iter().cycle();
        b.iter(|| {
            let message = next.next().expect("a non-empty pool");
            client.send(message.clone()).expect("send");
            let n = black_box(client.pending_output()).len();
            client.consume_output(n);
        });
    });
    common::check_still_open(&client);

    let (_, mut server) = pair(takeover);
    let id = BenchmarkId::new(format!("inflate/{payload}/{context}"), &label);
    group.bench_function(id, |b| {
        let mut next = wires.iter().cycle();
        b.iter(|| {
            server.handle_input(black_box(next.next().expect("a non-empty pool")));
            black_box(server.poll_event())
        });
    });
    common::check_still_open(&server);
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = deflate
}
criterion_main!(benches);
