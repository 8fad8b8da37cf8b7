//! The drivers in-process: heartbeats against a silent peer, the Origin
//! allow-list, and the close handshake on drop. Loopback only, every wait
//! bounded.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ws13::Heartbeat;
use ws13::blocking::Accepted;
use ws13::handshake::{ClientRequest, OriginPolicy};
use ws13::{AcceptError, ClientOptions, CloseCode, Config, Error, Message, ServerOptions};

fn fast_heartbeat() -> Config {
    let mut config = Config::default();
    config.heartbeat = Some(Heartbeat {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(200),
    });
    config.close_timeout = Duration::from_secs(1);
    config
}

/// A client that completes the handshake and then never answers anything:
/// a peer that vanished without closing (field failure 5).
fn silent_peer(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = ClientRequest::new(&addr.to_string(), "/", [7; 16])
        .unwrap()
        .build();
    stream.write_all(request.request_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads what the server sends the silent peer until it closes the connection.
fn read_until_closed(mut stream: TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    received
}

/// The close code in the last close frame (0x88) of an unmasked server stream.
fn last_close_code(bytes: &[u8]) -> Option<u16> {
    let at = bytes
        .windows(2)
        .rposition(|w| w[0] == 0x88 && (2..=125).contains(&(w[1] as usize)))?;
    Some(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]))
}

#[test]
fn blocking_server_detects_a_dead_peer_with_its_heartbeat() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || read_until_closed(silent_peer(addr)));
    let (stream, _) = listener.accept().unwrap();
    let options = ServerOptions::default().protocol(fast_heartbeat());
    let Ok(Accepted::WebSocket(mut ws, _)) = ws13::blocking::accept(stream, &options) else {
        panic!("handshake")
    };
    let started = Instant::now();
    let error = ws.read().unwrap_err();
    assert!(
        matches!(
            error,
            Error::Protocol(ws13::codec::ProtocolError::PongTimeout)
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let seen = peer.join().unwrap();
    assert_eq!(seen[..12].to_vec(), b"HTTP/1.1 101".to_vec());
    assert!(
        seen.windows(2).any(|w| w == [0x89, 8]),
        "no heartbeat ping was sent"
    );
    assert_eq!(
        last_close_code(&seen),
        Some(1011),
        "the dead peer was not told 1011"
    );
}

#[test]
fn tokio_server_detects_a_dead_peer_with_its_heartbeat() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = thread::spawn(move || read_until_closed(silent_peer(addr)));
        let (stream, _) = listener.accept().await.unwrap();
        let options = ServerOptions::default().protocol(fast_heartbeat());
        let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
            ws13::tokio::accept(stream, &options).await
        else {
            panic!("handshake")
        };
        let next = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .expect("heartbeat never fired");
        assert!(
            matches!(
                next,
                Some(Err(Error::Protocol(
                    ws13::codec::ProtocolError::PongTimeout
                )))
            ),
            "{next:?}"
        );
        assert!(ws.next().await.is_none());
        drop(ws);
        let seen = peer.join().unwrap();
        assert_eq!(last_close_code(&seen), Some(1011));
    });
}

#[test]
fn a_live_idle_peer_survives_many_heartbeat_rounds() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let options = ServerOptions::default().protocol(fast_heartbeat());
            let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
                ws13::tokio::accept(stream, &options).await
            else {
                panic!("handshake")
            };
            let mut pongs = 0;
            while let Some(message) = ws.next().await {
                match message.unwrap() {
                    Message::Pong(_) => pongs += 1,
                    message if message.is_data() => ws.send(message).await.unwrap(),
                    _ => {}
                }
            }
            pongs
        });
        let (mut client, _) =
            ws13::tokio::connect(&format!("ws://{addr}/"), &ClientOptions::default())
                .await
                .unwrap();
        // Idle for ten heartbeat timeouts; the client answers pings by itself
        // while it waits for a message.
        let idle_until = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut pings = 0;
        while let Ok(next) = tokio::time::timeout_at(idle_until, client.next()).await {
            match next.unwrap().unwrap() {
                Message::Ping(_) => pings += 1,
                other => panic!("only heartbeat pings should arrive while idle, got {other:?}"),
            }
        }
        assert!(pings >= 5, "only {pings} heartbeat pings in 2 s");
        client.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text("still here")
        );
        client.close().await.unwrap();
        let pongs = server.await.unwrap();
        assert!(pongs >= 5, "only {pongs} heartbeat pongs in 2 s");
    });
}

#[test]
fn foreign_origin_is_refused_with_403() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let options =
            ServerOptions::default().origins(OriginPolicy::allow_list(["https://chat.example"]));
        let mut results = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            results.push(match ws13::blocking::accept(stream, &options) {
                Ok(Accepted::WebSocket(mut ws, request)) => {
                    let _ = ws.close(CloseCode::NORMAL, "");
                    Ok(request.origin)
                }
                Ok(Accepted::Http(_)) => panic!("classified as plain HTTP"),
                Err(e) => Err(e),
            });
        }
        results
    });
    let mut evil = ClientOptions::default();
    evil.origin = Some("https://evil.example".into());
    let error = ws13::blocking::connect(&format!("ws://{addr}/"), &evil).unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    let mut good = ClientOptions::default();
    good.origin = Some("https://chat.example".into());
    let (ws, _) = ws13::blocking::connect(&format!("ws://{addr}/"), &good).unwrap();
    drop(ws);
    let results = server.join().unwrap();
    match &results[0] {
        Err(AcceptError::Rejected { error }) => {
            assert_eq!(error.status(), 403);
            assert!(
                error.to_string().contains("https://evil.example"),
                "{error}"
            );
        }
        other => panic!("foreign origin accepted: {other:?}"),
    }
    assert_eq!(
        results[1].as_ref().unwrap(),
        &Some("https://chat.example".to_owned())
    );
}

#[test]
fn dropping_a_blocking_connection_performs_the_close_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let Ok(Accepted::WebSocket(mut ws, _)) =
            ws13::blocking::accept(stream, &ServerOptions::default())
        else {
            panic!("handshake")
        };
        let close = ws.read().unwrap();
        let after = ws.read().unwrap_err();
        (close, after)
    });
    let (client, _) =
        ws13::blocking::connect(&format!("ws://{addr}/"), &ClientOptions::default()).unwrap();
    let started = Instant::now();
    drop(client);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop waited {:?}",
        started.elapsed()
    );
    let (close, after) = server.join().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(ws13::CloseReason {
            code: CloseCode::NORMAL,
            reason: String::new()
        }))
    );
    assert!(matches!(after, Error::ConnectionClosed), "{after}");
}

#[test]
fn tokio_writer_to_a_peer_that_stopped_reading_fails_its_heartbeat_instead_of_hanging() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The peer completes the handshake, then never reads again.
        let peer = silent_peer(addr);
        let (stream, _) = listener.accept().await.unwrap();
        let options = ServerOptions::default().protocol(fast_heartbeat());
        let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
            ws13::tokio::accept(stream, &options).await
        else {
            panic!("handshake")
        };
        let chunk = Message::binary(vec![0u8; 1 << 20]);
        let sending = async {
            loop {
                if let Err(error) = ws.send(chunk.clone()).await {
                    return error;
                }
            }
        };
        let error = tokio::time::timeout(Duration::from_secs(5), sending)
            .await
            .expect("the writer hung");
        assert!(
            matches!(
                error,
                Error::Protocol(ws13::codec::ProtocolError::PongTimeout)
            ),
            "{error}"
        );
        // Finishing is bounded too, though the peer still reads nothing.
        tokio::time::timeout(Duration::from_secs(3), ws.close())
            .await
            .expect("close hung")
            .ok();
        drop(peer);
    });
}

#[test]
fn websocket_request_for_an_unknown_path_gets_404_before_any_upgrade() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let options = ServerOptions::default().paths(["/ws", "/live"]);
        ws13::blocking::accept(stream, &options).map(|_| ())
    });
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = ClientRequest::new(&addr.to_string(), "/chat?room=1", [9; 16])
        .unwrap()
        .build();
    stream.write_all(request.request_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
    assert!(
        response.contains("/chat?room=1") && response.contains("/ws, /live"),
        "{response}"
    );
    match server.join().unwrap() {
        Err(AcceptError::NoSuchEndpoint { path }) => assert_eq!(path, "/chat?room=1"),
        other => panic!("{other:?}"),
    }
}
