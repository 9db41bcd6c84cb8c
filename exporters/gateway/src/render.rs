//! What the gateway serves for a set of device statuses: its own health metrics per device,
//! then every up device's families merged with a `device` label.

use metrics_core::negotiate::Negotiated;
use metrics_core::Kind;

use crate::family::{self, OwnedFamily, SeriesValue};

/// The gauge of families left out per device.
const DROPPED: &str = "gateway_device_dropped_families";
use crate::limits::{Counts, Reason};
use crate::merge::{self, Dropped};
use crate::poller::{Poller, Status};
use crate::push::Pushes;
use crate::remote_write::RemoteWrite;

/// The gateway's own metric families for `statuses`, each series labelled `device`.
pub fn health(statuses: &[(String, Status)]) -> Vec<OwnedFamily> {
    let fam = |name: &str, help: &str, kind| OwnedFamily::new(name, help, kind).labels(&["device"]);
    let mut up = fam(
        "gateway_device_up",
        "1 when the latest scrape of the device got a valid exposition, 0 otherwise.",
        Kind::Gauge,
    );
    let mut duration = fam(
        "gateway_device_scrape_duration_seconds",
        "How long the latest scrape of the device took, retries included.",
        Kind::Gauge,
    );
    let mut frames = fam(
        "gateway_device_frame_errors",
        "Frames from the device rejected (bad check, wrong sequence, noise).",
        Kind::Counter,
    );
    let mut failures = fam(
        "gateway_device_scrape_failures",
        "Scrapes of the device that failed after their retries.",
        Kind::Counter,
    );
    let mut last = fam(
        "gateway_device_last_success_timestamp_seconds",
        "Unix time of the last good scrape of the device.",
        Kind::Gauge,
    );
    let mut dropped = fam(
        DROPPED,
        "Families of the device's latest exposition left out: a type that differs from \
         another device's, a name the gateway uses, sample names another family exposes, or \
         invalid names.",
        Kind::Gauge,
    );
    let mut dropped_series = OwnedFamily::new(
        "gateway_device_dropped_series",
        "Series left out of the device's answers because of the gateway's limits: reason \
         series_limit (past max_series), label_bytes (past max_label_bytes), label_names \
         (past max_label_names); a histogram counts its buckets, sum and count.",
        Kind::Counter,
    )
    .labels(&["device", "reason"]);
    let mut rejected = OwnedFamily::new(
        "gateway_device_rejected_responses",
        "Answers of the device not served and counted as failed scrapes: reason too_large \
         (past max_response_bytes), not_utf8, invalid (not a text exposition).",
        Kind::Counter,
    )
    .labels(&["device", "reason"]);
    for (name, s) in statuses {
        per_reason(&mut dropped_series, name, &s.dropped_series);
        per_reason(&mut rejected, name, &s.rejected);
        let labels = [name.as_str()];
        up.push(&labels, if s.up { 1.0 } else { 0.0 });
        duration.push(&labels, s.duration);
        frames.push(&labels, s.frame_errors as f64);
        failures.push(&labels, s.failures as f64);
        if let Some(t) = s.last_success {
            last.push(&labels, t);
        }
        // Filled in by `families` once the merge has run.
        dropped.push(&labels, 0.0);
    }
    vec![
        up,
        duration,
        frames,
        failures,
        last,
        dropped,
        dropped_series,
        rejected,
    ]
}

/// A series per reason of `counts` in `family` (labels `device`, `reason`), 0 included: a
/// counter that exists from the start is one `rate()` and `increase()` see grow.
fn per_reason<R: Reason>(family: &mut OwnedFamily, device: &str, counts: &Counts<R>) {
    for r in R::ALL {
        family.push(&[device, r.label()], counts.get(*r) as f64);
    }
}

/// The families served for `statuses`: health first, then the families of the devices that
/// are up or within their stale time ([`Status::served`]: a device's last good exposition is
/// served for at most its `stale_after` once its scrapes fail, never longer as if fresh).
pub fn families(statuses: &[(String, Status)]) -> (Vec<OwnedFamily>, Vec<Dropped>) {
    families_with(statuses, Vec::new())
}

/// [`families`] with more of the gateway's own families after the health ones (their names
/// reserved against the devices' as the health ones are).
pub fn families_with(
    statuses: &[(String, Status)],
    own: Vec<OwnedFamily>,
) -> (Vec<OwnedFamily>, Vec<Dropped>) {
    let mut gateway = health(statuses);
    gateway.extend(own);
    let devices: Vec<(&str, &[OwnedFamily])> = statuses
        .iter()
        .filter(|(_, s)| s.served())
        .map(|(n, s)| (n.as_str(), s.families.as_slice()))
        .collect();
    let (mut families, dropped) = merge::merge(gateway, &devices);
    if let Some(f) = families.iter_mut().find(|f| f.name == DROPPED) {
        for s in &mut f.series {
            let n = dropped.iter().filter(|d| *d.device == *s.labels[0]).count();
            s.value = SeriesValue::Number(n as f64);
        }
    }
    (families, dropped)
}

/// [`families`] encoded as the scraper asked (`asked`: format and name escaping).
pub fn render(statuses: &[(String, Status)], asked: &Negotiated) -> Vec<u8> {
    // `merge` checks every name, so encoding cannot fail.
    encode_page(&families(statuses).0, asked)
}

/// What `/metrics` serves: the devices' page as [`families`] makes it (nothing when there are
/// no devices), then, with pushes, the gateway's own push metrics and the pushed totals. A
/// pushed family that would write a name the devices' page writes is left out (the devices
/// keep their names, as the device listed first does among devices).
pub fn page(
    statuses: &[(String, Status)],
    pushed: Option<(&[OwnedFamily], &[OwnedFamily])>,
) -> Vec<OwnedFamily> {
    page_with(statuses, Vec::new(), pushed)
}

/// [`page`] with more of the gateway's own families (Remote-Write's) after the devices'
/// health families, reserved against the devices' and the pushed names.
pub fn page_with(
    statuses: &[(String, Status)],
    own: Vec<OwnedFamily>,
    pushed: Option<(&[OwnedFamily], &[OwnedFamily])>,
) -> Vec<OwnedFamily> {
    let mut page = if statuses.is_empty() {
        own
    } else {
        families_with(statuses, own).0
    };
    if let Some((own, totals)) = pushed {
        page.extend(own.iter().cloned());
        let taken: std::collections::HashSet<String> =
            page.iter().flat_map(merge::written_names).collect();
        page.extend(
            totals
                .iter()
                .filter(|f| !merge::written_names(f).iter().any(|n| taken.contains(n)))
                .cloned(),
        );
    }
    page
}

/// The whole of `/metrics` now: scrapes every device of `poller`, then [`page_with`] with the
/// pushed totals and the Remote-Write metrics. Remote-Write sends this same page.
pub fn collect(
    poller: &Poller,
    pushes: Option<&Pushes>,
    remote_write: Option<&RemoteWrite>,
) -> Vec<OwnedFamily> {
    let all: Vec<usize> = (0..poller.names().count()).collect();
    let pushed = pushes.map(Pushes::families);
    let pushed = pushed
        .as_ref()
        .map(|(own, totals)| (own.as_slice(), totals.as_slice()));
    let own = remote_write.map(RemoteWrite::families).unwrap_or_default();
    page_with(&poller.scrape(&all), own, pushed)
}

/// [`page`] encoded as the scraper asked.
pub fn render_page(
    statuses: &[(String, Status)],
    pushed: Option<(&[OwnedFamily], &[OwnedFamily])>,
    asked: &Negotiated,
) -> Vec<u8> {
    encode_page(&page(statuses, pushed), asked)
}

/// A page encoded as the scraper asked: its format, names under its escaping scheme.
pub fn encode_page(families: &[OwnedFamily], asked: &Negotiated) -> Vec<u8> {
    let mut out = Vec::new();
    let options = metrics_core::encoding::Options::new().escaping(asked.escaping);
    if let Err(e) = family::encode_with(families, asked.format, options, &mut out) {
        out.clear();
        out.extend_from_slice(format!("# cannot encode: {e}\n").as_bytes());
    }
    out
}
