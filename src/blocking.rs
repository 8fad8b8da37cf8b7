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
use ws13_codec::{CloseCode, Connection, MaskKeySource, State};

use crate::client::{ClientHandshakeStep, ClientOptions, HandshakeResponse, WsUrl};
use crate::error::{AcceptError, ConnectError, Error, Result};
use crate::mask_keys::OsMaskKeys;
use crate::message::{Message, PeerClose};
use crate::prepared::PreparedMessage;
use crate::server::{
    AcceptedRequest, PlainHttpRequest, ServerHandshake, ServerOptions, ServerStep, http_response,
};
use crate::socket::{READ_CHUNK, Socket, TransportStatus};

mod split;
pub use split::{ReadHalf, ReuniteError, SplitTransport, WriteHalf};
mod tunnel;
pub use tunnel::{connect_tcp, proxy_tunnel};

/// A byte stream the blocking driver can run on. Read and write timeouts let
/// it keep heartbeats and bound the close; `shutdown` lets a server close TCP
/// first, as RFC 6455 §7.1.1 asks. The defaults do nothing, for streams
/// without them (then timers only fire when data arrives, and writes to a
/// peer that reads nothing may block).
pub trait Transport: Read + Write {
    /// Bounds the next reads; `None` blocks indefinitely.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Bounds the next writes; `None` blocks indefinitely.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
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

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
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

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
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
    pub request: PlainHttpRequest,
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
/// valid request (then the connection is yours), 400/403/404/426/431 with a
/// body that names the problem for a broken one, and a plain HTTP request is
/// handed back to serve. Bounded by [`ServerOptions::handshake_timeout`] and
/// the head size limits.
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
                let mut socket = Socket::accepted(options, &request, Instant::now());
                socket.handle_data(&head.buf[head_len..]);
                return Ok(Accepted::WebSocket(
                    WebSocket::from_socket(stream, socket),
                    request,
                ));
            }
            ServerStep::PlainHttp { request } => {
                stream.set_read_timeout(None)?;
                return Ok(Accepted::Http(HttpConnection { stream, request }));
            }
            ServerStep::Refuse { response, error } => {
                // Best effort: the client may already be gone.
                let _ = stream.write_all(&response).and_then(|()| stream.flush());
                let _ = stream.shutdown();
                return Err(error);
            }
        }
        match head.read_more(&mut stream)? {
            HeadRead::Data => {}
            HeadRead::Eof => return Err(AcceptError::Disconnected),
            HeadRead::TimedOut => return Err(AcceptError::Timeout(options.handshake_timeout)),
        }
    }
}

/// Connects to a `ws://` URL over TCP (through the proxy
/// [`ClientOptions::proxy`] chooses, by default from the environment: see
/// [`connect_tcp`]) and performs the handshake.
pub fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<TcpStream, OsMaskKeys>, HandshakeResponse), ConnectError> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(ConnectError::TlsUnsupported);
    }
    let stream = connect_tcp(&url, options)?;
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
            let mut socket =
                Socket::connected(options, &response, OsMaskKeys::new(), Instant::now());
            socket.handle_data(&head.buf[head_len..]);
            return Ok((WebSocket::from_socket(stream, socket), response));
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

/// How long until `deadline`, at least 1 ms (a zero timeout means "none"
/// to the socket APIs); `None` without a deadline.
fn timeout_until(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|at| {
        at.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}

/// The transport and the socket it carries: the I/O steps both the whole
/// connection and its split halves are made of.
struct Link<S: Transport, K: MaskKeySource> {
    stream: S,
    socket: Socket<K>,
    /// The transport was shut down.
    transport_closed: bool,
}

/// What to do before the next read.
enum ReadPlan {
    /// A deadline passed and was handled: look at the socket again.
    TimerFired,
    /// Read, with this timeout (`None`: block).
    Read(Option<Duration>),
}

impl<S: Transport, K: MaskKeySource> Link<S, K> {
    /// Writes everything queued, with as few writes as possible. While the
    /// transport refuses bytes (a peer that stopped reading), the socket's
    /// timers keep running: each write waits at most until the socket's
    /// deadline, so a missed heartbeat still fails the connection.
    fn flush(&mut self) -> Result<()> {
        self.flush_until(None)
    }

    /// [`Link::flush`], giving up at `cap` as well.
    fn flush_until(&mut self, cap: Option<Instant>) -> Result<()> {
        let mut timeout_armed = false;
        while self.socket.transmit_len() > 0 {
            if !timeout_armed {
                let deadline = match (self.socket.poll_timeout(), cap) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                self.stream.set_write_timeout(timeout_until(deadline))?;
                timeout_armed = true;
            }
            let result = self.socket.with_transmit(|slices| match slices {
                [only] => self.stream.write(only),
                all => self.stream.write_vectored(all),
            });
            match result {
                Ok(0) => return Err(self.transport_error(io::ErrorKind::WriteZero.into())),
                Ok(written) => self.socket.advance_transmit(written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    let now = Instant::now();
                    self.socket.handle_timeout(now);
                    if let Some(error) = self.socket.error() {
                        // The close frame that reports it waits behind what
                        // is queued; finishing writes it, bounded.
                        return Err(Error::Protocol(error));
                    }
                    if cap.is_some_and(|cap| cap <= now)
                        || self.socket.poll_transport() == TransportStatus::Close
                    {
                        return Err(self.transport_error(e));
                    }
                    timeout_armed = false;
                }
                Err(e) => return Err(self.transport_error(e)),
            }
        }
        self.stream.flush()?;
        Ok(())
    }

    /// Tells the socket the transport broke, and passes the error on.
    fn transport_error(&mut self, error: io::Error) -> Error {
        self.socket.handle_transport_error();
        error.into()
    }

    /// Feeds a passed deadline to the socket, or says how long the next
    /// read may wait for one.
    fn plan_read(&mut self) -> ReadPlan {
        let deadline = self.socket.poll_timeout();
        if deadline.is_some_and(|at| at <= Instant::now()) {
            self.socket.handle_timeout(Instant::now());
            return ReadPlan::TimerFired;
        }
        ReadPlan::Read(timeout_until(deadline))
    }

    /// Hands the outcome of a read into `scratch` to the socket.
    fn take_read(&mut self, read: io::Result<usize>, scratch: &[u8]) -> Result<()> {
        match read {
            Ok(0) => self.socket.handle_eof(),
            Ok(n) => self.socket.handle_data(&scratch[..n]),
            Err(e) if is_timeout(&e) => self.socket.handle_timeout(Instant::now()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(self.transport_error(e)),
        }
        Ok(())
    }

    /// Reads once into the socket (from `reader`, or from the transport
    /// itself when `None`), waking for its deadline.
    fn fill(&mut self, reader: Option<&mut S>, scratch: &mut [u8]) -> Result<()> {
        let ReadPlan::Read(timeout) = self.plan_read() else {
            return Ok(());
        };
        let reader = match reader {
            Some(reader) => reader,
            None => &mut self.stream,
        };
        let read = reader
            .set_read_timeout(timeout)
            .and_then(|()| reader.read(scratch));
        self.take_read(read, scratch)
    }

    /// Once the WebSocket ended: finish as the socket says (write the last
    /// frames; a client waits for the server's FIN), each wait bounded by
    /// the socket's deadline, then close the transport.
    fn finish(&mut self, mut reader: Option<&mut S>, scratch: &mut [u8]) {
        if self.transport_closed {
            return;
        }
        loop {
            match self.socket.poll_transport() {
                TransportStatus::Open => return,
                TransportStatus::Close => break,
                TransportStatus::Finishing => {}
            }
            if self.socket.transmit_len() > 0 {
                // Each write waits at most until the socket's deadline, which
                // includes the end of finishing.
                let _ = self.flush();
            } else {
                // Whatever still arrives is dropped; end of file ends the wait.
                let _ = self.fill(reader.as_deref_mut(), scratch);
            }
        }
        let _ = self.stream.shutdown();
        self.transport_closed = true;
    }

    /// After a message is read: a pong or close reply the socket queued
    /// goes out now (a failed write is reported by the next call), and a
    /// peer's close ends the connection.
    fn after_message(&mut self, message: &Message, reader: Option<&mut S>, scratch: &mut [u8]) {
        if self.socket.has_urgent_transmit() {
            let _ = self.flush();
        }
        if matches!(message, Message::Close(_)) {
            self.finish(reader, scratch);
        }
    }

    /// Drop's part: queue a close (1000) if open, one bounded attempt to
    /// write, close the transport; never waits for the peer.
    fn abandon(&mut self) {
        if self.transport_closed {
            return;
        }
        if self.socket.state() == State::Open {
            let _ = self.socket.close(CloseCode::NORMAL, "");
        }
        let _ = self.flush_until(Some(Instant::now() + Duration::from_millis(100)));
        let _ = self.stream.shutdown();
        self.transport_closed = true;
    }
}

/// An established WebSocket connection over a blocking stream.
///
/// Sending [`Message::Close`] (or calling [`WebSocket::start_close`]) starts
/// the close handshake; keep reading until [`Error::ConnectionClosed`] to
/// finish it, or call [`WebSocket::close`], which does both.
pub struct WebSocket<S: Transport, K: MaskKeySource = NoMasking> {
    link: Link<S, K>,
    /// Read target, zeroed once (reads are then copied into the socket).
    scratch: Box<[u8]>,
}

impl<S: Transport, K: MaskKeySource> std::fmt::Debug for WebSocket<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<S: Transport, K: MaskKeySource> WebSocket<S, K> {
    /// Wraps a stream whose handshake is done; `leftover` holds bytes received
    /// after the handshake head (the peer's first frames). No extension is
    /// in use; for one, build the [`Socket`] with it and use
    /// [`WebSocket::from_socket`].
    pub fn from_parts(stream: S, conn: Connection<K>, leftover: &[u8]) -> Self {
        let mut socket = Socket::from_connection(conn, Instant::now());
        socket.handle_data(leftover);
        Self::from_socket(stream, socket)
    }

    /// Runs `socket` over `stream` (whose handshake is done).
    pub fn from_socket(stream: S, socket: Socket<K>) -> Self {
        WebSocket {
            link: Link {
                stream,
                socket,
                transport_closed: false,
            },
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.link.socket.state()
    }

    /// The peer's close frame, once it arrived.
    pub fn peer_close(&self) -> PeerClose {
        self.link.socket.peer_close()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.link.stream
    }

    /// The underlying stream, mutably (to set socket options). Reading from
    /// or writing to it directly corrupts the WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.link.stream
    }

    /// Reads the next message. Pings are answered automatically (and still
    /// returned); a close from the peer is answered and returned as
    /// [`Message::Close`], after which reads fail with
    /// [`Error::ConnectionClosed`]. Queued writes are flushed before blocking.
    pub fn read(&mut self) -> Result<Message> {
        let link = &mut self.link;
        loop {
            match link.socket.poll_message() {
                Ok(Some(message)) => {
                    link.after_message(&message, None, &mut self.scratch);
                    return Ok(message);
                }
                Ok(None) => {}
                Err(error) => {
                    link.finish(None, &mut self.scratch);
                    return Err(error);
                }
            }
            if let Err(error) = link
                .flush()
                .and_then(|()| link.fill(None, &mut self.scratch))
            {
                link.finish(None, &mut self.scratch);
                return Err(error);
            }
        }
    }

    /// Queues a message; it is written by [`WebSocket::flush`], by the next
    /// [`WebSocket::read`] that has to wait for data, or at once when the queue
    /// passes 128 KiB. [`Message::Close`] starts the close handshake.
    pub fn write(&mut self, message: Message) -> Result<()> {
        self.link.socket.send(message)?;
        if self.link.socket.is_send_buffer_full() {
            self.link.flush()?;
        }
        Ok(())
    }

    /// Queues and flushes a message.
    pub fn send(&mut self, message: Message) -> Result<()> {
        self.write(message)?;
        self.flush()
    }

    /// Queues a [`PreparedMessage`] by reference (see
    /// [`Socket::send_prepared`]), written like [`WebSocket::write`]'s.
    pub fn write_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        self.link.socket.send_prepared(message)?;
        if self.link.socket.is_send_buffer_full() {
            self.link.flush()?;
        }
        Ok(())
    }

    /// Queues and flushes a [`PreparedMessage`].
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        self.write_prepared(message)?;
        self.flush()
    }

    /// Writes everything queued, with as few writes as possible.
    pub fn flush(&mut self) -> Result<()> {
        self.link.flush()
    }

    /// Starts the close handshake with `code` and `reason` (queued, written
    /// by the next flush or read); read until [`Error::ConnectionClosed`]
    /// to finish it.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.link.socket.close(code, reason)
    }

    /// Closes the connection: sends a close frame (unless one was sent) and
    /// waits for the peer's (at most [`ws13_codec::Config::close_timeout`]),
    /// then closes the transport. Messages that arrive meanwhile are
    /// dropped. Returns how the peer answered.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<PeerClose> {
        if self.state() == State::Open {
            self.start_close(code, reason)?;
        }
        loop {
            match self.read() {
                Ok(_) => {}
                Err(Error::ConnectionClosed) => break,
                Err(error) => return Err(error),
            }
        }
        Ok(self.peer_close())
    }
}

impl<S: Transport, K: MaskKeySource> Drop for Link<S, K> {
    /// Dropping an open connection (or the last of its halves) never waits
    /// for the peer: it queues a close (1000), makes one bounded attempt to
    /// write what is queued, and closes the transport.
    /// [`WebSocket::close`] performs the whole close handshake.
    fn drop(&mut self) {
        self.abandon();
    }
}
