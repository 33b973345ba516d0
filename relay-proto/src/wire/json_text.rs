//! [`JsonText`]: JSON written piece by piece into one buffer sized up front, the same bytes
//! serde_json writes, without a serializer call per member, without serde_json's byte-by-byte
//! escape scan of strings that need no escaping, and without growing the buffer. The core
//! writes its `blade.execute` frames with it; relay-mock its hot frames (calling broadcasts,
//! relay answers).

use serde::Serialize;

/// A JSON text under construction: literal pieces, strings and serializable values appended
/// as serde_json writes them.
#[derive(Debug, Clone, Default)]
pub struct JsonText(Vec<u8>);

/// Whether serde_json writes `s` as is between quotes (no control character, quote or
/// backslash: the only bytes it escapes). Eight bytes at a time: the classic "has a byte less
/// than n" and "has a zero byte" word tests (exact as yes/no answers).
fn needs_no_escape(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = s.as_bytes().chunks_exact(8);
    let mut found = 0u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        found |= control
            | has_zero(w ^ (ONES * u64::from(b'"')))
            | has_zero(w ^ (ONES * u64::from(b'\\')));
    }
    found == 0
        && chunks
            .remainder()
            .iter()
            .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

impl JsonText {
    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Appends JSON text as is (a literal piece of the frame, or text that is JSON already).
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.0.extend_from_slice(json.as_bytes());
        self
    }

    /// Appends `s` as a JSON string, escaped as serde_json escapes it.
    pub fn str(&mut self, s: &str) -> &mut Self {
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
    pub fn value<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Self, serde_json::Error> {
        serde_json::to_writer(&mut self.0, value)?;
        Ok(self)
    }

    /// The text (every piece appended is UTF-8; the fallback never runs).
    pub fn finish(self) -> String {
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
    fn the_word_test_finds_every_escaped_byte_anywhere() {
        let safe = |b: u8| b >= 0x20 && b != b'"' && b != b'\\';
        for len in 0..20 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = b;
                    // Non-ASCII bytes alone are not UTF-8: pair them as `é` does.
                    let s = match std::str::from_utf8(&bytes) {
                        Ok(s) => s.to_owned(),
                        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
                    };
                    let want = s.bytes().all(safe);
                    assert_eq!(needs_no_escape(&s), want, "{s:?}");
                }
            }
        }
        assert!(needs_no_escape(
            "ünïcödé ✓ \u{7f} signalwire_0123456789abcdef"
        ));
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
