//! Client side: building the handshake request and validating the answer.
//!
//! 1. [`ClientRequest::new`] with host, path and 16 random key bytes, then
//!    options (origin, subprotocols, extension offers, extra headers), then
//!    [`ClientRequest::build`] gives a [`ClientHandshake`].
//! 2. Write [`ClientHandshake::request_bytes`] to the connection.
//! 3. Feed the bytes received so far to [`ClientHandshake::read_response`]
//!    until it returns [`Status::Complete`] with an [`AcceptedResponse`] (or a
//!    [`ResponseError`]). Bytes after [`AcceptedResponse::head_len`] are already
//!    WebSocket frames.
//!
//! The validation is at least as strict as WebKit's: status 101, exactly
//! one `Upgrade: websocket`, exactly one `Connection` containing `upgrade`
//! (see [`ConnectionPolicy`]), exactly one correct `Sec-WebSocket-Accept`,
//! at most one subprotocol and only an offered one, and only offered
//! extensions.

use alloc::string::String;
use alloc::vec::Vec;

use crate::accept::{AcceptKey, ClientKey};
use crate::error::{BuildError, HeadError, ResponseError, excerpt};
use crate::extensions::{Extension, parse_extensions};
use crate::head::{
    HeadScanner, Header, Limits, Status, collect_headers, head_error, header_storage,
};
use crate::headers::{
    ConnectionPolicy, check_extra_header, contains_token, is_safe_value, is_token, joined, lines,
    write_header,
};

/// Client-side settings: size limits for the response head and the
/// `Connection` policy (strict by default, as WebKit is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bounds on the response head.
    pub limits: Limits,
    /// What to do with `Connection` on several lines in the response.
    pub connection_policy: ConnectionPolicy,
}

/// Builder for a client's handshake request.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientRequest<'r> {
    host: &'r str,
    path: &'r str,
    key: ClientKey,
    offers: Offers<'r>,
    config: ClientConfig,
}

/// What a client request offers and adds, whichever HTTP version carries
/// it: the HTTP/1.1 upgrade ([`ClientRequest`]) and the HTTP/2 extended
/// CONNECT ([`crate::extended_connect::ExtendedConnectRequest`]) validate
/// their options here, once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Offers<'r> {
    pub(crate) origin: Option<&'r str>,
    pub(crate) protocols: Vec<&'r str>,
    pub(crate) extensions: Vec<&'r str>,
    pub(crate) extension_names: Vec<String>,
    pub(crate) headers: Vec<(&'r str, &'r str)>,
}

impl<'r> Offers<'r> {
    pub(crate) fn origin(&mut self, origin: &'r str) -> Result<(), BuildError> {
        if origin.trim().is_empty() || !is_safe_value(origin) {
            return Err(BuildError::InvalidOrigin {
                origin: excerpt(origin.as_bytes()),
            });
        }
        self.origin = Some(origin);
        Ok(())
    }

    pub(crate) fn protocol(&mut self, protocol: &'r str) -> Result<(), BuildError> {
        if !is_token(protocol) {
            return Err(BuildError::InvalidProtocol {
                protocol: excerpt(protocol.as_bytes()),
            });
        }
        if self.protocols.contains(&protocol) {
            return Err(BuildError::DuplicateProtocol {
                protocol: String::from(protocol),
            });
        }
        self.protocols.push(protocol);
        Ok(())
    }

    pub(crate) fn extensions(&mut self, offer: &'r str) -> Result<(), BuildError> {
        let parsed = parse_extensions(offer).map_err(|reason| BuildError::InvalidExtensions {
            value: excerpt(offer.as_bytes()),
            reason,
        })?;
        self.extension_names
            .extend(parsed.iter().map(|e| String::from(e.name)));
        self.extensions.push(offer.trim());
        Ok(())
    }

    /// `also_reserved`: names the carrying HTTP version writes itself or
    /// forbids, besides the WebSocket handshake headers.
    pub(crate) fn header(
        &mut self,
        name: &'r str,
        value: &'r str,
        also_reserved: &[&str],
    ) -> Result<(), BuildError> {
        check_extra_header(name, value, also_reserved)?;
        self.headers.push((name, value));
        Ok(())
    }

    /// The offered subprotocol and extension names, to check the answer
    /// against.
    pub(crate) fn offered(&self) -> Offered {
        Offered {
            protocols: self.protocols.iter().map(|p| String::from(*p)).collect(),
            extension_names: self.extension_names.clone(),
        }
    }
}

/// The subprotocols and extensions a request offered: what the server's
/// answer is checked against, by the same rules for HTTP/1.1 and HTTP/2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offered {
    pub(crate) protocols: Vec<String>,
    pub(crate) extension_names: Vec<String>,
}

impl<'r> ClientRequest<'r> {
    /// Starts a request for `host` (with `:port` if not the default) and
    /// `path` (path and query, starting with `/`). `key` must be 16 bytes
    /// from a cryptographically secure random source, fresh for every
    /// connection.
    pub fn new(host: &'r str, path: &'r str, key: [u8; 16]) -> Result<Self, BuildError> {
        let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        if !host_ok {
            return Err(BuildError::InvalidHost {
                host: excerpt(host.as_bytes()),
            });
        }
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::InvalidPath {
                path: excerpt(path.as_bytes()),
            });
        }
        Ok(ClientRequest {
            host,
            path,
            key: ClientKey::from_bytes(key),
            offers: Offers::default(),
            config: ClientConfig::default(),
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
    /// more offers. All offers go on one header line.
    pub fn extensions(mut self, offer: &'r str) -> Result<Self, BuildError> {
        self.offers.extensions(offer)?;
        Ok(self)
    }

    /// Adds an extra header, such as `Authorization`. `Host`, `Origin`,
    /// `Connection`, `Upgrade` and `Sec-WebSocket-*` (any case) are refused,
    /// as are names that are not tokens and values with control characters.
    pub fn header(mut self, name: &'r str, value: &'r str) -> Result<Self, BuildError> {
        self.offers.header(name, value, &["Host", "Origin"])?;
        Ok(self)
    }

    /// Sets limits and policy for validating the response.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Writes the request and keeps what is needed to check the response.
    pub fn build(self) -> ClientHandshake {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(&mut out, "Host", self.host);
        write_header(&mut out, "Upgrade", "websocket");
        write_header(&mut out, "Connection", "Upgrade");
        write_header(&mut out, "Sec-WebSocket-Key", self.key.as_str());
        write_header(&mut out, "Sec-WebSocket-Version", "13");
        if let Some(origin) = self.offers.origin {
            write_header(&mut out, "Origin", origin);
        }
        if !self.offers.protocols.is_empty() {
            write_header(
                &mut out,
                "Sec-WebSocket-Protocol",
                &self.offers.protocols.join(", "),
            );
        }
        if !self.offers.extensions.is_empty() {
            write_header(
                &mut out,
                "Sec-WebSocket-Extensions",
                &self.offers.extensions.join(", "),
            );
        }
        for (name, value) in &self.offers.headers {
            write_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        ClientHandshake {
            request: out,
            key: self.key,
            offered: self.offers.offered(),
            config: self.config,
            scanner: HeadScanner::default(),
        }
    }
}

/// A sent (or about to be sent) client request, and the validator for the
/// server's answer.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    request: Vec<u8>,
    key: ClientKey,
    offered: Offered,
    config: ClientConfig,
    scanner: HeadScanner,
}

impl ClientHandshake {
    /// The request to write to the connection.
    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    /// The key sent in the request.
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> AcceptKey {
        self.key.expected_accept()
    }

    /// Reads the server's response head from `buf` (everything received so
    /// far, from the first byte of the response) and validates it.
    ///
    /// Returns [`Status::Partial`] until the head is complete; the reader
    /// remembers how far it has looked, so each byte is examined once.
    /// On success, bytes from [`AcceptedResponse::head_len`] on are WebSocket frames.
    pub fn read_response<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Status<AcceptedResponse<'b>>, ResponseError> {
        let Status::Complete(head) = self.read_head(buf)? else {
            return Ok(Status::Partial);
        };
        let mut errors = Vec::new();
        match self.inspect(&head, &mut errors) {
            Some(accepted) if errors.is_empty() => Ok(Status::Complete(accepted)),
            _ => Err(errors
                .into_iter()
                .next()
                .unwrap_or(ResponseError::MissingAccept)),
        }
    }

    /// Every defect of a complete response head, in the order
    /// [`ClientHandshake::read_response`] checks them (its error is the
    /// first). Empty for a valid response; a single [`ResponseError::Head`]
    /// if the head is unreadable; also empty while the head is incomplete.
    pub fn response_problems(&self, buf: &[u8]) -> Vec<ResponseError> {
        let mut fresh = self.clone();
        fresh.scanner = HeadScanner::default();
        let mut errors = Vec::new();
        match fresh.read_head(buf) {
            Ok(Status::Complete(head)) => {
                let _ = fresh.inspect(&head, &mut errors);
            }
            Ok(Status::Partial) => {}
            Err(error) => errors.push(error.into()),
        }
        errors
    }

    fn read_head<'b>(&mut self, buf: &'b [u8]) -> Result<Status<ResponseHead<'b>>, HeadError> {
        let limits = self.config.limits;
        loop {
            let Some(end) = self.scanner.scan(buf, limits.max_head_bytes)? else {
                return Ok(Status::Partial);
            };
            let mut storage = header_storage(&limits);
            let mut parsed = httparse::Response::new(&mut storage);
            match parsed.parse(&buf[..end]) {
                Ok(httparse::Status::Complete(head_len)) => {
                    self.scanner.confirm(end);
                    return Ok(Status::Complete(ResponseHead {
                        status: parsed.code.unwrap_or_default(),
                        reason: parsed.reason.unwrap_or_default(),
                        headers: collect_headers(parsed.headers),
                        head_len,
                    }));
                }
                Ok(httparse::Status::Partial) => continue,
                Err(error) => return Err(head_error(error, &limits)),
            }
        }
    }

    fn inspect<'b>(
        &self,
        head: &ResponseHead<'b>,
        errors: &mut Vec<ResponseError>,
    ) -> Option<AcceptedResponse<'b>> {
        if head.status != 101 {
            errors.push(ResponseError::UnexpectedStatus {
                status: head.status,
                reason: excerpt(head.reason.as_bytes()),
            });
            return None;
        }
        let headers = &head.headers[..];
        let count = |name: &str| lines(headers, name).count();

        match count("Upgrade") {
            0 => errors.push(ResponseError::MissingUpgrade),
            1 => {
                let value = lines(headers, "Upgrade")
                    .next()
                    .map_or(&b""[..], |h| h.value);
                if !text(value).eq_ignore_ascii_case("websocket") {
                    errors.push(ResponseError::UpgradeNotWebSocket {
                        value: excerpt(value),
                    });
                }
            }
            n => errors.push(ResponseError::DuplicateUpgrade { count: n }),
        }

        let connections = count("Connection");
        if connections == 0 {
            errors.push(ResponseError::MissingConnection);
        } else {
            if connections > 1 && self.config.connection_policy == ConnectionPolicy::Strict {
                errors.push(ResponseError::DuplicateConnection { count: connections });
            }
            if !lines(headers, "Connection").any(|h| contains_token(text(h.value), "upgrade")) {
                errors.push(ResponseError::ConnectionWithoutUpgrade {
                    value: joined(headers, "Connection"),
                });
            }
        }

        let expected = self.expected_accept();
        match count("Sec-WebSocket-Accept") {
            0 => errors.push(ResponseError::MissingAccept),
            1 => {
                let value = lines(headers, "Sec-WebSocket-Accept")
                    .next()
                    .map_or(&b""[..], |h| h.value);
                if value != expected.as_bytes() {
                    errors.push(ResponseError::AcceptMismatch {
                        expected: String::from(expected.as_str()),
                        received: excerpt(value),
                    });
                }
            }
            n => errors.push(ResponseError::DuplicateAccept { count: n }),
        }

        let protocol = check_protocol(&self.offered, headers, errors);
        let extensions = check_extensions(&self.offered, headers, errors);

        Some(AcceptedResponse {
            protocol: protocol?,
            extensions: extensions?,
            headers: head.headers.clone(),
            head_len: head.head_len,
        })
    }
}

/// The server's `Sec-WebSocket-Protocol` answer against the offer (RFC 6455
/// §4.1, the same rule for HTTP/1.1 and HTTP/2): `Some(choice)` when the
/// header is sound.
pub(crate) fn check_protocol<'b>(
    offered: &Offered,
    headers: &[Header<'b>],
    errors: &mut Vec<ResponseError>,
) -> Option<Option<&'b str>> {
    let mut found = lines(headers, "Sec-WebSocket-Protocol");
    let Some(first) = found.next() else {
        return Some(None);
    };
    let protocol = first.value_str().map(str::trim).unwrap_or("");
    if found.next().is_some() || !is_token(protocol) {
        errors.push(ResponseError::InvalidProtocol {
            value: joined(headers, "Sec-WebSocket-Protocol"),
        });
        return None;
    }
    if offered.protocols.is_empty() {
        errors.push(ResponseError::ProtocolNotRequested {
            protocol: String::from(protocol),
        });
        return None;
    }
    if !offered.protocols.iter().any(|offered| offered == protocol) {
        errors.push(ResponseError::ProtocolNotOffered {
            protocol: String::from(protocol),
            offered: offered.protocols.join(", "),
        });
        return None;
    }
    Some(Some(protocol))
}

/// The server's `Sec-WebSocket-Extensions` answer against the offer
/// (RFC 6455 §9.1, the same rule for HTTP/1.1 and HTTP/2): `Some(accepted)`
/// when every accepted extension was offered, once.
pub(crate) fn check_extensions<'b>(
    offered: &Offered,
    headers: &[Header<'b>],
    errors: &mut Vec<ResponseError>,
) -> Option<Vec<Extension<'b>>> {
    let mut accepted: Vec<Extension<'b>> = Vec::new();
    let mut sound = true;
    for h in lines(headers, "Sec-WebSocket-Extensions") {
        let parsed = core::str::from_utf8(h.value)
            .map_err(|e| crate::extensions::ExtensionsError::ExpectedName {
                position: e.valid_up_to(),
            })
            .and_then(parse_extensions);
        let extensions = match parsed {
            Ok(extensions) => extensions,
            Err(reason) => {
                errors.push(ResponseError::InvalidExtensionHeader {
                    value: excerpt(h.value),
                    reason,
                });
                return None;
            }
        };
        for extension in extensions {
            let name = extension.name;
            if !offered
                .extension_names
                .iter()
                .any(|offered| offered.eq_ignore_ascii_case(name))
            {
                errors.push(ResponseError::ExtensionNotOffered {
                    name: String::from(name),
                });
                sound = false;
            } else if accepted
                .iter()
                .any(|earlier| earlier.name.eq_ignore_ascii_case(name))
            {
                errors.push(ResponseError::DuplicateExtension {
                    name: String::from(name),
                });
                sound = false;
            }
            accepted.push(extension);
        }
    }
    sound.then_some(accepted)
}

/// A header value as trimmed text for token matching; non-UTF-8 matches
/// nothing.
fn text(value: &[u8]) -> &str {
    core::str::from_utf8(value).unwrap_or("").trim()
}

/// A parsed response head.
struct ResponseHead<'b> {
    status: u16,
    reason: &'b str,
    headers: Vec<Header<'b>>,
    head_len: usize,
}

/// A validated 101 response, borrowing from the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedResponse<'b> {
    protocol: Option<&'b str>,
    extensions: Vec<Extension<'b>>,
    headers: Vec<Header<'b>>,
    head_len: usize,
}

impl<'b> AcceptedResponse<'b> {
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

    /// All response header lines, in order.
    pub fn headers(&self) -> &[Header<'b>] {
        &self.headers
    }

    /// The length of the response head. Bytes after it in the buffer are
    /// WebSocket frames, which the caller keeps.
    pub fn head_len(&self) -> usize {
        self.head_len
    }
}
