//! The RFC 6455 opening handshake for WebSocket servers and clients:
//! strict, bounded, sans-I/O, and with errors that name the fix.
//!
//! The crate knows nothing of sockets. Drivers feed it the bytes they have
//! received and write the bytes it produces.
//!
//! # Map
//!
//! | module | what it does |
//! |---|---|
//! | [`request`] | server: read a request incrementally, or take one parsed elsewhere (HTTP/1.1, or an HTTP/2 extended CONNECT), and classify it (plain HTTP, valid WebSocket, broken WebSocket) |
//! | [`response`] | server: write the 101 (or HTTP/2's 200), or the 400/403/426 that explains a refusal, as bytes or as status, header pairs and body |
//! | [`client`] | client: build the request, then read and validate the response |
//! | [`extended_connect`] | client over HTTP/2 (RFC 8441): the extended CONNECT as parts, and the check of the answer |
//! | [`accept`] | `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` |
//! | [`headers`] | token lists, header-name and header-value rules, the `Connection` policy |
//! | [`extensions`] | `Sec-WebSocket-Extensions` parsing |
//! | [`permessage_deflate`] | RFC 7692 negotiation: offers, answers, parameter validation |
//! | [`subprotocol`] | choosing a subprotocol |
//! | [`origin`] | the `Origin` allow-list |
//! | [`diagnostics`] | every problem of a message, with codes and hints |
//! | [`error`] | the error types |
//! | `http_types` (feature `http`) | server: classify `http::request::Parts`, answer with `http::Response` |
//! | [`head`] | shared pieces: [`Status`], [`Limits`], [`Header`] |
//!
//! # Server
//!
//! ```
//! use ws13_handshake::{Incoming, RequestReader, ServerConfig, Status, response};
//!
//! let config = ServerConfig::default();
//! let mut reader = RequestReader::new(config.limits());
//! let received: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
//!
//! // Feed the buffer each time more bytes arrive, until the head is complete.
//! let request = match reader.read(received)? {
//!     Status::Partial => unreachable!("read more bytes and call again"),
//!     Status::Complete(request) => request,
//! };
//! let consumed = request.head_len(); // bytes after this are WebSocket frames
//!
//! let answer: Vec<u8> = match request.classify(&config) {
//!     Ok(Incoming::WebSocket(ws)) => {
//!         let chosen = ws.choose_protocol(&["chat"], Default::default());
//!         let mut accept = ws.accept();
//!         if let Some(protocol) = chosen {
//!             accept = accept.protocol(protocol)?;
//!         }
//!         accept.to_bytes()
//!     }
//!     Ok(Incoming::PlainHttp(_plain)) => response::text_response(200, "ok\n"),
//!     Err(refusal) => response::reject(&refusal), // 400, 403 or 426, then close
//! };
//! assert_eq!(consumed, received.len());
//! assert!(answer.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! let text = String::from_utf8(answer).unwrap();
//! assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
//! assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Client
//!
//! ```
//! use ws13_handshake::{ClientRequest, Status};
//!
//! // 16 bytes from a cryptographically secure RNG, fresh per connection.
//! let key_bytes = *b"the sample nonce";
//! let mut handshake = ClientRequest::new("example.com", "/chat", key_bytes)?
//!     .origin("https://example.com")?
//!     .protocol("chat")?
//!     .build();
//! let to_send: &[u8] = handshake.request_bytes();
//! assert!(to_send.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
//!
//! // Feed the bytes received so far until the head is complete.
//! let received = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
//!     Sec-WebSocket-Protocol: chat\r\n\r\n\x81\x02hi";
//! let accepted = match handshake.read_response(received)? {
//!     Status::Partial => unreachable!("read more bytes and call again"),
//!     Status::Complete(accepted) => accepted,
//! };
//! assert_eq!(accepted.protocol(), Some("chat"));
//! // The first frame arrived with the head; it belongs to the WebSocket.
//! assert_eq!(&received[accepted.head_len()..], b"\x81\x02hi");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod accept;
pub mod client;
pub mod diagnostics;
pub mod error;
pub mod extended_connect;
pub mod extensions;
pub mod head;
pub mod headers;
#[cfg(feature = "http")]
pub mod http_types;
pub mod origin;
pub mod permessage_deflate;
pub mod request;
pub mod response;
pub mod subprotocol;

pub use accept::{AcceptKey, ClientKey, accept_key};
pub use client::{AcceptedResponse, ClientConfig, ClientHandshake, ClientRequest};
pub use diagnostics::Diagnostic;
pub use error::{BuildError, HeadError, RequestError, ResponseError};
pub use extensions::{Extension, ExtensionParam};
pub use head::{Header, Limits, Status};
pub use headers::ConnectionPolicy;
pub use origin::OriginPolicy;
pub use request::{
    Http2Pseudo, HttpRequest, HttpVersion, Incoming, RequestReader, ServerConfig, WebSocketRequest,
};
pub use response::{SwitchingProtocols, TextResponse};
pub use subprotocol::SubprotocolPreference;
