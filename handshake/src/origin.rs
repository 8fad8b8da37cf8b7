//! The `Origin` allow-list, the defence against cross-site WebSocket
//! hijacking.
//!
//! Browsers attach the user's cookies to a WebSocket handshake whatever page
//! opens it, and the same-origin policy does not apply to WebSockets. A
//! server that authenticates by cookie must therefore check `Origin`, or any
//! web page can act as the logged-in user.
//!
//! Origins are compared on scheme, host and port, ASCII case-insensitively,
//! with the default port made explicit (`https://Example.com` equals
//! `https://example.com:443`).
//!
//! A request **without** an `Origin` header is allowed by default: browsers
//! always send one, and non-browser clients (command-line tools, other
//! servers, IoT devices) usually do not. Call
//! [`OriginPolicy::require_origin`] to refuse such requests too.

use alloc::string::String;
use alloc::vec::Vec;

/// Which `Origin` values a server accepts.
///
/// ```
/// use ws13_handshake::origin::OriginPolicy;
///
/// let policy = OriginPolicy::allow_list(["https://app.example.com"]);
/// assert!(policy.allows(Some("https://APP.example.com:443")));
/// assert!(!policy.allows(Some("https://evil.example")));
/// assert!(policy.allows(None)); // non-browser clients send no Origin
/// assert!(!policy.require_origin().allows(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OriginPolicy {
    allowed: Allowed,
    require: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Allowed {
    #[default]
    Any,
    List(Vec<String>),
}

impl OriginPolicy {
    /// Accepts every origin. Only right for servers that do not rely on
    /// cookies or other ambient credentials.
    pub fn any() -> Self {
        OriginPolicy::default()
    }

    /// Accepts only the listed origins (`scheme://host[:port]`).
    pub fn allow_list<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        OriginPolicy {
            allowed: Allowed::List(origins.into_iter().map(Into::into).collect()),
            require: false,
        }
    }

    /// Also refuses requests that carry no `Origin` header.
    pub fn require_origin(mut self) -> Self {
        self.require = true;
        self
    }

    /// Whether a request without `Origin` is refused.
    pub fn requires_origin(&self) -> bool {
        self.require
    }

    /// Whether a request with this `Origin` value (or none) is accepted.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            None => !self.require,
            Some(origin) => match &self.allowed {
                Allowed::Any => true,
                Allowed::List(list) => list.iter().any(|allowed| same_origin(allowed, origin)),
            },
        }
    }

    /// The allowed origins, or `None` when every origin is accepted.
    pub fn allowed_origins(&self) -> Option<&[String]> {
        match &self.allowed {
            Allowed::Any => None,
            Allowed::List(list) => Some(list),
        }
    }
}

/// Whether two origins are the same: equal scheme, host and effective port,
/// ASCII case-insensitively. Values that are not `scheme://host[:port]`
/// (such as `null`) only equal themselves, ignoring case.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (Parts::parse(a), Parts::parse(b)) {
        (Some(a), Some(b)) => {
            a.scheme.eq_ignore_ascii_case(b.scheme)
                && a.host.eq_ignore_ascii_case(b.host)
                && a.port == b.port
        }
        _ => a.eq_ignore_ascii_case(b),
    }
}

struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl<'a> Parts<'a> {
    fn parse(origin: &'a str) -> Option<Self> {
        let origin = origin.strip_suffix('/').unwrap_or(origin);
        let (scheme, authority) = origin.split_once("://")?;
        if scheme.is_empty() || authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
            return None;
        }
        // An IPv6 literal keeps its colons inside brackets.
        let (host, port) = match authority.rfind(':') {
            Some(colon) if !authority[colon..].contains(']') => {
                let port = authority[colon + 1..].parse::<u16>().ok()?;
                (&authority[..colon], Some(port))
            }
            _ => (authority, None),
        };
        let port = port.or(default_port(scheme));
        Some(Parts { scheme, host, port })
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_on_scheme_host_and_port() {
        assert!(same_origin(
            "https://example.com",
            "HTTPS://EXAMPLE.COM:443"
        ));
        assert!(same_origin("http://example.com:80", "http://example.com"));
        assert!(!same_origin("http://example.com", "https://example.com"));
        assert!(!same_origin(
            "https://example.com",
            "https://example.com:8443"
        ));
        assert!(!same_origin(
            "https://example.com",
            "https://example.com.evil.net"
        ));
        assert!(same_origin("http://[::1]:8080", "http://[::1]:8080"));
        assert!(!same_origin("http://[::1]", "http://[::1]:8080"));
        assert!(same_origin("null", "NULL"));
        assert!(!same_origin("null", "https://example.com"));
    }

    #[test]
    fn any_policy_accepts_everything_unless_origin_is_required() {
        assert!(OriginPolicy::any().allows(Some("https://anything.example")));
        assert!(OriginPolicy::any().allows(None));
        assert!(!OriginPolicy::any().require_origin().allows(None));
    }
}
