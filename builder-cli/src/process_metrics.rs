//! The standard `process_*` metrics, read from `/proc/self` at every scrape (Linux only; on
//! other systems the families are not registered). The start time never changes: it is read
//! once, when the families are registered.

use std::sync::Arc;

use metrics_core::{Collect, Desc, Error, Kind, Registry, StrList, Value, Visitor};

#[derive(Debug, Clone, Copy)]
enum Which {
    Cpu,
    Resident,
    Virtual,
    /// The process start time, read once at registration (`None` when it could not be read).
    Start(Option<f64>),
    OpenFds,
    MaxFds,
}

#[derive(Debug)]
struct Proc(Which);

/// A `sysconf` value, or `default` when it cannot be read.
fn sysconf_or(var: nix::unistd::SysconfVar, default: f64) -> f64 {
    nix::unistd::sysconf(var)
        .ok()
        .flatten()
        .map(|v| v as f64)
        .unwrap_or(default)
}

fn clock_ticks() -> f64 {
    sysconf_or(nix::unistd::SysconfVar::CLK_TCK, 100.0)
}

fn page_size() -> f64 {
    sysconf_or(nix::unistd::SysconfVar::PAGE_SIZE, 4096.0)
}

/// Fields of `/proc/self/stat` after the command name (field 3 is index 0).
fn stat_fields() -> Option<Vec<String>> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(String::from).collect())
}

fn field(f: &[String], n: usize) -> Option<f64> {
    // `n` is the 1-based field number of proc(5).
    f.get(n - 3)?.parse().ok()
}

fn boot_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Start time of the process in Unix seconds: boot time plus field 22 (in clock ticks).
fn start_time(stat: &[String]) -> Option<f64> {
    Some(boot_time()? + field(stat, 22)? / clock_ticks())
}

fn max_fds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Proc {
    fn read(&self) -> Option<f64> {
        match self.0 {
            Which::OpenFds => Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as f64),
            Which::MaxFds => max_fds(),
            Which::Start(start) => start,
            w => {
                let f = stat_fields()?;
                match w {
                    Which::Cpu => Some((field(&f, 14)? + field(&f, 15)?) / clock_ticks()),
                    Which::Virtual => field(&f, 23),
                    Which::Resident => Some(field(&f, 24)? * page_size()),
                    _ => None,
                }
            }
        }
    }
}

impl Collect for Proc {
    fn series_count(&self) -> usize {
        1
    }
    fn collect(&self, index: usize, visit: &mut Visitor<'_>) -> Result<(), Error> {
        if index != 0 {
            return Ok(());
        }
        let v = self.read().unwrap_or(f64::NAN);
        match self.0 {
            Which::Cpu => visit(StrList::EMPTY, Value::CounterF64(v)),
            _ => visit(StrList::EMPTY, Value::Gauge(v)),
        }
    }
}

/// A registry of the process metrics (empty when `/proc/self/stat` cannot be read).
pub fn registry() -> Result<Arc<Registry>, Error> {
    let mut r = Registry::new();
    let Some(stat) = stat_fields() else {
        return Ok(Arc::new(r));
    };
    let start = start_time(&stat);
    let fams: [(&str, &str, Kind, Which); 6] = [
        (
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            Kind::Counter,
            Which::Cpu,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Kind::Gauge,
            Which::Resident,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Kind::Gauge,
            Which::Virtual,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
            Which::Start(start),
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            Kind::Gauge,
            Which::OpenFds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
            Which::MaxFds,
        ),
    ];
    for (name, help, kind, which) in fams {
        r.register_shared(Desc::try_new(name, help)?, kind, Arc::new(Proc(which)))?;
    }
    Ok(Arc::new(r))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_proc() {
        let r = super::registry().unwrap();
        let mut out = String::new();
        metrics_core::encode(&*r, metrics_core::Format::Text, &mut out).unwrap();
        if cfg!(target_os = "linux") {
            assert!(out.contains("process_cpu_seconds_total "), "{out}");
            assert!(out.contains("process_open_fds "), "{out}");
            assert!(!out.contains("NaN"), "{out}");
        }
    }
}
