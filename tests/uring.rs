//! The io_uring driver (`ws13::compio`) over loopback TCP: its handshakes
//! (server and client), an echo, the close handshake, and a plain HTTP
//! request. The protocol itself is checked in every shell by
//! `tests/scenarios.rs`.
#![cfg(feature = "compio")]

use std::io::{Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::thread;
use std::time::Duration;

use compio::net::TcpListener;
use ws13::compio::{Accepted, accept, connect};
use ws13::{ClientOptions, CloseCode, Message, PeerClose, ServerOptions};

/// Serves one connection on `listener`: echoes data messages until the end.
async fn echo_one(listener: &TcpListener) -> Result<(), ws13::AcceptError> {
    let (tcp, _) = listener.accept().await?;
    match accept(tcp, &ServerOptions::default()).await? {
        Accepted::WebSocket(mut ws, _request) => {
            while let Some(Ok(message)) = ws.next().await {
                if message.is_data() && ws.feed(message).await.is_err() {
                    break;
                }
            }
        }
        Accepted::Http(http) => {
            http.respond(200, "text/plain", b"ok\n").await?;
        }
    }
    Ok(())
}

#[test]
fn a_client_and_a_server_echo_and_close_cleanly() {
    let runtime = ws13::compio::runtime().expect("an io_uring runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/chat", listener.local_addr().unwrap());
        let server = compio::runtime::spawn(async move { echo_one(&listener).await });
        let (mut ws, _response) = connect(&url, &ClientOptions::default()).await.unwrap();
        ws.send(Message::text("hello")).await.unwrap();
        ws.feed(Message::binary(vec![7u8; 100_000])).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::binary(vec![7u8; 100_000])
        );
        let answer = ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(
            matches!(&answer, PeerClose::Frame(frame) if frame.code == CloseCode::NORMAL),
            "{answer:?}"
        );
        assert!(ws.is_transport_closed());
        server.await.unwrap().unwrap();
    });
}

#[test]
fn a_request_head_in_pieces_is_read_whole_and_plain_http_is_handed_back() {
    let runtime = ws13::compio::runtime().expect("an io_uring runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = thread::spawn(move || {
            let mut tcp = StdTcpStream::connect(addr).unwrap();
            tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                .unwrap();
            thread::sleep(Duration::from_millis(50));
            tcp.write_all(
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                  Sec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
            let mut head = [0u8; 256];
            let n = tcp.read(&mut head).unwrap();
            let upgraded = String::from_utf8_lossy(&head[..n]).into_owned();
            let mut http = StdTcpStream::connect(addr).unwrap();
            http.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            http.read_to_string(&mut answer).unwrap();
            (upgraded, answer)
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = match accept(tcp, &ServerOptions::default()).await.unwrap() {
            Accepted::WebSocket(ws, request) => {
                assert_eq!(request.path, "/");
                ws
            }
            Accepted::Http(http) => panic!("a WebSocket request, not {:?}", http.request),
        };
        echo_one(&listener).await.unwrap();
        let (upgraded, answer) = client.join().unwrap();
        assert!(
            upgraded.starts_with("HTTP/1.1 101 ")
                && upgraded.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{upgraded}"
        );
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with("ok\n"), "{answer}");
        drop(ws);
    });
}
