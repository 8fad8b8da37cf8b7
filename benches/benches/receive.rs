//! The receive path: a pre-encoded, masked client→server stream of N messages
//! decoded to messages by ws13's core (in place, no copy), by ws13's tokio
//! driver, and by the peers' public APIs, all over in-memory streams.
//! Throughput is in messages (elements); multiply by the size for bytes.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use std::hint::black_box;
use std::time::Duration;
use ws13_benches::{Kind, MemStream, client_stream, runtime};
use ws13_codec::{Config, Connection, Event};

/// Decodes the whole stream with ws13's sans-I/O core; returns the messages seen.
fn ws13_core(buf: &mut [u8]) -> usize {
    let mut conn = Connection::server(Config::default());
    let mut at = 0;
    let mut messages = 0;
    let mut bytes = 0;
    loop {
        let r = conn.receive(&mut buf[at..]).expect("valid stream");
        at += r.consumed;
        match r.event {
            Some(Event::Data(chunk)) => {
                bytes += chunk.payload.len();
                messages += usize::from(chunk.message_end);
            }
            Some(_) => {}
            None => break,
        }
    }
    black_box(bytes);
    messages
}

fn receive(c: &mut Criterion) {
    let rt = runtime();
    for (size, count) in [(16usize, 10_000usize), (1024, 2_000), (64 * 1024, 64)] {
        for kind in [Kind::Text, Kind::Binary] {
            for fragments in [1usize, 4] {
                let stream = client_stream(count, size, kind, fragments);
                let stream = stream.as_slice();
                let framing = if fragments == 1 {
                    "single"
                } else {
                    "fragmented"
                };
                let mut group =
                    c.benchmark_group(format!("receive/{}/{size}B/{framing}", kind.name()));
                group.throughput(Throughput::Elements(count as u64));
                group.bench_function(BenchmarkId::from_parameter("ws13 core"), |b| {
                    b.iter_batched_ref(
                        || stream.to_vec(),
                        |buf| assert_eq!(ws13_core(buf), count),
                        BatchSize::LargeInput,
                    )
                });
                group.bench_function(BenchmarkId::from_parameter("ws13 tokio"), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            let mut ws = ws13::tokio::WebSocketStream::from_parts(
                                MemStream::new(stream),
                                Connection::server(Config::default()),
                                &[],
                            );
                            for _ in 0..count {
                                let m = ws.next().await.expect("message").expect("valid");
                                black_box(m.payload().len());
                            }
                        })
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
                    b.iter(|| {
                        let mut ws = tungstenite::WebSocket::from_raw_socket(
                            MemStream::new(stream),
                            tungstenite::protocol::Role::Server,
                            None,
                        );
                        for _ in 0..count {
                            let m = ws.read().expect("valid");
                            black_box(m.len());
                        }
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("tokio-tungstenite"), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                                MemStream::new(stream),
                                tungstenite::protocol::Role::Server,
                                None,
                            )
                            .await;
                            for _ in 0..count {
                                let m = ws.next().await.expect("message").expect("valid");
                                black_box(m.len());
                            }
                        })
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("fastwebsockets"), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            let ws = fastwebsockets::WebSocket::after_handshake(
                                MemStream::new(stream),
                                fastwebsockets::Role::Server,
                            );
                            let mut ws = fastwebsockets::FragmentCollector::new(ws);
                            for _ in 0..count {
                                let f = ws.read_frame().await.expect("valid");
                                black_box(f.payload.len());
                            }
                        })
                    })
                });
                group.bench_function(BenchmarkId::from_parameter("tokio-websockets"), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            let mut ws = tokio_websockets::ServerBuilder::new()
                                .serve(MemStream::new(stream));
                            for _ in 0..count {
                                let m = ws.next().await.expect("message").expect("valid");
                                black_box(m.as_payload().len());
                            }
                        })
                    })
                });
                group.finish();
            }
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(10)
}

criterion_group!(name = benches; config = config(); targets = receive);
criterion_main!(benches);
