//! Copying payload bytes without `memcpy`'s 4 KiB-aliasing slow path.
//!
//! On AMD Zen CPUs, glibc's `memcpy` copies large blocks (above about 2 KiB)
//! with `rep movsb`, which slows down some 30-fold when the destination lies
//! just past the source modulo 4 KiB: measured on this project's machine
//! (AMD EPYC, Zen 4, glibc 2.36), a 16 KiB copy runs at 3.5 GB/s when the
//! destination is 1–15 bytes past the source modulo 4096, at 41–52 GB/s when
//! it is 16–31 bytes past, and at 80–100 GB/s otherwise. Reassembling a
//! fragmented message hits this all the time: a fragment's payload sits a
//! few header bytes into the read buffer, and the message buffer's end has
//! whatever alignment the previous fragments left it.
//!
//! Copied in pieces of at most 2 KiB, which `memcpy` does with vector
//! registers instead of `rep movsb`, the same copies run at 54–65 GB/s. The
//! functions here split a copy into such pieces only when the two addresses
//! fall in the slow window, so every other copy stays a single `memcpy`.

use core::slice::Chunks;

/// Copies whose destination is less than this many bytes past the source,
/// modulo [`PAGE`], are done in pieces.
const NEAR_AHEAD: usize = 32;

/// The aliasing period: addresses that agree in their low 12 bits look alike
/// to the CPU's store-to-load forwarding check.
const PAGE: usize = 4096;

/// The largest piece copied at once in the slow window: below glibc's
/// `rep movsb` threshold on these CPUs (2112 bytes).
const PIECE: usize = 2048;

/// Splits `src` into the pieces in which to copy it, one after the other, to
/// the memory starting at address `dst`: all of `src` in one piece, or in
/// pieces of at most 2 KiB when `dst` is in the slow window (see the module
/// docs). `dst` is only compared, never read or written.
///
/// Use it to append to a growable buffer after reserving room, so that the
/// pieces land where `dst` says:
///
/// ```
/// use ws13_codec::copy::copy_pieces;
///
/// let payload = vec![7u8; 10_000];
/// let mut message: Vec<u8> = Vec::new();
/// message.reserve(payload.len());
/// let end = message.as_ptr().wrapping_add(message.len());
/// for piece in copy_pieces(&payload, end) {
///     message.extend_from_slice(piece);
/// }
/// assert_eq!(message, payload);
/// ```
pub fn copy_pieces(src: &[u8], dst: *const u8) -> Chunks<'_, u8> {
    let ahead = dst.addr().wrapping_sub(src.as_ptr().addr()) % PAGE;
    let piece = if ahead < NEAR_AHEAD {
        PIECE
    } else {
        src.len().max(1)
    };
    src.chunks(piece)
}

/// Copies `src` into `dst`, like [`slice::copy_from_slice`], in pieces when
/// the addresses fall in `memcpy`'s slow window (see the module docs).
///
/// # Panics
///
/// If the two slices differ in length, as `copy_from_slice` does.
///
/// ```
/// let src = [1u8; 5000];
/// let mut dst = [0u8; 5000];
/// ws13_codec::copy::copy_payload(&mut dst, &src);
/// assert_eq!(dst, src);
/// ```
pub fn copy_payload(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_payload: lengths differ");
    let mut at = 0;
    for piece in copy_pieces(src, dst.as_ptr()) {
        dst[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
}

/// Appends `src` to `vec`, in pieces when the addresses fall in `memcpy`'s
/// slow window (see the module docs).
///
/// ```
/// let mut message = b"first fragment, ".to_vec();
/// ws13_codec::copy::extend_payload(&mut message, b"second fragment");
/// assert_eq!(message, b"first fragment, second fragment");
/// ```
#[cfg(feature = "alloc")]
pub fn extend_payload(vec: &mut alloc::vec::Vec<u8>, src: &[u8]) {
    vec.reserve(src.len());
    let end = vec.as_ptr().wrapping_add(vec.len());
    for piece in copy_pieces(src, end) {
        vec.extend_from_slice(piece);
    }
}
