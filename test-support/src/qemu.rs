//! The firmware examples of `exporters/embedded/firmware` under QEMU, UART0 on a loopback TCP
//! socket (`-serial tcp:127.0.0.1:PORT,server=on,wait=on`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{workspace_root, Tool};

/// Builds one firmware example (release profile of the firmware workspace, `opt-level = "z"`)
/// for `target` and returns its ELF. Panics when the build fails.
pub fn firmware(package: &str, target: &str) -> PathBuf {
    let dir = workspace_root().join("exporters/embedded/firmware");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&dir)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            package,
            "--target",
            target,
        ])
        // The firmware workspace has its own target directory and flags.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {package} for {target} failed");
    let elf = dir
        .join("target")
        .join(target)
        .join("release")
        .join(package);
    assert!(elf.is_file(), "{} missing", elf.display());
    elf
}

/// `qemu-system-arm` running a firmware ELF on a machine, its UART0 on a TCP server socket on
/// 127.0.0.1 that waits for one client before the guest starts. Killed when dropped.
#[derive(Debug)]
pub struct Qemu {
    child: Child,
    /// The UART's TCP port.
    pub port: u16,
}

impl Qemu {
    /// Starts `machine` (`lm3s6965evb`, `microbit`, ...) with `elf`, UART0 on `port`.
    pub fn start(machine: &str, elf: &Path, port: u16) -> Qemu {
        let child = Tool::QEMU_ARM
            .command()
            .args(["-machine", machine, "-display", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("tcp:127.0.0.1:{port},server=on,wait=on"))
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", Tool::QEMU_ARM.unavailable(&e)));
        Qemu { child, port }
    }

    /// Kills QEMU now (as a crashed or unplugged device).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process, e.g. to see whether it exited.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}
