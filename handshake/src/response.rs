//! Server side: writing the handshake response.
//!
//! * [`SwitchingProtocols`] (from [`WebSocketRequest::accept`]) writes the
//!   101 answer to a valid request, with the chosen subprotocol and
//!   extensions. It refuses, with a [`BuildError`], anything a browser would
//!   reject: an unoffered subprotocol or extension, an empty header, an
//!   extra header that duplicates a handshake header, or a value that could
//!   inject header lines.
//! * [`reject`] writes the 400, 403, 426 or 431 answer to a broken request,
//!   with a plain-text body that names the defect and the fix.
//! * [`text_response`] writes a small plain-text answer for plain HTTP
//!   requests on the same port.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{BuildError, RequestError, excerpt};
use crate::extensions::{ExtensionsError, parse_extensions};
use crate::headers::{check_extra_header, write_header};
use crate::request::{HttpVersion, WebSocketRequest};

/// Builder for the `101 Switching Protocols` response.
///
/// The response always holds exactly one `Upgrade: websocket`, one
/// `Connection: Upgrade` and one `Sec-WebSocket-Accept`, at most one
/// `Sec-WebSocket-Protocol` and at most one `Sec-WebSocket-Extensions`, and
/// never an empty one. No extension is accepted unless
/// [`SwitchingProtocols::extensions`] is called.
#[derive(Debug, Clone)]
#[must_use]
pub struct SwitchingProtocols<'r> {
    request: &'r WebSocketRequest<'r>,
    protocol: Option<&'r str>,
    extensions: Option<&'r str>,
    headers: Vec<(&'r str, &'r str)>,
}

impl<'r> SwitchingProtocols<'r> {
    /// Starts the response to `request`; same as [`WebSocketRequest::accept`].
    pub fn new(request: &'r WebSocketRequest<'r>) -> Self {
        SwitchingProtocols {
            request,
            protocol: None,
            extensions: None,
            headers: Vec::new(),
        }
    }

    /// Selects a subprotocol; it must be one the client offered, exactly.
    pub fn protocol(mut self, protocol: &'r str) -> Result<Self, BuildError> {
        if !self.request.protocols().contains(&protocol) {
            return Err(BuildError::ProtocolNotOffered {
                protocol: excerpt(protocol.as_bytes()),
            });
        }
        self.protocol = Some(protocol);
        Ok(self)
    }

    /// Accepts extensions, given as the full `Sec-WebSocket-Extensions`
    /// value (for example `permessage-deflate; server_no_context_takeover`).
    /// Each extension must be one the client offered, at most once.
    pub fn extensions(mut self, value: &'r str) -> Result<Self, BuildError> {
        let invalid = |reason| BuildError::InvalidExtensions {
            value: excerpt(value.as_bytes()),
            reason,
        };
        let accepted = parse_extensions(value).map_err(invalid)?;
        for (i, extension) in accepted.iter().enumerate() {
            let offered = self
                .request
                .extensions()
                .iter()
                .any(|offer| offer.name.eq_ignore_ascii_case(extension.name));
            if !offered {
                return Err(BuildError::ExtensionNotOffered {
                    name: String::from(extension.name),
                });
            }
            if accepted[..i]
                .iter()
                .any(|earlier| earlier.name.eq_ignore_ascii_case(extension.name))
            {
                return Err(invalid(ExtensionsError::Repeated {
                    name: String::from(extension.name),
                }));
            }
        }
        self.extensions = Some(value);
        Ok(self)
    }

    /// Adds an extra header, such as `Set-Cookie`. Handshake headers
    /// (`Connection`, `Upgrade`, `Sec-WebSocket-*`, in any case) are refused,
    /// as are names that are not tokens and values with control characters.
    pub fn header(mut self, name: &'r str, value: &'r str) -> Result<Self, BuildError> {
        check_extra_header(name, value, &[])?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// The status: 101 (Switching Protocols) for HTTP/1.1; 200 for an
    /// HTTP/2 extended CONNECT (RFC 8441 §5: any 2xx opens the WebSocket).
    pub fn status(&self) -> u16 {
        match self.request.version() {
            HttpVersion::Http2 => 200,
            HttpVersion::Http10 | HttpVersion::Http11 => 101,
        }
    }

    /// The response's header fields, in order, for an HTTP library that
    /// writes the response itself. HTTP/1.1: `Upgrade`, `Connection`,
    /// `Sec-WebSocket-Accept`, then the chosen subprotocol and extensions
    /// and the extra headers. HTTP/2: no `Upgrade`, `Connection` or
    /// `Sec-WebSocket-Accept` (RFC 8441 §5), only the rest.
    pub fn headers(&self) -> Vec<(&'r str, String)> {
        let mut headers = Vec::with_capacity(5 + self.headers.len());
        self.visit_headers(|name, value| headers.push((name, String::from(value))));
        headers
    }

    /// Calls `visit` with each header field of [`SwitchingProtocols::headers`],
    /// in the same order, without building owned values.
    fn visit_headers(&self, mut visit: impl FnMut(&'r str, &str)) {
        if let Some(accept) = self.request.accept_key() {
            visit("Upgrade", "websocket");
            visit("Connection", "Upgrade");
            visit("Sec-WebSocket-Accept", accept.as_str());
        }
        if let Some(protocol) = self.protocol {
            visit("Sec-WebSocket-Protocol", protocol);
        }
        if let Some(extensions) = self.extensions {
            visit("Sec-WebSocket-Extensions", extensions.trim());
        }
        for (name, value) in &self.headers {
            visit(name, value);
        }
    }

    /// Appends the HTTP/1.1 response to `out`: the status line, the
    /// [`SwitchingProtocols::headers`] and the empty line. (An HTTP/2
    /// response goes out as a HEADERS frame that the HTTP/2 library
    /// writes from [`SwitchingProtocols::status`] and the headers.)
    ///
    /// Writes straight into `out`: no allocation besides `out` growing.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let status = self.status();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(&status_digits(status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(status).as_bytes());
        out.extend_from_slice(b"\r\n");
        self.visit_headers(|name, value| write_header(out, name, value));
        out.extend_from_slice(b"\r\n");
    }

    /// The response as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.write_to(&mut out);
        out
    }
}

/// The response to a refused handshake: status from
/// [`RequestError::status`], `Content-Type: text/plain`, `Content-Length`,
/// `Connection: close`, and for version problems `Sec-WebSocket-Version: 13`
/// (RFC 6455 §4.4). The body is the error message: what is wrong, the likely
/// cause, and the fix (for proxy problems, the nginx settings).
///
/// The server should close the connection after writing it.
pub fn reject(error: &RequestError) -> Vec<u8> {
    rejection(error).to_bytes()
}

/// The answer to a refused handshake as status, header pairs and body, for
/// an HTTP library that writes the response itself (hyper, axum, an
/// HTTP/2 stream): the same status, headers and body as [`reject`] writes,
/// including `Sec-WebSocket-Version: 13` on a 426.
///
/// ```
/// use ws13_handshake::RequestError;
/// use ws13_handshake::response::rejection;
///
/// let answer = rejection(&RequestError::UnsupportedVersion { version: "8".into() });
/// assert_eq!(answer.status(), 426);
/// assert!(answer.headers().contains(&("Sec-WebSocket-Version", "13")));
/// assert!(answer.body().contains("only version 13"));
/// ```
pub fn rejection(error: &RequestError) -> TextResponse {
    let version_problem = matches!(
        error,
        RequestError::MissingVersion
            | RequestError::DuplicateVersion { .. }
            | RequestError::UnsupportedVersion { .. }
    );
    let mut extra = Vec::new();
    if version_problem {
        extra.push((String::from("Sec-WebSocket-Version"), String::from("13")));
    }
    TextResponse {
        status: error.status(),
        extra,
        body: format!("{error}\n"),
    }
}

/// The answer to a request with no sign of WebSocket at an endpoint that
/// serves only WebSockets: 426 Upgrade Required with `Upgrade: websocket`
/// (RFC 9110 §15.5.22 requires the header with a 426) and
/// `Sec-WebSocket-Version: 13`, and a body that says so.
///
/// ```
/// let answer = ws13_handshake::response::websocket_only();
/// assert_eq!(answer.status(), 426);
/// assert!(answer.headers().contains(&("Upgrade", "websocket")));
/// ```
pub fn websocket_only() -> TextResponse {
    TextResponse {
        status: 426,
        extra: alloc::vec![
            (String::from("Upgrade"), String::from("websocket")),
            (String::from("Sec-WebSocket-Version"), String::from("13")),
        ],
        body: String::from(
            "This endpoint serves WebSockets only, and the request has no 'Upgrade: websocket', 'Sec-WebSocket-Key' or 'Sec-WebSocket-Version' header (nor, over HTTP/2, ':protocol' websocket). Open it with a WebSocket client (such as `new WebSocket(url)` in a browser); if one was used, a proxy in between removed the WebSocket headers.\n",
        ),
    }
}

/// A plain-text answer as status, header pairs and body: what [`reject`]
/// and [`refusal`] write as bytes, for an HTTP library that writes the
/// response itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextResponse {
    status: u16,
    extra: Vec<(String, String)>,
    body: String,
}

impl TextResponse {
    /// The media type of every [`TextResponse`] body.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// A plain-text answer with `status` and `body` and no other header,
    /// as [`text_response`] writes it.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        TextResponse {
            status,
            extra: Vec::new(),
            body: body.into(),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The header fields: `Content-Type` first, then those particular to
    /// the answer (such as `Sec-WebSocket-Version: 13`). `Content-Length`
    /// and, on HTTP/1.1, `Connection: close` are the writer's to add
    /// ([`TextResponse::to_bytes`] adds both).
    pub fn headers(&self) -> Vec<(&str, &str)> {
        let mut headers = Vec::with_capacity(1 + self.extra.len());
        headers.push(("Content-Type", Self::CONTENT_TYPE));
        headers.extend(self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        headers
    }

    /// The body: what is wrong and the fix, one sentence per line.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The HTTP/1.1 response with `Content-Length` and `Connection: close`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let extra: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        write_text_response(self.status, &extra, &self.body)
    }
}

/// The response to a handshake the application refused (authentication
/// failed, no such room, too many connections): `status` (3xx, 4xx or 5xx),
/// the extra `headers` (for example `WWW-Authenticate` or `Location`),
/// `Content-Type: text/plain`, `Content-Length`, `Connection: close`, and
/// `body`. Extra headers that the response writes itself, names that are not
/// tokens and values with control characters are refused.
///
/// ```
/// let bytes = ws13_handshake::response::refusal(
///     401,
///     &[("WWW-Authenticate", "Bearer realm=\"chat\"")],
///     "log in first\n",
/// ).unwrap();
/// assert!(bytes.starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));
/// assert!(ws13_handshake::response::refusal(200, &[], "").is_err());
/// assert!(ws13_handshake::response::refusal(403, &[("Content-Length", "0")], "").is_err());
/// ```
pub fn refusal(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Vec<u8>, BuildError> {
    refusal_response(status, headers, body).map(|response| response.to_bytes())
}

/// The application's refusal as status, header pairs and body, checked as
/// [`refusal`] checks it, for an HTTP library that writes the response
/// itself.
pub fn refusal_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<TextResponse, BuildError> {
    if !(300..=599).contains(&status) {
        return Err(BuildError::InvalidRefusalStatus { status });
    }
    for (name, value) in headers {
        check_extra_header(name, value, &["Content-Type", "Content-Length"])?;
    }
    Ok(TextResponse {
        status,
        extra: headers
            .iter()
            .map(|(name, value)| (String::from(*name), String::from(*value)))
            .collect(),
        body: String::from(body),
    })
}

/// A complete plain-text response with `Content-Length` and
/// `Connection: close`, for answering plain HTTP requests (a health check,
/// a version endpoint) on the WebSocket port.
///
/// ```
/// let bytes = ws13_handshake::response::text_response(200, "ok\n");
/// assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// assert!(bytes.ends_with(b"\r\n\r\nok\n"));
/// ```
pub fn text_response(status: u16, body: &str) -> Vec<u8> {
    write_text_response(status, &[], body)
}

fn write_text_response(status: u16, extra: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    write_header(&mut out, "Content-Type", TextResponse::CONTENT_TYPE);
    write_header(&mut out, "Content-Length", &format!("{}", body.len()));
    write_header(&mut out, "Connection", "close");
    for (name, value) in extra {
        write_header(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// The three ASCII digits of an HTTP status code (100 to 999; the builders
/// never produce another).
fn status_digits(status: u16) -> [u8; 3] {
    let status = status % 1000;
    [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

/// The standard reason phrase for a status code (empty if unknown, which
/// HTTP/1.1 allows).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}
