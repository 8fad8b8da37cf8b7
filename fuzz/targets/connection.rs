//! `connection_server` / `connection_client`: the protocol state machine fed
//! an arbitrary byte stream in arbitrary chunks, with arbitrary commands and
//! timer ticks interleaved.
//!
//! Input layout: bytes 0-1 are the length `n` of the received stream
//! (little-endian u16, cut to what is there), the next `n` bytes are the
//! stream, and the rest is decoded with `arbitrary` as a [`FuzzConfig`]
//! followed by [`Operation`]s. At the end the rest of the stream is received
//! and `poll_transmit` is drained, so a seed that is only a stream (no
//! operations) is received whole with the default limits.
//!
//! Invariants checked: events borrow from the consumed part of the input;
//! `consumed <= input.len()`; an event consumes something; no event once the
//! state is `Closed`, no new message once `CloseSent`; state never goes back;
//! after an `Err` the state is `Closed`, `error()` is that error and (if no
//! close was sent before) the next transmitted frame is a close with its
//! code; data chunks and messages stay within the configured limits, are
//! well-ordered (start/end), keep kind and RSV within a message, and text is
//! UTF-8 as it arrives; pings/pongs ≤ 125 bytes; a received close is legal
//! and leaves the state `Closed`; `bytes_needed() > 0` means no event; each
//! command succeeds exactly when it is legal in the current state; after a
//! timer tick the next deadline lies in the future. Finally everything we
//! transmitted (data frames, pings, pongs, closes from commands and from
//! `poll_transmit`) is decoded by a connection of the other role, which must
//! accept all of it, see the data we sent byte for byte, and see nothing
//! after our close.

use arbitrary::{Arbitrary, Unstructured};
use core::time::Duration;
use ws13_codec::close::MAX_CLOSE_REASON;
use ws13_codec::config::Heartbeat;
use ws13_codec::frame::{MAX_CONTROL_PAYLOAD, OpCode};
use ws13_codec::{
    CloseCode, Config, Connection, Event, MaskKeySource, MessageKind, ProtocolError, Role,
    SendError, State,
};

use super::common::{
    Keys, check_close_payload, close_code, decode_control, is_utf8_prefix, reason,
};

/// A small configuration; `None`/`false`/0 give the defaults (no heartbeat).
#[derive(Arbitrary, Debug)]
pub struct FuzzConfig {
    max_frame_size: Option<u16>,
    max_message_size: Option<u16>,
    partial_frames_above: Option<u16>,
    no_auto_pong: bool,
    allowed_rsv: u8,
    heartbeat: Option<(u16, u16)>,
    close_timeout_ms: u16,
    key_seed: u32,
}

impl FuzzConfig {
    fn config(&self) -> Config {
        let mut config = Config::default();
        if let Some(max) = self.max_frame_size {
            config.max_frame_size = u64::from(max);
        }
        if let Some(max) = self.max_message_size {
            config.max_message_size = u64::from(max);
        }
        if let Some(above) = self.partial_frames_above {
            config.partial_frames_above = u64::from(above);
        }
        config.auto_pong = !self.no_auto_pong;
        config.allowed_rsv = self.allowed_rsv & 0x7;
        config.heartbeat = self.heartbeat.map(|(interval, timeout)| Heartbeat {
            interval: ms(interval.max(1)),
            timeout: ms(timeout.max(1)),
        });
        config.close_timeout = ms(self.close_timeout_ms.max(1));
        config
    }
}

fn ms(ms: u16) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Which opcode a data send uses.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DataOp {
    Text,
    Binary,
    Continuation,
    /// A control opcode: always refused by the data-frame calls.
    Ping,
}

/// How a data frame is produced.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum SendMode {
    /// `data_frame_header`, payload masked in two pieces.
    ZeroCopy,
    /// `encode_data_frame` into a large enough buffer.
    Encode,
    /// `encode_data_frame` into a buffer one byte short: refused, no change.
    ShortBuffer,
}

/// One step of the scenario.
#[derive(Arbitrary, Debug)]
pub enum Operation {
    /// Receive up to this many more bytes of the stream, then call `receive`
    /// until it reports no event.
    Receive(u16),
    /// Send a data frame of `len` bytes (`u16::MAX`: 65,546 bytes).
    SendData {
        opcode: DataOp,
        fin: bool,
        len: u16,
        mode: SendMode,
    },
    /// `ping` with a payload of this length (> 125 is refused).
    Ping(u8),
    /// `pong` with a payload of this length.
    Pong(u8),
    /// `close` with a code (see [`close_code`]) and a reason.
    Close {
        code: u16,
        reason_len: u8,
        multibyte: bool,
    },
    /// Advance the clock and call `handle_timeout`.
    HandleTimeout(u16),
    /// Drain `poll_transmit`.
    PollTransmit,
}

/// The server-role target.
pub fn connection_server(data: &[u8]) {
    let Some((stream, mut u)) = split(data) else {
        return;
    };
    let Ok(fuzz_config) = FuzzConfig::arbitrary(&mut u) else {
        return;
    };
    let conn = Connection::server(fuzz_config.config());
    let wire = Driver::new(conn, stream).run(&mut u);
    let peer = Connection::client(peer_config(), Keys::new(7));
    check_peer(peer, wire, Role::Server);
}

/// The client-role target.
pub fn connection_client(data: &[u8]) {
    let Some((stream, mut u)) = split(data) else {
        return;
    };
    let Ok(fuzz_config) = FuzzConfig::arbitrary(&mut u) else {
        return;
    };
    let keys = Keys::new(fuzz_config.key_seed);
    let conn = Connection::client(fuzz_config.config(), keys);
    let wire = Driver::new(conn, stream).run(&mut u);
    let peer = Connection::server(peer_config());
    check_peer(peer, wire, Role::Client);
}

fn split(data: &[u8]) -> Option<(&[u8], Unstructured<'_>)> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (stream, ops) = rest.split_at(len);
    Some((stream, Unstructured::new(ops)))
}

/// What the peer accepts: anything legal.
fn peer_config() -> Config {
    let mut config = Config::default();
    config.max_frame_size = u64::MAX;
    config.max_message_size = u64::MAX;
    config.partial_frames_above = u64::MAX;
    config.heartbeat = None;
    config
}

/// What we transmitted, for the peer to check.
struct Wire {
    bytes: Vec<u8>,
    /// Payloads of the data frames we sent, concatenated.
    data: Vec<u8>,
}

fn rank(state: State) -> u8 {
    match state {
        State::Open => 0,
        State::CloseSent => 1,
        State::Closed => 2,
    }
}

struct Driver<'s, K> {
    conn: Connection<K>,
    config: Config,
    stream: &'s [u8],
    /// Bytes received but not consumed, as the connection left them.
    pending: Vec<u8>,
    wire: Wire,
    now: Duration,
    last_state: State,
    /// The incoming message in progress: kind, RSV and bytes so far.
    message: Option<(MessageKind, u8, Vec<u8>)>,
    /// An outgoing fragmented message is unfinished.
    sending_fragmented: bool,
    /// The outgoing message (in progress or last) is text.
    sending_text: bool,
}

impl<'s, K: MaskKeySource> Driver<'s, K> {
    fn new(conn: Connection<K>, stream: &'s [u8]) -> Self {
        Driver {
            config: *conn.config(),
            conn,
            stream,
            pending: Vec::new(),
            wire: Wire {
                bytes: Vec::new(),
                data: Vec::new(),
            },
            now: Duration::ZERO,
            last_state: State::Open,
            message: None,
            sending_fragmented: false,
            sending_text: false,
        }
    }

    fn run(mut self, u: &mut Unstructured<'_>) -> Wire {
        let mut steps = 0;
        while !u.is_empty() && steps < 512 {
            steps += 1;
            let Ok(op) = Operation::arbitrary(u) else {
                break;
            };
            self.apply(op);
            self.check_state();
        }
        self.apply(Operation::Receive(u16::MAX));
        while !self.stream.is_empty() {
            self.apply(Operation::Receive(u16::MAX));
        }
        self.apply(Operation::PollTransmit);
        self.check_state();
        self.wire
    }

    fn check_state(&mut self) {
        let state = self.conn.state();
        assert!(
            rank(state) >= rank(self.last_state),
            "state went back from {:?} to {state:?}",
            self.last_state
        );
        if self.conn.error().is_some() {
            assert_eq!(state, State::Closed, "failed but not closed");
        }
        self.last_state = state;
    }

    fn apply(&mut self, op: Operation) {
        match op {
            Operation::Receive(len) => self.receive(usize::from(len)),
            Operation::SendData {
                opcode,
                fin,
                len,
                mode,
            } => self.send_data(opcode, fin, len, mode),
            Operation::Ping(len) => {
                let open = self.conn.state() == State::Open;
                let payload = vec![0xA5; usize::from(len)];
                let result = self.conn.ping(&payload);
                self.check_control_send(result, open, payload.len(), OpCode::Ping);
            }
            Operation::Pong(len) => {
                let open = self.conn.state() == State::Open;
                let payload = vec![0x5A; usize::from(len)];
                let result = self.conn.pong(&payload);
                self.check_control_send(result, open, payload.len(), OpCode::Pong);
            }
            Operation::Close {
                code,
                reason_len,
                multibyte,
            } => {
                let open = self.conn.state() == State::Open;
                let code = close_code(code);
                let reason = reason(reason_len, multibyte);
                let legal = open && code.is_valid_on_wire() && reason.len() <= MAX_CLOSE_REASON;
                match self.conn.close(code, &reason) {
                    Ok(frame) => {
                        assert!(legal, "close({code:?}, {} bytes) accepted", reason.len());
                        let (opcode, payload) = decode_control(&frame, self.conn.role());
                        assert_eq!(opcode, OpCode::Close);
                        let parsed = check_close_payload(&payload).expect("close has a code");
                        assert_eq!(parsed.code, code);
                        assert_eq!(parsed.reason, reason);
                        assert_ne!(self.conn.state(), State::Open);
                        self.wire.bytes.extend_from_slice(&frame);
                    }
                    Err(e) => {
                        assert!(!legal, "legal close refused: {e}");
                        if !open {
                            assert_eq!(e, SendError::CloseAlreadySent);
                        }
                    }
                }
            }
            Operation::HandleTimeout(advance) => {
                self.now += ms(advance);
                self.conn.handle_timeout(self.now);
                if let Some(deadline) = self.conn.poll_timeout() {
                    assert!(
                        deadline > self.now,
                        "after handle_timeout({:?}) the deadline {deadline:?} has passed",
                        self.now
                    );
                }
            }
            Operation::PollTransmit => self.drain(),
        }
    }

    fn check_control_send(
        &mut self,
        result: Result<ws13_codec::ControlFrame, SendError>,
        open: bool,
        len: usize,
        expected: OpCode,
    ) {
        let legal = open && len <= MAX_CONTROL_PAYLOAD;
        match result {
            Ok(frame) => {
                assert!(legal, "{expected:?} of {len} bytes accepted (open: {open})");
                let (opcode, payload) = decode_control(&frame, self.conn.role());
                assert_eq!(opcode, expected);
                assert_eq!(payload.len(), len);
                self.wire.bytes.extend_from_slice(&frame);
            }
            Err(e) => assert!(!legal, "legal {expected:?} refused: {e}"),
        }
    }

    fn send_data(&mut self, op: DataOp, fin: bool, len: u16, mode: SendMode) {
        let len = if len == u16::MAX {
            65_546
        } else {
            usize::from(len % 2048)
        };
        let opcode = match op {
            DataOp::Text => OpCode::Text,
            DataOp::Binary => OpCode::Binary,
            DataOp::Continuation => OpCode::Continuation,
            DataOp::Ping => OpCode::Ping,
        };
        // Text messages (continuations included) stay UTF-8.
        let text = match op {
            DataOp::Text => true,
            DataOp::Continuation => self.sending_text,
            _ => false,
        };
        let payload: Vec<u8> = if text {
            (0..len).map(|i| b'a' + (i % 26) as u8).collect()
        } else {
            (0..len).map(|i| (i * 31 + len) as u8).collect()
        };
        let open = self.conn.state() == State::Open;
        let legal = open
            && match opcode {
                OpCode::Text | OpCode::Binary => !self.sending_fragmented,
                OpCode::Continuation => self.sending_fragmented,
                _ => false,
            };
        let result = match mode {
            SendMode::ZeroCopy => self.conn.data_frame_header(opcode, fin, len).map(|header| {
                let mut body = payload.clone();
                let cut = body.len() / 3;
                let (first, second) = body.split_at_mut(cut);
                header.mask_payload(first, 0);
                header.mask_payload(second, cut);
                let mut frame = header.bytes().to_vec();
                frame.extend_from_slice(&body);
                frame
            }),
            SendMode::Encode | SendMode::ShortBuffer => {
                let short = matches!(mode, SendMode::ShortBuffer);
                let mut out = vec![0u8; len + 14];
                if short {
                    let header_len = if len < 126 {
                        2
                    } else if len <= 65_535 {
                        4
                    } else {
                        10
                    };
                    let mask_len = if self.conn.role() == Role::Client {
                        4
                    } else {
                        0
                    };
                    out.truncate(header_len + mask_len + len - 1);
                }
                match self.conn.encode_data_frame(opcode, fin, &payload, &mut out) {
                    Ok(written) => {
                        assert!(!short, "a frame was written into a buffer too small");
                        out.truncate(written);
                        Ok(out)
                    }
                    Err(e) => {
                        if short {
                            // Refused before any state change: the next
                            // operations' legality checks verify that.
                            return;
                        }
                        Err(e)
                    }
                }
            }
        };
        match result {
            Ok(frame) => {
                assert!(legal, "illegal {opcode:?} fin={fin} accepted");
                self.sending_fragmented = !fin;
                self.sending_text = text;
                self.wire.bytes.extend_from_slice(&frame);
                self.wire.data.extend_from_slice(&payload);
            }
            Err(e) => assert!(!legal, "legal {opcode:?} fin={fin} refused: {e}"),
        }
    }

    fn drain(&mut self) {
        for _ in 0..8 {
            let Some(frame) = self.conn.poll_transmit() else {
                return;
            };
            let _ = decode_control(&frame, self.conn.role());
            self.wire.bytes.extend_from_slice(&frame);
        }
        panic!("poll_transmit does not run dry");
    }

    fn receive(&mut self, len: usize) {
        let take = len.min(self.stream.len());
        self.pending.extend_from_slice(&self.stream[..take]);
        self.stream = &self.stream[take..];
        // A well-behaved caller loops while there are events; every event
        // consumes bytes, so this terminates well within the bound.
        for _ in 0..=self.pending.len() + 1 {
            if !self.receive_once() {
                return;
            }
        }
        panic!("receive keeps reporting events without consuming input");
    }

    /// One `receive` call; returns whether it reported an event.
    fn receive_once(&mut self) -> bool {
        let state_before = self.conn.state();
        let failed_before = self.conn.error().is_some();
        let needed = self.conn.bytes_needed(&self.pending);
        let len = self.pending.len();
        let base = self.pending.as_ptr() as usize;
        let config = self.config;
        let result = self.conn.receive(&mut self.pending);
        let (consumed, event) = match result {
            Ok(received) => {
                assert!(
                    received.consumed <= len,
                    "consumed {} of {len}",
                    received.consumed
                );
                if failed_before {
                    assert_eq!(received.consumed, len, "a failed connection keeps input");
                }
                let event = received.event.map(|event| {
                    assert_ne!(state_before, State::Closed, "event {event:?} after Closed");
                    assert_eq!(needed, 0, "bytes_needed said {needed}, yet {event:?}");
                    assert!(received.consumed > 0, "{event:?} consumed nothing");
                    let payload: &[u8] = match &event {
                        Event::Data(chunk) => chunk.payload,
                        Event::Ping(p) | Event::Pong(p) => p,
                        Event::Close(Some(frame)) => frame.reason.as_bytes(),
                        _ => &[],
                    };
                    let start = payload.as_ptr() as usize;
                    if !payload.is_empty() {
                        assert!(
                            start >= base && start + payload.len() <= base + received.consumed,
                            "event payload is outside the consumed input"
                        );
                    }
                    Seen::from(&event)
                });
                (received.consumed, event)
            }
            Err(e) => {
                self.on_error(e, state_before);
                return false;
            }
        };
        self.pending.drain(..consumed);
        let Some(seen) = event else {
            return false;
        };
        self.on_event(seen, state_before, &config);
        true
    }

    fn on_error(&mut self, e: ProtocolError, state_before: State) {
        assert_eq!(self.conn.state(), State::Closed, "Err({e}) but not Closed");
        assert_eq!(self.conn.error(), Some(&e));
        assert!(!format!("{e}").is_empty());
        self.message = None;
        if state_before == State::Open {
            let frame = self
                .conn
                .poll_transmit()
                .unwrap_or_else(|| panic!("Err({e}) queued no close"));
            let (opcode, payload) = decode_control(&frame, self.conn.role());
            assert_eq!(
                opcode,
                OpCode::Close,
                "Err({e}): first frame out is not a close"
            );
            let close = check_close_payload(&payload).expect("failure close has a code");
            assert_eq!(close.code, e.close_code());
            self.wire.bytes.extend_from_slice(&frame);
        }
    }

    fn on_event(&mut self, seen: Seen, state_before: State, config: &Config) {
        match seen {
            Seen::Data {
                kind,
                rsv,
                payload,
                start,
                end,
            } => {
                assert!(
                    payload.len() as u64 <= config.max_frame_size,
                    "chunk > max_frame_size"
                );
                assert_eq!(rsv & !config.allowed_rsv, 0, "unallowed RSV in a chunk");
                if start {
                    assert_ne!(
                        state_before,
                        State::CloseSent,
                        "new message after our close"
                    );
                    assert!(self.message.is_none(), "message started inside another");
                    self.message = Some((kind, rsv, Vec::new()));
                }
                let Some((message_kind, message_rsv, bytes)) = &mut self.message else {
                    panic!("data chunk outside a message");
                };
                assert_eq!(*message_kind, kind, "kind changed inside a message");
                assert_eq!(*message_rsv, rsv, "RSV changed inside a message");
                bytes.extend_from_slice(&payload);
                assert!(
                    bytes.len() as u64 <= config.max_message_size,
                    "message of {} bytes > max_message_size {}",
                    bytes.len(),
                    config.max_message_size
                );
                if kind == MessageKind::Text && rsv == 0 {
                    assert!(is_utf8_prefix(bytes), "invalid UTF-8 delivered");
                    if end {
                        assert!(std::str::from_utf8(bytes).is_ok(), "text message not UTF-8");
                    }
                }
                if end {
                    self.message = None;
                }
            }
            Seen::Ping(len) | Seen::Pong(len) => assert!(len <= MAX_CONTROL_PAYLOAD),
            Seen::Close(code) => {
                if let Some(code) = code {
                    assert!(code.is_valid_on_wire());
                }
                assert_eq!(
                    self.conn.state(),
                    State::Closed,
                    "close received, not Closed"
                );
                assert_eq!(
                    self.conn.peer_close(),
                    Some(code.unwrap_or(CloseCode::NO_STATUS_RECEIVED))
                );
                self.message = None;
            }
        }
    }
}

/// An owned summary of an event.
enum Seen {
    Data {
        kind: MessageKind,
        rsv: u8,
        payload: Vec<u8>,
        start: bool,
        end: bool,
    },
    Ping(usize),
    Pong(usize),
    Close(Option<CloseCode>),
}

impl Seen {
    fn from(event: &Event<'_>) -> Seen {
        match event {
            Event::Data(chunk) => Seen::Data {
                kind: chunk.kind,
                rsv: chunk.rsv,
                payload: chunk.payload.to_vec(),
                start: chunk.message_start,
                end: chunk.message_end,
            },
            Event::Ping(p) => Seen::Ping(p.len()),
            Event::Pong(p) => Seen::Pong(p.len()),
            Event::Close(frame) => {
                if let Some(frame) = frame {
                    assert!(frame.reason.len() <= MAX_CLOSE_REASON);
                }
                Seen::Close(frame.map(|f| f.code))
            }
            other => panic!("unknown event {other:?}"),
        }
    }
}

/// Decodes everything we transmitted with a connection of the other role:
/// all of it must be legal, carry exactly the data we sent, and end with
/// (at most) one close.
fn check_peer<K: MaskKeySource>(mut peer: Connection<K>, wire: Wire, sender: Role) {
    let mut input = wire.bytes;
    let mut data = Vec::new();
    let mut offset = 0;
    loop {
        let received = match peer.receive(&mut input[offset..]) {
            Ok(received) => received,
            Err(e) => panic!("the {sender:?} transmitted something illegal: {e}"),
        };
        offset += received.consumed;
        match received.event {
            None => break,
            Some(Event::Data(chunk)) => data.extend_from_slice(chunk.payload),
            Some(Event::Close(_)) => {
                assert_eq!(
                    offset,
                    input.len(),
                    "the {sender:?} sent bytes after its close"
                );
                break;
            }
            Some(_) => {}
        }
    }
    assert_eq!(
        offset,
        input.len(),
        "the {sender:?} left a frame unfinished"
    );
    assert!(
        data == wire.data,
        "the data sent and the data decoded differ"
    );
}
