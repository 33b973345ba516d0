//! A result event's payload text: kept as is, or found in the frame it came in on when first
//! asked for. Its own module so that the events (which make payloads) and the result types
//! (which keep them) need not import each other.

use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;

/// The payload text (see [`ResultEvent`](crate::calling::ResultEvent)). Most results are never
/// asked for it: reading every finishing frame a second time for it was ~5% of a busy
/// consumer's CPU.
#[derive(Clone)]
pub(crate) enum Payload {
    Text(Box<RawValue>),
    Later(Arc<LaterPayload>),
}

/// A frame's text and how to find the payload in it.
pub(crate) struct LaterPayload {
    source: Box<str>,
    find: fn(&str) -> Box<RawValue>,
    found: OnceLock<Box<RawValue>>,
}

impl Payload {
    /// The payload of `source`, found by `find` on first use.
    pub(crate) fn later(source: &str, find: fn(&str) -> Box<RawValue>) -> Self {
        Payload::Later(Arc::new(LaterPayload {
            source: source.into(),
            find,
            found: OnceLock::new(),
        }))
    }

    /// The text (found now if it was not yet).
    pub(crate) fn text(&self) -> &str {
        match self {
            Payload::Text(t) => t.get(),
            Payload::Later(l) => l.found.get_or_init(|| (l.find)(&l.source)).get(),
        }
    }
}
