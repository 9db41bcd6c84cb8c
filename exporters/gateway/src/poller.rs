//! One thread per device: each scrape request wakes it, it asks the device (with a timeout
//! per attempt and retries), and keeps the result. Devices never wait for one another.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Device;
use crate::family::OwnedFamily;
use crate::limits::{
    self, Admitted, DropReason, Drops, Reason, RejectReason, Rejection, Rejections,
};
use crate::link::{self, DeadlineLink};
use crate::protocol::{Connect, ScrapeError, Session};

/// What the gateway knows about a device after its latest scrape.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// True when the latest scrape got a valid exposition.
    pub up: bool,
    /// True when the latest scrape failed but the last good one is younger than the device's
    /// `stale_after`: its families are still served (see [`Status::served`]).
    pub grace: bool,
    /// The device's `stale_after`.
    pub stale_after: Duration,
    /// The families of the last good exposition (served while [`Status::served`]).
    pub families: Arc<Vec<OwnedFamily>>,
    /// How long the latest scrape took, all attempts included, in seconds.
    pub duration: f64,
    /// Frames rejected since the gateway started.
    pub frame_errors: u64,
    /// Scrapes that failed (after their retries) since the gateway started.
    pub failures: u64,
    /// Unix time of the last good scrape.
    pub last_success: Option<f64>,
    /// Why the latest scrape failed.
    pub last_error: Option<String>,
    /// Series dropped from accepted answers since the gateway started, per reason.
    pub dropped_series: Drops,
    /// Answers rejected since the gateway started, per reason.
    pub rejected: Rejections,
    /// The id the device reported with its last good answer (asked with
    /// `--device-id-label`).
    pub device_id: Option<String>,
}

impl Status {
    /// Whether the device's families are served: it answered the latest scrape, or its last
    /// good answer is younger than its `stale_after`. Otherwise they are stale: `/metrics`
    /// leaves them out and `/probe` answers 503.
    pub fn served(&self) -> bool {
        self.up || self.grace
    }
}

struct Slot {
    name: String,
    stale_after: Duration,
    /// The longest a scrape of this device can take: every attempt's connect and exchange.
    budget: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Scrapes asked for, and finished: a request is served by the first scrape that starts
    /// after it.
    wanted: u64,
    done: u64,
    stop: bool,
    status: Status,
    /// When the last good scrape ended (the monotonic clock: staleness is not fooled by a
    /// change of the wall clock).
    last_good: Option<Instant>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a thread panicked while holding it; the data is plain.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The device threads.
pub struct Poller {
    devices: Vec<Device>,
    slots: Vec<Arc<Slot>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("devices", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl Poller {
    /// Starts one thread per device; `connect` makes a session on each link the thread opens.
    pub fn start(devices: Vec<Device>, connect: Arc<Connect>) -> io::Result<Poller> {
        let mut poller = Poller {
            devices: devices.clone(),
            slots: Vec::new(),
            threads: Vec::new(),
        };
        for device in devices {
            let attempts = device.retries + 1;
            let slot = Arc::new(Slot {
                name: device.name.clone(),
                stale_after: device.stale_after,
                budget: device.timeout * 2 * attempts + Duration::from_millis(200),
                state: Mutex::default(),
                changed: Condvar::new(),
            });
            let s = slot.clone();
            let connect = connect.clone();
            let handle = thread::Builder::new()
                .name(format!("device-{}", device.name))
                .spawn(move || run(&s, &device, &*connect))?;
            poller.slots.push(slot);
            poller.threads.push(handle);
        }
        Ok(poller)
    }

    /// The devices, in configuration order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The id each device reported with its last good answer (in configuration order),
    /// without scraping.
    pub fn device_ids(&self) -> Vec<Option<String>> {
        self.slots
            .iter()
            .map(|s| s.lock().status.device_id.clone())
            .collect()
    }

    /// The device names, in configuration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.name.as_str())
    }

    /// The position of device `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// Scrapes the devices at `which` now, all at once, and returns each one's status when
    /// its scrape ends, or, for a device whose scrape overruns its budget, as down.
    pub fn scrape(&self, which: &[usize]) -> Vec<(String, Status)> {
        let asked: Vec<(usize, u64, Instant)> = which
            .iter()
            .map(|&i| {
                let slot = &self.slots[i];
                let mut st = slot.lock();
                st.wanted += 1;
                slot.changed.notify_all();
                (i, st.wanted, Instant::now() + slot.budget)
            })
            .collect();
        asked
            .into_iter()
            .map(|(i, ticket, deadline)| {
                let slot = &self.slots[i];
                let mut st = slot.lock();
                while st.done < ticket {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    st = slot
                        .changed
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                let mut status = st.status.clone();
                if st.done < ticket {
                    status.up = false;
                    status.last_error = Some("the scrape overran its time budget".into());
                }
                status.stale_after = slot.stale_after;
                status.grace =
                    !status.up && st.last_good.is_some_and(|t| t.elapsed() < slot.stale_after);
                (slot.name.clone(), status)
            })
            .collect()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        for slot in &self.slots {
            slot.lock().stop = true;
            slot.changed.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A device thread: waits for a request, scrapes, publishes, until stopped.
fn run(slot: &Slot, device: &Device, connect: &Connect) {
    let mut session: Option<Box<dyn Session>> = None;
    let mut log = Log::default();
    loop {
        let ticket = {
            let mut st = slot.lock();
            while !st.stop && st.done >= st.wanted {
                st = slot.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stop {
                return;
            }
            st.wanted
        };
        let started = Instant::now();
        let outcome = scrape(device, connect, &mut session);
        let duration = started.elapsed().as_secs_f64();
        log.scrape(device, &outcome.result);
        let mut st = slot.lock();
        let status = &mut st.status;
        status.duration = duration;
        status.frame_errors += outcome.frame_errors;
        if let Some(r) = outcome.rejected {
            status.rejected.add(r, 1);
        }
        match outcome.result {
            Ok(admitted) => {
                status.up = true;
                status.dropped_series.add_all(&admitted.dropped);
                status.families = Arc::new(admitted.families);
                status.device_id = outcome.device_id;
                status.last_error = None;
                status.last_success = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs_f64());
            }
            Err(e) => {
                status.up = false;
                status.failures += 1;
                status.last_error = Some(e);
            }
        }
        if st.status.up {
            st.last_good = Some(Instant::now());
        }
        st.done = ticket;
        slot.changed.notify_all();
    }
}

/// How one scrape ended.
struct Outcome {
    /// What the device sent, within its limits, or why the scrape failed.
    result: Result<Admitted, String>,
    /// Frames rejected on the way.
    frame_errors: u64,
    /// Set when an answer arrived whole but was rejected.
    rejected: Option<RejectReason>,
    /// The id the device reported with its answer.
    device_id: Option<String>,
}

/// One scrape with its retries. A link or frame error is retried; an answer that arrived
/// whole but is rejected (too large, not UTF-8, not an exposition) ends the scrape, since the
/// device would send the same again.
fn scrape(device: &Device, connect: &Connect, session: &mut Option<Box<dyn Session>>) -> Outcome {
    let mut frame_errors = 0;
    let mut error = String::new();
    let rejected = |r: Rejection, frame_errors| Outcome {
        rejected: Some(r.reason()),
        result: Err(r.to_string()),
        frame_errors,
        device_id: None,
    };
    for _ in 0..=device.retries {
        let s = match session {
            Some(s) => s,
            None => match link::open(&device.address, device.timeout) {
                Ok(l) => session.insert(connect(device, DeadlineLink::new(l))),
                Err(e) => {
                    error = format!("cannot open {}: {e}", device.address);
                    // A refused connection fails at once: do not spin through the retries.
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        match s.scrape(Instant::now() + device.timeout) {
            Ok(answer) => {
                frame_errors += answer.frame_errors;
                return match limits::admit(&answer.body, &device.limits) {
                    Ok(mut admitted) => {
                        if let (Some(label), Some(id)) = (&device.id_label, &answer.device_id) {
                            label_all(&mut admitted.families, label, id);
                        }
                        Outcome {
                            result: Ok(admitted),
                            frame_errors,
                            rejected: None,
                            device_id: answer.device_id,
                        }
                    }
                    Err(r) => rejected(r, frame_errors),
                };
            }
            Err(ScrapeError::TooLarge { limit }) => {
                // The rest of the answer is still on its way: close the link rather than
                // read it, and reopen it at the next scrape.
                *session = None;
                return rejected(Rejection::TooLarge { limit }, frame_errors);
            }
            Err(e) => {
                frame_errors += e.frame_errors();
                if matches!(e, ScrapeError::Io(_)) {
                    // Closed or broken: connect again at the next attempt.
                    *session = None;
                }
                error = e.to_string();
            }
        }
    }
    Outcome {
        result: Err(error),
        frame_errors,
        rejected: None,
        device_id: None,
    }
}

/// Adds `label="value"` to every series of `families`, but those of a family that has a
/// label of that name already (the device's own wins).
fn label_all(families: &mut [OwnedFamily], label: &str, value: &str) {
    for f in families {
        if f.label_names.iter().any(|n| &**n == label) {
            continue;
        }
        f.label_names.push(label.into());
        for s in &mut f.series {
            s.labels.push(value.into());
        }
    }
}

/// What a device thread last said on stderr: it speaks when a device goes down, comes back,
/// fails for another reason, or starts or stops losing series to a limit; not at every scrape.
#[derive(Default)]
struct Log {
    /// What was said last (a failure, or the reasons series were dropped for); `None`: up
    /// with nothing dropped.
    said: Option<String>,
}

impl Log {
    fn scrape(&mut self, device: &Device, result: &Result<Admitted, String>) {
        let name = &device.name;
        let (key, line) = match result {
            Err(e) => (Some(e.clone()), format!("device `{name}` is down: {e}")),
            Ok(a) if a.dropped.is_empty() => (None, format!("device `{name}` is up")),
            Ok(a) => {
                let reasons: Vec<DropReason> = DropReason::ALL
                    .iter()
                    .copied()
                    .filter(|r| a.dropped.get(*r) > 0)
                    .collect();
                let parts: Vec<String> = reasons
                    .iter()
                    .map(|r| {
                        format!(
                            "{} by {} ({})",
                            a.dropped.get(*r),
                            r.setting(),
                            r.limit(&device.limits)
                        )
                    })
                    .collect();
                let key: Vec<&str> = reasons.iter().map(|r| r.label()).collect();
                (
                    Some(key.join(",")),
                    format!(
                        "device `{name}` is up, but series of its answer were dropped: {}; \
                         raise those limits for this device or make it expose less",
                        parts.join(", ")
                    ),
                )
            }
        };
        if key != self.said {
            eprintln!("metrics-gateway: {line}");
            self.said = key;
        }
    }
}
