//! The client side of the opening handshake as the drivers run it: URL
//! parsing, settings, and a sans-I/O step over the response bytes. The rules
//! are `ws13-handshake`'s.

use std::time::Duration;

use ws13_codec::Config;
use ws13_codec::deflate::DeflateSettings;
use ws13_handshake::permessage_deflate::{DeflateClientPolicy, DeflateParams, PERMESSAGE_DEFLATE};
use ws13_handshake::{BuildError, ClientConfig, ClientHandshake, ClientRequest, Status};

use crate::error::ConnectError;
use crate::mask_keys::handshake_nonce;

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
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unclosed '[' in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => port
                    .parse()
                    .map_err(|_| invalid("the port is not a number 0-65535"))?,
                None if after.is_empty() => default_port,
                None => return Err(invalid("junk after the IPv6 address")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (
                    host,
                    port.parse()
                        .map_err(|_| invalid("the port is not a number 0-65535"))?,
                ),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
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

/// Settings for connecting.
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
        }
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
        // The handshake crate refused extensions we did not offer; here the
        // permessage-deflate answer's parameters are checked (RFC 7692 §7.1).
        let answer = accepted
            .extensions()
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE));
        let deflate = match (self.deflate, answer) {
            (Some(policy), Some(answer)) => {
                Some(policy.accept(answer).map_err(ConnectError::Deflate)?)
            }
            _ => None,
        };
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
