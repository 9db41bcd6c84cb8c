//! builder-cli's job-file loader on arbitrary bytes: the YAML parse (`job::parse`) and the
//! semantic checks (`validate::check`), which together are what `builder_cli` runs on a
//! `--job` file after reading it.
//!
//! It never panics; every problem is an error that names the file and, where it gives one, a
//! line inside the text, and the errors come sorted by position. A job it accepts keeps the
//! promises the runner relies on: at least one step, valid and unique step names, a command
//! per step, dependencies that exist and form no cycle, positive durations, and profiles whose
//! step lists are closed over dependencies and ordered dependencies first.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

// builder-cli is a binary crate: its loader is compiled in here from its own source files
// (they depend on std, serde, serde-saphyr and humantime only), so builder-cli needs no
// library target for the fuzzer's sake. The runner's other entry points are unused here.
#[allow(dead_code)]
#[path = "../../builder-cli/src/job.rs"]
mod job;
#[allow(dead_code)]
#[path = "../../builder-cli/src/validate.rs"]
mod validate;

use validate::{Command, Job};

const FILE: &str = "jobs/fuzz.yaml";

fn valid_name(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn check_job(job: &Job) {
    assert!(!job.name.is_empty());
    assert!(!job.steps.is_empty());
    for (i, s) in job.steps.iter().enumerate() {
        assert!(valid_name(&s.name), "step name {:?}", s.name);
        assert!(
            job.steps[..i].iter().all(|t| t.name != s.name),
            "{:?} twice",
            s.name
        );
        match &s.command {
            Command::Shell(script) => assert!(!script.trim().is_empty()),
            Command::Argv(argv) => assert!(!argv.is_empty()),
        }
        for &d in &s.needs {
            assert!(d < job.steps.len() && d != i, "step {i} needs {d}");
        }
        assert!(s.timeout.is_none_or(|t| !t.is_zero()));
    }
    for (name, p) in &job.profiles {
        assert!(valid_name(name), "profile name {name:?}");
        assert_eq!(&p.name, name);
        assert!(!p.steps.is_empty(), "profile {name:?} runs nothing");
        assert!(p.parallelism != Some(0));
        assert!(p.thresholds.values().all(|d| !d.is_zero()));
        assert!(p.step_env.keys().all(|&i| i < job.steps.len()));
        // Dependencies first, each step once, every dependency included.
        for (k, &i) in p.steps.iter().enumerate() {
            assert!(
                !p.steps[..k].contains(&i),
                "profile {name:?}: step {i} twice"
            );
            for d in &job.steps[i].needs {
                assert!(
                    p.steps[..k].contains(d),
                    "profile {name:?}: step {i} runs before its dependency {d}"
                );
            }
        }
    }
}

fn check_errors(errors: &job::JobErrors, text: &str) {
    assert!(!errors.0.is_empty(), "an error without a problem");
    // YAML breaks lines at `\n`, `\r\n` and a lone `\r`; one more for the end of the text.
    let lines = text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count() as u64 + 1;
    for e in &errors.0 {
        assert_eq!(e.file, Path::new(FILE));
        assert!(!e.message.trim().is_empty());
        if let Some(p) = e.pos {
            assert!(
                (1..=lines).contains(&p.line) && p.column >= 1,
                "{e} is outside the {lines} line(s) of the text"
            );
        }
    }
    let key = |e: &job::JobError| e.pos.map_or((u64::MAX, 0), |p| (p.line, p.column));
    assert!(
        errors.0.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "errors not sorted by position: {errors}"
    );
    let shown = errors.to_string();
    assert!(shown.starts_with("invalid job file") && shown.contains(FILE));
}

fuzz_target!(|data: &[u8]| {
    // `job::load` refuses a file that is not UTF-8; everything else reaches the parser.
    let text = String::from_utf8_lossy(data);
    let path = Path::new(FILE);
    match job::parse(path, &text).and_then(|file| validate::check(path, file)) {
        Ok(job) => check_job(&job),
        Err(errors) => check_errors(&errors, &text),
    }
});
