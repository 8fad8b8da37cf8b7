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

pub(crate) struct Session<K> {
    pub(crate) conn: Connection<K>,
    /// Received bytes not yet consumed by the core.
    pub(crate) read_buf: BytesMut,
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
                    // Hand the payload out without copying: split it off the buffer.
                    self.read_buf.advance(start);
                    let payload = self.read_buf.split_to(len).freeze();
                    self.read_buf.advance(consumed - start - len);
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
        self.conn.poll_timeout().map(|at| self.epoch + at)
    }

    /// How long until the deadline (zero if passed), or `None`.
    pub(crate) fn time_to_deadline(&self) -> Option<Duration> {
        self.deadline()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn queue_transmits(&mut self) {
        while let Some(frame) = self.conn.poll_transmit() {
            self.out.push_copy(&frame);
        }
    }

    /// Drops a read buffer that a large message left big, once it is empty,
    /// so an idle connection goes back to holding almost nothing.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the tokio driver")
    )]
    pub(crate) fn release_idle_buffer(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > READ_CHUNK {
            self.read_buf = bytes::BytesMut::new();
        }
    }

    /// Makes room for the next read: at least what the current frame needs,
    /// capped so that a large frame grows the buffer in steps.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the tokio driver")
    )]
    pub(crate) fn reserve_for_read(&mut self) {
        let needed = self
            .conn
            .bytes_needed(&self.read_buf)
            .clamp(READ_CHUNK, 16 << 20);
        self.read_buf.reserve(needed);
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
