//! The glue between byte buffers and the protocol core, shared by the blocking
//! and async drivers. It owns the buffers and converts events into owned
//! messages; every protocol rule stays in [`ws13_codec::Connection`]. No I/O
//! happens here: drivers fill `read_buf` and drain `out`.

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use ws13_codec::copy::copy_pieces;
use ws13_codec::deflate::{DeflateSettings, PerMessageDeflate};
use ws13_codec::frame::FrameError;
use ws13_codec::frame::{OpCode, RSV1};
use ws13_codec::{
    CloseCode, Config, Connection, Event, MaskKeySource, MessageKind, ProtocolError, Role,
    SendError, State,
};
use ws13_handshake::permessage_deflate::DeflateParams;

use crate::error::{Error, Result};
use crate::message::{CloseReason, Message, Utf8Bytes};
use crate::out_queue::OutQueue;

/// Above this many queued bytes a writer should wait for the transport.
pub(crate) const WRITE_HIGH_WATER: usize = 128 * 1024;

/// The read buffer's starting size and how much it reserves per read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Room reserved beyond the rest of the current frame. A read that fills the
/// buffer exactly leaves the transport's readiness set, so the next read
/// returns nothing but `EAGAIN`: with some room to spare, the read that
/// completes a large frame comes back short and the next one waits for
/// readiness instead (one `recvfrom` less per 64 KiB message here).
const READ_SLACK: usize = 4096;

/// A grown read buffer at least this large is worth reading the next
/// message into (the tokio driver keeps one for a while, see
/// `KEEP_GROWN_READ_BUFFER`); a smaller one, grown only because a short frame
/// arrived in pieces, is let go as soon as it is empty.
const REUSABLE_READ_BUFFER: usize = 2 * READ_CHUNK;

/// The most the read buffer reserves at once for a frame's announced length;
/// a larger frame grows the buffer in steps as its bytes arrive.
const MAX_RESERVE: usize = 16 << 20;

pub(crate) struct Session<K> {
    pub(crate) conn: Connection<K>,
    /// Received bytes not yet consumed by the core.
    pub(crate) read_buf: BytesMut,
    /// `read_buf` was reserved beyond [`READ_CHUNK`] since it was last
    /// released: only then can an idle connection have a large buffer to
    /// give back, so the check is skipped on the reads of small messages.
    read_buf_grown: bool,
    /// Bytes to write.
    pub(crate) out: OutQueue,
    /// A fragmented message being reassembled.
    partial: Option<(MessageKind, BytesMut)>,
    /// The time base for the core's timers.
    epoch: Instant,
    /// The transport reached end of file.
    pub(crate) eof: bool,
    /// permessage-deflate, when negotiated; boxed, so the many connections
    /// without it do not carry its 344 bytes.
    deflate: Option<Box<PerMessageDeflate>>,
    /// The compressed message being inflated.
    inflated: Vec<u8>,
}

/// The connection configuration and compression state for what the handshake
/// agreed: RSV1 becomes legal only when permessage-deflate was negotiated.
pub(crate) fn negotiated(
    role: Role,
    mut config: Config,
    agreed: Option<&DeflateParams>,
    settings: DeflateSettings,
) -> (Config, Option<PerMessageDeflate>) {
    let Some(agreed) = agreed else {
        return (config, None);
    };
    config.allowed_rsv |= RSV1;
    let params = ws13_codec::deflate::DeflateParams {
        server_no_context_takeover: agreed.server_no_context_takeover,
        client_no_context_takeover: agreed.client_no_context_takeover,
        server_max_window_bits: agreed.server_max_window_bits,
        client_max_window_bits: agreed.client_max_window_bits,
    };
    (config, Some(PerMessageDeflate::new(role, params, settings)))
}

impl<K: MaskKeySource> Session<K> {
    pub(crate) fn new(
        conn: Connection<K>,
        leftover: &[u8],
        deflate: Option<PerMessageDeflate>,
    ) -> Self {
        let mut session = Session {
            conn,
            read_buf: BytesMut::from(leftover),
            read_buf_grown: false,
            out: OutQueue::default(),
            partial: None,
            epoch: Instant::now(),
            eof: false,
            deflate: deflate.map(Box::new),
            inflated: Vec::new(),
        };
        session.handle_timeout();
        session
    }

    /// Processes buffered input until a message is complete (`Some`) or more
    /// input is needed (`None`). Frames the core produces on its own are queued
    /// in `out`; on a protocol error the failing close frame is queued too.
    pub(crate) fn next_message(&mut self) -> Result<Option<Message>> {
        loop {
            if self.conn.state() == State::Closed && !self.conn.wants_transmit() {
                return Err(self.closed_error());
            }
            if self.read_buf.is_empty() {
                // The core produces nothing from no bytes (a frame needs at
                // least its 2-byte header): skip the call, which drivers make
                // before every read.
                self.queue_transmits();
                return Ok(None);
            }
            let base = self.read_buf.as_ptr() as usize;
            let result = self.conn.receive(&mut self.read_buf);
            let (consumed, step) = match result {
                Err(error) => {
                    self.queue_transmits();
                    return Err(error.into());
                }
                Ok(received) => {
                    let step = match received.event {
                        None => Step::NeedMore,
                        Some(Event::Data(chunk)) if chunk.rsv & RSV1 != 0 => {
                            let max = self.conn.config().max_message_size;
                            match self.deflate.as_mut() {
                                // RSV1 is only legal when deflate was negotiated.
                                None => Step::Failed(ProtocolError::Frame(
                                    FrameError::ReservedBitsSet(chunk.rsv),
                                )),
                                Some(deflate) => {
                                    match deflate.inflate(&chunk, &mut self.inflated, max) {
                                        Err(error) => Step::Failed(error),
                                        Ok(()) if chunk.message_end => {
                                            let data =
                                                Bytes::from(core::mem::take(&mut self.inflated));
                                            Step::Ready(Some(data_message(chunk.kind, data)))
                                        }
                                        Ok(()) => Step::Ready(None),
                                    }
                                }
                            }
                        }
                        Some(Event::Data(chunk)) if chunk.is_whole_message() => Step::Whole {
                            kind: chunk.kind,
                            start: chunk.payload.as_ptr() as usize - base,
                            len: chunk.payload.len(),
                        },
                        Some(Event::Data(chunk)) => {
                            let partial = self
                                .partial
                                .get_or_insert_with(|| (chunk.kind, BytesMut::new()));
                            append(&mut partial.1, chunk.payload);
                            let message = if chunk.message_end {
                                self.partial.take()
                            } else {
                                None
                            };
                            Step::Ready(
                                message.map(|(kind, data)| data_message(kind, data.freeze())),
                            )
                        }
                        Some(Event::Ping(payload)) => {
                            Step::Ready(Some(Message::Ping(Bytes::copy_from_slice(payload))))
                        }
                        Some(Event::Pong(payload)) => {
                            Step::Ready(Some(Message::Pong(Bytes::copy_from_slice(payload))))
                        }
                        Some(Event::Close(frame)) => {
                            Step::Ready(Some(Message::Close(frame.map(|f| CloseReason {
                                code: f.code,
                                reason: f.reason.to_owned(),
                            }))))
                        }
                        Some(_) => Step::Ready(None),
                    };
                    (received.consumed, step)
                }
            };
            self.queue_transmits();
            match step {
                Step::Failed(error) => {
                    let error = self.conn.fail(error);
                    self.queue_transmits();
                    return Err(error.into());
                }
                Step::NeedMore => {
                    self.read_buf.advance(consumed);
                    return Ok(None);
                }
                Step::Whole { kind, start, len } => {
                    // Hand the payload out without copying: split its frame
                    // off the buffer and keep the payload's part.
                    let mut payload = self.read_buf.split_to(consumed);
                    payload.advance(start);
                    payload.truncate(len);
                    let payload = payload.freeze();
                    return Ok(Some(data_message(kind, payload)));
                }
                Step::Ready(message) => {
                    self.read_buf.advance(consumed);
                    if message.is_some() {
                        return Ok(message);
                    }
                }
            }
        }
    }

    /// The error for reading from a connection that is done.
    pub(crate) fn closed_error(&self) -> Error {
        match self.conn.error() {
            Some(error) => Error::Protocol(*error),
            None => Error::ConnectionClosed,
        }
    }

    /// Called when the transport hit end of file: is that a clean end?
    pub(crate) fn eof_error(&mut self) -> Error {
        self.eof = true;
        match self.conn.state() {
            State::Closed => self.closed_error(),
            _ => Error::AbnormalClosure,
        }
    }

    /// Queues a message for sending.
    pub(crate) fn send(&mut self, message: Message) -> Result<()> {
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
    fn queue_frame(&mut self, header: ws13_codec::OutgoingHeader, payload: Bytes) {
        self.out.push_copy(header.bytes());
        if header.mask_key().is_some() {
            let body = self.out.push_copy_mut(&payload);
            header.mask_payload(body, 0);
        } else {
            self.out.push_bytes(payload);
        }
    }

    /// Queues our close frame and arms the close timeout.
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        let frame = self.conn.close(code, reason)?;
        self.out.push_copy(&frame);
        self.handle_timeout();
        Ok(())
    }

    /// Feeds the clock to the core and queues what it produces.
    pub(crate) fn handle_timeout(&mut self) {
        self.conn.handle_timeout(self.epoch.elapsed());
        self.queue_transmits();
    }

    /// When the core next needs [`Session::handle_timeout`].
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.conn.poll_timeout().map(|at| self.instant_at(at))
    }

    /// The instant of a time on the core's clock.
    pub(crate) fn instant_at(&self, at: Duration) -> Instant {
        self.epoch + at
    }

    /// How long until the deadline (zero if passed), or `None`.
    pub(crate) fn time_to_deadline(&self) -> Option<Duration> {
        self.deadline()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn queue_transmits(&mut self) {
        if !self.conn.wants_transmit() {
            return;
        }
        while let Some(frame) = self.conn.poll_transmit() {
            self.out.push_copy(&frame);
        }
    }

    /// Lets go of a read buffer that grew beyond [`READ_CHUNK`], once it is
    /// empty, so an idle connection goes back to holding almost nothing; a
    /// payload still in use keeps the allocation alive on its own. Returns
    /// `false` while the buffer is in use (holds part of a frame).
    pub(crate) fn release_idle_buffer(&mut self) -> bool {
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

    /// Whether the read buffer grew beyond [`READ_CHUNK`] and was not
    /// released since.
    #[cfg(test)]
    pub(crate) fn holds_grown_read_buffer(&self) -> bool {
        self.read_buf_grown
    }

    /// Whether the read buffer grew large enough to be kept for the next
    /// message ([`REUSABLE_READ_BUFFER`]). Asked right after a read, while
    /// the buffer still holds what arrived, so its view's `capacity` is the
    /// allocation's.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the tokio driver")
    )]
    pub(crate) fn holds_reusable_read_buffer(&self) -> bool {
        self.read_buf_grown && self.read_buf.capacity() >= REUSABLE_READ_BUFFER
    }

    /// Makes an empty grown read buffer ready to read into from its start,
    /// so that the next large message arrives in one read, in place.
    /// `false` if there is none, or if a payload still shares it (which then
    /// keeps the allocation to itself).
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the tokio driver")
    )]
    pub(crate) fn reuse_grown_read_buffer(&mut self) -> bool {
        if !self.read_buf_grown || !self.read_buf.is_empty() {
            return false;
        }
        if self.read_buf.try_reclaim(REUSABLE_READ_BUFFER) {
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

    /// Whether the read buffer owns more than [`READ_CHUNK`] bytes of room,
    /// whatever its view's `capacity` says (which counts only the room after
    /// the view; `try_reclaim` sees the whole allocation).
    #[cfg(test)]
    fn owns_large_read_buffer(&mut self) -> bool {
        self.read_buf.capacity() > READ_CHUNK || self.read_buf.try_reclaim(READ_CHUNK + 1)
    }

    /// Takes in bytes that were read elsewhere (a scratch buffer). Into an
    /// empty buffer, it first sizes the buffer for the whole frame they
    /// begin, as far as its header tells, so the rest of a large frame is
    /// read in place instead of growing the buffer and copying again.
    pub(crate) fn take_read(&mut self, bytes: &[u8]) {
        let rest = if self.read_buf.is_empty() {
            self.conn.bytes_needed(bytes).min(MAX_RESERVE)
        } else {
            0
        };
        let slack = if rest > 0 { READ_SLACK } else { 0 };
        self.reserve_read(bytes.len() + rest + slack);
        append(&mut self.read_buf, bytes);
    }

    /// Makes room for the next read: at least what the current frame needs
    /// plus [`READ_SLACK`], capped so that a huge frame grows the buffer in
    /// steps.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the tokio driver")
    )]
    pub(crate) fn reserve_for_read(&mut self) {
        let needed = self.conn.bytes_needed(&self.read_buf).min(MAX_RESERVE);
        self.reserve_read((needed + READ_SLACK).max(READ_CHUNK));
    }
}

/// What one `receive` call produced, detached from the buffer's borrow.
enum Step {
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

/// Appends `src` to `buf`, in pieces where one `memcpy` would hit its
/// 4 KiB-aliasing slow path (see [`ws13_codec::copy`]).
pub(crate) fn append(buf: &mut BytesMut, src: &[u8]) {
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
mod tests {
    use super::*;
    use crate::mask_keys::OsMaskKeys;

    /// Masked client frames carrying `payload`, split into `fragments` frames.
    fn client_frames(payload: &[u8], fragments: usize) -> Vec<u8> {
        let mut client = Connection::client(Config::default(), OsMaskKeys::new());
        let mut out = Vec::new();
        let piece = payload.len().div_ceil(fragments);
        for (i, chunk) in payload.chunks(piece).enumerate() {
            let opcode = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            let fin = (i + 1) * piece >= payload.len();
            let mut frame = vec![0; chunk.len() + 14];
            let len = client
                .encode_data_frame(opcode, fin, chunk, &mut frame)
                .unwrap();
            out.extend_from_slice(&frame[..len]);
        }
        out
    }

    fn server() -> Session<ws13_codec::role::NoMasking> {
        Session::new(Connection::server(Config::default()), &[], None)
    }

    #[test]
    fn a_grown_buffer_is_reused_once_its_payload_is_gone_and_released_on_request() {
        let payload = vec![7u8; 64 * 1024];
        let mut session = server();
        session.take_read(&client_frames(&payload, 1));
        let message = session.next_message().unwrap().unwrap();
        assert_eq!(message, Message::binary(payload.clone()));
        // Shared with the payload: not reusable, so let go of.
        assert!(!session.reuse_grown_read_buffer());
        assert!(!session.owns_large_read_buffer());
        assert!(!session.holds_grown_read_buffer());
        assert_eq!(message, Message::binary(payload.clone()));

        session.take_read(&client_frames(&payload, 1));
        drop(session.next_message().unwrap().unwrap());
        // The payload is gone: the whole allocation is there to read into.
        assert!(session.reuse_grown_read_buffer());
        assert!(session.read_buf.capacity() > payload.len());
        assert!(session.release_idle_buffer());
        assert!(!session.owns_large_read_buffer());
    }

    #[test]
    fn a_buffer_grown_for_a_short_frame_in_pieces_is_not_kept() {
        let frame = client_frames(b"a short message", 1);
        let mut session = server();
        session.take_read(&frame[..5]);
        assert_eq!(session.next_message().unwrap(), None);
        // Room for more than the frame: the buffer grows past READ_CHUNK.
        session.reserve_for_read();
        append(&mut session.read_buf, &frame[5..]);
        assert!(session.holds_grown_read_buffer());
        assert!(!session.holds_reusable_read_buffer());
        assert_eq!(
            session.next_message().unwrap(),
            Some(Message::binary(b"a short message".to_vec()))
        );
        assert!(!session.reuse_grown_read_buffer());
        assert!(!session.owns_large_read_buffer());
    }

    #[test]
    fn a_buffer_holding_part_of_a_frame_is_not_released() {
        let frame = client_frames(&vec![1u8; 64 * 1024], 1);
        let mut session = server();
        session.take_read(&frame[..READ_CHUNK]);
        assert_eq!(session.next_message().unwrap(), None);
        assert!(!session.release_idle_buffer());
        assert!(session.holds_grown_read_buffer());
    }

    #[test]
    fn an_idle_buffer_is_released_after_a_large_fragmented_message() {
        let payload: Vec<u8> = (0..80 * 1024).map(|i| i as u8).collect();
        let mut session = server();
        session.take_read(&client_frames(&payload, 2));
        assert_eq!(
            session.next_message().unwrap().unwrap(),
            Message::binary(payload)
        );
        assert!(session.read_buf.is_empty());
        // The fragments were copied out; the buffer looks small but still
        // owns the allocation they arrived in, until the connection goes idle.
        session.release_idle_buffer();
        assert!(!session.owns_large_read_buffer());
    }

    #[test]
    fn the_first_read_of_a_large_frame_reserves_room_for_all_of_it() {
        let frame = client_frames(&vec![1u8; 64 * 1024], 1);
        let mut session = server();
        session.take_read(&frame[..READ_CHUNK]);
        // Room for all of it and more: the read that completes the frame
        // comes back short, which tells the transport it drained the socket.
        assert!(session.read_buf.capacity() > frame.len());
        assert_eq!(session.next_message().unwrap(), None);
        let before = session.read_buf.as_ptr();
        session.reserve_for_read();
        let spare = session.read_buf.capacity() - session.read_buf.len();
        assert!(spare > frame.len() - READ_CHUNK);
        append(&mut session.read_buf, &frame[READ_CHUNK..]);
        // The rest landed in the same allocation: no grow-and-copy.
        assert_eq!(session.read_buf.as_ptr(), before);
        assert_eq!(
            session.next_message().unwrap(),
            Some(Message::binary(vec![1u8; 64 * 1024]))
        );
    }

    #[test]
    fn small_messages_keep_reusing_one_small_buffer() {
        let mut session = server();
        let mut first_buffer = None;
        for round in 0..3u8 {
            let frames: Vec<u8> = (0..8)
                .flat_map(|_| client_frames(&[round; 16], 1))
                .collect();
            session.release_idle_buffer();
            session.take_read(&frames);
            // Every round reads into the allocation of the first: no
            // allocation per read once the echoed payloads are gone.
            let buffer = session.read_buf.as_ptr();
            assert_eq!(*first_buffer.get_or_insert(buffer), buffer);
            for _ in 0..8 {
                assert_eq!(
                    session.next_message().unwrap(),
                    Some(Message::binary(vec![round; 16]))
                );
            }
            assert!(session.read_buf.is_empty());
            assert!(!session.owns_large_read_buffer());
        }
    }
}
