//! Errors of the drivers.

use std::io;

use ws13_codec::{ProtocolError, SendError};

/// What can go wrong on an established connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol (or a limit, or missed a heartbeat). The
    /// close frame with the matching code has been sent.
    #[error("connection failed: {0} (close code {code})", code = .0.close_code().0)]
    Protocol(#[from] ProtocolError),
    /// The message cannot be sent in the connection's current state.
    #[error("cannot send: {0}")]
    Send(#[from] SendError),
    /// The connection is closed (after a completed close handshake, a failure,
    /// or a close timeout); nothing more can be read or sent.
    #[error("the WebSocket connection is closed")]
    ConnectionClosed,
    /// The transport ended without a close frame (1006 in browser terms): the
    /// peer crashed, a proxy cut the tunnel, or the network went away.
    #[error("the peer closed the transport without a close frame (abnormal closure, 1006)")]
    AbnormalClosure,
}

/// A shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why accepting a connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The transport failed.
    #[error("I/O error during the handshake: {0}")]
    Io(#[from] io::Error),
    /// The request was a broken WebSocket handshake; the error response (400,
    /// 403, 426 or 431, with a body naming the fix) has been sent.
    #[error("handshake refused with {status}: {error}", status = .error.status())]
    Rejected {
        /// What was wrong with the request.
        error: ws13_handshake::RequestError,
    },
    /// A WebSocket request for a path that is not one of
    /// [`crate::ServerOptions::paths`]; 404 has been sent.
    #[error("no WebSocket endpoint at {path}: answered 404")]
    NoSuchEndpoint {
        /// The requested path (with query).
        path: String,
    },
    /// The application's [`crate::ServerOptions::decide`] hook refused the
    /// request; its refusal has been sent.
    #[error("the application refused the WebSocket request with {status}")]
    Refused {
        /// The status sent.
        status: u16,
    },
    /// The application's decision could not be carried out (a subprotocol
    /// the client did not offer, a handshake header, a status that does not
    /// refuse); 500 has been sent.
    #[error("invalid handshake decision (answered 500): {0}")]
    InvalidDecision(ws13_handshake::BuildError),
    /// The client did not send a complete request in time.
    #[error("the client did not complete its handshake request within {0:?}")]
    Timeout(std::time::Duration),
    /// The client closed the connection before completing its request.
    #[error("the client closed the connection before sending a complete request")]
    Disconnected,
    /// A request with no sign of WebSocket reached a WebSocket-only
    /// endpoint (an axum route with the extractor); 426 with
    /// `Upgrade: websocket` has been sent.
    #[error("the request is not a WebSocket handshake: answered 426")]
    NotWebSocket,
    /// A valid WebSocket request on a connection the HTTP server cannot
    /// hand over (hyper's HTTP/1.1 connection served without
    /// `with_upgrades()`, or a request that did not come from hyper); 500
    /// has been sent.
    #[error(
        "the HTTP server cannot hand this connection over (serve HTTP/1.1 connections with `with_upgrades()`): answered 500"
    )]
    NotUpgradable,
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a usable `ws://` or `wss://` URL.
    #[error("invalid WebSocket URL {url:?}: {why}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// `wss://` needs a TLS transport, which this driver does not provide.
    #[error(
        "wss:// needs TLS: use ws13::tls::connect (feature `tls`), or connect a TLS stream yourself and pass it to the driver's `client` function"
    )]
    TlsUnsupported,
    /// The transport failed.
    #[error("I/O error while connecting: {0}")]
    Io(#[from] io::Error),
    /// The request could not be built (a header that clashes or contains CR/LF).
    #[error("cannot build the handshake request: {0}")]
    Build(#[from] ws13_handshake::BuildError),
    /// The server's response is not a valid WebSocket upgrade.
    #[error("{0}")]
    Handshake(#[from] ws13_handshake::ResponseError),
    /// The server's permessage-deflate answer is malformed or ignores what
    /// the client required (RFC 7692 says to fail the connection).
    #[error("{0}")]
    Deflate(ws13_handshake::permessage_deflate::DeflateParamError),
    /// The server did not answer in time.
    #[error("the server did not answer the handshake within {0:?}")]
    Timeout(std::time::Duration),
    /// The server closed the connection before answering.
    #[error("the server closed the connection before answering the handshake")]
    Disconnected,
    /// The proxy setting (from the environment or
    /// [`crate::ClientOptions::proxy`]) cannot be used.
    #[error("{0}")]
    ProxySetting(crate::proxy::ProxyError),
    /// The proxy could not be reached.
    #[error("cannot connect to the proxy {proxy}: {source}")]
    ProxyUnreachable {
        /// The proxy (without its password).
        proxy: String,
        /// What the transport reported.
        source: io::Error,
    },
    /// The proxy did not open a tunnel to the server.
    #[error("through the proxy {proxy}: {error}")]
    Proxy {
        /// The proxy (without its password).
        proxy: String,
        /// Why, in words.
        error: crate::proxy::ProxyError,
    },
    /// The HTTP/2 connection or stream failed (feature `http2`).
    #[cfg(feature = "http2")]
    #[error(
        "HTTP/2 failed: {0}. If this happened while connecting to a ws:// URL with h2c, the server most likely does not speak HTTP/2 without TLS on this port: leave Http2Options::fallback_to_http1 on, or connect over HTTP/1.1"
    )]
    Http2(#[from] h2::Error),
    /// The TLS server did not choose HTTP/2 in ALPN (feature `http2`).
    #[cfg(feature = "http2")]
    #[error(
        "the server did not choose HTTP/2 in the TLS handshake (ALPN {}), so no WebSocket can be opened over HTTP/2: enable HTTP/2 on the server (ALPN 'h2'), or let ws13::http2::connect fall back to HTTP/1.1 (Http2Options::fallback_to_http1(true))",
        .alpn.as_deref().map_or_else(|| String::from("not used"), |alpn| format!("'{alpn}'"))
    )]
    Http2NotNegotiated {
        /// The protocol the server chose instead, if any.
        alpn: Option<String>,
    },
    /// The server speaks HTTP/2 but did not advertise
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (feature `http2`).
    #[cfg(feature = "http2")]
    #[error(
        "the server speaks HTTP/2 but did not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), so it cannot carry a WebSocket on an HTTP/2 stream: enable it on the server (hyper: `http2().enable_connect_protocol()`, h2: `server::Builder::enable_connect_protocol()`; axum::serve does), or let ws13::http2::connect fall back to HTTP/1.1 (Http2Options::fallback_to_http1(true))"
    )]
    ExtendedConnectDisabled,
}
