//! Echo server on the blocking driver: one thread per connection.
//!
//! ```text
//! cargo run --example sync_echo -- --addr 127.0.0.1:9001
//! ```
//!
//! Echoes text and binary messages unchanged (a fragmented message comes back
//! as one), answers `GET /health` with `ok` on the same port, and on Ctrl-C
//! stops accepting and closes every connection with 1001 (going away).

mod common;

use std::collections::HashMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ws13::blocking::{Accepted, WebSocket, accept};
use ws13::handshake::permessage_deflate::DeflateServerPolicy;
use ws13::{CloseCode, Error, ServerOptions};

static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Live connections, so Ctrl-C can wake their threads.
type Registry = Arc<Mutex<HashMap<u64, TcpStream>>>;

fn main() -> std::io::Result<()> {
    let addr = common::listen_addr();
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    println!("sync_echo listening on ws://{}", listener.local_addr()?);

    let registry: Registry = Arc::default();
    let handler_registry = Arc::clone(&registry);
    ctrlc::set_handler(move || {
        SHUTTING_DOWN.store(true, Ordering::SeqCst);
        // Wake every connection thread: its next read sees end of input.
        for stream in handler_registry.lock().unwrap().values() {
            let _ = stream.shutdown(Shutdown::Read);
        }
    })
    .expect("install the Ctrl-C handler");

    let next_id = AtomicU64::new(0);
    let mut threads = Vec::new();
    while !SHUTTING_DOWN.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        registry.lock().unwrap().insert(id, stream.try_clone()?);
        let registry = Arc::clone(&registry);
        threads.push(thread::spawn(move || {
            serve(stream);
            registry.lock().unwrap().remove(&id);
        }));
        threads.retain(|t| !t.is_finished());
    }
    println!("shutting down: closing {} connection(s)", threads.len());
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn serve(stream: TcpStream) {
    match accept(stream, &server_options()) {
        Ok(Accepted::WebSocket(ws, _request)) => echo(ws),
        Ok(Accepted::Http(http)) => {
            let (status, body) = common::echo_server_http_answer(&http.request.path);
            let _ = http.respond(status, "text/plain; charset=utf-8", body);
        }
        Err(e) => eprintln!("handshake failed: {e}"),
    }
}

fn echo(mut ws: WebSocket<TcpStream>) {
    loop {
        match ws.read() {
            // Queued, not written: the next read flushes all echoes at once.
            Ok(message) if message.is_data() => {
                if ws.write(message).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(Error::AbnormalClosure) if SHUTTING_DOWN.load(Ordering::SeqCst) => {
                let _ = ws.close(CloseCode::GOING_AWAY, "server shutting down");
                return;
            }
            Err(_) => return,
        }
    }
}

/// Default limits, plus permessage-deflate for clients that offer it.
fn server_options() -> ServerOptions {
    ServerOptions::default().deflate(DeflateServerPolicy::default())
}
