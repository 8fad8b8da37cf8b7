//! The floors' frame handling (`echo_floor`, `echo_floor_uring`): find a
//! whole client frame at the front of a buffer, unmask it in place and write
//! the server header just before its payload. No checks: never code to copy.

/// A whole client frame at the front of a buffer, its payload unmasked and
/// a server header written just before it.
pub struct Frame {
    pub opcode: u8,
    /// The whole frame's length in the buffer.
    pub len: usize,
    /// The server frame (header and payload) to write back.
    pub reply: std::ops::Range<usize>,
}

/// The header length and the whole length of the (masked) client frame at
/// the front of `buf`, once its header is in.
pub fn frame_extent(buf: &[u8]) -> Option<(usize, usize)> {
    let (header_len, payload_len) = match *buf {
        [_, b1, ..] if b1 & 0x7F < 126 => (6, usize::from(b1 & 0x7F)),
        [_, b1, l0, l1, ..] if b1 & 0x7F == 126 => (8, usize::from(u16::from_be_bytes([l0, l1]))),
        [_, _, ref length @ ..] if length.len() >= 8 => {
            let bytes: [u8; 8] = length[..8].try_into().ok()?;
            (14, usize::try_from(u64::from_be_bytes(bytes)).ok()?)
        }
        _ => return None,
    };
    Some((header_len, header_len + payload_len))
}

pub fn next_frame(buf: &mut [u8]) -> Option<Frame> {
    let (header_len, len) = frame_extent(buf)?;
    if buf.len() < len {
        return None;
    }
    let opcode = buf[0] & 0x0F;
    let key = [
        buf[header_len - 4],
        buf[header_len - 3],
        buf[header_len - 2],
        buf[header_len - 1],
    ];
    let payload = &mut buf[header_len..len];
    ws13_codec::mask::apply_mask(payload, key, 0);
    // The server header is the client's without the key: 4 bytes shorter,
    // so it ends where the payload starts.
    let server_header_len = header_len - 4;
    let mut header = [0u8; 10];
    header[..server_header_len].copy_from_slice(&buf[..server_header_len]);
    header[1] &= 0x7F;
    buf[4..header_len].copy_from_slice(&header[..server_header_len]);
    Some(Frame {
        opcode,
        len,
        reply: 4..len,
    })
}
