//! The production failures of shared/field-failures.md that the protocol core
//! owns (items 5, 6 and 8), reproduced.

mod common;

use common::{Seen, client_frame, close_code_of, feed, feed_all};
use ws13_codec::{CloseCode, Config, Connection, SendError, State};

// 5. Dead connections: heartbeats need pongs that echo pings, and unsolicited
//    pongs must not upset anything.
#[test]
fn ff5_pong_echoes_the_ping_payload_so_heartbeats_can_match_it() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x89, &42u64.to_be_bytes()));
    assert_eq!(
        out.transmitted,
        [&[0x8a, 8][..], &42u64.to_be_bytes()].concat()
    );
}

#[test]
fn ff5_unsolicited_pong_is_allowed_and_ignored() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(
        &mut server,
        &[client_frame(0x8a, b""), client_frame(0x81, b"still open")].concat(),
    );
    assert_eq!(out.seen[0], Seen::Pong(vec![]));
    assert_eq!(out.messages().len(), 1);
    assert_eq!(server.state(), State::Open);
}

// 6. Hostile or oversized input.
#[test]
fn ff6_header_announcing_2_pow_63_bytes_is_a_protocol_error_before_any_payload() {
    let mut server = Connection::server(Config::default());
    let header = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let out = feed_all(&mut server, &header);
    assert_eq!(out.failed_with(), Some(1002));
}

#[test]
fn ff6_huge_but_legal_length_is_refused_with_1009_as_soon_as_the_header_arrives() {
    let mut server = Connection::server(Config::default());
    let header = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]; // 2^62 bytes
    let out = feed_all(&mut server, &header);
    assert_eq!(out.failed_with(), Some(1009));
    assert_eq!(close_code_of(&out.transmitted), Some(1009));
}

#[test]
fn ff6_a_message_that_never_ends_is_cut_at_the_message_limit_with_bounded_memory() {
    let mut config = Config::default();
    config.max_message_size = 10_000;
    let mut server = Connection::server(config);
    // One first fragment, then an endless stream of 1-byte continuations.
    let mut wire = client_frame(0x02, b"x");
    for _ in 0..20_000 {
        wire.extend_from_slice(&client_frame(0x00, b"y"));
    }
    let out = feed(&mut server, &wire, || 64, usize::MAX);
    assert_eq!(out.failed_with(), Some(1009));
    // Exactly max_message_size bytes were accepted, then the connection failed.
    let accepted: usize = out
        .seen
        .iter()
        .map(|s| match s {
            Seen::Data { payload, .. } => payload.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(accepted, 10_000);
    assert!(
        out.peak_buffer <= 64 + 7,
        "the core made the caller buffer {} bytes",
        out.peak_buffer
    );
}

#[test]
fn ff6_limits_have_sane_defaults() {
    let config = Config::default();
    assert_eq!(config.max_frame_size, 16 << 20);
    assert_eq!(config.max_message_size, 16 << 20);
    assert!(config.auto_pong);
}

// 8. Close codes.
#[test]
fn ff8_1005_1006_1015_are_never_sent() {
    for code in [
        CloseCode::NO_STATUS_RECEIVED,
        CloseCode::ABNORMAL,
        CloseCode::TLS_HANDSHAKE,
    ] {
        let mut server = Connection::server(Config::default());
        assert!(matches!(
            server.close(code, ""),
            Err(SendError::InvalidClose(_))
        ));
    }
    // Not even as the echo of an empty close: that echo is empty.
    let mut server = Connection::server(Config::default());
    assert_eq!(
        feed_all(&mut server, &client_frame(0x88, b"")).transmitted,
        vec![0x88, 0]
    );
}

#[test]
fn ff8_broken_close_frames_are_protocol_errors() {
    for (payload, code) in [
        (&b"\x03"[..], 1002),
        (&b"\x03\xed"[..], 1002),         // 1005 on the wire
        (&b"\x03\xee"[..], 1002),         // 1006 on the wire
        (&b"\x03\xf7"[..], 1002),         // 1015 on the wire
        (&b"\x03\xe8\xc3\x28"[..], 1007), // reason not UTF-8
    ] {
        let mut server = Connection::server(Config::default());
        let out = feed_all(&mut server, &client_frame(0x88, payload));
        assert_eq!(out.failed_with(), Some(code), "{payload:?}");
    }
}
