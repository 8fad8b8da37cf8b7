//! A line-oriented WebSocket client on the tokio driver.
//!
//! ```text
//! cargo run --features tokio --example client -- --url ws://127.0.0.1:9001/ws?name=cli
//! cargo run --features tls --example client -- --url wss://localhost:9001/ --ca dev-cert/ca.pem
//! ```
//!
//! `wss://` URLs need the `tls` feature. The proxy comes from the
//! environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), with
//! the `tls` feature `https://` proxies too. The server's certificate is verified
//! against the Mozilla roots and, with `--ca FILE`, the CA certificates in
//! that PEM file (such as the `gen_cert` example's `ca.pem`).
//!
//! Sends each line of stdin as a text message and prints every message that
//! arrives: text as is, binary as its length and first bytes in hex. At the end
//! of stdin (Ctrl-D) it closes the connection with 1000 and exits; when the
//! server closes first, it prints the server's close code and reason.
//!
//! The default URL is the chat example's endpoint; the echo examples accept
//! any path, so it works with them too.

mod common;

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use ws13::{ClientOptions, CloseReason, Message};

#[tokio::main]
async fn main() -> ExitCode {
    let url = common::flag("url").unwrap_or_else(|| "ws://127.0.0.1:9001/ws".to_owned());
    let (mut ws, _response) = match connect(&url).await {
        Ok(connected) => connected,
        Err(e) => {
            eprintln!("cannot connect to {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("connected to {url}; type lines to send, Ctrl-D to close");

    let mut lines = stdin_lines();
    // Once the server has closed, stdin is no longer read: nothing may be sent.
    let mut server_closed = false;
    loop {
        tokio::select! {
            line = lines.recv(), if !server_closed => match line {
                // `send` writes at once; a failure means the connection is gone.
                Some(line) => {
                    if let Err(e) = ws.send(Message::text(line)).await {
                        eprintln!("send failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                // End of stdin: the close handshake with 1000, then exit.
                None => {
                    return match ws.close().await {
                        Ok(()) => {
                            eprintln!("closed (1000)");
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("close failed: {e}");
                            ExitCode::FAILURE
                        }
                    };
                }
            },
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => println!("{text}"),
                Some(Ok(Message::Binary(data))) => println!("{}", binary_summary(&data)),
                // The core has already answered the close; the stream ends next.
                Some(Ok(Message::Close(close))) => {
                    server_closed = true;
                    match close {
                        Some(CloseReason { code, reason }) => {
                            eprintln!("server closed: {} {reason}", code.0);
                        }
                        None => eprintln!("server closed without a code (1005)"),
                    }
                }
                // Pings are answered by the core; pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) => {
                    eprintln!("connection failed: {e}");
                    return ExitCode::FAILURE;
                }
                None => return ExitCode::SUCCESS,
            },
        }
    }
}

/// Connects to a `ws://` or `wss://` URL, trusting `--ca FILE` as well.
#[cfg(feature = "tls")]
async fn connect(
    url: &str,
) -> Result<
    (
        ws13::tokio::WebSocketStream<
            ws13::tls::MaybeTlsStream<ws13::tls::MaybeTlsStream<tokio::net::TcpStream>>,
            ws13::OsMaskKeys,
        >,
        ws13::HandshakeResponse,
    ),
    Box<dyn std::error::Error>,
> {
    let mut tls = ws13::tls::TlsOptions::default();
    if let Some(ca) = common::flag("ca") {
        tls = tls.ca_file(ca);
    }
    let connector = tls.connector()?;
    // The proxy from the environment, `https://` ones included (trusting
    // the same CAs as for the server).
    let options = ClientOptions::default();
    Ok(ws13::tls::connect_with_proxy_tls(url, &options, &connector, &connector).await?)
}

/// Connects to a `ws://` URL (`wss://` needs the `tls` feature).
#[cfg(not(feature = "tls"))]
async fn connect(
    url: &str,
) -> Result<
    (
        ws13::tokio::WebSocketStream<tokio::net::TcpStream, ws13::OsMaskKeys>,
        ws13::HandshakeResponse,
    ),
    ws13::ConnectError,
> {
    if common::flag("ca").is_some() {
        eprintln!("--ca needs the tls feature: cargo run --features tls --example client");
    }
    ws13::tokio::connect(url, &ClientOptions::default()).await
}

/// Lines of stdin, read on a plain thread: a blocking stdin read must not
/// hold up the runtime, and the thread does not keep the process alive when
/// the server ends the conversation first.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    eprintln!("cannot read stdin: {e}");
                    return;
                }
            };
            // The receiver is gone: the connection ended.
            if sender.blocking_send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// `[binary, N bytes: 01 02 ...]`, showing at most the first 16 bytes.
fn binary_summary(data: &[u8]) -> String {
    const SHOWN: usize = 16;
    let hex: Vec<String> = data
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    let more = if data.len() > SHOWN { " ..." } else { "" };
    format!("[binary, {} bytes: {}{more}]", data.len(), hex.join(" "))
}
