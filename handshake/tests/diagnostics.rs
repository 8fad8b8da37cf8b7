//! Diagnostics: every problem at once, with stable codes, messages and
//! hints, plus a robustness sweep showing bad input never panics.

use ws13_handshake::diagnostics::{
    INCOMPLETE_HEAD, NOT_WEBSOCKET, diagnose_request, diagnose_response,
};
use ws13_handshake::{ClientRequest, RequestReader, ServerConfig};

const NONCE: [u8; 16] = *b"the sample nonce";

#[test]
fn nginx_forwarded_request_lists_stripped_headers_then_http_version_with_hints() {
    let found = diagnose_request(
        b"GET /chat HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        &ServerConfig::default(),
    );
    let codes: Vec<_> = found.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["upgrade-headers-stripped", "http-version-too-old"]);
    for diagnostic in &found {
        assert!(diagnostic.hint.contains("proxy_http_version 1.1;"));
        assert!(diagnostic.message.ends_with('.'), "{}", diagnostic.message);
    }
}

#[test]
fn valid_request_has_no_diagnostics_and_plain_or_partial_ones_say_so() {
    let config = ServerConfig::default();
    let valid = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(diagnose_request(valid, &config).is_empty());
    let plain = diagnose_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &config);
    assert_eq!(
        plain.iter().map(|d| d.code).collect::<Vec<_>>(),
        [NOT_WEBSOCKET]
    );
    let partial = diagnose_request(b"GET / HTTP/1.1\r\nHost: a\r\n", &config);
    assert_eq!(
        partial.iter().map(|d| d.code).collect::<Vec<_>>(),
        [INCOMPLETE_HEAD]
    );
    let garbage = diagnose_request(b"\x16\x03\x01\r\n\r\n", &config);
    assert_eq!(
        garbage.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["malformed-http"]
    );
}

#[test]
fn response_with_several_defects_lists_each_with_code() {
    let handshake = ClientRequest::new("a", "/", NONCE).unwrap().build();
    let found = diagnose_response(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\
          Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: x-unknown\r\n\r\n",
        &handshake,
    );
    let codes: Vec<_> = found.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "duplicate-upgrade-header",
            "duplicate-connection-header",
            "incorrect-websocket-accept",
            "subprotocol-not-requested",
            "extension-not-offered",
        ]
    );
    assert!(
        found
            .iter()
            .all(|d| !d.hint.is_empty() && !d.message.is_empty())
    );
}

#[test]
fn correct_or_partial_response_diagnoses_as_none_or_incomplete() {
    let handshake = ClientRequest::new("a", "/", NONCE).unwrap().build();
    let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert!(diagnose_response(ok, &handshake).is_empty());
    let partial = diagnose_response(&ok[..40], &handshake);
    assert_eq!(
        partial.iter().map(|d| d.code).collect::<Vec<_>>(),
        [INCOMPLETE_HEAD]
    );
}

/// A small deterministic generator, so the sweep is reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_requests_and_responses_never_panic() {
    let request: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://a\r\n\
        Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; a=\"1\"\r\n\r\n";
    let response: &[u8] =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; a=\"1\"\r\n\r\n";
    let interesting = b"\r\n:;,=\"\\ \t\0\xff\xc3aZ9";
    let config = ServerConfig::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        for (sample, is_request) in [(request, true), (response, false)] {
            let mut bytes = sample.to_vec();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() as usize) % bytes.len();
                let byte = interesting[(rng.next() as usize) % interesting.len()];
                match rng.next() % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if is_request {
                if let Ok(status) = RequestReader::default().read(&bytes) {
                    if let Some(parsed) = status.complete() {
                        let _ = parsed.problems(&config);
                        if let Ok(ws13_handshake::Incoming::WebSocket(ws)) =
                            parsed.classify(&config)
                        {
                            accepted += 1;
                            let _ = ws.accept().to_bytes();
                        }
                    }
                }
                let _ = diagnose_request(&bytes, &config);
            } else {
                let mut handshake = ClientRequest::new("a", "/", NONCE)
                    .unwrap()
                    .protocol("chat")
                    .unwrap()
                    .extensions("permessage-deflate")
                    .unwrap()
                    .build();
                let _ = diagnose_response(&bytes, &handshake);
                if let Ok(status) = handshake.read_response(&bytes) {
                    accepted += usize::from(!status.is_partial());
                }
            }
        }
    }
    // Some mutations (such as changes inside a User-Agent-like value) keep
    // the message valid; the sweep must have exercised both outcomes.
    assert!(accepted > 0 && accepted < 40_000, "accepted {accepted}");
}
