//! Client side of WebSockets over HTTP/2 (RFC 8441): the extended CONNECT
//! request as parts, and the validation of the server's answer.
//!
//! Over HTTP/2 the opening handshake is one stream: the client sends a
//! `CONNECT` request with the pseudo-headers `:protocol: websocket`,
//! `:scheme`, `:path` and `:authority`, and `Sec-WebSocket-Version: 13`;
//! there is no `Sec-WebSocket-Key`, no `Upgrade` and no `Connection`. Any 2xx
//! status opens the WebSocket (RFC 8441 §5); the stream's DATA frames then
//! carry WebSocket frames. Subprotocols, extensions, `Origin` and extra
//! headers work as in HTTP/1.1, and the answer is checked by the same rules
//! as [`crate::ClientHandshake`] uses.
//!
//! The crate builds no HTTP/2 frames: an HTTP/2 library (the `h2` crate, for
//! example) sends the parts and hands back the answer's status and headers.
//! Before sending, the client must have seen the server's
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3).
//!
//! ```
//! use ws13_handshake::Header;
//! use ws13_handshake::extended_connect::ExtendedConnectRequest;
//!
//! let handshake = ExtendedConnectRequest::new("https", "example.com", "/chat")?
//!     .origin("https://example.com")?
//!     .protocol("chat")?
//!     .build();
//! assert_eq!(handshake.method(), "CONNECT");
//! assert_eq!(handshake.protocol(), "websocket");
//! assert_eq!(handshake.authority(), "example.com");
//! assert!(handshake.headers().contains(&("sec-websocket-version".into(), "13".into())));
//!
//! // The answer as the HTTP/2 library decoded it.
//! let answer = [Header { name: "sec-websocket-protocol", value: b"chat" }];
//! let accepted = handshake.check_response(200, &answer)?;
//! assert_eq!(accepted.protocol(), Some("chat"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::client::{Offered, Offers, check_extensions, check_protocol};
use crate::error::{BuildError, ResponseError, excerpt};
use crate::extensions::Extension;
use crate::head::Header;

/// The `:method` of a WebSocket request over HTTP/2.
pub const METHOD: &str = "CONNECT";

/// The `:protocol` pseudo-header value that asks for a WebSocket (RFC 8441 §4).
pub const PROTOCOL: &str = "websocket";

/// Header names an HTTP/2 request must not carry (RFC 9113 §8.2.2: they
/// are connection-specific) or that the pseudo-headers replace (`Host` is
/// `:authority`), besides the WebSocket handshake headers that every
/// client request refuses.
const RESERVED_OVER_HTTP2: &[&str] = &[
    "Host",
    "Origin",
    "Keep-Alive",
    "Proxy-Connection",
    "Transfer-Encoding",
    "TE",
];

/// Builder for an extended CONNECT request (RFC 8441 §4), with the same
/// options as the HTTP/1.1 [`crate::ClientRequest`] and the same checks.
#[derive(Debug, Clone)]
#[must_use]
pub struct ExtendedConnectRequest<'r> {
    scheme: &'r str,
    authority: &'r str,
    path: &'r str,
    offers: Offers<'r>,
}

impl<'r> ExtendedConnectRequest<'r> {
    /// Starts a request. `scheme` is `https` for `wss://` and `http` for
    /// `ws://` (RFC 8441 §4: the scheme of the target URI as HTTP sees
    /// it); `authority` is the host, with `:port` if not the default;
    /// `path` is path and query, starting with `/`.
    pub fn new(scheme: &'r str, authority: &'r str, path: &'r str) -> Result<Self, BuildError> {
        if scheme != "https" && scheme != "http" {
            return Err(BuildError::InvalidScheme {
                scheme: excerpt(scheme.as_bytes()),
            });
        }
        let authority_ok = !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'@');
        if !authority_ok {
            return Err(BuildError::InvalidHost {
                host: excerpt(authority.as_bytes()),
            });
        }
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::InvalidPath {
                path: excerpt(path.as_bytes()),
            });
        }
        Ok(ExtendedConnectRequest {
            scheme,
            authority,
            path,
            offers: Offers::default(),
        })
    }

    /// Sends `Origin` (`scheme://host[:port]` of the page or service).
    pub fn origin(mut self, origin: &'r str) -> Result<Self, BuildError> {
        self.offers.origin(origin)?;
        Ok(self)
    }

    /// Offers a subprotocol; call again to offer more, in order of
    /// preference. Names must be tokens and unique.
    pub fn protocol(mut self, protocol: &'r str) -> Result<Self, BuildError> {
        self.offers.protocol(protocol)?;
        Ok(self)
    }

    /// Offers extensions, in `Sec-WebSocket-Extensions` syntax (for example
    /// `permessage-deflate; client_max_window_bits`); call again to add
    /// more offers. All offers go in one header.
    pub fn extensions(mut self, offer: &'r str) -> Result<Self, BuildError> {
        self.offers.extensions(offer)?;
        Ok(self)
    }

    /// Adds an extra header, such as `Authorization`. Refused: `Host`
    /// (`:authority` carries it), `Origin`, `Connection`, `Upgrade`,
    /// `Sec-WebSocket-*`, the HTTP/1.1 connection headers HTTP/2 forbids
    /// (`Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`, `TE`), names
    /// that are not tokens and values with control characters.
    pub fn header(mut self, name: &'r str, value: &'r str) -> Result<Self, BuildError> {
        self.offers.header(name, value, RESERVED_OVER_HTTP2)?;
        Ok(self)
    }

    /// The request's parts, and what is needed to check the answer.
    pub fn build(self) -> ExtendedConnectHandshake {
        let mut headers = Vec::with_capacity(4 + self.offers.headers.len());
        headers.push((String::from("sec-websocket-version"), String::from("13")));
        if let Some(origin) = self.offers.origin {
            headers.push((String::from("origin"), String::from(origin)));
        }
        if !self.offers.protocols.is_empty() {
            headers.push((
                String::from("sec-websocket-protocol"),
                self.offers.protocols.join(", "),
            ));
        }
        if !self.offers.extensions.is_empty() {
            headers.push((
                String::from("sec-websocket-extensions"),
                self.offers.extensions.join(", "),
            ));
        }
        // HTTP/2 header names are lowercase (RFC 9113 §8.2.1).
        headers.extend(
            self.offers
                .headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string())),
        );
        ExtendedConnectHandshake {
            scheme: String::from(self.scheme),
            authority: String::from(self.authority),
            path: String::from(self.path),
            headers,
            offered: self.offers.offered(),
        }
    }
}

/// An extended CONNECT request as parts, and the validator for the answer.
///
/// Send [`method`](Self::method), [`protocol`](Self::protocol),
/// [`scheme`](Self::scheme), [`authority`](Self::authority) and
/// [`path`](Self::path) as the pseudo-headers and [`headers`](Self::headers)
/// as the header fields, then pass the answer's status and headers to
/// [`check_response`](Self::check_response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedConnectHandshake {
    scheme: String,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    offered: Offered,
}

impl ExtendedConnectHandshake {
    /// `:method`: always `CONNECT`.
    pub fn method(&self) -> &'static str {
        METHOD
    }

    /// `:protocol`: always `websocket`.
    pub fn protocol(&self) -> &'static str {
        PROTOCOL
    }

    /// `:scheme`: `https` or `http`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `:authority`: host, and port if not the default.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `:path`: path and query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The header fields, names in lowercase: `sec-websocket-version: 13`,
    /// then `origin`, `sec-websocket-protocol` and `sec-websocket-extensions`
    /// when set, then the extra headers in the order given.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Validates the server's answer: any 2xx status (RFC 8441 §5), at most
    /// one subprotocol and only an offered one, only offered extensions,
    /// each once; the same rules and messages as the HTTP/1.1 response
    /// reader. Returns the first problem.
    pub fn check_response<'b>(
        &self,
        status: u16,
        headers: &[Header<'b>],
    ) -> Result<AcceptedConnect<'b>, ResponseError> {
        let mut errors = Vec::new();
        match self.inspect(status, headers, &mut errors) {
            Some(accepted) if errors.is_empty() => Ok(accepted),
            _ => Err(errors
                .into_iter()
                .next()
                .unwrap_or(ResponseError::ConnectRefused { status })),
        }
    }

    /// Every defect of the answer, in the order
    /// [`check_response`](Self::check_response) checks them (its error is
    /// the first). Empty for a valid answer.
    pub fn response_problems(&self, status: u16, headers: &[Header<'_>]) -> Vec<ResponseError> {
        let mut errors = Vec::new();
        let _ = self.inspect(status, headers, &mut errors);
        errors
    }

    fn inspect<'b>(
        &self,
        status: u16,
        headers: &[Header<'b>],
        errors: &mut Vec<ResponseError>,
    ) -> Option<AcceptedConnect<'b>> {
        if !(200..300).contains(&status) {
            errors.push(ResponseError::ConnectRefused { status });
            return None;
        }
        let protocol = check_protocol(&self.offered, headers, errors);
        let extensions = check_extensions(&self.offered, headers, errors);
        Some(AcceptedConnect {
            status,
            protocol: protocol?,
            extensions: extensions?,
        })
    }
}

/// A validated 2xx answer to an extended CONNECT, borrowing from the
/// caller's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedConnect<'b> {
    status: u16,
    protocol: Option<&'b str>,
    extensions: Vec<Extension<'b>>,
}

impl<'b> AcceptedConnect<'b> {
    /// The status, 200 to 299.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The subprotocol the server chose, if any (always one the client
    /// offered).
    pub fn protocol(&self) -> Option<&'b str> {
        self.protocol
    }

    /// The extensions the server accepted, with their parameters (always
    /// ones the client offered). The caller configures them, for example
    /// permessage-deflate, from these parameters.
    pub fn extensions(&self) -> &[Extension<'b>] {
        &self.extensions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientRequest;
    use crate::head::Status;

    fn header<'a>(name: &'a str, value: &'a str) -> Header<'a> {
        Header {
            name,
            value: value.as_bytes(),
        }
    }

    fn chat_request() -> ExtendedConnectHandshake {
        ExtendedConnectRequest::new("https", "example.com:8443", "/chat?room=1")
            .unwrap()
            .origin("https://example.com")
            .unwrap()
            .protocol("chat.v2")
            .unwrap()
            .protocol("chat.v1")
            .unwrap()
            .extensions("permessage-deflate; client_max_window_bits")
            .unwrap()
            .header("Authorization", "Bearer 7f3a")
            .unwrap()
            .build()
    }

    #[test]
    fn request_parts_follow_rfc_8441() {
        let request = chat_request();
        assert_eq!(request.method(), "CONNECT");
        assert_eq!(request.protocol(), "websocket");
        assert_eq!(request.scheme(), "https");
        assert_eq!(request.authority(), "example.com:8443");
        assert_eq!(request.path(), "/chat?room=1");
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("sec-websocket-version", "13"),
                ("origin", "https://example.com"),
                ("sec-websocket-protocol", "chat.v2, chat.v1"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits"
                ),
                ("authorization", "Bearer 7f3a"),
            ]
        );
        assert!(
            !headers
                .iter()
                .any(|(n, _)| *n == "sec-websocket-key" || *n == "upgrade" || *n == "connection"),
            "no key, no upgrade headers over HTTP/2"
        );
    }

    #[test]
    fn invalid_parts_are_refused() {
        assert!(matches!(
            ExtendedConnectRequest::new("wss", "example.com", "/"),
            Err(BuildError::InvalidScheme { .. })
        ));
        assert!(matches!(
            ExtendedConnectRequest::new("https", "", "/"),
            Err(BuildError::InvalidHost { .. })
        ));
        assert!(matches!(
            ExtendedConnectRequest::new("https", "user@example.com", "/"),
            Err(BuildError::InvalidHost { .. })
        ));
        assert!(matches!(
            ExtendedConnectRequest::new("http", "example.com", "chat"),
            Err(BuildError::InvalidPath { .. })
        ));
        let request = ExtendedConnectRequest::new("http", "example.com", "/").unwrap();
        for name in [
            "Host",
            "transfer-encoding",
            "Keep-Alive",
            "TE",
            "Proxy-Connection",
            "Connection",
            "Upgrade",
            "Sec-WebSocket-Key",
            "Origin",
        ] {
            assert!(
                matches!(
                    request.clone().header(name, "x"),
                    Err(BuildError::HandshakeHeader { .. })
                ),
                "{name} must be refused"
            );
        }
        assert!(matches!(
            request.clone().header("X-Trace", "a\r\nb: c"),
            Err(BuildError::InvalidHeaderValue { .. })
        ));
        assert!(matches!(
            request.clone().protocol("chat").unwrap().protocol("chat"),
            Err(BuildError::DuplicateProtocol { .. })
        ));
        assert!(matches!(
            request.extensions(";"),
            Err(BuildError::InvalidExtensions { .. })
        ));
    }

    #[test]
    fn any_2xx_opens_the_websocket() {
        let request = chat_request();
        for status in [200, 201, 204, 299] {
            let accepted = request.check_response(status, &[]).unwrap();
            assert_eq!(accepted.status(), status);
            assert_eq!(accepted.protocol(), None);
            assert!(accepted.extensions().is_empty());
        }
    }

    #[test]
    fn other_statuses_are_refusals_with_a_hint() {
        let request = chat_request();
        for status in [101, 301, 400, 403, 404, 426, 502] {
            let error = request.check_response(status, &[]).unwrap_err();
            assert!(
                matches!(error, ResponseError::ConnectRefused { status: s, .. } if s == status),
                "{status}: {error:?}"
            );
            assert_eq!(error.code(), "extended-connect-refused");
            assert!(error.to_string().contains(&status.to_string()), "{error}");
        }
        let not_found = request.check_response(404, &[]).unwrap_err().to_string();
        assert!(
            not_found.contains("No WebSocket endpoint exists"),
            "{not_found}"
        );
    }

    #[test]
    fn negotiated_protocol_and_extension_are_returned() {
        let request = chat_request();
        let answer = [
            header("sec-websocket-protocol", "chat.v1"),
            header(
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits=12",
            ),
        ];
        let accepted = request.check_response(200, &answer).unwrap();
        assert_eq!(accepted.protocol(), Some("chat.v1"));
        assert_eq!(accepted.extensions().len(), 1);
        assert_eq!(accepted.extensions()[0].name, "permessage-deflate");
    }

    /// The HTTP/1.1 reader and the HTTP/2 check call the same rule
    /// functions: every answer gets the same verdict from both.
    #[test]
    fn answers_get_the_same_verdict_over_http1_and_http2() {
        let cases: [&[(&str, &str)]; 8] = [
            &[],
            &[("Sec-WebSocket-Protocol", "chat.v2")],
            &[("Sec-WebSocket-Protocol", "chat.v3")],
            &[("Sec-WebSocket-Protocol", "chat.v1, chat.v2")],
            &[
                ("Sec-WebSocket-Protocol", "chat.v1"),
                ("Sec-WebSocket-Protocol", "chat.v2"),
            ],
            &[("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")],
            &[
                ("Sec-WebSocket-Extensions", "permessage-deflate"),
                ("Sec-WebSocket-Extensions", "permessage-deflate"),
            ],
            &[("Sec-WebSocket-Extensions", "permessage-deflate; =")],
        ];
        for case in cases {
            let key = *b"the sample nonce";
            let mut http1 = ClientRequest::new("example.com", "/chat", key)
                .unwrap()
                .protocol("chat.v2")
                .unwrap()
                .protocol("chat.v1")
                .unwrap()
                .extensions("permessage-deflate; client_max_window_bits")
                .unwrap()
                .build();
            let mut head = String::from(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            );
            for (name, value) in case {
                head.push_str(&alloc::format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let over_http1 = match http1.read_response(head.as_bytes()) {
                Ok(Status::Complete(accepted)) => Ok(accepted.protocol().map(String::from)),
                Ok(Status::Partial) => panic!("complete head read as partial"),
                Err(error) => Err(error),
            };
            let answer: Vec<Header<'_>> = case.iter().map(|(n, v)| header(n, v)).collect();
            let over_http2 = chat_request()
                .check_response(200, &answer)
                .map(|accepted| accepted.protocol().map(String::from));
            assert_eq!(over_http1, over_http2, "answer {case:?}");
        }
    }

    #[test]
    fn response_problems_lists_every_defect() {
        let request = chat_request();
        let answer = [
            header("sec-websocket-protocol", "nope"),
            header("sec-websocket-extensions", "x-unknown"),
        ];
        let problems = request.response_problems(200, &answer);
        let codes: Vec<&str> = problems.iter().map(ResponseError::code).collect();
        assert_eq!(codes, ["subprotocol-not-offered", "extension-not-offered"]);
        assert_eq!(
            request.check_response(200, &answer).unwrap_err(),
            problems[0]
        );
        assert!(request.response_problems(200, &[]).is_empty());
    }
}
