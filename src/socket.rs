//! The sans-I/O WebSocket: everything between raw bytes and whole messages,
//! with no I/O and no clock of its own. Every driver (blocking, tokio, or
//! yours on io_uring, embassy or a custom event loop) is only reads, writes
//! and sleeps around a [`Socket`].
//!
//! See [`Socket`] for the method kinds, their call order and a complete
//! driver loop.

use std::io::IoSlice;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use ws13_codec::copy::copy_pieces;
use ws13_codec::deflate::{DeflateSettings, PerMessageDeflate};
use ws13_codec::frame::FrameError;
use ws13_codec::frame::{OpCode, RSV1};
use ws13_codec::role::NoMasking;
use ws13_codec::{
    CloseCode, Config, Connection, DataChunk, Event, MaskKeySource, MessageKind, OutgoingHeader,
    ProtocolError, Role, SendError, State,
};
use ws13_handshake::permessage_deflate::DeflateParams;

use crate::client::{ClientOptions, HandshakeResponse};
use crate::error::{Error, Result};
use crate::message::{CloseReason, Message, PeerClose, Utf8Bytes};
use crate::out_queue::OutQueue;
use crate::prepared::PreparedMessage;
use crate::server::{AcceptedRequest, ServerOptions};

/// Above this many queued bytes [`Socket::is_send_buffer_full`] says a
/// writer should wait for the transport before queueing more.
const WRITE_HIGH_WATER: usize = 128 * 1024;

/// The read buffer's starting size, and the size of the buffer a driver
/// should read into when [`Socket::input_buffer`] gives none.
pub const READ_CHUNK: usize = 16 * 1024;

/// Room reserved beyond the rest of the current frame. A read that fills the
/// buffer exactly leaves the transport's readiness set, so the next read
/// returns nothing but `EAGAIN`: with some room to spare, the read that
/// completes a large frame comes back short and the next one waits for
/// readiness instead (one `recvfrom` less per 64 KiB message here).
const READ_SLACK: usize = 4096;

/// A grown read buffer at least this large is worth reading the next
/// message into (it is kept for [`KEEP_GROWN_READ_BUFFER`]); a smaller one,
/// grown only because a short frame arrived in pieces, is let go as soon as
/// it is empty.
const REUSABLE_READ_BUFFER: usize = 2 * READ_CHUNK;

/// How far ahead of the bytes already buffered the read buffer may be
/// reserved for a frame's announced length, at least: a frame that
/// announces more grows the buffer geometrically, with what actually
/// arrives, never with what a peer merely announced.
const MIN_RESERVE_AHEAD: usize = 64 * 1024;

/// How long a read buffer that a large message grew is kept, from when it
/// grew: the large messages that follow are each read in one go into the
/// same allocation. Then it is let go as soon as it holds no partial frame
/// (and grows again if large messages keep coming), so a connection that
/// went quiet holds no large buffer for much longer than this.
pub(crate) const KEEP_GROWN_READ_BUFFER: Duration = Duration::from_secs(1);

/// The extensions a handshake agreed on, to build a [`Socket`] with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extensions {
    deflate: Option<(DeflateParams, DeflateSettings)>,
}

impl Extensions {
    /// No extension.
    pub const fn none() -> Self {
        Extensions { deflate: None }
    }

    /// permessage-deflate (RFC 7692) with the agreed `params`, compressing
    /// with `settings`.
    pub const fn permessage_deflate(params: DeflateParams, settings: DeflateSettings) -> Self {
        Extensions {
            deflate: Some((params, settings)),
        }
    }

    /// The configuration and compressor for what was agreed: RSV1 becomes
    /// legal only when permessage-deflate was negotiated.
    fn apply(&self, role: Role, mut config: Config) -> (Config, Option<PerMessageDeflate>) {
        let Some((agreed, settings)) = self.deflate else {
            return (config, None);
        };
        config.allowed_rsv |= RSV1;
        (config, Some(PerMessageDeflate::new(role, agreed, settings)))
    }
}

/// What the driver should do with its transport, from
/// [`Socket::poll_transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportStatus {
    /// The connection is open: read, write, and sleep until
    /// [`Socket::poll_timeout`]. This includes a connection whose peer
    /// ended its side without a close ([`Error::AbnormalClosure`]): it may
    /// still read, so the transport stays until the application closes
    /// (its close frame still goes out) or drops the connection.
    Open,
    /// The WebSocket is closed (or our close is out and the peer stopped
    /// sending); finishing is bounded by [`Socket::poll_timeout`]. Write what is queued. With
    /// nothing left to write, a client keeps reading (passing what arrives
    /// to [`Socket::handle_data`], which drops it) until end of file, so
    /// that the server closes TCP first (RFC 6455 §7.1.1).
    Finishing,
    /// Close the transport now (shut it down and drop it). Bytes still
    /// queued are given up: the peer stopped taking them, or the transport
    /// failed.
    Close,
}

/// A WebSocket connection without I/O: bytes in, messages out, messages
/// in, bytes out, with time as an input.
///
/// It owns the read buffer and its growth policy, fragment assembly,
/// permessage-deflate, the outgoing queue, what end of file means, when the
/// transport should be closed, heartbeats and every timeout. It reads no
/// clock: it is told the time, and tells when it next needs to be told.
/// The protocol rules themselves are [`ws13_codec::Connection`]'s.
///
/// # Method kinds
///
/// - **Getters**: [`state`](Self::state), [`role`](Self::role),
///   [`config`](Self::config), [`peer_close`](Self::peer_close).
/// - **Inputs**, `handle_*`: received bytes ([`handle_data`](Self::handle_data),
///   or a read straight into [`input_buffer`](Self::input_buffer) followed by
///   [`handle_read`](Self::handle_read)), end of file
///   ([`handle_eof`](Self::handle_eof)), a broken transport
///   ([`handle_transport_error`](Self::handle_transport_error)), and the time
///   ([`handle_timeout`](Self::handle_timeout)).
/// - **Commands**: [`send`](Self::send),
///   [`send_prepared`](Self::send_prepared) and [`close`](Self::close) only
///   queue bytes.
/// - **Outputs**, `poll_*` and the transmit queue:
///   [`poll_message`](Self::poll_message) (received messages),
///   [`with_transmit`](Self::with_transmit) /
///   [`advance_transmit`](Self::advance_transmit) (bytes to write),
///   [`poll_timeout`](Self::poll_timeout) (when to call `handle_timeout`),
///   [`poll_transport`](Self::poll_transport) (keep the transport, finish, or
///   close it).
///
/// # Call order
///
/// 1. After every input, call [`poll_message`](Self::poll_message) until it
///    returns `Ok(None)` (more input needed) or an error. `Err(Error::ConnectionClosed)`
///    is the clean end; any other error is reported once, and the close
///    frame that tells the peer is already queued.
/// 2. After every input and command, write the transmit queue (as much as
///    the transport takes; the rest waits for writability).
/// 3. Ask [`poll_timeout`](Self::poll_timeout) after every input and
///    command, and call [`handle_timeout`](Self::handle_timeout) once that
///    moment has passed. A deadline in the past means "now": commands such as
///    [`close`](Self::close) start timers that way.
/// 4. Ask [`poll_transport`](Self::poll_transport) before waiting: it says
///    whether to keep reading, to finish, or to close the transport.
///
/// Between calls, leave the bytes the socket holds alone: the protocol core
/// may already have unmasked and validated part of them.
///
/// # A complete driver
///
/// A blocking driver over any `Read + Write` stream, here run on canned
/// input: a client's masked "Hello", then end of file.
///
/// ```
/// use std::io::{self, Read, Write};
/// use std::time::Instant;
/// use ws13::socket::{Extensions, READ_CHUNK, Socket, TransportStatus};
/// use ws13::{Config, Error, Message};
///
/// /// Echoes data messages until the connection ends; returns how it ended.
/// fn drive(stream: &mut (impl Read + Write), socket: &mut Socket) -> Result<(), Error> {
///     let mut scratch = vec![0u8; READ_CHUNK];
///     loop {
///         // 1. Messages that arrived.
///         loop {
///             match socket.poll_message() {
///                 Ok(Some(message)) if message.is_data() => socket.send(message)?,
///                 Ok(Some(_)) => {} // pings are answered, closes echoed, already
///                 Ok(None) => break,
///                 Err(Error::ConnectionClosed) => return Ok(()),
///                 Err(error) => {
///                     // The close frame naming the error is queued: send it.
///                     let _ = flush(stream, socket);
///                     return Err(error);
///                 }
///             }
///         }
///         // 2. Bytes to send.
///         flush(stream, socket)?;
///         // 3. Timers (a real driver sleeps until the deadline, e.g. with a
///         //    read timeout, and calls this when it passed).
///         if socket.poll_timeout().is_some_and(|at| at <= Instant::now()) {
///             socket.handle_timeout(Instant::now());
///             continue;
///         }
///         // 4. The transport.
///         match socket.poll_transport() {
///             TransportStatus::Close => return Ok(()),
///             TransportStatus::Open | TransportStatus::Finishing => {}
///         }
///         match stream.read(&mut scratch)? {
///             0 => socket.handle_eof(),
///             n => socket.handle_data(&scratch[..n]),
///         }
///     }
/// }
///
/// fn flush(stream: &mut impl Write, socket: &mut Socket) -> io::Result<()> {
///     while socket.transmit_len() > 0 {
///         let written = socket.with_transmit(|slices| stream.write_vectored(slices))?;
///         socket.advance_transmit(written);
///     }
///     stream.flush()
/// }
///
/// /// A stream that reads canned bytes and collects what is written.
/// struct Canned(io::Cursor<Vec<u8>>, Vec<u8>);
/// impl Read for Canned {
///     fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.0.read(buf) }
/// }
/// impl Write for Canned {
///     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.1.write(buf) }
///     fn flush(&mut self) -> io::Result<()> { Ok(()) }
/// }
///
/// let hello = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let mut stream = Canned(io::Cursor::new(hello), Vec::new());
/// let mut socket = Socket::server(Config::default(), Extensions::none(), Instant::now());
/// // The peer vanished without a close frame: 1006.
/// assert!(matches!(drive(&mut stream, &mut socket), Err(Error::AbnormalClosure)));
/// assert_eq!(stream.1, b"\x81\x05Hello"); // the echo went out first
/// ```
pub struct Socket<K = NoMasking> {
    conn: Connection<K>,
    /// Received bytes not yet consumed by the core.
    read_buf: BytesMut,
    /// `read_buf` was reserved beyond [`READ_CHUNK`] since it was last
    /// released: only then can an idle connection have a large buffer to
    /// give back, so the check is skipped on the reads of small messages.
    read_buf_grown: bool,
    /// Bytes to write.
    out: OutQueue,
    /// A fragmented message being reassembled.
    partial: Option<(MessageKind, BytesMut)>,
    /// The time base for the core's timers.
    epoch: Instant,
    /// permessage-deflate, when negotiated; boxed, so the many connections
    /// without it do not carry its 344 bytes.
    deflate: Option<Box<PerMessageDeflate>>,
    /// The compressed message being inflated.
    inflated: Vec<u8>,
    /// The peer's close frame, once received (`Some(None)`: one without a code).
    peer_close: Option<Option<CloseReason>>,
    /// Timers the socket runs besides the core's, and their triggers.
    timers: SocketTimers,
    /// The transport reached end of file.
    eof: bool,
    /// The transport failed (a write or read error the driver reported).
    transport_failed: bool,
    /// A frame the protocol produced on its own is queued.
    urgent: bool,
}

/// The socket's own deadlines: when to let go of a kept read buffer, and
/// when finishing gives up. A trigger (`*_pending`) asks for
/// [`Socket::handle_timeout`] at once, so that the deadline is set from the
/// current time without the inputs needing a clock.
#[derive(Debug, Default)]
struct SocketTimers {
    /// The core's timers need `handle_timeout` now (a command such as
    /// `close` started one).
    core_pending: bool,
    /// A large read buffer was grown; its release time is not set yet.
    release_pending: bool,
    /// When to let go of a read buffer a large message grew.
    release_buffer_at: Option<Instant>,
    /// When finishing ends, whatever the peer does (set when the core
    /// reached `Closed`).
    finish_until: Option<Instant>,
    /// `finish_until` passed.
    finish_expired: bool,
}

impl<K: MaskKeySource> std::fmt::Debug for Socket<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("conn", &self.conn)
            .field("buffered", &self.read_buf.len())
            .field("queued", &self.out.len())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl Socket<NoMasking> {
    /// A server-side socket after a successful handshake; `now` starts its
    /// clock (heartbeats count from it).
    pub fn server(config: Config, extensions: Extensions, now: Instant) -> Self {
        let (config, deflate) = extensions.apply(Role::Server, config);
        Socket::with_connection(Connection::server(config), deflate, now)
    }

    /// The server side of a handshake that [`ServerOptions`] accepted, with
    /// what `request` agreed on (permessage-deflate).
    pub fn accepted(options: &ServerOptions, request: &AcceptedRequest, now: Instant) -> Self {
        let extensions = match request.deflate {
            Some(params) => Extensions::permessage_deflate(params, options.deflate_settings),
            None => Extensions::none(),
        };
        Socket::server(options.protocol, extensions, now)
    }
}

impl<K: MaskKeySource> Socket<K> {
    /// A client-side socket after a successful handshake; `keys` supplies
    /// a masking key for every frame sent.
    pub fn client(config: Config, extensions: Extensions, keys: K, now: Instant) -> Self {
        let (config, deflate) = extensions.apply(Role::Client, config);
        Socket::with_connection(Connection::client(config, keys), deflate, now)
    }

    /// The client side of a handshake made with `options` and answered
    /// with `response`.
    pub fn connected(
        options: &ClientOptions,
        response: &HandshakeResponse,
        keys: K,
        now: Instant,
    ) -> Self {
        let extensions = match response.deflate {
            Some(params) => Extensions::permessage_deflate(params, options.deflate_settings),
            None => Extensions::none(),
        };
        Socket::client(options.protocol, extensions, keys, now)
    }

    /// A socket around a protocol core built by hand (no extension).
    pub fn from_connection(conn: Connection<K>, now: Instant) -> Self {
        Socket::with_connection(conn, None, now)
    }

    fn with_connection(
        conn: Connection<K>,
        deflate: Option<PerMessageDeflate>,
        now: Instant,
    ) -> Self {
        let mut socket = Socket {
            conn,
            read_buf: BytesMut::new(),
            read_buf_grown: false,
            out: OutQueue::default(),
            partial: None,
            epoch: now,
            deflate: deflate.map(Box::new),
            inflated: Vec::new(),
            peer_close: None,
            timers: SocketTimers::default(),
            eof: false,
            transport_failed: false,
            urgent: false,
        };
        socket.handle_timeout(now);
        socket
    }

    // ------------------------------------------------------------------ getters

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// The protocol configuration in force (with RSV1 allowed when
    /// permessage-deflate was agreed).
    pub fn config(&self) -> &Config {
        self.conn.config()
    }

    /// The peer's close frame, once it arrived.
    pub fn peer_close(&self) -> PeerClose {
        match &self.peer_close {
            None => PeerClose::NoFrame,
            Some(None) => PeerClose::FrameWithoutCode,
            Some(Some(reason)) => PeerClose::Frame(reason.clone()),
        }
    }

    /// The protocol violation that failed the connection, if any (also
    /// reported once by [`Socket::poll_message`]).
    pub fn error(&self) -> Option<ProtocolError> {
        self.conn.error().copied()
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Received bytes the socket holds that the protocol core has not
    /// consumed yet: once [`Socket::poll_message`] returned `Ok(None)`, at
    /// most the start of one frame. For memory accounting and tests; the
    /// read buffer's capacity is what [`Socket::input_buffer`] shows.
    pub fn buffered_len(&self) -> usize {
        self.read_buf.len()
    }

    // ------------------------------------------------------------------ input

    /// Where the next read should go: `Some` when the socket wants it
    /// straight in its own buffer (the rest of a frame, or a large buffer
    /// kept for the next large message), already reserved for it. Append
    /// to its spare capacity only (for example with
    /// `tokio_util::io::poll_read_buf` or `BufMut::put_slice`), never change
    /// the bytes it holds, then call [`Socket::handle_read`]. `None`: read
    /// into a buffer of your own ([`READ_CHUNK`] bytes serve well) and pass
    /// what arrived to [`Socket::handle_data`], so an idle connection holds
    /// no read buffer.
    pub fn input_buffer(&mut self) -> Option<&mut BytesMut> {
        if self.conn.state() == State::Closed {
            return None;
        }
        if self.read_buf.is_empty() && !self.reuse_grown_read_buffer() {
            return None;
        }
        let needed = self.conn.bytes_needed(&self.read_buf);
        let needed = needed.min(self.reserve_cap());
        self.reserve_read((needed + READ_SLACK).max(READ_CHUNK));
        Some(&mut self.read_buf)
    }

    /// Takes note of bytes read straight into [`Socket::input_buffer`].
    pub fn handle_read(&mut self) {
        self.note_growth();
    }

    /// Takes in bytes read into a buffer of the driver's. Into an empty
    /// buffer, it first sizes the buffer for the frame they begin, as far
    /// as its header tells and what arrived justifies, so the rest of a
    /// large frame is read in place. Once the connection is closed, what
    /// still arrives is dropped.
    pub fn handle_data(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.conn.state() == State::Closed {
            return;
        }
        let rest = if self.read_buf.is_empty() {
            self.reuse_grown_read_buffer();
            self.conn
                .bytes_needed(bytes)
                .min(MIN_RESERVE_AHEAD.max(bytes.len()))
        } else {
            0
        };
        let slack = if rest > 0 { READ_SLACK } else { 0 };
        self.reserve_read(bytes.len() + rest + slack);
        append(&mut self.read_buf, bytes);
        self.note_growth();
    }

    /// The transport reached end of file: the peer will send nothing more.
    /// [`Socket::poll_message`] delivers what is still buffered, then
    /// reports how the connection ended ([`Error::AbnormalClosure`] without
    /// a close handshake).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// The transport failed (a read or write error): nothing more can be
    /// sent or received, and [`Socket::poll_transport`] says to close it.
    pub fn handle_transport_error(&mut self) {
        self.transport_failed = true;
    }

    /// Feeds the current time. Call it when [`Socket::poll_timeout`] has
    /// passed (calling it earlier is harmless). It queues heartbeat pings,
    /// fails the connection with 1011 when one goes unanswered, ends a close
    /// handshake the peer does not finish, bounds finishing, and lets go of
    /// a large read buffer the connection no longer needs.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timers = &mut self.timers;
        timers.core_pending = false;
        if std::mem::take(&mut timers.release_pending) && timers.release_buffer_at.is_none() {
            timers.release_buffer_at = Some(now + KEEP_GROWN_READ_BUFFER);
        }
        if timers.release_buffer_at.is_some_and(|at| at <= now) {
            // Still in use (part of a frame in it): look again later.
            let in_use = !self.release_idle_buffer();
            self.timers.release_buffer_at = in_use.then_some(now + KEEP_GROWN_READ_BUFFER);
        }
        self.conn
            .handle_timeout(now.saturating_duration_since(self.epoch));
        self.queue_transmits();
        if self.is_finishing() {
            let close_timeout = self.conn.config().close_timeout;
            let until = *self.timers.finish_until.get_or_insert(now + close_timeout);
            self.timers.finish_expired |= now >= until;
        }
    }

    // ------------------------------------------------------------------ output

    /// Processes buffered input until a message is complete (`Ok(Some)`) or
    /// more input is needed (`Ok(None)`). Pings are answered and closes
    /// echoed on their own (their frames are queued) and still reported.
    ///
    /// `Err(Error::ConnectionClosed)` once the connection ended cleanly;
    /// [`Error::Protocol`] when it failed (the close frame with the error's
    /// code is queued); [`Error::AbnormalClosure`] when the transport ended
    /// without a close handshake.
    pub fn poll_message(&mut self) -> Result<Option<Message>> {
        loop {
            if self.conn.state() == State::Closed && !self.conn.wants_transmit() {
                return Err(self.closed_error());
            }
            if self.read_buf.is_empty() {
                // The core produces nothing from no bytes (a frame needs at
                // least its 2-byte header): skip the call, which drivers make
                // before every read.
                self.queue_transmits();
                return self.end_of_input();
            }
            let base = self.read_buf.as_ptr() as usize;
            let received = match self.conn.receive(&mut self.read_buf) {
                Ok(received) => received,
                Err(error) => {
                    self.queue_transmits();
                    return Err(error.into());
                }
            };
            let consumed = received.consumed;
            let step = match received.event {
                None => ChunkOutcome::NeedMore,
                Some(Event::Data(chunk)) if chunk.rsv & RSV1 != 0 => {
                    inflate_chunk(&mut self.deflate, &mut self.inflated, &self.conn, &chunk)
                }
                Some(Event::Data(chunk)) if chunk.is_whole_message() => ChunkOutcome::Whole {
                    kind: chunk.kind,
                    start: chunk.payload.as_ptr() as usize - base,
                    len: chunk.payload.len(),
                },
                Some(Event::Data(chunk)) => {
                    ChunkOutcome::Ready(assemble(&mut self.partial, &chunk))
                }
                Some(Event::Ping(payload)) => {
                    ChunkOutcome::Ready(Some(Message::Ping(Bytes::copy_from_slice(payload))))
                }
                Some(Event::Pong(payload)) => {
                    ChunkOutcome::Ready(Some(Message::Pong(Bytes::copy_from_slice(payload))))
                }
                Some(Event::Close(frame)) => {
                    let reason = frame.map(|f| CloseReason {
                        code: f.code,
                        reason: f.reason.to_owned(),
                    });
                    self.peer_close = Some(reason.clone());
                    ChunkOutcome::Ready(Some(Message::Close(reason)))
                }
                Some(_) => ChunkOutcome::Ready(None),
            };
            self.queue_transmits();
            match step {
                ChunkOutcome::Failed(error) => {
                    let error = self.conn.fail(error);
                    self.queue_transmits();
                    return Err(error.into());
                }
                ChunkOutcome::NeedMore => {
                    self.read_buf.advance(consumed);
                    return self.end_of_input();
                }
                ChunkOutcome::Whole { kind, start, len } => {
                    // Hand the payload out without copying: split its frame
                    // off the buffer and keep the payload's part.
                    let mut payload = self.read_buf.split_to(consumed);
                    payload.advance(start);
                    payload.truncate(len);
                    return Ok(Some(data_message(kind, payload.freeze())));
                }
                ChunkOutcome::Ready(message) => {
                    self.read_buf.advance(consumed);
                    if message.is_some() {
                        return Ok(message);
                    }
                }
            }
        }
    }

    /// Bytes waiting to be written.
    pub fn transmit_len(&self) -> usize {
        self.out.len()
    }

    /// Calls `write` with the front of the transmit queue as I/O slices
    /// and returns what it returns; report what was written with
    /// [`Socket::advance_transmit`]. When the queue is one contiguous slice
    /// (the usual case) `write` gets exactly one, so a driver can make a
    /// plain `write`, which costs the kernel less than a one-element
    /// `writev`.
    pub fn with_transmit<R>(&self, write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
        self.out.with_io_slices(write)
    }

    /// Drops `written` bytes from the front of the transmit queue.
    pub fn advance_transmit(&mut self, written: usize) {
        self.out.advance(written);
        self.urgent &= !self.out.is_empty();
    }

    /// Whether the queue holds a frame the protocol produced on its own (a
    /// pong, a close reply or a failure's close, a heartbeat ping): write
    /// it now rather than with the next batch of messages. Data messages
    /// the application sends are not urgent, so that an echo of everything
    /// one read brought leaves in one write.
    pub fn has_urgent_transmit(&self) -> bool {
        self.urgent
    }

    /// Whether so much is queued (more than 128 KiB) that a writer should
    /// write it out before queueing more, so a peer that reads slowly
    /// cannot make the queue grow without bound.
    pub fn is_send_buffer_full(&self) -> bool {
        self.out.len() > WRITE_HIGH_WATER
    }

    /// When [`Socket::handle_timeout`] must next be called; `None` when no
    /// timer runs. A moment in the past means at once.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = &self.timers;
        if timers.core_pending || timers.release_pending {
            return Some(self.epoch);
        }
        let core = self.conn.poll_timeout().map(|at| self.epoch + at);
        let finish = match self.is_finishing() {
            true if timers.finish_until.is_none() => Some(self.epoch),
            true if !timers.finish_expired => timers.finish_until,
            _ => None,
        };
        [core, finish, timers.release_buffer_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// What to do with the transport: keep it, finish, or close it now.
    pub fn poll_transport(&self) -> TransportStatus {
        if self.transport_failed || self.timers.finish_expired {
            return TransportStatus::Close;
        }
        if !self.is_finishing() {
            return TransportStatus::Open;
        }
        if self.out.is_empty() && (self.eof || self.conn.role() == Role::Server) {
            // A server closes TCP first (RFC 6455 §7.1.1); after end of file
            // there is nothing left to wait for.
            return TransportStatus::Close;
        }
        TransportStatus::Finishing
    }

    // ------------------------------------------------------------------ commands

    /// Queues a message. Data messages are compressed when
    /// permessage-deflate is in use; [`Message::Close`] starts the close
    /// handshake (as [`Socket::close`] does).
    pub fn send(&mut self, message: Message) -> Result<()> {
        match message {
            Message::Text(text) => self.send_data(OpCode::Text, text.into_bytes()),
            Message::Binary(data) => self.send_data(OpCode::Binary, data),
            Message::Ping(payload) => {
                let frame = self.conn.ping(&payload)?;
                self.out.push_copy(&frame);
                Ok(())
            }
            Message::Pong(payload) => {
                let frame = self.conn.pong(&payload)?;
                self.out.push_copy(&frame);
                Ok(())
            }
            Message::Close(reason) => {
                let (code, text) = match &reason {
                    Some(r) => (r.code, r.reason.as_str()),
                    None => (CloseCode::NORMAL, ""),
                };
                self.close(code, text)
            }
        }
    }

    /// Starts the close handshake: queues our close frame and starts the
    /// close timeout (so [`Socket::poll_timeout`] asks for the time at once).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        let frame = self.conn.close(code, reason)?;
        self.out.push_copy(&frame);
        self.timers.core_pending = true;
        self.urgent = true;
        Ok(())
    }

    /// Queues a [`PreparedMessage`] by reference: on a server the frame
    /// built once for every recipient (or, with permessage-deflate whose
    /// compressor resets per message, the frame compressed once for this
    /// connection's window and level) is queued without a copy, after the
    /// protocol core checked that a message may be sent now. A compressor
    /// that keeps its context compresses the message itself, as
    /// [`Socket::send`] would; a client masks it with its own key. Either
    /// way the peer receives the same message.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        if self.conn.role() == Role::Client {
            return self.send_data(message.opcode(), message.payload().clone());
        }
        let opcode = message.opcode();
        let shared = match self.deflate.as_deref() {
            Some(deflate) if deflate.should_compress(message.payload().len()) => {
                match deflate.shared() {
                    Some(key) => Some(key),
                    // Context takeover: this connection's own compressor.
                    None => return self.send_data(opcode, message.payload().clone()),
                }
            }
            _ => None,
        };
        let (frame, header) = match shared {
            Some(key) => {
                if self.conn.state() != State::Open {
                    return Err(SendError::CloseAlreadySent.into());
                }
                let (frame, payload_len) = message.compressed_frame(key);
                let header =
                    self.conn
                        .data_frame_header_with_rsv(opcode, true, payload_len, RSV1)?;
                (frame, header)
            }
            None => {
                let frame = message.frame().clone();
                let payload_len = message.payload().len();
                (
                    frame,
                    self.conn.data_frame_header(opcode, true, payload_len)?,
                )
            }
        };
        // The core's header for this send is the prepared one: a server
        // does not mask.
        debug_assert!(frame.starts_with(header.bytes()) && header.mask_key().is_none());
        self.out.push_shared(frame);
        Ok(())
    }

    fn send_data(&mut self, opcode: OpCode, payload: Bytes) -> Result<()> {
        let payload = match self.deflate.as_mut() {
            Some(deflate) if deflate.should_compress(payload.len()) => {
                // Check first: a message compressed but not sent would put the
                // compressor's context out of step with the peer's.
                if self.conn.state() != State::Open {
                    return Err(SendError::CloseAlreadySent.into());
                }
                let mut compressed = Vec::with_capacity(payload.len() / 2 + 64);
                deflate.deflate(&payload, &mut compressed);
                let header =
                    self.conn
                        .data_frame_header_with_rsv(opcode, true, compressed.len(), RSV1)?;
                self.queue_frame(header, Bytes::from(compressed));
                return Ok(());
            }
            _ => payload,
        };
        let header = self.conn.data_frame_header(opcode, true, payload.len())?;
        self.queue_frame(header, payload);
        Ok(())
    }

    /// Queues a frame: the header, then the payload (masked for a client).
    fn queue_frame(&mut self, header: OutgoingHeader, payload: Bytes) {
        self.out.push_copy(header.bytes());
        if header.mask_key().is_some() {
            let body = self.out.push_copy_mut(&payload);
            header.mask_payload(body, 0);
        } else {
            self.out.push_bytes(payload);
        }
    }

    // ------------------------------------------------------------------ internals

    /// The WebSocket is closed, or our close is out and the peer stopped
    /// sending: what is left is writing out the queue (and a client's wait
    /// for the server's FIN), bounded by the close timeout from when it
    /// began.
    fn is_finishing(&self) -> bool {
        match self.conn.state() {
            State::Closed => true,
            // Our close is out and the peer stopped sending: its answer
            // will never come.
            State::CloseSent => self.eof,
            // The peer stopped sending without a close (1006). It may
            // still read (a half-close), so the transport stays until the
            // application closes (its close frame still goes out) or drops
            // the connection.
            _ => false,
        }
    }

    /// The error for reading from a connection that is done.
    fn closed_error(&self) -> Error {
        match self.conn.error() {
            Some(error) => Error::Protocol(*error),
            None => Error::ConnectionClosed,
        }
    }

    /// Nothing more can be made of the buffered bytes: wait for more, or,
    /// after end of file, say how the connection ended.
    fn end_of_input(&self) -> Result<Option<Message>> {
        if !self.eof {
            return Ok(None);
        }
        match self.conn.state() {
            State::Closed => Err(self.closed_error()),
            _ => Err(Error::AbnormalClosure),
        }
    }

    fn queue_transmits(&mut self) {
        if !self.conn.wants_transmit() {
            return;
        }
        while let Some(frame) = self.conn.poll_transmit() {
            self.out.push_copy(&frame);
        }
        self.urgent = true;
    }

    /// After a read: a buffer grown large enough to keep starts its keep
    /// timer.
    fn note_growth(&mut self) {
        if self.read_buf_grown
            && self.timers.release_buffer_at.is_none()
            && self.read_buf.capacity() >= REUSABLE_READ_BUFFER
        {
            self.timers.release_pending = true;
        }
    }

    /// Whether the read buffer grew beyond [`READ_CHUNK`] and was not
    /// released since.
    #[cfg(test)]
    pub(crate) fn holds_grown_read_buffer(&self) -> bool {
        self.read_buf_grown
    }

    /// When a kept read buffer is let go, if one is kept.
    #[cfg(test)]
    pub(crate) fn release_deadline(&self) -> Option<Instant> {
        self.timers.release_buffer_at
    }

    /// The most the buffer may be reserved ahead of what it holds.
    fn reserve_cap(&self) -> usize {
        MIN_RESERVE_AHEAD.max(self.read_buf.len())
    }

    /// Lets go of a read buffer that grew beyond [`READ_CHUNK`], once it is
    /// empty, so an idle connection goes back to holding almost nothing; a
    /// payload still in use keeps the allocation alive on its own. Returns
    /// `false` while the buffer is in use (holds part of a frame).
    fn release_idle_buffer(&mut self) -> bool {
        if !self.read_buf_grown {
            return true;
        }
        if !self.read_buf.is_empty() {
            return false;
        }
        self.read_buf = BytesMut::new();
        self.read_buf_grown = false;
        true
    }

    /// Makes an empty grown read buffer ready to read into from its start,
    /// so that the next large message arrives in one read, in place.
    /// `false` if there is none, or if a payload still shares it (which then
    /// keeps the allocation to itself).
    fn reuse_grown_read_buffer(&mut self) -> bool {
        if !self.read_buf_grown || !self.read_buf.is_empty() {
            return false;
        }
        // Kept only while its release timer runs: `note_growth` judged it too
        // small when bytes consumed at its front hid part of the allocation,
        // which `try_reclaim` would count, and no timer would ever let it go.
        let kept = self.timers.release_pending || self.timers.release_buffer_at.is_some();
        if kept && self.read_buf.try_reclaim(REUSABLE_READ_BUFFER) {
            return true;
        }
        // Too small to keep, or a payload still shares it.
        self.release_idle_buffer();
        false
    }

    /// Reserves room in the read buffer, noting when it grows large.
    fn reserve_read(&mut self, additional: usize) {
        self.read_buf.reserve(additional);
        self.read_buf_grown |= self.read_buf.capacity() > READ_CHUNK;
    }
}

/// What one `receive` call produced, detached from the buffer's borrow.
enum ChunkOutcome {
    NeedMore,
    /// A whole message at `start..start + len` of the read buffer.
    Whole {
        kind: MessageKind,
        start: usize,
        len: usize,
    },
    /// A message built from copies (or nothing yet).
    Ready(Option<Message>),
    /// A layer above the core (permessage-deflate) refused the message.
    Failed(ProtocolError),
}

/// Inflates a chunk of a compressed message (RSV1 set on its first frame);
/// the message is ready when the chunk ends it.
fn inflate_chunk<K: MaskKeySource>(
    deflate: &mut Option<Box<PerMessageDeflate>>,
    inflated: &mut Vec<u8>,
    conn: &Connection<K>,
    chunk: &DataChunk<'_>,
) -> ChunkOutcome {
    let max = conn.config().max_message_size;
    let Some(deflate) = deflate.as_mut() else {
        // RSV1 is only legal when deflate was negotiated.
        return ChunkOutcome::Failed(ProtocolError::Frame(FrameError::ReservedBitsSet(chunk.rsv)));
    };
    match deflate.inflate(chunk, inflated, max) {
        Err(error) => ChunkOutcome::Failed(error),
        Ok(()) if chunk.message_end => {
            let data = Bytes::from(core::mem::take(inflated));
            ChunkOutcome::Ready(Some(data_message(chunk.kind, data)))
        }
        Ok(()) => ChunkOutcome::Ready(None),
    }
}

/// Adds a chunk of a fragmented (or partially delivered) message to the
/// one being assembled; the message when the chunk ends it. The core
/// bounds the total at [`Config::max_message_size`].
fn assemble(
    partial: &mut Option<(MessageKind, BytesMut)>,
    chunk: &DataChunk<'_>,
) -> Option<Message> {
    let (_, data) = partial.get_or_insert_with(|| (chunk.kind, BytesMut::new()));
    append(data, chunk.payload);
    if !chunk.message_end {
        return None;
    }
    partial
        .take()
        .map(|(kind, data)| data_message(kind, data.freeze()))
}

/// Appends `src` to `buf`, in pieces where one `memcpy` would hit its
/// 4 KiB-aliasing slow path (see [`ws13_codec::copy`]).
fn append(buf: &mut BytesMut, src: &[u8]) {
    buf.reserve(src.len());
    let end = buf.as_ptr().wrapping_add(buf.len());
    for piece in copy_pieces(src, end) {
        buf.extend_from_slice(piece);
    }
}

fn data_message(kind: MessageKind, payload: Bytes) -> Message {
    match kind {
        MessageKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
        MessageKind::Binary => Message::Binary(payload),
    }
}

#[cfg(test)]
mod tests;
