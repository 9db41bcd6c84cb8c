//! Serial devices named by what they are: `usb:VID:PID[:SERIAL]` addresses, resolved to a
//! device node through sysfs each time the link is opened, so a device that comes back on
//! another path (`/dev/ttyACM1` instead of `/dev/ttyACM0`) is found again.
//!
//! For every `<sys>/class/tty/<name>` with a `device` link, the USB device is the nearest
//! directory above that link's target (the interface, or the port below it for
//! usb-serial adapters) holding `idVendor` and `idProduct` (and `serial`, when the device
//! reports one); its node is `<dev>/<name>`. The roots (`/sys`, `/dev`) are settable
//! ([`set_roots`], `--sys-root`, `--dev-root`): a container that mounts the host's at other
//! paths, or a test's fake tree of symlinks to ptys.
//! (`/dev/serial/by-id/...` paths need nothing of this: they are opened through their
//! symlink, which udev moves with the device.)

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A USB device's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbId {
    /// `idVendor`.
    pub vendor: u16,
    /// `idProduct`.
    pub product: u16,
    /// `serial`, when the address gives one.
    pub serial: Option<String>,
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usb:{:04x}:{:04x}", self.vendor, self.product)?;
        match &self.serial {
            Some(s) => write!(f, ":{s}"),
            None => Ok(()),
        }
    }
}

impl UsbId {
    /// Reads `VID:PID[:SERIAL]` (what follows `usb:`; ids in hex, e.g. `2e8a:000a`).
    pub fn parse(s: &str) -> Result<UsbId, String> {
        let mut parts = s.splitn(3, ':');
        let hex = |p: Option<&str>, what: &str| {
            p.filter(|p| (1..=4).contains(&p.len()))
                .and_then(|p| u16::from_str_radix(p, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "`usb:{s}`: the {what} id must be 1 to 4 hex digits: write \
                         usb:VID:PID[:SERIAL], e.g. usb:2e8a:000a:E66138935F2B3A21 (see \
                         `lsusb`)"
                    )
                })
        };
        let vendor = hex(parts.next(), "vendor")?;
        let product = hex(parts.next(), "product")?;
        let serial = match parts.next() {
            Some("") => return Err(format!("`usb:{s}`: the serial number after `:` is empty")),
            other => other.map(str::to_owned),
        };
        Ok(UsbId {
            vendor,
            product,
            serial,
        })
    }

    fn matches(&self, d: &Found) -> bool {
        self.vendor == d.vendor
            && self.product == d.product
            && self
                .serial
                .as_ref()
                .is_none_or(|s| d.serial.as_ref() == Some(s))
    }
}

/// Where sysfs and the device nodes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    /// sysfs, `/sys`.
    pub sys: PathBuf,
    /// The device nodes, `/dev`.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sys: "/sys".into(),
            dev: "/dev".into(),
        }
    }
}

static ROOTS: OnceLock<Roots> = OnceLock::new();

/// Sets the roots every later lookup uses (once, before the devices start; later calls are
/// ignored).
pub fn set_roots(roots: Roots) {
    let _ = ROOTS.set(roots);
}

/// The roots lookups use: those given to [`set_roots`], else `/sys` and `/dev`.
pub fn roots() -> &'static Roots {
    ROOTS.get_or_init(Roots::default)
}

/// A USB serial device found in sysfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Its tty name (`ttyACM0`).
    pub name: String,
    /// `idVendor`.
    pub vendor: u16,
    /// `idProduct`.
    pub product: u16,
    /// `serial`, if it has one.
    pub serial: Option<String>,
    /// Its device node.
    pub path: PathBuf,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:04x}:{:04x}", self.name, self.vendor, self.product)?;
        match &self.serial {
            Some(s) => write!(f, " serial {s})"),
            None => write!(f, ", no serial)"),
        }
    }
}

/// Every USB serial device under `roots`, by tty name.
pub fn scan(roots: &Roots) -> Vec<Found> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(roots.sys.join("class/tty")) else {
        return found;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(mut dir) = std::fs::canonicalize(e.path().join("device")) else {
            continue;
        };
        // The interface, or for usb-serial adapters the port below it: the USB device is
        // a few levels up.
        for _ in 0..4 {
            let read = |f: &str| {
                std::fs::read_to_string(dir.join(f))
                    .ok()
                    .map(|s| s.trim().to_owned())
            };
            let id = |f: &str| read(f).and_then(|v| u16::from_str_radix(&v, 16).ok());
            if let (Some(vendor), Some(product)) = (id("idVendor"), id("idProduct")) {
                found.push(Found {
                    path: roots.dev.join(&name),
                    name,
                    vendor,
                    product,
                    serial: read("serial").filter(|s| !s.is_empty()),
                });
                break;
            }
            if !dir.pop() {
                break;
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The device node of `id` now: exactly one USB serial device under `roots` must match. The
/// error says which id, and what was found instead.
pub fn resolve(id: &UsbId, roots: &Roots) -> io::Result<PathBuf> {
    let all = scan(roots);
    let matching: Vec<&Found> = all.iter().filter(|d| id.matches(d)).collect();
    let list = |v: &[&Found]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [one] => Ok(one.path.clone()),
        [] => {
            let there = if all.is_empty() {
                format!(
                    "there is none under {}",
                    roots.sys.join("class/tty").display()
                )
            } else {
                format!("found {}", list(&all.iter().collect::<Vec<_>>()))
            };
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no USB serial device with vendor {:04x}, product {:04x}{} is plugged in: \
                     {there}",
                    id.vendor,
                    id.product,
                    id.serial
                        .as_ref()
                        .map(|s| format!(" and serial {s}"))
                        .unwrap_or_default()
                ),
            ))
        }
        many => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} devices match {id}: {}; add the serial number to the address, e.g. \
                 {id}:{}",
                many.len(),
                list(many),
                many[0].serial.as_deref().unwrap_or("SERIAL")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print() {
        let id = UsbId::parse("2E8A:a:E661:3").unwrap();
        assert_eq!((id.vendor, id.product), (0x2e8a, 0x000a));
        assert_eq!(id.serial.as_deref(), Some("E661:3"));
        assert_eq!(id.to_string(), "usb:2e8a:000a:E661:3");
        assert_eq!(UsbId::parse("0403:6001").unwrap().serial, None);
        for bad in ["", "2e8a", "2e8a:", "xyz:1", "12345:1", "1:2:"] {
            assert!(UsbId::parse(bad).is_err(), "{bad}");
        }
    }
}
