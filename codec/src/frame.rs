//! Frame headers: decoding and encoding, RFC 6455 §5.2.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! This module knows the wire format only. Which frames are legal *when* (a
//! continuation without a message, data after a close) is the state machine's
//! business, in [`crate::connection`].

use core::fmt;
use core::ops::Deref;

use crate::close::CloseCode;
use crate::role::Role;

/// The longest possible frame header: 2 bytes, 8 bytes of length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame (close, ping, pong) may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible control frame on the wire, header included.
pub const MAX_CONTROL_FRAME_LEN: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;

/// The RSV1 bit (0x40 of the first byte), claimed by permessage-deflate.
pub const RSV1: u8 = 0b100;
/// The RSV2 bit (0x20 of the first byte).
pub const RSV2: u8 = 0b010;
/// The RSV3 bit (0x10 of the first byte).
pub const RSV3: u8 = 0b001;

/// A frame opcode (§5.2). Reserved opcodes have no variant: they are an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// Continues a fragmented text or binary message.
    Continuation = 0x0,
    /// The first (or only) frame of a text message.
    Text = 0x1,
    /// The first (or only) frame of a binary message.
    Binary = 0x2,
    /// The close handshake.
    Close = 0x8,
    /// A ping; the peer answers with a pong carrying the same payload.
    Ping = 0x9,
    /// A pong, solicited or not.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the reserved values
    /// 0x3–0x7 and 0xB–0xF.
    pub const fn from_u4(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// Whether this is a control opcode (close, ping, pong): such frames carry at
    /// most 125 bytes, are never fragmented and may arrive inside a fragmented
    /// message.
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A decoded (or to-be-encoded) frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame of its message.
    pub fin: bool,
    /// The reserved bits as a 3-bit value: [`RSV1`], [`RSV2`], [`RSV3`].
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key: present on every client-to-server frame, absent on
    /// every server-to-client frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// What a decoder needs to know beyond the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRules {
    /// The role of the endpoint *receiving* the frame: a server requires masked
    /// frames, a client requires unmasked ones (§5.1).
    pub receiver: Role,
    /// Reserved bits an extension negotiated (e.g. [`RSV1`] for
    /// permessage-deflate). Any other RSV bit set is an error.
    pub allowed_rsv: u8,
}

/// The result of decoding a header from a buffer that may be short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Decoded<T> {
    /// Decoded; the header was `header_len` bytes long.
    Complete {
        /// The decoded value.
        value: T,
        /// How many bytes of the buffer it took.
        header_len: usize,
    },
    /// The buffer holds a valid prefix; at least `needed` more bytes are required.
    Incomplete {
        /// The minimum number of additional bytes to read before decoding again.
        needed: usize,
    },
}

/// A frame header that breaks RFC 6455 §5. Every variant is a protocol error
/// (close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Opcodes 0x3–0x7 and 0xB–0xF are reserved.
    ReservedOpcode(u8),
    /// An RSV bit is set that no negotiated extension defines.
    ReservedBitsSet(u8),
    /// A close, ping or pong frame without FIN: control frames cannot be fragmented.
    FragmentedControlFrame(OpCode),
    /// A control frame announcing more than 125 bytes.
    ControlFrameTooLong(OpCode, u64),
    /// A 64-bit length whose most significant bit is set.
    LengthOverflow,
    /// A length not written in the minimal number of bytes (§5.2: MUST).
    NonMinimalLength(u64),
    /// A server received a frame without a mask: clients MUST mask (§5.1).
    UnmaskedClientFrame,
    /// A client received a masked frame: servers MUST NOT mask (§5.1).
    MaskedServerFrame,
}

impl FrameError {
    /// The close code to fail the connection with: always 1002.
    pub const fn close_code(&self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::ReservedOpcode(op) => {
                write!(
                    f,
                    "unrecognized frame opcode {op:#x}: opcodes 0x3-0x7 and 0xb-0xf are reserved"
                )
            }
            FrameError::ReservedBitsSet(rsv) => write!(
                f,
                "reserved bits are on (rsv1={}, rsv2={}, rsv3={}) but no extension that defines them was negotiated",
                rsv >> 2 & 1,
                rsv >> 1 & 1,
                rsv & 1
            ),
            FrameError::FragmentedControlFrame(op) => {
                write!(
                    f,
                    "{op:?} frame without FIN: control frames must not be fragmented"
                )
            }
            FrameError::ControlFrameTooLong(op, len) => {
                write!(
                    f,
                    "{op:?} frame announces {len} bytes: control frames carry at most 125"
                )
            }
            FrameError::LengthOverflow => {
                f.write_str("64-bit payload length has its most significant bit set")
            }
            FrameError::NonMinimalLength(len) => write!(
                f,
                "payload length {len} is not encoded in the minimal number of bytes"
            ),
            FrameError::UnmaskedClientFrame => {
                f.write_str("a client sent an unmasked frame: clients must mask every frame")
            }
            FrameError::MaskedServerFrame => {
                f.write_str("a server sent a masked frame: servers must not mask any frame")
            }
        }
    }
}

impl core::error::Error for FrameError {}

impl FrameHeader {
    /// Decodes a header from the start of `buf`, checking everything that can be
    /// checked from the header alone. Fails as early as possible: a reserved
    /// opcode is reported from the first byte.
    ///
    /// ```
    /// use ws13_codec::frame::{Decoded, DecodeRules, FrameHeader, OpCode};
    /// use ws13_codec::Role;
    ///
    /// // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    /// let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// let rules = DecodeRules { receiver: Role::Client, allowed_rsv: 0 };
    /// match FrameHeader::decode(&bytes, rules).unwrap() {
    ///     Decoded::Complete { value, header_len } => {
    ///         assert_eq!(value.opcode, OpCode::Text);
    ///         assert_eq!(value.payload_len, 5);
    ///         assert_eq!(header_len, 2);
    ///     }
    ///     Decoded::Incomplete { .. } => unreachable!(),
    /// }
    /// ```
    #[inline]
    pub fn decode(buf: &[u8], rules: DecodeRules) -> Result<Decoded<FrameHeader>, FrameError> {
        match Self::decode_short(buf, rules) {
            Some(decoded) => Ok(decoded),
            None => Self::decode_any(buf, rules),
        }
    }

    /// The common case, small enough to inline: a header with a 7-bit
    /// length, masked as the receiver requires, breaking no rule, all of it
    /// in `buf`. `None` for anything else (longer lengths, incomplete
    /// headers, every error), which [`FrameHeader::decode_any`] handles.
    #[inline(always)]
    fn decode_short(buf: &[u8], rules: DecodeRules) -> Option<Decoded<FrameHeader>> {
        let [b0, b1, ..] = *buf else { return None };
        let opcode = OpCode::from_u4(b0 & 0xF)?;
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        let len7 = b1 & 0x7F;
        let masked = b1 & 0x80 != 0;
        if rsv & !rules.allowed_rsv != 0
            || (opcode.is_control() && !fin)
            || len7 >= 126
            || masked != (rules.receiver == Role::Server)
        {
            return None;
        }
        let (mask, header_len) = if masked {
            let key: [u8; 4] = buf.get(2..6)?.try_into().ok()?;
            (Some(key), 6)
        } else {
            (None, 2)
        };
        Some(Decoded::Complete {
            value: FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len: u64::from(len7),
            },
            header_len,
        })
    }

    /// [`FrameHeader::decode`] for any input.
    fn decode_any(buf: &[u8], rules: DecodeRules) -> Result<Decoded<FrameHeader>, FrameError> {
        let Some(&b0) = buf.first() else {
            return Ok(Decoded::Incomplete { needed: 2 });
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        let opcode = OpCode::from_u4(b0 & 0xF).ok_or(FrameError::ReservedOpcode(b0 & 0xF))?;
        if rsv & !rules.allowed_rsv != 0 {
            return Err(FrameError::ReservedBitsSet(rsv));
        }
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControlFrame(opcode));
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let masked = b1 & 0x80 != 0;
        match (rules.receiver, masked) {
            (Role::Server, false) => return Err(FrameError::UnmaskedClientFrame),
            (Role::Client, true) => return Err(FrameError::MaskedServerFrame),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        let length_bytes = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if opcode.is_control() && len7 > MAX_CONTROL_PAYLOAD as u8 {
            // The exact length is irrelevant: any extended length is too long.
            return Err(FrameError::ControlFrameTooLong(opcode, u64::from(len7)));
        }
        let header_len = 2 + length_bytes + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(Decoded::Incomplete {
                needed: header_len - buf.len(),
            });
        }
        let payload_len = Self::decode_payload_len(buf, len7, length_bytes)?;
        let at = 2 + length_bytes;
        // A plain branch, not `bool::then`: the closure was not inlined.
        let mask = if masked {
            Some([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
        } else {
            None
        };
        Ok(Decoded::Complete {
            value: FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        })
    }

    /// The payload length: `len7`, or the `length_bytes` after it in `buf`, minimally encoded.
    // Merely #[inline], it cost decode_any 32 more instructions a frame.
    #[inline(always)]
    fn decode_payload_len(buf: &[u8], len7: u8, length_bytes: usize) -> Result<u64, FrameError> {
        match length_bytes {
            0 => Ok(u64::from(len7)),
            2 => {
                let len = u64::from(u16::from_be_bytes([buf[2], buf[3]]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength(len));
                }
                Ok(len)
            }
            _ => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(bytes);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength(len));
                }
                Ok(len)
            }
        }
    }

    /// How many bytes [`FrameHeader::encode`] writes for this header.
    pub const fn encoded_len(&self) -> usize {
        let length_bytes = if self.payload_len < 126 {
            0
        } else if self.payload_len <= u16::MAX as u64 {
            2
        } else {
            8
        };
        2 + length_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header alone, with the minimal length encoding, so that the
    /// payload can follow in a separate (vectored) write without being copied.
    ///
    /// ```
    /// use ws13_codec::frame::{FrameHeader, OpCode};
    ///
    /// let header = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, payload_len: 256 };
    /// // RFC 6455 §5.7: 256 bytes binary message in a single unmasked frame.
    /// assert_eq!(&*header.encode(), &[0x82, 0x7E, 0x01, 0x00]);
    /// ```
    #[inline]
    pub fn encode(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        if self.payload_len < 126 {
            bytes[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= u64::from(u16::MAX) {
            bytes[1] = mask_bit | 126;
            bytes[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            len = 4;
        } else {
            bytes[1] = mask_bit | 127;
            bytes[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            len = 10;
        }
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        EncodedHeader {
            bytes,
            len: len as u8,
        }
    }
}

/// An encoded frame header (2 to 14 bytes) held by value; dereferences to its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl Deref for EncodedHeader {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for EncodedHeader {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EncodedHeader").field(&&**self).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inlined short path gives exactly what the full decode gives, for
    /// every first and second byte, input lengths around every header size,
    /// both receivers and the reserved bits an extension may allow.
    #[test]
    fn the_short_path_agrees_with_the_full_decode() {
        let mut buf = [0u8; 14];
        for (i, byte) in buf.iter_mut().enumerate().skip(2) {
            *byte = 0x11 * i as u8;
        }
        for receiver in [Role::Server, Role::Client] {
            for allowed_rsv in [0, RSV1, RSV1 | RSV2 | RSV3] {
                let rules = DecodeRules {
                    receiver,
                    allowed_rsv,
                };
                for b0 in 0..=255u8 {
                    for b1 in 0..=255u8 {
                        buf[0] = b0;
                        buf[1] = b1;
                        for len in [0, 1, 2, 3, 5, 6, 7, 14] {
                            let input = &buf[..len];
                            assert_eq!(
                                FrameHeader::decode(input, rules),
                                FrameHeader::decode_any(input, rules),
                                "{rules:?} {b0:#04x} {b1:#04x} len {len}"
                            );
                        }
                    }
                }
            }
        }
    }
}
