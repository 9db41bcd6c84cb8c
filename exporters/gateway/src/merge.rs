//! Merging devices' families into one exposition, each series with a `device` label.

use std::collections::HashMap;

use metrics_core::Kind;

use crate::family::{OwnedFamily, Series};

/// The label the gateway adds to every series.
pub const DEVICE_LABEL: &str = "device";
/// What a device's own `device` label is renamed to (as Prometheus does with `honor_labels:
/// false`).
pub const EXPORTED_DEVICE_LABEL: &str = "exported_device";

/// A family of one device that could not be merged, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The device.
    pub device: String,
    /// The family name.
    pub family: String,
    /// Why it was dropped.
    pub reason: &'static str,
}

/// Merges the families of several devices (`(device name, families)`, in order) after the
/// gateway's own families `own`. Families of the same name become one family (HELP and TYPE
/// once; the help and unit of the first device that gives one), whose label names are `device` and then every
/// label name any device used (a series without one gets an empty value, which Prometheus
/// reads as absent). A device family is dropped and reported when its type differs from the
/// first one's, when its name is one of `own`'s, when a sample name it would write is one
/// another family writes (a gauge `x_total` beside a counter `x`, a gauge `h_sum` beside a
/// histogram `h`), or when the encoders reject its names: the first family to claim a name
/// keeps it. Names are checked here, so the result always encodes, and parses back with
/// every sample name under one TYPE line, whatever the devices sent.
pub fn merge(
    own: Vec<OwnedFamily>,
    devices: &[(&str, &[OwnedFamily])],
) -> (Vec<OwnedFamily>, Vec<Dropped>) {
    let mut out = own;
    let own_count = out.len();
    let mut dropped = Vec::new();
    // Per merged family: the (device, family) parts.
    let mut parts: Vec<Vec<(&str, &OwnedFamily)>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    // Every name a family writes (its own, its samples') and the family that writes it.
    let mut claimed: HashMap<String, String> = HashMap::new();
    for f in &out {
        index.insert(&f.name, usize::MAX);
        for name in written_names(f) {
            claimed.insert(name, f.name.clone());
        }
    }
    let mut drop = |device: &str, f: &OwnedFamily, reason| {
        dropped.push(Dropped {
            device: device.to_owned(),
            family: f.name.clone(),
            reason,
        });
    };
    for &(device, families) in devices {
        for f in families {
            let clash = f.label_names.iter().any(|n| &**n == EXPORTED_DEVICE_LABEL)
                && f.label_names.iter().any(|n| &**n == DEVICE_LABEL);
            if clash || !f.is_valid() {
                drop(device, f, "its metric or label names are not valid");
                continue;
            }
            match index.get(f.name.as_str()) {
                Some(&usize::MAX) => drop(device, f, "the gateway's own metric has that name"),
                Some(&i) if parts[i][0].1.kind != f.kind => {
                    drop(device, f, "another device exposes it with another type")
                }
                // Never from `admit`; a device's series must not be served twice.
                Some(&i) if parts[i].iter().any(|(d, _)| *d == device) => {
                    drop(device, f, "the device sent the family twice")
                }
                Some(&i) => parts[i].push((device, f)),
                None => {
                    let names = written_names(f);
                    if names.iter().any(|n| claimed.contains_key(n)) {
                        drop(device, f, "a sample name it writes is another family's");
                        continue;
                    }
                    for name in names {
                        claimed.insert(name, f.name.clone());
                    }
                    index.insert(&f.name, parts.len());
                    parts.push(vec![(device, f)]);
                }
            }
        }
    }
    for p in parts {
        let first = p[0].1;
        let mut label_names: Vec<Box<str>> = vec![DEVICE_LABEL.into()];
        for (_, f) in &p {
            for name in &f.label_names {
                let name = relabel(name);
                if !label_names.iter().any(|n| **n == *name) {
                    label_names.push(name.into());
                }
            }
        }
        let mut merged = OwnedFamily {
            name: first.name.clone(),
            help: p
                .iter()
                .map(|(_, f)| &f.help)
                .find(|h| !h.is_empty())
                .cloned()
                .unwrap_or_default(),
            unit: p.iter().find_map(|(_, f)| f.unit.clone()),
            kind: first.kind,
            label_names,
            series: Vec::new(),
        };
        for (device, f) in p {
            // Where each merged label's value is in this family's series (once per family).
            let from: Vec<Option<usize>> = merged
                .label_names
                .iter()
                .map(|name| f.label_names.iter().position(|n| relabel(n) == &**name))
                .collect();
            for s in &f.series {
                let labels = merged
                    .label_names
                    .iter()
                    .zip(&from)
                    .map(|(name, from)| match from {
                        _ if &**name == DEVICE_LABEL => Box::from(device),
                        Some(i) => s.labels[*i].clone(),
                        None => Box::from(""),
                    })
                    .collect();
                merged.series.push(Series {
                    labels,
                    value: s.value.clone(),
                });
            }
        }
        if !merged.series.is_empty() {
            out.push(merged);
        }
    }
    debug_assert!(out[..own_count].iter().all(OwnedFamily::is_valid));
    (out, dropped)
}

fn relabel(name: &str) -> &str {
    if name == DEVICE_LABEL {
        EXPORTED_DEVICE_LABEL
    } else {
        name
    }
}

/// The names `f` puts in an exposition, in either format: its family name, and its sample
/// names (`x_total` for a counter `x`; `h_bucket`, `h_sum`, `h_count` for a histogram `h`).
pub(crate) fn written_names(f: &OwnedFamily) -> Vec<String> {
    let suffixes: &[&str] = match f.kind {
        Kind::Counter => &["", "_total"],
        Kind::Histogram => &["", "_bucket", "_sum", "_count"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{}{s}", f.name)).collect()
}
