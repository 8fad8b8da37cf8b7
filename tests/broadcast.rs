//! Fan-out over loopback: a reader that stops reading while 1000 others
//! keep up. Every wait is bounded.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use ws13::broadcast::{Relayed, SLOW_CONSUMER_CLOSE, Topic, TopicOptions, relay};
use ws13::handshake::ClientRequest;
use ws13::tokio::{Accepted, accept};
use ws13::{ClientOptions, Config, Message, PreparedMessage, ServerOptions};

const KEEPING_UP: usize = 1000;
const MESSAGES: usize = 150;
const MESSAGE_LEN: usize = 1024;
const BUDGET: usize = 16 * 1024;
/// How far the publisher lets the slowest healthy reader fall behind: well
/// within the budget, so only the stalled reader can be dropped.
const PACE: usize = 8;
const DEADLINE: Duration = Duration::from_secs(120);

/// Raises the soft limit on open files to what 1001 connections on both
/// ends need, when it is lower.
#[cfg(target_os = "linux")]
fn allow_open_files(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the whole call.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit: {}", std::io::Error::last_os_error());
    if limit.rlim_cur >= needed {
        return;
    }
    assert!(
        limit.rlim_max >= needed,
        "the hard limit on open files is {}, below the {needed} this test needs",
        limit.rlim_max
    );
    limit.rlim_cur = needed;
    // SAFETY: `limit` is a valid `rlimit`, only read during the call.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(set, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

#[cfg(not(target_os = "linux"))]
fn allow_open_files(_needed: u64) {}

/// Keeps a connection's kernel send buffer small, so a reader that stops
/// reading shows up in the server's queues rather than in the kernel's.
/// The option is set through a second handle on the same socket.
#[cfg(unix)]
fn small_send_buffer(tcp: &TcpStream) {
    use std::os::fd::AsFd;
    if let Ok(handle) = tcp.as_fd().try_clone_to_owned() {
        let handle = std::net::TcpStream::from(handle);
        let _ = TcpSocket::from_std_stream(handle).set_send_buffer_size(16 * 1024);
    }
}

#[cfg(not(unix))]
fn small_send_buffer(_tcp: &TcpStream) {}

/// The server: every connection subscribes and is relayed; a dropped one
/// is closed with [`SLOW_CONSUMER_CLOSE`] and counted.
async fn serve(listener: TcpListener, topic: Topic, dropped: Arc<AtomicUsize>) {
    let mut protocol = Config::default();
    protocol.close_timeout = Duration::from_secs(2);
    let options = Arc::new(ServerOptions::default().protocol(protocol));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        small_send_buffer(&tcp);
        let (topic, dropped, options) = (topic.clone(), Arc::clone(&dropped), Arc::clone(&options));
        tokio::spawn(async move {
            let Ok(Accepted::WebSocket(mut ws, _)) = accept(tcp, &options).await else {
                return;
            };
            let mut subscription = topic.subscribe();
            loop {
                match relay(&mut subscription, &mut ws).await {
                    Relayed::Received(Ok(_)) => {}
                    Relayed::Received(Err(_)) | Relayed::Ended => return,
                    Relayed::Dropped => {
                        dropped.fetch_add(1, Ordering::SeqCst);
                        drop(subscription);
                        let _ = ws.close_with(SLOW_CONSUMER_CLOSE, "too slow").await;
                        return;
                    }
                }
            }
        });
    }
}

/// A client that completes the handshake with a tiny receive buffer and
/// then reads nothing.
async fn stalled_client(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let request = ClientRequest::new(&addr.to_string(), "/", [7; 16])
        .unwrap()
        .build();
    tcp.write_all(request.request_bytes()).await.unwrap();
    // Read the 101 response head, byte by byte, and not one byte more.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    tcp
}

/// The data frames and the close code of an unmasked server stream.
fn frames_and_close_code(mut bytes: &[u8]) -> (usize, Option<u16>) {
    let (mut data, mut close) = (0, None);
    while bytes.len() >= 2 {
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => panic!("no frame here is that long"),
            126 => break,
            len => (usize::from(len), 2),
        };
        if bytes.len() < header + len {
            break;
        }
        match bytes[0] & 0x0f {
            0x1 | 0x2 => data += 1,
            0x8 if len >= 2 => {
                close = Some(u16::from_be_bytes([bytes[header], bytes[header + 1]]));
            }
            _ => {}
        }
        bytes = &bytes[header + len..];
    }
    (data, close)
}

fn message(sequence: usize) -> PreparedMessage {
    let mut text = format!("{sequence:08} ");
    text.push_str(&"x".repeat(MESSAGE_LEN - text.len()));
    PreparedMessage::text(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_dropped_with_1013_while_1000_others_get_everything() {
    allow_open_files(4 * KEEPING_UP as u64 + 256);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let topic = Topic::new(TopicOptions::default().budget(BUDGET));
    let dropped = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(listener, topic.clone(), Arc::clone(&dropped)));

    let run = async {
        let stalled = stalled_client(addr).await;
        // The healthy readers count what they got, in order.
        let received: Arc<Vec<AtomicUsize>> =
            Arc::new((0..KEEPING_UP).map(|_| AtomicUsize::new(0)).collect());
        let mut readers = tokio::task::JoinSet::new();
        for index in 0..KEEPING_UP {
            let url = format!("ws://{addr}/");
            let (mut ws, _) = ws13::tokio::connect(&url, &ClientOptions::default())
                .await
                .expect("connect");
            let received = Arc::clone(&received);
            readers.spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let expected = received[index].load(Ordering::SeqCst);
                    assert_eq!(text.as_str()[..8].parse::<usize>().unwrap(), expected);
                    assert_eq!(text.as_str().len(), MESSAGE_LEN);
                    received[index].store(expected + 1, Ordering::SeqCst);
                    if expected + 1 == MESSAGES {
                        return;
                    }
                }
                panic!("reader {index} ended early");
            });
        }
        while topic.len() < KEEPING_UP + 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let mut most_queued = 0;
        let mut total_dropped = 0;
        for sequence in 0..MESSAGES {
            // Paced by the slowest healthy reader, not by the stalled one.
            while received
                .iter()
                .any(|count| count.load(Ordering::SeqCst) + PACE < sequence)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let published = topic.publish(&message(sequence));
            total_dropped += published.dropped;
            let queued = topic.queued_bytes();
            assert!(queued <= topic.len() * BUDGET, "{queued} bytes queued");
            most_queued = most_queued.max(queued);
        }
        while let Some(reader) = readers.join_next().await {
            reader.expect("a healthy reader failed");
        }
        (stalled, most_queued, total_dropped)
    };
    let (mut stalled, most_queued, total_dropped) = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the fan-out finished in time");

    assert_eq!(total_dropped, 1, "only the stalled reader was dropped");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(most_queued <= (KEEPING_UP + 1) * BUDGET);
    // What reached the stalled reader: part of the feed, then 1013.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut rest))
        .await
        .expect("the server closes the stalled connection")
        .unwrap();
    let (data, close) = frames_and_close_code(&rest);
    assert_eq!(close, Some(SLOW_CONSUMER_CLOSE.0));
    assert!(
        data < MESSAGES,
        "{data} messages reached the stalled reader"
    );
    // Held for it at most: its budget twice, plus the kernel's buffers.
    assert!(rest.len() < 2 * BUDGET + 256 * 1024, "{} bytes", rest.len());
}

/// A text long enough to be compressed.
fn chatty(n: usize) -> String {
    (0..n)
        .map(|i| format!("message {} of the feed; ", i % 9))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_messages_cross_real_handshakes_compressed_once_for_all() {
    use ws13::handshake::permessage_deflate::{DeflateClientPolicy, DeflateServerPolicy};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServerOptions::default()
        .deflate(DeflateServerPolicy::default().server_no_context_takeover(true));
    let prepared = PreparedMessage::text(chatty(100));
    let sent = prepared.clone();
    let server = tokio::spawn(async move {
        let mut sockets = Vec::new();
        for _ in 0..3 {
            let (tcp, _) = listener.accept().await.unwrap();
            let Ok(Accepted::WebSocket(ws, request)) = accept(tcp, &options).await else {
                panic!("a WebSocket handshake");
            };
            assert!(request.deflate.unwrap().server_no_context_takeover);
            sockets.push(ws);
        }
        // Twice each: whole streams, and a write half.
        let mut last = sockets.pop().unwrap();
        for ws in &mut sockets {
            ws.send_prepared(&sent).await.unwrap();
            ws.send_prepared(&sent).await.unwrap();
        }
        last.feed_prepared(&sent).await.unwrap();
        let (_read, mut write) = last.split();
        write.send_prepared(&sent).await.unwrap();
        (sockets, write)
    });
    let client_options = ClientOptions::default().deflate(DeflateClientPolicy::default());
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (ws, response) = ws13::tokio::connect(&format!("ws://{addr}/"), &client_options)
            .await
            .unwrap();
        // The server asked for no context takeover on its side itself.
        assert!(response.deflate.unwrap().server_no_context_takeover);
        clients.push(ws);
    }
    for client in &mut clients {
        for _ in 0..2 {
            let received = tokio::time::timeout(DEADLINE, client.next())
                .await
                .expect("a message in time")
                .expect("a message")
                .expect("no error");
            assert_eq!(received, prepared.to_message());
        }
    }
    drop(server.await.unwrap());
}

#[test]
fn the_blocking_driver_writes_prepared_messages() {
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let prepared = PreparedMessage::binary(vec![5u8; 3000]);
    let sent = prepared.clone();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let Ok(ws13::blocking::Accepted::WebSocket(mut ws, _)) =
            ws13::blocking::accept(tcp, &ServerOptions::default())
        else {
            panic!("a WebSocket handshake");
        };
        ws.write_prepared(&sent).unwrap();
        ws.send_prepared(&sent).unwrap();
        ws
    });
    let (mut client, _) =
        ws13::blocking::connect(&format!("ws://{addr}/"), &ClientOptions::default()).unwrap();
    assert_eq!(client.read().unwrap(), prepared.to_message());
    assert_eq!(client.read().unwrap(), prepared.to_message());
    drop(server.join().unwrap());
}
