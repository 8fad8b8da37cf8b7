//! `frame_header`: `FrameHeader::decode` on arbitrary bytes.
//!
//! Input: byte 0 chooses the receiving role (bit 7: client) and the allowed
//! RSV bits (bits 0-2); the rest is the buffer to decode.

use ws13_codec::Role;
use ws13_codec::close::CloseCode;
use ws13_codec::frame::{DecodeRules, Decoded, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};

/// The target.
pub fn frame_header(data: &[u8]) {
    let Some((&selector, buf)) = data.split_first() else {
        return;
    };
    let rules = DecodeRules {
        receiver: if selector & 0x80 != 0 {
            Role::Client
        } else {
            Role::Server
        },
        allowed_rsv: selector & 0x07,
    };
    let full = FrameHeader::decode(buf, rules);
    match full {
        Ok(Decoded::Complete { value, header_len }) => {
            assert!(
                (2..=MAX_HEADER_LEN).contains(&header_len),
                "header_len {header_len}"
            );
            assert!(header_len <= buf.len(), "header_len beyond the input");
            check_header(&value, rules);
            let encoded = value.encode();
            // Decoding refuses non-minimal lengths, so the encoding is
            // canonical: re-encoding gives back the very bytes decoded.
            assert_eq!(&*encoded, &buf[..header_len], "re-encoding differs");
            assert_eq!(value.encoded_len(), header_len);
            match FrameHeader::decode(&encoded, rules) {
                Ok(Decoded::Complete {
                    value: again,
                    header_len: again_len,
                }) => {
                    assert_eq!(again, value);
                    assert_eq!(again_len, header_len);
                }
                other => panic!("re-encoded header decodes as {other:?}"),
            }
        }
        Ok(Decoded::Incomplete { needed }) => {
            assert!(needed >= 1, "Incomplete needs nothing");
            assert!(buf.len() + needed <= MAX_HEADER_LEN, "needs {needed} more");
        }
        Err(e) => {
            assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR);
            assert!(!format!("{e}").is_empty());
        }
    }
    // Every shorter prefix is a valid prefix (Incomplete, with a `needed`
    // that does not overshoot) or fails with the same error.
    let limit = match full {
        Ok(Decoded::Complete { header_len, .. }) => header_len,
        _ => buf.len().min(MAX_HEADER_LEN + 1),
    };
    for k in 0..limit {
        match FrameHeader::decode(&buf[..k], rules) {
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed >= 1);
                if let Ok(Decoded::Complete { header_len, .. }) = full {
                    assert!(
                        k + needed <= header_len,
                        "prefix {k} says {needed} more, header is {header_len}"
                    );
                }
            }
            Ok(Decoded::Complete { .. }) => {
                panic!("prefix of {k} bytes completes but the whole input gives {full:?}")
            }
            Err(e) => assert_eq!(full, Err(e), "prefix of {k} bytes fails differently"),
        }
    }
}

/// What every decoded header satisfies.
fn check_header(header: &FrameHeader, rules: DecodeRules) {
    assert_eq!(header.rsv & !rules.allowed_rsv, 0, "unallowed RSV bits");
    assert_eq!(
        header.mask.is_some(),
        rules.receiver == Role::Server,
        "masking does not match the role"
    );
    assert!(header.payload_len >> 63 == 0, "length with the top bit set");
    if header.opcode.is_control() {
        assert!(header.fin, "fragmented control frame");
        assert!(header.payload_len <= MAX_CONTROL_PAYLOAD as u64);
    }
}
