//! TLS for the benchmark servers and clients (`--cert PEM --key PEM`):
//! one rustls server configuration, the same for ws13's `async_echo` and for
//! every peer's echo server, and the load clients' configuration.
//!
//! The server configuration is what `ws13::tls::TlsAcceptor::from_pem_files`
//! builds, field for field: rustls 0.23 with the `ring` provider, TLS 1.2
//! and 1.3 (`with_safe_default_protocol_versions`), no client
//! authentication, one certificate chain, ALPN `http/1.1`, and rustls's
//! defaults for session resumption: a `ServerSessionMemoryCache` of 256
//! sessions, no ticketer (so TLS 1.3 resumption uses *stateful* tickets,
//! 2 sent after each full handshake, that name a session in that cache).

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};

/// The ALPN protocol every benchmark server offers and every client asks for.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A client gets this long to finish the TLS handshake (as in ws13's example servers).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {e}", path.display()),
    )
}

fn read_certificates(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certificates.is_empty() {
        return Err(pem_error(path, "no certificate in the file"));
    }
    Ok(certificates)
}

/// The benchmark servers' rustls configuration from a PEM certificate chain
/// and a PEM private key (see the module docs for what it holds).
pub fn server_config(certificate_chain: &Path, private_key: &Path) -> io::Result<ServerConfig> {
    let chain = read_certificates(certificate_chain)?;
    let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| pem_error(private_key, e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(config)
}

/// An echo server's TLS acceptor from `--cert PEM --key PEM`: `None` when
/// neither flag is given (plain TCP); exits with status 2 when only one is
/// given or the files are bad.
pub fn acceptor_from_flags() -> Option<tokio_rustls::TlsAcceptor> {
    match (crate::flag("cert"), crate::flag("key")) {
        (None, None) => None,
        (Some(cert), Some(key)) => match server_config(Path::new(&cert), Path::new(&key)) {
            Ok(config) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
            Err(e) => {
                eprintln!("cannot serve TLS: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("--cert and --key go together: give both PEM files, or neither");
            std::process::exit(2);
        }
    }
}

/// Runs the server side of the TLS handshake over an accepted stream,
/// bounded by [`TLS_HANDSHAKE_TIMEOUT`].
pub async fn accept<S>(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: S,
) -> io::Result<tokio_rustls::server::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// A load client's rustls configuration: trusts the certificates in
/// `trusted` (the benchmark's self-signed certificate), asks for ALPN
/// `http/1.1`, and with `resumption` keeps rustls's default in-memory
/// session store (shared by every connection made with this configuration);
/// without it, `Resumption::disabled()`.
pub fn client_config(trusted: &Path, resumption: bool) -> io::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(trusted)? {
        roots.add(certificate).map_err(|e| pem_error(trusted, e))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    if !resumption {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(config)
}

/// The server name the load clients send (SNI) and check the certificate for.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("a valid DNS name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_certificate_file_is_an_error_naming_it() {
        let error = client_config(Path::new("/nonexistent/cert.pem"), true).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/cert.pem"),
            "{error}"
        );
    }

    /// A self-signed certificate for `localhost` and its key, as PEM files in
    /// a fresh directory.
    fn certificate_files(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ws13-benches-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    /// One TLS connection over an in-memory pipe: the server sends a byte
    /// after the handshake (behind its session tickets), the client reads it.
    async fn connect_once(
        acceptor: &tokio_rustls::TlsAcceptor,
        connector: &tokio_rustls::TlsConnector,
    ) -> rustls::HandshakeKind {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client_end, server_end) = tokio::io::duplex(64 * 1024);
        let server = async {
            let mut stream = accept(acceptor, server_end).await.unwrap();
            stream.write_all(b"!").await.unwrap();
            stream.flush().await.unwrap();
            stream
        };
        let client = async {
            let mut stream = connector.connect(server_name(), client_end).await.unwrap();
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            assert_eq!(&byte, b"!");
            stream.get_ref().1.handshake_kind().unwrap()
        };
        let (_server, kind) = tokio::join!(server, client);
        kind
    }

    #[test]
    fn a_second_connection_resumes_with_resumption_and_not_without() {
        let (cert, key) = certificate_files("resumption");
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(server_config(&cert, &key).unwrap()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for (resumption, second) in [
                (true, rustls::HandshakeKind::Resumed),
                (false, rustls::HandshakeKind::Full),
            ] {
                let connector = tokio_rustls::TlsConnector::from(Arc::new(
                    client_config(&cert, resumption).unwrap(),
                ));
                assert_eq!(
                    connect_once(&acceptor, &connector).await,
                    rustls::HandshakeKind::Full
                );
                assert_eq!(connect_once(&acceptor, &connector).await, second);
            }
        });
        let _ = std::fs::remove_dir_all(cert.parent().unwrap());
    }

    #[test]
    fn the_server_keeps_rustls_defaults_for_resumption() {
        // A throwaway key and self-signed certificate are not needed to check
        // the defaults: the builder's defaults are what `server_config` keeps.
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()));
        assert_eq!(config.send_tls13_tickets, 2);
        assert!(!config.ticketer.enabled());
    }
}
