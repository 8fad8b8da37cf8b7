//! What the state machine reports about received bytes. Events borrow their
//! payload from the caller's buffer: nothing is copied.

use crate::close::CloseFrame;

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text; ws13 validates it as it arrives.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// Payload bytes of a data message. A message arrives as one chunk when it is a
/// single frame that fits the buffer ([`DataChunk::is_whole_message`]), or as
/// several chunks: one per fragment, and several per frame for frames larger
/// than [`crate::Config::partial_frames_above`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// Text or binary, from the message's first frame.
    pub kind: MessageKind,
    /// The unmasked payload bytes. For text, the message so far is valid UTF-8
    /// except that a chunk may end inside a multi-byte character.
    pub payload: &'a [u8],
    /// This chunk starts a message.
    pub message_start: bool,
    /// This chunk ends the message.
    pub message_end: bool,
    /// The reserved bits of the message's first frame (for extensions such as
    /// permessage-deflate; 0 without extensions).
    pub rsv: u8,
}

impl DataChunk<'_> {
    /// Whether the chunk is a whole message (no reassembly needed).
    pub const fn is_whole_message(&self) -> bool {
        self.message_start && self.message_end
    }
}

/// One thing that happened on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Data message bytes.
    Data(DataChunk<'a>),
    /// The peer pinged. With [`crate::Config::auto_pong`] the pong is already
    /// queued: take it with [`crate::Connection::poll_transmit`].
    Ping(&'a [u8]),
    /// The peer sent a pong (an answer to our ping, or unsolicited: both are legal).
    Pong(&'a [u8]),
    /// The peer sent a close frame (`None`: no status code, reported as 1005 by
    /// browsers). If we had not sent a close, the echo is queued; once
    /// [`crate::Connection::poll_transmit`] is drained the connection is closed.
    Close(Option<CloseFrame<'a>>),
}
