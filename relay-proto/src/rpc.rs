//! The pending-request table: every request awaiting an answer (with its deadline and the
//! connection it went out on) and every command waiting for the next handshake (with its
//! offline deadline), under the in-flight and offline-queue bounds.
//!
//! It owns that state and nothing else: it never sends, never emits. Its owner transmits,
//! routes answers by the tag `K` each request carries, and fails what it hands back.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::error::Capacity;
use crate::ids::RequestId;

/// What a request tag tells the table.
pub(crate) trait RequestTag {
    /// A lifecycle request (handshake, keepalive): it never counts against the relay slots.
    fn is_lifecycle(&self) -> bool;
}

/// A request awaiting its answer.
#[derive(Debug, Clone)]
pub(crate) struct InFlight<K> {
    pub tag: K,
    pub deadline: Instant,
    /// The connection it was sent on. Everything pending is failed when that connection ends,
    /// so a stale request can never time out on (and close) a newer connection.
    pub conn: u64,
    /// Its key in the deadline index (the table's send counter when it was sent).
    seq: u64,
}

/// A relay command waiting for the next successful handshake.
#[derive(Debug, Clone)]
pub(crate) struct Queued<K> {
    pub id: RequestId,
    pub method: String,
    /// The params as JSON text.
    pub params: Box<RawValue>,
    pub tag: K,
    /// `offline_timeout` after it was issued: still queued then, it fails, never sent.
    pub deadline: Instant,
}

/// The table.
#[derive(Debug)]
pub(crate) struct Pending<K> {
    /// Looked up by the id of every answer: hashed, not ordered (string comparisons of
    /// random ids down a tree were a visible share of a busy consumer's CPU).
    in_flight: HashMap<RequestId, InFlight<K>, crate::ids::IdHasher>,
    /// The same requests ordered by deadline, so the next deadline and the expired requests
    /// are found without scanning every request in flight. Keyed by (deadline, send counter):
    /// integers to compare, and the id shared, not copied.
    by_deadline: BTreeMap<(Instant, u64), RequestId>,
    /// Requests sent so far (the deadline index's tie-breaker).
    sent: u64,
    /// Requests in flight that are not lifecycle requests (relay slots in use).
    relay_in_flight: usize,
    queue: VecDeque<Queued<K>>,
    request_timeout: Duration,
    offline_timeout: Duration,
    max_in_flight: usize,
    max_queue: usize,
    /// Bound of the queue while the connection is up and only the in-flight bound holds
    /// commands back (a burst of answers to a burst of inbound calls): at least `max_queue`.
    max_waiting: usize,
}

impl<K: RequestTag> Pending<K> {
    pub(crate) fn new(
        request_timeout: Duration,
        offline_timeout: Duration,
        max_in_flight: usize,
        max_queue: usize,
        max_waiting: usize,
    ) -> Self {
        Pending {
            in_flight: HashMap::default(),
            by_deadline: BTreeMap::new(),
            sent: 0,
            relay_in_flight: 0,
            queue: VecDeque::new(),
            request_timeout,
            offline_timeout,
            max_in_flight,
            max_queue,
            max_waiting: max_waiting.max(max_queue),
        }
    }

    /// Records a request just sent on connection `conn`.
    pub(crate) fn sent(&mut self, now: Instant, id: RequestId, tag: K, conn: u64) {
        let deadline = now + self.request_timeout;
        if !tag.is_lifecycle() {
            self.relay_in_flight += 1;
        }
        let seq = self.sent;
        self.sent += 1;
        self.by_deadline.insert((deadline, seq), id.clone());
        let previous = self.in_flight.insert(
            id,
            InFlight {
                tag,
                deadline,
                conn,
                seq,
            },
        );
        if let Some(p) = previous {
            self.by_deadline.remove(&(p.deadline, p.seq));
            self.forget(&p);
        }
    }

    /// Drops the bookkeeping of a request taken out of `in_flight` (its entry in the deadline
    /// index is removed by the caller, who knows its id).
    fn forget(&mut self, p: &InFlight<K>) {
        if !p.tag.is_lifecycle() {
            self.relay_in_flight = self.relay_in_flight.saturating_sub(1);
        }
    }

    fn remove(&mut self, id: &RequestId) -> Option<InFlight<K>> {
        self.remove_entry(id.as_str()).map(|(_, p)| p)
    }

    /// Takes a request out by its id's text, with the table's own id.
    fn remove_entry(&mut self, id: &str) -> Option<(RequestId, InFlight<K>)> {
        let (id, p) = self.in_flight.remove_entry(id)?;
        self.by_deadline.remove(&(p.deadline, p.seq));
        self.forget(&p);
        Some((id, p))
    }

    /// Whether a relay command issued now may go out at once (nothing queued ahead of it, a
    /// relay slot free). The same test as [`pop_sendable`](Self::pop_sendable): counting
    /// every request in flight here let a command take the slot kept for the keepalive
    /// while a lifecycle request was out, and the next ping then passed the bound.
    pub(crate) fn may_send_now(&self) -> bool {
        self.queue.is_empty() && self.relay_slot_free()
    }

    /// Whether a relay command may go out: one slot of `max_in_flight` (at least 2) is kept
    /// for the keepalive ping.
    fn relay_slot_free(&self) -> bool {
        self.relay_in_flight < self.max_in_flight.max(2) - 1
    }

    /// Queues a command for the next handshake, or (`live`) for a free relay slot on the open
    /// connection; refused at the offline-queue bound, or at the larger waiting bound when live.
    pub(crate) fn enqueue(
        &mut self,
        live: bool,
        now: Instant,
        id: RequestId,
        method: &str,
        params: Box<RawValue>,
        tag: K,
    ) -> Result<(), Capacity> {
        if live && self.queue.len() >= self.max_waiting {
            return Err(Capacity::WaitingForSlot {
                limit: self.max_waiting,
            });
        }
        if !live && self.queue.len() >= self.max_queue {
            return Err(Capacity::OfflineQueue {
                limit: self.max_queue,
            });
        }
        self.queue.push_back(Queued {
            id,
            method: method.to_owned(),
            params,
            tag,
            deadline: now + self.offline_timeout,
        });
        Ok(())
    }

    /// The next queued command, if a relay slot is free. One slot of `max_in_flight` is kept
    /// for the keepalive ping (lifecycle requests only exist while nothing else is in flight),
    /// so the total never exceeds the bound; the bound is treated as at least 2.
    pub(crate) fn pop_sendable(&mut self) -> Option<Queued<K>> {
        if self.relay_slot_free() {
            self.queue.pop_front()
        } else {
            None
        }
    }

    /// Takes the request an answer is for.
    pub(crate) fn answered(&mut self, id: &RequestId) -> Option<InFlight<K>> {
        self.remove(id)
    }

    /// [`answered`](Self::answered) by the id's text, handing back the table's own id.
    pub(crate) fn answered_text(&mut self, id: &str) -> Option<(RequestId, InFlight<K>)> {
        self.remove_entry(id)
    }

    /// Requests awaiting an answer.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Commands waiting for the next handshake.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The requests in flight, in no particular order (the one caller sorts them).
    pub(crate) fn in_flight_iter(&self) -> impl Iterator<Item = (&RequestId, &InFlight<K>)> {
        #[allow(clippy::disallowed_methods)] // sorted by `Session::timers`
        self.in_flight.iter()
    }

    /// The queued commands, oldest first.
    pub(crate) fn queue_iter(&self) -> impl Iterator<Item = &Queued<K>> {
        self.queue.iter()
    }

    /// The earliest request or offline-queue deadline. Queued deadlines are issue time plus
    /// one constant on a clock that never goes backwards, so the front of the queue is the
    /// earliest.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let queued = self.queue.front().map(|q| q.deadline);
        let first = self.by_deadline.first_key_value().map(|((at, _), _)| *at);
        first.into_iter().chain(queued).min()
    }

    /// Removes every queued command whose offline deadline has passed.
    pub(crate) fn take_expired_queued(&mut self, now: Instant) -> Vec<Queued<K>> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|q| q.deadline <= now) {
            out.extend(self.queue.pop_front());
        }
        out
    }

    /// Removes and returns every request whose deadline has passed, in id order.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<(RequestId, InFlight<K>)> {
        let mut expired: Vec<RequestId> = Vec::new();
        while let Some(((at, _), _)) = self.by_deadline.first_key_value() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = self.by_deadline.pop_first() {
                expired.push(id);
            }
        }
        expired.sort_unstable();
        expired
            .into_iter()
            .filter_map(|id| {
                let p = self.in_flight.remove(&id)?;
                self.forget(&p);
                Some((id, p))
            })
            .collect()
    }

    /// Removes every request in flight (the connection is gone), in id order.
    pub(crate) fn take_all_in_flight(&mut self) -> Vec<(RequestId, InFlight<K>)> {
        self.by_deadline.clear();
        self.relay_in_flight = 0;
        let mut all: Vec<_> = std::mem::take(&mut self.in_flight).into_iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Removes every queued command (the session stopped).
    pub(crate) fn take_queue(&mut self) -> Vec<Queued<K>> {
        self.queue.drain(..).collect()
    }
}

#[cfg(test)]
// A test needs some instant to start from; the table itself never reads the clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    struct Relay;
    impl RequestTag for Relay {
        fn is_lifecycle(&self) -> bool {
            false
        }
    }

    fn table() -> Pending<Relay> {
        Pending::new(Duration::from_secs(5), Duration::from_secs(5), 3, 2, 6)
    }

    #[derive(Debug, Clone, Copy)]
    enum Tag {
        Relay,
        Ping,
    }
    impl RequestTag for Tag {
        fn is_lifecycle(&self) -> bool {
            matches!(self, Tag::Ping)
        }
    }

    #[test]
    fn a_relay_command_never_takes_the_keepalive_slot() {
        // max_in_flight 3: two relay slots and one kept for the ping.
        let now = Instant::now();
        let mut p: Pending<Tag> =
            Pending::new(Duration::from_secs(5), Duration::from_secs(5), 3, 2, 6);
        p.sent(now, RequestId::new("a"), Tag::Relay, 1);
        assert!(p.may_send_now());
        p.sent(now, RequestId::new("b"), Tag::Relay, 1);
        assert!(!p.may_send_now(), "the third slot is the keepalive's");
        assert!(p.answered(&RequestId::new("a")).is_some());
        // A ping out takes no relay slot: a command may still go, and the total then
        // reaches the bound, never passes it.
        p.sent(now, RequestId::new("ping"), Tag::Ping, 1);
        assert!(p.may_send_now());
        p.sent(now, RequestId::new("c"), Tag::Relay, 1);
        assert!(!p.may_send_now());
        assert!(p.pop_sendable().is_none());
        assert_eq!(p.in_flight(), 3);
    }

    #[test]
    fn a_live_burst_waits_beyond_the_offline_bound() {
        let now = Instant::now();
        let mut p = table();
        for i in 0..6 {
            let id = RequestId::new(format!("r{i}"));
            assert!(
                p.enqueue(true, now, id, "m", RawValue::NULL.to_owned(), Relay)
                    .is_ok(),
                "{i}"
            );
        }
        let refused = p.enqueue(
            true,
            now,
            RequestId::new("r6"),
            "m",
            RawValue::NULL.to_owned(),
            Relay,
        );
        assert!(matches!(
            refused,
            Err(Capacity::WaitingForSlot { limit: 6 })
        ));
    }

    #[test]
    fn offline_commands_keep_the_offline_bound() {
        let now = Instant::now();
        let mut p = table();
        for i in 0..2 {
            let id = RequestId::new(format!("r{i}"));
            assert!(p
                .enqueue(false, now, id, "m", RawValue::NULL.to_owned(), Relay)
                .is_ok());
        }
        let refused = p.enqueue(
            false,
            now,
            RequestId::new("r2"),
            "m",
            RawValue::NULL.to_owned(),
            Relay,
        );
        assert!(matches!(refused, Err(Capacity::OfflineQueue { limit: 2 })));
    }

    #[test]
    fn deadlines_come_from_the_index_and_expire_in_id_order() {
        let t0 = Instant::now();
        let mut p = table();
        p.sent(t0 + Duration::from_secs(1), RequestId::new("b"), Relay, 1);
        p.sent(t0, RequestId::new("c"), Relay, 1);
        p.sent(t0, RequestId::new("a"), Relay, 1);
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert!(p.answered(&RequestId::new("c")).is_some());
        assert!(p.pop_sendable().is_none(), "queue empty");
        let expired = p.take_expired(t0 + Duration::from_secs(5));
        let ids: Vec<_> = expired
            .iter()
            .map(|(id, _)| id.as_str().to_owned())
            .collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_secs(6)));
        assert_eq!(p.take_all_in_flight().len(), 1);
        assert_eq!(p.next_deadline(), None);
    }
}
