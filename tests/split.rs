//! Split connections: a read half and a write half in two tasks (tokio) or
//! two threads (blocking). The writer never waits for the reader; the reader
//! alone keeps the connection alive; a message fed to the writer goes out
//! while the reader waits; a failure seen by one half reaches the other and
//! closes the transport. Loopback only; every wait bounded.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ws13::blocking::Accepted;
use ws13::codec::frame::OpCode;
use ws13::codec::{Connection, ProtocolError};
use ws13::handshake::ClientRequest;
use ws13::{ClientOptions, Config, Error, Heartbeat, Message, OsMaskKeys, ServerOptions};

const EACH_WAY: u32 = 10_000;

/// A generous bound for liveness checks (not a speed check).
const LIVENESS: Duration = Duration::from_secs(5);

fn message(i: u32) -> Message {
    Message::binary(i.to_be_bytes().to_vec())
}

/// A raw client that completed the handshake on `addr`, and the bytes that
/// followed the 101 head.
fn raw_client(addr: std::net::SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIVENESS)).unwrap();
    let request = ClientRequest::new(&addr.to_string(), "/", [9; 16])
        .unwrap()
        .build();
    stream.write_all(request.request_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "101 head");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    (stream, Vec::new())
}

/// A masked client frame.
fn client_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut client = Connection::client(Config::default(), OsMaskKeys::new());
    let mut frame = vec![0; payload.len() + 14];
    let len = client
        .encode_data_frame(OpCode::Binary, true, payload, &mut frame)
        .unwrap();
    frame.truncate(len);
    frame[0] = 0x80 | opcode as u8;
    frame
}

/// Reads one unmasked server frame: (opcode byte, payload).
fn read_server_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).unwrap();
            u64::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

/// A heartbeat that fails a silent peer fast, and a short close timeout.
fn fast_heartbeat() -> Config {
    Config::default()
        .heartbeat(Some(Heartbeat {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(200),
        }))
        .close_timeout(Duration::from_millis(300))
}

// ------------------------------------------------------------------ tokio

async fn tokio_pair(
    server_options: ServerOptions,
) -> (
    ws13::tokio::WebSocketStream<tokio::net::TcpStream>,
    ws13::tokio::WebSocketStream<tokio::net::TcpStream, OsMaskKeys>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match ws13::tokio::accept(tcp, &server_options).await.unwrap() {
            ws13::tokio::Accepted::WebSocket(ws, _) => ws,
            ws13::tokio::Accepted::Http(_) => panic!("a WebSocket request"),
        }
    });
    let (client, _) = ws13::tokio::connect(&url, &ClientOptions::default())
        .await
        .unwrap();
    (server.await.unwrap(), client)
}

/// Spawns a writer task feeding `EACH_WAY` messages and a reader task
/// expecting as many, for one side.
fn run_side<S, K>(
    name: &'static str,
    (mut read, mut write): (ws13::tokio::ReadHalf<S, K>, ws13::tokio::WriteHalf<S, K>),
) -> [tokio::task::JoinHandle<()>; 2]
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    K: ws13::codec::MaskKeySource + Unpin + Send + 'static,
{
    let writer = tokio::spawn(async move {
        for i in 0..EACH_WAY {
            write.feed(message(i)).await.unwrap();
        }
        write.flush().await.unwrap();
    });
    let reader = tokio::spawn(async move {
        for i in 0..EACH_WAY {
            let got = read.next().await.unwrap().unwrap();
            assert_eq!(got, message(i), "{name}");
        }
    });
    [writer, reader]
}

#[tokio::test]
async fn tokio_halves_carry_ten_thousand_messages_each_way_at_once() {
    let (server, client) = tokio_pair(ServerOptions::default()).await;
    let tasks = run_side("server", server.split())
        .into_iter()
        .chain(run_side("client", client.split()));
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("bounded")
            .unwrap();
    }
}

/// Accepts one connection on a std listener with the tokio driver.
async fn tokio_server_for_raw_client(
    options: ServerOptions,
) -> (
    ws13::tokio::WebSocketStream<tokio::net::TcpStream>,
    TcpStream,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || raw_client(addr).0);
    let (tcp, _) = listener.accept().await.unwrap();
    let ws = match ws13::tokio::accept(tcp, &options).await.unwrap() {
        ws13::tokio::Accepted::WebSocket(ws, _) => ws,
        ws13::tokio::Accepted::Http(_) => panic!("a WebSocket request"),
    };
    (ws, client.await.unwrap())
}

#[tokio::test]
async fn tokio_feed_on_the_write_half_goes_out_while_the_read_half_waits() {
    let (ws, mut peer) = tokio_server_for_raw_client(ServerOptions::default()).await;
    let (mut read, mut write) = ws.split();
    let reader = tokio::spawn(async move { read.next().await });
    // Let the reader start waiting for input.
    tokio::task::yield_now().await;
    write.feed(Message::text("no flush needed")).await.unwrap();
    let frame = tokio::task::spawn_blocking(move || (read_server_frame(&mut peer), peer))
        .await
        .unwrap();
    assert_eq!(frame.0, (0x1, b"no flush needed".to_vec()));
    let mut peer = frame.1;
    // The reader answers pings on its own; the writer is idle.
    peer.write_all(&client_frame(OpCode::Ping, b"hi")).unwrap();
    let (frame, mut peer) =
        tokio::task::spawn_blocking(move || (read_server_frame(&mut peer), peer))
            .await
            .unwrap();
    assert_eq!(frame, (0xA, b"hi".to_vec()));
    peer.write_all(&client_frame(OpCode::Text, b"done"))
        .unwrap();
    let first = tokio::time::timeout(LIVENESS, reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.unwrap().unwrap(), Message::Ping("hi".into()));
}

/// The peer reads nothing: `write` fills the socket and blocks. The
/// heartbeat failure reaches the writer and the reader, and the transport is
/// shut down (the peer reaches end of file), all within [`LIVENESS`].
async fn heartbeat_failure_reaches_both_halves<W, R>(mut write: W, mut read: R, peer: TcpStream)
where
    W: futures_util::Sink<Message, Error = Error> + Unpin + Send + 'static,
    R: futures_util::Stream<Item = ws13::Result<Message>> + Unpin + Send + 'static,
{
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let large = Message::binary(vec![7u8; 256 * 1024]);
        loop {
            if let Err(error) = write.send(large.clone()).await {
                return error;
            }
        }
    });
    let reader = tokio::spawn(async move { read.next().await });
    let writer_error = tokio::time::timeout(LIVENESS, writer)
        .await
        .expect("the writer learns of the failure")
        .unwrap();
    assert!(
        matches!(writer_error, Error::Protocol(ProtocolError::PongTimeout)),
        "{writer_error}"
    );
    let read = tokio::time::timeout(LIVENESS, reader)
        .await
        .expect("the reader is woken too")
        .unwrap();
    assert!(
        matches!(read, Some(Err(Error::Protocol(ProtocolError::PongTimeout)))),
        "{read:?}"
    );
    assert!(started.elapsed() < LIVENESS);
    let eof = tokio::task::spawn_blocking(move || {
        let mut peer = peer;
        let mut sink = Vec::new();
        peer.read_to_end(&mut sink).map(|_| ())
    });
    tokio::time::timeout(LIVENESS, eof)
        .await
        .expect("end of file")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn tokio_heartbeat_failure_seen_by_a_blocked_writer_reaches_the_reader_and_closes() {
    let options = ServerOptions::default().protocol(fast_heartbeat());
    let (ws, peer) = tokio_server_for_raw_client(options).await;
    let (read, write) = ws.split();
    heartbeat_failure_reaches_both_halves(write, read, peer).await;
}

/// A heartbeat failure seen by a blocked writer under
/// `futures::StreamExt::split` (a `BiLock` around the whole stream) wakes the
/// reader, which reports it and closes the transport. (A message `feed`s
/// into `StreamExt::split`'s sink waits in that sink's own slot until the
/// next `feed` or a `flush`, before it reaches the connection: that is
/// futures' design, and why `WebSocketStream::split` exists.)
#[tokio::test]
async fn streamext_split_heartbeat_failure_wakes_the_reader_and_closes() {
    let options = ServerOptions::default().protocol(fast_heartbeat());
    let (ws, peer) = tokio_server_for_raw_client(options).await;
    let (write, read) = StreamExt::split(ws);
    heartbeat_failure_reaches_both_halves(write, read, peer).await;
}

#[tokio::test]
async fn tokio_halves_reunite() {
    let (server, client) = tokio_pair(ServerOptions::default()).await;
    let (read, write) = server.split();
    let mut server = read.reunite(write).unwrap();
    let (mut c_read, mut c_write) = client.split();
    c_write.send(Message::text("again")).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("again")
    );
    server.send(Message::text("back")).await.unwrap();
    assert_eq!(c_read.next().await.unwrap().unwrap(), Message::text("back"));
}

// ------------------------------------------------------------------ blocking

fn blocking_pair() -> (
    ws13::blocking::WebSocket<TcpStream>,
    ws13::blocking::WebSocket<TcpStream, OsMaskKeys>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        match ws13::blocking::accept(tcp, &ServerOptions::default()).unwrap() {
            Accepted::WebSocket(ws, _) => ws,
            Accepted::Http(_) => panic!("a WebSocket request"),
        }
    });
    let (client, _) = ws13::blocking::connect(&url, &ClientOptions::default()).unwrap();
    (server.join().unwrap(), client)
}

fn run_side_threads<K: ws13::codec::MaskKeySource + Send + 'static>(
    name: &'static str,
    ws: ws13::blocking::WebSocket<TcpStream, K>,
) -> [thread::JoinHandle<()>; 2] {
    let (mut read, mut write) = ws.split().unwrap();
    let writer = thread::spawn(move || {
        for i in 0..EACH_WAY {
            write.write(message(i)).unwrap();
        }
        write.flush().unwrap();
    });
    let reader = thread::spawn(move || {
        for i in 0..EACH_WAY {
            assert_eq!(read.read().unwrap(), message(i), "{name}");
        }
    });
    [writer, reader]
}

#[test]
fn blocking_halves_carry_ten_thousand_messages_each_way_at_once() {
    let (server, client) = blocking_pair();
    for thread in run_side_threads("server", server)
        .into_iter()
        .chain(run_side_threads("client", client))
    {
        thread.join().unwrap();
    }
}

/// Accepts one connection with the blocking driver, with a raw client.
fn blocking_server_for_raw_client(
    options: ServerOptions,
) -> (ws13::blocking::WebSocket<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = thread::spawn(move || raw_client(addr).0);
    let (tcp, _) = listener.accept().unwrap();
    let ws = match ws13::blocking::accept(tcp, &options).unwrap() {
        Accepted::WebSocket(ws, _) => ws,
        Accepted::Http(_) => panic!("a WebSocket request"),
    };
    (ws, client.join().unwrap())
}

#[test]
fn blocking_writer_goes_on_while_the_reader_blocks_and_the_reader_answers_pings() {
    let (ws, mut peer) = blocking_server_for_raw_client(ServerOptions::default());
    let (mut read, mut write) = ws.split().unwrap();
    let reader = thread::spawn(move || read.read());
    // The reader is blocked waiting for input; the writer is not held up.
    write.send(Message::text("from the writer")).unwrap();
    assert_eq!(
        read_server_frame(&mut peer),
        (0x1, b"from the writer".to_vec())
    );
    peer.write_all(&client_frame(OpCode::Ping, b"hi")).unwrap();
    assert_eq!(read_server_frame(&mut peer), (0xA, b"hi".to_vec()));
    assert_eq!(reader.join().unwrap().unwrap(), Message::Ping("hi".into()));
}

#[test]
fn blocking_heartbeat_failure_reaches_the_writer_and_closes_the_transport() {
    let options = ServerOptions::default().protocol(fast_heartbeat());
    let (ws, mut peer) = blocking_server_for_raw_client(options);
    let (mut read, mut write) = ws.split().unwrap();
    let started = Instant::now();
    let reader = thread::spawn(move || read.read());
    let error = reader.join().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::Protocol(ProtocolError::PongTimeout)),
        "{error}"
    );
    assert!(started.elapsed() < LIVENESS);
    // The writer learns it too, and the peer sees end of file after the
    // ping and the 1011 close.
    assert!(write.send(Message::text("late")).is_err());
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(
        rest.windows(2).any(|w| w == [0x03, 0xf3]),
        "close 1011 sent"
    );
}

#[tokio::test]
async fn tokio_close_with_returns_the_peer_answer() {
    let (mut server, mut client) = tokio_pair(ServerOptions::default()).await;
    let peer = tokio::spawn(async move {
        // The client reads the close and answers it (the stream ends).
        while let Some(Ok(_)) = client.next().await {}
        client.peer_close()
    });
    let answer = server
        .close_with(ws13::CloseCode::GOING_AWAY, "restart")
        .await
        .unwrap();
    // The client echoed our code, as RFC 6455 §5.5.1 suggests.
    assert_eq!(
        answer,
        ws13::PeerClose::Frame(ws13::CloseReason {
            code: ws13::CloseCode::GOING_AWAY,
            reason: String::new()
        })
    );
    assert!(matches!(
        peer.await.unwrap(),
        ws13::PeerClose::Frame(ref reason) if reason.reason == "restart"
    ));
}
