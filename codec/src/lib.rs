//! Zero-copy WebSocket codec (work in progress).
#![no_std]
