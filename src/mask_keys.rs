//! Masking keys and handshake nonces from the operating system's RNG.

use ws13_codec::MaskKeySource;

/// Masking keys from the OS random source (`getrandom`), fetched 64 keys per
/// system call so that masking costs no syscall per frame.
#[derive(Debug)]
pub struct OsMaskKeys {
    pool: [u8; 256],
    used: usize,
}

impl OsMaskKeys {
    /// A new source; the first key triggers the first refill.
    pub fn new() -> Self {
        OsMaskKeys {
            pool: [0; 256],
            used: 256,
        }
    }
}

impl Default for OsMaskKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl MaskKeySource for OsMaskKeys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        if self.used == self.pool.len() {
            fill_random(&mut self.pool);
            self.used = 0;
        }
        let key = [
            self.pool[self.used],
            self.pool[self.used + 1],
            self.pool[self.used + 2],
            self.pool[self.used + 3],
        ];
        self.used += 4;
        key
    }
}

/// Fills `buf` from the OS RNG. An OS without a working RNG cannot make
/// unpredictable masks or keys, so this is the one place that gives up.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A fresh 16-byte `Sec-WebSocket-Key` nonce.
pub(crate) fn handshake_nonce() -> [u8; 16] {
    let mut nonce = [0u8; 16];
    fill_random(&mut nonce);
    nonce
}
