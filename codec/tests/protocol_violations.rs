//! Every protocol violation the state machine detects, with the close code
//! RFC 6455 §7.4.1 names for it, and what happens to the connection afterwards.

mod common;

use common::{Seen, TestKeys, client_frame, close_code_of, feed_all, raw_frame};
use ws13_codec::{Config, Connection, State};

struct Case {
    name: &'static str,
    /// Bytes as a client sends them to a server.
    wire: Vec<u8>,
    code: u16,
    config: Config,
}

fn case(name: &'static str, wire: Vec<u8>, code: u16) -> Case {
    Case {
        name,
        wire,
        code,
        config: Config::default(),
    }
}

fn cases() -> Vec<Case> {
    let small = {
        let mut c = Config::default();
        c.max_frame_size = 100;
        c.max_message_size = 150;
        c
    };
    let mut v = vec![
        case("reserved opcode 3", client_frame(0x83, b""), 1002),
        case("reserved opcode 7", client_frame(0x87, b""), 1002),
        case("reserved control opcode 0xB", client_frame(0x8B, b""), 1002),
        case("reserved control opcode 0xF", client_frame(0x8F, b""), 1002),
        case("RSV1 without an extension", client_frame(0xC1, b"x"), 1002),
        case("RSV2 without an extension", client_frame(0xA1, b"x"), 1002),
        case("RSV3 without an extension", client_frame(0x91, b"x"), 1002),
        case("fragmented ping", client_frame(0x09, b"x"), 1002),
        case("fragmented close", client_frame(0x08, b"\x03\xe8"), 1002),
        case(
            "ping with 126 bytes",
            client_frame(0x89, &[b'a'; 126]),
            1002,
        ),
        case(
            "close with 126 bytes",
            client_frame(0x88, &[b'a'; 126]),
            1002,
        ),
        case(
            "unmasked frame to a server",
            raw_frame(0x81, None, b"hi"),
            1002,
        ),
        case(
            "continuation without a message",
            client_frame(0x80, b"x"),
            1002,
        ),
        case(
            "text frame inside a fragmented message",
            [client_frame(0x01, b"a"), client_frame(0x81, b"b")].concat(),
            1002,
        ),
        case(
            "binary frame inside a fragmented message",
            [client_frame(0x02, b"a"), client_frame(0x82, b"b")].concat(),
            1002,
        ),
        case(
            "non-minimal 16-bit length",
            {
                let mut f = vec![0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4];
                f.extend_from_slice(&[0; 5]);
                f
            },
            1002,
        ),
        case(
            "non-minimal 64-bit length",
            vec![0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4],
            1002,
        ),
        case(
            "64-bit length with the high bit set",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            1002,
        ),
        case(
            "invalid UTF-8 text",
            client_frame(
                0x81,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
            ),
            1007,
        ),
        case(
            "truncated UTF-8 at the end of a text message",
            client_frame(0x81, b"ab\xe2\x82"),
            1007,
        ),
        case(
            "invalid UTF-8 split across fragments",
            [
                client_frame(0x01, b"\xf4"),
                client_frame(0x80, b"\x90\x80\x80"),
            ]
            .concat(),
            1007,
        ),
        case(
            "close with a one-byte payload",
            client_frame(0x88, b"\x03"),
            1002,
        ),
        case(
            "close code 999",
            client_frame(0x88, &999u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 1004",
            client_frame(0x88, &1004u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 1005 on the wire",
            client_frame(0x88, &1005u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 1006 on the wire",
            client_frame(0x88, &1006u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 1015 on the wire",
            client_frame(0x88, &1015u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 1016",
            client_frame(0x88, &1016u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 2999",
            client_frame(0x88, &2999u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 5000",
            client_frame(0x88, &5000u16.to_be_bytes()),
            1002,
        ),
        case(
            "close code 65535",
            client_frame(0x88, &65535u16.to_be_bytes()),
            1002,
        ),
        case(
            "close reason not UTF-8",
            client_frame(0x88, b"\x03\xe8\xff\xfe"),
            1007,
        ),
    ];
    v.push(Case {
        name: "frame over max_frame_size",
        wire: client_frame(0x82, &[0; 101]),
        code: 1009,
        config: small,
    });
    v.push(Case {
        name: "message over max_message_size across fragments",
        wire: [
            client_frame(0x02, &[0; 100]),
            client_frame(0x00, &[0; 40]),
            client_frame(0x80, &[0; 20]),
        ]
        .concat(),
        code: 1009,
        config: small,
    });
    v
}

#[test]
fn every_violation_fails_the_connection_with_its_close_code() {
    for case in cases() {
        let mut server = Connection::server(case.config);
        // Whatever follows the violation must never be reported.
        let mut wire = case.wire.clone();
        wire.extend_from_slice(&client_frame(0x81, b"after"));
        let out = feed_all(&mut server, &wire);
        assert_eq!(
            out.failed_with(),
            Some(case.code),
            "{}: {:?}",
            case.name,
            out.seen
        );
        assert!(
            !out.seen
                .iter()
                .any(|s| matches!(s, Seen::Data { payload, .. } if payload == b"after")),
            "{}: data after the violation was delivered",
            case.name
        );
        assert_eq!(server.state(), State::Closed, "{}", case.name);
        assert_eq!(
            server.error().map(|e| e.close_code().0),
            Some(case.code),
            "{}",
            case.name
        );
        // The close frame sent carries the same code and a reason that says why.
        assert_eq!(
            close_code_of(&out.transmitted),
            Some(case.code),
            "{}",
            case.name
        );
        assert!(
            out.transmitted.len() > 4,
            "{}: the failure close has no reason",
            case.name
        );
    }
}

#[test]
fn every_violation_is_detected_at_every_split_point() {
    for case in cases() {
        for split in 0..=case.wire.len() {
            let mut server = Connection::server(case.config);
            let mut i = 0;
            let sizes = [split, usize::MAX];
            let out = common::feed(
                &mut server,
                &case.wire,
                || {
                    let s = sizes[i.min(1)];
                    i += 1;
                    s
                },
                usize::MAX,
            );
            assert_eq!(
                out.failed_with(),
                Some(case.code),
                "{} split at {split}",
                case.name
            );
        }
    }
}

#[test]
fn masked_frame_to_a_client_is_a_protocol_error() {
    let mut client = Connection::client(Config::default(), TestKeys(9));
    let out = feed_all(&mut client, &client_frame(0x81, b"masked"));
    assert_eq!(out.failed_with(), Some(1002));
    let message = client.error().unwrap().to_string();
    assert!(message.contains("servers must not mask"), "{message}");
}

#[test]
fn input_after_failure_is_consumed_and_ignored() {
    let mut server = Connection::server(Config::default());
    let mut bad = client_frame(0x83, b"");
    assert!(server.receive(&mut bad).is_err());
    let mut more = client_frame(0x81, b"hello");
    let len = more.len();
    let received = server.receive(&mut more).unwrap();
    assert_eq!(received.consumed, len);
    assert!(received.event.is_none());
}

#[test]
fn failure_reason_names_the_violation() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x83, b""));
    let reason = String::from_utf8_lossy(&out.transmitted[4..]).to_string();
    assert!(reason.contains("opcode"), "{reason}");
}

#[test]
fn invalid_utf8_fails_before_the_rest_of_its_frame_arrives() {
    // Autobahn 6.4.3: one text frame, sent in three chops; the second chop
    // holds F4 90 80 80 (beyond U+10FFFF). The connection must fail as soon as
    // that chop arrives, not when the frame is complete.
    let payload = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited";
    let wire = client_frame(0x81, payload);
    let header_len = wire.len() - payload.len();
    let mut server = Connection::server(Config::default());
    let mut buffer = wire[..header_len + 11].to_vec();
    let received = server.receive(&mut buffer).unwrap();
    assert_eq!((received.consumed, received.event), (0, None));
    // The second chop: the unconsumed bytes come back unchanged, plus more.
    buffer.extend_from_slice(&wire[header_len + 11..header_len + 15]);
    assert_eq!(
        server.receive(&mut buffer).unwrap_err(),
        ws13_codec::ProtocolError::InvalidUtf8
    );
}

#[test]
fn text_frame_validated_in_pieces_is_delivered_whole_and_intact() {
    let text = "κόσμε 中文 😀".repeat(50);
    let wire = client_frame(0x81, text.as_bytes());
    for step in [1, 2, 3, 7, 100] {
        let mut server = Connection::server(Config::default());
        let out = common::feed(&mut server, &wire, || step, usize::MAX);
        assert_eq!(
            out.seen,
            vec![Seen::Data {
                kind: ws13_codec::MessageKind::Text,
                payload: text.as_bytes().to_vec(),
                start: true,
                end: true
            }],
            "step {step}"
        );
    }
}

#[test]
fn large_masked_text_is_unmasked_and_validated_across_block_boundaries() {
    // The core unmasks and validates text in 16 KiB blocks: 3-byte characters
    // straddle every block boundary of this 40 KiB frame (16384 is not a
    // multiple of 3), whether the frame arrives whole or in pieces.
    let text = "中文 ws13 ".repeat(40 * 1024 / 12);
    let wire = client_frame(0x81, text.as_bytes());
    for step in [usize::MAX, 16 * 1024 + 1, 5000, 777] {
        let mut server = Connection::server(Config::default());
        let out = common::feed(&mut server, &wire, || step, usize::MAX);
        assert_eq!(
            out.messages(),
            vec![(ws13_codec::MessageKind::Text, text.as_bytes().to_vec())],
            "step {step}"
        );
    }
    // A stray continuation byte in the third block fails the connection with
    // 1007, however the frame is cut.
    let mut bad = text.into_bytes();
    let at = 2 * 16 * 1024 + 100;
    bad[at] = 0x80;
    let wire = client_frame(0x81, &bad);
    for step in [usize::MAX, 16 * 1024 + 1, 5000, 777] {
        let mut server = Connection::server(Config::default());
        let out = common::feed(&mut server, &wire, || step, usize::MAX);
        assert_eq!(out.failed_with(), Some(1007), "step {step}");
        assert_eq!(server.state(), State::Closed);
    }
}
