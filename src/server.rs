//! The server side of the opening handshake as the drivers run it: settings,
//! and a sans-I/O step that turns request bytes into "need more", "upgrade",
//! "plain HTTP" or "reject". The rules themselves are `ws13-handshake`'s.

use std::time::Duration;

use ws13_codec::Config;

use crate::error::AcceptError;
use crate::request_headers::RequestHeaders;
use ws13_codec::deflate::DeflateSettings;
use ws13_handshake::permessage_deflate::{DeflateParams, DeflateServerPolicy, negotiate};
use ws13_handshake::subprotocol::choose;
use ws13_handshake::{
    BuildError, HttpRequest, HttpVersion, Incoming, OriginPolicy, RequestError, RequestReader,
    ServerConfig, Status, SubprotocolPreference, SwitchingProtocols, TextResponse,
    WebSocketRequest, response,
};

/// Settings for accepting WebSocket connections.
///
/// ```
/// use ws13::ServerOptions;
/// use ws13_handshake::OriginPolicy;
///
/// let options = ServerOptions::default()
///     .origins(OriginPolicy::allow_list(["https://chat.example"]))
///     .subprotocols(["chat.v2", "chat.v1"]);
/// assert_eq!(options.subprotocols, ["chat.v2", "chat.v1"]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Handshake validation: head limits, `Connection` policy, `Origin` policy.
    pub handshake: ServerConfig,
    /// Protocol limits, heartbeat and close timeout for accepted connections.
    pub protocol: Config,
    /// Subprotocols this server speaks; the chosen one is echoed in the 101.
    pub subprotocols: Vec<String>,
    /// Whose order decides between several supported subprotocols.
    pub subprotocol_preference: SubprotocolPreference,
    /// How long a client may take to send its complete request head (a client
    /// trickling bytes is cut off). Default 10 s.
    pub handshake_timeout: Duration,
    /// The paths (without query) that are WebSocket endpoints; a WebSocket
    /// request for any other path gets 404 before any upgrade. Empty (the
    /// default): every path is.
    pub paths: Vec<String>,
    /// permessage-deflate (RFC 7692): `Some` accepts clients' offers within
    /// this policy. Default `None`: compression costs about 300 KiB of zlib
    /// state per connection, so it is opt-in.
    pub deflate: Option<DeflateServerPolicy>,
    /// Compression level and threshold when permessage-deflate is in use.
    pub deflate_settings: DeflateSettings,
    /// The application's decision on each valid WebSocket request, before
    /// the 101 (see [`ServerOptions::decide`]). Default: accept all.
    pub decide: Option<DecideHook>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            handshake: ServerConfig::default(),
            protocol: Config::default(),
            subprotocols: Vec::new(),
            subprotocol_preference: SubprotocolPreference::ClientOrder,
            handshake_timeout: Duration::from_secs(10),
            paths: Vec::new(),
            deflate: None,
            deflate_settings: DeflateSettings::default(),
            decide: None,
        }
    }
}

impl ServerOptions {
    /// Sets the handshake validation settings ([`ServerOptions::handshake`]):
    /// head limits, `Connection` policy and `Origin` policy. This replaces
    /// the whole [`ServerConfig`], including an `Origin` policy set earlier by
    /// [`ServerOptions::origins`]; call `origins` after it, or set the policy
    /// on the `ServerConfig` itself.
    #[must_use]
    pub fn handshake(mut self, config: ServerConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Sets the `Origin` policy (field failure 7: cross-site WebSocket hijacking).
    #[must_use]
    pub fn origins(mut self, policy: OriginPolicy) -> Self {
        self.handshake = self.handshake.with_origin_policy(policy);
        self
    }

    /// Sets the supported subprotocols, most preferred first.
    #[must_use]
    pub fn subprotocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets whose order decides between several supported subprotocols the
    /// client offered ([`ServerOptions::subprotocol_preference`]). Default:
    /// the client's.
    #[must_use]
    pub fn subprotocol_preference(mut self, preference: SubprotocolPreference) -> Self {
        self.subprotocol_preference = preference;
        self
    }

    /// Sets how long a client may take to send its complete request head
    /// ([`ServerOptions::handshake_timeout`]). Default 10 s.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Restricts WebSocket endpoints to these paths (compared without the
    /// query string); other paths are answered 404 before any upgrade.
    #[must_use]
    pub fn paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Decides on every valid WebSocket request before the 101, seeing its
    /// path, query, headers, cookies, origin and offered subprotocols:
    /// accept it (choosing the subprotocol, adding response headers) or
    /// refuse it with a status, headers and a body (401, 403, 404, ...), so
    /// that authentication never needs an upgrade followed by a close.
    /// Requests the handshake rules reject never reach it.
    ///
    /// ```
    /// use ws13::{Acceptance, Decision, Refusal, ServerOptions};
    ///
    /// let options = ServerOptions::default()
    ///     .subprotocols(["chat.v2", "chat.v1"])
    ///     .decide(|request| match request.cookie("session") {
    ///         Some("letmein") => Decision::Accept(Acceptance::new().header("X-Room", "lobby")),
    ///         _ => Decision::Refuse(
    ///             Refusal::new(401, "log in first\n").header("WWW-Authenticate", "Cookie"),
    ///         ),
    ///     });
    /// # let _ = options;
    /// ```
    pub fn decide<F>(mut self, hook: F) -> Self
    where
        F: Fn(&AcceptedRequest) -> Decision + Send + Sync + 'static,
    {
        self.decide = Some(DecideHook(std::sync::Arc::new(hook)));
        self
    }

    /// Whether `target` (path and query) is one of the WebSocket endpoints.
    fn serves(&self, target: &str) -> bool {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        self.paths.is_empty() || self.paths.iter().any(|p| p == path)
    }

    /// Enables permessage-deflate with `policy` (sets
    /// [`ServerOptions::deflate`] to `Some`).
    #[must_use]
    pub fn deflate(mut self, policy: DeflateServerPolicy) -> Self {
        self.deflate = Some(policy);
        self
    }

    /// Sets the compression level and threshold used when permessage-deflate
    /// is agreed ([`ServerOptions::deflate_settings`]). On its own this does
    /// not enable compression: see [`ServerOptions::deflate`].
    #[must_use]
    pub fn deflate_settings(mut self, settings: DeflateSettings) -> Self {
        self.deflate_settings = settings;
        self
    }

    /// Sets the protocol configuration.
    #[must_use]
    pub fn protocol(mut self, config: Config) -> Self {
        self.protocol = config;
        self
    }
}

/// A plain HTTP request that arrived on the WebSocket port (a health check, a
/// page), owned so the caller can answer it after the buffer is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainHttpRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/health`.
    pub path: String,
    /// The header lines, in order.
    pub headers: RequestHeaders,
}

impl PlainHttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }
}

/// The application's hook deciding on WebSocket requests (see
/// [`ServerOptions::decide`]).
#[derive(Clone)]
pub struct DecideHook(std::sync::Arc<dyn Fn(&AcceptedRequest) -> Decision + Send + Sync>);

impl std::fmt::Debug for DecideHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecideHook(..)")
    }
}

/// What the application decided about a WebSocket request, before the 101.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Upgrade, as [`Acceptance`] says.
    Accept(Acceptance),
    /// Answer with the [`Refusal`] and close.
    Refuse(Refusal),
}

/// How to accept a request: the subprotocol (by default the one
/// [`ServerOptions::subprotocols`] chose) and extra response headers.
#[derive(Debug, Clone, Default)]
pub struct Acceptance {
    /// `Some(choice)` overrides the server's own choice of subprotocol.
    protocol: Option<Option<String>>,
    headers: Vec<(String, String)>,
}

impl Acceptance {
    /// Accept with the server's choices.
    pub fn new() -> Self {
        Acceptance::default()
    }

    /// Selects this subprotocol; it must be one the client offered
    /// ([`AcceptedRequest::offered_protocols`]), or the handshake fails with
    /// 500 and [`AcceptError::InvalidDecision`].
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(Some(protocol.into()));
        self
    }

    /// Selects no subprotocol, whatever the client offered.
    pub fn no_protocol(mut self) -> Self {
        self.protocol = Some(None);
        self
    }

    /// Adds a response header (`Set-Cookie`, ...). Handshake headers
    /// (`Connection`, `Upgrade`, `Sec-WebSocket-*`) are refused: the
    /// handshake fails with 500 and [`AcceptError::InvalidDecision`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How to refuse a request: a status (3xx, 4xx or 5xx), headers and a
/// plain-text body.
#[derive(Debug, Clone)]
pub struct Refusal {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Refusal {
    /// Refuses with `status` and `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Refusal {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a response header (`WWW-Authenticate`, `Location`, `Retry-After`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// What the server learned from an accepted handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRequest {
    /// The request target, e.g. `/ws?room=1`.
    pub path: String,
    /// The `Origin` header, if any (already checked against the policy).
    pub origin: Option<String>,
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
    /// The subprotocols the client offered, in its order.
    pub offered_protocols: Vec<String>,
    /// Every header line of the request (cookies, authorization, ...).
    pub headers: RequestHeaders,
    /// The permessage-deflate parameters agreed, if compression is on.
    pub deflate: Option<DeflateParams>,
}

impl AcceptedRequest {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// The value of the first header called `name` (case-insensitive), if it
    /// is valid UTF-8; `None` if there is no such header or it is not.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|value| core::str::from_utf8(value).ok())
    }

    /// The request target without its query: `/ws` for `/ws?room=1`.
    pub fn path_only(&self) -> &str {
        self.path
            .split_once('?')
            .map_or(&self.path, |(path, _)| path)
    }

    /// The raw query string after the first `?`, not decoded: `room=1` for
    /// `/ws?room=1`, `Some("")` for `/ws?`, `None` for `/ws`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, query)| query)
    }

    /// The value of the first `name=value` pair in the query whose decoded
    /// name is `name`, decoded as in an HTML form: `+` is a space and `%XX` a
    /// byte. A `%` not followed by two hex digits is kept as it is; bytes that
    /// decode to invalid UTF-8 become U+FFFD. A pair without `=` (`?debug`)
    /// has the empty value.
    ///
    /// ```
    /// let request = ws13::AcceptedRequest {
    ///     path: "/chat?room=caf%C3%A9+bar&room=2&debug".into(),
    ///     origin: None,
    ///     protocol: None,
    ///     offered_protocols: Vec::new(),
    ///     headers: [("Cookie", "session=abc; theme=dark")].into_iter().collect(),
    ///     deflate: None,
    /// };
    /// assert_eq!(request.path_only(), "/chat");
    /// assert_eq!(request.query_param("room").as_deref(), Some("café bar"));
    /// assert_eq!(request.query_param("debug").as_deref(), Some(""));
    /// assert_eq!(request.query_param("user"), None);
    /// assert_eq!(request.cookie("theme"), Some("dark"));
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(key, _)| form_decode(key) == name)
            .map(|(_, value)| form_decode(value))
    }

    /// The value of the first cookie called `name` (compared exactly, as
    /// cookie names are case-sensitive) in the request's `Cookie` header or
    /// headers (`Cookie: a=1; b=2`), as sent: not decoded, double quotes
    /// kept. `None` if there is no such cookie or its value is not UTF-8.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, value)| value.split(|&b| b == b';'))
            .find_map(|pair| {
                let pair = pair.trim_ascii();
                let at = pair.iter().position(|&b| b == b'=')?;
                let (key, value) = (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii());
                (key == name.as_bytes()).then_some(value)
            })
            .and_then(|value| core::str::from_utf8(value).ok())
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a
/// space, `%XX` a byte; a `%` without two hex digits after it stays literal.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
                    let high = char::from(pair[0]).to_digit(16)?;
                    let low = char::from(pair[1]).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                });
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(decoded) => decoded,
        Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
    }
}

/// The outcome of feeding request bytes to [`ServerHandshake::step`].
#[derive(Debug)]
pub(crate) enum ServerStep {
    /// The head is incomplete: read more.
    NeedMore,
    /// Valid: write `response` (101); frames start at `head_len`.
    Upgrade {
        response: Vec<u8>,
        head_len: usize,
        request: AcceptedRequest,
    },
    /// Not a WebSocket request: the caller serves it.
    PlainHttp { request: PlainHttpRequest },
    /// A broken WebSocket request (400/403/426/431), or a valid one for a
    /// path that is no endpoint (404): write `response`, close, and report
    /// `error`.
    Refuse {
        response: Vec<u8>,
        error: AcceptError,
    },
}

/// Incremental request reading and classification (sans I/O).
#[derive(Debug)]
pub(crate) struct ServerHandshake {
    reader: RequestReader,
}

impl ServerHandshake {
    pub(crate) fn new(options: &ServerOptions) -> Self {
        ServerHandshake {
            reader: RequestReader::new(options.handshake.limits()),
        }
    }

    /// Examines everything received so far (from the request's first byte).
    pub(crate) fn step(&mut self, buf: &[u8], options: &ServerOptions) -> ServerStep {
        let request = match self.reader.read(buf) {
            Ok(Status::Partial) => return ServerStep::NeedMore,
            Ok(Status::Complete(request)) => request,
            Err(head_error) => return refuse_step(reject(RequestError::Head(head_error))),
        };
        let head_len = request.head_len();
        match answer(request, options, ResponseForm::Bytes) {
            Answer::Upgrade(upgrade) => ServerStep::Upgrade {
                response: upgrade.http1_bytes,
                head_len,
                request: upgrade.request,
            },
            Answer::PlainHttp(request) => ServerStep::PlainHttp { request },
            Answer::Refuse(refused) => refuse_step(refused),
        }
    }
}

fn refuse_step(refused: Refused) -> ServerStep {
    ServerStep::Refuse {
        response: refused.response.to_bytes(),
        error: refused.error,
    }
}

/// What a server answers to a complete request, read from bytes or handed
/// over by an HTTP library as parts: the one place where [`ServerOptions`]
/// turn a classified request into a response.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A valid WebSocket request the server accepts.
    Upgrade(UpgradeAnswer),
    /// Not a WebSocket request: the caller serves it.
    PlainHttp(PlainHttpRequest),
    /// Refused: answer with the response, then report the error.
    Refuse(Refused),
}

/// The accepting response and what it agreed on.
#[derive(Debug)]
#[cfg_attr(
    not(feature = "hyper"),
    allow(dead_code, reason = "status and headers are for the hyper integration")
)]
pub(crate) struct UpgradeAnswer {
    /// 101 for HTTP/1.1, 200 for an HTTP/2 extended CONNECT.
    pub(crate) status: u16,
    /// The response's header fields (built for [`ResponseForm::Fields`]).
    pub(crate) headers: Vec<(String, String)>,
    /// The HTTP/1.1 response as bytes (built for [`ResponseForm::Bytes`];
    /// empty for HTTP/2).
    pub(crate) http1_bytes: Vec<u8>,
    pub(crate) request: AcceptedRequest,
}

/// A refusal: the response to send, and the error to report.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) response: TextResponse,
    pub(crate) error: AcceptError,
}

/// The form in which the caller sends an accepting response: only that one
/// is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseForm {
    /// HTTP/1.1 bytes to write to the connection ([`ServerHandshake`]).
    Bytes,
    /// The status and header fields, for an HTTP library (hyper, axum).
    #[cfg_attr(
        not(feature = "hyper"),
        allow(dead_code, reason = "for the hyper integration")
    )]
    Fields,
}

/// Classifies `request` with `options` and answers it, building an
/// accepting response in `form`.
pub(crate) fn answer(
    request: HttpRequest<'_>,
    options: &ServerOptions,
    form: ResponseForm,
) -> Answer {
    match request.classify(&options.handshake) {
        Err(error) => Answer::Refuse(reject(error)),
        Ok(Incoming::PlainHttp(http)) => Answer::PlainHttp(PlainHttpRequest {
            method: http.method().to_owned(),
            path: http.path().to_owned(),
            headers: own_headers(http.headers()),
        }),
        Ok(Incoming::WebSocket(ws)) if !options.serves(ws.path()) => {
            let body = format!(
                "There is no WebSocket endpoint at {}. This server accepts WebSocket \
                 connections at: {}. Check the path of the ws:// or wss:// URL.\n",
                ws.path(),
                options.paths.join(", ")
            );
            Answer::Refuse(Refused {
                response: TextResponse::new(404, body),
                error: AcceptError::NoSuchEndpoint {
                    path: ws.path().to_owned(),
                },
            })
        }
        Ok(Incoming::WebSocket(ws)) => upgrade(&ws, options, form),
    }
}

/// The answer to a valid WebSocket request: the server's choices
/// (subprotocol, permessage-deflate), then the application's decision.
fn upgrade(ws: &WebSocketRequest<'_>, options: &ServerOptions, form: ResponseForm) -> Answer {
    let supported: Vec<&str> = options.subprotocols.iter().map(String::as_str).collect();
    let protocol = choose(ws.protocols(), &supported, options.subprotocol_preference);
    let agreed = options
        .deflate
        .as_ref()
        .and_then(|policy| negotiate(ws.extensions(), policy));
    let mut request = AcceptedRequest {
        path: ws.path().to_owned(),
        origin: ws.origin().map(str::to_owned),
        protocol: protocol.map(str::to_owned),
        offered_protocols: ws.protocols().iter().map(|p| (*p).to_owned()).collect(),
        headers: own_headers(ws.headers()),
        deflate: None,
    };
    let acceptance = match options.decide.as_ref().map(|hook| (hook.0)(&request)) {
        None => Acceptance::new(),
        Some(Decision::Accept(acceptance)) => acceptance,
        Some(Decision::Refuse(refusal)) => return Answer::Refuse(refuse(&refusal)),
    };
    if let Some(choice) = &acceptance.protocol {
        request.protocol = choice.clone();
    }
    let mut response = SwitchingProtocols::new(ws);
    if let Some((params, answer)) = &agreed {
        // The answer names an extension the client offered, so the builder
        // accepts it; if it did not, no compression.
        if let Ok(with_extension) = response.clone().extensions(answer) {
            response = with_extension;
            request.deflate = Some(*params);
        }
    }
    let with_protocol = match request.protocol.as_deref() {
        Some(protocol) => response.protocol(protocol),
        None => Ok(response),
    };
    let built = with_protocol.and_then(|response| {
        acceptance
            .headers
            .iter()
            .try_fold(response, |response, (name, value)| {
                response.header(name, value)
            })
    });
    match built {
        Ok(response) => Answer::Upgrade(UpgradeAnswer {
            status: response.status(),
            headers: match form {
                ResponseForm::Fields => response
                    .headers()
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect(),
                ResponseForm::Bytes => Vec::new(),
            },
            http1_bytes: if form == ResponseForm::Bytes && ws.version() != HttpVersion::Http2 {
                response.to_bytes()
            } else {
                Vec::new()
            },
            request,
        }),
        Err(error) => Answer::Refuse(invalid_decision(error)),
    }
}

/// The answer for a request the application refused.
fn refuse(refusal: &Refusal) -> Refused {
    let headers: Vec<(&str, &str)> = refusal
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    match response::refusal_response(refusal.status, &headers, &refusal.body) {
        Ok(response) => Refused {
            response,
            error: AcceptError::Refused {
                status: refusal.status,
            },
        },
        Err(error) => invalid_decision(error),
    }
}

/// A decision the handshake cannot carry out is the server's bug: 500.
fn invalid_decision(error: BuildError) -> Refused {
    let body = "The server's WebSocket handshake decision was invalid; see its log.\n";
    Refused {
        response: TextResponse::new(500, body),
        error: AcceptError::InvalidDecision(error),
    }
}

fn reject(error: RequestError) -> Refused {
    Refused {
        response: response::rejection(&error),
        error: AcceptError::Rejected { error },
    }
}

/// The headers, owned in three allocations whatever their number.
fn own_headers(headers: &[ws13_handshake::Header<'_>]) -> RequestHeaders {
    let name_bytes = headers.iter().map(|h| h.name.len()).sum();
    let value_bytes = headers.iter().map(|h| h.value.len()).sum();
    let mut owned = RequestHeaders::with_capacity(headers.len(), name_bytes, value_bytes);
    for header in headers {
        owned.push(header.name, header.value);
    }
    owned
}

/// A complete HTTP/1.1 response for a plain HTTP request, with
/// `Content-Length` and `Connection: close`.
pub(crate) fn http_response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response::reason_phrase(status),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &[u8])]) -> AcceptedRequest {
        AcceptedRequest {
            path: path.to_owned(),
            origin: None,
            protocol: None,
            offered_protocols: Vec::new(),
            headers: headers.iter().copied().collect(),
            deflate: None,
        }
    }

    #[test]
    fn header_is_the_first_of_its_name_in_any_case() {
        let r = request(
            "/",
            &[
                ("Host", b"example.com"),
                ("X-Token", b"one"),
                ("x-token", b"two"),
            ],
        );
        assert_eq!(r.header("x-TOKEN"), Some(&b"one"[..]));
        assert_eq!(r.header("host"), Some(&b"example.com"[..]));
        assert_eq!(r.header("Authorization"), None);
    }

    #[test]
    fn header_str_only_for_utf8() {
        let r = request(
            "/",
            &[
                ("X-Name", "José".as_bytes()),
                ("X-Raw", b"\xff\xfe"),
                ("X-Empty", b""),
            ],
        );
        assert_eq!(r.header_str("x-name"), Some("José"));
        assert_eq!(r.header_str("X-Raw"), None);
        assert_eq!(r.header("X-Raw"), Some(&b"\xff\xfe"[..]));
        assert_eq!(r.header_str("X-Empty"), Some(""));
        assert_eq!(r.header_str("X-Missing"), None);
    }

    #[test]
    fn path_only_and_query() {
        let r = request("/ws?room=1&x=2", &[]);
        assert_eq!(r.path_only(), "/ws");
        assert_eq!(r.query(), Some("room=1&x=2"));

        let r = request("/ws", &[]);
        assert_eq!(r.path_only(), "/ws");
        assert_eq!(r.query(), None);
        assert_eq!(r.query_param("room"), None);

        let r = request("/ws?", &[]);
        assert_eq!(r.path_only(), "/ws");
        assert_eq!(r.query(), Some(""));
        assert_eq!(r.query_param("room"), None);

        // Only the first `?` separates; the query keeps later ones.
        let r = request("/a?b?c=d", &[]);
        assert_eq!(r.path_only(), "/a");
        assert_eq!(r.query(), Some("b?c=d"));
        assert_eq!(r.query_param("b?c").as_deref(), Some("d"));
    }

    #[test]
    fn query_param_takes_the_first_of_repeated_keys() {
        let r = request("/ws?room=1&room=2&other=3", &[]);
        assert_eq!(r.query_param("room").as_deref(), Some("1"));
        assert_eq!(r.query_param("other").as_deref(), Some("3"));
        assert_eq!(r.query_param("Room"), None, "names are case-sensitive");
        assert_eq!(r.query_param("roo"), None, "no prefix matches");
    }

    #[test]
    fn query_param_decodes_plus_and_percent_escapes() {
        let r = request(
            "/ws?q=hello+world&name=caf%C3%A9&sym=%2b%26%3D&key%20x=v&eq=a=b",
            &[],
        );
        assert_eq!(r.query_param("q").as_deref(), Some("hello world"));
        assert_eq!(r.query_param("name").as_deref(), Some("café"));
        assert_eq!(r.query_param("sym").as_deref(), Some("+&="));
        // Names are decoded before they are compared.
        assert_eq!(r.query_param("key x").as_deref(), Some("v"));
        // Only the first `=` separates name from value.
        assert_eq!(r.query_param("eq").as_deref(), Some("a=b"));
    }

    #[test]
    fn query_param_keeps_invalid_escapes_literally() {
        let r = request("/ws?a=100%&b=%zz1&c=%4&d=%%41&e=%C3", &[]);
        assert_eq!(r.query_param("a").as_deref(), Some("100%"));
        assert_eq!(r.query_param("b").as_deref(), Some("%zz1"));
        assert_eq!(r.query_param("c").as_deref(), Some("%4"));
        assert_eq!(r.query_param("d").as_deref(), Some("%A"));
        // A lone byte that is not UTF-8 becomes U+FFFD.
        assert_eq!(r.query_param("e").as_deref(), Some("\u{FFFD}"));
    }

    #[test]
    fn query_param_of_pairs_without_value() {
        let r = request("/ws?debug&x=&&y", &[]);
        assert_eq!(r.query_param("debug").as_deref(), Some(""));
        assert_eq!(r.query_param("x").as_deref(), Some(""));
        assert_eq!(r.query_param("y").as_deref(), Some(""));
        assert_eq!(r.query_param("z"), None);
    }

    #[test]
    fn cookie_from_one_header() {
        let r = request("/", &[("Cookie", b"a=1; b=2;c=3 ; d = 4")]);
        assert_eq!(r.cookie("a"), Some("1"));
        assert_eq!(r.cookie("b"), Some("2"));
        assert_eq!(r.cookie("c"), Some("3"));
        assert_eq!(r.cookie("d"), Some("4"));
        assert_eq!(r.cookie("A"), None, "cookie names are case-sensitive");
        assert_eq!(r.cookie("e"), None);
    }

    #[test]
    fn cookie_from_several_headers_first_wins() {
        let r = request(
            "/",
            &[
                ("cookie", b"session=one; theme=dark"),
                ("X-Other", b"session=zero"),
                ("COOKIE", b"session=two; lang=fr"),
            ],
        );
        assert_eq!(r.cookie("session"), Some("one"));
        assert_eq!(r.cookie("theme"), Some("dark"));
        assert_eq!(r.cookie("lang"), Some("fr"));
    }

    #[test]
    fn cookie_edge_cases() {
        let r = request(
            "/",
            &[
                (
                    "Cookie",
                    b"flag; empty=; token=a=b==; quoted=\"x y\"; ; raw=\xff",
                ),
                ("Cookie", b""),
            ],
        );
        assert_eq!(r.cookie("flag"), None, "a pair without = is no cookie");
        assert_eq!(r.cookie("empty"), Some(""));
        assert_eq!(r.cookie("token"), Some("a=b=="));
        assert_eq!(r.cookie("quoted"), Some("\"x y\""));
        assert_eq!(r.cookie("raw"), None);
        assert_eq!(request("/", &[]).cookie("a"), None);
    }

    #[test]
    fn every_server_option_has_a_builder() {
        let options = ServerOptions::default()
            .handshake(ServerConfig::default())
            .origins(OriginPolicy::allow_list(["https://a.example"]))
            .protocol(Config::default().max_message_size(1024))
            .subprotocols(["v2", "v1"])
            .subprotocol_preference(SubprotocolPreference::ServerOrder)
            .handshake_timeout(Duration::from_secs(3))
            .paths(["/ws"])
            .deflate(DeflateServerPolicy::default())
            .deflate_settings(DeflateSettings::default().level(1));
        assert_eq!(
            options.handshake.origin_policy(),
            &OriginPolicy::allow_list(["https://a.example"])
        );
        assert_eq!(options.protocol.max_message_size, 1024);
        assert_eq!(options.subprotocols, ["v2", "v1"]);
        assert_eq!(
            options.subprotocol_preference,
            SubprotocolPreference::ServerOrder
        );
        assert_eq!(options.handshake_timeout, Duration::from_secs(3));
        assert_eq!(options.paths, ["/ws"]);
        assert_eq!(options.deflate, Some(DeflateServerPolicy::default()));
        assert_eq!(options.deflate_settings.level, 1);
    }
}
