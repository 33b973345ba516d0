//! The relay result inside a `blade.execute` response, and the success rule.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A relay result (`result.result` of a `blade.execute` response): its code and message read,
/// the rest kept as the server's JSON text and parsed only when a field is asked for.
#[derive(Clone)]
pub struct RelayResult {
    /// `code` as a string (`"200"`, `"404"`); a numeric code is rendered as a string.
    pub code: Option<String>,
    /// `message`, if any.
    pub message: Option<String>,
    /// The whole object's text (`{}` when the server sent no object).
    raw: Box<RawValue>,
}

impl std::fmt::Debug for RelayResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayResult")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("raw", &self.raw())
            .finish()
    }
}

impl PartialEq for RelayResult {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.message == other.message && self.raw() == other.raw()
    }
}

/// `{}`: the relay result of a Blade result that carries none.
fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

impl RelayResult {
    /// Reads the relay result out of a Blade result. It never unwraps nested `result` members
    /// recursively (the official SDK does; that is its bug 7): `blade_result.result` is the relay
    /// result, and anything inside it is data.
    ///
    /// A Blade result without a `result` member (or with a non-object one) yields a relay result
    /// with no code, made of the Blade result itself.
    pub fn from_blade_result(blade_result: &Value) -> RelayResult {
        let inner = blade_result.get("result").filter(|v| v.is_object());
        let obj = match inner.or(Some(blade_result)) {
            Some(v @ Value::Object(_)) => serde_json::value::to_raw_value(v).ok(),
            _ => None,
        };
        Self::from_object_text(obj.as_deref())
    }

    /// [`from_blade_result`](Self::from_blade_result) straight from the response's JSON text:
    /// only `code` and `message` are read; the relay result is kept as text.
    pub fn from_blade_result_raw(blade_result: &RawValue) -> RelayResult {
        #[derive(Deserialize)]
        struct Outer<'a> {
            #[serde(default, borrow)]
            result: Option<&'a RawValue>,
        }
        let is_object = |r: &RawValue| r.get().starts_with('{');
        let text = blade_result.get();
        let obj = if is_object(blade_result) {
            match serde_json::from_str::<Outer<'_>>(text) {
                Ok(Outer {
                    result: Some(inner),
                }) if is_object(inner) => Some(inner),
                Ok(_) => Some(blade_result),
                // Not the expected shape (a duplicate key, ...): the tree reading decides.
                Err(_) => {
                    return Self::from_blade_result(&super::rpc::raw_to_value(Some(blade_result)))
                }
            }
        } else {
            None
        };
        Self::from_object_text(obj)
    }

    /// The relay result of a relay result object's text (`result.result`).
    pub(crate) fn from_relay_object(obj: &RawValue) -> RelayResult {
        Self::from_object_text(Some(obj))
    }

    /// The relay result of one JSON object's text (`None`: an empty one).
    fn from_object_text(obj: Option<&RawValue>) -> RelayResult {
        let Some(obj) = obj else {
            return RelayResult {
                code: None,
                message: None,
                raw: empty_object(),
            };
        };
        let (code, message) = match serde_json::from_str::<CodeMessage>(obj.get()) {
            Ok(f) => (
                f.code.and_then(|c| c.text(true)),
                f.message.and_then(|m| m.text(false)),
            ),
            // A duplicate key: the tree reading keeps the last one.
            Err(_) => {
                let v = super::rpc::raw_to_value(Some(obj));
                let code = v.get("code").and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                let message = v.get("message").and_then(Value::as_str).map(str::to_owned);
                (code, message)
            }
        };
        RelayResult {
            code,
            message,
            raw: obj.to_owned(),
        }
    }

    /// Success means `code == "200"` or no code at all. A numeric `200` is accepted too (the
    /// official SDK counts it as a failure, its bug 7); we read it leniently.
    pub fn is_success(&self) -> bool {
        match self.code.as_deref() {
            None => true,
            Some(c) => c.trim() == "200",
        }
    }

    /// The whole object, for method-specific fields (`url`, `source_device`, `message_id`,
    /// ...), parsed from the kept text on each call.
    pub fn raw(&self) -> Map<String, Value> {
        serde_json::from_str(self.raw.get()).unwrap_or_default()
    }

    /// The whole object's JSON text, as the server sent it.
    pub fn raw_text(&self) -> &str {
        self.raw.get()
    }

    /// A field of the result decoded as `T` (`None` when absent or of another shape).
    pub fn field<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match serde_json::from_str::<std::collections::BTreeMap<&str, &RawValue>>(self.raw.get()) {
            Ok(fields) => serde_json::from_str(fields.get(key)?.get()).ok(),
            // Escaped keys: the tree reading.
            Err(_) => serde_json::from_value(self.raw().remove(key)?).ok(),
        }
    }

    /// A string field of the result.
    pub fn str_field(&self, key: &str) -> Option<String> {
        self.field::<Value>(key)
            .and_then(|v| v.as_str().map(str::to_owned))
    }
}

/// `code` and `message` of a relay result object, read in one pass (the other members are
/// skipped). A duplicate of either fails the read: the tree reading then keeps the last one.
struct CodeMessage {
    code: Option<Scalar>,
    message: Option<Scalar>,
}

impl<'de> Deserialize<'de> for CodeMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodeMessage;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a relay result object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CodeMessage, A::Error> {
                let mut out = CodeMessage {
                    code: None,
                    message: None,
                };
                while let Some(key) = map.next_key::<Field>()? {
                    let slot = match key {
                        Field::Code => &mut out.code,
                        Field::Message => &mut out.message,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(de::Error::duplicate_field("code or message"));
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A relay result member's name, borrowed: `code`, `message` or anything else.
enum Field {
    Code,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "code" => Field::Code,
                    "message" => Field::Message,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A member's value as `code`/`message` read it: a string, a number's text, or anything else.
enum Scalar {
    Text(String),
    Number(String),
    Other,
}

impl Scalar {
    /// A string's value, or (when `numbers` is set) a number's text; anything else is `None`.
    fn text(self, numbers: bool) -> Option<String> {
        match self {
            Scalar::Text(s) => Some(s),
            Scalar::Number(n) if numbers => Some(n),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
            // A number's text as serde_json writes it (the tree reading's rendering).
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Number(serde_json::Number::from(v).to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Number(serde_json::Number::from(v).to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(serde_json::Number::from_f64(v)
                    .map_or(Scalar::Other, |n| Scalar::Number(n.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_rule() {
        let ok = RelayResult::from_blade_result(&json!({"result":{"code":"200","message":"m"}}));
        assert!(ok.is_success());
        let num = RelayResult::from_blade_result(&json!({"result":{"code":200}}));
        assert!(num.is_success());
        let none = RelayResult::from_blade_result(&json!({"result":{"protocol":"p"}}));
        assert!(none.is_success());
        let bad = RelayResult::from_blade_result(&json!({"result":{"code":"400","message":"x"}}));
        assert!(!bad.is_success());
        assert_eq!(bad.message.as_deref(), Some("x"));
    }

    /// The text reading and the tree reading agree, lenient code and odd shapes included.
    #[test]
    fn text_and_tree_readings_agree() {
        for v in [
            json!({"result":{"code":"200","message":"m","url":"u"}}),
            json!({"result":{"code":200}}),
            json!({"result":{"code":-1.5,"message":7}}),
            json!({"result":{"code":null,"message":"x"}}),
            json!({"result":{"code":-5,"message":["x"]}}),
            json!({"result":{"code":true,"message":{"a":1}}}),
            json!({"result":{"code":18_446_744_073_709_551_615_u64,"message":false}}),
            json!({"result":{"code":{"n":1},"message":null,"other":[1,{"code":"x"}]}}),
            json!({"result":"not an object","code":"404"}),
            json!({"protocol":"p"}),
            json!({"result":[1]}),
            json!(null),
            json!("text"),
        ] {
            let raw = serde_json::value::to_raw_value(&v).unwrap();
            let a = RelayResult::from_blade_result(&v);
            let b = RelayResult::from_blade_result_raw(&raw);
            assert_eq!(a, b, "{v}");
        }
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"result":{"code":"200","code":"500","url":"u"}}"#).unwrap();
        let r = RelayResult::from_blade_result_raw(&raw);
        assert_eq!(r.code.as_deref(), Some("500"));
        // Spellings a tree cannot show: exponents, escaped names and values.
        for (text, code, message) in [
            (
                r#"{"result":{"code":2e2,"message":"m"}}"#,
                Some("200.0"),
                Some("m"),
            ),
            (r#"{"result":{"code":1E400}}"#, None, None),
            (
                r#"{"result":{"c\u006fde":"2\u0030\u0030","message":"a\"b"}}"#,
                Some("200"),
                Some("a\"b"),
            ),
            (
                r#"{"result":{"message":"x","message":"y"}}"#,
                None,
                Some("y"),
            ),
        ] {
            let r = serde_json::from_str::<Box<RawValue>>(text)
                .map(|raw| RelayResult::from_blade_result_raw(&raw));
            match r {
                Ok(r) => {
                    assert_eq!(r.code.as_deref(), code, "{text}");
                    assert_eq!(r.message.as_deref(), message, "{text}");
                }
                // serde_json refuses a number out of f64's range anywhere.
                Err(_) => assert!(text.contains("1E400"), "{text}"),
            }
        }
        assert_eq!(r.str_field("url").as_deref(), Some("u"));
        assert_eq!(r.field::<u64>("url"), None);
    }

    #[test]
    fn nested_result_is_not_unwrapped() {
        // Node bug 7: a `result` member inside the relay result must stay data.
        let r = RelayResult::from_blade_result(
            &json!({"result":{"code":"200","result":{"code":"500"}}}),
        );
        assert!(r.is_success());
        assert_eq!(r.raw()["result"]["code"], "500");
    }
}
