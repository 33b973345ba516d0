//! The hot frames (calling broadcasts, relay answers) written piece by piece into one buffer
//! sized up front: the same bytes serde_json writes for the derived structs of `output.rs` and
//! `blade.rs` (the tests hold them side by side), without a serializer call per member, without
//! the escape scan of long strings that need no escaping, and without growing the buffer.

use serde::Serialize;

/// A JSON text under construction.
pub(crate) struct JsonText(Vec<u8>);

/// Whether serde_json writes `s` as is between quotes (no control character, quote or
/// backslash: the only bytes it escapes). Checked without early exit, so it vectorises.
fn needs_no_escape(s: &str) -> bool {
    s.bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
}

impl JsonText {
    /// An empty text with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Appends JSON text as is (a literal piece of the frame, or text that is JSON already).
    pub(crate) fn raw(&mut self, json: &str) -> &mut Self {
        self.0.extend_from_slice(json.as_bytes());
        self
    }

    /// Appends `s` as a JSON string, escaped as serde_json escapes it.
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        if needs_no_escape(s) {
            self.0.reserve(s.len() + 2);
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
        } else {
            // Writing to a Vec cannot fail; a string always serializes.
            let _ = serde_json::to_writer(&mut self.0, s);
        }
        self
    }

    /// Appends any serializable value as serde_json writes it.
    pub(crate) fn value<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Self, serde_json::Error> {
        serde_json::to_writer(&mut self.0, value)?;
        Ok(self)
    }

    /// The text (every piece appended is UTF-8; the fallback never runs).
    pub(crate) fn finish(self) -> String {
        String::from_utf8(self.0)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "signalwire_abc_def_test-project",
            "quote \" backslash \\ slash / tab \t nl \n nul \u{0} del \u{7f}",
            "ünïcödé ✓ \u{2028}",
        ] {
            let mut t = JsonText::with_capacity(0);
            t.str(s);
            assert_eq!(t.finish(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn values_and_raw_pieces() {
        let mut t = JsonText::with_capacity(4);
        t.raw("{\"t\":").value(&1_700_000_000.123_f64).unwrap();
        t.raw(",\"n\":").value(&1_700_000_000.0_f64).unwrap();
        t.raw("}");
        assert_eq!(t.finish(), r#"{"t":1700000000.123,"n":1700000000.0}"#);
    }
}
