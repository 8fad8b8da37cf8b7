//! The close handshake, control frames and state transitions.

mod common;

use std::time::Duration;

use common::{Seen, TestKeys, client_frame, close_code_of, drain, feed_all, raw_frame};
use ws13_codec::frame::OpCode;
use ws13_codec::{CloseCode, Config, Connection, SendError, State};

#[test]
fn close_is_echoed_with_its_code_and_then_the_connection_is_closed() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x88, b"\x03\xe9going"));
    assert_eq!(out.seen, vec![Seen::Close(Some((1001, "going".into())))]);
    assert_eq!(out.transmitted, vec![0x88, 0x02, 0x03, 0xe9]);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.peer_close(), Some(CloseCode::GOING_AWAY));
}

#[test]
fn empty_close_is_echoed_empty_and_reported_as_1005() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x88, b""));
    assert_eq!(out.seen, vec![Seen::Close(None)]);
    assert_eq!(out.transmitted, vec![0x88, 0x00]);
    assert_eq!(server.peer_close(), Some(CloseCode::NO_STATUS_RECEIVED));
}

#[test]
fn after_sending_close_data_is_dropped_until_the_peer_closes() {
    let mut server = Connection::server(Config::default());
    let close = server.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(&*close, b"\x88\x05\x03\xe8bye");
    assert_eq!(server.state(), State::CloseSent);
    let wire = [
        client_frame(0x81, b"dropped"),
        client_frame(0x02, b"also"),
        client_frame(0x80, b" dropped"),
        client_frame(0x88, b"\x03\xe8"),
    ]
    .concat();
    let out = feed_all(&mut server, &wire);
    assert_eq!(out.seen, vec![Seen::Close(Some((1000, String::new())))]);
    assert!(
        out.transmitted.is_empty(),
        "a second close was sent: {:?}",
        out.transmitted
    );
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn data_is_dropped_after_close_even_when_it_arrives_in_pieces() {
    let mut server = Connection::server(Config::default());
    let _ = server.close(CloseCode::NORMAL, "").unwrap();
    let wire = [
        client_frame(0x82, &[7; 1000]),
        client_frame(0x88, b"\x03\xe8"),
    ]
    .concat();
    let out = common::feed(&mut server, &wire, || 3, usize::MAX);
    assert_eq!(out.seen, vec![Seen::Close(Some((1000, String::new())))]);
    assert!(
        out.peak_buffer < 20,
        "dropped data was buffered: {}",
        out.peak_buffer
    );
}

#[test]
fn nothing_may_be_sent_after_close() {
    let mut client = Connection::client(Config::default(), TestKeys(1));
    let _ = client.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        client.data_frame_header(OpCode::Text, true, 1),
        Err(SendError::CloseAlreadySent)
    );
    assert_eq!(client.ping(b"").unwrap_err(), SendError::CloseAlreadySent);
    assert_eq!(client.pong(b"").unwrap_err(), SendError::CloseAlreadySent);
    assert_eq!(
        client.close(CloseCode::NORMAL, "").unwrap_err(),
        SendError::CloseAlreadySent
    );
}

#[test]
fn placeholder_and_undefined_close_codes_are_never_sent() {
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000] {
        let mut server = Connection::server(Config::default());
        assert!(
            matches!(
                server.close(CloseCode(code), ""),
                Err(SendError::InvalidClose(_))
            ),
            "close code {code} was accepted for sending"
        );
        assert_eq!(server.state(), State::Open);
    }
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ] {
        let mut server = Connection::server(Config::default());
        let frame = server.close(CloseCode(code), "").unwrap();
        assert_eq!(close_code_of(&frame), Some(code));
    }
}

#[test]
fn close_reason_longer_than_123_bytes_is_refused() {
    let mut server = Connection::server(Config::default());
    let long = "x".repeat(124);
    assert!(matches!(
        server.close(CloseCode::NORMAL, &long),
        Err(SendError::InvalidClose(_))
    ));
    let frame = server.close(CloseCode::NORMAL, &long[..123]).unwrap();
    assert_eq!(frame.len(), 2 + 125);
}

#[test]
fn valid_close_codes_from_the_peer_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut server = Connection::server(Config::default());
        let out = feed_all(&mut server, &client_frame(0x88, &code.to_be_bytes()));
        assert_eq!(close_code_of(&out.transmitted), Some(code));
    }
}

#[test]
fn ping_gets_a_pong_echoing_its_payload() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x89, b"are you there?"));
    assert_eq!(out.seen, vec![Seen::Ping(b"are you there?".to_vec())]);
    assert_eq!(
        out.transmitted,
        [&[0x8a, 14][..], b"are you there?"].concat()
    );
}

#[test]
fn every_ping_in_a_burst_gets_its_own_pong_when_the_driver_drains_each_time() {
    let mut server = Connection::server(Config::default());
    let wire: Vec<u8> = (0..10u8)
        .flat_map(|i| client_frame(0x89, &[i; 3]))
        .collect();
    let out = feed_all(&mut server, &wire);
    let expected: Vec<u8> = (0..10u8)
        .flat_map(|i| raw_frame(0x8a, None, &[i; 3]))
        .collect();
    assert_eq!(out.transmitted, expected);
}

#[test]
fn auto_pong_can_be_switched_off() {
    let mut config = Config::default();
    config.auto_pong = false;
    let mut server = Connection::server(config);
    let out = feed_all(&mut server, &client_frame(0x89, b"x"));
    assert_eq!(out.seen, vec![Seen::Ping(b"x".to_vec())]);
    assert!(out.transmitted.is_empty());
}

#[test]
fn unsolicited_pong_is_reported_and_not_answered() {
    let mut server = Connection::server(Config::default());
    let out = feed_all(&mut server, &client_frame(0x8a, b"beat"));
    assert_eq!(out.seen, vec![Seen::Pong(b"beat".to_vec())]);
    assert!(out.transmitted.is_empty());
    assert_eq!(server.state(), State::Open);
}

#[test]
fn control_frames_may_interleave_with_fragments() {
    let mut server = Connection::server(Config::default());
    let wire = [
        client_frame(0x01, b"frag"),
        client_frame(0x89, b"p"),
        client_frame(0x00, b"men"),
        client_frame(0x8a, b"q"),
        client_frame(0x80, b"ted"),
    ]
    .concat();
    let out = feed_all(&mut server, &wire);
    assert_eq!(
        out.messages(),
        vec![(ws13_codec::MessageKind::Text, b"fragmented".to_vec())]
    );
    assert_eq!(
        out.non_data(),
        vec![Seen::Ping(b"p".to_vec()), Seen::Pong(b"q".to_vec())]
    );
}

#[test]
fn close_in_the_middle_of_a_fragmented_message_ends_it() {
    let mut server = Connection::server(Config::default());
    let wire = [client_frame(0x01, b"half"), client_frame(0x88, b"\x03\xe8")].concat();
    let out = feed_all(&mut server, &wire);
    assert_eq!(
        out.non_data(),
        vec![Seen::Close(Some((1000, String::new())))]
    );
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn pong_queued_before_the_peers_close_goes_out_before_the_echo() {
    let mut server = Connection::server(Config::default());
    let mut wire = [client_frame(0x89, b"p"), client_frame(0x88, b"\x03\xe8")].concat();
    // Process both frames before draining: the pong was queued first.
    let first = server.receive(&mut wire).unwrap().consumed;
    let _ = server.receive(&mut wire[first..]).unwrap();
    let mut sent = Vec::new();
    drain(&mut server, &mut sent);
    assert_eq!(sent, vec![0x8a, 0x01, b'p', 0x88, 0x02, 0x03, 0xe8]);
}

#[test]
fn fragmented_sending_enforces_message_order() {
    let mut server = Connection::server(Config::default());
    assert_eq!(
        server.data_frame_header(OpCode::Continuation, true, 1),
        Err(SendError::NoMessageInProgress)
    );
    let _ = server.data_frame_header(OpCode::Text, false, 1).unwrap();
    assert_eq!(
        server.data_frame_header(OpCode::Binary, true, 1),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(
        server.data_frame_header(OpCode::Ping, true, 1),
        Err(SendError::WrongOpcode(OpCode::Ping))
    );
    for (opcode, fin) in [
        (OpCode::Continuation, false),
        (OpCode::Continuation, true),
        (OpCode::Binary, true),
    ] {
        assert!(
            server.data_frame_header(opcode, fin, 1).is_ok(),
            "{opcode:?} fin={fin}"
        );
    }
}

#[test]
fn control_payload_over_125_bytes_is_refused() {
    let mut server = Connection::server(Config::default());
    assert_eq!(
        server.ping(&[0; 126]).unwrap_err(),
        SendError::ControlPayloadTooLong(126)
    );
    assert_eq!(server.ping(&[0; 125]).unwrap().len(), 127);
}

#[test]
fn encoding_into_a_short_buffer_fails_without_changing_state() {
    let mut server = Connection::server(Config::default());
    let mut out = [0u8; 6];
    assert_eq!(
        server.encode_data_frame(OpCode::Text, false, b"Hello", &mut out),
        Err(SendError::BufferTooSmall { needed: 7 })
    );
    // No fragmented message was started by the failed call.
    let mut out = [0u8; 7];
    assert_eq!(
        server.encode_data_frame(OpCode::Text, true, b"Hello", &mut out),
        Ok(7)
    );
}

// Found by fuzzing (fuzz/regressions/connection_server/stale-front-prefix-after-close).
#[test]
fn partial_frame_then_close_then_masked_ping_is_received_intact() {
    let text = client_frame(0x81, b"abcdefghij");
    let mut server = Connection::server(Config::default());
    // Header and 5 of 10 payload bytes: unmasked and validated in place.
    let mut input = text[..11].to_vec();
    let received = server.receive(&mut input).unwrap();
    assert_eq!((received.consumed, received.event), (0, None));
    let _ = server.close(CloseCode::NORMAL, "").unwrap();
    // The rest of the frame (dropped: we sent a close) and an empty ping.
    input.extend_from_slice(&text[11..]);
    input.extend_from_slice(&client_frame(0x89, b""));
    let mut rest = 0;
    let mut pings = 0;
    while rest < input.len() {
        let received = server.receive(&mut input[rest..]).unwrap();
        rest += received.consumed;
        match received.event {
            Some(ws13_codec::Event::Ping(payload)) => {
                assert_eq!(payload, b"");
                pings += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    assert_eq!(pings, 1);
    // The same with a ping payload: it must arrive unmasked, byte for byte.
    let mut server = Connection::server(Config::default());
    let mut input = text[..11].to_vec();
    let _ = server.receive(&mut input).unwrap();
    let _ = server.close(CloseCode::NORMAL, "").unwrap();
    input.extend_from_slice(&text[11..]);
    input.extend_from_slice(&client_frame(0x89, b"ping-payload"));
    let received = server.receive(&mut input).unwrap();
    assert_eq!(
        received.event,
        Some(ws13_codec::Event::Ping(b"ping-payload"))
    );
}

// Found by fuzzing (fuzz/regressions/connection_*/event-after-close-timeout).
#[test]
fn no_event_after_the_close_handshake_timed_out() {
    let mut config = Config::default();
    config.close_timeout = Duration::from_millis(10);
    let mut server = Connection::server(config);
    server.handle_timeout(Duration::ZERO);
    let _ = server.close(CloseCode::NORMAL, "").unwrap();
    server.handle_timeout(Duration::from_millis(1));
    server.handle_timeout(Duration::from_millis(20));
    assert_eq!(server.state(), State::Closed);
    let mut input = client_frame(0x89, b"late");
    let received = server.receive(&mut input).unwrap();
    assert_eq!(received.event, None, "event after Closed");
    assert_eq!(received.consumed, input.len());
}
