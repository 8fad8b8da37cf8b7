//! `inflate`: permessage-deflate decompression (RFC 7692) of arbitrary input
//! under a small message size limit, in both roles, with every window size
//! and context-takeover combination.
//!
//! Two scenarios, chosen by the input:
//! * **raw**: arbitrary bytes fed as the chunks of compressed messages. Every
//!   chunk inflates or fails with 1007 (corrupt data, invalid UTF-8 text) or
//!   1009 (past the limit); a message never holds more than the limit and
//!   the output buffer never holds *room* for more than the limit plus one
//!   byte (a deflate bomb allocates nothing past it).
//! * **roundtrip**: arbitrary messages compressed by the peer's
//!   [`PerMessageDeflate`] and inflated from arbitrary fragments give back
//!   the same bytes, or 1009 exactly when the message is over the limit.
//!
//! Input: a [`Plan`] decoded with `arbitrary`.

use arbitrary::{Arbitrary, Unstructured};
use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
use ws13_codec::{CloseCode, DataChunk, MessageKind, ProtocolError, Role};

/// One chunk of a compressed message in the raw scenario.
#[derive(Arbitrary, Debug)]
pub struct RawChunk {
    /// The message's kind, read on its first chunk only.
    text: bool,
    message_start: bool,
    message_end: bool,
    payload: Vec<u8>,
}

/// One message in the roundtrip scenario.
#[derive(Arbitrary, Debug)]
pub struct PlainMessage {
    payload: Vec<u8>,
    /// Where to cut the compressed bytes into fragments (modulo length + 1).
    cuts: Vec<u16>,
}

/// What to feed the decompressor.
#[derive(Arbitrary, Debug)]
pub enum Scenario {
    Raw(Vec<RawChunk>),
    Roundtrip(Vec<PlainMessage>),
}

/// The whole input.
#[derive(Arbitrary, Debug)]
pub struct Plan {
    /// The decompressing side is the client (it inflates what a server sent).
    receiver_is_client: bool,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    /// Compression level of the sending side (0-9, modulo 10).
    level: u8,
    /// The decompressed message limit: up to 64 KiB, so bombs hit it.
    max_message_size: u16,
    scenario: Scenario,
}

/// Runs the target on raw fuzzer bytes.
pub fn inflate(data: &[u8]) {
    let Ok(plan) = Plan::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(plan);
}

fn run(plan: Plan) {
    let params = DeflateParams {
        server_no_context_takeover: plan.server_no_context_takeover,
        client_no_context_takeover: plan.client_no_context_takeover,
        server_max_window_bits: 8 + plan.server_max_window_bits % 8,
        client_max_window_bits: 8 + plan.client_max_window_bits % 8,
    };
    let (receiver_role, sender_role) = if plan.receiver_is_client {
        (Role::Client, Role::Server)
    } else {
        (Role::Server, Role::Client)
    };
    let settings = DeflateSettings {
        min_compress_len: 0,
        level: u32::from(plan.level % 10),
    };
    let mut receiver = PerMessageDeflate::new(receiver_role, params, settings);
    let max = u64::from(plan.max_message_size);
    match plan.scenario {
        Scenario::Raw(chunks) => raw(&mut receiver, chunks, max),
        Scenario::Roundtrip(messages) => {
            let mut sender = PerMessageDeflate::new(sender_role, params, settings);
            roundtrip(&mut receiver, &mut sender, messages, max);
        }
    }
}

/// The limit's invariants on the message buffer after any inflate call.
fn assert_bounded(out: &[u8], capacity: usize, max: u64) {
    assert!(
        out.len() as u64 <= max,
        "a message of {} bytes got past the {max}-byte limit",
        out.len()
    );
    assert!(
        capacity as u64 <= max + 1,
        "inflating reserved {capacity} bytes under a {max}-byte limit"
    );
}

fn raw(receiver: &mut PerMessageDeflate, chunks: Vec<RawChunk>, max: u64) {
    let mut out = Vec::new();
    let mut in_message = false;
    // The kind of the message being inflated: its first chunk's.
    let mut message_kind = MessageKind::Binary;
    for chunk in chunks {
        let message_start = chunk.message_start || !in_message;
        if message_start {
            out.clear();
            message_kind = if chunk.text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
        }
        // Every chunk carries its message's kind, as `Connection` reports it.
        let data = DataChunk {
            kind: message_kind,
            payload: &chunk.payload,
            message_start,
            message_end: chunk.message_end,
            rsv: if message_start { 0b100 } else { 0 },
        };
        match receiver.inflate(&data, &mut out, max) {
            Ok(()) => {
                assert_bounded(&out, out.capacity(), max);
                if chunk.message_end && message_kind == MessageKind::Text {
                    assert!(
                        core::str::from_utf8(&out).is_ok(),
                        "a text message inflated to invalid UTF-8 without an error"
                    );
                }
                in_message = !chunk.message_end;
            }
            Err(error) => {
                assert_bounded(&[], out.capacity(), max);
                let code = error.close_code();
                assert!(
                    code == CloseCode::INVALID_PAYLOAD || code == CloseCode::MESSAGE_TOO_BIG,
                    "inflate failed with {code:?} ({error})"
                );
                // The connection is failed: nothing more is inflated.
                return;
            }
        }
    }
}

fn roundtrip(
    receiver: &mut PerMessageDeflate,
    sender: &mut PerMessageDeflate,
    messages: Vec<PlainMessage>,
    max: u64,
) {
    let mut compressed = Vec::new();
    let mut out = Vec::new();
    for message in messages {
        compressed.clear();
        sender.deflate(&message.payload, &mut compressed);
        let mut cuts: Vec<usize> = message
            .cuts
            .iter()
            .map(|&cut| usize::from(cut) % (compressed.len() + 1))
            .collect();
        cuts.push(compressed.len());
        cuts.sort_unstable();
        out.clear();
        let mut from = 0;
        let last = cuts.len() - 1;
        for (index, &to) in cuts.iter().enumerate() {
            let data = DataChunk {
                kind: MessageKind::Binary,
                payload: &compressed[from..to],
                message_start: index == 0,
                message_end: index == last,
                rsv: if index == 0 { 0b100 } else { 0 },
            };
            from = to;
            match receiver.inflate(&data, &mut out, max) {
                Ok(()) => assert_bounded(&out, out.capacity(), max),
                Err(ProtocolError::MessageTooBig { .. }) => {
                    assert!(
                        message.payload.len() as u64 > max,
                        "a {}-byte message failed the {max}-byte limit",
                        message.payload.len()
                    );
                    return;
                }
                Err(error) => panic!("our own compressed message failed to inflate: {error}"),
            }
        }
        assert!(
            message.payload.len() as u64 <= max,
            "a {}-byte message passed the {max}-byte limit",
            message.payload.len()
        );
        assert_eq!(out, message.payload, "the roundtrip changed the message");
    }
}
