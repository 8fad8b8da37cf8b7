//! Header-level rules: token lists, header-name and header-value checks,
//! the handshake headers a caller may not add, and the policy for a
//! `Connection` header sent on more than one line.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::BuildError;
use crate::head::Header;

/// What to do when `Connection` arrives on more than one header line.
///
/// RFC 9110 §5.3 lets a recipient join repeated list headers into one list,
/// but WebKit (Safari on macOS and every browser on iOS) rejects a 101
/// response with two `Connection` lines and closes with code 1006, and some
/// servers do the same with requests. ws13 never *emits* a second
/// `Connection` line, whichever policy is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionPolicy {
    /// A second `Connection` line is an error that names WebKit's behaviour.
    /// This is the default: it catches the bug before an iPhone does.
    #[default]
    Strict,
    /// Repeated `Connection` lines are joined into one token list, as
    /// RFC 9110 allows.
    Lenient,
}

/// Iterates over the elements of a comma-separated header list, trimmed of
/// optional whitespace, skipping empty elements (`a, , b` yields `a`, `b`).
pub fn list_elements(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|element| element.trim_matches([' ', '\t']))
        .filter(|element| !element.is_empty())
}

/// Whether a comma-separated token list contains `token`, compared ASCII
/// case-insensitively (`keep-alive, Upgrade` contains `upgrade`).
pub fn contains_token(value: &str, token: &str) -> bool {
    list_elements(value).any(|element| element.eq_ignore_ascii_case(token))
}

/// Whether `byte` may appear in an RFC 9110 `token`.
pub fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Whether `text` is a non-empty RFC 9110 `token` (the grammar of header
/// names, subprotocol names and extension names).
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_byte)
}

/// Whether `value` may be written as a header value: no CR, LF, NUL or other
/// control byte except horizontal tab, so it cannot start a new header line.
pub fn is_safe_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Header names written by the handshake itself. An extra header with one of
/// these names (any case) is refused, so no header is ever written twice.
pub const HANDSHAKE_HEADERS: &[&str] = &["Connection", "Upgrade"];

/// Prefix shared by all WebSocket handshake headers; extra headers starting
/// with it (any case) are refused.
pub const WEBSOCKET_HEADER_PREFIX: &str = "Sec-WebSocket-";

/// Whether `name` is a header the handshake writes itself.
pub fn is_handshake_header(name: &str) -> bool {
    HANDSHAKE_HEADERS
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
        || name
            .get(..WEBSOCKET_HEADER_PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(WEBSOCKET_HEADER_PREFIX))
}

/// Checks an extra header a caller wants to add to a handshake message.
///
/// `also_reserved` lists names that this particular message writes itself
/// (for example `Host` in a client request).
pub(crate) fn check_extra_header(
    name: &str,
    value: &str,
    also_reserved: &[&str],
) -> Result<(), BuildError> {
    if !is_token(name) {
        return Err(BuildError::InvalidHeaderName {
            name: crate::error::excerpt(name.as_bytes()),
        });
    }
    if is_handshake_header(name) || also_reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(BuildError::HandshakeHeader {
            name: String::from(name),
        });
    }
    if !is_safe_value(value) {
        return Err(BuildError::InvalidHeaderValue {
            name: String::from(name),
        });
    }
    Ok(())
}

/// All lines of the header `name`, in order.
pub(crate) fn lines<'h, 'a>(
    headers: &'h [Header<'a>],
    name: &'h str,
) -> impl Iterator<Item = &'h Header<'a>> + 'h {
    headers.iter().filter(move |h| h.is(name))
}

/// The lines of `name` joined by ", ", shortened for messages.
pub(crate) fn joined(headers: &[Header<'_>], name: &str) -> String {
    let mut out = Vec::new();
    for (i, h) in lines(headers, name).enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(h.value);
    }
    crate::error::excerpt(&out)
}

/// Appends `Name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lists_are_case_insensitive_and_trimmed() {
        assert!(contains_token("keep-alive, Upgrade", "upgrade"));
        assert!(contains_token("UPGRADE", "upgrade"));
        assert!(contains_token(" ,\tupgrade ,", "upgrade"));
        assert!(!contains_token("upgrade-insecure", "upgrade"));
        assert!(!contains_token("close", "upgrade"));
    }

    #[test]
    fn handshake_headers_are_recognised_in_any_case() {
        for name in [
            "connection",
            "UPGRADE",
            "sec-websocket-accept",
            "Sec-WebSocket-Foo",
        ] {
            assert!(is_handshake_header(name), "{name}");
        }
        for name in ["X-Custom", "Set-Cookie", "Sec-Fetch-Mode", "Sec"] {
            assert!(!is_handshake_header(name), "{name}");
        }
    }

    #[test]
    fn values_with_control_bytes_are_unsafe() {
        assert!(is_safe_value("a b\tc"));
        for bad in ["a\r\nInjected: 1", "a\nb", "a\rb", "a\0b", "a\x7fb"] {
            assert!(!is_safe_value(bad), "{bad:?}");
        }
    }
}
