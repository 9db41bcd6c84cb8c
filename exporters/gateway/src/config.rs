//! Devices and settings: the YAML config file, `--device` flags, and device addresses.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::limits::Limits;

/// The baud rate of a serial device when none is given.
pub const DEFAULT_BAUD: u32 = 115_200;
/// How long one scrape attempt may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Extra attempts after a failed one, by default.
pub const DEFAULT_RETRIES: u32 = 1;
/// How long a device's last good answer is still served after its scrapes start failing,
/// by default: a device that misses a scrape or two at the usual 15 s interval keeps its
/// series; one gone for longer is not shown with values of a minute ago.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

/// Where a device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `tcp://host:port`: a raw byte stream carrying the framed protocol (QEMU's
    /// `-serial tcp:...`, a serial-to-TCP bridge).
    Tcp(String),
    /// A USB serial device by its identity (`usb:VID:PID[:SERIAL]`), looked up in sysfs
    /// each time its link is opened, and its baud rate.
    Usb {
        /// Vendor, product and serial number.
        id: crate::usb::UsbId,
        /// Bits per second.
        baud: u32,
    },
    /// A serial port path and its baud rate.
    Serial {
        /// The device path, e.g. `/dev/ttyUSB0`.
        path: PathBuf,
        /// Bits per second.
        baud: u32,
    },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(hp) => write!(f, "tcp://{hp}"),
            Address::Usb { id, baud } => write!(f, "{id}@{baud}"),
            Address::Serial { path, baud } => write!(f, "{}@{baud}", path.display()),
        }
    }
}

impl Address {
    /// Reads `tcp://host:port`, `PATH`, `PATH@BAUD`, `usb:VID:PID[:SERIAL]` or
    /// `usb:VID:PID[:SERIAL]@BAUD` (`baud` is used when the address has none).
    pub fn parse(s: &str, baud: Option<u32>) -> Result<Address, String> {
        let s = s.trim();
        if let Some(hp) = s.strip_prefix("tcp://") {
            let ok = hp
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p != 0));
            if !ok {
                return Err(format!(
                    "`{s}` is not a TCP address: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:4444"
                ));
            }
            if baud.is_some() {
                return Err(format!(
                    "`{s}` is a TCP address: a baud rate only applies to serial ports"
                ));
            }
            return Ok(Address::Tcp(hp.to_owned()));
        }
        if s.contains("://") {
            return Err(format!(
                "`{s}`: unknown scheme; write tcp://HOST:PORT or a serial port path such as /dev/ttyUSB0@115200"
            ));
        }
        let (path, rate) = match s.rsplit_once('@') {
            Some((path, rate)) => {
                let rate = rate.parse::<u32>().ok().filter(|r| *r > 0).ok_or_else(|| {
                    format!("`{s}`: the baud rate after `@` must be a positive number, e.g. /dev/ttyUSB0@115200")
                })?;
                if baud.is_some_and(|b| b != rate) {
                    return Err(format!("`{s}`: two different baud rates given"));
                }
                (path, rate)
            }
            None => (s, baud.unwrap_or(DEFAULT_BAUD)),
        };
        if path.is_empty() {
            return Err(
                "an empty address: write tcp://HOST:PORT or a serial port path such as /dev/ttyUSB0"
                    .into(),
            );
        }
        if baud == Some(0) {
            return Err(format!("`{s}`: the baud rate must be positive"));
        }
        if let Some(id) = path.strip_prefix("usb:") {
            return Ok(Address::Usb {
                id: crate::usb::UsbId::parse(id)?,
                baud: rate,
            });
        }
        Ok(Address::Serial {
            path: path.into(),
            baud: rate,
        })
    }
}

/// One device the gateway scrapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its name: the `device` label and the `/probe?target=` value.
    pub name: String,
    /// Where it is.
    pub address: Address,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Extra attempts after a failed one, within one scrape.
    pub retries: u32,
    /// What its answers may hold.
    pub limits: Limits,
    /// How long its last good answer is still served once its scrapes fail (zero: not at
    /// all); past it `/metrics` leaves its series out and `/probe` answers 503.
    pub stale_after: Duration,
    /// Labels of its target on `/targets` (the config file's `labels:`), in name order.
    pub labels: Vec<(String, String)>,
    /// The label its series get with the id the device reports (`--device-id-label`);
    /// `None`: the device is not asked for one.
    pub id_label: Option<String>,
}

/// Limits of which some are given (by flags, or in one place of the config file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// `max_response_bytes`, if given.
    pub max_response_bytes: Option<usize>,
    /// `max_series`, if given.
    pub max_series: Option<usize>,
    /// `max_label_bytes`, if given.
    pub max_label_bytes: Option<usize>,
    /// `max_label_names`, if given.
    pub max_label_names: Option<usize>,
}

impl LimitOverrides {
    /// `base`, with the limits given here instead of its own.
    pub fn over(self, base: Limits) -> Limits {
        Limits {
            max_response_bytes: self.max_response_bytes.unwrap_or(base.max_response_bytes),
            max_series: self.max_series.unwrap_or(base.max_series),
            max_label_bytes: self.max_label_bytes.unwrap_or(base.max_label_bytes),
            max_label_names: self.max_label_names.unwrap_or(base.max_label_names),
        }
    }
}

/// What the command line sets for every device: it wins over the config file's global
/// settings and loses to a device's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--stale-after`.
    pub stale_after: Option<Duration>,
    /// `--device-id-label`.
    pub device_id_label: Option<String>,
    /// `--max-response-bytes`, `--max-series`, `--max-label-bytes`, `--max-label-names`.
    pub limits: LimitOverrides,
}

/// Reads a size in bytes: a number, optionally with a unit (`65536`, `64KiB`, `1MiB`, `100kB`,
/// `2MB`); at least 1.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let unit: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        _ => 0,
    };
    let n = t[..digits]
        .parse::<u64>()
        .ok()
        .filter(|_| unit > 0)
        .and_then(|n| n.checked_mul(unit))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            format!("`{s}` is not a size: write a number of bytes, e.g. 65536, 64KiB or 1MiB")
        })?;
    if n == 0 {
        return Err(format!("`{s}`: the size must be at least 1 byte"));
    }
    Ok(n)
}

/// Reads a count such as `max_series`: a whole number, at least 1.
pub fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err(format!("`{s}`: the limit must be at least 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{s}` is not a count: write a whole number, e.g. 10000"
        )),
    }
}

/// Checks a device name: letters, digits, `_`, `-`, `.`, `:` (so it needs no escaping in a
/// URL or a label).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "device name `{name}`: use 1 to 64 letters, digits, `_`, `-`, `.` or `:`"
        ))
    }
}

/// Checks a label name given in the config file under `key`: a Prometheus label name, not
/// starting with `__` (reserved for Prometheus' own).
pub(crate) fn check_label_name(key: &str, name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key}: `{name}` is not a label name: use letters, digits and `_`, not \
             starting with a digit or `__`"
        ))
    }
}

/// Checks the label name of `--device-id-label` (`device_id_label:`): a label name that is
/// not the gateway's own `device`, nor `le` or `quantile`.
pub fn check_id_label(name: &str) -> Result<String, String> {
    check_label_name("the device id label", name)?;
    if matches!(name, "device" | "le" | "quantile") {
        return Err(format!(
            "`{name}` is taken: the gateway writes `device`, histograms `le`; use e.g. device_id"
        ));
    }
    Ok(name.to_owned())
}

/// Reads a `--device NAME=ADDRESS` flag.
pub fn parse_device_flag(
    s: &str,
    timeout: Duration,
    retries: u32,
    limits: Limits,
    stale_after: Duration,
) -> Result<Device, String> {
    let (name, address) = s.split_once('=').ok_or_else(|| {
        format!(
            "`{s}`: write NAME=ADDRESS, e.g. board=tcp://127.0.0.1:4444 or sensor=/dev/ttyUSB0@115200"
        )
    })?;
    check_name(name.trim())?;
    Ok(Device {
        name: name.trim().to_owned(),
        address: Address::parse(address, None)?,
        timeout,
        retries,
        limits,
        stale_after,
        labels: Vec::new(),
        id_label: None,
    })
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Listen address, `HOST:PORT`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Default attempt timeout (`500ms`, `2s`).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// Default retries.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Default stale time (`30s`, `2m`, `0`).
    #[serde(default)]
    pub stale_after: Option<Spanned<String>>,
    /// The label every device's series get with the id it reports.
    #[serde(default)]
    pub device_id_label: Option<Spanned<String>>,
    /// Default limits on what devices send.
    #[serde(default)]
    pub limits: FileLimits,
    /// The devices.
    #[serde(default)]
    pub devices: Vec<FileDevice>,
    /// Remote-Write targets.
    #[serde(default)]
    pub remote_write: Vec<crate::remote_write::file::FileTarget>,
}

/// One device in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDevice {
    /// Name.
    pub name: Spanned<String>,
    /// `tcp://HOST:PORT` or a serial path (optionally `@BAUD`).
    pub address: Spanned<String>,
    /// Baud rate of a serial port.
    #[serde(default)]
    pub baud: Option<u32>,
    /// This device's attempt timeout.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// This device's retries.
    #[serde(default)]
    pub retries: Option<u32>,
    /// This device's stale time.
    #[serde(default)]
    pub stale_after: Option<Spanned<String>>,
    /// Labels of this device's target on `/targets`.
    #[serde(default)]
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    /// This device's limits.
    #[serde(default)]
    pub limits: FileLimits,
}

/// A `limits:` block of the config file (global, or a device's own).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    /// The largest exposition read per scrape: bytes, or a string with a unit (`1MiB`).
    #[serde(default)]
    pub max_response_bytes: Option<Spanned<Amount>>,
    /// The most series kept per scrape.
    #[serde(default)]
    pub max_series: Option<Spanned<Amount>>,
    /// The most label bytes per series.
    #[serde(default)]
    pub max_label_bytes: Option<Spanned<Amount>>,
    /// The most label names per family.
    #[serde(default)]
    pub max_label_names: Option<Spanned<Amount>>,
}

/// A limit as written in the config file: any scalar (a number, or a string such as
/// `64KiB`), kept as text and read by [`parse_size`] or [`parse_count`], so that a wrong value
/// (`-3`, `1.5`, `lots`) is an error that names the key and says what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(pub String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or a size such as 64KiB")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(v.to_owned()))
            }
        }
        d.deserialize_any(Scalar)
    }
}

/// A config file error: file, line, column and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub pos: Option<(u64, u64)>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.pos {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {} (see exporters/gateway/README.md)", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads a duration such as `30s` or `2m`, or `0` (none).
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

/// Reads a duration such as `500ms` or `2s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}): write e.g. 500ms or 2s"))?;
    if d.is_zero() {
        return Err(format!("`{s}`: the duration must be longer than zero"));
    }
    Ok(d)
}

/// The settings a config file gives, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Listen address.
    pub listen: Option<String>,
    /// Devices, with the defaults applied.
    pub devices: Vec<Device>,
    /// Remote-Write targets, with the defaults applied.
    pub remote_write: Vec<crate::remote_write::Target>,
}

/// Reads and checks a config file. A device's own `timeout`, `retries` and `limits` win;
/// then `flags` (when given); then the file's global ones; then [`DEFAULT_TIMEOUT`],
/// [`DEFAULT_RETRIES`] and [`Limits::default`], each setting on its own.
pub fn load(path: &Path, flags: &Overrides) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.into(),
        pos: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    parse(path, &text, flags)
}

/// [`load`] on text already read; `path` is only used in messages.
pub fn parse(path: &Path, text: &str, flags: &Overrides) -> Result<Loaded, ConfigError> {
    let at = |s: &Spanned<String>, message: String| ConfigError {
        file: path.into(),
        pos: Some((s.referenced.line(), s.referenced.column())),
        message,
    };
    let (timeout, retries) = (flags.timeout, flags.retries);
    let file: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            let raw = e.without_snippet().to_string();
            let mut message = raw
                .lines()
                .next()
                .unwrap_or("invalid YAML")
                .trim()
                .to_owned();
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            ConfigError {
                file: path.into(),
                pos: e.location().map(|l| (l.line(), l.column())),
                message: format!(
                    "{message}: expected `listen`, `timeout`, `retries`, `limits`, a \
                     `devices` list of `name`/`address` entries and a `remote_write` list \
                     of `url` entries"
                ),
            }
        })?
    };
    let file_timeout = match &file.timeout {
        Some(t) => Some(parse_duration(&t.value).map_err(|m| at(t, m))?),
        None => None,
    };
    let default_timeout = timeout.or(file_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let default_retries = retries.or(file.retries).unwrap_or(DEFAULT_RETRIES);
    let id_label = match (&flags.device_id_label, &file.device_id_label) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(l)) => {
            check_id_label(&l.value).map_err(|m| at(l, format!("device_id_label: {m}")))?;
            Some(l.value.clone())
        }
        (None, None) => None,
    };
    let stale = |s: &Spanned<String>| {
        parse_duration_or_zero(&s.value).map_err(|m| at(s, format!("stale_after: {m}")))
    };
    let default_stale = match (flags.stale_after, &file.stale_after) {
        (Some(d), _) => d,
        (None, Some(s)) => stale(s)?,
        (None, None) => DEFAULT_STALE_AFTER,
    };
    let default_limits = flags
        .limits
        .over(file_limits(path, &file.limits)?.over(Limits::default()));
    let mut devices: Vec<Device> = Vec::new();
    for d in &file.devices {
        check_name(&d.name.value).map_err(|m| at(&d.name, m))?;
        if devices.iter().any(|x| x.name == d.name.value) {
            return Err(at(
                &d.name,
                format!(
                    "device `{}` is listed twice: names must be unique",
                    d.name.value
                ),
            ));
        }
        let address = Address::parse(&d.address.value, d.baud).map_err(|m| at(&d.address, m))?;
        let timeout = match &d.timeout {
            Some(t) => parse_duration(&t.value).map_err(|m| at(t, m))?,
            None => default_timeout,
        };
        let mut labels = Vec::new();
        if let Some(l) = &d.labels {
            for (name, value) in &l.value {
                check_label_name("labels", name).map_err(|m| at_span(path, l, m))?;
                labels.push((name.clone(), value.clone()));
            }
        }
        devices.push(Device {
            name: d.name.value.clone(),
            address,
            timeout,
            retries: d.retries.unwrap_or(default_retries),
            limits: file_limits(path, &d.limits)?.over(default_limits),
            stale_after: match &d.stale_after {
                Some(s) => stale(s)?,
                None => default_stale,
            },
            labels,
            id_label: id_label.clone(),
        });
    }
    Ok(Loaded {
        listen: file.listen,
        devices,
        remote_write: crate::remote_write::file::targets(path, &file.remote_write)?,
    })
}

/// An error at `s` of the file at `path`.
pub(crate) fn at_span<T>(path: &Path, s: &Spanned<T>, message: String) -> ConfigError {
    ConfigError {
        file: path.into(),
        pos: Some((s.referenced.line(), s.referenced.column())),
        message,
    }
}

/// The limits a `limits:` block gives, checked.
fn file_limits(path: &Path, l: &FileLimits) -> Result<LimitOverrides, ConfigError> {
    let read = |s: &Option<Spanned<Amount>>,
                key: &str,
                parse: fn(&str) -> Result<usize, String>|
     -> Result<Option<usize>, ConfigError> {
        let Some(s) = s else { return Ok(None) };
        parse(&s.value.0)
            .map(Some)
            .map_err(|m| at_span(path, s, format!("{key}: {m}")))
    };
    Ok(LimitOverrides {
        max_response_bytes: read(&l.max_response_bytes, "max_response_bytes", parse_size)?,
        max_series: read(&l.max_series, "max_series", parse_count)?,
        max_label_bytes: read(&l.max_label_bytes, "max_label_bytes", parse_size)?,
        max_label_names: read(&l.max_label_names, "max_label_names", parse_count)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("tcp://127.0.0.1:4444", None).unwrap(),
            Address::Tcp("127.0.0.1:4444".into())
        );
        assert_eq!(
            Address::parse("/dev/ttyUSB0@9600", None).unwrap(),
            Address::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 9600
            }
        );
        assert_eq!(
            Address::parse("/dev/ttyACM0", Some(57600)).unwrap(),
            Address::Serial {
                path: "/dev/ttyACM0".into(),
                baud: 57600
            }
        );
        for bad in [
            "tcp://host",
            "tcp://:80",
            "tcp://h:0",
            "udp://h:1",
            "/dev/x@fast",
            "",
        ] {
            assert!(Address::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Address::parse("tcp://h:1", Some(9600)).is_err());
        let usb = Address::parse("usb:2e8a:000a:E661@9600", None).unwrap();
        assert_eq!(usb.to_string(), "usb:2e8a:000a:E661@9600");
        assert_eq!(
            Address::parse("usb:403:6001", None).unwrap().to_string(),
            "usb:0403:6001@115200"
        );
        assert!(Address::parse("usb:zz:1", None)
            .unwrap_err()
            .contains("write usb:VID:PID[:SERIAL]"));
    }

    #[test]
    fn device_flags() {
        let d = parse_device_flag(
            "a=tcp://localhost:1",
            DEFAULT_TIMEOUT,
            3,
            Limits::default(),
            DEFAULT_STALE_AFTER,
        )
        .unwrap();
        assert_eq!(d.name, "a");
        assert_eq!(d.retries, 3);
        assert!(parse_device_flag(
            "tcp://localhost:1",
            DEFAULT_TIMEOUT,
            0,
            Limits::default(),
            DEFAULT_STALE_AFTER
        )
        .unwrap_err()
        .contains("NAME=ADDRESS"));
        assert!(parse_device_flag(
            "a b=/dev/x",
            DEFAULT_TIMEOUT,
            0,
            Limits::default(),
            DEFAULT_STALE_AFTER
        )
        .unwrap_err()
        .contains("device name"));
    }

    #[test]
    fn file_with_defaults_and_overrides() {
        let text = "listen: 127.0.0.1:9110\ntimeout: 500ms\ndevices:\n  - name: a\n    address: tcp://127.0.0.1:4444\n  - name: b\n    address: /dev/ttyUSB0\n    baud: 9600\n    timeout: 3s\n    retries: 0\n";
        let flags = Overrides {
            retries: Some(2),
            ..Overrides::default()
        };
        let l = parse(Path::new("g.yaml"), text, &flags).unwrap();
        assert_eq!(l.listen.as_deref(), Some("127.0.0.1:9110"));
        assert_eq!(l.devices[0].timeout, Duration::from_millis(500));
        assert_eq!(l.devices[0].retries, 2);
        let flags = Overrides {
            timeout: Some(Duration::from_secs(9)),
            ..Overrides::default()
        };
        let l = parse(Path::new("g.yaml"), text, &flags).unwrap();
        assert_eq!(
            l.devices[0].timeout,
            Duration::from_secs(9),
            "the flag wins"
        );
        assert_eq!(l.devices[0].retries, DEFAULT_RETRIES);
        assert_eq!(
            l.devices[1].timeout,
            Duration::from_secs(3),
            "the device's own wins"
        );
        assert_eq!(l.devices[1].timeout, Duration::from_secs(3));
        assert_eq!(l.devices[1].retries, 0);
        assert_eq!(
            l.devices[1].address,
            Address::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 9600
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let text = "devices:\n  - name: a\n    address: tcp://nope\n";
        let e = parse(Path::new("g.yaml"), text, &Overrides::default()).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("g.yaml:3:"), "{s}");
        assert!(s.contains("tcp://HOST:PORT"), "{s}");

        let text = "devices:\n  - name: a\n    adress: tcp://h:1\n";
        let s = parse(Path::new("g.yaml"), text, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:3:"), "{s}");
        assert!(s.contains("adress"), "{s}");

        let text =
            "devices:\n  - name: a\n    address: tcp://h:1\n  - name: a\n    address: tcp://h:2\n";
        let s = parse(Path::new("g.yaml"), text, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:4:"), "{s}");
        assert!(s.contains("twice"), "{s}");

        let text = "timeout: soon\n";
        let s = parse(Path::new("g.yaml"), text, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:1:"), "{s}");
        assert!(s.contains("500ms"), "{s}");
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size(" 1 MiB "), Ok(1 << 20));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("2mb"), Ok(2_000_000));
        assert_eq!(parse_size("12B"), Ok(12));
        for bad in [
            "",
            "KiB",
            "1.5MiB",
            "-1",
            "1GiB",
            "1 MiBs",
            "99999999999999999999",
        ] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("64KiB"), "{bad}: {e}");
        }
        assert!(parse_size("0KiB").unwrap_err().contains("at least 1 byte"));
        assert_eq!(parse_count("500"), Ok(500));
        assert!(parse_count("0").unwrap_err().contains("at least 1"));
        assert!(parse_count("many").unwrap_err().contains("whole number"));
    }

    /// Each limit on its own: the device's own, else the flag, else the file's, else the
    /// default.
    #[test]
    fn limits_follow_the_precedence_of_timeout() {
        let text = "limits:\n  max_series: 100\n  max_response_bytes: 64KiB\n\
            devices:\n  - name: a\n    address: tcp://h:1\n\
            \x20 - name: b\n    address: tcp://h:2\n    limits:\n      max_series: 7\n\
            \x20     max_label_bytes: 100\n      max_response_bytes: 2048\n";
        let l = parse(Path::new("g.yaml"), text, &Overrides::default()).unwrap();
        let (a, b) = (l.devices[0].limits, l.devices[1].limits);
        assert_eq!(
            a,
            Limits {
                max_series: 100,
                max_response_bytes: 65536,
                ..Limits::default()
            }
        );
        assert_eq!(
            b,
            Limits {
                max_series: 7,
                max_label_bytes: 100,
                max_response_bytes: 2048,
                ..Limits::default()
            }
        );
        let flags = Overrides {
            limits: LimitOverrides {
                max_series: Some(50),
                max_label_names: Some(3),
                ..LimitOverrides::default()
            },
            ..Overrides::default()
        };
        let l = parse(Path::new("g.yaml"), text, &flags).unwrap();
        let (a, b) = (l.devices[0].limits, l.devices[1].limits);
        assert_eq!((a.max_series, a.max_label_names), (50, 3), "the flag wins");
        assert_eq!(a.max_response_bytes, 65536, "the file's, with no flag");
        assert_eq!(
            (b.max_series, b.max_label_names),
            (7, 3),
            "the device's own wins"
        );
        assert_eq!(
            a.max_label_bytes,
            crate::limits::DEFAULT_MAX_LABEL_BYTES,
            "the default"
        );
    }

    #[test]
    fn limit_errors_name_file_line_and_fix() {
        for (text, at, says) in [
            ("limits:\n  max_series: 0\n", "g.yaml:2:15", "max_series: `0`: the limit must be at least 1"),
            ("limits:\n  max_response_bytes: lots\n", "g.yaml:2:23", "e.g. 65536, 64KiB or 1MiB"),
            (
                "devices:\n  - name: a\n    address: tcp://h:1\n    limits:\n      max_label_bytes: 0\n",
                "g.yaml:5:24",
                "max_label_bytes: `0`: the size must be at least 1 byte",
            ),
            ("limits:\n  max_serie: 3\n", "g.yaml:2:", "max_serie"),
            ("limits:\n  max_label_names: -3\n", "g.yaml:2:20", "max_label_names: `-3` is not a count"),
        ] {
            let e = parse(Path::new("g.yaml"), text, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(at), "{text:?}: {e}");
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
