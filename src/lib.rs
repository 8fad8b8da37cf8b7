//! # ws13
//!
//! A strict, fast WebSocket (RFC 6455) library. The protocol lives in two
//! sans-I/O crates re-exported here; this crate adds thin drivers that move
//! bytes between a transport and the protocol core:
//!
//! | item | what it is |
//! |---|---|
//! | [`codec`] (`ws13-codec`) | frames, masking, UTF-8, close codes, the protocol state machine |
//! | [`handshake`] (`ws13-handshake`) | the opening handshake, strict, with errors that name the fix |
//! | [`socket`] | the sans-I/O WebSocket between bytes and messages: buffers, assembly, compression, timers; drivers are reads, writes and sleeps around it |
//! | [`blocking`] | the driver over `std::io::Read + Write` |
//! | `tokio` (feature `tokio`) | the driver over tokio's `AsyncRead + AsyncWrite`, as a `Stream` + `Sink` |
//! | `hyper` (feature `hyper`) | WebSockets in hyper 1 services: HTTP/1.1 upgrade and HTTP/2 extended CONNECT |
//! | `axum` (feature `axum`) | an axum 0.8 extractor, `WebSocketUpgrade` |
//! | `tls` (feature `tls`) | `wss://` for the tokio driver: verified client connections, a PEM-configured acceptor |
//! | `broadcast` (feature `tokio`) | fan-out to many connections: topics, prepared messages, a byte budget per subscriber and a slow-consumer policy |
//! | [`prepared`] | [`PreparedMessage`]: one message framed (and compressed) once, queued on many connections by reference |
//! | [`proxy`] | HTTP CONNECT and SOCKS5 tunnels (sans I/O), proxy URLs, the environment's proxy settings |
//! | [`reconnect`] | backoff with full jitter and which failures to retry (sans I/O; `ws13::tokio::Reconnecting` runs it) |
//! | `http2` (feature `http2`) | the client over HTTP/2 (RFC 8441): several WebSockets on one connection, HTTP/1.1 fallback |
//! | [`page_origin`] | rules from the web page a browser client runs in (mixed content) |
//! | [`Message`], [`Error`] | what the drivers exchange and report |
//! | [`ServerOptions`], [`ClientOptions`] | handshake policy, limits, heartbeats, timeouts |
//!
//! Every protocol rule (fragmentation, control frames, the close handshake,
//! limits, heartbeats) is decided by [`codec::Connection`]; the drivers only
//! read, write and keep time.

pub use ws13_codec as codec;
pub use ws13_handshake as handshake;

#[cfg(feature = "axum")]
pub mod axum;
pub mod blocking;
#[cfg(feature = "tokio")]
pub mod broadcast;
mod client;
mod error;
#[cfg(feature = "http2")]
pub mod http2;
#[cfg(feature = "hyper")]
pub mod hyper;
mod mask_keys;
mod message;
mod out_queue;
pub mod page_origin;
pub mod prepared;
pub mod proxy;
pub mod reconnect;
mod request_headers;
mod server;
pub mod socket;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use client::{ClientOptions, HandshakeResponse, WsUrl};
pub use error::{AcceptError, ConnectError, Error, Result};
pub use mask_keys::OsMaskKeys;
pub use message::{CloseReason, Message, PeerClose, Utf8Bytes};
pub use prepared::PreparedMessage;
pub use request_headers::RequestHeaders;
pub use server::{
    Acceptance, AcceptedRequest, DecideHook, Decision, PlainHttpRequest, Refusal, ServerOptions,
};
pub use ws13_codec::config::Heartbeat;
pub use ws13_codec::{CloseCode, Config, Role};

/// The README's code examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
