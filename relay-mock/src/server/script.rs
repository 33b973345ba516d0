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

use relay_proto::wire::Method;
use serde_json::Value;

/// One scripted event of an [`Outcome::Events`] sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedEvent {
    /// Virtual time after the response at which the event is sent.
    pub after: Duration,
    /// The calling event type, e.g. `calling.call.play`.
    pub event_type: String,
    /// The event payload. `call_id`, `node_id` and (when the request had one) `control_id` are
    /// filled in from the request when absent.
    pub params: Value,
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
    /// A named outcome from the CONTROL_API `next` table (`busy`, `no_answer`, `error`, `failed`,
    /// `digit`, `speech`, `no_input`, `no_match`, `HUMAN`, `cancel`, `undelivered`, ...).
    Named(String),
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

/// Per-method FIFO queues of one-shot outcomes.
#[derive(Debug, Clone, Default)]
pub struct Script {
    armed: BTreeMap<String, VecDeque<Outcome>>,
}

impl Script {
    /// Arms `outcome` for the next unscripted request with `method`; returns how many outcomes are
    /// now pending for that method.
    pub fn arm(&mut self, method: impl Into<String>, outcome: Outcome) -> usize {
        let q = self.armed.entry(method.into()).or_default();
        q.push_back(outcome);
        q.len()
    }

    /// How many outcomes are armed for `method`.
    pub fn pending(&self, method: &str) -> usize {
        self.armed.get(method).map_or(0, VecDeque::len)
    }

    /// Forgets every armed outcome.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// Takes the first armed outcome for `method`.
    pub(crate) fn take(&mut self, method: &str) -> Option<Outcome> {
        let q = self.armed.get_mut(method)?;
        let o = q.pop_front();
        if q.is_empty() {
            self.armed.remove(method);
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
        method: String,
    },
    /// Swallow (never answer) the next `count` requests with `method`.
    SwallowResponses {
        /// Top-level or `blade.execute` inner method.
        method: String,
        /// How many requests.
        count: u32,
    },
    /// Handle the next `count` requests with `method` `delay` later (virtual time).
    DelayResponses {
        /// Top-level or `blade.execute` inner method.
        method: String,
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
pub(crate) fn outcome_from_control(body: &Value) -> Result<(String, Outcome), String> {
    let method = body
        .get("method")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or("`method` (string) is required")?;
    let outcome = body
        .get("outcome")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty())
        .ok_or("`outcome` (string) is required")?;
    let known = Method::parse(method);
    let top_level = known.is_some_and(Method::is_blade);
    let o = match outcome {
        "no_response" => Outcome::NoResponse,
        "error_code" if !top_level => Outcome::RelayError {
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
        other => {
            let ok = match known {
                Some(Method::CallingDial) => matches!(other, "busy" | "no_answer"),
                Some(Method::CallingPlay) => other == "error",
                Some(Method::CallingConnect) => other == "failed",
                Some(Method::CallingPlayAndCollect) => {
                    matches!(
                        other,
                        "digit" | "speech" | "no_input" | "no_match" | "error"
                    )
                }
                Some(Method::CallingDetect) => true,
                Some(Method::CallingRecord) => other == "no_input",
                Some(Method::CallingRefer) => {
                    matches!(other, "cancel" | "busy" | "noAnswer" | "error")
                }
                Some(Method::MessagingSend) => matches!(other, "undelivered" | "failed"),
                _ => false,
            };
            if !ok {
                return Err(format!("outcome `{other}` is not supported for `{method}`"));
            }
            Outcome::Named(other.to_owned())
        }
    };
    Ok((method.to_owned(), o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fifo_per_method() {
        let mut s = Script::default();
        assert_eq!(s.arm("calling.play", Outcome::NoResponse), 1);
        assert_eq!(s.arm("calling.play", Outcome::Named("error".into())), 2);
        assert_eq!(s.take("calling.play"), Some(Outcome::NoResponse));
        assert_eq!(s.pending("calling.play"), 1);
        assert_eq!(s.take("calling.dial"), None);
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
    }
}
