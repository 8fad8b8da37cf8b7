//! Echo server on yawc with permessage-deflate, as its README and hyper echo
//! server show: hyper's HTTP/1.1 connection with upgrades,
//! `WebSocket::upgrade_with_options` with compression at level 6 (zlib's
//! default, as ws13 and sockudo-ws use) and UTF-8 checks on, then every text
//! or binary frame sent back. (In this workspace flate2 resolves to its
//! zlib-rs backend for every crate, yawc included.)
//!
//! `echo_yawc_deflate [--addr 127.0.0.1:9303] [--threads N] [--cert PEM --key PEM]`
//!
//! With `--cert PEM --key PEM` it serves `wss://`: each accepted TCP stream
//! is wrapped in a tokio-rustls server stream (`ws13_benches::tls`, the same
//! rustls configuration as ws13's `async_echo`) before the library sees it.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use yawc::{CompressionLevel, OpCode, Options, WebSocket};

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9303")).await?;
    println!("echo_yawc_deflate listening on {}", listener.local_addr()?);
    let tls = ws13_benches::tls::acceptor_from_flags();
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_http(tcp).await,
                Some(acceptor) => {
                    if let Ok(stream) = ws13_benches::tls::accept(&acceptor, tcp).await {
                        serve_http(stream).await;
                    }
                }
            }
        });
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(upgrade))
        .with_upgrades()
        .await;
}

async fn upgrade(mut request: Request<Incoming>) -> yawc::Result<Response<Empty<Bytes>>> {
    let options = Options::default()
        .with_compression_level(CompressionLevel::new(6))
        .with_utf8();
    let (response, upgrade) = WebSocket::upgrade_with_options(&mut request, options)?;
    tokio::spawn(async move {
        let Ok(mut ws) = upgrade.await else {
            return;
        };
        while let Some(frame) = ws.next().await {
            if matches!(frame.opcode(), OpCode::Text | OpCode::Binary)
                && ws.send(frame).await.is_err()
            {
                return;
            }
        }
    });
    Ok(response)
}
