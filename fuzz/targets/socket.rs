//! `socket`: the public sans-I/O layer [`ws13::socket::Socket`], driven as a
//! driver drives it (see its documentation for the call order): received
//! bytes split at arbitrary points, passed to `handle_data` or read straight
//! into `input_buffer`; a peer that sends well-formed messages (fragmented,
//! compressed, with pings between the fragments, closes) or arbitrary bytes;
//! sends and closes interleaved with the receives; partial writes; end of
//! file and transport errors; virtual time (one `Instant` captured at the
//! start plus arbitrary steps). Both roles, permessage-deflate on and off,
//! small limits (64 KiB unless the input picks smaller ones or the 16 MiB
//! "large" limits, under which the read buffer must still grow with what
//! arrives, not with what a header announces).
//!
//! # Input layout
//!
//! Bytes 0-1 are the length `n` of the raw stream (little-endian u16, cut
//! to what is there) and the next `n` bytes are the raw stream: bytes from
//! the peer, fed as they are once nothing the peer generated is pending.
//! Then a [`Setup`] ([`Setup::read`] lists its fields) and operations: one
//! byte picks the operation (modulo [`OPERATIONS`]), its arguments follow
//! (little-endian; bytes missing at the end read as zero). See
//! [`Driver::step`]. At the end everything still pending arrives, so an
//! input that is only a stream is received whole by a server with the
//! default limits.
//!
//! # Invariants
//!
//! * No panic.
//! * Memory: each input adds exactly the bytes it brings to
//!   [`Socket::buffered_len`] (none once closed) and `poll_message` only
//!   consumes, every message consuming something; after `Ok(None)` at most
//!   the start of one frame is buffered (header + the smaller of the frame
//!   and partial-delivery limits); the read buffer `input_buffer` shows
//!   has room to read into and a capacity bounded by what was actually
//!   received (8x the most ever buffered plus a fixed reserve, however
//!   large the frames announced); a connection that went quiet holds no
//!   read buffer a few seconds later. The transmit queue grows only by the
//!   frames a call may produce: nothing on input, at most a pong and a
//!   close per `poll_message`, one control frame per `handle_timeout`, the
//!   frame of a command that succeeds (a compressed message at most an
//!   eighth larger than its payload) and nothing for one that fails.
//! * A close frame on every failure: when `poll_message` returns
//!   `Err(Error::Protocol(e))`, `e` is the socket's error, and everything
//!   `with_transmit` gives (written out, decoded as the peer decodes it,
//!   unmasked for the client role) ends with a close frame, carrying
//!   `e.close_code()` when the failure came while the connection was open.
//! * Timers: after `handle_timeout(now)` (at or past the deadline, or
//!   early), `poll_timeout` is `None` or later than `now`; `close` asks for
//!   the time at once; after end of file and a close, following
//!   `poll_timeout` makes `poll_transport` say `Close` within a few steps,
//!   whether or not the queue is written and whether or not the peer ends
//!   its side.
//! * `poll_transport` never goes back (Close never becomes Open or
//!   Finishing, Finishing never Open); the connection state never goes
//!   back; an error means `Closed`; `Err(ConnectionClosed)` only when closed
//!   without error, `Err(AbnormalClosure)` only after end of file.
//! * Messages: text is UTF-8, data within `max_message_size`, pings and
//!   pongs within 125 bytes, a close leaves the socket `Closed` with
//!   `peer_close` set; no data message once our close is out (unless
//!   frames are delivered in pieces: the frame in progress is finished),
//!   nothing once closed. While only generated frames arrived, the messages are exactly
//!   the peer's, in order (pings between fragments first), or the failure
//!   the peer's message calls for (1009 past a limit, 1002 for an illegal
//!   control frame), and at the end nothing the peer sent is missing.
//! * The wire: every frame legal for the peer to receive (masked exactly
//!   for the client role, RSV1 only with deflate, control frames whole and
//!   short), whole messages exactly as sent (inflated by the peer's
//!   decompressor when compressed), our close code as given, nothing after
//!   a close.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use ws13::socket::{Extensions, READ_CHUNK, Socket, TransportStatus};
use ws13::{Error, Message, PeerClose};
use ws13_codec::close::MAX_CLOSE_REASON;
use ws13_codec::config::Heartbeat;
use ws13_codec::deflate::{self, DeflateSettings, PerMessageDeflate};
use ws13_codec::frame::{DecodeRules, Decoded, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, RSV1};
use ws13_codec::mask::apply_mask;
use ws13_codec::{
    CloseCode, Config, DataChunk, MaskKeySource, MessageKind, ProtocolError, Role, State,
};
use ws13_handshake::permessage_deflate::DeflateParams;

use super::common::{Keys, Pieces, check_close_payload, close_code, fit_reason, reason};

/// The frame and message limit unless the input picks another: small, so
/// that buffering past the limits shows.
const SMALL_LIMIT: u64 = 64 * 1024;

/// The limits with [`LARGE_LIMITS`]: frames may announce far more than the
/// peer sends.
const LARGE_LIMIT: u64 = 16 << 20;

/// The longest frame header.
const MAX_HEADER: usize = 14;

/// The longest control frame a socket writes (masked, 125-byte payload).
const MAX_CONTROL_FRAME: usize = 6 + MAX_CONTROL_PAYLOAD;

/// What the read buffer may reserve beyond what it holds, at most, per
/// reservation: the socket's reserve ahead (64 KiB), its slack (4 KiB) and
/// its read chunk.
const RESERVE: usize = 64 * 1024 + 4096 + READ_CHUNK;

/// The most operations decoded from one input.
const MAX_OPS: usize = 512;

/// The most bytes generated (peer messages, filler, sent payloads) per input.
const MAX_GENERATED: usize = 1 << 20;

/// How long a connection stays quiet before its read buffer must be gone
/// (the socket keeps a grown one for 1 s).
const QUIET: Duration = Duration::from_secs(3);

/// Setup flags.
const CLIENT: u8 = 1;
const DEFLATE: u8 = 2;
const NO_AUTO_PONG: u8 = 4;
const HEARTBEAT: u8 = 8;
const LARGE_LIMITS: u8 = 16;
/// At the end the peer does not end its side (no end of file).
const FINAL_KEEP_OPEN: u8 = 32;
/// At the end nothing more is written (the peer stopped reading).
const FINAL_NO_FLUSH: u8 = 64;

/// How many operations [`Driver::step`] knows.
pub const OPERATIONS: u8 = 14;

/// The socket to build, from the bytes after the stream.
struct Setup {
    client: bool,
    config: Config,
    deflate: Option<(DeflateParams, DeflateSettings)>,
    key_seed: u32,
    final_eof: bool,
    final_flush: bool,
}

impl Setup {
    /// Reads, in order: flags (u8: [`CLIENT`], [`DEFLATE`],
    /// [`NO_AUTO_PONG`], [`HEARTBEAT`], [`LARGE_LIMITS`],
    /// [`FINAL_KEEP_OPEN`], [`FINAL_NO_FLUSH`]); `max_frame_size` and
    /// `max_message_size` (u16 each, 0: 64 KiB); `partial_frames_above`
    /// (u16, 0: never); the close timeout in ms (u16); the heartbeat
    /// interval and timeout in ms (u16 each, at least 1); deflate flags
    /// (u8: 1 server_no_context_takeover, 2 client_no_context_takeover);
    /// server and client max window bits (u8 each, 8 + value % 8); the
    /// compression level (u8, % 10); the smallest message compressed (u8);
    /// the masking key seed (u32).
    fn read(u: &mut Unstructured<'_>) -> Setup {
        let flags = byte(u);
        let max_frame = word(u);
        let max_message = word(u);
        let partial = word(u);
        let close_timeout = word(u);
        let interval = word(u);
        let timeout = word(u);
        let deflate_flags = byte(u);
        let server_bits = byte(u);
        let client_bits = byte(u);
        let level = byte(u);
        let min_compress = byte(u);
        let key_seed = u.arbitrary::<u32>().unwrap_or(0);

        let limit = |raw: u16| match raw {
            0 => SMALL_LIMIT,
            raw => u64::from(raw),
        };
        let large = flags & LARGE_LIMITS != 0;
        let mut config = Config::default();
        config.max_frame_size = if large { LARGE_LIMIT } else { limit(max_frame) };
        config.max_message_size = if large {
            LARGE_LIMIT
        } else {
            limit(max_message)
        };
        config.partial_frames_above = match partial {
            0 => u64::MAX,
            above => u64::from(above),
        };
        config.auto_pong = flags & NO_AUTO_PONG == 0;
        config.heartbeat = (flags & HEARTBEAT != 0).then(|| Heartbeat {
            interval: ms(interval.max(1)),
            timeout: ms(timeout.max(1)),
        });
        config.close_timeout = ms(close_timeout);
        let deflate = (flags & DEFLATE != 0).then(|| {
            let params = DeflateParams {
                server_no_context_takeover: deflate_flags & 1 != 0,
                client_no_context_takeover: deflate_flags & 2 != 0,
                server_max_window_bits: 8 + server_bits % 8,
                client_max_window_bits: 8 + client_bits % 8,
            };
            let settings = DeflateSettings {
                min_compress_len: usize::from(min_compress),
                level: u32::from(level % 10),
            };
            (params, settings)
        });
        Setup {
            client: flags & CLIENT != 0,
            config,
            deflate,
            key_seed,
            final_eof: flags & FINAL_KEEP_OPEN == 0,
            final_flush: flags & FINAL_NO_FLUSH == 0,
        }
    }

    fn extensions(&self) -> Extensions {
        match self.deflate {
            Some((params, settings)) => Extensions::permessage_deflate(params, settings),
            None => Extensions::none(),
        }
    }

    /// A permessage-deflate context for the peer (`role`), agreeing with ours.
    fn peer_deflate(&self, role: Role) -> Option<PerMessageDeflate> {
        let (agreed, settings) = self.deflate?;
        let params = deflate::DeflateParams {
            server_no_context_takeover: agreed.server_no_context_takeover,
            client_no_context_takeover: agreed.client_no_context_takeover,
            server_max_window_bits: agreed.server_max_window_bits,
            client_max_window_bits: agreed.client_max_window_bits,
        };
        Some(PerMessageDeflate::new(role, params, settings))
    }
}

fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary().unwrap_or(0)
}

fn word(u: &mut Unstructured<'_>) -> u16 {
    u.arbitrary().unwrap_or(0)
}

fn ms(ms: u16) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Runs the target on raw fuzzer bytes.
pub fn socket(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (stream, ops) = rest.split_at(len);
    let mut u = Unstructured::new(ops);
    let setup = Setup::read(&mut u);
    let base = Instant::now();
    if setup.client {
        let socket = Socket::client(
            setup.config,
            setup.extensions(),
            Keys::new(setup.key_seed),
            base,
        );
        Driver::new(socket, &setup, stream, base).run(&mut u);
    } else {
        let socket = Socket::server(setup.config, setup.extensions(), base);
        Driver::new(socket, &setup, stream, base).run(&mut u);
    }
}

/// What the peer's generated frames must produce, in order.
#[derive(Debug)]
enum Expect {
    Data(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(CloseCode, String)>),
    /// The connection fails with this code.
    Fail(CloseCode),
}

fn rank(state: State) -> u8 {
    match state {
        State::Open => 0,
        State::CloseSent => 1,
        State::Closed => 2,
    }
}

fn transport_rank(status: TransportStatus) -> u8 {
    match status {
        TransportStatus::Open => 0,
        TransportStatus::Finishing => 1,
        TransportStatus::Close => 2,
    }
}

fn opposite(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// A payload of `len` bytes: compressible for an even seed, noise otherwise.
fn binary_payload(len: usize, seed: u8) -> Vec<u8> {
    if seed & 1 == 0 {
        return (0..len).map(|i| (i % 7) as u8 ^ seed).collect();
    }
    let mut noise = Pieces::new(u64::from(seed));
    (0..len).map(|_| noise.next(256) as u8).collect()
}

/// UTF-8 text of at most `len` bytes with one- to four-byte characters, so
/// that fragments split characters.
fn text_payload(len: usize, seed: u8) -> String {
    const CHARS: [char; 6] = ['a', 'b', ' ', 'é', '€', '𝄞'];
    let mut picks = Pieces::new(u64::from(seed) + 1);
    let mut text = String::with_capacity(len);
    loop {
        let c = CHARS[picks.next(CHARS.len()) - 1];
        if text.len() + c.len_utf8() > len {
            return text;
        }
        text.push(c);
    }
}

/// Everything the socket wrote, decoded as the peer decodes it.
struct Wire {
    /// The peer's role: the receiver's decoding rules.
    receiver: Role,
    allowed_rsv: u8,
    /// Written bytes that are not a whole frame yet.
    bytes: Vec<u8>,
    /// The peer's permessage-deflate context, to inflate our messages.
    inflater: Option<PerMessageDeflate>,
    /// Data messages sent and not seen on the wire yet.
    sent: VecDeque<(MessageKind, Vec<u8>)>,
    /// The close frame went out, with its code (`None`: no code).
    closed: Option<Option<CloseCode>>,
    /// The code of the close the application started, if it did.
    our_close: Option<CloseCode>,
    /// The payload of the last ping we wrote (the peer may answer it).
    last_ping: Vec<u8>,
}

impl Wire {
    fn push(&mut self, written: &[u8]) {
        self.bytes.extend_from_slice(written);
        while let Some(len) = self.next_frame() {
            self.bytes.drain(..len);
        }
    }

    /// Checks the whole frame at the front of `bytes`, if there is one, and
    /// returns its length.
    fn next_frame(&mut self) -> Option<usize> {
        let rules = DecodeRules {
            receiver: self.receiver,
            allowed_rsv: self.allowed_rsv,
        };
        let (header, header_len) = match FrameHeader::decode(&self.bytes, rules) {
            Ok(Decoded::Complete { value, header_len }) => (value, header_len),
            Ok(Decoded::Incomplete { .. }) => return None,
            Err(e) => panic!("the socket wrote an illegal frame header: {e}"),
        };
        let total = header_len + usize::try_from(header.payload_len).expect("frame fits memory");
        if self.bytes.len() < total {
            return None;
        }
        assert!(
            self.closed.is_none(),
            "the socket wrote a {:?} frame after its close",
            header.opcode
        );
        let mut payload = self.bytes[header_len..total].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary => self.data(&header, payload),
            OpCode::Continuation => {
                panic!("the socket sends whole messages, yet wrote a continuation")
            }
            OpCode::Ping | OpCode::Pong => {
                assert!(header.fin && payload.len() <= MAX_CONTROL_PAYLOAD);
                if header.opcode == OpCode::Ping {
                    self.last_ping = payload;
                }
            }
            OpCode::Close => {
                let code = check_close_payload(&payload).map(|frame| frame.code);
                if let Some(ours) = self.our_close {
                    assert_eq!(code, Some(ours), "our close went out with another code");
                }
                self.closed = Some(code);
            }
        }
        Some(total)
    }

    fn data(&mut self, header: &FrameHeader, payload: Vec<u8>) {
        assert!(
            header.fin,
            "the socket sends whole messages, yet wrote a fragment"
        );
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            _ => MessageKind::Binary,
        };
        let message = if header.rsv & RSV1 != 0 {
            let inflater = self
                .inflater
                .as_mut()
                .expect("RSV1 without permessage-deflate");
            let chunk = DataChunk {
                kind,
                payload: &payload,
                message_start: true,
                message_end: true,
                rsv: header.rsv,
            };
            let mut out = Vec::new();
            if let Err(e) = inflater.inflate(&chunk, &mut out, u64::MAX) {
                panic!("a message the socket compressed does not inflate: {e}");
            }
            out
        } else {
            payload
        };
        let Some((sent_kind, sent)) = self.sent.pop_front() else {
            panic!("the socket wrote a {kind:?} message nobody sent");
        };
        assert_eq!(kind, sent_kind, "a message went out with another kind");
        assert!(message == sent, "a message went out changed");
    }
}

struct Driver<'s, K> {
    socket: Socket<K>,
    config: Config,
    role: Role,
    base: Instant,
    now: Instant,
    /// The raw stream not fed yet.
    raw: &'s [u8],
    /// Bytes the peer sent that did not arrive yet (fed before `raw`).
    pending: Vec<u8>,
    /// Bytes generated so far (bounded by [`MAX_GENERATED`]).
    generated: usize,
    /// Only generated frames arrived: the messages are known.
    clean: bool,
    expected: VecDeque<Expect>,
    peer_keys: Keys,
    /// The peer's permessage-deflate context, to compress its messages.
    peer_deflate: Option<PerMessageDeflate>,
    wire: Wire,
    eof: bool,
    final_eof: bool,
    final_flush: bool,
    state: State,
    /// The connection failed while it was open: its close carries the code.
    failed_from_open: bool,
    transport: TransportStatus,
    /// The most bytes ever buffered (before an input plus what it brought).
    peak: usize,
    /// The most that may stay buffered after `Ok(None)`.
    frame_bound: usize,
}

impl<'s, K: MaskKeySource> Driver<'s, K> {
    fn new(socket: Socket<K>, setup: &Setup, raw: &'s [u8], base: Instant) -> Self {
        let config = *socket.config();
        let role = socket.role();
        assert_eq!(socket.is_compressed(), setup.deflate.is_some());
        if let Some(at) = socket.poll_timeout() {
            assert!(at > base, "a new socket's deadline is not ahead");
        }
        let frame_bound = MAX_HEADER
            + usize::try_from(config.max_frame_size.min(config.partial_frames_above))
                .unwrap_or(usize::MAX)
                .max(MAX_CONTROL_PAYLOAD);
        let peer = opposite(role);
        Driver {
            config,
            role,
            base,
            now: base,
            raw,
            pending: Vec::new(),
            generated: 0,
            clean: true,
            expected: VecDeque::new(),
            peer_keys: Keys::new(setup.key_seed ^ 0x5eed_0f0e),
            peer_deflate: setup.peer_deflate(peer),
            wire: Wire {
                receiver: peer,
                allowed_rsv: config.allowed_rsv,
                bytes: Vec::new(),
                inflater: setup.peer_deflate(peer),
                sent: VecDeque::new(),
                closed: None,
                our_close: None,
                last_ping: Vec::new(),
            },
            eof: false,
            final_eof: setup.final_eof,
            final_flush: setup.final_flush,
            state: socket.state(),
            failed_from_open: false,
            transport: socket.poll_transport(),
            peak: 0,
            frame_bound,
            socket,
        }
    }

    fn run(mut self, u: &mut Unstructured<'_>) {
        let mut ops = 0;
        while !u.is_empty() && ops < MAX_OPS {
            ops += 1;
            self.step(u);
            self.observe();
        }
        self.finish();
    }

    /// One operation: `op % OPERATIONS` picks it, its arguments follow.
    ///
    /// | op | arguments | what happens |
    /// |---|---|---|
    /// | 0 | `n: u16` | `handle_data` with the next `n` bytes that arrive |
    /// | 1 | `n: u16` | a read of up to `n` bytes into `input_buffer` (at most its spare room; 0 bytes: the read would block), or into a buffer of ours when it gives none |
    /// | 2 | `n: u16` | the next `n` raw stream bytes are sent by the peer now |
    /// | 3 | `len: u16`, `byte: u8` | the peer sends `len` copies of `byte` |
    /// | 4 | `flags: u8`, `len: u16`, `seed: u8`, `frames: u8`, `at: u8` | the peer sends a message of `len` bytes (flags: 1 text, 2 compressed, 4 a ping after fragment `at`) in `1 + frames % 8` frames |
    /// | 5 | `kind: u8`, `len: u8`, `code: u16` | the peer sends a ping, pong (`len` > 125 is illegal), close with a code and reason, close without code, or a pong answering our last ping (`kind % 5`) |
    /// | 6 | `kind: u8`, `len: u16`, `seed: u8` | `send` text, binary, ping or pong (`kind % 4`; control payloads `len % 200`) |
    /// | 7 | `code: u16`, `reason: u8` | `close` (reason length `reason & 0x7f`, two-byte characters if `reason & 0x80`) |
    /// | 8 | `n: u16` | write up to `n` bytes (0: all) |
    /// | 9 | `ms: u16` | time passes; `handle_timeout` if the deadline passed |
    /// | 10 | `early: u8` | `handle_timeout` at the deadline (now if none, or if `early` is odd) |
    /// | 11 | | end of file |
    /// | 12 | | the transport fails |
    /// | 13 | | `poll_message` again |
    fn step(&mut self, u: &mut Unstructured<'_>) {
        match byte(u) % OPERATIONS {
            0 => {
                let n = usize::from(word(u));
                self.feed(n);
            }
            1 => {
                let n = usize::from(word(u));
                self.read(n);
            }
            2 => {
                let n = usize::from(word(u)).min(self.raw.len());
                self.clean &= n == 0;
                self.pending.extend_from_slice(&self.raw[..n]);
                self.raw = &self.raw[n..];
            }
            3 => {
                let len = usize::from(word(u));
                let filler = byte(u);
                if self.budget(len) {
                    self.clean &= len == 0;
                    self.pending.resize(self.pending.len() + len, filler);
                }
            }
            4 => {
                let flags = byte(u);
                let len = word(u);
                let seed = byte(u);
                let frames = byte(u);
                let at = byte(u);
                self.peer_message(flags, usize::from(len), seed, frames, at);
            }
            5 => {
                let kind = byte(u);
                let len = byte(u);
                let code = word(u);
                self.peer_control(kind, len, code);
            }
            6 => {
                let kind = byte(u);
                let len = word(u);
                let seed = byte(u);
                self.send(kind, usize::from(len), seed);
            }
            7 => {
                let code = word(u);
                let reason_len = byte(u);
                self.close(
                    close_code(code),
                    &reason(reason_len & 0x7f, reason_len & 0x80 != 0),
                );
            }
            8 => {
                let n = usize::from(word(u));
                self.flush(if n == 0 { usize::MAX } else { n });
            }
            9 => {
                self.now += ms(word(u));
                if self.socket.poll_timeout().is_some_and(|at| at <= self.now) {
                    self.tick();
                }
            }
            10 => {
                let early = byte(u) & 1 != 0;
                if !early {
                    if let Some(at) = self.socket.poll_timeout() {
                        self.now = self.now.max(at);
                    }
                }
                self.tick();
            }
            11 => self.end_of_file(),
            12 => {
                self.socket.handle_transport_error();
                assert_eq!(self.socket.poll_transport(), TransportStatus::Close);
            }
            _ => self.poll_all(),
        }
    }

    /// Whether `len` more bytes may be generated.
    fn budget(&mut self, len: usize) -> bool {
        self.generated += len;
        self.generated <= MAX_GENERATED
    }

    /// The checks after every operation.
    fn observe(&mut self) {
        self.observe_state();
        let status = self.socket.poll_transport();
        assert!(
            transport_rank(status) >= transport_rank(self.transport),
            "poll_transport went from {:?} back to {status:?}",
            self.transport
        );
        self.transport = status;
        assert_eq!(
            self.socket.is_send_buffer_full(),
            self.socket.transmit_len() > 128 * 1024
        );
    }

    fn observe_state(&mut self) {
        let state = self.socket.state();
        assert!(
            rank(state) >= rank(self.state),
            "the state went from {:?} back to {state:?}",
            self.state
        );
        if self.socket.error().is_some() {
            assert_eq!(state, State::Closed, "failed but not closed");
            if self.state == State::Open {
                self.failed_from_open = true;
            }
        }
        self.state = state;
    }

    // ------------------------------------------------------------ input

    /// Takes up to `n` bytes of what the peer sent: generated bytes first,
    /// then the raw stream.
    fn take(pending: &mut Vec<u8>, raw: &mut &[u8], clean: &mut bool, n: usize) -> Vec<u8> {
        if !pending.is_empty() {
            let n = n.min(pending.len());
            return pending.drain(..n).collect();
        }
        let n = n.min(raw.len());
        let (taken, rest) = raw.split_at(n);
        *raw = rest;
        *clean &= n == 0;
        taken.to_vec()
    }

    fn available(&self) -> usize {
        if self.pending.is_empty() {
            self.raw.len()
        } else {
            self.pending.len()
        }
    }

    fn feed(&mut self, n: usize) {
        if self.eof {
            return;
        }
        let bytes = Self::take(&mut self.pending, &mut self.raw, &mut self.clean, n);
        self.handle_data(&bytes);
        self.poll_all();
    }

    fn handle_data(&mut self, bytes: &[u8]) {
        let before = self.socket.buffered_len();
        let queued = self.socket.transmit_len();
        let closed = self.socket.state() == State::Closed;
        self.peak = self.peak.max(before + bytes.len());
        self.socket.handle_data(bytes);
        let expected = if closed { before } else { before + bytes.len() };
        assert_eq!(
            self.socket.buffered_len(),
            expected,
            "handle_data of {} bytes",
            bytes.len()
        );
        assert_eq!(
            self.socket.transmit_len(),
            queued,
            "handle_data queued bytes"
        );
    }

    /// A read as a driver makes it: into the socket's buffer when it offers
    /// one, else into a buffer of its own.
    fn read(&mut self, n: usize) {
        if self.eof {
            return;
        }
        let before = self.socket.buffered_len();
        let queued = self.socket.transmit_len();
        let state = self.socket.state();
        let available = self.available();
        let bound = 8 * self.peak.max(before) + 4 * RESERVE;
        let read = match self.socket.input_buffer() {
            Some(buf) => {
                assert_ne!(state, State::Closed, "a read buffer once closed");
                assert_eq!(buf.len(), before, "input_buffer holds other bytes");
                let capacity = buf.capacity();
                assert!(
                    capacity > buf.len(),
                    "input_buffer has no room to read into"
                );
                assert!(
                    capacity <= bound,
                    "the read buffer holds room for {capacity} bytes with {before} buffered \
                     and at most {} ever buffered",
                    self.peak
                );
                let n = n.min(capacity - buf.len()).min(available);
                let bytes = Self::take(&mut self.pending, &mut self.raw, &mut self.clean, n);
                buf.extend_from_slice(&bytes);
                assert_eq!(buf.capacity(), capacity, "a read within the room moved it");
                Some(n)
            }
            None => {
                assert!(
                    before == 0 || state == State::Closed,
                    "no read buffer with {before} bytes buffered"
                );
                None
            }
        };
        match read {
            // The read would block: nothing to take note of.
            Some(0) => {}
            Some(n) => {
                self.peak = self.peak.max(before + n);
                self.socket.handle_read();
                assert_eq!(self.socket.buffered_len(), before + n);
                assert_eq!(
                    self.socket.transmit_len(),
                    queued,
                    "handle_read queued bytes"
                );
                self.poll_all();
            }
            None => {
                let n = n.min(READ_CHUNK);
                let bytes = Self::take(&mut self.pending, &mut self.raw, &mut self.clean, n);
                self.handle_data(&bytes);
                self.poll_all();
            }
        }
    }

    fn end_of_file(&mut self) {
        self.eof = true;
        let queued = self.socket.transmit_len();
        self.socket.handle_eof();
        assert_eq!(
            self.socket.transmit_len(),
            queued,
            "handle_eof queued bytes"
        );
        self.poll_all();
    }

    /// `handle_timeout` now.
    fn tick(&mut self) {
        let before = self.socket.buffered_len();
        let queued = self.socket.transmit_len();
        self.socket.handle_timeout(self.now);
        let after = self.socket.transmit_len();
        assert!(
            after >= queued && after - queued <= MAX_CONTROL_FRAME,
            "handle_timeout queued {} bytes",
            after as isize - queued as isize
        );
        assert_eq!(self.socket.buffered_len(), before);
        self.observe_state();
        if let Some(at) = self.socket.poll_timeout() {
            assert!(
                at > self.now,
                "after handle_timeout at {:?} the deadline is {:?}",
                self.now - self.base,
                at.saturating_duration_since(self.base)
            );
        }
        self.poll_all();
    }

    // ------------------------------------------------------------ messages

    /// `poll_message` until it needs more input or ends.
    fn poll_all(&mut self) {
        for _ in 0..self.socket.buffered_len() + 2 {
            if !self.poll_once() {
                return;
            }
        }
        panic!("poll_message keeps returning messages without consuming input");
    }

    /// One `poll_message`; whether it returned a message.
    fn poll_once(&mut self) -> bool {
        let state_before = self.socket.state();
        let before = self.socket.buffered_len();
        let queued = self.socket.transmit_len();
        let result = self.socket.poll_message();
        let after = self.socket.buffered_len();
        assert!(
            after <= before,
            "poll_message buffered {} more bytes",
            after - before
        );
        let now_queued = self.socket.transmit_len();
        assert!(
            now_queued >= queued && now_queued - queued <= 2 * MAX_CONTROL_FRAME,
            "poll_message queued {} bytes",
            now_queued as isize - queued as isize
        );
        self.observe_state();
        match result {
            Ok(Some(message)) => {
                assert!(after < before, "{message:?} consumed nothing");
                assert_ne!(state_before, State::Closed, "{message:?} once closed");
                self.on_message(message, state_before);
                true
            }
            Ok(None) => {
                assert!(!self.eof, "Ok(None) after end of file");
                if self.socket.state() != State::Closed {
                    assert!(
                        after <= self.frame_bound,
                        "{after} bytes stay buffered (frame bound {})",
                        self.frame_bound
                    );
                }
                false
            }
            Err(Error::Protocol(e)) => {
                self.on_failure(e, state_before);
                false
            }
            Err(Error::ConnectionClosed) => {
                assert_eq!(self.socket.state(), State::Closed);
                assert_eq!(self.socket.error(), None);
                false
            }
            Err(Error::AbnormalClosure) => {
                assert!(self.eof, "AbnormalClosure before end of file");
                assert_ne!(self.socket.state(), State::Closed);
                false
            }
            Err(other) => panic!("poll_message failed with {other}"),
        }
    }

    fn on_message(&mut self, message: Message, state_before: State) {
        match &message {
            Message::Text(text) => {
                assert!(
                    std::str::from_utf8(text.as_bytes()).is_ok(),
                    "text not UTF-8"
                );
            }
            Message::Ping(payload) | Message::Pong(payload) => {
                assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
            }
            Message::Close(reason) => {
                assert_eq!(self.socket.state(), State::Closed, "a close left it open");
                let expected = match reason {
                    Some(reason) => PeerClose::Frame(reason.clone()),
                    None => PeerClose::FrameWithoutCode,
                };
                assert_eq!(self.socket.peer_close(), expected);
                if let Some(reason) = reason {
                    assert!(reason.code.is_valid_on_wire());
                    assert!(reason.reason.len() <= MAX_CLOSE_REASON);
                }
            }
            Message::Binary(_) => {}
        }
        if message.is_data() {
            assert!(message.payload().len() as u64 <= self.config.max_message_size);
            // Frames arrive whole unless delivered in pieces: then the one
            // in progress when our close went out is still finished.
            let in_pieces = self.config.partial_frames_above < self.config.max_frame_size;
            if !in_pieces {
                assert_eq!(state_before, State::Open, "a data message after our close");
            }
        }
        if !self.clean || state_before != State::Open {
            return;
        }
        let Some(expected) = self.expected.pop_front() else {
            panic!("{message:?} arrived, the peer sent nothing more");
        };
        let matches = match (&expected, &message) {
            (Expect::Data(MessageKind::Text, sent), Message::Text(text)) => {
                text.as_bytes()[..] == sent[..]
            }
            (Expect::Data(MessageKind::Binary, sent), Message::Binary(data)) => {
                data[..] == sent[..]
            }
            (Expect::Ping(sent), Message::Ping(got)) | (Expect::Pong(sent), Message::Pong(got)) => {
                got[..] == sent[..]
            }
            (Expect::Close(None), Message::Close(None)) => true,
            (Expect::Close(Some((code, text))), Message::Close(Some(got))) => {
                got.code == *code && got.reason == *text
            }
            _ => false,
        };
        assert!(matches, "expected {expected:?}, got {message:?}");
    }

    fn on_failure(&mut self, e: ProtocolError, state_before: State) {
        assert_eq!(
            self.socket.state(),
            State::Closed,
            "Err({e}) but not closed"
        );
        assert_eq!(
            self.socket.error(),
            Some(e),
            "Err({e}) is not the socket's error"
        );
        if self.clean && state_before == State::Open && e != ProtocolError::PongTimeout {
            // Pings of a message that failed midway may never arrive.
            while let Some(Expect::Ping(_) | Expect::Pong(_)) = self.expected.front() {
                self.expected.pop_front();
            }
            match self.expected.pop_front() {
                Some(Expect::Fail(code)) => assert_eq!(code, e.close_code(), "failed with {e}"),
                other => panic!("the connection failed with {e}, expected {other:?}"),
            }
        }
        // As a driver does: write out the close frame that names the error.
        self.flush(usize::MAX);
        assert!(
            self.wire.bytes.is_empty(),
            "the transmit queue ends inside a frame"
        );
        let Some(code) = self.wire.closed else {
            panic!("Err({e}) but no close frame went out");
        };
        if self.failed_from_open {
            assert_eq!(
                code,
                Some(e.close_code()),
                "Err({e}) went out with another close"
            );
        }
    }

    // ------------------------------------------------------------ the peer

    /// Appends a frame from the peer (masked if it is a client).
    fn peer_frame(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = (self.role == Role::Server).then(|| self.peer_keys.next_mask_key());
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        }
        .encode();
        self.pending.extend_from_slice(&header);
        let start = self.pending.len();
        self.pending.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.pending[start..], key, 0);
        }
    }

    fn peer_message(&mut self, flags: u8, len: usize, seed: u8, frames: u8, at: u8) {
        if !self.budget(len) {
            return;
        }
        let text = flags & 1 != 0;
        let (kind, opcode, payload) = if text {
            let text = text_payload(len, seed);
            (MessageKind::Text, OpCode::Text, text.into_bytes())
        } else {
            (
                MessageKind::Binary,
                OpCode::Binary,
                binary_payload(len, seed),
            )
        };
        let compress = flags & 2 != 0 && self.peer_deflate.is_some();
        let on_wire = match self.peer_deflate.as_mut() {
            Some(deflate) if compress => {
                let mut out = Vec::new();
                deflate.deflate(&payload, &mut out);
                out
            }
            _ => payload.clone(),
        };
        let count = 1 + usize::from(frames % 8);
        let mut cuts = Pieces::new((u64::from(seed) << 8) | u64::from(frames));
        let mut ends: Vec<usize> = (1..count)
            .map(|_| cuts.next(on_wire.len() + 1) - 1)
            .collect();
        ends.push(on_wire.len());
        ends.sort_unstable();
        let ping_after = (flags & 4 != 0).then_some(usize::from(at) % count);
        let mut failed = false;
        let mut total = 0u64;
        let mut start = 0;
        for (index, &end) in ends.iter().enumerate() {
            let piece = &on_wire[start..end];
            start = end;
            let frame_opcode = if index == 0 {
                opcode
            } else {
                OpCode::Continuation
            };
            let rsv = if compress && index == 0 { RSV1 } else { 0 };
            self.peer_frame(frame_opcode, index == count - 1, rsv, piece);
            total += piece.len() as u64;
            if !failed
                && (piece.len() as u64 > self.config.max_frame_size
                    || total > self.config.max_message_size)
            {
                failed = true;
                self.expected
                    .push_back(Expect::Fail(CloseCode::MESSAGE_TOO_BIG));
            }
            if index == count - 1 && !failed {
                // The message is complete before a ping that follows it.
                let expect = if payload.len() as u64 > self.config.max_message_size {
                    Expect::Fail(CloseCode::MESSAGE_TOO_BIG)
                } else {
                    Expect::Data(kind, payload.clone())
                };
                self.expected.push_back(expect);
            }
            if ping_after == Some(index) {
                let ping = vec![b'p', seed, index as u8];
                self.peer_frame(OpCode::Ping, true, 0, &ping);
                if !failed {
                    self.expected.push_back(Expect::Ping(ping));
                }
            }
        }
    }

    fn peer_control(&mut self, kind: u8, len: u8, code: u16) {
        let payload: Vec<u8> = (0..len).map(|i| i ^ code as u8).collect();
        let legal = payload.len() <= MAX_CONTROL_PAYLOAD;
        let illegal = Expect::Fail(CloseCode::PROTOCOL_ERROR);
        match kind % 5 {
            0 => {
                self.peer_frame(OpCode::Ping, true, 0, &payload);
                let expect = if legal {
                    Expect::Ping(payload)
                } else {
                    illegal
                };
                self.expected.push_back(expect);
            }
            1 => {
                self.peer_frame(OpCode::Pong, true, 0, &payload);
                let expect = if legal {
                    Expect::Pong(payload)
                } else {
                    illegal
                };
                self.expected.push_back(expect);
            }
            2 => {
                let code = close_code(code);
                let text = reason(len & 0x7f, len & 0x80 != 0);
                let text = fit_reason(&text);
                let mut close = code.0.to_be_bytes().to_vec();
                close.extend_from_slice(text.as_bytes());
                self.peer_frame(OpCode::Close, true, 0, &close);
                let expect = if code.is_valid_on_wire() {
                    Expect::Close(Some((code, text.to_owned())))
                } else {
                    illegal
                };
                self.expected.push_back(expect);
            }
            3 => {
                self.peer_frame(OpCode::Close, true, 0, &[]);
                self.expected.push_back(Expect::Close(None));
            }
            _ => {
                let answer = self.wire.last_ping.clone();
                self.peer_frame(OpCode::Pong, true, 0, &answer);
                self.expected.push_back(Expect::Pong(answer));
            }
        }
    }

    // ------------------------------------------------------------ commands

    fn send(&mut self, kind: u8, len: usize, seed: u8) {
        if !self.budget(len) {
            return;
        }
        let open = self.socket.state() == State::Open;
        let queued = self.socket.transmit_len();
        let header = if self.role == Role::Client { 6 } else { 2 };
        let (result, legal, most) = match kind % 4 {
            kind @ (0 | 1) => {
                let (message, sent) = if kind == 0 {
                    let text = text_payload(len, seed);
                    let sent = (MessageKind::Text, text.clone().into_bytes());
                    (Message::text(text), sent)
                } else {
                    let data = binary_payload(len, seed);
                    (Message::binary(data.clone()), (MessageKind::Binary, data))
                };
                let len = sent.1.len();
                let result = self.socket.send(message);
                if result.is_ok() {
                    self.wire.sent.push_back(sent);
                }
                // Deflate may expand noise: 9-bit literals at worst (1/8),
                // plus block headers.
                (result, open, len + MAX_HEADER + len / 8 + 256)
            }
            kind => {
                let payload = binary_payload(len % 200, seed);
                let len = payload.len();
                let message = if kind == 2 {
                    Message::Ping(payload.into())
                } else {
                    Message::Pong(payload.into())
                };
                let result = self.socket.send(message);
                (result, open && len <= MAX_CONTROL_PAYLOAD, header + len)
            }
        };
        assert_eq!(
            result.is_ok(),
            legal,
            "send: {result:?} when open is {open}"
        );
        let added = self.socket.transmit_len() - queued;
        if legal {
            assert!(
                added <= most,
                "send queued {added} bytes, at most {most} expected"
            );
        } else {
            assert_eq!(added, 0, "a refused send queued bytes");
        }
    }

    fn close(&mut self, code: CloseCode, reason: &str) {
        let open = self.socket.state() == State::Open;
        let queued = self.socket.transmit_len();
        let result = self.socket.close(code, reason);
        let legal = open && code.is_valid_on_wire() && reason.len() <= MAX_CLOSE_REASON;
        assert_eq!(
            result.is_ok(),
            legal,
            "close({}, {} bytes): {result:?}",
            code.0,
            reason.len()
        );
        let added = self.socket.transmit_len() - queued;
        if !legal {
            assert_eq!(added, 0, "a refused close queued bytes");
            return;
        }
        let header = if self.role == Role::Client { 6 } else { 2 };
        assert_eq!(added, header + 2 + reason.len());
        assert_eq!(self.socket.state(), State::CloseSent);
        self.wire.our_close = Some(code);
        assert!(
            self.socket.poll_timeout().is_some_and(|at| at <= self.now),
            "close does not ask for the time at once"
        );
    }

    /// Writes up to `limit` bytes as a driver does, and decodes them.
    fn flush(&mut self, limit: usize) {
        let mut left = limit;
        while left > 0 && self.socket.transmit_len() > 0 {
            let queued = self.socket.transmit_len();
            let mut written = Vec::new();
            let count = self.socket.with_transmit(|slices: &[IoSlice<'_>]| {
                let offered: usize = slices.iter().map(|slice| slice.len()).sum();
                assert!(
                    offered > 0 && offered <= queued,
                    "with_transmit offered {offered} of {queued}"
                );
                for slice in slices {
                    let n = slice.len().min(left - written.len());
                    written.extend_from_slice(&slice[..n]);
                    if n < slice.len() {
                        break;
                    }
                }
                written.len()
            });
            self.socket.advance_transmit(count);
            assert_eq!(self.socket.transmit_len(), queued - count);
            left -= count;
            self.wire.push(&written);
        }
    }

    // ------------------------------------------------------------ the end

    fn finish(mut self) {
        // Everything the peer sent arrives, unless its side already ended.
        while !self.eof && self.available() > 0 {
            self.feed(usize::MAX);
        }
        let open = self.socket.state() == State::Open;
        if self.clean && !self.eof && open {
            assert!(
                self.expected.is_empty(),
                "the peer's {:?} never arrived",
                self.expected
            );
        }
        // Written out, the queue holds whole frames and every message sent.
        if self.final_flush {
            self.flush(usize::MAX);
            assert!(
                self.wire.bytes.is_empty(),
                "the transmit queue ends inside a frame"
            );
            assert!(
                self.wire.sent.is_empty(),
                "{} messages sent never went out",
                self.wire.sent.len()
            );
        }
        // A connection that went quiet lets its read buffer go, while its
        // driver waits in a read (into `input_buffer` when it offers one,
        // as the tokio driver does) and wakes for the deadlines.
        if self.socket.state() != State::Closed && self.socket.buffered_len() == 0 {
            let until = self.now + QUIET;
            while self.now < until {
                self.read(0);
                self.now += Duration::from_millis(250);
                self.tick();
                self.observe();
            }
            if let Some(buf) = self.socket.input_buffer() {
                panic!(
                    "a connection quiet for {QUIET:?} holds a read buffer of {} bytes",
                    buf.capacity()
                );
            }
        }
        // The application closes (and the peer ends its side, or not): the
        // transport closes within twice the close timeout (the peer's close
        // may never come, then finishing may take as long again), following
        // the deadlines. A read buffer kept for a partial frame is looked at
        // every second meanwhile, hence the step count.
        if self.final_eof && !self.eof {
            self.end_of_file();
        }
        if self.socket.state() == State::Open {
            self.close(CloseCode::NORMAL, "");
        }
        self.observe();
        let start = self.now;
        for _ in 0..1024 {
            if self.final_flush {
                self.flush(usize::MAX);
            }
            if self.socket.poll_transport() == TransportStatus::Close {
                break;
            }
            if let Some(at) = self.socket.poll_timeout() {
                self.now = self.now.max(at);
            }
            self.tick();
            self.observe();
        }
        assert_eq!(
            self.socket.poll_transport(),
            TransportStatus::Close,
            "the transport never closes ({:?}, end of file: {})",
            self.socket.state(),
            self.eof
        );
        assert!(
            self.now - start <= 2 * self.config.close_timeout,
            "closing the transport took {:?} with a close timeout of {:?}",
            self.now - start,
            self.config.close_timeout
        );
    }
}
