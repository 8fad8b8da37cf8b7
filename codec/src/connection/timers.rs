//! The connection's clocks: the heartbeat and the close timeout.
//!
//! * **Heartbeat** ([`Config::heartbeat`]): every `interval` a ping is queued
//!   for [`Connection::poll_transmit`], carrying its sequence number as an
//!   8-byte big-endian payload; a pong echoing that number answers it, and
//!   one that does not arrive within `timeout` fails the connection with
//!   1011 ([`ProtocolError::PongTimeout`]). One heartbeat ping is
//!   outstanding at a time, and none is started once the close handshake
//!   has begun.
//! * **Close timeout** ([`Config::close_timeout`]): once we have sent a
//!   close, the peer's must arrive in time, or the connection counts as
//!   [`State::Closed`] anyway.
//!
//! The codec never looks at a clock: time comes in only through
//! [`Connection::handle_timeout`], and [`Connection::poll_timeout`] says when
//! it is next needed. Both delegate to [`Timers`], which sees the rest of the
//! connection only through its [`State`].

use core::time::Duration;

use super::State;
use crate::config::{Config, Heartbeat};
use crate::error::ProtocolError;

#[cfg(doc)]
use super::Connection;

/// Deadlines, all as durations since the caller's epoch (see
/// [`Connection::handle_timeout`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers {
    /// `handle_timeout` has been called at least once.
    started: bool,
    /// When the next heartbeat ping is due.
    next_ping: Option<Duration>,
    /// The outstanding heartbeat ping: its sequence number and when it was sent.
    awaiting_pong: Option<(u64, Duration)>,
    /// Heartbeat pings sent so far; each carries its number as payload.
    pings_sent: u64,
    /// A heartbeat ping is queued for `poll_transmit`.
    ping_queued: bool,
    /// When we give up waiting for the peer's close.
    close_deadline: Option<Duration>,
    /// The peer's close did not arrive in time.
    close_timed_out: bool,
}

impl Timers {
    /// Whether the peer's close did not arrive within the close timeout.
    #[inline]
    pub(super) const fn close_timed_out(&self) -> bool {
        self.close_timed_out
    }

    /// Whether a heartbeat ping waits for [`Connection::poll_transmit`].
    #[inline]
    pub(super) const fn ping_queued(&self) -> bool {
        self.ping_queued
    }

    /// Takes the queued heartbeat ping, if any, and returns its payload (the
    /// sequence number, big-endian).
    #[inline]
    pub(super) fn take_ping(&mut self) -> Option<[u8; 8]> {
        if core::mem::take(&mut self.ping_queued) {
            Some(self.pings_sent.to_be_bytes())
        } else {
            None
        }
    }

    /// Notes a received pong: one echoing the outstanding heartbeat ping's
    /// sequence number answers it.
    #[inline]
    pub(super) fn pong_received(&mut self, payload: &[u8]) {
        if let Some((sequence, _)) = self.awaiting_pong {
            if *payload == sequence.to_be_bytes() {
                self.awaiting_pong = None;
            }
        }
    }

    /// Moves the clocks to `now` in the connection's `state` (the body of
    /// [`Connection::handle_timeout`]). Returns the error to fail the
    /// connection with when the heartbeat went unanswered.
    #[inline]
    pub(super) fn advance(
        &mut self,
        now: Duration,
        state: State,
        config: &Config,
    ) -> Result<(), ProtocolError> {
        let heartbeat = config.heartbeat;
        if !self.started {
            self.started = true;
            self.next_ping = heartbeat.map(|h| now + h.interval);
        }
        match state {
            State::Closed => Ok(()),
            State::CloseSent => {
                self.wait_for_close(now, config.close_timeout);
                Ok(())
            }
            State::Open => match heartbeat {
                Some(heartbeat) => self.beat(now, heartbeat),
                None => Ok(()),
            },
        }
    }

    /// Starts the close timeout on the first call after our close, and notes
    /// when it has run out.
    fn wait_for_close(&mut self, now: Duration, close_timeout: Duration) {
        let deadline = *self.close_deadline.get_or_insert(now + close_timeout);
        if now >= deadline {
            self.close_timed_out = true;
        }
    }

    /// Checks the outstanding heartbeat ping's deadline, or queues the next
    /// ping when it is due.
    fn beat(&mut self, now: Duration, heartbeat: Heartbeat) -> Result<(), ProtocolError> {
        if let Some((_, sent_at)) = self.awaiting_pong {
            if now >= sent_at + heartbeat.timeout {
                return Err(ProtocolError::PongTimeout);
            }
            return Ok(());
        }
        if self.next_ping.is_some_and(|due| now >= due) {
            self.pings_sent += 1;
            self.ping_queued = true;
            self.awaiting_pong = Some((self.pings_sent, now));
            self.next_ping = Some(now + heartbeat.interval);
        }
        Ok(())
    }

    /// The next deadline in the connection's `state` (the body of
    /// [`Connection::poll_timeout`]).
    #[inline]
    pub(super) fn next_deadline(
        &self,
        state: State,
        heartbeat: Option<Heartbeat>,
    ) -> Option<Duration> {
        match state {
            State::Closed => None,
            State::CloseSent => self.close_deadline,
            State::Open => match (self.awaiting_pong, heartbeat) {
                (Some((_, sent_at)), Some(heartbeat)) => Some(sent_at + heartbeat.timeout),
                _ => self.next_ping,
            },
        }
    }
}
