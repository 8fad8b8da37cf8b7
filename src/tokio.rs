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

/// How long a read buffer that a large message grew is kept, from when it
/// grew: the large messages that follow are each read in one go into the
/// same allocation. Then it is let go as soon as it holds no partial frame
/// (and grows again if large messages keep coming), so a connection that
/// went quiet holds no large buffer for much longer than this.
const KEEP_GROWN_READ_BUFFER: Duration = Duration::from_secs(1);

/// The timer's inputs: the core's deadline on its own clock, and the
/// driver's finish and buffer-release deadlines.
type TimerInputs = (Option<Duration>, Option<Instant>, Option<Instant>);

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
    pub request: HttpRequest,
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
/// 400/403/426/431 with a body that names the problem for a broken one; a
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
            let (config, deflate) = negotiated(
                Role::Server,
                options.protocol,
                request.deflate.as_ref(),
                options.deflate_settings,
            );
            let conn = Connection::server(config);
            Ok(Accepted::WebSocket(
                WebSocketStream::new(stream, conn, &buf[head_len..], deflate),
                request,
            ))
        }
        ServerStep::PlainHttp { request } => Ok(Accepted::Http(HttpConnection { stream, request })),
        ServerStep::Reject { response, error } => {
            refuse(&mut stream, &response).await;
            Err(AcceptError::Rejected { error })
        }
        ServerStep::NotFound { response, path } => {
            refuse(&mut stream, &response).await;
            Err(AcceptError::NoSuchEndpoint { path })
        }
    }
}

/// Writes a refusal and closes; best effort, the client may already be gone.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, response: &[u8]) {
    let _ = stream.write_all(response).await;
    let _ = stream.shutdown().await;
}

/// Connects to a `ws://` URL over TCP and performs the handshake.
pub async fn connect(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocketStream<TcpStream, OsMaskKeys>, HandshakeResponse), ConnectError> {
    let url = WsUrl::parse(url)?;
    if url.secure {
        return Err(ConnectError::TlsUnsupported);
    }
    let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    stream.set_nodelay(true)?;
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
    let (config, deflate) = negotiated(
        Role::Client,
        options.protocol,
        response.deflate.as_ref(),
        options.deflate_settings,
    );
    let conn = Connection::client(config, OsMaskKeys::new());
    Ok((
        WebSocketStream::new(stream, conn, &buf[head_len..], deflate),
        response,
    ))
}

/// An established WebSocket connection over an async stream: a [`Stream`] of
/// received [`Message`]s and a [`Sink`] for messages to send.
///
/// The stream yields pings, pongs and the peer's close as messages too (their
/// answers are already handled), then ends. A protocol error is yielded once,
/// after the close frame that reports it to the peer has been written.
pub struct WebSocketStream<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin = NoMasking>
{
    stream: S,
    session: Session<K>,
    timer: Pin<Box<Sleep>>,
    /// What the timer was last set from: the core's deadline (on its own
    /// clock), `finish_until` and `release_buffer_at`. While they stay the
    /// same the timer needs no new deadline; `None` once it fired.
    timer_inputs: Option<TimerInputs>,
    /// The deadline the timer is set to, if any.
    timer_deadline: Option<Instant>,
    /// The waker the timer holds since its last poll: while the task's
    /// waker stays the same, polling the timer again before it fires would
    /// only register it again.
    timer_waker: Option<Waker>,
    /// Finishing (writing the last frames, then, for a client, waiting for
    /// the server to close TCP as RFC 6455 §7.1.1 asks) ends by this time,
    /// whatever the peer does.
    finish_until: Option<Instant>,
    /// When to let go of a read buffer that a large message grew (see
    /// [`KEEP_GROWN_READ_BUFFER`]).
    release_buffer_at: Option<Instant>,
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

impl<S, K> WebSocketStream<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    /// Wraps a stream whose handshake is done; `leftover` holds bytes received
    /// after the handshake head.
    pub fn from_parts(stream: S, conn: Connection<K>, leftover: &[u8]) -> Self {
        Self::new(stream, conn, leftover, None)
    }

    fn new(
        stream: S,
        conn: Connection<K>,
        leftover: &[u8],
        deflate: Option<PerMessageDeflate>,
    ) -> Self {
        WebSocketStream {
            stream,
            session: Session::new(conn, leftover, deflate),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_inputs: None,
            timer_deadline: None,
            timer_waker: None,
            finish_until: None,
            release_buffer_at: None,
            ended: false,
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

    /// Starts the close handshake with `code` and `reason`; keep polling the
    /// stream (or call `SinkExt::close`) to finish it.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.session.close(code, reason)
    }

    /// Writes queued bytes until the queue is empty or the transport is busy.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.session.out.is_empty() {
            let stream = Pin::new(&mut self.stream);
            let written = ready!(self.session.out.with_io_slices(|slices| match slices {
                [only] => stream.poll_write(cx, only),
                all => stream.poll_write_vectored(cx, all),
            }))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.session.out.advance(written);
        }
        Poll::Ready(Ok(()))
    }

    /// Reads what is available into the session buffer; `Ready(Ok(0))` at
    /// end of file. With nothing pending it reads into a stack buffer and
    /// copies out only what arrived, so an idle connection holds no read
    /// buffer; inside a frame it reads straight into the session buffer,
    /// reserved for the rest of the frame, and so it does into a buffer a
    /// large message grew, while it is kept ([`KEEP_GROWN_READ_BUFFER`]).
    fn poll_read_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let read = if !self.session.read_buf.is_empty() || self.session.reuse_grown_read_buffer() {
            self.session.reserve_for_read();
            poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.session.read_buf)
        } else {
            let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut scratch);
            match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    self.session.take_read(buf.filled());
                    Poll::Ready(Ok(buf.filled().len()))
                }
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            }
        };
        if self.release_buffer_at.is_none() && self.session.holds_reusable_read_buffer() {
            self.release_buffer_at = Some(Instant::now() + KEEP_GROWN_READ_BUFFER);
        }
        read
    }

    /// Fires the core's timer when its deadline has passed; `Ready` if it did.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inputs = (
            self.session.conn.poll_timeout(),
            self.finish_until,
            self.release_buffer_at,
        );
        if self.timer_inputs != Some(inputs) {
            self.timer_inputs = Some(inputs);
            self.timer_waker = None;
            let core = inputs.0.map(|at| self.session.instant_at(at));
            let deadline = earliest(earliest(core, inputs.1), inputs.2);
            self.timer_deadline = deadline;
            if let Some(deadline) = deadline {
                self.timer.as_mut().reset(deadline.into());
            }
        }
        let Some(fired_at) = self.timer_deadline else {
            return Poll::Pending;
        };
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
        self.timer_inputs = None;
        self.timer_deadline = None;
        self.timer_waker = None;
        if self.release_buffer_at.is_some_and(|at| at <= fired_at) {
            // Still in use (part of a frame in it): look again later.
            self.release_buffer_at = (!self.session.release_idle_buffer())
                .then(|| Instant::now().max(fired_at) + KEEP_GROWN_READ_BUFFER);
        }
        self.session.handle_timeout();
        Poll::Ready(())
    }

    /// Writes queued bytes; while the transport refuses them, the core's
    /// timers keep running, so a peer that stopped reading still fails its
    /// heartbeat. `Err` once the connection failed or the transport broke.
    fn poll_write_with_timers(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            match self.poll_write_out(cx) {
                Poll::Ready(result) => return Poll::Ready(result.map_err(Error::from)),
                Poll::Pending => {
                    if self.poll_timer(cx).is_pending() {
                        return Poll::Pending;
                    }
                    if let Some(error) = self.session.conn.error() {
                        return Poll::Ready(Err(Error::Protocol(*error)));
                    }
                }
            }
        }
    }

    /// After the core closed: write the last frames, let a client wait for
    /// the server's TCP close, then shut the transport down. Bounded by the
    /// close timeout in total, even against a peer that reads nothing.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.transport_closed {
            return Poll::Ready(());
        }
        let close_timeout = self.session.conn.config().close_timeout;
        let until = *self
            .finish_until
            .get_or_insert_with(|| Instant::now() + close_timeout);
        loop {
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(_)) => {
                    self.transport_closed = true;
                    return Poll::Ready(());
                }
                Poll::Pending if Instant::now() >= until => break,
                Poll::Pending => {
                    if self.poll_timer(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
        if self.session.conn.role() == Role::Client && !self.session.eof {
            while Instant::now() < until {
                // Whatever still arrives is dropped; end of file ends the wait.
                let mut probe = [0u8; 512];
                let mut buf = tokio::io::ReadBuf::new(&mut probe);
                match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                    Poll::Ready(_) => break,
                    Poll::Pending => {
                        if self.poll_timer(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                }
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
        if self.transport_closed || self.session.conn.state() != State::Open {
            return;
        }
        if self.session.close(CloseCode::NORMAL, "").is_ok() {
            let mut cx = Context::from_waker(std::task::Waker::noop());
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
        if this.ended {
            ready!(this.poll_finish(cx));
            return Poll::Ready(None);
        }
        loop {
            match this.session.next_message() {
                Ok(Some(message)) => {
                    // A pong or a close reply goes out now, not on the next
                    // user write. Echoes of data messages wait for the write
                    // before the next wait for input, so a batch of them
                    // leaves in one writev.
                    if !message.is_data() {
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
            match this.poll_read_input(cx) {
                Poll::Ready(Ok(0)) => {
                    let error = this.session.eof_error();
                    this.ended = true;
                    this.transport_closed = true;
                    return Poll::Ready(match error {
                        Error::ConnectionClosed => None,
                        error => Some(Err(error)),
                    });
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Pending => return Poll::Pending,
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
        while this.session.out.len() > WRITE_HIGH_WATER {
            ready!(this.poll_write_with_timers(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<()> {
        self.session.send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        ready!(this.poll_write_with_timers(cx))?;
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Performs the close handshake (1000 unless a close was already sent),
    /// waiting for the peer's close at most the configured close timeout;
    /// messages arriving meanwhile are dropped.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.session.conn.state() == State::Open {
            self.session.close(CloseCode::NORMAL, "")?;
        }
        loop {
            match ready!(self.as_mut().poll_next(cx)) {
                Some(Ok(_)) => {}
                Some(Err(Error::Protocol(_))) | None => break,
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
        assert!(server.session.holds_grown_read_buffer());
        let release_at = server.release_buffer_at.expect("release armed");

        // The next large message lands where the first did.
        client.send(Message::binary(large.clone())).await.unwrap();
        let second = server.next().await.unwrap().unwrap();
        assert_eq!(second, Message::binary(large.clone()));
        assert_eq!(payload_at(&second), first_at);
        assert_eq!(server.release_buffer_at, Some(release_at));
        drop(second);

        // Quiet for longer than KEEP_GROWN_READ_BUFFER: the buffer goes.
        let idle = tokio::time::timeout(KEEP_GROWN_READ_BUFFER * 2, server.next()).await;
        assert!(idle.is_err(), "nothing was sent");
        assert!(!server.session.holds_grown_read_buffer());
        assert_eq!(server.release_buffer_at, None);

        // And small messages after that keep it small.
        client.send(Message::text("small")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("small")
        );
        assert!(!server.session.holds_grown_read_buffer());
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
        assert!(!server.session.holds_grown_read_buffer());
        assert_eq!(kept, Message::binary(large));
    }
}
