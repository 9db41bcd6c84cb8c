//! `/targets`: the devices for Prometheus' `http_sd_configs`, one target per device, so a
//! scrape job finds every device's `/probe?target=<device>` without a hand-written list.
//!
//! Each target's address is the device name (relabelled to `__param_target`, and
//! `__address__` to the gateway, as for the blackbox exporter: see the README); its labels
//! are `__meta_gateway_device`, `__meta_gateway_transport` (`tcp` or `serial`),
//! `__meta_gateway_address` (the configured address), `__meta_gateway_device_id` (the id the
//! device reported, once known: with `--device-id-label`) and the device's configured `labels:`,
//! which Prometheus attaches to every series of the target. (The device name is not a plain
//! label: `/probe` writes `device` on every series already.)

use serde_json::{json, Map, Value};

use crate::config::{Address, Device};

/// The `Content-Type` of [`http_sd`]'s answer.
pub const CONTENT_TYPE: &str = "application/json";

/// `devices` in the `http_sd_configs` format: `[{"targets": [...], "labels": {...}}]`, with
/// the ids they reported (`ids[i]` is `devices[i]`'s, if known).
pub fn http_sd(devices: &[Device], ids: &[Option<String>]) -> Vec<u8> {
    let groups: Vec<Value> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut labels = Map::new();
            labels.insert("__meta_gateway_device".into(), d.name.clone().into());
            labels.insert(
                "__meta_gateway_transport".into(),
                transport(&d.address).into(),
            );
            labels.insert(
                "__meta_gateway_address".into(),
                d.address.to_string().into(),
            );
            if let Some(Some(id)) = ids.get(i) {
                labels.insert("__meta_gateway_device_id".into(), id.clone().into());
            }
            for (name, value) in &d.labels {
                labels.insert(name.clone(), value.clone().into());
            }
            json!({ "targets": [d.name], "labels": labels })
        })
        .collect();
    let mut out = serde_json::to_vec(&groups).unwrap_or_else(|_| b"[]".to_vec());
    out.push(b'\n');
    out
}

/// `tcp` or `serial`.
fn transport(a: &Address) -> &'static str {
    match a {
        Address::Tcp(_) => "tcp",
        _ => "serial",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn one_target_per_device_with_its_labels() {
        let text = "devices:\n  - name: a\n    address: tcp://127.0.0.1:4444\n    labels: {site: plant-7, rack: r2}\n  - name: b\n    address: /dev/ttyACM0@9600\n";
        let l = parse(Path::new("g.yaml"), text, &Default::default()).unwrap();
        let ids = [Some("fw-1".to_owned())];
        let v: Value = serde_json::from_slice(&http_sd(&l.devices, &ids)).unwrap();
        assert_eq!(
            v,
            json!([
                {"targets": ["a"], "labels": {
                    "__meta_gateway_device": "a", "__meta_gateway_transport": "tcp",
                    "__meta_gateway_address": "tcp://127.0.0.1:4444",
                    "__meta_gateway_device_id": "fw-1",
                    "rack": "r2", "site": "plant-7"}},
                {"targets": ["b"], "labels": {
                    "__meta_gateway_device": "b", "__meta_gateway_transport": "serial",
                    "__meta_gateway_address": "/dev/ttyACM0@9600"}}
            ])
        );
    }

    #[test]
    fn configured_label_names_are_checked() {
        let text = "devices:\n  - name: a\n    address: tcp://h:1\n    labels: {__x: a}\n";
        let e = parse(Path::new("g.yaml"), text, &Default::default()).unwrap_err();
        assert!(
            e.to_string().contains("labels: `__x` is not a label name"),
            "{e}"
        );
    }
}
