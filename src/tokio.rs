//! The async driver (feature `tokio`): WebSockets over any
//! `AsyncRead + AsyncWrite` stream, as a [`Stream`] of messages and a [`Sink`]
//! for them.
//!
//! Like the blocking driver it only moves bytes and keeps time: the protocol
//! core decides everything. Output is coalesced: [`Sink::start_send`] (e.g.
//! `SinkExt::feed`) only queues, and polling the stream writes everything
//! queued in one vectored write before it waits for more input, so an echo
//! loop answers all messages of one read with one syscall. Pongs and close
//! replies go out the same way, promptly, without waiting for a user write.
//! `SinkExt::send` flushes at once.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use ws13::tokio::{Accepted, accept};
//! use ws13::ServerOptions;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         match accept(tcp, &ServerOptions::default()).await {
//!             Ok(Accepted::WebSocket(mut ws, _request)) => {
//!                 while let Some(Ok(message)) = ws.next().await {
//!                     if message.is_data() && ws.feed(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             }
//!             Ok(Accepted::Http(http)) => {
//!                 let _ = http.respond(200, "text/plain", b"ok\n").await;
//!             }
//!             Err(e) => eprintln!("handshake failed: {e}"),
//!         }
//!     });
//! }
//! # }
//! ```

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_util::io::poll_read_buf;
use ws13_codec::role::NoMasking;
use ws13_codec::{CloseCode, Config, Connection, MaskKeySource, State};

use crate::client::{ClientHandshakeStep, ClientOptions, HandshakeResponse, WsUrl};
use crate::error::{AcceptError, ConnectError, Error, Result};
use crate::mask_keys::OsMaskKeys;
use crate::message::{Message, PeerClose};
use crate::prepared::PreparedMessage;
use crate::server::{
    AcceptedRequest, PlainHttpRequest, ServerHandshake, ServerOptions, ServerStep, http_response,
};
use crate::socket::{Extensions, READ_CHUNK, Socket, TransportStatus};

mod split;
pub use split::{ReadHalf, ReuniteError, WriteHalf, reunite};
mod reconnecting;
pub use reconnecting::{ConnectFuture, Reconnecting, reconnecting};
mod tunnel;
pub use tunnel::{connect_tcp, proxy_target, proxy_tunnel};
#[cfg(feature = "tls")]
pub(crate) use tunnel::{connect_tcp_via, connect_to_proxy};

/// The current time on tokio's clock (virtual when the runtime's time is
/// paused), as the socket takes it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Keeps the waker of the task in `cx` (unless it is the one kept).
fn remember(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if !slot
        .as_ref()
        .is_some_and(|waker| waker.will_wake(cx.waker()))
    {
        *slot = Some(cx.waker().clone());
    }
}

/// What arrived on a server socket.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per connection and moved into its handler; boxing would only add an allocation"
)]
pub enum Accepted<S: AsyncRead + AsyncWrite + Unpin> {
    /// A WebSocket connection, and what its request said.
    WebSocket(WebSocketStream<S>, AcceptedRequest),
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

impl<S: AsyncWrite + Unpin> HttpConnection<S> {
    /// Answers with `status`, a body, and `Connection: close`, then closes.
    pub async fn respond(mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.stream
            .write_all(&http_response(status, content_type, body))
            .await?;
        self.stream.flush().await?;
        self.stream.shutdown().await
    }

    /// The stream, to answer the request some other way.
    pub fn into_stream(self) -> S {
        self.stream
    }
}

/// Reads a handshake request and answers it: 101 for a valid request,
/// 400/403/404/426/431 with a body that names the problem for a broken one; a
/// plain HTTP request is handed back to serve. Bounded by
/// [`ServerOptions::handshake_timeout`] and the head size limits.
pub async fn accept<S>(mut stream: S, options: &ServerOptions) -> Result<Accepted<S>, AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let timeout = options.handshake_timeout;
    let read_head = async {
        let mut handshake = ServerHandshake::new(options);
        let mut buf = Vec::with_capacity(1024);
        loop {
            let step = handshake.step(&buf, options);
            if !matches!(step, ServerStep::NeedMore) {
                return Ok((step, buf));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(AcceptError::Disconnected);
            }
        }
    };
    let (step, buf) = tokio::time::timeout(timeout, read_head)
        .await
        .map_err(|_| AcceptError::Timeout(timeout))??;
    match step {
        ServerStep::NeedMore => unreachable!("the loop above returns complete steps only"),
        ServerStep::Upgrade {
            response,
            head_len,
            request,
        } => {
            stream.write_all(&response).await?;
            stream.flush().await?;
            let mut socket = Socket::accepted(options, &request, now());
            socket.handle_data(&buf[head_len..]);
            Ok(Accepted::WebSocket(
                WebSocketStream::from_socket(stream, socket),
                request,
            ))
        }
        ServerStep::PlainHttp { request } => Ok(Accepted::Http(HttpConnection { stream, request })),
        ServerStep::Refuse { response, error } => {
            // Best effort: the client may already be gone.
            let _ = stream.write_all(&response).await;
            let _ = stream.shutdown().await;
            Err(error)
        }
    }
}

/// Connects to a `ws://` URL over TCP (through the proxy
/// [`ClientOptions::proxy`] chooses, by default from the environment: see
/// [`connect_tcp`]) and performs the handshake.
pub async fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocketStream<TcpStream, OsMaskKeys>, HandshakeResponse), ConnectError> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(ConnectError::TlsUnsupported);
    }
    let stream = connect_tcp(&url, options).await?;
    client(stream, &url, options).await
}

/// Performs the client handshake for `url` over an established stream (TCP,
/// TLS, ...), validating the response as strictly as WebKit does.
pub async fn client<S>(
    mut stream: S,
    url: &WsUrl,
    options: &ClientOptions,
) -> Result<(WebSocketStream<S, OsMaskKeys>, HandshakeResponse), ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut handshake = ClientHandshakeStep::new(url, options)?;
    let timeout = options.handshake_timeout;
    let exchange = async {
        stream.write_all(handshake.request_bytes()).await?;
        stream.flush().await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            if let Some((response, head_len)) = handshake.step(&buf)? {
                return Ok((response, head_len, buf));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(ConnectError::Disconnected);
            }
        }
    };
    let (response, head_len, buf) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    let mut socket = Socket::connected(options, &response, OsMaskKeys::new(), now());
    socket.handle_data(&buf[head_len..]);
    Ok((WebSocketStream::from_socket(stream, socket), response))
}

/// An established WebSocket connection over an async stream: a [`Stream`] of
/// received [`Message`]s and a [`Sink`] for messages to send.
///
/// The stream yields pings, pongs and the peer's close as messages too (their
/// answers are already handled), then ends. A protocol error is yielded once,
/// after the close frame that reports it to the peer has been written.
/// Sending [`Message::Close`] starts the close handshake; keep polling the
/// stream (or call `SinkExt::close`) to finish it.
pub struct WebSocketStream<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin = NoMasking>
{
    stream: S,
    socket: Socket<K>,
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is set to (the socket's `poll_timeout` when it
    /// was last looked at); while it stays the same the timer needs no new
    /// deadline. `None` once it fired.
    timer_deadline: Option<Instant>,
    /// The waker the timer holds since its last poll: while the task's
    /// waker stays the same, polling the timer again before it fires would
    /// only register it again.
    timer_waker: Option<Waker>,
    /// The task that last polled the stream and is waiting for input
    /// (`reader_waiting`): with `StreamExt::split` the reader and the writer
    /// are two tasks, and what only the writer's calls see (a message to
    /// send, a timer that fired) must wake the reader too.
    read_waker: Option<Waker>,
    reader_waiting: bool,
    /// Likewise the task waiting for the transport to take its writes.
    write_waker: Option<Waker>,
    writer_waiting: bool,
    /// The stream has ended (or yielded its final error).
    ended: bool,
    transport_closed: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin> std::fmt::Debug
    for WebSocketStream<S, K>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream").finish_non_exhaustive()
    }
}

impl<S> WebSocketStream<S, NoMasking>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The server side of a WebSocket whose handshake was done elsewhere:
    /// `stream` is the transport an HTTP server handed over after it sent
    /// the 101 (hyper's `Upgraded` through hyper-util's `TokioIo`) or the
    /// 200 to an HTTP/2 extended CONNECT, carrying frames from its first
    /// byte; `extensions` is what the handshake agreed on
    /// ([`Extensions::permessage_deflate`] with the negotiated parameters).
    /// No HTTP is read; nothing is read or written until the stream is
    /// polled.
    ///
    /// ```
    /// use ws13::socket::Extensions;
    /// use ws13::tokio::WebSocketStream;
    /// use ws13::Config;
    ///
    /// # async fn run() {
    /// // Stands in for the upgraded connection hyper hands over.
    /// let (transport, _peer) = tokio::io::duplex(64 * 1024);
    /// let ws = WebSocketStream::upgraded_server(transport, Config::default(), Extensions::none());
    /// # drop(ws);
    /// # }
    /// ```
    pub fn upgraded_server(stream: S, config: Config, extensions: Extensions) -> Self {
        Self::from_socket(stream, Socket::server(config, extensions, now()))
    }

    /// The server side of a handshake that `options` accepted (for example
    /// with [`crate::handshake`]'s parts path) over a transport handed over
    /// after the response: `request` says what was agreed (subprotocol,
    /// permessage-deflate parameters), `options` supplies the protocol
    /// [`Config`] and the deflate settings.
    pub fn upgraded_accepted(
        stream: S,
        options: &ServerOptions,
        request: &AcceptedRequest,
    ) -> Self {
        Self::from_socket(stream, Socket::accepted(options, request, now()))
    }
}

impl<S, K> WebSocketStream<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    /// Wraps a stream whose handshake is done around a protocol core built
    /// by hand; `leftover` holds bytes received after the handshake head.
    /// A hand-built [`Connection`] carries no extension, so this is for
    /// connections without permessage-deflate; after a handshake done
    /// elsewhere use [`WebSocketStream::upgraded_server`] or
    /// [`WebSocketStream::upgraded_client`], which take what it agreed on.
    pub fn from_parts(stream: S, conn: Connection<K>, leftover: &[u8]) -> Self {
        let mut socket = Socket::from_connection(conn, now());
        socket.handle_data(leftover);
        Self::from_socket(stream, socket)
    }

    /// The client side of a WebSocket whose handshake was done elsewhere
    /// (an HTTP/2 extended CONNECT stream, a hyper upgrade): `stream`
    /// carries frames from its first byte, and `extensions` is what the
    /// handshake agreed on ([`Extensions::permessage_deflate`] with the
    /// parameters the server answered). `keys` masks every frame sent.
    /// Nothing is read or written until the stream is polled.
    ///
    /// ```
    /// use ws13::socket::Extensions;
    /// use ws13::tokio::WebSocketStream;
    /// use ws13::{Config, OsMaskKeys};
    ///
    /// # async fn run() {
    /// // Stands in for the stream an HTTP/2 client handed over after its
    /// // CONNECT was answered with 200.
    /// let (transport, _peer) = tokio::io::duplex(64 * 1024);
    /// let ws = WebSocketStream::upgraded_client(
    ///     transport,
    ///     Config::default(),
    ///     Extensions::none(),
    ///     OsMaskKeys::new(),
    /// );
    /// # drop(ws);
    /// # }
    /// ```
    pub fn upgraded_client(stream: S, config: Config, extensions: Extensions, keys: K) -> Self {
        Self::from_socket(stream, Socket::client(config, extensions, keys, now()))
    }

    /// Runs `socket` over `stream` (whose handshake is done).
    pub fn from_socket(stream: S, socket: Socket<K>) -> Self {
        WebSocketStream {
            stream,
            socket,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_deadline: None,
            timer_waker: None,
            read_waker: None,
            reader_waiting: false,
            write_waker: None,
            writer_waiting: false,
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

    /// Performs the close handshake with `code` and `reason` (unless a
    /// close was already sent), as `SinkExt::close` does, and returns how
    /// the peer answered, as the blocking driver's `close` does.
    pub async fn close_with(&mut self, code: CloseCode, reason: &str) -> Result<PeerClose> {
        if self.state() == State::Open {
            self.start_close(code, reason)?;
        }
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await?;
        Ok(self.peer_close())
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (to set socket options). Reading from
    /// or writing to it directly corrupts the WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Starts the close handshake with `code` and `reason`; keep polling the
    /// stream (or call `SinkExt::close`) to finish it.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.socket.close(code, reason)
    }

    /// Splits the connection into a read half (a [`Stream`]) and a write
    /// half (a [`Sink`]) for two tasks. Unlike `StreamExt::split`, the
    /// halves keep each other going: the writer never waits for the reader;
    /// pongs, close replies and heartbeats go out while only the reader is
    /// polled; a message fed to the writer goes out while the reader waits,
    /// without a flush; and a failure seen by either half wakes the other,
    /// which reports it and closes the transport.
    ///
    /// ```no_run
    /// use futures_util::{SinkExt, StreamExt};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let (ws, _) = ws13::tokio::connect("ws://127.0.0.1:9001/", &Default::default()).await?;
    /// let (mut read, mut write) = ws.split();
    /// let writer = tokio::spawn(async move {
    ///     for i in 0..3 {
    ///         write.send(ws13::Message::text(format!("tick {i}"))).await?;
    ///     }
    ///     write.close().await
    /// });
    /// while let Some(message) = read.next().await {
    ///     println!("{:?}", message?);
    /// }
    /// writer.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(self) -> (ReadHalf<S, K>, WriteHalf<S, K>) {
        split::split(self)
    }

    /// Writes queued bytes until the queue is empty or the transport is busy.
    /// Queues a [`PreparedMessage`] by reference (see
    /// [`Socket::send_prepared`]) without waiting, as `Sink::start_send`
    /// does: polling the stream, or a flush, writes it. Check
    /// [`WebSocketStream::transmit_len`] (or use
    /// [`WebSocketStream::feed_prepared`]) so the queue stays bounded.
    pub fn queue_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        self.socket.send_prepared(message)?;
        self.wake_waiting_reader();
        Ok(())
    }

    /// Waits until the send queue has room (as `SinkExt::feed` does), then
    /// queues a [`PreparedMessage`] by reference.
    pub async fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.queue_prepared(message)
    }

    /// Queues a [`PreparedMessage`] and writes everything queued.
    pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        self.feed_prepared(message).await?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Bytes queued and not yet written to the transport.
    pub fn transmit_len(&self) -> usize {
        self.socket.transmit_len()
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.socket.transmit_len() > 0 {
            let stream = Pin::new(&mut self.stream);
            let result = ready!(self.socket.with_transmit(|slices| match slices {
                [only] => stream.poll_write(cx, only),
                all => stream.poll_write_vectored(cx, all),
            }));
            match result {
                Ok(written) if written > 0 => self.socket.advance_transmit(written),
                Ok(_) => {
                    return Poll::Ready(Err(self.transport_error(io::ErrorKind::WriteZero.into())));
                }
                Err(error) => return Poll::Ready(Err(self.transport_error(error))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Tells the socket the transport broke, and passes the error on.
    fn transport_error(&mut self, error: io::Error) -> io::Error {
        self.socket.handle_transport_error();
        error
    }

    /// Reads what is available into the socket. Where the socket asks for it
    /// (inside a frame, or into a buffer a large message grew) the read goes
    /// straight into its buffer; otherwise into a stack buffer, so an idle
    /// connection holds no read buffer.
    fn poll_read_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let read = if let Some(buf) = self.socket.input_buffer() {
            let read = ready!(poll_read_buf(Pin::new(&mut self.stream), cx, buf));
            if matches!(read, Ok(n) if n > 0) {
                self.socket.handle_read();
            }
            read
        } else {
            let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf))?;
            self.socket.handle_data(buf.filled());
            Ok(buf.filled().len())
        };
        match read {
            Ok(0) => self.socket.handle_eof(),
            Ok(_) => {}
            Err(error) => return Poll::Ready(Err(self.transport_error(error))),
        }
        Poll::Ready(Ok(()))
    }

    /// Feeds the time to the socket when its deadline has passed; `Ready`
    /// if it did.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.socket.poll_timeout();
        if deadline != self.timer_deadline {
            self.timer_deadline = deadline;
            self.timer_waker = None;
            match deadline {
                None => return Poll::Pending,
                // A deadline already passed (a command started a timer):
                // no need to go through the timer.
                Some(at) if at <= now() => {
                    self.fire_timer();
                    return Poll::Ready(());
                }
                Some(at) => self.timer.as_mut().reset(at.into()),
            }
        }
        if self.timer_deadline.is_none() {
            return Poll::Pending;
        }
        let registered = self
            .timer_waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()));
        if registered && !self.timer.is_elapsed() {
            return Poll::Pending;
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            if !registered {
                self.timer_waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        self.fire_timer();
        Poll::Ready(())
    }

    fn fire_timer(&mut self) {
        self.timer_deadline = None;
        self.timer_waker = None;
        self.socket.handle_timeout(now());
        // The timer holds one task's waker; what it changed (a heartbeat
        // ping to send, a failure) concerns a task waiting elsewhere too.
        self.wake_waiting_reader();
        self.wake_waiting_writer();
    }

    /// Writes queued bytes; while the transport refuses them, the socket's
    /// timers keep running, so a peer that stopped reading still fails its
    /// heartbeat. `Err` once the connection failed or the transport broke.
    fn poll_write_with_timers(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.writer_waiting = false;
        let polled = self.poll_write_with_timers_inner(cx);
        match polled {
            // What the writer saw (a failure) may need the reader's
            // attention.
            Poll::Ready(_) => self.wake_waiting_reader(),
            Poll::Pending => {
                self.writer_waiting = true;
                remember(&mut self.write_waker, cx);
            }
        }
        polled
    }

    /// Wakes a task waiting for input (another task than the caller's,
    /// under `StreamExt::split`).
    fn wake_waiting_reader(&mut self) {
        if !self.reader_waiting {
            return;
        }
        if let Some(waker) = &self.read_waker {
            waker.wake_by_ref();
        }
    }

    /// Wakes a task waiting to write (another task than the caller's,
    /// under `StreamExt::split`).
    fn wake_waiting_writer(&mut self) {
        if !self.writer_waiting {
            return;
        }
        if let Some(waker) = &self.write_waker {
            waker.wake_by_ref();
        }
    }

    fn poll_write_with_timers_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            // Failed meanwhile (a heartbeat seen by another poll): the
            // close frame goes out as the stream finishes.
            if let Some(error) = self.socket.error() {
                return Poll::Ready(Err(Error::Protocol(error)));
            }
            match self.poll_write_out(cx) {
                Poll::Ready(result) => return Poll::Ready(result.map_err(Error::from)),
                Poll::Pending => {
                    if self.poll_timer(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.wake_waiting_reader();
                }
            }
        }
    }

    /// Once the WebSocket ended: finish as the socket says (write the last
    /// frames; a client waits for the server's FIN), then shut the
    /// transport down. Bounded by the socket's deadline, even against a peer
    /// that reads nothing.
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
            let progress = if self.socket.transmit_len() > 0 {
                self.poll_write_out(cx).map(drop)
            } else {
                // Whatever still arrives is dropped; end of file ends the wait.
                let mut probe = [0u8; 512];
                let mut buf = ReadBuf::new(&mut probe);
                Pin::new(&mut self.stream)
                    .poll_read(cx, &mut buf)
                    .map(|read| match read {
                        Ok(()) if buf.filled().is_empty() => self.socket.handle_eof(),
                        Ok(()) => self.socket.handle_data(buf.filled()),
                        Err(_) => self.socket.handle_transport_error(),
                    })
            };
            if progress.is_pending() && self.poll_timer(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
        self.transport_closed = true;
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin> Drop for WebSocketStream<S, K> {
    /// An async value cannot wait in `drop`: dropping an open connection
    /// queues a close (1000) and makes one attempt to write it, so the peer
    /// learns the connection ended instead of seeing TCP vanish. Use
    /// `SinkExt::close` for the full close handshake with its bounded wait.
    fn drop(&mut self) {
        if self.transport_closed || self.socket.state() != State::Open {
            return;
        }
        if self.socket.close(CloseCode::NORMAL, "").is_ok() {
            let mut cx = Context::from_waker(Waker::noop());
            let _ = self.poll_write_out(&mut cx);
        }
    }
}

impl<S, K> Stream for WebSocketStream<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.reader_waiting = false;
        let polled = this.poll_next_message(cx);
        match polled {
            Poll::Pending => {
                this.reader_waiting = true;
                remember(&mut this.read_waker, cx);
            }
            // The connection ended: a writer waiting on it learns so now.
            Poll::Ready(None | Some(Err(_))) => this.wake_waiting_writer(),
            Poll::Ready(Some(Ok(_))) => {}
        }
        polled
    }
}

impl<S, K> WebSocketStream<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        let this = self;
        if this.ended {
            ready!(this.poll_finish(cx));
            return Poll::Ready(None);
        }
        loop {
            match this.socket.poll_message() {
                Ok(Some(message)) => {
                    // A pong or a close reply goes out now, not on the next
                    // user write. Echoes of data messages wait for the write
                    // before the next wait for input, so a batch of them
                    // leaves in one writev.
                    if this.socket.has_urgent_transmit() {
                        let _ = this.poll_write_out(cx);
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(error) => {
                    ready!(this.poll_finish(cx));
                    this.ended = true;
                    return Poll::Ready(match error {
                        Error::ConnectionClosed => None,
                        error => Some(Err(error)),
                    });
                }
            }
            // Everything queued goes out before waiting for input.
            if let Poll::Ready(Err(error)) = this.poll_write_out(cx) {
                this.ended = true;
                return Poll::Ready(Some(Err(error.into())));
            }
            if this.poll_timer(cx).is_ready() {
                continue;
            }
            if let Err(error) = ready!(this.poll_read_input(cx)) {
                this.ended = true;
                return Poll::Ready(Some(Err(error.into())));
            }
        }
    }
}

impl<S, K> Sink<Message> for WebSocketStream<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    type Error = Error;

    /// Ready while less than 128 KiB is queued; beyond that it writes first,
    /// so a slow reader on the other end cannot make us buffer without bound.
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        while this.socket.is_send_buffer_full() {
            ready!(this.poll_write_with_timers(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues a message; [`Message::Close`] starts the close handshake. A
    /// task waiting for input on this connection (the reader, under
    /// `StreamExt::split`) is woken to write it out.
    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<()> {
        self.socket.send(message)?;
        self.wake_waiting_reader();
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        ready!(this.poll_write_with_timers(cx))?;
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Performs the close handshake (1000 unless a close was already sent),
    /// waiting for the peer's close at most the configured close timeout;
    /// messages arriving meanwhile are dropped. The peer's answer is then
    /// in [`WebSocketStream::peer_close`]. Fails with the error that ended
    /// the connection meanwhile (the peer broke the protocol or left without
    /// a close, or the transport failed), as the blocking driver's `close`
    /// does.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.socket.state() == State::Open {
            self.socket.close(CloseCode::NORMAL, "")?;
        }
        loop {
            match ready!(self.as_mut().poll_next(cx)) {
                Some(Ok(_)) => {}
                None => break,
                // Yielded once, after the stream finished what it could.
                Some(Err(error)) => return Poll::Ready(Err(error)),
            }
        }
        let this = &mut *self;
        ready!(this.poll_finish(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use ws13_codec::Config;

    use super::*;
    use crate::socket::KEEP_GROWN_READ_BUFFER;

    /// A server and a client connected in memory.
    fn pair() -> (
        WebSocketStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream, OsMaskKeys>,
    ) {
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        let server =
            WebSocketStream::from_parts(server_io, Connection::server(Config::default()), &[]);
        let client = WebSocketStream::from_parts(
            client_io,
            Connection::client(Config::default(), OsMaskKeys::new()),
            &[],
        );
        (server, client)
    }

    #[tokio::test(start_paused = true)]
    async fn a_grown_read_buffer_serves_the_next_large_message_then_goes_when_idle() {
        let (mut server, mut client) = pair();
        let large = vec![7u8; 64 * 1024];
        let payload_at = |message: &Message| match message {
            Message::Binary(payload) => payload.as_ptr(),
            other => panic!("expected a binary message, got {other:?}"),
        };
        client.send(Message::binary(large.clone())).await.unwrap();
        let first = server.next().await.unwrap().unwrap();
        assert_eq!(first, Message::binary(large.clone()));
        let first_at = payload_at(&first);
        drop(first);
        assert!(server.socket.holds_grown_read_buffer());

        // The next large message lands where the first did.
        client.send(Message::binary(large.clone())).await.unwrap();
        let second = server.next().await.unwrap().unwrap();
        assert_eq!(second, Message::binary(large.clone()));
        assert_eq!(payload_at(&second), first_at);
        // Kept for a while from when it grew, not from each message.
        let release_at = server.socket.release_deadline().expect("release armed");
        assert!(release_at <= now() + KEEP_GROWN_READ_BUFFER);
        drop(second);

        // Quiet for longer than KEEP_GROWN_READ_BUFFER: the buffer goes.
        let idle = tokio::time::timeout(KEEP_GROWN_READ_BUFFER * 2, server.next()).await;
        assert!(idle.is_err(), "nothing was sent");
        assert!(!server.socket.holds_grown_read_buffer());
        assert_eq!(server.socket.release_deadline(), None);

        // And small messages after that keep it small.
        client.send(Message::text("small")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("small")
        );
        assert!(!server.socket.holds_grown_read_buffer());
    }

    #[tokio::test(start_paused = true)]
    async fn a_payload_the_application_keeps_takes_the_large_allocation_along() {
        let (mut server, mut client) = pair();
        let large = vec![3u8; 64 * 1024];
        client.send(Message::binary(large.clone())).await.unwrap();
        let kept = server.next().await.unwrap().unwrap();
        client.send(Message::text("next")).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("next"));
        // The read for "next" could not reuse the buffer `kept` shares, so
        // the connection let go of it instead of allocating beside it.
        assert!(!server.socket.holds_grown_read_buffer());
        assert_eq!(kept, Message::binary(large));
    }

    #[tokio::test]
    async fn upgraded_constructors_carry_the_agreed_permessage_deflate() {
        use ws13_codec::deflate::DeflateSettings;
        use ws13_handshake::permessage_deflate::DeflateParams;

        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        let settings = DeflateSettings::default().min_compress_len(0);
        let agreed = Extensions::permessage_deflate(DeflateParams::default(), settings);
        let mut server = WebSocketStream::upgraded_server(server_io, Config::default(), agreed);
        let mut client = WebSocketStream::upgraded_client(
            client_io,
            Config::default(),
            agreed,
            OsMaskKeys::new(),
        );
        assert!(server.socket.is_compressed());
        assert!(client.socket.is_compressed());
        let text = "compressible ".repeat(100);
        client.send(Message::text(text.clone())).await.unwrap();
        let received = server.next().await.unwrap().unwrap();
        assert_eq!(received, Message::text(text.clone()));
        server.send(received).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text(text));
    }

    #[tokio::test]
    async fn upgraded_server_without_extensions_refuses_compressed_frames() {
        let (server_io, mut client_io) = tokio::io::duplex(1 << 10);
        let mut server =
            WebSocketStream::upgraded_server(server_io, Config::default(), Extensions::none());
        // A masked text frame with RSV1 set: legal only with deflate agreed.
        client_io
            .write_all(&[0xC1, 0x81, 0, 0, 0, 0, b'x'])
            .await
            .unwrap();
        let outcome = server.next().await.unwrap();
        assert!(outcome.is_err(), "RSV1 without deflate is a protocol error");
    }
}
