//! In-place unmasking: ws13's `apply_mask` (AVX2 when detected), its portable
//! path (SSE2 on x86_64), the byte-at-a-time reference, and `copy_from_slice`
//! of the same size, from 16 B to 1 MiB, at aligned and misaligned starts.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use ws13_codec::mask::{apply_mask, apply_mask_bytewise, apply_mask_portable};

const SIZES: [usize; 6] = [16, 125, 512, 4096, 64 * 1024, 1024 * 1024];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A buffer with room for `len` bytes after a 64-byte-aligned start.
fn buffer(len: usize) -> Vec<u8> {
    vec![0x5a; len + 128]
}

/// The `len` bytes of `buf` that start `misalign` bytes after a 64-byte boundary.
fn window(buf: &mut [u8], misalign: usize, len: usize) -> &mut [u8] {
    let start = buf.as_ptr().align_offset(64) + misalign;
    &mut buf[start..start + len]
}

fn mask(c: &mut Criterion) {
    for (name, misalign) in [("aligned", 0usize), ("misaligned", 3)] {
        let mut group = c.benchmark_group(format!("mask/{name}"));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let mut store = buffer(size);
            let buf = window(&mut store, misalign, size);
            group.bench_function(BenchmarkId::new("ws13 apply_mask", size), |b| {
                b.iter(|| apply_mask(black_box(&mut *buf), KEY, black_box(1)))
            });
            group.bench_function(BenchmarkId::new("ws13 portable", size), |b| {
                b.iter(|| apply_mask_portable(black_box(&mut *buf), KEY, black_box(1)))
            });
            if size <= 64 * 1024 {
                group.bench_function(BenchmarkId::new("bytewise", size), |b| {
                    b.iter(|| apply_mask_bytewise(black_box(&mut *buf), KEY, black_box(1)))
                });
            }
            let mut src_store = buffer(size);
            let src = &*window(&mut src_store, misalign, size);
            group.bench_function(BenchmarkId::new("copy_from_slice", size), |b| {
                b.iter(|| buf.copy_from_slice(black_box(src)))
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(20)
}

criterion_group!(name = benches; config = config(); targets = mask);
criterion_main!(benches);
