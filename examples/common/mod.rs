//! Command-line handling shared by the examples (no protocol code here).
#![allow(dead_code)]

use std::net::SocketAddr;

/// The value of `--NAME VALUE` or `--NAME=VALUE`, if given.
pub fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    let long = format!("--{name}");
    while let Some(arg) = args.next() {
        if arg == long {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(&format!("{long}=")) {
            return Some(value.to_owned());
        }
    }
    None
}

/// `--addr HOST:PORT`, default `127.0.0.1:9001`.
pub fn listen_addr() -> SocketAddr {
    let addr = flag("addr").unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    addr.parse().unwrap_or_else(|e| {
        eprintln!("--addr {addr:?} is not HOST:PORT ({e})");
        std::process::exit(2);
    })
}

/// The plain HTTP answer of the echo servers: `/health` is a health check,
/// anything else is not found (every path is a WebSocket endpoint).
pub fn echo_server_http_answer(path: &str) -> (u16, &'static [u8]) {
    match path {
        "/health" => (200, b"ok\n"),
        _ => (
            404,
            b"not found: the WebSocket endpoint is any path, /health is a health check\n",
        ),
    }
}
