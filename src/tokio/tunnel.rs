//! TCP to the server, directly or through a proxy: the tokio shell around
//! [`crate::proxy::ProxyHandshake`].

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{ClientOptions, WsUrl};
use crate::error::ConnectError;
use crate::proxy::{ProxyError, ProxyHandshake, ProxyScheme, ProxyTarget, ProxyUrl, Received};

/// How much is read from a proxy at a time.
const PROXY_READ_CHUNK: usize = 1024;

/// Opens the TCP connection a client for `url` uses: directly, or through
/// the proxy [`ClientOptions::proxy`] chooses, with the tunnel open
/// (within [`ClientOptions::handshake_timeout`]). Run TLS (for `wss://`) and
/// the WebSocket handshake ([`super::client`]) over it.
///
/// An `https://` proxy needs TLS to the proxy:
/// `ws13::tls::connect_with_proxy_tls` (feature `tls`) does that; here it
/// is an error.
pub async fn connect_tcp(url: &WsUrl, options: &ClientOptions) -> Result<TcpStream, ConnectError> {
    let proxy = options
        .proxy
        .resolve(url.secure, &url.host)
        .map_err(ConnectError::ProxySetting)?;
    connect_tcp_via(url, options, proxy.as_ref()).await
}

/// [`connect_tcp`] with the proxy already chosen.
pub(crate) async fn connect_tcp_via(
    url: &WsUrl,
    options: &ClientOptions,
    proxy: Option<&ProxyUrl>,
) -> Result<TcpStream, ConnectError> {
    let Some(proxy) = proxy else {
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        tcp.set_nodelay(true)?;
        return Ok(tcp);
    };
    if proxy.scheme == ProxyScheme::Https {
        return Err(ConnectError::Proxy {
            proxy: proxy.to_string(),
            error: ProxyError::HttpsProxyNeedsTls,
        });
    }
    let mut tcp = connect_to_proxy(proxy).await?;
    let target = proxy_target(proxy, url).await?;
    let timeout = options.handshake_timeout;
    tokio::time::timeout(timeout, proxy_tunnel(&mut tcp, proxy, target))
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    Ok(tcp)
}

/// TCP to the proxy itself (`TCP_NODELAY` set).
pub(crate) async fn connect_to_proxy(proxy: &ProxyUrl) -> Result<TcpStream, ConnectError> {
    let unreachable = |source| ConnectError::ProxyUnreachable {
        proxy: proxy.to_string(),
        source,
    };
    let tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(unreachable)?;
    tcp.set_nodelay(true).map_err(unreachable)?;
    Ok(tcp)
}

/// What to ask `proxy` for: the server's name, or for `socks5://` (local
/// DNS) the first address it resolves to here.
pub async fn proxy_target(proxy: &ProxyUrl, url: &WsUrl) -> Result<ProxyTarget, ConnectError> {
    if proxy.scheme != ProxyScheme::Socks5 {
        return Ok(ProxyTarget::name(url.host.clone(), url.port));
    }
    let mut found = tokio::net::lookup_host((url.host.as_str(), url.port)).await?;
    match found.next() {
        Some(addr) => Ok(ProxyTarget::Addr(addr)),
        None => Err(ConnectError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} resolves to no address", url.host),
        ))),
    }
}

/// Runs the proxy's handshake over `stream` (connected to `proxy`) until
/// the tunnel to `target` is open; returns what the proxy said (`200
/// Connection established`, `reply 0 (succeeded)`). Bound it with a timeout.
pub async fn proxy_tunnel<S>(
    stream: &mut S,
    proxy: &ProxyUrl,
    target: ProxyTarget,
) -> Result<String, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let failed = |error| ConnectError::Proxy {
        proxy: proxy.to_string(),
        error,
    };
    let mut handshake = ProxyHandshake::new(proxy, target).map_err(failed)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; PROXY_READ_CHUNK];
    loop {
        let out = handshake.transmit();
        if !out.is_empty() {
            let len = out.len();
            stream.write_all(out).await?;
            stream.flush().await?;
            handshake.advance_transmit(len);
        }
        if handshake.is_established() {
            if !buf.is_empty() {
                return Err(failed(ProxyError::UnexpectedData { len: buf.len() }));
            }
            return Ok(handshake.outcome().unwrap_or_default());
        }
        match handshake.receive(&buf).map_err(failed)? {
            Received::Consumed(n) => {
                buf.drain(..n);
            }
            Received::NeedMore => {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(failed(ProxyError::Disconnected));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}
