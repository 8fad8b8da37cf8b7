//! Server side from parsed parts: a request that an HTTP library already
//! parsed (HTTP/1.1, or an HTTP/2 extended CONNECT) goes through the same
//! rules as a request read from bytes, with the same errors, and the
//! answers come as status, header pairs and body.

use ws13_handshake::response::{self, rejection};
use ws13_handshake::{
    HeadError, Header, Http2Pseudo, HttpRequest, HttpVersion, Incoming, Limits, OriginPolicy,
    RequestError, RequestReader, ServerConfig, Status,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One HTTP/1.x request, as pieces both paths are built from.
struct Http1Case {
    method: &'static str,
    target: &'static str,
    minor: u8,
    headers: Vec<(&'static str, &'static str)>,
}

impl Http1Case {
    fn valid() -> Self {
        Http1Case {
            method: "GET",
            target: "/chat",
            minor: 1,
            headers: vec![
                ("Host", "example.com"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", KEY),
                ("Sec-WebSocket-Version", "13"),
            ],
        }
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn with(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn replacing(self, name: &'static str, value: &'static str) -> Self {
        self.without(name).with(name, value)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.{}\r\n", self.method, self.target, self.minor);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    fn parts(&self) -> HttpRequest<'_> {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        HttpRequest::http1(self.method, self.target, self.minor, headers)
    }
}

/// The problems and the classification error of `case` on the byte path
/// and on the parts path, which must agree.
fn both_paths(
    case: &Http1Case,
    config: &ServerConfig,
) -> (Vec<RequestError>, Option<RequestError>) {
    let bytes = case.bytes();
    let from_bytes = match RequestReader::new(config.limits()).read(&bytes).unwrap() {
        Status::Complete(request) => request,
        Status::Partial => panic!("test heads are complete"),
    };
    let from_parts = case.parts();
    assert_eq!(from_bytes.method(), from_parts.method());
    assert_eq!(from_bytes.path(), from_parts.path());
    assert_eq!(from_bytes.version(), from_parts.version());
    let problems = from_bytes.problems(config);
    assert_eq!(problems, from_parts.problems(config), "problems differ");
    let error_bytes = from_bytes.classify(config).err();
    let error_parts = from_parts.classify(config).err();
    assert_eq!(error_bytes, error_parts, "classification differs");
    (problems, error_bytes)
}

fn codes(problems: &[RequestError]) -> Vec<&'static str> {
    problems.iter().map(RequestError::code).collect()
}

#[test]
fn a_valid_http1_request_from_parts_is_accepted_with_101_and_the_accept_key() {
    let case = Http1Case::valid();
    let (problems, error) = both_paths(&case, &ServerConfig::default());
    assert!(problems.is_empty() && error.is_none());
    let Ok(Incoming::WebSocket(ws)) = case.parts().classify(&ServerConfig::default()) else {
        panic!("valid");
    };
    assert_eq!(ws.version(), HttpVersion::Http11);
    assert_eq!(ws.key(), Some(KEY));
    let accept = ws.accept();
    assert_eq!(accept.status(), 101);
    let headers = accept.headers();
    assert_eq!(
        headers,
        vec![
            ("Upgrade", "websocket".to_string()),
            ("Connection", "Upgrade".to_string()),
            ("Sec-WebSocket-Accept", ACCEPT.to_string()),
        ]
    );
    // The byte form is the same status and pairs.
    let bytes = String::from_utf8(accept.to_bytes()).unwrap();
    assert!(bytes.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(bytes.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")));
    // Exactly: the status line, the same pairs in the same order, the empty line.
    let mut expected = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &headers {
        expected.push_str(&format!("{name}: {value}\r\n"));
    }
    expected.push_str("\r\n");
    assert_eq!(bytes, expected);
}

#[test]
fn every_http1_rule_gives_the_same_diagnostics_on_both_paths() {
    let strict_origin = ServerConfig::default()
        .with_origin_policy(OriginPolicy::allow_list(["https://good.example"]).require_origin());
    let default = ServerConfig::default();
    let cases: Vec<(Http1Case, &ServerConfig, Vec<&str>)> = vec![
        (
            Http1Case {
                method: "POST",
                ..Http1Case::valid()
            },
            &default,
            vec!["method-not-get"],
        ),
        (
            Http1Case {
                minor: 0,
                ..Http1Case::valid()
            },
            &default,
            vec!["http-version-too-old"],
        ),
        (
            Http1Case::valid().without("Upgrade").without("Connection"),
            &default,
            vec!["upgrade-headers-stripped"],
        ),
        (
            Http1Case::valid().with("Connection", "keep-alive"),
            &default,
            vec!["duplicate-connection-header"],
        ),
        (
            Http1Case::valid().replacing("Connection", "keep-alive"),
            &default,
            vec!["connection-without-upgrade"],
        ),
        (
            Http1Case::valid().without("Upgrade"),
            &default,
            vec!["missing-upgrade-header"],
        ),
        (
            Http1Case::valid().replacing("Upgrade", "h2c"),
            &default,
            vec!["upgrade-not-websocket"],
        ),
        (
            Http1Case::valid().without("Host"),
            &default,
            vec!["missing-host-header"],
        ),
        (
            Http1Case::valid().with("Host", "other.example"),
            &default,
            vec!["duplicate-host-header"],
        ),
        (
            Http1Case::valid().without("Sec-WebSocket-Version"),
            &default,
            vec!["missing-websocket-version"],
        ),
        (
            Http1Case::valid().replacing("Sec-WebSocket-Version", "8"),
            &default,
            vec!["unsupported-websocket-version"],
        ),
        (
            Http1Case::valid().without("Sec-WebSocket-Key"),
            &default,
            vec!["missing-websocket-key"],
        ),
        (
            Http1Case::valid().replacing("Sec-WebSocket-Key", "short"),
            &default,
            vec!["invalid-websocket-key"],
        ),
        (
            Http1Case::valid().with("Sec-WebSocket-Key", KEY),
            &default,
            vec!["duplicate-websocket-key"],
        ),
        (
            Http1Case::valid().with("Sec-WebSocket-Protocol", "chat, bad name"),
            &default,
            vec!["invalid-subprotocol-header"],
        ),
        (
            Http1Case::valid().with("Sec-WebSocket-Extensions", "permessage-deflate;;"),
            &default,
            vec!["invalid-extensions-header"],
        ),
        (Http1Case::valid(), &strict_origin, vec!["missing-origin"]),
        (
            Http1Case::valid().with("Origin", "https://evil.example"),
            &strict_origin,
            vec!["origin-not-allowed"],
        ),
        (
            Http1Case::valid()
                .with("Origin", "https://good.example")
                .with("Origin", "https://good.example"),
            &strict_origin,
            vec!["duplicate-origin-header"],
        ),
        (
            Http1Case {
                method: "PUT",
                minor: 0,
                ..Http1Case::valid()
            }
            .without("Host")
            .replacing("Sec-WebSocket-Version", "7"),
            &default,
            vec![
                "method-not-get",
                "http-version-too-old",
                "missing-host-header",
                "unsupported-websocket-version",
            ],
        ),
    ];
    for (case, config, expected) in &cases {
        let (problems, error) = both_paths(case, config);
        assert_eq!(
            codes(&problems),
            *expected,
            "{}",
            String::from_utf8_lossy(&case.bytes())
        );
        assert_eq!(error.as_ref(), problems.first());
    }
}

#[test]
fn too_many_headers_from_parts_is_refused_like_from_bytes() {
    let config = ServerConfig::default().with_limits(Limits {
        max_headers: 6,
        ..Limits::default()
    });
    let case = Http1Case::valid().with("X-One", "1").with("X-Two", "2");
    let error = case.parts().classify(&config).unwrap_err();
    assert_eq!(
        error,
        RequestError::Head(HeadError::TooManyHeaders { limit: 6 })
    );
    assert_eq!(error.status(), 431);
    let bytes = case.bytes();
    let from_bytes = RequestReader::new(config.limits())
        .read(&bytes)
        .unwrap_err();
    assert_eq!(RequestError::Head(from_bytes), error);
    assert_eq!(case.parts().problems(&config), vec![error]);
}

/// The pseudo-headers of a valid RFC 8441 extended CONNECT.
fn connect() -> Http2Pseudo<'static> {
    Http2Pseudo {
        method: "CONNECT",
        scheme: Some("https"),
        authority: Some("example.com:8443"),
        path: Some("/chat?room=1"),
        protocol: Some("websocket"),
    }
}

fn h2_headers(extra: &[(&'static str, &'static str)]) -> Vec<Header<'static>> {
    let mut headers = vec![Header {
        name: "sec-websocket-version",
        value: b"13",
    }];
    headers.extend(extra.iter().map(|(name, value)| Header {
        name,
        value: value.as_bytes(),
    }));
    headers
}

fn h2_problems(
    pseudo: Http2Pseudo<'static>,
    extra: &[(&'static str, &'static str)],
) -> Vec<&'static str> {
    let request = HttpRequest::http2(pseudo, h2_headers(extra));
    let problems = request.problems(&ServerConfig::default());
    assert_eq!(
        request.classify(&ServerConfig::default()).err().as_ref(),
        problems.first()
    );
    codes(&problems)
}

#[test]
fn a_valid_extended_connect_is_accepted_with_200_and_no_accept_key() {
    let request = HttpRequest::http2(
        connect(),
        h2_headers(&[
            ("origin", "https://example.com:8443"),
            ("sec-websocket-protocol", "chat, superchat"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            ),
        ]),
    );
    assert!(request.is_websocket_attempt());
    let Ok(Incoming::WebSocket(ws)) = request.classify(&ServerConfig::default()) else {
        panic!("valid");
    };
    assert_eq!(ws.version(), HttpVersion::Http2);
    assert_eq!(ws.host(), "example.com:8443");
    assert_eq!(ws.path(), "/chat?room=1");
    assert_eq!(ws.origin(), Some("https://example.com:8443"));
    assert_eq!(ws.key(), None);
    assert_eq!(ws.accept_key(), None);
    assert_eq!(ws.protocols(), ["chat", "superchat"]);
    assert_eq!(ws.extensions()[0].name, "permessage-deflate");
    let accept = ws
        .accept()
        .protocol("superchat")
        .unwrap()
        .extensions("permessage-deflate")
        .unwrap();
    assert_eq!(accept.status(), 200);
    assert_eq!(
        accept.headers(),
        vec![
            ("Sec-WebSocket-Protocol", "superchat".to_string()),
            ("Sec-WebSocket-Extensions", "permessage-deflate".to_string()),
        ]
    );
}

#[test]
fn http2_subprotocol_and_extension_offers_follow_the_http1_rules() {
    assert_eq!(
        h2_problems(connect(), &[("sec-websocket-protocol", "chat, bad name")]),
        ["invalid-subprotocol-header"]
    );
    assert_eq!(
        h2_problems(
            connect(),
            &[("sec-websocket-extensions", "permessage-deflate;;")]
        ),
        ["invalid-extensions-header"]
    );
    let request = HttpRequest::http2(connect(), h2_headers(&[("origin", "https://evil.example")]));
    let config = ServerConfig::default()
        .with_origin_policy(OriginPolicy::allow_list(["https://good.example"]));
    let error = request.classify(&config).unwrap_err();
    assert_eq!(error.code(), "origin-not-allowed");
    assert_eq!(error.status(), 403);
}

#[test]
fn http2_requires_connect_with_every_pseudo_header() {
    assert_eq!(
        h2_problems(
            Http2Pseudo {
                method: "GET",
                ..connect()
            },
            &[]
        ),
        ["method-not-connect"]
    );
    for (pseudo, name) in [
        (
            Http2Pseudo {
                protocol: None,
                ..connect()
            },
            ":protocol",
        ),
        (
            Http2Pseudo {
                scheme: None,
                ..connect()
            },
            ":scheme",
        ),
        (
            Http2Pseudo {
                path: None,
                ..connect()
            },
            ":path",
        ),
        (
            Http2Pseudo {
                authority: Some(""),
                ..connect()
            },
            ":authority",
        ),
    ] {
        let request = HttpRequest::http2(pseudo, h2_headers(&[]));
        let error = request.classify(&ServerConfig::default()).unwrap_err();
        assert_eq!(error, RequestError::MissingPseudoHeader { name });
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains(name), "{error}");
    }
    assert_eq!(
        h2_problems(
            Http2Pseudo {
                protocol: Some("webtransport"),
                ..connect()
            },
            &[]
        ),
        ["protocol-not-websocket"]
    );
}

#[test]
fn http2_requires_version_13_and_answers_like_http1() {
    let missing = HttpRequest::http2(connect(), Vec::new())
        .classify(&ServerConfig::default())
        .unwrap_err();
    assert_eq!(missing, RequestError::MissingVersion);
    let old = HttpRequest::http2(
        connect(),
        vec![Header {
            name: "sec-websocket-version",
            value: b"8",
        }],
    )
    .classify(&ServerConfig::default())
    .unwrap_err();
    assert_eq!(old.code(), "unsupported-websocket-version");
    let answer = rejection(&old);
    assert_eq!(answer.status(), 426);
    assert!(answer.headers().contains(&("Sec-WebSocket-Version", "13")));
}

#[test]
fn http1_upgrade_headers_in_http2_name_the_fix() {
    assert_eq!(
        h2_problems(
            connect(),
            &[
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-key", KEY),
            ]
        ),
        [
            "http1-header-in-http2",
            "http1-header-in-http2",
            "http1-header-in-http2"
        ]
    );
    let error = HttpRequest::http2(connect(), h2_headers(&[("sec-websocket-key", KEY)]))
        .classify(&ServerConfig::default())
        .unwrap_err();
    assert_eq!(
        error,
        RequestError::Http1HeaderInHttp2 {
            name: "Sec-WebSocket-Key"
        }
    );
    let message = error.to_string();
    assert!(message.contains("RFC 8441"), "{message}");
    assert!(message.contains("remove 'Sec-WebSocket-Key'"), "{message}");
}

#[test]
fn a_plain_http2_request_is_plain_http() {
    let request = HttpRequest::http2(
        Http2Pseudo {
            method: "GET",
            protocol: None,
            ..connect()
        },
        Vec::new(),
    );
    assert!(matches!(
        request.classify(&ServerConfig::default()),
        Ok(Incoming::PlainHttp(_))
    ));
}

#[test]
fn refusals_as_parts_match_the_refusal_bytes() {
    for error in [
        RequestError::MissingKey,
        RequestError::UnsupportedVersion {
            version: "8".into(),
        },
        RequestError::MissingVersion,
        RequestError::OriginNotAllowed {
            origin: "https://evil.example".into(),
        },
        RequestError::Http1HeaderInHttp2 { name: "Upgrade" },
    ] {
        let parts = rejection(&error);
        assert_eq!(parts.status(), error.status());
        assert_eq!(parts.body(), format!("{error}\n"));
        let bytes = String::from_utf8(response::reject(&error)).unwrap();
        assert!(bytes.starts_with(&format!("HTTP/1.1 {} ", parts.status())));
        for (name, value) in parts.headers() {
            assert!(
                bytes.contains(&format!("\r\n{name}: {value}\r\n")),
                "{bytes}"
            );
        }
        assert!(bytes.contains(&format!("\r\nContent-Length: {}\r\n", parts.body().len())));
        assert!(bytes.ends_with(&format!("\r\n\r\n{}", parts.body())));
    }
    let version = rejection(&RequestError::MissingVersion);
    assert_eq!(version.status(), 400);
    assert!(version.headers().contains(&("Sec-WebSocket-Version", "13")));
    let key = rejection(&RequestError::MissingKey);
    assert!(
        !key.headers()
            .iter()
            .any(|(name, _)| *name == "Sec-WebSocket-Version")
    );
}

#[cfg(feature = "http")]
mod http_types {
    use super::*;

    fn http1_parts(case: &Http1Case) -> http::request::Parts {
        let mut builder = http::Request::builder()
            .method(case.method)
            .uri(case.target)
            .version(if case.minor == 1 {
                http::Version::HTTP_11
            } else {
                http::Version::HTTP_10
            });
        for (name, value) in &case.headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn http_parts_give_the_same_diagnostics_as_bytes() {
        let config = ServerConfig::default();
        for case in [
            Http1Case::valid(),
            Http1Case {
                method: "POST",
                ..Http1Case::valid()
            },
            Http1Case {
                minor: 0,
                ..Http1Case::valid()
            },
            Http1Case::valid().without("Upgrade").without("Connection"),
            Http1Case::valid().replacing("Sec-WebSocket-Version", "8"),
            Http1Case::valid().replacing("Sec-WebSocket-Key", "short"),
            Http1Case::valid().with("Sec-WebSocket-Extensions", "permessage-deflate;;"),
        ] {
            let (problems, _) = both_paths(&case, &config);
            let parts = http1_parts(&case);
            let from_http = HttpRequest::from_http(&parts, None);
            assert_eq!(from_http.problems(&config), problems);
        }
    }

    #[test]
    fn an_http2_extended_connect_in_http_parts_is_accepted_with_200() {
        let (parts, ()) = http::Request::builder()
            .method(http::Method::CONNECT)
            .version(http::Version::HTTP_2)
            .uri("https://example.com/chat")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat")
            .body(())
            .unwrap()
            .into_parts();
        let request = HttpRequest::from_http(&parts, Some("websocket"));
        assert_eq!(request.version(), HttpVersion::Http2);
        let Ok(Incoming::WebSocket(ws)) = request.classify(&ServerConfig::default()) else {
            panic!("valid");
        };
        let response: http::Response<()> = ws.accept().protocol("chat").unwrap().to_http_response();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert!(response.headers().get("sec-websocket-accept").is_none());
        assert!(response.headers().get("upgrade").is_none());

        // Without `:protocol` it is a broken attempt that names the field.
        let error = HttpRequest::from_http(&parts, None)
            .classify(&ServerConfig::default())
            .unwrap_err();
        assert_eq!(
            error,
            RequestError::MissingPseudoHeader { name: ":protocol" }
        );
    }

    #[test]
    fn a_426_as_an_http_response_keeps_its_version_header_and_body() {
        let error = RequestError::UnsupportedVersion {
            version: "8".into(),
        };
        let response: http::Response<String> = rejection(&error).to_http_response();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.body(), &format!("{error}\n"));
    }
}
