//! [`DeviceInfo`]: a device as the server describes it (`{type, params}`), kept compact.
//!
//! A held call keeps its device for its whole life (shared by the registry, the events and
//! every handle), so the common parameters are typed: the caller and callee (`from_number` /
//! `to_number` of a phone, `from` / `to` of a SIP device) share one string allocation, the
//! ring `timeout` is a number, and every other parameter the server sent is kept as JSON in a
//! map that exists only when there is one. Nothing is lost: the device serializes back to the
//! same JSON (keys in sorted order, as `serde_json::Map` writes them).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::calling::states::DeviceType;
use crate::wire::lenient;

/// The caller is present (`text[..from_len]`).
const FROM: u8 = 1;
/// The caller's key is `from_number` (else `from`).
const FROM_NUMBER: u8 = 1 << 1;
/// The callee is present (`text[from_len..]`).
const TO: u8 = 1 << 2;
/// The callee's key is `to_number` (else `to`).
const TO_NUMBER: u8 = 1 << 3;
/// `timeout` is present (a whole number that fits `u32`).
const TIMEOUT: u8 = 1 << 4;

/// A device as the server describes it (`{type, params}`), e.g. on inbound calls, peers and
/// tap destinations.
///
/// The caller/callee and the ring timeout are typed ([`from`](Self::from),
/// [`to`](Self::to), [`timeout`](Self::timeout)); any other parameter (`addr`, `port`,
/// `codec`, `headers`, ...) is read with [`other_param`](Self::other_param), and
/// [`params`](Self::params) rebuilds the whole `params` object. Serializing gives back the
/// JSON the server sent.
#[derive(Clone, PartialEq)]
pub struct DeviceInfo {
    /// `phone`, `sip`, `webrtc`, `rtp`, `ws`, ...
    pub device_type: DeviceType,
    /// The caller, then the callee (`FROM`/`TO` say which are present).
    text: Text,
    /// Every parameter that is not typed; `None` when there is none.
    extra: Option<Box<Map<String, Value>>>,
    timeout: u32,
    from_len: u16,
    flags: u8,
}

impl DeviceInfo {
    /// A device from its type and its `params` object (as the server would send them).
    pub fn from_params(device_type: DeviceType, params: Map<String, Value>) -> Self {
        let mut b = Builder::default();
        for (k, v) in params {
            match v {
                Value::String(s) => b.push(&k, Param::Str(Cow::Owned(s))),
                other => b.push(&k, Param::Other(other)),
            }
        }
        b.finish(device_type)
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The caller: `from_number` (phone) or `from` (SIP).
    pub fn from(&self) -> Option<&str> {
        if self.has(FROM) {
            self.text.as_str().get(..usize::from(self.from_len))
        } else {
            None
        }
    }

    /// The callee: `to_number` (phone) or `to` (SIP).
    pub fn to(&self) -> Option<&str> {
        if self.has(TO) {
            self.text.as_str().get(usize::from(self.from_len)..)
        } else {
            None
        }
    }

    /// The ring timeout in seconds, if present (number or numeric string).
    pub fn timeout(&self) -> Option<u64> {
        if self.has(TIMEOUT) {
            return Some(u64::from(self.timeout));
        }
        self.other_param("timeout").and_then(lenient::value_as_u64)
    }

    /// A parameter other than the typed ones (`from_number`/`from`, `to_number`/`to` when
    /// they are strings, `timeout` when it is a whole number): `addr`, `port`, `codec`,
    /// `headers`, ... as the server sent it.
    pub fn other_param(&self, key: &str) -> Option<&Value> {
        self.extra.as_deref()?.get(key)
    }

    /// Any parameter by its wire key, typed ones included (`from_number`, `to`,
    /// `timeout`, ...), as JSON.
    pub fn param(&self, key: &str) -> Option<Value> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_value())
    }

    /// The parameters [`other_param`](Self::other_param) reads, in key order.
    pub fn other_params(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.extra
            .as_deref()
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The whole `params` object, rebuilt (typed parameters included).
    pub fn params(&self) -> Map<String, Value> {
        self.entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// Every parameter, sorted by key (the order `serde_json::Map` keeps).
    fn entries(&self) -> Vec<(&str, ParamRef<'_>)> {
        let mut out: Vec<(&str, ParamRef<'_>)> = self
            .other_params()
            .map(|(k, v)| (k, ParamRef::Value(v)))
            .collect();
        if let Some(f) = self.from() {
            let key = if self.has(FROM_NUMBER) {
                "from_number"
            } else {
                "from"
            };
            out.push((key, ParamRef::Str(f)));
        }
        if let Some(t) = self.to() {
            let key = if self.has(TO_NUMBER) {
                "to_number"
            } else {
                "to"
            };
            out.push((key, ParamRef::Str(t)));
        }
        if self.has(TIMEOUT) {
            out.push(("timeout", ParamRef::U32(self.timeout)));
        }
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }
}

/// The same output as the derived `Debug` of `{device_type, params: Map}`.
impl fmt::Debug for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceInfo")
            .field("device_type", &self.device_type)
            .field("params", &self.params())
            .finish()
    }
}

/// How many bytes of caller + callee are kept inside the device itself (two phone numbers
/// of up to 15 characters, `+` included, fit: a phone call's device is one allocation).
const INLINE: usize = 30;

/// The caller and callee text: inside the struct when short, else one boxed string.
#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    /// `a` followed by `b`, written straight into the device when short (no allocation).
    fn pair(a: &str, b: &str) -> Text {
        let total = a.len() + b.len();
        match u8::try_from(total) {
            Ok(len) if total <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..a.len()].copy_from_slice(a.as_bytes());
                bytes[a.len()..total].copy_from_slice(b.as_bytes());
                Text::Inline { len, bytes }
            }
            _ => Text::Heap([a, b].concat().into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Always valid: copied from a `str`, and cut at its end.
            Text::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Text::Heap(s) => s,
        }
    }
}

impl Text {
    /// The text's bytes (no UTF-8 check: equal bytes are equal texts).
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Text::Heap(s) => s.as_bytes(),
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// One parameter, borrowed, for writing.
enum ParamRef<'a> {
    Str(&'a str),
    U32(u32),
    Value(&'a Value),
}

impl ParamRef<'_> {
    fn to_value(&self) -> Value {
        match self {
            ParamRef::Str(s) => Value::String((*s).to_owned()),
            ParamRef::U32(n) => Value::from(*n),
            ParamRef::Value(v) => (*v).clone(),
        }
    }
}

impl Serialize for ParamRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamRef::Str(v) => s.serialize_str(v),
            ParamRef::U32(n) => s.serialize_u32(*n),
            ParamRef::Value(v) => v.serialize(s),
        }
    }
}

/// The `params` object, written in key order.
struct ParamsOut<'a>(&'a DeviceInfo);

impl Serialize for ParamsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.0.entries();
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `{"type": .., "params": {..}}`, as the server sent it.
impl Serialize for DeviceInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DeviceInfo", 2)?;
        st.serialize_field("type", &self.device_type)?;
        st.serialize_field("params", &ParamsOut(self))?;
        st.end()
    }
}

/// One parameter as read: a string (borrowed from the frame when it can be) or any other
/// JSON value.
enum Param<'de> {
    Str(Cow<'de, str>),
    Other(Value),
}

/// Sorts parameters into the typed slots and the extra map.
#[derive(Default)]
struct Builder<'de> {
    /// The caller and whether its key is `from_number`.
    from: Option<(Cow<'de, str>, bool)>,
    /// The callee and whether its key is `to_number`.
    to: Option<(Cow<'de, str>, bool)>,
    timeout: Option<u32>,
    extra: Map<String, Value>,
}

impl<'de> Builder<'de> {
    fn push(&mut self, key: &str, value: Param<'de>) {
        match (key, value) {
            ("from_number", Param::Str(s)) => {
                Self::slot(&mut self.from, "from", s, true, &mut self.extra)
            }
            ("from", Param::Str(s)) => {
                Self::slot(&mut self.from, "from", s, false, &mut self.extra)
            }
            ("to_number", Param::Str(s)) => {
                Self::slot(&mut self.to, "to", s, true, &mut self.extra)
            }
            ("to", Param::Str(s)) => Self::slot(&mut self.to, "to", s, false, &mut self.extra),
            ("timeout", Param::Other(Value::Number(n)))
                if n.as_u64().is_some_and(|t| u32::try_from(t).is_ok()) =>
            {
                self.timeout = n.as_u64().and_then(|t| u32::try_from(t).ok());
            }
            (k, Param::Str(s)) => {
                self.extra
                    .insert(k.to_owned(), Value::String(s.into_owned()));
            }
            (k, Param::Other(v)) => {
                self.extra.insert(k.to_owned(), v);
            }
        }
    }

    /// Puts a caller/callee string in its typed slot. The `*_number` key wins the slot (as
    /// [`DeviceInfo::from`] prefers it); the other key's string goes to the extra map.
    fn slot(
        slot: &mut Option<(Cow<'de, str>, bool)>,
        short: &str,
        s: Cow<'de, str>,
        number: bool,
        extra: &mut Map<String, Value>,
    ) {
        let key = |n: bool| {
            if n {
                format!("{short}_number")
            } else {
                short.to_owned()
            }
        };
        match slot.take() {
            Some((old, old_number)) if old_number != number => {
                let (keep, keep_number, spill, spill_number) = if number {
                    (s, true, old, false)
                } else {
                    (old, true, s, false)
                };
                extra.insert(key(spill_number), Value::String(spill.into_owned()));
                *slot = Some((keep, keep_number));
            }
            _ => *slot = Some((s, number)),
        }
    }

    fn finish(mut self, device_type: DeviceType) -> DeviceInfo {
        let mut flags = 0;
        // A caller too long for the compact length stays in the extra map.
        if let Some((f, number)) = self.from.take() {
            if u16::try_from(f.len()).is_ok() {
                self.from = Some((f, number));
            } else {
                let key = if number { "from_number" } else { "from" };
                self.extra
                    .insert(key.to_owned(), Value::String(f.into_owned()));
            }
        }
        let from_len = self.from.as_ref().map_or(0, |(f, _)| f.len());
        if let Some((_, number)) = &self.from {
            flags |= FROM | if *number { FROM_NUMBER } else { 0 };
        }
        if let Some((_, number)) = &self.to {
            flags |= TO | if *number { TO_NUMBER } else { 0 };
        }
        let text = Text::pair(
            self.from.as_ref().map_or("", |(f, _)| f),
            self.to.as_ref().map_or("", |(t, _)| t),
        );
        if self.timeout.is_some() {
            flags |= TIMEOUT;
        }
        DeviceInfo {
            device_type,
            text,
            extra: (!self.extra.is_empty()).then(|| Box::new(self.extra)),
            timeout: self.timeout.unwrap_or(0),
            from_len: u16::try_from(from_len).unwrap_or(0),
            flags,
        }
    }
}

impl<'de> Deserialize<'de> for Param<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamVisitor)
    }
}

struct ParamVisitor;

impl<'de> Visitor<'de> for ParamVisitor {
    type Value = Param<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Param<'de>, E> {
        Ok(Param::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Param<'de>, E> {
        Ok(Param::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Param<'de>, E> {
        Ok(Param::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Param<'de>, E> {
        Ok(Param::Other(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Param<'de>, D::Error> {
        Value::deserialize(d).map(Param::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Param<'de>, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(a)).map(Param::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Param<'de>, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(a)).map(Param::Other)
    }
}

/// The `params` object, read straight into a [`Builder`].
struct ParamsIn<'de>(Builder<'de>);

impl<'de> Deserialize<'de> for ParamsIn<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamsIn<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a params object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<ParamsIn<'de>, A::Error> {
                let mut b = Builder::default();
                while let Some(key) = a.next_key::<Param<'de>>()? {
                    let value: Param<'de> = a.next_value()?;
                    match key {
                        Param::Str(k) => b.push(&k, value),
                        Param::Other(k) => b.push(&k.to_string(), value),
                    }
                }
                Ok(ParamsIn(b))
            }
        }
        d.deserialize_map(V)
    }
}

/// `{"type": .., "params": {..}}`; unknown fields are ignored, both fields may be missing.
impl<'de> Deserialize<'de> for DeviceInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DeviceInfo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a device object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<DeviceInfo, A::Error> {
                let mut device_type = None;
                let mut params = None;
                while let Some(key) = a.next_key::<Param<'de>>()? {
                    match key {
                        Param::Str(k) if k == "type" => device_type = Some(a.next_value()?),
                        Param::Str(k) if k == "params" => {
                            params = Some(a.next_value::<ParamsIn<'de>>()?.0);
                        }
                        _ => {
                            a.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(params
                    .unwrap_or_default()
                    .finish(device_type.unwrap_or_default()))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device(v: Value) -> DeviceInfo {
        serde_json::from_value(v).expect("device")
    }

    #[test]
    fn phone_is_typed_and_round_trips() {
        let v = json!({"type":"phone","params":{"to_number":"+1555","from_number":"+1444","timeout":30}});
        let d = device(v.clone());
        assert_eq!(
            (d.from(), d.to(), d.timeout()),
            (Some("+1444"), Some("+1555"), Some(30))
        );
        assert_eq!(d.device_type, DeviceType::Phone);
        assert!(d.extra.is_none(), "nothing else to keep");
        assert_eq!(serde_json::to_value(&d).expect("json"), v);
        assert_eq!(
            serde_json::to_string(&d).expect("text"),
            r#"{"type":"phone","params":{"from_number":"+1444","timeout":30,"to_number":"+1555"}}"#
        );
    }

    #[test]
    fn sip_and_other_params_are_kept() {
        let v = json!({"type":"sip","params":{"from":"sip:a@x","to":"sip:b@y",
            "headers":[{"name":"X-A","value":"1"}],"codecs":["PCMU"]}});
        let d = device(v.clone());
        assert_eq!((d.from(), d.to()), (Some("sip:a@x"), Some("sip:b@y")));
        assert_eq!(d.other_param("codecs"), Some(&json!(["PCMU"])));
        assert_eq!(d.other_params().count(), 2);
        assert_eq!(serde_json::to_value(&d).expect("json"), v);
        assert_eq!(Value::Object(d.params()), v["params"]);
    }

    #[test]
    fn odd_shapes_stay_as_sent() {
        // A string timeout, a number caller, both caller keys, a huge timeout.
        for v in [
            json!({"type":"phone","params":{"timeout":"45","from_number":12}}),
            json!({"type":"phone","params":{"from":"a","from_number":"b","to":"c"}}),
            json!({"type":"phone","params":{"from_number":"b","from":"a"}}),
            json!({"type":"rtp","params":{"timeout":5000000000u64,"port":1234,"addr":"127.0.0.1"}}),
            json!({"type":"webrtc","params":{}}),
            json!({"params":{"to":""}}),
        ] {
            let d = device(v.clone());
            let mut want = v.clone();
            if want.get("type").is_none() {
                want["type"] = json!("");
            }
            assert_eq!(serde_json::to_value(&d).expect("json"), want, "{v}");
            assert_eq!(Value::Object(d.params()), v["params"]);
            let rebuilt = DeviceInfo::from_params(d.device_type.clone(), d.params());
            assert_eq!(rebuilt, d, "one canonical form for {v}");
        }
        let d = device(json!({"type":"phone","params":{"timeout":"45","from_number":12}}));
        assert_eq!((d.timeout(), d.from()), (Some(45), None));
        let d = device(json!({"type":"phone","params":{"from":"a","from_number":"b"}}));
        assert_eq!(d.from(), Some("b"), "from_number first, as before");
        assert_eq!(d.other_param("from"), Some(&json!("a")));
        assert_eq!(device(json!({"params":{"to":""}})).to(), Some(""));
    }

    #[test]
    fn escaped_strings_and_missing_params() {
        let d: DeviceInfo =
            serde_json::from_str(r#"{"type":"sip","params":{"from":"sip:\"a\"@x"},"x":1}"#)
                .expect("device");
        assert_eq!(d.from(), Some("sip:\"a\"@x"));
        let d: DeviceInfo = serde_json::from_str(r#"{"type":"phone"}"#).expect("device");
        assert_eq!((d.from(), d.params().len()), (None, 0));
        assert!(serde_json::from_str::<DeviceInfo>(r#"{"type":"phone","params":3}"#).is_err());
    }

    #[test]
    fn debug_matches_the_map_form() {
        let d = device(json!({"type":"phone","params":{"from_number":"+1","to_number":"+2"}}));
        assert_eq!(
            format!("{d:?}"),
            r#"DeviceInfo { device_type: Phone, params: {"from_number": String("+1"), "to_number": String("+2")} }"#
        );
    }

    #[test]
    fn compact() {
        assert!(std::mem::size_of::<DeviceInfo>() <= 72);
        let long = "sip:someone-with-a-long-name@example.com";
        let d = device(json!({"type":"sip","params":{"from":long,"to":"sip:b@y"}}));
        assert!(matches!(d.text, Text::Heap(_)));
        assert_eq!((d.from(), d.to()), (Some(long), Some("sip:b@y")));
        let d = device(
            json!({"type":"phone","params":{"from_number":"+44207946012345","to_number":"+12345678901234"}}),
        );
        assert!(
            matches!(d.text, Text::Inline { .. }),
            "two phone numbers stay inline"
        );
        assert_eq!(d.to(), Some("+12345678901234"));
    }
}
