//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest as _, Sha1};

/// The GUID that RFC 6455 appends to the key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Accept` value: base64 of a SHA-1 digest, always 28 ASCII
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII; the fallback is unreachable.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }
}

impl fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AcceptKey({:?})", self.as_str())
    }
}

impl PartialEq<str> for AcceptKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AcceptKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` value, given
/// exactly as it appears in the request (the base64 text, not the decoded
/// bytes).
///
/// ```
/// use ws13_handshake::accept::accept_key;
///
/// // The sample from RFC 6455 §1.3.
/// let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut hasher = Sha1::new();
    hasher.update(key);
    hasher.update(WEBSOCKET_GUID.as_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 base64 bytes, so this cannot fail.
    let _ = STANDARD.encode_slice(digest, &mut out);
    AcceptKey(out)
}

/// A client's `Sec-WebSocket-Key`: 16 caller-supplied random bytes in
/// base64, always 24 ASCII bytes.
///
/// ws13 has no random number generator; the caller draws the 16 bytes from
/// a cryptographically secure source (for example `getrandom`) for every
/// connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey([u8; 24]);

impl ClientKey {
    /// Encodes 16 random bytes as a key.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut out = [0u8; 24];
        // 16 bytes always encode to exactly 24 base64 bytes.
        let _ = STANDARD.encode_slice(bytes, &mut out);
        ClientKey(out)
    }

    /// The key as text, as written in the request.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The `Sec-WebSocket-Accept` value a correct server answers with.
    pub fn expected_accept(&self) -> AcceptKey {
        accept_key(&self.0)
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKey({:?})", self.as_str())
    }
}

/// Whether `value` is a valid `Sec-WebSocket-Key`: canonical padded base64
/// that decodes to exactly 16 bytes.
pub fn is_valid_key(value: &[u8]) -> bool {
    if value.len() != 24 {
        return false;
    }
    let mut decoded = [0u8; 24];
    matches!(STANDARD.decode_slice(value, &mut decoded), Ok(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_sample_key_gives_sample_accept() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_key_is_base64_of_the_bytes_and_valid() {
        let key = ClientKey::from_bytes(*b"the sample nonce");
        assert_eq!(key.as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(is_valid_key(key.as_str().as_bytes()));
        assert_eq!(key.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn keys_of_other_lengths_or_alphabets_are_invalid() {
        assert!(!is_valid_key(b""));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // unpadded
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=")); // short
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ-_")); // url-safe alphabet
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes
    }
}
