//! permessage-deflate (RFC 7692): the RFC's examples byte for byte, bombs,
//! every parameter combination, and compressed fragments with control frames.
#![cfg(feature = "deflate")]

mod common;

use common::{Rng, Seen, TestKeys, client_frame, feed_all};
use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
use ws13_codec::frame::{OpCode, RSV1};
use ws13_codec::{Config, Connection, DataChunk, Event, MessageKind, ProtocolError, Role};

fn params(snct: bool, cnct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

fn default_params() -> DeflateParams {
    params(false, false, 15, 15)
}

fn whole(kind: MessageKind, payload: &[u8]) -> DataChunk<'_> {
    DataChunk {
        kind,
        payload,
        message_start: true,
        message_end: true,
        rsv: RSV1,
    }
}

fn inflate_one(
    deflate: &mut PerMessageDeflate,
    compressed: &[u8],
) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    deflate.inflate(&whole(MessageKind::Binary, compressed), &mut out, 1 << 20)?;
    Ok(out)
}

#[test]
fn rfc7692_hello_compressed_with_context_takeover() {
    // §7.2.3.1 and §7.2.3.2: the second "Hello" refers back to the first.
    let mut sender =
        PerMessageDeflate::new(Role::Server, default_params(), DeflateSettings::default());
    let mut first = Vec::new();
    sender.deflate(b"Hello", &mut first);
    assert_eq!(first, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    let mut second = Vec::new();
    sender.deflate(b"Hello", &mut second);
    assert_eq!(second, [0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut receiver =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    assert_eq!(inflate_one(&mut receiver, &first).unwrap(), b"Hello");
    assert_eq!(inflate_one(&mut receiver, &second).unwrap(), b"Hello");
}

#[test]
fn rfc7692_hello_without_context_takeover_is_compressed_alike_each_time() {
    let mut sender = PerMessageDeflate::new(
        Role::Server,
        params(true, false, 15, 15),
        DeflateSettings::default(),
    );
    // zlib ends with a sync flush (§7.2.3.1); libdeflate stores inputs this
    // short (§7.2.3.3) in a final block followed by an empty stored block's
    // header (§7.2.3.4).
    let expected: &[u8] = if cfg!(feature = "libdeflate") {
        &[
            0x01, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ]
    } else {
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    };
    let mut receiver = PerMessageDeflate::new(
        Role::Client,
        params(true, false, 15, 15),
        DeflateSettings::default(),
    );
    for _ in 0..3 {
        let mut out = Vec::new();
        sender.deflate(b"Hello", &mut out);
        assert_eq!(out, expected);
        assert_eq!(inflate_one(&mut receiver, &out).unwrap(), b"Hello");
    }
}

#[test]
fn rfc7692_other_encodings_of_hello_inflate() {
    let mut receiver =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    // §7.2.3.3: a stored (uncompressed) block.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate_one(&mut receiver, &stored).unwrap(), b"Hello");
    // §7.2.3.4: a block with BFINAL set ends the stream; the next message starts anew.
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(inflate_one(&mut receiver, &bfinal).unwrap(), b"Hello");
    assert_eq!(
        inflate_one(&mut receiver, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
        b"Hello"
    );
    // §7.2.3.6: an empty message compresses to a single 0x00.
    assert_eq!(inflate_one(&mut receiver, &[0x00]).unwrap(), b"");
}

#[test]
fn rfc7692_fragmented_compressed_hello_with_a_ping_between() {
    // §7.2.3.1's two fragments, sent by a client (masked), RSV1 on the first only.
    let mut config = Config::default();
    config.allowed_rsv = RSV1;
    let mut server = Connection::server(config);
    let wire = [
        client_frame(0x41, &[0xf2, 0x48, 0xcd]),
        client_frame(0x89, b"p"),
        client_frame(0x80, &[0xc9, 0xc9, 0x07, 0x00]),
    ]
    .concat();
    let out = feed_all(&mut server, &wire);
    let mut deflate =
        PerMessageDeflate::new(Role::Server, default_params(), DeflateSettings::default());
    let mut message = Vec::new();
    let mut seen_ping = false;
    for seen in &out.seen {
        match seen {
            Seen::Data {
                kind,
                payload,
                start,
                end,
            } => {
                let chunk = DataChunk {
                    kind: *kind,
                    payload,
                    message_start: *start,
                    message_end: *end,
                    rsv: RSV1,
                };
                deflate.inflate(&chunk, &mut message, 1 << 20).unwrap();
            }
            Seen::Ping(p) => seen_ping = p == b"p",
            other => panic!("{other:?}"),
        }
    }
    assert!(seen_ping);
    assert_eq!(message, b"Hello");
}

#[test]
fn rsv1_on_control_or_continuation_frames_is_a_protocol_error() {
    for wire in [
        client_frame(0xC9, b"ping with rsv1"),
        [
            client_frame(0x41, &[0xf2, 0x48]),
            client_frame(0xC0, &[0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        ]
        .concat(),
    ] {
        let mut config = Config::default();
        config.allowed_rsv = RSV1;
        let mut server = Connection::server(config);
        assert_eq!(feed_all(&mut server, &wire).failed_with(), Some(1002));
    }
    // Without negotiation, RSV1 is refused on any frame.
    let mut server = Connection::server(Config::default());
    assert_eq!(
        feed_all(&mut server, &client_frame(0xC1, &[0x00])).failed_with(),
        Some(1002)
    );
}

#[test]
fn sending_rsv1_is_limited_to_negotiated_first_frames() {
    let mut plain = Connection::server(Config::default());
    assert!(
        plain
            .data_frame_header_with_rsv(OpCode::Text, true, 5, RSV1)
            .is_err()
    );
    let mut config = Config::default();
    config.allowed_rsv = RSV1;
    let mut server = Connection::server(config);
    let header = server
        .data_frame_header_with_rsv(OpCode::Text, false, 3, RSV1)
        .unwrap();
    assert_eq!(header.bytes()[0], 0x41);
    assert!(
        server
            .data_frame_header_with_rsv(OpCode::Continuation, true, 4, RSV1)
            .is_err()
    );
}

#[test]
fn deflate_bomb_stops_at_the_message_limit_without_allocating_past_it() {
    let mut sender =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    let mut bomb = Vec::new();
    sender.deflate(&vec![0u8; 50 << 20], &mut bomb);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let mut receiver =
        PerMessageDeflate::new(Role::Server, default_params(), DeflateSettings::default());
    let mut out = Vec::new();
    let limit = 1 << 20;
    let error = receiver
        .inflate(&whole(MessageKind::Binary, &bomb), &mut out, limit)
        .unwrap_err();
    assert!(
        matches!(error, ProtocolError::MessageTooBig { .. }),
        "{error:?}"
    );
    assert_eq!(error.close_code().0, 1009);
    assert!(
        out.capacity() as u64 <= limit + 8192,
        "allocated {} bytes",
        out.capacity()
    );
}

#[test]
fn empty_messages_keep_the_shared_stream_in_step() {
    let mut sender =
        PerMessageDeflate::new(Role::Server, default_params(), DeflateSettings::default());
    let mut receiver =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    for text in [&b"before"[..], b"", b"", b"after the empty ones"] {
        let mut compressed = Vec::new();
        sender.deflate(text, &mut compressed);
        assert!(
            !compressed.is_empty(),
            "an empty payload would desynchronise the receiver"
        );
        assert_eq!(inflate_one(&mut receiver, &compressed).unwrap(), text);
    }
    // A peer that sends an empty compressed payload for an empty message.
    assert_eq!(inflate_one(&mut receiver, &[]).unwrap(), b"");
    let mut compressed = Vec::new();
    sender.deflate(b"still in step", &mut compressed);
    assert_eq!(
        inflate_one(&mut receiver, &compressed).unwrap(),
        b"still in step"
    );
}

#[test]
fn corrupt_data_and_invalid_inflated_text_fail_with_1007() {
    let mut receiver =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    let error = inflate_one(&mut receiver, &[0xff, 0xff, 0xff, 0xff]).unwrap_err();
    assert_eq!(error.close_code().0, 1007);

    let mut sender =
        PerMessageDeflate::new(Role::Server, default_params(), DeflateSettings::default());
    let mut bad_text = Vec::new();
    sender.deflate(b"ok \xed\xa0\x80 surrogate", &mut bad_text);
    let mut receiver =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    let mut out = Vec::new();
    let error = receiver
        .inflate(&whole(MessageKind::Text, &bad_text), &mut out, 1 << 20)
        .unwrap_err();
    assert_eq!(error, ProtocolError::InvalidUtf8);
}

#[test]
fn roundtrip_with_every_parameter_combination_and_window_size() {
    let mut rng = Rng(0xdef1a7e);
    let texts: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let mut text = "chat line 中文 😀 ".repeat(1 + rng.below(200)).into_bytes();
            text.extend((0..rng.below(3000)).map(|_| b'a' + (rng.next() % 26) as u8));
            if i == 3 {
                text.clear();
            }
            text
        })
        .collect();
    for snct in [false, true] {
        for cnct in [false, true] {
            for bits in 8..=15u8 {
                let agreed = params(snct, cnct, bits, 23 - bits);
                for (sender_role, receiver_role) in
                    [(Role::Server, Role::Client), (Role::Client, Role::Server)]
                {
                    let mut sender =
                        PerMessageDeflate::new(sender_role, agreed, DeflateSettings::default());
                    let mut receiver =
                        PerMessageDeflate::new(receiver_role, agreed, DeflateSettings::default());
                    for text in &texts {
                        let mut compressed = Vec::new();
                        sender.deflate(text, &mut compressed);
                        // Delivered in random pieces, as fragments or partial frames.
                        let mut out = Vec::new();
                        let mut at = 0;
                        let mut first = true;
                        loop {
                            let piece = rng.below(compressed.len() - at + 1);
                            let end = at + piece;
                            let last = end == compressed.len();
                            let chunk = DataChunk {
                                kind: MessageKind::Text,
                                payload: &compressed[at..end],
                                message_start: first,
                                message_end: last,
                                rsv: RSV1,
                            };
                            receiver.inflate(&chunk, &mut out, 1 << 20).unwrap_or_else(|e| panic!("{e:?} snct={snct} cnct={cnct} bits={bits} {sender_role:?} len={} piece {at}..{end} of {}", text.len(), compressed.len()));
                            first = false;
                            at = end;
                            if last {
                                break;
                            }
                        }
                        assert_eq!(
                            &out, text,
                            "snct={snct} cnct={cnct} bits={bits} {sender_role:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_connection_passes_compressed_chunks_through_without_checking_their_text() {
    // Compressed text is not UTF-8 on the wire; the core must not judge it.
    let mut sender =
        PerMessageDeflate::new(Role::Client, default_params(), DeflateSettings::default());
    let mut compressed = Vec::new();
    sender.deflate("héllo wörld, héllo wörld".as_bytes(), &mut compressed);
    let mut frame = vec![0u8; compressed.len() + 14];
    let mut config = Config::default();
    config.allowed_rsv = RSV1;
    let mut sending = Connection::client(config, TestKeys(4));
    let header = sending
        .data_frame_header_with_rsv(OpCode::Text, true, compressed.len(), RSV1)
        .unwrap();
    let n = header.bytes().len();
    frame[..n].copy_from_slice(header.bytes());
    frame[n..n + compressed.len()].copy_from_slice(&compressed);
    header.mask_payload(&mut frame[n..n + compressed.len()], 0);
    frame.truncate(n + compressed.len());
    let mut server = Connection::server(config);
    let received = server.receive(&mut frame).unwrap();
    let Some(Event::Data(chunk)) = received.event else {
        panic!("{received:?}")
    };
    assert_eq!(chunk.rsv, RSV1);
    assert_eq!(chunk.payload, &compressed[..]);
}

#[test]
fn messages_without_context_takeover_round_trip_at_every_window_and_match_shared_compression() {
    // Short messages (libdeflate's whole-message path when that feature is
    // on) and messages longer than a small window (always zlib): each
    // inflates to itself, with a receiver that keeps one decompressor, and
    // equals what one shared compression produces.
    let text: Vec<u8> = (0..6000u32)
        .flat_map(|i| format!("{{\"id\":{},\"room\":\"general\"}},", i % 97).into_bytes())
        .take(6000)
        .collect();
    for bits in 8..=15u8 {
        let agreed = params(true, false, bits, 15);
        let mut sender = PerMessageDeflate::new(Role::Server, agreed, DeflateSettings::default());
        let mut receiver = PerMessageDeflate::new(Role::Client, agreed, DeflateSettings::default());
        let shared = sender.shared().expect("no context takeover");
        for len in [100usize, 256, 300, 600, 6000] {
            let message = &text[..len];
            for _ in 0..2 {
                let (mut own, mut once) = (Vec::new(), Vec::new());
                sender.deflate(message, &mut own);
                shared.deflate(message, &mut once);
                assert_eq!(own, once, "window {bits}, {len} bytes");
                assert!(own.len() < len, "window {bits}, {len} bytes: compressed");
                assert_eq!(
                    inflate_one(&mut receiver, &own).unwrap(),
                    message,
                    "window {bits}, {len} bytes"
                );
            }
        }
    }
}
