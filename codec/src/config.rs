//! Limits and switches of a connection.

/// How a [`crate::Connection`] treats incoming traffic. Start from
/// [`Config::default`] and change what you need:
///
/// ```
/// let mut config = ws13_codec::Config::default();
/// config.max_message_size = 64 * 1024;
/// config.partial_frames_above = 4096 - 14; // a fixed 4 KiB receive buffer
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
}

impl Config {
    /// The default configuration, usable in `const` context.
    pub const DEFAULT: Config = Config {
        max_frame_size: 16 << 20,
        max_message_size: 16 << 20,
        partial_frames_above: u64::MAX,
        auto_pong: true,
        allowed_rsv: 0,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}
