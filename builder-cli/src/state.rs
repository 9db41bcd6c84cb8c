//! Totals that outlive the process: the state file of a job, profile and instance.
//!
//! A one-shot `run-profile` process starts its counters and histograms where the last run of
//! the same job, profile and instance left them, so every sink (the exporter, `metrics.prom`,
//! the textfile, the Pushgateway) carries totals that only grow and `rate()`/`increase()` see
//! each run. The protocol, for runs that may overlap on one host:
//!
//! 1. At the start, the file is read under its lock; its totals are the run's *base* and are
//!    added to the fresh metrics.
//! 2. At the end of each run (also after SIGINT/SIGTERM, which end a run early), this run's
//!    *increments* (the metrics now, minus the base) are added to what the file holds *now*,
//!    under the lock, and the file is replaced atomically (a temporary file, fsync, rename,
//!    fsync of the directory). A run that overlapped this one and ended first is in the file
//!    by then: no increment is lost, none counted twice.
//! 3. The metrics then catch up with the file (the other runs' increments), and the new
//!    totals become the next run's base (`--repeat-every`).
//!
//! A process killed before step 2 leaves the file as it was: its run is not counted, and the
//! totals never go back. The file is JSON with a format name and a schema version (2 since
//! histograms keep their native buckets: schema, zero bucket and `[index, count]` pairs per
//! side; a version 1 file, without them, is read and its native buckets rebuilt from the
//! classic ones, each count in the native bucket of its classic bucket's upper bound, the
//! `+Inf` count in that of the last finite bound, so that count and buckets agree). A file
//! that cannot be read as a state file (torn by a disk error, edited by hand, something else
//! under that name) is moved aside to `<name>.unreadable-<unix time>` and the totals start
//! again at zero, with a new start time (`_created`): a warning says so on stderr and
//! `pipeline_state_resets_total{reason="unreadable"}` counts it. A state file of another
//! schema version, or of another job, is an error: nothing runs and nothing is changed.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::output::write_atomic;

/// The format name in every state file.
pub const FORMAT: &str = "builder_cli-state";
/// The schema version this builder_cli writes.
pub const VERSION: u32 = 2;
/// The oldest schema version it reads (version 1 has no native buckets).
const OLDEST: u32 = 1;

/// A series' identity: family name and label values, in the family's label order.
pub type Key = (String, Vec<String>);

/// A histogram's saved state: observations per bucket (not cumulative, `+Inf` last), their
/// sum, and their native buckets (absent in version 1 files).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hist {
    /// Observations per bucket, `+Inf` last.
    pub buckets: Vec<u64>,
    /// The sum of the observations.
    pub sum: f64,
    /// The same observations' native buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeHist>,
}

/// Native (exponential) buckets of a saved histogram: `[index, count]` per populated bucket of
/// each side at `schema`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NativeHist {
    /// The schema of the indices (-4..=8).
    pub schema: i8,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Positive buckets, ascending index.
    pub positive: Vec<(i32, u64)>,
    /// Negative buckets, ascending index.
    pub negative: Vec<(i32, u64)>,
}

impl NativeHist {
    /// The same buckets at `schema` (coarser or the same): index `k` goes to
    /// `((k - 1) >> (from - to)) + 1`, the bucket that holds it.
    pub fn at(&self, schema: i8) -> NativeHist {
        let shift = (self.schema - schema).max(0);
        let side = |b: &[(i32, u64)]| {
            let mut m: BTreeMap<i32, u64> = BTreeMap::new();
            for &(k, c) in b {
                *m.entry(((k - 1) >> shift) + 1).or_default() += c;
            }
            m.into_iter().collect()
        };
        NativeHist {
            schema: self.schema.min(schema),
            zero_count: self.zero_count,
            positive: side(&self.positive),
            negative: side(&self.negative),
        }
    }

    /// Bucket-wise `self op other`, both at the coarser of their schemas.
    fn zip(&self, other: &NativeHist, op: fn(u64, u64) -> u64) -> NativeHist {
        let schema = self.schema.min(other.schema);
        let (a, b) = (self.at(schema), other.at(schema));
        let side = |x: &[(i32, u64)], y: &[(i32, u64)]| {
            let mut m: BTreeMap<i32, u64> = x.iter().copied().collect();
            for &(k, c) in y {
                let e = m.entry(k).or_default();
                *e = op(*e, c);
            }
            m.into_iter().filter(|(_, c)| *c > 0).collect()
        };
        NativeHist {
            schema,
            zero_count: op(a.zero_count, b.zero_count),
            positive: side(&a.positive, &b.positive),
            negative: side(&a.negative, &b.negative),
        }
    }

    /// Native buckets rebuilt from classic ones (a version 1 file): each classic count in the
    /// native bucket at `schema` of its upper bound, `+Inf`'s in that of the last bound.
    pub fn from_classic(buckets: &[u64], bounds: &[f64], schema: i8) -> NativeHist {
        let mut m: BTreeMap<i32, u64> = BTreeMap::new();
        for (i, &c) in buckets.iter().enumerate() {
            let Some(&bound) = bounds.get(i).or(bounds.last()) else {
                continue;
            };
            if c > 0 {
                *m.entry(metrics_core::native_bucket_index(bound, schema))
                    .or_default() += c;
            }
        }
        NativeHist {
            schema,
            zero_count: 0,
            positive: m.into_iter().collect(),
            negative: Vec::new(),
        }
    }
}

/// `now - base` of two saved histograms' native buckets (the whole of `now` when `base` has
/// none).
fn native_since(now: &Option<NativeHist>, base: &Option<NativeHist>) -> Option<NativeHist> {
    match (now, base) {
        (Some(n), Some(b)) => Some(n.zip(b, u64::saturating_sub)),
        _ => now.clone(),
    }
}

/// Counters, histograms and gauges by series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Counter totals.
    pub counters: BTreeMap<Key, u64>,
    /// Histograms, all with the bounds of their family.
    pub histograms: BTreeMap<Key, Hist>,
    /// Gauges (last values).
    pub gauges: BTreeMap<Key, f64>,
}

impl Totals {
    /// What `self` (later) holds beyond `base` (earlier): counter and histogram increments,
    /// and the gauges whose value changed.
    pub fn since(&self, base: &Totals) -> Totals {
        let mut d = Totals::default();
        for (k, v) in &self.counters {
            let b = base.counters.get(k).copied().unwrap_or(0);
            d.counters.insert(k.clone(), v.saturating_sub(b));
        }
        for (k, h) in &self.histograms {
            let delta = match base.histograms.get(k) {
                Some(b) if b.buckets.len() == h.buckets.len() => Hist {
                    buckets: h
                        .buckets
                        .iter()
                        .zip(&b.buckets)
                        .map(|(a, b)| a.saturating_sub(*b))
                        .collect(),
                    sum: h.sum - b.sum,
                    native: native_since(&h.native, &b.native),
                },
                _ => h.clone(),
            };
            d.histograms.insert(k.clone(), delta);
        }
        for (k, v) in &self.gauges {
            if base.gauges.get(k).map(|b| b.to_bits()) != Some(v.to_bits()) {
                d.gauges.insert(k.clone(), *v);
            }
        }
        d
    }

    /// Adds `delta`'s counters and histograms to these, and takes its gauges.
    pub fn add(&mut self, delta: &Totals) {
        for (k, v) in &delta.counters {
            let c = self.counters.entry(k.clone()).or_insert(0);
            *c = c.saturating_add(*v);
        }
        for (k, h) in &delta.histograms {
            match self.histograms.get_mut(k) {
                Some(mine) if mine.buckets.len() == h.buckets.len() => {
                    for (a, b) in mine.buckets.iter_mut().zip(&h.buckets) {
                        *a = a.saturating_add(*b);
                    }
                    mine.sum += h.sum;
                    mine.native = match (&mine.native, &h.native) {
                        (Some(a), Some(b)) => Some(a.zip(b, u64::saturating_add)),
                        (a, b) => a.clone().or_else(|| b.clone()),
                    };
                }
                _ => {
                    self.histograms.insert(k.clone(), h.clone());
                }
            }
        }
        for (k, v) in &delta.gauges {
            self.gauges.insert(k.clone(), *v);
        }
    }
}

/// One series in the file.
#[derive(Debug, Serialize, Deserialize)]
struct Series<V> {
    family: String,
    labels: Vec<String>,
    #[serde(flatten)]
    value: V,
}

#[derive(Debug, Serialize, Deserialize)]
struct CounterValue {
    value: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct GaugeValue {
    value: f64,
}

/// The file's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    job: String,
    profile: String,
    instance: String,
    /// When these totals started (Unix seconds): the `_created` of every counter and
    /// histogram.
    created: f64,
    /// When the file was last written (Unix seconds).
    updated: f64,
    /// Runs counted in these totals.
    runs: u64,
    /// The run that wrote the file last.
    last_run_id: String,
    /// `pipeline_step_duration_seconds`' bucket bounds when the file was written.
    duration_bounds: Vec<f64>,
    counters: Vec<Series<CounterValue>>,
    histograms: Vec<Series<Hist>>,
    gauges: Vec<Series<GaugeValue>>,
}

/// Where a job's state lives, and whose it is.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    lock: PathBuf,
    job: String,
    profile: String,
    instance: String,
    bounds: Vec<f64>,
}

/// What the file held when read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The totals.
    pub totals: Totals,
    /// When they started (Unix seconds).
    pub created: f64,
    /// Runs counted so far.
    pub runs: u64,
    /// Set when an unreadable file was moved aside: what the warning says.
    pub reset: Option<String>,
    /// No file held these totals (none yet, or it was moved aside): they start now.
    pub new: bool,
}

/// The default state directory: `$XDG_STATE_HOME/builder_cli`, else
/// `~/.local/state/builder_cli`.
pub fn default_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".local").join("state"))
    })?;
    Some(base.join("builder_cli"))
}

/// A name part safe in a file name: `[A-Za-z0-9._-]` kept, every other byte `%XX` (so
/// `+`, the separator, never appears inside a part).
fn file_part(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    if o.starts_with('.') {
        o.replace_range(0..1, "%2E");
    }
    o
}

/// Unix seconds now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl StateFile {
    /// The state file of `job`/`profile`/`instance` in `dir` (created if missing).
    pub fn new(
        dir: &Path,
        job: &str,
        profile: &str,
        instance: &str,
        duration_bounds: &[f64],
    ) -> Result<StateFile> {
        fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the state directory {} (set --state-dir to a writable \
                 directory, or --no-state)",
                dir.display()
            )
        })?;
        let stem = format!(
            "{}+{}+{}",
            file_part(job),
            file_part(profile),
            file_part(instance)
        );
        Ok(StateFile {
            path: dir.join(format!("{stem}.json")),
            lock: dir.join(format!("{stem}.lock")),
            job: job.into(),
            profile: profile.into(),
            instance: instance.into(),
            bounds: duration_bounds.to_vec(),
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Holds the file's lock until dropped (an exclusive `flock` on `<name>.lock`: released
    /// by the kernel if the process dies).
    fn locked(&self) -> Result<File> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .with_context(|| format!("cannot open the state lock {}", self.lock.display()))?;
        f.lock()
            .with_context(|| format!("cannot lock {}", self.lock.display()))?;
        Ok(f)
    }

    /// Reads the totals (zero, starting now, when there is no file yet).
    pub fn load(&self) -> Result<Loaded> {
        let _lock = self.locked()?;
        self.read()
    }

    fn read(&self) -> Result<Loaded> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    totals: Totals::default(),
                    created: now(),
                    runs: 0,
                    reset: None,
                    new: true,
                })
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the state file {}", self.path.display()))
            }
        };
        match self.parse(&bytes)? {
            Ok(loaded) => Ok(loaded),
            Err(why) => {
                let aside = self
                    .path
                    .with_extension(format!("json.unreadable-{}", now() as u64));
                fs::rename(&self.path, &aside).with_context(|| {
                    format!(
                        "the state file {} is not readable ({why}) and cannot be moved aside",
                        self.path.display()
                    )
                })?;
                Ok(Loaded {
                    totals: Totals::default(),
                    created: now(),
                    runs: 0,
                    reset: Some(format!(
                        "the state file {} was not readable ({why}); moved it to {} and started \
                         the totals again from zero (pipeline_state_resets_total counts this)",
                        self.path.display(),
                        aside.display()
                    )),
                    new: true,
                })
            }
        }
    }

    /// `Ok(Ok(_))` a state file of this job; `Ok(Err(why))` not a readable state file (to be
    /// moved aside); `Err` a state file this run must not touch.
    fn parse(&self, bytes: &[u8]) -> Result<std::result::Result<Loaded, String>> {
        // The header first: a file of another version may not match this one's fields.
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let header: Header = match serde_json::from_slice(bytes) {
            Ok(h) => h,
            Err(e) => return Ok(Err(format!("not a builder_cli state file: {e}"))),
        };
        if header.format != FORMAT {
            return Ok(Err(format!(
                "its format is {:?}, not {FORMAT:?}",
                header.format
            )));
        }
        if !(OLDEST..=VERSION).contains(&header.version) {
            bail!(
                "the state file {} has schema version {}; this builder_cli reads versions \
                 {OLDEST} to {VERSION}: run the builder_cli that wrote it, or point --state-dir \
                 elsewhere (or --no-state) to start new totals",
                self.path.display(),
                header.version
            );
        }
        let doc: Document = match serde_json::from_slice(bytes) {
            Ok(d) => d,
            Err(e) => {
                return Ok(Err(format!(
                    "not a valid version {} state file: {e}",
                    header.version
                )))
            }
        };
        if (
            doc.job.as_str(),
            doc.profile.as_str(),
            doc.instance.as_str(),
        ) != (
            self.job.as_str(),
            self.profile.as_str(),
            self.instance.as_str(),
        ) {
            bail!(
                "the state file {} belongs to job {:?}, profile {:?}, instance {:?}, not to \
                 this run's {:?}, {:?}, {:?}: move it away or use another --state-dir",
                self.path.display(),
                doc.job,
                doc.profile,
                doc.instance,
                self.job,
                self.profile,
                self.instance
            );
        }
        if doc.duration_bounds != self.bounds {
            bail!(
                "the state file {} holds pipeline_step_duration_seconds with other bucket bounds \
                 ({:?}) than this builder_cli's: point --state-dir elsewhere (or --no-state) to \
                 start new totals",
                self.path.display(),
                doc.duration_bounds
            );
        }
        let mut totals = Totals::default();
        for s in doc.counters {
            totals.counters.insert((s.family, s.labels), s.value.value);
        }
        for s in doc.histograms {
            if s.value.buckets.len() != self.bounds.len() + 1 {
                return Ok(Err(format!(
                    "a histogram of {} has {} buckets, not {}",
                    s.family,
                    s.value.buckets.len(),
                    self.bounds.len() + 1
                )));
            }
            if let Some(n) = &s.value.native {
                let total: u64 = s.value.buckets.iter().sum();
                let native: u64 = n.positive.iter().chain(&n.negative).map(|b| b.1).sum();
                if !(-4..=8).contains(&n.schema) || native + n.zero_count > total {
                    return Ok(Err(format!(
                        "a histogram of {} has native buckets of schema {} counting {} \
                         observations of its {total}",
                        s.family,
                        n.schema,
                        native + n.zero_count
                    )));
                }
            }
            totals.histograms.insert((s.family, s.labels), s.value);
        }
        for s in doc.gauges {
            totals.gauges.insert((s.family, s.labels), s.value.value);
        }
        Ok(Ok(Loaded {
            totals,
            created: doc.created,
            runs: doc.runs,
            reset: None,
            new: false,
        }))
    }

    /// Adds a run's `delta` to what the file holds now, under the lock, and writes it back
    /// atomically; `started` is the start time of totals that no file held yet (the one the
    /// run's metrics showed). Returns the new totals (what the file now holds).
    pub fn commit(&self, delta: &Totals, run_id: &str, started: f64) -> Result<Loaded> {
        let _lock = self.locked()?;
        let mut now_held = self.read()?;
        if now_held.new {
            now_held.created = started;
        }
        if let Some(said) = &now_held.reset {
            // Moved aside between this run's start and its end: say so here too.
            eprintln!("builder_cli: warning: {said}");
        }
        now_held.totals.add(delta);
        now_held.runs += 1;
        let t = &now_held.totals;
        let doc = Document {
            format: FORMAT.into(),
            version: VERSION,
            job: self.job.clone(),
            profile: self.profile.clone(),
            instance: self.instance.clone(),
            created: now_held.created,
            updated: now(),
            runs: now_held.runs,
            last_run_id: run_id.into(),
            duration_bounds: self.bounds.clone(),
            counters: t
                .counters
                .iter()
                .map(|((f, l), v)| Series {
                    family: f.clone(),
                    labels: l.clone(),
                    value: CounterValue { value: *v },
                })
                .collect(),
            histograms: t
                .histograms
                .iter()
                .map(|((f, l), h)| Series {
                    family: f.clone(),
                    labels: l.clone(),
                    value: h.clone(),
                })
                .collect(),
            gauges: t
                .gauges
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|((f, l), v)| Series {
                    family: f.clone(),
                    labels: l.clone(),
                    value: GaugeValue { value: *v },
                })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&doc)?;
        write_atomic(&self.path, &json)
            .with_context(|| format!("cannot write the state file {}", self.path.display()))?;
        Ok(now_held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(f: &str, l: &[&str]) -> Key {
        (f.into(), l.iter().map(|s| s.to_string()).collect())
    }

    fn sample() -> Totals {
        let mut t = Totals::default();
        t.counters.insert(key("c", &["a"]), 3);
        t.histograms.insert(
            key("h", &["a"]),
            Hist {
                buckets: vec![1, 0, 2],
                sum: 7.5,
                native: Some(NativeHist {
                    schema: 3,
                    zero_count: 0,
                    positive: vec![(0, 1), (8, 2)],
                    negative: vec![],
                }),
            },
        );
        t.gauges.insert(key("g", &["a"]), 2.0);
        t
    }

    #[test]
    fn since_and_add_are_inverse() {
        let base = sample();
        let mut later = base.clone();
        *later.counters.get_mut(&key("c", &["a"])).unwrap() += 2;
        later.counters.insert(key("c", &["b"]), 1);
        later.histograms.get_mut(&key("h", &["a"])).unwrap().buckets[1] += 4;
        later.gauges.insert(key("g", &["b"]), 9.0);
        let d = later.since(&base);
        assert_eq!(d.counters[&key("c", &["a"])], 2);
        assert_eq!(d.counters[&key("c", &["b"])], 1);
        assert_eq!(d.histograms[&key("h", &["a"])].buckets, [0, 4, 0]);
        // An unchanged gauge is not part of the run's changes.
        assert!(!d.gauges.contains_key(&key("g", &["a"])));
        let mut again = base.clone();
        again.add(&d);
        assert_eq!(again, later);
    }

    #[test]
    fn native_buckets_subtract_and_add_across_schemas() {
        let base = sample();
        let mut later = base.clone();
        let h = later.histograms.get_mut(&key("h", &["a"])).unwrap();
        h.buckets[2] += 3;
        // The histogram went down to schema 2 meanwhile: (0,1),(8,2) are (0,1),(4,2) there.
        h.native = Some(NativeHist {
            schema: 2,
            zero_count: 1,
            positive: vec![(0, 1), (4, 3), (9, 1)],
            negative: vec![(1, 1)],
        });
        let d = later.since(&base);
        let want = NativeHist {
            schema: 2,
            zero_count: 1,
            positive: vec![(4, 1), (9, 1)],
            negative: vec![(1, 1)],
        };
        assert_eq!(d.histograms[&key("h", &["a"])].native, Some(want));
        let mut again = base.clone();
        again.add(&d);
        assert_eq!(again, later);
        // Coarsening follows Prometheus' bucket nesting.
        assert_eq!(
            NativeHist {
                schema: 1,
                zero_count: 0,
                positive: vec![(-1, 1), (0, 1), (3, 1)],
                negative: vec![]
            }
            .at(-1)
            .positive,
            [(0, 2), (1, 1)]
        );
    }

    #[test]
    fn a_version_1_file_is_read_and_written_back_as_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path(), "j", "p", "h", &[1.0, 2.0]).unwrap();
        let v1 = r#"{"format": "builder_cli-state", "version": 1, "job": "j", "profile": "p",
            "instance": "h", "created": 5.0, "updated": 6.0, "runs": 4, "last_run_id": "r",
            "duration_bounds": [1.0, 2.0], "counters": [],
            "histograms": [{"family": "h", "labels": ["a"], "buckets": [1, 0, 2], "sum": 7.5}],
            "gauges": []}"#;
        fs::write(f.path(), v1).unwrap();
        let l = f.load().unwrap();
        assert_eq!((l.runs, l.created), (4, 5.0));
        let h = &l.totals.histograms[&key("h", &["a"])];
        assert_eq!(
            (h.buckets.as_slice(), h.sum, &h.native),
            (&[1, 0, 2][..], 7.5, &None)
        );
        // Rebuilt: le=1 in the bucket of 1.0, +Inf in that of the last bound, 2.0.
        let rebuilt = NativeHist::from_classic(&h.buckets, &[1.0, 2.0], 3);
        assert_eq!(rebuilt.positive, [(0, 1), (8, 2)]);
        let after = f.commit(&sample(), "r2", 1.0).unwrap();
        assert_eq!(
            after.totals.histograms[&key("h", &["a"])].buckets,
            [2, 0, 4]
        );
        let text = fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("\"version\": 2"), "{text}");
        assert!(text.contains("\"native\""), "{text}");
        assert_eq!(f.load().unwrap().totals, after.totals);
        // Native buckets that count more than the histogram: not a readable file.
        let bad = text.replace("\"zero_count\": 0", "\"zero_count\": 99");
        fs::write(f.path(), bad).unwrap();
        let said = f.load().unwrap().reset.unwrap();
        assert!(
            said.contains("native buckets of schema 3 counting 102"),
            "{said}"
        );
    }

    #[test]
    fn commit_adds_to_what_the_file_holds_now() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path(), "j/1", "p", "host", &[1.0, 2.0]).unwrap();
        assert!(f.path().file_name().unwrap().to_str().unwrap() == "j%2F1+p+host.json");
        let first = f.load().unwrap();
        assert_eq!(first.runs, 0);
        assert_eq!(first.totals, Totals::default());
        // Two runs that both started from zero: both count.
        f.commit(&sample(), "r1", first.created).unwrap();
        let after = f.commit(&sample(), "r2", 1.0).unwrap();
        assert_eq!(after.runs, 2);
        assert_eq!(after.totals.counters[&key("c", &["a"])], 6);
        assert_eq!(
            after.totals.histograms[&key("h", &["a"])].buckets,
            [2, 0, 4]
        );
        let read = f.load().unwrap();
        assert_eq!(read.totals, after.totals);
        assert_eq!(read.created, first.created);
    }

    #[test]
    fn an_unreadable_file_is_moved_aside_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path(), "j", "p", "h", &[1.0]).unwrap();
        fs::write(f.path(), b"{\"format\": \"builder_cli-state\", \"vers").unwrap();
        let l = f.load().unwrap();
        let said = l.reset.unwrap();
        assert!(said.contains("moved it to"), "{said}");
        assert!(!f.path().exists());
        let aside: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains(".unreadable-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
    }

    #[test]
    fn another_version_or_job_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path(), "j", "p", "h", &[1.0]).unwrap();
        let newer = br#"{"format": "builder_cli-state", "version": 3}"#;
        fs::write(f.path(), newer).unwrap();
        let e = format!("{:#}", f.load().unwrap_err());
        assert!(e.contains("schema version 3"), "{e}");
        assert_eq!(fs::read(f.path()).unwrap(), newer);
        f.commit(&Totals::default(), "r", 1.0).unwrap_err();
        assert_eq!(fs::read(f.path()).unwrap(), newer);
        // Another job's file under this name (renamed by hand).
        fs::remove_file(f.path()).unwrap();
        let other = StateFile::new(dir.path(), "other", "p", "h", &[1.0]).unwrap();
        other.commit(&sample(), "r", 1.0).unwrap();
        fs::rename(other.path(), f.path()).unwrap();
        let e = format!("{:#}", f.load().unwrap_err());
        assert!(e.contains("belongs to job \"other\""), "{e}");
    }
}
