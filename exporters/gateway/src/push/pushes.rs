//! The push endpoint's state shared by the HTTP workers: the [`Store`] behind a lock, saved
//! to the state file before any push is answered 2xx, and the gateway's own push metrics.
//!
//! Saving is a group commit: a worker applies its push under the store's lock (quick), then
//! asks for the state up to its push to be saved. One save at a time writes the whole state
//! as it is then, so pushes applied meanwhile by other workers are saved by the same write
//! and their workers answer without writing again. `/metrics` serves the last saved state,
//! never totals that a crash could still take back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics_core::Kind;

use super::body::{self, BodyFormat};
use super::outcome::{PushResult, Refusal};
use super::path;
use super::state_file::{self, StateFileError};
use super::store::{Applied, Store, StoreLimits};
use crate::family::OwnedFamily;

/// Default for [`PushConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How the endpoint is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushConfig {
    /// The state file.
    pub state_file: PathBuf,
    /// The largest body read, in bytes.
    pub max_body_bytes: usize,
    /// The store's limits.
    pub limits: StoreLimits,
}

/// The answer to a push request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushAnswer {
    /// What became of it (counted).
    pub result: PushResult,
    /// The HTTP status.
    pub status: u16,
    /// The text body.
    pub body: String,
}

impl PushAnswer {
    fn refused(r: Refusal) -> PushAnswer {
        PushAnswer {
            result: r.result,
            status: r.result.status(),
            body: format!("{}\n", r.message),
        }
    }
}

struct Live {
    store: Store,
    /// Grows with every change of `store`.
    version: u64,
}

struct Saved {
    version: u64,
    families: Arc<Vec<OwnedFamily>>,
    groups: usize,
}

/// The push endpoint's state.
pub struct Pushes {
    live: Mutex<Live>,
    saved: Mutex<Saved>,
    file: PathBuf,
    max_body_bytes: usize,
    requests: [AtomicU64; PushResult::ALL.len()],
    expired: AtomicU64,
}

impl std::fmt::Debug for Pushes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushes").field("file", &self.file).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent: every change is checked before it is made.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Pushes {
    /// Loads the state file (none yet: no totals) and writes it back at once, so that a file
    /// the gateway cannot write is an error at start, not at the first push.
    pub fn open(config: &PushConfig) -> Result<Pushes, StateFileError> {
        let file = config.state_file.clone();
        let err = |message: String| StateFileError {
            file: file.clone(),
            message,
        };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                err(format!(
                    "cannot create its directory {} ({e}): choose another --push-state-file",
                    dir.display()
                ))
            })?;
        }
        let mut store = state_file::load(&file, config.limits)?;
        let expired = store.expire(now_ms());
        state_file::save(&file, &state_file::to_bytes(&store)).map_err(|e| {
            err(format!(
                "cannot write it ({e}): choose a writable --push-state-file"
            ))
        })?;
        let saved = Saved {
            version: 0,
            families: Arc::new(store.families()),
            groups: store.groups().len(),
        };
        Ok(Pushes {
            live: Mutex::new(Live { store, version: 0 }),
            saved: Mutex::new(saved),
            file,
            max_body_bytes: config.max_body_bytes,
            requests: Default::default(),
            expired: AtomicU64::new(expired as u64),
        })
    }

    /// The state file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The largest body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Counts a request answered with `result`.
    pub fn count(&self, result: PushResult) {
        self.requests[result.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of requests answered with `result`.
    pub fn requests(&self, result: PushResult) -> u64 {
        self.requests[result.index()].load(Ordering::Relaxed)
    }

    /// A refusal answered before the body was read (size, method, auth), counted.
    pub fn refuse(&self, result: PushResult, message: impl Into<String>) -> PushAnswer {
        self.count(result);
        PushAnswer::refused(Refusal::new(result, message))
    }

    /// Handles a push to `path` whose body is `body`, counted. Answered 200 only once the
    /// new totals are in the state file.
    pub fn push(
        &self,
        path: &str,
        content_type: Option<&str>,
        key: Option<&str>,
        body: &[u8],
    ) -> PushAnswer {
        let answer = self.handle(path, content_type, key, body);
        self.count(answer.result);
        answer
    }

    fn handle(
        &self,
        path: &str,
        content_type: Option<&str>,
        key: Option<&str>,
        body: &[u8],
    ) -> PushAnswer {
        let grouping = match path::parse(path) {
            Ok(g) => g,
            Err(e) => {
                return PushAnswer {
                    result: PushResult::BadPath,
                    status: e.status,
                    body: format!("{}\n", e.message),
                }
            }
        };
        if body.len() > self.max_body_bytes {
            return PushAnswer::refused(Refusal::new(PushResult::TooLarge, self.too_large()));
        }
        let push = match BodyFormat::from_content_type(content_type)
            .and_then(|format| body::parse(body, format))
        {
            Ok(p) => p,
            Err(r) => return PushAnswer::refused(r),
        };
        let (applied, version) = {
            let mut live = lock(&self.live);
            let now = now_ms();
            self.expire_locked(&mut live, now);
            match live.store.apply(&grouping, &push, key, now) {
                Ok(Applied::Counted) => {
                    live.version += 1;
                    (Applied::Counted, live.version)
                }
                Ok(Applied::AlreadyCounted) => (Applied::AlreadyCounted, live.version),
                Err(r) => return PushAnswer::refused(r),
            }
        };
        // A duplicate is answered once what it duplicates is saved, too.
        if let Err(e) = self.save_up_to(version) {
            return PushAnswer {
                result: PushResult::NotSaved,
                status: 500,
                body: format!(
                    "cannot save the push state file {} ({e}): the push is held in memory but \
                     not saved; retry it with the same Idempotency-Key once the disk is fixed\n",
                    self.file.display()
                ),
            };
        }
        match applied {
            Applied::Counted => PushAnswer {
                result: PushResult::Ok,
                status: 200,
                body: format!("counted for {grouping}\n"),
            },
            Applied::AlreadyCounted => PushAnswer {
                result: PushResult::Duplicate,
                status: 200,
                body: "already counted\n".into(),
            },
        }
    }

    /// The message of a 413.
    pub fn too_large(&self) -> String {
        format!(
            "the body is larger than --push-max-body-size ({} bytes): push fewer series per \
             request, or raise the limit",
            self.max_body_bytes
        )
    }

    fn expire_locked(&self, live: &mut Live, now: u64) {
        let n = live.store.expire(now);
        if n > 0 {
            live.version += 1;
            self.expired.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Saves the state if the saved one is older than `version`.
    fn save_up_to(&self, version: u64) -> std::io::Result<()> {
        let mut saved = lock(&self.saved);
        if saved.version >= version {
            return Ok(());
        }
        let (bytes, families, groups, v) = {
            let live = lock(&self.live);
            (
                state_file::to_bytes(&live.store),
                live.store.families(),
                live.store.groups().len(),
                live.version,
            )
        };
        state_file::save(&self.file, &bytes)?;
        *saved = Saved {
            version: v,
            families: Arc::new(families),
            groups,
        };
        Ok(())
    }

    /// What `/metrics` serves of the pushes: the gateway's own push metrics, and the saved
    /// totals. Groups past their TTL are forgotten (and the state file saved) first.
    pub fn families(&self) -> (Vec<OwnedFamily>, Arc<Vec<OwnedFamily>>) {
        let version = {
            let mut live = lock(&self.live);
            let before = live.version;
            self.expire_locked(&mut live, now_ms());
            (live.version != before).then_some(live.version)
        };
        if let Some(v) = version {
            // Not saved now: served anyway; the next push saves it, or a restart expires
            // the same groups again.
            let _ = self.save_up_to(v);
        }
        let saved = lock(&self.saved);
        (self.own_families(saved.groups), saved.families.clone())
    }

    fn own_families(&self, groups: usize) -> Vec<OwnedFamily> {
        let mut requests = OwnedFamily::new(
            "gateway_push_requests",
            "Requests to the push endpoint by result: ok, duplicate (Idempotency-Key already \
             applied), or why it was refused.",
            Kind::Counter,
        )
        .labels(&["result"]);
        for r in PushResult::ALL {
            requests.push(&[r.label()], self.requests(r) as f64);
        }
        let mut group_count = OwnedFamily::new(
            "gateway_push_groups",
            "Groups (job and grouping labels) whose pushed totals the gateway serves.",
            Kind::Gauge,
        );
        group_count.push(&[], groups as f64);
        let mut expired = OwnedFamily::new(
            "gateway_push_groups_expired",
            "Groups forgotten because nobody pushed to them for --push-group-ttl.",
            Kind::Counter,
        );
        expired.push(&[], self.expired.load(Ordering::Relaxed) as f64);
        vec![requests, group_count, expired]
    }
}
