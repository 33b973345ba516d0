//! Deserializers for fields that servers send with varying types.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A number that may arrive as a JSON number or as a string holding one (`"1"`, `"20"`).
/// Anything else decodes as `None` rather than failing the whole event.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(value_as_u64))
}

/// Like [`opt_u64`] for floating-point values.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(value_as_f64))
}

/// A string that may arrive as a JSON string or a number (`"202"` or `202`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(value_as_string))
}

/// A flag that may be absent, `null` (false), a boolean, or `"true"`/`"false"`; anything
/// else reads as false rather than failing the whole message (Node only tests truthiness).
pub fn bool_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// A list that may be absent or `null` (decoded as empty).
pub fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Reads a number or a numeric string.
pub fn value_as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse::<u64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// Reads a float or a numeric string.
pub fn value_as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Reads a string, or renders a number as one.
pub fn value_as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_either_way() {
        assert_eq!(value_as_u64(&json!("12")), Some(12));
        assert_eq!(value_as_u64(&json!(12)), Some(12));
        assert_eq!(value_as_u64(&json!("x")), None);
        assert_eq!(value_as_f64(&json!("1.5")), Some(1.5));
        assert_eq!(value_as_string(&json!(202)), Some("202".into()));
    }
}

#[cfg(test)]
mod bool_tests {
    use crate::wire::ConnectResult;

    #[test]
    fn session_restored_reads_leniently() {
        for (text, want) in [
            (r#"{"session_restored":true,"sessionid":"s"}"#, true),
            (r#"{"session_restored":"true","sessionid":"s"}"#, true),
            (r#"{"session_restored":false,"sessionid":"s"}"#, false),
            (r#"{"session_restored":null,"sessionid":"s"}"#, false),
            (r#"{"session_restored":1,"sessionid":"s"}"#, false),
            (r#"{"sessionid":"s"}"#, false),
        ] {
            let r: ConnectResult = serde_json::from_str(text).expect(text);
            assert_eq!(r.session_restored, want, "{text}");
        }
    }
}
