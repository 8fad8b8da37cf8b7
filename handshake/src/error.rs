//! Error types. Every message says what happened, the likely cause, and the
//! fix; [`RequestError::code`] and friends give a stable code per variant,
//! and `hint` the fix alone (see [`crate::diagnostics`]).
//!
//! Where a browser reports the same defect, the message quotes the console
//! message Chromium prints, so a developer can match the two.

use alloc::string::String;

use crate::extensions::ExtensionsError;

/// The reverse-proxy settings that make nginx forward a WebSocket upgrade.
pub const NGINX_UPGRADE_FIX: &str = "If a reverse proxy sits in front of this server, make it forward the upgrade; for nginx, put `proxy_http_version 1.1;`, `proxy_set_header Upgrade $http_upgrade;` and `proxy_set_header Connection \"upgrade\";` in the location block.";

/// Problems with the HTTP head itself, before any WebSocket rule applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// No empty line within the size limit.
    #[error(
        "The handshake head exceeded {limit} bytes without ending in an empty line. The peer sends oversized headers (such as huge cookies), is not speaking HTTP, or is trickling bytes to exhaust the server; raise Limits::max_head_bytes only if legitimate clients need more."
    )]
    TooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
    /// More header lines than the limit.
    #[error(
        "The handshake head has more than {limit} header lines. Legitimate WebSocket clients send about 10 to 20; raise Limits::max_headers only if a proxy in between adds many."
    )]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The bytes are not an HTTP/1.x head.
    #[error(
        "The handshake head is not valid HTTP/1.x: {reason}. The peer may not be speaking HTTP at all, for example a TLS client on a plain port (use wss:// only where the server or its proxy terminates TLS, ws:// otherwise)."
    )]
    Malformed {
        /// What the HTTP parser objected to.
        reason: &'static str,
    },
}

impl HeadError {
    /// Stable code for this problem.
    pub fn code(&self) -> &'static str {
        match self {
            HeadError::TooLarge { .. } => "head-too-large",
            HeadError::TooManyHeaders { .. } => "too-many-headers",
            HeadError::Malformed { .. } => "malformed-http",
        }
    }

    /// The fix, in one sentence.
    pub fn hint(&self) -> &'static str {
        match self {
            HeadError::TooLarge { .. } => "Send smaller headers, or raise Limits::max_head_bytes.",
            HeadError::TooManyHeaders { .. } => "Send fewer headers, or raise Limits::max_headers.",
            HeadError::Malformed { .. } => {
                "Check that the client speaks HTTP/1.1 and uses ws:// or wss:// to match the server."
            }
        }
    }
}

/// Why a server refuses a WebSocket handshake request.
///
/// [`RequestError::status`] gives the HTTP status to answer with, and
/// [`crate::response::reject`] writes that response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The head could not be read.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The method is not GET.
    #[error(
        "The WebSocket handshake request uses method {method}, but RFC 6455 §4.1 requires GET. Open the connection with a WebSocket client (such as `new WebSocket(url)` in a browser) rather than a plain HTTP request."
    )]
    MethodNotGet {
        /// The method sent.
        method: String,
    },
    /// HTTP/2: the method of a WebSocket request is not CONNECT.
    #[error(
        "The HTTP/2 WebSocket request uses method {method}, but RFC 8441 §4 opens a WebSocket over HTTP/2 with an extended CONNECT (':method' CONNECT with ':protocol' websocket). Use a client that speaks RFC 8441, or connect over HTTP/1.1 with GET and 'Upgrade: websocket'."
    )]
    MethodNotConnect {
        /// The method sent.
        method: String,
    },
    /// HTTP/2: a pseudo-header field RFC 8441 requires is missing or empty.
    #[error(
        "The HTTP/2 WebSocket request has no '{name}' pseudo-header, but RFC 8441 §4 requires ':method' CONNECT, ':protocol' websocket, ':scheme', ':path' and ':authority'. Send the extended CONNECT with all five."
    )]
    MissingPseudoHeader {
        /// The pseudo-header, such as `:protocol`.
        name: &'static str,
    },
    /// HTTP/2: `:protocol` names something other than `websocket`.
    #[error(
        "The HTTP/2 extended CONNECT asks for protocol '{value}', but this endpoint serves WebSockets; RFC 8441 §4 requires ':protocol' websocket."
    )]
    ProtocolNotWebSocket {
        /// The `:protocol` value received (shortened if long).
        value: String,
    },
    /// HTTP/2: an HTTP/1.1 upgrade header in an extended CONNECT.
    #[error(
        "The HTTP/2 WebSocket request carries the HTTP/1.1 handshake header '{name}'. Over HTTP/2, RFC 8441 replaces 'Upgrade', 'Connection' and 'Sec-WebSocket-Key' with the extended CONNECT (':method' CONNECT, ':protocol' websocket), and RFC 9113 §8.2.2 forbids connection-specific headers; remove '{name}' from the HTTP/2 request, or send the HTTP/1.1 handshake over HTTP/1.1."
    )]
    Http1HeaderInHttp2 {
        /// The header, such as `Upgrade`.
        name: &'static str,
    },
    /// HTTP/1.0 (or older).
    #[error("The WebSocket handshake request is HTTP/1.{minor}, but RFC 6455 §4.1 requires HTTP/1.1; a reverse proxy that talks HTTP/1.0 to this server is the usual cause. {fix}", fix = NGINX_UPGRADE_FIX)]
    HttpVersionTooOld {
        /// The minor version sent (0 for HTTP/1.0).
        minor: u8,
    },
    /// WebSocket headers arrived without `Upgrade` and the `upgrade` token.
    #[error("The request carries WebSocket headers (Sec-WebSocket-Key or Sec-WebSocket-Version) but neither an 'Upgrade: websocket' header nor 'upgrade' in the 'Connection' header (Connection: {connection}); a reverse proxy that does not forward the upgrade strips exactly these headers. {fix}", fix = NGINX_UPGRADE_FIX)]
    UpgradeHeadersStripped {
        /// The `Connection` value received, or `(none)`.
        connection: String,
    },
    /// No `Host` header.
    #[error(
        "The request has no 'Host' header, which HTTP/1.1 and RFC 6455 §4.1 require. Send 'Host: <host>[:<port>]' naming this server."
    )]
    MissingHost,
    /// More than one `Host` header.
    #[error(
        "The request has {count} 'Host' headers, but HTTP/1.1 requires exactly one. Remove the extra one; it is usually set by hand on top of the one the client library writes."
    )]
    DuplicateHost {
        /// How many were sent.
        count: usize,
    },
    /// An empty or non-text `Host` value.
    #[error(
        "The request's 'Host' header is empty or not text. Send 'Host: <host>[:<port>]' naming this server."
    )]
    InvalidHost,
    /// No `Connection` header.
    #[error("The request has no 'Connection' header, but RFC 6455 §4.1 requires 'Connection: Upgrade'; a proxy that drops hop-by-hop headers is the usual cause. {fix}", fix = NGINX_UPGRADE_FIX)]
    MissingConnection,
    /// `Connection` on more than one line under [`crate::ConnectionPolicy::Strict`].
    #[error(
        "The request has {count} 'Connection' header lines. ws13 accepts one by default, because WebKit (Safari, and every browser on iOS) fails a handshake with repeated 'Connection' lines with close code 1006. Send one line such as 'Connection: keep-alive, Upgrade', or set ConnectionPolicy::Lenient to join the lines as RFC 9110 allows."
    )]
    DuplicateConnection {
        /// How many lines were sent.
        count: usize,
    },
    /// `Connection` without the `upgrade` token.
    #[error("The request's 'Connection' header is '{value}' and lacks the 'upgrade' token that RFC 6455 §4.1 requires; a reverse proxy that rewrites 'Connection' (nginx sends 'close' unless told otherwise) is the usual cause. {fix}", fix = NGINX_UPGRADE_FIX)]
    ConnectionWithoutUpgrade {
        /// The value received.
        value: String,
    },
    /// No `Upgrade` header.
    #[error("The request has no 'Upgrade' header, but RFC 6455 §4.1 requires 'Upgrade: websocket'; a proxy that drops hop-by-hop headers is the usual cause. {fix}", fix = NGINX_UPGRADE_FIX)]
    MissingUpgrade,
    /// `Upgrade` without `websocket`.
    #[error(
        "The request's 'Upgrade' header is '{value}' and does not name 'websocket'. The client asked for another protocol on a WebSocket endpoint; send 'Upgrade: websocket'."
    )]
    UpgradeNotWebSocket {
        /// The value received.
        value: String,
    },
    /// No `Sec-WebSocket-Version`.
    #[error(
        "The request has no 'Sec-WebSocket-Version' header, but RFC 6455 §4.1 requires 'Sec-WebSocket-Version: 13'. The client implements a pre-standard draft of WebSocket; upgrade the client library."
    )]
    MissingVersion,
    /// `Sec-WebSocket-Version` on more than one line.
    #[error(
        "The request has {count} 'Sec-WebSocket-Version' headers, but RFC 6455 §4.1 allows exactly one. Send a single 'Sec-WebSocket-Version: 13'."
    )]
    DuplicateVersion {
        /// How many were sent.
        count: usize,
    },
    /// A version other than 13.
    #[error(
        "The client asked for WebSocket version '{version}', but this server speaks only version 13 (RFC 6455) and answers 426 Upgrade Required with 'Sec-WebSocket-Version: 13'. The client implements an old draft of the protocol; upgrade the client library."
    )]
    UnsupportedVersion {
        /// The version value received.
        version: String,
    },
    /// No `Sec-WebSocket-Key`.
    #[error(
        "The request has no 'Sec-WebSocket-Key' header, which RFC 6455 §4.1 requires. The client must send a fresh key (16 random bytes in base64) with every handshake."
    )]
    MissingKey,
    /// `Sec-WebSocket-Key` on more than one line.
    #[error(
        "The request has {count} 'Sec-WebSocket-Key' headers, but RFC 6455 §4.1 allows exactly one. Remove the extra one; it is usually set by hand on top of the one the client library writes."
    )]
    DuplicateKey {
        /// How many were sent.
        count: usize,
    },
    /// A key that is not base64 of 16 bytes.
    #[error(
        "The request's 'Sec-WebSocket-Key' value '{value}' is not the base64 encoding of 16 bytes (24 characters ending in '=='), as RFC 6455 §4.1 requires. Draw 16 random bytes for every connection and encode them with standard padded base64."
    )]
    InvalidKey {
        /// The value received (shortened if long).
        value: String,
    },
    /// An empty or malformed `Sec-WebSocket-Protocol`.
    #[error(
        "The request's 'Sec-WebSocket-Protocol' header '{value}' is empty or holds a name that is not an HTTP token. Send a comma-separated list of subprotocol names, or no header at all when offering none (an empty header also breaks Safari)."
    )]
    InvalidProtocolHeader {
        /// The offending line (shortened if long).
        value: String,
    },
    /// A malformed `Sec-WebSocket-Extensions`.
    #[error(
        "The request's 'Sec-WebSocket-Extensions' header '{value}' is malformed: {reason}. Send offers such as 'permessage-deflate; client_max_window_bits', or no header at all when offering none."
    )]
    InvalidExtensionHeader {
        /// The offending line (shortened if long).
        value: String,
        /// What is wrong with it.
        reason: ExtensionsError,
    },
    /// No `Origin`, and the policy requires one.
    #[error(
        "The request has no 'Origin' header, and this server requires one (OriginPolicy::require_origin). Browsers always send Origin; a non-browser client must send an allowed origin, or the server must stop requiring it."
    )]
    MissingOrigin,
    /// `Origin` on more than one line.
    #[error(
        "The request has {count} 'Origin' headers, but a browser sends exactly one. The request was refused because its origin is ambiguous; send a single 'Origin' header."
    )]
    DuplicateOrigin {
        /// How many were sent.
        count: usize,
    },
    /// An `Origin` not on the allow-list.
    #[error(
        "The origin '{origin}' is not on this server's allow-list, so the handshake was refused to prevent cross-site WebSocket hijacking. If the page is legitimate, add its exact origin (scheme://host[:port]) to the server's OriginPolicy."
    )]
    OriginNotAllowed {
        /// The origin received (shortened if long).
        origin: String,
    },
}

impl RequestError {
    /// Stable code for this problem, for logs and the `doctor` tool.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::Head(head) => head.code(),
            RequestError::MethodNotGet { .. } => "method-not-get",
            RequestError::MethodNotConnect { .. } => "method-not-connect",
            RequestError::MissingPseudoHeader { .. } => "missing-pseudo-header",
            RequestError::ProtocolNotWebSocket { .. } => "protocol-not-websocket",
            RequestError::Http1HeaderInHttp2 { .. } => "http1-header-in-http2",
            RequestError::HttpVersionTooOld { .. } => "http-version-too-old",
            RequestError::UpgradeHeadersStripped { .. } => "upgrade-headers-stripped",
            RequestError::MissingHost => "missing-host-header",
            RequestError::DuplicateHost { .. } => "duplicate-host-header",
            RequestError::InvalidHost => "invalid-host-header",
            RequestError::MissingConnection => "missing-connection-header",
            RequestError::DuplicateConnection { .. } => "duplicate-connection-header",
            RequestError::ConnectionWithoutUpgrade { .. } => "connection-without-upgrade",
            RequestError::MissingUpgrade => "missing-upgrade-header",
            RequestError::UpgradeNotWebSocket { .. } => "upgrade-not-websocket",
            RequestError::MissingVersion => "missing-websocket-version",
            RequestError::DuplicateVersion { .. } => "duplicate-websocket-version",
            RequestError::UnsupportedVersion { .. } => "unsupported-websocket-version",
            RequestError::MissingKey => "missing-websocket-key",
            RequestError::DuplicateKey { .. } => "duplicate-websocket-key",
            RequestError::InvalidKey { .. } => "invalid-websocket-key",
            RequestError::InvalidProtocolHeader { .. } => "invalid-subprotocol-header",
            RequestError::InvalidExtensionHeader { .. } => "invalid-extensions-header",
            RequestError::MissingOrigin => "missing-origin",
            RequestError::DuplicateOrigin { .. } => "duplicate-origin-header",
            RequestError::OriginNotAllowed { .. } => "origin-not-allowed",
        }
    }

    /// The fix, in one sentence.
    pub fn hint(&self) -> &'static str {
        match self {
            RequestError::Head(head) => head.hint(),
            RequestError::HttpVersionTooOld { .. }
            | RequestError::UpgradeHeadersStripped { .. }
            | RequestError::MissingConnection
            | RequestError::ConnectionWithoutUpgrade { .. }
            | RequestError::MissingUpgrade => NGINX_UPGRADE_FIX,
            RequestError::MethodNotGet { .. } => "Use GET for the handshake.",
            RequestError::MethodNotConnect { .. }
            | RequestError::MissingPseudoHeader { .. }
            | RequestError::ProtocolNotWebSocket { .. } => {
                "Over HTTP/2, open the WebSocket with an RFC 8441 extended CONNECT: ':method' CONNECT, ':protocol' websocket, ':scheme', ':path', ':authority'."
            }
            RequestError::Http1HeaderInHttp2 { .. } => {
                "Remove 'Upgrade', 'Connection' and 'Sec-WebSocket-Key' from HTTP/2 requests; the extended CONNECT replaces them."
            }
            RequestError::MissingHost
            | RequestError::DuplicateHost { .. }
            | RequestError::InvalidHost => "Send exactly one 'Host' header naming this server.",
            RequestError::DuplicateConnection { .. } => {
                "Send a single 'Connection' line (for example 'Connection: keep-alive, Upgrade'), or use ConnectionPolicy::Lenient."
            }
            RequestError::UpgradeNotWebSocket { .. } => "Send 'Upgrade: websocket'.",
            RequestError::MissingVersion
            | RequestError::DuplicateVersion { .. }
            | RequestError::UnsupportedVersion { .. } => {
                "Send exactly one 'Sec-WebSocket-Version: 13'; upgrade clients that implement an older draft."
            }
            RequestError::MissingKey
            | RequestError::DuplicateKey { .. }
            | RequestError::InvalidKey { .. } => {
                "Send exactly one 'Sec-WebSocket-Key' holding 16 fresh random bytes in padded base64."
            }
            RequestError::InvalidProtocolHeader { .. } => {
                "List subprotocol names separated by commas, or omit the header."
            }
            RequestError::InvalidExtensionHeader { .. } => {
                "Follow the RFC 6455 §9.1 grammar, or omit the header."
            }
            RequestError::MissingOrigin
            | RequestError::DuplicateOrigin { .. }
            | RequestError::OriginNotAllowed { .. } => {
                "Connect from an origin on the server's OriginPolicy allow-list, or add the page's origin to it."
            }
        }
    }

    /// The HTTP status a server answers with: 426 for an unsupported
    /// version, 403 for a refused origin, 431 for an oversized head, 400
    /// otherwise.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::UnsupportedVersion { .. } => 426,
            RequestError::MissingOrigin | RequestError::OriginNotAllowed { .. } => 403,
            RequestError::Head(HeadError::TooLarge { .. } | HeadError::TooManyHeaders { .. }) => {
                431
            }
            _ => 400,
        }
    }
}

/// Why a client rejects the server's handshake response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The head could not be read.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// A status other than 101.
    #[error("The server answered {status}{sep}{reason} instead of 101 Switching Protocols, so no WebSocket was opened (Chromium: \"Unexpected response code: {status}\"). {hint}", sep = if .reason.is_empty() { "" } else { " " }, hint = status_hint(*.status))]
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The reason phrase (shortened if long).
        reason: String,
    },
    /// No `Connection` header.
    #[error(
        "The 101 response has no 'Connection' header (Chromium: \"'Connection' header is missing\"), so browsers fail the connection with code 1006. The server must send 'Connection: Upgrade'; a proxy between client and server may have dropped it."
    )]
    MissingConnection,
    /// `Connection` on more than one line under [`crate::ConnectionPolicy::Strict`].
    #[error(
        "The 101 response has {count} 'Connection' header lines. Chromium accepts this, but WebKit (Safari, and every browser on iOS) closes the connection at once with code 1006. The server application most likely adds 'Connection: Upgrade' by hand while its WebSocket library writes it too; remove the manual header."
    )]
    DuplicateConnection {
        /// How many lines were received.
        count: usize,
    },
    /// `Connection` without the `upgrade` token.
    #[error(
        "The 101 response's 'Connection' header is '{value}' and lacks the 'upgrade' token (Chromium: \"'Connection' header value must contain 'Upgrade'\"), so browsers fail the connection with code 1006. The server must send 'Connection: Upgrade'."
    )]
    ConnectionWithoutUpgrade {
        /// The value received.
        value: String,
    },
    /// No `Upgrade` header.
    #[error(
        "The 101 response has no 'Upgrade' header (Chromium: \"'Upgrade' header is missing\"), so browsers fail the connection with code 1006. The server must send 'Upgrade: websocket'; a proxy between client and server may have dropped it."
    )]
    MissingUpgrade,
    /// `Upgrade` on more than one line.
    #[error(
        "The 101 response has {count} 'Upgrade' header lines (Chromium: \"'Upgrade' header must not appear more than once in a response\"), so browsers fail the connection with code 1006. The server application most likely adds 'Upgrade: websocket' by hand while its WebSocket library writes it too; remove the manual header."
    )]
    DuplicateUpgrade {
        /// How many lines were received.
        count: usize,
    },
    /// `Upgrade` that is not `websocket`.
    #[error(
        "The 101 response's 'Upgrade' header is '{value}', not 'websocket' (Chromium: \"'Upgrade' header value is not 'WebSocket': {value}\"). The server switched to another protocol; check the URL points at a WebSocket endpoint."
    )]
    UpgradeNotWebSocket {
        /// The value received.
        value: String,
    },
    /// No `Sec-WebSocket-Accept`.
    #[error(
        "The 101 response has no 'Sec-WebSocket-Accept' header (Chromium: \"'Sec-WebSocket-Accept' header is missing\"), so browsers fail the connection with code 1006. The server must answer the key with base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\"))."
    )]
    MissingAccept,
    /// `Sec-WebSocket-Accept` on more than one line.
    #[error(
        "The 101 response has {count} 'Sec-WebSocket-Accept' header lines (Chromium: \"'Sec-WebSocket-Accept' header must not appear more than once in a response\"), so browsers fail the connection with code 1006. The server writes the header twice, probably once by hand; remove the manual one."
    )]
    DuplicateAccept {
        /// How many lines were received.
        count: usize,
    },
    /// A wrong `Sec-WebSocket-Accept` value.
    #[error(
        "The 101 response's 'Sec-WebSocket-Accept' is '{received}' but should be '{expected}' (Chromium: \"Incorrect 'Sec-WebSocket-Accept' header value\"), so browsers fail the connection with code 1006. The server computes it wrongly (it is base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")) and case-sensitive), or a cache replayed a response to an older request."
    )]
    AcceptMismatch {
        /// The value the key calls for.
        expected: String,
        /// The value received (shortened if long).
        received: String,
    },
    /// A subprotocol chosen though the client offered none.
    #[error(
        "The 101 response selects subprotocol '{protocol}' though the request offered none (Chromium: \"Response must not include 'Sec-WebSocket-Protocol' header if not present in request: {protocol}\"), so browsers fail the connection with code 1006. The server must send 'Sec-WebSocket-Protocol' only to echo one of the client's offers."
    )]
    ProtocolNotRequested {
        /// The subprotocol the server chose.
        protocol: String,
    },
    /// A subprotocol the client did not offer.
    #[error(
        "The 101 response selects subprotocol '{protocol}', which the request did not offer (it offered: {offered}); browsers fail such a connection with code 1006. The server must pick one of the offered names exactly, or send no 'Sec-WebSocket-Protocol' header."
    )]
    ProtocolNotOffered {
        /// The subprotocol the server chose.
        protocol: String,
        /// The client's offer, comma-separated.
        offered: String,
    },
    /// More than one subprotocol, or an empty one.
    #[error(
        "The 101 response's 'Sec-WebSocket-Protocol' is '{value}', but it must name exactly one of the offered subprotocols (RFC 6455 §4.2.2); browsers fail such a connection with code 1006. The server must pick one offer, or send no header when it picks none."
    )]
    InvalidProtocol {
        /// The value received, lines joined by ", " (shortened if long).
        value: String,
    },
    /// An extension the client did not offer.
    #[error(
        "The 101 response accepts extension '{name}', which the request did not offer (Chromium: \"Found an unsupported extension '{name}' in 'Sec-WebSocket-Extensions' header\"), so browsers fail the connection with code 1006. The server must accept only extensions the client offered."
    )]
    ExtensionNotOffered {
        /// The extension name.
        name: String,
    },
    /// The same extension accepted twice.
    #[error(
        "The 101 response accepts extension '{name}' more than once; a server may accept each offered extension only once (RFC 6455 §9.1). Fix the server's extension negotiation."
    )]
    DuplicateExtension {
        /// The extension name.
        name: String,
    },
    /// A malformed `Sec-WebSocket-Extensions`.
    #[error(
        "The 101 response's 'Sec-WebSocket-Extensions' header '{value}' is malformed: {reason}. The server's extension negotiation writes an invalid header; browsers fail such a connection with code 1006."
    )]
    InvalidExtensionHeader {
        /// The offending line (shortened if long).
        value: String,
        /// What is wrong with it.
        reason: ExtensionsError,
    },
    /// HTTP/2 (RFC 8441): a status outside 2xx to the extended CONNECT.
    #[error("The server answered the HTTP/2 extended CONNECT (RFC 8441) with {status} instead of a 2xx status, so no WebSocket was opened. {hint}", hint = status_hint(*.status))]
    ConnectRefused {
        /// The status code.
        status: u16,
    },
}

impl ResponseError {
    /// Stable code for this problem, for logs and the `doctor` tool.
    pub fn code(&self) -> &'static str {
        match self {
            ResponseError::Head(head) => head.code(),
            ResponseError::UnexpectedStatus { .. } => "unexpected-status",
            ResponseError::MissingConnection => "missing-connection-header",
            ResponseError::DuplicateConnection { .. } => "duplicate-connection-header",
            ResponseError::ConnectionWithoutUpgrade { .. } => "connection-without-upgrade",
            ResponseError::MissingUpgrade => "missing-upgrade-header",
            ResponseError::DuplicateUpgrade { .. } => "duplicate-upgrade-header",
            ResponseError::UpgradeNotWebSocket { .. } => "upgrade-not-websocket",
            ResponseError::MissingAccept => "missing-websocket-accept",
            ResponseError::DuplicateAccept { .. } => "duplicate-websocket-accept",
            ResponseError::AcceptMismatch { .. } => "incorrect-websocket-accept",
            ResponseError::ProtocolNotRequested { .. } => "subprotocol-not-requested",
            ResponseError::ProtocolNotOffered { .. } => "subprotocol-not-offered",
            ResponseError::InvalidProtocol { .. } => "invalid-subprotocol-header",
            ResponseError::ExtensionNotOffered { .. } => "extension-not-offered",
            ResponseError::DuplicateExtension { .. } => "duplicate-extension",
            ResponseError::InvalidExtensionHeader { .. } => "invalid-extensions-header",
            ResponseError::ConnectRefused { .. } => "extended-connect-refused",
        }
    }

    /// The fix, in one sentence.
    pub fn hint(&self) -> &'static str {
        match self {
            ResponseError::Head(head) => head.hint(),
            ResponseError::UnexpectedStatus { status, .. }
            | ResponseError::ConnectRefused { status } => status_hint(*status),
            ResponseError::MissingConnection | ResponseError::ConnectionWithoutUpgrade { .. } => {
                "The server must send exactly one 'Connection: Upgrade' line."
            }
            ResponseError::DuplicateConnection { .. } => {
                "Remove the 'Connection' header the server application adds by hand; the WebSocket library already writes it."
            }
            ResponseError::MissingUpgrade | ResponseError::UpgradeNotWebSocket { .. } => {
                "The server must send exactly one 'Upgrade: websocket' line."
            }
            ResponseError::DuplicateUpgrade { .. } => {
                "Remove the 'Upgrade' header the server application adds by hand; the WebSocket library already writes it."
            }
            ResponseError::MissingAccept
            | ResponseError::DuplicateAccept { .. }
            | ResponseError::AcceptMismatch { .. } => {
                "The server must send one 'Sec-WebSocket-Accept' computed from this request's key."
            }
            ResponseError::ProtocolNotRequested { .. }
            | ResponseError::ProtocolNotOffered { .. }
            | ResponseError::InvalidProtocol { .. } => {
                "The server must echo exactly one offered subprotocol, or send no 'Sec-WebSocket-Protocol'."
            }
            ResponseError::ExtensionNotOffered { .. }
            | ResponseError::DuplicateExtension { .. }
            | ResponseError::InvalidExtensionHeader { .. } => {
                "The server must accept only offered extensions, each at most once, in RFC 6455 §9.1 syntax."
            }
        }
    }
}

/// The likely cause and fix for a non-101 status.
pub fn status_hint(status: u16) -> &'static str {
    match status {
        200 => {
            "The URL reaches a plain HTTP handler, not the WebSocket endpoint; check the path, or a proxy that does not forward the upgrade."
        }
        400 => {
            "The server found the request malformed; the usual cause is a reverse proxy that does not forward the upgrade (for nginx: `proxy_http_version 1.1;`, `proxy_set_header Upgrade $http_upgrade;`, `proxy_set_header Connection \"upgrade\";`). The response body may name the defect."
        }
        401 | 403 => {
            "The server refused the client; check credentials and that the page's origin is on the server's allow-list."
        }
        404 => {
            "No WebSocket endpoint exists at this path; check the URL path (and any path prefix a proxy adds or strips)."
        }
        426 => {
            "The server wants another protocol version; ws13 speaks version 13 (RFC 6455), so check the response's 'Sec-WebSocket-Version' header for what the server supports."
        }
        301 | 302 | 303 | 307 | 308 => {
            "The server redirects; WebSocket clients do not follow redirects, so connect to the 'Location' it names."
        }
        502..=504 => {
            "A proxy or gateway could not reach the WebSocket server; check that the backend is running and reachable from the proxy."
        }
        _ => "Check the server's logs and the response body for the reason.",
    }
}

/// Why a handshake message could not be built. Builders refuse rather than
/// write something a peer would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An extra header name that is not an HTTP token.
    #[error(
        "The header name '{name}' is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only). Fix the name."
    )]
    InvalidHeaderName {
        /// The name given (shortened if long).
        name: String,
    },
    /// An extra header that the handshake writes itself.
    #[error(
        "The extra header '{name}' clashes with a header the WebSocket handshake writes itself (Connection, Upgrade, Sec-WebSocket-*, and Host/Origin in a request). A second copy makes WebKit (Safari, and every browser on iOS) fail the connection with code 1006; remove it, and use the builder's own methods for subprotocols, extensions and origin."
    )]
    HandshakeHeader {
        /// The name given.
        name: String,
    },
    /// A header value with CR, LF, NUL or another control byte.
    #[error(
        "The value for header '{name}' contains CR, LF, NUL or another control character, which would let it inject extra header lines. Remove those characters."
    )]
    InvalidHeaderValue {
        /// The header name.
        name: String,
    },
    /// A refusal with a status that does not refuse.
    #[error(
        "The status {status} cannot refuse a WebSocket handshake: use a redirect (3xx), a client error (4xx, e.g. 401, 403, 404) or a server error (5xx)."
    )]
    InvalidRefusalStatus {
        /// The status given.
        status: u16,
    },
    /// A `:scheme` for an HTTP/2 extended CONNECT other than `https` or `http`.
    #[error(
        "The scheme '{scheme}' cannot carry a WebSocket over HTTP/2: RFC 8441 sends ':scheme' as the target's HTTP scheme, 'https' for wss:// and 'http' for ws://."
    )]
    InvalidScheme {
        /// The scheme given (shortened if long).
        scheme: String,
    },
    /// An unusable host.
    #[error(
        "The host '{host}' is empty or contains whitespace, control characters or '/', so it cannot be sent as a 'Host' header. Pass the host (and port, if not the default) of the ws:// or wss:// URL."
    )]
    InvalidHost {
        /// The host given (shortened if long).
        host: String,
    },
    /// An unusable path.
    #[error(
        "The request path '{path}' does not start with '/' or contains whitespace or control characters. Pass the path and query of the URL, percent-encoded, such as '/chat?room=1'."
    )]
    InvalidPath {
        /// The path given (shortened if long).
        path: String,
    },
    /// An unusable origin.
    #[error(
        "The origin '{origin}' is empty or contains control characters. Pass the page's origin as 'scheme://host[:port]'."
    )]
    InvalidOrigin {
        /// The origin given (shortened if long).
        origin: String,
    },
    /// A subprotocol name that is not a token.
    #[error(
        "The subprotocol '{protocol}' is empty or not an HTTP token, so it cannot be sent in 'Sec-WebSocket-Protocol'. Use a name made of letters, digits and !#$%&'*+-.^_`|~."
    )]
    InvalidProtocol {
        /// The name given (shortened if long).
        protocol: String,
    },
    /// The same subprotocol offered twice.
    #[error(
        "The subprotocol '{protocol}' is offered twice; RFC 6455 §4.1 requires unique names and browsers throw a SyntaxError for this. Offer each name once."
    )]
    DuplicateProtocol {
        /// The repeated name.
        protocol: String,
    },
    /// The server chose a subprotocol the client did not offer.
    #[error(
        "The subprotocol '{protocol}' was not offered by the client, and a browser fails a connection whose 101 names an unoffered subprotocol with code 1006. Choose one of the offered names (see subprotocol::choose), or none."
    )]
    ProtocolNotOffered {
        /// The name given.
        protocol: String,
    },
    /// An empty or malformed extensions string.
    #[error(
        "The extensions value '{value}' is malformed: {reason}. Pass extensions in RFC 6455 §9.1 syntax, such as 'permessage-deflate; client_max_window_bits', or none at all."
    )]
    InvalidExtensions {
        /// The value given (shortened if long).
        value: String,
        /// What is wrong with it.
        reason: ExtensionsError,
    },
    /// The server accepted an extension the client did not offer.
    #[error(
        "The extension '{name}' was not offered by the client, and a browser fails a connection whose 101 accepts an unoffered extension with code 1006 (Chromium: \"Found an unsupported extension\"). Accept only extensions from the request's offer."
    )]
    ExtensionNotOffered {
        /// The extension name.
        name: String,
    },
}

/// A printable, bounded copy of untrusted bytes for error messages: control
/// and non-ASCII bytes become `?`, and anything past 80 bytes is cut.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let mut out: String = bytes
        .iter()
        .take(MAX)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if bytes.len() > MAX {
        out.push_str("...");
    }
    out
}
