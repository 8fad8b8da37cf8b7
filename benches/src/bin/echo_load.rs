//! Load client of the echo benchmark (loopback only).
//!
//! Opens `--conns` WebSocket connections to `--addr`, keeps `--inflight`
//! text messages of `--size` bytes outstanding on each (a new one is sent for
//! every echo received), runs `--warmup` seconds, then measures for `--secs`
//! seconds and prints one JSON line: messages/s, p50/p99 round-trip latency,
//! and the server's CPU time per message from `/proc/PID/task/*/schedstat`
//! (nanoseconds on CPU, all threads) and `/proc/PID/stat` (utime + stime).
//!
//! The client itself is lean (raw frames, one thread) so that most of the
//! machine is left to the server.
//!
//! ```text
//! echo_load --addr 127.0.0.1:9001 --pid 1234 --size 1024 --conns 16 --inflight 8 --secs 2
//! echo_load --addr 127.0.0.1:9001 --pid 1234 --idle 10000    # idle-connection memory
//! echo_load --addr 127.0.0.1:9211 --pid 1234 --h2 --size 1024   # WebSockets over HTTP/2
//! ```
//!
//! With `--h2` each WebSocket is an RFC 8441 extended CONNECT on an h2c
//! connection of its own (hyper's HTTP/2 client), so that the rows compare
//! with HTTP/1.1 connection for connection; the frames are the same.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use ws13_benches::server_cpu;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

struct Args {
    addr: String,
    pid: u32,
    size: usize,
    conns: usize,
    inflight: usize,
    secs: f64,
    warmup: f64,
    idle: usize,
    h2: bool,
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
        addr: get("--addr").unwrap_or_else(|| "127.0.0.1:9001".into()),
        pid: num("--pid", 0.0) as u32,
        size: num("--size", 16.0) as usize,
        conns: num("--conns", 1.0) as usize,
        inflight: num("--inflight", 1.0) as usize,
        secs: num("--secs", 2.0),
        warmup: num("--warmup", 0.5),
        idle: num("--idle", 0.0) as usize,
        h2: argv.iter().any(|a| a == "--h2"),
    }
}

/// The server's resident memory in KiB (VmRSS).
fn server_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Connects and performs the opening handshake; returns the stream and any
/// bytes received after the 101 head.
async fn connect(addr: &str) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        if tcp.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(std::io::Error::other(
                    String::from_utf8_lossy(&buf).into_owned(),
                ));
            }
            return Ok((tcp, buf.split_off(end + 4)));
        }
    }
}

/// Opens an h2c connection and a WebSocket on it with an extended CONNECT;
/// returns the stream hyper hands over.
async fn connect_h2(addr: &str) -> std::io::Result<TokioIo<hyper::upgrade::Upgraded>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    // Any answer to a first request comes after the server's SETTINGS,
    // which must have enabled the extended CONNECT before one is sent.
    let probe = http::Request::get(format!("http://{addr}/"))
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    send.send_request(probe)
        .await
        .map_err(std::io::Error::other)?;
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/"))
        .header("sec-websocket-version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = send
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    if response.status() != 200 {
        return Err(std::io::Error::other(format!(
            "extended CONNECT answered {}",
            response.status()
        )));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(std::io::Error::other)?;
    Ok(TokioIo::new(upgraded))
}

/// One masked text frame of `size` ASCII bytes.
fn frame(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let body = ws13_benches::payload(size);
    ws13_benches::encode_masked_frame(&mut out, true, 1, &body, [0x12, 0x34, 0x56, 0x78]);
    out
}

/// The length of the complete server frame at the front of `buf`, if any,
/// with its payload length; panics on anything but an unmasked text frame.
fn complete_frame(buf: &[u8]) -> Option<(usize, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[0], 0x81, "expected a whole text frame");
    assert_eq!(buf[1] & 0x80, 0, "server frames are unmasked");
    let (header, len) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
        127 if buf.len() >= 10 => (10, u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize),
        126 | 127 => return None,
        n => (2, n as usize),
    };
    (buf.len() >= header + len).then_some((header + len, len))
}

struct Window {
    start: Instant,
    end: Instant,
}

/// What every connection of one run shares.
#[derive(Clone)]
struct Run {
    size: usize,
    inflight: usize,
    frame: Arc<Vec<u8>>,
    ready: Arc<Barrier>,
    window: Arc<std::sync::OnceLock<Window>>,
    stop: Arc<AtomicBool>,
}

/// Runs one connection: returns the latencies (ns) of echoes received inside
/// the measurement window.
async fn run_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut tcp: S,
    mut buf: Vec<u8>,
    run: Run,
) -> std::io::Result<Vec<u32>> {
    let Run {
        size,
        inflight,
        frame,
        ready,
        window,
        stop,
    } = run;
    ready.wait().await;
    let window = window.get().expect("window set before the barrier opens");
    let mut latencies = Vec::new();
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(inflight);
    let mut out = Vec::with_capacity(frame.len() * inflight);
    for _ in 0..inflight {
        out.extend_from_slice(&frame);
        sent.push_back(Instant::now());
    }
    tcp.write_all(&out).await?;
    buf.reserve(size.max(16 * 1024) * 2);
    let mut start = 0;
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.drain(..start);
            start = 0;
            buf.reserve(size.max(16 * 1024));
        }
        if tcp.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let now = Instant::now();
        let mut replies = 0;
        while let Some((frame_len, payload_len)) = complete_frame(&buf[start..]) {
            assert_eq!(payload_len, size, "echo of the wrong size");
            start += frame_len;
            let t = sent.pop_front().expect("an echo for a message sent");
            if now >= window.start && now < window.end {
                latencies.push(now.duration_since(t).as_nanos().min(u32::MAX as u128) as u32);
            }
            replies += 1;
        }
        if start == buf.len() {
            buf.clear();
            start = 0;
        }
        if stop.load(Ordering::Relaxed) || now >= window.end {
            return Ok(latencies);
        }
        if replies > 0 {
            out.clear();
            for _ in 0..replies {
                out.extend_from_slice(&frame);
                sent.push_back(now);
            }
            tcp.write_all(&out).await?;
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn idle(args: &Args) -> std::io::Result<()> {
    let before = server_rss_kib(args.pid);
    let mut conns = Vec::with_capacity(args.idle);
    for _ in 0..args.idle {
        conns.push(connect(&args.addr).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server_rss_kib(args.pid);
    let per_conn = (after.saturating_sub(before) as f64 * 1024.0) / args.idle as f64;
    println!(
        "{{\"idle_conns\":{},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"rss_per_conn_bytes\":{per_conn:.0}}}",
        args.idle
    );
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if args.idle > 0 {
            return idle(&args).await;
        }
        let frame = Arc::new(frame(args.size));
        let ready = Arc::new(Barrier::new(args.conns + 1));
        let window = Arc::new(std::sync::OnceLock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..args.conns {
            let run = Run {
                size: args.size,
                inflight: args.inflight,
                frame: frame.clone(),
                ready: ready.clone(),
                window: window.clone(),
                stop: stop.clone(),
            };
            if args.h2 {
                let stream = connect_h2(&args.addr).await?;
                tasks.push(tokio::spawn(run_connection(stream, Vec::new(), run)));
            } else {
                let (tcp, leftover) = connect(&args.addr).await?;
                tasks.push(tokio::spawn(run_connection(tcp, leftover, run)));
            }
        }
        let t0 = Instant::now();
        let start = t0 + Duration::from_secs_f64(args.warmup);
        let end = start + Duration::from_secs_f64(args.secs);
        let _ = window.set(Window { start, end });
        ready.wait().await;
        tokio::time::sleep_until(start.into()).await;
        let cpu0 = server_cpu(args.pid);
        let wall0 = Instant::now();
        tokio::time::sleep_until(end.into()).await;
        let cpu1 = server_cpu(args.pid);
        let wall = wall0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        // Connections blocked on a read past the end are not waited for.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut latencies = Vec::new();
        for task in tasks {
            if task.is_finished() {
                match task.await {
                    Ok(Ok(l)) => latencies.extend(l),
                    Ok(Err(e)) => eprintln!("connection failed: {e}"),
                    Err(e) => eprintln!("connection task failed: {e}"),
                }
            } else {
                task.abort();
            }
        }
        latencies.sort_unstable();
        let messages = latencies.len() as f64;
        let per_msg = |ns: u64| if messages > 0.0 { ns as f64 / 1000.0 / messages } else { 0.0 };
        println!(
            "{{\"size\":{},\"conns\":{},\"inflight\":{},\"secs\":{wall:.3},\"messages\":{},\"msgs_per_s\":{:.0},\"p50_us\":{:.1},\"p99_us\":{:.1},\"cpu_us_per_msg\":{:.3},\"cpu_stat_us_per_msg\":{:.3},\"server_cpu_util\":{:.3}}}",
            args.size,
            args.conns,
            args.inflight,
            latencies.len(),
            messages / wall,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            per_msg(cpu1.0 - cpu0.0),
            per_msg(cpu1.1 - cpu0.1),
            (cpu1.0 - cpu0.0) as f64 / 1e9 / wall,
        );
        Ok(())
    })
}
