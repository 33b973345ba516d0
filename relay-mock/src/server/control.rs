//! The control endpoints of CONTROL_API.md and the REST task endpoint.

use serde_json::{json, Value};

use super::{ControlError, HttpResponse, MockServer};

impl MockServer {
    pub(crate) fn control_inner(
        &mut self,
        name: &str,
        _body: &Value,
    ) -> Result<Value, ControlError> {
        match name {
            "health" => Ok(json!({"ok": true})),
            _ => Err(ControlError::not_found(format!(
                "unknown control endpoint `{name}`"
            ))),
        }
    }

    pub(crate) fn deliver_task_inner(
        &mut self,
        _authorization: Option<&str>,
        _body: &[u8],
    ) -> HttpResponse {
        HttpResponse {
            status: 204,
            body: String::new(),
        }
    }
}
