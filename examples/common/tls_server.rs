//! `--cert FILE --key FILE` for the example servers: serve `wss://` (and
//! `https://`) instead of `ws://` when both are given. Needs the `tls`
//! feature; without it the flags are refused with the command that enables it.
#![allow(dead_code)]

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

/// What an example server's connections run over: plain TCP, or TLS when
/// the server was started with `--cert` and `--key`.
#[cfg(feature = "tls")]
pub type ServerStream = ws13::tls::MaybeTlsStream<TcpStream>;
/// What an example server's connections run over (built without `tls`).
#[cfg(not(feature = "tls"))]
pub type ServerStream = TcpStream;

/// A client gets this long to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Plain TCP, or a TLS acceptor made from `--cert` and `--key`.
#[derive(Clone)]
pub struct Transport {
    #[cfg(feature = "tls")]
    tls: Option<ws13::tls::TlsAcceptor>,
}

impl Transport {
    /// From `--cert FILE --key FILE`; exits with status 2 on a bad flag or file.
    pub fn from_flags() -> Transport {
        let (cert, key) = (crate::common::flag("cert"), crate::common::flag("key"));
        match (cert, key) {
            (None, None) => Transport {
                #[cfg(feature = "tls")]
                tls: None,
            },
            (Some(cert), Some(key)) => Self::tls(&cert, &key),
            _ => exit("--cert and --key go together: give both PEM files, or neither"),
        }
    }

    #[cfg(feature = "tls")]
    fn tls(cert: &str, key: &str) -> Transport {
        match ws13::tls::TlsAcceptor::from_pem_files(cert, key) {
            Ok(acceptor) => Transport {
                tls: Some(acceptor),
            },
            Err(e) => exit(&format!("cannot serve TLS: {e}")),
        }
    }

    #[cfg(not(feature = "tls"))]
    fn tls(_cert: &str, _key: &str) -> Transport {
        exit("--cert/--key need the tls feature: cargo run --features tls --example ...")
    }

    /// `ws` or `wss`.
    pub fn ws_scheme(&self) -> &'static str {
        if self.is_tls() { "wss" } else { "ws" }
    }

    /// `http` or `https`.
    pub fn http_scheme(&self) -> &'static str {
        if self.is_tls() { "https" } else { "http" }
    }

    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Wraps an accepted connection: runs the TLS handshake if configured
    /// (bounded by a timeout), else hands the TCP stream through.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<ServerStream> {
        #[cfg(feature = "tls")]
        {
            use ws13::tls::MaybeTlsStream;
            match &self.tls {
                None => Ok(MaybeTlsStream::Plain(tcp)),
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(tls) => Ok(MaybeTlsStream::from(tls?)),
                        Err(_) => Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client did not finish the TLS handshake in time",
                        )),
                    }
                }
            }
        }
        #[cfg(not(feature = "tls"))]
        Ok(tcp)
    }
}

fn exit(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2);
}
