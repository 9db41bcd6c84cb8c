//! The pushed totals: per group (the grouping labels of the push path), its families, the
//! idempotency keys it applied last, and when it was pushed to last. [`Store::apply`] checks
//! a whole push against them before it changes anything, so a refused push stores nothing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::body::{show, Push, PushKind, PushValue};
use super::outcome::{PushResult, Refusal};
use super::path::Grouping;
use crate::family::{Hist, OwnedFamily, Series, SeriesValue};

/// How many idempotency keys a group remembers: the last 1024 it applied.
pub const KEYS_PER_GROUP: usize = 1024;
/// The longest idempotency key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Default for [`StoreLimits::max_series_per_group`].
pub const DEFAULT_MAX_SERIES_PER_GROUP: usize = 10_000;

/// What a store accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// The most series one group may hold, counted as Prometheus stores them (a counter or
    /// gauge is one, a histogram with N buckets, `+Inf` included, is N + 2).
    pub max_series_per_group: usize,
    /// Groups not pushed to for this many milliseconds are forgotten; `None`: never.
    pub ttl_ms: Option<u64>,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_series_per_group: DEFAULT_MAX_SERIES_PER_GROUP,
            ttl_ms: Some(7 * 24 * 3600 * 1000),
        }
    }
}

/// What an accepted push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Added to the group's totals.
    Counted,
    /// The group had applied a push with this idempotency key already: nothing added.
    AlreadyCounted,
}

/// A series' total.
#[derive(Clone, Debug, PartialEq)]
pub enum Total {
    /// A counter's total or a gauge's last value.
    Number(f64),
    /// Observations per bucket (not cumulative, `+Inf` last) and their sum; the bounds are
    /// the family's.
    Histogram {
        /// Per bucket, one more than the family's bounds.
        buckets: Vec<u64>,
        /// The sum.
        sum: f64,
    },
}

/// A family of one group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFamily {
    /// The type.
    pub kind: PushKind,
    /// The help text of the latest push that gave one.
    pub help: String,
    /// A histogram's finite bucket bounds (empty for the others).
    pub bounds: Vec<f64>,
    /// The series, by their labels (sorted by name, no empty value).
    pub series: BTreeMap<Vec<(String, String)>, Total>,
}

/// One group's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    /// Its families, by name.
    pub families: BTreeMap<String, GroupFamily>,
    /// The idempotency keys of the last pushes it applied, oldest first (at most
    /// [`KEYS_PER_GROUP`]).
    pub keys: VecDeque<String>,
    /// Unix time of the last push applied, in milliseconds.
    pub last_push_ms: u64,
}

impl Group {
    /// Its series, counted as in [`StoreLimits::max_series_per_group`].
    pub fn series_count(&self) -> usize {
        self.families
            .values()
            .map(|f| f.series.len() * cost(f.kind, f.bounds.len()))
            .sum()
    }
}

fn cost(kind: PushKind, bounds: usize) -> usize {
    match kind {
        PushKind::Histogram => bounds + 3,
        _ => 1,
    }
}

/// What every group's family of one name shares.
#[derive(Clone, Debug, Default)]
struct FamilyIndex {
    kind: Option<PushKind>,
    bounds: Vec<f64>,
    /// Every served label set (grouping and series labels, sorted, no empty value), so no
    /// two groups serve the same series.
    served: HashSet<Vec<(String, String)>>,
}

/// The pushed totals of every group.
#[derive(Clone, Debug, Default)]
pub struct Store {
    limits: StoreLimits,
    groups: BTreeMap<Grouping, Group>,
    /// Derived from `groups`: per family name.
    index: HashMap<String, FamilyIndex>,
    /// Derived from `groups`: every sample name a family writes, and that family's name.
    claimed: HashMap<String, String>,
}

impl PartialEq for Store {
    fn eq(&self, other: &Store) -> bool {
        self.limits == other.limits && self.groups == other.groups
    }
}

/// The names a family of `kind` called `name` writes (its own and its samples').
fn written_names(name: &str, kind: PushKind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        PushKind::Counter => &["", "_total"],
        PushKind::Histogram => &["", "_bucket", "_sum", "_count"],
        PushKind::Gauge => &[""],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}

/// The labels a series is served with: its own and the grouping's, sorted, none empty.
fn served(grouping: &Grouping, labels: &[(String, String)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = grouping
        .labels
        .iter()
        .chain(labels)
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    all.sort();
    all
}

/// The prefix of the gateway's own metrics, which pushes may not use.
pub const RESERVED_PREFIX: &str = "gateway_";

impl Store {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> Store {
        Store {
            limits,
            ..Store::default()
        }
    }

    /// A store holding `groups` (read back from a state file), checked as pushes are: `Err`
    /// says what is inconsistent.
    pub fn from_groups(
        limits: StoreLimits,
        groups: BTreeMap<Grouping, Group>,
    ) -> Result<Store, String> {
        let mut store = Store {
            limits,
            groups,
            ..Store::default()
        };
        store.reindex()?;
        Ok(store)
    }

    /// The groups.
    pub fn groups(&self) -> &BTreeMap<Grouping, Group> {
        &self.groups
    }

    /// The limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn reindex(&mut self) -> Result<(), String> {
        self.index.clear();
        self.claimed.clear();
        for (grouping, group) in &self.groups {
            for (name, f) in &group.families {
                if f.kind == PushKind::Histogram {
                    for t in f.series.values() {
                        match t {
                            Total::Histogram { buckets, .. }
                                if buckets.len() == f.bounds.len() + 1 => {}
                            _ => return Err(format!("histogram `{name}` of group {grouping} has a series whose buckets are not its bounds'")),
                        }
                    }
                } else if f.series.values().any(|t| !matches!(t, Total::Number(_))) {
                    return Err(format!(
                        "{} `{name}` of group {grouping} holds a histogram",
                        f.kind.as_str()
                    ));
                }
                let entry = self.index.entry(name.clone()).or_default();
                if entry.kind.is_some_and(|k| k != f.kind) {
                    return Err(format!("family `{name}` has two types"));
                }
                if entry.kind.is_some() && entry.bounds != f.bounds {
                    return Err(format!("histogram `{name}` has two sets of bounds"));
                }
                entry.kind = Some(f.kind);
                entry.bounds.clone_from(&f.bounds);
                for labels in f.series.keys() {
                    if !entry.served.insert(served(grouping, labels)) {
                        return Err(format!("family `{name}` has a series twice"));
                    }
                }
                for w in written_names(name, f.kind) {
                    if let Some(other) = self.claimed.insert(w.clone(), name.clone()) {
                        if other != *name {
                            return Err(format!(
                                "families `{other}` and `{name}` both write `{w}`"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Forgets the groups last pushed to more than the TTL before `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let Some(ttl) = self.limits.ttl_ms else {
            return 0;
        };
        let before = self.groups.len();
        self.groups
            .retain(|_, g| now_ms.saturating_sub(g.last_push_ms) <= ttl);
        let expired = before - self.groups.len();
        if expired > 0 {
            // What was left was consistent, so is what remains.
            let _ = self.reindex();
        }
        expired
    }

    /// Adds `push` to the group `grouping` at `now_ms`, unless the group applied a push with
    /// `key` already. The whole push is checked first: a refusal changes nothing.
    pub fn apply(
        &mut self,
        grouping: &Grouping,
        push: &Push,
        key: Option<&str>,
        now_ms: u64,
    ) -> Result<Applied, Refusal> {
        if let Some(key) = key {
            if key.len() > MAX_KEY_BYTES {
                return Err(Refusal::new(
                    PushResult::Malformed,
                    format!(
                        "the Idempotency-Key is {} bytes long: use at most {MAX_KEY_BYTES}",
                        key.len()
                    ),
                ));
            }
            if let Some(g) = self.groups.get(grouping) {
                if g.keys.iter().any(|k| k == key) {
                    return Ok(Applied::AlreadyCounted);
                }
            }
        }
        self.check(grouping, push)?;
        let group = self.groups.entry(grouping.clone()).or_default();
        for f in &push.families {
            let entry = group
                .families
                .entry(f.name.clone())
                .or_insert_with(|| GroupFamily {
                    kind: f.kind,
                    help: String::new(),
                    bounds: Vec::new(),
                    series: BTreeMap::new(),
                });
            if !f.help.is_empty() {
                entry.help.clone_from(&f.help);
            }
            let index = self.index.entry(f.name.clone()).or_default();
            index.kind = Some(f.kind);
            for w in written_names(&f.name, f.kind) {
                self.claimed.insert(w, f.name.clone());
            }
            for s in &f.series {
                index.served.insert(served(grouping, &s.labels));
                match &s.value {
                    PushValue::Number(v) => {
                        let total = entry
                            .series
                            .entry(s.labels.clone())
                            .or_insert(Total::Number(0.0));
                        if let Total::Number(t) = total {
                            *t = match f.kind {
                                PushKind::Counter => *t + v,
                                _ => *v,
                            };
                        }
                    }
                    PushValue::Histogram {
                        bounds,
                        buckets,
                        sum,
                    } => {
                        entry.bounds.clone_from(bounds);
                        index.bounds.clone_from(bounds);
                        let total =
                            entry
                                .series
                                .entry(s.labels.clone())
                                .or_insert(Total::Histogram {
                                    buckets: vec![0; buckets.len()],
                                    sum: 0.0,
                                });
                        if let Total::Histogram {
                            buckets: have,
                            sum: have_sum,
                        } = total
                        {
                            for (h, b) in have.iter_mut().zip(buckets) {
                                *h += b;
                            }
                            *have_sum += sum;
                        }
                    }
                }
            }
        }
        if let Some(key) = key {
            if group.keys.len() >= KEYS_PER_GROUP {
                group.keys.pop_front();
            }
            group.keys.push_back(key.to_owned());
        }
        group.last_push_ms = group.last_push_ms.max(now_ms);
        Ok(Applied::Counted)
    }

    /// Everything that can refuse `push` for `grouping`, checked without changing anything.
    fn check(&self, grouping: &Grouping, push: &Push) -> Result<(), Refusal> {
        let group = self.groups.get(grouping);
        let mut new_series = 0usize;
        let mut claimed_here: HashMap<String, &str> = HashMap::new();
        for f in &push.families {
            let conflict = |m: String| Err(Refusal::new(PushResult::TypeConflict, m));
            if f.name.starts_with(RESERVED_PREFIX) {
                return conflict(format!(
                    "family `{}`: names starting with `{RESERVED_PREFIX}` are the gateway's own \
                     metrics: rename it",
                    f.name
                ));
            }
            let index = self.index.get(&f.name);
            if let Some(kind) = index.and_then(|i| i.kind) {
                if kind != f.kind {
                    return conflict(format!(
                        "family `{}` is a {} here, but the gateway holds it as a {} (pushed \
                         before, by this group or another): push it with the type it has, or \
                         under another name",
                        f.name,
                        f.kind.as_str(),
                        kind.as_str()
                    ));
                }
            }
            for w in written_names(&f.name, f.kind) {
                let other = self
                    .claimed
                    .get(&w)
                    .map(String::as_str)
                    .or_else(|| claimed_here.get(&w).copied());
                if let Some(other) = other.filter(|o| *o != f.name) {
                    return conflict(format!(
                        "{} `{}` writes the sample name `{w}`, which family `{other}` writes \
                         already: rename one of them",
                        f.kind.as_str(),
                        f.name
                    ));
                }
                claimed_here.insert(w, &f.name);
            }
            let have = group.and_then(|g| g.families.get(&f.name));
            let mut bounds: Option<&[f64]> = index
                .filter(|i| i.kind == Some(PushKind::Histogram))
                .map(|i| i.bounds.as_slice());
            for s in &f.series {
                if let Some((name, _)) = s.labels.iter().find(|(n, _)| grouping.get(n).is_some()) {
                    return Err(Refusal::new(
                        PushResult::LabelClash,
                        format!(
                            "series {} has the label `{name}`, which is a grouping label of \
                             this push ({grouping}): remove it from the series or from the push \
                             path",
                            show(&f.name, &s.labels)
                        ),
                    ));
                }
                let existing = have.and_then(|h| h.series.get(&s.labels));
                if existing.is_none() {
                    new_series += match &s.value {
                        PushValue::Histogram { bounds, .. } => bounds.len() + 3,
                        PushValue::Number(_) => 1,
                    };
                    if index.is_some_and(|i| i.served.contains(&served(grouping, &s.labels))) {
                        return Err(Refusal::new(
                            PushResult::SeriesConflict,
                            format!(
                                "series {} with the grouping labels {grouping} is a series \
                                 another group serves already: give the series or the group a \
                                 label that tells them apart",
                                show(&f.name, &s.labels)
                            ),
                        ));
                    }
                }
                match (&s.value, existing) {
                    (PushValue::Number(v), Some(Total::Number(t)))
                        if f.kind == PushKind::Counter && !(t + v).is_finite() =>
                    {
                        return Err(Refusal::new(
                            PushResult::Malformed,
                            format!(
                                "counter {}: the total would overflow",
                                show(&f.name, &s.labels)
                            ),
                        ));
                    }
                    (PushValue::Histogram { bounds: b, .. }, _) => {
                        if let Some(want) = bounds {
                            if want != b.as_slice() {
                                return Err(Refusal::new(
                                    PushResult::BucketMismatch,
                                    format!(
                                        "histogram {} has the bucket bounds {b:?}, but the \
                                         family has {want:?}: push the same buckets (or another \
                                         family name)",
                                        show(&f.name, &s.labels)
                                    ),
                                ));
                            }
                        }
                        bounds = Some(b);
                        if let (
                            PushValue::Histogram { buckets, sum, .. },
                            Some(Total::Histogram {
                                buckets: have,
                                sum: have_sum,
                            }),
                        ) = (&s.value, existing)
                        {
                            let total: Option<u64> = have
                                .iter()
                                .chain(buckets)
                                .try_fold(0u64, |a, b| a.checked_add(*b));
                            if total.is_none() || !(have_sum + sum).is_finite() {
                                return Err(Refusal::new(
                                    PushResult::Malformed,
                                    format!(
                                        "histogram {}: the totals would overflow",
                                        show(&f.name, &s.labels)
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let now = group.map_or(0, Group::series_count);
        let max = self.limits.max_series_per_group;
        if now.saturating_add(new_series) > max {
            return Err(Refusal::new(
                PushResult::TooManySeries,
                format!(
                    "the group {grouping} would hold {} series (it holds {now}; a histogram \
                     counts its buckets + 2), more than --push-max-series-per-group {max}: push \
                     fewer series or label values, or raise the limit",
                    now.saturating_add(new_series)
                ),
            ));
        }
        Ok(())
    }

    /// The totals as families to serve, by name: each series with its group's grouping labels
    /// (`job` first), the families of every group merged (HELP and TYPE once).
    pub fn families(&self) -> Vec<OwnedFamily> {
        let mut by_name: BTreeMap<&str, Vec<(&Grouping, &GroupFamily)>> = BTreeMap::new();
        for (grouping, group) in &self.groups {
            for (name, f) in &group.families {
                by_name.entry(name).or_default().push((grouping, f));
            }
        }
        let mut out = Vec::with_capacity(by_name.len());
        for (name, parts) in by_name {
            let first = parts[0].1;
            let mut label_names: Vec<Box<str>> = Vec::new();
            let mut add = |n: &str| {
                if !label_names.iter().any(|x| &**x == n) {
                    label_names.push(n.into());
                }
            };
            for (g, _) in &parts {
                g.labels.iter().for_each(|(n, _)| add(n));
            }
            for (_, f) in &parts {
                f.series.keys().flatten().for_each(|(n, _)| add(n));
            }
            let mut family = OwnedFamily::new(
                name,
                parts
                    .iter()
                    .map(|(_, f)| &f.help)
                    .find(|h| !h.is_empty())
                    .cloned()
                    .unwrap_or_default(),
                first.kind.core(),
            );
            for (g, f) in &parts {
                for (labels, total) in &f.series {
                    let values = label_names
                        .iter()
                        .map(|n| {
                            g.get(n)
                                .or_else(|| {
                                    labels
                                        .iter()
                                        .find(|(k, _)| k == &**n)
                                        .map(|(_, v)| v.as_str())
                                })
                                .unwrap_or("")
                                .into()
                        })
                        .collect();
                    let value = match total {
                        Total::Number(v) => SeriesValue::Number(*v),
                        Total::Histogram { buckets, sum } => SeriesValue::Histogram(Hist {
                            bounds: f.bounds.clone(),
                            buckets: buckets.clone(),
                            sum: *sum,
                        }),
                    };
                    family.series.push(Series {
                        labels: values,
                        value,
                    });
                }
            }
            family.label_names = label_names;
            out.push(family);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::body::{parse, BodyFormat};
    use crate::push::path;

    fn push(text: &str) -> Push {
        parse(text.as_bytes(), BodyFormat::Text).unwrap()
    }

    fn total(store: &Store, group: &str, family: &str) -> Option<Total> {
        let g = path::parse(group).unwrap();
        store
            .groups()
            .get(&g)?
            .families
            .get(family)?
            .series
            .values()
            .next()
            .cloned()
    }

    #[test]
    fn keys_are_remembered_up_to_the_bound_oldest_forgotten_first() {
        let mut store = Store::new(StoreLimits::default());
        let g = path::parse("/push/job/ci").unwrap();
        let p = push("# TYPE c counter\nc_total 1\n");
        for i in 0..=KEYS_PER_GROUP {
            assert_eq!(
                store.apply(&g, &p, Some(&format!("k{i}")), 1),
                Ok(Applied::Counted)
            );
        }
        let last = format!("k{KEYS_PER_GROUP}");
        assert_eq!(
            store.apply(&g, &p, Some(&last), 1),
            Ok(Applied::AlreadyCounted)
        );
        assert_eq!(store.groups()[&g].keys.len(), KEYS_PER_GROUP);
        // k0 was the oldest: forgotten, so it counts again.
        assert_eq!(store.apply(&g, &p, Some("k0"), 1), Ok(Applied::Counted));
        let n = KEYS_PER_GROUP as f64 + 2.0;
        assert_eq!(total(&store, "/push/job/ci", "c"), Some(Total::Number(n)));
    }

    #[test]
    fn a_refused_push_changes_nothing_and_conflicts_span_groups() {
        let mut store = Store::new(StoreLimits {
            max_series_per_group: 8,
            ttl_ms: None,
        });
        let a = path::parse("/push/job/a").unwrap();
        let b = path::parse("/push/job/b").unwrap();
        let ab = path::parse("/push/job/a/x/1").unwrap();
        store
            .apply(&a, &push("# TYPE c counter\nc_total{x=\"1\"} 1e308\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"), None, 1)
            .unwrap();
        let before = store.clone();
        for (group, text, result) in [
            (&b, "# TYPE c gauge\nc 1\n", PushResult::TypeConflict),
            (&b, "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n", PushResult::BucketMismatch),
            (&b, "# TYPE h_sum gauge\nh_sum 1\n", PushResult::TypeConflict),
            // {job="a",x="1"} is group a's series c{x="1"} already.
            (&ab, "# TYPE c counter\nc_total 1\n", PushResult::SeriesConflict),
            (&a, "# TYPE c counter\nc_total{x=\"2\"} 1\n# TYPE d counter\nd_total{x=\"2\"} 1\nd_total{x=\"3\"} 1\nd_total{x=\"4\"} 1\n", PushResult::TooManySeries),
            (&a, "# TYPE c counter\nc_total{x=\"1\"} 1e308\n", PushResult::Malformed),
        ] {
            let r = store.apply(group, &push(text), Some("key"), 2).unwrap_err();
            assert_eq!(r.result, result, "{text}: {r}");
            assert_eq!(store, before, "{text}");
            assert!(store.groups().values().all(|g| g.keys.is_empty()));
        }
    }

    #[test]
    fn groups_expire_after_the_ttl_only() {
        let mut store = Store::new(StoreLimits {
            max_series_per_group: 10,
            ttl_ms: Some(1000),
        });
        let p = push("# TYPE c counter\nc_total 1\n");
        store
            .apply(&path::parse("/push/job/old").unwrap(), &p, None, 1000)
            .unwrap();
        store
            .apply(&path::parse("/push/job/new").unwrap(), &p, None, 1500)
            .unwrap();
        assert_eq!(store.expire(2000), 0);
        assert_eq!(store.expire(2001), 1);
        assert_eq!(store.groups().len(), 1);
        assert_eq!(store.expire(u64::MAX), 1);
        assert!(store.families().is_empty());
        // The expired groups' names are free again: `c` may now be a gauge.
        let g = path::parse("/push/job/x").unwrap();
        assert_eq!(
            store.apply(&g, &push("# TYPE c gauge\nc 1\n"), None, 1),
            Ok(Applied::Counted)
        );
    }
}
