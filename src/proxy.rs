//! Reaching the server through a proxy, sans I/O: HTTP `CONNECT` and SOCKS5
//! as state machines (bytes out, bytes in), the proxy URL, and the choice of
//! a proxy from the environment as curl makes it.
//!
//! | item | what it is |
//! |---|---|
//! | [`ProxyUrl`] | `http://`, `https://`, `socks5://` or `socks5h://` with optional credentials |
//! | [`ProxyChoice`] | [`crate::ClientOptions::proxy`]: from the environment (default), none, or one URL |
//! | [`proxy_from_env`], [`no_proxy_matches`] | `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` |
//! | [`ProxyHandshake`] | the tunnel's opening: write [`ProxyHandshake::transmit`], feed [`ProxyHandshake::receive`] |
//! | [`ProxyError`], [`SocksReply`] | what went wrong, in words, with the fix |
//!
//! The drivers (`ws13::blocking::connect`, `ws13::tokio::connect`,
//! `ws13::tls::connect`) connect TCP to the proxy, run a [`ProxyHandshake`]
//! over it, and then the WebSocket handshake (after TLS for `wss://`) over
//! the tunnel. A driver loop:
//!
//! ```
//! use ws13::proxy::{ProxyHandshake, ProxyTarget, ProxyUrl, Received};
//!
//! let proxy = ProxyUrl::parse("http://alice:s%40cret@proxy.example:3128").unwrap();
//! let target = ProxyTarget::name("chat.example", 443);
//! let mut handshake = ProxyHandshake::new(&proxy, target).unwrap();
//! let mut wire = Vec::new();
//! wire.extend_from_slice(handshake.transmit());
//! handshake.advance_transmit(wire.len());
//! assert!(wire.starts_with(b"CONNECT chat.example:443 HTTP/1.1\r\n"));
//! // What the proxy answers, as read from the socket:
//! let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
//! assert_eq!(handshake.receive(answer).unwrap(), Received::Consumed(answer.len()));
//! assert!(handshake.is_established());
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};

mod env;
mod http_connect;
mod socks5;

pub use env::{no_proxy_matches, proxy_from_env};
pub use http_connect::MAX_RESPONSE_HEAD;
pub use socks5::SocksReply;

use http_connect::HttpConnect;
use socks5::Socks5Connect;

/// The kind of proxy, from the proxy URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// `http://`: HTTP `CONNECT` over plain TCP.
    Http,
    /// `https://`: HTTP `CONNECT` over TLS to the proxy itself
    /// (`ws13::tls::connect_with_proxy_tls`; the other connect functions
    /// refuse it with [`ProxyError::HttpsProxyNeedsTls`]).
    Https,
    /// `socks5://`: SOCKS5, the client resolves the server's name.
    Socks5,
    /// `socks5h://`: SOCKS5, the proxy resolves the server's name (remote DNS).
    Socks5h,
}

impl ProxyScheme {
    /// The scheme as written in a URL (`http`, `socks5h`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
        }
    }

    /// SOCKS5 rather than HTTP `CONNECT`.
    pub fn is_socks(self) -> bool {
        matches!(self, ProxyScheme::Socks5 | ProxyScheme::Socks5h)
    }
}

/// A proxy: scheme, address and optional credentials (Basic for HTTP,
/// username/password for SOCKS5).
///
/// Its `Debug` and `Display` forms never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// What kind of proxy.
    pub scheme: ProxyScheme,
    /// The proxy's host name or address, without brackets for IPv6.
    pub host: String,
    /// The proxy's port. Without one in the URL: 443 for `https://`,
    /// 1080 for the others (as curl).
    pub port: u16,
    /// The user name, percent-decoded.
    pub username: Option<String>,
    /// The password, percent-decoded.
    pub password: Option<String>,
}

impl ProxyUrl {
    /// Parses a proxy URL as curl reads `HTTPS_PROXY` and friends:
    /// `[scheme://][user[:password]@]host[:port][/]`, `http://` when there
    /// is no scheme, user and password percent-decoded.
    ///
    /// ```
    /// use ws13::proxy::{ProxyScheme, ProxyUrl};
    ///
    /// let proxy = ProxyUrl::parse("socks5h://me:p%3Ass@[::1]:1081").unwrap();
    /// assert_eq!(proxy.scheme, ProxyScheme::Socks5h);
    /// assert_eq!((proxy.host.as_str(), proxy.port), ("::1", 1081));
    /// assert_eq!(proxy.password.as_deref(), Some("p:ss"));
    /// assert_eq!(proxy.to_string(), "socks5h://me@[::1]:1081");
    /// assert_eq!(ProxyUrl::parse("proxy.corp").unwrap().port, 1080);
    /// assert!(ProxyUrl::parse("socks4://proxy.corp").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<ProxyUrl, ProxyError> {
        let invalid = |why: &str| ProxyError::InvalidProxyUrl {
            url: redact(url),
            why: why.to_owned(),
        };
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = match scheme.to_ascii_lowercase().as_str() {
                    "http" => ProxyScheme::Http,
                    "https" => ProxyScheme::Https,
                    "socks5" => ProxyScheme::Socks5,
                    "socks5h" => ProxyScheme::Socks5h,
                    "socks4" | "socks4a" => {
                        return Err(invalid(
                            "SOCKS4 is not supported: use socks5:// or socks5h:// (most SOCKS servers speak both)",
                        ));
                    }
                    _ => {
                        return Err(invalid(
                            "the scheme must be http://, https://, socks5:// or socks5h://",
                        ));
                    }
                };
                (scheme, rest)
            }
            None => (ProxyScheme::Http, url),
        };
        // A path (curl ignores it) and nothing else may follow the authority.
        let authority = match rest.find(['/', '?', '#']) {
            Some(at) => &rest[..at],
            None => rest,
        };
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(userinfo) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                let decode = |text: &str| {
                    percent_encoding::percent_decode_str(text)
                        .decode_utf8()
                        .map(|decoded| decoded.into_owned())
                        .map_err(|_| {
                            invalid("the user name or password is not UTF-8 once percent-decoded")
                        })
                };
                (Some(decode(user)?), password.map(decode).transpose()?)
            }
            None => (None, None),
        };
        let default_port = if scheme == ProxyScheme::Https {
            443
        } else {
            1080
        };
        let (host, port) =
            crate::client::split_host_port(host_port, default_port).map_err(invalid)?;
        if !host.bytes().all(is_host_byte) {
            return Err(invalid(
                "the host contains characters a host name cannot have",
            ));
        }
        Ok(ProxyUrl {
            scheme,
            host: host.to_owned(),
            port,
            username,
            password,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    fn credentials(&self) -> Option<(&str, &str)> {
        self.username
            .as_deref()
            .map(|user| (user, self.password.as_deref().unwrap_or("")))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        write!(f, "{}", self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Which proxy a client uses: [`crate::ClientOptions::proxy`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyChoice {
    /// The one the environment names for the URL ([`proxy_from_env`]), or
    /// none. The default, as in curl and Python websockets.
    #[default]
    FromEnvironment,
    /// Connect directly, whatever the environment says.
    Direct,
    /// Always this proxy (`NO_PROXY` is not consulted).
    Url(ProxyUrl),
}

impl From<ProxyUrl> for ProxyChoice {
    fn from(url: ProxyUrl) -> Self {
        ProxyChoice::Url(url)
    }
}

impl ProxyChoice {
    /// The proxy to use for a server at `host` over `ws://` (`secure`
    /// false) or `wss://`, reading the process environment for
    /// [`ProxyChoice::FromEnvironment`].
    pub fn resolve(&self, secure: bool, host: &str) -> Result<Option<ProxyUrl>, ProxyError> {
        match self {
            ProxyChoice::FromEnvironment => {
                proxy_from_env(secure, host, |name| std::env::var(name).ok())
            }
            ProxyChoice::Direct => Ok(None),
            ProxyChoice::Url(url) => Ok(Some(url.clone())),
        }
    }
}

/// Where the tunnel should lead: the WebSocket server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyTarget {
    /// A host name (or address text) and port; a SOCKS5 proxy resolves it
    /// (remote DNS).
    Name(String, u16),
    /// An address the client resolved itself (`socks5://`).
    Addr(SocketAddr),
}

impl ProxyTarget {
    /// A host name or address and a port.
    pub fn name(host: impl Into<String>, port: u16) -> Self {
        ProxyTarget::Name(host.into(), port)
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        match self {
            ProxyTarget::Name(host, port) => authority(host, *port),
            ProxyTarget::Addr(addr) => addr.to_string(),
        }
    }
}

/// What [`ProxyHandshake::receive`] did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Not enough bytes for the next step: read more, append them, and call
    /// again with all unconsumed bytes.
    NeedMore,
    /// The first `n` bytes were one complete answer: drop them. More may be
    /// queued to send ([`ProxyHandshake::transmit`]); once
    /// [`ProxyHandshake::is_established`], the rest is the tunnel.
    Consumed(usize),
}

/// Opening a tunnel through a proxy, without I/O.
///
/// The call order: write [`transmit`](Self::transmit) (and report it with
/// [`advance_transmit`](Self::advance_transmit)); until
/// [`is_established`](Self::is_established), read from the proxy, and pass
/// every unconsumed byte to [`receive`](Self::receive); on
/// [`Received::Consumed`] drop those bytes and go back to writing. Each
/// answer it waits for is bounded ([`MAX_RESPONSE_HEAD`] for HTTP, 262 bytes
/// for SOCKS5): [`receive`](Self::receive) fails instead of asking for more.
/// Bytes after the last answer arrive only if the proxy misbehaves (the
/// server speaks after the client, in WebSocket): drivers refuse them.
#[derive(Debug)]
pub struct ProxyHandshake {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Http(HttpConnect),
    Socks5(Socks5Connect),
}

impl ProxyHandshake {
    /// Starts the handshake with `proxy` for a tunnel to `target`. For a
    /// `socks5://` proxy pass the address you resolved
    /// ([`ProxyTarget::Addr`]); a name is sent to the proxy as it is.
    pub fn new(proxy: &ProxyUrl, target: ProxyTarget) -> Result<Self, ProxyError> {
        let kind = if proxy.scheme.is_socks() {
            Kind::Socks5(Socks5Connect::new(target, proxy.credentials())?)
        } else {
            Kind::Http(HttpConnect::new(&target, proxy.credentials())?)
        };
        Ok(ProxyHandshake { kind })
    }

    /// Bytes to write to the proxy now (empty while waiting for an answer).
    pub fn transmit(&self) -> &[u8] {
        match &self.kind {
            Kind::Http(http) => http.transmit(),
            Kind::Socks5(socks) => socks.transmit(),
        }
    }

    /// Reports that the first `n` bytes of [`transmit`](Self::transmit)
    /// were written.
    pub fn advance_transmit(&mut self, n: usize) {
        match &mut self.kind {
            Kind::Http(http) => http.advance_transmit(n),
            Kind::Socks5(socks) => socks.advance_transmit(n),
        }
    }

    /// Takes the proxy's bytes (all unconsumed ones, from the start of its
    /// next answer).
    pub fn receive(&mut self, input: &[u8]) -> Result<Received, ProxyError> {
        match &mut self.kind {
            Kind::Http(http) => http.receive(input),
            Kind::Socks5(socks) => socks.receive(input),
        }
    }

    /// The tunnel is open: what follows is the server's.
    pub fn is_established(&self) -> bool {
        match &self.kind {
            Kind::Http(http) => http.is_established(),
            Kind::Socks5(socks) => socks.is_established(),
        }
    }

    /// What the proxy said when it opened the tunnel (`200 Connection
    /// established`, `SOCKS5 reply 0: succeeded`), for reports such as the
    /// doctor's; `None` before.
    pub fn outcome(&self) -> Option<String> {
        if !self.is_established() {
            return None;
        }
        Some(match &self.kind {
            Kind::Http(http) => http.outcome(),
            Kind::Socks5(socks) => socks.outcome(),
        })
    }
}

/// Why a proxy did not open a tunnel. The messages name the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL cannot be used.
    #[error("invalid proxy URL {url:?}: {why}")]
    InvalidProxyUrl {
        /// The URL given (password replaced by `***`).
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server's host cannot be put in a request to the proxy.
    #[error("cannot ask the proxy for {target:?}: {why}")]
    InvalidTarget {
        /// The host.
        target: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An `https://` proxy needs TLS to the proxy itself, with its own
    /// trust settings: `ws13::tls::connect_with_proxy_tls` does that.
    #[error(
        "an https:// proxy (TLS to the proxy itself) needs ws13::tls::connect_with_proxy_tls (tokio, feature `tls`), which takes the TLS settings for the proxy; or use the proxy's plain http:// port (the tunnel still carries wss:// end to end)"
    )]
    HttpsProxyNeedsTls,
    /// 407 (or 401, as tinyproxy answers wrong credentials): the proxy
    /// wants credentials, or refused those given.
    #[error(
        "the proxy requires authentication ({status} {reason}){given}; put user and password in the proxy URL: http://USER:PASSWORD@HOST:PORT (percent-encode '@', ':' and '%' in them)",
        given = if *.credentials_sent { ": it refused the credentials in the proxy URL" } else { " and the proxy URL has none" }
    )]
    AuthenticationRequired {
        /// 407, or 401.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// Credentials were sent (and refused).
        credentials_sent: bool,
        /// The `Proxy-Authenticate` challenge, if the proxy sent one.
        challenge: Option<String>,
    },
    /// 403: the proxy's policy forbids a tunnel to this host or port.
    #[error(
        "the proxy refused a tunnel to {target} (403 {reason}): its policy forbids this host or port (many proxies allow CONNECT only to port 443). Use a port the proxy allows, ask its administrator to allow this one, or bypass it for this host with NO_PROXY"
    )]
    Forbidden {
        /// `host:port` asked for.
        target: String,
        /// The reason phrase.
        reason: String,
    },
    /// Another status than 2xx, 403 or 407 (a 5xx: the proxy could not
    /// reach the server).
    #[error("the proxy answered CONNECT {target} with {status} {reason} instead of opening a tunnel{hint}", hint = status_hint(*.status))]
    Refused {
        /// `host:port` asked for.
        target: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The answer to `CONNECT` is not HTTP.
    #[error(
        "the proxy did not answer CONNECT with HTTP (it began with {start:?}): for a SOCKS proxy use socks5:// or socks5h://, for a proxy that expects TLS use https://, and check the port"
    )]
    NotHttp {
        /// The first bytes received, escaped.
        start: String,
    },
    /// The proxy's answer head exceeds [`MAX_RESPONSE_HEAD`].
    #[error(
        "the proxy's answer to CONNECT is over {limit} bytes without ending: not a proxy ws13 can talk to"
    )]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The first answer is not SOCKS version 5.
    #[error(
        "the proxy does not speak SOCKS5 (its answer began with byte {version:#04x}): for an HTTP proxy use http://, and check the port"
    )]
    NotSocks5 {
        /// The version byte received.
        version: u8,
    },
    /// The SOCKS5 proxy accepts none of the offered methods.
    #[error("the SOCKS5 proxy accepts none of the offered authentication methods{why}", why = if *.credentials_offered { " (no authentication, username/password): it wants a method ws13 does not speak (GSSAPI?)" } else { " (only: no authentication): it needs a user name and password, socks5://USER:PASSWORD@HOST:PORT" })]
    NoAcceptableMethod {
        /// Username/password was offered too.
        credentials_offered: bool,
    },
    /// The SOCKS5 proxy refused the username and password.
    #[error(
        "the SOCKS5 proxy refused the user name and password (status {status:#04x}): check the credentials in the proxy URL"
    )]
    SocksAuthenticationFailed {
        /// The status byte.
        status: u8,
    },
    /// The SOCKS5 proxy answered the request with an error code.
    #[error("the SOCKS5 proxy could not open a tunnel to {target}: {reply}")]
    SocksRefused {
        /// `host:port` asked for.
        target: String,
        /// The reply code, in words.
        reply: SocksReply,
    },
    /// The SOCKS5 answer breaks RFC 1928 / RFC 1929.
    #[error("the SOCKS5 proxy's answer is malformed: {why}")]
    MalformedSocks {
        /// What is wrong.
        why: &'static str,
    },
    /// The proxy sent bytes after opening the tunnel, before the client
    /// sent anything through it.
    #[error(
        "the proxy sent {len} unexpected byte(s) after opening the tunnel, before the WebSocket request"
    )]
    UnexpectedData {
        /// How many.
        len: usize,
    },
    /// The proxy closed the connection during its handshake.
    #[error("the proxy closed the connection before opening the tunnel")]
    Disconnected,
}

impl ProxyError {
    /// Worth retrying later: the proxy could not reach the server (5xx, a
    /// SOCKS network failure) or went away; not a refusal by policy or
    /// credentials, nor a misconfiguration.
    pub fn is_transient(&self) -> bool {
        match self {
            ProxyError::Refused { status, .. } => (500..600).contains(status),
            ProxyError::SocksRefused { reply, .. } => reply.is_transient(),
            ProxyError::Disconnected => true,
            _ => false,
        }
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        502 | 504 => ": the proxy could not reach the server (down, or unreachable from the proxy)",
        503 => ": the proxy or the server is unavailable; try again later",
        500..=599 => ": the proxy failed; its logs say why",
        _ => "",
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Bytes a host name or an address may have (no CR/LF, spaces, '/', '@').
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'%' | b'~')
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    let start = url.find("://").map(|at| at + 3).unwrap_or(0);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map(|at| start + at)
        .unwrap_or(url.len());
    match url[start..end].rfind('@') {
        Some(at) => match url[start..start + at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..start + colon], &url[start + at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The host as an IP address, if it is one (brackets allowed).
fn host_ip(host: &str) -> Option<IpAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_like_curl() {
        let p = ProxyUrl::parse("http://proxy:3128").unwrap();
        assert_eq!(
            (p.scheme, p.host.as_str(), p.port),
            (ProxyScheme::Http, "proxy", 3128)
        );
        assert_eq!(p.username, None);
        let p = ProxyUrl::parse("HTTPS://proxy/").unwrap();
        assert_eq!((p.scheme, p.port), (ProxyScheme::Https, 443));
        let p = ProxyUrl::parse("socks5://u%20x:@10.0.0.1").unwrap();
        assert_eq!(
            (p.port, p.username.as_deref(), p.password.as_deref()),
            (1080, Some("u x"), Some(""))
        );
        let p = ProxyUrl::parse("user:p@ss@proxy:8080").unwrap();
        assert_eq!(
            (
                p.username.as_deref(),
                p.password.as_deref(),
                p.host.as_str()
            ),
            (Some("user"), Some("p@ss"), "proxy")
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://h:99999",
            "http://[::1",
            "http://a b:1",
            "socks5://u:%ff@h",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let p = ProxyUrl::parse("http://alice:hunter2@proxy:3128").unwrap();
        assert!(!format!("{p} {p:?}").contains("hunter2"));
        let e = ProxyUrl::parse("http://alice:hunter2@proxy:x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("alice:***@proxy:x"), "{e}");
    }

    #[test]
    fn choice_resolves_without_the_environment_when_explicit() {
        let url = ProxyUrl::parse("socks5h://p:1").unwrap();
        assert_eq!(
            ProxyChoice::from(url.clone()).resolve(true, "h").unwrap(),
            Some(url)
        );
        assert_eq!(ProxyChoice::Direct.resolve(true, "h").unwrap(), None);
    }

    #[test]
    fn transient_proxy_errors() {
        let refused = |status| ProxyError::Refused {
            target: "h:1".into(),
            status,
            reason: String::new(),
        };
        assert!(refused(502).is_transient());
        assert!(!refused(400).is_transient());
        assert!(
            !ProxyError::Forbidden {
                target: "h:1".into(),
                reason: String::new()
            }
            .is_transient()
        );
        assert!(
            ProxyError::SocksRefused {
                target: "h:1".into(),
                reply: SocksReply::ConnectionRefused
            }
            .is_transient()
        );
        assert!(
            !ProxyError::SocksRefused {
                target: "h:1".into(),
                reply: SocksReply::NotAllowed
            }
            .is_transient()
        );
    }
}
