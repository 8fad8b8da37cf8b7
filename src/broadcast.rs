//! Fan-out with backpressure (feature `tokio`): a [`Topic`] that
//! connections subscribe to, and a publisher that never waits for any of
//! them.
//!
//! Publishing hands each subscriber a [`PreparedMessage`] (a reference
//! count, no copy: the frame is built once, and compressed once per
//! compression key) through its own mailbox. [`relay`] runs a connection:
//! it moves what the mailbox holds into the connection's send queue as
//! the transport takes it, and hands back what the peer sends.
//!
//! # The slow-consumer policy
//!
//! Every subscriber has a byte budget ([`TopicOptions::budget`], 256 KiB by
//! default), counted in wire bytes of the uncompressed frames:
//!
//! - its mailbox holds at most `budget` bytes, and [`relay`] lets the
//!   connection's send queue hold at most `budget` more (it stops taking
//!   from the mailbox while the queue is that long), so a subscriber pins at
//!   most twice its budget, plus one message, whatever its peer does;
//! - a publish that would take the mailbox over the budget drops the
//!   subscriber instead: it leaves the topic, its mailbox is emptied at once,
//!   and [`relay`] returns [`Relayed::Dropped`]. The connection should then
//!   be closed with [`SLOW_CONSUMER_CLOSE`] (1013, "try again later") — the
//!   close frame goes out behind what is already queued, and the close
//!   timeout bounds the wait for a peer that reads nothing at all.
//!
//! Publishing costs each subscriber one lock, one queue push and a wake:
//! one stalled reader slows nobody else, and the publisher never waits.
//!
//! ```no_run
//! use ws13::broadcast::{Relayed, SLOW_CONSUMER_CLOSE, Topic, TopicOptions, relay};
//! use ws13::tokio::{Accepted, accept};
//! use ws13::{Message, PreparedMessage, ServerOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let topic = Topic::new(TopicOptions::default().budget(64 * 1024));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let topic = topic.clone();
//!     tokio::spawn(async move {
//!         let Ok(Accepted::WebSocket(mut ws, _)) = accept(tcp, &ServerOptions::default()).await
//!         else {
//!             return;
//!         };
//!         let mut subscription = topic.subscribe();
//!         loop {
//!             match relay(&mut subscription, &mut ws).await {
//!                 // Everything a member says goes to everyone else.
//!                 Relayed::Received(Ok(Message::Text(text))) => {
//!                     topic.publish_except(&PreparedMessage::text(text), subscription.id());
//!                 }
//!                 Relayed::Received(Ok(_)) => {}
//!                 Relayed::Received(Err(_)) | Relayed::Ended => break,
//!                 Relayed::Dropped => {
//!                     let _ = ws.close_with(SLOW_CONSUMER_CLOSE, "too slow for this feed").await;
//!                     break;
//!                 }
//!             }
//!         }
//!     });
//! }
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use ws13_codec::{CloseCode, MaskKeySource};

use crate::error::Result;
use crate::message::Message;
use crate::prepared::PreparedMessage;
use crate::tokio::WebSocketStream;

/// The close code for a subscriber dropped for being too slow: 1013, "try
/// again later" (the server is fine; this connection could not keep up).
pub const SLOW_CONSUMER_CLOSE: CloseCode = CloseCode::TRY_AGAIN_LATER;

/// A topic's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicOptions {
    /// The most bytes (frames' wire lengths) a subscriber's mailbox may
    /// hold; [`relay`] lets its send queue hold as many again. Default
    /// 256 KiB.
    pub budget: usize,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions { budget: 256 * 1024 }
    }
}

impl TopicOptions {
    /// Sets [`TopicOptions::budget`]: the bytes a subscriber may fall
    /// behind before it is dropped.
    #[must_use]
    pub const fn budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }
}

/// Who a subscription is, to leave it out of a publish
/// ([`Topic::publish_except`]) or to unsubscribe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberId(u64);

/// One publish's outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Subscribers the message was queued for.
    pub queued: usize,
    /// Subscribers dropped because the message would have taken them over
    /// their budget.
    pub dropped: usize,
}

/// A set of subscribers that messages are published to. Cloning gives
/// another handle to the same topic.
#[derive(Clone, Debug)]
pub struct Topic {
    shared: Arc<TopicShared>,
}

#[derive(Debug)]
struct TopicShared {
    options: TopicOptions,
    members: Mutex<HashMap<SubscriberId, Arc<Mailbox>>>,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Mailbox {
    state: Mutex<MailboxState>,
}

#[derive(Debug, Default)]
struct MailboxState {
    queue: VecDeque<PreparedMessage>,
    /// Wire bytes in `queue`.
    queued_bytes: usize,
    /// Dropped for going over the budget.
    dropped: bool,
    /// The task waiting for a delivery.
    waker: Option<Waker>,
}

/// Locks, going on with the data if another holder panicked: every change
/// under these locks is complete or not made.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Topic {
    /// An empty topic.
    pub fn new(options: TopicOptions) -> Self {
        Topic {
            shared: Arc::new(TopicShared {
                options,
                members: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// The topic's settings.
    pub fn options(&self) -> TopicOptions {
        self.shared.options
    }

    /// Joins the topic: messages published from now on are queued for the
    /// subscription until it is dropped or unsubscribed.
    pub fn subscribe(&self) -> Subscription {
        let id = SubscriberId(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let mailbox = Arc::new(Mailbox::default());
        lock(&self.shared.members).insert(id, Arc::clone(&mailbox));
        Subscription {
            id,
            mailbox,
            topic: Arc::downgrade(&self.shared),
            budget: self.shared.options.budget,
        }
    }

    /// Removes a subscriber (dropping its [`Subscription`] does too); what
    /// its mailbox holds is still delivered. `false` if it was not subscribed.
    pub fn unsubscribe(&self, id: SubscriberId) -> bool {
        lock(&self.shared.members).remove(&id).is_some()
    }

    /// How many subscribers the topic has.
    pub fn len(&self) -> usize {
        lock(&self.shared.members).len()
    }

    /// Whether the topic has no subscriber.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes waiting in all mailboxes together (not counting what relays
    /// moved into send queues already): at most `len() × budget`.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.shared.members)
            .values()
            .map(|mailbox| lock(&mailbox.state).queued_bytes)
            .sum()
    }

    /// Queues `message` for every subscriber, without waiting for any;
    /// subscribers it would take over their budget are dropped instead
    /// (see [the policy](self#the-slow-consumer-policy)).
    pub fn publish(&self, message: &PreparedMessage) -> Published {
        self.publish_filtered(message, None)
    }

    /// Queues `message` for every subscriber but `sender`.
    pub fn publish_except(&self, message: &PreparedMessage, sender: SubscriberId) -> Published {
        self.publish_filtered(message, Some(sender))
    }

    fn publish_filtered(
        &self,
        message: &PreparedMessage,
        except: Option<SubscriberId>,
    ) -> Published {
        let budget = self.shared.options.budget;
        let len = message.wire_len();
        let mut published = Published::default();
        let mut to_wake = Vec::new();
        let mut members = lock(&self.shared.members);
        members.retain(|id, mailbox| {
            if Some(*id) == except {
                return true;
            }
            let mut state = lock(&mailbox.state);
            if state.queued_bytes + len > budget {
                // Over budget: let go of everything it holds, now.
                state.dropped = true;
                state.queue = VecDeque::new();
                state.queued_bytes = 0;
                published.dropped += 1;
                to_wake.extend(state.waker.take());
                return false;
            }
            state.queue.push_back(message.clone());
            state.queued_bytes += len;
            published.queued += 1;
            to_wake.extend(state.waker.take());
            true
        });
        drop(members);
        for waker in to_wake {
            waker.wake();
        }
        published
    }
}

/// A subscriber's end: its mailbox. Dropping it leaves the topic.
#[derive(Debug)]
pub struct Subscription {
    id: SubscriberId,
    mailbox: Arc<Mailbox>,
    topic: Weak<TopicShared>,
    budget: usize,
}

/// What [`Subscription::try_recv`] and [`Subscription::recv`] found.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The next message.
    Message(PreparedMessage),
    /// The subscriber was dropped for going over its budget (its mailbox
    /// was emptied): close the connection with [`SLOW_CONSUMER_CLOSE`].
    Dropped,
}

impl Subscription {
    /// This subscriber's id.
    pub fn id(&self) -> SubscriberId {
        self.id
    }

    /// Bytes waiting in the mailbox.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.mailbox.state).queued_bytes
    }

    /// Whether the topic dropped this subscriber for being too slow.
    pub fn is_dropped(&self) -> bool {
        lock(&self.mailbox.state).dropped
    }

    /// The next delivery, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        let mut state = lock(&self.mailbox.state);
        take(&mut state)
    }

    /// Waits for the next delivery. Cancel-safe: nothing is lost when the
    /// future is dropped before it completes.
    pub async fn recv(&mut self) -> Delivery {
        poll_fn(|cx| {
            let mut state = lock(&self.mailbox.state);
            match take(&mut state) {
                Some(delivery) => Poll::Ready(delivery),
                None => {
                    remember(&mut state.waker, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(topic) = self.topic.upgrade() {
            lock(&topic.members).remove(&self.id);
        }
    }
}

fn take(state: &mut MailboxState) -> Option<Delivery> {
    if state.dropped {
        return Some(Delivery::Dropped);
    }
    let message = state.queue.pop_front()?;
    state.queued_bytes -= message.wire_len();
    Some(Delivery::Message(message))
}

fn remember(slot: &mut Option<Waker>, waker: &Waker) {
    if !slot.as_ref().is_some_and(|known| known.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

/// What [`relay`] returns.
#[derive(Debug)]
pub enum Relayed {
    /// The connection's stream yielded a message or an error (as
    /// `StreamExt::next` would).
    Received(Result<Message>),
    /// The connection ended (the stream yielded `None`).
    Ended,
    /// The topic dropped this subscriber for going over its budget: close
    /// the connection with [`SLOW_CONSUMER_CLOSE`].
    Dropped,
}

/// Runs one connection of a topic until something needs the caller: moves
/// deliveries from `subscription` into `ws`'s send queue while that queue
/// holds less than the topic's budget, writes them as the transport takes
/// them, and returns what the peer sent, the end of the connection, or the
/// subscriber's drop. Call it in a loop (also inside `tokio::select!`: it
/// is cancel-safe, as polling the stream is).
pub async fn relay<S, K>(subscription: &mut Subscription, ws: &mut WebSocketStream<S, K>) -> Relayed
where
    S: AsyncRead + AsyncWrite + Unpin,
    K: MaskKeySource + Unpin,
{
    poll_fn(|cx| {
        {
            let mut state = lock(&subscription.mailbox.state);
            while ws.transmit_len() < subscription.budget {
                match take(&mut state) {
                    Some(Delivery::Message(message)) => {
                        if let Err(error) = ws.queue_prepared(&message) {
                            return Poll::Ready(Relayed::Received(Err(error)));
                        }
                    }
                    Some(Delivery::Dropped) => return Poll::Ready(Relayed::Dropped),
                    None => break,
                }
            }
            if state.dropped {
                return Poll::Ready(Relayed::Dropped);
            }
            // Woken by the next publish (or the drop); a full send queue
            // wakes us through the stream when the transport takes more.
            remember(&mut state.waker, cx.waker());
        }
        // Polling the stream writes what is queued and reads what came.
        match Pin::new(&mut *ws).poll_next(cx) {
            Poll::Ready(Some(received)) => Poll::Ready(Relayed::Received(received)),
            Poll::Ready(None) => Poll::Ready(Relayed::Ended),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_over_budget_is_dropped_and_its_mailbox_emptied() {
        let topic = Topic::new(TopicOptions::default().budget(100));
        let mut slow = topic.subscribe();
        let mut quick = topic.subscribe();
        let message = PreparedMessage::binary(vec![0u8; 38]); // 40 wire bytes
        for _ in 0..2 {
            assert_eq!(topic.publish(&message).queued, 2);
            assert!(matches!(quick.try_recv(), Some(Delivery::Message(_))));
        }
        assert_eq!(slow.queued_bytes(), 80);
        let third = topic.publish(&message);
        assert_eq!((third.queued, third.dropped), (1, 1));
        assert_eq!(slow.queued_bytes(), 0);
        assert!(matches!(slow.try_recv(), Some(Delivery::Dropped)));
        assert_eq!(topic.len(), 1);
        // The others go on.
        assert!(matches!(quick.try_recv(), Some(Delivery::Message(_))));
        assert!(quick.try_recv().is_none());
    }

    #[test]
    fn publish_except_leaves_out_the_sender_and_unsubscribing_stops_deliveries() {
        let topic = Topic::new(TopicOptions::default());
        let mut sender = topic.subscribe();
        let mut other = topic.subscribe();
        let published = topic.publish_except(&PreparedMessage::text("hi"), sender.id());
        assert_eq!(published.queued, 1);
        assert!(sender.try_recv().is_none());
        assert!(
            matches!(other.try_recv(), Some(Delivery::Message(m)) if m.payload()[..] == *b"hi")
        );
        assert!(topic.unsubscribe(other.id()));
        assert_eq!(topic.publish(&PreparedMessage::text("again")).queued, 1);
        assert!(other.try_recv().is_none());
        drop(sender);
        assert!(topic.is_empty());
    }
}
