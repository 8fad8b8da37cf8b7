//! In-place WebSocket payload masking (RFC 6455 §5.3).
//!
//! Every byte `i` of a masked frame payload is XORed with byte `i % 4` of the
//! frame's 4-byte masking key. Masking is its own inverse: applying it twice
//! restores the payload.
//!
//! [`apply_mask`] is the function to call. It picks the fastest path for the
//! machine it runs on:
//!
//! - everywhere: a word-wide loop in safe code ([`apply_mask_portable`]); on
//!   `x86_64` the compiler turns it into SSE2 (always present there), elsewhere
//!   into 64- or 32-bit word operations;
//! - on `x86_64` with the `std` feature: the same loop compiled for AVX2, used
//!   when the CPU has AVX2 (detected at run time; `std` caches the answer, so a
//!   call pays one relaxed atomic load) and the payload is at least
//!   [`AVX2_MIN_LEN`] bytes long.
//!
//! [`apply_mask_bytewise`] is the obvious byte-at-a-time loop: the reference
//! that tests and benchmarks compare every fast path against.
//!
//! Measured on an AMD EPYC (Zen 4, 2.6 GHz, 2 cores) at 64 KiB, unaligned:
//! byte-wise 2.9 GB/s, portable (SSE2) 58 GB/s, AVX2 80–116 GB/s.

/// Masks `payload` byte by byte: the reference implementation.
///
/// Same contract as [`apply_mask`]; slow but obviously correct. Tests check
/// every fast path against it, and benchmarks use it as the baseline.
pub fn apply_mask_bytewise(payload: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in payload.iter_mut().enumerate() {
        // Only the low two bits matter, so wrapping is harmless.
        *b ^= key[offset.wrapping_add(i) & 3];
    }
}

/// XORs `payload` in place with the 4-byte masking `key`, where `payload[0]` is
/// byte number `offset` of the frame payload (so masking can resume mid-payload).
///
/// Masking a payload in pieces, passing each piece's position in the payload as
/// `offset`, gives the same bytes as masking it whole. Applying the same mask
/// twice restores the input. Does not allocate.
///
/// # Example
///
/// RFC 6455 §5.7: the payload of a masked text frame carrying "Hello".
///
/// ```
/// use ws13_codec::mask::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// apply_mask(&mut payload, key, 0);
/// assert_eq!(&payload, b"Hello");
///
/// // The same, resuming after the first two bytes:
/// let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let (a, b) = payload.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(payload: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if payload.len() >= AVX2_MIN_LEN && std::is_x86_feature_detected!("avx2") {
        // SAFETY: `avx2::apply_mask` requires only that the CPU supports AVX2,
        // which was just checked at run time.
        unsafe { avx2::apply_mask(payload, key, offset) };
        return;
    }
    apply_mask_portable(payload, key, offset);
}

/// Payloads at least this long take the AVX2 path of [`apply_mask`] (on
/// `x86_64`, with the `std` feature, on CPUs with AVX2); shorter ones are done
/// by the portable loop before AVX2 could pay off.
pub const AVX2_MIN_LEN: usize = 256;

/// The word-wide path of [`apply_mask`], in safe code, for every target.
///
/// Same contract as [`apply_mask`]. [`apply_mask`] uses it when no faster path
/// is available; it is public so that tests and benchmarks can check and
/// measure it on machines where [`apply_mask`] takes another path.
pub fn apply_mask_portable(payload: &mut [u8], key: [u8; 4], offset: usize) {
    mask_wide::<PORTABLE_CHUNK>(payload, key, offset);
}

/// Bytes per iteration of the portable main loop: four SSE2 registers on
/// `x86_64`.
const PORTABLE_CHUNK: usize = 64;

/// Bytes per iteration of the AVX2 main loop: four AVX2 registers.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const AVX2_CHUNK: usize = 128;

/// The main loop starts at an address that is a multiple of this, so that no
/// vector load or store (up to 32 bytes) straddles two cache lines.
const ALIGN: usize = 32;

/// The word-wide loop, monomorphised for a chunk size and inlined into each
/// caller so that it is compiled with the caller's target features.
///
/// `CHUNK` must be a multiple of 8.
#[inline(always)]
fn mask_wide<const CHUNK: usize>(payload: &mut [u8], key: [u8; 4], offset: usize) {
    if payload.len() < CHUNK + ALIGN {
        // Too short for the main loop to pay for the alignment head.
        mask_short(payload, key, offset);
        return;
    }
    // The bytes up to the next `ALIGN`-aligned address.
    let head_len = payload.as_ptr().addr().wrapping_neg() & (ALIGN - 1);
    let (head, body) = payload.split_at_mut(head_len);
    mask_short(head, key, offset);
    let offset = offset.wrapping_add(head_len);
    let word = key_word(key, offset);

    let mut chunks = body.chunks_exact_mut(CHUNK);
    for chunk in &mut chunks {
        // A fixed-size array lets the compiler unroll and vectorise the loop.
        let chunk: &mut [u8; CHUNK] = chunk.try_into().expect("chunks are CHUNK long");
        xor_words(chunk, word);
    }
    // `CHUNK` is a multiple of 4, so the remainder starts at the same key
    // rotation as `body`.
    mask_short(chunks.into_remainder(), key, offset);
}

/// Masks a short slice (a head or a tail): 8-byte words, then single bytes.
#[inline(always)]
fn mask_short(payload: &mut [u8], key: [u8; 4], offset: usize) {
    let mut words = payload.chunks_exact_mut(8);
    for w in &mut words {
        xor_words(w, key_word(key, offset));
    }
    // Whole words keep the key rotation, so the rest resumes at `offset`.
    apply_mask_bytewise(words.into_remainder(), key, offset);
}

/// XORs every 8-byte word of `bytes` (whose length is a multiple of 8) with
/// `word`.
#[inline(always)]
fn xor_words(bytes: &mut [u8], word: u64) {
    for w in bytes.chunks_exact_mut(8) {
        let v = u64::from_ne_bytes(w.try_into().expect("8-byte chunk")) ^ word;
        w.copy_from_slice(&v.to_ne_bytes());
    }
}

/// The key as a native-endian 8-byte word whose first byte in memory is the
/// key byte for payload position `offset`.
#[inline(always)]
fn key_word(key: [u8; 4], offset: usize) -> u64 {
    // Rotate so that the key byte for `offset` comes first in memory.
    let shift = 8 * (offset & 3) as u32;
    let k = u32::from_ne_bytes(key);
    let k = if cfg!(target_endian = "little") {
        k.rotate_right(shift)
    } else {
        k.rotate_left(shift)
    };
    (u64::from(k) << 32) | u64::from(k)
}

/// The AVX2 path: the portable loop compiled with AVX2 enabled.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2 {
    /// [`super::apply_mask`] for CPUs with AVX2.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn apply_mask(payload: &mut [u8], key: [u8; 4], offset: usize) {
        super::mask_wide::<{ super::AVX2_CHUNK }>(payload, key, offset);
    }
}
