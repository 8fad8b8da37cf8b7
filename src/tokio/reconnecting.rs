//! Keeping a connection up: the tokio shell around
//! [`crate::reconnect::ReconnectSchedule`] (it sleeps and connects; the
//! schedule decides).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::client::{ClientOptions, HandshakeResponse};
use crate::error::ConnectError;
use crate::mask_keys::OsMaskKeys;
use crate::message::PeerClose;
use crate::reconnect::{Backoff, ReconnectError, ReconnectSchedule};

use super::{WebSocketStream, now};

/// What a retry observer sees: the failure and the delay before the next try.
type RetryObserver = Box<dyn FnMut(&ConnectError, Duration) + Send>;

/// A client that reconnects with backoff, yielding each new connection so
/// the application can resubscribe.
///
/// [`connect`](Self::connect) opens the next connection, retrying transient
/// failures after the delays [`Backoff`] sets and returning the error of a
/// permanent one (a 403, a refused certificate, ...). When a connection
/// ends, pass its [`WebSocketStream::peer_close`] to
/// [`ended`](Self::ended): a close that asks not to come back (1000, 1008)
/// stops, anything transient (1006, 1001, 1011-1014) schedules the next
/// connect. Each connection is new and its handshake complete; with
/// heartbeats on (the default [`crate::Config`]), a connection whose peer
/// vanished ends within the heartbeat timeout instead of staying half dead.
///
/// ```no_run
/// use futures_util::{SinkExt, StreamExt};
/// use ws13::{ClientOptions, Message};
/// use ws13::reconnect::Backoff;
///
/// # async fn run() -> Result<(), ws13::reconnect::ReconnectError> {
/// let mut client = ws13::tokio::reconnecting("ws://127.0.0.1:9001/feed", ClientOptions::default())
///     .backoff(Backoff::default().max_delay(std::time::Duration::from_secs(30)));
/// loop {
///     let (mut ws, _response) = client.connect().await?;
///     let _ = ws.send(Message::text("subscribe prices")).await; // after every reconnect
///     while let Some(Ok(message)) = ws.next().await {
///         println!("{message:?}");
///     }
///     client.ended(&ws.peer_close())?;
/// }
/// # }
/// ```
pub struct Reconnecting<C> {
    connect: C,
    schedule: ReconnectSchedule,
    /// Wait this long before the next attempt.
    pending_delay: Option<Duration>,
    on_retry: Option<RetryObserver>,
}

impl<C> std::fmt::Debug for Reconnecting<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting")
            .field("schedule", &self.schedule)
            .field("pending_delay", &self.pending_delay)
            .finish_non_exhaustive()
    }
}

/// The connect function of [`reconnecting`].
pub type ConnectFuture = Pin<
    Box<
        dyn Future<
                Output = Result<
                    (WebSocketStream<TcpStream, OsMaskKeys>, HandshakeResponse),
                    ConnectError,
                >,
            > + Send,
    >,
>;

/// A [`Reconnecting`] client for a `ws://` URL over TCP (through the proxy
/// the options choose), as [`super::connect`] connects. For `wss://` pass
/// your own connect function to [`Reconnecting::new`], e.g. one calling
/// `ws13::tls::connect`.
pub fn reconnecting(
    url: impl Into<String>,
    options: ClientOptions,
) -> Reconnecting<impl FnMut() -> ConnectFuture> {
    let url = url.into();
    Reconnecting::new(move || -> ConnectFuture {
        let url = url.clone();
        let options = options.clone();
        Box::pin(async move { super::connect(&url, &options).await })
    })
}

impl<C, F, T> Reconnecting<C>
where
    C: FnMut() -> F,
    F: Future<Output = Result<T, ConnectError>>,
{
    /// Reconnects with `connect` (called once per attempt) and the default
    /// [`Backoff`].
    pub fn new(connect: C) -> Self {
        Reconnecting {
            connect,
            schedule: ReconnectSchedule::new(Backoff::default()),
            pending_delay: None,
            on_retry: None,
        }
    }

    /// Sets the backoff (delays, reset, jitter, attempts).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.schedule = ReconnectSchedule::new(backoff);
        self
    }

    /// Calls `observer` with each transient failure and the delay before
    /// the next attempt (to log it).
    #[must_use]
    pub fn on_retry(
        mut self,
        observer: impl FnMut(&ConnectError, Duration) + Send + 'static,
    ) -> Self {
        self.on_retry = Some(Box::new(observer));
        self
    }

    /// Opens the next connection: waits the delay left by the last
    /// [`ended`](Self::ended) (none the first time), then tries, waiting and
    /// trying again after each transient failure. Fails with the first
    /// permanent failure.
    pub async fn connect(&mut self) -> Result<T, ReconnectError> {
        loop {
            if let Some(delay) = self.pending_delay.take() {
                tokio::time::sleep(delay).await;
            }
            match (self.connect)().await {
                Ok(connection) => {
                    self.schedule.connected(now());
                    return Ok(connection);
                }
                Err(error) => {
                    let Some(delay) = self.schedule.connect_failed(&error, random()) else {
                        return Err(ReconnectError::Connect(error));
                    };
                    if let Some(observer) = &mut self.on_retry {
                        observer(&error, delay);
                    }
                    self.pending_delay = Some(delay);
                }
            }
        }
    }

    /// The connection [`connect`](Self::connect) returned last has ended as
    /// `close` says: `Ok` with the delay the next [`connect`](Self::connect)
    /// waits, or why not to reconnect.
    pub fn ended(&mut self, close: &PeerClose) -> Result<Duration, ReconnectError> {
        let delay = self.schedule.ended(close, now(), random())?;
        self.pending_delay = Some(delay);
        Ok(delay)
    }
}

/// A uniform random `u64` for the jitter.
fn random() -> u64 {
    let mut bytes = [0u8; 8];
    // Without randomness, wait half the cap rather than fail.
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => u64::MAX / 2,
    }
}
