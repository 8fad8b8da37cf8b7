//! `ws13::hyper::upgrade` in a plain hyper service (no axum): the ws13
//! client over HTTP/1.1, hyper's own client with an extended CONNECT over
//! h2c, and plain requests and refusals served beside them.
#![cfg(all(feature = "hyper", feature = "tokio"))]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use ws13::handshake::permessage_deflate::{DeflateClientPolicy, DeflateServerPolicy};
use ws13::hyper::{Upgrade, upgrade};
use ws13::socket::Extensions;
use ws13::tokio::WebSocketStream;
use ws13::{ClientOptions, Config, Message, OsMaskKeys, ServerOptions};

const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("finished within the limit")
}

/// The service: WebSocket echo on any path, `ok` for plain requests.
async fn service(
    mut request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let options = ServerOptions::default()
        .subprotocols(["echo"])
        .deflate(DeflateServerPolicy::default());
    Ok(match upgrade(&mut request, &options) {
        Upgrade::WebSocket {
            response,
            websocket,
        } => {
            assert_eq!(websocket.request().protocol.as_deref(), Some("echo"));
            tokio::spawn(async move {
                let Ok(mut ws) = websocket.await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_data() && ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
            response
        }
        Upgrade::Refused { response, .. } => response,
        Upgrade::NotWebSocket => http::Response::new(Full::from("ok\n")),
    })
}

async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut builder = Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(service))
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_ws13_client_echoes_through_a_plain_hyper_service_with_deflate() {
    let addr = serve().await;
    let options = ClientOptions::default()
        .subprotocols(["echo"])
        .deflate(DeflateClientPolicy::default());
    let (mut ws, response) = bounded(ws13::tokio::connect(&format!("ws://{addr}/x"), &options))
        .await
        .unwrap();
    assert_eq!(response.protocol.as_deref(), Some("echo"));
    assert!(response.deflate.is_some());
    let text = "hyper ".repeat(2000);
    bounded(ws.send(Message::text(text.clone()))).await.unwrap();
    assert_eq!(
        bounded(ws.next()).await.unwrap().unwrap(),
        Message::text(text)
    );
    bounded(ws.close()).await.unwrap();
}

#[tokio::test]
async fn hyper_h2c_client_opens_a_websocket_with_extended_connect() {
    let addr = serve().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    // A plain request first, answered after the server's SETTINGS arrived.
    let plain = http::Request::get(format!("http://{addr}/"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = bounded(send.send_request(plain)).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok\n");

    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/echo"))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "echo")
        .header("sec-websocket-extensions", "permessage-deflate")
        .body(Empty::<Bytes>::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let response = bounded(send.send_request(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["sec-websocket-protocol"], "echo");
    assert_eq!(
        response.headers()["sec-websocket-extensions"],
        "permessage-deflate"
    );
    let upgraded = bounded(hyper::upgrade::on(response)).await.unwrap();
    let agreed = Extensions::permessage_deflate(Default::default(), Default::default());
    let mut ws = WebSocketStream::upgraded_client(
        TokioIo::new(upgraded),
        Config::default(),
        agreed,
        OsMaskKeys::new(),
    );
    for message in [
        Message::text("over HTTP/2"),
        Message::binary(vec![9u8; 100_000]),
    ] {
        bounded(ws.send(message.clone())).await.unwrap();
        assert_eq!(bounded(ws.next()).await.unwrap().unwrap(), message);
    }
    bounded(ws.close()).await.unwrap();
}

#[tokio::test]
async fn a_broken_request_gets_ws13s_refusal_from_the_plain_service() {
    let addr = serve().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/")
        .header("host", addr.to_string())
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "7")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = bounded(send.send_request(request)).await.unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("version '7'"), "{body}");
}
