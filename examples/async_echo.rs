//! Echo server on the tokio driver: one task per connection.
//!
//! ```text
//! cargo run --features tokio --example async_echo -- --addr 127.0.0.1:9001
//! cargo run --features tls --example async_echo -- --cert dev-cert/cert.pem --key dev-cert/key.pem
//! cargo run --features tokio --example async_echo -- --threads 1
//! ```
//!
//! Echoes text and binary messages unchanged (a fragmented message comes back
//! as one), answers `GET /health` with `ok` on the same port, and on Ctrl-C
//! closes every connection with 1001 (going away). With `--cert` and `--key`
//! (PEM files, e.g. from the `gen_cert` example) it serves `wss://`. It runs
//! on tokio's multi-thread runtime; `--threads N` sets the worker threads,
//! and `--threads 1` runs everything on one thread (a current-thread
//! runtime: no wake-ups across threads, the cheapest per message).

mod common;
#[path = "common/runtime.rs"]
mod runtime;
#[path = "common/tls_server.rs"]
mod tls_server;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use ws13::handshake::permessage_deflate::DeflateServerPolicy;
use ws13::tokio::{Accepted, WebSocketStream, accept};
use ws13::{CloseCode, ServerOptions};

use tls_server::{ServerStream, Transport};

fn main() -> std::io::Result<()> {
    let threads = common::flag("threads").map(|n| {
        n.parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                eprintln!("--threads {n:?} is not a positive number");
                std::process::exit(2);
            })
    });
    runtime::tokio_runtime(threads)?.block_on(run())
}

async fn run() -> std::io::Result<()> {
    let transport = Transport::from_flags();
    let listener = TcpListener::bind(common::listen_addr()).await?;
    let scheme = transport.ws_scheme();
    println!(
        "async_echo listening on {scheme}://{}",
        listener.local_addr()?
    );
    let mut shutdown = Shutdown::default();
    let mut tasks = tokio::task::JoinSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = accepted?;
                tcp.set_nodelay(true)?;
                tasks.spawn(serve(transport.clone(), tcp, shutdown.subscribe()));
            }
            // Finished connections are reaped as they end, not kept until exit.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = &mut ctrl_c => break,
        }
    }
    println!("shutting down: closing {} connection(s)", tasks.len());
    shutdown.signal();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Tells every connection to close. Each connection has its own one-shot
/// channel: polling it touches nothing shared, where a `watch` receiver's
/// every poll takes a lock shared by all connections.
#[derive(Default)]
struct Shutdown {
    senders: Vec<oneshot::Sender<()>>,
    /// How many senders were left after dropping those of finished
    /// connections; the next sweep waits until the list has doubled.
    kept: usize,
}

impl Shutdown {
    fn subscribe(&mut self) -> oneshot::Receiver<()> {
        if self.senders.len() >= 2 * self.kept.max(64) {
            self.senders.retain(|sender| !sender.is_closed());
            self.kept = self.senders.len();
        }
        let (sender, receiver) = oneshot::channel();
        self.senders.push(sender);
        receiver
    }

    fn signal(self) {
        for sender in self.senders {
            let _ = sender.send(());
        }
    }
}

/// One connection. The task lives as long as the connection, so its future
/// is kept small: the handshake's state (about 2 KiB) is boxed and freed once
/// the handshake is over, and the stream is lent to `echo`, not moved (a
/// future keeps an argument moved into an async fn twice: as the argument
/// and as the local it becomes).
async fn serve(transport: Transport, tcp: TcpStream, shutdown: oneshot::Receiver<()>) {
    let Some(mut ws) = Box::pin(upgrade(transport, tcp)).await else {
        return;
    };
    echo(&mut ws, shutdown).await;
}

/// The TLS and WebSocket handshakes; a plain HTTP request is answered here.
async fn upgrade(transport: Transport, tcp: TcpStream) -> Option<WebSocketStream<ServerStream>> {
    let stream = match transport.accept(tcp).await {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("TLS handshake failed: {e}");
            return None;
        }
    };
    match accept(stream, &server_options()).await {
        Ok(Accepted::WebSocket(ws, _request)) => Some(ws),
        Ok(Accepted::Http(http)) => {
            let (status, body) = common::echo_server_http_answer(&http.request.path);
            let _ = http
                .respond(status, "text/plain; charset=utf-8", body)
                .await;
            None
        }
        Err(e) => {
            eprintln!("handshake failed: {e}");
            None
        }
    }
}

async fn echo(ws: &mut WebSocketStream<ServerStream>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        // The stream first; the shutdown signal only when the stream has
        // nothing ready (a connection that never runs dry sees it through
        // `try_recv` after each message).
        let next = poll_fn(|cx| match ws.poll_next_unpin(cx) {
            Poll::Ready(message) => Poll::Ready(Some(message)),
            Poll::Pending => Pin::new(&mut shutdown).poll(cx).map(|_| None),
        })
        .await;
        match next {
            // `feed` queues; the stream writes all queued echoes at once
            // before it waits for more input.
            Some(Some(Ok(message))) if message.is_data() => {
                if ws.feed(message).await.is_err() {
                    return;
                }
            }
            Some(Some(Ok(_))) => {}
            Some(Some(Err(_)) | None) => return,
            None => break,
        }
        if !matches!(
            shutdown.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ) {
            break;
        }
    }
    if ws
        .start_close(CloseCode::GOING_AWAY, "server shutting down")
        .is_ok()
    {
        let _ = ws.close().await;
    }
}

/// Default limits, plus permessage-deflate for clients that offer it.
fn server_options() -> ServerOptions {
    ServerOptions::default().deflate(DeflateServerPolicy::default())
}
