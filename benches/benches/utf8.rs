//! UTF-8 validation: ws13's incremental validator fed whole and in 1–7-byte
//! pieces, against `core::str::from_utf8` and `simdutf8`, on ASCII, Chinese
//! chat text (3-byte sequences, ~20% ASCII) and emoji.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use ws13_benches::{ascii_text, chinese_text, emoji_text};
use ws13_codec::utf8::Utf8Validator;

/// Feeds `bytes` in pieces of 1, 2, ..., 7, 1, 2, ... bytes.
fn feed_pieces(v: &mut Utf8Validator, bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut step = 1;
    while at < bytes.len() {
        let end = (at + step).min(bytes.len());
        if v.feed(&bytes[at..end]).is_err() {
            return false;
        }
        at = end;
        step = step % 7 + 1;
    }
    v.finish().is_ok()
}

/// A named generator of text of a given size.
type TextMaker = (&'static str, fn(usize) -> String);

fn utf8(c: &mut Criterion) {
    let texts: [TextMaker; 3] = [
        ("ascii", ascii_text),
        ("chinese", chinese_text),
        ("emoji", emoji_text),
    ];
    for (name, make) in texts {
        let mut group = c.benchmark_group(format!("utf8/{name}"));
        for size in [1024usize, 64 * 1024] {
            let text = make(size).into_bytes();
            let text = text.as_slice();
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("ws13 whole", size), |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    v.feed(black_box(text)).is_ok() && v.finish().is_ok()
                })
            });
            group.bench_function(BenchmarkId::new("core::str::from_utf8", size), |b| {
                b.iter(|| core::str::from_utf8(black_box(text)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8 basic", size), |b| {
                b.iter(|| simdutf8::basic::from_utf8(black_box(text)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8 compat", size), |b| {
                b.iter(|| simdutf8::compat::from_utf8(black_box(text)).is_ok())
            });
            if size == 64 * 1024 {
                group.bench_function(BenchmarkId::new("ws13 1-7 B pieces", size), |b| {
                    b.iter(|| feed_pieces(&mut Utf8Validator::new(), black_box(text)))
                });
            }
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

criterion_group!(name = benches; config = config(); targets = utf8);
criterion_main!(benches);
