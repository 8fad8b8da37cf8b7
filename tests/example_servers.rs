//! The echo examples, started as real processes on ephemeral ports, exercised
//! through the client side of both drivers.
#![cfg(feature = "tokio")]

mod support;

use std::io::Write;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use support::{NGINX_STRIPPED_REQUEST, raw_exchange, start_example};
use ws13::codec::frame::OpCode;
use ws13::codec::{Config, Connection};
use ws13::{ClientOptions, CloseCode, CloseReason, Message, OsMaskKeys};

const SERVERS: [&str; 2] = ["sync_echo", "async_echo"];

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/echo")
}

fn large_payload() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn blocking_client_gets_text_binary_large_and_pong_echoed() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let (mut ws, _) =
            ws13::blocking::connect(&url(server.addr), &ClientOptions::default()).unwrap();
        let large = large_payload();
        let sent = [
            Message::text("héllo 中文 😀"),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::text(""),
            Message::binary(large.clone()),
        ];
        for message in &sent {
            ws.write(message.clone()).unwrap();
        }
        ws.flush().unwrap();
        for message in &sent {
            assert_eq!(&ws.read().unwrap(), message, "{name}");
        }
        ws.send(Message::Ping("are you there".into())).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::Pong("are you there".into()),
            "{name}"
        );
    }
}

#[test]
fn fragmented_message_is_echoed_whole() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let (mut ws, _) =
            ws13::blocking::connect(&url(server.addr), &ClientOptions::default()).unwrap();
        // Frames written beside the driver: a text message in three fragments
        // with a ping between them, split inside a multi-byte character.
        let mut encoder = Connection::client(Config::default(), OsMaskKeys::new());
        let text = "fragmenté 中文".as_bytes();
        let mut wire = vec![0u8; 256];
        let mut at = 0;
        for (opcode, fin, piece) in [
            (OpCode::Text, false, &text[..9]),
            (OpCode::Continuation, false, &text[9..13]),
            (OpCode::Continuation, true, &text[13..]),
        ] {
            at += encoder
                .encode_data_frame(opcode, fin, piece, &mut wire[at..])
                .unwrap();
            if opcode == OpCode::Text {
                let ping = encoder.ping(b"between").unwrap();
                wire[at..at + ping.len()].copy_from_slice(&ping);
                at += ping.len();
            }
        }
        ws.get_ref().write_all(&wire[..at]).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::Pong("between".into()),
            "{name}"
        );
        assert_eq!(
            ws.read().unwrap(),
            Message::text("fragmenté 中文"),
            "{name}"
        );
    }
}

#[test]
fn close_code_is_echoed_and_the_stream_ends() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut ws, _) = ws13::tokio::connect(&url(server.addr), &ClientOptions::default())
                .await
                .unwrap();
            ws.send(Message::text("before close")).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::text("before close")
            );
            let reason = CloseReason {
                code: CloseCode(4000),
                reason: "done here".into(),
            };
            ws.send(Message::Close(Some(reason))).await.unwrap();
            let echoed = ws.next().await.unwrap().unwrap();
            assert_eq!(
                echoed,
                Message::Close(Some(CloseReason {
                    code: CloseCode(4000),
                    reason: String::new()
                }))
            );
            assert!(
                ws.next().await.is_none(),
                "{name}: stream continued after the close handshake"
            );
        });
    }
}

#[test]
fn async_client_echo_of_many_messages_in_flight() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut ws, _) = ws13::tokio::connect(&url(server.addr), &ClientOptions::default())
                .await
                .unwrap();
            for i in 0..200u32 {
                ws.feed(Message::binary(i.to_be_bytes().to_vec()))
                    .await
                    .unwrap();
            }
            ws.flush().await.unwrap();
            for i in 0..200u32 {
                assert_eq!(
                    ws.next().await.unwrap().unwrap(),
                    Message::binary(i.to_be_bytes().to_vec()),
                    "{name}"
                );
            }
            ws.close().await.unwrap();
        });
    }
}

/// Ctrl-C closes every connection with 1001, whether it is idle or has just
/// been served, and the server exits cleanly.
#[cfg(unix)]
#[test]
fn ctrl_c_closes_every_connection_with_1001_and_exits() {
    for name in SERVERS {
        let mut server = start_example(name, &[]);
        let options = ClientOptions::default();
        let (mut idle, _) = ws13::blocking::connect(&url(server.addr), &options).unwrap();
        let (mut busy, _) = ws13::blocking::connect(&url(server.addr), &options).unwrap();
        busy.send(Message::text("one")).unwrap();
        assert_eq!(busy.read().unwrap(), Message::text("one"), "{name}");
        // Both connections are established on the server before the signal.
        idle.send(Message::Ping("ready?".into())).unwrap();
        assert_eq!(
            idle.read().unwrap(),
            Message::Pong("ready?".into()),
            "{name}"
        );

        server.interrupt();
        for ws in [&mut idle, &mut busy] {
            match ws.read().unwrap() {
                Message::Close(Some(close)) => {
                    assert_eq!(close.code, CloseCode::GOING_AWAY, "{name}")
                }
                other => panic!("{name}: expected a close with 1001, got {other:?}"),
            }
        }
        let started = std::time::Instant::now();
        let status = server.wait_for_exit();
        assert!(status.success(), "{name}: {status}");
        // Both close handshakes finished: no close timeout was waited out.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{name} took {:?} to exit",
            started.elapsed()
        );
    }
}

#[test]
fn health_check_is_served_as_plain_http_on_the_same_port() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let response = raw_exchange(server.addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            response.starts_with("HTTP/1.1 200 OK\r\n"),
            "{name}: {response}"
        );
        assert!(response.ends_with("\r\n\r\nok\n"), "{name}: {response}");
    }
}

#[test]
fn request_stripped_by_a_proxy_gets_400_naming_the_nginx_fix() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let response = raw_exchange(server.addr, NGINX_STRIPPED_REQUEST);
        assert!(response.starts_with("HTTP/1.1 400 "), "{name}: {response}");
        assert!(
            response.contains("proxy_http_version 1.1"),
            "{name}: {response}"
        );
        assert!(response.contains("Upgrade"), "{name}: {response}");
    }
}

#[test]
fn wrong_version_gets_426_with_the_supported_version() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
        let response = raw_exchange(server.addr, request);
        assert!(response.starts_with("HTTP/1.1 426 "), "{name}: {response}");
        assert!(
            response.contains("Sec-WebSocket-Version: 13\r\n"),
            "{name}: {response}"
        );
    }
}

#[test]
fn permessage_deflate_is_negotiated_and_messages_survive_compression() {
    for name in SERVERS {
        let server = start_example(name, &[]);
        let mut options = ClientOptions::default();
        options.deflate = Some(ws13::handshake::permessage_deflate::DeflateClientPolicy {
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            server_max_window_bits: Some(10),
        });
        let (mut ws, response) = ws13::blocking::connect(&url(server.addr), &options).unwrap();
        let agreed = response
            .deflate
            .expect("the server did not accept permessage-deflate");
        assert_eq!(agreed.server_max_window_bits, 10, "{name}");
        let chat = "κόσμε 中文 chat line, repeated so that it compresses well. ".repeat(500);
        let sent = [
            Message::text(chat.as_str()),
            Message::text("short"),
            Message::binary(large_payload()[..200_000].to_vec()),
            Message::text(""),
            Message::text(chat.as_str()),
        ];
        for message in &sent {
            ws.send(message.clone()).unwrap();
            assert_eq!(&ws.read().unwrap(), message, "{name}");
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
    }
}
