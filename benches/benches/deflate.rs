//! permessage-deflate: compression and decompression throughput of ws13's
//! sans-I/O `PerMessageDeflate` on JSON chat events (mixed English and
//! Chinese) at several sizes, without context takeover (each message on its
//! own, the conservative case for the ratio), at level 6 and 1. The ratio is
//! printed before the measurements.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use ws13_benches::chat_json;
use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
use ws13_codec::{DataChunk, MessageKind, Role};

const PARAMS: DeflateParams = DeflateParams {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

fn deflate(c: &mut Criterion) {
    for level in [6u32, 1] {
        let settings = DeflateSettings {
            level,
            ..DeflateSettings::default()
        };
        let mut group = c.benchmark_group(format!("deflate/level{level}"));
        for size in [256usize, 4096, 64 * 1024, 1024 * 1024] {
            let text = chat_json(size).into_bytes();
            let mut server = PerMessageDeflate::new(Role::Server, PARAMS, settings);
            let mut client = PerMessageDeflate::new(Role::Client, PARAMS, settings);
            let mut compressed = Vec::new();
            server.deflate(&text, &mut compressed);
            let chunk = DataChunk {
                kind: MessageKind::Text,
                payload: &compressed,
                message_start: true,
                message_end: true,
                rsv: 0b100,
            };
            let mut plain = Vec::new();
            client
                .inflate(&chunk, &mut plain, 1 << 30)
                .expect("inflates");
            assert_eq!(plain, text);
            println!(
                "deflate level {level}, {size} B of chat JSON -> {} B: ratio {:.2} ({:.1}% of the original)",
                compressed.len(),
                size as f64 / compressed.len() as f64,
                100.0 * compressed.len() as f64 / size as f64
            );
            // Throughput in uncompressed bytes for both directions.
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("compress", size), |b| {
                let mut out = Vec::with_capacity(size + 64);
                b.iter(|| {
                    out.clear();
                    server.deflate(black_box(&text), &mut out);
                    black_box(out.len())
                })
            });
            group.bench_function(BenchmarkId::new("decompress", size), |b| {
                let mut out = Vec::with_capacity(size + 64);
                b.iter(|| {
                    out.clear();
                    client
                        .inflate(black_box(&chunk), &mut out, 1 << 30)
                        .expect("inflates");
                    black_box(out.len())
                })
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(10)
}

criterion_group!(name = benches; config = config(); targets = deflate);
criterion_main!(benches);
