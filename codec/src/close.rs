//! Close codes and close-frame payloads, RFC 6455 §5.5.1 and §7.4.
//!
//! A close payload is empty, or a 2-byte big-endian code followed by a UTF-8
//! reason of at most 123 bytes. Codes 1005, 1006 and 1015 are placeholders for
//! APIs ("no code", "abnormal", "TLS failed") and never travel on the wire.

use core::fmt;

use crate::frame::MAX_CONTROL_PAYLOAD;

/// The longest close reason that fits in a control frame: 125 - 2 bytes.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// A close status code (§7.4). Any `u16` can be held; [`CloseCode::is_valid_on_wire`]
/// says whether it may be sent or received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only app).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: API placeholder for "the close frame had no code". Never on the wire.
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: API placeholder for "closed without a close frame". Never on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (text that is not UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition, e.g. a missed heartbeat.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: API placeholder for "the TLS handshake failed". Never on the wire.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether the code may appear in a close frame: 1000–1003, 1007–1014 (the
    /// codes defined by RFC 6455 and registered with IANA), and 3000–4999 (for
    /// libraries and applications). 0–999, 1004–1006, 1015–2999 and ≥ 5000 are
    /// a protocol error when received and are refused when sending.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            3000..=3999 => "registered library code",
            4000..=4999 => "private application code",
            _ => "invalid code",
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// A parsed close frame payload: a code and a UTF-8 reason borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The close code; always valid on the wire.
    pub code: CloseCode,
    /// The reason, possibly empty, at most 123 bytes.
    pub reason: &'a str,
}

/// Why a close payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseError {
    /// A one-byte payload: a code needs two bytes (protocol error, 1002).
    OneBytePayload,
    /// A code that must not appear on the wire (protocol error, 1002).
    InvalidCode(CloseCode),
    /// The reason is not valid UTF-8 (1007).
    ReasonNotUtf8,
    /// The reason is longer than 123 bytes (only possible when sending).
    ReasonTooLong(usize),
}

impl CloseError {
    /// The close code to fail the connection with when a received close frame is
    /// refused for this reason.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseError::ReasonNotUtf8 => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::OneBytePayload => {
                f.write_str("close frame with a one-byte payload: a status code takes two bytes")
            }
            CloseError::InvalidCode(code) => write!(
                f,
                "close frame carries status code {}, which must not appear on the wire \
                 (valid: 1000-1003, 1007-1014, 3000-4999)",
                code.0
            ),
            CloseError::ReasonNotUtf8 => f.write_str("close frame reason is not valid UTF-8"),
            CloseError::ReasonTooLong(len) => write!(
                f,
                "close reason is {len} bytes; a close frame fits at most {MAX_CLOSE_REASON}"
            ),
        }
    }
}

impl core::error::Error for CloseError {}

impl<'a> CloseFrame<'a> {
    /// Parses a received close payload (already unmasked). `Ok(None)` is an empty
    /// payload: a close without a code, which APIs report as 1005.
    ///
    /// ```
    /// use ws13_codec::close::{CloseCode, CloseError, CloseFrame};
    ///
    /// let frame = CloseFrame::parse(b"\x03\xe8bye").unwrap().unwrap();
    /// assert_eq!(frame.code, CloseCode::NORMAL);
    /// assert_eq!(frame.reason, "bye");
    /// assert_eq!(CloseFrame::parse(b"\x03\xed"), Err(CloseError::InvalidCode(CloseCode(1005))));
    /// ```
    pub fn parse(payload: &'a [u8]) -> Result<Option<CloseFrame<'a>>, CloseError> {
        match payload {
            [] => Ok(None),
            [_] => Err(CloseError::OneBytePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(CloseError::InvalidCode(code));
                }
                let reason = core::str::from_utf8(reason).map_err(|_| CloseError::ReasonNotUtf8)?;
                Ok(Some(CloseFrame { code, reason }))
            }
        }
    }

    /// A close frame to send, checked: the code must be valid on the wire and
    /// the reason at most 123 bytes.
    pub fn new(code: CloseCode, reason: &'a str) -> Result<CloseFrame<'a>, CloseError> {
        if !code.is_valid_on_wire() {
            return Err(CloseError::InvalidCode(code));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(CloseError::ReasonTooLong(reason.len()));
        }
        Ok(CloseFrame { code, reason })
    }

    /// Writes the payload (code then reason) into `out`, returning its length.
    /// `out` must hold at least `2 + reason.len()` bytes, which
    /// [`MAX_CONTROL_PAYLOAD`] always does.
    pub fn write_payload(&self, out: &mut [u8; MAX_CONTROL_PAYLOAD]) -> usize {
        let reason = &self.reason.as_bytes()[..self.reason.len().min(MAX_CLOSE_REASON)];
        out[..2].copy_from_slice(&self.code.0.to_be_bytes());
        out[2..2 + reason.len()].copy_from_slice(reason);
        2 + reason.len()
    }
}
