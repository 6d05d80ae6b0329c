//! Incremental UTF-8 validation of received text (RFC 6455 §8.1), through
//! the public API: a server [`Connection`] takes a masked message
//! (`handle_input` + `poll_event`). Text is ASCII or mixed 1–4-byte UTF-8;
//! a binary message of the same size (no validation) shows what the
//! validation costs. Each size is received in three shapes:
//!
//! - `whole`: one frame, fed in one `handle_input` call;
//! - `frames_4k`: 4 KiB frames (cut anywhere, even inside a character),
//!   fed in one call;
//! - `reads_4k`: one frame, fed in 4 KiB `handle_input` calls, as from a
//!   socket with a small read buffer.
//!
//! The wire bytes are built once by a client `Connection`, outside the
//! timed loop. Run with `cargo bench -p rws-proto --bench utf8`; add
//! `-- --warm-up-time 0.5 --measurement-time 1` for a quick look.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rws_proto::{Config, Connection, Message, Role};

const SIZES: [usize; 3] = [1 << 10, 64 << 10, 1 << 20];
const PIECE: usize = 4 << 10;

fn payloads(size: usize) -> [(&'static str, Message); 3] {
    [
        ("ascii", Message::text(common::ascii_text(size))),
        ("mixed", Message::text(common::mixed_text(size))),
        ("binary", Message::binary(common::random_bytes(size, 11))),
    ]
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let label = common::size_label(size);
        for (name, message) in payloads(size) {
            let mut client = Connection::new(Role::Client, Config::default());
            client.send(message.clone()).expect("send");
            let one_frame = common::take_output(&mut client);
            let frames = common::fragmented(
                &mut client,
                message.kind(),
                message.as_payload(),
                size.div_ceil(PIECE),
            );
            let mut shapes = vec![("whole", one_frame.clone(), one_frame.len())];
            if size > PIECE {
                shapes.push(("frames_4k", frames, usize::MAX));
                shapes.push(("reads_4k", one_frame, PIECE));
            }
            for (shape, wire, read) in shapes {
                let mut server = Connection::new(Role::Server, Config::default());
                for piece in wire.chunks(read) {
                    server.handle_input(piece);
                }
                common::check_receives(&mut server, &[], &message);
                let id = BenchmarkId::new(format!("{name}/{shape}"), &label);
                group.bench_function(id, |b| {
                    b.iter(|| {
                        for piece in wire.chunks(read) {
                            server.handle_input(black_box(piece));
                        }
                        black_box(server.poll_event())
                    });
                });
                common::check_still_open(&server);
            }
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = utf8
}
criterion_main!(benches);
