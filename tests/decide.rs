//! The decision before the 101 (`ServerOptions::decide`), through both
//! drivers: a refused request gets the application's status, headers and
//! body and never an upgrade; an accepted one gets the subprotocol and the
//! headers the application chose; a decision the handshake cannot carry
//! out is answered 500. Loopback only, every read bounded.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use ws13::{AcceptError, Acceptance, Decision, Refusal, ServerOptions};

/// Accepts only requests with `Cookie: session=letmein`, for `chat.v1`
/// whatever the server prefers; `?broken` asks for a header the handshake
/// writes itself.
fn options() -> ServerOptions {
    ServerOptions::default()
        .subprotocols(["chat.v2", "chat.v1"])
        .decide(|request| {
            if request.query_param("broken").is_some() {
                return Decision::Accept(Acceptance::new().header("Sec-WebSocket-Accept", "x"));
            }
            match request.cookie("session") {
                Some("letmein") => Decision::Accept(
                    Acceptance::new()
                        .protocol("chat.v1")
                        .header("X-Room", request.query_param("room").unwrap_or_default()),
                ),
                _ => Decision::Refuse(
                    Refusal::new(401, "log in first\n")
                        .header("WWW-Authenticate", "Cookie realm=\"chat\""),
                ),
            }
        })
}

fn request(target: &str, cookie: Option<&str>) -> Vec<u8> {
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n{cookie}\r\n"
    )
    .into_bytes()
}

/// Sends `request` and reads the response head (up to the blank line) or
/// everything until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1024];
    while let Ok(n) = stream.read(&mut byte) {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&byte[..n]);
        if response.starts_with(b"HTTP/1.1 101") && response.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// What the server's accept returned, as text, for each request in turn.
type Outcome = Result<Option<String>, String>;

fn check(responses: &[String], outcomes: &[Outcome]) {
    let [refused, accepted, broken] = responses else {
        panic!("three responses")
    };
    assert!(
        refused.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{refused}"
    );
    assert!(
        refused.contains("\r\nWWW-Authenticate: Cookie realm=\"chat\"\r\n"),
        "{refused}"
    );
    assert!(refused.ends_with("\r\n\r\nlog in first\n"), "{refused}");
    assert!(!refused.contains("Sec-WebSocket-Accept"), "{refused}");
    assert!(
        accepted.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{accepted}"
    );
    assert!(
        accepted.contains("\r\nSec-WebSocket-Protocol: chat.v1\r\n"),
        "{accepted}"
    );
    assert!(accepted.contains("\r\nX-Room: lobby\r\n"), "{accepted}");
    assert!(
        broken.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{broken}"
    );
    assert_eq!(outcomes[0], Err("refused 401".to_owned()));
    assert_eq!(outcomes[1], Ok(Some("chat.v1".to_owned())));
    assert!(
        outcomes[2]
            .as_ref()
            .is_err_and(|e| e.starts_with("invalid decision")),
        "{:?}",
        outcomes[2]
    );
}

fn requests() -> [Vec<u8>; 3] {
    [
        request("/chat?room=lobby", None),
        request("/chat?room=lobby", Some("theme=dark; session=letmein")),
        request("/chat?broken", Some("session=letmein")),
    ]
}

fn describe(result: Result<Option<String>, AcceptError>) -> Outcome {
    match result {
        Ok(protocol) => Ok(protocol),
        Err(AcceptError::Refused { status }) => Err(format!("refused {status}")),
        Err(AcceptError::InvalidDecision(error)) => Err(format!("invalid decision: {error}")),
        Err(other) => Err(other.to_string()),
    }
}

#[test]
fn blocking_driver_carries_out_the_decision_before_the_101() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let options = options();
        (0..3)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                describe(
                    ws13::blocking::accept(stream, &options).map(|accepted| match accepted {
                        ws13::blocking::Accepted::WebSocket(_, request) => request.protocol,
                        ws13::blocking::Accepted::Http(_) => panic!("a WebSocket request"),
                    }),
                )
            })
            .collect::<Vec<_>>()
    });
    let responses: Vec<String> = requests().iter().map(|r| exchange(addr, r)).collect();
    check(&responses, &server.join().unwrap());
}

#[tokio::test]
async fn tokio_driver_carries_out_the_decision_before_the_101() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let options = options();
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let (stream, _) = listener.accept().await.unwrap();
            let result = ws13::tokio::accept(stream, &options).await;
            outcomes.push(describe(result.map(|accepted| match accepted {
                ws13::tokio::Accepted::WebSocket(_, request) => request.protocol,
                ws13::tokio::Accepted::Http(_) => panic!("a WebSocket request"),
            })));
        }
        outcomes
    });
    let responses = tokio::task::spawn_blocking(move || {
        requests()
            .iter()
            .map(|r| exchange(addr, r))
            .collect::<Vec<String>>()
    })
    .await
    .unwrap();
    check(&responses, &server.await.unwrap());
}
