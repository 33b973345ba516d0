//! Component parameters: play, collect, record, detect, fax, tap and refer, with their
//! validation and wire shapes (PROTOCOL.md §4.6–4.13).

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::calling::params::{
    headers_wire, misuse, non_empty, num, secs, validate_volume, Media, SipHeader,
};
use crate::calling::states::{Codec, DeviceType};
use crate::error::CommandError;

fn media_list(media: &[Media]) -> Result<Value, CommandError> {
    media
        .iter()
        .map(Media::to_wire)
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn insert_volume(m: &mut Map<String, Value>, volume: Option<f64>) -> Result<(), CommandError> {
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

    /// Checks what [`to_wire`](Self::to_wire) checks, building nothing (the play command
    /// writes its params straight to text: [`Rest::Play`](crate::calling::commands::Rest)).
    pub(crate) fn validate(&self) -> Result<(), CommandError> {
        if self.media.is_empty() {
            return Err(misuse("play media", "needs at least one media item"));
        }
        self.media.iter().try_for_each(Media::validate)?;
        if let Some(v) = self.volume {
            validate_volume(v)?;
        }
        Ok(())
    }

    /// The volume member as sent: only when non-zero.
    pub(crate) fn wire_volume(&self) -> Option<Value> {
        self.volume.filter(|v| *v != 0.0).map(num)
    }

    /// The params as a tree: what [`Rest::Play`](crate::calling::commands::Rest) writes as
    /// text (the tests hold the two to the same bytes).
    #[cfg(test)]
    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
        if self.media.is_empty() {
            return Err(misuse("play media", "needs at least one media item"));
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
    /// Time allowed between digits (sent in seconds).
    pub digit_timeout: Option<Duration>,
}

/// Speech collection settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectSpeech {
    /// Silence that ends the utterance (sent in seconds).
    pub end_silence_timeout: Option<Duration>,
    /// Longest speech (sent in seconds).
    pub speech_timeout: Option<Duration>,
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
    /// Time to wait for the start of input (sent in seconds; not sent when zero).
    pub initial_timeout: Option<Duration>,
    /// Ask for partial results (reported as progress, never as completion).
    pub partial_results: bool,
}

impl CollectParams {
    pub(crate) fn to_wire(&self) -> Result<Value, CommandError> {
        if self.digits.is_none() && self.speech.is_none() {
            return Err(misuse("collect", "needs `digits`, `speech` or both"));
        }
        let mut c = Map::new();
        if let Some(t) = self.initial_timeout.filter(|t| !t.is_zero()) {
            c.insert(
                "initial_timeout".into(),
                secs("collect `initial_timeout`", t)?,
            );
        }
        if self.partial_results {
            c.insert("partial_results".into(), Value::Bool(true));
        }
        if let Some(d) = &self.digits {
            let mut dm = Map::new();
            if let Some(max) = d.max {
                if max == 0 {
                    return Err(misuse("collect `digits.max`", "must be at least 1"));
                }
                dm.insert("max".into(), Value::from(max));
            }
            if let Some(t) = &d.terminators {
                if let Some(bad) = t.chars().find(|c| !"0123456789*#".contains(*c)) {
                    return Err(misuse(
                        "collect `digits.terminators`",
                        format!("invalid character {bad:?}; allowed: 0-9 * #"),
                    ));
                }
                if !t.is_empty() {
                    dm.insert("terminators".into(), Value::from(t.clone()));
                }
            }
            if let Some(t) = d.digit_timeout {
                dm.insert(
                    "digit_timeout".into(),
                    secs("collect `digits.digit_timeout`", t)?,
                );
            }
            c.insert("digits".into(), Value::Object(dm));
        }
        if let Some(s) = &self.speech {
            let mut sm = Map::new();
            if let Some(t) = s.end_silence_timeout {
                let t = secs("collect `speech.end_silence_timeout`", t)?;
                sm.insert("end_silence_timeout".into(), t);
            }
            if let Some(t) = s.speech_timeout {
                let t = secs("collect `speech.speech_timeout`", t)?;
                sm.insert("speech_timeout".into(), t);
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
    /// Collects up to `max` digits (`PromptParams::digits(4).terminators("#")`).
    pub fn digits(max: u32) -> Self {
        PromptParams {
            collect: CollectParams {
                digits: Some(CollectDigits {
                    max: Some(max),
                    ..CollectDigits::default()
                }),
                ..CollectParams::default()
            },
            ..PromptParams::default()
        }
    }

    /// Collects speech.
    pub fn speech() -> Self {
        PromptParams {
            collect: CollectParams {
                speech: Some(CollectSpeech::default()),
                ..CollectParams::default()
            },
            ..PromptParams::default()
        }
    }

    /// Digits that end digit collection (collects digits if it did not yet).
    pub fn terminators(mut self, terminators: impl Into<String>) -> Self {
        self.collect
            .digits
            .get_or_insert_with(Default::default)
            .terminators = Some(terminators.into());
        self
    }

    /// Time allowed between digits (collects digits if it did not yet).
    pub fn digit_timeout(mut self, timeout: Duration) -> Self {
        self.collect
            .digits
            .get_or_insert_with(Default::default)
            .digit_timeout = Some(timeout);
        self
    }

    /// Time to wait for the start of input.
    pub fn initial_timeout(mut self, timeout: Duration) -> Self {
        self.collect.initial_timeout = Some(timeout);
        self
    }

    /// Silence that ends the utterance (collects speech if it did not yet).
    pub fn end_silence_timeout(mut self, timeout: Duration) -> Self {
        self.collect
            .speech
            .get_or_insert_with(Default::default)
            .end_silence_timeout = Some(timeout);
        self
    }

    /// Longest speech (collects speech if it did not yet).
    pub fn speech_timeout(mut self, timeout: Duration) -> Self {
        self.collect
            .speech
            .get_or_insert_with(Default::default)
            .speech_timeout = Some(timeout);
        self
    }

    /// Asks for partial results (reported as progress, never as completion).
    pub fn partial_results(mut self, partial_results: bool) -> Self {
        self.collect.partial_results = partial_results;
        self
    }

    /// Language of the speech to recognise (collects speech if it did not yet).
    pub fn speech_language(mut self, language: impl Into<String>) -> Self {
        self.collect
            .speech
            .get_or_insert_with(Default::default)
            .language = Some(language.into());
        self
    }

    /// Expected phrases (collects speech if it did not yet).
    pub fn speech_hints<S: Into<String>>(mut self, hints: impl IntoIterator<Item = S>) -> Self {
        self.collect
            .speech
            .get_or_insert_with(Default::default)
            .hints = hints.into_iter().map(Into::into).collect();
        self
    }

    /// Media played while collecting.
    pub fn media(mut self, media: impl IntoIterator<Item = Media>) -> Self {
        self.media = media.into_iter().collect();
        self
    }

    /// Volume in dB (-40..=+40).
    pub fn volume(mut self, db: f64) -> Self {
        self.volume = Some(db);
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
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
    /// Time to wait for the start of audio (sent in seconds).
    pub initial_timeout: Option<Duration>,
    /// Silence that ends the recording (sent in seconds).
    pub end_silence_timeout: Option<Duration>,
    /// Digits that end the recording.
    pub terminators: Option<String>,
    /// How loud audio must be to count as input, for `initial_timeout` and
    /// `end_silence_timeout` (the server's scale, default 44; finite and not negative).
    pub input_sensitivity: Option<f64>,
    /// Any other key the server accepts in `record.audio`, sent as it is (Node passes unknown
    /// record keys through the same way). A key a field above sets is taken from the field.
    pub extra: Map<String, Value>,
}

/// A recording built step by step (every setting the server's default when not set):
///
/// ```
/// use std::time::Duration;
/// use relay_proto::calling::{AudioDirection, RecordFormat, RecordParams};
///
/// let voicemail = RecordParams::new()
///     .beep(true)
///     .format(RecordFormat::Wav)
///     .direction(AudioDirection::Speak)
///     .end_silence_timeout(Duration::from_secs(3))
///     .terminators("#");
/// assert_eq!(voicemail.end_silence_timeout, Some(Duration::from_secs(3)));
/// ```
impl RecordParams {
    /// A recording with the server's settings.
    pub fn new() -> Self {
        RecordParams::default()
    }
    /// Plays a beep first.
    pub fn beep(mut self, beep: bool) -> Self {
        self.beep = Some(beep);
        self
    }
    /// Records in stereo.
    pub fn stereo(mut self, stereo: bool) -> Self {
        self.stereo = Some(stereo);
        self
    }
    /// The file format.
    pub fn format(mut self, format: RecordFormat) -> Self {
        self.format = Some(format);
        self
    }
    /// Which audio to record.
    pub fn direction(mut self, direction: AudioDirection) -> Self {
        self.direction = Some(direction);
        self
    }
    /// Time to wait for the start of audio.
    pub fn initial_timeout(mut self, timeout: Duration) -> Self {
        self.initial_timeout = Some(timeout);
        self
    }
    /// Silence that ends the recording.
    pub fn end_silence_timeout(mut self, timeout: Duration) -> Self {
        self.end_silence_timeout = Some(timeout);
        self
    }
    /// Digits that end the recording (`0-9`, `*`, `#`; checked when it starts).
    pub fn terminators(mut self, terminators: impl Into<String>) -> Self {
        self.terminators = Some(terminators.into());
        self
    }
    /// How loud audio must be to count as input (the server's scale, default 44).
    pub fn input_sensitivity(mut self, sensitivity: f64) -> Self {
        self.input_sensitivity = Some(sensitivity);
        self
    }
    /// Another key of `record.audio`, sent as it is.
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
        let mut a = self.extra.clone();
        if let Some(s) = self.input_sensitivity {
            if !s.is_finite() || s < 0.0 {
                return Err(misuse(
                    "record `input_sensitivity`",
                    format!("{s} is not a finite, non-negative number"),
                ));
            }
            a.insert("input_sensitivity".into(), Value::from(s));
        }
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
        if let Some(t) = self.initial_timeout {
            a.insert(
                "initial_timeout".into(),
                secs("record `initial_timeout`", t)?,
            );
        }
        if let Some(t) = self.end_silence_timeout {
            let t = secs("record `end_silence_timeout`", t)?;
            a.insert("end_silence_timeout".into(), t);
        }
        if let Some(t) = &self.terminators {
            if let Some(bad) = t.chars().find(|c| !"0123456789*#".contains(*c)) {
                return Err(misuse(
                    "record `terminators`",
                    format!("invalid character {bad:?}; allowed: 0-9 * #"),
                ));
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
        /// Time to wait for the first sound (sent in seconds).
        initial_timeout: Option<Duration>,
        /// Silence that ends a greeting (sent in seconds).
        end_silence_timeout: Option<Duration>,
        /// Speech longer than this is a machine (sent in seconds).
        machine_voice_threshold: Option<Duration>,
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

/// The settings of [`DetectKind::Machine`], borrowed for the builder methods.
struct MachineSettings<'a> {
    initial_timeout: &'a mut Option<Duration>,
    end_silence_timeout: &'a mut Option<Duration>,
    machine_voice_threshold: &'a mut Option<Duration>,
    machine_words_threshold: &'a mut Option<u32>,
    wait_for_beep: &'a mut bool,
}

/// What [`CallMut::detect`](crate::calling::CallMut::detect) detects.
///
/// ```
/// use std::time::Duration;
/// use relay_proto::calling::{DetectKind, DetectParams};
///
/// let amd = DetectParams::machine()
///     .initial_timeout(Duration::from_secs(5))
///     .machine_words_threshold(6)
///     .wait_for_beep(true)
///     .timeout(Duration::from_secs(45));
/// assert!(matches!(amd.kind, DetectKind::Machine { wait_for_beep: true, .. }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DetectParams {
    /// Detector and its settings.
    pub kind: DetectKind,
    /// Overall timeout (server default when unset; sent in seconds, not sent when zero).
    pub timeout: Option<Duration>,
}

impl DetectParams {
    /// Detects this kind with the server's timeout.
    pub fn new(kind: DetectKind) -> Self {
        DetectParams {
            kind,
            timeout: None,
        }
    }

    /// Answering-machine detection with the server's settings.
    pub fn machine() -> Self {
        DetectParams::new(DetectKind::machine())
    }

    /// Fax tone detection: `tone`, or any tone when `None` (`detectFax`).
    pub fn fax(tone: Option<FaxTone>) -> Self {
        DetectParams::new(DetectKind::Fax { tone })
    }

    /// DTMF detection: these `digits`, or all when `None` (`detectDigit`).
    pub fn digit(digits: Option<&str>) -> Self {
        DetectParams::new(DetectKind::Digit {
            digits: digits.map(str::to_owned),
        })
    }

    /// The overall detection timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Changes the machine detector's settings, switching to machine detection first if
    /// this detects something else.
    fn set_machine(mut self, set: impl FnOnce(MachineSettings<'_>)) -> Self {
        if !matches!(self.kind, DetectKind::Machine { .. }) {
            self.kind = DetectKind::machine();
        }
        if let DetectKind::Machine {
            initial_timeout,
            end_silence_timeout,
            machine_voice_threshold,
            machine_words_threshold,
            wait_for_beep,
        } = &mut self.kind
        {
            set(MachineSettings {
                initial_timeout,
                end_silence_timeout,
                machine_voice_threshold,
                machine_words_threshold,
                wait_for_beep,
            });
        }
        self
    }

    /// Machine detection: time to wait for the first sound (switches to machine detection).
    pub fn initial_timeout(self, timeout: Duration) -> Self {
        self.set_machine(|m| *m.initial_timeout = Some(timeout))
    }

    /// Machine detection: silence that ends a greeting (switches to machine detection).
    pub fn end_silence_timeout(self, timeout: Duration) -> Self {
        self.set_machine(|m| *m.end_silence_timeout = Some(timeout))
    }

    /// Machine detection: speech longer than this is a machine (switches to machine
    /// detection).
    pub fn machine_voice_threshold(self, threshold: Duration) -> Self {
        self.set_machine(|m| *m.machine_voice_threshold = Some(threshold))
    }

    /// Machine detection: more words than this is a machine (switches to machine detection).
    pub fn machine_words_threshold(self, words: u32) -> Self {
        self.set_machine(|m| *m.machine_words_threshold = Some(words))
    }

    /// Machine detection: after `MACHINE`, wait for the beep (switches to machine
    /// detection).
    pub fn wait_for_beep(self, wait: bool) -> Self {
        self.set_machine(|m| *m.wait_for_beep = wait)
    }

    pub(crate) fn to_wire(&self, mode: DetectMode) -> Result<Map<String, Value>, CommandError> {
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
                    if let Some(v) = v {
                        p.insert(k.into(), secs(&format!("detect `{k}`"), *v)?);
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
                        return Err(misuse("detect `digits`", "must not be empty when set"));
                    }
                    if let Some(bad) = d.chars().find(|c| !"0123456789*#ABCD".contains(*c)) {
                        return Err(misuse(
                            "detect `digits`",
                            format!("invalid character {bad:?}; allowed: 0-9 * # A-D"),
                        ));
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
        if let Some(t) = self.timeout.filter(|t| !t.is_zero()) {
            m.insert("timeout".into(), secs("detect `timeout`", t)?);
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
    /// Sends the document at `document` (a PDF or TIFF URL).
    pub fn new(document: impl Into<String>) -> Self {
        FaxSendParams {
            document: document.into(),
            ..FaxSendParams::default()
        }
    }
    /// Our fax identity (number).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }
    /// Text for the page header.
    pub fn header_info(mut self, header_info: impl Into<String>) -> Self {
        self.header_info = Some(header_info.into());
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
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
        codec: Option<Codec>,
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
        codec: Option<Codec>,
        /// Sample rate.
        rate: Option<u32>,
    },
}

impl TapDevice {
    /// RTP to `addr`:`port` with the server's codec, packet time and rate.
    pub fn rtp(addr: impl Into<String>, port: u16) -> Self {
        TapDevice::Rtp {
            addr: addr.into(),
            port,
            codec: None,
            ptime: None,
            rate: None,
        }
    }
    /// A WebSocket at `uri` (`ws://` or `wss://`) with the server's codec and rate.
    pub fn ws(uri: impl Into<String>) -> Self {
        TapDevice::Ws {
            uri: uri.into(),
            codec: None,
            rate: None,
        }
    }
    /// The codec.
    pub fn codec(mut self, codec: Codec) -> Self {
        match &mut self {
            TapDevice::Rtp { codec: c, .. } | TapDevice::Ws { codec: c, .. } => *c = Some(codec),
        }
        self
    }
    /// The sample rate.
    pub fn rate(mut self, rate: u32) -> Self {
        match &mut self {
            TapDevice::Rtp { rate: r, .. } | TapDevice::Ws { rate: r, .. } => *r = Some(rate),
        }
        self
    }
    /// The RTP packet time in milliseconds; a WebSocket has none, so it is left unchanged.
    pub fn ptime(mut self, ms: u32) -> Self {
        if let TapDevice::Rtp { ptime, .. } = &mut self {
            *ptime = Some(ms);
        }
        self
    }
}

/// What [`CallMut::tap`](crate::calling::CallMut::tap) taps.
///
/// ```
/// use relay_proto::calling::{AudioDirection, Codec, TapDevice, TapParams};
///
/// let tap = TapParams::new(TapDevice::rtp("192.0.2.10", 1234).codec(Codec::Pcmu).ptime(20))
///     .direction(AudioDirection::Both);
/// assert_eq!(tap.direction, Some(AudioDirection::Both));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TapParams {
    /// Which audio (server default when unset).
    pub direction: Option<AudioDirection>,
    /// Where it goes.
    pub device: TapDevice,
}

impl TapParams {
    /// Taps the call's audio to `device`, in the server's default direction.
    pub fn new(device: TapDevice) -> Self {
        TapParams {
            direction: None,
            device,
        }
    }
    /// Which audio to tap.
    pub fn direction(mut self, direction: AudioDirection) -> Self {
        self.direction = Some(direction);
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
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
                    return Err(misuse("tap rtp `port`", "must not be 0"));
                }
                let mut p = Map::new();
                p.insert("addr".into(), Value::from(addr.clone()));
                p.insert("port".into(), Value::from(*port));
                if let Some(c) = codec {
                    p.insert("codec".into(), Value::from(c.as_str()));
                }
                if let Some(t) = ptime {
                    p.insert("ptime".into(), Value::from(*t));
                }
                if let Some(r) = rate {
                    p.insert("rate".into(), Value::from(*r));
                }
                json!({"type": DeviceType::Rtp, "params": p})
            }
            TapDevice::Ws { uri, codec, rate } => {
                if !(uri.starts_with("ws://") || uri.starts_with("wss://")) {
                    return Err(misuse(
                        "tap ws `uri`",
                        format!("must start with ws:// or wss://, got {uri:?}"),
                    ));
                }
                let mut p = Map::new();
                p.insert("uri".into(), Value::from(uri.clone()));
                if let Some(c) = codec {
                    p.insert("codec".into(), Value::from(c.as_str()));
                }
                if let Some(r) = rate {
                    p.insert("rate".into(), Value::from(*r));
                }
                json!({"type": DeviceType::Ws, "params": p})
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
    /// SIP headers (custom ones are named `X-...`).
    pub headers: Vec<SipHeader>,
}

impl ReferParams {
    /// Transfers to the SIP URI `to` (`sip:` or `sips:`; checked when it is sent).
    pub fn new(to: impl Into<String>) -> Self {
        ReferParams {
            to: to.into(),
            headers: Vec::new(),
        }
    }
    /// Adds a SIP header (custom headers are named `X-...`; any name is sent).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(SipHeader::new(name, value));
        self
    }

    pub(crate) fn to_wire(&self) -> Result<Map<String, Value>, CommandError> {
        if !(self.to.starts_with("sip:") || self.to.starts_with("sips:")) || self.to.len() < 5 {
            return Err(misuse(
                "refer `to`",
                format!("must be a SIP URI (sip:… or sips:…), got {:?}", self.to),
            ));
        }
        let mut p = Map::new();
        p.insert("to".into(), Value::from(self.to.clone()));
        if let Some(h) = headers_wire(&self.headers)? {
            p.insert("headers".into(), h);
        }
        let mut m = Map::new();
        m.insert(
            "device".into(),
            json!({"type": DeviceType::Sip, "params": p}),
        );
        Ok(m)
    }
}
