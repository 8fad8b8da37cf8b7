//! ws13 inside axum: the extractor over HTTP/1.1 against the ws13 client
//! (deflate on and off, a subprotocol chosen), ws13's 400/403/426 answers
//! through axum, and hyper's own HTTP/2 extended-CONNECT client against the
//! ws13 server over h2c, with several WebSockets on one connection.
#![cfg(all(feature = "axum", feature = "tokio"))]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws13::axum::WebSocketUpgrade;
use ws13::handshake::permessage_deflate::{DeflateClientPolicy, DeflateServerPolicy};
use ws13::handshake::{HttpVersion, OriginPolicy};
use ws13::socket::Extensions;
use ws13::tokio::WebSocketStream;
use ws13::{ClientOptions, Config, Message, OsMaskKeys};

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

/// How each accepted WebSocket arrived, in order.
type Arrivals = Arc<Mutex<Vec<HttpVersion>>>;

/// Echoes data messages until the peer closes.
async fn echo(mut socket: ws13::axum::WebSocket) {
    while let Some(Ok(message)) = socket.next().await {
        if message.is_data() && socket.send(message).await.is_err() {
            break;
        }
    }
}

fn app(arrivals: Arrivals) -> Router {
    let plain = arrivals.clone();
    let deflating = arrivals.clone();
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            "/ws",
            any(move |ws: WebSocketUpgrade| async move {
                plain.lock().unwrap().push(ws.http_version());
                ws.protocols(["chat"]).on_upgrade(echo)
            }),
        )
        .route(
            "/deflate",
            any(move |ws: WebSocketUpgrade| async move {
                deflating.lock().unwrap().push(ws.http_version());
                ws.deflate(DeflateServerPolicy::default()).on_upgrade(echo)
            }),
        )
        .route(
            "/strict",
            any(|ws: WebSocketUpgrade| async move {
                ws.origins(OriginPolicy::allow_list(["https://good.example"]))
                    .on_upgrade(echo)
            }),
        )
}

/// Serves `app` on an ephemeral loopback port over HTTP/1.1 and h2c, as
/// `axum::serve` does (with the extended CONNECT enabled).
async fn serve() -> (SocketAddr, Arrivals) {
    let arrivals = Arrivals::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(arrivals.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (addr, arrivals)
}

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("finished within the limit")
}

#[tokio::test]
async fn http1_echo_with_a_subprotocol_chosen_and_no_deflate() {
    let (addr, arrivals) = serve().await;
    let options = ClientOptions::default().subprotocols(["other", "chat"]);
    let (mut ws, response) = bounded(ws13::tokio::connect(&format!("ws://{addr}/ws"), &options))
        .await
        .unwrap();
    assert_eq!(response.protocol.as_deref(), Some("chat"));
    assert_eq!(response.deflate, None);
    for message in [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(vec![7u8; 70_000]),
    ] {
        bounded(ws.send(message.clone())).await.unwrap();
        assert_eq!(bounded(ws.next()).await.unwrap().unwrap(), message);
    }
    bounded(ws.close()).await.unwrap();
    assert_eq!(*arrivals.lock().unwrap(), [HttpVersion::Http11]);
}

#[tokio::test]
async fn http1_echo_with_permessage_deflate() {
    let (addr, _) = serve().await;
    let options = ClientOptions::default().deflate(DeflateClientPolicy::default());
    let (mut ws, response) = bounded(ws13::tokio::connect(
        &format!("ws://{addr}/deflate"),
        &options,
    ))
    .await
    .unwrap();
    assert!(response.deflate.is_some(), "deflate agreed");
    assert_eq!(
        response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|(_, value)| value.as_slice()),
        Some(&b"permessage-deflate"[..])
    );
    let text = "a compressible line of text\n".repeat(500);
    for _ in 0..3 {
        bounded(ws.send(Message::text(text.clone()))).await.unwrap();
        assert_eq!(
            bounded(ws.next()).await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    }
    bounded(ws.close()).await.unwrap();
}

/// Sends `request` on a fresh connection and reads one response: status
/// line, headers (lowercased names) and a `Content-Length` body.
async fn raw_exchange(addr: SocketAddr, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = bounded(tcp.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "the server closed before answering");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        assert!(buf.len() < 64 * 1024, "response head too large");
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = bounded(tcp.read(&mut chunk)).await.unwrap();
        assert!(n > 0, "the body was cut short");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
    (status, headers, body)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[tokio::test]
async fn an_old_version_gets_426_with_sec_websocket_version_13_and_ws13s_body() {
    let (addr, arrivals) = serve().await;
    let (status, headers, body) = raw_exchange(
        addr,
        &format!(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 426);
    assert_eq!(header(&headers, "sec-websocket-version"), Some("13"));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(body.contains("speaks only version 13"), "{body}");
    assert!(arrivals.lock().unwrap().is_empty(), "the handler never ran");
}

#[tokio::test]
async fn a_missing_key_gets_400_naming_the_fix() {
    let (addr, _) = serve().await;
    let (status, headers, body) = raw_exchange(
        addr,
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(header(&headers, "sec-websocket-version"), None);
    assert!(body.contains("no 'Sec-WebSocket-Key' header"), "{body}");
    assert!(body.contains("16 random bytes"), "{body}");
}

#[tokio::test]
async fn a_stripped_upgrade_gets_400_with_the_proxy_fix() {
    let (addr, _) = serve().await;
    let (status, _, body) = raw_exchange(
        addr,
        &format!(
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("proxy_set_header Upgrade"), "{body}");
}

#[tokio::test]
async fn a_refused_origin_gets_403_from_on_upgrade() {
    let (addr, _) = serve().await;
    let request = |origin: &str| {
        format!(
            "GET /strict HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        )
    };
    let (status, _, body) = raw_exchange(addr, &request("https://evil.example")).await;
    assert_eq!(status, 403);
    assert!(body.contains("'https://evil.example' is not on this server's allow-list"));
    let (status, headers, body) = raw_exchange(addr, &request("https://good.example")).await;
    assert_eq!(status, 101, "{body}");
    assert_eq!(
        header(&headers, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

#[tokio::test]
async fn a_plain_request_to_the_endpoint_gets_426_with_upgrade_websocket() {
    let (addr, _) = serve().await;
    let (status, headers, body) = raw_exchange(addr, "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(status, 426);
    assert_eq!(header(&headers, "upgrade"), Some("websocket"));
    assert!(body.contains("serves WebSockets only"), "{body}");
    let (status, _, body) = raw_exchange(addr, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

/// An HTTP/2 connection made by hyper's own client over h2c.
async fn h2c_client(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    // One ordinary request first: its answer comes after the server's
    // SETTINGS, which must have enabled the extended CONNECT before one is
    // sent.
    let health = http::Request::get(format!("http://{addr}/health"))
        .body(Empty::new())
        .unwrap();
    let response = bounded(send.send_request(health)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok\n");
    send
}

/// Opens a WebSocket with an RFC 8441 extended CONNECT on `send`'s
/// connection, and runs the ws13 client over the stream hyper hands over.
async fn h2_websocket(
    send: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> WebSocketStream<TokioIo<hyper::upgrade::Upgraded>, OsMaskKeys> {
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}{path}"))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "chat")
        .body(Empty::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = bounded(send.send_request(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert!(response.headers().get("sec-websocket-accept").is_none());
    let upgraded = bounded(hyper::upgrade::on(response)).await.unwrap();
    WebSocketStream::upgraded_client(
        TokioIo::new(upgraded),
        Config::default(),
        Extensions::none(),
        OsMaskKeys::new(),
    )
}

#[tokio::test]
async fn hyper_h2c_extended_connect_websockets_share_one_connection() {
    let (addr, arrivals) = serve().await;
    let mut send = h2c_client(addr).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(h2_websocket(&mut send, addr, "/ws").await);
    }
    assert_eq!(*arrivals.lock().unwrap(), [HttpVersion::Http2; 3]);
    for (i, ws) in sockets.iter_mut().enumerate() {
        let message = Message::text(format!("hello from stream {i}"));
        bounded(ws.send(message.clone())).await.unwrap();
        assert_eq!(bounded(ws.next()).await.unwrap().unwrap(), message);
    }

    // Close the middle one; the others keep echoing on the same connection.
    let mut closed = sockets.remove(1);
    let peer = bounded(closed.close_with(ws13::CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    assert!(
        matches!(&peer, ws13::PeerClose::Frame(reason) if reason.code == ws13::CloseCode::NORMAL),
        "{peer:?}"
    );
    for round in 0..3 {
        for (i, ws) in sockets.iter_mut().enumerate() {
            let message = Message::binary(vec![round as u8; 1000 + i]);
            bounded(ws.send(message.clone())).await.unwrap();
            assert_eq!(bounded(ws.next()).await.unwrap().unwrap(), message);
        }
    }
    // A new WebSocket still opens on the connection after one closed.
    let mut late = h2_websocket(&mut send, addr, "/ws").await;
    bounded(late.send(Message::text("late"))).await.unwrap();
    assert_eq!(
        bounded(late.next()).await.unwrap().unwrap(),
        Message::text("late")
    );
}

#[tokio::test]
async fn an_http2_connect_with_http1_headers_is_refused_by_name() {
    let (addr, arrivals) = serve().await;
    let mut send = h2c_client(addr).await;
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/ws"))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", KEY)
        .body(Empty::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = bounded(send.send_request(request)).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        body.contains("HTTP/1.1 handshake header 'Sec-WebSocket-Key'"),
        "{body}"
    );
    assert!(arrivals.lock().unwrap().is_empty());
}
