//! TCP to the server, directly or through a proxy: the blocking shell around
//! [`crate::proxy::ProxyHandshake`].

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::client::{ClientOptions, WsUrl};
use crate::error::ConnectError;
use crate::proxy::{ProxyError, ProxyHandshake, ProxyScheme, ProxyTarget, ProxyUrl, Received};

/// How much is read from a proxy at a time.
const PROXY_READ_CHUNK: usize = 1024;

/// Opens the TCP connection a client for `url` uses: directly, or through
/// the proxy [`ClientOptions::proxy`] chooses, with the tunnel open
/// (within [`ClientOptions::handshake_timeout`]). Run TLS (for `wss://`,
/// with the TLS library of your choice) and the WebSocket handshake
/// ([`super::client`]) over it.
pub fn connect_tcp(url: &WsUrl, options: &ClientOptions) -> Result<TcpStream, ConnectError> {
    let proxy = options
        .proxy
        .resolve(url.secure, &url.host)
        .map_err(ConnectError::ProxySetting)?;
    let Some(proxy) = proxy else {
        let tcp = TcpStream::connect((url.host.as_str(), url.port))?;
        tcp.set_nodelay(true)?;
        return Ok(tcp);
    };
    let failed = |error| ConnectError::Proxy {
        proxy: proxy.to_string(),
        error,
    };
    if proxy.scheme == ProxyScheme::Https {
        return Err(failed(ProxyError::HttpsProxyNeedsTls));
    }
    let unreachable = |source| ConnectError::ProxyUnreachable {
        proxy: proxy.to_string(),
        source,
    };
    let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port)).map_err(unreachable)?;
    tcp.set_nodelay(true).map_err(unreachable)?;
    let target = if proxy.scheme == ProxyScheme::Socks5 {
        let addr = (url.host.as_str(), url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} resolves to no address", url.host),
                )
            })?;
        ProxyTarget::Addr(addr)
    } else {
        ProxyTarget::name(url.host.clone(), url.port)
    };
    proxy_tunnel(&mut tcp, &proxy, target, options.handshake_timeout)?;
    Ok(tcp)
}

/// Runs the proxy's handshake over `tcp` (connected to `proxy`) until the
/// tunnel to `target` is open, within `timeout`; returns what the proxy
/// said (`200 Connection established`, `reply 0 (succeeded)`).
pub fn proxy_tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxyUrl,
    target: ProxyTarget,
    timeout: Duration,
) -> Result<String, ConnectError> {
    let failed = |error| ConnectError::Proxy {
        proxy: proxy.to_string(),
        error,
    };
    let deadline = Instant::now() + timeout;
    let mut handshake = ProxyHandshake::new(proxy, target).map_err(failed)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; PROXY_READ_CHUNK];
    let outcome = loop {
        let out = handshake.transmit();
        if !out.is_empty() {
            let len = out.len();
            tcp.write_all(out)?;
            handshake.advance_transmit(len);
        }
        if handshake.is_established() {
            if !buf.is_empty() {
                return Err(failed(ProxyError::UnexpectedData { len: buf.len() }));
            }
            break handshake.outcome().unwrap_or_default();
        }
        match handshake.receive(&buf).map_err(failed)? {
            Received::Consumed(n) => {
                buf.drain(..n);
            }
            Received::NeedMore => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ConnectError::Timeout(timeout));
                }
                tcp.set_read_timeout(Some(left))?;
                let n = match tcp.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Err(ConnectError::Timeout(timeout));
                    }
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    return Err(failed(ProxyError::Disconnected));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    };
    tcp.set_read_timeout(None)?;
    Ok(outcome)
}
