//! Load client of the connection-storm benchmark (loopback only,
//! `benches/storm.py`).
//!
//! Opens `--total` connections to `--addr`, `--parallel` at a time, each as
//! fast as it can: TCP connect, the opening handshake with the head a
//! browser sends (no extensions offered), one 16-byte text message and its
//! echo, then the closing handshake (the client's Close, the server's Close,
//! the server's TCP close). Prints one JSON line: connections per second and
//! the server's CPU time per connection from `/proc/PID/task/*/schedstat`
//! (all threads; kernel and user time together) and, from `/proc/PID/stat`,
//! its user and system shares (ticks of 10 ms, so only their ratio is
//! precise). Every echo is checked; a failed connection stops the run.
//!
//! With `--tls CERT_PEM` every connection runs the TLS handshake first
//! (rustls, ring provider, SNI `localhost`, trusting only `CERT_PEM`, ALPN
//! `http/1.1`). The `--parallel` workers are the storm's clients, each
//! reconnecting over and over. `--resumption on` (the default) gives each
//! of them rustls's default in-memory session store
//! (`Resumption::default()`), so a client resumes the session of its own
//! previous connection, as a reconnecting browser would;
//! `--resumption shared` gives all workers one such store (rustls keeps at
//! most 8 TLS 1.3 tickets per server name in it, so with many connections
//! at a time most find none: measured 16% resumed at 64 at a time, against
//! 99.9% at 1 and 99.6% at 4); `--resumption off` is
//! `Resumption::disabled()`. The JSON line then also counts the handshakes
//! that resumed a session (`handshake_kind()` of each client connection).
//!
//! ```text
//! storm_load --addr 127.0.0.1:9401 --pid 1234 [--total 10000] [--parallel 64]
//!            [--tls cert.pem [--resumption on|shared|off]]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rustls::HandshakeKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use ws13_benches::{encode_masked_frame, flag, server_cpu_ns, server_ticks};

/// What one connection's TLS handshake was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tls {
    /// No TLS.
    Plain,
    /// A full handshake.
    Full,
    /// A resumed session.
    Resumed,
}

/// One connection's life over TCP, or TLS when `tls` is given; `Err` says
/// what went wrong.
async fn one(
    addr: &str,
    tls: Option<&TlsConnector>,
    request: &[u8],
    message: &[u8],
    close: &[u8],
) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    match tls {
        None => {
            websocket(tcp, request, message, close).await?;
            Ok(Tls::Plain)
        }
        Some(connector) => {
            let stream = connector
                .connect(ws13_benches::tls::server_name(), tcp)
                .await?;
            let kind = match stream.get_ref().1.handshake_kind() {
                Some(HandshakeKind::Resumed) => Tls::Resumed,
                _ => Tls::Full,
            };
            websocket(stream, request, message, close).await?;
            Ok(kind)
        }
    }
}

/// The opening handshake, one echo and the closing handshake over `stream`.
async fn websocket<S: AsyncRead + AsyncWrite + Unpin>(
    mut tcp: S,
    request: &[u8],
    message: &[u8],
    close: &[u8],
) -> std::io::Result<()> {
    tcp.write_all(request).await?;
    let mut buf = Vec::with_capacity(512);
    let head_end = loop {
        if tcp.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&buf[..head_end]).into_owned(),
        ));
    }
    buf.drain(..head_end);
    tcp.write_all(message).await?;
    // The echo: an unmasked text frame of 16 bytes.
    while buf.len() < 18 {
        if tcp.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    if buf[..2] != [0x81, 16] || &buf[2..18] != b"storm of sixteen" {
        return Err(std::io::Error::other("wrong echo"));
    }
    buf.drain(..18);
    tcp.write_all(close).await?;
    // The server's Close, then its end of the connection. Over TLS, a
    // server that closes TCP without a close_notify alert reads as
    // `UnexpectedEof`: after its Close frame that is the end too.
    loop {
        match tcp.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::UnexpectedEof && buf.first() == Some(&0x88) =>
            {
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if buf.first() != Some(&0x88) {
        return Err(std::io::Error::other("no Close frame from the server"));
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let addr = flag("addr").unwrap_or_else(|| "127.0.0.1:9401".to_owned());
    let number = |name: &str, default: usize| {
        flag(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let pid = number("pid", 0) as u32;
    let total = number("total", 10_000);
    let parallel = number("parallel", 64);
    let resumption = flag("resumption").unwrap_or_else(|| "on".to_owned());
    if !["on", "shared", "off"].contains(&resumption.as_str()) {
        eprintln!("--resumption on|shared|off, not {resumption}");
        std::process::exit(2);
    }
    let tls_config = match flag("tls") {
        None => None,
        Some(cert) => Some(ws13_benches::tls::client_config(
            std::path::Path::new(&cert),
            resumption != "off",
        )?),
    };
    let shared_connector = tls_config.clone().map(|c| TlsConnector::from(Arc::new(c)));
    // One worker's connector: with `--resumption on` its own session store.
    let per_worker_store = resumption == "on";
    let worker_connector = move || match &tls_config {
        Some(config) if per_worker_store => {
            let mut config = config.clone();
            config.resumption = rustls::client::Resumption::default();
            Some(TlsConnector::from(Arc::new(config)))
        }
        _ => shared_connector.clone(),
    };
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
         Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) \
         AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\nOrigin: http://{addr}\r\nSec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut message = Vec::new();
    encode_masked_frame(&mut message, true, 1, b"storm of sixteen", [1, 2, 3, 4]);
    let mut close = Vec::new();
    encode_masked_frame(&mut close, true, 8, &1000u16.to_be_bytes(), [5, 6, 7, 8]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let is_tls = flag("tls").is_some();
        let shared = Arc::new((addr, request.into_bytes(), message, close));
        let next = Arc::new(AtomicUsize::new(0));
        let resumed = Arc::new(AtomicUsize::new(0));
        let cpu0 = server_cpu_ns(pid);
        let ticks0 = server_ticks(pid);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..parallel.min(total) {
            let (shared, next) = (Arc::clone(&shared), Arc::clone(&next));
            let resumed = Arc::clone(&resumed);
            let tls = worker_connector();
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let (addr, request, message, close) = &*shared;
                    if one(addr, tls.as_ref(), request, message, close).await? == Tls::Resumed {
                        resumed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok::<(), std::io::Error>(())
            }));
        }
        for task in tasks {
            task.await.map_err(std::io::Error::other)??;
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu1 = server_cpu_ns(pid);
        let ticks1 = server_ticks(pid);
        let (user, system) = (ticks1.0 - ticks0.0, ticks1.1 - ticks0.1);
        let tls_fields = if is_tls {
            let resumed = resumed.load(Ordering::Relaxed);
            format!(
                ",\"tls\":true,\"resumption\":\"{resumption}\",\"resumed\":{resumed},\"resumed_share\":{:.3}",
                resumed as f64 / total as f64
            )
        } else {
            String::new()
        };
        println!(
            "{{\"total\":{total},\"parallel\":{parallel},\"conns_per_s\":{:.0},\"server_cpu_us_per_conn\":{:.1},\"server_user_share\":{:.2}{tls_fields}}}",
            total as f64 / elapsed,
            (cpu1 - cpu0) as f64 / 1000.0 / total as f64,
            user as f64 / (user + system).max(1) as f64
        );
        Ok(())
    })
}
