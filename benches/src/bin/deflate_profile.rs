//! Compresses (or decompresses) the same chat-JSON message many times with
//! ws13's sans-I/O `PerMessageDeflate`, for instruction counting under
//! `valgrind --tool=callgrind` (run with COUNT and with 1, subtract, divide).
//!
//! Messages are distinct slices of one chat log (`chat_messages`), sent in
//! turn.
//!
//! ```text
//! deflate_profile SIZE COUNT reset|takeover compress|decompress [LEVEL] [STREAMS]
//! ```
//!
//! STREAMS (default 1) pairs of compressor and decompressor take the
//! messages in turn, as a server's connections do, so that their states
//! compete for the caches the way 16 connections' states do.

use std::hint::black_box;
use ws13_benches::chat_messages;
use ws13_codec::deflate::{DeflateParams, DeflateSettings, PerMessageDeflate};
use ws13_codec::{DataChunk, MessageKind, Role};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: deflate_profile SIZE COUNT reset|takeover compress|decompress [LEVEL] [STREAMS]";
    let size: usize = args.first().and_then(|s| s.parse().ok()).expect(usage);
    let count: usize = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let reset = match args.get(2).map(String::as_str) {
        Some("reset") => true,
        Some("takeover") => false,
        _ => panic!("{usage}"),
    };
    let compress = match args.get(3).map(String::as_str) {
        Some("compress") => true,
        Some("decompress") => false,
        _ => panic!("{usage}"),
    };
    let level: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(6);
    let streams: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let params = DeflateParams {
        server_no_context_takeover: reset,
        client_no_context_takeover: reset,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let settings = DeflateSettings::default().level(level);
    // Distinct messages of about SIZE bytes, more than two windows' worth,
    // so that context takeover cannot just repeat an earlier message.
    let messages = chat_messages(size);
    let texts: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
    let mut pairs: Vec<(PerMessageDeflate, PerMessageDeflate)> = (0..streams)
        .map(|_| {
            (
                PerMessageDeflate::new(Role::Server, params, settings),
                PerMessageDeflate::new(Role::Client, params, settings),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(size + 64);
    let mut plain = Vec::with_capacity(size + 64);
    let mut total = 0usize;
    for i in 0..count {
        // Each stream sends the log's messages in order, as one chat would.
        let text = texts[(i / streams) % texts.len()];
        let (server, client) = &mut pairs[i % streams];
        out.clear();
        server.deflate(black_box(text), &mut out);
        total += out.len();
        if !compress || !reset {
            // With context takeover the client must follow the stream; for
            // decompression it is the measured side.
            plain.clear();
            let chunk = DataChunk {
                kind: MessageKind::Text,
                payload: &out,
                message_start: true,
                message_end: true,
                rsv: 0b100,
            };
            client
                .inflate(&chunk, &mut plain, 1 << 30)
                .expect("inflates");
            assert_eq!(plain.len(), text.len());
        }
    }
    println!(
        "{count} messages of {size} B -> {} B each on average",
        total / count.max(1)
    );
}
