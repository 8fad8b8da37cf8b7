//! ws13: a strict, fast RFC 6455 WebSocket library.
pub use ws13_codec as codec;
pub use ws13_handshake as handshake;
