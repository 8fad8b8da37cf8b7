//! The chat example (`examples/chat.rs`) and the line client
//! (`examples/client.rs`), started as real processes on an ephemeral loopback
//! port and exercised through ws13's own client drivers and raw HTTP.
//! Every wait is bounded; servers are killed on drop, even when a test panics.
#![cfg(feature = "tokio")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::{Features, target_dir, wait_for_exit};
use ws13::tokio::WebSocketStream;
use ws13::{ClientOptions, CloseCode, CloseReason, Message, OsMaskKeys};

/// The longest any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(10);

type Client = WebSocketStream<tokio::net::TcpStream, OsMaskKeys>;

/// A running chat server; killed when dropped.
struct ChatServer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChatServer {
    /// Builds the examples (once per test run) and starts `chat` on
    /// `127.0.0.1:0` with `args`; the address comes from the URL it prints.
    fn start(args: &[&str]) -> ChatServer {
        let mut child = Command::new(example_binary("chat"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the chat example");
        let lines = line_channel(child.stdout.take().expect("piped stdout"));
        let mut server = ChatServer {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let announcement = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the chat example prints the URL to open");
        let authority = announcement
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no http:// URL in {announcement:?}"));
        server.addr = authority.parse().expect("a HOST:PORT in the URL");
        server
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The origin of the page the server itself serves.
    fn page_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Waits (bounded) for the server process to exit.
    fn wait_for_exit(&mut self) -> ExitStatus {
        wait_for_exit(&mut self.child, "chat")
    }
}

/// The path of a built example; the first call builds `chat` and `client`.
fn example_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        support::build_examples(Features::Tokio, &["chat", "client"]);
    });
    target_dir().join("debug").join("examples").join(name)
}

/// Forwards the lines of a child's stdout to a channel, for bounded waits.
fn line_channel(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading after the receiver is gone: a closed pipe would make
        // the child's next print fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    receiver
}

/// Sends a raw request and returns the whole answer (the server closes after it).
fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    raw_exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// A browser-like WebSocket handshake request from `origin`.
fn websocket_request(addr: SocketAddr, origin: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: {origin}\r\n\r\n"
    )
}

async fn join(url: &str, origin: Option<String>) -> Client {
    let mut options = ClientOptions::default();
    options.origin = origin;
    let connect = ws13::tokio::connect(url, &options);
    let (ws, _response) = tokio::time::timeout(WAIT, connect)
        .await
        .expect("connect in time")
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    ws
}

/// The next data or close message, skipping pings and pongs.
async fn next_message(ws: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the stream has not ended")
            .expect("no connection error");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn next_line(ws: &mut Client) -> String {
    match next_message(ws).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text line, got {other:?}"),
    }
}

async fn expect_close(ws: &mut Client, code: CloseCode) -> CloseReason {
    match next_message(ws).await {
        Message::Close(Some(close)) if close.code == code => close,
        other => panic!("expected a close with {}, got {other:?}", code.0),
    }
}

#[tokio::test]
async fn two_members_see_each_others_messages_and_joins_and_leaves() {
    let server = ChatServer::start(&[]);
    let mut alice = join(&server.url("/ws?name=alice"), Some(server.page_origin())).await;
    assert_eq!(next_line(&mut alice).await, "* alice joined (1 online)");

    // A percent- and form-encoded name, from the page's other origin.
    let localhost = format!("http://localhost:{}", server.addr.port());
    let mut bob = join(&server.url("/ws?name=Bob%20L.+Smith"), Some(localhost)).await;
    assert_eq!(
        next_line(&mut bob).await,
        "* Bob L. Smith joined (2 online)"
    );
    assert_eq!(
        next_line(&mut alice).await,
        "* Bob L. Smith joined (2 online)"
    );

    bob.send(Message::text("hi alice")).await.unwrap();
    assert_eq!(next_line(&mut alice).await, "Bob L. Smith: hi alice");
    assert_eq!(next_line(&mut bob).await, "Bob L. Smith: hi alice");

    // A line break cannot forge a room line.
    alice
        .send(Message::text("hello\n* bob left"))
        .await
        .unwrap();
    assert_eq!(next_line(&mut bob).await, "alice: hello * bob left");
    assert_eq!(next_line(&mut alice).await, "alice: hello * bob left");

    tokio::time::timeout(WAIT, bob.close())
        .await
        .expect("close in time")
        .unwrap();
    assert_eq!(
        next_line(&mut alice).await,
        "* Bob L. Smith left (1 online)"
    );
}

#[test]
fn health_answers_ok_over_plain_http_on_the_chat_port() {
    let server = ChatServer::start(&[]);
    let response = http_get(server.addr, "/health");
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    assert_eq!(body.trim(), "ok");
}

#[test]
fn root_serves_the_chat_page_and_unknown_paths_get_404() {
    let server = ChatServer::start(&[]);
    let page = http_get(server.addr, "/");
    assert!(page.starts_with("HTTP/1.1 200 "), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.contains("<title>ws13 chat</title>"), "{page}");
    // The page picks wss: on https: pages (no mixed content) and talks to /ws.
    assert!(page.contains(r#"location.protocol === "https:" ? "wss:" : "ws:""#));
    assert!(page.contains("/ws?name="));

    let missing = http_get(server.addr, "/missing");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
}

#[test]
fn foreign_origin_is_refused_with_403_naming_it() {
    let server = ChatServer::start(&[]);
    let response = raw_exchange(
        server.addr,
        &websocket_request(server.addr, "https://evil.example"),
    );
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(body.contains("https://evil.example"), "{response}");

    // The page's own origin gets its 101 (the connection then stays open, so
    // read only the head).
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let request = websocket_request(server.addr, &server.page_origin());
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        stream
            .read_exact(&mut byte)
            .expect("the response head in time");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
}

#[tokio::test]
async fn allow_origin_flag_admits_the_named_origins_only() {
    let server = ChatServer::start(&[
        "--allow-origin",
        "https://chat.example",
        "--allow-origin=https://other.example:8443",
    ]);
    // Both stay connected, so the member counts are exact.
    let mut members = Vec::new();
    for (online, origin) in [
        (1, "https://chat.example"),
        (2, "https://other.example:8443"),
    ] {
        let mut ws = join(&server.url("/ws?name=proxied"), Some(origin.to_owned())).await;
        let expected = format!("* proxied joined ({online} online)");
        assert_eq!(next_line(&mut ws).await, expected);
        members.push(ws);
    }
    let response = raw_exchange(
        server.addr,
        &websocket_request(server.addr, "https://evil.example"),
    );
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
}

#[test]
fn websocket_to_another_path_gets_404_before_any_upgrade() {
    let server = ChatServer::start(&[]);
    let error = ws13::blocking::connect(&server.url("/elsewhere"), &ClientOptions::default())
        .expect_err("a WebSocket to /elsewhere was upgraded");
    let message = error.to_string();
    assert!(message.contains("404"), "{message}");
}

#[tokio::test]
async fn oversized_message_fails_only_its_sender_with_1009() {
    let server = ChatServer::start(&[]);
    let mut flooder = join(&server.url("/ws?name=flooder"), None).await;
    assert_eq!(next_line(&mut flooder).await, "* flooder joined (1 online)");
    let mut bystander = join(&server.url("/ws?name=bystander"), None).await;
    assert_eq!(
        next_line(&mut flooder).await,
        "* bystander joined (2 online)"
    );
    assert_eq!(
        next_line(&mut bystander).await,
        "* bystander joined (2 online)"
    );

    let _ = flooder.send(Message::text("x".repeat(64 * 1024 + 1))).await;
    expect_close(&mut flooder, CloseCode::MESSAGE_TOO_BIG).await;
    assert_eq!(next_line(&mut bystander).await, "* flooder left (1 online)");
    bystander.send(Message::text("still here")).await.unwrap();
    assert_eq!(next_line(&mut bystander).await, "bystander: still here");
}

#[tokio::test]
async fn binary_message_is_refused_with_1003() {
    let server = ChatServer::start(&[]);
    let mut ws = join(&server.url("/ws"), None).await;
    let joined = next_line(&mut ws).await;
    assert!(
        joined.starts_with("* guest-") && joined.ends_with(" joined (1 online)"),
        "{joined}"
    );
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    expect_close(&mut ws, CloseCode::UNSUPPORTED_DATA).await;
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_closes_every_member_with_1001_and_exits() {
    let mut server = ChatServer::start(&[]);
    let mut first = join(&server.url("/ws?name=one"), None).await;
    assert_eq!(next_line(&mut first).await, "* one joined (1 online)");
    let mut second = join(&server.url("/ws?name=two"), None).await;
    assert_eq!(next_line(&mut second).await, "* two joined (2 online)");

    support::interrupt(&server.child);
    for ws in [&mut first, &mut second] {
        // `first` also sees `two` join before the close.
        loop {
            match next_message(ws).await {
                Message::Text(_) => {}
                Message::Close(close) => {
                    assert_eq!(close.expect("a close code").code, CloseCode::GOING_AWAY);
                    break;
                }
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }
    let status = server.wait_for_exit();
    assert!(status.success(), "{status}");
}

#[test]
fn client_example_sends_stdin_lines_prints_replies_and_closes_with_1000() {
    let server = ChatServer::start(&[]);
    let mut client = Command::new(example_binary("client"))
        .args(["--url", &server.url("/ws?name=cli")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client example");
    let lines = line_channel(client.stdout.take().unwrap());
    let mut stdin = client.stdin.take().unwrap();
    assert_eq!(lines.recv_timeout(WAIT).unwrap(), "* cli joined (1 online)");
    writeln!(stdin, "hello from stdin").unwrap();
    assert_eq!(lines.recv_timeout(WAIT).unwrap(), "cli: hello from stdin");

    drop(stdin); // end of input: the client closes with 1000
    let status = wait_for_exit(&mut client, "client");
    let mut stderr = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("closed (1000)"), "{stderr}");
}

#[test]
fn client_example_reports_the_servers_close_code() {
    let server = ChatServer::start(&[]);
    let mut client = Command::new(example_binary("client"))
        .args(["--url", &server.url("/ws?name=big")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client example");
    // A line over the room's 64 KiB message limit: the server closes with
    // 1009. stdin stays open: the client ends because the server closed.
    let line = format!("{}\n", "x".repeat(70 * 1024));
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let status = wait_for_exit(&mut client, "client");
    let mut stderr = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("server closed: 1009"), "{stderr}");
    let _ = client.kill();
}
