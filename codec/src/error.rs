//! Errors of the state machine: a peer breaking the protocol, or a send that is
//! not allowed in the current state.

use core::fmt;

use crate::close::{CloseCode, CloseError};
use crate::frame::{FrameError, OpCode};

/// The peer broke RFC 6455 (or a configured limit). The connection has failed:
/// a close frame with [`ProtocolError::close_code`] is queued for
/// [`crate::Connection::poll_transmit`], after which the transport should be
/// closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A malformed or illegal frame header.
    Frame(FrameError),
    /// A malformed close frame payload.
    Close(CloseError),
    /// A continuation frame arrived with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was unfinished.
    ExpectedContinuation(OpCode),
    /// A text message is not valid UTF-8 (detected as soon as the bad byte arrives).
    InvalidUtf8,
    /// A data frame longer than [`crate::Config::max_frame_size`].
    FrameTooBig {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A message longer than [`crate::Config::max_message_size`] in total.
    MessageTooBig {
        /// The message length including the frame that broke the limit.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A compressed message does not inflate (permessage-deflate, 1007).
    InvalidCompressedData,
    /// Reserved bits that a negotiated extension defines for the first frame
    /// of a message were set on a control or continuation frame (1002).
    MisplacedReservedBits(OpCode),
    /// A heartbeat ping went unanswered for [`crate::config::Heartbeat::timeout`]:
    /// the peer is gone or stuck (close code 1011).
    PongTimeout,
}

impl ProtocolError {
    /// The close code the connection fails with, as RFC 6455 §7.4.1 names it.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::Close(e) => e.close_code(),
            ProtocolError::UnexpectedContinuation | ProtocolError::ExpectedContinuation(_) => {
                CloseCode::PROTOCOL_ERROR
            }
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::MisplacedReservedBits(_) => CloseCode::PROTOCOL_ERROR,
            ProtocolError::FrameTooBig { .. } | ProtocolError::MessageTooBig { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::PongTimeout => CloseCode::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => e.fmt(f),
            ProtocolError::Close(e) => e.fmt(f),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a fragmented message to continue")
            }
            ProtocolError::ExpectedContinuation(op) => write!(
                f,
                "{op:?} frame inside an unfinished fragmented message: expected a continuation frame"
            ),
            ProtocolError::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            ProtocolError::InvalidCompressedData => {
                f.write_str("compressed message does not inflate: corrupt permessage-deflate data")
            }
            ProtocolError::MisplacedReservedBits(op) => write!(
                f,
                "{op:?} frame has RSV bits set; a negotiated extension allows them only on the first frame of a message"
            ),
            ProtocolError::FrameTooBig { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte frame limit")
            }
            ProtocolError::MessageTooBig { len, max } => {
                write!(
                    f,
                    "message of {len}+ bytes exceeds the {max}-byte message limit"
                )
            }
            ProtocolError::PongTimeout => {
                f.write_str("no pong answered the heartbeat ping in time: the peer is unreachable")
            }
        }
    }
}

impl core::error::Error for ProtocolError {}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl From<CloseError> for ProtocolError {
    fn from(e: CloseError) -> Self {
        ProtocolError::Close(e)
    }
}

/// A send the connection refuses in its current state. Nothing was queued or
/// encoded; the connection is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent: no data, ping or pong may follow (§5.5.1).
    CloseAlreadySent,
    /// A fragmented message is unfinished: send its continuation frames first.
    MessageInProgress,
    /// A continuation frame with no fragmented message started.
    NoMessageInProgress,
    /// A control opcode passed where a data opcode was expected, or vice versa.
    WrongOpcode(OpCode),
    /// Control frame payloads are limited to 125 bytes.
    ControlPayloadTooLong(usize),
    /// The close code or reason is not sendable.
    InvalidClose(CloseError),
    /// Reserved bits that no negotiated extension allows here (only the first
    /// frame of a message may carry an extension's bits).
    ReservedBitsNotAllowed(u8),
    /// The output buffer cannot hold the frame: `needed` bytes are required.
    BufferTooSmall {
        /// The bytes the encoded frame needs.
        needed: usize,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::CloseAlreadySent => {
                f.write_str("a close frame was already sent; nothing may be sent after it")
            }
            SendError::MessageInProgress => f.write_str(
                "a fragmented message is in progress; finish it with continuation frames first",
            ),
            SendError::NoMessageInProgress => {
                f.write_str("a continuation frame needs a fragmented message to continue")
            }
            SendError::WrongOpcode(op) => write!(f, "{op:?} is not allowed in this call"),
            SendError::ControlPayloadTooLong(len) => {
                write!(f, "control frame payload of {len} bytes; the limit is 125")
            }
            SendError::InvalidClose(e) => e.fmt(f),
            SendError::ReservedBitsNotAllowed(rsv) => write!(
                f,
                "RSV bits {rsv:#05b} are not negotiated, or not on the first frame of a message"
            ),
            SendError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: the frame needs {needed} bytes")
            }
        }
    }
}

impl core::error::Error for SendError {}
