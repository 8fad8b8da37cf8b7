//! Which end of the connection we are, and where a client's masking keys come from.

/// The endpoint's role. It decides masking: a client masks every frame it sends
/// and a server requires that; a server never masks and a client requires that
/// (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that accepted the connection.
    Server,
    /// The endpoint that opened the connection.
    Client,
}

/// A source of masking keys for the client role.
///
/// RFC 6455 §10.3: keys must be unpredictable to the application that supplies
/// the payload, so use a strong random source (the `ws13` crate offers one under
/// `std`). `no_std` users plug in their platform's RNG.
///
/// ```
/// use ws13_codec::MaskKeySource;
///
/// struct HardwareRng;
/// impl MaskKeySource for HardwareRng {
///     fn next_mask_key(&mut self) -> [u8; 4] {
///         [0x37, 0xfa, 0x21, 0x3d] // a real implementation asks the RNG
///     }
/// }
/// ```
pub trait MaskKeySource {
    /// The masking key for the next frame.
    fn next_mask_key(&mut self) -> [u8; 4];
}

impl<T: MaskKeySource + ?Sized> MaskKeySource for &mut T {
    fn next_mask_key(&mut self) -> [u8; 4] {
        (**self).next_mask_key()
    }
}

/// The key source of a server connection, which never masks. It cannot be
/// constructed outside this crate, so a client can never be built with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMasking(());

impl NoMasking {
    pub(crate) const fn new() -> Self {
        NoMasking(())
    }
}

impl MaskKeySource for NoMasking {
    fn next_mask_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}
