//! Durable, atomic replacement of a file: temporary file, fsync, rename, directory fsync.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The step of [`write()`] that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating the temporary file (the file's directory is missing or not writable).
    Create,
    /// Writing or syncing the temporary file (disk full, I/O error).
    Write,
    /// Renaming the temporary file over the file.
    Rename,
    /// Opening or syncing the directory after the rename: the new content is in place, but
    /// the rename may not survive a power loss.
    SyncDir,
}

/// Why [`write()`] failed: the step, the path it was working on and the OS error. Its
/// `Display` says the step and the path (`cannot create <temporary file>`); the OS error is
/// its [`source`](std::error::Error::source), as with `anyhow`'s `context`.
#[derive(Debug)]
pub struct WriteError {
    /// The step that failed.
    pub step: Step,
    /// The temporary file ([`Step::Create`], [`Step::Write`]), the file ([`Step::Rename`]) or
    /// the directory ([`Step::SyncDir`]).
    pub path: PathBuf,
    /// The error the OS gave.
    pub source: io::Error,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.step {
            Step::Create => "cannot create",
            Step::Write => "cannot write",
            Step::Rename => "cannot rename to",
            Step::SyncDir => "cannot sync the directory",
        };
        write!(f, "{what} {}", self.path.display())
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary file [`write()`] uses for `path`: `.<name>.tmp-<pid>` in the same directory.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}", std::process::id()));
    parent_dir(path).join(name)
}

/// Replaces `path` with `bytes` so that after a crash at any point `path` holds either its old
/// content (or does not exist, if it did not) or `bytes`, whole: `bytes` are written to
/// [`temp_path`], synced, renamed over `path`, and the directory is synced.
///
/// A temporary file a killed writer left is truncated and reused by a writer with the same
/// process id, never read.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let tmp = temp_path(path);
    let err = |step, path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { step, path, source }
    };
    let mut f = File::create(&tmp).map_err(err(Step::Create, &tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(err(Step::Write, &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(err(Step::Rename, path))?;
    let dir = parent_dir(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err(Step::SyncDir, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        write(&file, b"first").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"first");
        write(&file, b"second, longer").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"second, longer");
        write(&file, b"3").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"3");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        write(&file, b"old, whole").unwrap();
        // What a writer killed after writing (part of) the temporary file but before the
        // rename leaves behind.
        let tmp = temp_path(&file);
        fs::write(&tmp, b"new, torn").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"old, whole");
        // The next write replaces the leftover and the file, whole.
        write(&file, b"new").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        assert!(!tmp.exists());
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_names_the_step() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the way: the temporary file is written, the rename fails.
        let file = dir.path().join("taken");
        fs::create_dir(&file).unwrap();
        fs::write(file.join("inside"), b"kept").unwrap();
        let e = write(&file, b"new").unwrap_err();
        assert_eq!(e.step, Step::Rename, "{e}");
        assert!(e.to_string().starts_with("cannot rename to "), "{e}");
        assert_eq!(fs::read(file.join("inside")).unwrap(), b"kept");
    }

    #[test]
    fn a_missing_directory_fails_at_create_naming_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("missing").join("state.json");
        let e = write(&file, b"x").unwrap_err();
        assert_eq!(e.step, Step::Create);
        assert_eq!(e.path, temp_path(&file));
        assert_eq!(e.source.kind(), io::ErrorKind::NotFound);
        assert!(!file.exists());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("state.json")), Path::new("."));
        let tmp = temp_path(Path::new("state.json"));
        assert_eq!(tmp.parent(), Some(Path::new(".")));
        assert!(tmp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".state.json.tmp-"));
    }
}
