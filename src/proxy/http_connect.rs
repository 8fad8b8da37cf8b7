//! HTTP `CONNECT` (RFC 9110 §9.3.6), sans I/O.

use base64::Engine as _;

use super::{ProxyError, ProxyTarget, Received, is_host_byte};

/// The longest answer head to `CONNECT` accepted from a proxy (status line
/// and headers); a proxy that sends more without ending its head is refused.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// At most this many header lines in an answer.
const MAX_HEADERS: usize = 64;

#[derive(Debug)]
pub(super) struct HttpConnect {
    request: Vec<u8>,
    sent: usize,
    target: String,
    credentials_sent: bool,
    /// `200 Connection established` once open.
    established: Option<String>,
}

impl HttpConnect {
    pub(super) fn new(
        target: &ProxyTarget,
        credentials: Option<(&str, &str)>,
    ) -> Result<Self, ProxyError> {
        if let ProxyTarget::Name(host, _) = target {
            if host.is_empty() || !host.bytes().all(is_host_byte) {
                return Err(ProxyError::InvalidTarget {
                    target: host.clone(),
                    why: "not a host name or address",
                });
            }
        }
        let authority = target.authority();
        let mut request =
            format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
        if let Some((user, password)) = credentials {
            if format!("{user}{password}").contains(['\r', '\n']) {
                return Err(ProxyError::InvalidTarget {
                    target: authority,
                    why: "the proxy credentials contain CR or LF",
                });
            }
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.extend_from_slice(format!("Proxy-Authorization: Basic {token}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        Ok(HttpConnect {
            request,
            sent: 0,
            target: authority,
            credentials_sent: credentials.is_some(),
            established: None,
        })
    }

    pub(super) fn transmit(&self) -> &[u8] {
        &self.request[self.sent..]
    }

    pub(super) fn advance_transmit(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.request.len());
    }

    pub(super) fn is_established(&self) -> bool {
        self.established.is_some()
    }

    pub(super) fn outcome(&self) -> String {
        self.established.clone().unwrap_or_default()
    }

    pub(super) fn receive(&mut self, input: &[u8]) -> Result<Received, ProxyError> {
        if self.established.is_some() {
            return Err(ProxyError::UnexpectedData { len: input.len() });
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(input) {
            Ok(httparse::Status::Complete(head_len)) => head_len,
            Ok(httparse::Status::Partial) if input.len() >= MAX_RESPONSE_HEAD => {
                return Err(ProxyError::HeadTooLarge {
                    limit: MAX_RESPONSE_HEAD,
                });
            }
            Ok(httparse::Status::Partial) => return Ok(Received::NeedMore),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ProxyError::HeadTooLarge {
                    limit: MAX_RESPONSE_HEAD,
                });
            }
            Err(_) => return Err(not_http(input)),
        };
        if head_len > MAX_RESPONSE_HEAD {
            return Err(ProxyError::HeadTooLarge {
                limit: MAX_RESPONSE_HEAD,
            });
        }
        let status = response.code.unwrap_or(0);
        let reason: String = response.reason.unwrap_or("").chars().take(100).collect();
        match status {
            // An interim answer: the real one follows (101 switches
            // protocols instead of opening a tunnel).
            100..=199 if status != 101 => Ok(Received::Consumed(head_len)),
            200..=299 => {
                self.established = Some(format!("{status} {reason}").trim_end().to_owned());
                Ok(Received::Consumed(head_len))
            }
            401 | 407 => {
                let challenge = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("proxy-authenticate"))
                    .map(|h| String::from_utf8_lossy(h.value).chars().take(200).collect());
                Err(ProxyError::AuthenticationRequired {
                    status,
                    reason,
                    credentials_sent: self.credentials_sent,
                    challenge,
                })
            }
            403 => Err(ProxyError::Forbidden {
                target: self.target.clone(),
                reason,
            }),
            _ => Err(ProxyError::Refused {
                target: self.target.clone(),
                status,
                reason,
            }),
        }
    }
}

fn not_http(input: &[u8]) -> ProxyError {
    let start = input
        .iter()
        .take(16)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    ProxyError::NotHttp { start }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{ProxyHandshake, ProxyUrl};

    fn handshake(proxy: &str, target: ProxyTarget) -> ProxyHandshake {
        ProxyHandshake::new(&ProxyUrl::parse(proxy).unwrap(), target).unwrap()
    }

    fn sent(h: &mut ProxyHandshake) -> String {
        let bytes = h.transmit().to_vec();
        h.advance_transmit(bytes.len());
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn request_with_basic_credentials() {
        let mut h = handshake(
            "http://Aladdin:open%20sesame@p:3128",
            ProxyTarget::name("::1", 9001),
        );
        assert_eq!(
            sent(&mut h),
            "CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert!(h.transmit().is_empty());
    }

    #[test]
    fn answer_split_anywhere_then_established() {
        let answer =
            b"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n";
        let mut h = handshake("http://p:1", ProxyTarget::name("h", 80));
        sent(&mut h);
        let mut buf = Vec::new();
        for &b in answer.iter() {
            buf.push(b);
            while let Received::Consumed(n) = h.receive(&buf).unwrap() {
                buf.drain(..n);
                if h.is_established() {
                    break;
                }
            }
        }
        assert!(buf.is_empty());
        assert!(h.is_established());
        assert_eq!(h.outcome().as_deref(), Some("200 Connection established"));
    }

    fn error(answer: &[u8], proxy: &str) -> ProxyError {
        let mut h = handshake(proxy, ProxyTarget::name("h", 80));
        h.receive(answer).unwrap_err()
    }

    #[test]
    fn errors_name_the_cause() {
        let e = error(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n", "http://p:1");
        assert!(
            matches!(&e, ProxyError::AuthenticationRequired { credentials_sent: false, challenge: Some(c), .. } if c == "Basic realm=\"corp\""),
            "{e:?}"
        );
        assert!(e.to_string().contains("has none"), "{e}");
        let e = error(b"HTTP/1.1 407 Nope\r\n\r\n", "http://u:p@p:1");
        assert!(e.to_string().contains("refused the credentials"), "{e}");
        let e = error(b"HTTP/1.1 403 Forbidden\r\n\r\n", "http://p:1");
        assert!(
            e.to_string()
                .contains("refused a tunnel to h:80 (403 Forbidden)"),
            "{e}"
        );
        let e = error(b"HTTP/1.1 502 Bad Gateway\r\n\r\n", "http://p:1");
        assert!(e.to_string().contains("could not reach the server"), "{e}");
        assert!(e.is_transient());
        let e = error(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "http://p:1");
        assert!(
            matches!(e, ProxyError::Refused { status: 101, .. }),
            "{e:?}"
        );
        let e = error(b"\x05\x00\x00\x01", "http://p:1");
        assert!(
            matches!(&e, ProxyError::NotHttp { start } if start == "\\x05\\x00\\x00\\x01"),
            "{e:?}"
        );
        let e = error(b"SSH-2.0-OpenSSH_9.2\r\n", "http://p:1");
        assert!(
            e.to_string().contains("did not answer CONNECT with HTTP"),
            "{e}"
        );
    }

    #[test]
    fn a_hostile_proxy_cannot_grow_the_head() {
        let mut h = handshake("http://p:1", ProxyTarget::name("h", 80));
        let mut answer = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        answer.resize(MAX_RESPONSE_HEAD - 1, b'a');
        assert_eq!(h.receive(&answer).unwrap(), Received::NeedMore);
        answer.push(b'a');
        assert!(matches!(
            h.receive(&answer),
            Err(ProxyError::HeadTooLarge { .. })
        ));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..100 {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert!(matches!(
            h.receive(&many),
            Err(ProxyError::HeadTooLarge { .. })
        ));
    }

    #[test]
    fn bad_targets_are_refused_before_sending() {
        let proxy = ProxyUrl::parse("http://p:1").unwrap();
        for host in ["", "a b", "h\r\nX: y", "u@h"] {
            assert!(
                ProxyHandshake::new(&proxy, ProxyTarget::name(host, 1)).is_err(),
                "{host:?}"
            );
        }
    }
}
