//! The send path: N messages encoded for both roles. ws13's core produces a
//! server frame as a header apart from the untouched payload (for a vectored
//! write) and a client frame as header + masked copy; the drivers and the
//! peers write whole messages through their public APIs into an in-memory
//! sink.

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::SinkExt;
use std::hint::black_box;
use std::io::IoSlice;
use std::time::Duration;
use ws13_benches::{MemStream, Rng, payload, runtime};
use ws13_codec::frame::OpCode;
use ws13_codec::{Config, Connection, MaskKeySource};

/// Masking keys from a fast generator: the core's cost without an OS RNG.
struct Keys(Rng);

impl MaskKeySource for Keys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        (self.0.next_u64() as u32).to_ne_bytes()
    }
}

fn send(c: &mut Criterion) {
    let rt = runtime();
    for (size, count) in [(16usize, 10_000usize), (1024, 2_000), (64 * 1024, 64)] {
        let body = Bytes::from(payload(size));
        for role in ["server", "client"] {
            let client = role == "client";
            let mut group = c.benchmark_group(format!("send/{role}/{size}B"));
            group.throughput(Throughput::Elements(count as u64));
            if client {
                group.bench_function(BenchmarkId::from_parameter("ws13 core"), |b| {
                    let mut conn = Connection::client(Config::default(), Keys(Rng::new(9)));
                    let mut out = vec![0u8; size + 14];
                    b.iter(|| {
                        for _ in 0..count {
                            let n = conn
                                .encode_data_frame(OpCode::Binary, true, &body, &mut out)
                                .expect("encodes");
                            black_box(&out[..n]);
                        }
                    })
                });
            } else {
                group.bench_function(BenchmarkId::from_parameter("ws13 core"), |b| {
                    let mut conn = Connection::server(Config::default());
                    b.iter(|| {
                        for _ in 0..count {
                            let header = conn
                                .data_frame_header(OpCode::Binary, true, body.len())
                                .expect("encodes");
                            black_box([IoSlice::new(header.bytes()), IoSlice::new(&body)]);
                        }
                    })
                });
            }
            group.bench_function(BenchmarkId::from_parameter("ws13 tokio"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let stream = MemStream::new(&[]);
                        if client {
                            let conn =
                                Connection::client(Config::default(), ws13::OsMaskKeys::new());
                            let mut ws =
                                ws13::tokio::WebSocketStream::from_parts(stream, conn, &[]);
                            for _ in 0..count {
                                ws.feed(ws13::Message::binary(body.clone()))
                                    .await
                                    .expect("sent");
                            }
                            ws.flush().await.expect("flushed");
                            black_box(ws.get_ref().written);
                        } else {
                            let conn = Connection::server(Config::default());
                            let mut ws =
                                ws13::tokio::WebSocketStream::from_parts(stream, conn, &[]);
                            for _ in 0..count {
                                ws.feed(ws13::Message::binary(body.clone()))
                                    .await
                                    .expect("sent");
                            }
                            ws.flush().await.expect("flushed");
                            black_box(ws.get_ref().written);
                        }
                    })
                })
            });
            let t_role = if client {
                tungstenite::protocol::Role::Client
            } else {
                tungstenite::protocol::Role::Server
            };
            group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
                b.iter(|| {
                    let mut ws =
                        tungstenite::WebSocket::from_raw_socket(MemStream::new(&[]), t_role, None);
                    for _ in 0..count {
                        ws.write(tungstenite::Message::Binary(body.clone()))
                            .expect("sent");
                    }
                    ws.flush().expect("flushed");
                    black_box(ws.get_ref().written);
                })
            });
            group.bench_function(BenchmarkId::from_parameter("tokio-tungstenite"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                            MemStream::new(&[]),
                            t_role,
                            None,
                        )
                        .await;
                        for _ in 0..count {
                            ws.feed(tungstenite::Message::Binary(body.clone()))
                                .await
                                .expect("sent");
                        }
                        ws.flush().await.expect("flushed");
                        black_box(ws.get_ref().written);
                    })
                })
            });
            let f_role = if client {
                fastwebsockets::Role::Client
            } else {
                fastwebsockets::Role::Server
            };
            group.bench_function(BenchmarkId::from_parameter("fastwebsockets"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let mut ws =
                            fastwebsockets::WebSocket::after_handshake(MemStream::new(&[]), f_role);
                        for _ in 0..count {
                            let frame = fastwebsockets::Frame::binary(
                                fastwebsockets::Payload::Borrowed(&body),
                            );
                            ws.write_frame(frame).await.expect("sent");
                        }
                        ws.flush().await.expect("flushed");
                        black_box(ws.into_inner().written);
                    })
                })
            });
            group.bench_function(BenchmarkId::from_parameter("tokio-websockets"), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let stream = MemStream::new(&[]);
                        let mut ws = if client {
                            tokio_websockets::ClientBuilder::new().take_over(stream)
                        } else {
                            tokio_websockets::ServerBuilder::new().serve(stream)
                        };
                        for _ in 0..count {
                            ws.feed(tokio_websockets::Message::binary(body.clone()))
                                .await
                                .expect("sent");
                        }
                        ws.flush().await.expect("flushed");
                        black_box(ws.get_ref().written);
                    })
                })
            });
            group.finish();
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(10)
}

criterion_group!(name = benches; config = config(); targets = send);
criterion_main!(benches);
