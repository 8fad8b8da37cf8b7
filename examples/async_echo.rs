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

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
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
    let (shutdown, shutdown_signal) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = accepted?;
                tcp.set_nodelay(true)?;
                tasks.spawn(serve(transport.clone(), tcp, shutdown_signal.clone()));
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("shutting down: closing {} connection(s)", tasks.len());
    let _ = shutdown.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One connection. The task lives as long as the connection, so its future
/// is kept small: the handshake's state (about 2 KiB) is boxed and freed once
/// the handshake is over, and the stream is lent to `echo`, not moved (a
/// future keeps an argument moved into an async fn twice: as the argument
/// and as the local it becomes).
async fn serve(transport: Transport, tcp: TcpStream, shutdown: watch::Receiver<bool>) {
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

async fn echo(ws: &mut WebSocketStream<ServerStream>, shutdown: watch::Receiver<bool>) {
    // Waiting for the shutdown signal means polling a future whose every poll
    // takes a lock shared by all connections, so it is polled only when the
    // stream has nothing ready (`biased`: the stream first). A connection
    // that never runs dry sees the signal through the lock-free
    // `has_changed` check after each message.
    let mut signal = shutdown.clone();
    let shutdown_signal = signal.changed();
    tokio::pin!(shutdown_signal);
    loop {
        tokio::select! {
            biased;
            message = ws.next() => match message {
                // `feed` queues; the stream writes all queued echoes at once
                // before it waits for more input.
                Some(Ok(message)) if message.is_data() => {
                    if ws.feed(message).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            _ = &mut shutdown_signal => break,
        }
        if shutdown.has_changed().unwrap_or(true) {
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
