//! SOCKS5 `CONNECT` (RFC 1928) with username/password (RFC 1929), sans I/O.

use std::fmt;
use std::net::SocketAddr;

use super::{ProxyError, ProxyTarget, Received};

const VERSION: u8 = 5;
const NO_AUTHENTICATION: u8 = 0x00;
const USERNAME_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const AUTH_VERSION: u8 = 1;
const CMD_CONNECT: u8 = 1;
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// A SOCKS5 reply code other than success (RFC 1928 §6), in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksReply {
    /// 1: general SOCKS server failure.
    GeneralFailure,
    /// 2: connection not allowed by ruleset.
    NotAllowed,
    /// 3: network unreachable.
    NetworkUnreachable,
    /// 4: host unreachable.
    HostUnreachable,
    /// 5: connection refused.
    ConnectionRefused,
    /// 6: TTL expired.
    TtlExpired,
    /// 7: command not supported.
    CommandNotSupported,
    /// 8: address type not supported.
    AddressTypeNotSupported,
    /// Any other code.
    Other(u8),
}

impl SocksReply {
    /// The reply for a code (`None` for 0, success).
    pub fn from_code(code: u8) -> Option<SocksReply> {
        Some(match code {
            0 => return None,
            1 => SocksReply::GeneralFailure,
            2 => SocksReply::NotAllowed,
            3 => SocksReply::NetworkUnreachable,
            4 => SocksReply::HostUnreachable,
            5 => SocksReply::ConnectionRefused,
            6 => SocksReply::TtlExpired,
            7 => SocksReply::CommandNotSupported,
            8 => SocksReply::AddressTypeNotSupported,
            other => SocksReply::Other(other),
        })
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            SocksReply::GeneralFailure => 1,
            SocksReply::NotAllowed => 2,
            SocksReply::NetworkUnreachable => 3,
            SocksReply::HostUnreachable => 4,
            SocksReply::ConnectionRefused => 5,
            SocksReply::TtlExpired => 6,
            SocksReply::CommandNotSupported => 7,
            SocksReply::AddressTypeNotSupported => 8,
            SocksReply::Other(code) => code,
        }
    }

    /// A network failure between the proxy and the server, worth retrying.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            SocksReply::GeneralFailure
                | SocksReply::NetworkUnreachable
                | SocksReply::HostUnreachable
                | SocksReply::ConnectionRefused
                | SocksReply::TtlExpired
        )
    }
}

impl fmt::Display for SocksReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = match self {
            SocksReply::GeneralFailure => {
                "general SOCKS server failure (the proxy's logs say why; often it could not resolve or reach the host)"
            }
            SocksReply::NotAllowed => {
                "connection not allowed by ruleset (the proxy's policy forbids this host or port)"
            }
            SocksReply::NetworkUnreachable => "network unreachable (from the proxy)",
            SocksReply::HostUnreachable => {
                "host unreachable (from the proxy; for socks5h:// also a name the proxy cannot resolve)"
            }
            SocksReply::ConnectionRefused => {
                "connection refused (nothing listens on that port, seen from the proxy)"
            }
            SocksReply::TtlExpired => "TTL expired",
            SocksReply::CommandNotSupported => {
                "command not supported (the proxy does not do CONNECT)"
            }
            SocksReply::AddressTypeNotSupported => {
                "address type not supported (try socks5:// to send an address, or socks5h:// to send the name)"
            }
            SocksReply::Other(_) => "an unassigned reply code",
        };
        write!(f, "reply {} ({words})", self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitMethod,
    AwaitAuth,
    AwaitReply,
    Established,
}

#[derive(Debug)]
pub(super) struct Socks5Connect {
    state: State,
    out: Vec<u8>,
    sent: usize,
    /// The CONNECT request, queued once a method is agreed.
    request: Vec<u8>,
    /// The username/password message, if credentials were given.
    auth: Option<Vec<u8>>,
    target: String,
    outcome: String,
}

impl Socks5Connect {
    pub(super) fn new(
        target: ProxyTarget,
        credentials: Option<(&str, &str)>,
    ) -> Result<Self, ProxyError> {
        let authority = target.authority();
        let mut request = vec![VERSION, CMD_CONNECT, 0];
        let port = match &target {
            ProxyTarget::Addr(SocketAddr::V4(addr)) => {
                request.push(ATYP_IPV4);
                request.extend_from_slice(&addr.ip().octets());
                addr.port()
            }
            ProxyTarget::Addr(SocketAddr::V6(addr)) => {
                request.push(ATYP_IPV6);
                request.extend_from_slice(&addr.ip().octets());
                addr.port()
            }
            ProxyTarget::Name(host, port) => {
                match super::host_ip(host) {
                    Some(std::net::IpAddr::V4(ip)) => {
                        request.push(ATYP_IPV4);
                        request.extend_from_slice(&ip.octets());
                    }
                    Some(std::net::IpAddr::V6(ip)) => {
                        request.push(ATYP_IPV6);
                        request.extend_from_slice(&ip.octets());
                    }
                    None => {
                        let len = u8::try_from(host.len())
                            .ok()
                            .filter(|&len| len > 0)
                            .ok_or_else(|| ProxyError::InvalidTarget {
                                target: host.clone(),
                                why: "SOCKS5 carries host names of 1 to 255 bytes",
                            })?;
                        request.push(ATYP_DOMAIN);
                        request.push(len);
                        request.extend_from_slice(host.as_bytes());
                    }
                }
                *port
            }
        };
        request.extend_from_slice(&port.to_be_bytes());
        let auth = match credentials {
            Some((user, password)) => {
                let too_long = || ProxyError::InvalidTarget {
                    target: authority.clone(),
                    why: "SOCKS5 user names and passwords are 1 to 255 bytes",
                };
                let user_len = u8::try_from(user.len())
                    .ok()
                    .filter(|&len| len > 0)
                    .ok_or_else(too_long)?;
                let password_len = u8::try_from(password.len()).map_err(|_| too_long())?;
                let mut auth = vec![AUTH_VERSION, user_len];
                auth.extend_from_slice(user.as_bytes());
                auth.push(password_len);
                auth.extend_from_slice(password.as_bytes());
                Some(auth)
            }
            None => None,
        };
        let out = if auth.is_some() {
            vec![VERSION, 2, NO_AUTHENTICATION, USERNAME_PASSWORD]
        } else {
            vec![VERSION, 1, NO_AUTHENTICATION]
        };
        Ok(Socks5Connect {
            state: State::AwaitMethod,
            out,
            sent: 0,
            request,
            auth,
            target: authority,
            outcome: String::new(),
        })
    }

    pub(super) fn transmit(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    pub(super) fn advance_transmit(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    pub(super) fn is_established(&self) -> bool {
        self.state == State::Established
    }

    pub(super) fn outcome(&self) -> String {
        self.outcome.clone()
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(super) fn receive(&mut self, input: &[u8]) -> Result<Received, ProxyError> {
        match self.state {
            State::AwaitMethod => {
                let [version, method, ..] = *input else {
                    return Ok(Received::NeedMore);
                };
                if version != VERSION {
                    return Err(ProxyError::NotSocks5 { version });
                }
                match method {
                    NO_AUTHENTICATION => {
                        let request = std::mem::take(&mut self.request);
                        self.queue(&request);
                        self.state = State::AwaitReply;
                    }
                    USERNAME_PASSWORD if self.auth.is_some() => {
                        let auth = self.auth.take().unwrap_or_default();
                        self.queue(&auth);
                        self.state = State::AwaitAuth;
                    }
                    NO_ACCEPTABLE_METHOD => {
                        return Err(ProxyError::NoAcceptableMethod {
                            credentials_offered: self.auth.is_some(),
                        });
                    }
                    _ => {
                        return Err(ProxyError::MalformedSocks {
                            why: "the proxy chose an authentication method that was not offered",
                        });
                    }
                }
                Ok(Received::Consumed(2))
            }
            State::AwaitAuth => {
                let [version, status, ..] = *input else {
                    return Ok(Received::NeedMore);
                };
                if version != AUTH_VERSION {
                    return Err(ProxyError::MalformedSocks {
                        why: "the answer to the user name and password is not version 1 (RFC 1929)",
                    });
                }
                if status != 0 {
                    return Err(ProxyError::SocksAuthenticationFailed { status });
                }
                let request = std::mem::take(&mut self.request);
                self.queue(&request);
                self.state = State::AwaitReply;
                Ok(Received::Consumed(2))
            }
            State::AwaitReply => {
                let [version, reply, _reserved, address_type, ..] = *input else {
                    return Ok(Received::NeedMore);
                };
                if version != VERSION {
                    return Err(ProxyError::MalformedSocks {
                        why: "the reply is not SOCKS version 5",
                    });
                }
                if let Some(reply) = SocksReply::from_code(reply) {
                    return Err(ProxyError::SocksRefused {
                        target: self.target.clone(),
                        reply,
                    });
                }
                let address_len = match address_type {
                    ATYP_IPV4 => 4,
                    ATYP_IPV6 => 16,
                    ATYP_DOMAIN => match input.get(4) {
                        Some(&len) => 1 + usize::from(len),
                        None => return Ok(Received::NeedMore),
                    },
                    _ => {
                        return Err(ProxyError::MalformedSocks {
                            why: "the reply's address type is not 1, 3 or 4",
                        });
                    }
                };
                let len = 4 + address_len + 2;
                if input.len() < len {
                    return Ok(Received::NeedMore);
                }
                self.state = State::Established;
                self.outcome = "reply 0 (succeeded)".to_owned();
                Ok(Received::Consumed(len))
            }
            State::Established => Err(ProxyError::UnexpectedData { len: input.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{ProxyHandshake, ProxyUrl};

    fn handshake(proxy: &str, target: ProxyTarget) -> ProxyHandshake {
        ProxyHandshake::new(&ProxyUrl::parse(proxy).unwrap(), target).unwrap()
    }

    fn take(h: &mut ProxyHandshake) -> Vec<u8> {
        let bytes = h.transmit().to_vec();
        h.advance_transmit(bytes.len());
        bytes
    }

    /// Feeds `answer` one byte at a time; returns what was sent after each answer.
    fn converse(h: &mut ProxyHandshake, answers: &[&[u8]]) -> Result<Vec<Vec<u8>>, ProxyError> {
        let mut sent = vec![take(h)];
        for answer in answers {
            let mut buf = Vec::new();
            for &b in answer.iter() {
                buf.push(b);
                if let Received::Consumed(n) = h.receive(&buf)? {
                    buf.drain(..n);
                }
            }
            assert!(buf.is_empty());
            sent.push(take(h));
        }
        Ok(sent)
    }

    #[test]
    fn remote_dns_without_credentials() {
        let mut h = handshake("socks5h://p", ProxyTarget::name("chat.example", 443));
        let sent = converse(
            &mut h,
            &[b"\x05\x00", b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"],
        )
        .unwrap();
        assert_eq!(sent[0], b"\x05\x01\x00");
        assert_eq!(sent[1], b"\x05\x01\x00\x03\x0cchat.example\x01\xbb");
        assert!(sent[2].is_empty());
        assert!(h.is_established());
        assert_eq!(h.outcome().as_deref(), Some("reply 0 (succeeded)"));
    }

    #[test]
    fn username_password_and_an_ipv6_address() {
        let addr: SocketAddr = "[::1]:9001".parse().unwrap();
        let mut h = handshake("socks5://bob:pw@p", ProxyTarget::Addr(addr));
        let reply_with_domain = b"\x05\x00\x00\x03\x05proxy\x00\x50";
        let sent = converse(&mut h, &[b"\x05\x02", b"\x01\x00", reply_with_domain]).unwrap();
        assert_eq!(sent[0], b"\x05\x02\x00\x02");
        assert_eq!(sent[1], b"\x01\x03bob\x02pw");
        let mut request = b"\x05\x01\x00\x04".to_vec();
        request.extend_from_slice(&[0; 15]);
        request.extend_from_slice(b"\x01\x23\x29");
        assert_eq!(sent[2], request);
        assert!(h.is_established());
    }

    #[test]
    fn failures_in_words() {
        let e = |proxy: &str, answers: &[&[u8]]| {
            converse(&mut handshake(proxy, ProxyTarget::name("h", 80)), answers).unwrap_err()
        };
        let refused = e("socks5h://p", &[b"\x05\x00", b"\x05\x05\x00\x01"]);
        assert_eq!(
            refused.to_string(),
            "the SOCKS5 proxy could not open a tunnel to h:80: reply 5 (connection refused (nothing listens on that port, seen from the proxy))"
        );
        assert!(refused.is_transient());
        let ruleset = e("socks5h://p", &[b"\x05\x00", b"\x05\x02\x00\x01"]);
        assert!(
            ruleset.to_string().contains("not allowed by ruleset"),
            "{ruleset}"
        );
        assert!(!ruleset.is_transient());
        let e_needs = e("socks5h://p", &[b"\x05\xff"]);
        assert!(
            e_needs
                .to_string()
                .contains("needs a user name and password"),
            "{e_needs}"
        );
        let e_auth = e("socks5h://u:bad@p", &[b"\x05\x02", b"\x01\x01"]);
        assert!(matches!(
            e_auth,
            ProxyError::SocksAuthenticationFailed { status: 1 }
        ));
        assert!(matches!(
            e("socks5h://p", &[b"HT"]),
            ProxyError::NotSocks5 { version: b'H' }
        ));
        assert!(matches!(
            e("socks5h://p", &[b"\x05\x02"]),
            ProxyError::MalformedSocks { .. }
        ));
        assert!(matches!(
            e("socks5h://p", &[b"\x05\x00", b"\x05\x00\x00\x09"]),
            ProxyError::MalformedSocks { .. }
        ));
        assert!(matches!(
            e("socks5h://p", &[b"\x05\x00", b"\x04\x00\x00\x01"]),
            ProxyError::MalformedSocks { .. }
        ));
    }

    #[test]
    fn long_names_and_credentials_are_refused() {
        let proxy = ProxyUrl::parse("socks5h://p").unwrap();
        let long = "a".repeat(256);
        assert!(ProxyHandshake::new(&proxy, ProxyTarget::name(long.clone(), 1)).is_err());
        let proxy = ProxyUrl::parse(&format!("socks5h://{long}:x@p")).unwrap();
        assert!(ProxyHandshake::new(&proxy, ProxyTarget::name("h", 1)).is_err());
    }

    #[test]
    fn reply_codes_round_trip() {
        for code in 1..=255u8 {
            assert_eq!(SocksReply::from_code(code).unwrap().code(), code);
        }
        assert_eq!(SocksReply::from_code(0), None);
    }
}
