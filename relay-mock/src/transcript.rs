//! JSONL transcripts (see `shared/protocol/TRANSCRIPTS.md`): recording, reading, canonical JSON,
//! id normalisation and a readable comparison for golden tests.
//!
//! ```
//! use relay_mock::transcript::{compare, normalize, parse_jsonl};
//! let a = parse_jsonl(r#"{"dir":"c2s","frame":{"id":"x","method":"blade.ping"},"conn":1,"t":0}"#).unwrap();
//! let b = parse_jsonl(r#"{"dir":"c2s","frame":{"method":"blade.ping","id":"y"},"conn":1,"t":5}"#).unwrap();
//! assert!(compare(&a, &b).is_ok());
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Instant;

use serde_json::{json, Value};

use crate::conn::ConnId;

/// Direction of a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
    /// A marker that is not protocol (`ws_open`, `ws_close`, a control request).
    Ctl,
}

impl Dir {
    /// The wire spelling (`c2s`, `s2c`, `ctl`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::C2s => "c2s",
            Dir::S2c => "s2c",
            Dir::Ctl => "ctl",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "c2s" => Some(Dir::C2s),
            "s2c" => Some(Dir::S2c),
            "ctl" => Some(Dir::Ctl),
            _ => None,
        }
    }
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Direction.
    pub dir: Dir,
    /// The JSON-RPC object (or the raw text as a JSON string when it was not JSON), or the `ctl`
    /// marker object.
    pub frame: Value,
    /// Connection number; `None` for markers not tied to a connection (control requests).
    pub conn: Option<u64>,
    /// Milliseconds since the first line.
    pub t: u64,
    /// Optional transport marker (`"http"` for the REST task request).
    pub transport: Option<String>,
}

impl Line {
    /// The line as a JSON object in the TRANSCRIPTS.md layout.
    pub fn to_value(&self) -> Value {
        let mut v = json!({
            "dir": self.dir.as_str(),
            "frame": self.frame,
            "conn": self.conn.map_or(Value::Null, Value::from),
            "t": self.t,
        });
        if let (Some(t), Some(o)) = (&self.transport, v.as_object_mut()) {
            o.insert("transport".into(), Value::String(t.clone()));
        }
        v
    }

    /// Parses one JSONL line.
    pub fn from_value(v: &Value) -> Result<Line, String> {
        let dir = v
            .get("dir")
            .and_then(Value::as_str)
            .and_then(Dir::parse)
            .ok_or("missing or unknown `dir`")?;
        let frame = v.get("frame").cloned().ok_or("missing `frame`")?;
        let conn = v.get("conn").and_then(Value::as_u64);
        let t = v
            .get("t")
            .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f.max(0.0) as u64)))
            .unwrap_or(0);
        let transport = v
            .get("transport")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Line {
            dir,
            frame,
            conn,
            t,
            transport,
        })
    }
}

/// What replaces a credential in recorded frames and transcripts.
pub const REDACTED: &str = "<redacted>";

/// Replaces `params.authentication.token` and `params.authentication.jwt_token` of a
/// `blade.connect` frame by [`REDACTED`]; any other frame is left alone.
///
/// ```
/// let mut f = serde_json::json!({"method": "blade.connect", "params": {"authentication":
///     {"project": "p", "token": "secret", "jwt_token": "jwt"}}});
/// relay_mock::transcript::redact_credentials(&mut f);
/// assert_eq!(f["params"]["authentication"],
///     serde_json::json!({"project": "p", "token": "<redacted>", "jwt_token": "<redacted>"}));
/// ```
pub fn redact_credentials(frame: &mut Value) {
    if frame.get("method").and_then(Value::as_str) != Some("blade.connect") {
        return;
    }
    let auth = frame
        .get_mut("params")
        .and_then(|p| p.get_mut("authentication"))
        .and_then(Value::as_object_mut);
    if let Some(auth) = auth {
        for key in ["token", "jwt_token"] {
            if let Some(v) = auth.get_mut(key) {
                *v = Value::String(REDACTED.to_owned());
            }
        }
    }
}

/// Records what a [`MockServer`](crate::MockServer) sees and sends.
///
/// It keeps at most `limit` lines in memory (see
/// [`MockConfig::record_limit`](crate::MockConfig::record_limit)): past that the oldest quarter is dropped, so a
/// long-running server keeps the recent history in bounded memory. Every line has a sequence
/// number (0, 1, ... in recording order) that survives drops: the kept lines are numbered from
/// [`Recorder::dropped`] on.
#[derive(Debug, Clone)]
pub struct Recorder {
    first: Option<Instant>,
    /// Lines already turned into [`Line`]s.
    lines: Vec<Line>,
    /// Lines recorded since, in order: the frame texts are parsed (and redacted) only when the
    /// transcript is read, so recording costs a copy of the text, not a JSON parse.
    /// A deque: trimming its front at the limit moves nothing.
    pending: VecDeque<Pending>,
    /// The frame texts of `pending`, one after the other.
    texts: Texts,
    limit: usize,
    dropped: u64,
}

/// A recorded line not turned into a [`Line`] yet.
#[derive(Debug, Clone)]
enum Pending {
    /// A frame, still text (parsed when read).
    Frame {
        dir: Dir,
        conn: u64,
        t: u64,
        text: TextRef,
    },
    /// A marker or a REST exchange, a JSON tree already.
    Line(Box<Line>),
}

/// Where a frame's text is in [`Texts`].
#[derive(Debug, Clone, Copy)]
struct TextRef {
    chunk: u64,
    start: usize,
    end: usize,
}

/// The frame texts of the pending lines, appended in recording order to large buffers
/// (chunks): recording a frame is one copy to the end of the current chunk, with no
/// allocation per line, and the oldest chunks are reused once no pending line points into
/// them (lines are dropped oldest first). The writes stay sequential, which the cache
/// prefetches; a buffer per line cost ~0.7 µs per frame in cache misses and malloc.
#[derive(Debug, Clone, Default)]
struct Texts {
    /// Chunk number `first + i` at index `i`.
    chunks: VecDeque<String>,
    first: u64,
    /// Emptied chunks kept for reuse.
    spare: Vec<String>,
}

/// Size of a text chunk (a frame longer than this gets a chunk of its own).
const CHUNK_BYTES: usize = 64 * 1024;
/// Most emptied chunks kept for reuse.
const SPARE_CHUNKS: usize = 4;

impl Texts {
    fn push(&mut self, text: &str) -> TextRef {
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.capacity() - c.len() >= text.len());
        if !fits {
            let chunk = match self.spare.pop() {
                Some(c) if c.capacity() >= text.len() => c,
                _ => String::with_capacity(CHUNK_BYTES.max(text.len())),
            };
            self.chunks.push_back(chunk);
        }
        let index = self.chunks.len() - 1;
        let number = self.first + index as u64;
        let chunk = &mut self.chunks[index];
        let start = chunk.len();
        chunk.push_str(text);
        TextRef {
            chunk: number,
            start,
            end: chunk.len(),
        }
    }

    fn get(&self, at: TextRef) -> &str {
        usize::try_from(at.chunk.wrapping_sub(self.first))
            .ok()
            .and_then(|i| self.chunks.get(i))
            .and_then(|c| c.get(at.start..at.end))
            .unwrap_or_default()
    }

    /// Empties (for reuse) every chunk numbered below `keep_from`, the chunk of the oldest
    /// pending frame (`u64::MAX`: none is pending).
    fn release_before(&mut self, keep_from: u64) {
        while self.first < keep_from {
            let Some(mut chunk) = self.chunks.pop_front() else {
                break;
            };
            self.first += 1;
            if self.spare.len() < SPARE_CHUNKS && chunk.capacity() <= CHUNK_BYTES {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }
}

impl Pending {
    fn into_line(self, texts: &Texts) -> Line {
        match self {
            Pending::Line(line) => *line,
            Pending::Frame { dir, conn, t, text } => {
                let text = texts.get(text);
                let mut frame = serde_json::from_str::<Value>(text)
                    .unwrap_or_else(|_| Value::String(text.to_owned()));
                if dir == Dir::C2s {
                    redact_credentials(&mut frame);
                }
                Line {
                    dir,
                    frame,
                    conn: Some(conn),
                    t,
                    transport: None,
                }
            }
        }
    }
}

/// Default of [`MockConfig::record_limit`](crate::MockConfig::record_limit).
pub const DEFAULT_RECORD_LIMIT: usize = 100_000;

impl Default for Recorder {
    fn default() -> Self {
        Self::with_limit(DEFAULT_RECORD_LIMIT)
    }
}

impl Recorder {
    /// A recorder keeping at most `limit` lines (0: record nothing, count everything dropped).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            first: None,
            lines: Vec::new(),
            pending: VecDeque::new(),
            texts: Texts::default(),
            limit,
            dropped: 0,
        }
    }

    /// How many lines were dropped (oldest first) to stay under the limit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The sequence number the next line will get (lines recorded so far, dropped or not).
    pub fn next_seq(&self) -> u64 {
        self.dropped + (self.lines.len() + self.pending.len()) as u64
    }

    /// Makes room for one more line (dropping the oldest quarter at the limit) and returns
    /// its `t`; `None` when nothing is kept (limit 0: the line only counts as dropped).
    fn make_room(&mut self, now: Option<Instant>) -> Option<u64> {
        if self.limit == 0 {
            self.dropped += 1;
            return None;
        }
        let kept = self.lines.len() + self.pending.len();
        if kept >= self.limit {
            // Drop a quarter at once: amortised O(1) per line, and `lines` stays a slice.
            let n = (self.limit / 4).clamp(1, kept);
            let from_lines = n.min(self.lines.len());
            self.lines.drain(..from_lines);
            self.pending.drain(..n - from_lines);
            self.release_texts();
            self.dropped += n as u64;
        }
        Some(match (now, self.first) {
            (Some(n), Some(f)) => n.saturating_duration_since(f).as_millis() as u64,
            (Some(n), None) => {
                self.first = Some(n);
                0
            }
            _ => 0,
        })
    }

    /// Lets go of the text chunks no pending line points into.
    fn release_texts(&mut self) {
        let oldest = self.pending.iter().find_map(|p| match p {
            Pending::Frame { text, .. } => Some(text.chunk),
            Pending::Line(_) => None,
        });
        self.texts.release_before(oldest.unwrap_or(u64::MAX));
    }

    fn push_frame(&mut self, now: Option<Instant>, dir: Dir, conn: ConnId, text: &str) {
        let Some(t) = self.make_room(now) else {
            return;
        };
        let text = self.texts.push(text);
        self.pending.push_back(Pending::Frame {
            dir,
            conn: conn.0,
            t,
            text,
        });
    }

    fn push(&mut self, now: Option<Instant>, dir: Dir, conn: Option<ConnId>, frame: Value) {
        let Some(t) = self.make_room(now) else {
            return;
        };
        self.pending.push_back(Pending::Line(Box::new(Line {
            dir,
            frame,
            conn: conn.map(|c| c.0),
            t,
            transport: None,
        })));
    }

    /// Records a frame from the client; the credentials of a `blade.connect` are replaced by
    /// [`REDACTED`] (see [`redact_credentials`]).
    pub fn c2s(&mut self, now: Option<Instant>, conn: ConnId, text: &str) {
        self.push_frame(now, Dir::C2s, conn, text);
    }

    /// Records a frame to the client.
    pub fn s2c(&mut self, now: Option<Instant>, conn: ConnId, text: &str) {
        self.push_frame(now, Dir::S2c, conn, text);
    }

    /// Records a marker.
    pub fn ctl(&mut self, now: Option<Instant>, conn: Option<ConnId>, frame: Value) {
        self.push(now, Dir::Ctl, conn, frame);
    }

    /// Records one half of a REST exchange (the task request `c2s`, its response `s2c`) as a
    /// line marked `"transport":"http"`.
    pub fn http(&mut self, now: Option<Instant>, dir: Dir, frame: Value) {
        let before = self.next_seq();
        self.push(now, dir, None, frame);
        if self.next_seq() == before || self.limit == 0 {
            return;
        }
        if let Some(Pending::Line(last)) = self.pending.back_mut() {
            last.transport = Some("http".to_owned());
        }
    }

    /// Parses the lines recorded since the last read.
    fn settle(&mut self) {
        if !self.pending.is_empty() {
            let texts = &self.texts;
            self.lines
                .extend(self.pending.drain(..).map(|p| p.into_line(texts)));
            self.texts.release_before(u64::MAX);
        }
    }

    /// The lines kept (the first has sequence number [`Recorder::dropped`]).
    pub fn lines(&mut self) -> &[Line] {
        self.settle();
        &self.lines
    }

    /// The kept lines with a sequence number of at least `seq`, and the number of the first.
    pub fn since(&mut self, seq: u64) -> (u64, &[Line]) {
        self.settle();
        let skip = seq
            .saturating_sub(self.dropped)
            .min(self.lines.len() as u64);
        (self.dropped + skip, &self.lines[skip as usize..])
    }

    /// Forgets everything (sequence numbers go on).
    pub fn clear(&mut self) {
        self.dropped += (self.lines.len() + self.pending.len()) as u64;
        self.lines.clear();
        self.pending.clear();
        self.texts.release_before(u64::MAX);
        self.first = None;
    }
}

/// Renders lines as JSONL (one object per line, trailing newline).
pub fn to_jsonl(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.to_value().to_string());
        s.push('\n');
    }
    s
}

/// A transcript that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transcript line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// Parses JSONL text; blank lines are skipped.
pub fn parse_jsonl(text: &str) -> Result<Vec<Line>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let v: Value = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
        out.push(Line::from_value(&v).map_err(|m| err(m.to_owned()))?);
    }
    Ok(out)
}

/// Canonical JSON text: object keys sorted at every level, no whitespace.
pub fn canonical(v: &Value) -> String {
    let mut s = String::new();
    write_canonical(v, &mut s);
    s
}

fn write_canonical(v: &Value, s: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            s.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&Value::String(k.clone()).to_string());
                s.push(':');
                if let Some(x) = m.get(k) {
                    write_canonical(x, s);
                }
            }
            s.push('}');
        }
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                write_canonical(x, s);
            }
            s.push(']');
        }
        other => s.push_str(&other.to_string()),
    }
}

/// Keys whose string values are opaque ids.
const ID_KEYS: &[&str] = &[
    "id",
    "call_id",
    "control_id",
    "tag",
    "sessionid",
    "nodeid",
    "node_id",
    "master_nodeid",
    "requester_nodeid",
    "responder_nodeid",
    "broadcaster_nodeid",
    "message_id",
    "space_id",
    "signature",
    "event_channel",
];

/// Maps id strings to `id1`, `id2`, ... in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct IdNormalizer {
    map: BTreeMap<String, String>,
}

impl IdNormalizer {
    /// A fresh mapping.
    pub fn new() -> Self {
        Self::default()
    }

    fn name(&mut self, s: &str) -> String {
        let n = self.map.len() + 1;
        self.map
            .entry(s.to_owned())
            .or_insert_with(|| format!("id{n}"))
            .clone()
    }

    /// Rewrites ids inside `v` in place: the values of id keys (`id`, `call_id`, `control_id`,
    /// `tag`, `sessionid`, node ids, `message_id`, ...), relay protocol names (`signalwire_…`) and
    /// `timestamp`s (set to 0, as they depend on the wall clock).
    pub fn normalize_value(&mut self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let Some(x) = m.get_mut(&k) else { continue };
                    if k == "timestamp" && x.is_number() {
                        *x = Value::from(0);
                    } else if let Value::String(s) = x {
                        if ID_KEYS.contains(&k.as_str())
                            || (k == "protocol" && s.starts_with("signalwire_"))
                        {
                            *s = self.name(s);
                        }
                    } else {
                        self.normalize_value(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.normalize_value(x)),
            _ => {}
        }
    }
}

/// Normalised copies of `lines` (one id mapping over the whole transcript). Credentials are
/// redacted too ([`redact_credentials`]): recorded transcripts never hold them, so a
/// recording compares equal to a golden transcript that does.
pub fn normalize(lines: &[Line]) -> Vec<Line> {
    let mut n = IdNormalizer::new();
    lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            redact_credentials(&mut l.frame);
            n.normalize_value(&mut l.frame);
            l
        })
        .collect()
}

/// The first difference between two transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// 0-based index of the first line that differs.
    pub index: usize,
    /// The expected line (normalised, canonical), or `None` if the expected transcript ended.
    pub expected: Option<String>,
    /// The actual line, or `None` if the actual transcript ended.
    pub actual: Option<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "transcripts differ at line {}:", self.index + 1)?;
        writeln!(
            f,
            "  expected: {}",
            self.expected.as_deref().unwrap_or("<end of transcript>")
        )?;
        write!(
            f,
            "  actual:   {}",
            self.actual.as_deref().unwrap_or("<end of transcript>")
        )
    }
}

impl std::error::Error for Mismatch {}

fn key(l: &Line) -> String {
    format!(
        "{} conn={} {}",
        l.dir.as_str(),
        l.conn.map_or_else(|| "-".to_owned(), |c| c.to_string()),
        canonical(&l.frame)
    )
}

/// Compares two transcripts after id normalisation and canonicalisation (`t` is ignored).
pub fn compare(expected: &[Line], actual: &[Line]) -> Result<(), Mismatch> {
    compare_filtered(expected, actual, |_| true)
}

/// Like [`compare`], on the lines for which `keep` holds (e.g. only `c2s`/`s2c`).
pub fn compare_filtered(
    expected: &[Line],
    actual: &[Line],
    keep: impl Fn(&Line) -> bool,
) -> Result<(), Mismatch> {
    let e: Vec<Line> = expected.iter().filter(|l| keep(l)).cloned().collect();
    let a: Vec<Line> = actual.iter().filter(|l| keep(l)).cloned().collect();
    let (e, a) = (normalize(&e), normalize(&a));
    for i in 0..e.len().max(a.len()) {
        let ek = e.get(i).map(key);
        let ak = a.get(i).map(key);
        if ek != ak {
            return Err(Mismatch {
                index: i,
                expected: ek,
                actual: ak,
            });
        }
    }
    Ok(())
}

/// Learns how the ids of a recorded transcript map to the ids a live server made, so recorded
/// client frames can be replayed against it: walk a recorded frame and the live frame at the same
/// position together, and record `recorded id -> live id` for every id-valued string.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    map: BTreeMap<String, String>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns the id correspondences between `recorded` and `live` (same shape expected; where the
    /// shapes differ, that branch is skipped).
    pub fn learn(&mut self, recorded: &Value, live: &Value) {
        match (recorded, live) {
            (Value::Object(r), Value::Object(l)) => {
                for (k, rv) in r {
                    let Some(lv) = l.get(k) else { continue };
                    match (rv, lv) {
                        (Value::String(a), Value::String(b))
                            if ID_KEYS.contains(&k.as_str())
                                || (k == "protocol" && a.starts_with("signalwire_")) =>
                        {
                            self.map.entry(a.clone()).or_insert_with(|| b.clone());
                        }
                        _ => self.learn(rv, lv),
                    }
                }
            }
            (Value::Array(r), Value::Array(l)) => {
                r.iter().zip(l).for_each(|(a, b)| self.learn(a, b));
            }
            _ => {}
        }
    }

    /// Replaces every string that is a learned recorded id by its live id.
    pub fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(n) = self.map.get(s.as_str()) {
                    *s = n.clone();
                }
            }
            Value::Object(m) => m.values_mut().for_each(|x| self.apply(x)),
            Value::Array(a) => a.iter_mut().for_each(|x| self.apply(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames kept across the drops at the limit, reads in between, and frames larger than a
    /// text chunk: every kept line reads back as recorded, numbered from `dropped`.
    #[test]
    fn recorder_keeps_the_last_lines_through_drops_and_reads() {
        let mut r = Recorder::with_limit(40);
        let now = Instant::now();
        let big = "x".repeat(CHUNK_BYTES + 10);
        let frame = |i: usize| -> String {
            match i % 7 {
                3 => format!("{{\"id\":\"{i}\",\"big\":\"{big}\"}}"),
                5 => format!("not json {i}"),
                _ => format!(
                    "{{\"id\":\"{i}\",\"pad\":\"{}\"}}",
                    "p".repeat(i * 97 % 3000)
                ),
            }
        };
        for i in 0..500 {
            if i % 11 == 0 {
                r.ctl(Some(now), None, json!({"n": i}));
            } else if i % 2 == 0 {
                r.c2s(Some(now), ConnId(1), &frame(i));
            } else {
                r.s2c(Some(now), ConnId(2), &frame(i));
            }
            if i % 97 == 0 {
                let _ = r.lines();
            }
            let kept = r.lines.len() + r.pending.len();
            assert!(kept <= 40 && r.next_seq() == i as u64 + 1);
        }
        let dropped = r.dropped();
        let lines = r.lines().to_vec();
        assert_eq!(dropped + lines.len() as u64, 500);
        for (line, i) in lines.iter().zip(dropped as usize..) {
            if i % 11 == 0 {
                assert_eq!(line.frame, json!({"n": i}));
                continue;
            }
            let want = serde_json::from_str::<Value>(&frame(i))
                .unwrap_or_else(|_| Value::String(frame(i)));
            assert_eq!(line.frame, want, "line {i}");
            assert_eq!(line.conn, Some(if i % 2 == 0 { 1 } else { 2 }));
        }
        assert!(r.texts.chunks.is_empty(), "every text was read");
    }

    #[test]
    fn canonical_sorts_keys() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"z":0,"y":"s"}],"c":null}}"#).unwrap();
        assert_eq!(
            canonical(&v),
            r#"{"a":{"c":null,"d":[1,{"y":"s","z":0}]},"b":1}"#
        );
    }

    #[test]
    fn normalizer_maps_in_order() {
        let mut n = IdNormalizer::new();
        let mut v = json!({"id":"x","params":{"call_id":"y","peer":{"call_id":"x"},"protocol":"signalwire_a_b","timestamp":3.5}});
        n.normalize_value(&mut v);
        assert_eq!(
            v,
            json!({"id":"id1","params":{"call_id":"id2","peer":{"call_id":"id1"},"protocol":"id3","timestamp":0}})
        );
    }

    #[test]
    fn diff_is_readable() {
        let a = parse_jsonl(
            "{\"dir\":\"c2s\",\"frame\":{\"id\":\"a\",\"method\":\"x\"},\"conn\":1,\"t\":0}\n",
        )
        .unwrap();
        let b = parse_jsonl(
            "{\"dir\":\"c2s\",\"frame\":{\"id\":\"b\",\"method\":\"y\"},\"conn\":1,\"t\":0}\n",
        )
        .unwrap();
        let m = compare(&a, &b).unwrap_err();
        assert_eq!(m.index, 0);
        let text = m.to_string();
        assert!(
            text.contains("expected: c2s conn=1 {\"id\":\"id1\",\"method\":\"x\"}"),
            "{text}"
        );
        assert!(
            text.contains("actual:   c2s conn=1 {\"id\":\"id1\",\"method\":\"y\"}"),
            "{text}"
        );
        let m = compare(&a, &[]).unwrap_err();
        assert_eq!(m.actual, None);
    }
}
