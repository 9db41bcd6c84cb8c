//! `metrics-gateway`: scrapes devices over serial lines or TCP and serves them to Prometheus;
//! with `--accept-pushes`, adds up the increments ephemeral runners push and serves the sums.

#![forbid(unsafe_code)]

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use metrics_exporter_http::WebConfig;
use metrics_gateway::config::{self, Device};
use metrics_gateway::limits::Limits;
use metrics_gateway::push::store::DEFAULT_MAX_SERIES_PER_GROUP;
use metrics_gateway::push::{PushConfig, Pushes, StoreLimits};
use metrics_gateway::remote_write::{self, RemoteWrite, Target};
use metrics_gateway::render;
use metrics_gateway::server::Routes;
use metrics_gateway::{FramedSession, Poller, Server};

const AFTER_HELP: &str = "\
ADDRESSES:
  tcp://HOST:PORT        a raw byte stream carrying the framed protocol (QEMU -serial tcp:...)
  /dev/ttyUSB0           a serial port at 115200 baud
  /dev/ttyUSB0@9600      a serial port at 9600 baud
  /dev/serial/by-id/usb-Raspberry_Pi_Pico_E66138935F2B3A21-if00
                         a serial port by its udev link (followed at each reconnect)
  usb:VID:PID[:SERIAL][@BAUD]
                         a USB serial device by identity (hex ids, as lsusb shows them), e.g.
                         usb:2e8a:000a:E66138935F2B3A21; looked up in /sys/class/tty at each
                         reconnect, so it is found again on another /dev/ttyACM*

ENDPOINTS:
  /metrics               every device, each series with a device=\"<name>\" label, plus the
                         gateway's own gateway_device_* metrics
  /probe?target=NAME     one device (Prometheus' multi-target pattern); 503 with the reason
                         once the device's series are stale (see --stale-after)
  /targets               the devices in Prometheus' http_sd_configs format (JSON), one target
                         per device; relabel it to /probe?target= (README: Discovery)
  /-/healthy             200 while the gateway runs
  /push/job/JOB{/LABEL/VALUE}
                         with --accept-pushes: PUT or POST a run's increments (text 0.0.4 or
                         OpenMetrics); both ADD to the group's totals, served on /metrics
                         with the grouping labels (scrape with honor_labels: true)

Each request scrapes the devices it asks for, all at once, each with --timeout per attempt
and --retries more attempts; a device that does not answer is reported with
gateway_device_up 0. Its last good series are still served for --stale-after (60s; 0: not
at all), then they are stale: left out of /metrics, and /probe answers 503, while
gateway_device_up and gateway_device_last_success_timestamp_seconds stay.

LIMITS:
  What a device sends is untrusted. An answer over --max-response-bytes (not read further),
  not UTF-8, or not an exposition is rejected: the device is down for that scrape
  (gateway_device_rejected_responses_total{reason}). Series past --max-series,
  --max-label-bytes or --max-label-names are dropped and the rest served
  (gateway_device_dropped_series_total{reason}). The config file sets them for every device
  and per device (`limits:`). Stderr says why when a device starts or stops failing or
  losing series.

PUSHES:
  Counters are increments (finite, >= 0), histograms this run's observations, gauges the
  last value. Idempotency-Key: a key the group applied already is answered 200 `already
  counted` and adds nothing (the last 1024 keys per group are kept). A push is answered 200
  only once the totals are in --push-state-file (written, fsynced, renamed). Refusals store
  nothing: 400 malformed or negative increment, 409 type or bucket conflict, 413 body too
  large, 422 too many series in the group, 405, 404, 401.

REMOTE-WRITE:
  --remote-write URL (or the config file's remote_write list) also sends what /metrics serves
  to a receiver every interval (15s), one request per interval, Remote-Write 1.0 or 2.0,
  snappy. Each target has its own sender thread and a queue of at most queue.max_samples
  waiting samples (500000; when full the oldest pages are dropped). Connection errors, 5xx and
  429 are retried with exponential backoff (500ms to 30s, Retry-After respected); another 4xx
  is dropped, counted and said once. Metrics: gateway_remote_write_*{target,url}.

EXAMPLES:
  metrics-gateway --device board=tcp://127.0.0.1:4444 --device sensor=/dev/ttyACM0@115200
  metrics-gateway --accept-pushes --push-state-file /var/lib/metrics-gateway/pushes.json
  metrics-gateway --config gateway.yaml --listen 127.0.0.1:9110

CONFIG FILE (YAML):
  listen: 0.0.0.0:9110
  timeout: 2s
  retries: 1
  stale_after: 60s
  device_id_label: device_id     # label series with the id each device reports
  limits:
    max_response_bytes: 1MiB
    max_series: 10000
    max_label_bytes: 4096
    max_label_names: 64
  devices:
    - name: board
      address: tcp://127.0.0.1:4444
    - name: sensor
      address: /dev/ttyACM0
      baud: 115200
      timeout: 500ms
      labels: {site: plant-7}    # target labels on /targets
      limits:
        max_series: 500
  remote_write:
    - url: https://metrics.example.com/api/v1/write
      name: central              # the target label (default: the URL)
      protocol_version: 1        # or 2
      interval: 15s
      timeout: 30s
      external_labels: {site: plant-7}
      basic_auth: {username: plant-7, password_file: rw-password}  # or bearer_token(_file)
      tls: {ca_file: ca.pem}     # insecure_skip_verify: true for tests only
      queue: {max_samples: 500000, min_backoff: 500ms, max_backoff: 30s}";

/// Bridges metrics-core devices (firmware answering scrapes on a UART or a TCP byte stream)
/// to Prometheus.
#[derive(Debug, Parser)]
#[command(name = "metrics-gateway", version, after_help = AFTER_HELP)]
struct Cli {
    /// A YAML file with `listen`, `timeout`, `retries`, `limits`, a `devices` list and a
    /// `remote_write` list (see below).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// A device, NAME=ADDRESS (repeat for more); added to the config file's devices.
    #[arg(short, long = "device", value_name = "NAME=ADDRESS")]
    devices: Vec<String>,

    /// Where to serve HTTP, HOST:PORT [default: the config file's, else 0.0.0.0:9110].
    #[arg(short, long, value_name = "HOST:PORT")]
    listen: Option<String>,

    /// Longest time one scrape attempt of a device may take (`500ms`, `2s`) [default: the
    /// config file's, else 2s].
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    timeout: Option<Duration>,

    /// Extra attempts after a failed one, within one scrape [default: the config file's,
    /// else 1].
    #[arg(long, value_name = "N")]
    retries: Option<u32>,

    /// How long a device's last good series are still served once its scrapes fail (`30s`,
    /// `5m`; `0`: not at all); then /metrics leaves them out and /probe answers 503, while
    /// gateway_device_up and gateway_device_last_success_timestamp_seconds stay [default: the
    /// config file's, else 60s].
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration_or_zero)]
    stale_after: Option<Duration>,

    /// Largest exposition read from a device per scrape, in bytes (`65536`, `64KiB`, `1MiB`);
    /// a larger answer is rejected and the device is down for that scrape [default: the
    /// config file's, else 1MiB].
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    max_response_bytes: Option<usize>,

    /// Most series kept per device and scrape (a histogram counts its buckets + 2); the rest
    /// are dropped [default: the config file's, else 10000].
    #[arg(long, value_name = "N", value_parser = config::parse_count)]
    max_series: Option<usize>,

    /// Most bytes of label names and values per series; a series with more is dropped
    /// [default: the config file's, else 4096].
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    max_label_bytes: Option<usize>,

    /// Most label names per family of a device; a series that would bring more is dropped
    /// [default: the config file's, else 64].
    #[arg(long, value_name = "N", value_parser = config::parse_count)]
    max_label_names: Option<usize>,

    /// Label every series of a device with the id the device reports (protocol 1.1's
    /// IDENTIFY, asked once per connection), e.g. `--device-id-label device_id`; a device
    /// without one (or older firmware) is served without it [default: the config file's
    /// device_id_label, else off].
    #[arg(long, value_name = "NAME", value_parser = config::check_id_label)]
    device_id_label: Option<String>,

    /// Where `usb:` addresses are looked up: sysfs (its class/tty) [default: /sys].
    #[arg(long, value_name = "DIR")]
    sys_root: Option<PathBuf>,

    /// Where the device nodes of `usb:` addresses are [default: /dev].
    #[arg(long, value_name = "DIR")]
    dev_root: Option<PathBuf>,

    /// Threads answering HTTP requests.
    #[arg(long, value_name = "N", default_value_t = 4)]
    workers: usize,

    /// Take pushed increments on /push/job/JOB{/LABEL/VALUE} (PUT or POST) and serve their
    /// sums on /metrics; with it, devices are optional.
    #[arg(long)]
    accept_pushes: bool,

    /// Where the pushed totals are kept [default: $XDG_STATE_HOME/metrics-gateway/pushes.json,
    /// else ~/.local/state/metrics-gateway/pushes.json].
    #[arg(long, value_name = "PATH")]
    push_state_file: Option<PathBuf>,

    /// Largest push body, in bytes (`65536`, `64KiB`, `1MiB`); a larger one is refused with 413.
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size, default_value = "1MiB")]
    push_max_body_size: usize,

    /// Most series one group may hold (a histogram counts its buckets + 2); a push that would
    /// pass it is refused with 422.
    #[arg(long, value_name = "N", value_parser = config::parse_count,
          default_value_t = DEFAULT_MAX_SERIES_PER_GROUP)]
    push_max_series_per_group: usize,

    /// Forget groups nobody pushed to for this long (`7d`, `12h`); 0: never.
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration_or_zero, default_value = "7d")]
    push_group_ttl: Duration,

    /// exporter-toolkit's web config file, whole (tls_server_config with client certificates,
    /// basic_auth_users with bcrypt hashes, rate_limit, http_server_config.headers), applied
    /// to every request: scrapes and pushes. Certificate files are re-read when they change.
    #[arg(long, value_name = "FILE")]
    web_config_file: Option<PathBuf>,

    /// Also send what /metrics serves to this Remote-Write receiver (repeat for more), e.g.
    /// http://prometheus:9090/api/v1/write (Prometheus needs
    /// --web.enable-remote-write-receiver) or http://victoria:8428/api/v1/write; added to the
    /// config file's `remote_write` list (which also sets credentials, TLS, labels, queue).
    #[arg(long = "remote-write", value_name = "URL")]
    remote_write: Vec<String>,

    /// The Remote-Write protocol of the --remote-write targets: 1 (every receiver takes it)
    /// or 2.
    #[arg(long, value_name = "1|2", value_parser = remote_write::target::parse_version,
          default_value = "1")]
    remote_write_version: metrics_core::remote_write::Version,

    /// How often the --remote-write targets are sent the page.
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration,
          default_value = "15s")]
    remote_write_interval: Duration,
}

/// The default state file: `$XDG_STATE_HOME/metrics-gateway/pushes.json`, else
/// `$HOME/.local/state/metrics-gateway/pushes.json`.
fn default_state_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("metrics-gateway/pushes.json"))
}

/// A usage or configuration error: exit code 2.
#[derive(Debug)]
struct Usage(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<Usage>().is_some();
            let e = match e.downcast::<Usage>() {
                Ok(Usage(inner)) => inner,
                Err(e) => e,
            };
            eprintln!("metrics-gateway: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Usage(e.into()))
}

/// The devices, listen address and Remote-Write targets from the file and the flags.
fn settings(cli: &Cli) -> anyhow::Result<(Vec<Device>, SocketAddr, Vec<Target>)> {
    let flags = config::Overrides {
        timeout: cli.timeout,
        retries: cli.retries,
        stale_after: cli.stale_after,
        device_id_label: cli.device_id_label.clone(),
        limits: config::LimitOverrides {
            max_response_bytes: cli.max_response_bytes,
            max_series: cli.max_series,
            max_label_bytes: cli.max_label_bytes,
            max_label_names: cli.max_label_names,
        },
    };
    let timeout = cli.timeout.unwrap_or(config::DEFAULT_TIMEOUT);
    let retries = cli.retries.unwrap_or(config::DEFAULT_RETRIES);
    let limits = flags.limits.over(Limits::default());
    let mut listen = None;
    let mut devices = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    if let Some(path) = &cli.config {
        let loaded = config::load(path, &flags).map_err(usage)?;
        listen = loaded.listen;
        devices = loaded.devices;
        targets = loaded.remote_write;
    }
    for url in &cli.remote_write {
        let mut t = Target::new(url).map_err(|m| usage(anyhow::anyhow!("--remote-write {m}")))?;
        t.version = cli.remote_write_version;
        t.interval = cli.remote_write_interval;
        if targets.iter().any(|x| x.name == t.name) {
            return Err(usage(anyhow::anyhow!(
                "--remote-write {url}: a target named `{}` is already configured",
                t.name
            )));
        }
        targets.push(t);
    }
    for flag in &cli.devices {
        let stale = cli.stale_after.unwrap_or(config::DEFAULT_STALE_AFTER);
        let mut d = config::parse_device_flag(flag, timeout, retries, limits, stale)
            .map_err(|m| usage(anyhow::anyhow!("--device {m}")))?;
        d.id_label = cli.device_id_label.clone();
        if devices.iter().any(|x| x.name == d.name) {
            return Err(usage(anyhow::anyhow!(
                "--device {flag}: a device named `{}` is already configured",
                d.name
            )));
        }
        devices.push(d);
    }
    if devices.is_empty() && !cli.accept_pushes {
        return Err(usage(anyhow::anyhow!(
            "no devices: give --device NAME=ADDRESS or --config FILE, or --accept-pushes (see \
             --help)"
        )));
    }
    let listen = cli
        .listen
        .clone()
        .or(listen)
        .unwrap_or_else(|| "0.0.0.0:9110".into());
    let addr = listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            usage(anyhow::anyhow!(
                "--listen `{listen}`: write HOST:PORT, e.g. 0.0.0.0:9110"
            ))
        })?;
    Ok((devices, addr, targets))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (devices, addr, targets) = settings(&cli)?;
    let roots = metrics_gateway::usb::Roots::default();
    metrics_gateway::usb::set_roots(metrics_gateway::usb::Roots {
        sys: cli.sys_root.clone().unwrap_or(roots.sys),
        dev: cli.dev_root.clone().unwrap_or(roots.dev),
    });
    if cli.workers == 0 {
        return Err(usage(anyhow::anyhow!("--workers must be at least 1")));
    }
    let names: Vec<String> = devices
        .iter()
        .map(|d| format!("{}={}", d.name, d.address))
        .collect();
    let web = match &cli.web_config_file {
        Some(f) => Some(WebConfig::from_file(f).map_err(usage)?),
        None => None,
    };
    let pushes = if cli.accept_pushes {
        let state_file = cli
            .push_state_file
            .clone()
            .or_else(default_state_file)
            .ok_or_else(|| {
                usage(anyhow::anyhow!(
                    "--accept-pushes: neither XDG_STATE_HOME nor HOME is set: give \
                     --push-state-file PATH"
                ))
            })?;
        let config = PushConfig {
            state_file,
            max_body_bytes: cli.push_max_body_size,
            limits: StoreLimits {
                max_series_per_group: cli.push_max_series_per_group,
                ttl_ms: (!cli.push_group_ttl.is_zero())
                    .then_some(cli.push_group_ttl.as_millis() as u64),
            },
        };
        Some(Arc::new(Pushes::open(&config).map_err(usage)?))
    } else {
        None
    };
    let poller = Arc::new(
        Poller::start(devices, Arc::new(FramedSession::connect))
            .context("cannot start the device threads")?,
    );
    let scheme = if web.as_ref().is_some_and(WebConfig::tls) {
        "https"
    } else {
        "http"
    };
    let state = pushes.as_ref().map(|p| p.file().display().to_string());
    let remote_write = if targets.is_empty() {
        None
    } else {
        Some(Arc::new(
            RemoteWrite::new(targets).map_err(|m| usage(anyhow::anyhow!(m)))?,
        ))
    };
    if let Some(rw) = &remote_write {
        let (poller, pushes, rw2) = (poller.clone(), pushes.clone(), rw.clone());
        rw.start(move || render::collect(&poller, pushes.as_deref(), Some(&rw2)))
            .context("cannot start the Remote-Write threads")?;
        for t in rw.targets() {
            eprintln!(
                "metrics-gateway: remote write to `{}` ({}, protocol {}) every {}",
                t.name,
                t.shown_url(),
                match t.version {
                    metrics_core::remote_write::Version::V1 => "1.0",
                    metrics_core::remote_write::Version::V2 => "2.0",
                },
                humantime::format_duration(t.interval)
            );
        }
    }
    let routes = Routes {
        poller,
        pushes,
        web,
        remote_write,
    };
    let server = Server::start(addr, routes, cli.workers)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let mut serving = names.join(", ");
    if let Some(state) = state {
        if !serving.is_empty() {
            serving.push_str(", ");
        }
        serving.push_str(&format!("pushes on /push/job/... (state in {state})"));
    }
    eprintln!(
        "metrics-gateway: listening on {scheme}://{}/metrics for {serving}",
        server.local_addr(),
    );
    loop {
        std::thread::park();
    }
}
