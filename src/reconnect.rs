//! When and whether to reconnect, sans I/O: exponential backoff with full
//! jitter, and which failures are worth retrying. `ws13::tokio::Reconnecting`
//! only sleeps and connects around a [`ReconnectSchedule`].
//!
//! Retried (transient): network and I/O errors, timeouts, a server or proxy
//! that is unreachable or answers 5xx, SOCKS network failures, and
//! connections that end without a close frame (1006) or with 1001 (going
//! away), 1011 (internal error), 1012 (service restart), 1013 (try again
//! later) or 1014 (bad gateway). Not retried (permanent): 4xx and other
//! refusals, a proxy's 403 or 407, a certificate the client refuses, a
//! response that fails the strict handshake checks, an invalid URL or
//! option, and closes with any other code (1000 normal, 1008 policy
//! violation, ...).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ws13::reconnect::{Backoff, ReconnectSchedule};
//! use ws13::{ConnectError, PeerClose};
//!
//! let backoff = Backoff::default()
//!     .initial_delay(Duration::from_millis(100))
//!     .max_delay(Duration::from_secs(1))
//!     .full_jitter(false);
//! let mut schedule = ReconnectSchedule::new(backoff);
//! let refused = || ConnectError::Io(std::io::ErrorKind::ConnectionRefused.into());
//! let delays: Vec<Duration> = (0..5).map(|_| schedule.connect_failed(&refused(), 0).unwrap()).collect();
//! assert_eq!(delays, [100, 200, 400, 800, 1000].map(Duration::from_millis));
//! ```

use std::time::{Duration, Instant};

use ws13_codec::CloseCode;
use ws13_handshake::ResponseError;

use crate::error::ConnectError;
use crate::message::{CloseReason, PeerClose};

/// Exponential backoff with full jitter: before attempt `n` (0 after a
/// connection that lasted), wait a random time between 0 and
/// `min(max_delay, initial_delay × factorⁿ)` ("full jitter", so clients that
/// lost the same server do not come back at the same moment).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The cap of the first delay. Default 500 ms.
    pub initial_delay: Duration,
    /// The largest delay. Default 60 s.
    pub max_delay: Duration,
    /// How much the cap grows per failed attempt. Default 2.
    pub factor: f64,
    /// A connection that stayed up this long resets the backoff. Default 30 s.
    pub reset_after: Duration,
    /// Wait a random part of the cap (`true`, default) or the cap itself.
    pub full_jitter: bool,
    /// Give up after this many failed attempts in a row (`None`, default:
    /// never).
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            factor: 2.0,
            reset_after: Duration::from_secs(30),
            full_jitter: true,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// Sets [`Backoff::initial_delay`].
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets [`Backoff::max_delay`].
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`Backoff::factor`] (values below 1 count as 1).
    #[must_use]
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets [`Backoff::reset_after`].
    #[must_use]
    pub fn reset_after(mut self, lasted: Duration) -> Self {
        self.reset_after = lasted;
        self
    }

    /// Sets [`Backoff::full_jitter`].
    #[must_use]
    pub fn full_jitter(mut self, on: bool) -> Self {
        self.full_jitter = on;
        self
    }

    /// Sets [`Backoff::max_attempts`].
    #[must_use]
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The cap for attempt `attempt` (0-based).
    pub fn cap(&self, attempt: u32) -> Duration {
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        let grown = self.initial_delay.as_secs_f64() * factor.powi(attempt.min(1024) as i32);
        if !grown.is_finite() || grown >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(grown).min(self.max_delay)
        }
    }

    /// The delay before attempt `attempt`, with `random` (uniform over
    /// `u64`) choosing the jitter.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let cap = self.cap(attempt);
        if !self.full_jitter {
            return cap;
        }
        let nanos = cap.as_nanos().min(u128::from(u64::MAX));
        let chosen = nanos * u128::from(random) / u128::from(u64::MAX);
        Duration::from_nanos(u64::try_from(chosen).unwrap_or(u64::MAX))
    }
}

/// Whether a failure to connect is worth retrying (see the module docs).
pub fn is_transient_connect_error(error: &ConnectError) -> bool {
    match error {
        ConnectError::Io(e) => !is_certificate_failure(e),
        ConnectError::Timeout(_) | ConnectError::Disconnected => true,
        ConnectError::ProxyUnreachable { source, .. } => !is_certificate_failure(source),
        ConnectError::Proxy { error, .. } => error.is_transient(),
        ConnectError::Handshake(ResponseError::UnexpectedStatus { status, .. }) => {
            (500..600).contains(status)
        }
        _ => false,
    }
}

/// A TLS failure the client decided on (a certificate it refuses), which
/// retrying does not fix.
fn is_certificate_failure(error: &std::io::Error) -> bool {
    #[cfg(feature = "tls")]
    {
        if let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::NoApplicationProtocol
            );
        }
    }
    let _ = error;
    false
}

/// Whether a connection that ended this way is worth reconnecting (see the
/// module docs): no close frame (1006), or 1001, 1011, 1012, 1013, 1014.
pub fn is_transient_close(close: &PeerClose) -> bool {
    match close {
        PeerClose::NoFrame => true,
        PeerClose::FrameWithoutCode => false,
        PeerClose::Frame(reason) => matches!(
            reason.code,
            CloseCode::GOING_AWAY
                | CloseCode::ABNORMAL
                | CloseCode::INTERNAL_ERROR
                | CloseCode::SERVICE_RESTART
                | CloseCode::TRY_AGAIN_LATER
                | CloseCode::BAD_GATEWAY
        ),
    }
}

/// Why reconnecting stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconnectError {
    /// Connecting failed in a way retrying does not fix (or
    /// [`Backoff::max_attempts`] were used up): this is the last failure.
    #[error("not retrying: {0}")]
    Connect(ConnectError),
    /// The server ended the connection with a close that asks not to come
    /// back (1000, 1008, ...).
    #[error("not reconnecting: the server closed the connection with {} {}", .0.code.0, .0.reason)]
    Closed(CloseReason),
    /// The server closed with a close frame without a code (1005).
    #[error("not reconnecting: the server closed the connection without a code (1005)")]
    ClosedWithoutCode,
}

/// The reconnect loop's decisions, with time and randomness as inputs.
///
/// Call [`connected`](Self::connected) when a connection opens;
/// [`connect_failed`](Self::connect_failed) when an attempt fails, and
/// [`ended`](Self::ended) when an open connection ends: both say how long
/// to wait before the next attempt, or why not to try again.
#[derive(Debug, Clone)]
pub struct ReconnectSchedule {
    backoff: Backoff,
    /// Failed attempts (and short-lived connections) since the last
    /// connection that lasted.
    attempt: u32,
    /// Failed attempts in a row, for [`Backoff::max_attempts`].
    failures: u32,
    connected_at: Option<Instant>,
}

impl ReconnectSchedule {
    /// A schedule with nothing tried yet.
    pub fn new(backoff: Backoff) -> Self {
        ReconnectSchedule {
            backoff,
            attempt: 0,
            failures: 0,
            connected_at: None,
        }
    }

    /// The backoff settings.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// A connection opened at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.failures = 0;
        self.connected_at = Some(now);
    }

    /// An attempt failed with `error`: the delay before the next one, or
    /// `None` when it is not worth retrying (give up with `error`).
    pub fn connect_failed(&mut self, error: &ConnectError, random: u64) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        let used_up = self
            .backoff
            .max_attempts
            .is_some_and(|max| self.failures >= max);
        if used_up || !is_transient_connect_error(error) {
            return None;
        }
        Some(self.next_delay(random))
    }

    /// The connection opened last ended at `now` as `close` says: the delay
    /// before reconnecting, or why not to.
    pub fn ended(
        &mut self,
        close: &PeerClose,
        now: Instant,
        random: u64,
    ) -> Result<Duration, ReconnectError> {
        let lasted = self
            .connected_at
            .take()
            .is_some_and(|at| now.saturating_duration_since(at) >= self.backoff.reset_after);
        if lasted {
            self.attempt = 0;
        }
        if !is_transient_close(close) {
            return Err(match close {
                PeerClose::Frame(reason) => ReconnectError::Closed(reason.clone()),
                _ => ReconnectError::ClosedWithoutCode,
            });
        }
        Ok(self.next_delay(random))
    }

    fn next_delay(&mut self, random: u64) -> Duration {
        let delay = self.backoff.delay(self.attempt, random);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> ConnectError {
        ConnectError::Io(std::io::ErrorKind::ConnectionRefused.into())
    }

    fn status(status: u16) -> ConnectError {
        ConnectError::Handshake(ResponseError::UnexpectedStatus {
            status,
            reason: String::new(),
        })
    }

    fn close(code: u16) -> PeerClose {
        PeerClose::Frame(CloseReason {
            code: CloseCode(code),
            reason: String::new(),
        })
    }

    #[test]
    fn caps_grow_to_the_maximum() {
        let backoff = Backoff::default()
            .initial_delay(Duration::from_secs(1))
            .factor(3.0)
            .max_delay(Duration::from_secs(20));
        let caps: Vec<u64> = (0..5).map(|n| backoff.cap(n).as_secs()).collect();
        assert_eq!(caps, [1, 3, 9, 20, 20]);
        assert_eq!(backoff.cap(u32::MAX), Duration::from_secs(20));
        assert_eq!(backoff.factor(f64::NAN).cap(3), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_cap() {
        let backoff = Backoff::default().initial_delay(Duration::from_secs(8));
        assert_eq!(backoff.delay(0, 0), Duration::ZERO);
        assert_eq!(backoff.delay(0, u64::MAX), Duration::from_secs(8));
        assert_eq!(
            backoff.delay(1, u64::MAX / 2),
            Duration::from_nanos(7_999_999_999)
        );
        assert_eq!(
            backoff.full_jitter(false).delay(1, 0),
            Duration::from_secs(16)
        );
    }

    #[test]
    fn what_is_retried() {
        assert!(is_transient_connect_error(&refused()));
        assert!(is_transient_connect_error(&ConnectError::Disconnected));
        assert!(is_transient_connect_error(&status(503)));
        assert!(!is_transient_connect_error(&status(403)));
        assert!(!is_transient_connect_error(&status(404)));
        assert!(!is_transient_connect_error(&ConnectError::Handshake(
            ResponseError::MissingAccept
        )));
        assert!(!is_transient_connect_error(&ConnectError::TlsUnsupported));
        for code in [1001, 1006, 1011, 1012, 1013, 1014] {
            assert!(is_transient_close(&close(code)), "{code}");
        }
        for code in [1000, 1002, 1003, 1007, 1008, 1009, 4000] {
            assert!(!is_transient_close(&close(code)), "{code}");
        }
        assert!(is_transient_close(&PeerClose::NoFrame));
        assert!(!is_transient_close(&PeerClose::FrameWithoutCode));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_refused_certificate_is_permanent_for_the_server_and_the_proxy() {
        let certificate = || {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            )
        };
        assert!(!is_transient_connect_error(
            &ConnectError::Io(certificate())
        ));
        assert!(!is_transient_connect_error(
            &ConnectError::ProxyUnreachable {
                proxy: "https://p:443".into(),
                source: certificate(),
            }
        ));
        assert!(is_transient_connect_error(
            &ConnectError::ProxyUnreachable {
                proxy: "https://p:443".into(),
                source: std::io::ErrorKind::ConnectionRefused.into(),
            }
        ));
    }

    #[test]
    fn a_connection_that_lasted_resets_the_backoff() {
        let backoff = Backoff::default()
            .initial_delay(Duration::from_secs(1))
            .reset_after(Duration::from_secs(10))
            .full_jitter(false);
        let mut schedule = ReconnectSchedule::new(backoff);
        let t0 = Instant::now();
        assert_eq!(schedule.connect_failed(&refused(), 0).unwrap().as_secs(), 1);
        assert_eq!(schedule.connect_failed(&refused(), 0).unwrap().as_secs(), 2);
        schedule.connected(t0);
        // A short-lived connection keeps growing the delay.
        let delay = schedule.ended(&close(1012), t0 + Duration::from_secs(1), 0);
        assert_eq!(delay.unwrap().as_secs(), 4);
        schedule.connected(t0);
        let delay = schedule.ended(&PeerClose::NoFrame, t0 + Duration::from_secs(10), 0);
        assert_eq!(delay.unwrap().as_secs(), 1);
        schedule.connected(t0);
        let stop = schedule.ended(&close(1008), t0, 0).unwrap_err();
        assert!(matches!(
            stop,
            ReconnectError::Closed(CloseReason {
                code: CloseCode(1008),
                ..
            })
        ));
        assert_eq!(schedule.connect_failed(&status(403), 0), None);
        let stop = ReconnectError::Connect(status(403));
        assert!(
            stop.to_string()
                .starts_with("not retrying: The server answered 403"),
            "{stop}"
        );
    }

    #[test]
    fn max_attempts_gives_up_with_the_last_error() {
        let mut schedule = ReconnectSchedule::new(Backoff::default().max_attempts(Some(2)));
        assert!(schedule.connect_failed(&refused(), 0).is_some());
        assert_eq!(schedule.connect_failed(&refused(), 0), None);
    }
}
