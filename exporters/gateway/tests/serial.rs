//! Serial devices named by what they are, not where they were plugged in: a `usb:VID:PID:SERIAL`
//! address resolved through sysfs, and a `/dev/serial/by-id/...` style link, each found again
//! after the device reappears under another `/dev/pts/N`. The sysfs and `/dev` trees are
//! fakes (`--sys-root`, `--dev-root`) whose links point at real ptys, served by the real
//! framed codec.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use metrics_gateway::usb::{self, Roots, UsbId};

const PICO: (u16, u16) = (0x2e8a, 0x000a);

/// A fake sysfs and `/dev` under `root`: each `(tty name, vendor, product, serial, node
/// target)` gets `sys/class/tty/<name>/device` linked to an interface directory below its USB
/// device (whose `idVendor`, `idProduct`, `serial` files it writes), and `dev/<name>` linked to
/// `target`. Earlier ttys are removed: a call is the state after a replug.
fn fake_tree(root: &Path, devices: &[(&str, u16, u16, Option<&str>, &Path)]) -> Roots {
    let roots = Roots {
        sys: root.join("sys"),
        dev: root.join("dev"),
    };
    let class = roots.sys.join("class/tty");
    let _ = std::fs::remove_dir_all(&class);
    std::fs::create_dir_all(&class).unwrap();
    std::fs::create_dir_all(&roots.dev).unwrap();
    for entry in std::fs::read_dir(&roots.dev).unwrap().flatten() {
        if entry.file_type().unwrap().is_symlink() {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    // A virtual console: no `device` link, not a USB device.
    std::fs::create_dir_all(class.join("tty0")).unwrap();
    for (name, vendor, product, serial, target) in devices {
        let usb = roots.sys.join(format!(
            "devices/usb1/{vendor:04x}-{product:04x}-{}",
            serial.unwrap_or("none")
        ));
        let interface = usb.join("1-1:1.0");
        std::fs::create_dir_all(&interface).unwrap();
        std::fs::write(usb.join("idVendor"), format!("{vendor:04x}\n")).unwrap();
        std::fs::write(usb.join("idProduct"), format!("{product:04x}\n")).unwrap();
        if let Some(s) = serial {
            std::fs::write(usb.join("serial"), format!("{s}\n")).unwrap();
        }
        std::fs::create_dir_all(class.join(name)).unwrap();
        symlink(&interface, class.join(name).join("device")).unwrap();
        symlink(target, roots.dev.join(name)).unwrap();
    }
    roots
}

/// Points the link `at` to `target`, atomically (as udev replaces a by-id link).
fn relink(at: &Path, target: &Path) {
    let tmp = at.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, at).unwrap();
}

#[test]
fn usb_ids_resolve_to_one_device_or_say_what_is_plugged_in() {
    let dir = tempfile::tempdir().unwrap();
    let null = Path::new("/dev/null");
    let roots = fake_tree(
        dir.path(),
        &[
            ("ttyACM0", PICO.0, PICO.1, Some("A1"), null),
            ("ttyACM1", PICO.0, PICO.1, Some("B2"), null),
            ("ttyUSB0", 0x0403, 0x6001, None, null),
        ],
    );
    let id = |s: &str| UsbId::parse(s).unwrap();
    assert_eq!(
        usb::resolve(&id("2e8a:a:B2"), &roots).unwrap(),
        roots.dev.join("ttyACM1")
    );
    assert_eq!(
        usb::resolve(&id("403:6001"), &roots).unwrap(),
        roots.dev.join("ttyUSB0")
    );
    let e = usb::resolve(&id("2e8a:a:C3"), &roots).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no USB serial device with vendor 2e8a, product 000a and serial C3 is plugged in: \
         found ttyACM0 (2e8a:000a serial A1), ttyACM1 (2e8a:000a serial B2), ttyUSB0 \
         (0403:6001, no serial)"
    );
    let e = usb::resolve(&id("2e8a:a"), &roots).unwrap_err().to_string();
    assert!(
        e.starts_with("2 devices match usb:2e8a:000a: ttyACM0 (2e8a:000a serial A1), ttyACM1")
            && e.ends_with("add the serial number to the address, e.g. usb:2e8a:000a:A1"),
        "{e}"
    );
    let none = Roots {
        sys: dir.path().join("empty"),
        dev: roots.dev.clone(),
    };
    let e = usb::resolve(&id("1:2"), &none).unwrap_err().to_string();
    assert!(
        e.ends_with(&format!(
            "there is none under {}",
            none.sys.join("class/tty").display()
        )),
        "{e}"
    );
}

/// Acceptance 3: a pty device found by a by-id style path, and one by its USB identity,
/// after each reappears under another `/dev/pts/N`.
#[test]
fn devices_by_usb_identity_and_by_id_link_are_found_again_on_another_pts() {
    let dir = tempfile::tempdir().unwrap();
    let by_id = dir.path().join("dev/serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let link = by_id.join("usb-Raspberry_Pi_Pico_E66138935F2B3A21-if00");

    // The Pico on `tty`, beside an FTDI adapter that is not it.
    let plugged = |tty: &str, pico: &Path| {
        let serial = Some("E66138935F2B3A21");
        let ftdi = (0x0403, 0x6001, Some("A10K"), Path::new("/dev/null"));
        fake_tree(
            dir.path(),
            &[
                (tty, PICO.0, PICO.1, serial, pico),
                ("ttyUSB0", ftdi.0, ftdi.1, ftdi.2, ftdi.3),
            ],
        );
    };
    let mut usb_dev = PtyDevice::start(device_registry("usb-1"));
    let mut by_id_dev = PtyDevice::start(device_registry("by-id-1"));
    plugged("ttyACM0", &usb_dev.path);
    relink(&link, &by_id_dev.path);
    let g = Gateway::start(&[
        "--sys-root",
        dir.path().join("sys").to_str().unwrap(),
        "--dev-root",
        dir.path().join("dev").to_str().unwrap(),
        "--device",
        "pico=usb:2e8a:000a:E66138935F2B3A21",
        "--device",
        &format!("byid={}", link.display()),
        "--device",
        "absent=usb:2e8a:000a:0000",
        "--timeout",
        "1s",
        "--stale-after",
        "0",
    ]);
    let board = |text: &str, device: &str, board: &str| {
        value(
            text,
            "board_info",
            &format!("device=\"{device}\",board=\"{board}\""),
        )
    };
    let (_, text) = get(&g.url("/metrics"));
    assert_eq!(board(&text, "pico", "usb-1"), Some(1.0), "{text}");
    assert_eq!(board(&text, "byid", "by-id-1"), Some(1.0), "{text}");
    assert_eq!(
        value(&text, "gateway_device_up", "device=\"absent\""),
        Some(0.0),
        "{text}"
    );
    let log = g.log_with("device `absent` is down");
    assert!(
        log.contains(
            "device `absent` is down: cannot open usb:2e8a:000a:0000@115200: no USB serial \
             device with vendor 2e8a, product 000a and serial 0000 is plugged in: found \
             ttyACM0 (2e8a:000a serial E66138935F2B3A21), ttyUSB0 (0403:6001 serial A10K)"
        ),
        "{log}"
    );
    let (old_usb, old_by_id) = (usb_dev.path.clone(), by_id_dev.path.clone());

    // Replugged: new ptys (made while the old ones exist, so their numbers differ), the
    // Pico now ttyACM1, the by-id link moved; then the old ones go.
    let usb_new = PtyDevice::start(device_registry("usb-2"));
    let by_id_new = PtyDevice::start(device_registry("by-id-2"));
    assert_ne!(usb_new.path, old_usb);
    assert_ne!(by_id_new.path, old_by_id);
    plugged("ttyACM1", &usb_new.path);
    relink(&link, &by_id_new.path);
    usb_dev.unplug();
    by_id_dev.unplug();

    let until = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let (_, text) = get(&g.url("/metrics"));
        if board(&text, "pico", "usb-2").is_some() && board(&text, "byid", "by-id-2").is_some() {
            break text;
        }
        assert!(
            Instant::now() < until,
            "not found again on {} and {}: {text}",
            usb_new.path.display(),
            by_id_new.path.display()
        );
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        value(&text, "gateway_device_up", "device=\"pico\""),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "gateway_device_up", "device=\"byid\""),
        Some(1.0)
    );
    eprintln!(
        "pico: {} then {}; byid: {} then {}",
        old_usb.display(),
        usb_new.path.display(),
        old_by_id.display(),
        by_id_new.path.display()
    );
}
