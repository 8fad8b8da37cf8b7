//! `Sec-WebSocket-Protocol`: parsing the client's offer and choosing one.
//!
//! Subprotocol names are tokens and are compared exactly (case-sensitively),
//! as browsers do when they check the server's choice against their offer.

use alloc::vec::Vec;

use crate::headers::{is_token, list_elements};

/// Whose order decides when the client offers several subprotocols the
/// server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubprotocolPreference {
    /// The first subprotocol in the client's offer that the server supports
    /// wins. This is the default, and what RFC 6455 suggests: the client
    /// lists its offers in order of preference.
    #[default]
    ClientOrder,
    /// The first subprotocol in the server's own list that the client offered
    /// wins, for a server that prefers newer versions of its protocol.
    ServerOrder,
}

/// Chooses a subprotocol, or `None` if client and server share none (the
/// server then answers without `Sec-WebSocket-Protocol`, and a client that
/// insists on one closes the connection).
///
/// ```
/// use ws13_handshake::subprotocol::{choose, SubprotocolPreference};
///
/// let offered = ["v1.chat", "v2.chat"];
/// let supported = ["v2.chat", "v1.chat"];
/// assert_eq!(choose(&offered, &supported, SubprotocolPreference::ClientOrder), Some("v1.chat"));
/// assert_eq!(choose(&offered, &supported, SubprotocolPreference::ServerOrder), Some("v2.chat"));
/// assert_eq!(choose(&offered, &["mqtt"], SubprotocolPreference::ClientOrder), None);
/// ```
pub fn choose<'o>(
    offered: &[&'o str],
    supported: &[&str],
    preference: SubprotocolPreference,
) -> Option<&'o str> {
    match preference {
        SubprotocolPreference::ClientOrder => offered
            .iter()
            .copied()
            .find(|offer| supported.contains(offer)),
        SubprotocolPreference::ServerOrder => supported
            .iter()
            .find_map(|wanted| offered.iter().copied().find(|offer| offer == wanted)),
    }
}

/// Parses `Sec-WebSocket-Protocol` lines into the offered names, in order.
/// Returns the first line that is empty or holds a non-token element as the
/// error.
pub(crate) fn parse_offer<'a>(lines: &[&'a str]) -> Result<Vec<&'a str>, &'a str> {
    let mut out = Vec::new();
    for &line in lines {
        let before = out.len();
        for element in list_elements(line) {
            if !is_token(element) {
                return Err(line);
            }
            out.push(element);
        }
        if out.len() == before {
            return Err(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_split_across_lines_keep_their_order() {
        assert_eq!(parse_offer(&["a, b", "c"]), Ok(alloc::vec!["a", "b", "c"]));
    }

    #[test]
    fn empty_or_non_token_offers_are_rejected() {
        assert_eq!(parse_offer(&[""]), Err(""));
        assert_eq!(parse_offer(&["a b"]), Err("a b"));
        assert_eq!(parse_offer(&["a", "x/y"]), Err("x/y"));
    }

    #[test]
    fn subprotocols_compare_case_sensitively() {
        assert_eq!(
            choose(&["Chat"], &["chat"], SubprotocolPreference::ClientOrder),
            None
        );
    }
}
