//! Load client of the permessage-deflate echo benchmark (loopback only,
//! `benches/deflate_echo.py`).
//!
//! Opens `--conns` connections to `--addr` with ws13's tokio client offering
//! permessage-deflate (with `--reset`, also `server_no_context_takeover` and
//! `client_no_context_takeover`: every message compressed on its own), checks
//! that the server agreed, then keeps one text message of about `--size`
//! bytes of chat JSON outstanding per connection (distinct slices of one chat
//! log spanning more than two deflate windows, `chat_messages`, in turn, so
//! context takeover cannot just repeat a message). After `--warmup` seconds it
//! measures for `--secs` seconds and prints one JSON line: messages/s and the
//! server's CPU time per message from `/proc/PID/task/*/schedstat` (all
//! threads). Every echo is compared with what was sent.
//!
//! ```text
//! deflate_load --addr 127.0.0.1:9301 --pid 1234 --size 1024 --conns 16 --secs 2 [--reset]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use ws13::handshake::permessage_deflate::DeflateClientPolicy;
use ws13::{ClientOptions, Message, WsUrl};
use ws13_benches::{chat_messages, flag, server_cpu_ns};

fn main() -> std::io::Result<()> {
    let addr = flag("addr").unwrap_or_else(|| "127.0.0.1:9301".to_owned());
    let number = |name: &str, default: f64| {
        flag(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let pid = number("pid", 0.0) as u32;
    let size = number("size", 1024.0) as usize;
    let conns = number("conns", 16.0) as usize;
    let secs = number("secs", 2.0);
    let warmup = number("warmup", 0.5);
    let reset = std::env::args().any(|a| a == "--reset");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let options = ClientOptions::default().deflate(DeflateClientPolicy {
            server_no_context_takeover: reset,
            client_no_context_takeover: reset,
            server_max_window_bits: None,
        });
        let texts = Arc::new(chat_messages(size));
        let counting = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let echoed = Arc::new(AtomicU64::new(0));
        let ready = Arc::new(Barrier::new(conns + 1));
        let mut tasks = Vec::new();
        for c in 0..conns {
            let url = WsUrl::parse(&format!("ws://{addr}/")).map_err(std::io::Error::other)?;
            let tcp = TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let (mut ws, response) = ws13::tokio::client(tcp, &url, &options)
                .await
                .map_err(std::io::Error::other)?;
            assert!(response.deflate.is_some(), "the server did not agree to deflate");
            let (texts, counting, stop, echoed, ready) = (
                Arc::clone(&texts),
                Arc::clone(&counting),
                Arc::clone(&stop),
                Arc::clone(&echoed),
                Arc::clone(&ready),
            );
            tasks.push(tokio::spawn(async move {
                ready.wait().await;
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let text = &texts[i % texts.len()];
                    i += 1;
                    ws.send(Message::text(text.clone())).await.expect("send");
                    let echo = ws.next().await.expect("echo").expect("echo");
                    assert_eq!(echo.as_text(), Some(text.as_str()), "wrong echo");
                    if counting.load(Ordering::Relaxed) {
                        echoed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = ws.close_with(ws13::CloseCode::NORMAL, "").await;
            }));
        }
        ready.wait().await;
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
        let cpu0 = server_cpu_ns(pid);
        let t0 = Instant::now();
        counting.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        counting.store(false, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu1 = server_cpu_ns(pid);
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
        let messages = echoed.load(Ordering::Relaxed);
        println!(
            "{{\"size\":{size},\"conns\":{conns},\"reset\":{reset},\"messages\":{messages},\"msgs_per_s\":{:.0},\"server_cpu_ns_per_msg\":{:.0}}}",
            messages as f64 / elapsed,
            (cpu1 - cpu0) as f64 / messages.max(1) as f64
        );
        Ok(())
    })
}
