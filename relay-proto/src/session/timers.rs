//! The session's timer table: every deadline the session keeps, named.
//!
//! Each sub-machine keeps its own deadlines (the pending-request table, the offline queue, the
//! keepalive, the reconnect backoff, the calling sub-machine's unconfirmed waits); this module
//! lists them as one table of [`Timer`]s so a driver or a test can see what is armed
//! ([`Session::timers`]) and which ones fired on the last [`Input::Timeout`]
//! ([`Session::timeout_reason`], [`Session::fired_timers`]).
//!
//! # Time
//!
//! * Time must be monotonic. A `now` earlier than one already seen is clamped to the latest
//!   seen (and traced), so a clock that steps back never reorders or re-arms deadlines.
//! * [`Session::poll_timeout`] (and [`Output::Timeout`]) may change after any input or
//!   command: a frame, a transport change, a command, a timeout. Re-read it after each.
//! * A timeout fed early, late or repeatedly is harmless: only timers whose instant has passed
//!   act, and each acts once.

use std::time::Instant;

use crate::session::Session;
use crate::timer::Timer;

#[cfg(doc)]
use crate::session::{Input, Output};

impl Session {
    /// Every armed timer, earliest first. [`Session::poll_timeout`] is the first instant here.
    pub fn timers(&self) -> Vec<(Instant, Timer)> {
        self.timers_until(None)
    }

    /// The armed timers due at `until` (all of them for `None`), earliest first.
    fn timers_until(&self, until: Option<Instant>) -> Vec<(Instant, Timer)> {
        let due = |at: &Instant| until.map_or(true, |u| *at <= u);
        let mut t: Vec<(Instant, Timer)> = self
            .hub
            .requests
            .in_flight_iter()
            .filter(|(_, p)| due(&p.deadline))
            .map(|(id, p)| (p.deadline, Timer::Request(id.clone())))
            .collect();
        t.extend(
            self.hub
                .requests
                .queue_iter()
                .filter(|q| due(&q.deadline))
                .map(|q| (q.deadline, Timer::Offline(q.id.clone()))),
        );
        let lifecycle = self.hub.lifecycle.timers().into_iter().flatten();
        t.extend(lifecycle.filter(|(at, _)| due(at)));
        t.extend(self.calling.lost_timers().filter(|(at, _)| due(at)));
        t.sort();
        t
    }

    /// The timers that fired on the last [`Input::Timeout`], in instant order (empty when it
    /// was spurious).
    pub fn fired_timers(&self) -> &[Timer] {
        &self.fired
    }

    /// The first timer that fired on the last [`Input::Timeout`], if any.
    pub fn timeout_reason(&self) -> Option<&Timer> {
        self.fired.first()
    }

    /// Clamps a time that went backwards to the latest one seen.
    pub(crate) fn observe(&mut self, now: Instant) -> Instant {
        self.hub.plumbing.observe(now)
    }

    /// Records which timers are due at `now`, before they act.
    pub(crate) fn record_fired(&mut self, now: Instant) {
        let fired: Vec<Timer> = self
            .timers_until(Some(now))
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        for t in &fired {
            tracing::debug!(timer = ?t, phase = ?self.hub.lifecycle.link().phase(), "timer fired");
        }
        self.fired = fired;
    }
}
