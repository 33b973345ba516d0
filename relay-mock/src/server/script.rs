//! Scripting and fault injection.
//!
//! Two small knobs, both usable from Rust tests and (for [`Outcome`]) from the HTTP
//! `POST /__control/next` endpoint:
//!
//! * [`Script`]: per-method FIFO queues of one-shot [`Outcome`]s. The next request with that
//!   method (a top-level Blade method such as `blade.ping`, or a `blade.execute` inner method such
//!   as `calling.play`) consumes the first armed outcome.
//! * [`Fault`]: transport-level misbehaviour (drop the socket, swallow, delay, duplicate, reorder
//!   or corrupt frames, refuse connections). Faults are armed with
//!   [`MockServer::inject`](crate::MockServer::inject) and disarm themselves once used up.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use relay_proto::wire::{EventType, Method};
use serde_json::Value;

/// One scripted event of an [`Outcome::Events`] sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedEvent {
    /// Virtual time after the response at which the event is sent.
    pub after: Duration,
    /// The calling event type, e.g. [`EventType::CallPlay`].
    pub event_type: EventType,
    /// The event payload. `call_id`, `node_id` and (when the request had one) `control_id` are
    /// filled in from the request when absent.
    pub params: Value,
}

/// A named outcome of the CONTROL_API `next` table: which one a method accepts is
/// [`Named::parse`]'s table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// `busy`: `calling.dial` (every leg busy), `calling.refer` (final state `busy`).
    Busy,
    /// `no_answer` for `calling.dial` (every leg rings out), `noAnswer` for `calling.refer`.
    NoAnswer,
    /// `error`: `calling.play` (state `error`), `calling.play_and_collect` (result `error`),
    /// `calling.refer` (final state `error`).
    Error,
    /// `failed`: `calling.connect` (every leg busy), `messaging.send` (final state `failed`).
    Failed,
    /// `digit`: `calling.play_and_collect` collects digits.
    Digit,
    /// `speech`: `calling.play_and_collect` collects speech.
    Speech,
    /// `no_input`: `calling.play_and_collect` (result `no_input`), `calling.record` (state
    /// `no_input`).
    NoInput,
    /// `no_match`: `calling.play_and_collect` result `no_match`.
    NoMatch,
    /// `cancel`: `calling.refer` final state `cancel`.
    Cancel,
    /// `undelivered`: `messaging.send` final state `undelivered`.
    Undelivered,
    /// `calling.detect`: the detector events to send, in order (`HUMAN`, `MACHINE,READY`, a
    /// fax tone, a digit...). On the wire: the events joined by commas.
    Detect(Vec<String>),
}

impl Named {
    /// Reads the `outcome` of a `next` request for `method`; `None` when `method` does not
    /// accept it (CONTROL_API.md's table).
    pub fn parse(method: Method, outcome: &str) -> Option<Named> {
        use Named::*;
        let named = match (method, outcome) {
            (Method::CallingDetect, events) => Detect(
                events
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            (Method::CallingDial, "no_answer") | (Method::CallingRefer, "noAnswer") => NoAnswer,
            (Method::CallingDial | Method::CallingRefer, "busy") => Busy,
            (
                Method::CallingPlay | Method::CallingPlayAndCollect | Method::CallingRefer,
                "error",
            ) => Error,
            (Method::CallingConnect | Method::MessagingSend, "failed") => Failed,
            (Method::CallingPlayAndCollect, "digit") => Digit,
            (Method::CallingPlayAndCollect, "speech") => Speech,
            (Method::CallingPlayAndCollect | Method::CallingRecord, "no_input") => NoInput,
            (Method::CallingPlayAndCollect, "no_match") => NoMatch,
            (Method::CallingRefer, "cancel") => Cancel,
            (Method::MessagingSend, "undelivered") => Undelivered,
            _ => return None,
        };
        Some(named)
    }

    /// The `outcome` string of a `next` request arming this for `method` (the inverse of
    /// [`Named::parse`]).
    pub fn wire(&self, method: Method) -> String {
        match self {
            Named::Detect(events) => events.join(","),
            Named::NoAnswer if method == Method::CallingRefer => "noAnswer".to_owned(),
            other => other.as_str().to_owned(),
        }
    }

    /// The value the outcome stands for in events (`no_answer`, `error`, `digit`, ...; a
    /// `Detect` is `detect`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Named::Busy => "busy",
            Named::NoAnswer => "no_answer",
            Named::Error => "error",
            Named::Failed => "failed",
            Named::Digit => "digit",
            Named::Speech => "speech",
            Named::NoInput => "no_input",
            Named::NoMatch => "no_match",
            Named::Cancel => "cancel",
            Named::Undelivered => "undelivered",
            Named::Detect(_) => "detect",
        }
    }
}

/// What the server does with the one request an outcome is armed for.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Never answer, emit nothing.
    NoResponse,
    /// Answer with the relay result `{"code": code, "message": message}` and do nothing else.
    RelayError {
        /// Relay code, a string such as `"500"`.
        code: String,
        /// Relay message.
        message: String,
    },
    /// Answer with a JSON-RPC error object.
    RpcError {
        /// JSON-RPC error code, e.g. `-32603`.
        code: i64,
        /// Error message.
        message: String,
    },
    /// A named outcome from the CONTROL_API `next` table.
    Named(Named),
    /// Answer `200` and then send exactly these events (instead of the built-in sequence).
    Events(Vec<ScriptedEvent>),
    /// Handle the request `delay` later (virtual time) with the inner outcome.
    Delayed {
        /// How long to sit on the request.
        delay: Duration,
        /// What to do then; [`Outcome::Default`] for the normal behaviour.
        then: Box<Outcome>,
    },
    /// The normal behaviour (useful inside [`Outcome::Delayed`]).
    Default,
}

impl Outcome {
    /// The named outcome, if this is one.
    pub(crate) fn named(outcome: &Option<Outcome>) -> Option<&Named> {
        match outcome {
            Some(Outcome::Named(n)) => Some(n),
            _ => None,
        }
    }
}

/// Per-method FIFO queues of one-shot outcomes.
#[derive(Debug, Clone, Default)]
pub struct Script {
    armed: BTreeMap<Method, VecDeque<Outcome>>,
}

impl Script {
    /// Arms `outcome` for the next unscripted request with `method`; returns how many outcomes are
    /// now pending for that method.
    pub fn arm(&mut self, method: Method, outcome: Outcome) -> usize {
        let q = self.armed.entry(method).or_default();
        q.push_back(outcome);
        q.len()
    }

    /// How many outcomes are armed for `method`.
    pub fn pending(&self, method: Method) -> usize {
        self.armed.get(&method).map_or(0, VecDeque::len)
    }

    /// Forgets every armed outcome.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// Takes the first armed outcome for `method`.
    pub(crate) fn take(&mut self, method: Method) -> Option<Outcome> {
        if self.armed.is_empty() {
            return None;
        }
        let q = self.armed.get_mut(&method)?;
        let o = q.pop_front();
        if q.is_empty() {
            self.armed.remove(&method);
        }
        o
    }
}

/// Transport-level misbehaviour, armed with [`MockServer::inject`](crate::MockServer::inject).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// After the server has sent `frames` more frames (on any connection), drop the connection
    /// that carried the last one abruptly (no close frame). The session is kept.
    DropAfterFrames {
        /// Frames to let through first (0 drops on the next frame, after sending it).
        frames: u64,
    },
    /// When the next request with `method` arrives, drop its connection abruptly without
    /// answering. The session is kept.
    DropOnMethod {
        /// Top-level or `blade.execute` inner method.
        method: Method,
    },
    /// Swallow (never answer) the next `count` requests with `method`.
    SwallowResponses {
        /// Top-level or `blade.execute` inner method.
        method: Method,
        /// How many requests.
        count: u32,
    },
    /// Handle the next `count` requests with `method` `delay` later (virtual time).
    DelayResponses {
        /// Top-level or `blade.execute` inner method.
        method: Method,
        /// How long.
        delay: Duration,
        /// How many requests.
        count: u32,
    },
    /// Send each of the next `count` event broadcasts twice.
    DuplicateEvents {
        /// How many events.
        count: u32,
    },
    /// Hold each of the next `count` event broadcasts back and send it after the following one
    /// on the same connection (or 100 ms later if none follows).
    ReorderEvents {
        /// How many events.
        count: u32,
    },
    /// Replace the next `count` outgoing frames by truncated, invalid JSON.
    CorruptFrames {
        /// How many frames.
        count: u32,
    },
    /// Close (abruptly) every connection opened during the next `duration` of virtual time.
    RefuseConnections {
        /// How long.
        duration: Duration,
    },
}

/// Parses the body of `POST /__control/next` into `(method, outcome)`.
pub(crate) fn outcome_from_control(body: &Value) -> Result<(Method, Outcome), String> {
    let name = body
        .get("method")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("`method` (string) is required")?;
    let outcome = body
        .get("outcome")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty())
        .ok_or("`outcome` (string) is required")?;
    let method = Method::parse(name).ok_or_else(|| format!("unknown method `{name}`"))?;
    let o = match outcome {
        "no_response" => Outcome::NoResponse,
        "error_code" if !method.is_blade() => Outcome::RelayError {
            code: body
                .get("code")
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "500".to_owned()),
            message: body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("Scripted failure")
                .to_owned(),
        },
        other => Outcome::Named(
            Named::parse(method, other)
                .ok_or_else(|| format!("outcome `{other}` is not supported for `{name}`"))?,
        ),
    };
    Ok((method, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fifo_per_method() {
        let mut s = Script::default();
        assert_eq!(s.arm(Method::CallingPlay, Outcome::NoResponse), 1);
        assert_eq!(s.arm(Method::CallingPlay, Outcome::Named(Named::Error)), 2);
        assert_eq!(s.take(Method::CallingPlay), Some(Outcome::NoResponse));
        assert_eq!(s.pending(Method::CallingPlay), 1);
        assert_eq!(s.take(Method::CallingDial), None);
    }

    #[test]
    fn control_bodies() {
        assert!(outcome_from_control(&json!({"method":"calling.dial","outcome":"busy"})).is_ok());
        assert!(outcome_from_control(&json!({"method":"calling.dial","outcome":"nope"})).is_err());
        assert!(outcome_from_control(&json!({"outcome":"busy"})).is_err());
        let (_, o) = outcome_from_control(
            &json!({"method":"calling.play","outcome":"error_code","code":"404","message":"m"}),
        )
        .unwrap();
        assert_eq!(
            o,
            Outcome::RelayError {
                code: "404".into(),
                message: "m".into()
            }
        );
        assert!(
            outcome_from_control(&json!({"method":"blade.ping","outcome":"no_response"})).is_ok()
        );
        assert!(
            outcome_from_control(&json!({"method":"blade.ping","outcome":"error_code"})).is_err()
        );
        assert!(
            outcome_from_control(&json!({"method":"calling.nope","outcome":"no_response"}))
                .is_err()
        );
    }

    #[test]
    fn named_round_trips_through_the_wire_per_method() {
        for (method, wire) in [
            (Method::CallingDial, "no_answer"),
            (Method::CallingRefer, "noAnswer"),
            (Method::CallingRefer, "busy"),
            (Method::CallingPlayAndCollect, "no_match"),
            (Method::CallingRecord, "no_input"),
            (Method::MessagingSend, "undelivered"),
            (Method::CallingDetect, "MACHINE,READY"),
        ] {
            let named = Named::parse(method, wire).unwrap();
            assert_eq!(named.wire(method), wire);
        }
        assert_eq!(Named::parse(Method::CallingDial, "noAnswer"), None);
        assert_eq!(Named::parse(Method::CallingRecord, "digit"), None);
        assert_eq!(
            Named::parse(Method::CallingDetect, " HUMAN , "),
            Some(Named::Detect(vec!["HUMAN".into()]))
        );
    }
}
