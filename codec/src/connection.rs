//! The RFC 6455 protocol state machine, sans I/O.
//!
//! Everything that decides what is legal *when* lives here, and only here:
//!
//! * **Fragmentation** (§5.4): a text/binary frame without FIN opens a message
//!   that only continuation frames may continue; control frames may interleave.
//! * **Control frames** (§5.5): pings are answered with a pong echoing the
//!   payload (automatically unless [`Config::auto_pong`] is off); pongs are
//!   reported and need no answer.
//! * **The close handshake** (§5.5.1, §7): a received close is answered with a
//!   close echoing its code; after we send a close, incoming data frames are
//!   dropped until the peer's close arrives; nothing is sent after a close.
//! * **Failing the connection** (§7.1.7): any violation queues a close frame with
//!   the code RFC 6455 §7.4.1 names, and no further input is processed.
//! * **Limits**: frame and message sizes (1009), counted across fragments.
//!
//! States and transitions:
//!
//! ```text
//!            we send close                  peer's close arrives
//!   Open ───────────────────▶ CloseSent ─────────────────────────▶ Closed
//!     │                                                              ▲
//!     │ peer's close arrives (our echo is queued)                    │
//!     └──────────────────────────────────────────────────────────────┤
//!     │ protocol violation (our close with the error code is queued) │
//!     └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! The caller owns every buffer and does all I/O: it passes received bytes to
//! [`Connection::receive`], writes what [`Connection::poll_transmit`] and the
//! send methods produce, and closes the transport once [`Connection::state`] is
//! [`State::Closed`] and `poll_transmit` is drained.
//!
//! The clocks (heartbeat pings and the close timeout) live in the `timers`
//! submodule; [`Connection::handle_timeout`] and [`Connection::poll_timeout`]
//! delegate to it, and this module only asks it whether the peer's close
//! timed out, or whether a heartbeat ping waits to be sent.

use core::fmt::{self, Write as _};
use core::ops::{Deref, Range};
use core::time::Duration;

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::config::Config;
use crate::copy::copy_payload;
use crate::error::{ProtocolError, SendError};
use crate::event::{DataChunk, Event, MessageKind};
use crate::frame::{
    DecodeRules, Decoded, FrameHeader, MAX_CONTROL_FRAME_LEN, MAX_CONTROL_PAYLOAD, OpCode,
};
use crate::mask::apply_mask;
use crate::role::{MaskKeySource, NoMasking, Role};
use crate::utf8::Utf8Validator;

mod timers;

use timers::Timers;

/// Where the close handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent a close frame and wait for the peer's. Incoming data is dropped.
    CloseSent,
    /// The close handshake is complete, or the connection failed. Drain
    /// [`Connection::poll_transmit`], then close the transport (a client should
    /// give the server a moment to close TCP first, §7.1.1).
    Closed,
}

/// The result of one [`Connection::receive`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Received<'a> {
    /// How many bytes at the front of the input were used: drop them before the
    /// next call, keep the rest.
    pub consumed: usize,
    /// What happened, or `None` when more input is needed (read more bytes,
    /// append them to the unconsumed rest and call again).
    pub event: Option<Event<'a>>,
}

impl Received<'_> {
    /// No event to report, `consumed` bytes used.
    #[inline]
    const fn no_event(consumed: usize) -> Self {
        Received {
            consumed,
            event: None,
        }
    }
}

/// An encoded control frame (at most 139 bytes) held by value; dereferences to
/// its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ControlFrame {
    bytes: [u8; MAX_CONTROL_FRAME_LEN],
    len: u8,
}

impl Deref for ControlFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for ControlFrame {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for ControlFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ControlFrame").field(&&**self).finish()
    }
}

/// The header of an outgoing data frame, from [`Connection::data_frame_header`].
///
/// Write [`OutgoingHeader::bytes`] and then the payload. In the client role the
/// payload must be masked first with [`OutgoingHeader::mask_payload`] (a no-op
/// for a server, so calling it unconditionally is always right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct OutgoingHeader {
    header: crate::frame::EncodedHeader,
    mask: Option<[u8; 4]>,
}

impl OutgoingHeader {
    /// The encoded header, 2 to 14 bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.header
    }

    /// The masking key (client role), or `None` (server role).
    #[inline]
    pub const fn mask_key(&self) -> Option<[u8; 4]> {
        self.mask
    }

    /// Masks `payload` in place for this frame, where `payload[0]` is byte
    /// `offset` of the frame's payload (so a payload can be masked in pieces).
    pub fn mask_payload(&self, payload: &mut [u8], offset: usize) {
        if let Some(key) = self.mask {
            apply_mask(payload, key, offset);
        }
    }
}

/// A small fixed buffer for a queued control payload.
#[derive(Clone, Copy)]
struct ControlPayload {
    bytes: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ControlPayload {
    const EMPTY: ControlPayload = ControlPayload {
        bytes: [0; MAX_CONTROL_PAYLOAD],
        len: 0,
    };

    fn copy_of(payload: &[u8]) -> ControlPayload {
        let mut stored = ControlPayload::EMPTY;
        let len = payload.len().min(MAX_CONTROL_PAYLOAD);
        stored.bytes[..len].copy_from_slice(&payload[..len]);
        stored.len = len as u8;
        stored
    }

    fn close(code: CloseCode, reason: &str) -> ControlPayload {
        let mut stored = ControlPayload::EMPTY;
        let frame = CloseFrame { code, reason };
        stored.len = frame.write_payload(&mut stored.bytes) as u8;
        stored
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A close reason written from an error's `Display`, cut at a character
/// boundary to fit a close frame.
struct ReasonWriter {
    bytes: [u8; MAX_CLOSE_REASON],
    len: usize,
}

impl fmt::Write for ReasonWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut utf8 = [0u8; 4];
            let encoded = c.encode_utf8(&mut utf8).as_bytes();
            if self.len + encoded.len() > MAX_CLOSE_REASON {
                return Err(fmt::Error);
            }
            self.bytes[self.len..self.len + encoded.len()].copy_from_slice(encoded);
            self.len += encoded.len();
        }
        Ok(())
    }
}

/// A data frame whose payload is being delivered (or dropped) in pieces.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes already delivered; also the masking offset.
    delivered: u64,
    /// Drop the payload instead of delivering it (data after our close).
    discard: bool,
}

impl FrameInProgress {
    fn remaining(&self) -> u64 {
        self.header.payload_len - self.delivered
    }
}

/// What the next bytes of input are, decided without touching them.
enum Step {
    /// More input is needed.
    NeedMore,
    /// Skip this many bytes (payload of a dropped frame).
    Discard(usize),
    /// An incomplete frame that is delivered whole: its payload bytes from
    /// [`Connection::front_prefix`] to `available` can be unmasked and
    /// validated now (fail-fast), then more input is needed.
    Prefix {
        header_len: usize,
        available: usize,
        frame: FrameInProgress,
    },
    /// A piece of payload (possibly a whole frame) is available.
    Payload {
        header_len: usize,
        piece_len: usize,
        frame: FrameInProgress,
    },
}

/// What a processed payload piece turned into, before it borrows the input.
enum Outcome {
    Data(DataChunkInfo),
    Ping,
    Pong,
    Close,
    Nothing,
}

impl Outcome {
    /// The event reporting this outcome, borrowing the piece's `payload`.
    #[inline]
    fn into_event(self, payload: &[u8]) -> Option<Event<'_>> {
        Some(match self {
            Outcome::Data(info) => Event::Data(DataChunk {
                kind: info.kind,
                payload,
                message_start: info.message_start,
                message_end: info.message_end,
                rsv: info.rsv,
            }),
            Outcome::Ping => Event::Ping(payload),
            Outcome::Pong => Event::Pong(payload),
            // Validated in process_payload; parsing again only borrows the reason.
            Outcome::Close => Event::Close(CloseFrame::parse(payload).ok().flatten()),
            Outcome::Nothing => return None,
        })
    }
}

#[derive(Clone, Copy)]
struct DataChunkInfo {
    kind: MessageKind,
    message_start: bool,
    message_end: bool,
    rsv: u8,
}

/// A WebSocket connection's protocol state, for either role, doing no I/O.
///
/// Method kinds, in the style of quinn-proto:
/// * input: [`receive`](Connection::receive), and time through
///   [`handle_timeout`](Connection::handle_timeout);
/// * output: [`poll_transmit`](Connection::poll_transmit) for frames the
///   connection sends on its own (pongs, heartbeat pings, close replies,
///   failure closes), and [`poll_timeout`](Connection::poll_timeout) for the
///   next deadline;
/// * commands: [`data_frame_header`](Connection::data_frame_header),
///   [`encode_data_frame`](Connection::encode_data_frame),
///   [`ping`](Connection::ping), [`pong`](Connection::pong),
///   [`close`](Connection::close);
/// * getters: [`state`](Connection::state), [`role`](Connection::role),
///   [`error`](Connection::error), [`peer_close`](Connection::peer_close).
///
/// Call order: after each `receive`, drain `poll_transmit` into your output
/// before writing anything else, so that pongs and close replies go out in
/// order. Every frame the connection produces while you handle one read can be
/// written with a single `write`/`writev`.
///
/// ```
/// use ws13_codec::{Connection, Config, Event, State};
///
/// let mut server = Connection::server(Config::default());
/// // A masked "Hello" from a client (RFC 6455 §5.7), then a masked close 1000.
/// let mut input = [
///     0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
///     0x88, 0x82, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,
/// ];
/// let received = server.receive(&mut input).unwrap();
/// match received.event {
///     Some(Event::Data(chunk)) => assert_eq!(chunk.payload, b"Hello"),
///     other => panic!("{other:?}"),
/// }
/// let consumed = received.consumed;
/// let received = server.receive(&mut input[consumed..]).unwrap();
/// assert!(matches!(received.event, Some(Event::Close(Some(_)))));
/// // The echo of the close is queued; once it is written, the connection is closed.
/// assert_eq!(&*server.poll_transmit().unwrap(), &[0x88, 0x02, 0x03, 0xe8]);
/// assert_eq!(server.state(), State::Closed);
/// ```
pub struct Connection<K = NoMasking> {
    role: Role,
    keys: K,
    config: Config,
    // --- close handshake ---
    close_sent: bool,
    close_received: bool,
    peer_close: Option<(CloseCode, bool)>,
    error: Option<ProtocolError>,
    // --- receiving ---
    frame: Option<FrameInProgress>,
    /// The kind and first-frame RSV bits of the incoming message in progress.
    incoming: Option<(MessageKind, u8)>,
    incoming_len: u64,
    utf8: Utf8Validator,
    /// Payload bytes of the incomplete data frame at the front of the input
    /// that are already unmasked in place and validated. The caller passes
    /// unconsumed bytes back unchanged, so they must not be unmasked twice.
    front_prefix: usize,
    // --- sending ---
    /// An outgoing fragmented message is unfinished.
    outgoing_fragmented: bool,
    pending_pong: Option<ControlPayload>,
    pending_close: Option<ControlPayload>,
    timers: Timers,
}

impl<K: MaskKeySource> fmt::Debug for Connection<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Connection<NoMasking> {
    /// A server-side connection, after a successful opening handshake.
    pub fn server(config: Config) -> Self {
        Connection::new(Role::Server, NoMasking::new(), config)
    }
}

impl<K: MaskKeySource> Connection<K> {
    /// A client-side connection, after a successful opening handshake; `keys`
    /// supplies a fresh masking key for every frame sent.
    pub fn client(config: Config, keys: K) -> Self {
        Connection::new(Role::Client, keys, config)
    }

    fn new(role: Role, keys: K, config: Config) -> Self {
        Connection {
            role,
            keys,
            config,
            close_sent: false,
            close_received: false,
            peer_close: None,
            error: None,
            frame: None,
            incoming: None,
            incoming_len: 0,
            utf8: Utf8Validator::new(),
            front_prefix: 0,
            outgoing_fragmented: false,
            pending_pong: None,
            pending_close: None,
            timers: Timers::default(),
        }
    }

    // ------------------------------------------------------------------ getters

    /// This endpoint's role.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub const fn state(&self) -> State {
        if self.error.is_some()
            || (self.close_sent && (self.close_received || self.timers.close_timed_out()))
        {
            State::Closed
        } else if self.close_sent {
            State::CloseSent
        } else {
            State::Open
        }
    }

    /// The protocol violation that failed the connection, if any.
    pub const fn error(&self) -> Option<&ProtocolError> {
        self.error.as_ref()
    }

    /// The code of the peer's close frame, once received: 1005 when the frame had
    /// no code. `None` while no close has arrived.
    pub fn peer_close(&self) -> Option<CloseCode> {
        self.peer_close.map(|(code, _)| code)
    }

    /// Whether [`Connection::poll_transmit`] has a frame waiting.
    pub const fn wants_transmit(&self) -> bool {
        self.pending_pong.is_some() || self.pending_close.is_some() || self.timers.ping_queued()
    }

    // ------------------------------------------------------------------ input

    /// Processes received bytes and reports the next event.
    ///
    /// `input` holds received bytes that earlier calls did not consume. The
    /// payload is unmasked in place and the event borrows it. Call in a loop
    /// while `event` is `Some`, each time with the unconsumed rest; drain
    /// [`Connection::poll_transmit`] after each call.
    ///
    /// On a protocol violation the error is returned, the connection is
    /// [`State::Closed`] and a close frame with the error's code is queued.
    /// Once closed, input is consumed and ignored.
    pub fn receive<'a>(&mut self, input: &'a mut [u8]) -> Result<Received<'a>, ProtocolError> {
        let mut consumed = 0;
        let (outcome, payload) = loop {
            if self.receive_finished() {
                return Ok(Received::no_event(input.len()));
            }
            match self.next_step(&input[consumed..])? {
                Step::NeedMore => return Ok(Received::no_event(consumed)),
                Step::Discard(len) => consumed += len,
                Step::Prefix {
                    header_len,
                    available,
                    frame,
                } => {
                    let start = consumed + header_len;
                    self.take_in_prefix(frame.header, &mut input[start..start + available])?;
                    return Ok(Received::no_event(consumed));
                }
                Step::Payload {
                    header_len,
                    piece_len,
                    frame,
                } => {
                    let start = consumed + header_len;
                    let payload = start..start + piece_len;
                    consumed = payload.end;
                    match self.take_in_piece(frame, &mut input[payload.clone()])? {
                        Outcome::Nothing => {}
                        outcome => break (outcome, payload),
                    }
                }
            }
        };
        Ok(Received {
            consumed,
            event: outcome.into_event(&input[payload]),
        })
    }

    /// How many more bytes the frame at the front of `input` needs before
    /// [`Connection::receive`] can make progress (at least 1), or 0 if it can
    /// progress now. Drivers use it to reserve buffer space once per frame.
    pub fn bytes_needed(&self, input: &[u8]) -> usize {
        if self.frame.is_some() || self.receive_finished() {
            return usize::from(input.is_empty());
        }
        let rules = self.decode_rules();
        match FrameHeader::decode(input, rules) {
            Ok(Decoded::Incomplete { needed }) => needed,
            Ok(Decoded::Complete { value, header_len }) => {
                let total = (header_len as u64).saturating_add(value.payload_len);
                if value.opcode.is_control()
                    || value.payload_len <= self.config.partial_frames_above
                {
                    usize::try_from(total.saturating_sub(input.len() as u64)).unwrap_or(usize::MAX)
                } else {
                    usize::from(input.len() <= header_len)
                }
            }
            Err(_) => 0,
        }
    }

    /// Unmasks and validates the new bytes of `prefix`, an incomplete data frame's payload so far.
    // Out of line: it runs at most once per call, and inlined it costs the per-frame loop.
    #[inline(never)]
    fn take_in_prefix(
        &mut self,
        header: FrameHeader,
        prefix: &mut [u8],
    ) -> Result<(), ProtocolError> {
        let done = core::mem::replace(&mut self.front_prefix, prefix.len());
        self.accept_data(header, done as u64, &mut prefix[done..])?;
        Ok(())
    }

    /// Unmasks a control frame's payload, then runs the piece through the state-machine rules.
    #[inline]
    fn take_in_piece(
        &mut self,
        frame: FrameInProgress,
        payload: &mut [u8],
    ) -> Result<Outcome, ProtocolError> {
        let done = core::mem::take(&mut self.front_prefix);
        let control_mask = frame
            .header
            .mask
            .filter(|_| frame.header.opcode.is_control());
        if let Some(key) = control_mask {
            // Whole (at most 125 bytes) and never taken in as a prefix; a
            // data frame's payload is unmasked by accept_data.
            apply_mask(payload, key, 0);
        }
        self.process_payload(frame, payload.len(), done, payload)
    }

    /// No more input is processed: the connection failed, the peer's close
    /// arrived, or the peer let our close time out.
    fn receive_finished(&self) -> bool {
        self.error.is_some() || self.close_received || self.timers.close_timed_out()
    }

    fn decode_rules(&self) -> DecodeRules {
        DecodeRules {
            receiver: self.role,
            allowed_rsv: self.config.allowed_rsv,
        }
    }

    /// Decides what the front of `buf` is; checks every header-level rule.
    fn next_step(&mut self, buf: &[u8]) -> Result<Step, ProtocolError> {
        if let Some(frame) = self.frame {
            return Ok(self.continue_frame(frame, buf));
        }
        let (header, header_len) = match self.decode_header(buf)? {
            Decoded::Complete { value, header_len } => (value, header_len),
            Decoded::Incomplete { .. } => return Ok(Step::NeedMore),
        };
        let available = (buf.len() - header_len) as u64;
        if header.opcode.is_control() {
            return Ok(Self::control_frame_step(header, header_len, available));
        }
        self.data_frame_step(header, header_len, available)
    }

    // next_step's four steps are #[inline(always)]: merely #[inline], they were
    // inlined too late for LLVM to fold the Step they return, and the receive
    // loop took 46 more instructions a frame.

    /// The next piece of the data frame whose payload is being delivered or dropped.
    #[inline(always)]
    fn continue_frame(&mut self, frame: FrameInProgress, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::NeedMore;
        }
        let piece_len = piece_len(frame.remaining(), buf.len());
        if frame.discard {
            self.advance_frame(piece_len);
            return Step::Discard(piece_len);
        }
        Step::Payload {
            header_len: 0,
            piece_len,
            frame,
        }
    }

    /// Decodes the header at the front of `buf`, failing the connection on a bad one.
    #[inline(always)]
    fn decode_header(&mut self, buf: &[u8]) -> Result<Decoded<FrameHeader>, ProtocolError> {
        let decoded =
            FrameHeader::decode(buf, self.decode_rules()).map_err(|e| self.fail(e.into()))?;
        if let Decoded::Complete { value: header, .. } = decoded {
            if header.rsv != 0
                && (header.opcode.is_control() || header.opcode == OpCode::Continuation)
            {
                // Extensions (permessage-deflate) mark a message on its first frame only.
                return Err(self.fail(ProtocolError::MisplacedReservedBits(header.opcode)));
            }
        }
        Ok(decoded)
    }

    /// A control frame is delivered whole, once all of its payload is `available`.
    #[inline(always)]
    fn control_frame_step(header: FrameHeader, header_len: usize, available: u64) -> Step {
        if available < header.payload_len {
            return Step::NeedMore;
        }
        let frame = FrameInProgress {
            header,
            delivered: 0,
            discard: false,
        };
        Step::Payload {
            header_len,
            piece_len: header.payload_len as usize,
            frame,
        }
    }

    /// Checks a data frame's header and decides how its payload is taken in.
    #[inline(always)]
    fn data_frame_step(
        &mut self,
        header: FrameHeader,
        header_len: usize,
        available: u64,
    ) -> Result<Step, ProtocolError> {
        if self.front_prefix == 0 {
            // With a prefix processed, this header was checked and accepted.
            self.check_data_frame(&header)?;
        }
        let discard = self.close_sent;
        let whole = available >= header.payload_len;
        let in_pieces = discard || header.payload_len > self.config.partial_frames_above;
        if !whole && in_pieces && available == 0 {
            return Ok(Step::NeedMore);
        }
        let frame = FrameInProgress {
            header,
            delivered: 0,
            discard,
        };
        if !whole && !in_pieces {
            if available as usize == self.front_prefix {
                return Ok(Step::NeedMore);
            }
            return Ok(Step::Prefix {
                header_len,
                available: available as usize,
                frame,
            });
        }
        let piece_len = piece_len(header.payload_len, available as usize);
        if discard {
            self.start_discarding(frame, piece_len);
            return Ok(Step::Discard(header_len + piece_len));
        }
        Ok(Step::Payload {
            header_len,
            piece_len,
            frame,
        })
    }

    /// Starts dropping a data frame that arrived after our close, first piece included.
    #[inline]
    fn start_discarding(&mut self, frame: FrameInProgress, piece_len: usize) {
        // Dropped, but its fragmentation still counts: the continuations of
        // a dropped message are legal and dropped too.
        self.incoming = if frame.header.fin {
            None
        } else {
            self.incoming
                .or(Some((MessageKind::Binary, frame.header.rsv)))
        };
        // A prefix already taken in (before our close) is dropped with the
        // rest of the frame; the next frame starts from scratch.
        self.front_prefix = 0;
        self.frame = Some(frame);
        self.advance_frame(piece_len);
    }

    /// Fragmentation order and size limits for a data frame header.
    fn check_data_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let continuing = self.incoming.is_some();
        match header.opcode {
            OpCode::Continuation if !continuing => {
                return Err(self.fail(ProtocolError::UnexpectedContinuation));
            }
            OpCode::Text | OpCode::Binary if continuing => {
                return Err(self.fail(ProtocolError::ExpectedContinuation(header.opcode)));
            }
            _ => {}
        }
        if header.payload_len > self.config.max_frame_size {
            let max = self.config.max_frame_size;
            return Err(self.fail(ProtocolError::FrameTooBig {
                len: header.payload_len,
                max,
            }));
        }
        let message_len = self.incoming_len.saturating_add(header.payload_len);
        if message_len > self.config.max_message_size {
            let max = self.config.max_message_size;
            return Err(self.fail(ProtocolError::MessageTooBig {
                len: message_len,
                max,
            }));
        }
        Ok(())
    }

    /// Records that `piece_len` more payload bytes of the current frame are done.
    fn advance_frame(&mut self, piece_len: usize) {
        if let Some(frame) = &mut self.frame {
            frame.delivered += piece_len as u64;
            if frame.remaining() == 0 {
                self.frame = None;
            }
        }
    }

    /// Applies the state-machine rules to a payload piece: a control frame's
    /// is already unmasked; a data frame's is unmasked here, by
    /// [`Connection::accept_data`].
    ///
    /// The first `done` bytes of a data payload were already taken in
    /// (unmasked and validated) while the frame was incomplete.
    fn process_payload(
        &mut self,
        frame: FrameInProgress,
        piece_len: usize,
        done: usize,
        payload: &mut [u8],
    ) -> Result<Outcome, ProtocolError> {
        let header = frame.header;
        match header.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    self.pending_pong = Some(ControlPayload::copy_of(payload));
                }
                Ok(Outcome::Ping)
            }
            OpCode::Pong => {
                self.timers.pong_received(payload);
                Ok(Outcome::Pong)
            }
            OpCode::Close => {
                let close = CloseFrame::parse(payload).map_err(|e| self.fail(e.into()))?;
                self.close_received = true;
                self.peer_close = Some(match close {
                    Some(frame) => (frame.code, true),
                    None => (CloseCode::NO_STATUS_RECEIVED, false),
                });
                self.incoming = None;
                self.frame = None;
                if !self.close_sent {
                    // A pong still queued goes out before the echo (poll_transmit order).
                    self.close_sent = true;
                    self.pending_close = Some(match close {
                        Some(frame) => ControlPayload::close(frame.code, ""),
                        None => ControlPayload::EMPTY,
                    });
                }
                Ok(Outcome::Close)
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let message_start = header.opcode != OpCode::Continuation && frame.delivered == 0;
                let (kind, rsv) =
                    self.accept_data(header, frame.delivered + done as u64, &mut payload[done..])?;
                if frame.delivered == 0 && piece_len as u64 != header.payload_len {
                    self.frame = Some(frame);
                }
                self.advance_frame(piece_len);
                let frame_end = frame.delivered + piece_len as u64 == header.payload_len;
                let message_end = header.fin && frame_end;
                self.incoming_len += piece_len as u64;
                if message_end {
                    if kind == MessageKind::Text && rsv == 0 && self.utf8.finish().is_err() {
                        return Err(self.fail(ProtocolError::InvalidUtf8));
                    }
                    self.incoming = None;
                    self.incoming_len = 0;
                }
                if piece_len == 0 && !message_start && !message_end {
                    return Ok(Outcome::Nothing);
                }
                Ok(Outcome::Data(DataChunkInfo {
                    kind,
                    message_start,
                    message_end,
                    rsv,
                }))
            }
        }
    }

    /// Takes in data payload bytes starting at payload byte `offset` of the
    /// frame: opens the message on its first byte, unmasks the bytes in place
    /// and validates text as it arrives, so invalid UTF-8 fails the connection
    /// at once, even in a frame that is not complete yet.
    ///
    /// Text is unmasked and validated block by block ([`UNMASK_BLOCK`]), so
    /// each block is still in L1 cache when the validator reads it.
    fn accept_data(
        &mut self,
        header: FrameHeader,
        offset: u64,
        bytes: &mut [u8],
    ) -> Result<(MessageKind, u8), ProtocolError> {
        if header.opcode != OpCode::Continuation && offset == 0 {
            let kind = if header.opcode == OpCode::Text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            self.incoming = Some((kind, header.rsv));
            self.incoming_len = 0;
            self.utf8.reset();
        }
        let Some((kind, rsv)) = self.incoming else {
            // check_data_frame refused continuations without a message.
            return Err(self.fail(ProtocolError::UnexpectedContinuation));
        };
        // Only the offset modulo 4 matters, so truncating it on 32-bit targets
        // is harmless.
        let mut offset = offset as usize;
        let validate = kind == MessageKind::Text && rsv == 0;
        match header.mask {
            Some(key) if validate => {
                for block in bytes.chunks_mut(UNMASK_BLOCK) {
                    apply_mask(block, key, offset);
                    offset = offset.wrapping_add(block.len());
                    if self.utf8.feed(block).is_err() {
                        return Err(self.fail(ProtocolError::InvalidUtf8));
                    }
                }
            }
            Some(key) => apply_mask(bytes, key, offset),
            None if validate && self.utf8.feed(bytes).is_err() => {
                return Err(self.fail(ProtocolError::InvalidUtf8));
            }
            None => {}
        }
        Ok((kind, rsv))
    }

    /// Fails the connection (§7.1.7): records the error and queues a close frame
    /// carrying its code and, as the reason, its description; no further input
    /// is processed. The state machine calls it for every violation it sees;
    /// layers above it call it for what only they can see (an extension's
    /// corrupt data, an application refusing a message). Returns `error`, or
    /// the first error if the connection had already failed.
    pub fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if self.error.is_none() {
            self.error = Some(error);
            self.pending_pong = None;
            self.frame = None;
            self.incoming = None;
            self.front_prefix = 0;
            if !self.close_sent {
                self.close_sent = true;
                let mut reason = ReasonWriter {
                    bytes: [0; MAX_CLOSE_REASON],
                    len: 0,
                };
                // A reason cut short by the 123-byte limit is still a good reason.
                let _ = write!(reason, "{error}");
                let reason = core::str::from_utf8(&reason.bytes[..reason.len]).unwrap_or("");
                self.pending_close = Some(ControlPayload::close(error.close_code(), reason));
            }
        }
        error
    }

    // ------------------------------------------------------------------ time

    /// Feeds the current time: `now` is a monotonic duration since any epoch
    /// the caller chooses, the same for every call (drivers use
    /// `Instant::elapsed` from the connection's start).
    ///
    /// Call it once when the connection opens, after every command that may
    /// start a timer ([`Connection::close`]), and whenever the deadline from
    /// [`Connection::poll_timeout`] has passed. It queues heartbeat pings
    /// (take them with [`Connection::poll_transmit`]), fails the connection
    /// with 1011 when a heartbeat goes unanswered, and ends a close handshake
    /// the peer does not finish within [`Config::close_timeout`].
    pub fn handle_timeout(&mut self, now: Duration) {
        let state = self.state();
        if let Err(error) = self.timers.advance(now, state, &self.config) {
            self.fail(error);
        }
    }

    /// The next moment [`Connection::handle_timeout`] must be called, in the
    /// same time base; `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers
            .next_deadline(self.state(), self.config.heartbeat)
    }

    // ------------------------------------------------------------------ output

    /// The next frame the connection sends on its own: a pong answering a ping,
    /// the echo of the peer's close, or the close that fails the connection.
    /// Returns `None` when nothing is queued. Call until `None` after every
    /// [`Connection::receive`].
    pub fn poll_transmit(&mut self) -> Option<ControlFrame> {
        if let Some(pong) = self.pending_pong.take() {
            return Some(self.encode_control(OpCode::Pong, pong.as_slice()));
        }
        if let Some(sequence) = self.timers.take_ping().filter(|_| !self.close_sent) {
            return Some(self.encode_control(OpCode::Ping, &sequence));
        }
        let close = self.pending_close.take()?;
        Some(self.encode_control(OpCode::Close, close.as_slice()))
    }

    // ------------------------------------------------------------------ commands

    /// Starts the next outgoing data frame and returns its header; write the
    /// header, then the payload (masked with [`OutgoingHeader::mask_payload`]).
    ///
    /// `opcode` is [`OpCode::Text`] or [`OpCode::Binary`] to start a message
    /// and [`OpCode::Continuation`] to continue one; `fin` ends the message.
    /// Text payloads must be UTF-8 across the whole message: the peer fails the
    /// connection with 1007 otherwise.
    ///
    /// ```
    /// use ws13_codec::{Config, Connection, frame::OpCode};
    ///
    /// let mut server = Connection::server(Config::default());
    /// let payload = b"Hello";
    /// let header = server.data_frame_header(OpCode::Text, true, payload.len()).unwrap();
    /// // A server writes header and payload with one vectored write; no copy.
    /// assert_eq!(header.bytes(), &[0x81, 0x05]);
    /// ```
    pub fn data_frame_header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload_len: usize,
    ) -> Result<OutgoingHeader, SendError> {
        self.data_frame_header_with_rsv(opcode, fin, payload_len, 0)
    }

    /// Like [`Connection::data_frame_header`], with reserved bits for a
    /// negotiated extension (RSV1 on the first frame of a compressed message).
    /// The bits must be in [`Config::allowed_rsv`] and may only start a
    /// message.
    pub fn data_frame_header_with_rsv(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload_len: usize,
        rsv: u8,
    ) -> Result<OutgoingHeader, SendError> {
        if rsv & !self.config.allowed_rsv != 0 || (rsv != 0 && opcode == OpCode::Continuation) {
            return Err(SendError::ReservedBitsNotAllowed(rsv));
        }
        if self.close_sent {
            return Err(SendError::CloseAlreadySent);
        }
        match (opcode, self.outgoing_fragmented) {
            (OpCode::Text | OpCode::Binary, true) => return Err(SendError::MessageInProgress),
            (OpCode::Continuation, false) => return Err(SendError::NoMessageInProgress),
            (op, _) if op.is_control() => return Err(SendError::WrongOpcode(op)),
            _ => {}
        }
        self.outgoing_fragmented = !fin;
        let mask = self.next_mask();
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload_len as u64,
        };
        Ok(OutgoingHeader {
            header: header.encode(),
            mask,
        })
    }

    /// Encodes a whole data frame (header and payload, masked for a client) into
    /// `out` and returns its length. `out` needs `payload.len() + 14` bytes at
    /// most. For zero-copy sending use [`Connection::data_frame_header`].
    pub fn encode_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        let mask = self.masks().then_some([0; 4]);
        let header_len = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        }
        .encoded_len();
        let needed = header_len + payload.len();
        if out.len() < needed {
            return Err(SendError::BufferTooSmall { needed });
        }
        let header = self.data_frame_header(opcode, fin, payload.len())?;
        let header_len = header.bytes().len();
        out[..header_len].copy_from_slice(header.bytes());
        let body = &mut out[header_len..header_len + payload.len()];
        copy_payload(body, payload);
        header.mask_payload(body, 0);
        Ok(header_len + payload.len())
    }

    /// Encodes a ping (payload at most 125 bytes). Answer-matching and timing
    /// are the caller's (or the heartbeat's) business.
    pub fn ping(&mut self, payload: &[u8]) -> Result<ControlFrame, SendError> {
        self.user_control(OpCode::Ping, payload)
    }

    /// Encodes an unsolicited pong (payload at most 125 bytes), e.g. as a
    /// unidirectional heartbeat.
    pub fn pong(&mut self, payload: &[u8]) -> Result<ControlFrame, SendError> {
        self.user_control(OpCode::Pong, payload)
    }

    /// Starts the close handshake: encodes a close frame with `code` and `reason`
    /// (at most 123 bytes). Afterwards nothing more may be sent, incoming data is
    /// dropped, and the connection is closed when the peer's close arrives.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<ControlFrame, SendError> {
        if self.close_sent {
            return Err(SendError::CloseAlreadySent);
        }
        let frame = CloseFrame::new(code, reason).map_err(SendError::InvalidClose)?;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = frame.write_payload(&mut payload);
        self.close_sent = true;
        self.pending_pong = None;
        Ok(self.encode_control(OpCode::Close, &payload[..len]))
    }

    fn user_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<ControlFrame, SendError> {
        if self.close_sent {
            return Err(SendError::CloseAlreadySent);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        Ok(self.encode_control(opcode, payload))
    }

    fn masks(&self) -> bool {
        self.role == Role::Client
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.masks().then(|| self.keys.next_mask_key())
    }

    fn encode_control(&mut self, opcode: OpCode, payload: &[u8]) -> ControlFrame {
        let mask = self.next_mask();
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        }
        .encode();
        let mut bytes = [0u8; MAX_CONTROL_FRAME_LEN];
        bytes[..header.len()].copy_from_slice(&header);
        let body: Range<usize> = header.len()..header.len() + payload.len();
        bytes[body.clone()].copy_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut bytes[body.clone()], key, 0);
        }
        ControlFrame {
            bytes,
            len: body.end as u8,
        }
    }
}

/// The bytes of a frame's remaining payload that `available` input holds.
fn piece_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| remaining.min(available))
}

/// Text payload is unmasked and UTF-8-validated in blocks of this many bytes:
/// small enough that a block is still in L1 cache when the validator reads
/// it after unmasking, large enough that the SIMD loops run at full speed.
const UNMASK_BLOCK: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_needed_counts_the_rest_of_a_frame() {
        let conn: Connection<NoMasking> = Connection::server(Config::default());
        // A masked 64 KiB binary frame: its 14-byte header and 10 payload
        // bytes arrived; of a header cut short, only the header's rest counts.
        let mut start = [0u8; 14 + 10];
        start[..10].copy_from_slice(&[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(conn.bytes_needed(&start), 65536 - 10);
        assert_eq!(conn.bytes_needed(&start[..10]), 4);
        // A masked 16-byte frame, whole, and one byte short.
        let mut frame = [0u8; 6 + 16];
        frame[..6].copy_from_slice(&[0x82, 0x90, 1, 2, 3, 4]);
        assert_eq!(conn.bytes_needed(&frame), 0);
        assert_eq!(conn.bytes_needed(&frame[..frame.len() - 1]), 1);
        assert_eq!(conn.bytes_needed(&[]), 2);
        assert_eq!(conn.bytes_needed(&frame[..1]), 1);
    }
}
