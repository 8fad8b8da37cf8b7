//! Load client for ws13 over HTTP/2 against ws13 over HTTP/1.1 (loopback
//! only; feature `http2` of this crate). Used by `benches/echo_h2.py`.
//!
//! Opens `--conns` WebSockets to `ws://ADDR/PATH` with the ws13 client:
//! with `--http 2` all of them as streams of one h2c connection (RFC 8441
//! extended CONNECT), with `--http 1` one TCP connection each (HTTP/1.1
//! upgrade). Keeps `--inflight` text messages of `--size` bytes outstanding
//! on each (a new one is sent for every echo), runs `--warmup` seconds,
//! measures for `--secs` seconds and prints one JSON line: messages/s and
//! the server's CPU time per message, from `/proc/PID/task/*/schedstat` (ns
//! on CPU, all threads) and `/proc/PID/stat` (utime + stime), as
//! `echo_load` reports them. The client runs on one thread.
//!
//! ```text
//! echo_load_h2 --addr 127.0.0.1:9301 --path /ws --http 2 --pid 1234 --size 1024 --conns 16 --inflight 8
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use ws13_benches::server_cpu;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use ws13::http2::{Http2Connection, Http2Options};
use ws13::tls::TlsOptions;
use ws13::tokio::WebSocketStream;
use ws13::{ClientOptions, Message, OsMaskKeys};

struct Args {
    addr: String,
    path: String,
    http: u8,
    pid: u32,
    size: usize,
    conns: usize,
    inflight: usize,
    secs: f64,
    warmup: f64,
}

fn parse_args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: f64| get(name).map_or(default, |v| v.parse().expect(name));
    Args {
        addr: get("--addr").unwrap_or_else(|| "127.0.0.1:9301".into()),
        path: get("--path").unwrap_or_else(|| "/ws".into()),
        http: num("--http", 2.0) as u8,
        pid: num("--pid", 0.0) as u32,
        size: num("--size", 16.0) as usize,
        conns: num("--conns", 16.0) as usize,
        inflight: num("--inflight", 8.0) as usize,
        secs: num("--secs", 2.0),
        warmup: num("--warmup", 0.5),
    }
}

/// Keeps `inflight` messages outstanding on `ws`, counting echoes.
async fn echo_loop<S>(
    mut ws: WebSocketStream<S, OsMaskKeys>,
    message: Message,
    inflight: usize,
    echoed: Arc<AtomicU64>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for _ in 0..inflight {
        if ws.feed(message.clone()).await.is_err() {
            return;
        }
    }
    if ws.flush().await.is_err() {
        return;
    }
    while let Some(Ok(received)) = ws.next().await {
        if received.is_data() {
            echoed.fetch_add(1, Ordering::Relaxed);
            if ws.send(message.clone()).await.is_err() {
                return;
            }
        }
    }
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let url = format!("ws://{}{}", args.addr, args.path);
    let text = String::from_utf8(ws13_benches::payload(args.size)).expect("ASCII payload");
    let message = Message::text(text);
    let echoed = Arc::new(AtomicU64::new(0));
    let options = ClientOptions::default();
    match args.http {
        2 => {
            let connector = TlsOptions::default().connector().expect("TLS roots");
            let http2 = Http2Options::default()
                .cleartext(true)
                .fallback_to_http1(false);
            let connection = Http2Connection::connect(&url, &http2, &connector)
                .await
                .unwrap_or_else(|e| panic!("HTTP/2 connection to {url}: {e}"));
            for _ in 0..args.conns {
                let (ws, _) = connection
                    .open(&args.path, &options)
                    .await
                    .unwrap_or_else(|e| panic!("WebSocket over HTTP/2 at {url}: {e}"));
                tokio::spawn(echo_loop(
                    ws,
                    message.clone(),
                    args.inflight,
                    echoed.clone(),
                ));
            }
        }
        _ => {
            for _ in 0..args.conns {
                let (ws, _) = ws13::tokio::connect(&url, &options)
                    .await
                    .unwrap_or_else(|e| panic!("WebSocket over HTTP/1.1 at {url}: {e}"));
                tokio::spawn(echo_loop(
                    ws,
                    message.clone(),
                    args.inflight,
                    echoed.clone(),
                ));
            }
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let (sched0, stat0) = server_cpu(args.pid);
    let count0 = echoed.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.secs)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let count = echoed.load(Ordering::Relaxed) - count0;
    let (sched1, stat1) = server_cpu(args.pid);
    let per = |ns: u64| {
        if count == 0 {
            0.0
        } else {
            ns as f64 / count as f64
        }
    };
    println!(
        "{{\"http\":{},\"size\":{},\"conns\":{},\"inflight\":{},\"messages\":{},\"msgs_per_s\":{:.1},\"server_ns_per_msg\":{:.1},\"server_stat_ns_per_msg\":{:.1}}}",
        args.http,
        args.size,
        args.conns,
        args.inflight,
        count,
        count as f64 / elapsed,
        per(sched1 - sched0),
        per(stat1 - stat0),
    );
    // The server sees the connections end; no close choreography is measured.
    std::process::exit(0);
}
