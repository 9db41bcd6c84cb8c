//! Merging devices' families into one exposition, each series with a `device` label.

use std::collections::HashMap;

use metrics_core::{names_clash, Kind};

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
/// once; the first device's help and unit), whose label names are `device` and then every
/// label name any device used (a series without one gets an empty value, which Prometheus
/// reads as absent). A device family whose type differs from the first one's, whose name is
/// one of `own`'s, whose names the encoders reject, or whose sample names clash with another
/// family's (a gauge `x_total` beside a counter `x`, a `x_count` beside a histogram `x`) is
/// dropped and reported. Names are checked here, so the result always encodes, with one
/// `# TYPE` line per name and no series twice.
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
    for f in &out {
        index.insert(&f.name, usize::MAX);
    }
    // Every family kept so far, and whether it is one of `own`: a new name must not expose a
    // sample name one of them exposes.
    let mut kept: Vec<(&str, Kind, bool)> = out.iter().map(|f| (&*f.name, f.kind, true)).collect();
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
                Some(&i) => parts[i].push((device, f)),
                None => {
                    let clash = kept
                        .iter()
                        .find(|(name, kind, _)| names_clash(&f.name, f.kind, name, *kind));
                    match clash {
                        Some((_, _, true)) => {
                            drop(device, f, "its sample names are the gateway's own metric's")
                        }
                        Some(_) => drop(
                            device,
                            f,
                            "its sample names are another family's (e.g. `x_total` of a \
                             counter `x`, `x_count` of a histogram `x`)",
                        ),
                        None => {
                            kept.push((&f.name, f.kind, false));
                            index.insert(&f.name, parts.len());
                            parts.push(vec![(device, f)]);
                        }
                    }
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
            help: first.help.clone(),
            unit: first.unit.clone(),
            kind: first.kind,
            label_names,
            series: Vec::new(),
        };
        for (device, f) in p {
            for s in &f.series {
                let labels = merged
                    .label_names
                    .iter()
                    .map(|name| {
                        if &**name == DEVICE_LABEL {
                            return Box::from(device);
                        }
                        f.label_names
                            .iter()
                            .position(|n| relabel(n) == &**name)
                            .map_or_else(|| Box::from(""), |i| s.labels[i].clone())
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
