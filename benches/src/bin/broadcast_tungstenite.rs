//! The fan-out benchmark's tokio-tungstenite server: every text message a
//! connection sends goes to every other connection through a
//! `tokio::sync::broadcast` channel (a `Bytes` clone per recipient, framed
//! per recipient), each connection batching with `feed` while more is
//! waiting and flushing once.
//!
//! `broadcast_tungstenite --addr 127.0.0.1:9202`

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let (lines, _) = broadcast::channel::<(u64, Utf8Bytes)>(4096);
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9202")).await?;
    println!(
        "broadcast_tungstenite listening on {}",
        listener.local_addr()?
    );
    static IDS: AtomicU64 = AtomicU64::new(1);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let lines = lines.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let id = IDS.fetch_add(1, Ordering::Relaxed);
            let mut inbox = lines.subscribe();
            loop {
                tokio::select! {
                    incoming = ws.next() => match incoming {
                        Some(Ok(Message::Text(text))) => {
                            let _ = lines.send((id, text));
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    line = inbox.recv() => {
                        let (from, text) = match line {
                            Ok(line) => line,
                            // Skipped lines stay skipped (the load waits for
                            // every delivery, so it would report it).
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        };
                        if from != id && ws.feed(Message::Text(text)).await.is_err() {
                            return;
                        }
                        while let Ok((from, text)) = inbox.try_recv() {
                            if from != id && ws.feed(Message::Text(text)).await.is_err() {
                                return;
                            }
                        }
                        if ws.flush().await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
