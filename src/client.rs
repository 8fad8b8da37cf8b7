//! The client side of the opening handshake as the drivers run it: URL
//! parsing, settings, and a sans-I/O step over the response bytes. The rules
//! are `ws13-handshake`'s.

use std::time::Duration;

use ws13_codec::Config;
use ws13_codec::deflate::DeflateSettings;
use ws13_handshake::permessage_deflate::{DeflateClientPolicy, DeflateParams, PERMESSAGE_DEFLATE};
use ws13_handshake::{BuildError, ClientConfig, ClientHandshake, ClientRequest, Extension, Status};

use crate::error::ConnectError;
use crate::mask_keys::handshake_nonce;
use crate::proxy::ProxyChoice;

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://` (TLS) rather than `ws://`.
    pub secure: bool,
    /// The host name or address, without brackets for IPv6.
    pub host: String,
    /// The port (default 80 for `ws`, 443 for `wss`).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl WsUrl {
    /// Parses a WebSocket URL.
    ///
    /// ```
    /// let url = ws13::WsUrl::parse("ws://127.0.0.1:9001/chat?room=1").unwrap();
    /// assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("127.0.0.1", 9001, "/chat?room=1"));
    /// assert!(ws13::WsUrl::parse("http://example.com/").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<WsUrl, ConnectError> {
        let invalid = |why: &str| ConnectError::InvalidUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        let (secure, rest) = if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else {
            return Err(invalid("the scheme must be ws:// or wss://"));
        };
        if rest.contains('#') {
            return Err(invalid("WebSocket URLs must not have a fragment (#...)"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_owned()),
            Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(invalid("user information (user@host) is not supported"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port).map_err(invalid)?;
        Ok(WsUrl {
            secure,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The `Host` header value: the host, with the port unless it is the default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.secure { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Settings for connecting. Start from [`ClientOptions::default`] and change
/// what you need with the builder methods, one per field:
///
/// ```
/// use std::time::Duration;
/// use ws13::ClientOptions;
/// use ws13::handshake::permessage_deflate::DeflateClientPolicy;
///
/// let options = ClientOptions::default()
///     .origin("https://chat.example")
///     .subprotocols(["chat.v2", "chat.v1"])
///     .header("Authorization", "Bearer 7f3a")
///     .headers([("Cookie", "session=abc"), ("X-Client", "ws13")])
///     .handshake_timeout(Duration::from_secs(5))
///     .deflate(DeflateClientPolicy::default());
/// assert_eq!(options.headers.len(), 3);
/// assert!(options.deflate.is_some());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Protocol limits, heartbeat and close timeout.
    pub protocol: Config,
    /// Response validation: head limits and the `Connection` policy (strict, as
    /// WebKit).
    pub handshake: ClientConfig,
    /// An `Origin` header to send, as a browser would.
    pub origin: Option<String>,
    /// Subprotocols to offer, most preferred first.
    pub subprotocols: Vec<String>,
    /// Extra request headers (cookies, authorization). Handshake headers are
    /// refused: ws13 writes those itself.
    pub headers: Vec<(String, String)>,
    /// How long the server may take to answer. Default 10 s.
    pub handshake_timeout: Duration,
    /// permessage-deflate (RFC 7692): `Some` offers it with this policy.
    /// Default `None`.
    pub deflate: Option<DeflateClientPolicy>,
    /// Compression level and threshold when permessage-deflate is in use.
    pub deflate_settings: DeflateSettings,
    /// Which proxy to go through: by default the one the environment names
    /// (`HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`, `ALL_PROXY`,
    /// minus `NO_PROXY`; see [`crate::proxy::proxy_from_env`]).
    pub proxy: ProxyChoice,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            protocol: Config::default(),
            handshake: ClientConfig::default(),
            origin: None,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            deflate: None,
            deflate_settings: DeflateSettings::default(),
            proxy: ProxyChoice::FromEnvironment,
        }
    }
}

impl ClientOptions {
    /// Sets the protocol configuration ([`ClientOptions::protocol`]): limits,
    /// heartbeat and close timeout.
    #[must_use]
    pub fn protocol(mut self, config: Config) -> Self {
        self.protocol = config;
        self
    }

    /// Sets the response validation settings ([`ClientOptions::handshake`]):
    /// head limits and the `Connection` policy.
    #[must_use]
    pub fn handshake(mut self, config: ClientConfig) -> Self {
        self.handshake = config;
        self
    }

    /// Sends `Origin: origin` with the request, as a browser would.
    #[must_use]
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sets the subprotocols to offer, most preferred first (replacing any
    /// set before).
    #[must_use]
    pub fn subprotocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one extra request header (after those added before). Handshake
    /// headers (`Host`, `Upgrade`, `Sec-WebSocket-*`, ...) are refused when
    /// connecting: ws13 writes those itself.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds several extra request headers, in order, after those added
    /// before (as [`ClientOptions::header`] does for one).
    #[must_use]
    pub fn headers<I, N, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        self.headers.extend(
            headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    /// Sets how long the server may take to answer
    /// ([`ClientOptions::handshake_timeout`]). Default 10 s.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Offers permessage-deflate with `policy` (sets
    /// [`ClientOptions::deflate`] to `Some`).
    #[must_use]
    pub fn deflate(mut self, policy: DeflateClientPolicy) -> Self {
        self.deflate = Some(policy);
        self
    }

    /// Sets the compression level and threshold used when permessage-deflate
    /// is agreed ([`ClientOptions::deflate_settings`]). On its own this does
    /// not offer compression: see [`ClientOptions::deflate`].
    #[must_use]
    pub fn deflate_settings(mut self, settings: DeflateSettings) -> Self {
        self.deflate_settings = settings;
        self
    }

    /// Sets which proxy to go through ([`ClientOptions::proxy`]):
    /// [`ProxyChoice::Direct`] ignores the environment, a
    /// [`crate::proxy::ProxyUrl`] is always used.
    ///
    /// ```
    /// use ws13::ClientOptions;
    /// use ws13::proxy::{ProxyChoice, ProxyUrl};
    ///
    /// let through = ClientOptions::default().proxy(ProxyUrl::parse("socks5h://127.0.0.1:1080")?);
    /// assert!(matches!(through.proxy, ProxyChoice::Url(_)));
    /// let direct = ClientOptions::default().proxy(ProxyChoice::Direct);
    /// assert_eq!(direct.proxy, ProxyChoice::Direct);
    /// # Ok::<(), ws13::proxy::ProxyError>(())
    /// ```
    #[must_use]
    pub fn proxy(mut self, proxy: impl Into<ProxyChoice>) -> Self {
        self.proxy = proxy.into();
        self
    }
}

/// What the client learned from the server's 101 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// Every header line of the response.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The permessage-deflate parameters agreed, if the server accepted it.
    pub deflate: Option<DeflateParams>,
}

/// Builds the request for `url` and validates the response (sans I/O).
#[derive(Debug)]
pub(crate) struct ClientHandshakeStep {
    handshake: ClientHandshake,
    deflate: Option<DeflateClientPolicy>,
}

impl ClientHandshakeStep {
    pub(crate) fn new(url: &WsUrl, options: &ClientOptions) -> Result<Self, BuildError> {
        let host = url.host_header();
        let mut request =
            ClientRequest::new(&host, &url.path, handshake_nonce())?.config(options.handshake);
        if let Some(origin) = &options.origin {
            request = request.origin(origin)?;
        }
        for protocol in &options.subprotocols {
            request = request.protocol(protocol)?;
        }
        for (name, value) in &options.headers {
            request = request.header(name, value)?;
        }
        let offer = options.deflate.map(|policy| policy.offer());
        if let Some(offer) = &offer {
            request = request.extensions(offer)?;
        }
        Ok(ClientHandshakeStep {
            handshake: request.build(),
            deflate: options.deflate,
        })
    }

    pub(crate) fn request_bytes(&self) -> &[u8] {
        self.handshake.request_bytes()
    }

    /// `Ok(None)`: read more. `Ok(Some((response, head_len)))`: frames start at `head_len`.
    pub(crate) fn step(
        &mut self,
        buf: &[u8],
    ) -> Result<Option<(HandshakeResponse, usize)>, ConnectError> {
        let accepted = match self.handshake.read_response(buf)? {
            Status::Partial => return Ok(None),
            Status::Complete(accepted) => accepted,
        };
        let deflate = agreed_deflate(self.deflate, accepted.extensions())?;
        Ok(Some((
            HandshakeResponse {
                protocol: accepted.protocol().map(str::to_owned),
                headers: accepted
                    .headers()
                    .iter()
                    .map(|h| (h.name.to_owned(), h.value.to_vec()))
                    .collect(),
                deflate,
            },
            accepted.head_len(),
        )))
    }
}

/// The permessage-deflate parameters agreed by the server's accepted
/// extensions, over HTTP/1.1 and HTTP/2 alike. The handshake crate refused
/// extensions the client did not offer; here the permessage-deflate
/// answer's parameters are checked (RFC 7692 §7.1).
fn agreed_deflate(
    policy: Option<DeflateClientPolicy>,
    accepted: &[Extension<'_>],
) -> Result<Option<DeflateParams>, ConnectError> {
    let answer = accepted
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE));
    match (policy, answer) {
        (Some(policy), Some(answer)) => {
            Ok(Some(policy.accept(answer).map_err(ConnectError::Deflate)?))
        }
        _ => Ok(None),
    }
}

/// Builds the HTTP/2 extended CONNECT (RFC 8441) for `url` and validates
/// the answer's status and headers (sans I/O): the counterpart of
/// [`ClientHandshakeStep`] for a WebSocket over an HTTP/2 stream.
#[cfg(feature = "http2")]
#[derive(Debug)]
pub(crate) struct ExtendedConnectStep {
    handshake: ws13_handshake::extended_connect::ExtendedConnectHandshake,
    deflate: Option<DeflateClientPolicy>,
}

#[cfg(feature = "http2")]
impl ExtendedConnectStep {
    pub(crate) fn new(url: &WsUrl, options: &ClientOptions) -> Result<Self, BuildError> {
        let authority = url.host_header();
        let scheme = if url.secure { "https" } else { "http" };
        let mut request = ws13_handshake::extended_connect::ExtendedConnectRequest::new(
            scheme, &authority, &url.path,
        )?;
        if let Some(origin) = &options.origin {
            request = request.origin(origin)?;
        }
        for protocol in &options.subprotocols {
            request = request.protocol(protocol)?;
        }
        for (name, value) in &options.headers {
            request = request.header(name, value)?;
        }
        let offer = options.deflate.map(|policy| policy.offer());
        if let Some(offer) = &offer {
            request = request.extensions(offer)?;
        }
        Ok(ExtendedConnectStep {
            handshake: request.build(),
            deflate: options.deflate,
        })
    }

    /// The request's parts: pseudo-headers and header fields.
    pub(crate) fn request(&self) -> &ws13_handshake::extended_connect::ExtendedConnectHandshake {
        &self.handshake
    }

    /// Checks the answer to the CONNECT.
    pub(crate) fn check(
        &self,
        status: u16,
        headers: &[(String, Vec<u8>)],
    ) -> Result<HandshakeResponse, ConnectError> {
        let borrowed: Vec<ws13_handshake::Header<'_>> = headers
            .iter()
            .map(|(name, value)| ws13_handshake::Header {
                name: name.as_str(),
                value: value.as_slice(),
            })
            .collect();
        let accepted = self.handshake.check_response(status, &borrowed)?;
        let deflate = agreed_deflate(self.deflate, accepted.extensions())?;
        Ok(HandshakeResponse {
            protocol: accepted.protocol().map(str::to_owned),
            headers: headers.to_vec(),
            deflate,
        })
    }
}

/// Splits `host[:port]` or `[v6]:port` (a URL's authority without user
/// information) into the host and the port, `default_port` when none is
/// given; the error says what is wrong, for the caller's own error type.
pub(crate) fn split_host_port(
    authority: &str,
    default_port: u16,
) -> Result<(&str, u16), &'static str> {
    const BAD_PORT: &str = "the port is not a number 0-65535";
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| BAD_PORT)?,
            None if after.is_empty() => default_port,
            None => return Err("junk after the IPv6 address"),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| BAD_PORT)?),
            None => (authority, default_port),
        }
    };
    if host.is_empty() {
        return Err("the host is empty");
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_option_has_a_builder() {
        let handshake = ClientConfig::default();
        let options = ClientOptions::default()
            .protocol(Config::default().heartbeat(None))
            .handshake(handshake)
            .origin("https://a.example")
            .subprotocols(["old"])
            .subprotocols(vec![String::from("v2"), String::from("v1")])
            .header("Authorization", String::from("Bearer x"))
            .headers([("Cookie", "a=1"), ("X-Trace", "7")])
            .header("X-Last", "z")
            .handshake_timeout(Duration::from_millis(2500))
            .deflate(DeflateClientPolicy {
                client_no_context_takeover: true,
                ..DeflateClientPolicy::default()
            })
            .deflate_settings(DeflateSettings::default().min_compress_len(0))
            .proxy(ProxyChoice::Direct);
        assert_eq!(options.protocol.heartbeat, None);
        assert_eq!(options.proxy, ProxyChoice::Direct);
        assert_eq!(options.handshake, handshake);
        assert_eq!(options.origin.as_deref(), Some("https://a.example"));
        assert_eq!(options.subprotocols, ["v2", "v1"]);
        let headers: Vec<(&str, &str)> = options
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("Authorization", "Bearer x"),
                ("Cookie", "a=1"),
                ("X-Trace", "7"),
                ("X-Last", "z")
            ]
        );
        assert_eq!(options.handshake_timeout, Duration::from_millis(2500));
        assert!(options.deflate.unwrap().client_no_context_takeover);
        assert_eq!(options.deflate_settings.min_compress_len, 0);
    }

    #[test]
    fn builder_headers_reach_the_request() {
        let url = WsUrl::parse("ws://example.com/chat").unwrap();
        let options = ClientOptions::default()
            .origin("https://example.com")
            .header("Cookie", "a=1")
            .deflate(DeflateClientPolicy::default());
        let step = ClientHandshakeStep::new(&url, &options).unwrap();
        let request = String::from_utf8(step.request_bytes().to_vec()).unwrap();
        assert!(
            request.contains("\r\nOrigin: https://example.com\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nCookie: a=1\r\n"), "{request}");
        assert!(request.contains("permessage-deflate"), "{request}");
    }
}

#[cfg(all(test, feature = "http2"))]
mod extended_connect_tests {
    use super::*;

    fn answer(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn options_reach_the_extended_connect() {
        let url = WsUrl::parse("wss://example.com:8443/chat?room=1").unwrap();
        let options = ClientOptions::default()
            .origin("https://example.com")
            .subprotocols(["chat"])
            .header("Cookie", "a=1")
            .deflate(DeflateClientPolicy::default());
        let step = ExtendedConnectStep::new(&url, &options).unwrap();
        let request = step.request();
        assert_eq!(request.scheme(), "https");
        assert_eq!(request.authority(), "example.com:8443");
        assert_eq!(request.path(), "/chat?room=1");
        let names: Vec<&str> = request.headers().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "sec-websocket-version",
                "origin",
                "sec-websocket-protocol",
                "sec-websocket-extensions",
                "cookie"
            ]
        );
    }

    #[test]
    fn the_deflate_answer_is_checked_as_over_http1() {
        let url = WsUrl::parse("ws://example.com/").unwrap();
        let options = ClientOptions::default().deflate(DeflateClientPolicy::default());
        let step = ExtendedConnectStep::new(&url, &options).unwrap();
        let agreed = step
            .check(
                200,
                &answer(&[(
                    "sec-websocket-extensions",
                    "permessage-deflate; server_max_window_bits=10",
                )]),
            )
            .unwrap();
        assert_eq!(agreed.deflate.unwrap().server_max_window_bits, 10);
        let malformed = step.check(
            200,
            &answer(&[(
                "sec-websocket-extensions",
                "permessage-deflate; server_max_window_bits=99",
            )]),
        );
        assert!(
            matches!(malformed, Err(ConnectError::Deflate(_))),
            "{malformed:?}"
        );
        let refused = step.check(403, &[]).unwrap_err();
        assert!(refused.to_string().contains("403"), "{refused}");
    }
}
