//! `wss://` for the tokio driver (feature `tls`): rustls with the `ring`
//! provider, certificate verification on by default.
//!
//! TLS only carries the bytes; the WebSocket handshake and protocol are the
//! same as over TCP ([`crate::tokio::client`] and [`crate::tokio::accept`] are
//! generic over the stream).
//!
//! | item | for |
//! |---|---|
//! | [`TlsOptions`] → [`TlsConnector`] | which certificate authorities a client trusts |
//! | [`connect`] | a client for `ws://` and `wss://` URLs alike |
//! | [`connect_with_proxy_tls`], [`proxy_transport`] | the same through `https://` proxies (TLS to the proxy) as well |
//! | [`TlsAcceptor`] | a server: PEM certificate chain and key → `wss://` |
//! | [`MaybeTlsStream`] | plain TCP or TLS: what [`connect`] returns, what a server serving both can use |
//! | [`failure_hint`] | the likely fix for a failed TLS handshake |
//!
//! A client that trusts a development CA as well as the public roots:
//!
//! ```no_run
//! use ws13::ClientOptions;
//! use ws13::tls::{TlsOptions, connect};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connector = TlsOptions::default().ca_file("dev-cert/ca.pem").connector()?;
//! let (ws, _response) = connect("wss://localhost:9001/", &ClientOptions::default(), &connector).await?;
//! # drop(ws);
//! # Ok(())
//! # }
//! ```
//!
//! A server (wrap each accepted TCP stream, then run the usual handshake):
//!
//! ```no_run
//! use ws13::ServerOptions;
//! use ws13::tls::TlsAcceptor;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let acceptor = TlsAcceptor::from_pem_files("dev-cert/cert.pem", "dev-cert/key.pem")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! let tls = acceptor.accept(tcp).await?;
//! let accepted = ws13::tokio::accept(tls, &ServerOptions::default()).await?;
//! # drop(accepted);
//! # Ok(())
//! # }
//! ```

use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client::{ClientOptions, HandshakeResponse, WsUrl};
use crate::error::ConnectError;
use crate::mask_keys::OsMaskKeys;
use crate::tokio::WebSocketStream;

pub use rustls;
pub use tokio_rustls;

/// The only application protocol a WebSocket over TLS speaks (RFC 6455
/// §4.1: the handshake is an HTTP/1.1 request).
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {why}")]
    Pem {
        /// What the file should hold (`certificates`, `a private key`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// A certificate file holds no certificate.
    #[error("{path} holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----' blocks)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The client would trust nobody: no roots enabled and no CA file given.
    #[error("no certificate authority to trust: enable webpki or system roots, or give a CA file")]
    NoTrustAnchors,
    /// rustls refused the configuration (a key that does not match the
    /// certificate, an unsupported key type, ...).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Which certificate authorities a client trusts. By default the Mozilla
/// roots compiled in from `webpki-roots`; add the operating system's store
/// with [`TlsOptions::system_roots`] and your own CA (a development CA, a
/// company CA) with [`TlsOptions::ca_file`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TlsOptions {
    /// Trust the Mozilla root set shipped in `webpki-roots`. Default `true`.
    pub webpki_roots: bool,
    /// Trust the operating system's certificate store
    /// (`rustls-native-certs`). Default `false`.
    pub system_roots: bool,
    /// PEM files whose certificates are trusted as roots as well.
    pub ca_files: Vec<PathBuf>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            webpki_roots: true,
            system_roots: false,
            ca_files: Vec::new(),
        }
    }
}

impl TlsOptions {
    /// Also trusts the CA certificates in the PEM file at `path`.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Also trusts the operating system's certificate store.
    #[must_use]
    pub fn system_roots(mut self) -> Self {
        self.system_roots = true;
        self
    }

    /// Reads the CA files and builds the client configuration (TLS 1.2 and
    /// 1.3, ALPN `http/1.1`, certificate and host name verification).
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if self.system_roots {
            // Unreadable entries of the system store are skipped, as browsers do.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
        for path in &self.ca_files {
            for certificate in read_certificates(path)? {
                roots.add(certificate)?;
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoTrustAnchors);
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsConnector::from_config(Arc::new(config)))
    }
}

/// A client's TLS configuration, cheap to clone; make one with
/// [`TlsOptions::connector`] or from your own rustls configuration.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Uses a rustls client configuration as it is (set its ALPN to
    /// `http/1.1` if you set one at all).
    pub fn from_config(config: Arc<rustls::ClientConfig>) -> Self {
        TlsConnector {
            inner: tokio_rustls::TlsConnector::from(config),
        }
    }

    /// The same configuration, offering `protocols` in ALPN instead (the
    /// HTTP/2 client offers `h2` first).
    #[cfg(feature = "http2")]
    pub(crate) fn with_alpn(&self, protocols: &[&[u8]]) -> TlsConnector {
        let mut config = rustls::ClientConfig::clone(self.inner.config());
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from_config(Arc::new(config))
    }

    /// Runs the TLS handshake over `stream`, verifying that the server's
    /// certificate is valid for `host` (a DNS name or an IP address). See
    /// [`failure_hint`] for what a failure means.
    pub async fn handshake<S>(
        &self,
        host: &str,
        stream: S,
    ) -> io::Result<tokio_rustls::client::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} is neither a DNS name nor an IP address"),
            )
        })?;
        self.inner.connect(name, stream).await
    }
}

/// Connects to a `ws://` or `wss://` URL: TCP (through the proxy
/// [`ClientOptions::proxy`] chooses, by default from the environment: see
/// [`crate::tokio::connect_tcp`]), TLS for `wss://` (verified with
/// `connector`), then the WebSocket handshake of [`crate::tokio::client`].
pub async fn connect(
    url: &str,
    options: &ClientOptions,
    connector: &TlsConnector,
) -> Result<
    (
        WebSocketStream<MaybeTlsStream<TcpStream>, OsMaskKeys>,
        HandshakeResponse,
    ),
    ConnectError,
> {
    let url = WsUrl::parse(url)?;
    let tcp = crate::tokio::connect_tcp(&url, options).await?;
    let stream = if url.secure {
        let tls = tokio::time::timeout(
            options.handshake_timeout,
            connector.handshake(&url.host, tcp),
        )
        .await
        .map_err(|_| ConnectError::Timeout(options.handshake_timeout))??;
        MaybeTlsStream::from(tls)
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    crate::tokio::client(stream, &url, options).await
}

/// Connects like [`connect`], and through `https://` proxies too: TLS to
/// the proxy itself, verified with `proxy_connector` (a proxy's certificate
/// is often signed by a company CA the servers' are not), then `CONNECT`
/// inside it. For `wss://` the WebSocket's own TLS (verified with
/// `connector`) runs inside the tunnel, so the stream is TLS in TLS.
pub async fn connect_with_proxy_tls(
    url: &str,
    options: &ClientOptions,
    connector: &TlsConnector,
    proxy_connector: &TlsConnector,
) -> Result<
    (
        WebSocketStream<MaybeTlsStream<MaybeTlsStream<TcpStream>>, OsMaskKeys>,
        HandshakeResponse,
    ),
    ConnectError,
> {
    let url = WsUrl::parse(url)?;
    let transport = proxy_transport(&url, options, proxy_connector).await?;
    let stream = if url.secure {
        let tls = tokio::time::timeout(
            options.handshake_timeout,
            connector.handshake(&url.host, transport),
        )
        .await
        .map_err(|_| ConnectError::Timeout(options.handshake_timeout))??;
        MaybeTlsStream::from(tls)
    } else {
        MaybeTlsStream::Plain(transport)
    };
    crate::tokio::client(stream, &url, options).await
}

/// The transport a client for `url` runs its (TLS and) WebSocket handshake
/// over: TCP to the server, TCP through the proxy [`ClientOptions::proxy`]
/// chooses, or for an `https://` proxy TLS to the proxy (verified with
/// `proxy_connector`) with the tunnel open inside it.
pub async fn proxy_transport(
    url: &WsUrl,
    options: &ClientOptions,
    proxy_connector: &TlsConnector,
) -> Result<MaybeTlsStream<TcpStream>, ConnectError> {
    let proxy = options
        .proxy
        .resolve(url.secure, &url.host)
        .map_err(ConnectError::ProxySetting)?;
    let proxy = match proxy {
        Some(proxy) if proxy.scheme == crate::proxy::ProxyScheme::Https => proxy,
        other => {
            let tcp = crate::tokio::connect_tcp_via(url, options, other.as_ref()).await?;
            return Ok(MaybeTlsStream::Plain(tcp));
        }
    };
    let timeout = options.handshake_timeout;
    let tcp = crate::tokio::connect_to_proxy(&proxy).await?;
    let tls = tokio::time::timeout(timeout, proxy_connector.handshake(&proxy.host, tcp))
        .await
        .map_err(|_| ConnectError::Timeout(timeout))?
        .map_err(|source| ConnectError::ProxyUnreachable {
            proxy: proxy.to_string(),
            source,
        })?;
    let mut stream = MaybeTlsStream::from(tls);
    let target = crate::proxy::ProxyTarget::name(url.host.clone(), url.port);
    tokio::time::timeout(
        timeout,
        crate::tokio::proxy_tunnel(&mut stream, &proxy, target),
    )
    .await
    .map_err(|_| ConnectError::Timeout(timeout))??;
    Ok(stream)
}

/// A server's TLS configuration (certificate chain and private key), cheap
/// to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Reads a PEM certificate chain (the server's certificate first, then
    /// intermediates) and a PEM private key (PKCS#8, PKCS#1 or SEC1), and
    /// serves TLS 1.2 and 1.3 with ALPN `http/1.1`.
    pub fn from_pem_files(
        certificate_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        Self::from_pem_files_with_alpn(certificate_chain, private_key, &[ALPN_HTTP_1_1])
    }

    /// As [`TlsAcceptor::from_pem_files`], offering the ALPN `protocols` in
    /// the server's order of preference: `&[b"h2", b"http/1.1"]` for a
    /// server that speaks HTTP/2 too (such as hyper-util's auto builder,
    /// see [`crate::hyper`]), where browsers then open `wss://` WebSockets
    /// as RFC 8441 extended CONNECTs.
    pub fn from_pem_files_with_alpn(
        certificate_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
        protocols: &[&[u8]],
    ) -> Result<Self, TlsError> {
        let chain = read_certificates(certificate_chain.as_ref())?;
        let key_path = private_key.as_ref();
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Pem {
            what: "a private key",
            path: key_path.to_owned(),
            why: e.to_string(),
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = protocols.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Self::from_config(Arc::new(config)))
    }

    /// Uses a rustls server configuration as it is.
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> Self {
        TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(config),
        }
    }

    /// Runs the server side of the TLS handshake over an accepted stream.
    /// Bound it with a timeout: a client may never finish it.
    pub async fn accept<S>(&self, stream: S) -> io::Result<tokio_rustls::server::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.inner.accept(stream).await
    }
}

/// The likely cause and fix of a failed TLS handshake, for an error from
/// [`TlsConnector::handshake`] (or [`connect`]'s `ConnectError::Io`); `None`
/// when the error is not a TLS failure ws13 knows.
pub fn failure_hint(error: &io::Error) -> Option<&'static str> {
    use rustls::{CertificateError, Error};
    let tls_error = error.get_ref()?.downcast_ref::<Error>()?;
    Some(match tls_error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "The server's certificate is not signed by a trusted authority. For a self-signed or development certificate, trust its CA (--ca FILE, TlsOptions::ca_file); otherwise the server must send its full chain, intermediates included."
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            "The certificate does not name this host. Connect by a name the certificate lists, or issue a certificate that lists this name (or IP address)."
        }
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "The server's certificate has expired: renew it.",
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "The certificate is not valid yet: check the clocks of client and server.",
        Error::InvalidCertificate(_) => {
            "The server's certificate was refused; check it with `openssl s_client -connect HOST:PORT -showcerts`."
        }
        Error::InvalidMessage(_) => {
            "The server does not speak TLS on this port: use ws:// for a plain server, or the port where TLS is served."
        }
        Error::NoApplicationProtocol => {
            "The server does not offer HTTP/1.1 over TLS (ALPN); a WebSocket handshake needs HTTP/1.1."
        }
        Error::AlertReceived(_) => {
            "The server aborted the TLS handshake; its logs say why (often no certificate for this host name, SNI)."
        }
        _ => return None,
    })
}

/// A transport that is plain TCP (`ws://`) or TLS (`wss://`), on either
/// side: [`connect`] returns it, and a server that serves both can wrap its
/// accepted streams in it (`From` the tokio-rustls streams).
#[derive(Debug)]
pub enum MaybeTlsStream<S> {
    /// `ws://`.
    Plain(S),
    /// `wss://` (boxed: a TLS session is large).
    Tls(Box<tokio_rustls::TlsStream<S>>),
}

impl<S> MaybeTlsStream<S> {
    /// The TLS session (protocol version, cipher suite, ALPN), if any.
    pub fn tls_session(&self) -> Option<&rustls::CommonState> {
        match self {
            MaybeTlsStream::Plain(_) => None,
            MaybeTlsStream::Tls(tls) => Some(tls.get_ref().1),
        }
    }
}

impl<S> From<tokio_rustls::client::TlsStream<S>> for MaybeTlsStream<S> {
    fn from(stream: tokio_rustls::client::TlsStream<S>) -> Self {
        MaybeTlsStream::Tls(Box::new(stream.into()))
    }
}

impl<S> From<tokio_rustls::server::TlsStream<S>> for MaybeTlsStream<S> {
    fn from(stream: tokio_rustls::server::TlsStream<S>) -> Self {
        MaybeTlsStream::Tls(Box::new(stream.into()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |e: rustls_pki_types::pem::Error| TlsError::Pem {
        what: "certificates",
        path: path.to_owned(),
        why: e.to_string(),
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}
