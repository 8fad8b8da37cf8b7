//! The opening handshake. Server: parse + validate a browser-shaped request
//! and build the 101, with ws13's sans-I/O handshake crate, ws13's blocking
//! `accept` and tungstenite's `accept` (both over an in-memory stream).
//! Client: validate the server's 101, with ws13's handshake crate and
//! tungstenite's `client` (which also builds and writes its request).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use ws13_benches::MemStream;
use ws13_handshake::{ClientRequest, Incoming, RequestReader, ServerConfig, Status};

/// What Chromium sends, with a typical cookie.
const REQUEST: &[u8] = b"GET /chat?room=general HTTP/1.1\r\n\
Host: chat.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://chat.example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,zh-CN;q=0.8\r\n\
Cookie: session=3f9a1c0e7b6d4a2f8e5c1b0a9d8f7e6c; theme=dark\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

/// A server's answer to a request with key `dGhlIHNhbXBsZSBub25jZQ==`.
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
\r\n";

fn ws13_server(config: &ServerConfig) -> Vec<u8> {
    let mut reader = RequestReader::new(config.limits());
    let Ok(Status::Complete(request)) = reader.read(REQUEST) else {
        panic!("complete request");
    };
    match request.classify(config) {
        Ok(Incoming::WebSocket(ws)) => ws.accept().to_bytes(),
        other => panic!("not a WebSocket request: {other:?}"),
    }
}

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake/server");
    let config = ServerConfig::default();
    group.bench_function(BenchmarkId::from_parameter("ws13-handshake"), |b| {
        b.iter(|| black_box(ws13_server(&config)))
    });
    let options = ws13::ServerOptions::default();
    group.bench_function(BenchmarkId::from_parameter("ws13 blocking accept"), |b| {
        b.iter(
            || match ws13::blocking::accept(MemStream::new(REQUEST), &options) {
                Ok(ws13::blocking::Accepted::WebSocket(ws, _)) => black_box(ws.get_ref().written),
                _ => panic!("accepted"),
            },
        )
    });
    group.bench_function(BenchmarkId::from_parameter("tungstenite accept"), |b| {
        b.iter(|| {
            let ws = tungstenite::accept(MemStream::new(REQUEST)).expect("accepted");
            black_box(ws.get_ref().written)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("handshake/client");
    let key = *b"the sample nonce";
    group.bench_function(
        BenchmarkId::from_parameter("ws13-handshake validate"),
        |b| {
            let handshake = ClientRequest::new("chat.example.com", "/chat", key)
                .expect("valid")
                .build();
            b.iter(|| {
                let mut handshake = handshake.clone();
                match handshake.read_response(black_box(RESPONSE)) {
                    Ok(Status::Complete(accepted)) => black_box(accepted.head_len()),
                    other => panic!("accepted: {other:?}"),
                }
            })
        },
    );
    group.bench_function(
        BenchmarkId::from_parameter("ws13-handshake build+validate"),
        |b| {
            b.iter(|| {
                let mut handshake = ClientRequest::new("chat.example.com", "/chat", key)
                    .expect("valid")
                    .origin("https://chat.example.com")
                    .expect("valid")
                    .build();
                black_box(handshake.request_bytes());
                match handshake.read_response(black_box(RESPONSE)) {
                    Ok(Status::Complete(accepted)) => black_box(accepted.head_len()),
                    other => panic!("accepted: {other:?}"),
                }
            })
        },
    );
    group.bench_function(BenchmarkId::from_parameter("tungstenite client"), |b| {
        b.iter(|| {
            let request = http::Request::builder()
                .uri("ws://chat.example.com/chat")
                .header("Host", "chat.example.com")
                .header("Origin", "https://chat.example.com")
                .header("Connection", "Upgrade")
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .body(())
                .expect("request");
            let (ws, _) = tungstenite::client(request, MemStream::new(RESPONSE)).expect("accepted");
            black_box(ws.get_ref().written)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(20)
}

criterion_group!(name = benches; config = config(); targets = handshake);
criterion_main!(benches);
