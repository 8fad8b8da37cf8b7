//! The tokio runtime of `async_echo`, shared with the benchmark's peer echo
//! servers (`benches/src/lib.rs` includes this file) so that every server in
//! the echo benchmark runs on the same runtime.

use std::io;

use tokio::runtime::{Builder, Runtime};

/// tokio's default multi-thread runtime, or one with `threads` worker
/// threads, where one thread means a current-thread runtime (no wake-ups
/// across threads). `threads` must not be `Some(0)`.
pub fn tokio_runtime(threads: Option<usize>) -> io::Result<Runtime> {
    let mut builder = match threads {
        Some(1) => Builder::new_current_thread(),
        Some(n) => {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
        None => Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}
