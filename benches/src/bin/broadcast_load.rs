//! The fan-out benchmark's load: `--subs N` subscriber connections that
//! count the data frames they receive, and one publisher connection that
//! sends `--messages M` text messages of `--size` bytes, each of which the
//! server sends to every subscriber. The publisher keeps at most
//! `--window W` messages ahead of the slowest subscriber, so nothing is
//! dropped anywhere and every message reaches every subscriber. Prints one
//! JSON line: the server's CPU time (all threads, from
//! `/proc/PID/task/*/schedstat`) over the measured messages, per delivered
//! message.
//!
//! ```text
//! broadcast_load --addr 127.0.0.1:9201 --pid 1234 --subs 1000 --messages 400 [--deflate]
//! ```
//!
//! Before measuring, the publisher sends until every subscriber has
//! received a message (the server may subscribe a connection a moment
//! after its handshake), then counts from zero.
//!
//! One thread: subscribers and publisher share a current-thread runtime, so
//! most of the machine is left to the server. With `--deflate` the
//! subscribers offer permessage-deflate and count compressed frames without
//! inflating them.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;
use ws13_benches::server_cpu_ns;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

struct Shared {
    /// Whole data messages each subscriber received.
    counts: Vec<Cell<u64>>,
    /// The count the publisher waits for every subscriber to reach.
    target: Cell<u64>,
    /// Subscribers still below `target`.
    pending: Cell<usize>,
    reached: Notify,
}

fn number(name: &str, default: u64) -> u64 {
    ws13_benches::flag(name).map_or(default, |v| v.parse().expect("a number"))
}

async fn handshake(addr: &str, deflate: bool) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let extension = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extension}\r\n"
    );
    tcp.write_all(request.as_bytes())
        .await
        .expect("send the handshake");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.expect("read the handshake answer"));
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    if deflate {
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(
            head.contains("permessage-deflate"),
            "deflate not agreed: {head}"
        );
    }
    tcp
}

/// Reads unmasked server frames and counts the whole data messages.
async fn subscriber(mut tcp: TcpStream, index: usize, shared: Rc<Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut held = 0; // bytes of an incomplete frame header at the front
    let mut skip = 0u64; // payload bytes of the current frame still to come
    loop {
        let n = match tcp.read(&mut buf[held..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let end = held + n;
        let mut at = 0;
        loop {
            if skip > 0 {
                let take = skip.min((end - at) as u64);
                skip -= take;
                at += take as usize;
                if skip > 0 {
                    break;
                }
            }
            let rest = &buf[at..end];
            if rest.len() < 2 {
                break;
            }
            let (header, len) = match rest[1] & 0x7f {
                126 if rest.len() >= 4 => (4, u64::from(u16::from_be_bytes([rest[2], rest[3]]))),
                127 if rest.len() >= 10 => {
                    (10, u64::from_be_bytes(rest[2..10].try_into().unwrap()))
                }
                126 | 127 => break,
                len => (2, u64::from(len)),
            };
            let fin = rest[0] & 0x80 != 0;
            let opcode = rest[0] & 0x0f;
            if fin && (0..=2).contains(&opcode) {
                let count = shared.counts[index].get() + 1;
                shared.counts[index].set(count);
                if count == shared.target.get() {
                    let pending = shared.pending.get() - 1;
                    shared.pending.set(pending);
                    if pending == 0 {
                        shared.reached.notify_one();
                    }
                }
            }
            at += header;
            skip = len;
        }
        buf.copy_within(at..end, 0);
        held = end - at;
    }
}

/// Waits until every subscriber has received `target` messages.
async fn wait_for(shared: &Shared, target: u64) {
    shared.target.set(target);
    let below = shared.counts.iter().filter(|c| c.get() < target).count();
    shared.pending.set(below);
    if below > 0 {
        let limit = std::time::Duration::from_secs(30);
        if tokio::time::timeout(limit, shared.reached.notified())
            .await
            .is_err()
        {
            let behind: Vec<(usize, u64)> = (shared.counts.iter().map(Cell::get).enumerate())
                .filter(|&(_, count)| count < target)
                .take(10)
                .collect();
            eprintln!(
                "stuck for {limit:?} waiting for {target} messages everywhere: pending {}, \
                 first subscribers behind (index, count): {behind:?}",
                shared.pending.get()
            );
            std::process::exit(1);
        }
    }
}

fn main() {
    let addr = ws13_benches::flag("addr").expect("--addr HOST:PORT");
    let pid = number("pid", 0) as u32;
    let subs = number("subs", 1000) as usize;
    let messages = number("messages", 400);
    let warmup = number("warmup", 50);
    let size = number("size", 1024) as usize;
    let window = number("window", 16);
    let deflate = std::env::args().any(|a| a == "--deflate");
    // Distinct chat-like texts of exactly `size` bytes.
    let corpus = ws13_benches::ascii_text(size * 80);
    let texts: Vec<&str> = (0..64).map(|i| &corpus[i * size..(i + 1) * size]).collect();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let shared = Rc::new(Shared {
            counts: (0..subs).map(|_| Cell::new(0)).collect(),
            target: Cell::new(u64::MAX),
            pending: Cell::new(0),
            reached: Notify::new(),
        });
        for index in 0..subs {
            let tcp = handshake(&addr, deflate).await;
            tokio::task::spawn_local(subscriber(tcp, index, Rc::clone(&shared)));
        }
        let mut publisher = handshake(&addr, false).await;
        let mut frame = Vec::with_capacity(size + 14);
        let mut send = async |sequence: u64, publisher: &mut TcpStream| {
            frame.clear();
            frame.push(0x81);
            match size {
                0..=125 => frame.push(0x80 | size as u8),
                126..=65535 => {
                    frame.push(0x80 | 126);
                    frame.extend_from_slice(&(size as u16).to_be_bytes());
                }
                _ => {
                    frame.push(0x80 | 127);
                    frame.extend_from_slice(&(size as u64).to_be_bytes());
                }
            }
            frame.extend_from_slice(&[0, 0, 0, 0]); // a zero mask leaves the payload as it is
            frame.extend_from_slice(texts[sequence as usize % texts.len()].as_bytes());
            publisher.write_all(&frame).await.expect("publish");
        };
        // A subscriber's server side may subscribe after the publisher's
        // first message arrives (its task starts after the 101): publish
        // until everyone has received one, let the rest arrive, and count
        // from zero after that.
        let unprimed = |shared: &Shared| shared.counts.iter().filter(|c| c.get() == 0).count();
        let mut primes = 0;
        while unprimed(&shared) > 0 {
            assert!(primes < 50, "subscribers never got a message");
            send(primes, &mut publisher).await;
            primes += 1;
            // Until the prime stops reaching anyone new (at most 10 s).
            let mut left = unprimed(&shared);
            for _ in 0..200 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let now = unprimed(&shared);
                if now == left && shared.counts.iter().any(|c| c.get() == primes) {
                    break;
                }
                left = now;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        shared.counts.iter().for_each(|c| c.set(0));
        let total = warmup + messages;
        let (mut cpu_start, mut wall_start) = (0, Instant::now());
        for sequence in 0..total {
            if sequence == warmup {
                wait_for(&shared, warmup).await;
                cpu_start = server_cpu_ns(pid);
                wall_start = Instant::now();
            }
            if sequence >= warmup + window {
                wait_for(&shared, sequence - window).await;
            }
            send(sequence, &mut publisher).await;
        }
        wait_for(&shared, total).await;
        let cpu = server_cpu_ns(pid) - cpu_start;
        let wall = wall_start.elapsed();
        let delivered = messages * subs as u64;
        println!(
            "{{\"subs\": {subs}, \"messages\": {messages}, \"size\": {size}, \"deflate\": {deflate}, \
             \"delivered\": {delivered}, \"server_cpu_ns\": {cpu}, \"wall_s\": {:.3}, \
             \"cpu_ns_per_delivery\": {:.1}, \"deliveries_per_s\": {:.0}}}",
            wall.as_secs_f64(),
            cpu as f64 / delivered as f64,
            delivered as f64 / wall.as_secs_f64(),
        );
    });
}
