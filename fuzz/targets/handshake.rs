//! The opening-handshake targets.
//!
//! * `handshake_request`: byte 0 picks the server configuration, byte 1 the
//!   piece sizes; the rest is a request fed to `RequestReader::read` whole and
//!   in pieces (same result either way, and again after completion), then
//!   classified; `problems` agrees with `classify`; the 101 or refusal built
//!   for it is a well-formed head.
//! * `handshake_response`: byte 0 picks what the client offered and its
//!   configuration, byte 1 the piece sizes; the rest is a response fed to
//!   `ClientHandshake::read_response` whole and in pieces (same result);
//!   `response_problems` agrees; an accepted response only accepts offers.
//! * `handshake_structured`: a request and a 101 built from arbitrary
//!   (mostly plausible) parts. Whatever the builders accept, the validators
//!   accept too with the same path, host, origin, key, subprotocols,
//!   extensions and extra headers; built heads never hold a second
//!   `Connection` line nor a CR or LF inside a line.

use arbitrary::{Arbitrary, Unstructured};
use ws13_handshake::extensions::parse_extensions;
use ws13_handshake::{
    ClientConfig, ClientHandshake, ClientRequest, ConnectionPolicy, Incoming, Limits, OriginPolicy,
    RequestReader, ResponseError, ServerConfig, Status, response,
};

use super::common::Pieces;

const NONCE: [u8; 16] = *b"the sample nonce";

fn limits(selector: u8) -> Limits {
    match selector & 3 {
        0 => Limits::default(),
        1 => Limits {
            max_head_bytes: 64,
            max_headers: 4,
        },
        2 => Limits {
            max_head_bytes: 256,
            max_headers: 8,
        },
        _ => Limits {
            max_head_bytes: Limits::DEFAULT_MAX_HEAD_BYTES,
            max_headers: 2,
        },
    }
}

fn policy(lenient: bool) -> ConnectionPolicy {
    if lenient {
        ConnectionPolicy::Lenient
    } else {
        ConnectionPolicy::Strict
    }
}

/// Splits a built head into `(name, value)` pairs, checking that it ends
/// with its only empty line and that no line holds a stray CR or LF.
/// Returns the status or request line and the headers.
fn head_lines(bytes: &[u8]) -> (String, Vec<(String, String)>) {
    let text = std::str::from_utf8(bytes).expect("built head is UTF-8");
    let end = text.find("\r\n\r\n").expect("built head has an end") + 4;
    let head = &text[..end - 4];
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in std::iter::once(start.as_str()).chain(lines) {
        assert!(
            !line.contains(['\r', '\n']),
            "stray CR or LF in built line {line:?}"
        );
    }
    for line in head.split("\r\n").skip(1) {
        let (name, value) = line.split_once(": ").expect("built header line has ': '");
        headers.push((name.to_owned(), value.to_owned()));
    }
    let connections = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Connection"))
        .count();
    assert_eq!(
        connections, 1,
        "built head has {connections} Connection lines"
    );
    (start, headers)
}

/// Feeds `buf` to `read` in growing prefixes until it stops being partial.
fn in_pieces<'b, T, E>(
    buf: &'b [u8],
    seed: u8,
    mut read: impl FnMut(&'b [u8]) -> Result<Status<T>, E>,
) -> Result<Status<T>, E> {
    let mut pieces = Pieces::new(u64::from(seed));
    let max = 1 + usize::from(seed & 0x3f);
    let mut end = 0;
    loop {
        end = (end + pieces.next(max)).min(buf.len());
        match read(&buf[..end]) {
            Ok(Status::Partial) if end < buf.len() => continue,
            result => return result,
        }
    }
}

// ---------------------------------------------------------------- requests

/// The `handshake_request` target.
pub fn handshake_request(data: &[u8]) {
    let [flags, seed, buf @ ..] = data else {
        return;
    };
    let mut origins = if flags & 4 != 0 {
        OriginPolicy::allow_list(["https://example.com"])
    } else {
        OriginPolicy::any()
    };
    if flags & 2 != 0 {
        origins = origins.require_origin();
    }
    let config = ServerConfig::new()
        .with_limits(limits(flags >> 3))
        .with_connection_policy(policy(flags & 1 != 0))
        .with_origin_policy(origins);

    let whole = RequestReader::new(config.limits()).read(buf);
    let mut reader = RequestReader::new(config.limits());
    let pieces = in_pieces(buf, *seed, |b| reader.read(b));
    assert_eq!(
        whole, pieces,
        "fed in pieces, the request reads differently"
    );
    if let Ok(Status::Complete(_)) = &pieces {
        assert_eq!(reader.read(buf), whole, "reading again changes the request");
    }
    let Ok(Status::Complete(request)) = whole else {
        return;
    };
    assert!(request.head_len() <= buf.len());
    let problems = request.problems(&config);
    let attempt = request.is_websocket_attempt();
    match request.clone().classify(&config) {
        Ok(Incoming::PlainHttp(plain)) => {
            assert!(!attempt, "a WebSocket attempt served as plain HTTP");
            assert!(problems.is_empty());
            assert_eq!(plain, request);
            let _ = head_lines(&response::text_response(200, request.path()));
        }
        Ok(Incoming::WebSocket(ws)) => {
            assert!(attempt);
            assert!(problems.is_empty(), "valid, yet problems {problems:?}");
            assert_eq!(ws.path(), request.path());
            assert_eq!(ws.head_len(), request.head_len());
            let mut accept = ws.accept();
            if let Some(protocol) = ws.protocols().first() {
                accept = accept.protocol(protocol).expect("an offered subprotocol");
            }
            if let Some(extension) = ws.extensions().first() {
                accept = accept
                    .extensions(extension.name)
                    .expect("an offered extension");
            }
            let bytes = accept.to_bytes();
            let (start, headers) = head_lines(&bytes);
            assert_eq!(start, "HTTP/1.1 101 Switching Protocols");
            let accepts: Vec<_> = headers
                .iter()
                .filter(|(n, _)| n == "Sec-WebSocket-Accept")
                .collect();
            assert_eq!(accepts.len(), 1);
            assert_eq!(
                accepts[0].1,
                ws.accept_key().expect("HTTP/1.1 has a key").as_str()
            );
        }
        Err(refusal) => {
            assert!(attempt, "plain HTTP refused: {refusal}");
            assert_eq!(
                problems.first(),
                Some(&refusal),
                "classify and problems disagree"
            );
            let bytes = response::reject(&refusal);
            let (_, headers) = head_lines(&bytes);
            let body_start = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "Content-Length")
                .expect("refusal has Content-Length")
                .1
                .parse()
                .unwrap();
            assert_eq!(length, bytes.len() - body_start, "Content-Length is wrong");
            // A client reading the refusal sees its status.
            let client = ClientRequest::new("a", "/", NONCE).unwrap().build();
            let seen = client.response_problems(&bytes);
            assert!(
                matches!(seen.as_slice(), [ResponseError::UnexpectedStatus { status, .. }] if *status == refusal.status()),
                "refusal {refusal:?} reads as {seen:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- responses

fn offering(flags: u8) -> ClientHandshake {
    let mut request = ClientRequest::new("example.com", "/chat", NONCE)
        .unwrap()
        .config(ClientConfig {
            limits: limits(flags >> 3),
            connection_policy: policy(flags & 1 != 0),
        });
    if flags & 2 != 0 {
        request = request
            .protocol("chat")
            .unwrap()
            .protocol("superchat")
            .unwrap();
    }
    if flags & 4 != 0 {
        request = request
            .extensions("permessage-deflate; client_max_window_bits")
            .unwrap()
            .extensions("x-foo")
            .unwrap();
    }
    request.build()
}

/// The `handshake_response` target.
pub fn handshake_response(data: &[u8]) {
    let [flags, seed, buf @ ..] = data else {
        return;
    };
    let whole = offering(*flags).read_response(buf);
    let mut client = offering(*flags);
    let pieces = in_pieces(buf, *seed, |b| client.read_response(b));
    assert_eq!(
        whole, pieces,
        "fed in pieces, the response reads differently"
    );
    if let Ok(Status::Complete(_)) = &pieces {
        assert_eq!(client.read_response(buf), whole, "reading again changes it");
    }
    let problems = offering(*flags).response_problems(buf);
    match &whole {
        Ok(Status::Partial) => assert!(problems.is_empty()),
        Ok(Status::Complete(accepted)) => {
            assert!(problems.is_empty(), "accepted, yet problems {problems:?}");
            assert!(accepted.head_len() <= buf.len());
            if let Some(protocol) = accepted.protocol() {
                assert!(flags & 2 != 0 && ["chat", "superchat"].contains(&protocol));
            }
            let names: Vec<_> = accepted.extensions().iter().map(|e| e.name).collect();
            for (i, name) in names.iter().enumerate() {
                assert!(flags & 4 != 0, "extension {name} accepted, none offered");
                assert!(
                    ["permessage-deflate", "x-foo"]
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(name)),
                    "unoffered extension {name} accepted"
                );
                assert!(
                    !names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)),
                    "extension {name} accepted twice"
                );
            }
        }
        Err(e) => {
            assert_eq!(
                problems.first(),
                Some(e),
                "read_response and problems disagree"
            );
            assert!(!format!("{e}").is_empty());
        }
    }
}

// ---------------------------------------------------------------- structured

/// Text for a builder: a plausible value or anything at all.
#[derive(Arbitrary, Debug)]
pub enum Text {
    Pick(u8),
    Raw(String),
}

const PLAUSIBLE: &[&str] = &[
    "example.com",
    "/chat",
    "chat",
    "superchat",
    "CHAT",
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "x-foo; a=1; b=\"2\"",
    "https://example.com",
    "Cookie",
    "a=1",
    "X-Custom",
    " ",
    "",
    "a, b",
    "Upgrade",
    "connection",
    "Sec-WebSocket-Protocol",
    "\t",
    "localhost:8080",
    "/?q=1",
    " padded ",
    "x-foo",
    "Host",
];

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Pick(i) => PLAUSIBLE[usize::from(*i) % PLAUSIBLE.len()],
            Text::Raw(text) => text,
        }
    }
}

/// Which subprotocol the server selects.
#[derive(Arbitrary, Debug)]
pub enum ProtocolChoice {
    Offered(u8),
    Other(Text),
}

/// Which extensions the server accepts.
#[derive(Arbitrary, Debug)]
pub enum ExtensionChoice {
    /// The names of the offered extensions, joined, from this index on.
    Offered(u8),
    Other(Text),
}

/// The parts of a request and its 101.
#[derive(Arbitrary, Debug)]
pub struct Parts {
    host: Text,
    path: Text,
    key: [u8; 16],
    origin: Option<Text>,
    protocols: Vec<Text>,
    extensions: Vec<Text>,
    headers: Vec<(Text, Text)>,
    server_protocol: Option<ProtocolChoice>,
    server_extensions: Option<ExtensionChoice>,
    server_headers: Vec<(Text, Text)>,
}

fn trim(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

/// The `handshake_structured` target.
pub fn handshake_structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(parts) = Parts::arbitrary(&mut u) else {
        return;
    };
    let (host, path) = (parts.host.as_str(), parts.path.as_str());
    let Ok(mut builder) = ClientRequest::new(host, path, parts.key) else {
        return;
    };
    let mut origin = None;
    if let Some(o) = &parts.origin
        && let Ok(next) = builder.clone().origin(o.as_str())
    {
        builder = next;
        origin = Some(o.as_str());
    }
    let mut protocols = Vec::new();
    for p in parts.protocols.iter().take(8) {
        if let Ok(next) = builder.clone().protocol(p.as_str()) {
            builder = next;
            protocols.push(p.as_str());
        }
    }
    let mut extension_names = Vec::new();
    for e in parts.extensions.iter().take(8) {
        if let Ok(next) = builder.clone().extensions(e.as_str()) {
            builder = next;
            let parsed = parse_extensions(e.as_str()).expect("the builder parsed it");
            extension_names.extend(parsed.iter().map(|x| x.name.to_owned()));
        }
    }
    let mut headers = Vec::new();
    for (name, value) in parts.headers.iter().take(16) {
        if let Ok(next) = builder.clone().header(name.as_str(), value.as_str()) {
            builder = next;
            headers.push((name.as_str(), value.as_str()));
        }
    }
    let mut handshake = builder.build();
    let request_bytes = handshake.request_bytes().to_vec();
    let (start, _) = head_lines(&request_bytes);
    assert_eq!(start, format!("GET {path} HTTP/1.1"));
    let limits = Limits::default();
    if request_bytes.len() > limits.max_head_bytes || 6 + 2 + headers.len() > limits.max_headers {
        return;
    }

    // The server reads what the client built.
    let config = ServerConfig::default();
    let request = match RequestReader::new(config.limits()).read(&request_bytes) {
        Ok(Status::Complete(request)) => request,
        other => panic!("built request {request_bytes:?} reads as {other:?}"),
    };
    assert_eq!(request.head_len(), request_bytes.len());
    let ws = match request.classify(&config) {
        Ok(Incoming::WebSocket(ws)) => ws,
        other => panic!(
            "built request {:?} classifies as {other:?}",
            String::from_utf8_lossy(&request_bytes)
        ),
    };
    assert_eq!(ws.path(), path);
    assert_eq!(ws.host(), host);
    assert_eq!(ws.origin(), origin.map(trim));
    assert_eq!(ws.key(), Some(handshake.key().as_str()));
    assert_eq!(ws.protocols(), &protocols[..]);
    let offered: Vec<_> = ws.extensions().iter().map(|e| e.name.to_owned()).collect();
    assert_eq!(offered, extension_names);
    for (name, value) in &headers {
        assert!(
            ws.headers()
                .iter()
                .any(|h| h.name == *name && h.value == trim(value).as_bytes()),
            "extra header {name}: {value:?} lost"
        );
    }

    // The client reads the 101 the server built.
    let mut accept = ws.accept();
    let mut chosen = None;
    match &parts.server_protocol {
        Some(ProtocolChoice::Offered(i)) if !protocols.is_empty() => {
            let p = ws.protocols()[usize::from(*i) % protocols.len()];
            accept = accept
                .protocol(p)
                .expect("an offered subprotocol is refused");
            chosen = Some(p);
        }
        Some(ProtocolChoice::Other(text)) => {
            if let Ok(next) = accept.clone().protocol(text.as_str()) {
                accept = next;
                chosen = Some(text.as_str());
            }
        }
        _ => {}
    }
    let joined;
    let extensions_value = match &parts.server_extensions {
        Some(ExtensionChoice::Offered(i)) => {
            let mut names: Vec<&str> = Vec::new();
            for name in offered.iter().skip(usize::from(*i) % (offered.len() + 1)) {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    names.push(name);
                }
            }
            joined = names.join(", ");
            (!names.is_empty()).then_some(joined.as_str())
        }
        Some(ExtensionChoice::Other(text)) => Some(text.as_str()),
        None => None,
    };
    let mut accepted_extensions = Vec::new();
    if let Some(value) = extensions_value {
        match accept.clone().extensions(value) {
            Ok(next) => {
                accept = next;
                let parsed = parse_extensions(value).expect("the builder parsed it");
                accepted_extensions.extend(parsed.iter().map(|x| x.name.to_owned()));
            }
            Err(e) => assert!(
                !matches!(parts.server_extensions, Some(ExtensionChoice::Offered(_))),
                "offered extensions {value:?} refused: {e}"
            ),
        }
    }
    let mut server_headers = 0;
    for (name, value) in parts.server_headers.iter().take(16) {
        if let Ok(next) = accept.clone().header(name.as_str(), value.as_str()) {
            accept = next;
            server_headers += 1;
        }
    }
    let response_bytes = accept.to_bytes();
    let (start, _) = head_lines(&response_bytes);
    assert_eq!(start, "HTTP/1.1 101 Switching Protocols");
    if response_bytes.len() > limits.max_head_bytes || 5 + server_headers > limits.max_headers {
        return;
    }
    let accepted = match handshake.read_response(&response_bytes) {
        Ok(Status::Complete(accepted)) => accepted,
        other => panic!(
            "built 101 {:?} reads as {other:?}",
            String::from_utf8_lossy(&response_bytes)
        ),
    };
    assert_eq!(accepted.head_len(), response_bytes.len());
    assert_eq!(accepted.protocol(), chosen);
    let names: Vec<_> = accepted
        .extensions()
        .iter()
        .map(|e| e.name.to_owned())
        .collect();
    assert_eq!(names, accepted_extensions);
}
