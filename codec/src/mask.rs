//! In-place WebSocket payload masking (RFC 6455 §5.3). PLACEHOLDER: being replaced.

/// XORs `payload` in place with the 4-byte masking `key`, where `payload[0]` is
/// byte number `offset` of the frame payload (so masking can resume mid-payload).
pub fn apply_mask(payload: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}
