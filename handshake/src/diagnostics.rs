//! Every problem of a request or response at once, each with a stable code,
//! a message and a hint, for logs and for a `doctor` tool.
//!
//! The first problem listed is the error the strict validators return.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::client::ClientHandshake;
use crate::error::{RequestError, ResponseError};
use crate::head::Status;
use crate::request::{RequestReader, ServerConfig};

/// One problem found in a handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable, kebab-case identifier, such as `duplicate-connection-header`.
    pub code: &'static str,
    /// The full message: what happened, the likely cause, and the fix.
    pub message: String,
    /// The fix alone, in one sentence.
    pub hint: &'static str,
}

impl From<&RequestError> for Diagnostic {
    fn from(error: &RequestError) -> Self {
        Diagnostic {
            code: error.code(),
            message: error.to_string(),
            hint: error.hint(),
        }
    }
}

impl From<&ResponseError> for Diagnostic {
    fn from(error: &ResponseError) -> Self {
        Diagnostic {
            code: error.code(),
            message: error.to_string(),
            hint: error.hint(),
        }
    }
}

/// Code for a head that never ended.
pub const INCOMPLETE_HEAD: &str = "incomplete-head";
/// Code for a request that is plain HTTP, not a WebSocket attempt.
pub const NOT_WEBSOCKET: &str = "not-a-websocket-request";

fn incomplete() -> Diagnostic {
    Diagnostic {
        code: INCOMPLETE_HEAD,
        message: String::from(
            "The message ends before the empty line that closes the HTTP head, so it cannot be judged. Capture the whole head, up to and including the blank line.",
        ),
        hint: "Capture the whole head, including the final blank line.",
    }
}

/// All problems of a captured request head as a WebSocket handshake.
///
/// A request with no sign of WebSocket gives one [`NOT_WEBSOCKET`]
/// diagnostic (a server would serve it as plain HTTP); an unfinished head
/// gives one [`INCOMPLETE_HEAD`]; a valid handshake gives none.
///
/// ```
/// use ws13_handshake::diagnostics::diagnose_request;
/// use ws13_handshake::ServerConfig;
///
/// let found = diagnose_request(
///     b"GET / HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\
///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
///     &ServerConfig::default(),
/// );
/// let codes: Vec<_> = found.iter().map(|d| d.code).collect();
/// assert_eq!(codes, ["upgrade-headers-stripped", "http-version-too-old"]);
/// ```
pub fn diagnose_request(head: &[u8], config: &ServerConfig) -> Vec<Diagnostic> {
    match RequestReader::new(config.limits()).read(head) {
        Err(error) => alloc::vec![Diagnostic::from(&RequestError::from(error))],
        Ok(Status::Partial) => alloc::vec![incomplete()],
        Ok(Status::Complete(request)) if !request.is_websocket_attempt() => {
            alloc::vec![Diagnostic {
                code: NOT_WEBSOCKET,
                message: String::from(
                    "The request has no 'Upgrade: websocket', 'Sec-WebSocket-Key' or 'Sec-WebSocket-Version' header, so a server treats it as plain HTTP. If it was meant to open a WebSocket, the client is not a WebSocket client or a proxy removed all the WebSocket headers.",
                ),
                hint: "Open the connection with a WebSocket client, and check that proxies forward the upgrade.",
            }]
        }
        Ok(Status::Complete(request)) => request
            .problems(config)
            .iter()
            .map(Diagnostic::from)
            .collect(),
    }
}

/// All problems of a captured response head to the request `handshake`
/// sent. A valid 101 gives none; an unfinished head gives one
/// [`INCOMPLETE_HEAD`].
pub fn diagnose_response(head: &[u8], handshake: &ClientHandshake) -> Vec<Diagnostic> {
    let problems = handshake.response_problems(head);
    if problems.is_empty() {
        let mut probe = handshake.clone();
        if matches!(probe.read_response(head), Ok(Status::Partial)) {
            return alloc::vec![incomplete()];
        }
    }
    problems.iter().map(Diagnostic::from).collect()
}
