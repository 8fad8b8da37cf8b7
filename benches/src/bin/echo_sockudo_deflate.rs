//! Echo server on sockudo-ws with permessage-deflate, as its docs and
//! sources show for a raw TCP server: `handshake::parse_request`,
//! `deflate::negotiate_server_deflate` on the client's offer with the default
//! `DeflateConfig` (level 6, 15-bit windows, threshold 32 bytes),
//! `build_response` with the agreed extension, then a
//! `CompressedWebSocketStream` sending every text or binary message back.
//! Clients that offer no deflate get the plain `WebSocketStream`.
//!
//! `echo_sockudo_deflate [--addr 127.0.0.1:9302] [--threads N] [--cert PEM --key PEM]`
//!
//! With `--cert PEM --key PEM` it serves `wss://`: each accepted TCP stream
//! is wrapped in a tokio-rustls server stream (`ws13_benches::tls`, the same
//! rustls configuration as ws13's `async_echo`) before the library sees it.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use sockudo_ws::deflate::{DeflateConfig, negotiate_server_deflate};
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::{CompressedWebSocketStream, Config, Message, WebSocketStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9302")).await?;
    println!(
        "echo_sockudo_deflate listening on {}",
        listener.local_addr()?
    );
    let tls = ws13_benches::tls::acceptor_from_flags();
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(tcp).await,
                Some(acceptor) => {
                    if let Ok(stream) = ws13_benches::tls::accept(&acceptor, tcp).await {
                        connection(stream).await;
                    }
                }
            }
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(mut tcp: S) {
    let mut buf = BytesMut::with_capacity(4096);
    let (negotiated, leftover) = loop {
        match tcp.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(parsed) = parse_request(&buf) else {
            return;
        };
        let Some((request, consumed)) = parsed else {
            continue;
        };
        let negotiated = request
            .extensions
            .and_then(|offers| negotiate_server_deflate(offers, &DeflateConfig::default()));
        let header = negotiated.as_ref().map(|n| n.to_response_header());
        let response = build_response(&generate_accept_key(request.key), None, header.as_deref());
        if tcp.write_all(&response).await.is_err() {
            return;
        }
        let leftover = (buf.len() > consumed).then(|| Bytes::copy_from_slice(&buf[consumed..]));
        break (negotiated, leftover);
    };
    match negotiated {
        Some(negotiated) => {
            let mut ws = CompressedWebSocketStream::server_with_leftover(
                tcp,
                Config::default(),
                negotiated.config,
                leftover,
            );
            while let Some(Ok(message)) = ws.next().await {
                if matches!(message, Message::Text(_) | Message::Binary(_))
                    && ws.send(message).await.is_err()
                {
                    return;
                }
            }
        }
        None => {
            let mut ws = WebSocketStream::server(tcp, Config::default());
            while let Some(Ok(message)) = ws.next().await {
                if matches!(message, Message::Text(_) | Message::Binary(_))
                    && ws.send(message).await.is_err()
                {
                    return;
                }
            }
        }
    }
}
