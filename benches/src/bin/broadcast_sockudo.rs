//! The fan-out benchmark's sockudo-ws server, written as its `pubsub_echo`
//! example shows: the handshake with its `parse_request`/`build_response`,
//! a split stream, one `PubSub` subscriber (an unbounded channel) per
//! connection on one topic, `publish_excluding` for what a connection sends,
//! and `SplitWriter::send` for each message the channel brings.
//!
//! `broadcast_sockudo --addr 127.0.0.1:9203`

use std::sync::Arc;

use bytes::BytesMut;
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::pubsub::PubSub;
use sockudo_ws::{Config, Message, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const TOPIC: &str = "bench";

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let pubsub = Arc::new(PubSub::new());
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9203")).await?;
    println!("broadcast_sockudo listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let pubsub = Arc::clone(&pubsub);
        tokio::spawn(async move {
            if let Some(tcp) = handshake(tcp).await {
                connection(tcp, pubsub).await;
            }
        });
    }
}

async fn handshake(mut tcp: TcpStream) -> Option<TcpStream> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if tcp.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
        if let Some((request, _)) = parse_request(&buf).ok()? {
            let response = build_response(&generate_accept_key(request.key), None, None);
            tcp.write_all(&response).await.ok()?;
            tcp.flush().await.ok()?;
            return Some(tcp);
        }
    }
}

async fn connection(tcp: TcpStream, pubsub: Arc<PubSub>) {
    let (mut reader, mut writer) = WebSocketStream::server(tcp, Config::default()).split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = pubsub.create_subscriber(tx);
    pubsub.subscribe(id, TOPIC);
    let publisher = Arc::clone(&pubsub);
    let reading = tokio::spawn(async move {
        while let Some(Ok(message)) = reader.next().await {
            if let Message::Text(_) = message {
                publisher.publish_excluding(id, TOPIC, message);
            }
        }
        // Ends the writer's channel too.
        publisher.remove_subscriber(id);
    });
    while let Some(message) = rx.recv().await {
        if writer.send(message).await.is_err() {
            break;
        }
    }
    pubsub.remove_subscriber(id);
    reading.abort();
}
