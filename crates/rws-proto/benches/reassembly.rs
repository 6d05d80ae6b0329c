//! Message reassembly (RFC 6455 §5.4): a binary message of 64 KiB or
//! 1 MiB arriving in 1, 16 or 256 masked frames, received by a server
//! [`Connection`] (`handle_input` + `poll_event`) into one message. The
//! wire bytes are built once by a client `Connection` with
//! `send_fragment`, outside the timed loop.
//!
//! Run with `cargo bench -p rws-proto --bench reassembly`; add
//! `-- --warm-up-time 0.5 --measurement-time 1` for a quick look.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rws_proto::{Config, Connection, Message, MessageKind, Role};

const SIZES: [usize; 2] = [64 << 10, 1 << 20];
const FRAMES: [usize; 3] = [1, 16, 256];

fn reassembly(c: &mut Criterion) {
    let mut group = c.benchmark_group("reassembly");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = common::random_bytes(size, 13);
        let message = Message::binary(payload.clone());
        for frames in FRAMES {
            let mut client = Connection::new(Role::Client, Config::default());
            let wire = common::fragmented(&mut client, MessageKind::Binary, &payload, frames);
            let mut server = Connection::new(Role::Server, Config::default());
            common::check_receives(&mut server, &wire, &message);
            let id = BenchmarkId::new(common::size_label(size), format!("{frames} frames"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    server.handle_input(black_box(&wire));
                    black_box(server.poll_event())
                });
            });
            common::check_still_open(&server);
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = reassembly
}
criterion_main!(benches);
