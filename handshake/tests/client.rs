//! Client side: building the request and validating the server's answer as
//! strictly as WebKit does.

use ws13_handshake::{
    BuildError, ClientConfig, ClientHandshake, ClientRequest, ConnectionPolicy, HeadError,
    Incoming, Limits, RequestReader, ResponseError, ServerConfig, Status,
};

const NONCE: [u8; 16] = *b"the sample nonce";
const ACCEPT: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn handshake() -> ClientHandshake {
    ClientRequest::new("example.com", "/chat", NONCE)
        .unwrap()
        .build()
}

fn handshake_offering() -> ClientHandshake {
    ClientRequest::new("example.com", "/chat", NONCE)
        .unwrap()
        .protocol("chat")
        .unwrap()
        .protocol("superchat")
        .unwrap()
        .extensions("permessage-deflate; client_max_window_bits")
        .unwrap()
        .build()
}

fn response(start: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = format!("{start}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn ok_101(extra: &[&str]) -> Vec<u8> {
    let mut headers = vec!["Upgrade: websocket", "Connection: Upgrade", ACCEPT];
    headers.extend_from_slice(extra);
    response("HTTP/1.1 101 Switching Protocols", &headers)
}

fn validate(mut handshake: ClientHandshake, bytes: &[u8]) -> Result<Option<&str>, ResponseError> {
    match handshake.read_response(bytes)? {
        Status::Partial => panic!("test responses are complete"),
        Status::Complete(accepted) => Ok(accepted.protocol()),
    }
}

fn rejection(handshake: ClientHandshake, bytes: &[u8]) -> ResponseError {
    validate(handshake, bytes).expect_err("the response should be rejected")
}

// ---------------------------------------------------------------- the request

#[test]
fn request_has_exactly_the_handshake_headers_in_order() {
    let handshake = ClientRequest::new("example.com:8080", "/chat?room=1", NONCE)
        .unwrap()
        .origin("https://example.com")
        .unwrap()
        .protocol("chat")
        .unwrap()
        .protocol("superchat")
        .unwrap()
        .extensions("permessage-deflate; client_max_window_bits")
        .unwrap()
        .extensions("x-foo")
        .unwrap()
        .header("Authorization", "Bearer t")
        .unwrap()
        .build();
    assert_eq!(
        std::str::from_utf8(handshake.request_bytes()).unwrap(),
        "GET /chat?room=1 HTTP/1.1\r\n\
         Host: example.com:8080\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: https://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n\
         Authorization: Bearer t\r\n\
         \r\n"
    );
    assert_eq!(handshake.key().as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        handshake.expected_accept().as_str(),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn request_without_offers_has_no_empty_protocol_or_extensions_header() {
    let text = String::from_utf8(handshake().request_bytes().to_vec()).unwrap();
    assert!(!text.contains("Sec-WebSocket-Protocol"));
    assert!(!text.contains("Sec-WebSocket-Extensions"));
    assert!(!text.contains("Origin"));
}

#[test]
fn request_is_accepted_by_the_server_side_with_each_header_once() {
    let handshake = ClientRequest::new("example.com", "/", NONCE)
        .unwrap()
        .origin("https://example.com")
        .unwrap()
        .protocol("chat")
        .unwrap()
        .header("X-Trace", "1")
        .unwrap()
        .build();
    let bytes = handshake.request_bytes();
    let request = RequestReader::default()
        .read(bytes)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(request.head_len(), bytes.len());
    for h in request.headers() {
        let count = request
            .headers()
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(h.name))
            .count();
        assert_eq!(count, 1, "{} written {count} times", h.name);
    }
    let Ok(Incoming::WebSocket(ws)) = request.classify(&ServerConfig::default()) else {
        panic!("server refused ws13's own request");
    };
    assert_eq!(ws.protocols(), ["chat"]);
}

#[test]
fn extra_request_header_clashing_with_handshake_header_is_refused() {
    for name in [
        "Host",
        "origin",
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Key",
        "sec-websocket-protocol",
    ] {
        let error = ClientRequest::new("a", "/", NONCE)
            .unwrap()
            .header(name, "x")
            .unwrap_err();
        assert_eq!(error, BuildError::HandshakeHeader { name: name.into() });
    }
}

#[test]
fn request_values_with_cr_lf_or_nul_are_refused() {
    let base = || ClientRequest::new("a", "/", NONCE).unwrap();
    assert!(matches!(
        base().header("X-A", "1\r\nX-B: 2"),
        Err(BuildError::InvalidHeaderValue { .. })
    ));
    assert!(matches!(
        base().header("X-A", "1\0"),
        Err(BuildError::InvalidHeaderValue { .. })
    ));
    assert!(matches!(
        base().origin("https://a\r\nX: y"),
        Err(BuildError::InvalidOrigin { .. })
    ));
    assert!(matches!(
        base().origin(""),
        Err(BuildError::InvalidOrigin { .. })
    ));
    assert!(matches!(
        base().protocol("chat\r\n"),
        Err(BuildError::InvalidProtocol { .. })
    ));
    assert!(matches!(
        base().protocol(""),
        Err(BuildError::InvalidProtocol { .. })
    ));
    assert!(matches!(
        base().extensions("x\r\ny"),
        Err(BuildError::InvalidExtensions { .. })
    ));
    assert!(matches!(
        ClientRequest::new("a\r\nX: y", "/", NONCE),
        Err(BuildError::InvalidHost { .. })
    ));
    assert!(matches!(
        ClientRequest::new("", "/", NONCE),
        Err(BuildError::InvalidHost { .. })
    ));
    assert!(matches!(
        ClientRequest::new("a", "/x HTTP/1.1\r\n", NONCE),
        Err(BuildError::InvalidPath { .. })
    ));
    assert!(matches!(
        ClientRequest::new("a", "chat", NONCE),
        Err(BuildError::InvalidPath { .. })
    ));
}

#[test]
fn duplicate_subprotocol_or_empty_extension_offer_is_refused() {
    let base = || ClientRequest::new("a", "/", NONCE).unwrap();
    assert_eq!(
        base()
            .protocol("chat")
            .unwrap()
            .protocol("chat")
            .unwrap_err(),
        BuildError::DuplicateProtocol {
            protocol: "chat".into()
        }
    );
    assert!(matches!(
        base().extensions(""),
        Err(BuildError::InvalidExtensions { .. })
    ));
    assert!(matches!(
        base().extensions(" , "),
        Err(BuildError::InvalidExtensions { .. })
    ));
}

// ---------------------------------------------------------------- accepted responses

#[test]
fn correct_101_is_accepted_and_frames_after_the_head_are_left_to_the_caller() {
    let mut bytes = ok_101(&[]);
    let head_len = bytes.len();
    bytes.extend_from_slice(b"\x81\x05hello");
    let mut handshake = handshake();
    let accepted = handshake.read_response(&bytes).unwrap().complete().unwrap();
    assert_eq!(accepted.head_len(), head_len);
    assert_eq!(&bytes[accepted.head_len()..], b"\x81\x05hello");
    assert_eq!(accepted.protocol(), None);
    assert!(accepted.extensions().is_empty());
}

#[test]
fn connection_upgrade_keep_alive_any_case_and_http_1_0_status_line_are_accepted() {
    let bytes = response(
        "HTTP/1.0 101 Switching Protocols",
        &[
            "upgrade: WebSocket",
            "CONNECTION: Upgrade, keep-alive",
            "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ],
    );
    assert_eq!(validate(handshake(), &bytes), Ok(None));
}

#[test]
fn offered_subprotocol_and_extension_are_reported() {
    let bytes = ok_101(&[
        "Sec-WebSocket-Protocol: superchat",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10",
    ]);
    let mut handshake = handshake_offering();
    let accepted = handshake.read_response(&bytes).unwrap().complete().unwrap();
    assert_eq!(accepted.protocol(), Some("superchat"));
    let deflate = &accepted.extensions()[0];
    assert_eq!(deflate.name, "permessage-deflate");
    assert_eq!(
        deflate
            .param("client_max_window_bits")
            .unwrap()
            .value
            .as_deref(),
        Some("10")
    );
}

#[test]
fn full_round_trip_between_ws13_client_and_server_succeeds() {
    let mut client = handshake_offering();
    let request = RequestReader::default()
        .read(client.request_bytes())
        .unwrap()
        .complete()
        .unwrap();
    let Ok(Incoming::WebSocket(ws)) = request.classify(&ServerConfig::default()) else {
        panic!("refused");
    };
    let chosen = ws
        .choose_protocol(&["superchat"], Default::default())
        .unwrap();
    let answer = ws
        .accept()
        .protocol(chosen)
        .unwrap()
        .extensions("permessage-deflate")
        .unwrap()
        .to_bytes();
    let accepted = client.read_response(&answer).unwrap().complete().unwrap();
    assert_eq!(accepted.protocol(), Some("superchat"));
    assert_eq!(accepted.head_len(), answer.len());
}

// ---------------------------------------------------------------- field failure 1

#[test]
fn duplicate_connection_in_101_is_rejected_naming_webkit_and_the_manual_header() {
    let bytes = ok_101(&["Connection: upgrade"]);
    let error = rejection(handshake(), &bytes);
    assert_eq!(error, ResponseError::DuplicateConnection { count: 2 });
    assert_eq!(error.code(), "duplicate-connection-header");
    let message = error.to_string();
    assert!(message.contains("WebKit (Safari, and every browser on iOS)"));
    assert!(message.contains("1006"));
    assert!(message.contains("by hand"));
}

#[test]
fn duplicate_connection_in_101_is_accepted_under_lenient_policy() {
    let bytes = ok_101(&["Connection: upgrade"]);
    let handshake = ClientRequest::new("example.com", "/chat", NONCE)
        .unwrap()
        .config(ClientConfig {
            connection_policy: ConnectionPolicy::Lenient,
            ..ClientConfig::default()
        })
        .build();
    assert_eq!(validate(handshake, &bytes), Ok(None));
}

// ---------------------------------------------------------------- each defect, with Chromium's words

macro_rules! rejected {
    ($($name:ident: $offer:expr, $bytes:expr => $expected:expr, says $chromium:literal;)*) => {$(
        #[test]
        fn $name() {
            let bytes: Vec<u8> = $bytes;
            let error = rejection($offer, &bytes);
            assert_eq!(error, $expected);
            let message = error.to_string();
            assert!(message.contains($chromium), "{message}");
        }
    )*};
}

rejected! {
    status_200_is_rejected_with_status: handshake(), response("HTTP/1.1 200 OK", &["Content-Length: 0"])
        => ResponseError::UnexpectedStatus { status: 200, reason: "OK".into() }, says "Unexpected response code: 200";
    missing_connection_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Upgrade: websocket", ACCEPT])
        => ResponseError::MissingConnection, says "'Connection' header is missing";
    connection_without_upgrade_token_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Upgrade: websocket", "Connection: keep-alive", ACCEPT])
        => ResponseError::ConnectionWithoutUpgrade { value: "keep-alive".into() }, says "lacks the 'upgrade' token";
    missing_upgrade_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Connection: Upgrade", ACCEPT])
        => ResponseError::MissingUpgrade, says "'Upgrade' header is missing";
    duplicate_upgrade_is_rejected: handshake(), ok_101(&["Upgrade: websocket"])
        => ResponseError::DuplicateUpgrade { count: 2 }, says "'Upgrade' header must not appear more than once in a response";
    upgrade_h2c_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Upgrade: h2c", "Connection: Upgrade", ACCEPT])
        => ResponseError::UpgradeNotWebSocket { value: "h2c".into() }, says "'Upgrade' header value is not 'WebSocket': h2c";
    missing_accept_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Upgrade: websocket", "Connection: Upgrade"])
        => ResponseError::MissingAccept, says "'Sec-WebSocket-Accept' header is missing";
    duplicate_accept_is_rejected: handshake(), ok_101(&[ACCEPT])
        => ResponseError::DuplicateAccept { count: 2 }, says "'Sec-WebSocket-Accept' header must not appear more than once in a response";
    lower_cased_accept_is_rejected: handshake(), response("HTTP/1.1 101 Switching Protocols", &["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3ppLmbitxaq9kygzzhzrbk+xoo="])
        => ResponseError::AcceptMismatch { expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(), received: "s3ppLmbitxaq9kygzzhzrbk+xoo=".into() },
        says "Incorrect 'Sec-WebSocket-Accept' header value";
    subprotocol_without_offer_is_rejected: handshake(), ok_101(&["Sec-WebSocket-Protocol: chat"])
        => ResponseError::ProtocolNotRequested { protocol: "chat".into() },
        says "Response must not include 'Sec-WebSocket-Protocol' header if not present in request: chat";
    unoffered_subprotocol_is_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Protocol: mqtt"])
        => ResponseError::ProtocolNotOffered { protocol: "mqtt".into(), offered: "chat, superchat".into() },
        says "it offered: chat, superchat";
    two_subprotocols_are_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Protocol: chat, superchat"])
        => ResponseError::InvalidProtocol { value: "chat, superchat".into() }, says "exactly one";
    subprotocol_on_two_lines_is_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"])
        => ResponseError::InvalidProtocol { value: "chat, chat".into() }, says "exactly one";
    empty_subprotocol_is_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Protocol:"])
        => ResponseError::InvalidProtocol { value: String::new() }, says "exactly one";
    unoffered_extension_is_rejected: handshake(), ok_101(&["Sec-WebSocket-Extensions: x-unknown"])
        => ResponseError::ExtensionNotOffered { name: "x-unknown".into() },
        says "Found an unsupported extension 'x-unknown' in 'Sec-WebSocket-Extensions' header";
    extension_accepted_twice_is_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Extensions: permessage-deflate"])
        => ResponseError::DuplicateExtension { name: "permessage-deflate".into() }, says "more than once";
    empty_extensions_header_is_rejected: handshake_offering(), ok_101(&["Sec-WebSocket-Extensions:"])
        => ResponseError::InvalidExtensionHeader { value: String::new(), reason: ws13_handshake::extensions::ExtensionsError::Empty },
        says "is malformed";
}

#[test]
fn status_400_404_426_carry_a_hint_about_proxy_path_and_version() {
    let cases = [
        (
            400,
            "Bad Request",
            "proxy_set_header Upgrade $http_upgrade;",
        ),
        (404, "Not Found", "check the URL path"),
        (426, "Upgrade Required", "'Sec-WebSocket-Version'"),
    ];
    for (status, reason, hint) in cases {
        let bytes = response(
            &format!("HTTP/1.1 {status} {reason}"),
            &["Content-Length: 0"],
        );
        let error = rejection(handshake(), &bytes);
        assert_eq!(
            error,
            ResponseError::UnexpectedStatus {
                status,
                reason: reason.into()
            }
        );
        assert!(
            error
                .to_string()
                .contains(&format!("Unexpected response code: {status}"))
        );
        assert!(error.to_string().contains(hint), "{error}");
        assert!(error.hint().contains(hint));
    }
}

// ---------------------------------------------------------------- reading

#[test]
fn response_split_at_every_byte_gives_the_same_result() {
    let samples = [
        ok_101(&["Sec-WebSocket-Protocol: chat"]),
        ok_101(&["Connection: upgrade"]),
        response("HTTP/1.1 404 Not Found", &["Content-Length: 0"]),
    ];
    for sample in &samples {
        let whole = handshake_offering()
            .read_response(sample)
            .map(|s| s.complete().map(|a| a.head_len()));
        for split in 0..sample.len() {
            let mut handshake = handshake_offering();
            assert!(
                handshake
                    .read_response(&sample[..split])
                    .unwrap()
                    .is_partial(),
                "at {split}"
            );
            let result = handshake
                .read_response(sample)
                .map(|s| s.complete().map(|a| a.head_len()));
            assert_eq!(result, whole, "split at {split}");
        }
    }
}

#[test]
fn oversized_response_head_is_an_error_not_growth() {
    let mut handshake = ClientRequest::new("a", "/", NONCE)
        .unwrap()
        .config(ClientConfig {
            limits: Limits {
                max_head_bytes: 1024,
                max_headers: 8,
            },
            ..ClientConfig::default()
        })
        .build();
    let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nX: ".to_vec();
    bytes.resize(4096, b'a');
    assert_eq!(
        handshake.read_response(&bytes),
        Err(ResponseError::Head(HeadError::TooLarge { limit: 1024 }))
    );
}

#[test]
fn non_http_response_is_malformed_not_a_panic() {
    let result = handshake().read_response(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    assert!(
        matches!(
            result,
            Err(ResponseError::Head(HeadError::Malformed { .. }))
        ),
        "{result:?}"
    );
}

#[test]
fn reading_the_response_again_after_completion_gives_the_same_result() {
    let bytes = ok_101(&[]);
    let mut handshake = handshake();
    let first = handshake.read_response(&bytes).unwrap().complete().unwrap();
    let again = handshake.read_response(&bytes).unwrap().complete().unwrap();
    assert_eq!(first, again);
}

#[test]
fn status_without_reason_phrase_reads_cleanly() {
    let bytes = b"HTTP/1.1 503 \r\n\r\n";
    let error = rejection(handshake(), bytes);
    assert!(
        error
            .to_string()
            .starts_with("The server answered 503 instead of 101"),
        "{error}"
    );
}
