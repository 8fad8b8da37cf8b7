//! `roundtrip`: arbitrary messages, fragmented at arbitrary points with
//! pings interleaved, encoded by one role and decoded by the other from
//! arbitrary chunks, give back the same messages, pings and close; every
//! ping is answered with a pong carrying its payload, and the close is
//! echoed with its code.
//!
//! Input: a [`Plan`] decoded with `arbitrary`.

use arbitrary::{Arbitrary, Unstructured};
use ws13_codec::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use ws13_codec::{CloseCode, Config, Connection, Event, MaskKeySource, MessageKind, State};

use super::common::{CLOSE_CODES, Keys, Pieces, decode_control, fit_reason};

/// A message's payload.
#[derive(Arbitrary, Debug)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

/// One message to send.
#[derive(Arbitrary, Debug)]
pub struct PlannedMessage {
    payload: Payload,
    /// Where to cut the payload into frames (taken modulo its length + 1,
    /// sorted; repeated cuts give empty frames).
    cuts: Vec<u16>,
    /// Pings to send, each after frame `index % frames`.
    pings: Vec<(u8, Vec<u8>)>,
}

/// The whole scenario.
#[derive(Arbitrary, Debug)]
pub struct Plan {
    client_sends: bool,
    zero_copy: bool,
    key_seed: u32,
    /// The receiver delivers frames longer than this in pieces.
    partial_frames_above: Option<u16>,
    /// Seed of the chunk sizes the receiver is fed.
    chunk_seed: u64,
    /// Largest chunk, minus one.
    max_chunk: u8,
    messages: Vec<PlannedMessage>,
    /// A final close: index into the valid codes, and a reason.
    close: Option<(u8, String)>,
}

/// What one side saw, in order.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Close(u16, String),
}

/// The target.
pub fn roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(plan) = Plan::arbitrary(&mut u) else {
        return;
    };
    let mut config = Config::default();
    config.heartbeat = None;
    if plan.client_sends {
        let sender = Connection::client(Config::default(), Keys::new(plan.key_seed));
        let (wire, sent) = encode(sender, &plan);
        let mut receiver_config = config;
        if let Some(above) = plan.partial_frames_above {
            receiver_config.partial_frames_above = u64::from(above);
        }
        decode(Connection::server(receiver_config), &wire, &sent, &plan);
    } else {
        let (wire, sent) = encode(Connection::server(Config::default()), &plan);
        let mut receiver_config = config;
        if let Some(above) = plan.partial_frames_above {
            receiver_config.partial_frames_above = u64::from(above);
        }
        decode(
            Connection::client(receiver_config, Keys::new(plan.key_seed)),
            &wire,
            &sent,
            &plan,
        );
    }
}

/// The only valid close codes.
fn valid_codes() -> Vec<u16> {
    CLOSE_CODES
        .iter()
        .copied()
        .filter(|&c| CloseCode(c).is_valid_on_wire())
        .collect()
}

fn encode<K: MaskKeySource>(mut sender: Connection<K>, plan: &Plan) -> (Vec<u8>, Vec<Item>) {
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for message in plan.messages.iter().take(64) {
        let (kind, opcode, bytes) = match &message.payload {
            Payload::Text(text) => (MessageKind::Text, OpCode::Text, text.as_bytes()),
            Payload::Binary(bytes) => (MessageKind::Binary, OpCode::Binary, &bytes[..]),
        };
        let mut cuts: Vec<usize> = message
            .cuts
            .iter()
            .take(16)
            .map(|&c| usize::from(c) % (bytes.len() + 1))
            .collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let frames = cuts.len();
        let mut start = 0;
        for (i, &end) in cuts.iter().enumerate() {
            let fin = i + 1 == frames;
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            let piece = &bytes[start..end];
            start = end;
            if plan.zero_copy {
                let header = sender.data_frame_header(op, fin, piece.len()).unwrap();
                wire.extend_from_slice(header.bytes());
                let mut body = piece.to_vec();
                header.mask_payload(&mut body, 0);
                wire.extend_from_slice(&body);
            } else {
                let mut out = vec![0; piece.len() + 14];
                let len = sender.encode_data_frame(op, fin, piece, &mut out).unwrap();
                wire.extend_from_slice(&out[..len]);
            }
            if fin {
                sent.push(Item::Message(kind, bytes.to_vec()));
            }
            for (index, payload) in message.pings.iter().take(8) {
                if usize::from(*index) % frames == i {
                    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
                    wire.extend_from_slice(&sender.ping(payload).unwrap());
                    sent.push(Item::Ping(payload.to_vec()));
                }
            }
        }
    }
    if let Some((index, reason)) = &plan.close {
        let codes = valid_codes();
        let code = codes[usize::from(*index) % codes.len()];
        let reason = fit_reason(reason);
        wire.extend_from_slice(&sender.close(CloseCode(code), reason).unwrap());
        sent.push(Item::Close(code, reason.to_owned()));
        assert_eq!(sender.state(), State::CloseSent);
    }
    assert!(
        sender.poll_transmit().is_none(),
        "the sender queued a frame of its own"
    );
    (wire, sent)
}

fn decode<K: MaskKeySource>(mut receiver: Connection<K>, wire: &[u8], sent: &[Item], plan: &Plan) {
    let role = receiver.role();
    let mut seen = Vec::new();
    let mut message: Option<(MessageKind, Vec<u8>)> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut pieces = Pieces::new(plan.chunk_seed);
    let mut fed = 0;
    while fed < wire.len() {
        let take = pieces
            .next(usize::from(plan.max_chunk) + 1)
            .min(wire.len() - fed);
        pending.extend_from_slice(&wire[fed..fed + take]);
        fed += take;
        loop {
            let received = receiver
                .receive(&mut pending)
                .unwrap_or_else(|e| panic!("{role:?} refused a legal stream: {e}"));
            let consumed = received.consumed;
            let Some(event) = received.event else {
                pending.drain(..consumed);
                break;
            };
            match event {
                Event::Data(chunk) => {
                    if chunk.message_start {
                        assert!(message.is_none(), "message started inside another");
                        message = Some((chunk.kind, Vec::new()));
                    }
                    let (kind, bytes) = message.as_mut().expect("chunk outside a message");
                    assert_eq!(*kind, chunk.kind);
                    bytes.extend_from_slice(chunk.payload);
                    if chunk.message_end {
                        let (kind, bytes) = message.take().unwrap();
                        seen.push(Item::Message(kind, bytes));
                    }
                }
                Event::Ping(payload) => {
                    let payload = payload.to_vec();
                    pending.drain(..consumed);
                    let pong = receiver.poll_transmit().expect("ping not answered");
                    assert_eq!(decode_control(&pong, role), (OpCode::Pong, payload.clone()));
                    seen.push(Item::Ping(payload));
                    continue;
                }
                Event::Pong(_) => panic!("pong that nobody sent"),
                Event::Close(frame) => {
                    let frame = frame.expect("close without a code");
                    let item = Item::Close(frame.code.0, frame.reason.to_owned());
                    pending.drain(..consumed);
                    let echo = receiver.poll_transmit().expect("close not echoed");
                    let (opcode, payload) = decode_control(&echo, role);
                    assert_eq!(opcode, OpCode::Close);
                    assert_eq!(payload[..2], item_code(&item).to_be_bytes());
                    assert_eq!(receiver.state(), State::Closed);
                    seen.push(item);
                    continue;
                }
                other => panic!("unexpected {other:?}"),
            }
            pending.drain(..consumed);
            assert!(receiver.poll_transmit().is_none());
        }
    }
    assert!(pending.is_empty(), "{} bytes left undecoded", pending.len());
    assert!(message.is_none(), "a message was left unfinished");
    assert_eq!(
        seen, sent,
        "the {role:?} decoded something else than was sent"
    );
    assert!(receiver.error().is_none());
}

fn item_code(item: &Item) -> u16 {
    match item {
        Item::Close(code, _) => *code,
        _ => unreachable!(),
    }
}
