//! A connection split into a read half and a write half, for two tasks.
//!
//! Both halves drive one [`WebSocketStream`] behind a mutex, held only for
//! the duration of a poll (never across a wait). Every wait inside it (the
//! transport's readiness, the timer) wakes both halves, so:
//! - the writer never waits for the reader, and auto-pongs, close replies
//!   and heartbeats go out while only the reader is polled;
//! - a message queued with `feed` on the write half goes out while the read
//!   half waits for input, without a `flush`;
//! - a connection that fails (a missed heartbeat seen by a blocked writer,
//!   a broken transport) wakes the other half too, which then reports it
//!   and closes the transport.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws13_codec::{CloseCode, MaskKeySource, State};

use super::WebSocketStream;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::prepared::PreparedMessage;

/// The wakers of the two halves' tasks. The connection's own waits
/// register this, so that whatever the transport or the timer reports wakes
/// both.
#[derive(Default)]
struct HalfWakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

impl HalfWakers {
    fn wake_read(&self) {
        if let Some(waker) = lock(&self.read).take() {
            waker.wake();
        }
    }

    fn wake_write(&self) {
        if let Some(waker) = lock(&self.write).take() {
            waker.wake();
        }
    }
}

impl Wake for HalfWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_read();
        self.wake_write();
    }
}

/// Locks, going on with the data if another holder panicked (the state
/// stays consistent: every change to it is one method call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Shared<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin> {
    ws: Mutex<WebSocketStream<S, K>>,
    wakers: Arc<HalfWakers>,
    /// A waker that wakes both halves (built once from `wakers`).
    both: Waker,
}

impl<S, K> Shared<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    /// Polls the connection for one half: records that half's waker and
    /// lends the connection a context that wakes both.
    fn poll<R>(
        &self,
        half: &Mutex<Option<Waker>>,
        cx: &Context<'_>,
        poll: impl FnOnce(Pin<&mut WebSocketStream<S, K>>, &mut Context<'_>) -> R,
    ) -> R {
        {
            let mut waker = lock(half);
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        let mut ws = lock(&self.ws);
        let mut both = Context::from_waker(&self.both);
        poll(Pin::new(&mut *ws), &mut both)
    }
}

/// The receiving half of a split [`WebSocketStream`]: a [`Stream`] of
/// messages. Polling it alone keeps the connection alive (pongs, close
/// replies and heartbeats go out).
pub struct ReadHalf<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin> {
    shared: Arc<Shared<S, K>>,
}

/// The sending half of a split [`WebSocketStream`]: a [`Sink`] of messages.
/// It never waits for the read half.
pub struct WriteHalf<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin> {
    shared: Arc<Shared<S, K>>,
}

impl<S, K> std::fmt::Debug for ReadHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S, K> std::fmt::Debug for WriteHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// The halves given to [`reunite`] came from different connections.
pub struct ReuniteError<S: AsyncRead + AsyncWrite + Unpin, K: MaskKeySource + Unpin>(
    /// The read half, given back.
    pub ReadHalf<S, K>,
    /// The write half, given back.
    pub WriteHalf<S, K>,
);

impl<S, K> std::fmt::Debug for ReuniteError<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReuniteError").finish_non_exhaustive()
    }
}

impl<S, K> std::fmt::Display for ReuniteError<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the read and write halves are of different WebSocket connections")
    }
}

impl<S, K> std::error::Error for ReuniteError<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
}

pub(super) fn split<S, K>(ws: WebSocketStream<S, K>) -> (ReadHalf<S, K>, WriteHalf<S, K>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    let wakers = Arc::new(HalfWakers::default());
    let shared = Arc::new(Shared {
        ws: Mutex::new(ws),
        both: Waker::from(Arc::clone(&wakers)),
        wakers,
    });
    (
        ReadHalf {
            shared: Arc::clone(&shared),
        },
        WriteHalf { shared },
    )
}

/// Puts the halves of one connection back together.
pub fn reunite<S, K>(
    read: ReadHalf<S, K>,
    write: WriteHalf<S, K>,
) -> std::result::Result<WebSocketStream<S, K>, ReuniteError<S, K>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    if !Arc::ptr_eq(&read.shared, &write.shared) {
        return Err(ReuniteError(read, write));
    }
    drop(write);
    let shared = Arc::into_inner(read.shared).expect("both halves were given");
    Ok(shared
        .ws
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

impl<S, K> ReadHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    /// The protocol state.
    pub fn state(&self) -> State {
        lock(&self.shared.ws).state()
    }

    /// Puts the halves back together; see [`reunite`].
    pub fn reunite(
        self,
        write: WriteHalf<S, K>,
    ) -> std::result::Result<WebSocketStream<S, K>, ReuniteError<S, K>> {
        reunite(self, write)
    }
}

impl<S, K> WriteHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    /// The protocol state.
    pub fn state(&self) -> State {
        lock(&self.shared.ws).state()
    }

    /// Starts the close handshake with `code` and `reason`: the close frame
    /// is queued and goes out at once if the read half is waiting (flush to
    /// be sure); the read half reports the peer's answer and then ends.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        let result = lock(&self.shared.ws).start_close(code, reason);
        self.shared.wakers.wake_read();
        result
    }

    /// Queues a [`PreparedMessage`] by reference without waiting (see
    /// [`WebSocketStream::queue_prepared`]); the read half writes it while
    /// it waits for input, a flush from this half at once.
    pub fn queue_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        let result = lock(&self.shared.ws).queue_prepared(message);
        self.shared.wakers.wake_read();
        result
    }

    /// Waits until the send queue has room, then queues a
    /// [`PreparedMessage`] by reference.
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
        lock(&self.shared.ws).transmit_len()
    }
}

impl<S, K> Stream for ReadHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let shared = &self.shared;
        let polled = shared.poll(&shared.wakers.read, cx, |ws, cx| ws.poll_next(cx));
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            // The connection ended: a writer waiting on it learns so now.
            shared.wakers.wake_write();
        }
        polled
    }
}

impl<S, K> Sink<Message> for WriteHalf<S, K>
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        shared.poll(&shared.wakers.write, cx, |ws, cx| ws.poll_ready(cx))
    }

    /// Queues a message and wakes the read half, which writes it out while
    /// it waits for input (a `flush` writes it from this task).
    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<()> {
        let result = Pin::new(&mut *lock(&self.shared.ws)).start_send(message);
        self.shared.wakers.wake_read();
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        let polled = shared.poll(&shared.wakers.write, cx, |ws, cx| ws.poll_flush(cx));
        if matches!(polled, Poll::Ready(Err(_))) {
            shared.wakers.wake_read();
        }
        polled
    }

    /// Starts the close handshake (1000 unless a close was already sent)
    /// and writes it; the read half then reports the peer's answer and
    /// ends, which finishes the close.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        let polled = shared.poll(&shared.wakers.write, cx, |mut ws, cx| {
            if ws.state() == State::Open {
                ws.start_close(CloseCode::NORMAL, "")?;
            }
            ws.poll_flush(cx)
        });
        shared.wakers.wake_read();
        polled
    }
}
