//! The blocking driver: WebSockets over any `std::io::Read + Write` stream.
//!
//! It moves bytes between the stream and the protocol core and nothing else.
//! [`WebSocket::write`] queues a message, [`WebSocket::flush`] writes every
//! queued frame with one vectored write, and [`WebSocket::read`] flushes before
//! it blocks: an echo loop (`read` then `write`) answers every message that
//! arrived in one read with a single write syscall.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use ws13::blocking::{Accepted, accept};
//! use ws13::{Message, ServerOptions};
//!
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     match accept(stream?, &ServerOptions::default()) {
//!         Ok(Accepted::WebSocket(mut ws, _request)) => {
//!             while let Ok(message) = ws.read() {
//!                 if message.is_data() {
//!                     ws.write(message)?;
//!                 }
//!             }
//!         }
//!         Ok(Accepted::Http(http)) => http.respond(200, "text/plain", b"ok\n")?,
//!         Err(e) => eprintln!("handshake failed: {e}"),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ws13_codec::role::NoMasking;
use ws13_codec::{CloseCode, Connection, MaskKeySource, Role, State};

use crate::client::{ClientHandshakeStep, ClientOptions, HandshakeResponse, WsUrl};
use crate::error::{AcceptError, ConnectError, Error, Result};
use crate::mask_keys::OsMaskKeys;
use crate::message::Message;
use crate::server::{
    AcceptedRequest, HttpRequest, ServerHandshake, ServerOptions, ServerStep, http_response,
};
use crate::session::{READ_CHUNK, Session, WRITE_HIGH_WATER, negotiated};
use ws13_codec::deflate::PerMessageDeflate;

/// A byte stream the blocking driver can run on. Read timeouts let it keep
/// heartbeats and close timeouts; `shutdown` lets a server close TCP first, as
/// RFC 6455 §7.1.1 asks. The defaults do nothing, for streams without them
/// (then timers only fire when data arrives).
pub trait Transport: Read + Write {
    /// Bounds the next reads; `None` blocks indefinitely.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Closes the transport for both directions.
    fn shutdown(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Both)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, Shutdown::Both)
    }
}

/// What arrived on a server socket.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per connection and moved into its handler; boxing would only add an allocation"
)]
pub enum Accepted<S: Transport> {
    /// A WebSocket connection, and what its request said.
    WebSocket(WebSocket<S>, AcceptedRequest),
    /// A plain HTTP request (health check, page): answer it.
    Http(HttpConnection<S>),
}

/// A plain HTTP request on the WebSocket port, waiting for its answer.
#[derive(Debug)]
pub struct HttpConnection<S> {
    stream: S,
    /// The request.
    pub request: HttpRequest,
}

impl<S: Transport> HttpConnection<S> {
    /// Answers with `status`, a body, and `Connection: close`, then closes.
    pub fn respond(mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.stream
            .write_all(&http_response(status, content_type, body))?;
        self.stream.flush()?;
        self.stream.shutdown()
    }

    /// The stream, to answer the request some other way.
    pub fn into_stream(self) -> S {
        self.stream
    }
}

/// Reads a WebSocket handshake request from `stream` and answers it: 101 for a
/// valid request (then the connection is yours), 400/403/426/431 with a body
/// that names the problem for a broken one, and a plain HTTP request is handed
/// back to serve. Bounded by [`ServerOptions::handshake_timeout`] and the head
/// size limits.
pub fn accept<S: Transport>(
    mut stream: S,
    options: &ServerOptions,
) -> Result<Accepted<S>, AcceptError> {
    let mut handshake = ServerHandshake::new(options);
    let mut head = HeadBuffer::new(options.handshake_timeout);
    loop {
        match handshake.step(&head.buf, options) {
            ServerStep::NeedMore => {}
            ServerStep::Upgrade {
                response,
                head_len,
                request,
            } => {
                stream.write_all(&response)?;
                stream.flush()?;
                stream.set_read_timeout(None)?;
                let (config, deflate) = negotiated(
                    Role::Server,
                    options.protocol,
                    request.deflate.as_ref(),
                    options.deflate_settings,
                );
                let conn = Connection::server(config);
                let ws = WebSocket::new(stream, conn, &head.buf[head_len..], deflate);
                return Ok(Accepted::WebSocket(ws, request));
            }
            ServerStep::PlainHttp { request } => {
                stream.set_read_timeout(None)?;
                return Ok(Accepted::Http(HttpConnection { stream, request }));
            }
            ServerStep::Reject { response, error } => {
                refuse(&mut stream, &response);
                return Err(AcceptError::Rejected { error });
            }
            ServerStep::NotFound { response, path } => {
                refuse(&mut stream, &response);
                return Err(AcceptError::NoSuchEndpoint { path });
            }
        }
        match head.read_more(&mut stream)? {
            HeadRead::Data => {}
            HeadRead::Eof => return Err(AcceptError::Disconnected),
            HeadRead::TimedOut => return Err(AcceptError::Timeout(options.handshake_timeout)),
        }
    }
}

/// Writes a refusal and closes; best effort, the client may already be gone.
fn refuse<S: Transport>(stream: &mut S, response: &[u8]) {
    let _ = stream.write_all(response).and_then(|()| stream.flush());
    let _ = stream.shutdown();
}

/// Connects to a `ws://` URL over TCP and performs the handshake.
pub fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<TcpStream, OsMaskKeys>, HandshakeResponse), ConnectError> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(ConnectError::TlsUnsupported);
    }
    let stream = TcpStream::connect((url.host.as_str(), url.port))?;
    stream.set_nodelay(true)?;
    client(stream, &url, options)
}

/// Performs the client handshake for `url` over an established stream (plain
/// TCP, TLS, a Unix socket), validating the response as strictly as WebKit.
pub fn client<S: Transport>(
    mut stream: S,
    url: &WsUrl,
    options: &ClientOptions,
) -> Result<(WebSocket<S, OsMaskKeys>, HandshakeResponse), ConnectError> {
    let mut handshake = ClientHandshakeStep::new(url, options)?;
    stream.write_all(handshake.request_bytes())?;
    stream.flush()?;
    let mut head = HeadBuffer::new(options.handshake_timeout);
    loop {
        if let Some((response, head_len)) = handshake.step(&head.buf)? {
            stream.set_read_timeout(None)?;
            let (config, deflate) = negotiated(
                Role::Client,
                options.protocol,
                response.deflate.as_ref(),
                options.deflate_settings,
            );
            let conn = Connection::client(config, OsMaskKeys::new());
            return Ok((
                WebSocket::new(stream, conn, &head.buf[head_len..], deflate),
                response,
            ));
        }
        match head.read_more(&mut stream)? {
            HeadRead::Data => {}
            HeadRead::Eof => return Err(ConnectError::Disconnected),
            HeadRead::TimedOut => return Err(ConnectError::Timeout(options.handshake_timeout)),
        }
    }
}

/// Bytes of a handshake head being read under a deadline.
struct HeadBuffer {
    buf: Vec<u8>,
    deadline: Instant,
}

enum HeadRead {
    Data,
    Eof,
    TimedOut,
}

impl HeadBuffer {
    fn new(timeout: Duration) -> Self {
        HeadBuffer {
            buf: Vec::with_capacity(1024),
            deadline: Instant::now() + timeout,
        }
    }

    /// One read, bounded by the deadline. The head parsers bound the total.
    fn read_more<S: Transport>(&mut self, stream: &mut S) -> io::Result<HeadRead> {
        let mut chunk = [0u8; 4096];
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(HeadRead::TimedOut);
            }
            stream.set_read_timeout(Some(left))?;
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(HeadRead::Eof),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(HeadRead::Data);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// An established WebSocket connection over a blocking stream.
pub struct WebSocket<S: Transport, K: MaskKeySource = NoMasking> {
    stream: S,
    session: Session<K>,
    /// Read target, zeroed once (reads are then copied into the session buffer).
    scratch: Box<[u8]>,
    /// The transport was shut down.
    transport_closed: bool,
}

impl<S: Transport, K: MaskKeySource> std::fmt::Debug for WebSocket<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<S: Transport, K: MaskKeySource> WebSocket<S, K> {
    /// Wraps a stream whose handshake is done; `leftover` holds bytes received
    /// after the handshake head (the peer's first frames).
    pub fn from_parts(stream: S, conn: Connection<K>, leftover: &[u8]) -> Self {
        Self::new(stream, conn, leftover, None)
    }

    fn new(
        stream: S,
        conn: Connection<K>,
        leftover: &[u8],
        deflate: Option<PerMessageDeflate>,
    ) -> Self {
        WebSocket {
            stream,
            session: Session::new(conn, leftover, deflate),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            transport_closed: false,
        }
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.session.conn.state()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Reads the next message. Pings are answered automatically (and still
    /// returned); a close from the peer is answered and returned as
    /// [`Message::Close`], after which reads fail with
    /// [`Error::ConnectionClosed`]. Queued writes are flushed before blocking.
    pub fn read(&mut self) -> Result<Message> {
        loop {
            match self.session.next_message() {
                Ok(Some(message)) => {
                    if matches!(message, Message::Close(_)) {
                        self.finish();
                    }
                    return Ok(message);
                }
                Ok(None) => {}
                Err(error) => {
                    self.finish();
                    return Err(error);
                }
            }
            if let Err(error) = self.flush().and_then(|()| self.fill()) {
                self.finish();
                return Err(error);
            }
        }
    }

    /// Queues a message; it is written by [`WebSocket::flush`], by the next
    /// [`WebSocket::read`] that has to wait for data, or at once when the queue
    /// passes 128 KiB.
    pub fn write(&mut self, message: Message) -> Result<()> {
        self.session.send(message)?;
        if self.session.out.len() > WRITE_HIGH_WATER {
            self.flush()?;
        }
        Ok(())
    }

    /// Queues and flushes a message.
    pub fn send(&mut self, message: Message) -> Result<()> {
        self.write(message)?;
        self.flush()
    }

    /// Writes everything queued, with as few writes as possible.
    pub fn flush(&mut self) -> Result<()> {
        while !self.session.out.is_empty() {
            let written = {
                let result = self.session.out.with_io_slices(|slices| match slices {
                    [only] => self.stream.write(only),
                    all => self.stream.write_vectored(all),
                });
                match result {
                    Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => return Err(e.into()),
                }
            };
            self.session.out.advance(written);
        }
        self.stream.flush()?;
        Ok(())
    }

    /// Closes the connection: sends a close frame and waits for the peer's
    /// (at most [`ws13_codec::Config::close_timeout`]), then closes the
    /// transport. Messages that arrive meanwhile are dropped.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        if self.state() == State::Open {
            self.session.close(code, reason)?;
        }
        loop {
            match self.read() {
                Ok(_) => {}
                Err(Error::ConnectionClosed) => return Ok(()),
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads once into the session buffer, waking for the core's deadline.
    fn fill(&mut self) -> Result<()> {
        let timeout = self.session.time_to_deadline();
        if timeout == Some(Duration::ZERO) {
            self.session.handle_timeout();
            return Ok(());
        }
        self.stream
            .set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        // A buffer a large message grew is let go before the next read.
        self.session.release_idle_buffer();
        match self.stream.read(&mut self.scratch) {
            Ok(0) => Err(self.session.eof_error()),
            Ok(n) => {
                self.session.take_read(&self.scratch[..n]);
                Ok(())
            }
            Err(e) if is_timeout(&e) => {
                self.session.handle_timeout();
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Once the core is closed: write what is queued (the close frame) and
    /// close the transport. A server closes first (RFC 6455 §7.1.1); a client
    /// gives the server a moment to do so.
    fn finish(&mut self) {
        if self.transport_closed || self.state() != State::Closed {
            return;
        }
        let _ = self.flush();
        if self.session.conn.role() == Role::Client && !self.session.eof {
            let wait = self
                .session
                .conn
                .config()
                .close_timeout
                .min(Duration::from_secs(2));
            let _ = self
                .stream
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))));
            while matches!(self.stream.read(&mut self.scratch), Ok(n) if n > 0) {}
        }
        let _ = self.stream.shutdown();
        self.transport_closed = true;
    }
}

impl<S: Transport, K: MaskKeySource> Drop for WebSocket<S, K> {
    /// Dropping an open connection performs the close handshake (1000), bounded
    /// by the close timeout, so the peer is never left waiting on a silent TCP
    /// connection.
    fn drop(&mut self) {
        if self.state() != State::Closed {
            let _ = self.close(CloseCode::NORMAL, "");
        }
        self.finish();
    }
}
