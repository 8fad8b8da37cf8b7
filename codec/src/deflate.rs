//! permessage-deflate (RFC 7692) compression and decompression, sans I/O
//! (feature `deflate`).
//!
//! The [`crate::Connection`] passes compressed messages through with RSV1 set
//! on their first chunk (it checks framing and RSV placement); this module
//! turns those chunks into plain bytes and back:
//!
//! * inflating stops at [`crate::Config::max_message_size`] of *decompressed*
//!   bytes (1009), so a deflate bomb never allocates more than the limit;
//!   corrupt data fails with 1007; decompressed text is UTF-8-checked as it
//!   comes out, failing fast;
//! * deflating strips the `00 00 FF FF` tail of the sync flush (§7.2.1) and
//!   resets the compressor per message when the peer asked for no context
//!   takeover.
//!
//! **Backend.** `flate2` on `zlib-rs` (pure Rust): it honours every window
//! size from 9 to 15 bits, which `miniz_oxide` cannot (it always compresses
//! with a 32 KiB window, so it could not obey `server_max_window_bits < 15`).
//! zlib's raw deflate has no 8-bit window; when 8 is negotiated ws13
//! compresses with 9, whose longest match distance (2^9 − 262 = 250 bytes)
//! fits the 256-byte window the peer asked for, so the stream is valid for it.
//! Decompression always uses a 32 KiB window, which inflates any window size.

use alloc::vec::Vec;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::ProtocolError;
use crate::event::{DataChunk, MessageKind};
use crate::role::Role;
use crate::utf8::Utf8Validator;

/// The tail a sync flush ends with, removed on the wire (RFC 7692 §7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

pub use crate::config::DeflateParams;

/// Compression settings of this endpoint. Start from
/// [`DeflateSettings::default`] and change what you need:
///
/// ```
/// use ws13_codec::deflate::DeflateSettings;
///
/// let settings = DeflateSettings::default().level(9).min_compress_len(256);
/// assert_eq!((settings.level, settings.min_compress_len), (9, 256));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateSettings {
    /// Messages shorter than this are sent uncompressed (the framing overhead
    /// outweighs the gain). Default 64 bytes.
    pub min_compress_len: usize,
    /// zlib compression level 0–9. Default 6 (zlib's default balance).
    pub level: u32,
}

impl Default for DeflateSettings {
    fn default() -> Self {
        DeflateSettings {
            min_compress_len: 64,
            level: 6,
        }
    }
}

impl DeflateSettings {
    /// Sets [`DeflateSettings::min_compress_len`]: messages shorter than this
    /// many bytes are sent uncompressed.
    #[must_use]
    pub const fn min_compress_len(mut self, bytes: usize) -> Self {
        self.min_compress_len = bytes;
        self
    }

    /// Sets [`DeflateSettings::level`]: the zlib compression level, 0 (store
    /// only, fastest) to 9 (smallest output, slowest); above 9 counts as 9.
    #[must_use]
    pub const fn level(mut self, level: u32) -> Self {
        self.level = level;
        self
    }
}

/// One connection's permessage-deflate state.
///
/// ```
/// use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
/// use ws13_codec::{DataChunk, MessageKind, Role};
///
/// let params = DeflateParams {
///     server_no_context_takeover: false,
///     client_no_context_takeover: false,
///     server_max_window_bits: 15,
///     client_max_window_bits: 15,
/// };
/// let mut server = PerMessageDeflate::new(Role::Server, params, DeflateSettings::default());
/// let mut client = PerMessageDeflate::new(Role::Client, params, DeflateSettings::default());
/// let mut compressed = Vec::new();
/// server.deflate(b"Hello", &mut compressed);
/// assert_eq!(compressed, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692 §7.2.3.1
/// let chunk = DataChunk { kind: MessageKind::Text, payload: &compressed, message_start: true, message_end: true, rsv: 0b100 };
/// let mut plain = Vec::new();
/// client.inflate(&chunk, &mut plain, 1 << 20).unwrap();
/// assert_eq!(plain, b"Hello");
/// ```
pub struct PerMessageDeflate {
    /// The zlib compressor, created on the first message that needs it (with
    /// feature `libdeflate` and no context takeover, maybe never).
    compressor: Option<Compress>,
    /// The window the compressor uses (9–15 bits).
    window_bits: u8,
    decompressor: Decompress,
    reset_compressor: bool,
    reset_decompressor: bool,
    settings: DeflateSettings,
    /// The message being inflated: its kind, decompressed length, text check.
    inflating: Option<(MessageKind, u64, Utf8Validator)>,
    /// Compressed bytes received for the message being inflated.
    compressed_len: usize,
}

impl core::fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("reset_compressor", &self.reset_compressor)
            .field("reset_decompressor", &self.reset_decompressor)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PerMessageDeflate {
    /// The state for `role` under the negotiated `params`.
    pub fn new(role: Role, params: DeflateParams, settings: DeflateSettings) -> Self {
        let (own_bits, reset_compressor, reset_decompressor) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_no_context_takeover,
            ),
        };
        let window_bits = own_bits.clamp(9, 15);
        PerMessageDeflate {
            compressor: None,
            window_bits,
            decompressor: Decompress::new_with_window_bits(false, 15),
            reset_compressor,
            reset_decompressor,
            settings,
            inflating: None,
            compressed_len: 0,
        }
    }

    /// Whether a message of `len` bytes is worth compressing.
    pub fn should_compress(&self, len: usize) -> bool {
        len >= self.settings.min_compress_len
    }

    /// Compresses one whole message, appending the payload to send (with RSV1
    /// on its first frame) to `out`.
    pub fn deflate(&mut self, message: &[u8], out: &mut Vec<u8>) {
        let level = self.settings.level.min(9);
        #[cfg(feature = "libdeflate")]
        if self.reset_compressor
            && message.len() <= crate::whole_message::max_len(self.window_bits)
            && crate::whole_message::deflate(level as u8, message, out)
        {
            // The same path as SharedDeflate::deflate: the same bytes.
            return;
        }
        let window_bits = self.window_bits;
        let compressor = self.compressor.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, window_bits)
        });
        deflate_message(compressor, message, out);
        if self.reset_compressor {
            compressor.reset();
        }
    }

    /// When this endpoint's compressor starts every message afresh (it
    /// resets after each: `server_no_context_takeover` for a server,
    /// `client_no_context_takeover` for a client), what its output depends
    /// on: then every connection with the same key compresses a message to
    /// the same bytes, and one compression ([`SharedDeflate::deflate`]) can
    /// serve them all. `None` with context takeover: the output depends on
    /// the messages sent before, so each connection compresses its own.
    pub fn shared(&self) -> Option<SharedDeflate> {
        self.reset_compressor.then_some(SharedDeflate {
            window_bits: self.window_bits,
            level: self.settings.level.min(9) as u8,
        })
    }

    /// Decompresses a chunk of a compressed message (the connection reported
    /// RSV1 on the message's first frame), appending to `out`, which holds
    /// the message so far. Fails with 1009 past `max_message_size`
    /// decompressed bytes, with 1007 on corrupt data or invalid UTF-8 text.
    /// The caller fails the connection with the error
    /// ([`crate::Connection::fail`]).
    pub fn inflate(
        &mut self,
        chunk: &DataChunk<'_>,
        out: &mut Vec<u8>,
        max_message_size: u64,
    ) -> Result<(), ProtocolError> {
        if chunk.message_start || self.inflating.is_none() {
            self.inflating = Some((chunk.kind, 0, Utf8Validator::new()));
            self.compressed_len = 0;
        }
        let fresh = out.len();
        self.compressed_len += chunk.payload.len();
        self.inflate_bytes(chunk.payload, out, max_message_size)?;
        // An empty compressed payload is an empty message from a peer that
        // skipped the 0x00 block header: the tail alone would desynchronise
        // the stream.
        if chunk.message_end && self.compressed_len > 0 {
            self.inflate_bytes(&SYNC_TAIL, out, max_message_size)?;
        }
        let Some((kind, _, utf8)) = &mut self.inflating else {
            return Ok(());
        };
        if *kind == MessageKind::Text {
            let valid =
                utf8.feed(&out[fresh..]).is_ok() && (!chunk.message_end || utf8.finish().is_ok());
            if !valid {
                self.inflating = None;
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        if chunk.message_end {
            self.inflating = None;
            if self.reset_decompressor {
                self.decompressor.reset(false);
            }
        }
        Ok(())
    }

    fn inflate_bytes(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: u64,
    ) -> Result<(), ProtocolError> {
        loop {
            let produced = self.inflating.map_or(0, |(_, produced, _)| produced);
            // Never hold room for more than the limit allows (plus one byte to
            // notice an overflow): a bomb cannot make us allocate past it.
            let allowed = usize::try_from(max.saturating_sub(produced).saturating_add(1))
                .unwrap_or(usize::MAX);
            let room = (input.len() * 4).max(4096).max(out.len()).min(allowed);
            if out.capacity() - out.len() < room.clamp(1, 1024) {
                out.reserve_exact(room);
            }
            let (in_before, out_before) =
                (self.decompressor.total_in(), self.decompressor.total_out());
            let status = self
                .decompressor
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| ProtocolError::InvalidCompressedData)?;
            let consumed = (self.decompressor.total_in() - in_before) as usize;
            let made = self.decompressor.total_out() - out_before;
            input = &input[consumed..];
            let total = produced + made;
            if let Some((_, produced, _)) = &mut self.inflating {
                *produced = total;
            }
            if total > max {
                self.inflating = None;
                return Err(ProtocolError::MessageTooBig { len: total, max });
            }
            if status == Status::StreamEnd {
                // A block with BFINAL set ends the stream (RFC 7692 §7.2.3.4):
                // what follows (at least an empty block's header, completed
                // by the tail) is inflated as a new stream.
                self.decompressor.reset(false);
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let output_full = out.len() == out.capacity();
            if !output_full && input.is_empty() {
                return Ok(());
            }
            if !output_full && consumed == 0 && made == 0 {
                return Err(ProtocolError::InvalidCompressedData);
            }
        }
    }
}

/// What the output of a compressor that starts every message afresh
/// depends on: its window and its level. Connections whose
/// [`PerMessageDeflate::shared`] keys are equal compress a message to the
/// same bytes, so a message sent to many of them needs compressing once per
/// distinct key (gorilla/websocket's `PreparedMessage` and uWebSockets'
/// `SHARED_COMPRESSOR` do the same).
///
/// ```
/// use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
/// use ws13_codec::Role;
///
/// let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
/// let mut connection = PerMessageDeflate::new(Role::Server, params, DeflateSettings::default());
/// let shared = connection.shared().expect("no context takeover");
/// let (mut once, mut own) = (Vec::new(), Vec::new());
/// shared.deflate(b"Hello, Hello, Hello", &mut once);
/// connection.deflate(b"Hello, Hello, Hello", &mut own);
/// assert_eq!(once, own);
/// // Context takeover: no sharing.
/// let kept = PerMessageDeflate::new(Role::Server, DeflateParams::default(), DeflateSettings::default());
/// assert!(kept.shared().is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedDeflate {
    /// The compressor's window, 9–15 bits.
    pub window_bits: u8,
    /// The zlib level, 0–9.
    pub level: u8,
}

impl SharedDeflate {
    /// Compresses one whole message with a fresh compressor, appending the
    /// payload to `out`: the same bytes every connection with this key would
    /// produce for it.
    pub fn deflate(&self, message: &[u8], out: &mut Vec<u8>) {
        #[cfg(feature = "libdeflate")]
        if message.len() <= crate::whole_message::max_len(self.window_bits)
            && crate::whole_message::deflate(self.level, message, out)
        {
            return;
        }
        let level = Compression::new(u32::from(self.level.min(9)));
        let mut compressor =
            Compress::new_with_window_bits(level, false, self.window_bits.clamp(9, 15));
        deflate_message(&mut compressor, message, out);
    }
}

/// Compresses one whole message with `compressor`, appending the payload to
/// send to `out`: a sync flush with its `00 00 FF FF` tail removed.
fn deflate_message(compressor: &mut Compress, message: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut input = message;
    loop {
        out.reserve(input.len() / 2 + 64);
        let consumed_before = compressor.total_in();
        // Errors only come from misuse of the stream, which this code avoids.
        let _ = compressor.compress_vec(input, out, FlushCompress::Sync);
        input = &input[(compressor.total_in() - consumed_before) as usize..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out[start..].ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
    }
    if out.len() == start {
        // Nothing new since the last sync point (an empty message): an
        // empty stored block's header, which the receiver's appended tail
        // completes (RFC 7692 §7.2.3.6).
        out.push(0x00);
    }
}
