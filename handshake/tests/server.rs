//! Server side: reading, classifying and answering handshake requests.

use ws13_handshake::error::NGINX_UPGRADE_FIX;
use ws13_handshake::{
    BuildError, ConnectionPolicy, HeadError, Incoming, Limits, OriginPolicy, RequestError,
    RequestReader, ServerConfig, Status, SubprotocolPreference, response,
};

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Builds a request head from a start line and header lines.
fn head(start: &str, headers: &[&str]) -> Vec<u8> {
    let mut out = format!("{start}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A minimal valid handshake plus `extra` header lines.
fn valid_with(extra: &[&str]) -> Vec<u8> {
    let mut headers = vec![
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        KEY,
        "Sec-WebSocket-Version: 13",
    ];
    headers.extend_from_slice(extra);
    head("GET /chat HTTP/1.1", &headers)
}

fn classify_with<'b>(bytes: &'b [u8], config: &ServerConfig) -> Result<Incoming<'b>, RequestError> {
    let request = RequestReader::new(config.limits())
        .read(bytes)?
        .complete()
        .expect("test requests are complete");
    request.classify(config)
}

fn classify(bytes: &[u8]) -> Result<Incoming<'_>, RequestError> {
    classify_with(bytes, &ServerConfig::default())
}

fn refusal(bytes: &[u8]) -> RequestError {
    match classify(bytes) {
        Err(error) => error,
        Ok(other) => panic!("expected a refusal, got {other:?}"),
    }
}

/// Splits a response into its head (as text) and body, checking that
/// Content-Length matches the body.
fn split_response(bytes: &[u8]) -> (String, String) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length present")
        .parse()
        .unwrap();
    assert_eq!(length, body.len(), "Content-Length matches the body");
    (format!("{head}\r\n"), body.to_string())
}

// ---------------------------------------------------------------- accepted

#[test]
fn minimal_valid_request_is_classified_as_websocket_with_typed_view() {
    let bytes = valid_with(&["Origin: https://example.com", "Cookie: a=1"]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!("not accepted");
    };
    assert_eq!(ws.path(), "/chat");
    assert_eq!(ws.host(), "example.com");
    assert_eq!(ws.origin(), Some("https://example.com"));
    assert_eq!(ws.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(ws.accept_key().unwrap().as_str(), ACCEPT);
    assert!(ws.protocols().is_empty());
    assert!(ws.extensions().is_empty());
    let others: Vec<_> = ws.other_headers().map(|h| h.name).collect();
    assert_eq!(others, ["Cookie"]);
    assert_eq!(ws.head_len(), bytes.len());
}

#[test]
fn chrome_shaped_request_is_accepted() {
    let bytes = head(
        "GET /chat HTTP/1.1",
        &[
            "Host: localhost:8080",
            "Connection: Upgrade",
            "Pragma: no-cache",
            "Cache-Control: no-cache",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Upgrade: websocket",
            "Origin: http://localhost:8080",
            "Sec-WebSocket-Version: 13",
            "Accept-Encoding: gzip, deflate, br",
            "Accept-Language: en-US,en;q=0.9",
            KEY,
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        ],
    );
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!("Chrome's request refused");
    };
    assert_eq!(ws.extensions()[0].name, "permessage-deflate");
    assert!(ws.extensions()[0].param("client_max_window_bits").is_some());
}

#[test]
fn firefox_shaped_request_with_keep_alive_upgrade_is_accepted() {
    let bytes = head(
        "GET /chat HTTP/1.1",
        &[
            "Host: localhost:8080",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Accept: */*",
            "Accept-Language: en-US,en;q=0.5",
            "Accept-Encoding: gzip, deflate, br",
            "Sec-WebSocket-Version: 13",
            "Origin: http://localhost:8080",
            "Sec-WebSocket-Extensions: permessage-deflate",
            KEY,
            "Connection: keep-alive, Upgrade",
            "Sec-Fetch-Dest: empty",
            "Sec-Fetch-Mode: websocket",
            "Sec-Fetch-Site: same-origin",
            "Pragma: no-cache",
            "Cache-Control: no-cache",
            "Upgrade: websocket",
        ],
    );
    assert!(matches!(classify(&bytes), Ok(Incoming::WebSocket(_))));
}

#[test]
fn safari_shaped_request_is_accepted() {
    let bytes = head(
        "GET /chat HTTP/1.1",
        &[
            "Host: localhost:8080",
            "Origin: http://localhost:8080",
            "Upgrade: websocket",
            "Accept-Encoding: gzip, deflate",
            "Sec-WebSocket-Extensions: permessage-deflate",
            "Pragma: no-cache",
            "Cache-Control: no-cache",
            KEY,
            "Sec-WebSocket-Version: 13",
            "Connection: Upgrade",
            "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        ],
    );
    assert!(matches!(classify(&bytes), Ok(Incoming::WebSocket(_))));
}

#[test]
fn header_names_and_token_values_match_in_any_case() {
    let bytes = head(
        "GET / HTTP/1.1",
        &[
            "HOST: example.com",
            "upgrade: WebSocket",
            "connection: UPGRADE",
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
            "SEC-WEBSOCKET-VERSION: 13",
        ],
    );
    assert!(matches!(classify(&bytes), Ok(Incoming::WebSocket(_))));
}

#[test]
fn subprotocols_and_extensions_across_several_lines_are_collected_in_order() {
    let bytes = valid_with(&[
        "Sec-WebSocket-Protocol: v2.chat, v1.chat",
        "Sec-WebSocket-Protocol: mqtt",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"10\", x-foo",
        "Sec-WebSocket-Extensions: x-bar; a=b",
    ]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!("not accepted");
    };
    assert_eq!(ws.protocols(), ["v2.chat", "v1.chat", "mqtt"]);
    let names: Vec<_> = ws.extensions().iter().map(|e| e.name).collect();
    assert_eq!(names, ["permessage-deflate", "x-foo", "x-bar"]);
    let bits = ws.extensions()[0].param("client_max_window_bits").unwrap();
    assert_eq!(bits.value.as_deref(), Some("10"));
    assert_eq!(
        ws.choose_protocol(&["mqtt", "v1.chat"], SubprotocolPreference::ClientOrder),
        Some("v1.chat")
    );
    assert_eq!(
        ws.choose_protocol(&["mqtt", "v1.chat"], SubprotocolPreference::ServerOrder),
        Some("mqtt")
    );
}

// ---------------------------------------------------------------- plain HTTP

#[test]
fn request_without_any_websocket_header_is_plain_http_with_typed_view() {
    let bytes = head(
        "GET /healthz HTTP/1.1",
        &["Host: example.com", "Accept: */*"],
    );
    let Ok(Incoming::PlainHttp(plain)) = classify(&bytes) else {
        panic!("not plain HTTP");
    };
    assert_eq!(plain.method(), "GET");
    assert_eq!(plain.path(), "/healthz");
    assert_eq!(plain.header("accept"), Some(&b"*/*"[..]));
    assert_eq!(plain.http_minor_version(), 1);
}

#[test]
fn nginx_forwarded_request_without_any_websocket_header_is_plain_http() {
    let bytes = head("GET / HTTP/1.0", &["Host: backend", "Connection: close"]);
    assert!(matches!(classify(&bytes), Ok(Incoming::PlainHttp(_))));
}

#[test]
fn post_with_connection_upgrade_to_h2c_is_plain_http() {
    let bytes = head(
        "POST /api HTTP/1.1",
        &[
            "Host: a",
            "Connection: Upgrade, HTTP2-Settings",
            "Upgrade: h2c",
        ],
    );
    assert!(matches!(classify(&bytes), Ok(Incoming::PlainHttp(_))));
}

// ---------------------------------------------------------------- field failure 3: the proxy

#[test]
fn nginx_forwarded_websocket_request_is_refused_with_400_naming_headers_and_fix() {
    // What nginx sends upstream without proxy_http_version 1.1 and the
    // Upgrade/Connection settings: HTTP/1.0, Connection: close, no Upgrade.
    let bytes = head(
        "GET /chat HTTP/1.0",
        &[
            "Host: backend:8080",
            "Connection: close",
            KEY,
            "Sec-WebSocket-Version: 13",
            "Origin: https://example.com",
        ],
    );
    let error = refusal(&bytes);
    assert_eq!(
        error,
        RequestError::UpgradeHeadersStripped {
            connection: "close".into()
        }
    );
    assert_eq!(error.status(), 400);
    assert_eq!(error.code(), "upgrade-headers-stripped");

    let answer = response::reject(&error);
    let (head, body) = split_response(&answer);
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(head.contains("\r\nConnection: close\r\n"));
    assert!(body.contains("'Upgrade: websocket'"));
    assert!(body.contains("'Connection'"));
    assert!(body.contains("(Connection: close)"));
    assert!(body.contains("proxy_http_version 1.1;"));
    assert!(body.contains("proxy_set_header Upgrade $http_upgrade;"));
    assert!(body.contains("proxy_set_header Connection \"upgrade\";"));
}

#[test]
fn websocket_request_with_only_upgrade_stripped_is_missing_upgrade_with_nginx_fix() {
    let bytes = head(
        "GET / HTTP/1.1",
        &[
            "Host: a",
            "Connection: Upgrade",
            KEY,
            "Sec-WebSocket-Version: 13",
        ],
    );
    let error = refusal(&bytes);
    assert_eq!(error, RequestError::MissingUpgrade);
    assert!(error.to_string().contains(NGINX_UPGRADE_FIX));
}

// ---------------------------------------------------------------- field failure 4: version

#[test]
fn version_8_is_refused_with_426_and_sec_websocket_version_13() {
    let bytes = head(
        "GET / HTTP/1.1",
        &[
            "Host: a",
            "Upgrade: websocket",
            "Connection: Upgrade",
            KEY,
            "Sec-WebSocket-Version: 8",
        ],
    );
    let error = refusal(&bytes);
    assert_eq!(
        error,
        RequestError::UnsupportedVersion {
            version: "8".into()
        }
    );
    assert_eq!(error.status(), 426);
    assert!(error.to_string().contains("version '8'"));
    let (head, body) = split_response(&response::reject(&error));
    assert!(head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(head.contains("\r\nConnection: close\r\n"));
    assert!(body.contains("only version 13"));
}

// ---------------------------------------------------------------- field failure 7: origin

#[test]
fn foreign_origin_is_refused_with_403() {
    let config = ServerConfig::default()
        .with_origin_policy(OriginPolicy::allow_list(["https://app.example.com"]));
    let bytes = valid_with(&["Origin: https://evil.example"]);
    let error = classify_with(&bytes, &config).unwrap_err();
    assert_eq!(
        error,
        RequestError::OriginNotAllowed {
            origin: "https://evil.example".into()
        }
    );
    let (head, body) = split_response(&response::reject(&error));
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    assert!(body.contains("'https://evil.example' is not on this server's allow-list"));
    assert!(body.contains("cross-site WebSocket hijacking"));
}

#[test]
fn allowed_origin_matches_case_insensitively_with_default_port() {
    let config = ServerConfig::default()
        .with_origin_policy(OriginPolicy::allow_list(["https://app.example.com"]));
    let bytes = valid_with(&["Origin: https://APP.example.com:443"]);
    assert!(matches!(
        classify_with(&bytes, &config),
        Ok(Incoming::WebSocket(_))
    ));
}

#[test]
fn missing_origin_is_allowed_by_default_for_non_browser_clients() {
    let config = ServerConfig::default()
        .with_origin_policy(OriginPolicy::allow_list(["https://app.example.com"]));
    assert!(matches!(
        classify_with(&valid_with(&[]), &config),
        Ok(Incoming::WebSocket(_))
    ));
}

#[test]
fn missing_origin_is_refused_with_403_when_required() {
    let config = ServerConfig::default().with_origin_policy(OriginPolicy::any().require_origin());
    let error = classify_with(&valid_with(&[]), &config).unwrap_err();
    assert_eq!(error, RequestError::MissingOrigin);
    assert_eq!(error.status(), 403);
}

#[test]
fn duplicate_origin_is_refused() {
    let bytes = valid_with(&["Origin: https://a.example", "Origin: https://b.example"]);
    assert_eq!(refusal(&bytes), RequestError::DuplicateOrigin { count: 2 });
}

// ---------------------------------------------------------------- Connection policy

#[test]
fn duplicate_connection_lines_are_refused_by_default_naming_webkit() {
    let bytes = valid_with(&["Connection: keep-alive"]);
    let error = refusal(&bytes);
    assert_eq!(error, RequestError::DuplicateConnection { count: 2 });
    assert_eq!(error.code(), "duplicate-connection-header");
    let message = error.to_string();
    assert!(message.contains("WebKit"));
    assert!(message.contains("1006"));
    assert!(message.contains("ConnectionPolicy::Lenient"));
}

#[test]
fn duplicate_connection_lines_are_joined_under_lenient_policy() {
    let config = ServerConfig::default().with_connection_policy(ConnectionPolicy::Lenient);
    let bytes = head(
        "GET / HTTP/1.1",
        &[
            "Host: a",
            "Upgrade: websocket",
            "Connection: keep-alive",
            "Connection: Upgrade",
            KEY,
            "Sec-WebSocket-Version: 13",
        ],
    );
    assert!(matches!(
        classify_with(&bytes, &config),
        Ok(Incoming::WebSocket(_))
    ));
}

// ---------------------------------------------------------------- each defect

macro_rules! refused {
    ($($name:ident: $bytes:expr => $expected:expr, status $status:literal;)*) => {$(
        #[test]
        fn $name() {
            let bytes: Vec<u8> = $bytes;
            let error = refusal(&bytes);
            assert_eq!(error, $expected);
            assert_eq!(error.status(), $status);
            let (head, body) = split_response(&response::reject(&error));
            assert!(head.starts_with(concat!("HTTP/1.1 ", $status)));
            assert_eq!(body, format!("{error}\n"));
        }
    )*};
}

refused! {
    post_method_is_refused: head("POST / HTTP/1.1", &["Host: a", "Upgrade: websocket", "Connection: Upgrade", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::MethodNotGet { method: "POST".into() }, status 400;
    http_1_0_with_upgrade_headers_is_refused: head("GET / HTTP/1.0", &["Host: a", "Upgrade: websocket", "Connection: Upgrade", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::HttpVersionTooOld { minor: 0 }, status 400;
    missing_host_is_refused: head("GET / HTTP/1.1", &["Upgrade: websocket", "Connection: Upgrade", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::MissingHost, status 400;
    duplicate_host_is_refused: valid_with(&["Host: other.example"])
        => RequestError::DuplicateHost { count: 2 }, status 400;
    empty_host_is_refused: head("GET / HTTP/1.1", &["Host:", "Upgrade: websocket", "Connection: Upgrade", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::InvalidHost, status 400;
    missing_connection_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: websocket", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::MissingConnection, status 400;
    connection_without_upgrade_token_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: websocket", "Connection: keep-alive", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::ConnectionWithoutUpgrade { value: "keep-alive".into() }, status 400;
    upgrade_to_another_protocol_with_websocket_key_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: h2c", "Connection: Upgrade", KEY, "Sec-WebSocket-Version: 13"])
        => RequestError::UpgradeNotWebSocket { value: "h2c".into() }, status 400;
    missing_version_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: websocket", "Connection: Upgrade", KEY])
        => RequestError::MissingVersion, status 400;
    duplicate_version_is_refused: valid_with(&["Sec-WebSocket-Version: 13"])
        => RequestError::DuplicateVersion { count: 2 }, status 400;
    missing_key_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"])
        => RequestError::MissingKey, status 400;
    duplicate_key_is_refused: valid_with(&["Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="])
        => RequestError::DuplicateKey { count: 2 }, status 400;
    key_that_is_not_base64_of_16_bytes_is_refused: head("GET / HTTP/1.1", &["Host: a", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: hello", "Sec-WebSocket-Version: 13"])
        => RequestError::InvalidKey { value: "hello".into() }, status 400;
    empty_subprotocol_header_is_refused: valid_with(&["Sec-WebSocket-Protocol:"])
        => RequestError::InvalidProtocolHeader { value: String::new() }, status 400;
    malformed_extensions_header_is_refused: valid_with(&["Sec-WebSocket-Extensions: permessage-deflate; x=\"a b\""])
        => RequestError::InvalidExtensionHeader {
            value: "permessage-deflate; x=\"a b\"".into(),
            reason: ws13_handshake::extensions::ExtensionsError::QuotedValueNotToken { value: "a b".into() },
        }, status 400;
}

#[test]
fn version_problems_answer_with_sec_websocket_version_13() {
    for error in [
        RequestError::MissingVersion,
        RequestError::DuplicateVersion { count: 2 },
    ] {
        let (head, _) = split_response(&response::reject(&error));
        assert!(
            head.contains("\r\nSec-WebSocket-Version: 13\r\n"),
            "{error:?}"
        );
    }
}

#[test]
fn every_problem_of_a_broken_request_is_listed_first_one_matching_classify() {
    let bytes = head(
        "POST / HTTP/1.0",
        &[
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Connection: keep-alive",
            "Sec-WebSocket-Key: short",
            "Sec-WebSocket-Version: 7",
        ],
    );
    let config = ServerConfig::default();
    let request = RequestReader::default()
        .read(&bytes)
        .unwrap()
        .complete()
        .unwrap();
    let codes: Vec<_> = request.problems(&config).iter().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        [
            "method-not-get",
            "duplicate-connection-header",
            "http-version-too-old",
            "missing-host-header",
            "unsupported-websocket-version",
            "invalid-websocket-key",
        ]
    );
    assert_eq!(
        request.classify(&config).unwrap_err().code(),
        "method-not-get"
    );
}

// ---------------------------------------------------------------- reading

#[test]
fn request_split_at_every_byte_gives_the_same_result() {
    let config = ServerConfig::default();
    let samples = [
        valid_with(&[
            "Sec-WebSocket-Protocol: chat",
            "Sec-WebSocket-Extensions: permessage-deflate; a=\"1\"",
        ]),
        head(
            "GET /chat HTTP/1.0",
            &[
                "Host: a",
                "Connection: close",
                KEY,
                "Sec-WebSocket-Version: 13",
            ],
        ),
        head("GET /healthz HTTP/1.1", &["Host: a"]),
        valid_with(&["Sec-WebSocket-Version: 8"]),
    ];
    for sample in &samples {
        let whole = classify_with(sample, &config);
        for split in 0..sample.len() {
            let mut reader = RequestReader::new(config.limits());
            assert!(
                reader.read(&sample[..split]).unwrap().is_partial(),
                "complete at {split}"
            );
            let request = reader.read(sample).unwrap().complete().unwrap();
            assert_eq!(request.classify(&config), whole, "split at {split}");
        }
        // And one byte at a time with the same reader.
        let mut reader = RequestReader::new(config.limits());
        for end in 0..sample.len() {
            assert!(reader.read(&sample[..end]).unwrap().is_partial());
        }
        let request = reader.read(sample).unwrap().complete().unwrap();
        assert_eq!(request.classify(&config), whole);
    }
}

#[test]
fn bytes_after_the_head_are_not_consumed() {
    let mut bytes = valid_with(&[]);
    let head_len = bytes.len();
    bytes.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!("not accepted");
    };
    assert_eq!(ws.head_len(), head_len);
}

#[test]
fn head_larger_than_the_limit_is_an_error_not_growth() {
    // A 20 MB header trickled in 4 KiB at a time stops at the 16 KiB limit.
    let mut reader = RequestReader::default();
    let mut buf = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    let result = loop {
        buf.extend_from_slice(&[b'a'; 4096]);
        assert!(buf.len() < 20 * 1024 * 1024);
        match reader.read(&buf) {
            Ok(Status::Partial) => continue,
            other => break other,
        }
    };
    assert_eq!(
        result,
        Err(HeadError::TooLarge {
            limit: Limits::DEFAULT_MAX_HEAD_BYTES
        })
    );
    assert!(buf.len() <= Limits::DEFAULT_MAX_HEAD_BYTES + 4096);
    let error = RequestError::from(HeadError::TooLarge { limit: 16384 });
    assert_eq!(error.status(), 431);
}

#[test]
fn trickled_head_costs_linear_time() {
    // One byte per call up to a 2 MiB limit: a rescanning reader would do
    // about 2 * 10^12 byte comparisons here; this one does 2 * 10^6.
    let limit = 2 * 1024 * 1024;
    let mut reader = RequestReader::new(Limits {
        max_head_bytes: limit,
        max_headers: 64,
    });
    let mut buf = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    buf.resize(limit + 1, b'a');
    let mut outcome = None;
    for end in 1..=buf.len() {
        match reader.read(&buf[..end]) {
            Ok(Status::Partial) => {}
            other => {
                outcome = Some((end, other));
                break;
            }
        }
    }
    assert_eq!(outcome, Some((limit, Err(HeadError::TooLarge { limit }))));
}

#[test]
fn more_headers_than_the_limit_is_an_error() {
    let mut lines = vec!["Host: a".to_string()];
    lines.extend((0..100).map(|i| format!("X-{i}: y")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = head("GET / HTTP/1.1", &refs);
    let result = RequestReader::default().read(&bytes);
    assert_eq!(result, Err(HeadError::TooManyHeaders { limit: 64 }));
}

#[test]
fn an_accepted_request_keeps_every_header_line_in_order() {
    let bytes = valid_with(&["Cookie: a=1", "X-Trace: abc"]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!("valid");
    };
    let lines: Vec<(&str, &[u8])> = ws.headers().iter().map(|h| (h.name, h.value)).collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0], ("Host", &b"example.com"[..]));
    assert_eq!(lines[5], ("Cookie", &b"a=1"[..]));
    assert_eq!(lines[6], ("X-Trace", &b"abc"[..]));
}

#[test]
fn header_limits_above_and_below_the_default_are_kept_exactly() {
    // 1 + 100 lines: within a limit of 101, over a limit of 100 (more header
    // slots than the default's), and over a limit of 10 (fewer).
    let mut lines = vec!["Host: a".to_string()];
    lines.extend((0..100).map(|i| format!("X-{i}: y")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = head("GET / HTTP/1.1", &refs);
    let limits = |max_headers| Limits {
        max_head_bytes: Limits::DEFAULT_MAX_HEAD_BYTES,
        max_headers,
    };
    let Ok(Status::Complete(request)) = RequestReader::new(limits(101)).read(&bytes) else {
        panic!("101 lines fit a limit of 101");
    };
    assert_eq!(request.headers().len(), 101);
    assert_eq!(request.headers()[100].value, b"y");
    for limit in [100, 10] {
        assert_eq!(
            RequestReader::new(limits(limit)).read(&bytes),
            Err(HeadError::TooManyHeaders { limit })
        );
    }
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let tls_client_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    let result = RequestReader::default().read(tls_client_hello);
    assert!(
        matches!(result, Err(HeadError::Malformed { .. })),
        "{result:?}"
    );
    let error = RequestError::from(result.unwrap_err());
    assert!(error.to_string().contains("wss://"));
    assert_eq!(error.status(), 400);
}

// ---------------------------------------------------------------- the 101

fn accepted_request(extra: &[&str]) -> Vec<u8> {
    valid_with(extra)
}

#[test]
fn switching_protocols_carries_accept_key_and_one_of_each_handshake_header() {
    let bytes = accepted_request(&[
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!()
    };
    let answer = ws
        .accept()
        .protocol("superchat")
        .unwrap()
        .extensions("permessage-deflate; server_no_context_takeover")
        .unwrap()
        .header("Set-Cookie", "session=1")
        .unwrap()
        .to_bytes();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\
         Set-Cookie: session=1\r\n\
         \r\n"
    );
}

#[test]
fn switching_protocols_without_choices_omits_protocol_and_extensions_headers() {
    let bytes = accepted_request(&["Sec-WebSocket-Extensions: permessage-deflate"]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!()
    };
    let text = String::from_utf8(ws.accept().to_bytes()).unwrap();
    assert!(!text.contains("Sec-WebSocket-Protocol"));
    assert!(
        !text.contains("Sec-WebSocket-Extensions"),
        "no extension accepted unless asked"
    );
}

#[test]
fn extra_header_clashing_with_handshake_header_is_refused_so_connection_is_never_duplicated() {
    // Field failure 1: the application adds Connection: upgrade by hand.
    let bytes = accepted_request(&[]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!()
    };
    for name in [
        "Connection",
        "connection",
        "UPGRADE",
        "Sec-WebSocket-Accept",
        "sec-websocket-protocol",
        "Sec-WebSocket-Extensions",
    ] {
        let error = ws.accept().header(name, "upgrade").unwrap_err();
        assert_eq!(error, BuildError::HandshakeHeader { name: name.into() });
        assert!(error.to_string().contains("1006"));
    }
}

#[test]
fn extra_header_with_cr_lf_or_nul_is_refused() {
    let bytes = accepted_request(&[]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!()
    };
    for value in ["a\r\nConnection: upgrade", "a\nb", "a\rb", "a\0b"] {
        let error = ws.accept().header("X-Test", value).unwrap_err();
        assert_eq!(
            error,
            BuildError::InvalidHeaderValue {
                name: "X-Test".into()
            }
        );
    }
    for name in ["X Test", "X-Test:", "", "X\r\nY"] {
        assert!(matches!(
            ws.accept().header(name, "v"),
            Err(BuildError::InvalidHeaderName { .. })
        ));
    }
}

#[test]
fn unoffered_subprotocol_or_extension_is_refused_by_the_101_builder() {
    let bytes = accepted_request(&[
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Extensions: permessage-deflate",
    ]);
    let Ok(Incoming::WebSocket(ws)) = classify(&bytes) else {
        panic!()
    };
    assert_eq!(
        ws.accept().protocol("Chat").unwrap_err(),
        BuildError::ProtocolNotOffered {
            protocol: "Chat".into()
        }
    );
    assert_eq!(
        ws.accept()
            .extensions("x-webkit-deflate-frame")
            .unwrap_err(),
        BuildError::ExtensionNotOffered {
            name: "x-webkit-deflate-frame".into()
        }
    );
    assert!(matches!(
        ws.accept().extensions(""),
        Err(BuildError::InvalidExtensions { .. })
    ));
    assert!(matches!(
        ws.accept()
            .extensions("permessage-deflate, permessage-deflate"),
        Err(BuildError::InvalidExtensions { .. })
    ));
}

#[test]
fn plain_text_response_has_length_and_connection_close() {
    let (head, body) = split_response(&response::text_response(200, "version 1.2.3\n"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.contains("\r\nConnection: close\r\n"));
    assert_eq!(body, "version 1.2.3\n");
}

#[test]
fn reading_again_after_completion_returns_the_same_request() {
    let mut bytes = valid_with(&[]);
    let head_len = bytes.len();
    bytes.extend_from_slice(b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut reader = RequestReader::default();
    let first = reader.read(&bytes).unwrap().complete().unwrap();
    let again = reader.read(&bytes).unwrap().complete().unwrap();
    assert_eq!(first, again);
    assert_eq!(again.head_len(), head_len);
}
