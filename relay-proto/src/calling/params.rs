//! Command parameters: devices and device trees, media, collect/record/detect/fax/tap/refer
//! parameters, their validation, and the exact wire shapes of PROTOCOL.md §4.
//!
//! Every `to_wire`/`*_wire` function validates first and never modifies the caller's value
//! (the official SDK mutates its inputs: bug 26).

use serde_json::{json, Map, Value};

use crate::calling::events::DeviceInfo;
use crate::error::Error;

/// Default device timeout in seconds (PROTOCOL.md §4.1).
pub const DEFAULT_DEVICE_TIMEOUT: u32 = 30;

/// Characters `send_digits` accepts: DTMF digits, `w` (0.5 s pause) and `W` (1 s pause).
pub const SEND_DIGITS_CHARSET: &str = "1234567890*#ABCDwW";

fn misuse(msg: impl Into<String>) -> Error {
    Error::ApiMisuse(msg.into())
}

fn non_empty(what: &str, v: &str) -> Result<(), Error> {
    if v.trim().is_empty() {
        Err(misuse(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

fn non_negative(what: &str, v: Option<f64>) -> Result<(), Error> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(misuse(format!(
            "{what} must be a finite number >= 0, got {x}"
        ))),
        _ => Ok(()),
    }
}

fn num(v: f64) -> Value {
    // Whole numbers go out as integers (`30`, not `30.0`), like the official SDK's JSON.
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// Checks a volume in dB: -40..=+40.
pub fn validate_volume(volume: f64) -> Result<(), Error> {
    if !volume.is_finite() || !(-40.0..=40.0).contains(&volume) {
        return Err(misuse(format!(
            "volume must be between -40 and +40 dB, got {volume}"
        )));
    }
    Ok(())
}

/// Checks digits for `send_digits`: only `1234567890*#ABCDwW`, at least one.
pub fn validate_send_digits(digits: &str) -> Result<(), Error> {
    if digits.is_empty() {
        return Err(misuse("send_digits needs at least one digit"));
    }
    if let Some(bad) = digits.chars().find(|c| !SEND_DIGITS_CHARSET.contains(*c)) {
        return Err(misuse(format!(
            "send_digits: invalid character {bad:?} in {digits:?}; allowed: {SEND_DIGITS_CHARSET}"
        )));
    }
    Ok(())
}

/// A SIP header to add to an INVITE or REFER. Only custom `X-` headers are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipHeader {
    /// Header name; must start with `X-`.
    pub name: String,
    /// Header value; no line breaks.
    pub value: String,
}

impl SipHeader {
    /// A header.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        SipHeader {
            name: name.into(),
            value: value.into(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let n = &self.name;
        let prefixed = n.len() > 2 && n.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"));
        if !prefixed {
            return Err(misuse(format!(
                "SIP header name {n:?} must start with \"X-\" and have a name after it"
            )));
        }
        if let Some(bad) = n
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.!%*+`'~".contains(*c)))
        {
            return Err(misuse(format!(
                "SIP header name {n:?} contains invalid character {bad:?}"
            )));
        }
        if self.value.contains(['\r', '\n']) {
            return Err(misuse(format!(
                "SIP header {n:?} value must not contain line breaks"
            )));
        }
        Ok(())
    }

    fn to_wire(&self) -> Value {
        json!({"name": self.name, "value": self.value})
    }
}

fn headers_wire(headers: &[SipHeader]) -> Result<Option<Value>, Error> {
    if headers.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        h.validate()?;
        out.push(h.to_wire());
    }
    Ok(Some(Value::Array(out)))
}

/// A phone (PSTN) endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhoneDevice {
    /// Caller number (`from_number`). Required for dial; connect defaults it from the call.
    pub from: Option<String>,
    /// Number to call (`to_number`).
    pub to: String,
    /// Ring timeout in seconds (default 30; connect defaults it from the call).
    pub timeout: Option<u32>,
}

/// A SIP endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SipDevice {
    /// Caller URI. Required for dial; connect defaults it from the call.
    pub from: Option<String>,
    /// URI to call.
    pub to: String,
    /// Ring timeout in seconds (default 30).
    pub timeout: Option<u32>,
    /// Custom `X-` headers.
    pub headers: Vec<SipHeader>,
    /// Codecs (`PCMU`, `PCMA`, `OPUS`, `G729`, `G722`, `VP8`, `H264`).
    pub codecs: Vec<String>,
    /// Ask for WebRTC media.
    pub webrtc_media: bool,
    /// Caller display name.
    pub from_name: Option<String>,
}

/// An endpoint to dial or connect to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Device {
    /// A phone number.
    Phone(PhoneDevice),
    /// A SIP URI.
    Sip(SipDevice),
}

impl Device {
    /// A phone device with the default timeout.
    pub fn phone(from: impl Into<String>, to: impl Into<String>) -> Self {
        Device::Phone(PhoneDevice {
            from: Some(from.into()),
            to: to.into(),
            timeout: None,
        })
    }

    /// A phone device whose `from` comes from the call (connect only).
    pub fn phone_to(to: impl Into<String>) -> Self {
        Device::Phone(PhoneDevice {
            from: None,
            to: to.into(),
            timeout: None,
        })
    }

    /// A SIP device with the default timeout.
    pub fn sip(from: impl Into<String>, to: impl Into<String>) -> Self {
        Device::Sip(SipDevice {
            from: Some(from.into()),
            to: to.into(),
            ..Default::default()
        })
    }

    /// A SIP device whose `from` comes from the call (connect only).
    pub fn sip_to(to: impl Into<String>) -> Self {
        Device::Sip(SipDevice {
            to: to.into(),
            ..Default::default()
        })
    }

    /// Sets the ring timeout in seconds.
    pub fn with_timeout(mut self, secs: u32) -> Self {
        match &mut self {
            Device::Phone(p) => p.timeout = Some(secs),
            Device::Sip(s) => s.timeout = Some(secs),
        }
        self
    }

    /// The wire object. `defaults` is the current call's device (connect only): it supplies
    /// a missing `from` (and, for phone, a missing timeout) as in PROTOCOL.md §4.5.
    pub(crate) fn to_wire(&self, defaults: Option<&DeviceInfo>) -> Result<Value, Error> {
        let default_param = |key: &str| -> Option<Value> {
            defaults
                .and_then(|d| d.params.get(key))
                .filter(|v| !v.is_null())
                .cloned()
        };
        match self {
            Device::Phone(p) => {
                non_empty("phone device `to`", &p.to)?;
                let from = match &p.from {
                    Some(f) => Value::from(f.clone()),
                    None => match defaults.filter(|d| d.device_type == "phone") {
                        Some(_) => default_param("from_number").ok_or_else(|| {
                            misuse("phone device has no `from` and the call has no from_number")
                        })?,
                        None => return Err(misuse("phone device needs `from`")),
                    },
                };
                if from.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(misuse("phone device `from` must not be empty"));
                }
                let timeout = match p.timeout {
                    Some(t) => Value::from(t),
                    None => defaults
                        .filter(|d| d.device_type == "phone")
                        .and_then(|_| default_param("timeout"))
                        .unwrap_or_else(|| Value::from(DEFAULT_DEVICE_TIMEOUT)),
                };
                Ok(json!({"type": "phone", "params": {
                    "from_number": from, "to_number": p.to, "timeout": timeout}}))
            }
            Device::Sip(s) => {
                non_empty("SIP device `to`", &s.to)?;
                let from = match &s.from {
                    Some(f) => Value::from(f.clone()),
                    None => match defaults.filter(|d| d.device_type == "sip") {
                        Some(_) => default_param("from").ok_or_else(|| {
                            misuse("SIP device has no `from` and the call has no from")
                        })?,
                        None => return Err(misuse("SIP device needs `from`")),
                    },
                };
                if from.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(misuse("SIP device `from` must not be empty"));
                }
                let mut params = Map::new();
                params.insert("from".into(), from);
                params.insert("to".into(), Value::from(s.to.clone()));
                params.insert(
                    "timeout".into(),
                    Value::from(s.timeout.unwrap_or(DEFAULT_DEVICE_TIMEOUT)),
                );
                if !s.codecs.is_empty() {
                    params.insert("codecs".into(), Value::from(s.codecs.clone()));
                }
                if s.webrtc_media {
                    params.insert("webrtc_media".into(), Value::Bool(true));
                }
                if let Some(h) = headers_wire(&s.headers)? {
                    params.insert("headers".into(), h);
                }
                if let Some(n) = s.from_name.as_ref().filter(|n| !n.is_empty()) {
                    params.insert("from_name".into(), Value::from(n.clone()));
                }
                Ok(json!({"type": "sip", "params": params}))
            }
        }
    }
}

/// A device tree: the outer list is tried in series, each inner list rings in parallel.
pub type DeviceTree = Vec<Vec<Device>>;

pub(crate) fn tree_wire(tree: &DeviceTree, defaults: Option<&DeviceInfo>) -> Result<Value, Error> {
    if tree.is_empty() {
        return Err(misuse("the device tree is empty"));
    }
    let mut outer = Vec::with_capacity(tree.len());
    for (i, group) in tree.iter().enumerate() {
        if group.is_empty() {
            return Err(misuse(format!("device group {i} of the tree is empty")));
        }
        let mut inner = Vec::with_capacity(group.len());
        for d in group {
            inner.push(d.to_wire(defaults)?);
        }
        outer.push(Value::Array(inner));
    }
    Ok(Value::Array(outer))
}

/// What [`Session::dial`](crate::Session::dial) dials.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DialParams {
    /// The device tree (outer serial, inner parallel).
    pub devices: DeviceTree,
    /// Region to dial from.
    pub region: Option<String>,
}

impl DialParams {
    /// Dials one device.
    pub fn single(device: Device) -> Self {
        DialParams {
            devices: vec![vec![device]],
            region: None,
        }
    }
    /// Tries the devices one after another.
    pub fn serial(devices: impl IntoIterator<Item = Device>) -> Self {
        DialParams {
            devices: devices.into_iter().map(|d| vec![d]).collect(),
            region: None,
        }
    }
    /// Rings the devices at once; the first to answer wins.
    pub fn parallel(devices: impl IntoIterator<Item = Device>) -> Self {
        DialParams {
            devices: vec![devices.into_iter().collect()],
            region: None,
        }
    }
    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub(crate) fn device_count(&self) -> usize {
        self.devices.iter().map(Vec::len).sum()
    }

    pub(crate) fn to_wire(&self, tag: &str) -> Result<Value, Error> {
        let mut m = Map::new();
        m.insert("tag".into(), Value::from(tag));
        m.insert("devices".into(), tree_wire(&self.devices, None)?);
        if let Some(r) = &self.region {
            non_empty("region", r)?;
            m.insert("region".into(), Value::from(r.clone()));
        }
        Ok(Value::Object(m))
    }

    /// Validates without building.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.to_wire("x").map(|_| ())
    }
}

/// What [`CallMut::connect`](crate::calling::CallMut::connect) connects to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectParams {
    /// The device tree (outer serial, inner parallel).
    pub devices: DeviceTree,
    /// Media the caller hears while the peer rings.
    pub ringback: Option<Media>,
}

impl ConnectParams {
    /// Connects to one device.
    pub fn single(device: Device) -> Self {
        ConnectParams {
            devices: vec![vec![device]],
            ringback: None,
        }
    }
    /// An explicit tree.
    pub fn tree(devices: DeviceTree) -> Self {
        ConnectParams {
            devices,
            ringback: None,
        }
    }
    /// Sets the ringback.
    pub fn with_ringback(mut self, media: Media) -> Self {
        self.ringback = Some(media);
        self
    }

    pub(crate) fn to_wire(
        &self,
        call_device: Option<&DeviceInfo>,
    ) -> Result<Map<String, Value>, Error> {
        let mut m = Map::new();
        m.insert("devices".into(), tree_wire(&self.devices, call_device)?);
        if let Some(r) = &self.ringback {
            m.insert("ringback".into(), r.to_wire()?);
        }
        Ok(m)
    }
}

/// A thing to play.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Media {
    /// An audio file by URL.
    Audio {
        /// The URL.
        url: String,
    },
    /// Text to speech.
    Tts {
        /// The text (SSML allowed).
        text: String,
        /// e.g. `en-US`.
        language: Option<String>,
        /// `male` or `female`.
        gender: Option<String>,
    },
    /// Silence.
    Silence {
        /// Seconds.
        duration: f64,
    },
    /// A country ringtone.
    Ringtone {
        /// Country code, e.g. `us`.
        name: String,
        /// Seconds (default: one cycle).
        duration: Option<f64>,
    },
}

impl Media {
    /// An audio file.
    pub fn audio(url: impl Into<String>) -> Self {
        Media::Audio { url: url.into() }
    }
    /// Text to speech with the server's default voice.
    pub fn tts(text: impl Into<String>) -> Self {
        Media::Tts {
            text: text.into(),
            language: None,
            gender: None,
        }
    }
    /// Silence.
    pub fn silence(duration: f64) -> Self {
        Media::Silence { duration }
    }
    /// A ringtone.
    pub fn ringtone(name: impl Into<String>, duration: Option<f64>) -> Self {
        Media::Ringtone {
            name: name.into(),
            duration,
        }
    }

    pub(crate) fn to_wire(&self) -> Result<Value, Error> {
        Ok(match self {
            Media::Audio { url } => {
                non_empty("audio `url`", url)?;
                json!({"type": "audio", "params": {"url": url}})
            }
            Media::Tts {
                text,
                language,
                gender,
            } => {
                non_empty("tts `text`", text)?;
                let mut p = Map::new();
                p.insert("text".into(), Value::from(text.clone()));
                if let Some(l) = language {
                    p.insert("language".into(), Value::from(l.clone()));
                }
                if let Some(g) = gender {
                    p.insert("gender".into(), Value::from(g.clone()));
                }
                json!({"type": "tts", "params": p})
            }
            Media::Silence { duration } => {
                non_negative("silence `duration`", Some(*duration))?;
                json!({"type": "silence", "params": {"duration": num(*duration)}})
            }
            Media::Ringtone { name, duration } => {
                non_empty("ringtone `name`", name)?;
                non_negative("ringtone `duration`", *duration)?;
                let mut p = Map::new();
                p.insert("name".into(), Value::from(name.clone()));
                if let Some(d) = duration {
                    p.insert("duration".into(), num(*d));
                }
                json!({"type": "ringtone", "params": p})
            }
        })
    }
}

fn media_list(media: &[Media]) -> Result<Value, Error> {
    media
        .iter()
        .map(Media::to_wire)
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn insert_volume(m: &mut Map<String, Value>, volume: Option<f64>) -> Result<(), Error> {
    if let Some(v) = volume {
        validate_volume(v)?;
        if v != 0.0 {
            m.insert("volume".into(), num(v));
        }
    }
    Ok(())
}

/// What to play with [`CallMut::play`](crate::calling::CallMut::play).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlayParams {
    /// Played in order; at least one.
    pub media: Vec<Media>,
    /// Volume in dB (-40..=+40); sent only when non-zero.
    pub volume: Option<f64>,
}

impl PlayParams {
    /// Plays these media.
    pub fn new(media: impl IntoIterator<Item = Media>) -> Self {
        PlayParams {
            media: media.into_iter().collect(),
            volume: None,
        }
    }
    /// Sets the volume.
    pub fn with_volume(mut self, volume: f64) -> Self {
        self.volume = Some(volume);
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        if self.media.is_empty() {
            return Err(misuse("play needs at least one media item"));
        }
        let mut m = Map::new();
        m.insert("play".into(), media_list(&self.media)?);
        insert_volume(&mut m, self.volume)?;
        Ok(m)
    }
}

/// Digit collection settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectDigits {
    /// Maximum digits.
    pub max: Option<u32>,
    /// Digits that end collection, e.g. `#`.
    pub terminators: Option<String>,
    /// Seconds allowed between digits.
    pub digit_timeout: Option<f64>,
}

/// Speech collection settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectSpeech {
    /// Seconds of silence that end the utterance.
    pub end_silence_timeout: Option<f64>,
    /// Maximum seconds of speech.
    pub speech_timeout: Option<f64>,
    /// Language, e.g. `en-US`.
    pub language: Option<String>,
    /// Expected phrases.
    pub hints: Vec<String>,
}

/// What to collect (digits, speech or both).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectParams {
    /// Collect digits.
    pub digits: Option<CollectDigits>,
    /// Collect speech.
    pub speech: Option<CollectSpeech>,
    /// Seconds to wait for the start of input.
    pub initial_timeout: Option<f64>,
    /// Ask for partial results (reported as progress, never as completion).
    pub partial_results: bool,
}

impl CollectParams {
    pub(crate) fn to_wire(&self) -> Result<Value, Error> {
        if self.digits.is_none() && self.speech.is_none() {
            return Err(misuse("collect needs `digits`, `speech` or both"));
        }
        let mut c = Map::new();
        non_negative("collect `initial_timeout`", self.initial_timeout)?;
        if let Some(t) = self.initial_timeout.filter(|t| *t > 0.0) {
            c.insert("initial_timeout".into(), num(t));
        }
        if self.partial_results {
            c.insert("partial_results".into(), Value::Bool(true));
        }
        if let Some(d) = &self.digits {
            let mut dm = Map::new();
            if let Some(max) = d.max {
                if max == 0 {
                    return Err(misuse("collect `digits.max` must be at least 1"));
                }
                dm.insert("max".into(), Value::from(max));
            }
            if let Some(t) = &d.terminators {
                if let Some(bad) = t.chars().find(|c| !"0123456789*#".contains(*c)) {
                    return Err(misuse(format!(
                        "collect `digits.terminators`: invalid character {bad:?}; allowed: 0-9 * #"
                    )));
                }
                if !t.is_empty() {
                    dm.insert("terminators".into(), Value::from(t.clone()));
                }
            }
            non_negative("collect `digits.digit_timeout`", d.digit_timeout)?;
            if let Some(t) = d.digit_timeout {
                dm.insert("digit_timeout".into(), num(t));
            }
            c.insert("digits".into(), Value::Object(dm));
        }
        if let Some(s) = &self.speech {
            let mut sm = Map::new();
            non_negative(
                "collect `speech.end_silence_timeout`",
                s.end_silence_timeout,
            )?;
            non_negative("collect `speech.speech_timeout`", s.speech_timeout)?;
            if let Some(t) = s.end_silence_timeout {
                sm.insert("end_silence_timeout".into(), num(t));
            }
            if let Some(t) = s.speech_timeout {
                sm.insert("speech_timeout".into(), num(t));
            }
            if let Some(l) = &s.language {
                sm.insert("language".into(), Value::from(l.clone()));
            }
            if !s.hints.is_empty() {
                sm.insert("hints".into(), Value::from(s.hints.clone()));
            }
            c.insert("speech".into(), Value::Object(sm));
        }
        Ok(Value::Object(c))
    }
}

/// What [`CallMut::prompt`](crate::calling::CallMut::prompt) plays and collects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptParams {
    /// Played while collecting (may be empty).
    pub media: Vec<Media>,
    /// What to collect.
    pub collect: CollectParams,
    /// Volume in dB (-40..=+40); sent only when non-zero.
    pub volume: Option<f64>,
}

impl PromptParams {
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        let mut m = Map::new();
        m.insert("play".into(), media_list(&self.media)?);
        m.insert("collect".into(), self.collect.to_wire()?);
        insert_volume(&mut m, self.volume)?;
        Ok(m)
    }
}

/// Recording file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFormat {
    /// MP3.
    Mp3,
    /// WAV.
    Wav,
}

/// Which audio to record or tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioDirection {
    /// What the call hears.
    Listen,
    /// What the call says.
    Speak,
    /// Both.
    Both,
}

impl AudioDirection {
    fn as_str(self) -> &'static str {
        match self {
            AudioDirection::Listen => "listen",
            AudioDirection::Speak => "speak",
            AudioDirection::Both => "both",
        }
    }
}

/// What [`CallMut::record`](crate::calling::CallMut::record) records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordParams {
    /// Play a beep first.
    pub beep: Option<bool>,
    /// Stereo.
    pub stereo: Option<bool>,
    /// File format.
    pub format: Option<RecordFormat>,
    /// Which audio.
    pub direction: Option<AudioDirection>,
    /// Seconds to wait for the start of audio.
    pub initial_timeout: Option<f64>,
    /// Seconds of silence that end the recording.
    pub end_silence_timeout: Option<f64>,
    /// Digits that end the recording.
    pub terminators: Option<String>,
}

impl RecordParams {
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        let mut a = Map::new();
        if let Some(b) = self.beep {
            a.insert("beep".into(), Value::Bool(b));
        }
        if let Some(f) = self.format {
            let f = match f {
                RecordFormat::Mp3 => "mp3",
                RecordFormat::Wav => "wav",
            };
            a.insert("format".into(), Value::from(f));
        }
        if let Some(s) = self.stereo {
            a.insert("stereo".into(), Value::Bool(s));
        }
        if let Some(d) = self.direction {
            a.insert("direction".into(), Value::from(d.as_str()));
        }
        non_negative("record `initial_timeout`", self.initial_timeout)?;
        non_negative("record `end_silence_timeout`", self.end_silence_timeout)?;
        if let Some(t) = self.initial_timeout {
            a.insert("initial_timeout".into(), num(t));
        }
        if let Some(t) = self.end_silence_timeout {
            a.insert("end_silence_timeout".into(), num(t));
        }
        if let Some(t) = &self.terminators {
            if let Some(bad) = t.chars().find(|c| !"0123456789*#".contains(*c)) {
                return Err(misuse(format!(
                    "record `terminators`: invalid character {bad:?}; allowed: 0-9 * #"
                )));
            }
            a.insert("terminators".into(), Value::from(t.clone()));
        }
        let mut m = Map::new();
        m.insert("record".into(), json!({ "audio": a }));
        Ok(m)
    }
}

/// A fax tone to detect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaxTone {
    /// Called-station tone (answering fax machine).
    Ced,
    /// Calling tone (calling fax machine).
    Cng,
}

/// What to detect.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DetectKind {
    /// Answering machine detection.
    Machine {
        /// Seconds to wait for the first sound.
        initial_timeout: Option<f64>,
        /// Seconds of silence ending a greeting.
        end_silence_timeout: Option<f64>,
        /// Seconds of speech above which it is a machine.
        machine_voice_threshold: Option<f64>,
        /// Words above which it is a machine.
        machine_words_threshold: Option<u32>,
        /// After `MACHINE`, wait for the beep (`READY`). Blocking mode handles it client-side;
        /// async mode forwards it to the server.
        wait_for_beep: bool,
    },
    /// Fax tone detection.
    Fax {
        /// Which tone (any when unset).
        tone: Option<FaxTone>,
    },
    /// DTMF detection.
    Digit {
        /// Digits to detect, e.g. `0123456789#*` (all when unset).
        digits: Option<String>,
    },
}

impl DetectKind {
    /// Machine detection with server defaults.
    pub fn machine() -> Self {
        DetectKind::Machine {
            initial_timeout: None,
            end_silence_timeout: None,
            machine_voice_threshold: None,
            machine_words_threshold: None,
            wait_for_beep: false,
        }
    }
    pub(crate) fn type_str(&self) -> &'static str {
        match self {
            DetectKind::Machine { .. } => "machine",
            DetectKind::Fax { .. } => "fax",
            DetectKind::Digit { .. } => "digit",
        }
    }
    pub(crate) fn wait_for_beep(&self) -> bool {
        matches!(
            self,
            DetectKind::Machine {
                wait_for_beep: true,
                ..
            }
        )
    }
}

/// How a detect component completes (PROTOCOL.md §6.3). The wire differs only in whether
/// `wait_for_beep` is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DetectMode {
    /// Completes on `finished`/`error` with every event joined (`"MACHINE,NOT_READY,READY"`).
    Async,
    /// Completes on the first decisive event (`MACHINE`, `HUMAN`, `UNKNOWN`, `CED`, `CNG`, a
    /// digit; with `wait_for_beep`, `READY` after `MACHINE`) and then stops the detector.
    Blocking,
    /// Deprecated `detectHuman`: blocking, successful only when the result is `HUMAN`.
    Human,
    /// Deprecated `detectMachine`: blocking, successful only when the result is `MACHINE`.
    Machine,
}

impl DetectMode {
    pub(crate) fn is_blocking(self) -> bool {
        !matches!(self, DetectMode::Async)
    }
}

/// What [`CallMut::detect`](crate::calling::CallMut::detect) detects.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectParams {
    /// Detector and its settings.
    pub kind: DetectKind,
    /// Overall timeout in seconds (server default when unset).
    pub timeout: Option<f64>,
}

impl DetectParams {
    /// Detects this kind with the server's timeout.
    pub fn new(kind: DetectKind) -> Self {
        DetectParams {
            kind,
            timeout: None,
        }
    }

    pub(crate) fn to_wire(&self, mode: DetectMode) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        match &self.kind {
            DetectKind::Machine {
                initial_timeout,
                end_silence_timeout,
                machine_voice_threshold,
                machine_words_threshold,
                wait_for_beep,
            } => {
                for (k, v) in [
                    ("initial_timeout", initial_timeout),
                    ("end_silence_timeout", end_silence_timeout),
                    ("machine_voice_threshold", machine_voice_threshold),
                ] {
                    non_negative(&format!("detect `{k}`"), *v)?;
                    if let Some(v) = v {
                        p.insert(k.into(), num(*v));
                    }
                }
                if let Some(w) = machine_words_threshold {
                    p.insert("machine_words_threshold".into(), Value::from(*w));
                }
                if *wait_for_beep && !mode.is_blocking() {
                    p.insert("wait_for_beep".into(), Value::Bool(true));
                }
            }
            DetectKind::Fax { tone } => {
                if let Some(t) = tone {
                    let t = match t {
                        FaxTone::Ced => "CED",
                        FaxTone::Cng => "CNG",
                    };
                    p.insert("tone".into(), Value::from(t));
                }
            }
            DetectKind::Digit { digits } => {
                if let Some(d) = digits {
                    if d.is_empty() {
                        return Err(misuse("detect `digits` must not be empty when set"));
                    }
                    if let Some(bad) = d.chars().find(|c| !"0123456789*#ABCD".contains(*c)) {
                        return Err(misuse(format!(
                            "detect `digits`: invalid character {bad:?}; allowed: 0-9 * # A-D"
                        )));
                    }
                    p.insert("digits".into(), Value::from(d.clone()));
                }
            }
        }
        let mut m = Map::new();
        m.insert(
            "detect".into(),
            json!({"type": self.kind.type_str(), "params": p}),
        );
        non_negative("detect `timeout`", self.timeout)?;
        if let Some(t) = self.timeout.filter(|t| *t > 0.0) {
            m.insert("timeout".into(), num(t));
        }
        Ok(m)
    }
}

/// What [`CallMut::send_fax`](crate::calling::CallMut::send_fax) sends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaxSendParams {
    /// URL of the PDF/TIFF to send.
    pub document: String,
    /// Our fax identity (number).
    pub identity: Option<String>,
    /// Text for the page header.
    pub header_info: Option<String>,
}

impl FaxSendParams {
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        non_empty("fax `document`", &self.document)?;
        let mut m = Map::new();
        m.insert("document".into(), Value::from(self.document.clone()));
        if let Some(i) = self.identity.as_ref().filter(|s| !s.is_empty()) {
            m.insert("identity".into(), Value::from(i.clone()));
        }
        if let Some(h) = self.header_info.as_ref().filter(|s| !s.is_empty()) {
            m.insert("header_info".into(), Value::from(h.clone()));
        }
        Ok(m)
    }
}

/// Where tapped audio goes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TapDevice {
    /// RTP to a host and port.
    Rtp {
        /// Address.
        addr: String,
        /// Port.
        port: u16,
        /// Codec, e.g. `PCMU`.
        codec: Option<String>,
        /// Packet time in ms.
        ptime: Option<u32>,
        /// Sample rate.
        rate: Option<u32>,
    },
    /// A WebSocket.
    Ws {
        /// `ws://` or `wss://` URI.
        uri: String,
        /// Codec.
        codec: Option<String>,
        /// Sample rate.
        rate: Option<u32>,
    },
}

/// What [`CallMut::tap`](crate::calling::CallMut::tap) taps.
#[derive(Debug, Clone, PartialEq)]
pub struct TapParams {
    /// Which audio (server default when unset).
    pub direction: Option<AudioDirection>,
    /// Where it goes.
    pub device: TapDevice,
}

impl TapParams {
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        let mut tp = Map::new();
        if let Some(d) = self.direction {
            tp.insert("direction".into(), Value::from(d.as_str()));
        }
        let device = match &self.device {
            TapDevice::Rtp {
                addr,
                port,
                codec,
                ptime,
                rate,
            } => {
                non_empty("tap rtp `addr`", addr)?;
                if *port == 0 {
                    return Err(misuse("tap rtp `port` must not be 0"));
                }
                let mut p = Map::new();
                p.insert("addr".into(), Value::from(addr.clone()));
                p.insert("port".into(), Value::from(*port));
                if let Some(c) = codec {
                    p.insert("codec".into(), Value::from(c.clone()));
                }
                if let Some(t) = ptime {
                    p.insert("ptime".into(), Value::from(*t));
                }
                if let Some(r) = rate {
                    p.insert("rate".into(), Value::from(*r));
                }
                json!({"type": "rtp", "params": p})
            }
            TapDevice::Ws { uri, codec, rate } => {
                if !(uri.starts_with("ws://") || uri.starts_with("wss://")) {
                    return Err(misuse(format!(
                        "tap ws `uri` must start with ws:// or wss://, got {uri:?}"
                    )));
                }
                let mut p = Map::new();
                p.insert("uri".into(), Value::from(uri.clone()));
                if let Some(c) = codec {
                    p.insert("codec".into(), Value::from(c.clone()));
                }
                if let Some(r) = rate {
                    p.insert("rate".into(), Value::from(*r));
                }
                json!({"type": "ws", "params": p})
            }
        };
        let mut m = Map::new();
        m.insert("tap".into(), json!({"type": "audio", "params": tp}));
        m.insert("device".into(), device);
        Ok(m)
    }
}

/// What [`CallMut::refer`](crate::calling::CallMut::refer) transfers to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferParams {
    /// SIP URI (`sip:` or `sips:`).
    pub to: String,
    /// Custom `X-` headers.
    pub headers: Vec<SipHeader>,
}

impl ReferParams {
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, Error> {
        if !(self.to.starts_with("sip:") || self.to.starts_with("sips:")) || self.to.len() < 5 {
            return Err(misuse(format!(
                "refer `to` must be a SIP URI (sip:… or sips:…), got {:?}",
                self.to
            )));
        }
        let mut p = Map::new();
        p.insert("to".into(), Value::from(self.to.clone()));
        if let Some(h) = headers_wire(&self.headers)? {
            p.insert("headers".into(), h);
        }
        let mut m = Map::new();
        m.insert("device".into(), json!({"type": "sip", "params": p}));
        Ok(m)
    }
}
