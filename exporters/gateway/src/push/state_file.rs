//! The push state file: every group's totals and recent idempotency keys, as JSON, written
//! so that a crash at any point leaves either the old file or the new one whole (a temporary
//! file beside it, `fsync`, `rename`, `fsync` of the directory).
//!
//! Floats are written as strings in Rust's shortest round-trip form (`"0.1"`, `"NaN"`,
//! `"inf"`): JSON numbers cannot hold a gauge's NaN or infinities, and a total must come back
//! bit for bit.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::body::PushKind;
use super::path::Grouping;
use super::store::{Group, GroupFamily, Store, StoreLimits, Total};

/// The `format` member every state file holds.
pub const FORMAT: &str = "metrics-gateway push state";
/// The version of the layout this gateway writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedFile {
    format: String,
    version: u32,
    groups: Vec<SavedGroup>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedGroup {
    labels: Vec<(String, String)>,
    last_push_unix_ms: u64,
    idempotency_keys: Vec<String>,
    families: Vec<SavedFamily>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedFamily {
    name: String,
    kind: String,
    help: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    bounds: Vec<String>,
    series: Vec<SavedSeries>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSeries {
    labels: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buckets: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sum: Option<String>,
}

fn float(v: f64) -> String {
    format!("{v:?}")
}

/// The state of `store` as the bytes of a state file.
pub fn to_bytes(store: &Store) -> Vec<u8> {
    let groups = store
        .groups()
        .iter()
        .map(|(grouping, g)| SavedGroup {
            labels: grouping.labels.clone(),
            last_push_unix_ms: g.last_push_ms,
            idempotency_keys: g.keys.iter().cloned().collect(),
            families: g
                .families
                .iter()
                .map(|(name, f)| SavedFamily {
                    name: name.clone(),
                    kind: f.kind.as_str().into(),
                    help: f.help.clone(),
                    bounds: f.bounds.iter().map(|b| float(*b)).collect(),
                    series: f
                        .series
                        .iter()
                        .map(|(labels, t)| match t {
                            Total::Number(v) => SavedSeries {
                                labels: labels.clone(),
                                value: Some(float(*v)),
                                buckets: None,
                                sum: None,
                            },
                            Total::Histogram { buckets, sum } => SavedSeries {
                                labels: labels.clone(),
                                value: None,
                                buckets: Some(buckets.clone()),
                                sum: Some(float(*sum)),
                            },
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let file = SavedFile {
        format: FORMAT.into(),
        version: VERSION,
        groups,
    };
    // Plain data with string keys: serializing cannot fail.
    let mut out = serde_json::to_vec(&file).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Why a state file cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub struct StateFileError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for StateFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "push state file {}: {}",
            self.file.display(),
            self.message
        )
    }
}

impl std::error::Error for StateFileError {}

const WHAT_TO_DO: &str = "the gateway does not start on totals it cannot trust: restore the \
                          file from a backup, or move it away to start with no pushed totals \
                          (the totals it held are then lost, and Prometheus sees the counters \
                          reset)";

/// A store from the bytes of a state file.
pub fn from_bytes(bytes: &[u8], limits: StoreLimits) -> Result<Store, String> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<serde_json::Value>,
    }
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| format!("it is not whole JSON ({e}), it may be torn or truncated"))?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(format!(
            "it is not a metrics-gateway push state file (its `format` is {:?}, not {FORMAT:?})",
            header.format
        ));
    }
    if header.version != Some(VERSION.into()) {
        let version = header
            .version
            .map_or_else(|| "none".to_owned(), |v| v.to_string());
        return Err(format!(
            "it is of version {version}, this gateway reads version {VERSION} (written by \
             another version of metrics-gateway: run that one, or convert the file)"
        ));
    }
    let file: SavedFile =
        serde_json::from_slice(bytes).map_err(|e| format!("its content is not valid: {e}"))?;
    let number = |s: &str| -> Result<f64, String> {
        s.parse().map_err(|_| format!("`{s}` is not a number"))
    };
    let mut groups = BTreeMap::new();
    for g in file.groups {
        let grouping = Grouping::new(g.labels).map_err(|e| e.message)?;
        let mut families = BTreeMap::new();
        for f in g.families {
            let kind = PushKind::parse(&f.kind)
                .ok_or_else(|| format!("family `{}` has the unknown type {:?}", f.name, f.kind))?;
            let bounds = f
                .bounds
                .iter()
                .map(|b| number(b))
                .collect::<Result<Vec<_>, _>>()?;
            let mut series = BTreeMap::new();
            for s in f.series {
                let total = match (kind, s.value, s.buckets, s.sum) {
                    (PushKind::Histogram, None, Some(buckets), Some(sum)) => Total::Histogram {
                        buckets,
                        sum: number(&sum)?,
                    },
                    (PushKind::Counter | PushKind::Gauge, Some(v), None, None) => {
                        Total::Number(number(&v)?)
                    }
                    _ => return Err(format!("a series of `{}` has the wrong fields", f.name)),
                };
                series.insert(s.labels, total);
            }
            families.insert(
                f.name,
                GroupFamily {
                    kind,
                    help: f.help,
                    bounds,
                    series,
                },
            );
        }
        let group = Group {
            families,
            keys: VecDeque::from(g.idempotency_keys),
            last_push_ms: g.last_push_unix_ms,
        };
        if groups.insert(grouping.clone(), group).is_some() {
            return Err(format!("the group {grouping} is there twice"));
        }
    }
    Store::from_groups(limits, groups)
}

/// The store saved in `file`; an empty store when there is no such file (the first start).
pub fn load(file: &Path, limits: StoreLimits) -> Result<Store, StateFileError> {
    let err = |message: String| StateFileError {
        file: file.to_path_buf(),
        message,
    };
    let bytes = match fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Store::new(limits)),
        Err(e) => {
            return Err(err(format!(
                "cannot read it ({e}): give a readable file with --push-state-file"
            )))
        }
    };
    from_bytes(&bytes, limits).map_err(|m| err(format!("{m}; {WHAT_TO_DO}")))
}

/// Replaces `file` with `bytes` durably ([`metrics_exporter_push::atomic_file::write`]):
/// written to a temporary file beside it, synced, renamed over `file`, and the directory
/// synced, so that after a crash at any point `file` is either the old content or the new
/// one, whole.
pub fn save(file: &Path, bytes: &[u8]) -> io::Result<()> {
    metrics_exporter_push::atomic_file::write(file, bytes).map_err(|e| e.source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::body::{parse, BodyFormat};
    use crate::push::path;

    #[test]
    fn round_trips_bit_for_bit() {
        let mut store = Store::new(StoreLimits::default());
        let body = b"# TYPE c counter\nc_total{a=\"x\"} 0.1\n# TYPE g gauge\ng NaN\n\
                     # TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1e300\n";
        let push = parse(body, BodyFormat::Text).unwrap();
        let grouping = path::parse("/push/job/j/i@base64/YS9i").unwrap();
        store.apply(&grouping, &push, Some("k1"), 5).unwrap();
        store.apply(&grouping, &push, Some("k2"), 6).unwrap();
        let bytes = to_bytes(&store);
        let back = from_bytes(&bytes, StoreLimits::default()).unwrap();
        assert_eq!(to_bytes(&back), bytes);
        assert_eq!(back.groups().len(), 1);
        let g = back.groups().values().next().unwrap();
        assert_eq!(g.keys, ["k1", "k2"]);
        assert_eq!(
            g.families["c"].series.values().next(),
            Some(&Total::Number(0.2))
        );
    }

    #[test]
    fn torn_and_foreign_files_are_refused() {
        let limits = StoreLimits::default();
        let mut store = Store::new(limits);
        let push = parse(b"# TYPE c counter\nc_total 1\n", BodyFormat::Text).unwrap();
        store
            .apply(&path::parse("/push/job/j").unwrap(), &push, None, 1)
            .unwrap();
        let bytes = to_bytes(&store);
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 3] {
            let e = from_bytes(&bytes[..cut], limits).unwrap_err();
            assert!(e.contains("torn"), "{cut}: {e}");
        }
        let other = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        assert!(from_bytes(other.as_bytes(), limits)
            .unwrap_err()
            .contains("version 2"));
        assert!(from_bytes(b"{}", limits)
            .unwrap_err()
            .contains("not a metrics-gateway push state file"));
    }
}
