//! Unmasking throughput (RFC 6455 §5.3): [`apply_mask`] against the
//! byte-at-a-time loop a user would write, on payloads of 1 B to 1 MiB,
//! with the buffer starting on an aligned address and one byte past it.
//!
//! Also copying and unmasking in one pass ([`extend_masked`]) against a
//! copy then [`apply_mask`].
//!
//! Run with `cargo bench -p rws-proto --bench unmask`; add
//! `-- --warm-up-time 0.5 --measurement-time 1` for a quick look, or a
//! filter such as `-- 'unmask/apply_mask'`.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rws_proto::frame::{apply_mask, extend_masked};

const SIZES: [usize; 7] = [1, 16, 125, 1 << 10, 16 << 10, 64 << 10, 1 << 20];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The plain loop, as a user would write it. The compiler may well
/// auto-vectorize it too: it is the honest baseline, not a strawman, so it
/// gets no `black_box` inside the loop (only on its inputs, like
/// `apply_mask`).
fn naive_mask(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        // One spare byte in front for the unaligned case. A fresh `Vec` is
        // at least 8-byte aligned on every allocator we care about.
        let mut storage = common::random_bytes(size + 1, 7);
        for (start, alignment) in [(0, "aligned"), (1, "unaligned")] {
            let label = common::size_label(size);
            group.bench_function(
                BenchmarkId::new(format!("apply_mask/{alignment}"), &label),
                |b| {
                    let buf = &mut storage[start..start + size];
                    b.iter(|| apply_mask(black_box(&mut *buf), black_box(KEY), 0));
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("naive/{alignment}"), &label),
                |b| {
                    let buf = &mut storage[start..start + size];
                    b.iter(|| naive_mask(black_box(&mut *buf), black_box(KEY)));
                },
            );
        }
    }
    group.finish();
}

/// Copying a payload out of the read buffer and unmasking it: in two
/// passes (`extend_from_slice`, then [`apply_mask`]) or in one
/// ([`extend_masked`]), into a buffer whose room is already reserved, as a
/// message buffer's is.
fn copy_unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy_unmask");
    for size in [16, 1 << 10, 16 << 10, 64 << 10, 1 << 20] {
        group.throughput(Throughput::Bytes(size as u64));
        let src = common::random_bytes(size, 9);
        let mut out = Vec::with_capacity(size);
        let label = common::size_label(size);
        group.bench_function(BenchmarkId::new("two_passes", &label), |b| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(&src));
                apply_mask(&mut out, black_box(KEY), 0);
            })
        });
        group.bench_function(BenchmarkId::new("extend_masked", &label), |b| {
            b.iter(|| {
                out.clear();
                extend_masked(&mut out, black_box(&src), black_box(KEY), 0);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = unmask, copy_unmask
}
criterion_main!(benches);
