//! The one-pass read of a frame: the JSON-RPC envelope and, when the frame is a
//! `blade.broadcast` whose `method` comes before its `params` (servers write keys in that
//! order), the broadcast and its inner event typed in the same pass. Nothing here decides what
//! a frame means: anything unusual (duplicate keys, escaped names, an unknown broadcast, a
//! field of an unexpected type) fails the pass, and the caller takes the general path, which
//! owns every rule and error.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::wire::rpc::Members;
use crate::wire::{method, BroadcastKind};

use super::inner::{MessagingInner, TaskEvent, Text};
use crate::calling::EventText;
use crate::calling::Payload;
use crate::calling::{CallingPayload, PayloadSeed};
use crate::wire::EventType;

/// A frame read in one pass.
pub(super) enum FastFrame<'a> {
    /// A `blade.broadcast` read with its inner event.
    Broadcast(FastBroadcast<'a>),
    /// A response whose `result` is a Blade result object with an object `result` member
    /// (how servers answer a `blade.execute`): that relay result's text, found in the same
    /// pass. A lifecycle request's answer needs the whole Blade result: its reader reads
    /// `text` again ([`Answer::Relay`](super::Answer::Relay)).
    Relay {
        /// The response's `id`, unparsed.
        id: Option<&'a RawValue>,
        /// `result.result`, unparsed (a JSON object).
        inner: &'a RawValue,
    },
    /// Anything else: the envelope's members, unparsed.
    Other(Members<'a>),
}

/// A broadcast's protocol and its typed inner event.
pub(super) struct FastBroadcast<'a> {
    pub protocol: Option<&'a str>,
    pub body: FastBody,
}

/// The inner event of a broadcast, by kind.
pub(super) enum FastBody {
    Calling(FastCalling),
    /// Boxed: a message is large, the other kinds small.
    Messaging(Box<MessagingInner>),
    Tasks(TaskEvent),
}

/// Reads `text` in one pass; `None`: take the general path.
///
/// A calling event's payload is written to `slot` (large: moving it up through each layer's
/// result would cost more than reading it).
pub(super) fn read<'a>(text: &'a str, slot: &mut Option<CallingPayload>) -> Option<FastFrame<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let frame = de::Deserializer::deserialize_map(&mut de, FrameVisitor(slot)).ok()?;
    de.end().ok()?;
    Some(frame)
}

/// Reads a broadcast's `params` object (the general path's first try).
pub(super) fn read_broadcast<'a>(
    text: &'a str,
    slot: &mut Option<CallingPayload>,
) -> Option<FastBroadcast<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let b = BroadcastSeed(slot).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(b)
}

fn bail<E: de::Error>() -> E {
    E::custom("not a plain frame")
}

/// A key, borrowed: one of the few names a visitor cares about, or anything else.
enum Key {
    Id,
    Method,
    Params,
    Result,
    Error,
    Protocol,
    Event,
    EventType,
    EventChannel,
    Context,
    Timestamp,
    ProjectId,
    SpaceId,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "id" => Key::Id,
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    "protocol" => Key::Protocol,
                    "event" => Key::Event,
                    "event_type" => Key::EventType,
                    "event_channel" => Key::EventChannel,
                    "context" => Key::Context,
                    "timestamp" => Key::Timestamp,
                    "project_id" => Key::ProjectId,
                    "space_id" => Key::SpaceId,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Stores a member once (a duplicate fails the pass, as the general path rejects it).
fn once<T, E: de::Error>(slot: &mut Option<T>, v: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(bail());
    }
    *slot = Some(v);
    Ok(())
}

struct FrameVisitor<'s>(&'s mut Option<CallingPayload>);

impl<'de> Visitor<'de> for FrameVisitor<'_> {
    type Value = FastFrame<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parts = Members::default();
        let mut broadcast = None;
        // A `result` read for its relay result (its own text is not kept).
        let mut relay = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Id => once(&mut parts.id, map.next_value()?)?,
                Key::Method => once(&mut parts.method, map.next_value()?)?,
                Key::Params => {
                    if parts.params.is_some() || broadcast.is_some() {
                        return Err(bail());
                    }
                    let is_broadcast = parts.method.and_then(crate::wire::rpc::plain_string)
                        == Some(method::BROADCAST);
                    if is_broadcast {
                        broadcast = Some(map.next_value_seed(BroadcastSeed(&mut *self.0))?);
                    } else {
                        parts.params = Some(map.next_value()?);
                    }
                }
                Key::Result => once(&mut relay, map.next_value_seed(BladeResultSeed)?)?,
                Key::Error => once(&mut parts.error, map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (broadcast, relay) {
            // A broadcast's id and any result/error member are not used (a request).
            (Some(b), _) => Ok(FastFrame::Broadcast(b)),
            (None, None) => Ok(FastFrame::Other(parts)),
            // A plain answer: no method (a request), no error (it wins over a result).
            (None, Some(inner)) if parts.method.is_none() && parts.error.is_none() => {
                Ok(FastFrame::Relay {
                    id: parts.id,
                    inner,
                })
            }
            // The result's text was not kept: the general path reads the frame.
            (None, Some(_)) => Err(bail()),
        }
    }
}

/// A response's `result` read for the relay result inside it: a JSON object whose one
/// `result` member is an object. Any other shape (a lifecycle answer, a duplicate, `null`)
/// fails the pass.
struct BladeResultSeed;

impl<'de> DeserializeSeed<'de> for BladeResultSeed {
    type Value = &'de RawValue;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BladeResultSeed {
    type Value = &'de RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Blade result object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut inner: Option<&'de RawValue> = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Result => once(&mut inner, map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        inner.filter(|r| r.get().starts_with('{')).ok_or_else(bail)
    }
}

/// A broadcast's `params`: `event` must come before `params`, so the inner event is read
/// typed for its kind in the same pass.
struct BroadcastSeed<'s>(&'s mut Option<CallingPayload>);

impl<'de> DeserializeSeed<'de> for BroadcastSeed<'_> {
    type Value = FastBroadcast<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BroadcastSeed<'_> {
    type Value = FastBroadcast<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a broadcast object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut protocol: Option<Option<&'de str>> = None;
        let mut kind: Option<BroadcastKind> = None;
        let mut body = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Protocol => once(&mut protocol, map.next_value()?)?,
                Key::Event => {
                    let event: &'de str = map.next_value()?;
                    let k = BroadcastKind::from_event(event).ok_or_else(bail)?;
                    once(&mut kind, k)?;
                }
                Key::Params => {
                    let b = match kind.ok_or_else(bail)? {
                        BroadcastKind::Calling => {
                            FastBody::Calling(map.next_value_seed(CallingSeed(&mut *self.0))?)
                        }
                        BroadcastKind::Messaging => FastBody::Messaging(map.next_value()?),
                        BroadcastKind::Tasks => FastBody::Tasks(map.next_value()?),
                    };
                    once(&mut body, b)?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(FastBroadcast {
            protocol: protocol.flatten(),
            body: body.ok_or_else(bail)?,
        })
    }
}

/// The inner event of a calling broadcast, its payload typed in the same pass (`event_type`
/// comes before `params`, as servers write them).
pub(super) struct FastCalling {
    pub event_type: EventType,
    /// The payload was read into the slot (`false`: not a calling type this version knows).
    pub known: bool,
}

/// Reads a calling event: the members [`RelayEvent`](crate::wire::RelayEvent) has are checked
/// as the general path checks them, not kept.
struct CallingSeed<'s>(&'s mut Option<CallingPayload>);

impl<'de> DeserializeSeed<'de> for CallingSeed<'_> {
    type Value = FastCalling;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CallingSeed<'_> {
    type Value = FastCalling;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a calling event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event_type: Option<EventType> = None;
        let mut payload: Option<bool> = None;
        let mut seen = [false; 5];
        while let Some(key) = map.next_key::<Key>()? {
            let checked = match key {
                Key::EventType => {
                    once(&mut event_type, map.next_value()?)?;
                    continue;
                }
                Key::Params => {
                    let t = event_type.as_ref().ok_or_else(bail)?;
                    if payload.is_some() {
                        return Err(bail());
                    }
                    let known = map.next_value_seed(PayloadSeed(t, &mut *self.0))?;
                    payload = Some(known);
                    continue;
                }
                Key::EventChannel => 0,
                Key::Context => 1,
                Key::Timestamp => 2,
                Key::ProjectId => 3,
                Key::SpaceId => 4,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[checked], true) {
                return Err(bail());
            }
            if checked == 2 {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value::<Option<Text>>()?;
            }
        }
        Ok(FastCalling {
            event_type: event_type.ok_or_else(bail)?,
            known: payload.ok_or_else(bail)?,
        })
    }
}

/// The text a fast-read calling event came from, read again for its `params` only when a
/// result keeps them (a finished component's event).
#[derive(Clone, Copy)]
pub(super) enum Reread<'a> {
    /// A whole frame.
    Frame(&'a str),
    /// A broadcast's `params` object.
    Broadcast(&'a str),
}

impl EventText for Reread<'_> {
    fn to_raw(&self) -> Box<RawValue> {
        match *self {
            Reread::Frame(t) => frame_params(t),
            Reread::Broadcast(t) => broadcast_params(t),
        }
    }

    /// A copy of the text, read for the params only if someone asks.
    fn to_payload(&self) -> Payload {
        match *self {
            Reread::Frame(t) => Payload::later(t, frame_params),
            Reread::Broadcast(t) => Payload::later(t, broadcast_params),
        }
    }
}

/// The event params of a whole broadcast frame.
fn frame_params(t: &str) -> Box<RawValue> {
    read_params(Reread::Frame(t))
}

/// The event params of a broadcast's `params` object.
fn broadcast_params(t: &str) -> Box<RawValue> {
    read_params(Reread::Broadcast(t))
}

fn read_params(text: Reread<'_>) -> Box<RawValue> {
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(default, borrow)]
        params: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Broadcast<'a> {
        #[serde(borrow)]
        params: Event<'a>,
    }
    #[derive(Deserialize)]
    struct Frame<'a> {
        #[serde(borrow)]
        params: Broadcast<'a>,
    }
    let params = match text {
        Reread::Frame(t) => serde_json::from_str::<Frame<'_>>(t).map(|f| f.params.params),
        Reread::Broadcast(t) => serde_json::from_str::<Broadcast<'_>>(t).map(|b| b.params),
    };
    match params.map(|e| e.params) {
        Ok(Some(p)) => p.to_owned(),
        _ => RawValue::NULL.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use crate::fuzzing::ready_session;
    use crate::{Input, Output};

    /// Every output of a session fed `frames` (a ready session; the first frames announce
    /// the call).
    fn outputs(frames: &[String]) -> Vec<String> {
        #[allow(clippy::disallowed_methods)] // the test is the driver, not the core
        let now = Instant::now();
        let (mut s, _) = ready_session(now);
        let mut out = Vec::new();
        for f in frames {
            // An error's position in the text differs between the orders; its kind must not.
            let r = format!("{:?}", s.handle_input(now, Input::Frame(f)));
            out.push(r.split(" at line ").next().unwrap_or_default().to_owned());
            loop {
                match s.poll_output() {
                    Output::Timeout(_) => break,
                    o => out.push(format!("{o:?}")),
                }
            }
        }
        out
    }

    /// Answers to a `blade.execute` and to a call command, of every shape, read in one pass
    /// and by the general path: the same outputs (outcome, relay result text, errors).
    #[test]
    fn answers_read_in_one_pass_agree_with_the_general_path() {
        use serde_json::json;
        let results = [
            r#"{"protocol":"p","requester_nodeid":"a","responder_nodeid":"b","result":{"code":"200","message":"Playing","call_id":"c1"}}"#,
            r#"{"result":{"code":"404","message":"no such call"}}"#,
            r#"{"result":{"code":200,"message":7}}"#,
            r#"{"result":{"code":"200","code":"500"}}"#,
            r#"{"result":{"code":"200"},"result":{"code":"500"}}"#,
            r#"{"result":{}}"#,
            r#"{"result":"text","code":"404"}"#,
            r#"{"result":null}"#,
            r#"{"protocol":"p"}"#,
            r#"{}"#,
            r#"[1]"#,
            r#"null"#,
            r#""s""#,
            r#"{"result":{"code":"200","message":"esc"aped"}}"#,
        ];
        let frames = |id: &str, result: &str| {
            [
                format!(r#"{{"jsonrpc":"2.0","id":"{id}","result":{result}}}"#),
                format!(r#"{{"result":{result},"jsonrpc":"2.0","id":"{id}"}}"#),
                format!(
                    r#"{{"id":"{id}","result":{result},"error":{{"code":-32000,"message":"m"}}}}"#
                ),
                format!(r#"{{"id":"{id}","method":"blade.ping","result":{result}}}"#),
                format!(r#"{{"result":{result}}}"#),
                format!(r#"{{"id":7,"result":{result}}}"#),
                format!(r#"{{"id":"no-such-request","result":{result}}}"#),
            ]
        };
        #[allow(clippy::disallowed_methods)] // the test is the driver, not the core
        let now = Instant::now();
        let run = |general: bool,
                   command: &dyn Fn(&mut crate::Session) -> String,
                   frame: &dyn Fn(&str) -> String| {
            let (mut s, _) = ready_session(now);
            let receive = r#"{"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"event":"queuing.relay.events","params":{"event_type":"calling.call.receive","params":{"call_id":"c1","node_id":"n1","context":"office","call_state":"created","device":{"type":"phone","params":{"from_number":"+1","to_number":"+2"}}}}}}"#;
            let _ = s.handle_input(now, Input::Frame(receive));
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
            let id = command(&mut s);
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
            let text = frame(&id);
            let r = if general {
                s.handle_frame_general(now, &text)
            } else {
                s.handle_input(now, Input::Frame(&text))
            };
            let mut out = vec![format!("{r:?}")
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned()];
            loop {
                match s.poll_output() {
                    Output::Timeout(_) => break,
                    o => out.push(format!("{o:?}")),
                }
            }
            out.push(format!("in flight {}", s.in_flight()));
            out
        };
        let execute = |s: &mut crate::Session| {
            s.execute(now, "calling.play", json!({"x": 1}))
                .unwrap()
                .to_string()
        };
        // The call command's request id: the one the session just wrote.
        let answer = |s: &mut crate::Session| {
            let _ = s
                .call_mut(&crate::CallId::from("c1"))
                .unwrap()
                .answer(now)
                .unwrap();
            let mut id = String::new();
            loop {
                match s.poll_output() {
                    Output::Timeout(_) => break,
                    Output::Transmit(f) => {
                        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
                        id = v["id"].as_str().unwrap().to_owned();
                    }
                    _ => {}
                }
            }
            id
        };
        for result in results {
            for i in 0..frames("x", result).len() {
                let frame = |id: &str| frames(id, result)[i].clone();
                for command in [&execute as &dyn Fn(&mut crate::Session) -> String, &answer] {
                    assert_eq!(
                        run(false, command, &frame),
                        run(true, command, &frame),
                        "{}",
                        frame("ID")
                    );
                }
            }
        }
    }

    /// A calling event in the order servers write (one pass) and in orders the one pass
    /// leaves to the general path (params before method, event or event_type) give the same
    /// outputs; so does an unknown calling type and a malformed payload.
    #[test]
    fn one_pass_and_general_path_agree() {
        let receive = r#"{"event_type":"calling.call.receive","params":{"call_id":"c1","node_id":"n1","context":"office","call_state":"created","device":{"type":"phone","params":{"from_number":"+1","to_number":"+2"}}}}"#;
        let events = [
            r#"{"event_type":"calling.call.play","params":{"call_id":"c1","node_id":"n1","control_id":"k1","state":"playing"}}"#,
            r#"{"event_type":"calling.call.state","timestamp":"x","params":{"call_id":"c1","call_state":"ended","end_reason":"hangup"}}"#,
            r#"{"event_type":"calling.call.nope","params":{"call_id":"c1"}}"#,
            r#"{"event_type":"calling.call.play","params":{"call_id":"c1"}}"#,
            r#"{"event_type":"calling.call.play","event_channel":5,"params":{"call_id":"c1","control_id":"k","state":"playing"}}"#,
        ];
        let sorted = |inner: &str| {
            format!(
                r#"{{"id":"b","jsonrpc":"2.0","method":"blade.broadcast","params":{{"event":"queuing.relay.events","params":{inner},"protocol":"signalwire_SIG_x"}}}}"#
            )
        };
        let params_first = |inner: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","params":{{"params":{inner},"event":"queuing.relay.events"}},"method":"blade.broadcast","id":"b"}}"#
            )
        };
        let event_type_last = |inner: &str| {
            let mut v: serde_json::Value = serde_json::from_str(inner).unwrap();
            let params = v["params"].take();
            let rest = v.as_object_mut().map(|o| {
                o.remove("params");
                serde_json::Value::Object(o.clone()).to_string()
            });
            let rest = rest.unwrap_or_default();
            sorted(&format!(r#"{{"params":{params},{}"#, &rest[1..]))
        };
        for ev in events {
            let one_pass = outputs(&[sorted(receive), sorted(ev)]);
            assert_eq!(
                one_pass,
                outputs(&[sorted(receive), params_first(ev)]),
                "{ev}"
            );
            assert_eq!(
                one_pass,
                outputs(&[sorted(receive), event_type_last(ev)]),
                "{ev}"
            );
        }
    }

    /// A server request's answer carries its id back as the server wrote it: a number stays
    /// a number (JSON-RPC 2.0 allows numeric ids; an answer with `"42"` for `42` matches no
    /// request of the server). The one pass and the general path agree, in every member order
    /// and spelling.
    #[test]
    fn server_requests_are_answered_with_their_own_id() {
        #[allow(clippy::disallowed_methods)] // the test is the driver, not the core
        let now = Instant::now();
        let answers = |text: &str, general: bool| {
            let (mut s, _) = ready_session(now);
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
            let r = if general {
                s.handle_frame_general(now, text)
            } else {
                s.handle_input(now, Input::Frame(text))
            };
            let mut sent = vec![format!("{:?}", r.is_ok())];
            loop {
                match s.poll_output() {
                    Output::Timeout(_) => break,
                    Output::Transmit(f) => sent.push(f),
                    o => sent.push(format!("{o:?}")),
                }
            }
            sent
        };
        for (frame, id) in [
            (
                r#"{"jsonrpc":"2.0","id":42,"method":"blade.ping","params":{"t":1}}"#,
                "42",
            ),
            (r#"{"params":{"t":1},"method":"blade.ping","id":-7}"#, "-7"),
            (
                "{\n \"id\" : 1.5e3 ,\n \"method\" : \"blade\\u002eping\" }",
                "1.5e3",
            ),
            (
                r#"{"id":12345678901234567890123,"method":"blade.ping"}"#,
                "12345678901234567890123",
            ),
            (r#"{"id":"bb\u002d1","method":"blade.ping"}"#, r#""bb-1""#),
            (
                r#"{"id":"bb-2","params":{},"method":"blade.ping"}"#,
                r#""bb-2""#,
            ),
            (r#"{"id":9,"method":"blade.nope","params":{}}"#, "9"),
        ] {
            let one_pass = answers(frame, false);
            assert_eq!(one_pass, answers(frame, true), "{frame}");
            let reply: serde_json::Value = serde_json::from_str(&one_pass[1]).unwrap();
            let want: serde_json::Value = serde_json::from_str(id).unwrap();
            assert_eq!(reply["id"], want, "{frame}: {one_pass:?}");
            assert_eq!(reply["jsonrpc"], "2.0");
            // The id's own text, digit for digit (no round trip through a float).
            assert!(
                one_pass[1].contains(&format!(r#""id":{id}"#)),
                "{one_pass:?}"
            );
            if frame.contains("nope") {
                assert_eq!(reply["error"]["code"], -32601, "{reply}");
            } else {
                assert!(reply["result"].is_object(), "{reply}");
            }
        }
    }

    /// Writes `v` as another server may: members in sorted or reverse order (so `params`
    /// before `method`, `event` and `event_type`), an unknown member in every object,
    /// whitespace between every token, and names and strings escaped (`\u002e`, `\/`).
    fn respell(v: &serde_json::Value, reverse: bool, escape: bool, pretty: bool) -> String {
        use serde_json::Value;
        let gap = if pretty { "\n\t " } else { "" };
        let text = |s: &str| -> String {
            if !escape {
                return Value::from(s).to_string();
            }
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '-' | '.' | '_' => out.push_str(&format!("\\u{:04x}", c as u32)),
                    '/' => out.push_str("\\/"),
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        match v {
            Value::Object(m) => {
                let mut members: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}{gap}:{gap}{}",
                            text(k),
                            respell(v, reverse, escape, pretty)
                        )
                    })
                    .collect();
                if reverse {
                    members.reverse();
                }
                members.insert(0, format!(r#""x_extra"{gap}:{gap}{{"n":[1,null,"x"]}}"#));
                format!("{{{gap}{}{gap}}}", members.join(&format!(",{gap}")))
            }
            Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| respell(v, reverse, escape, pretty))
                    .collect();
                format!("[{gap}{}{gap}]", items.join(&format!(",{gap}")))
            }
            Value::String(s) => text(s),
            other => other.to_string(),
        }
    }

    /// Frames as an independent server writes them (every member order, unknown members,
    /// whitespace, escapes), a repeated state among them: the one pass (falling back where
    /// it must) and the general path give the same outputs, and every spelling gives the
    /// same call transitions as the plain one.
    #[test]
    fn every_spelling_reads_as_the_plain_one() {
        use serde_json::json;
        let device = json!({"type":"phone","params":{"from_number":"+1","to_number":"+2"}});
        let events = [
            json!({"event_type":"calling.call.receive","params":{"call_id":"c-1.a","node_id":"n/1","context":"office","call_state":"created","device":device}}),
            json!({"event_type":"calling.call.state","timestamp":1556036283,"params":{"call_id":"c-1.a","call_state":"created"}}),
            json!({"event_type":"calling.call.state","params":{"call_id":"c-1.a","call_state":"answered","device":device,"tag":null}}),
            json!({"event_type":"calling.call.state","params":{"call_id":"c-1.a","call_state":"answered"}}),
            json!({"event_type":"calling.call.teleport","params":{"call_id":"c-1.a"}}),
            json!({"event_type":"calling.call.play","params":{"call_id":"c-1.a","control_id":"k","state":"finished"}}),
            json!({"event_type":"calling.call.state","params":{"call_id":"c-1.a","call_state":"ended","end_reason":"hangup"}}),
        ];
        let broadcast = |inner: &serde_json::Value| {
            json!({"jsonrpc":"2.0","id":"b-1","method":"blade.broadcast","params":{
                "protocol":crate::fuzzing::READY_PROTOCOL,"event":"queuing.relay.events",
                "channel":"notifications","params":inner}})
        };
        #[allow(clippy::disallowed_methods)] // the test is the driver, not the core
        let now = Instant::now();
        let run = |frames: &[String], general: bool| {
            let (mut s, _) = ready_session(now);
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
            let mut out = Vec::new();
            for f in frames {
                let r = if general {
                    s.handle_frame_general(now, f)
                } else {
                    s.handle_input(now, Input::Frame(f))
                };
                out.push(format!("{r:?}"));
                loop {
                    match s.poll_output() {
                        Output::Timeout(_) => break,
                        o => out.push(format!("{o:?}")),
                    }
                }
            }
            out
        };
        let transitions = |out: &[String]| -> Vec<String> {
            out.iter()
                .filter(|o| {
                    o.contains("StateChanged") || o.starts_with("Err") || o.contains("IncomingCall")
                })
                .map(|o| o.split(", device").next().unwrap_or_default().to_owned())
                .collect()
        };
        let plain: Vec<String> = events.iter().map(|e| broadcast(e).to_string()).collect();
        let want = run(&plain, false);
        assert_eq!(want, run(&plain, true));
        let states = transitions(&want);
        assert_eq!(
            states.iter().filter(|o| o.contains("StateChanged")).count(),
            2,
            "answered once, ended once: {want:#?}"
        );
        for reverse in [false, true] {
            for escape in [false, true] {
                for pretty in [false, true] {
                    let frames: Vec<String> = events
                        .iter()
                        .map(|e| respell(&broadcast(e), reverse, escape, pretty))
                        .collect();
                    let one_pass = run(&frames, false);
                    assert_eq!(one_pass, run(&frames, true), "{frames:#?}");
                    assert_eq!(transitions(&one_pass), states, "{frames:#?}");
                }
            }
        }
    }
}
