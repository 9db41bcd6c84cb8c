//! Devices and settings: the YAML config file, `--device` flags, and device addresses.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// The baud rate of a serial device when none is given.
pub const DEFAULT_BAUD: u32 = 115_200;
/// How long one scrape attempt may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Extra attempts after a failed one, by default.
pub const DEFAULT_RETRIES: u32 = 1;

/// Where a device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `tcp://host:port`: a raw byte stream carrying the framed protocol (QEMU's
    /// `-serial tcp:...`, a serial-to-TCP bridge).
    Tcp(String),
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
            Address::Serial { path, baud } => write!(f, "{}@{baud}", path.display()),
        }
    }
}

impl Address {
    /// Reads `tcp://host:port`, `PATH` or `PATH@BAUD` (`baud` is used when the address has
    /// none).
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

/// Reads a `--device NAME=ADDRESS` flag.
pub fn parse_device_flag(s: &str, timeout: Duration, retries: u32) -> Result<Device, String> {
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
    /// The devices.
    #[serde(default)]
    pub devices: Vec<FileDevice>,
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
}

/// Reads and checks a config file. A device's own `timeout`/`retries` win; then `timeout`/
/// `retries` (the flags, when given); then the file's; then [`DEFAULT_TIMEOUT`] and
/// [`DEFAULT_RETRIES`].
pub fn load(
    path: &Path,
    timeout: Option<Duration>,
    retries: Option<u32>,
) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.into(),
        pos: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    parse(path, &text, timeout, retries)
}

/// [`load`] on text already read; `path` is only used in messages.
pub fn parse(
    path: &Path,
    text: &str,
    timeout: Option<Duration>,
    retries: Option<u32>,
) -> Result<Loaded, ConfigError> {
    let at = |s: &Spanned<String>, message: String| ConfigError {
        file: path.into(),
        pos: Some((s.referenced.line(), s.referenced.column())),
        message,
    };
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
                    "{message}: expected `listen`, `timeout`, `retries` and a `devices` list of \
                     `name`/`address` entries"
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
        devices.push(Device {
            name: d.name.value.clone(),
            address,
            timeout,
            retries: d.retries.unwrap_or(default_retries),
        });
    }
    Ok(Loaded {
        listen: file.listen,
        devices,
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
    }

    #[test]
    fn device_flags() {
        let d = parse_device_flag("a=tcp://localhost:1", DEFAULT_TIMEOUT, 3).unwrap();
        assert_eq!(d.name, "a");
        assert_eq!(d.retries, 3);
        assert!(parse_device_flag("tcp://localhost:1", DEFAULT_TIMEOUT, 0)
            .unwrap_err()
            .contains("NAME=ADDRESS"));
        assert!(parse_device_flag("a b=/dev/x", DEFAULT_TIMEOUT, 0)
            .unwrap_err()
            .contains("device name"));
    }

    #[test]
    fn file_with_defaults_and_overrides() {
        let text = "listen: 127.0.0.1:9110\ntimeout: 500ms\ndevices:\n  - name: a\n    address: tcp://127.0.0.1:4444\n  - name: b\n    address: /dev/ttyUSB0\n    baud: 9600\n    timeout: 3s\n    retries: 0\n";
        let l = parse(Path::new("g.yaml"), text, None, Some(2)).unwrap();
        assert_eq!(l.listen.as_deref(), Some("127.0.0.1:9110"));
        assert_eq!(l.devices[0].timeout, Duration::from_millis(500));
        assert_eq!(l.devices[0].retries, 2);
        let l = parse(
            Path::new("g.yaml"),
            text,
            Some(Duration::from_secs(9)),
            None,
        )
        .unwrap();
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
        let e = parse(Path::new("g.yaml"), text, None, None).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("g.yaml:3:"), "{s}");
        assert!(s.contains("tcp://HOST:PORT"), "{s}");

        let text = "devices:\n  - name: a\n    adress: tcp://h:1\n";
        let s = parse(Path::new("g.yaml"), text, None, None)
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:3:"), "{s}");
        assert!(s.contains("adress"), "{s}");

        let text =
            "devices:\n  - name: a\n    address: tcp://h:1\n  - name: a\n    address: tcp://h:2\n";
        let s = parse(Path::new("g.yaml"), text, None, None)
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:4:"), "{s}");
        assert!(s.contains("twice"), "{s}");

        let text = "timeout: soon\n";
        let s = parse(Path::new("g.yaml"), text, None, None)
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("g.yaml:1:"), "{s}");
        assert!(s.contains("500ms"), "{s}");
    }
}
