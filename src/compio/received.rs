//! The one `unsafe` call of the io_uring driver: after a receive completes,
//! the buffer's length is extended over the bytes the kernel wrote. compio
//! leaves this to the caller of a raw [`Recv`] operation, which the driver
//! keeps with the connection (so that a dropped future never loses a
//! completed receive).

use compio::BufResult;
use compio::buf::IntoInner;
use compio::driver::op::{BufResultExt, Recv};

/// The outcome of a completed receive into a `Vec<u8>` that was empty when
/// it was submitted: `Ok(n)` with the buffer's length `n`, or the error with
/// the buffer empty.
pub(super) fn received<S>(
    completed: BufResult<usize, Recv<Vec<u8>, S>>,
) -> BufResult<usize, Vec<u8>> {
    let completed = completed.into_inner();
    // SAFETY: `completed` is the result of a finished receive operation whose
    // buffer it carries. On `Ok(n)` the kernel wrote `n` bytes into that
    // buffer's spare capacity from its start (its length was 0, see the
    // caller), and `n` is at most that capacity, which is what
    // `map_advanced` requires to set the length to `n`; on `Err` it changes
    // nothing.
    unsafe { completed.map_advanced() }
}
