//! Server side: reading a handshake request and classifying it.
//!
//! 1. [`RequestReader::read`] is fed the bytes received so far until it
//!    returns [`Status::Complete`] with an [`HttpRequest`]; or an HTTP
//!    library that parsed the request already hands it over as parts:
//!    [`HttpRequest::http1`], [`HttpRequest::http2`] (an RFC 8441 extended
//!    CONNECT), or `HttpRequest::from_http` (feature `http`). Either way
//!    the same rules below apply, with the same errors.
//! 2. [`HttpRequest::classify`] sorts it into [`Incoming::PlainHttp`] (no
//!    sign of WebSocket at all: serve it as ordinary HTTP),
//!    [`Incoming::WebSocket`] (a valid handshake), or a [`RequestError`]
//!    (a WebSocket attempt with a defect: answer with
//!    [`crate::response::reject`]).
//!
//! A request is a WebSocket *attempt* when it has an `Upgrade` header naming
//! `websocket`, or a `Sec-WebSocket-Key`, or a `Sec-WebSocket-Version`
//! header. This matters behind a misconfigured reverse proxy: nginx strips
//! `Upgrade` and rewrites `Connection`, but forwards the `Sec-WebSocket-*`
//! headers, and such a request gets a 400 that names the proxy fix instead
//! of being served as a web page.

use alloc::string::String;
use alloc::vec::Vec;

use crate::accept::{AcceptKey, accept_key, is_valid_key};
use crate::error::{HeadError, RequestError, excerpt};
use crate::extensions::{Extension, ExtensionsError, parse_extensions};
use crate::head::{
    HeadScanner, Header, Limits, Status, collect_headers, head_error, header_storage,
};
use crate::headers::{ConnectionPolicy, contains_token, is_handshake_header, joined, lines};
use crate::origin::OriginPolicy;
use crate::response::SwitchingProtocols;
use crate::subprotocol::{self, SubprotocolPreference};

/// Server-side settings: size limits, the `Connection` policy and the
/// `Origin` policy. The default is strict on `Connection`, accepts any
/// origin, and uses [`Limits::default`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    limits: Limits,
    connection_policy: ConnectionPolicy,
    origin_policy: OriginPolicy,
}

impl ServerConfig {
    /// The default configuration.
    pub fn new() -> Self {
        ServerConfig::default()
    }

    /// Sets the head size limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets what to do with `Connection` on several lines.
    pub fn with_connection_policy(mut self, policy: ConnectionPolicy) -> Self {
        self.connection_policy = policy;
        self
    }

    /// Sets which origins are accepted.
    pub fn with_origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.origin_policy = policy;
        self
    }

    /// The head size limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The `Connection` policy.
    pub fn connection_policy(&self) -> ConnectionPolicy {
        self.connection_policy
    }

    /// The `Origin` policy.
    pub fn origin_policy(&self) -> &OriginPolicy {
        &self.origin_policy
    }
}

/// Reads a request head incrementally.
///
/// Feed it the buffer of everything received so far on the connection,
/// starting at the request's first byte, each time more bytes arrive. The
/// reader remembers how far it has looked for the end of the head, so each
/// byte is examined once, and it runs the HTTP parser only when the head is
/// complete. Past [`Limits::max_head_bytes`] it returns
/// [`HeadError::TooLarge`] instead of waiting for more.
#[derive(Debug, Clone, Default)]
pub struct RequestReader {
    limits: Limits,
    scanner: HeadScanner,
}

impl RequestReader {
    /// A reader enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestReader {
            limits,
            scanner: HeadScanner::default(),
        }
    }

    /// Looks for a complete request head at the start of `buf`.
    ///
    /// Returns [`Status::Partial`] until the empty line that ends the head
    /// has arrived. Bytes after the head (a pipelined request, or early
    /// WebSocket frames) are not part of the request;
    /// [`HttpRequest::head_len`] says where they start.
    pub fn read<'b>(&mut self, buf: &'b [u8]) -> Result<Status<HttpRequest<'b>>, HeadError> {
        loop {
            let Some(end) = self.scanner.scan(buf, self.limits.max_head_bytes)? else {
                return Ok(Status::Partial);
            };
            // Up to the default limit the header slots live on the stack:
            // no allocation per request for them.
            let mut on_stack = [httparse::EMPTY_HEADER; Limits::DEFAULT_MAX_HEADERS];
            let mut on_heap;
            let storage: &mut [httparse::Header<'b>] =
                if self.limits.max_headers <= Limits::DEFAULT_MAX_HEADERS {
                    &mut on_stack[..self.limits.max_headers]
                } else {
                    on_heap = header_storage(&self.limits);
                    &mut on_heap
                };
            let mut parsed = httparse::Request::new(storage);
            match parsed.parse(&buf[..end]) {
                Ok(httparse::Status::Complete(head_len)) => {
                    self.scanner.confirm(end);
                    let mut request = HttpRequest::http1(
                        parsed.method.unwrap_or_default(),
                        parsed.path.unwrap_or_default(),
                        parsed.version.unwrap_or_default(),
                        collect_headers(parsed.headers),
                    );
                    request.head_len = head_len;
                    return Ok(Status::Complete(request));
                }
                // Blank lines before the request line: keep looking.
                Ok(httparse::Status::Partial) => continue,
                Err(error) => return Err(head_error(error, &self.limits)),
            }
        }
    }
}

/// A parsed HTTP request head, borrowing from the caller's buffer. Any
/// request is one of these before classification; a plain HTTP request
/// stays one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    method: &'a str,
    path: &'a str,
    version: HttpVersion,
    /// HTTP/2 only: `:scheme`, `:authority` and `:protocol`.
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    protocol: Option<&'a str>,
    headers: Vec<Header<'a>>,
    head_len: usize,
}

/// The HTTP version a request arrived with. The WebSocket handshake
/// differs: HTTP/1.1 upgrades a `GET` (RFC 6455 §4.1); HTTP/2 opens a
/// stream with an extended `CONNECT` (RFC 8441 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.0 (or older): too old for a WebSocket.
    Http10,
    /// HTTP/1.1.
    Http11,
    /// HTTP/2.
    Http2,
}

impl HttpVersion {
    /// The version as written in a status line, such as `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
        }
    }
}

/// The pseudo-header fields of an HTTP/2 request (RFC 9113 §8.3.1) that an
/// extended CONNECT (RFC 8441 §4) carries, as an HTTP/2 library hands them
/// over. Leave out (`None`) what the request did not have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Http2Pseudo<'a> {
    /// `:method`, such as `CONNECT`.
    pub method: &'a str,
    /// `:scheme`, such as `https`.
    pub scheme: Option<&'a str>,
    /// `:authority`, such as `example.com:8443`.
    pub authority: Option<&'a str>,
    /// `:path`, such as `/chat?room=1`.
    pub path: Option<&'a str>,
    /// `:protocol`, which RFC 8441 adds: `websocket`.
    pub protocol: Option<&'a str>,
}

impl<'a> HttpRequest<'a> {
    /// An HTTP/1.x request whose head was parsed elsewhere (by hyper, for
    /// example): `method`, the request `target` (such as `/chat?room=1`),
    /// the minor version (1 for HTTP/1.1, 0 for HTTP/1.0) and the header
    /// fields in order. It is classified by the same rules, with the same
    /// errors, as a request [`RequestReader`] read from bytes.
    ///
    /// ```
    /// use ws13_handshake::{Header, HttpRequest, Incoming, ServerConfig};
    ///
    /// let header = |name, value: &'static str| Header { name, value: value.as_bytes() };
    /// let request = HttpRequest::http1("GET", "/chat", 1, vec![
    ///     header("Host", "example.com"),
    ///     header("Upgrade", "websocket"),
    ///     header("Connection", "Upgrade"),
    ///     header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ///     header("Sec-WebSocket-Version", "13"),
    /// ]);
    /// let Ok(Incoming::WebSocket(ws)) = request.classify(&ServerConfig::default()) else {
    ///     panic!("a valid handshake");
    /// };
    /// let response = ws.accept();
    /// assert_eq!(response.status(), 101);
    /// assert!(response.headers().contains(&("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into())));
    /// ```
    pub fn http1(
        method: &'a str,
        target: &'a str,
        minor_version: u8,
        headers: Vec<Header<'a>>,
    ) -> Self {
        HttpRequest {
            method,
            path: target,
            version: if minor_version >= 1 {
                HttpVersion::Http11
            } else {
                HttpVersion::Http10
            },
            scheme: None,
            authority: None,
            protocol: None,
            headers,
            head_len: 0,
        }
    }

    /// An HTTP/2 request, as an HTTP/2 library hands it over: its
    /// pseudo-header fields and its header fields in order. A WebSocket
    /// arrives as an extended CONNECT (RFC 8441): `:method` `CONNECT`,
    /// `:protocol` `websocket`, `:scheme`, `:path` and `:authority`, and
    /// `Sec-WebSocket-Version: 13` with no key. Subprotocols,
    /// permessage-deflate and `Origin` are checked as for HTTP/1.1.
    ///
    /// ```
    /// use ws13_handshake::{Header, Http2Pseudo, HttpRequest, Incoming, ServerConfig};
    ///
    /// let pseudo = Http2Pseudo {
    ///     method: "CONNECT",
    ///     scheme: Some("https"),
    ///     authority: Some("example.com"),
    ///     path: Some("/chat"),
    ///     protocol: Some("websocket"),
    /// };
    /// let headers = vec![Header { name: "sec-websocket-version", value: b"13" }];
    /// let Ok(Incoming::WebSocket(ws)) =
    ///     HttpRequest::http2(pseudo, headers).classify(&ServerConfig::default())
    /// else {
    ///     panic!("a valid extended CONNECT");
    /// };
    /// assert_eq!(ws.host(), "example.com");
    /// assert_eq!(ws.key(), None);
    /// assert_eq!(ws.accept().status(), 200); // no Sec-WebSocket-Accept over HTTP/2
    /// ```
    pub fn http2(pseudo: Http2Pseudo<'a>, headers: Vec<Header<'a>>) -> Self {
        HttpRequest {
            method: pseudo.method,
            path: pseudo.path.unwrap_or_default(),
            version: HttpVersion::Http2,
            scheme: pseudo.scheme,
            authority: pseudo.authority,
            protocol: pseudo.protocol,
            headers,
            head_len: 0,
        }
    }

    /// The method, such as `GET`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target, such as `/chat?room=1`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0 (and 0 for
    /// HTTP/2, whose version is [`HttpRequest::version`]).
    pub fn http_minor_version(&self) -> u8 {
        match self.version {
            HttpVersion::Http11 => 1,
            HttpVersion::Http10 | HttpVersion::Http2 => 0,
        }
    }

    /// The HTTP version.
    pub fn version(&self) -> HttpVersion {
        self.version
    }

    /// HTTP/2: the `:scheme` pseudo-header.
    pub fn scheme(&self) -> Option<&'a str> {
        self.scheme
    }

    /// HTTP/2: the `:authority` pseudo-header.
    pub fn authority(&self) -> Option<&'a str> {
        self.authority
    }

    /// HTTP/2: the `:protocol` pseudo-header of an extended CONNECT.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.is(name)).map(|h| h.value)
    }

    /// The length of the head in bytes; what follows it in the buffer is not
    /// part of this request. 0 for a request built from parsed parts.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Whether the request tries to open a WebSocket: it has an `Upgrade`
    /// header naming `websocket`, a `Sec-WebSocket-Key` or a
    /// `Sec-WebSocket-Version`, or (HTTP/2) a `:protocol` of `websocket`.
    pub fn is_websocket_attempt(&self) -> bool {
        self.protocol
            .is_some_and(|protocol| protocol.eq_ignore_ascii_case(WEBSOCKET_PROTOCOL))
            || self.headers.iter().any(|h| {
                h.is("Sec-WebSocket-Key")
                    || h.is("Sec-WebSocket-Version")
                    || (h.is("Upgrade") && contains_token(text(h.value), "websocket"))
            })
    }

    /// Classifies the request: plain HTTP, a valid WebSocket handshake, or
    /// the first defect of a broken one.
    pub fn classify(self, config: &ServerConfig) -> Result<Incoming<'a>, RequestError> {
        self.check_header_count(config)?;
        if !self.is_websocket_attempt() {
            return Ok(Incoming::PlainHttp(self));
        }
        let mut errors = Vec::new();
        match inspect(&self, config, &mut errors) {
            Some(mut request) if errors.is_empty() => {
                // The header lines move over rather than being copied.
                request.headers = self.headers;
                Ok(Incoming::WebSocket(request))
            }
            _ => Err(errors
                .into_iter()
                .next()
                .unwrap_or(RequestError::MissingUpgrade)),
        }
    }

    /// Every defect of the request as a WebSocket handshake, in the order
    /// [`HttpRequest::classify`] checks them (its error is the first).
    /// Empty for a valid handshake and for plain HTTP.
    pub fn problems(&self, config: &ServerConfig) -> Vec<RequestError> {
        if let Err(error) = self.check_header_count(config) {
            return alloc::vec![error];
        }
        let mut errors = Vec::new();
        if self.is_websocket_attempt() {
            let _ = inspect(self, config, &mut errors);
        }
        errors
    }
}

impl HttpRequest<'_> {
    /// A request built from parts must keep to [`Limits::max_headers`] as a
    /// request read from bytes does (the reader refuses more while parsing).
    fn check_header_count(&self, config: &ServerConfig) -> Result<(), RequestError> {
        let limit = config.limits.max_headers;
        if self.headers.len() > limit {
            return Err(RequestError::Head(HeadError::TooManyHeaders { limit }));
        }
        Ok(())
    }
}

/// The `:protocol` value of an extended CONNECT that opens a WebSocket
/// (RFC 8441 §4), and the `Upgrade` token of an HTTP/1.1 handshake.
pub const WEBSOCKET_PROTOCOL: &str = "websocket";

/// The classification of a complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A valid WebSocket handshake; answer with [`WebSocketRequest::accept`].
    WebSocket(WebSocketRequest<'a>),
    /// No sign of WebSocket: serve it as ordinary HTTP (a health check, a
    /// version endpoint on the same port), for example with
    /// [`crate::response::text_response`].
    PlainHttp(HttpRequest<'a>),
}

/// A valid WebSocket handshake request, borrowing from the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketRequest<'a> {
    version: HttpVersion,
    path: &'a str,
    host: &'a str,
    origin: Option<&'a str>,
    key: Option<&'a str>,
    protocols: Vec<&'a str>,
    extensions: Vec<Extension<'a>>,
    headers: Vec<Header<'a>>,
    head_len: usize,
}

impl<'a> WebSocketRequest<'a> {
    /// The request target, such as `/chat?room=1`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The HTTP version: [`HttpVersion::Http11`] for an upgraded `GET`,
    /// [`HttpVersion::Http2`] for an extended CONNECT.
    pub fn version(&self) -> HttpVersion {
        self.version
    }

    /// The `Host` header (HTTP/1.1) or the `:authority` (HTTP/2).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The `Origin` header, absent for most non-browser clients.
    pub fn origin(&self) -> Option<&'a str> {
        self.origin
    }

    /// The `Sec-WebSocket-Key` header; HTTP/2 has none (RFC 8441 §5).
    pub fn key(&self) -> Option<&'a str> {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value that answers the key; HTTP/2 has
    /// none.
    pub fn accept_key(&self) -> Option<AcceptKey> {
        self.key.map(|key| accept_key(key.as_bytes()))
    }

    /// The offered subprotocols, in the client's order of preference.
    pub fn protocols(&self) -> &[&'a str] {
        &self.protocols
    }

    /// The offered extensions with their parameters, in order.
    pub fn extensions(&self) -> &[Extension<'a>] {
        &self.extensions
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// Header lines other than `Host`, `Origin`, `Connection`, `Upgrade`
    /// and `Sec-WebSocket-*` (cookies, authorization, user agent, ...).
    pub fn other_headers(&self) -> impl Iterator<Item = &Header<'a>> {
        self.headers
            .iter()
            .filter(|h| !(h.is("Host") || h.is("Origin") || is_handshake_header(h.name)))
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.is(name)).map(|h| h.value)
    }

    /// The length of the head in bytes. Bytes after it in the buffer are the
    /// client's first WebSocket frames, which the caller keeps.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// Picks the subprotocol to answer with from those the server supports;
    /// see [`subprotocol::choose`].
    pub fn choose_protocol(
        &self,
        supported: &[&str],
        preference: SubprotocolPreference,
    ) -> Option<&'a str> {
        subprotocol::choose(&self.protocols, supported, preference)
    }

    /// Starts the accepting response to this request: 101 Switching
    /// Protocols for HTTP/1.1, 200 for an HTTP/2 extended CONNECT.
    pub fn accept(&self) -> SwitchingProtocols<'_> {
        SwitchingProtocols::new(self)
    }
}

/// A header value as text for token matching; non-UTF-8 matches nothing.
fn text(value: &[u8]) -> &str {
    core::str::from_utf8(value).unwrap_or("")
}

/// Runs every check in order, pushing each defect; returns the typed view
/// when the parts it needs are sound (the caller still checks `errors`).
/// The view's header lines are left empty for the caller to move in.
fn inspect<'a>(
    request: &HttpRequest<'a>,
    config: &ServerConfig,
    errors: &mut Vec<RequestError>,
) -> Option<WebSocketRequest<'a>> {
    let headers = &request.headers[..];
    let (host, key) = if request.version == HttpVersion::Http2 {
        check_extended_connect(request, errors);
        check_no_http1_upgrade_headers(headers, errors);
        let authority = check_authority(request, errors);
        check_websocket_version(headers, errors);
        (authority, Some(None))
    } else {
        check_method(request.method, errors);
        check_connection_and_upgrade(headers, config.connection_policy, errors);
        check_http_version(request.version, errors);
        let host = check_host(headers, errors);
        check_websocket_version(headers, errors);
        (host, check_key(headers, errors).map(Some))
    };
    let protocols = protocol_offer(headers, errors);
    let extensions = extension_offer(headers, errors);
    let origin = check_origin(headers, &config.origin_policy, errors);

    Some(WebSocketRequest {
        version: request.version,
        path: request.path,
        host: host?,
        origin,
        key: key?,
        protocols: protocols?,
        extensions: extensions?,
        // Filled by `classify`, which owns the lines; `problems` only
        // needs the errors.
        headers: Vec::new(),
        head_len: request.head_len,
    })
}

/// How many lines of the header `name` there are.
fn count(headers: &[Header<'_>], name: &str) -> usize {
    lines(headers, name).count()
}

/// The value of the first line of the header `name`.
fn single<'a>(headers: &[Header<'a>], name: &str) -> Option<&'a [u8]> {
    lines(headers, name).next().map(|h| h.value)
}

/// Checks that the method is `GET`.
fn check_method(method: &str, errors: &mut Vec<RequestError>) {
    if method != "GET" {
        errors.push(RequestError::MethodNotGet {
            method: excerpt(method.as_bytes()),
        });
    }
}

/// Checks that `Connection` asks for an upgrade and `Upgrade` names `websocket`.
fn check_connection_and_upgrade(
    headers: &[Header<'_>],
    policy: ConnectionPolicy,
    errors: &mut Vec<RequestError>,
) {
    // A request that lost both is the signature of a proxy that does not
    // forward the upgrade, and gets one clear error.
    let connections = count(headers, "Connection");
    let has_upgrade_token =
        lines(headers, "Connection").any(|h| contains_token(text(h.value), "upgrade"));
    let upgrades = count(headers, "Upgrade");
    if upgrades == 0 && !has_upgrade_token {
        let connection = if connections == 0 {
            String::from("(none)")
        } else {
            joined(headers, "Connection")
        };
        errors.push(RequestError::UpgradeHeadersStripped { connection });
    } else {
        if connections == 0 {
            errors.push(RequestError::MissingConnection);
        } else if connections > 1 && policy == ConnectionPolicy::Strict {
            errors.push(RequestError::DuplicateConnection { count: connections });
        }
        if connections > 0 && !has_upgrade_token {
            errors.push(RequestError::ConnectionWithoutUpgrade {
                value: joined(headers, "Connection"),
            });
        }
        if upgrades == 0 {
            errors.push(RequestError::MissingUpgrade);
        } else if !lines(headers, "Upgrade").any(|h| contains_token(text(h.value), "websocket")) {
            errors.push(RequestError::UpgradeNotWebSocket {
                value: joined(headers, "Upgrade"),
            });
        }
    }
}

/// Checks that the request is HTTP/1.1 or later.
fn check_http_version(version: HttpVersion, errors: &mut Vec<RequestError>) {
    if version == HttpVersion::Http10 {
        errors.push(RequestError::HttpVersionTooOld { minor: 0 });
    }
}

/// HTTP/2: checks the extended CONNECT of RFC 8441 §4: `:method`
/// `CONNECT`, `:protocol` `websocket`, and `:scheme` and `:path` present.
fn check_extended_connect(request: &HttpRequest<'_>, errors: &mut Vec<RequestError>) {
    if request.method != "CONNECT" {
        errors.push(RequestError::MethodNotConnect {
            method: excerpt(request.method.as_bytes()),
        });
    }
    match request.protocol {
        None => errors.push(RequestError::MissingPseudoHeader { name: ":protocol" }),
        Some(protocol) if !protocol.eq_ignore_ascii_case(WEBSOCKET_PROTOCOL) => {
            errors.push(RequestError::ProtocolNotWebSocket {
                value: excerpt(protocol.as_bytes()),
            });
        }
        Some(_) => {}
    }
    if request.scheme.is_none_or(str::is_empty) {
        errors.push(RequestError::MissingPseudoHeader { name: ":scheme" });
    }
    if request.path.is_empty() {
        errors.push(RequestError::MissingPseudoHeader { name: ":path" });
    }
}

/// HTTP/2: checks that none of HTTP/1.1's upgrade headers came along
/// (`Upgrade` and `Connection` are connection-specific, which RFC 9113
/// §8.2.2 forbids; RFC 8441 §5 drops `Sec-WebSocket-Key`).
fn check_no_http1_upgrade_headers(headers: &[Header<'_>], errors: &mut Vec<RequestError>) {
    for name in ["Upgrade", "Connection", "Sec-WebSocket-Key"] {
        if count(headers, name) > 0 {
            errors.push(RequestError::Http1HeaderInHttp2 { name });
        }
    }
}

/// HTTP/2: checks that `:authority` is present and not empty, and returns
/// it (it stands in for `Host`).
fn check_authority<'a>(
    request: &HttpRequest<'a>,
    errors: &mut Vec<RequestError>,
) -> Option<&'a str> {
    match request.authority {
        Some(authority) if !authority.is_empty() => Some(authority),
        _ => {
            errors.push(RequestError::MissingPseudoHeader { name: ":authority" });
            None
        }
    }
}

/// Checks that there is one non-empty `Host`, and returns it.
fn check_host<'a>(headers: &[Header<'a>], errors: &mut Vec<RequestError>) -> Option<&'a str> {
    match count(headers, "Host") {
        0 => {
            errors.push(RequestError::MissingHost);
            None
        }
        1 => match single(headers, "Host").and_then(|v| core::str::from_utf8(v).ok()) {
            Some(host) if !host.is_empty() => Some(host),
            _ => {
                errors.push(RequestError::InvalidHost);
                None
            }
        },
        n => {
            errors.push(RequestError::DuplicateHost { count: n });
            None
        }
    }
}

/// Checks that there is one `Sec-WebSocket-Version`, and that it is 13.
fn check_websocket_version(headers: &[Header<'_>], errors: &mut Vec<RequestError>) {
    match count(headers, "Sec-WebSocket-Version") {
        0 => errors.push(RequestError::MissingVersion),
        1 => {
            let version = single(headers, "Sec-WebSocket-Version").unwrap_or_default();
            if version != b"13" {
                errors.push(RequestError::UnsupportedVersion {
                    version: excerpt(version),
                });
            }
        }
        n => errors.push(RequestError::DuplicateVersion { count: n }),
    }
}

/// Checks that there is one valid `Sec-WebSocket-Key`, and returns it.
fn check_key<'a>(headers: &[Header<'a>], errors: &mut Vec<RequestError>) -> Option<&'a str> {
    match count(headers, "Sec-WebSocket-Key") {
        0 => {
            errors.push(RequestError::MissingKey);
            None
        }
        1 => {
            let value = single(headers, "Sec-WebSocket-Key").unwrap_or_default();
            if is_valid_key(value) {
                core::str::from_utf8(value).ok()
            } else {
                errors.push(RequestError::InvalidKey {
                    value: excerpt(value),
                });
                None
            }
        }
        n => {
            errors.push(RequestError::DuplicateKey { count: n });
            None
        }
    }
}

/// Checks `Origin` against the origin policy, and returns it when present.
fn check_origin<'a>(
    headers: &[Header<'a>],
    policy: &OriginPolicy,
    errors: &mut Vec<RequestError>,
) -> Option<&'a str> {
    match count(headers, "Origin") {
        0 => {
            if policy.requires_origin() {
                errors.push(RequestError::MissingOrigin);
            }
            None
        }
        1 => {
            let value = single(headers, "Origin").unwrap_or_default();
            match core::str::from_utf8(value) {
                Ok(origin) if policy.allows(Some(origin)) => Some(origin),
                _ => {
                    errors.push(RequestError::OriginNotAllowed {
                        origin: excerpt(value),
                    });
                    None
                }
            }
        }
        n => {
            errors.push(RequestError::DuplicateOrigin { count: n });
            None
        }
    }
}

/// Checks the `Sec-WebSocket-Protocol` lines, and returns the offered subprotocols.
fn protocol_offer<'a>(
    headers: &[Header<'a>],
    errors: &mut Vec<RequestError>,
) -> Option<Vec<&'a str>> {
    let mut values = Vec::new();
    for h in lines(headers, "Sec-WebSocket-Protocol") {
        match h.value_str() {
            Some(value) => values.push(value),
            None => {
                errors.push(RequestError::InvalidProtocolHeader {
                    value: excerpt(h.value),
                });
                return None;
            }
        }
    }
    match subprotocol::parse_offer(&values) {
        Ok(offer) => Some(offer),
        Err(line) => {
            errors.push(RequestError::InvalidProtocolHeader {
                value: excerpt(line.as_bytes()),
            });
            None
        }
    }
}

/// Checks the `Sec-WebSocket-Extensions` lines, and returns the offered extensions.
fn extension_offer<'a>(
    headers: &[Header<'a>],
    errors: &mut Vec<RequestError>,
) -> Option<Vec<Extension<'a>>> {
    let mut offer = Vec::new();
    for h in lines(headers, "Sec-WebSocket-Extensions") {
        let parsed = core::str::from_utf8(h.value)
            .map_err(|e| ExtensionsError::ExpectedName {
                position: e.valid_up_to(),
            })
            .and_then(parse_extensions);
        match parsed {
            Ok(extensions) => offer.extend(extensions),
            Err(reason) => {
                errors.push(RequestError::InvalidExtensionHeader {
                    value: excerpt(h.value),
                    reason,
                });
                return None;
            }
        }
    }
    Some(offer)
}
