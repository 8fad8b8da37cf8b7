//! Prepared messages: one message framed once (and, with
//! permessage-deflate, compressed once per compression key) and queued on
//! many connections by reference.
//!
//! A server's frames are not masked, so every recipient of a message gets
//! the same bytes on the wire: a [`PreparedMessage`] holds them in one
//! [`Bytes`], and [`Socket::send_prepared`](crate::socket::Socket::send_prepared)
//! queues that `Bytes` (a reference count, no copy) after the protocol core
//! checked the send is legal. With permessage-deflate the bytes depend on
//! the connection's compression:
//!
//! | the connection's compressor | what `send_prepared` queues |
//! |---|---|
//! | none, or the message is under its `min_compress_len` | the shared plain frame |
//! | resets per message (`server_no_context_takeover`) | the shared compressed frame for its window and level, compressed on first use and kept in the message |
//! | keeps its context (the default) | a frame compressed by the connection's own compressor (per connection, as [`Message`] is) |
//!
//! A server that broadcasts asks for `server_no_context_takeover` in every
//! handshake with
//! [`DeflateServerPolicy::server_no_context_takeover`](ws13_handshake::permessage_deflate::DeflateServerPolicy::server_no_context_takeover),
//! so that the third row never happens. A client socket masks every frame
//! with its own keys, so on a client a prepared message is sent as its
//! [`Message`] would be.
//!
//! ```
//! use std::time::Instant;
//! use ws13::socket::{Extensions, Socket};
//! use ws13::{Config, PreparedMessage};
//!
//! let prepared = PreparedMessage::text("tick 42");
//! let mut sockets: Vec<Socket> = (0..3)
//!     .map(|_| Socket::server(Config::default(), Extensions::none(), Instant::now()))
//!     .collect();
//! for socket in &mut sockets {
//!     socket.send_prepared(&prepared).unwrap();
//! }
//! for socket in &sockets {
//!     let queued: Vec<u8> = socket.with_transmit(|slices| slices.iter().flat_map(|s| s.to_vec()).collect());
//!     assert_eq!(queued, b"\x81\x07tick 42");
//! }
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Bytes, BytesMut};
use ws13_codec::MessageKind;
use ws13_codec::deflate::SharedDeflate;
use ws13_codec::frame::{FrameHeader, OpCode, RSV1};

use crate::message::{Message, Utf8Bytes};

/// A data message framed once for the server role and shared by reference:
/// cloning it, and queueing it on a connection with
/// [`Socket::send_prepared`](crate::socket::Socket::send_prepared) (or a
/// driver's `send_prepared`), copies nothing. See [the module](self).
#[derive(Clone)]
pub struct PreparedMessage(Arc<Prepared>);

struct Prepared {
    kind: MessageKind,
    payload: Bytes,
    /// The unmasked frame: header and payload.
    frame: Bytes,
    /// The compressed frame (RSV1 set) for the first compression key asked
    /// for: most servers have one.
    compressed: OnceLock<(SharedDeflate, Bytes)>,
    /// Compressed frames for further keys.
    more_compressed: Mutex<Vec<(SharedDeflate, Bytes)>>,
}

impl PreparedMessage {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::new(MessageKind::Text, text.into().into_bytes())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::new(MessageKind::Binary, data.into())
    }

    /// The prepared form of a data message; `None` for control messages,
    /// which the protocol sends one connection at a time.
    pub fn from_message(message: Message) -> Option<Self> {
        match message {
            Message::Text(text) => Some(Self::text(text)),
            Message::Binary(data) => Some(Self::binary(data)),
            _ => None,
        }
    }

    fn new(kind: MessageKind, payload: Bytes) -> Self {
        let frame = frame(opcode(kind), 0, &payload);
        PreparedMessage(Arc::new(Prepared {
            kind,
            payload,
            frame,
            compressed: OnceLock::new(),
            more_compressed: Mutex::new(Vec::new()),
        }))
    }

    /// Whether it is a text or a binary message.
    pub fn kind(&self) -> MessageKind {
        self.0.kind
    }

    /// The payload, uncompressed.
    pub fn payload(&self) -> &Bytes {
        &self.0.payload
    }

    /// The message as a plain [`Message`] (sharing the payload).
    pub fn to_message(&self) -> Message {
        match self.0.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(self.0.payload.clone())),
            MessageKind::Binary => Message::Binary(self.0.payload.clone()),
        }
    }

    /// The whole unmasked frame, as every uncompressed server connection
    /// sends it.
    pub fn frame(&self) -> &Bytes {
        &self.0.frame
    }

    /// How many bytes the uncompressed frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        self.0.frame.len()
    }

    pub(crate) fn opcode(&self) -> OpCode {
        opcode(self.0.kind)
    }

    /// The compressed frame for `key`, compressing on first use. Returns
    /// the frame and the length of its payload.
    pub(crate) fn compressed_frame(&self, key: SharedDeflate) -> (Bytes, usize) {
        let prepared = &*self.0;
        let (first_key, first) = prepared
            .compressed
            .get_or_init(|| (key, self.compress(key)));
        let frame = if *first_key == key {
            first.clone()
        } else {
            let mut more = prepared
                .more_compressed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match more.iter().find(|(known, _)| *known == key) {
                Some((_, frame)) => frame.clone(),
                None => {
                    let frame = self.compress(key);
                    more.push((key, frame.clone()));
                    frame
                }
            }
        };
        let payload_len = frame.len() - header_len(&frame);
        (frame, payload_len)
    }

    fn compress(&self, key: SharedDeflate) -> Bytes {
        let mut compressed = Vec::with_capacity(self.0.payload.len() / 2 + 64);
        key.deflate(&self.0.payload, &mut compressed);
        frame(self.opcode(), RSV1, &compressed)
    }
}

impl std::fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedMessage")
            .field("kind", &self.0.kind)
            .field("len", &self.0.payload.len())
            .finish_non_exhaustive()
    }
}

impl From<Utf8Bytes> for PreparedMessage {
    fn from(text: Utf8Bytes) -> Self {
        PreparedMessage::text(text)
    }
}

fn opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

/// One whole unmasked frame: header and payload in one allocation.
fn frame(opcode: OpCode, rsv: u8, payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode,
        mask: None,
        payload_len: payload.len() as u64,
    }
    .encode();
    let mut frame = BytesMut::with_capacity(header.len() + payload.len());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(payload);
    frame.freeze()
}

/// The length of the header of an unmasked frame.
fn header_len(frame: &[u8]) -> usize {
    match frame[1] & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    }
}
