//! WebSockets over HTTP/2 (RFC 8441) for the tokio driver (feature
//! `http2`): the client, with the `h2` crate.
//!
//! A WebSocket over HTTP/2 is one stream of an HTTP/2 connection, opened
//! with an extended CONNECT (`:protocol: websocket`) once the server has
//! advertised `SETTINGS_ENABLE_CONNECT_PROTOCOL`. Many WebSockets (and the
//! page's other requests, in a browser) share one TCP and TLS connection.
//! The request and the check of the answer are `ws13-handshake`'s
//! ([`crate::handshake::extended_connect`]); this module only moves them
//! through `h2`, and the stream's DATA frames through an
//! [`AsyncRead`] + [`AsyncWrite`] adapter ([`Http2Stream`]) to the usual
//! [`WebSocketStream`].
//!
//! | item | for |
//! |---|---|
//! | [`connect`] | one WebSocket: HTTP/2 where the server offers it, else HTTP/1.1 |
//! | [`Http2Connection`] | one HTTP/2 connection that opens as many WebSockets as you like |
//! | [`Http2Options`] | fallback, h2c, flow-control windows, timeouts |
//! | [`Http2Stream`] | an HTTP/2 stream as bytes, with bounded buffering |
//! | [`HttpTransport`] | what [`connect`] returns: either HTTP version, and which one it was |
//!
//! Several WebSockets over one connection:
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use ws13::http2::{Http2Connection, Http2Options};
//! use ws13::tls::TlsOptions;
//! use ws13::{ClientOptions, Message};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connector = TlsOptions::default().connector()?;
//! let connection =
//!     Http2Connection::connect("wss://example.com/", &Http2Options::default(), &connector).await?;
//! let (mut chat, _) = connection.open("/chat", &ClientOptions::default()).await?;
//! let (mut news, _) = connection.open("/news", &ClientOptions::default()).await?;
//! chat.send(Message::text("hello")).await?;
//! news.send(Message::text("subscribe")).await?;
//! let _reply = chat.next().await;
//! # Ok(())
//! # }
//! ```
//!
//! One WebSocket, over HTTP/2 when the server advertises it and over
//! HTTP/1.1 otherwise:
//!
//! ```no_run
//! use ws13::ClientOptions;
//! use ws13::http2::{Http2Options, connect};
//! use ws13::tls::TlsOptions;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connector = TlsOptions::default().connector()?;
//! let (ws, _response) =
//!     connect("wss://example.com/chat", &ClientOptions::default(), &Http2Options::default(), &connector)
//!         .await?;
//! println!("handshake over {}", ws.get_ref().http_version().as_str());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client::{ClientOptions, ExtendedConnectStep, HandshakeResponse, WsUrl};
use crate::error::ConnectError;
use crate::mask_keys::OsMaskKeys;
use crate::socket::Socket;
use crate::tls::{MaybeTlsStream, TlsConnector};
use crate::tokio::WebSocketStream;

/// Which HTTP version carried a WebSocket's opening handshake (the
/// handshake crate's, also what servers report).
pub use ws13_handshake::HttpVersion;

/// The ALPN name of HTTP/2 over TLS (RFC 9113 §3.2).
const ALPN_H2: &[u8] = b"h2";
/// The ALPN name of HTTP/1.1, offered second so that a server without
/// HTTP/2 can still answer on the same TLS connection.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// HTTP/2 settings of the client. Start from [`Http2Options::default`] and
/// change what you need with the builder methods, one per field.
///
/// ```
/// use std::time::Duration;
/// use ws13::http2::Http2Options;
///
/// let options = Http2Options::default()
///     .fallback_to_http1(false)
///     .cleartext(true)
///     .stream_window(128 * 1024)
///     .connection_window(4 * 1024 * 1024)
///     .write_chunk(32 * 1024)
///     .setup_timeout(Duration::from_secs(5));
/// assert!(options.cleartext && !options.fallback_to_http1);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Http2Options {
    /// [`connect`] opens the WebSocket over HTTP/1.1 when the server does
    /// not choose `h2` in ALPN, does not speak h2c, or does not advertise
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL`. Default `true`; with `false` that
    /// is an error naming the cause.
    pub fallback_to_http1: bool,
    /// `ws://` URLs speak HTTP/2 without TLS ("h2c" with prior knowledge,
    /// RFC 9113 §3.3), as test and internal servers do; browsers never do.
    /// Default `false`: `ws://` goes over HTTP/1.1.
    pub cleartext: bool,
    /// The flow-control window of each stream, in bytes: how much a server
    /// may send on one WebSocket before the application reads it, and so
    /// the most a WebSocket buffers on receipt. Default 1 MiB.
    pub stream_window: u32,
    /// The flow-control window of the whole connection, shared by all its
    /// WebSockets. Default 16 MiB. Received bytes count against it until
    /// their WebSocket reads them, so when it is small against the stream
    /// windows, a few WebSockets whose tasks are busy sending can hold all
    /// of it and stall the others (browsers use about 15 MiB).
    pub connection_window: u32,
    /// The most bytes one write hands to `h2`; a write waits until the
    /// stream's send window has room for them, so nothing piles up unsent.
    /// Default 64 KiB.
    pub write_chunk: usize,
    /// How long TCP, TLS, the HTTP/2 preface and the server's settings may
    /// take together. Default 10 s.
    pub setup_timeout: Duration,
}

impl Default for Http2Options {
    fn default() -> Self {
        Http2Options {
            fallback_to_http1: true,
            cleartext: false,
            stream_window: 1024 * 1024,
            connection_window: 16 * 1024 * 1024,
            write_chunk: 64 * 1024,
            setup_timeout: Duration::from_secs(10),
        }
    }
}

impl Http2Options {
    /// Sets [`Http2Options::fallback_to_http1`].
    #[must_use]
    pub fn fallback_to_http1(mut self, fallback: bool) -> Self {
        self.fallback_to_http1 = fallback;
        self
    }

    /// Sets [`Http2Options::cleartext`] (h2c for `ws://`).
    #[must_use]
    pub fn cleartext(mut self, cleartext: bool) -> Self {
        self.cleartext = cleartext;
        self
    }

    /// Sets [`Http2Options::stream_window`] (at least 1 byte, at most
    /// 2^31-1 as HTTP/2 allows).
    #[must_use]
    pub fn stream_window(mut self, bytes: u32) -> Self {
        self.stream_window = bytes.clamp(1, MAX_WINDOW);
        self
    }

    /// Sets [`Http2Options::connection_window`] (at least 65 535 bytes, the
    /// HTTP/2 initial value, at most 2^31-1).
    #[must_use]
    pub fn connection_window(mut self, bytes: u32) -> Self {
        self.connection_window = bytes.clamp(65_535, MAX_WINDOW);
        self
    }

    /// Sets [`Http2Options::write_chunk`] (at least 1 byte).
    #[must_use]
    pub fn write_chunk(mut self, bytes: usize) -> Self {
        self.write_chunk = bytes.max(1);
        self
    }

    /// Sets [`Http2Options::setup_timeout`].
    #[must_use]
    pub fn setup_timeout(mut self, timeout: Duration) -> Self {
        self.setup_timeout = timeout;
        self
    }
}

/// The largest flow-control window HTTP/2 allows (RFC 9113 §6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

/// One HTTP/2 connection to a server that accepts WebSockets over it; a
/// cheap handle (clone it freely) that opens WebSockets with
/// [`Http2Connection::open`], each on a stream of its own.
///
/// The connection's frames are read and written by a task spawned on the
/// current tokio runtime; it ends when every handle and every WebSocket of
/// the connection is gone.
#[derive(Clone)]
pub struct Http2Connection {
    send_request: SendRequest<Bytes>,
    url: WsUrl,
    write_chunk: usize,
}

impl fmt::Debug for Http2Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Connection")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Http2Connection {
    /// Connects to the server of a `wss://` URL (TLS with ALPN `h2`) or a
    /// `ws://` URL (h2c: HTTP/2 without TLS, whatever
    /// [`Http2Options::cleartext`] says), and waits for its settings. The
    /// URL's path is not used: pass one to [`Http2Connection::open`] for
    /// each WebSocket. It goes through the environment's proxy for the URL,
    /// as [`crate::tokio::connect`] does; to choose the proxy yourself, open
    /// the transport (e.g. with [`crate::tokio::connect_tcp`] and TLS) and
    /// call [`Http2Connection::handshake`].
    ///
    /// Fails with [`ConnectError::Http2NotNegotiated`] if the TLS server
    /// does not choose `h2`, and [`ConnectError::ExtendedConnectDisabled`]
    /// if the server does not accept WebSockets over HTTP/2.
    pub async fn connect(
        url: &str,
        options: &Http2Options,
        connector: &TlsConnector,
    ) -> Result<Http2Connection, ConnectError> {
        let url = WsUrl::parse(url)?;
        // Offering HTTP/1.1 too lets a server without HTTP/2 finish the TLS
        // handshake, so the error can say what it chose.
        let connector = connector.with_alpn(&[ALPN_H2, ALPN_HTTP_1_1]);
        let h2c = options.clone().cleartext(true);
        let direct_or_env = ClientOptions::default();
        match transport(&url, &direct_or_env, &h2c, &connector).await? {
            Negotiated::Http2(stream) => Http2Connection::handshake(stream, &url, options).await,
            Negotiated::Http1(stream) => Err(ConnectError::Http2NotNegotiated {
                alpn: alpn_of(&stream),
            }),
        }
    }

    /// Runs the HTTP/2 connection preface over `io` (already connected,
    /// TLS done if any, `h2` agreed) for the server of `url`, and waits for
    /// the server's settings: the server must advertise
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL`, or this fails with
    /// [`ConnectError::ExtendedConnectDisabled`].
    pub async fn handshake<S>(
        io: S,
        url: &WsUrl,
        options: &Http2Options,
    ) -> Result<Http2Connection, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let setup = async {
            let (send_request, mut connection) = h2::client::Builder::new()
                .initial_window_size(options.stream_window)
                .initial_connection_window_size(options.connection_window)
                .enable_push(false)
                .handshake::<S, Bytes>(io)
                .await?;
            let ping_pong = connection.ping_pong();
            tokio::spawn(async move {
                // The connection ends with an error when the server goes
                // away; each stream reports that error to its WebSocket.
                let _ = connection.await;
            });
            // The server's SETTINGS frame comes first in its preface (RFC
            // 9113 §3.4), so once a PING is answered they are applied.
            if let Some(mut ping_pong) = ping_pong {
                ping_pong.ping(h2::Ping::opaque()).await?;
            }
            let send_request = send_request.ready().await?;
            Ok::<_, ConnectError>(send_request)
        };
        let send_request = tokio::time::timeout(options.setup_timeout, setup)
            .await
            .map_err(|_| ConnectError::Timeout(options.setup_timeout))??;
        if !send_request.is_extended_connect_protocol_enabled() {
            return Err(ConnectError::ExtendedConnectDisabled);
        }
        Ok(Http2Connection {
            send_request,
            url: url.clone(),
            write_chunk: options.write_chunk,
        })
    }

    /// Opens a WebSocket at `path` (path and query, starting with `/`) on a
    /// new stream: an extended CONNECT with `options`' subprotocols,
    /// extensions, origin and headers, checked as strictly as an HTTP/1.1
    /// answer, within `options.handshake_timeout`.
    pub async fn open(
        &self,
        path: &str,
        options: &ClientOptions,
    ) -> Result<(WebSocketStream<Http2Stream, OsMaskKeys>, HandshakeResponse), ConnectError> {
        let (stream, socket, response) = self.open_parts(path, options).await?;
        Ok((WebSocketStream::from_socket(stream, socket), response))
    }

    /// The open WebSocket as its stream and socket, for [`connect`].
    async fn open_parts(
        &self,
        path: &str,
        options: &ClientOptions,
    ) -> Result<(Http2Stream, Socket<OsMaskKeys>, HandshakeResponse), ConnectError> {
        let url = WsUrl {
            path: path.to_owned(),
            ..self.url.clone()
        };
        let step = ExtendedConnectStep::new(&url, options)?;
        let parts = step.request();
        let uri = format!("{}://{}{}", parts.scheme(), parts.authority(), parts.path());
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(uri.as_str())
            .extension(h2::ext::Protocol::from_static(
                ws13_handshake::extended_connect::PROTOCOL,
            ));
        for (name, value) in parts.headers() {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(()).map_err(|error| ConnectError::InvalidUrl {
            url: uri.clone(),
            why: error.to_string(),
        })?;
        let timeout = options.handshake_timeout;
        let exchange = async {
            let mut send_request = self.send_request.clone().ready().await?;
            let (response, send) = send_request.send_request(request, false)?;
            let response = response.await?;
            Ok::<_, ConnectError>((response, send))
        };
        let (response, send) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
        let (head, recv) = response.into_parts();
        let headers: Vec<(String, Vec<u8>)> = head
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        // On a refusal, dropping `send` and `recv` resets the stream.
        let response = step.check(head.status.as_u16(), &headers)?;
        let socket = Socket::connected(
            options,
            &response,
            OsMaskKeys::new(),
            tokio::time::Instant::now().into_std(),
        );
        Ok((
            Http2Stream::new(send, recv, self.write_chunk),
            socket,
            response,
        ))
    }
}

/// Connects to a `ws://` or `wss://` URL and opens one WebSocket, over
/// HTTP/2 where the server offers it and over HTTP/1.1 otherwise (unless
/// [`Http2Options::fallback_to_http1`] is off).
///
/// For `wss://` the TLS handshake offers `h2` and `http/1.1`: a server that
/// chooses `http/1.1` gets the HTTP/1.1 upgrade on the same connection; a
/// server that speaks HTTP/2 without `SETTINGS_ENABLE_CONNECT_PROTOCOL`
/// gets a new connection for HTTP/1.1. `ws://` speaks HTTP/1.1 unless
/// [`Http2Options::cleartext`] is set. `ws.get_ref().http_version()` says
/// which version carried the handshake.
pub async fn connect(
    url: &str,
    options: &ClientOptions,
    http2: &Http2Options,
    connector: &TlsConnector,
) -> Result<
    (
        WebSocketStream<HttpTransport, OsMaskKeys>,
        HandshakeResponse,
    ),
    ConnectError,
> {
    let parsed = WsUrl::parse(url)?;
    if !parsed.secure && !http2.cleartext {
        return over_http1(&parsed, options, connector).await;
    }
    let negotiated = transport(
        &parsed,
        options,
        http2,
        &connector.with_alpn(&[ALPN_H2, ALPN_HTTP_1_1]),
    )
    .await?;
    let stream = match negotiated {
        Negotiated::Http2(stream) => stream,
        Negotiated::Http1(stream) if http2.fallback_to_http1 => {
            return crate::tokio::client(HttpTransport::Http1(stream), &parsed, options).await;
        }
        Negotiated::Http1(stream) => {
            return Err(ConnectError::Http2NotNegotiated {
                alpn: alpn_of(&stream),
            });
        }
    };
    let connection = match Http2Connection::handshake(stream, &parsed, http2).await {
        Ok(connection) => connection,
        // The server speaks HTTP/2 without WebSockets over it, or (h2c) no
        // HTTP/2 at all: HTTP/1.1 on a new connection.
        Err(ConnectError::ExtendedConnectDisabled | ConnectError::Http2(_))
            if http2.fallback_to_http1 =>
        {
            return over_http1(&parsed, options, connector).await;
        }
        Err(error) => return Err(error),
    };
    let (stream, socket, response) = connection.open_parts(&parsed.path, options).await?;
    Ok((
        WebSocketStream::from_socket(HttpTransport::Http2(stream), socket),
        response,
    ))
}

/// The WebSocket over HTTP/1.1 on a new connection (for `wss://`, TLS with
/// ALPN `http/1.1` only).
async fn over_http1(
    url: &WsUrl,
    options: &ClientOptions,
    connector: &TlsConnector,
) -> Result<
    (
        WebSocketStream<HttpTransport, OsMaskKeys>,
        HandshakeResponse,
    ),
    ConnectError,
> {
    let stream = match transport(
        url,
        options,
        &Http2Options::default().setup_timeout(options.handshake_timeout),
        &connector.with_alpn(&[ALPN_HTTP_1_1]),
    )
    .await?
    {
        Negotiated::Http1(stream) | Negotiated::Http2(stream) => stream,
    };
    crate::tokio::client(HttpTransport::Http1(stream), url, options).await
}

/// A connected transport and the HTTP version it is for.
enum Negotiated {
    /// TLS chose `h2`, or h2c was asked for on `ws://`.
    Http2(MaybeTlsStream<TcpStream>),
    /// TLS chose `http/1.1` or nothing, or plain `ws://`.
    Http1(MaybeTlsStream<TcpStream>),
}

/// TCP (directly or through the proxy `client` chooses), then TLS for
/// `wss://` with `connector`'s ALPN offer.
async fn transport(
    url: &WsUrl,
    client: &ClientOptions,
    options: &Http2Options,
    connector: &TlsConnector,
) -> Result<Negotiated, ConnectError> {
    let connecting = async {
        let tcp = crate::tokio::connect_tcp(url, client).await?;
        if !url.secure {
            let stream = MaybeTlsStream::Plain(tcp);
            return Ok::<_, ConnectError>(if options.cleartext {
                Negotiated::Http2(stream)
            } else {
                Negotiated::Http1(stream)
            });
        }
        let tls = connector.handshake(&url.host, tcp).await?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(ALPN_H2);
        let stream = MaybeTlsStream::from(tls);
        Ok(if h2 {
            Negotiated::Http2(stream)
        } else {
            Negotiated::Http1(stream)
        })
    };
    tokio::time::timeout(options.setup_timeout, connecting)
        .await
        .map_err(|_| ConnectError::Timeout(options.setup_timeout))?
}

/// What the TLS server chose in ALPN, for error messages.
fn alpn_of(stream: &MaybeTlsStream<TcpStream>) -> Option<String> {
    stream
        .tls_session()
        .and_then(|session| session.alpn_protocol())
        .map(|alpn| String::from_utf8_lossy(alpn).into_owned())
}

/// One HTTP/2 stream as a byte stream ([`AsyncRead`] + [`AsyncWrite`]): what
/// a WebSocket over HTTP/2 runs on.
///
/// Reading hands out the stream's DATA as it arrives and returns its
/// flow-control window to the server only as the application reads, so
/// a WebSocket that is not read holds at most
/// [`Http2Options::stream_window`] bytes. Writing waits until the stream's
/// send window has room and then hands `h2` at most that much (and at most
/// [`Http2Options::write_chunk`]), so nothing is buffered beyond what the
/// server will take. Shutting down ends the stream (`END_STREAM`); dropping
/// it without doing so resets it.
pub struct Http2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// The rest of the DATA frame being read.
    unread: Bytes,
    write_chunk: usize,
    ended: bool,
}

impl fmt::Debug for Http2Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Stream")
            .field("stream_id", &self.send.stream_id().as_u32())
            .field("unread", &self.unread.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Http2Stream {
    /// Wraps both halves of an HTTP/2 stream whose handshake is done (a
    /// client's after its CONNECT was answered, or a server's after it
    /// answered one). `write_chunk` bounds one write (see
    /// [`Http2Options::write_chunk`]).
    pub fn new(send: SendStream<Bytes>, recv: RecvStream, write_chunk: usize) -> Self {
        Http2Stream {
            send,
            recv,
            unread: Bytes::new(),
            write_chunk: write_chunk.max(1),
            ended: false,
        }
    }

    /// Hands `h2` up to `len` bytes (gathered by `fill`) once the send
    /// window has room.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        fill: impl FnOnce(usize) -> Bytes,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let wanted = len.min(self.write_chunk);
        // h2 may hand out capacity a piece at a time; each round either
        // sends or waits for the next piece.
        loop {
            let capacity = self.send.capacity();
            if capacity > 0 {
                let n = capacity.min(wanted);
                self.send.send_data(fill(n), false).map_err(h2_io)?;
                return Poll::Ready(Ok(n));
            }
            self.send.reserve_capacity(wanted);
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Poll::Ready(Err(h2_io(error))),
                None => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the HTTP/2 stream is closed for sending",
                    )));
                }
            }
        }
    }
}

impl AsyncRead for Http2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.unread.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.unread = data,
                Some(Err(error)) => return Poll::Ready(Err(h2_io(error))),
                None => return Poll::Ready(Ok(())), // END_STREAM: end of file
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread[..n]);
        this.unread.advance(n);
        // The application has these bytes now: the server may send as many more.
        this.recv
            .flow_control()
            .release_capacity(n)
            .map_err(h2_io)?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Http2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf.len(), |n| Bytes::copy_from_slice(&buf[..n]))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        self.poll_send(cx, total, |n| {
            let mut gathered = BytesMut::with_capacity(n);
            for slice in bufs {
                let take = slice.len().min(n - gathered.len());
                gathered.extend_from_slice(&slice[..take]);
                if gathered.len() == n {
                    break;
                }
            }
            gathered.freeze()
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Sent data is the connection task's to write; it writes it as soon
        // as the window allows, which the write already waited for.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            self.ended = true;
            // A stream the server already reset has nothing left to end.
            let _ = self.send.send_data(Bytes::new(), true);
        }
        Poll::Ready(Ok(()))
    }
}

/// An h2 error as an I/O error (a reset stream reads as a reset connection).
fn h2_io(error: h2::Error) -> io::Error {
    if error.is_io() {
        return error
            .into_io()
            .unwrap_or_else(|| io::Error::other("HTTP/2 I/O error"));
    }
    let kind = if error.is_reset() || error.is_go_away() {
        io::ErrorKind::ConnectionReset
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, error)
}

/// The transport of a WebSocket from [`connect`]: an HTTP/1.1 connection
/// (TCP or TLS) or an HTTP/2 stream.
#[derive(Debug)]
pub enum HttpTransport {
    /// The handshake was an HTTP/1.1 upgrade; the connection is the WebSocket's.
    Http1(MaybeTlsStream<TcpStream>),
    /// The handshake was an HTTP/2 extended CONNECT; the WebSocket is one
    /// stream of the connection.
    Http2(Http2Stream),
}

impl HttpTransport {
    /// Which HTTP version carried the handshake.
    pub fn http_version(&self) -> HttpVersion {
        match self {
            HttpTransport::Http1(_) => HttpVersion::Http11,
            HttpTransport::Http2(_) => HttpVersion::Http2,
        }
    }
}

impl AsyncRead for HttpTransport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HttpTransport::Http1(stream) => Pin::new(stream).poll_read(cx, buf),
            HttpTransport::Http2(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for HttpTransport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            HttpTransport::Http1(stream) => Pin::new(stream).poll_write(cx, buf),
            HttpTransport::Http2(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            HttpTransport::Http1(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            HttpTransport::Http2(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            HttpTransport::Http1(stream) => stream.is_write_vectored(),
            HttpTransport::Http2(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HttpTransport::Http1(stream) => Pin::new(stream).poll_flush(cx),
            HttpTransport::Http2(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HttpTransport::Http1(stream) => Pin::new(stream).poll_shutdown(cx),
            HttpTransport::Http2(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
