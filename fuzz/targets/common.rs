//! Helpers shared by the state-machine targets.

use ws13_codec::close::MAX_CLOSE_REASON;
use ws13_codec::frame::{DecodeRules, Decoded, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use ws13_codec::mask::apply_mask;
use ws13_codec::{CloseCode, CloseFrame, MaskKeySource, Role};

/// Deterministic masking keys (a linear congruential sequence, or always zero).
pub struct Keys {
    state: u32,
    zero: bool,
}

impl Keys {
    /// Keys from `seed`; seed 0 gives the all-zero key every time.
    pub fn new(seed: u32) -> Self {
        Keys {
            state: seed,
            zero: seed == 0,
        }
    }
}

impl MaskKeySource for Keys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        if self.zero {
            return [0; 4];
        }
        self.state = self
            .state
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        self.state.to_be_bytes()
    }
}

/// Close codes worth trying: valid ones, the reserved ones and the edges.
pub const CLOSE_CODES: &[u16] = &[
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535,
];

/// A close code from a fuzzer-chosen number: mostly picked from
/// [`CLOSE_CODES`], sometimes raw.
pub fn close_code(raw: u16) -> CloseCode {
    if raw >= 0xF000 {
        CloseCode(raw)
    } else {
        CloseCode(CLOSE_CODES[usize::from(raw) % CLOSE_CODES.len()])
    }
}

/// A reason of about `len` bytes, ASCII or two-byte characters.
pub fn reason(len: u8, multibyte: bool) -> String {
    if multibyte {
        "é".repeat(usize::from(len).div_ceil(2))
    } else {
        "r".repeat(usize::from(len))
    }
}

/// The longest prefix of `text` that fits a close reason, at a character
/// boundary.
pub fn fit_reason(text: &str) -> &str {
    let mut end = text.len().min(MAX_CLOSE_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Decodes one control frame as the peer of `sender` would (masked iff the
/// sender is a client) and returns its opcode and unmasked payload; panics
/// unless `bytes` is exactly one legal control frame.
pub fn decode_control(bytes: &[u8], sender: Role) -> (OpCode, Vec<u8>) {
    let receiver = match sender {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let rules = DecodeRules {
        receiver,
        allowed_rsv: 0,
    };
    let (header, header_len) = match FrameHeader::decode(bytes, rules) {
        Ok(Decoded::Complete { value, header_len }) => (value, header_len),
        other => panic!("transmitted control frame {bytes:?} decodes as {other:?}"),
    };
    assert!(
        header.opcode.is_control(),
        "{:?} is not control",
        header.opcode
    );
    assert_eq!(
        bytes.len() as u64,
        header_len as u64 + header.payload_len,
        "control frame length"
    );
    let mut payload = bytes[header_len..].to_vec();
    assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key, 0);
    }
    if header.opcode == OpCode::Close {
        check_close_payload(&payload);
    }
    (header.opcode, payload)
}

/// A close payload we send must be empty or carry a code that is valid on
/// the wire and a UTF-8 reason that fits.
pub fn check_close_payload(payload: &[u8]) -> Option<CloseFrame<'_>> {
    match CloseFrame::parse(payload) {
        Ok(frame) => {
            if let Some(frame) = frame {
                assert!(frame.code.is_valid_on_wire());
                assert!(frame.reason.len() <= MAX_CLOSE_REASON);
            }
            frame
        }
        Err(e) => panic!("transmitted close payload {payload:?} is illegal: {e}"),
    }
}

/// Whether `bytes` is valid UTF-8 except possibly for an incomplete
/// character at the very end.
pub fn is_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// A deterministic stream of piece sizes from a seed (xorshift).
pub struct Pieces(u64);

impl Pieces {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Pieces(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next piece size, 1 to `max`.
    pub fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % max.max(1) as u64) as usize
    }
}
