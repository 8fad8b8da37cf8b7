//! Property tests: arbitrary messages encoded by one role and decoded by the
//! other give back the same messages, however the bytes are split.

mod common;

use common::{Rng, Seen, TestKeys, feed};
use ws13_codec::frame::OpCode;
use ws13_codec::{Config, Connection, MaskKeySource, MessageKind};

/// What one side sends: a data message (split into fragments) or a ping.
#[derive(Debug, Clone)]
enum Item {
    Message {
        kind: MessageKind,
        payload: Vec<u8>,
        fragments: Vec<usize>,
    },
    Ping(Vec<u8>),
}

fn random_text(rng: &mut Rng, chars: usize) -> Vec<u8> {
    const SAMPLES: [&str; 8] = ["a", "Z", " ", "é", "中", "文", "😀", "\u{10FFFF}"];
    let mut s = String::new();
    for _ in 0..chars {
        s.push_str(SAMPLES[rng.below(SAMPLES.len())]);
    }
    s.into_bytes()
}

fn random_items(rng: &mut Rng, count: usize, max_len: usize) -> Vec<Item> {
    (0..count)
        .map(|_| {
            if rng.chance(15) {
                let len = rng.below(126);
                return Item::Ping((0..len).map(|_| rng.next() as u8).collect());
            }
            let kind = if rng.chance(50) {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            let len = if rng.chance(5) {
                rng.below(70_000)
            } else {
                rng.below(max_len + 1)
            };
            let payload = match kind {
                MessageKind::Text => random_text(rng, len / 3),
                MessageKind::Binary => (0..len).map(|_| rng.next() as u8).collect(),
            };
            // Split points anywhere, even inside a UTF-8 character.
            let mut fragments = Vec::new();
            let mut left = payload.len();
            while rng.chance(40) && left > 0 {
                let piece = rng.below(left + 1);
                fragments.push(piece);
                left -= piece;
            }
            fragments.push(left);
            Item::Message {
                kind,
                payload,
                fragments,
            }
        })
        .collect()
}

fn encode<K: MaskKeySource>(sender: &mut Connection<K>, items: &[Item]) -> Vec<u8> {
    let mut wire = Vec::new();
    for item in items {
        match item {
            Item::Ping(payload) => wire.extend_from_slice(&sender.ping(payload).unwrap()),
            Item::Message {
                kind,
                payload,
                fragments,
            } => {
                let mut at = 0;
                for (i, &len) in fragments.iter().enumerate() {
                    let opcode = match (i, kind) {
                        (0, MessageKind::Text) => OpCode::Text,
                        (0, MessageKind::Binary) => OpCode::Binary,
                        _ => OpCode::Continuation,
                    };
                    let fin = i + 1 == fragments.len();
                    // The zero-copy path: header apart, payload masked in place.
                    let header = sender.data_frame_header(opcode, fin, len).unwrap();
                    wire.extend_from_slice(header.bytes());
                    let start = wire.len();
                    wire.extend_from_slice(&payload[at..at + len]);
                    header.mask_payload(&mut wire[start..], 0);
                    at += len;
                }
            }
        }
    }
    wire
}

fn expected_messages(items: &[Item]) -> Vec<(MessageKind, Vec<u8>)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Message { kind, payload, .. } => Some((*kind, payload.clone())),
            Item::Ping(_) => None,
        })
        .collect()
}

fn expected_pings(items: &[Item]) -> Vec<Seen> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Ping(p) => Some(Seen::Ping(p.clone())),
            Item::Message { .. } => None,
        })
        .collect()
}

fn check(
    items: &[Item],
    wire: &[u8],
    server: bool,
    config: Config,
    chunks: &mut dyn FnMut() -> usize,
    max_buffer: usize,
) {
    let out = if server {
        feed(&mut Connection::server(config), wire, chunks, max_buffer)
    } else {
        feed(
            &mut Connection::client(config, TestKeys(5)),
            wire,
            chunks,
            max_buffer,
        )
    };
    assert_eq!(out.failed_with(), None, "{:?}", out.seen.last());
    assert_eq!(out.messages(), expected_messages(items));
    assert_eq!(out.non_data(), expected_pings(items));
}

#[test]
fn client_to_server_roundtrip_in_random_chunks() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..200 {
        let items = random_items(&mut rng, 12, 300);
        let wire = encode(
            &mut Connection::client(Config::default(), TestKeys(7)),
            &items,
        );
        let mut chunk_rng = Rng(rng.next() | 1);
        check(
            &items,
            &wire,
            true,
            Config::default(),
            &mut || 1 + chunk_rng.below(64),
            usize::MAX,
        );
    }
}

#[test]
fn server_to_client_roundtrip_in_random_chunks() {
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..200 {
        let items = random_items(&mut rng, 12, 300);
        let wire = encode(&mut Connection::server(Config::default()), &items);
        let mut chunk_rng = Rng(rng.next() | 1);
        check(
            &items,
            &wire,
            false,
            Config::default(),
            &mut || 1 + chunk_rng.below(200),
            usize::MAX,
        );
    }
}

#[test]
fn roundtrip_split_at_every_byte_boundary() {
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..20 {
        let items = random_items(&mut rng, 4, 40);
        let wire = encode(
            &mut Connection::client(Config::default(), TestKeys(11)),
            &items,
        );
        if wire.len() > 2000 {
            continue;
        }
        for split in 0..=wire.len() {
            let mut calls = 0;
            let mut chunks = || {
                calls += 1;
                if calls == 1 { split } else { usize::MAX }
            };
            check(
                &items,
                &wire,
                true,
                Config::default(),
                &mut chunks,
                usize::MAX,
            );
        }
    }
}

#[test]
fn roundtrip_one_byte_at_a_time() {
    let mut rng = Rng(0x5eed_0004);
    for _ in 0..30 {
        let items = random_items(&mut rng, 8, 100);
        let wire = encode(
            &mut Connection::client(Config::default(), TestKeys(13)),
            &items,
        );
        check(
            &items,
            &wire,
            true,
            Config::default(),
            &mut || 1,
            usize::MAX,
        );
    }
}

#[test]
fn small_fixed_buffer_receives_large_messages_in_pieces() {
    // A no_std user with a 4 KiB buffer receives messages up to 70 KB.
    let mut config = Config::default();
    config.partial_frames_above = 4096 - 14;
    let mut rng = Rng(0x5eed_0005);
    for _ in 0..40 {
        let items = random_items(&mut rng, 10, 10_000);
        let wire = encode(
            &mut Connection::client(Config::default(), TestKeys(17)),
            &items,
        );
        let mut chunk_rng = Rng(rng.next() | 1);
        check(
            &items,
            &wire,
            true,
            config,
            &mut || 1 + chunk_rng.below(3000),
            4096,
        );
    }
}

#[test]
fn one_mebibyte_message_through_a_4k_buffer() {
    let mut config = Config::default();
    config.partial_frames_above = 4096 - 14;
    let payload: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7) as u8).collect();
    let items = vec![Item::Message {
        kind: MessageKind::Binary,
        payload,
        fragments: vec![1 << 20],
    }];
    let wire = encode(
        &mut Connection::client(Config::default(), TestKeys(19)),
        &items,
    );
    let mut server = Connection::server(config);
    let out = feed(&mut server, &wire, || 1500, 4096);
    assert_eq!(out.messages(), expected_messages(&items));
    assert!(out.peak_buffer <= 4096);
    // Delivered in many pieces, never as one.
    assert!(out.seen.len() > 200, "{} chunks", out.seen.len());
}

#[test]
fn encode_data_frame_matches_the_zero_copy_path() {
    let mut rng = Rng(0x5eed_0006);
    for _ in 0..50 {
        let len = rng.below(70_000);
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut a = Connection::client(Config::default(), TestKeys(23));
        let mut b = Connection::client(Config::default(), TestKeys(23));
        let mut out = vec![0u8; len + 14];
        let n = a
            .encode_data_frame(OpCode::Binary, true, &payload, &mut out)
            .unwrap();
        let items = [Item::Message {
            kind: MessageKind::Binary,
            payload,
            fragments: vec![len],
        }];
        assert_eq!(out[..n], encode(&mut b, &items)[..]);
    }
}
