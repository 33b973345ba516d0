//! The control endpoints of CONTROL_API.md and the REST task endpoint.

use std::collections::BTreeSet;
use std::time::Duration;

use relay_proto::wire::{EventType, Method};
use serde_json::{json, Value};

use super::calls::strip_nulls;
use super::script::outcome_from_control;
use super::{Action, ControlError, HttpResponse, MockServer, Pending, SessKey};

fn opt_str<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, ControlError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ControlError::bad(format!("`{key}` must be a string"))),
    }
}

fn req_str<'a>(body: &'a Value, key: &str) -> Result<&'a str, ControlError> {
    opt_str(body, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ControlError::bad(format!("`{key}` (string) is required")))
}

/// Decodes standard base64 (padding optional); `None` on any invalid character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The body of `inbound_call`, checked once for every call of a batch.
struct InboundCall<'a> {
    context: &'a str,
    project: Option<&'a str>,
    /// The device as JSON text, written once for every call of a batch.
    device: std::sync::Arc<str>,
}

impl<'a> InboundCall<'a> {
    fn parse(body: &'a Value) -> Result<Self, ControlError> {
        let context = req_str(body, "context")?;
        let project = opt_str(body, "project")?;
        let from = opt_str(body, "from")?.unwrap_or("+15550000001");
        let to = opt_str(body, "to")?.unwrap_or("+15550000002");
        let device = match opt_str(body, "type")?.unwrap_or("phone") {
            "phone" => json!({"type": "phone", "params": {"from_number": from, "to_number": to}}),
            "sip" => {
                let headers = match body.get("headers") {
                    None | Some(Value::Null) => json!([]),
                    Some(Value::Array(a)) => strip_nulls(&Value::Array(a.clone())),
                    Some(_) => return Err(ControlError::bad("`headers` must be an array")),
                };
                json!({"type": "sip", "params": {"from": from, "to": to, "headers": headers}})
            }
            other => return Err(ControlError::bad(format!("unknown call type `{other}`"))),
        };
        Ok(Self {
            context,
            project,
            device: super::calls::device_text(&device),
        })
    }
}

/// Most calls one `inbound_call` request may create (`count`).
pub(crate) const MAX_BATCH: u64 = 10_000;

impl MockServer {
    pub(crate) fn control_inner(
        &mut self,
        name: &str,
        body: &Value,
    ) -> Result<Value, ControlError> {
        if !body.is_object() {
            return Err(ControlError::bad("body must be a JSON object"));
        }
        match name {
            "health" => Ok(self.ctl_health()),
            "reset" => Ok(self.ctl_reset()),
            "sessions" => Ok(self.ctl_sessions()),
            "frames" => self.ctl_frames(body),
            "inbound_call" => match body.get("count") {
                None | Some(Value::Null) => self.ctl_inbound_call(body),
                Some(n) => self.ctl_inbound_calls(body, n),
            },
            "inbound_message" => self.ctl_inbound_message(body),
            "next" => {
                let (method, outcome) = outcome_from_control(body).map_err(ControlError::bad)?;
                let pending = self.script.arm(method, outcome);
                Ok(json!({"armed": true, "pending": pending}))
            }
            "end_call" => {
                let call_id = req_str(body, "call_id")?;
                let reason = opt_str(body, "reason")?.unwrap_or("hangup");
                if self.end_call(call_id, reason) {
                    Ok(json!({"ended": call_id}))
                } else {
                    Err(ControlError::not_found(format!(
                        "call `{call_id}` is unknown or already ended"
                    )))
                }
            }
            "ping" => {
                let targets = self.targets(body)?;
                for conn in &targets {
                    self.send_request(*conn, Method::Ping, Some(json!({})));
                }
                Ok(json!({"sent": targets.len()}))
            }
            "drop" => {
                let targets = self.targets(body)?;
                for conn in &targets {
                    self.close_conn(*conn, None);
                }
                Ok(json!({"dropped": targets.len()}))
            }
            "blade_disconnect" => self.ctl_blade_disconnect(body),
            _ => Err(ControlError::not_found(format!(
                "unknown control endpoint `{name}`"
            ))),
        }
    }

    /// `calls` counts every call the server remembers (ended ones included);
    /// `active_calls` those not ended, `unanswered_calls` those neither answered nor ending:
    /// the window a load generator paces batch injection with (counted as states change, so
    /// a poll costs no scan).
    fn ctl_health(&self) -> Value {
        json!({
            "ok": true,
            "sessions": self.sessions.len(),
            "live_sessions": self.sessions.values().filter(|s| s.conn.is_some()).count(),
            "calls": self.calls.len(),
            "active_calls": self.census.active,
            "unanswered_calls": self.census.unanswered,
        })
    }

    fn ctl_reset(&mut self) -> Value {
        self.script.clear();
        self.faults.clear();
        self.held = None;
        self.refuse_until = None;
        self.calls.clear();
        self.census = Default::default();
        self.ended.clear();
        self.cancel_where(|a| {
            matches!(
                a,
                Action::CallEvent { .. } | Action::Finish { .. } | Action::SessionEvent { .. }
            )
        });
        for s in self.sessions.values_mut() {
            s.backlog.clear();
        }
        json!({"reset": true})
    }

    fn ctl_sessions(&self) -> Value {
        let list: Vec<Value> = self
            .sessions
            .values()
            .map(|s| {
                let mut v = json!({
                    "sessionid": s.sessionid,
                    "project": s.project,
                    "protocol": s.protocol.clone().unwrap_or_default(),
                    "contexts": s.contexts.iter().collect::<Vec<_>>(),
                    "connected": s.conn.is_some(),
                });
                if let Some(c) = s.conn {
                    v["conn"] = json!(c.0);
                }
                v
            })
            .collect();
        json!({ "sessions": list })
    }

    fn ctl_frames(&mut self, body: &Value) -> Result<Value, ControlError> {
        let since = match body.get("since") {
            None | Some(Value::Null) => 0,
            Some(v) => relay_proto::wire::lenient::value_as_u64(v)
                .ok_or_else(|| ControlError::bad("`since` must be a number"))?,
        };
        let next = self.recorder.next_seq();
        let dropped = self.recorder.dropped();
        let (start, lines) = self.recorder.since(since);
        let frames: Vec<Value> = lines
            .iter()
            .zip(start..)
            .map(|(l, seq)| {
                let mut v = json!({"seq": seq, "ts": l.t, "dir": l.dir.as_str(), "frame": l.frame});
                if let Some(c) = l.conn {
                    v["conn"] = json!(c);
                }
                v
            })
            .collect();
        Ok(json!({
            "frames": frames,
            "next": next,
            "dropped": dropped,
        }))
    }

    fn ctl_inbound_message(&mut self, body: &Value) -> Result<Value, ControlError> {
        let context = req_str(body, "context")?;
        let project = opt_str(body, "project")?;
        let (message_id, sessionid) =
            self.inbound_message(context, project, body)
                .ok_or_else(|| {
                    ControlError::not_found(format!("no live session receives context `{context}`"))
                })?;
        Ok(json!({"message_id": message_id, "sessionid": sessionid}))
    }

    fn ctl_blade_disconnect(&mut self, body: &Value) -> Result<Value, ControlError> {
        let targets = self.targets(body)?;
        let after = match body.get("close_after_ms") {
            None | Some(Value::Null) => Some(500i64),
            Some(v) => {
                let ms = v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .ok_or_else(|| ControlError::bad("`close_after_ms` must be a number"))?;
                (ms >= 0).then_some(ms)
            }
        };
        for conn in &targets {
            self.send_request(*conn, Method::Disconnect, None);
            if let Some(ms) = after {
                let d = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                self.schedule_in(
                    d,
                    Action::Close {
                        conn: *conn,
                        code: Some(1001),
                    },
                );
            }
        }
        Ok(json!({"sent": targets.len()}))
    }

    /// The open connections of the session named by `sessionid`, or of every live session.
    fn targets(&self, body: &Value) -> Result<Vec<super::ConnId>, ControlError> {
        match opt_str(body, "sessionid")? {
            Some(sid) => {
                let key = self
                    .session_by_id(sid)
                    .ok_or_else(|| ControlError::not_found(format!("unknown session `{sid}`")))?;
                Ok(self
                    .sessions
                    .get(&key)
                    .and_then(|s| s.conn)
                    .into_iter()
                    .collect())
            }
            None => Ok(self.sessions.values().filter_map(|s| s.conn).collect()),
        }
    }

    /// `inbound_call` with `count`: that many calls, each routed on its own (round robin
    /// across the sessions receiving the context), answered as `{"calls": [...]}`.
    fn ctl_inbound_calls(&mut self, body: &Value, count: &Value) -> Result<Value, ControlError> {
        let n = count
            .as_u64()
            .filter(|n| (1..=MAX_BATCH).contains(n))
            .ok_or_else(|| {
                ControlError::bad(format!("`count` must be an integer from 1 to {MAX_BATCH}"))
            })?;
        let request = InboundCall::parse(body)?;
        let mut calls = Vec::new();
        for _ in 0..n {
            calls.push(self.inbound_call(&request)?);
        }
        // The list moves into the answer (`json!` would copy every member).
        let mut answer = serde_json::Map::new();
        answer.insert("calls".to_owned(), Value::Array(calls));
        Ok(Value::Object(answer))
    }

    fn ctl_inbound_call(&mut self, body: &Value) -> Result<Value, ControlError> {
        let request = InboundCall::parse(body)?;
        self.inbound_call(&request)
    }

    /// Creates, routes and announces one inbound call.
    fn inbound_call(&mut self, request: &InboundCall<'_>) -> Result<Value, ControlError> {
        let context = request.context;
        let session: SessKey = self
            .route(context, request.project, &BTreeSet::new())
            .ok_or_else(|| {
                ControlError::not_found(format!("no live session receives context `{context}`"))
            })?;
        let call_id = self.new_call(
            session,
            relay_proto::calling::Direction::Inbound,
            request.device.clone(),
            Some(context.to_owned()),
            None,
            None,
        );
        let Some(call) = self.calls.get(&call_id) else {
            return Err(ControlError::not_found("call vanished"));
        };
        let (params, node_id) = (call.receive_params(), call.node_id.clone());
        self.emit(
            session,
            Pending::Calling {
                event_type: EventType::CallReceive,
                params,
            },
        );
        let sessionid = self
            .sessions
            .get(&session)
            .map(|s| s.sessionid.clone())
            .unwrap_or_default();
        Ok(json!({"call_id": call_id, "node_id": node_id, "sessionid": sessionid}))
    }

    pub(crate) fn deliver_task_inner(
        &mut self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> HttpResponse {
        let resp = |status: u16, msg: &str| HttpResponse {
            status,
            body: if msg.is_empty() {
                String::new()
            } else {
                json!({"error": msg}).to_string()
            },
        };
        let creds = authorization
            .and_then(|a| {
                let (scheme, rest) = a.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then_some(rest)
            })
            .and_then(base64_decode)
            .and_then(|b| String::from_utf8(b).ok());
        let ok = creds
            .as_deref()
            .and_then(|c| c.split_once(':'))
            .is_some_and(|(p, t)| p == self.config.project && t == self.config.token);
        if !ok {
            return resp(401, "Unauthorized");
        }
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return resp(400, "body is not JSON");
        };
        let Some(context) = v
            .get("context")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
        else {
            return resp(400, "`context` (string) is required");
        };
        let message = match v.get("message") {
            None | Some(Value::Null) => json!({}),
            Some(m) => m.clone(),
        };
        let project = self.config.project.clone();
        if !self.deliver_task_to(context, &project, message) {
            tracing::debug!(context, "task for a context nobody receives");
        }
        resp(204, "")
    }
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64() {
        assert_eq!(
            base64_decode("dGVzdC1wcm9qZWN0OnRlc3QtdG9rZW4=").unwrap(),
            b"test-project:test-token"
        );
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("!!").is_none());
    }
}
