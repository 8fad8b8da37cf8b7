//! Incremental, fail-fast UTF-8 validation. PLACEHOLDER: being replaced.

/// The input is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a byte stream piece by piece.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub const fn new() -> Self {
        Self { pending: [0; 4], pending_len: 0 }
    }
    /// Validates the next piece; fails as soon as an invalid byte is seen.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let _ = bytes;
        Ok(())
    }
    /// Ends the stream: an incomplete trailing sequence is an error. Resets.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let ok = self.pending_len == 0;
        *self = Self::new();
        if ok { Ok(()) } else { Err(InvalidUtf8) }
    }
    /// Forgets all state.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}
