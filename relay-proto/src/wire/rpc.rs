//! The JSON-RPC 2.0 envelope: decoding any frame the server sends, encoding our requests and
//! responses.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{DecodeError, InputError, PeerMisbehaved};
use crate::ids::RequestId;

/// A JSON-RPC error object. `code` is lenient: a string holding a number is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The error code (e.g. `-32601`, `-32002`).
    #[serde(deserialize_with = "code_i64", default)]
    pub code: i64,
    /// The human-readable message.
    #[serde(default)]
    pub message: String,
    /// Anything else the server put in the error object.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn code_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// One decoded frame from the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request (or notification, when `id` is `None`) the peer originated.
    Request {
        /// The request id, if any (numbers are rendered as strings).
        id: Option<RequestId>,
        /// The method, e.g. `blade.broadcast`.
        method: String,
        /// The params; `Value::Null` when absent.
        params: Value,
    },
    /// A response to one of our requests.
    Response {
        /// The id of the request it answers.
        id: RequestId,
        /// `Ok(result)` or `Err(error object)`.
        payload: Result<Value, RpcError>,
    },
}

/// One frame decoded without building a JSON tree: `params`, `result` and `error` stay raw
/// slices of the input text, so a hot path can parse them straight into typed structs.
#[derive(Debug, Clone)]
pub enum IncomingRef<'a> {
    /// A request (or notification, when `id` is `None`) the peer originated.
    Request {
        /// The request id, if any (numbers are rendered as strings).
        id: Option<RequestId>,
        /// The method.
        method: Cow<'a, str>,
        /// The params, unparsed; `None` when absent or `null`.
        params: Option<&'a RawValue>,
    },
    /// A response to one of our requests.
    Response {
        /// The id of the request it answers.
        id: RequestId,
        /// `Ok(raw result)` or `Err(error object)`.
        payload: Result<&'a RawValue, RpcError>,
    },
}

/// The members of a JSON-RPC envelope, each unparsed (unknown members skipped).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Members<'a> {
    #[serde(default, borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub method: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
}

/// Decodes one text frame, borrowing from it. Never panics; the rules are those of [`decode`].
pub fn decode_ref(text: &str) -> Result<IncomingRef<'_>, InputError> {
    from_members(envelope(text)?)
}

/// [`decode_ref`], with the frame's `id` as the peer wrote it (an answer to a request of the
/// peer carries it back: see [`encode_result_for`]).
pub(crate) fn decode_ref_with_id(
    text: &str,
) -> Result<(IncomingRef<'_>, Option<&RawValue>), InputError> {
    let members = envelope(text)?;
    let id = members.id;
    Ok((from_members(members)?, id))
}

/// A JSON string's text when it needs no unescaping.
pub(crate) fn plain_string(raw: &RawValue) -> Option<&str> {
    let text = raw.get();
    let plain = text.strip_prefix('"')?.strip_suffix('"')?;
    (!plain.contains(['\\', '"'])).then_some(plain)
}

/// A request id: a string, or a number rendered as one; anything else (`null`, objects) is
/// no id.
pub(crate) fn request_id(raw: &RawValue) -> Option<RequestId> {
    let text = raw.get();
    match text.as_bytes().first()? {
        // The usual id (no escapes) goes straight into the id's one allocation.
        b'"' => match plain_string(raw) {
            Some(plain) => Some(RequestId::from(plain)),
            None => serde_json::from_str::<String>(text)
                .ok()
                .map(RequestId::new),
        },
        b'-' | b'0'..=b'9' => serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .map(|n| RequestId::new(n.to_string())),
        _ => None,
    }
}

/// What an envelope's members make: a request (it has a `method`) or a response.
pub(crate) fn from_members(env: Members<'_>) -> Result<IncomingRef<'_>, InputError> {
    let id = env.id.and_then(request_id);
    if let Some(method) = env.method {
        let method: Cow<'_, str> = match plain_string(method) {
            Some(plain) => Cow::Borrowed(plain),
            None => {
                serde_json::from_str(method.get()).map_err(|_| PeerMisbehaved::MethodNotString)?
            }
        };
        return Ok(IncomingRef::Request {
            id,
            method,
            params: env.params,
        });
    }
    let Some(id) = id else {
        return Err(PeerMisbehaved::NeitherMethodNorId.into());
    };
    response_ref(id, env.result, env.error)
}

/// The envelope of a frame that is a JSON object; what it is otherwise.
fn envelope(text: &str) -> Result<Members<'_>, DecodeError> {
    if !text.trim_start().starts_with('{') {
        // Not an object: let the tree parser say precisely what it is.
        let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::NotJson {
            detail: e.to_string(),
        })?;
        return Err(DecodeError::NotAnObject {
            found: json_kind(&value),
        });
    }
    serde_json::from_str(text).map_err(|e| DecodeError::NotJsonRpc {
        detail: e.to_string(),
    })
}

/// A response: its error object (kept as text if it has not the JSON-RPC shape), else its
/// result; one of them is required.
fn response_ref<'a>(
    id: RequestId,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
) -> Result<IncomingRef<'a>, InputError> {
    if let Some(err) = error {
        let err = serde_json::from_str::<RpcError>(err.get()).unwrap_or_else(|_| RpcError {
            code: 0,
            message: err.get().to_owned(),
            extra: Map::new(),
        });
        return Ok(IncomingRef::Response {
            id,
            payload: Err(err),
        });
    }
    match result {
        Some(result) => Ok(IncomingRef::Response {
            id,
            payload: Ok(result),
        }),
        None => Err(PeerMisbehaved::ResponseWithoutOutcome { id }.into()),
    }
}

/// Parses a raw JSON slice into a tree (`None` stays `Value::Null`).
pub fn raw_to_value(raw: Option<&RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

/// Decodes one text frame. Never panics; anything that is not a JSON object with either a
/// `method` or an `id` plus `result`/`error` is an [`InputError::Decode`] or
/// [`InputError::PeerMisbehaved`].
pub fn decode(text: &str) -> Result<Incoming, InputError> {
    Ok(match decode_ref(text)? {
        IncomingRef::Request { id, method, params } => Incoming::Request {
            id,
            method: method.into_owned(),
            params: raw_to_value(params),
        },
        IncomingRef::Response { id, payload } => Incoming::Response {
            id,
            payload: payload.map(|r| raw_to_value(Some(r))),
        },
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Encodes a request frame. Infallible: a `Value` always serializes (nothing is defaulted).
pub fn encode_request(id: &RequestId, method: &str, params: &Value) -> String {
    to_text_infallible(&RequestOut {
        jsonrpc: "2.0",
        id: id.as_str(),
        method,
        params,
    })
}

/// Encodes a `blade.execute` request frame for a relay method, its params written straight
/// into the frame text (no JSON tree is built).
///
/// The envelope is written piece by piece ([`JsonText`](crate::wire::JsonText)): the same bytes
/// as serializing it, without serde_json's escape scan of the long protocol string and the ids
/// when they need no escaping (every frame a consumer sends is one of these).
pub fn encode_execute<P: Serialize + ?Sized>(
    id: &RequestId,
    protocol: &str,
    method: &str,
    params: &P,
) -> String {
    let mut out = execute_head(id, protocol, method, 0);
    if let Err(e) = out.value(params) {
        tracing::error!(error = %e, "command params failed to serialize");
        return String::new();
    }
    out.raw(r#","protocol":"#).str(protocol).raw("}}");
    out.finish()
}

/// [`encode_execute`] with params that are JSON text already (the core's own, written with
/// [`JsonText`](crate::wire::JsonText)), copied in as is.
pub(crate) fn encode_execute_text(
    id: &RequestId,
    protocol: &str,
    method: &str,
    params: &str,
) -> String {
    let mut out = execute_head(id, protocol, method, params.len());
    out.raw(params)
        .raw(r#","protocol":"#)
        .str(protocol)
        .raw("}}");
    out.finish()
}

/// A `blade.execute` frame up to its params.
fn execute_head(
    id: &RequestId,
    protocol: &str,
    method: &str,
    room: usize,
) -> crate::wire::JsonText {
    let mut out = crate::wire::JsonText::with_capacity(
        EXECUTE_FRAME_ROOM + id.as_str().len() + protocol.len() + method.len() + room,
    );
    out.raw(r#"{"jsonrpc":"2.0","id":"#)
        .str(id.as_str())
        .raw(r#","method":"#)
        .str(crate::wire::method::EXECUTE)
        .raw(r#","params":{"method":"#)
        .str(method)
        .raw(r#","params":"#);
    out
}

/// Room for a `blade.execute` frame's fixed pieces and typical params, beyond its strings.
const EXECUTE_FRAME_ROOM: usize = 320;

/// [`to_text`] of a value whose serialization cannot fail (strings and JSON trees only).
fn to_text_infallible<T: Serialize>(value: &T) -> String {
    to_text(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a JSON tree failed to serialize");
        String::new()
    })
}

/// Encodes a success response frame.
pub fn encode_result(id: &RequestId, result: &Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id.as_str(), "result": result}).to_string()
}

/// A request id the peer wrote as a JSON number: its text (`None` for a string id, or none).
/// JSON-RPC 2.0 allows numbers; the answer must carry the same number, not its text as a
/// string, or the peer cannot match it.
fn numeric_id(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| matches!(r.get().as_bytes().first(), Some(b'-' | b'0'..=b'9')))
}

/// [`encode_result`] of an answer to the peer's request whose id it wrote as `raw`: a
/// number is echoed as written (a string id as [`encode_result`] writes it).
pub(crate) fn encode_result_for(id: &RequestId, raw: Option<&RawValue>, result: &Value) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        id: &'a RawValue,
        jsonrpc: &'static str,
        result: &'a Value,
    }
    match numeric_id(raw) {
        Some(id) => to_text_infallible(&Out {
            id,
            jsonrpc: "2.0",
            result,
        }),
        None => encode_result(id, result),
    }
}

/// [`encode_error`] of an answer to the peer's request whose id it wrote as `raw` (see
/// [`encode_result_for`]).
pub(crate) fn encode_error_for(
    id: &RequestId,
    raw: Option<&RawValue>,
    code: i64,
    message: &str,
) -> String {
    #[derive(Serialize)]
    struct ErrorOut<'a> {
        code: i64,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Out<'a> {
        error: ErrorOut<'a>,
        id: &'a RawValue,
        jsonrpc: &'static str,
    }
    match numeric_id(raw) {
        Some(raw) => to_text_infallible(&Out {
            error: ErrorOut { code, message },
            id: raw,
            jsonrpc: "2.0",
        }),
        None => encode_error(Some(id), code, message),
    }
}

/// Encodes an error response frame.
pub fn encode_error(id: Option<&RequestId>, code: i64, message: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.map(|i| Value::String(i.as_str().to_owned())).unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    })
    .to_string()
}

#[derive(Serialize)]
struct RequestOut<'a, P: ?Sized> {
    jsonrpc: &'static str,
    id: &'a str,
    method: &'a str,
    params: &'a P,
}

#[derive(Serialize)]
struct ResultOut<'a, R: ?Sized> {
    jsonrpc: &'static str,
    id: &'a str,
    result: &'a R,
}

/// Encodes a request frame whose params are any serializable value, written straight to the
/// text (no JSON tree is built). Fails only if `params` fails to serialize.
pub fn encode_request_with<P: Serialize + ?Sized>(
    id: &RequestId,
    method: &str,
    params: &P,
) -> Result<String, serde_json::Error> {
    to_text(&RequestOut {
        jsonrpc: "2.0",
        id: id.as_str(),
        method,
        params,
    })
}

/// `serde_json::to_string` with room for a typical frame up front (fewer reallocations).
fn to_text<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, value)?;
    // serde_json writes UTF-8 only; the fallback never runs.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Encodes a success response frame whose result is any serializable value, written straight
/// to the text (no JSON tree is built). Fails only if `result` fails to serialize.
pub fn encode_result_with<R: Serialize + ?Sized>(
    id: &RequestId,
    result: &R,
) -> Result<String, serde_json::Error> {
    to_text(&ResultOut {
        jsonrpc: "2.0",
        id: id.as_str(),
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame [`encode_execute`] writes, as serde writes it from structs.
    fn execute_as_serde<P: Serialize + ?Sized>(
        id: &str,
        protocol: &str,
        method: &str,
        params: &P,
    ) -> String {
        #[derive(Serialize)]
        struct ExecuteOut<'a, P: ?Sized> {
            method: &'a str,
            params: &'a P,
            protocol: &'a str,
        }
        serde_json::to_string(&RequestOut {
            jsonrpc: "2.0",
            id,
            method: crate::wire::method::EXECUTE,
            params: &ExecuteOut {
                method,
                params,
                protocol,
            },
        })
        .expect("serializes")
    }

    #[test]
    fn execute_frames_are_the_bytes_serde_writes() {
        let tree = serde_json::json!({"call_id": "c\"1", "play": [{"type": "tts"}], "volume": 2.5});
        let raw = RawValue::from_string(r#"{"b":[1,2],"a":"x"}"#.to_owned()).expect("JSON");
        for (id, protocol, method) in [
            (
                "00000000-0000-4000-8000-000000000001",
                "signalwire_abc_def_test-project",
                "calling.play",
            ),
            ("", "", ""),
            ("id \"quoted\" \\ tab\t", "proto\n\u{1}", "m\u{7f}ünï"),
        ] {
            let rid = RequestId::new(id);
            assert_eq!(
                encode_execute(&rid, protocol, method, &tree),
                execute_as_serde(id, protocol, method, &tree),
                "{id:?} {protocol:?} {method:?}"
            );
            assert_eq!(
                encode_execute(&rid, protocol, method, &*raw),
                execute_as_serde(id, protocol, method, &*raw)
            );
            assert_eq!(
                encode_execute_text(&rid, protocol, method, raw.get()),
                execute_as_serde(id, protocol, method, &*raw)
            );
        }
        let frame = encode_execute(&RequestId::new("r"), "p", "calling.answer", &*raw);
        let v: Value = serde_json::from_str(&frame).expect("valid JSON");
        assert_eq!(v["params"]["params"]["b"][1], 2);
    }

    /// Ids as the server may write them: plain, escaped, numeric, or no id at all.
    #[test]
    fn request_ids_in_every_spelling() {
        let id = |t: &str| request_id(&RawValue::from_string(t.to_owned()).expect("JSON"));
        let s = |t: &str| id(t).map(|i| i.as_str().to_owned());
        assert_eq!(s(r#""abc-1""#).as_deref(), Some("abc-1"));
        assert_eq!(s(r#""""#).as_deref(), Some(""));
        assert_eq!(s(r#""a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(s(r#""\u0041\n""#).as_deref(), Some("A\n"));
        assert_eq!(s("42").as_deref(), Some("42"));
        assert_eq!(s("-1.5").as_deref(), Some("-1.5"));
        assert_eq!(s("null"), None);
        assert_eq!(s("{}"), None);
    }

    /// An answer to the peer's request carries a numeric id back as the number it was, a
    /// string id as a string (the bytes [`encode_result`] writes).
    #[test]
    fn answers_echo_the_peers_id() {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).expect("JSON");
        let result = serde_json::json!({"a": 1});
        for (text, id) in [
            ("7", RequestId::new("7")),
            ("-3", RequestId::new("-3")),
            ("1.0e3", RequestId::new("1000.0")),
            (
                "98765432109876543210",
                RequestId::new("98765432109876543210"),
            ),
        ] {
            let r = raw(text);
            let frame = encode_result_for(&id, Some(&r), &result);
            assert_eq!(
                frame,
                format!(r#"{{"id":{text},"jsonrpc":"2.0","result":{{"a":1}}}}"#)
            );
            let frame = encode_error_for(&id, Some(&r), -32601, "method not found");
            assert_eq!(
                frame,
                format!(
                    r#"{{"error":{{"code":-32601,"message":"method not found"}},"id":{text},"jsonrpc":"2.0"}}"#
                )
            );
        }
        let id = RequestId::new("bb-1");
        for r in [Some(raw(r#""bb\u002d1""#)), Some(raw(r#""bb-1""#)), None] {
            assert_eq!(
                encode_result_for(&id, r.as_deref(), &result),
                encode_result(&id, &result)
            );
            assert_eq!(
                encode_error_for(&id, r.as_deref(), 1, "m"),
                encode_error(Some(&id), 1, "m")
            );
        }
    }

    #[test]
    fn decodes_each_shape() {
        let r = decode(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(matches!(r, Incoming::Response { payload: Ok(_), .. }));
        let r = decode(r#"{"jsonrpc":"2.0","id":"a","error":{"code":"-32000","message":"x"}}"#)
            .unwrap();
        match r {
            Incoming::Response {
                payload: Err(e), ..
            } => assert_eq!(e.code, -32000),
            other => panic!("{other:?}"),
        }
        let r = decode(r#"{"jsonrpc":"2.0","id":7,"method":"blade.ping"}"#).unwrap();
        assert_eq!(
            r,
            Incoming::Request {
                id: Some(RequestId::new("7")),
                method: "blade.ping".into(),
                params: Value::Null
            }
        );
    }

    #[test]
    fn typed_encoders_match_the_tree_encoders() {
        let id = RequestId::new("r1");
        let params = serde_json::json!({"a": [1, "x"], "b": {"c": null}});
        let typed = encode_request_with(&id, "blade.ping", &params).unwrap();
        let tree = encode_request(&id, "blade.ping", &params);
        assert_eq!(
            serde_json::from_str::<Value>(&typed).unwrap(),
            serde_json::from_str::<Value>(&tree).unwrap()
        );
        let typed = encode_result_with(&id, &params).unwrap();
        let tree = encode_result(&id, &params);
        assert_eq!(
            serde_json::from_str::<Value>(&typed).unwrap(),
            serde_json::from_str::<Value>(&tree).unwrap()
        );
    }

    #[test]
    fn rejects_non_objects() {
        for bad in [
            "null",
            "123",
            "\"x\"",
            "[1]",
            "not json",
            "",
            "{}",
            r#"{"id":"a"}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
