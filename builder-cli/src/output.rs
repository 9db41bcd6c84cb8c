//! The output directory: staged beside its final place, renamed into place at the end.
//!
//! A runner killed at any point (SIGKILL, a crash, power loss) leaves `--out` either as it was
//! or holding the whole new run: the staging directory is swapped with `--out` in one
//! `renameat2(RENAME_EXCHANGE)`, and every file is written to a temporary file, fsynced and
//! renamed. The staging directory itself holds a complete `run.json` from the start (a
//! checkpoint with status `INTERRUPTED`, rewritten as steps end), and is locked (`flock`)
//! while its runner lives; the next run into the same `--out` finds an unlocked one, says
//! so, and keeps it as `<out>.interrupted-<run id>` (see [`recover`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// An output directory being written.
#[derive(Debug)]
pub struct Staging {
    /// The final directory.
    pub target: PathBuf,
    /// Where files go until [`Staging::commit`].
    pub dir: PathBuf,
    /// The staging directory opened and `flock`ed while this runner lives: the next run
    /// tells a live staging directory from one an ended runner left behind.
    _lock: fs::File,
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
        fs::create_dir_all(&parent).with_context(|| {
            format!(
                "cannot create {}, the directory that holds the output directory {} (is a \
                 part of the path a file, read-only or not writable?)",
                parent.display(),
                target.display()
            )
        })?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        // Absolute: steps get it as BUILDER_OUT_DIR whatever their working directory.
        let dir = std::path::absolute(parent.join(format!(".{name}.tmp-{run_id}")))
            .context("cannot resolve the output directory")?;
        fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("cannot create the staging directory {}", dir.display()))?;
        let lock = fs::File::open(&dir)
            .and_then(|f| f.try_lock().map_err(std::io::Error::from).map(|()| f))
            .with_context(|| format!("cannot lock the staging directory {}", dir.display()))?;
        let staging = Staging {
            target: target.to_path_buf(),
            dir,
            _lock: lock,
        };
        // Fail before any step runs when the output cannot be written.
        staging
            .write(".probe", b"")
            .and_then(|()| fs::remove_file(staging.dir.join(".probe")).map_err(anyhow::Error::from))
            .with_context(|| {
                format!(
                    "the output directory cannot be written (staging in {})",
                    staging.dir.display()
                )
            })?;
        Ok(staging)
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
        if target.exists() && exchange(&dir, &target) {
            // `dir` now holds the earlier run.
            sync_parent(&target);
            let _ = fs::remove_dir_all(&dir);
            return Ok(target);
        }
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
        sync_parent(&target);
        if let Some(old) = old {
            let _ = fs::remove_dir_all(old);
        }
        Ok(target)
    }
}

/// Swaps `a` and `b` in one step; false where the file system cannot (the caller falls back
/// to two renames).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> bool {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE).is_ok()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> bool {
    false
}

/// The directory holding `path`.
fn parent_of(path: &Path) -> PathBuf {
    metrics_exporter_push::atomic_file::parent_dir(path).to_path_buf()
}

/// Makes a rename in `path`'s directory durable (best effort: not every file system can).
fn sync_parent(path: &Path) {
    if let Ok(d) = fs::File::open(parent_of(path)) {
        let _ = d.sync_all();
    }
}

/// Finds what an earlier runner killed while writing `target` left beside it, says what it
/// found (one line each), and keeps it: an unfinished staging directory becomes
/// `<target>.interrupted-<run id>`; an earlier output moved aside by a replacement that did
/// not finish is moved back when `target` is missing. A staging directory whose runner still
/// lives (it holds the lock) is left alone.
pub fn recover(target: &Path) -> Vec<String> {
    let parent = parent_of(target);
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(&parent) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    let mut said = Vec::new();
    for dir in found {
        let file_name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let id = file_name[prefix.len()..].to_string();
        if let Some(id) = id.strip_suffix(".old") {
            if !target.exists() && fs::rename(&dir, target).is_ok() {
                said.push(format!(
                    "found {}: the earlier output, moved aside by run {id} which was killed \
                     while replacing it; moved back to {}",
                    dir.display(),
                    target.display()
                ));
            } else if fs::remove_dir_all(&dir).is_ok() {
                said.push(format!(
                    "found {}: an earlier output already replaced (with --force); removed",
                    dir.display()
                ));
            }
            continue;
        }
        if !dir.is_dir() {
            continue;
        }
        let locked = fs::File::open(&dir).map(|f| f.try_lock().is_err());
        if locked.unwrap_or(true) {
            continue;
        }
        let what = match fs::read(dir.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<crate::manifest::Manifest>(&b).ok())
        {
            Some(m) => {
                let ended = m
                    .steps
                    .iter()
                    .filter(|s| s.status != crate::manifest::Status::Skipped)
                    .count();
                format!(
                    "run {} (status {} in its run.json, started {}, {ended} of {} steps ended or \
                     running)",
                    m.run_id,
                    m.status,
                    m.started_at,
                    m.steps.len()
                )
            }
            None => "a run killed before it wrote its first run.json".to_string(),
        };
        let keep = parent.join(format!("{name}.interrupted-{id}"));
        match fs::rename(&dir, &keep) {
            Ok(()) => said.push(format!(
                "found an interrupted earlier run in {}: {what}; kept as {}",
                dir.display(),
                keep.display()
            )),
            Err(e) => said.push(format!(
                "found an interrupted earlier run in {}: {what}; cannot keep it as {}: {e}",
                dir.display(),
                keep.display()
            )),
        }
    }
    said
}

/// Writes `path` through a temporary file in the same directory, fsynced, and a rename
/// ([`metrics_exporter_push::atomic_file::write`]); the directory's sync is best effort, as
/// in [`sync_parent`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use metrics_exporter_push::atomic_file::{self, Step};
    match atomic_file::write(path, bytes) {
        Err(e) if e.step != Step::SyncDir => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_moves_back_an_earlier_output_left_aside() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        // Killed between the two renames of the fallback: the earlier output is aside and
        // `out` is missing.
        let aside = dir.path().join(".out.tmp-RUN.old");
        fs::create_dir(&aside).unwrap();
        fs::write(aside.join("run.json"), "{}").unwrap();
        let said = recover(&target);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("moved back"), "{said:?}");
        assert_eq!(fs::read_to_string(target.join("run.json")).unwrap(), "{}");
        assert!(!aside.exists());
    }

    #[test]
    fn recover_leaves_a_live_runs_staging_alone_and_keeps_a_dead_ones() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let live = Staging::new(&target, "LIVE", false).unwrap();
        let dead = dir.path().join(".out.tmp-DEAD");
        fs::create_dir(&dead).unwrap();
        let said = recover(&target);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("a run killed before it wrote its first run.json")
                && said[0].contains("out.interrupted-DEAD"),
            "{said:?}"
        );
        assert!(live.dir.is_dir(), "the live staging directory was moved");
        assert!(dir.path().join("out.interrupted-DEAD").is_dir());
        // An uncommitted staging directory (an error, a panic) is removed with its runner's
        // Staging.
        let path = live.dir.clone();
        drop(live);
        assert!(!path.exists());
    }
}
