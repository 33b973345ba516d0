//! Frame dispatch and the Blade layer: `blade.connect` (auth, restore), `signalwire.setup`,
//! `blade.subscription`, `blade.ping`, `signalwire.receive`, and the `blade.execute` envelope.

use std::collections::{BTreeSet, VecDeque};

use relay_proto::error::{DecodeError, InputError, PeerMisbehaved};
use relay_proto::wire::rpc::{self, IncomingRef};
use relay_proto::wire::{ConnectParams, ExecuteParams, Method, SubscriptionParams};
use relay_proto::RequestId;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::output::Kind;
use super::{Action, ConnId, Fault, MockServer, Outcome, SessKey, Session};
use relay_proto::wire::JsonText;

/// JSON-RPC error codes the server uses.
pub(crate) mod code {
    /// Not JSON.
    pub const PARSE: i64 = -32700;
    /// Not a request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad params.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Scripted internal error.
    pub const INTERNAL: i64 = -32603;
    /// Authentication failed / not authenticated.
    pub const AUTH: i64 = -32002;
}

/// A decoded `blade.execute` request.
#[derive(Debug, Clone)]
pub(crate) struct Exec {
    pub conn: ConnId,
    pub id: RequestId,
    pub session: SessKey,
    pub protocol: String,
    /// The relay method; `None` for a name outside relay-proto's [`Method`] table.
    pub method: Option<Method>,
    pub params: Value,
}

impl Exec {
    /// A string param.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }
}

/// The `result` of a `blade.execute` answer (written by [`relay_answer_frame`]; the derived
/// form is what the tests hold it to).
#[cfg(test)]
#[derive(Serialize)]
struct RelayOut<'a, R: ?Sized> {
    protocol: &'a str,
    requester_nodeid: &'a str,
    responder_nodeid: &'a str,
    result: &'a R,
}

/// A relay result `{"code", "message", ...extra}` (written by [`relay_code`]; the derived
/// form is what the tests hold it to).
#[cfg(test)]
#[derive(Serialize)]
struct RelayCode<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// The envelope of a relay answer.
struct RelayAnswer<'a> {
    id: &'a str,
    protocol: &'a str,
    requester_nodeid: &'a str,
    responder_nodeid: &'a str,
}

/// `{"jsonrpc":"2.0","id":..,"result":{"protocol":..,"requester_nodeid":..,
/// "responder_nodeid":..,"result":<write>}}`: the bytes serde_json writes for
/// `ResultOut { result: RelayOut }`, in one buffer sized for a typical answer.
fn relay_answer_frame(
    a: &RelayAnswer<'_>,
    write: impl FnOnce(&mut JsonText) -> Result<(), serde_json::Error>,
) -> Result<String, serde_json::Error> {
    let mut out = JsonText::with_capacity(a.protocol.len() + 384);
    out.raw("{\"jsonrpc\":\"2.0\",\"id\":")
        .str(a.id)
        .raw(",\"result\":{\"protocol\":")
        .str(a.protocol)
        .raw(",\"requester_nodeid\":")
        .str(a.requester_nodeid)
        .raw(",\"responder_nodeid\":")
        .str(a.responder_nodeid)
        .raw(",\"result\":");
    write(&mut out)?;
    out.raw("}}");
    Ok(out.finish())
}

/// A relay result `{"code":..,"message":..,<extra members>}`: the bytes serde_json writes for
/// [`RelayCode`] (its flattened `extra` after `code` and `message`).
fn relay_code(
    out: &mut JsonText,
    code: &str,
    message: &str,
    extra: &Map<String, Value>,
) -> Result<(), serde_json::Error> {
    out.raw("{\"code\":")
        .str(code)
        .raw(",\"message\":")
        .str(message);
    for (k, v) in extra {
        out.raw(",").str(k).raw(":").value(v)?;
    }
    out.raw("}");
    Ok(())
}

/// One request, decoded by relay-proto's codec.
struct Request<'a> {
    id: RequestId,
    /// The Blade method (`None`: not in relay-proto's table).
    method: Option<Method>,
    params: Option<&'a RawValue>,
    /// `blade.execute` only: its params, or `None` when they do not have the envelope's shape.
    execute: Option<ExecuteParams>,
}

impl Request<'_> {
    /// The method scripts and faults are keyed on: the inner relay method of a
    /// `blade.execute`, the Blade method otherwise.
    fn key(&self) -> Option<Method> {
        match &self.execute {
            Some(ex) => Method::parse(&ex.method),
            None => self.method,
        }
    }
}

impl MockServer {
    /// Decodes one frame with relay-proto's codec; garbage is answered here (`None`). One rule
    /// for ids, the codec's: a string or a number is an id (rendered as a string), anything
    /// else, `null` included, is no id (a notification, ignored; errors carry `"id": null`).
    fn decode<'a>(&mut self, conn: ConnId, text: &'a str) -> Option<Request<'a>> {
        let (id, method, params) = match rpc::decode_ref(text) {
            Ok(IncomingRef::Request { id, method, params }) => (id, method, params),
            // A reply to one of our own requests (a better client answering blade.ping).
            Ok(IncomingRef::Response { .. }) => return None,
            Err(e) => {
                let (code, message, id) = match e {
                    InputError::Decode(
                        DecodeError::NotJson { .. } | DecodeError::NotJsonRpc { .. },
                    ) => (code::PARSE, "Parse error", None),
                    InputError::PeerMisbehaved(PeerMisbehaved::ResponseWithoutOutcome { id }) => {
                        (code::INVALID_REQUEST, "Invalid Request", Some(id))
                    }
                    _ => (code::INVALID_REQUEST, "Invalid Request", None),
                };
                self.reply_error(conn, id.as_ref(), code, message);
                return None;
            }
        };
        let Some(id) = id else {
            tracing::debug!(%method, "notification without id ignored");
            return None;
        };
        let method = Method::parse(&method);
        let execute = (method == Some(Method::Execute))
            .then(|| params.and_then(|p| serde_json::from_str::<ExecuteParams>(p.get()).ok()))
            .flatten();
        Some(Request {
            id,
            method,
            params,
            execute,
        })
    }

    /// The outcome scripted for this request: `forced` (decided earlier for a delayed one), an
    /// armed fault, or the script. `None` when the request is handled already.
    fn scripted(
        &mut self,
        conn: ConnId,
        text: &str,
        req: &Request<'_>,
        forced: Option<Outcome>,
    ) -> Option<Option<Outcome>> {
        let key = req.key();
        let outcome = match (forced, key) {
            (Some(o), _) => Some(o),
            (None, None) => None,
            (None, Some(key)) => match self.fault_outcome(conn, key) {
                Some(Outcome::NoResponse) if !self.conns.get(&conn).is_some_and(|c| c.open) => {
                    return None; // DropOnMethod closed it.
                }
                Some(o) => Some(o),
                None => self.script.take(key),
            },
        };
        match outcome {
            Some(Outcome::NoResponse) => {
                tracing::debug!(?key, "scripted: no response");
                None
            }
            Some(Outcome::Delayed { delay, then }) => {
                let text = text.to_owned();
                self.schedule_in(
                    delay,
                    Action::Redeliver {
                        conn,
                        text,
                        outcome: *then,
                    },
                );
                None
            }
            Some(Outcome::RpcError { code, message }) => {
                self.reply_error(conn, Some(&req.id), code, &message);
                None
            }
            Some(Outcome::RelayError { message, .. }) if req.execute.is_none() => {
                self.reply_error(conn, Some(&req.id), code::INTERNAL, &message);
                None
            }
            Some(Outcome::Default) => Some(None),
            other => Some(other),
        }
    }

    /// Handles one frame. `forced` is the outcome decided earlier for a delayed request.
    pub(crate) fn dispatch(&mut self, conn: ConnId, text: &str, forced: Option<Outcome>) {
        let Some(req) = self.decode(conn, text) else {
            return;
        };
        let Some(outcome) = self.scripted(conn, text, &req, forced) else {
            return;
        };
        let id = &req.id;
        match req.method {
            Some(Method::Connect) => self.on_connect(conn, id, req.params),
            Some(Method::Ping | Method::Disconnect) => self.reply(conn, id, &json!({})),
            Some(Method::Subscription) => self.on_subscription(conn, id, req.params),
            Some(Method::Execute) => self.on_execute(conn, id, req.execute, outcome),
            Some(Method::Reauthenticate) => {
                let project = self.config.project.clone();
                let result = json!({"authorization": {"project": project, "expires_at": 0,
                    "scopes": ["calling","messaging","tasking"], "signature": self.signature}});
                self.reply(conn, id, &result);
            }
            _ => self.reply_error(conn, Some(id), code::METHOD_NOT_FOUND, "Method not found"),
        }
    }

    /// Applies the request-level faults for `key`; `Some(NoResponse)` when the request must be
    /// dropped, `Some(Delayed)` when it must wait.
    fn fault_outcome(&mut self, conn: ConnId, key: Method) -> Option<Outcome> {
        if self.faults.is_empty() {
            return None;
        }
        if let Some(i) = self
            .faults
            .iter()
            .position(|f| matches!(f, Fault::DropOnMethod { method } if *method == key))
        {
            self.faults.remove(i);
            self.close_conn(conn, None);
            return Some(Outcome::NoResponse);
        }
        for f in self.faults.iter_mut() {
            match f {
                Fault::SwallowResponses { method, count } if *method == key && *count > 0 => {
                    *count -= 1;
                    self.prune_faults();
                    return Some(Outcome::NoResponse);
                }
                Fault::DelayResponses {
                    method,
                    delay,
                    count,
                } if *method == key && *count > 0 => {
                    *count -= 1;
                    let delay = *delay;
                    self.prune_faults();
                    return Some(Outcome::Delayed {
                        delay,
                        then: Box::new(Outcome::Default),
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn on_connect(&mut self, conn: ConnId, id: &RequestId, params: Option<&RawValue>) {
        // relay-proto's typed params (the `authentication` is a project token, or a JWT).
        let params = params.and_then(|p| serde_json::from_str::<ConnectParams>(p.get()).ok());
        let auth = params.as_ref().map(|p| &p.authentication);
        let project = auth.map(|a| a.project.as_str());
        let token = auth.and_then(|a| a.token.as_deref().or(a.jwt_token.as_deref()));
        if project != Some(self.config.project.as_str())
            || token != Some(self.config.token.as_str())
        {
            self.reply_error(conn, Some(id), code::AUTH, "Authentication failed");
            self.close_conn(conn, Some(1008));
            return;
        }
        let project = self.config.project.clone();
        let wanted = params.as_ref().and_then(|p| p.sessionid.as_deref());
        let restore = wanted
            .and_then(|w| self.session_by_id(w))
            .filter(|k| self.sessions.get(k).is_some_and(|s| s.project == project));
        // A second blade.connect on the same socket moves it to the new session.
        if let Some(old) = self.conns.get(&conn).and_then(|c| c.session) {
            if let Some(s) = self.sessions.get_mut(&old) {
                if s.conn == Some(conn) {
                    s.conn = None;
                    s.subscribed = false;
                }
            }
        }
        let key = match restore {
            Some(k) => {
                let previous = self.sessions.get(&k).and_then(|s| s.conn);
                if let Some(prev) = previous.filter(|p| *p != conn) {
                    // The session moved to a new socket: the old one is dead to it.
                    self.close_conn(prev, None);
                }
                k
            }
            None => {
                self.next_session += 1;
                let sessionid = self.new_id();
                let nodeid = self.new_id();
                self.sessions.insert(
                    self.next_session,
                    Session {
                        sessionid,
                        nodeid,
                        project: project.clone(),
                        protocol: None,
                        contexts: BTreeSet::new(),
                        conn: None,
                        subscribed: false,
                        backlog: VecDeque::new(),
                    },
                );
                self.next_session
            }
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(key);
        }
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        s.conn = Some(conn);
        s.subscribed = false;
        let result = json!({
            "session_restored": restore.is_some(),
            "sessionid": s.sessionid,
            "nodeid": s.nodeid,
            "master_nodeid": "00000000-0000-0000-0000-000000000000",
            "authorization": {
                "project": project,
                "expires_at": null,
                "scopes": ["calling", "messaging", "tasking"],
                "signature": self.signature,
            },
            "routes": [], "protocols": [], "subscriptions": [], "authorities": [],
            "authorizations": [], "accesses": [], "protocols_uncertified": ["signalwire"],
        });
        self.reply(conn, id, &result);
    }

    fn conn_session(&self, conn: ConnId) -> Option<SessKey> {
        self.conns.get(&conn).and_then(|c| c.session)
    }

    fn on_subscription(&mut self, conn: ConnId, id: &RequestId, params: Option<&RawValue>) {
        let Some(session) = self.conn_session(conn) else {
            self.reply_error(conn, Some(id), code::AUTH, "Not authenticated");
            return;
        };
        let Some(params) =
            params.and_then(|p| serde_json::from_str::<SubscriptionParams>(p.get()).ok())
        else {
            self.reply_error(
                conn,
                Some(id),
                code::INVALID_PARAMS,
                "blade.subscription needs `command`, `protocol` and `channels`",
            );
            return;
        };
        let result = json!({
            "command": params.command,
            "failed_channels": [],
            "protocol": params.protocol,
            "subscribe_channels": params.channels,
        });
        self.reply(conn, id, &result);
        if params.command == "add" {
            if let Some(s) = self.sessions.get_mut(&session) {
                s.subscribed = true;
            }
            self.flush_backlog(session);
        }
    }

    fn on_execute(
        &mut self,
        conn: ConnId,
        id: &RequestId,
        params: Option<ExecuteParams>,
        outcome: Option<Outcome>,
    ) {
        let Some(params) = params else {
            self.reply_error(
                conn,
                Some(id),
                code::INVALID_PARAMS,
                "blade.execute needs `protocol` and `method`",
            );
            return;
        };
        let Some(session) = self.conn_session(conn) else {
            self.reply_error(conn, Some(id), code::AUTH, "Not authenticated");
            return;
        };
        let ExecuteParams {
            protocol,
            method,
            params,
        } = params;
        // Relay commands must name the protocol `signalwire.setup` gave this session (a client
        // that sends them before setup, or with another session's protocol, is wrong).
        if protocol != "signalwire" {
            let known = self
                .sessions
                .get(&session)
                .and_then(|s| s.protocol.as_deref());
            if known != Some(protocol.as_str()) {
                self.reply_error(
                    conn,
                    Some(id),
                    code::INVALID_PARAMS,
                    "unknown protocol: run signalwire.setup and use the protocol it returns",
                );
                return;
            }
        }
        let params = match params {
            Value::Object(m) => Value::Object(m),
            Value::Null => json!({}),
            _ => {
                self.reply_error(
                    conn,
                    Some(id),
                    code::INVALID_PARAMS,
                    "`params` must be an object",
                );
                return;
            }
        };
        let calling = method.starts_with(Method::CALLING_PREFIX);
        let ex = Exec {
            conn,
            id: id.clone(),
            session,
            method: Method::parse(&method),
            protocol,
            params,
        };
        if let Some(Outcome::RelayError { code, message }) = &outcome {
            self.reply_fail(&ex, code, message);
            return;
        }
        match (ex.protocol.as_str(), ex.method) {
            ("signalwire", Some(Method::Setup)) => self.on_setup(&ex),
            (_, Some(Method::Receive)) => self.on_receive(&ex),
            (_, Some(Method::MessagingSend)) => self.on_messaging_send(&ex, outcome),
            // Unknown `calling.*` methods too: the calling service answers them (404 / not found).
            _ if calling => self.on_calling(&ex, outcome),
            _ => self.reply_error(conn, Some(id), code::METHOD_NOT_FOUND, "Method not found"),
        }
    }

    /// Answers a `blade.execute` with a relay result.
    pub(crate) fn reply_relay<R: Serialize + ?Sized>(&mut self, ex: &Exec, relay: &R) {
        self.reply_relay_with(ex, |out| out.value(relay).map(drop));
    }

    /// Answers a `blade.execute` with the relay result `write` appends: byte for byte what
    /// serde_json writes for `ResultOut { result: RelayOut }` (see `relay_answer_frame`).
    fn reply_relay_with(
        &mut self,
        ex: &Exec,
        write: impl FnOnce(&mut JsonText) -> Result<(), serde_json::Error>,
    ) {
        let requester_nodeid = self
            .sessions
            .get(&ex.session)
            .map(|s| s.nodeid.as_str())
            .unwrap_or_default();
        let frame = relay_answer_frame(
            &RelayAnswer {
                id: ex.id.as_str(),
                protocol: &ex.protocol,
                requester_nodeid,
                responder_nodeid: &self.server_node,
            },
            write,
        );
        match frame {
            Ok(text) => self.send(ex.conn, text, Kind::Response),
            Err(e) => tracing::error!(%e, "relay result not serializable"),
        }
    }

    /// `{"code":"200","message":message}` plus `extra` members (an object).
    pub(crate) fn reply_ok(&mut self, ex: &Exec, message: &str, extra: Value) {
        let extra = match extra {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.reply_relay_with(ex, |out| relay_code(out, "200", message, &extra));
    }

    /// A relay failure result.
    pub(crate) fn reply_fail(&mut self, ex: &Exec, code: &str, message: &str) {
        let extra = Map::new();
        self.reply_relay_with(ex, |out| relay_code(out, code, message, &extra));
    }

    fn on_setup(&mut self, ex: &Exec) {
        let asked = ex.str("protocol").map(str::to_owned);
        let project = self.config.project.clone();
        let known = asked.filter(|p| {
            self.sessions
                .values()
                .any(|s| s.project == project && s.protocol.as_deref() == Some(p.as_str()))
        });
        let protocol = match known {
            Some(p) => p,
            None => {
                let u = self.new_id();
                format!("signalwire_{}_{}_{}", self.signature, u, project)
            }
        };
        if let Some(s) = self.sessions.get_mut(&ex.session) {
            s.protocol = Some(protocol.clone());
        }
        self.reply_relay(ex, &json!({"protocol": protocol}));
    }

    fn on_receive(&mut self, ex: &Exec) {
        let Some(list) = ex.params.get("contexts").and_then(Value::as_array) else {
            self.reply_error(
                ex.conn,
                Some(&ex.id),
                code::INVALID_PARAMS,
                "`contexts` must be an array",
            );
            return;
        };
        let contexts: Vec<String> = list
            .iter()
            .filter_map(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if contexts.is_empty() {
            self.reply_fail(ex, "400", "No contexts given");
            return;
        }
        if let Some(s) = self.sessions.get_mut(&ex.session) {
            s.contexts.extend(contexts);
        }
        self.reply_ok(
            ex,
            "Receiving all inbound related to the requested relay contexts and available scopes",
            json!({}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_answers_are_the_bytes_serde_writes() {
        let extras = [
            Map::new(),
            json!({"call_id": "c-1"}).as_object().cloned().unwrap(),
            json!({"url": "u\"q", "source_device": {"type": "rtp", "params": {"port": 3000}}})
                .as_object()
                .cloned()
                .unwrap(),
        ];
        for extra in &extras {
            for (protocol, message) in [
                ("signalwire_ab_cd_test-project", "Playing"),
                ("p\\\n", "é \"x\""),
            ] {
                let a = RelayAnswer {
                    id: "5f0c0d7e-1",
                    protocol,
                    requester_nodeid: "req-node",
                    responder_nodeid: "resp\u{1}",
                };
                let ours = relay_answer_frame(&a, |out| relay_code(out, "200", message, extra));
                let relay = RelayCode {
                    code: "200",
                    message,
                    extra,
                };
                let theirs = rpc::encode_result_with(
                    &RequestId::new(a.id.to_owned()),
                    &RelayOut {
                        protocol,
                        requester_nodeid: a.requester_nodeid,
                        responder_nodeid: a.responder_nodeid,
                        result: &relay,
                    },
                );
                assert_eq!(ours.unwrap(), theirs.unwrap());
            }
        }
    }
}
