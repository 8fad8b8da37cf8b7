//! An axum application with ws13 WebSockets over HTTP/1.1 and HTTP/2.
//!
//! ```text
//! cargo run --features axum,tls --example axum_app -- --addr 127.0.0.1:8080
//! cargo run --features axum,tls --example axum_app -- --cert dev-cert/cert.pem --key dev-cert/key.pem
//! ```
//!
//! Serves, on one port:
//!
//! | path | what |
//! |---|---|
//! | `/` | a page that opens a WebSocket to `/ws` and echoes through it; a WebSocket request to `/` is echoed too (Autobahn connects there) |
//! | `/ws` | the WebSocket echo endpoint (text and binary, permessage-deflate when offered) |
//! | `/health` | `ok` |
//! | `/stats` | JSON: how each WebSocket arrived, HTTP/1.1 upgrade or HTTP/2 extended CONNECT |
//!
//! Without `--cert`/`--key` it speaks HTTP/1.1 and h2c (HTTP/2 without
//! TLS, prior knowledge) on the same port; with them, TLS with ALPN `h2`
//! and `http/1.1`. HTTP/2 advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL`, so
//! a browser that loaded the page over HTTP/2 opens its `wss://` WebSocket
//! on the same connection as an RFC 8441 extended CONNECT. Each WebSocket
//! is logged on stdout as `websocket PATH arrived as VERSION`.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use ws13::AcceptError;
use ws13::axum::{WebSocket, WebSocketRejection, WebSocketUpgrade};
use ws13::handshake::HttpVersion;
use ws13::handshake::permessage_deflate::DeflateServerPolicy;
use ws13::tls::TlsAcceptor;

/// How the WebSockets so far arrived, for `/stats`.
#[derive(Default)]
struct Stats {
    arrivals: Vec<(String, HttpVersion)>,
}

type Shared = Arc<Mutex<Stats>>;

/// At most this many arrivals are kept for `/stats` (the counts go on).
const KEPT_ARRIVALS: usize = 1000;

fn main() -> std::io::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> std::io::Result<()> {
    let tls = match (common::flag("cert"), common::flag("key")) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            match TlsAcceptor::from_pem_files_with_alpn(&cert, &key, &[b"h2", b"http/1.1"]) {
                Ok(acceptor) => Some(acceptor),
                Err(e) => exit(&format!("cannot serve TLS: {e}")),
            }
        }
        _ => exit("--cert and --key go together: give both PEM files, or neither"),
    };
    let listener = TcpListener::bind(common::listen_addr()).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "axum_app listening on {scheme}://{}",
        listener.local_addr()?
    );

    let stats = Shared::default();
    let app = Router::new()
        .route("/", any(root))
        .route("/ws", any(websocket))
        .route("/health", get(|| async { "ok\n" }))
        .route("/stats", get(stats_json))
        .with_state(stats);

    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: keep serving the others.
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(tcp, app, peer).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    );
                    match handshake.await {
                        Ok(Ok(stream)) => serve_connection(stream, app, peer).await,
                        Ok(Err(e)) => eprintln!("{peer}: TLS handshake failed: {e}"),
                        Err(_) => eprintln!("{peer}: TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Serves one connection with HTTP/1.1 (upgrades allowed) or HTTP/2 (the
/// extended CONNECT enabled), whichever the client speaks.
async fn serve_connection<S>(stream: S, app: Router, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http2().enable_connect_protocol();
    let service = TowerToHyperService::new(app);
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await
    {
        // Clients that go away mid-request are routine; say so on stderr.
        eprintln!("{peer}: connection ended: {e}");
    }
}

/// `/`: the page for a browser, an echo for a WebSocket request.
async fn root(
    State(stats): State<Shared>,
    upgrade: Result<WebSocketUpgrade, WebSocketRejection>,
) -> Response {
    match upgrade {
        Ok(ws) => accept_echo(ws, "/", &stats),
        Err(rejection) if matches!(rejection.error(), AcceptError::NotWebSocket) => {
            Html(PAGE).into_response()
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// `/ws`: the echo endpoint.
async fn websocket(State(stats): State<Shared>, ws: WebSocketUpgrade) -> Response {
    accept_echo(ws, "/ws", &stats)
}

fn accept_echo(ws: WebSocketUpgrade, path: &str, stats: &Shared) -> Response {
    let version = ws.http_version();
    let how = match version {
        HttpVersion::Http2 => "HTTP/2 extended CONNECT",
        _ => "HTTP/1.1 upgrade",
    };
    println!("websocket {path} arrived as {how}");
    {
        let mut stats = stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if stats.arrivals.len() < KEPT_ARRIVALS {
            stats.arrivals.push((path.to_owned(), version));
        }
    }
    ws.deflate(DeflateServerPolicy::default())
        .on_failed_upgrade(|e| eprintln!("the upgrade failed after the response: {e}"))
        .on_upgrade(echo)
}

/// Echoes text and binary messages until the peer closes.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.next().await {
        if message.is_data() && socket.feed(message).await.is_err() {
            break;
        }
    }
}

/// `/stats`: `{"websockets": [{"path": "/ws", "http": "HTTP/2", "via":
/// "extended CONNECT"}, ...], "http1_upgrades": N, "http2_connects": N}`.
async fn stats_json(State(stats): State<Shared>) -> Response {
    let stats = stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let websockets: Vec<serde_json::Value> = stats
        .arrivals
        .iter()
        .map(|(path, version)| {
            serde_json::json!({
                "path": path,
                "http": version.as_str(),
                "via": if *version == HttpVersion::Http2 { "extended CONNECT" } else { "upgrade" },
            })
        })
        .collect();
    let count = |wanted: bool| {
        stats
            .arrivals
            .iter()
            .filter(|(_, version)| (*version == HttpVersion::Http2) == wanted)
            .count()
    };
    let body = serde_json::json!({
        "websockets": websockets,
        "http1_upgrades": count(false),
        "http2_connects": count(true),
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

fn exit(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>ws13 in axum</title>
<h1>ws13 in axum</h1>
<p id="status">connecting…</p>
<form id="form"><input id="text" value="hello" autocomplete="off"> <button>send</button></form>
<ul id="log"></ul>
<script>
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const socket = new WebSocket(scheme + location.host + "/ws");
socket.binaryType = "arraybuffer";
const status = document.getElementById("status");
const log = (line) => {
  const item = document.createElement("li");
  item.textContent = line;
  document.getElementById("log").append(item);
};
socket.onopen = () => { status.textContent = "open"; };
socket.onclose = (event) => { status.textContent = "closed (" + event.code + ")"; };
socket.onmessage = (event) => log(typeof event.data === "string"
  ? "echo: " + event.data
  : "echo: " + event.data.byteLength + " bytes");
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  socket.send(document.getElementById("text").value);
};
</script>
</html>
"#;
