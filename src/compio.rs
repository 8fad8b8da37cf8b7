//! The io_uring driver (feature `compio`): WebSockets over
//! [`compio`](https://docs.rs/compio)'s completion-based runtime, which
//! submits every connection's reads and writes to one io_uring and reaps
//! their completions in batches.
//!
//! Like the blocking and tokio drivers it only moves bytes and keeps time
//! around a [`Socket`]: the protocol is decided there.
//!
//! Completion-based I/O owns its buffers while the kernel works on them, so
//! the driver keeps its operations in the connection, never in a future that
//! could be dropped: [`WebSocket::next`] can be dropped (e.g. in a `select!`)
//! without losing bytes, since the receive it started stays submitted and is
//! taken up by the next call. Each connection owns one receive buffer of
//! [`READ_CHUNK`] bytes (the kernel's while the receive is pending) and one
//! send buffer that holds a copy of (at most 64 KiB of) the socket's queued
//! bytes while they are written. Received bytes are handed to
//! [`Socket::handle_data`]. Output is coalesced as in the tokio driver:
//! [`WebSocket::feed`] only queues, and [`WebSocket::next`] writes
//! everything queued in one send before it waits for input.
//!
//! The runtime must run on io_uring: [`runtime`] builds one and fails with a
//! message that says so when the kernel refuses io_uring.
//!
//! ```no_run
//! use ws13::compio::{Accepted, accept};
//! use ws13::ServerOptions;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     ws13::compio::runtime()?.block_on(async {
//!         let listener = compio::net::TcpListener::bind("127.0.0.1:9001").await?;
//!         loop {
//!             let (tcp, _) = listener.accept().await?;
//!             compio::runtime::spawn(async move {
//!                 match accept(tcp, &ServerOptions::default()).await {
//!                     Ok(Accepted::WebSocket(mut ws, _request)) => {
//!                         while let Some(Ok(message)) = ws.next().await {
//!                             if message.is_data() && ws.feed(message).await.is_err() {
//!                                 break;
//!                             }
//!                         }
//!                     }
//!                     Ok(Accepted::Http(http)) => {
//!                         let _ = http.respond(200, "text/plain", b"ok\n").await;
//!                     }
//!                     Err(e) => eprintln!("handshake failed: {e}"),
//!                 }
//!             })
//!             .detach();
//!         }
//!     })
//! }
//! ```

use std::future::{Future, poll_fn};
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use compio::BufResult;
use compio::buf::IntoInner;
use compio::driver::op::{Recv, RecvFlags, Send, SendFlags};
use compio::driver::{DriverType, SharedFd, ToSharedFd};
use compio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;
use compio::runtime::{Runtime, Submit};
use ws13_codec::role::NoMasking;
use ws13_codec::{CloseCode, MaskKeySource, State};

use crate::client::{ClientHandshakeStep, ClientOptions, HandshakeResponse, WsUrl};
use crate::error::{AcceptError, ConnectError, Error, Result};
use crate::mask_keys::OsMaskKeys;
use crate::message::{Message, PeerClose};
use crate::server::{
    AcceptedRequest, PlainHttpRequest, ServerHandshake, ServerOptions, ServerStep, http_response,
};
use crate::socket::{READ_CHUNK, Socket, TransportStatus};

mod received;

/// The connection's file descriptor as compio's operations hold it.
type Fd = SharedFd<socket2::Socket>;

/// The most bytes one send takes from the socket's queue (copied into the
/// connection's send buffer, which is therefore at most this large). Large
/// messages go out in sends of this size; small ones queued together
/// (echoes of one receive) go out in one.
const MAX_SEND: usize = 64 * 1024;

/// The current time, as the socket takes it.
fn now() -> Instant {
    Instant::now()
}

/// Builds a compio runtime on io_uring, or fails with an error that says
/// io_uring is not available (seccomp in containers, or
/// `kernel.io_uring_disabled`), so a server never starts on something else
/// or hangs.
pub fn runtime() -> io::Result<Runtime> {
    let runtime = Runtime::new().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "ws13::compio needs io_uring, and the kernel refused to set one up ({error}); \
                 check kernel.io_uring_disabled and the container's seccomp profile"
            ),
        )
    })?;
    match runtime.driver_type() {
        DriverType::IoUring => Ok(runtime),
        other => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("ws13::compio needs io_uring, but compio chose the {other:?} driver"),
        )),
    }
}

/// What arrived on a server socket.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per connection and moved into its handler; boxing would only add an allocation"
)]
pub enum Accepted {
    /// A WebSocket connection, and what its request said.
    WebSocket(WebSocket, AcceptedRequest),
    /// A plain HTTP request (health check, page): answer it.
    Http(HttpConnection),
}

/// A plain HTTP request on the WebSocket port, waiting for its answer.
#[derive(Debug)]
pub struct HttpConnection {
    stream: TcpStream,
    /// The request.
    pub request: PlainHttpRequest,
}

impl HttpConnection {
    /// Answers with `status`, a body, and `Connection: close`, then closes.
    pub async fn respond(mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        let BufResult(written, _) = self
            .stream
            .write_all(http_response(status, content_type, body))
            .await;
        written?;
        self.stream.shutdown().await
    }

    /// The stream, to answer the request some other way.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

/// Reads more of a handshake head and appends it to `head`; `Ok(0)` at end
/// of file. (A receive fills its buffer from the start, so it goes into a
/// buffer of its own.)
async fn read_more(stream: &TcpStream, head: &mut Vec<u8>) -> io::Result<usize> {
    let mut reader = stream;
    let BufResult(read, chunk) = reader.read(Vec::with_capacity(2048)).await;
    head.extend_from_slice(&chunk);
    read
}

/// Writes all of `bytes` (a handshake head).
async fn write_head(stream: &TcpStream, bytes: Vec<u8>) -> io::Result<()> {
    let mut writer = stream;
    let BufResult(written, _) = writer.write_all(bytes).await;
    written
}

/// Reads a handshake request and answers it: 101 for a valid request,
/// 400/403/404/426/431 with a body that names the problem for a broken one; a
/// plain HTTP request is handed back to serve. Bounded by
/// [`ServerOptions::handshake_timeout`] and the head size limits; the decide
/// hook runs as in the other drivers.
pub async fn accept(stream: TcpStream, options: &ServerOptions) -> Result<Accepted, AcceptError> {
    let timeout = options.handshake_timeout;
    let read_head = async {
        let mut handshake = ServerHandshake::new(options);
        let mut buf = Vec::with_capacity(1024);
        loop {
            let step = handshake.step(&buf, options);
            if !matches!(step, ServerStep::NeedMore) {
                return Ok((step, buf));
            }
            if read_more(&stream, &mut buf).await? == 0 {
                return Err(AcceptError::Disconnected);
            }
        }
    };
    let (step, buf) = compio::time::timeout(timeout, read_head)
        .await
        .map_err(|_| AcceptError::Timeout(timeout))??;
    match step {
        ServerStep::NeedMore => unreachable!("the loop above returns complete steps only"),
        ServerStep::Upgrade {
            response,
            head_len,
            request,
        } => {
            write_head(&stream, response).await?;
            let mut socket = Socket::accepted(options, &request, now());
            socket.handle_data(&buf[head_len..]);
            Ok(Accepted::WebSocket(
                WebSocket::from_socket(stream, socket),
                request,
            ))
        }
        ServerStep::PlainHttp { request } => Ok(Accepted::Http(HttpConnection { stream, request })),
        ServerStep::Refuse { response, error } => {
            // Best effort: the client may already be gone.
            let _ = write_head(&stream, response).await;
            let _ = socket2::SockRef::from(&stream).shutdown(Shutdown::Write);
            Err(error)
        }
    }
}

/// Connects to a `ws://` URL over TCP and performs the handshake.
pub async fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<OsMaskKeys>, HandshakeResponse), ConnectError> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(ConnectError::TlsUnsupported);
    }
    let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    stream.set_nodelay(true)?;
    client(stream, &url, options).await
}

/// Performs the client handshake for `url` over an established TCP stream,
/// validating the response as strictly as WebKit does.
pub async fn client(
    stream: TcpStream,
    url: &WsUrl,
    options: &ClientOptions,
) -> Result<(WebSocket<OsMaskKeys>, HandshakeResponse), ConnectError> {
    let mut handshake = ClientHandshakeStep::new(url, options)?;
    let timeout = options.handshake_timeout;
    let exchange = async {
        write_head(&stream, handshake.request_bytes().to_vec()).await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            if let Some((response, head_len)) = handshake.step(&buf)? {
                return Ok((response, head_len, buf));
            }
            if read_more(&stream, &mut buf).await? == 0 {
                return Err(ConnectError::Disconnected);
            }
        }
    };
    let (response, head_len, buf) = compio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    let mut socket = Socket::connected(options, &response, OsMaskKeys::new(), now());
    socket.handle_data(&buf[head_len..]);
    Ok((WebSocket::from_socket(stream, socket), response))
}

/// An established WebSocket connection on compio's io_uring runtime.
///
/// [`next`](Self::next) yields received messages: pings, pongs and the
/// peer's close too (their answers are already handled), then `None`. A
/// protocol error is yielded once, after the close frame that reports it to
/// the peer has been written. [`feed`](Self::feed) queues a message,
/// [`send`](Self::send) queues it and writes everything queued;
/// [`close`](Self::close) performs the close handshake.
pub struct WebSocket<K: MaskKeySource = NoMasking> {
    stream: TcpStream,
    fd: Fd,
    socket: Socket<K>,
    /// The receive buffer while no receive is submitted.
    read_buf: Option<Vec<u8>>,
    /// The submitted receive, which owns the buffer until it completes.
    reading: Option<Submit<Recv<Vec<u8>, Fd>>>,
    /// The send buffer while no send is submitted.
    write_buf: Option<Vec<u8>>,
    /// The submitted send: a copy of the front of the socket's transmit
    /// queue, which gives those bytes up once the send completes.
    writing: Option<Submit<Send<Vec<u8>, Fd>>>,
    /// A sleep until `timer_deadline` (the socket's `poll_timeout` when it
    /// was last looked at); `None` once it fired.
    timer: Option<Pin<Box<dyn Future<Output = ()>>>>,
    timer_deadline: Option<Instant>,
    /// The connection has ended (or yielded its final error).
    ended: bool,
    transport_closed: bool,
}

impl<K: MaskKeySource> std::fmt::Debug for WebSocket<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("state", &self.socket.state())
            .finish_non_exhaustive()
    }
}

impl<K: MaskKeySource> WebSocket<K> {
    /// Runs `socket` over `stream` (whose handshake is done). Must be called
    /// inside a compio runtime.
    pub fn from_socket(stream: TcpStream, socket: Socket<K>) -> Self {
        let fd = stream.to_shared_fd();
        WebSocket {
            stream,
            fd,
            socket,
            read_buf: None,
            reading: None,
            write_buf: None,
            writing: None,
            timer: None,
            timer_deadline: None,
            ended: false,
            transport_closed: false,
        }
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.socket.state()
    }

    /// The peer's close frame, once it arrived.
    pub fn peer_close(&self) -> PeerClose {
        self.socket.peer_close()
    }

    /// The underlying TCP stream (to read its addresses or set options).
    /// Reading from or writing to it directly corrupts the WebSocket stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Whether the driver has shut the transport down (the WebSocket ended
    /// and its last frames are out, or the transport failed).
    pub fn is_transport_closed(&self) -> bool {
        self.transport_closed
    }

    /// The next message; `None` once the connection ended cleanly. Dropping
    /// the returned future loses nothing: a receive it started stays with
    /// the connection.
    pub async fn next(&mut self) -> Option<Result<Message>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Queues a message, to be written by the next [`next`](Self::next),
    /// [`flush`](Self::flush) or [`send`](Self::send) (so an echo loop
    /// answers all messages of one receive with one send). When more than
    /// 128 KiB is queued it first writes, so a slow peer cannot make us
    /// buffer without bound. [`Message::Close`] starts the close handshake.
    pub async fn feed(&mut self, message: Message) -> Result<()> {
        while self.socket.is_send_buffer_full() {
            poll_fn(|cx| self.poll_write_with_timers(cx)).await?;
        }
        self.socket.send(message)
    }

    /// Queues a message and writes everything queued.
    pub async fn send(&mut self, message: Message) -> Result<()> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Writes everything queued; the socket's timers keep running meanwhile.
    pub async fn flush(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_write_with_timers(cx)).await
    }

    /// Starts the close handshake with `code` and `reason`; keep calling
    /// [`next`](Self::next) (or call [`close`](Self::close)) to finish it.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.socket.close(code, reason)
    }

    /// Performs the close handshake with `code` and `reason` (unless a close
    /// was already sent), waiting for the peer's close at most the configured
    /// close timeout; messages arriving meanwhile are dropped. Returns how the
    /// peer answered, or the error that ended the connection meanwhile, as
    /// the other drivers do.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<PeerClose> {
        if self.state() == State::Open {
            self.start_close(code, reason)?;
        }
        loop {
            match self.next().await {
                Some(Ok(_)) => {}
                None => break,
                Some(Err(error)) => return Err(error),
            }
        }
        poll_fn(|cx| self.poll_finish(cx)).await;
        Ok(self.peer_close())
    }

    /// Polls for the next message (see [`next`](Self::next)).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        if self.ended {
            ready!(self.poll_finish(cx));
            return Poll::Ready(None);
        }
        loop {
            match self.socket.poll_message() {
                Ok(Some(message)) => {
                    // A pong or a close reply goes out now; echoes of data
                    // messages wait until input is needed, so a batch of
                    // them leaves in one send.
                    if self.socket.has_urgent_transmit() {
                        let _ = self.poll_write_out(cx);
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(error) => {
                    ready!(self.poll_finish(cx));
                    self.ended = true;
                    return Poll::Ready(match error {
                        Error::ConnectionClosed => None,
                        error => Some(Err(error)),
                    });
                }
            }
            // Everything queued goes out before waiting for input.
            if let Poll::Ready(Err(error)) = self.poll_write_out(cx) {
                self.ended = true;
                return Poll::Ready(Some(Err(error.into())));
            }
            if self.poll_timer(cx).is_ready() {
                continue;
            }
            if let Err(error) = ready!(self.poll_read_input(cx)) {
                self.ended = true;
                return Poll::Ready(Some(Err(error.into())));
            }
        }
    }

    /// Writes queued bytes until the queue is empty, or `Pending` while a
    /// send is in the kernel's hands.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(writing) = self.writing.as_mut() {
                let BufResult(result, op) = ready!(Pin::new(writing).poll(cx));
                self.writing = None;
                let mut buf = op.into_inner();
                buf.clear();
                // Kept for the next send (it is at most MAX_SEND).
                self.write_buf = Some(buf);
                match result {
                    Ok(written) if written > 0 => self.socket.advance_transmit(written),
                    Ok(_) => {
                        return Poll::Ready(Err(
                            self.transport_error(io::ErrorKind::WriteZero.into())
                        ));
                    }
                    Err(error) => return Poll::Ready(Err(self.transport_error(error))),
                }
            }
            if self.socket.transmit_len() == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut buf = self.write_buf.take().unwrap_or_default();
            let len = self.socket.transmit_len().min(MAX_SEND);
            buf.reserve(len);
            self.socket.with_transmit(|slices| {
                for slice in slices {
                    let room = len - buf.len();
                    if room == 0 {
                        break;
                    }
                    buf.extend_from_slice(&slice[..slice.len().min(room)]);
                }
            });
            let send = Send::new(self.fd.clone(), buf, SendFlags::NOSIGNAL);
            self.writing = Some(compio::runtime::submit(send));
        }
    }

    /// Tells the socket the transport broke, and passes the error on.
    fn transport_error(&mut self, error: io::Error) -> io::Error {
        self.socket.handle_transport_error();
        error
    }

    /// Receives what arrives into the socket: submits a receive unless one
    /// is submitted, and takes up its result.
    fn poll_read_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let reading = self.reading.get_or_insert_with(|| {
            let mut buf = self
                .read_buf
                .take()
                .unwrap_or_else(|| Vec::with_capacity(READ_CHUNK));
            buf.clear();
            compio::runtime::submit(Recv::new(self.fd.clone(), buf, RecvFlags::empty()))
        });
        // The buffer was empty when submitted (cleared above).
        let BufResult(result, buf) = received::received(ready!(Pin::new(reading).poll(cx)));
        self.reading = None;
        let result = match result {
            Ok(0) => {
                self.socket.handle_eof();
                Ok(())
            }
            Ok(_) => {
                self.socket.handle_data(&buf);
                Ok(())
            }
            Err(error) => Err(self.transport_error(error)),
        };
        self.read_buf = Some(buf);
        Poll::Ready(result)
    }

    /// Feeds the time to the socket when its deadline has passed; `Ready`
    /// if it did.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.socket.poll_timeout();
        if deadline != self.timer_deadline {
            self.timer_deadline = deadline;
            self.timer = None;
            match deadline {
                None => return Poll::Pending,
                // A deadline already passed (a command started a timer).
                Some(at) if at <= now() => {
                    self.fire_timer();
                    return Poll::Ready(());
                }
                Some(at) => self.timer = Some(Box::pin(compio::time::sleep_until(at))),
            }
        }
        let Some(timer) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        ready!(timer.as_mut().poll(cx));
        self.fire_timer();
        Poll::Ready(())
    }

    fn fire_timer(&mut self) {
        self.timer = None;
        self.timer_deadline = None;
        self.socket.handle_timeout(now());
    }

    /// Writes queued bytes; while the transport does not take them, the
    /// socket's timers keep running, so a peer that stopped reading still
    /// fails its heartbeat. `Err` once the connection failed or the
    /// transport broke.
    fn poll_write_with_timers(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            if let Some(error) = self.socket.error() {
                return Poll::Ready(Err(Error::Protocol(error)));
            }
            match self.poll_write_out(cx) {
                Poll::Ready(result) => return Poll::Ready(result.map_err(Error::from)),
                Poll::Pending => ready!(self.poll_timer(cx)),
            }
        }
    }

    /// Once the WebSocket ended: finish as the socket says (write the last
    /// frames; a client waits for the server's FIN), then shut the
    /// transport down. Bounded by the socket's deadline.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.transport_closed {
            return Poll::Ready(());
        }
        loop {
            match self.socket.poll_transport() {
                // The peer ended without a close: the transport stays until
                // the application closes or drops the connection.
                TransportStatus::Open => return Poll::Ready(()),
                TransportStatus::Close => break,
                TransportStatus::Finishing => {}
            }
            // Whatever still arrives is dropped by the socket; end of file
            // ends the wait.
            let progress = if self.socket.transmit_len() > 0 {
                self.poll_write_out(cx).map(drop)
            } else {
                self.poll_read_input(cx).map(drop)
            };
            if progress.is_pending() && self.poll_timer(cx).is_pending() {
                return Poll::Pending;
            }
        }
        // The peer may be gone already; the descriptor closes on drop.
        let _ = socket2::SockRef::from(&self.stream).shutdown(Shutdown::Write);
        self.transport_closed = true;
        Poll::Ready(())
    }
}

impl<K: MaskKeySource> Drop for WebSocket<K> {
    /// An async value cannot wait in `drop`: dropping an open connection
    /// queues a close (1000) and makes one attempt to send it without
    /// waiting (`MSG_DONTWAIT`), so the peer learns the connection ended
    /// instead of seeing TCP vanish. Use [`WebSocket::close`] for the full
    /// close handshake with its bounded wait.
    fn drop(&mut self) {
        if self.transport_closed || self.socket.state() != State::Open {
            return;
        }
        // Bytes of a send still in the kernel's hands would be cut by a
        // frame sent beside them.
        if self.writing.is_some() || self.socket.close(CloseCode::NORMAL, "").is_err() {
            return;
        }
        let mut buf = Vec::with_capacity(self.socket.transmit_len());
        self.socket.with_transmit(|slices| {
            for slice in slices {
                buf.extend_from_slice(slice);
            }
        });
        let flags = (SendFlags::DONTWAIT | SendFlags::NOSIGNAL).bits();
        let _ = socket2::SockRef::from(&self.stream).send_with_flags(&buf, flags as _);
    }
}
