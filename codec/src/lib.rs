//! # ws13-codec
//!
//! The WebSocket (RFC 6455) protocol without I/O: a zero-copy frame codec and a
//! state machine that turns received bytes into events and commands into bytes
//! to send. It never reads a socket, never looks at a clock, and never
//! allocates on its hot path; it builds for `#![no_std]` targets without
//! `alloc`.
//!
//! The map of the crate, one module per concern:
//!
//! | module | what it does |
//! |---|---|
//! | [`frame`] | frame headers: decode from a borrowed buffer, encode apart from the payload |
//! | [`mask`] | in-place masking, word-wide/SIMD, resumable at any offset |
//! | [`utf8`] | incremental, fail-fast UTF-8 validation for fragmented text |
//! | [`close`] | close codes and close-frame payloads |
//! | [`connection`] | the state machine: fragmentation, control frames, close handshake, limits |
//! | [`copy`] | payload copies that avoid `memcpy`'s 4 KiB-aliasing slow path |
//! | [`event`] | what the state machine reports; payloads borrow the caller's buffer |
//! | [`error`] | protocol violations (each with its close code) and refused sends |
//! | [`config`] | limits and switches |
//! | [`role`] | client or server, and the client's masking-key source |
//! | `deflate` | (feature `deflate`) permessage-deflate, RFC 7692 |
//!
//! ```
//! use ws13_codec::{Config, Connection, Event, frame::OpCode};
//!
//! let mut server = Connection::server(Config::default());
//! // Bytes as a client sends them: "Hello", masked (RFC 6455 §5.7).
//! let mut input = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
//! let received = server.receive(&mut input).unwrap();
//! let Some(Event::Data(chunk)) = received.event else { unreachable!() };
//! assert!(chunk.is_whole_message());
//! assert_eq!(chunk.payload, b"Hello");
//!
//! // Echo it: the header goes out in front of the unchanged payload.
//! let header = server.data_frame_header(OpCode::Text, true, chunk.payload.len()).unwrap();
//! assert_eq!(header.bytes(), &[0x81, 0x05]);
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod close;
pub mod config;
pub mod connection;
pub mod copy;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod event;
pub mod frame;
pub mod mask;
pub mod role;
pub mod utf8;
#[cfg(feature = "libdeflate")]
mod whole_message;

pub use close::{CloseCode, CloseFrame};
pub use config::Config;
pub use connection::{Connection, ControlFrame, OutgoingHeader, Received, State};
pub use error::{ProtocolError, SendError};
pub use event::{DataChunk, Event, MessageKind};
pub use role::{MaskKeySource, Role};
