//! The fan-out benchmark's ws13 server: every text message a connection
//! sends goes to every other connection.
//!
//! ```text
//! broadcast_ws13 --addr 127.0.0.1:9201 --mode prepared|message --deflate none|reset|takeover
//! ```
//!
//! - `--mode prepared`: `ws13::broadcast::Topic` and `relay`: the message is
//!   framed once (compressed once per key) and queued on each connection by
//!   reference.
//! - `--mode message`: a `tokio::sync::broadcast` channel of `Utf8Bytes`;
//!   each connection sends a `Message` (a `Bytes` clone, framed, and
//!   compressed, per recipient), batched with `feed` while more is waiting.
//! - `--deflate reset`: permessage-deflate with `server_no_context_takeover`
//!   asked for in every answer; `takeover`: the default policy (the server
//!   keeps its context, so every connection compresses on its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use ws13::broadcast::{Relayed, Topic, TopicOptions, relay};
use ws13::handshake::permessage_deflate::DeflateServerPolicy;
use ws13::tokio::{Accepted, accept};
use ws13::{Message, PreparedMessage, ServerOptions, Utf8Bytes};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Prepared,
    PerRecipient,
}

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let mode = match ws13_benches::flag("mode").as_deref() {
        None | Some("prepared") => Mode::Prepared,
        Some("message") => Mode::PerRecipient,
        Some(other) => panic!("--mode prepared|message, not {other}"),
    };
    let mut options = ServerOptions::default();
    match ws13_benches::flag("deflate").as_deref() {
        None | Some("none") => {}
        Some("reset") => {
            options =
                options.deflate(DeflateServerPolicy::default().server_no_context_takeover(true));
        }
        Some("takeover") => options = options.deflate(DeflateServerPolicy::default()),
        Some(other) => panic!("--deflate none|reset|takeover, not {other}"),
    }
    let options = Arc::new(options);
    // A budget far above what the paced load ever queues: nobody is dropped.
    let topic = Topic::new(TopicOptions::default().budget(4 << 20));
    let (lines, _) = broadcast::channel::<(u64, Utf8Bytes)>(4096);
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9201")).await?;
    println!("broadcast_ws13 listening on {}", listener.local_addr()?);
    static IDS: AtomicU64 = AtomicU64::new(1);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let (options, topic, lines) = (Arc::clone(&options), topic.clone(), lines.clone());
        tokio::spawn(async move {
            let Ok(Accepted::WebSocket(mut ws, _)) = accept(tcp, &options).await else {
                return;
            };
            match mode {
                Mode::Prepared => {
                    let mut subscription = topic.subscribe();
                    loop {
                        match relay(&mut subscription, &mut ws).await {
                            Relayed::Received(Ok(Message::Text(text))) => {
                                topic.publish_except(
                                    &PreparedMessage::text(text),
                                    subscription.id(),
                                );
                            }
                            Relayed::Received(Ok(_)) => {}
                            _ => return,
                        }
                    }
                }
                Mode::PerRecipient => {
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
                                // Whatever else is waiting goes in the same write.
                                while let Ok((from, text)) = inbox.try_recv() {
                                    if from != id && ws.feed(Message::Text(text)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
    }
}
