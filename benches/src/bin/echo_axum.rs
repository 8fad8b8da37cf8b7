//! Echo server in axum 0.8, served by `axum::serve` (HTTP/1.1 and h2c), with
//! the WebSocket handled either by ws13's extractor or by axum's built-in
//! one (tungstenite inside), so that the two differ in the WebSocket
//! library only.
//!
//! `echo_axum --impl ws13|axum [--addr 127.0.0.1:9211] [--threads N]`

use axum::Router;
use axum::response::Response;
use axum::routing::any;
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let app = match ws13_benches::flag("impl").as_deref() {
        Some("ws13") => Router::new().route("/", any(ws13_echo)),
        Some("axum") => Router::new().route("/", any(axum_echo)),
        _ => {
            eprintln!("--impl ws13 or --impl axum");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9211")).await?;
    println!("echo_axum listening on {}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// ws13's extractor; the echo loop of ws13's `async_echo`.
async fn ws13_echo(ws: ws13::axum::WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_data() && socket.feed(message).await.is_err() {
                break;
            }
        }
    })
}

/// axum's built-in extractor; the echo loop of the tungstenite peer.
async fn axum_echo(ws: axum::extract::ws::WebSocketUpgrade) -> Response {
    ws.on_upgrade(|socket| async move {
        let (write, read) = socket.split();
        let _ = read
            .try_filter(|m| {
                future::ready(matches!(
                    m,
                    axum::extract::ws::Message::Text(_) | axum::extract::ws::Message::Binary(_)
                ))
            })
            .forward(write)
            .await;
    })
}
