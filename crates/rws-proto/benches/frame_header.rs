//! Frame header decoding and encoding (RFC 6455 §5.2), in headers per
//! second: 7-, 16- and 64-bit payload lengths, masked (client to server)
//! and unmasked (server to client).
//!
//! Run with `cargo bench -p rws-proto --bench frame_header`; add
//! `-- --warm-up-time 0.5 --measurement-time 1` for a quick look.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rws_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};

/// One payload length per length encoding: 7-bit, 16-bit, 64-bit.
const LENGTHS: [(u64, &str); 3] = [(100, "len7"), (1000, "len16"), (100_000, "len64")];

fn headers() -> Vec<(String, FrameHeader)> {
    let mut out = Vec::new();
    for (len, name) in LENGTHS {
        for (mask, masking) in [
            (None, "unmasked"),
            (Some([0x37, 0xfa, 0x21, 0x3d]), "masked"),
        ] {
            let mut header = FrameHeader::new(OpCode::Binary, len);
            header.mask = mask;
            out.push((format!("{name}/{masking}"), header));
        }
    }
    out
}

fn frame_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_header");
    group.throughput(Throughput::Elements(1));
    for (name, header) in headers() {
        // The header followed by some payload, as `decode` sees it in a
        // read buffer.
        let mut wire = Vec::new();
        header.encode(&mut wire);
        let header_len = wire.len();
        wire.resize(header_len + 64, 0xaa);
        assert_eq!(
            FrameHeader::decode(&wire).expect("valid"),
            Some((header, header_len))
        );

        group.bench_with_input(BenchmarkId::new("decode", &name), &wire, |b, wire| {
            b.iter(|| FrameHeader::decode(black_box(wire)));
        });
        group.bench_with_input(
            BenchmarkId::new("encode_to", &name),
            &header,
            |b, header| {
                let mut buf = [0u8; MAX_HEADER_LEN];
                b.iter(|| black_box(header).encode_to(black_box(&mut buf)));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("encode_vec", &name),
            &header,
            |b, header| {
                let mut out = Vec::with_capacity(MAX_HEADER_LEN);
                b.iter(|| {
                    out.clear();
                    black_box(header).encode(black_box(&mut out));
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = frame_header
}
criterion_main!(benches);
