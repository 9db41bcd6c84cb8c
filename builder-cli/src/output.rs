//! The output directory: staged beside its final place, renamed into place at the end.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// An output directory being written.
#[derive(Debug)]
pub struct Staging {
    /// The final directory.
    pub target: PathBuf,
    /// Where files go until [`Staging::commit`].
    pub dir: PathBuf,
}

/// True when `dir` exists and holds anything.
fn holds_files(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Not committed (an error or a panic): leave nothing behind.
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Refuses `target` when it holds files and `force` is not given.
pub fn check_target(target: &Path, force: bool) -> Result<()> {
    if target.exists() && !target.is_dir() {
        bail!(
            "output path {} exists and is not a directory: choose another --out",
            target.display()
        );
    }
    if holds_files(target) && !force {
        bail!(
            "output directory {} already holds files (an earlier run?): choose another --out, \
             or pass --force to replace it",
            target.display()
        );
    }
    Ok(())
}

impl Staging {
    /// Checks `target` (an existing, non-empty directory needs `force`) and creates the
    /// staging directory `.<name>.tmp-<run id>` beside it.
    pub fn new(target: &Path, run_id: &str, force: bool) -> Result<Staging> {
        check_target(target, force)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        // Absolute: steps get it as BUILDER_OUT_DIR whatever their working directory.
        let dir = std::path::absolute(parent.join(format!(".{name}.tmp-{run_id}")))
            .context("cannot resolve the output directory")?;
        fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("cannot create the staging directory {}", dir.display()))?;
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
        })
    }

    /// Path of a step's log in the staging directory.
    pub fn log_path(&self, step: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{step}.log"))
    }

    /// Writes `name` in the staging directory.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.dir.join(name), bytes)
    }

    /// Moves the staging directory to the target, replacing what was there.
    pub fn commit(mut self) -> Result<PathBuf> {
        let dir = std::mem::take(&mut self.dir);
        let target = self.target.clone();
        let mut old = None;
        if target.exists() {
            let aside = dir.with_extension("old");
            if let Err(e) = fs::rename(&target, &aside) {
                let _ = fs::remove_dir_all(&dir);
                return Err(e).with_context(|| {
                    format!("cannot move the earlier {} aside", target.display())
                });
            }
            old = Some(aside);
        }
        if let Err(e) = fs::rename(&dir, &target) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e).with_context(|| {
                format!("cannot rename {} to {}", dir.display(), target.display())
            });
        }
        if let Some(old) = old {
            let _ = fs::remove_dir_all(old);
        }
        Ok(target)
    }
}

/// Writes `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename to {}", path.display()))?;
    Ok(())
}
