//! Zero-copy WebSocket codec (work in progress).
#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod mask;
pub mod utf8;
