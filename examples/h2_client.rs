//! Several WebSockets over one HTTP/2 connection (RFC 8441), each echoing.
//!
//! ```text
//! cargo run --features http2 --example h2_client -- URL [--count N] [--ca FILE]
//! ```
//!
//! `URL` is `wss://HOST[:PORT]/PATH` (TLS, ALPN `h2`) or `ws://...` (h2c,
//! HTTP/2 without TLS, as test servers speak it) of an echo endpoint whose
//! server advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL` (axum 0.8's
//! `axum::serve` does, and so does the ws13 axum example). `--count` opens
//! that many WebSockets (default 3) on the one connection; `--ca FILE`
//! trusts a development CA (see the `gen_cert` example) besides the
//! Mozilla roots. Each WebSocket sends a text and a binary message and
//! waits for their echo; then all close. The exit status is 1 on any
//! failure, with the error naming the cause and the fix.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ws13::http2::{Http2Connection, Http2Options};
use ws13::tls::TlsOptions;
use ws13::{ClientOptions, CloseCode, Message, WsUrl};

/// How long one echo may take.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("ws://") || a.starts_with("wss://"))
    else {
        eprintln!(
            "usage: h2_client URL [--count N] [--ca FILE]\n  URL: wss://HOST[:PORT]/PATH, or ws://... for h2c"
        );
        return ExitCode::from(2);
    };
    let count: usize = match common::flag("count").map(|n| n.parse()) {
        None => 3,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("--count takes a positive number");
            return ExitCode::from(2);
        }
    };
    match run(&url, count).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("h2_client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut tls = TlsOptions::default();
    if let Some(ca) = common::flag("ca") {
        tls = tls.ca_file(ca);
    }
    let connector = tls.connector()?;
    // h2c for ws:// URLs; no fallback: this example is about HTTP/2.
    let http2 = Http2Options::default()
        .cleartext(true)
        .fallback_to_http1(false);
    let path = WsUrl::parse(url)?.path;
    let connection = Http2Connection::connect(url, &http2, &connector).await?;
    println!("connected to {url} over HTTP/2; the server accepts WebSockets on streams");

    let options = ClientOptions::default();
    let mut sockets = Vec::with_capacity(count);
    for i in 0..count {
        let (ws, response) = connection.open(&path, &options).await?;
        println!(
            "websocket {i}: open on its own stream (subprotocol {:?}, deflate {})",
            response.protocol,
            if response.deflate.is_some() {
                "on"
            } else {
                "off"
            }
        );
        sockets.push(ws);
    }

    // All of them at once: every message goes out before any echo is awaited.
    for (i, ws) in sockets.iter_mut().enumerate() {
        ws.feed(Message::text(format!("hello from websocket {i}")))
            .await?;
        ws.feed(Message::binary(vec![i as u8; 1024])).await?;
        ws.flush().await?;
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        for expected in [
            Message::text(format!("hello from websocket {i}")),
            Message::binary(vec![i as u8; 1024]),
        ] {
            let echo = tokio::time::timeout(ECHO_TIMEOUT, next_data(ws))
                .await
                .map_err(|_| format!("websocket {i}: no echo within {ECHO_TIMEOUT:?}"))??;
            if echo != expected {
                return Err(format!("websocket {i}: echo differs from what was sent").into());
            }
        }
        println!("websocket {i}: text and binary echoed");
    }

    for (i, mut ws) in sockets.into_iter().enumerate() {
        let peer = ws.close_with(CloseCode::NORMAL, "done").await?;
        println!("websocket {i}: closed ({peer:?})");
    }
    println!("{count} WebSockets echoed over one HTTP/2 connection");
    Ok(())
}

/// The next text or binary message (pings and pongs are answered already).
async fn next_data<S>(
    ws: &mut ws13::tokio::WebSocketStream<S, ws13::OsMaskKeys>,
) -> Result<Message, Box<dyn std::error::Error>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_data() {
            return Ok(message);
        }
    }
    Err("the server closed the WebSocket before echoing".into())
}
