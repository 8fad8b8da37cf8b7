//! Whole-message compression through libdeflate (feature `libdeflate`), for
//! compressors that start every message afresh (no context takeover).
//!
//! zlib keeps a stream: resetting it between messages clears its hash table
//! (128 KiB in zlib-rs), which dominates the cost of a small message.
//! libdeflate compresses one buffer at a time and keeps no state between
//! calls, so one compressor per thread and level serves every connection on
//! that thread, and a connection holds no compressor memory of its own.
//!
//! libdeflate ends its output with a block whose BFINAL bit is set. RFC 7692
//! §7.2.3.4 allows that; the sender then appends the header byte of an empty
//! stored block (`0x00`), which the receiver's appended `00 00 FF FF`
//! completes, so the payload still ends where a sync flush would.
//!
//! libdeflate always compresses with a 32 KiB window. A message no longer
//! than the peer's window cannot contain a match farther back than the
//! window, so [`max_len`] tells which messages this path may take when a
//! smaller window was negotiated.

use alloc::vec::Vec;
use core::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor};

/// The empty stored block header that follows libdeflate's final block.
const EMPTY_STORED_BLOCK_HEADER: u8 = 0x00;

std::thread_local! {
    /// One compressor per zlib level 0–9, created on first use.
    static COMPRESSORS: RefCell<[Option<Compressor>; 10]> =
        const { RefCell::new([const { None }; 10]) };
}

/// The longest message this path may compress for a compressor whose window
/// is `window_bits` (9–15; 9 also stands for a negotiated 8, whose window is
/// 256 bytes): any length with the full 32 KiB window, else half the window,
/// which stays within the 256 bytes of a negotiated 8.
pub(crate) const fn max_len(window_bits: u8) -> usize {
    if window_bits >= 15 {
        usize::MAX
    } else {
        1 << (window_bits.saturating_sub(1))
    }
}

/// Compresses `message` at zlib `level` (0–9) and appends the payload to
/// send to `out`. Returns false, with `out` unchanged, when it could not (the
/// thread is exiting): the caller then compresses with zlib.
pub(crate) fn deflate(level: u8, message: &[u8], out: &mut Vec<u8>) -> bool {
    let level = level.min(9);
    COMPRESSORS
        .try_with(|cell| {
            let Ok(mut compressors) = cell.try_borrow_mut() else {
                return false;
            };
            let slot = &mut compressors[usize::from(level)];
            let compressor = match slot {
                Some(compressor) => compressor,
                None => match CompressionLvl::new(i32::from(level)) {
                    Ok(lvl) => slot.insert(Compressor::new(lvl)),
                    Err(_) => return false,
                },
            };
            let bound = compressor.deflate_compress_bound(message.len());
            let start = out.len();
            out.resize(start + bound + 1, 0);
            match compressor.deflate_compress(message, &mut out[start..start + bound]) {
                Ok(written) => {
                    out.truncate(start + written);
                    out.push(EMPTY_STORED_BLOCK_HEADER);
                    true
                }
                Err(_) => {
                    out.truncate(start);
                    false
                }
            }
        })
        .unwrap_or(false)
}
