//! The proxy the environment names, as curl chooses it.

use std::net::IpAddr;

use super::{ProxyError, ProxyUrl, host_ip};

/// The proxy the environment names for a server at `host`, reached over
/// `wss://` (`secure`) or `ws://`, with `lookup` reading a variable (pass
/// `|name| std::env::var(name).ok()`; tests pass a table).
///
/// As curl: `https_proxy` then `HTTPS_PROXY` for `wss://`, `http_proxy`
/// then `HTTP_PROXY` for `ws://`, then `all_proxy`, `ALL_PROXY`; the
/// lowercase name wins, an empty value counts as unset. `no_proxy` (or
/// `NO_PROXY`) lists hosts reached directly ([`no_proxy_matches`]).
///
/// ```
/// use ws13::proxy::proxy_from_env;
///
/// let env = |name: &str| match name {
///     "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_owned()),
///     "NO_PROXY" => Some("localhost,.internal".to_owned()),
///     _ => None,
/// };
/// let proxy = proxy_from_env(true, "chat.example", env).unwrap().unwrap();
/// assert_eq!(proxy.authority(), "proxy.corp:3128");
/// assert_eq!(proxy_from_env(true, "db.internal", env).unwrap(), None);
/// assert_eq!(proxy_from_env(false, "chat.example", env).unwrap(), None); // ws:// reads HTTP_PROXY
/// ```
pub fn proxy_from_env(
    secure: bool,
    host: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, ProxyError> {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
    };
    let scheme_names: &[&str] = if secure {
        &["https_proxy", "HTTPS_PROXY"]
    } else {
        &["http_proxy", "HTTP_PROXY"]
    };
    let Some(proxy) = first(scheme_names).or_else(|| first(&["all_proxy", "ALL_PROXY"])) else {
        return Ok(None);
    };
    if let Some(no_proxy) = first(&["no_proxy", "NO_PROXY"]) {
        if no_proxy_matches(&no_proxy, host) {
            return Ok(None);
        }
    }
    ProxyUrl::parse(&proxy).map(Some)
}

/// Whether a `NO_PROXY` list names `host`, with curl's rules: entries are
/// separated by commas (and spaces); `*` alone matches every host; a name
/// matches itself and its subdomains (`example.com` and `.example.com` both
/// match `example.com` and `a.example.com`, not `badexample.com`), without
/// regard to case or a trailing dot; an IP address matches itself, and a
/// CIDR block (`10.0.0.0/8`, `fd00::/8`) the addresses in it.
///
/// ```
/// use ws13::proxy::no_proxy_matches;
///
/// assert!(no_proxy_matches("localhost, .corp.example", "build.CORP.example"));
/// assert!(!no_proxy_matches("corp.example", "notcorp.example"));
/// assert!(no_proxy_matches("127.0.0.0/8,::1", "127.1.2.3"));
/// assert!(no_proxy_matches("*", "anything"));
/// ```
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    let ip = host_ip(host);
    no_proxy
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_block(ip, net, bits),
                    _ => false,
                };
            }
            if let (Some(ip), Some(entry_ip)) = (ip, host_ip(entry)) {
                return ip == entry_ip;
            }
            let entry = entry.trim_start_matches('.').trim_end_matches('.');
            if entry.is_empty() || host.len() < entry.len() {
                return false;
            }
            let (rest, tail) = host.split_at(host.len() - entry.len());
            tail.eq_ignore_ascii_case(entry) && (rest.is_empty() || rest.ends_with('.'))
        })
}

/// `ip` is in `net/bits` (both of one family).
fn in_block(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn chosen(secure: bool, host: &str, pairs: &[(&str, &str)]) -> Option<String> {
        proxy_from_env(secure, host, table(pairs))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn scheme_variables_and_all_proxy() {
        let env = [
            ("HTTPS_PROXY", "http://s:1"),
            ("http_proxy", "http://p:2"),
            ("ALL_PROXY", "socks5h://a:3"),
        ];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("http://s:1"));
        assert_eq!(chosen(false, "h", &env).as_deref(), Some("http://p:2"));
        let env = [("ALL_PROXY", "socks5h://a:3")];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("socks5h://a:3"));
        assert_eq!(chosen(false, "h", &env).as_deref(), Some("socks5h://a:3"));
        assert_eq!(chosen(true, "h", &[]), None);
    }

    #[test]
    fn lowercase_wins_and_empty_is_unset() {
        let env = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("http://lower:1"));
        let env = [("https_proxy", ""), ("HTTPS_PROXY", "http://upper:2")];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("http://upper:2"));
        let env = [
            ("all_proxy", "http://lower:1"),
            ("ALL_PROXY", "http://upper:2"),
        ];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("http://lower:1"));
        let env = [
            ("HTTPS_PROXY", "http://p:1"),
            ("no_proxy", "other"),
            ("NO_PROXY", "h"),
        ];
        assert_eq!(chosen(true, "h", &env).as_deref(), Some("http://p:1"));
    }

    #[test]
    fn no_proxy_bypasses() {
        let env = [
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", "example.com, 10.0.0.0/8"),
        ];
        assert_eq!(chosen(true, "example.com", &env), None);
        assert_eq!(chosen(true, "ws.example.com", &env), None);
        assert_eq!(chosen(true, "10.1.2.3", &env), None);
        assert!(chosen(true, "example.org", &env).is_some());
        assert!(chosen(true, "11.1.2.3", &env).is_some());
    }

    #[test]
    fn no_proxy_entries() {
        assert!(no_proxy_matches("*", "x"));
        assert!(!no_proxy_matches("*.example.com", "a.example.com")); // curl: no globs
        assert!(no_proxy_matches(".example.com", "example.com"));
        assert!(no_proxy_matches("EXAMPLE.com.", "a.example.COM."));
        assert!(!no_proxy_matches("example.com", "badexample.com"));
        assert!(!no_proxy_matches("a.example.com", "example.com"));
        assert!(no_proxy_matches("::1", "::1"));
        assert!(no_proxy_matches("[::1]", "::1"));
        assert!(no_proxy_matches("fd00::/8", "fd12::1"));
        assert!(!no_proxy_matches("fd00::/8", "fe80::1"));
        assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8"));
        assert!(!no_proxy_matches("10.0.0.0/8", "example.com"));
        assert!(!no_proxy_matches("10.0.0.0/40", "10.0.0.1"));
        assert!(!no_proxy_matches("127.0.0.1", "127.0.0.2"));
        assert!(!no_proxy_matches(", ,", "x"));
    }

    #[test]
    fn a_bad_proxy_url_is_an_error() {
        let env = [("HTTPS_PROXY", "gopher://p")];
        assert!(proxy_from_env(true, "h", table(&env)).is_err());
        // Unless the host is bypassed.
        let env = [("HTTPS_PROXY", "gopher://p"), ("NO_PROXY", "h")];
        assert_eq!(proxy_from_env(true, "h", table(&env)).unwrap(), None);
    }
}
