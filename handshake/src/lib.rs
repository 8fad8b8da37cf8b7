//! RFC 6455 §4 opening handshake (work in progress).
#![no_std]
#![forbid(unsafe_code)]
