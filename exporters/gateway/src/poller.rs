//! One thread per device: each scrape request wakes it, it asks the device (with a timeout
//! per attempt and retries), and keeps the result. Devices never wait for one another.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Device;
use crate::exposition;
use crate::family::OwnedFamily;
use crate::link::{self, DeadlineLink};
use crate::protocol::{Connect, ScrapeError, Session};

/// What the gateway knows about a device after its latest scrape.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// True when the latest scrape got a valid exposition.
    pub up: bool,
    /// The families of the last good exposition (served only while `up`).
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
}

struct Slot {
    name: String,
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
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a thread panicked while holding it; the data is plain.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The device threads.
pub struct Poller {
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
            slots: Vec::new(),
            threads: Vec::new(),
        };
        for device in devices {
            let attempts = device.retries + 1;
            let slot = Arc::new(Slot {
                name: device.name.clone(),
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
        let (result, frame_errors) = scrape(device, connect, &mut session);
        let duration = started.elapsed().as_secs_f64();
        let mut st = slot.lock();
        let status = &mut st.status;
        status.duration = duration;
        status.frame_errors += frame_errors;
        match result {
            Ok(families) => {
                status.up = true;
                status.families = Arc::new(families);
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
        st.done = ticket;
        slot.changed.notify_all();
    }
}

/// One scrape with its retries: the families read, or the last attempt's error; and the
/// frames rejected on the way.
fn scrape(
    device: &Device,
    connect: &Connect,
    session: &mut Option<Box<dyn Session>>,
) -> (Result<Vec<OwnedFamily>, String>, u64) {
    let mut frame_errors = 0;
    let mut error = String::new();
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
                let read = std::str::from_utf8(&answer.body)
                    .map_err(|e| format!("the exposition is not UTF-8: {e}"))
                    .and_then(|text| exposition::read(text).map_err(|e| e.to_string()));
                match read {
                    Ok(families) => return (Ok(families), frame_errors),
                    Err(e) => error = e,
                }
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
    (Err(error), frame_errors)
}
