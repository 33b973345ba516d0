//! Command parameters: devices and device trees, media, collect/record/detect/fax/tap/refer
//! parameters, their validation, and the exact wire shapes of PROTOCOL.md §4.
//!
//! Every `to_wire`/`*_wire` function validates first and never modifies the caller's value
//! (the official SDK mutates its inputs: bug 26).

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::calling::events::DeviceInfo;
use crate::calling::states::{Codec, DeviceType, TtsGender};
use crate::error::CommandError;

/// Default device timeout in seconds (PROTOCOL.md §4.1).
pub const DEFAULT_DEVICE_TIMEOUT: u32 = 30;

/// The longest time a parameter may carry (`u32::MAX` seconds); a longer [`Duration`] is
/// refused with [`ApiMisuse::InvalidParameter`](crate::error::ApiMisuse::InvalidParameter)
/// before anything is sent.
pub const MAX_PARAM_DURATION: Duration = Duration::from_secs(u32::MAX as u64);

/// Characters `send_digits` accepts: DTMF digits, `w` (0.5 s pause) and `W` (1 s pause).
pub const SEND_DIGITS_CHARSET: &str = "1234567890*#ABCDwW";

/// An invalid parameter: which, and why.
pub(crate) fn misuse(which: impl Into<String>, why: impl Into<String>) -> CommandError {
    CommandError::invalid(which, why)
}

pub(crate) fn non_empty(what: &str, v: &str) -> Result<(), CommandError> {
    if v.trim().is_empty() {
        Err(misuse(what, "must not be empty"))
    } else {
        Ok(())
    }
}

/// A time on the wire: seconds as a JSON number (`30`, `0.5`), exactly as the official SDK
/// sends them; longer than [`MAX_PARAM_DURATION`] is refused.
pub(crate) fn secs(what: &str, d: Duration) -> Result<Value, CommandError> {
    if d > MAX_PARAM_DURATION {
        return Err(misuse(
            what,
            format!(
                "must be at most {} seconds, got {d:?}",
                MAX_PARAM_DURATION.as_secs()
            ),
        ));
    }
    Ok(num(d.as_secs_f64()))
}

pub(crate) fn num(v: f64) -> Value {
    // Whole numbers go out as integers (`30`, not `30.0`), like the official SDK's JSON.
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// Checks a volume in dB: -40..=+40.
pub fn validate_volume(volume: f64) -> Result<(), CommandError> {
    if !volume.is_finite() || !(-40.0..=40.0).contains(&volume) {
        return Err(misuse(
            "volume",
            format!("must be between -40 and +40 dB, got {volume}"),
        ));
    }
    Ok(())
}

/// Checks digits for `send_digits`: only `1234567890*#ABCDwW`, at least one.
pub fn validate_send_digits(digits: &str) -> Result<(), CommandError> {
    if digits.is_empty() {
        return Err(misuse("send_digits", "needs at least one digit"));
    }
    if let Some(bad) = digits.chars().find(|c| !SEND_DIGITS_CHARSET.contains(*c)) {
        return Err(misuse(
            "send_digits",
            format!("invalid character {bad:?} in {digits:?}; allowed: {SEND_DIGITS_CHARSET}"),
        ));
    }
    Ok(())
}

/// A SIP header to add to an INVITE or REFER. Custom headers are named `X-...`; like Node,
/// any name made of header-name characters is sent, and the server decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipHeader {
    /// Header name: not empty, letters, digits and `-_.!%*+`'~` only.
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

    fn validate(&self) -> Result<(), CommandError> {
        let n = &self.name;
        // Any header name is sent, as Node does (servers take custom headers as `X-...`).
        if n.is_empty() {
            return Err(misuse("SIP header name", "must not be empty"));
        }
        if let Some(bad) = n
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.!%*+`'~".contains(*c)))
        {
            return Err(misuse(
                "SIP header name",
                format!("{n:?} contains invalid character {bad:?}"),
            ));
        }
        if self.value.contains(['\r', '\n']) {
            return Err(misuse(
                "SIP header value",
                format!("the value of {n:?} must not contain line breaks"),
            ));
        }
        Ok(())
    }

    fn to_wire(&self) -> Value {
        json!({"name": self.name, "value": self.value})
    }
}

pub(crate) fn headers_wire(headers: &[SipHeader]) -> Result<Option<Value>, CommandError> {
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
    /// Ring timeout (default 30 s; connect defaults it from the call). Sent in seconds.
    pub timeout: Option<Duration>,
}

/// A SIP endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SipDevice {
    /// Caller URI. Required for dial; connect defaults it from the call.
    pub from: Option<String>,
    /// URI to call.
    pub to: String,
    /// Ring timeout (default 30 s). Sent in seconds.
    pub timeout: Option<Duration>,
    /// SIP headers (custom ones are named `X-...`).
    pub headers: Vec<SipHeader>,
    /// Codecs (`PCMU`, `PCMA`, `OPUS`, `G729`, `G722`, `VP8`, `H264`).
    pub codecs: Vec<Codec>,
    /// Ask for WebRTC media.
    pub webrtc_media: bool,
    /// Caller display name.
    pub from_name: Option<String>,
}

impl PhoneDevice {
    /// Calls `to` from `from` with the default ring timeout.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        PhoneDevice {
            from: Some(from.into()),
            to: to.into(),
            timeout: None,
        }
    }
    /// Sets the ring timeout (sent in seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A SIP device built step by step:
///
/// ```
/// use std::time::Duration;
/// use relay_proto::calling::{Codec, Device, DialParams, SipDevice};
///
/// let office = SipDevice::new("sip:me@example.com", "sip:desk@example.com")
///     .timeout(Duration::from_secs(20))
///     .header("X-Account", "42")
///     .codecs([Codec::Opus, Codec::Pcmu])
///     .from_name("Front desk");
/// let dial = DialParams::single(office);
/// assert!(matches!(&dial.devices[0][0], Device::Sip(s) if s.headers.len() == 1));
/// ```
impl SipDevice {
    /// Calls `to` from `from` with the default ring timeout.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        SipDevice {
            from: Some(from.into()),
            to: to.into(),
            ..SipDevice::default()
        }
    }
    /// Sets the ring timeout (sent in seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Adds a SIP header (checked when the device is used).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(SipHeader::new(name, value));
        self
    }
    /// Adds SIP headers.
    pub fn headers(mut self, headers: impl IntoIterator<Item = SipHeader>) -> Self {
        self.headers.extend(headers);
        self
    }
    /// The codecs to offer, in order of preference.
    pub fn codecs(mut self, codecs: impl IntoIterator<Item = Codec>) -> Self {
        self.codecs = codecs.into_iter().collect();
        self
    }
    /// Asks for WebRTC media.
    pub fn webrtc_media(mut self, webrtc_media: bool) -> Self {
        self.webrtc_media = webrtc_media;
        self
    }
    /// The caller's display name.
    pub fn from_name(mut self, from_name: impl Into<String>) -> Self {
        self.from_name = Some(from_name.into());
        self
    }
}

impl From<PhoneDevice> for Device {
    fn from(device: PhoneDevice) -> Self {
        Device::Phone(device)
    }
}

impl From<SipDevice> for Device {
    fn from(device: SipDevice) -> Self {
        Device::Sip(device)
    }
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

    /// The device as a dial sends it (defaults filled in: a phone's 30-second timeout), read
    /// as the server reports devices. Fails as a dial would on an invalid device (a missing
    /// `from`, an empty `to`, a bad header).
    ///
    /// ```
    /// use relay_proto::calling::Device;
    ///
    /// let info = Device::phone("+15550001", "+15550002").info()?;
    /// assert_eq!((info.from(), info.to(), info.timeout()), (Some("+15550001"), Some("+15550002"), Some(30)));
    /// assert!(Device::phone_to("+15550002").info().is_err(), "no `from` outside a connect");
    /// # Ok::<(), relay_proto::CommandError>(())
    /// ```
    pub fn info(&self) -> Result<DeviceInfo, CommandError> {
        let wire = self.to_wire(None)?;
        let device_type = match self {
            Device::Phone(_) => DeviceType::Phone,
            Device::Sip(_) => DeviceType::Sip,
        };
        let params = match wire {
            Value::Object(mut m) => match m.remove("params") {
                Some(Value::Object(p)) => p,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        Ok(DeviceInfo::from_params(device_type, params))
    }

    /// Sets the ring timeout (sent in seconds; longer than [`MAX_PARAM_DURATION`] is
    /// refused when the device is used).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        match &mut self {
            Device::Phone(p) => p.timeout = Some(timeout),
            Device::Sip(s) => s.timeout = Some(timeout),
        }
        self
    }

    /// The wire object. `defaults` is the current call's device (connect only): it supplies
    /// a missing `from` (a phone call's `from_number`, a SIP call's `from`) and a phone
    /// call's timeout to a peer of either type, as Node's `reduceConnectParams` does
    /// (PROTOCOL.md §4.5 reads as if only peers of the call's own type took them: the
    /// lenient reading is Node's).
    pub(crate) fn to_wire(&self, defaults: Option<&DeviceInfo>) -> Result<Value, CommandError> {
        let default_param = |key: &str| -> Option<Value> {
            defaults.and_then(|d| d.param(key)).filter(|v| !v.is_null())
        };
        // The call's own caller: a phone call's `from_number`, a SIP call's `from`, for a
        // peer of either type (Node's `reduceConnectParams`).
        let default_from = |which: &str| -> Result<Value, CommandError> {
            let key = match defaults.map(|d| &d.device_type) {
                Some(DeviceType::Phone) => "from_number",
                Some(DeviceType::Sip) => "from",
                _ => return Err(misuse(which, "missing")),
            };
            default_param(key)
                .ok_or_else(|| misuse(which, format!("missing, and the call has no {key}")))
        };
        // A phone call's ring timeout, for a peer of either type; else 30 seconds.
        let default_timeout = || {
            defaults
                .filter(|d| d.device_type == DeviceType::Phone)
                .and_then(|_| default_param("timeout"))
                .unwrap_or_else(|| Value::from(DEFAULT_DEVICE_TIMEOUT))
        };
        match self {
            Device::Phone(p) => {
                non_empty("phone device `to`", &p.to)?;
                let from = match &p.from {
                    Some(f) => Value::from(f.clone()),
                    None => default_from("phone device `from`")?,
                };
                if from.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(misuse("phone device `from`", "must not be empty"));
                }
                let timeout = match p.timeout {
                    Some(t) => secs("phone device `timeout`", t)?,
                    None => default_timeout(),
                };
                Ok(json!({"type": DeviceType::Phone, "params": {
                    "from_number": from, "to_number": p.to, "timeout": timeout}}))
            }
            Device::Sip(s) => {
                non_empty("SIP device `to`", &s.to)?;
                let from = match &s.from {
                    Some(f) => Value::from(f.clone()),
                    None => default_from("SIP device `from`")?,
                };
                if from.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(misuse("SIP device `from`", "must not be empty"));
                }
                let mut params = Map::new();
                params.insert("from".into(), from);
                params.insert("to".into(), Value::from(s.to.clone()));
                let timeout = match s.timeout {
                    Some(t) => secs("SIP device `timeout`", t)?,
                    None => default_timeout(),
                };
                params.insert("timeout".into(), timeout);
                if !s.codecs.is_empty() {
                    let codecs = s.codecs.iter().map(|c| Value::from(c.as_str()));
                    params.insert("codecs".into(), Value::Array(codecs.collect()));
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
                Ok(json!({"type": DeviceType::Sip, "params": params}))
            }
        }
    }
}

/// A device tree: the outer list is tried in series, each inner list rings in parallel.
pub type DeviceTree = Vec<Vec<Device>>;

pub(crate) fn tree_wire(
    tree: &DeviceTree,
    defaults: Option<&DeviceInfo>,
) -> Result<Value, CommandError> {
    if tree.is_empty() {
        return Err(misuse("device tree", "is empty"));
    }
    let mut outer = Vec::with_capacity(tree.len());
    for (i, group) in tree.iter().enumerate() {
        if group.is_empty() {
            return Err(misuse("device tree", format!("group {i} is empty")));
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
    pub fn single(device: impl Into<Device>) -> Self {
        DialParams {
            devices: vec![vec![device.into()]],
            region: None,
        }
    }
    /// Tries the devices one after another.
    pub fn serial<D: Into<Device>>(devices: impl IntoIterator<Item = D>) -> Self {
        DialParams {
            devices: devices.into_iter().map(|d| vec![d.into()]).collect(),
            region: None,
        }
    }
    /// Rings the devices at once; the first to answer wins.
    pub fn parallel<D: Into<Device>>(devices: impl IntoIterator<Item = D>) -> Self {
        DialParams {
            devices: vec![devices.into_iter().map(Into::into).collect()],
            region: None,
        }
    }
    /// An explicit tree: the outer list is tried in series, each inner list rings in parallel.
    pub fn tree(devices: DeviceTree) -> Self {
        DialParams {
            devices,
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

    pub(crate) fn to_wire(&self, tag: &str) -> Result<Value, CommandError> {
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
    pub(crate) fn validate(&self) -> Result<(), CommandError> {
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

/// Connects in series, then in parallel, with a ringback:
///
/// ```
/// use std::time::Duration;
/// use relay_proto::calling::{ConnectParams, Device, Media};
///
/// let first = ConnectParams::serial([Device::phone_to("+15550001"), Device::phone_to("+15550002")])
///     .with_ringback(Media::ringtone("us", Some(Duration::from_secs(20))));
/// assert_eq!(first.devices.len(), 2);
/// let race = ConnectParams::parallel([Device::phone_to("+15550001"), Device::sip_to("sip:b@example.com")]);
/// assert_eq!(race.devices[0].len(), 2);
/// ```
impl ConnectParams {
    /// Connects to one device.
    pub fn single(device: impl Into<Device>) -> Self {
        ConnectParams {
            devices: vec![vec![device.into()]],
            ringback: None,
        }
    }
    /// Tries the devices one after another (Node's `connect(a, b)`).
    pub fn serial<D: Into<Device>>(devices: impl IntoIterator<Item = D>) -> Self {
        ConnectParams {
            devices: devices.into_iter().map(|d| vec![d.into()]).collect(),
            ringback: None,
        }
    }
    /// Rings the devices at once; the first to answer is bridged (Node's `connect([a, b])`).
    pub fn parallel<D: Into<Device>>(devices: impl IntoIterator<Item = D>) -> Self {
        ConnectParams {
            devices: vec![devices.into_iter().map(Into::into).collect()],
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
    ) -> Result<Map<String, Value>, CommandError> {
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
        gender: Option<TtsGender>,
    },
    /// Silence.
    Silence {
        /// How long (sent in seconds).
        duration: Duration,
    },
    /// A country ringtone.
    Ringtone {
        /// Country code, e.g. `us`.
        name: String,
        /// How long it rings (default: one cycle; sent in seconds).
        duration: Option<Duration>,
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
    /// Silence for `duration`.
    pub fn silence(duration: Duration) -> Self {
        Media::Silence { duration }
    }
    /// The ringtone of country `name`, for `duration` (one cycle when `None`).
    pub fn ringtone(name: impl Into<String>, duration: Option<Duration>) -> Self {
        Media::Ringtone {
            name: name.into(),
            duration,
        }
    }

    /// Checks what [`to_wire`](Self::to_wire) checks, building nothing.
    pub(crate) fn validate(&self) -> Result<(), CommandError> {
        match self {
            Media::Audio { url } => non_empty("audio `url`", url),
            Media::Tts { text, .. } => non_empty("tts `text`", text),
            Media::Silence { duration } => secs("silence `duration`", *duration).map(drop),
            Media::Ringtone { name, duration } => {
                non_empty("ringtone `name`", name)?;
                match duration {
                    Some(d) => secs("ringtone `duration`", *d).map(drop),
                    None => Ok(()),
                }
            }
        }
    }

    pub(crate) fn to_wire(&self) -> Result<Value, CommandError> {
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
                    p.insert("gender".into(), Value::from(g.as_str()));
                }
                json!({"type": "tts", "params": p})
            }
            Media::Silence { duration } => {
                let d = secs("silence `duration`", *duration)?;
                json!({"type": "silence", "params": {"duration": d}})
            }
            Media::Ringtone { name, duration } => {
                non_empty("ringtone `name`", name)?;
                let mut p = Map::new();
                p.insert("name".into(), Value::from(name.clone()));
                if let Some(d) = duration {
                    p.insert("duration".into(), secs("ringtone `duration`", *d)?);
                }
                json!({"type": "ringtone", "params": p})
            }
        })
    }
}

/// A volume in dB, validated to lie in -40..=+40 when it is made, so an invalid one cannot
/// reach a command.
///
/// ```
/// use relay_proto::calling::Volume;
/// assert_eq!(Volume::db(-6.0).map(Volume::get), Ok(-6.0));
/// assert!(Volume::db(41.0).is_err());
/// assert!(Volume::try_from(f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Volume(f64);

/// A volume outside -40..=+40 dB (or not a number).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("volume must be between -40 and +40 dB, got {0}")]
pub struct InvalidVolume(pub f64);

impl Volume {
    /// A volume of `db` decibels.
    pub fn db(db: f64) -> Result<Volume, InvalidVolume> {
        if db.is_finite() && (-40.0..=40.0).contains(&db) {
            Ok(Volume(db))
        } else {
            Err(InvalidVolume(db))
        }
    }

    /// The decibels.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Volume {
    type Error = InvalidVolume;
    fn try_from(db: f64) -> Result<Volume, InvalidVolume> {
        Volume::db(db)
    }
}

macro_rules! from_text {
    ($ty:ident, $field:ident) => {
        impl From<&str> for $ty {
            fn from(s: &str) -> Self {
                $ty::new(s)
            }
        }
        impl From<String> for $ty {
            fn from(s: String) -> Self {
                $ty::new(s)
            }
        }
        impl From<&String> for $ty {
            fn from(s: &String) -> Self {
                $ty::new(s.as_str())
            }
        }
    };
}

/// Text to speech with its options (`playTTS({text, language, gender, volume})`); a `&str`
/// converts into one with the server's defaults.
///
/// ```
/// use relay_proto::calling::{Tts, TtsGender, Volume};
/// let tts = Tts::new("Welcome").language("en-GB").gender(TtsGender::Female).volume(Volume::db(4.0)?);
/// assert_eq!(tts.text, "Welcome");
/// # Ok::<(), relay_proto::calling::InvalidVolume>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tts {
    /// The text (SSML allowed).
    pub text: String,
    /// e.g. `en-US`.
    pub language: Option<String>,
    /// The voice's gender.
    pub gender: Option<TtsGender>,
    /// The playback volume.
    pub volume: Option<Volume>,
}

impl Tts {
    /// Speaks `text` with the server's default voice.
    pub fn new(text: impl Into<String>) -> Self {
        Tts {
            text: text.into(),
            language: None,
            gender: None,
            volume: None,
        }
    }
    /// The language, e.g. `en-US`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
    /// The voice's gender.
    pub fn gender(mut self, gender: TtsGender) -> Self {
        self.gender = Some(gender);
        self
    }
    /// The volume.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volume = Some(volume);
        self
    }
    /// The media item this plays.
    pub fn media(&self) -> Media {
        Media::Tts {
            text: self.text.clone(),
            language: self.language.clone(),
            gender: self.gender.clone(),
        }
    }
}
from_text!(Tts, text);

/// An audio file with its volume (`playAudio(url | {url, volume})`); a `&str` URL converts
/// into one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Audio {
    /// The URL.
    pub url: String,
    /// The playback volume.
    pub volume: Option<Volume>,
}

impl Audio {
    /// The file at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Audio {
            url: url.into(),
            volume: None,
        }
    }
    /// The volume.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volume = Some(volume);
        self
    }
    /// The media item this plays.
    pub fn media(&self) -> Media {
        Media::audio(self.url.clone())
    }
}
from_text!(Audio, url);

/// A country ringtone with its options (`playRingtone({name, duration, volume})`); a `&str`
/// country code converts into one that rings one cycle.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Ringtone {
    /// Country code, e.g. `us`.
    pub name: String,
    /// How long it rings (default: one cycle).
    pub duration: Option<std::time::Duration>,
    /// The playback volume.
    pub volume: Option<Volume>,
}

impl Ringtone {
    /// The ringtone of country `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Ringtone {
            name: name.into(),
            duration: None,
            volume: None,
        }
    }
    /// How long it rings.
    pub fn duration(mut self, duration: std::time::Duration) -> Self {
        self.duration = Some(duration);
        self
    }
    /// The volume.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volume = Some(volume);
        self
    }
    /// The media item this plays.
    pub fn media(&self) -> Media {
        Media::ringtone(self.name.clone(), self.duration)
    }
}
from_text!(Ringtone, name);

/// A list of media written as [`Media::to_wire`] trees serialize (keys in sorted order, as
/// serde_json writes a map), with no tree built. Checked first with [`Media::validate`].
pub(crate) struct WireMediaList<'a>(pub &'a [Media]);

impl serde::Serialize for WireMediaList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for m in self.0 {
            seq.serialize_element(&WireMedia(m))?;
        }
        seq.end()
    }
}

struct WireMedia<'a>(&'a Media);

impl serde::Serialize for WireMedia<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let kind = match self.0 {
            Media::Audio { .. } => "audio",
            Media::Tts { .. } => "tts",
            Media::Silence { .. } => "silence",
            Media::Ringtone { .. } => "ringtone",
        };
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("params", &WireMediaParams(self.0))?;
        m.serialize_entry("type", kind)?;
        m.end()
    }
}

struct WireMediaParams<'a>(&'a Media);

impl serde::Serialize for WireMediaParams<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self.0 {
            Media::Audio { url } => m.serialize_entry("url", url)?,
            Media::Tts {
                text,
                language,
                gender,
            } => {
                if let Some(g) = gender {
                    m.serialize_entry("gender", g.as_str())?;
                }
                if let Some(l) = language {
                    m.serialize_entry("language", l)?;
                }
                m.serialize_entry("text", text)?;
            }
            Media::Silence { duration } => {
                m.serialize_entry("duration", &num(duration.as_secs_f64()))?;
            }
            Media::Ringtone { name, duration } => {
                if let Some(d) = duration {
                    m.serialize_entry("duration", &num(d.as_secs_f64()))?;
                }
                m.serialize_entry("name", name)?;
            }
        }
        m.end()
    }
}
