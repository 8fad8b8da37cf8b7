//! Echo server on the io_uring driver (`ws13::compio`): one compio task per
//! connection, every connection's receives and sends on one io_uring.
//!
//! ```text
//! cargo run --release --features compio --example uring_echo -- --addr 127.0.0.1:9001
//! ```
//!
//! Echoes text and binary messages unchanged (a fragmented message comes back
//! as one), offers permessage-deflate to clients that ask for it, and answers
//! `GET /health` with `ok` on the same port. It runs on one thread (compio's
//! runtime is thread-per-core); it exits with a message that names the cause
//! when the kernel does not allow io_uring.

mod common;

use compio::net::{TcpListener, TcpStream};
use ws13::ServerOptions;
use ws13::compio::{Accepted, WebSocket, accept};
use ws13::handshake::permessage_deflate::DeflateServerPolicy;

fn main() {
    let runtime = match ws13::compio::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("uring_echo: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = runtime.block_on(run()) {
        eprintln!("uring_echo: {error}");
        std::process::exit(1);
    }
}

async fn run() -> std::io::Result<()> {
    let listener = TcpListener::bind(common::listen_addr()).await?;
    println!("uring_echo listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        compio::runtime::spawn(serve(tcp)).detach();
    }
}

/// One connection: the handshake's state is boxed and freed once it is over,
/// so the task that lives as long as the connection stays small.
async fn serve(tcp: TcpStream) {
    let Some(mut ws) = Box::pin(upgrade(tcp)).await else {
        return;
    };
    echo(&mut ws).await;
}

/// The WebSocket handshake; a plain HTTP request is answered here.
async fn upgrade(tcp: TcpStream) -> Option<WebSocket> {
    let options = ServerOptions::default().deflate(DeflateServerPolicy::default());
    match accept(tcp, &options).await {
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

/// `feed` queues; `next` sends everything queued at once before it waits
/// for more input. Pings, pongs and closes are answered by the socket.
async fn echo(ws: &mut WebSocket) {
    while let Some(Ok(message)) = ws.next().await {
        if message.is_data() && ws.feed(message).await.is_err() {
            return;
        }
    }
}
