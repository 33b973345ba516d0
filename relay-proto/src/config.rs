//! Session configuration.

use std::fmt;
use std::time::Duration;

use crate::ids::{IdGenerator, SeededIds};

/// Reconnect backoff: `initial * multiplier^attempt`, capped at `max`, with +/- `jitter`
/// (a fraction of the delay) drawn from the seeded RNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay before the first reconnect attempt.
    pub initial: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Growth factor per failed attempt (>= 1.0).
    pub multiplier: f64,
    /// Jitter as a fraction of the delay, in `[0, 1]`: 0.2 means +/-20%.
    pub jitter: f64,
    /// Give up after this many consecutive failed attempts; `None` retries forever.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The delay before attempt number `attempt` (0-based), given a uniform sample in `[0,1)`.
    pub fn delay(&self, attempt: u32, unit_sample: f64) -> Duration {
        let base =
            self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(attempt.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit_sample - 1.0);
        let secs = (capped * factor).clamp(0.0, self.max.as_secs_f64());
        Duration::from_secs_f64(if secs.is_finite() { secs } else { 0.0 })
    }
}

/// Bounds on everything that grows with peer or caller behaviour. Hitting one is a typed
/// [`Capacity`](crate::error::Capacity) cause (of a [`CommandError`](crate::CommandError), or
/// of an [`InputError`](crate::InputError) for an inbound call), never silent growth.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// Requests awaiting a response on the current connection, keepalive included (one slot
    /// is kept for the ping, so relay commands get `max_in_flight - 1`; values below 2 act
    /// as 2). Commands beyond it wait in the offline queue.
    pub max_in_flight: usize,
    /// Commands waiting for the next handshake. While the connection is up, commands held
    /// back only by `max_in_flight` (a burst of answers to a burst of inbound calls) may wait
    /// up to `max(max_offline_queue, max_calls)`, so a burst the registry accepted is not
    /// refused for want of a slot. Past the bound a command is refused with
    /// `Capacity::OfflineQueue` while offline, `Capacity::WaitingForSlot` while connected.
    pub max_offline_queue: usize,
    /// Largest accepted incoming text frame, in bytes.
    pub max_frame_size: usize,
    /// Calls tracked at once.
    pub max_calls: usize,
    /// Components (play, record, ...) per call.
    pub max_components_per_call: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_in_flight: 1024,
            max_offline_queue: 1024,
            max_frame_size: 1 << 20,
            max_calls: 10_000,
            max_components_per_call: 256,
        }
    }
}

/// Everything a [`Session`](crate::Session) needs. Build with [`SessionConfig::new`] and the
/// `with_*` methods.
pub struct SessionConfig {
    /// Project id.
    pub project: String,
    /// Project (API) token. Never printed by `Debug`.
    pub token: String,
    /// Optional JWT, sent instead of the token.
    pub jwt: Option<String>,
    /// `agent` string in `blade.connect`.
    pub agent: String,
    /// Contexts to receive inbound calls, messages and tasks on (sent after every handshake).
    pub contexts: Vec<String>,
    /// Deadline for each request's response, counted from when it is sent.
    pub request_timeout: Duration,
    /// Deadline for a command that waits in the offline queue (issued while the session is
    /// disconnected, handshaking, paused by `blade.disconnect`, or at its in-flight bound),
    /// counted from when it was issued. A command still queued then fails with
    /// [`RequestError::OfflineTimeout`](crate::RequestError::OfflineTimeout) and is never
    /// sent, even while the session keeps reconnecting with unlimited backoff. Once sent, the
    /// request timeout applies afresh, so a command resolves at the latest
    /// `offline_timeout + request_timeout` after it was issued. Default 30 s.
    pub offline_timeout: Duration,
    /// How long a wait that may have lost its final event with the transport is kept open for
    /// a real outcome (Relay v2 does not replay events after a session restore). Every
    /// component and call-level wait (play, prompt, record, answer, connect, wait_for, a dial
    /// without its final dial event, ...) that was running when the transport dropped resolves
    /// with [`RequestError::Lost`](crate::RequestError::Lost) at the latest this long after the
    /// first restored handshake that follows the drop, or this long after the drop itself when
    /// no session is restored in that time; a real outcome arriving first wins. A `wait_for`
    /// started while disconnected counts from its start the same way. Later drops never extend
    /// a deadline already moved, so a flapping connection resolves a wait at the latest twice
    /// this after the first drop. A session that is *not* restored resolves them at once (see
    /// the crate docs). Waits started on a live connection are never bounded by this. Default
    /// 30 s.
    pub lost_event_timeout: Duration,
    /// Interval between keepalive pings; a ping unanswered by the next tick closes the transport.
    pub ping_interval: Duration,
    /// Reconnect policy.
    pub backoff: Backoff,
    /// Keep retrying after the server rejects our credentials (default: stop).
    pub retry_on_auth_failure: bool,
    /// Bounds.
    pub bounds: Bounds,
    /// Makes request ids, control ids and dial tags.
    pub id_generator: Box<dyn IdGenerator>,
    /// Seed of the RNG used for backoff jitter.
    pub rng_seed: u64,
}

impl SessionConfig {
    /// A configuration with the defaults: agent `Rust SDK/<version>`, 10 s request timeout,
    /// 30 s offline timeout, 30 s lost-event timeout, 10 s ping interval, exponential backoff without an attempt limit, ids from
    /// `SeededIds::new(0)` and RNG seed 0. Adapters should reseed both from the OS.
    pub fn new(project: impl Into<String>, token: impl Into<String>) -> Self {
        SessionConfig {
            project: project.into(),
            token: token.into(),
            jwt: None,
            agent: concat!("Rust SDK/", env!("CARGO_PKG_VERSION")).to_owned(),
            contexts: Vec::new(),
            request_timeout: Duration::from_secs(10),
            offline_timeout: Duration::from_secs(30),
            lost_event_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            backoff: Backoff::default(),
            retry_on_auth_failure: false,
            bounds: Bounds::default(),
            id_generator: Box::new(SeededIds::new(0)),
            rng_seed: 0,
        }
    }

    /// Sets the contexts to receive on.
    pub fn with_contexts<I, S>(mut self, contexts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.contexts = contexts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the id generator.
    pub fn with_id_generator(mut self, ids: impl IdGenerator) -> Self {
        self.id_generator = Box::new(ids);
        self
    }

    /// Seeds both the default id generator and the jitter RNG.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.id_generator = Box::new(SeededIds::new(seed));
        self.rng_seed = seed;
        self
    }

    /// Sets the backoff policy.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the bounds.
    pub fn with_bounds(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets the offline-queue deadline ([`SessionConfig::offline_timeout`]).
    pub fn with_offline_timeout(mut self, d: Duration) -> Self {
        self.offline_timeout = d;
        self
    }

    /// Sets the lost-event deadline ([`SessionConfig::lost_event_timeout`]).
    pub fn with_lost_event_timeout(mut self, d: Duration) -> Self {
        self.lost_event_timeout = d;
        self
    }

    /// Sets the keepalive interval.
    pub fn with_ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }

    /// Sets the agent string.
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = agent.into();
        self
    }

    /// Authenticates with a JWT instead of the project token.
    pub fn with_jwt(mut self, jwt: impl Into<String>) -> Self {
        self.jwt = Some(jwt.into());
        self
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("project", &self.project)
            .field("token", &"<redacted>")
            .field("jwt", &self.jwt.as_ref().map(|_| "<redacted>"))
            .field("agent", &self.agent)
            .field("contexts", &self.contexts)
            .field("request_timeout", &self.request_timeout)
            .field("offline_timeout", &self.offline_timeout)
            .field("lost_event_timeout", &self.lost_event_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("backoff", &self.backoff)
            .field("retry_on_auth_failure", &self.retry_on_auth_failure)
            .field("bounds", &self.bounds)
            .field("rng_seed", &self.rng_seed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = SessionConfig::new("proj", "s3cr3t-token").with_jwt("jwt-secret");
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(!d.contains("jwt-secret"), "{d}");
        assert!(d.contains("proj"));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            jitter: 0.0,
            ..Backoff::default()
        };
        assert_eq!(b.delay(0, 0.5), Duration::from_millis(500));
        assert_eq!(b.delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(b.delay(20, 0.5), Duration::from_secs(30));
        let j = Backoff::default();
        let lo = j.delay(2, 0.0);
        let hi = j.delay(2, 0.999);
        assert!(lo < Duration::from_secs(2) && hi > Duration::from_secs(2));
    }
}
