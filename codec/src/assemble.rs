//! Reassembly of data chunks into owned messages (feature `alloc`).
//!
//! The connection already enforces [`crate::Config::max_message_size`], so the
//! assembler never holds more than that.

use alloc::vec::Vec;

use crate::copy::extend_payload;
use crate::event::{DataChunk, MessageKind};

/// A complete data message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Text or binary.
    pub kind: MessageKind,
    /// The payload; for [`MessageKind::Text`] it is valid UTF-8 (the connection
    /// checked it).
    pub data: Vec<u8>,
}

impl Message {
    /// The payload as text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self.kind {
            MessageKind::Text => core::str::from_utf8(&self.data).ok(),
            MessageKind::Binary => None,
        }
    }
}

/// Collects the chunks of one message at a time.
///
/// ```
/// use ws13_codec::{DataChunk, MessageAssembler, MessageKind};
///
/// let mut assembler = MessageAssembler::new();
/// let first = DataChunk { kind: MessageKind::Text, payload: b"Hel", message_start: true, message_end: false, rsv: 0 };
/// let last = DataChunk { kind: MessageKind::Text, payload: b"lo", message_start: false, message_end: true, rsv: 0 };
/// assert!(assembler.push(&first).is_none());
/// assert_eq!(assembler.push(&last).unwrap().as_text(), Some("Hello"));
/// ```
#[derive(Debug, Default)]
pub struct MessageAssembler {
    kind: Option<MessageKind>,
    data: Vec<u8>,
}

impl MessageAssembler {
    /// An empty assembler.
    pub const fn new() -> Self {
        MessageAssembler {
            kind: None,
            data: Vec::new(),
        }
    }

    /// Adds a chunk; returns the message when the chunk ends it. A chunk that
    /// starts a message discards any unfinished one.
    pub fn push(&mut self, chunk: &DataChunk<'_>) -> Option<Message> {
        if chunk.message_start {
            self.data.clear();
            self.kind = Some(chunk.kind);
        }
        let kind = self.kind?;
        if chunk.is_whole_message() {
            self.kind = None;
            let mut data = Vec::new();
            extend_payload(&mut data, chunk.payload);
            return Some(Message { kind, data });
        }
        extend_payload(&mut self.data, chunk.payload);
        if chunk.message_end {
            self.kind = None;
            return Some(Message {
                kind,
                data: core::mem::take(&mut self.data),
            });
        }
        None
    }

    /// Bytes held for the unfinished message.
    pub fn buffered(&self) -> usize {
        self.data.len()
    }
}
