//! `messaging.send`, inbound messages and tasks.

use std::collections::BTreeSet;
use std::time::Duration;

use relay_proto::wire::EventType;
use serde_json::{json, Value};

use super::blade::Exec;
use super::calls::strip_nulls;
use super::script::Named;
use super::{Action, MockServer, Outcome, Pending, SessKey};

/// Spacing of outbound message state events.
const MSG_GAP: Duration = Duration::from_millis(30);

fn string_list(v: Option<&Value>) -> Value {
    Value::Array(
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter(|x| x.is_string()).cloned().collect())
            .unwrap_or_default(),
    )
}

impl MockServer {
    pub(crate) fn on_messaging_send(&mut self, ex: &Exec, outcome: Option<Outcome>) {
        let context = ex.str("context").unwrap_or_default().to_owned();
        let message_id = self.new_id();
        self.reply_ok(ex, "Message accepted", json!({"message_id": message_id}));
        let body = ex.params.get("body").filter(|b| b.is_string()).cloned();
        let mut base = json!({
            "message_id": message_id,
            "context": context,
            "direction": "outbound",
            "tags": string_list(ex.params.get("tags")),
            "from_number": ex.str("from_number").unwrap_or_default(),
            "to_number": ex.str("to_number").unwrap_or_default(),
            "media": string_list(ex.params.get("media")),
            "segments": 1,
        });
        if let Some(b) = body {
            base["body"] = b;
        }
        if let Some(r) = ex.params.get("region").filter(|r| r.is_string()) {
            base["region"] = strip_nulls(r);
        }
        let final_state = match outcome {
            Some(Outcome::Named(n @ (Named::Undelivered | Named::Failed))) => n.as_str(),
            _ => "delivered",
        };
        // The sender, plus every live session receiving the message's context.
        let mut targets: BTreeSet<SessKey> = BTreeSet::new();
        targets.insert(ex.session);
        if !context.is_empty() {
            targets.extend(self.receivers(&context, None));
        }
        let states = ["queued", "initiated", "sent", final_state];
        for (i, state) in states.iter().enumerate() {
            let mut p = base.clone();
            p["message_state"] = json!(state);
            if matches!(*state, "undelivered" | "failed") {
                p["reason"] = json!(if *state == "failed" {
                    "Carrier rejected the message"
                } else {
                    "Unreachable destination handset"
                });
            }
            for &t in &targets {
                self.schedule_in(
                    MSG_GAP * i as u32,
                    Action::SessionEvent {
                        session: t,
                        pending: Pending::Messaging {
                            event_type: EventType::MessagingState,
                            context: context.clone(),
                            params: p.clone(),
                        },
                    },
                );
            }
        }
    }

    /// Delivers an inbound message to one session receiving `context`; returns
    /// `(message_id, sessionid)`.
    pub(crate) fn inbound_message(
        &mut self,
        context: &str,
        project: Option<&str>,
        body: &Value,
    ) -> Option<(String, String)> {
        let session = self.route(context, project, &BTreeSet::new())?;
        let message_id = self.new_id();
        let from = body.get("from").and_then(Value::as_str).unwrap_or_default();
        let to = body.get("to").and_then(Value::as_str).unwrap_or_default();
        let mut tags = string_list(body.get("tags"));
        if tags.as_array().is_some_and(Vec::is_empty) {
            tags = json!([]);
        }
        let params = json!({
            "message_id": message_id,
            "context": context,
            "direction": "inbound",
            "tags": tags,
            "from_number": from,
            "to_number": to,
            "body": body.get("body").and_then(Value::as_str).unwrap_or_default(),
            "media": string_list(body.get("media")),
            "segments": 1,
            "message_state": "received",
        });
        self.emit(
            session,
            Pending::Messaging {
                event_type: EventType::MessagingReceive,
                context: context.to_owned(),
                params,
            },
        );
        let sid = self.sessions.get(&session)?.sessionid.clone();
        Some((message_id, sid))
    }

    /// Delivers a task to one session receiving `context`.
    pub(crate) fn deliver_task_to(&mut self, context: &str, project: &str, message: Value) -> bool {
        let Some(session) = self.route(context, Some(project), &BTreeSet::new()) else {
            return false;
        };
        self.emit(
            session,
            Pending::Task {
                context: context.to_owned(),
                message: strip_nulls(&message),
            },
        );
        true
    }
}
