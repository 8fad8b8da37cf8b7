//! Owned messages as the drivers hand them out and take them in.

use bytes::Bytes;
use ws13_codec::CloseCode;

/// UTF-8 text held in [`Bytes`], so received text is not copied.
///
/// Text received by a driver was validated by the protocol core as it arrived.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the protocol core validated; not public so the invariant holds.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// Text from a static string, without copying.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The text. This checks UTF-8 again (at several GB/s); the check cannot
    /// fail, because every way to build a `Utf8Bytes` guarantees valid text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).expect("Utf8Bytes always holds valid UTF-8")
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Converts into the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text.into_bytes()))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl core::fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The code and reason of a close frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code.
    pub code: CloseCode,
    /// The reason text (at most 123 bytes on the wire).
    pub reason: String,
}

/// How the peer answered in the close handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerClose {
    /// It sent a close frame with this code and reason.
    Frame(CloseReason),
    /// It sent a close frame without a code (reported as 1005, which is
    /// never on the wire).
    FrameWithoutCode,
    /// It sent no close frame (yet): it closed the transport, broke the
    /// protocol, or the close timeout passed.
    NoFrame,
}

/// A WebSocket message or control frame.
///
/// ```
/// use ws13::Message;
///
/// let hello = Message::text("hello");
/// assert_eq!(hello.as_text(), Some("hello"));
/// assert!(Message::binary(vec![1, 2, 3]).as_text().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (the driver has already queued the pong).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame (`None`: a close without a code). The driver has
    /// already answered it; reading further returns
    /// [`crate::Error::ConnectionClosed`].
    Close(Option<CloseReason>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes (empty for a close).
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
}
