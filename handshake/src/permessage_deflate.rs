//! permessage-deflate negotiation (RFC 7692 §7.1), both roles.
//!
//! The four parameters:
//!
//! | parameter | in an offer (client → server) | in a response (server → client) |
//! |---|---|---|
//! | `server_no_context_takeover` | asks the server to reset its compressor per message | the server will |
//! | `client_no_context_takeover` | the client will reset its compressor per message | asks the client to |
//! | `server_max_window_bits=N` | limits the server's window to 2^N | the server's window is at most 2^N |
//! | `client_max_window_bits[=N]` | the client can limit its window (to N) | the client must use at most 2^N |
//!
//! A parameter given twice, an unknown parameter, or a value that is not an
//! integer 8–15 makes the whole offer invalid: a server declines that offer
//! and considers the next one; a client fails the connection.

use alloc::format;
use alloc::string::String;

use crate::extensions::Extension;

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What both ends agreed to, as each compressor and decompressor must apply
/// it: the protocol core's type, so the agreement goes to the compressor
/// as it is.
pub use ws13_codec::config::DeflateParams;

/// Why a permessage-deflate offer or response is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateParamError {
    /// A parameter RFC 7692 does not define.
    #[error(
        "permessage-deflate has no parameter {0:?} (RFC 7692 defines server_no_context_takeover, client_no_context_takeover, server_max_window_bits and client_max_window_bits)"
    )]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("permessage-deflate parameter {0} is given twice")]
    Duplicate(String),
    /// A value where none is allowed, a missing value, or a value outside 8–15.
    #[error(
        "permessage-deflate parameter {name} has an invalid value {value:?}: it must be {expected}"
    )]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value given, if any.
        value: Option<String>,
        /// What the RFC allows.
        expected: &'static str,
    },
    /// The server ignored a parameter the client requires.
    #[error(
        "the client offered {0} but the server's response does not include it; RFC 7692 requires failing the connection"
    )]
    MissingInResponse(&'static str),
    /// The server chose a larger window than the client allowed.
    #[error(
        "the server's server_max_window_bits={chosen} exceeds the {offered} the client offered"
    )]
    WindowTooLarge {
        /// What the server answered.
        chosen: u8,
        /// What the client offered.
        offered: u8,
    },
}

/// The parameters of one offer or response, syntax-checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed only in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(name: &str, value: Option<&str>) -> Result<u8, DeflateParamError> {
    value
        .filter(|v| !v.starts_with('0') && v.len() <= 2)
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|bits| (8..=15).contains(bits))
        .ok_or_else(|| DeflateParamError::InvalidValue {
            name: String::from(name),
            value: value.map(String::from),
            expected: "an integer from 8 to 15",
        })
}

fn parse(extension: &Extension<'_>, is_offer: bool) -> Result<Parsed, DeflateParamError> {
    let mut parsed = Parsed::default();
    let mut seen = [false; 4];
    for param in &extension.params {
        let name = param.name.to_ascii_lowercase();
        let value = param.value.as_deref();
        let index = match name.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => {
                return Err(DeflateParamError::UnknownParameter(String::from(
                    param.name,
                )));
            }
        };
        if core::mem::replace(&mut seen[index], true) {
            return Err(DeflateParamError::Duplicate(name));
        }
        match index {
            0 | 1 => {
                if let Some(value) = value {
                    return Err(DeflateParamError::InvalidValue {
                        name,
                        value: Some(String::from(value)),
                        expected: "absent (the parameter takes no value)",
                    });
                }
                if index == 0 {
                    parsed.server_no_context_takeover = true;
                } else {
                    parsed.client_no_context_takeover = true;
                }
            }
            2 => parsed.server_max_window_bits = Some(window_bits(&name, value)?),
            _ => {
                parsed.client_max_window_bits = Some(match value {
                    None if is_offer => None,
                    value => Some(window_bits(&name, value)?),
                });
            }
        }
    }
    Ok(parsed)
}

/// What a server is willing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateServerPolicy {
    /// The largest window the server compresses with (8–15; 15 = 32 KiB).
    pub server_max_window_bits: u8,
    /// Reset the server's compressor after every message (less memory per
    /// connection, worse ratio).
    pub server_no_context_takeover: bool,
    /// Ask clients to reset their compressors after every message (lets the
    /// server drop its decompressor state between messages).
    pub client_no_context_takeover: bool,
    /// Ask clients that allow it to compress with at most 2^N windows.
    pub client_max_window_bits: u8,
}

impl Default for DeflateServerPolicy {
    /// Accept any valid offer as it is, with 32 KiB windows and context takeover.
    fn default() -> Self {
        DeflateServerPolicy {
            server_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            client_max_window_bits: 15,
        }
    }
}

impl DeflateServerPolicy {
    /// Sets [`DeflateServerPolicy::server_no_context_takeover`]: with `true`
    /// the server answers every offer with `server_no_context_takeover`
    /// (RFC 7692 §7.1.1.1 lets a server add it on its own) and compresses
    /// each message afresh. That costs some ratio on messages that repeat
    /// the previous ones, and lets a message sent to many connections be
    /// compressed once for all of them (`ws13::PreparedMessage`).
    ///
    /// ```
    /// use ws13_handshake::extensions::parse_extensions;
    /// use ws13_handshake::permessage_deflate::{negotiate, DeflateServerPolicy};
    ///
    /// let offers = parse_extensions("permessage-deflate").unwrap();
    /// let policy = DeflateServerPolicy::default().server_no_context_takeover(true);
    /// let (params, answer) = negotiate(&offers, &policy).unwrap();
    /// assert!(params.server_no_context_takeover);
    /// assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
    /// ```
    #[must_use]
    pub const fn server_no_context_takeover(mut self, reset: bool) -> Self {
        self.server_no_context_takeover = reset;
        self
    }

    /// Sets [`DeflateServerPolicy::client_no_context_takeover`]: ask clients
    /// to reset their compressors after every message.
    #[must_use]
    pub const fn client_no_context_takeover(mut self, reset: bool) -> Self {
        self.client_no_context_takeover = reset;
        self
    }

    /// Sets [`DeflateServerPolicy::server_max_window_bits`] (8–15).
    #[must_use]
    pub const fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits;
        self
    }

    /// Sets [`DeflateServerPolicy::client_max_window_bits`] (8–15).
    #[must_use]
    pub const fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = bits;
        self
    }
}

/// Server side: picks the first acceptable permessage-deflate offer among
/// `offers` (in the client's order of preference) and returns the agreed
/// parameters with the `Sec-WebSocket-Extensions` value to answer with.
/// Malformed offers are declined; `None` when no offer is acceptable.
///
/// ```
/// use ws13_handshake::extensions::parse_extensions;
/// use ws13_handshake::permessage_deflate::{negotiate, DeflateServerPolicy};
///
/// let offers = parse_extensions(
///     "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits",
/// ).unwrap();
/// let (params, answer) = negotiate(&offers, &DeflateServerPolicy::default()).unwrap();
/// assert_eq!(answer, "permessage-deflate"); // the first offer was malformed (16)
/// assert_eq!(params.client_max_window_bits, 15);
/// ```
pub fn negotiate(
    offers: &[Extension<'_>],
    policy: &DeflateServerPolicy,
) -> Option<(DeflateParams, String)> {
    offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| {
            let offer = parse(offer, true).ok()?;
            let server_bits = offer
                .server_max_window_bits
                .unwrap_or(15)
                .min(policy.server_max_window_bits.clamp(8, 15));
            // The client's window can only be limited if it said it can be.
            let client_bits = match offer.client_max_window_bits {
                Some(limit) => limit
                    .unwrap_or(15)
                    .min(policy.client_max_window_bits.clamp(8, 15)),
                None => 15,
            };
            let params = DeflateParams {
                server_no_context_takeover: offer.server_no_context_takeover
                    || policy.server_no_context_takeover,
                client_no_context_takeover: offer.client_no_context_takeover
                    || policy.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            };
            let mut answer = String::from(PERMESSAGE_DEFLATE);
            if params.server_no_context_takeover {
                answer.push_str("; server_no_context_takeover");
            }
            if params.client_no_context_takeover {
                answer.push_str("; client_no_context_takeover");
            }
            if offer.server_max_window_bits.is_some() || server_bits < 15 {
                answer.push_str(&format!("; server_max_window_bits={server_bits}"));
            }
            if offer.client_max_window_bits.is_some() && client_bits < 15 {
                answer.push_str(&format!("; client_max_window_bits={client_bits}"));
            }
            Some((params, answer))
        })
}

/// What a client offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateClientPolicy {
    /// Ask the server to reset its compressor per message.
    pub server_no_context_takeover: bool,
    /// Reset our compressor per message.
    pub client_no_context_takeover: bool,
    /// Ask the server to use at most 2^N windows (8–15).
    pub server_max_window_bits: Option<u8>,
}

impl DeflateClientPolicy {
    /// The offer, in `Sec-WebSocket-Extensions` syntax. It always includes a
    /// bare `client_max_window_bits`, letting the server limit our window.
    pub fn offer(&self) -> String {
        let mut offer = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            offer.push_str(&format!("; server_max_window_bits={}", bits.clamp(8, 15)));
        }
        offer.push_str("; client_max_window_bits");
        offer
    }

    /// Client side: validates the server's permessage-deflate response to
    /// [`DeflateClientPolicy::offer`] and returns the agreed parameters.
    pub fn accept(&self, response: &Extension<'_>) -> Result<DeflateParams, DeflateParamError> {
        let answer = parse(response, false)?;
        if self.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err(DeflateParamError::MissingInResponse(
                "server_no_context_takeover",
            ));
        }
        let server_bits = match (self.server_max_window_bits, answer.server_max_window_bits) {
            (Some(offered), Some(chosen)) if chosen > offered.clamp(8, 15) => {
                return Err(DeflateParamError::WindowTooLarge { chosen, offered });
            }
            (Some(_), None) => {
                return Err(DeflateParamError::MissingInResponse(
                    "server_max_window_bits",
                ));
            }
            (_, chosen) => chosen.unwrap_or(15),
        };
        let client_bits = answer.client_max_window_bits.flatten().unwrap_or(15);
        Ok(DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}
