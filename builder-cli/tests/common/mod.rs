//! Helpers of the end-to-end tests: run the real binary on job files of their own, scrape it,
//! and read run.json.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use metrics_core::parse::{Line, Parser};
pub use test_support::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_builder_cli");

/// A temporary directory with a job file in it.
pub struct Case {
    pub dir: tempfile::TempDir,
    pub job: PathBuf,
    pub out: PathBuf,
}

impl Case {
    pub fn new(yaml: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job.yaml");
        std::fs::write(&job, yaml).unwrap();
        let out = dir.path().join("out");
        Case { dir, job, out }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `builder_cli run-profile --job <job> --out <out> --profile <profile> <extra>`.
    pub fn command(&self, profile: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("run-profile")
            .arg("--job")
            .arg(&self.job)
            .arg("--out")
            .arg(&self.out)
            .arg("--profile")
            .arg(profile)
            .args(extra)
            .current_dir(self.dir.path())
            .env_remove("BUILDER_CLI_PROMETHEUS_PORT")
            // Each case's totals of its own (the state file), never the user's.
            .env("BUILDER_CLI_STATE_DIR", self.dir.path().join("state"))
            .stdin(Stdio::null());
        c
    }

    /// `builder_cli` repeating `profile` every `every` (`--repeat-every`, `--quiet`), its
    /// exporter on a free loopback port: the child and the port.
    pub fn repeating(&self, profile: &str, every: &str) -> (Child, u16) {
        self.repeating_with(profile, every, &[])
    }

    /// [`Case::repeating`] with more arguments (`extra`), its standard output thrown away.
    pub fn repeating_with(&self, profile: &str, every: &str, extra: &[&str]) -> (Child, u16) {
        let port = free_port();
        let p = port.to_string();
        let mut args = vec![
            "--quiet",
            "--repeat-every",
            every,
            "--prometheus-port",
            &p,
            "--prometheus-address",
            "127.0.0.1",
        ];
        args.extend_from_slice(extra);
        let child = self
            .command(profile, &args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        (child, port)
    }

    pub fn run(&self, profile: &str, extra: &[&str]) -> Output {
        self.command(profile, extra).output().unwrap()
    }

    pub fn manifest(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out.join("run.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub fn log(&self, step: &str) -> String {
        std::fs::read_to_string(self.out.join("logs").join(format!("{step}.log"))).unwrap()
    }

    pub fn metrics_file(&self) -> Samples {
        parse(&std::fs::read_to_string(self.out.join("metrics.prom")).unwrap())
    }
}

/// A Prometheus configuration scraping `127.0.0.1:port` every 500 ms as job `builder`.
pub fn scrape_config(port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n  - job_name: builder\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
}

/// A running `builder_cli` with an exporter on a free port that lingers.
pub struct Live {
    pub child: Child,
    pub port: u16,
}

impl Live {
    pub fn start(case: &Case, profile: &str, extra: &[&str]) -> Live {
        Live::start_env(case, profile, extra, &[])
    }

    /// As [`Live::start`], with environment variables set for the process.
    pub fn start_env(case: &Case, profile: &str, extra: &[&str], env: &[(&str, &str)]) -> Live {
        let port = free_port();
        let p = port.to_string();
        let mut args = vec![
            "--prometheus-port",
            &p,
            "--prometheus-address",
            "127.0.0.1",
            "--linger",
            "60s",
        ];
        args.extend_from_slice(extra);
        let child = case
            .command(profile, &args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Live { child, port }
    }

    /// Waits for run.json in `out` (the run is over; the exporter lingers).
    pub fn wait_for_run(&mut self, case: &Case) {
        let start = Instant::now();
        while !case.out.join("run.json").exists() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("builder_cli exited early with {status}");
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no run.json");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn scrape(&self) -> String {
        scrape(self.port, "text/plain;version=0.0.4")
    }

    /// A whole lingering run: starts it, waits for run.json, scrapes once and stops it.
    /// Returns the scraped samples, the exit code, stdout and stderr.
    pub fn run_scraped(
        case: &Case,
        profile: &str,
        extra: &[&str],
    ) -> (Samples, i32, String, String) {
        let mut live = Live::start(case, profile, extra);
        live.wait_for_run(case);
        let scraped = parse(&live.scrape());
        let (code, stdout, stderr) = live.stop();
        (scraped, code, stdout, stderr)
    }

    /// Ends the linger with SIGTERM and returns the exit code and stderr.
    pub fn stop(self) -> (i32, String, String) {
        signal(&self.child, nix::sys::signal::Signal::SIGTERM);
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// A scrape, or `None` while the exporter is not up.
pub fn try_scrape(port: u16, accept: &str) -> Option<String> {
    let mut resp = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .header("Accept", accept)
        .call()
        .ok()?;
    resp.body_mut().read_to_string().ok()
}

pub fn scrape(port: u16, accept: &str) -> String {
    try_scrape(port, accept).unwrap_or_else(|| panic!("no scrape from 127.0.0.1:{port}"))
}

/// Sample lines: `name{labels}` -> value, looked up whatever the order of the labels.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub BTreeMap<String, f64>);

/// `name{labels}` with its labels sorted by name.
pub fn normalize(series: &str) -> String {
    let (name, labels) = split_series(series);
    key(name, labels)
}

/// The key of a series: `name{labels}` with the labels sorted by name and their values
/// (given unescaped) escaped again.
fn key(name: String, mut labels: Vec<(String, String)>) -> String {
    if labels.is_empty() {
        return name;
    }
    labels.sort();
    let body: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{name}{{{}}}", body.join(","))
}

impl Samples {
    pub fn get(&self, series: &str) -> Option<&f64> {
        self.0.get(&normalize(series))
    }
    pub fn contains_key(&self, series: &str) -> bool {
        self.get(series).is_some()
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &f64)> {
        self.0.iter()
    }
}

impl std::ops::Index<&String> for Samples {
    type Output = f64;
    fn index(&self, series: &String) -> &f64 {
        self.get(series)
            .unwrap_or_else(|| panic!("{series} not in {:#?}", self.0))
    }
}

/// Splits `name{a="x",b="y"}` into its name and labels (values unescaped).
pub fn split_series(series: &str) -> (String, Vec<(String, String)>) {
    let Some(open) = series.find('{') else {
        return (series.to_string(), Vec::new());
    };
    let name = series[..open].to_string();
    let body = &series[open + 1..series.len() - 1];
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'));
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => v.push('\n'),
                    Some(o) => v.push(o),
                    None => {}
                },
                '"' => break,
                c => v.push(c),
            }
        }
        if chars.peek() == Some(&',') {
            chars.next();
        }
        labels.push((key.trim().to_string(), v));
    }
    (name, labels)
}

/// The samples of an exposition, read with `metrics_core::parse::Parser`.
pub fn parse(text: &str) -> Samples {
    Samples(
        Parser::new(text)
            .filter_map(|line| match line.unwrap() {
                Line::Sample(s) => {
                    let labels = s
                        .labels()
                        .map(|l| {
                            let (k, v) = l.unwrap();
                            let mut value = String::new();
                            v.write_to(&mut value).unwrap();
                            (k.to_string(), value)
                        })
                        .collect();
                    Some((key(s.name.to_string(), labels), s.value))
                }
                _ => None,
            })
            .collect(),
    )
}

pub fn step_labels(step: &str, job: &str, profile: &str) -> String {
    format!("step=\"{step}\",job=\"{job}\",profile=\"{profile}\"")
}

/// Checks that the metrics agree with run.json for every step that ran, and that all five
/// seed families are there.
pub fn assert_metrics_match(samples: &Samples, manifest: &serde_json::Value) {
    let job = manifest["job"].as_str().unwrap();
    let profile = manifest["profile"].as_str().unwrap();
    let run_id = manifest["run_id"].as_str().unwrap();
    let info =
        format!("pipeline_run_info{{run_id=\"{run_id}\",job=\"{job}\",profile=\"{profile}\"}}");
    assert_eq!(samples.get(&info), Some(&1.0), "{info} in {samples:#?}");
    for step in manifest["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        let l = step_labels(name, job, profile);
        let status = step["status"].as_str().unwrap();
        let ok = samples[&format!("pipeline_step_status_total{{{l},status=\"OK\"}}")];
        let fail = samples[&format!("pipeline_step_status_total{{{l},status=\"FAIL\"}}")];
        match status {
            "OK" => assert_eq!((ok, fail), (1.0, 0.0), "{name}"),
            "FAIL" => assert_eq!((ok, fail), (0.0, 1.0), "{name}"),
            _ => {
                assert_eq!((ok, fail), (0.0, 0.0), "{name}");
                assert!(
                    !samples.contains_key(&format!("pipeline_step_last_duration_seconds{{{l}}}"))
                );
                continue;
            }
        }
        let d = step["duration_seconds"].as_f64().unwrap();
        assert_eq!(
            samples[&format!("pipeline_step_last_duration_seconds{{{l}}}")],
            d,
            "{name}"
        );
        assert_eq!(
            samples[&format!("pipeline_step_duration_seconds_sum{{{l}}}")],
            d,
            "{name}"
        );
        assert_eq!(
            samples[&format!("pipeline_step_duration_seconds_count{{{l}}}")],
            1.0
        );
        let done = samples[&format!("pipeline_step_completed_timestamp_seconds{{{l}}}")];
        let fin = manifest["finished_unix"].as_f64().unwrap();
        let st = manifest["started_unix"].as_f64().unwrap();
        assert!(
            done >= st && done <= fin + 1.0,
            "{name}: {done} not in [{st}, {fin}]"
        );
    }
}

/// The step called `name` in run.json.
pub fn step<'m>(manifest: &'m serde_json::Value, name: &str) -> &'m serde_json::Value {
    manifest["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in run.json"))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn wait_for_file(p: &Path, secs: u64) {
    let start = Instant::now();
    while !p.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`; panics then.
pub fn wait_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A job named `name` whose `deploy` step sleeps 0.3 s and always fails (after `build`), with
/// one profile, `ci`: the one-shot tests count its failures and its durations' bucket,
/// (0.25, 0.5].
pub fn failing_deploy_job(name: &str) -> String {
    format!(
        r#"
name: {name}
steps:
  - name: build
    run: "true"
  - name: deploy
    needs: [build]
    run: sleep 0.3; echo "deploy failed" >&2; exit 1
profiles:
  ci: {{}}
"#
    )
}
