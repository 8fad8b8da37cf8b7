//! The ws13 client over HTTP/2 (RFC 8441) against an implementation ws13
//! did not write: axum 0.8's own WebSocket support (tungstenite over
//! hyper's upgrade), served by hyper-util over h2c and TLS+h2, and the
//! fallback to HTTP/1.1 where the server does not offer WebSockets over
//! HTTP/2; and against ws13's own axum extractor (feature `axum`).
#![cfg(all(feature = "http2", feature = "axum"))]

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::http::Version;
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use support::{Features, example_binary};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use ws13::handshake::ResponseError;
use ws13::handshake::permessage_deflate::DeflateClientPolicy;
use ws13::http2::{Http2Connection, Http2Options, HttpVersion, connect};
use ws13::tls::{TlsConnector, rustls, tokio_rustls};
use ws13::{ClientOptions, ConnectError, Message, OsMaskKeys};

/// What the server saw: the HTTP version of every WebSocket request, and
/// how many TCP connections it accepted.
#[derive(Default)]
struct Seen {
    versions: Mutex<Vec<Version>>,
    connections: AtomicUsize,
}

impl Seen {
    fn versions(&self) -> Vec<Version> {
        self.versions.lock().unwrap().clone()
    }
}

/// How the test server speaks.
#[derive(Clone, Copy)]
struct ServerSetup {
    tls: bool,
    /// ALPN offers `h2` (else only `http/1.1`).
    alpn_h2: bool,
    /// HTTP/2 advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL`.
    connect_protocol: bool,
}

const H2C: ServerSetup = ServerSetup {
    tls: false,
    alpn_h2: false,
    connect_protocol: true,
};
const TLS_H2: ServerSetup = ServerSetup {
    tls: true,
    alpn_h2: true,
    connect_protocol: true,
};

/// axum's echo handler: offers the subprotocol `chat`, echoes data.
async fn echo(ws: WebSocketUpgrade, version: Version, State(seen): State<Arc<Seen>>) -> Response {
    seen.versions.lock().unwrap().push(version);
    ws.protocols(["chat"]).on_upgrade(echo_messages)
}

async fn echo_messages(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            AxumMessage::Text(_) | AxumMessage::Binary(_) => {
                if socket.send(message).await.is_err() {
                    break;
                }
            }
            // tungstenite sends the close reply on the next read, which
            // then ends the loop.
            AxumMessage::Close(_) | AxumMessage::Ping(_) | AxumMessage::Pong(_) => {}
        }
    }
}

/// ws13's own axum extractor: subprotocol `chat`, permessage-deflate,
/// only `https://good.example` as origin; echoes data.
async fn ws13_echo(ws: ws13::axum::WebSocketUpgrade, State(seen): State<Arc<Seen>>) -> Response {
    let version = match ws.http_version() {
        HttpVersion::Http2 => Version::HTTP_2,
        _ => Version::HTTP_11,
    };
    seen.versions.lock().unwrap().push(version);
    ws.protocols(["chat"])
        .deflate(ws13::handshake::permessage_deflate::DeflateServerPolicy::default())
        .origins(ws13::handshake::OriginPolicy::allow_list([
            "https://good.example",
        ]))
        .on_upgrade(|mut socket| async move {
            while let Some(Ok(message)) = socket.next().await {
                if message.is_data() && socket.send(message).await.is_err() {
                    break;
                }
            }
        })
}

/// The certificate the TLS server presents, and a client that trusts it.
struct TestCert {
    server: Arc<rustls::ServerConfig>,
    client: TlsConnector,
}

fn test_cert(alpn_h2: bool) -> TestCert {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server.alpn_protocols = if alpn_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TestCert {
        server: Arc::new(server),
        client: TlsConnector::from_config(Arc::new(client)),
    }
}

/// Serves axum's echo at `/echo` on loopback with hyper-util (HTTP/1.1
/// and HTTP/2 on one port); returns the port, what the server saw, and
/// the client TLS configuration that trusts it.
async fn serve(setup: ServerSetup) -> (SocketAddr, Arc<Seen>, TlsConnector) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/ws13", any(ws13_echo))
        .with_state(seen.clone());
    let cert = test_cert(setup.alpn_h2);
    let acceptor = tokio_rustls::TlsAcceptor::from(cert.server.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counter.connections.fetch_add(1, Ordering::SeqCst);
            let app = app.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if setup.tls {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve_connection(tls, app, setup.connect_protocol).await;
                    }
                } else {
                    serve_connection(tcp, app, setup.connect_protocol).await;
                }
            });
        }
    });
    (addr, seen, cert.client)
}

async fn serve_connection<S>(io: S, app: Router, connect_protocol: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if connect_protocol {
        builder.http2().enable_connect_protocol();
    }
    let _ = builder
        .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(app))
        .await;
}

/// Sends a text and a binary message and expects them back.
async fn assert_echoes<S>(ws: &mut ws13::tokio::WebSocketStream<S, OsMaskKeys>, tag: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let text = Message::text(format!("hello from {tag}"));
    let binary = Message::binary(vec![7u8; 70_000]);
    ws.send(text.clone()).await.unwrap();
    ws.send(binary.clone()).await.unwrap();
    let within = Duration::from_secs(10);
    for expected in [text, binary] {
        let got = tokio::time::timeout(within, ws.next())
            .await
            .expect("echo within 10 s")
            .expect("an echo, not the end")
            .unwrap();
        assert_eq!(got, expected, "{tag}");
    }
}

fn h2c() -> Http2Options {
    Http2Options::default()
        .cleartext(true)
        .fallback_to_http1(false)
}

#[tokio::test]
async fn h2c_echo_with_subprotocol_against_axum() {
    let (addr, seen, connector) = serve(H2C).await;
    let options = ClientOptions::default().subprotocols(["chat"]);
    let url = format!("ws://{addr}/echo");
    let (mut ws, response) = connect(&url, &options, &h2c(), &connector).await.unwrap();
    assert_eq!(ws.get_ref().http_version(), HttpVersion::Http2);
    assert_eq!(response.protocol.as_deref(), Some("chat"));
    assert_eq!(response.deflate, None);
    assert_echoes(&mut ws, "h2c").await;
    ws.close().await.unwrap();
    assert_eq!(seen.versions(), [Version::HTTP_2]);
}

#[tokio::test]
async fn tls_h2_echo_with_deflate_offered_and_without() {
    let (addr, seen, connector) = serve(TLS_H2).await;
    let url = format!("wss://localhost:{}/echo", addr.port());
    let http2 = Http2Options::default().fallback_to_http1(false);
    for deflate in [false, true] {
        let mut options = ClientOptions::default();
        if deflate {
            options = options.deflate(DeflateClientPolicy::default());
        }
        let (mut ws, response) = connect(&url, &options, &http2, &connector).await.unwrap();
        assert_eq!(ws.get_ref().http_version(), HttpVersion::Http2);
        // axum's WebSocket (tungstenite) does not do permessage-deflate: the
        // offer is declined and the connection works uncompressed.
        assert_eq!(response.deflate, None);
        assert_eq!(response.protocol, None);
        assert_echoes(&mut ws, if deflate { "deflate offered" } else { "plain" }).await;
        ws.close().await.unwrap();
    }
    assert_eq!(seen.versions(), [Version::HTTP_2, Version::HTTP_2]);
}

#[tokio::test]
async fn several_websockets_over_one_connection_one_closed() {
    for setup in [H2C, TLS_H2] {
        let (addr, seen, connector) = serve(setup).await;
        let (url, http2) = if setup.tls {
            (
                format!("wss://localhost:{}/", addr.port()),
                Http2Options::default(),
            )
        } else {
            (format!("ws://{addr}/"), h2c())
        };
        let connection = Http2Connection::connect(&url, &http2, &connector)
            .await
            .unwrap();
        let options = ClientOptions::default().subprotocols(["chat"]);
        let mut sockets = Vec::new();
        for _ in 0..3 {
            let (ws, response) = connection.open("/echo", &options).await.unwrap();
            assert_eq!(response.protocol.as_deref(), Some("chat"));
            sockets.push(ws);
        }
        for (i, ws) in sockets.iter_mut().enumerate() {
            assert_echoes(ws, &format!("socket {i}")).await;
        }
        // Close the middle one; the others keep echoing.
        let mut closed = sockets.remove(1);
        let peer = closed
            .close_with(ws13::CloseCode::NORMAL, "done")
            .await
            .unwrap();
        assert!(matches!(peer, ws13::PeerClose::Frame(_)), "{peer:?}");
        for (i, ws) in sockets.iter_mut().enumerate() {
            assert_echoes(ws, &format!("after close, socket {i}")).await;
        }
        // A fourth after the close, on the same connection.
        let (mut fourth, _) = connection.open("/echo", &options).await.unwrap();
        assert_echoes(&mut fourth, "fourth").await;
        assert_eq!(seen.versions(), [Version::HTTP_2; 4]);
        assert_eq!(
            seen.connections.load(Ordering::SeqCst),
            1,
            "one TCP connection"
        );
    }
}

#[tokio::test]
async fn h2c_server_without_the_setting_falls_back_to_http1() {
    let setup = ServerSetup {
        connect_protocol: false,
        ..H2C
    };
    let (addr, seen, connector) = serve(setup).await;
    let url = format!("ws://{addr}/echo");
    let with_fallback = Http2Options::default().cleartext(true);
    let (mut ws, _) = connect(&url, &ClientOptions::default(), &with_fallback, &connector)
        .await
        .unwrap();
    assert_eq!(ws.get_ref().http_version(), HttpVersion::Http11);
    assert_echoes(&mut ws, "fallback").await;
    assert_eq!(seen.versions(), [Version::HTTP_11]);

    let error = connect(&url, &ClientOptions::default(), &h2c(), &connector)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::ExtendedConnectDisabled),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("enable_connect_protocol"),
        "the error names the fix: {error}"
    );
}

#[tokio::test]
async fn tls_server_choosing_http1_in_alpn_falls_back_on_the_same_connection() {
    let setup = ServerSetup {
        alpn_h2: false,
        ..TLS_H2
    };
    let (addr, seen, connector) = serve(setup).await;
    let url = format!("wss://localhost:{}/echo", addr.port());
    let (mut ws, _) = connect(
        &url,
        &ClientOptions::default(),
        &Http2Options::default(),
        &connector,
    )
    .await
    .unwrap();
    assert_eq!(ws.get_ref().http_version(), HttpVersion::Http11);
    assert_echoes(&mut ws, "alpn http/1.1").await;
    assert_eq!(seen.versions(), [Version::HTTP_11]);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);

    let error = Http2Connection::connect(&url, &Http2Options::default(), &connector)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectError::Http2NotNegotiated { alpn } if alpn.as_deref() == Some("http/1.1")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_refused_connect_names_the_status() {
    let (addr, _seen, connector) = serve(H2C).await;
    let connection = Http2Connection::connect(&format!("ws://{addr}/"), &h2c(), &connector)
        .await
        .unwrap();
    let error = connection
        .open("/no-such-endpoint", &ClientOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConnectError::Handshake(ResponseError::ConnectRefused { status: 404 })
        ),
        "{error:?}"
    );
    // The connection stays usable.
    let (mut ws, _) = connection
        .open("/echo", &ClientOptions::default())
        .await
        .unwrap();
    assert_echoes(&mut ws, "after a refusal").await;
}

/// Runs an example binary for at most 60 s and returns (exit code, stdout).
async fn run_example(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let binary = tokio::task::spawn_blocking({
        let name = name.to_owned();
        move || example_binary(Features::All, &name)
    })
    .await
    .unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(binary)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{name} did not finish within 60 s"))
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!(
        "{name} {args:?}:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_h2_client_example_echoes_on_several_websockets_of_one_connection() {
    let (addr, seen, _) = serve(H2C).await;
    let url = format!("ws://{addr}/echo");
    let (code, stdout) = run_example("h2_client", &[&url, "--count", "4"]).await;
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("4 WebSockets echoed over one HTTP/2 connection"),
        "{stdout}"
    );
    assert_eq!(seen.versions(), [Version::HTTP_2; 4]);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_reports_which_http_version_carried_the_handshake() {
    let (addr, _, _) = serve(H2C).await;
    let url = format!("ws://{addr}/echo");
    let (code, stdout) = run_example("doctor", &[&url, "--http2"]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("the handshake went over HTTP/2 (RFC 8441)"),
        "{stdout}"
    );

    let without = ServerSetup {
        connect_protocol: false,
        ..H2C
    };
    let (addr, _, _) = serve(without).await;
    let url = format!("ws://{addr}/echo");
    let (code, stdout) = run_example("doctor", &[&url, "--http2"]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("not offered, trying HTTP/1.1"), "{stdout}");
    assert!(
        stdout.contains("SETTINGS_ENABLE_CONNECT_PROTOCOL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("101 Switching Protocols over HTTP/1.1"),
        "{stdout}"
    );
}

#[tokio::test]
async fn ws13_client_against_the_ws13_axum_extractor_over_h2c_and_tls_h2() {
    for setup in [H2C, TLS_H2] {
        let (addr, seen, connector) = serve(setup).await;
        let url = if setup.tls {
            format!("wss://localhost:{}/ws13", addr.port())
        } else {
            format!("ws://{addr}/ws13")
        };
        let http2 = Http2Options::default()
            .cleartext(true)
            .fallback_to_http1(false);
        for deflate in [false, true] {
            let mut options = ClientOptions::default()
                .origin("https://good.example")
                .subprotocols(["other", "chat"]);
            if deflate {
                options = options.deflate(DeflateClientPolicy::default());
            }
            let (mut ws, response) = connect(&url, &options, &http2, &connector).await.unwrap();
            assert_eq!(ws.get_ref().http_version(), HttpVersion::Http2);
            assert_eq!(response.protocol.as_deref(), Some("chat"));
            assert_eq!(
                response.deflate.is_some(),
                deflate,
                "deflate agreed over HTTP/2"
            );
            assert_echoes(
                &mut ws,
                if deflate {
                    "ws13 deflate"
                } else {
                    "ws13 plain"
                },
            )
            .await;
            // Compressible and large: crosses several DATA frames and windows.
            let big = Message::text("ws13 over HTTP/2 ".repeat(40_000));
            ws.send(big.clone()).await.unwrap();
            let echoed = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(echoed, big);
            let peer = ws.close_with(ws13::CloseCode::NORMAL, "bye").await.unwrap();
            assert!(matches!(peer, ws13::PeerClose::Frame(_)), "{peer:?}");
        }
        assert_eq!(seen.versions(), [Version::HTTP_2, Version::HTTP_2]);

        // A refused origin comes back as the ws13 server's 403.
        let options = ClientOptions::default().origin("https://evil.example");
        let error = connect(&url, &options, &http2, &connector)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ConnectError::Handshake(ResponseError::ConnectRefused { status: 403 })
            ),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn several_ws13_websockets_with_deflate_share_one_connection() {
    let (addr, seen, connector) = serve(H2C).await;
    let connection = Http2Connection::connect(&format!("ws://{addr}/"), &h2c(), &connector)
        .await
        .unwrap();
    let options = ClientOptions::default()
        .origin("https://good.example")
        .subprotocols(["chat"])
        .deflate(DeflateClientPolicy::default());
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let (ws, response) = connection.open("/ws13", &options).await.unwrap();
        assert!(response.deflate.is_some());
        sockets.push(ws);
    }
    let mut closed = sockets.remove(0);
    closed
        .close_with(ws13::CloseCode::NORMAL, "first one done")
        .await
        .unwrap();
    for (i, ws) in sockets.iter_mut().enumerate() {
        assert_echoes(ws, &format!("ws13 socket {i}")).await;
    }
    assert_eq!(seen.versions(), [Version::HTTP_2; 3]);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}

/// Many large messages in flight on several WebSockets of one connection:
/// received bytes count against the connection's window until their
/// WebSocket reads them, so a connection window small against the streams'
/// would let WebSockets busy sending starve the others (echoes crawled at
/// 3 messages/s with a 1 MiB connection window). The defaults keep it flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_messages_in_flight_keep_flowing_with_the_default_windows() {
    let (addr, _, connector) = serve(H2C).await;
    let connection = Http2Connection::connect(&format!("ws://{addr}/"), &h2c(), &connector)
        .await
        .unwrap();
    let options = ClientOptions::default().origin("https://good.example");
    let message = Message::binary(vec![0x5a; 64 * 1024]);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (mut ws, _) = connection.open("/ws13", &options).await.unwrap();
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..8 {
                ws.feed(message.clone()).await.unwrap();
            }
            ws.flush().await.unwrap();
            let mut echoed = 0;
            while echoed < 32 {
                let received = ws.next().await.expect("an echo").unwrap();
                assert_eq!(received, message);
                echoed += 1;
                ws.send(message.clone()).await.unwrap();
            }
            echoed
        }));
    }
    let all = async {
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    };
    let total = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("256 echoes of 64 KiB within 30 s");
    assert_eq!(total, 256);
}

/// An unread WebSocket holds at most its stream window: h2's own server
/// can send no more than `Http2Options::stream_window` until the
/// application reads, and reading lets exactly as much more through.
#[tokio::test]
async fn an_unread_websocket_holds_at_most_its_stream_window() {
    use bytes::Bytes;

    const WINDOW: usize = 64 * 1024;
    // Server frames (unmasked binary, 1020-byte payload): 1024 bytes each.
    let mut frames = Vec::new();
    for _ in 0..(4 * WINDOW / 1024) {
        frames.extend_from_slice(&[0x82, 126, 0x03, 0xfc]);
        frames.extend_from_slice(&[0x42; 1020]);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (phase_tx, mut phase_rx) = tokio::sync::mpsc::channel::<()>(1);
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::channel::<usize>(2);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::Builder::new()
            .enable_connect_protocol()
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        let (request, mut respond) = connection.accept().await.unwrap().unwrap();
        assert_eq!(request.method(), axum::http::Method::CONNECT);
        assert_eq!(
            request
                .extensions()
                .get::<h2::ext::Protocol>()
                .map(|p| p.as_str()),
            Some("websocket")
        );
        tokio::spawn(async move { while connection.accept().await.is_some() {} });
        let response = axum::http::Response::builder()
            .status(200)
            .body(())
            .unwrap();
        let mut send = respond.send_response(response, false).unwrap();
        let mut offset = 0;
        for _phase in 0..2 {
            let before = offset;
            // Send whatever the client's window lets through, until it stops.
            loop {
                send.reserve_capacity(16 * 1024);
                let granted = tokio::time::timeout(
                    Duration::from_millis(500),
                    std::future::poll_fn(|cx| send.poll_capacity(cx)),
                )
                .await;
                if !matches!(granted, Ok(Some(Ok(_)))) {
                    break;
                }
                let n = send.capacity().min(frames.len() - offset);
                send.send_data(Bytes::copy_from_slice(&frames[offset..offset + n]), false)
                    .unwrap();
                offset += n;
            }
            sent_tx.send(offset - before).await.unwrap();
            if phase_rx.recv().await.is_none() {
                return;
            }
        }
    });

    let http2 = h2c().stream_window(WINDOW as u32);
    let connection = Http2Connection::connect(
        &format!("ws://{addr}/"),
        &http2,
        &ws13::tls::TlsOptions::default().connector().unwrap(),
    )
    .await
    .unwrap();
    let (mut ws, _) = connection
        .open("/", &ClientOptions::default())
        .await
        .unwrap();
    // Not read: the server stops at the window.
    assert_eq!(sent_rx.recv().await, Some(WINDOW));
    // Read 16 messages (16 KiB): the server may send that much again (the
    // driver reads in chunks, so perhaps a little more, never a window more).
    for _ in 0..16 {
        let message = ws.next().await.unwrap().unwrap();
        assert_eq!(message, Message::binary(vec![0x42; 1020]));
    }
    phase_tx.send(()).await.unwrap();
    let more = sent_rx.recv().await.unwrap();
    println!("after reading 16 KiB the server sent {more} bytes more");
    assert!(
        (16 * 1024..WINDOW).contains(&more),
        "after reading 16 KiB the server sent {more} bytes more"
    );
}

/// A server that speaks only HTTP/1.1 (ws13's own `tokio::accept`): h2c's
/// connection preface fails, and `connect` falls back to HTTP/1.1 on a new
/// connection; without the fallback the error says what to do.
#[tokio::test]
async fn h2c_against_an_http1_only_server_falls_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let options = ws13::ServerOptions::default();
                if let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
                    ws13::tokio::accept(tcp, &options).await
                {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_data() && ws.send(message).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    let connector = ws13::tls::TlsOptions::default().connector().unwrap();
    let url = format!("ws://{addr}/");
    let with_fallback = Http2Options::default().cleartext(true);
    let (mut ws, _) = connect(&url, &ClientOptions::default(), &with_fallback, &connector)
        .await
        .unwrap();
    assert_eq!(ws.get_ref().http_version(), HttpVersion::Http11);
    assert_echoes(&mut ws, "HTTP/1.1-only server").await;

    let error = connect(&url, &ClientOptions::default(), &h2c(), &connector)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Http2(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("fallback_to_http1"),
        "the error names the fix: {message}"
    );
}
