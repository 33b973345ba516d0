//! The relay result inside a `blade.execute` response, and the success rule.

use serde_json::{Map, Value};

/// A relay result (`result.result` of a `blade.execute` response).
#[derive(Debug, Clone, PartialEq)]
pub struct RelayResult {
    /// `code` as a string (`"200"`, `"404"`); a numeric code is rendered as a string.
    pub code: Option<String>,
    /// `message`, if any.
    pub message: Option<String>,
    /// The whole object, for method-specific fields (`url`, `source_device`, `message_id`, ...).
    pub raw: Map<String, Value>,
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
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let code = obj.get("code").and_then(|c| match c {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let message = obj
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        RelayResult {
            code,
            message,
            raw: obj,
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

    /// A string field of the result.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
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

    #[test]
    fn nested_result_is_not_unwrapped() {
        // Node bug 7: a `result` member inside the relay result must stay data.
        let r = RelayResult::from_blade_result(
            &json!({"result":{"code":"200","result":{"code":"500"}}}),
        );
        assert!(r.is_success());
        assert_eq!(r.raw["result"]["code"], "500");
    }
}
