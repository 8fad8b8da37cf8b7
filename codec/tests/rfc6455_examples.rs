//! The examples of RFC 6455 §5.7, byte for byte, in both directions.

mod common;

use common::{Seen, TestKeys, feed_all};
use ws13_codec::frame::{DecodeRules, Decoded, FrameHeader, OpCode};
use ws13_codec::{Config, Connection, MessageKind, Role};

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const FRAGMENTED_HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
const FRAGMENTED_LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_HELLO_MASKED: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

/// A key source that always returns the RFC's example key.
struct RfcKey;
impl ws13_codec::MaskKeySource for RfcKey {
    fn next_mask_key(&mut self) -> [u8; 4] {
        [0x37, 0xfa, 0x21, 0x3d]
    }
}

#[test]
fn unmasked_hello_is_decoded_by_a_client() {
    let mut client = Connection::client(Config::default(), TestKeys(1));
    let out = feed_all(&mut client, &HELLO_UNMASKED);
    assert_eq!(out.messages(), vec![(MessageKind::Text, b"Hello".to_vec())]);
}

#[test]
fn masked_hello_is_decoded_by_a_server() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &HELLO_MASKED);
    assert_eq!(out.messages(), vec![(MessageKind::Text, b"Hello".to_vec())]);
}

#[test]
fn server_encodes_unmasked_hello_exactly() {
    let mut server = Connection::server(Config::default());
    let mut out = [0u8; 32];
    let len = server
        .encode_data_frame(OpCode::Text, true, b"Hello", &mut out)
        .unwrap();
    assert_eq!(&out[..len], &HELLO_UNMASKED);
}

#[test]
fn client_encodes_masked_hello_exactly() {
    let mut client = Connection::client(Config::default(), RfcKey);
    let mut out = [0u8; 32];
    let len = client
        .encode_data_frame(OpCode::Text, true, b"Hello", &mut out)
        .unwrap();
    assert_eq!(&out[..len], &HELLO_MASKED);
}

#[test]
fn fragmented_hello_is_two_chunks_of_one_message() {
    let mut client = Connection::client(Config::default(), TestKeys(1));
    let wire = [&FRAGMENTED_HEL[..], &FRAGMENTED_LO[..]].concat();
    let out = feed_all(&mut client, &wire);
    assert_eq!(
        out.seen,
        vec![
            Seen::Data {
                kind: MessageKind::Text,
                payload: b"Hel".to_vec(),
                start: true,
                end: false
            },
            Seen::Data {
                kind: MessageKind::Text,
                payload: b"lo".to_vec(),
                start: false,
                end: true
            },
        ]
    );
}

#[test]
fn server_encodes_fragmented_hello_exactly() {
    let mut server = Connection::server(Config::default());
    let mut out = [0u8; 16];
    let len = server
        .encode_data_frame(OpCode::Text, false, b"Hel", &mut out)
        .unwrap();
    assert_eq!(&out[..len], &FRAGMENTED_HEL);
    let len = server
        .encode_data_frame(OpCode::Continuation, true, b"lo", &mut out)
        .unwrap();
    assert_eq!(&out[..len], &FRAGMENTED_LO);
}

#[test]
fn unmasked_ping_is_answered_by_a_masked_pong_with_the_same_payload() {
    let mut client = Connection::client(Config::default(), RfcKey);
    let out = feed_all(&mut client, &PING_HELLO);
    assert_eq!(out.seen, vec![Seen::Ping(b"Hello".to_vec())]);
    // The client's automatic pong is the RFC's masked pong example.
    assert_eq!(out.transmitted, PONG_HELLO_MASKED);
}

#[test]
fn server_encodes_unmasked_ping_exactly() {
    let mut server = Connection::server(Config::default());
    assert_eq!(&*server.ping(b"Hello").unwrap(), &PING_HELLO);
}

#[test]
fn length_encodings_match_the_rfc_examples() {
    // 256 bytes binary: 0x82 0x7E 0x0100; 64 KiB: 0x82 0x7F 0x0000000000010000.
    let mut server = Connection::server(Config::default());
    let header = server.data_frame_header(OpCode::Binary, true, 256).unwrap();
    assert_eq!(header.bytes(), &[0x82, 0x7E, 0x01, 0x00]);
    let header = server
        .data_frame_header(OpCode::Binary, true, 65536)
        .unwrap();
    assert_eq!(header.bytes(), &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);

    let rules = DecodeRules {
        receiver: Role::Client,
        allowed_rsv: 0,
    };
    for (bytes, len) in [
        (&[0x82u8, 0x7E, 0x01, 0x00][..], 256u64),
        (&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0][..], 65536),
    ] {
        let Decoded::Complete { value, header_len } = FrameHeader::decode(bytes, rules).unwrap()
        else {
            panic!("incomplete")
        };
        assert_eq!((value.payload_len, header_len), (len, bytes.len()));
    }
}

#[test]
fn large_binary_messages_from_the_rfc_roundtrip() {
    for len in [256usize, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut server = Connection::server(Config::default());
        let mut wire = vec![0u8; len + 14];
        let n = server
            .encode_data_frame(OpCode::Binary, true, &payload, &mut wire)
            .unwrap();
        wire.truncate(n);
        let mut client = Connection::client(Config::default(), TestKeys(3));
        assert_eq!(
            feed_all(&mut client, &wire).messages(),
            vec![(MessageKind::Binary, payload)]
        );
    }
}

#[test]
fn header_decode_reports_how_many_bytes_are_missing() {
    let rules = DecodeRules {
        receiver: Role::Server,
        allowed_rsv: 0,
    };
    assert_eq!(
        FrameHeader::decode(&[], rules),
        Ok(Decoded::Incomplete { needed: 2 })
    );
    assert_eq!(
        FrameHeader::decode(&HELLO_MASKED[..1], rules),
        Ok(Decoded::Incomplete { needed: 1 })
    );
    assert_eq!(
        FrameHeader::decode(&HELLO_MASKED[..2], rules),
        Ok(Decoded::Incomplete { needed: 4 })
    );
    assert_eq!(
        FrameHeader::decode(&[0x82, 0xFF, 0, 0], rules),
        Ok(Decoded::Incomplete { needed: 10 })
    );
}
