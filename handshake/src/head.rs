//! The HTTP head: finding where it ends without re-scanning, its size limits,
//! and the borrowed header view shared by requests and responses.
//!
//! A head is the start line plus the header block, up to and including the
//! empty line. Callers feed a buffer that starts at the first byte of the
//! head and only grows. The readers ([`crate::RequestReader`],
//! [`crate::ClientHandshake`]) remember how far they have looked for the
//! empty line, so a head that trickles in one byte at a time costs linear
//! time, and the size limit ends the search long before memory becomes a
//! problem (compare CVE-2023-43669).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::HeadError;

/// The outcome of feeding bytes to an incremental reader.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// The head has not ended yet: read more bytes into the same buffer and
    /// call again.
    Partial,
    /// The head is complete; `T` says what it contained.
    Complete(T),
}

impl<T> Status<T> {
    /// Returns the completed value, or `None` while the head is partial.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Partial => None,
            Status::Complete(value) => Some(value),
        }
    }

    /// Returns `true` while more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}

/// Bounds on the size of a handshake head.
///
/// Exceeding either bound is an error ([`HeadError::TooLarge`] or
/// [`HeadError::TooManyHeaders`]), never unbounded buffering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head accepted, in bytes, including the start line and the
    /// final empty line. Default: 16 KiB, several times what browsers send
    /// even with large cookies.
    pub max_head_bytes: usize,
    /// Most header lines accepted. Default: 64 (browsers send 10 to 20).
    pub max_headers: usize,
}

impl Limits {
    /// Default bound on the head size in bytes.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
    /// Default bound on the number of header lines.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }
}

/// One header line, borrowed from the caller's buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as sent (compare it case-insensitively).
    pub name: &'a str,
    /// The raw value, without surrounding whitespace.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// The value as text, or `None` if it is not valid UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value).ok()
    }

    /// Whether this header has the given name (ASCII case-insensitive).
    #[inline]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &String::from_utf8_lossy(self.value))
            .finish()
    }
}

/// Finds the end of a head across calls, looking at each byte once.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeadScanner {
    /// Bytes already examined.
    scanned: usize,
    /// Line feeds seen since the last byte that was neither CR nor LF.
    line_feeds: u8,
    /// The end of the head, once the parser has confirmed it.
    confirmed: Option<usize>,
}

impl HeadScanner {
    /// Looks for the empty line that ends the head in `buf`, resuming where
    /// the previous call stopped. Returns the head length (up to and
    /// including the final LF), `None` if more bytes are needed, or
    /// [`HeadError::TooLarge`] once `limit` bytes hold no end.
    pub(crate) fn scan(&mut self, buf: &[u8], limit: usize) -> Result<Option<usize>, HeadError> {
        if let Some(end) = self.confirmed {
            if buf.len() >= end {
                return Ok(Some(end));
            }
        }
        if buf.len() < self.scanned {
            // The caller started a new buffer: start over rather than misread.
            *self = HeadScanner::default();
        }
        let end = buf.len().min(limit);
        // Jumps from line feed to line feed (memchr looks at many bytes per
        // step); the bytes between two line feeds end the empty line unless
        // they are all CR.
        while self.scanned < end {
            let rest = &buf[self.scanned..end];
            let (segment, found) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], true),
                None => (rest, false),
            };
            if segment.iter().any(|&byte| byte != b'\r') {
                self.line_feeds = 0;
            }
            self.scanned += segment.len();
            if !found {
                break;
            }
            self.scanned += 1;
            self.line_feeds += 1;
            if self.line_feeds >= 2 {
                self.line_feeds = 0;
                return Ok(Some(self.scanned));
            }
        }
        if self.scanned >= limit {
            return Err(HeadError::TooLarge { limit });
        }
        Ok(None)
    }
}

impl HeadScanner {
    /// Records that the parser found a complete head ending at `end`, so
    /// later calls with the same buffer give the same answer.
    pub(crate) fn confirm(&mut self, end: usize) {
        self.confirmed = Some(end);
    }
}

/// Maps an `httparse` failure to ws13's error.
pub(crate) fn head_error(error: httparse::Error, limits: &Limits) -> HeadError {
    let reason = match error {
        httparse::Error::TooManyHeaders => {
            return HeadError::TooManyHeaders {
                limit: limits.max_headers,
            };
        }
        httparse::Error::HeaderName => {
            "a header name contains a byte that is not allowed in a token"
        }
        httparse::Error::HeaderValue => "a header value contains a control byte",
        httparse::Error::NewLine => "a line does not end with CRLF",
        httparse::Error::Status => "the status code is not three digits",
        httparse::Error::Token => "the method or status line contains an invalid byte",
        httparse::Error::Version => "the HTTP version is not HTTP/1.0 or HTTP/1.1",
    };
    HeadError::Malformed { reason }
}

/// Copies httparse's header slice into ws13's borrowed view.
pub(crate) fn collect_headers<'b>(parsed: &[httparse::Header<'b>]) -> Vec<Header<'b>> {
    parsed
        .iter()
        .map(|h| Header {
            name: h.name,
            value: h.value,
        })
        .collect()
}

/// Header storage for one parse, sized by the limit.
pub(crate) fn header_storage<'b>(limits: &Limits) -> Vec<httparse::Header<'b>> {
    alloc::vec![httparse::EMPTY_HEADER; limits.max_headers]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end the scanner must find: the first LF that follows another LF
    /// with only CRs between them.
    fn reference_end(buf: &[u8]) -> Option<usize> {
        let mut line_feeds = 0;
        for (i, &byte) in buf.iter().enumerate() {
            match byte {
                b'\n' => {
                    line_feeds += 1;
                    if line_feeds == 2 {
                        return Some(i + 1);
                    }
                }
                b'\r' => {}
                _ => line_feeds = 0,
            }
        }
        None
    }

    #[test]
    fn scanner_agrees_with_a_byte_by_byte_reference_whole_and_trickled() {
        let cases: [&[u8]; 9] = [
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nX: a\r\r\r\n\r\r\nrest",
            b"\r\n\r\n",
            b"\n\n",
            b"GET / HTTP/1.1\r\nX: \ra\r\nY: b\r\n",
            b"GET / HTTP/1.1\r\nX: a\r\n\rb\r\n\r\n",
            b"no line feed at all",
            b"",
        ];
        for case in cases {
            let expected = reference_end(case);
            let mut whole = HeadScanner::default();
            assert_eq!(whole.scan(case, 1000), Ok(expected), "{case:?}");
            let mut trickled = HeadScanner::default();
            let mut found = None;
            for end in 1..=case.len() {
                if let Ok(Some(at)) = trickled.scan(&case[..end], 1000) {
                    found = Some(at);
                    break;
                }
            }
            assert_eq!(found, expected, "trickled {case:?}");
        }
    }

    #[test]
    fn scanner_finds_crlf_and_lf_only_ends() {
        let mut s = HeadScanner::default();
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\n\r\nxx", 100), Ok(Some(18)));
        let mut s = HeadScanner::default();
        assert_eq!(s.scan(b"GET / HTTP/1.1\n\nxx", 100), Ok(Some(16)));
    }

    #[test]
    fn scanner_resumes_without_rescanning() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut s = HeadScanner::default();
        for n in 0..head.len() {
            assert_eq!(s.scan(&head[..n], 100), Ok(None));
            assert_eq!(s.scanned, n);
        }
        assert_eq!(s.scan(head, 100), Ok(Some(head.len())));
    }

    #[test]
    fn scanner_stops_at_the_limit() {
        let mut s = HeadScanner::default();
        assert_eq!(
            s.scan(&[b'a'; 64], 32),
            Err(HeadError::TooLarge { limit: 32 })
        );
    }
}
