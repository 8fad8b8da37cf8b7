//! Limits, switches and timers of a connection.

use core::time::Duration;

/// Keepalive: ping the peer every `interval`; fail the connection with 1011 if
/// a ping goes unanswered for `timeout`. Detects half-open connections (a peer
/// that vanished without a close) and keeps proxies from cutting idle tunnels
/// (nginx's `proxy_read_timeout` is 60 s by default: keep `interval` below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// Time between pings.
    pub interval: Duration,
    /// How long to wait for the matching pong.
    pub timeout: Duration,
}

/// How a [`crate::Connection`] treats incoming traffic. Start from
/// [`Config::default`] and change what you need with the builder methods, one
/// per field (they are `const`, so a configuration can be a `const` item):
///
/// ```
/// use core::time::Duration;
/// use ws13_codec::Config;
/// use ws13_codec::config::Heartbeat;
///
/// let config = Config::default()
///     .max_message_size(64 * 1024)
///     .partial_frames_above(4096 - 14) // a fixed 4 KiB receive buffer
///     .heartbeat(None);
/// assert_eq!(config.max_message_size, 64 * 1024);
/// assert_eq!(config.heartbeat, None);
///
/// const KEEPALIVE: Config = Config::DEFAULT
///     .heartbeat(Some(Heartbeat {
///         interval: Duration::from_secs(30),
///         timeout: Duration::from_secs(10),
///     }))
///     .close_timeout(Duration::from_secs(5));
/// assert_eq!(KEEPALIVE.close_timeout, Duration::from_secs(5));
/// assert!(KEEPALIVE.auto_pong);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest data frame payload accepted; a longer one fails the
    /// connection with 1009. Default 16 MiB.
    pub max_frame_size: u64,
    /// The largest message accepted, counted in payload bytes across all its
    /// fragments (so a stream of tiny fragments cannot pin memory); a longer one
    /// fails the connection with 1009. Default 16 MiB.
    pub max_message_size: u64,
    /// Data frames whose payload is at most this many bytes are delivered whole,
    /// once all their bytes are in the buffer. Longer frames are delivered in
    /// pieces as their bytes arrive, so a caller with a small fixed buffer can
    /// still receive large messages: set this to the buffer size minus 14.
    /// Default: `u64::MAX` (frames are always delivered whole, so the caller's
    /// buffer must be able to grow to `max_frame_size` + 14).
    pub partial_frames_above: u64,
    /// Answer every ping with a pong automatically (via
    /// [`crate::Connection::poll_transmit`]). Default `true`.
    pub auto_pong: bool,
    /// Reserved bits a negotiated extension uses (e.g. [`crate::frame::RSV1`] for
    /// permessage-deflate); any other RSV bit fails the connection with 1002.
    /// Default 0.
    pub allowed_rsv: u8,
    /// Keepalive pings and their timeout; `None` disables them. Default 20 s /
    /// 20 s. Timers run only when the caller feeds time through
    /// [`crate::Connection::handle_timeout`].
    pub heartbeat: Option<Heartbeat>,
    /// After we send a close, how long to wait for the peer's before giving up
    /// and reporting [`crate::State::Closed`] anyway. Default 10 s.
    pub close_timeout: Duration,
}

impl Config {
    /// The default configuration, usable in `const` context.
    pub const DEFAULT: Config = Config {
        max_frame_size: 16 << 20,
        max_message_size: 16 << 20,
        partial_frames_above: u64::MAX,
        auto_pong: true,
        allowed_rsv: 0,
        heartbeat: Some(Heartbeat {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(20),
        }),
        close_timeout: Duration::from_secs(10),
    };

    /// Sets [`Config::max_frame_size`]: the largest data frame payload
    /// accepted, in bytes.
    #[must_use]
    pub const fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Config::max_message_size`]: the largest message accepted, in
    /// payload bytes across all its fragments.
    #[must_use]
    pub const fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Config::partial_frames_above`]: data frames with a longer
    /// payload are delivered in pieces as their bytes arrive.
    #[must_use]
    pub const fn partial_frames_above(mut self, bytes: u64) -> Self {
        self.partial_frames_above = bytes;
        self
    }

    /// Sets [`Config::auto_pong`]: whether every ping is answered with a pong
    /// automatically.
    #[must_use]
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Sets [`Config::allowed_rsv`]: the reserved bits a negotiated extension
    /// uses (e.g. [`crate::frame::RSV1`]).
    #[must_use]
    pub const fn allowed_rsv(mut self, bits: u8) -> Self {
        self.allowed_rsv = bits;
        self
    }

    /// Sets [`Config::heartbeat`]: keepalive pings and their timeout; `None`
    /// disables them.
    #[must_use]
    pub const fn heartbeat(mut self, heartbeat: Option<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Sets [`Config::close_timeout`]: how long to wait for the peer's close
    /// after sending ours.
    #[must_use]
    pub const fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// The permessage-deflate (RFC 7692) parameters both ends agreed to, as each
/// compressor and decompressor must apply them. The handshake crate
/// negotiates them; `deflate::PerMessageDeflate` applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with a window of at most 2^N bytes (8–15).
    pub server_max_window_bits: u8,
    /// The client compresses with a window of at most 2^N bytes (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// No parameters: both sides keep their context, 32 KiB windows.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}
