//! The bodies of ws13's fuzz targets, shared by cargo-fuzz
//! (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`tests/fuzz_replay.rs`), so that `cargo test` replays every seed and
//! every crash file through exactly the code libFuzzer runs.
//!
//! Each target takes the raw input bytes and panics when an invariant is
//! broken. Structured targets decode their input with
//! `arbitrary::Unstructured`; the layouts are documented per target.
#![allow(dead_code)]

#[path = "common.rs"]
pub mod common;
#[path = "connection.rs"]
pub mod connection;
#[path = "frame_header.rs"]
pub mod frame_header;
#[path = "handshake.rs"]
pub mod handshake;
#[path = "inflate.rs"]
pub mod inflate;
#[path = "roundtrip.rs"]
pub mod roundtrip;
#[path = "socket.rs"]
pub mod socket;

pub use connection::{connection_client, connection_server};
pub use frame_header::frame_header;
pub use handshake::{handshake_request, handshake_response, handshake_structured};
pub use inflate::inflate;
pub use roundtrip::roundtrip;
pub use socket::socket;

/// A target body: panics when an invariant is broken.
pub type Target = fn(&[u8]);

/// Every target by name: the name is also its directory under
/// `fuzz/seeds/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_header", frame_header),
    ("connection_server", connection_server),
    ("connection_client", connection_client),
    ("roundtrip", roundtrip),
    ("handshake_request", handshake_request),
    ("handshake_response", handshake_response),
    ("handshake_structured", handshake_structured),
    ("inflate", inflate),
    ("socket", socket),
];
