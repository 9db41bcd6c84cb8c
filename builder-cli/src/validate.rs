//! Semantic checks of a parsed job file, and the checked model the runner uses.
//!
//! Every problem is collected (not just the first) with its position: duplicate step names,
//! a step with neither or both of `run` and `argv`, unknown steps in `needs`, in a profile's
//! `steps`, `thresholds` or `step_env`, dependency cycles, bad durations, a parallelism of 0,
//! and names that cannot be metric label values or file names.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::job::{JobError, JobErrors, JobFile, Pos, Spanned};

/// How a step is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `sh -c <script>`.
    Shell(String),
    /// A program and its arguments.
    Argv(Vec<String>),
}

impl Command {
    /// A short human form.
    pub fn display(&self) -> String {
        match self {
            Command::Shell(s) => s
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or("")
                .to_string(),
            Command::Argv(a) => a.join(" "),
        }
    }
}

/// A checked step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Unique name.
    pub name: String,
    /// What to run.
    pub command: Command,
    /// Indices (into [`Job::steps`]) of the steps this one needs.
    pub needs: Vec<usize>,
    /// Longest time one attempt may take.
    pub timeout: Option<Duration>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// The job's `env` then the step's `env`.
    pub env: BTreeMap<String, String>,
    /// Working directory (absolute or relative to the current directory).
    pub workdir: PathBuf,
    /// A failure does not fail the run.
    pub allow_failure: bool,
}

/// A checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Indices of the steps it runs (listed ones and everything they need), in run order.
    pub steps: Vec<usize>,
    /// Environment overrides for every step.
    pub env: BTreeMap<String, String>,
    /// Per-step environment overrides, by step index.
    pub step_env: HashMap<usize, BTreeMap<String, String>>,
    /// Latency thresholds by step name.
    pub thresholds: BTreeMap<String, Duration>,
    /// Most steps running at once, when set.
    pub parallelism: Option<u32>,
}

/// A checked job file.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file.
    pub file: PathBuf,
    /// The job's name.
    pub name: String,
    /// Steps, in file order.
    pub steps: Vec<Step>,
    /// Profiles, by name.
    pub profiles: BTreeMap<String, Profile>,
}

impl Job {
    /// The profile `name`, or an error listing the profiles there are.
    pub fn profile(&self, name: &str) -> Result<&Profile, JobError> {
        self.profiles.get(name).ok_or_else(|| JobError {
            file: self.file.clone(),
            pos: None,
            message: format!(
                "unknown profile {name:?}: the job file defines {}",
                if self.profiles.is_empty() {
                    "no profiles (add a `profiles:` section)".to_string()
                } else {
                    self.profiles
                        .keys()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        })
    }
}

/// Loads and checks a job file.
pub fn load_job(path: &Path) -> Result<Job, JobErrors> {
    let file = crate::job::load(path)?;
    check(path, file)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.starts_with('.')
}

/// Checks a parsed job file.
pub fn check(path: &Path, file: JobFile) -> Result<Job, JobErrors> {
    let mut errors = Vec::new();
    let mut err = |pos: Option<Pos>, message: String| {
        errors.push(JobError {
            file: path.to_path_buf(),
            pos,
            message,
        })
    };
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();

    let name = match &file.name {
        Some(n) => {
            if n.value.is_empty() {
                err(
                    Some(Pos::of(n)),
                    "`name` is empty: give the job a name".into(),
                );
            }
            n.value.clone()
        }
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job".into()),
    };

    if file.steps.is_empty() {
        err(
            None,
            "`steps` is empty: a job needs at least one step".into(),
        );
    }

    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, s) in file.steps.iter().enumerate() {
        let n = &s.name.value;
        if !valid_name(n) {
            err(
                Some(Pos::of(&s.name)),
                format!(
                    "step name {n:?} is not valid: use 1 to 100 letters, digits, `_`, `-` or `.` \
                     (it names the log file and a metric label)"
                ),
            );
        }
        if let Some(&first) = index.get(n) {
            let p = Pos::of(&file.steps[first].name);
            err(
                Some(Pos::of(&s.name)),
                format!(
                    "duplicate step name {n:?} (first defined at line {}): rename one of them",
                    p.line
                ),
            );
        } else {
            index.insert(n.clone(), i);
        }
    }

    let mut steps = Vec::new();
    for s in &file.steps {
        let command = match (&s.run, &s.argv) {
            (Some(r), None) => {
                if r.value.trim().is_empty() {
                    err(
                        Some(Pos::of(r)),
                        "`run` is empty: give a shell command".into(),
                    );
                }
                Command::Shell(r.value.clone())
            }
            (None, Some(a)) => {
                if a.value.is_empty() {
                    err(
                        Some(Pos::of(a)),
                        "`argv` is empty: give the program and its arguments".into(),
                    );
                }
                Command::Argv(a.value.clone())
            }
            (Some(r), Some(_)) => {
                err(
                    Some(Pos::of(r)),
                    format!(
                        "step {:?} has both `run` and `argv`: keep one",
                        s.name.value
                    ),
                );
                Command::Shell(r.value.clone())
            }
            (None, None) => {
                err(
                    Some(Pos::of(&s.name)),
                    format!(
                        "step {:?} has no command: add `run: <shell command>` or `argv: [program, args...]`",
                        s.name.value
                    ),
                );
                Command::Argv(Vec::new())
            }
        };
        let mut needs = Vec::new();
        for d in &s.needs {
            match index.get(&d.value) {
                Some(&j) if d.value == s.name.value => {
                    let _ = j;
                    err(
                        Some(Pos::of(d)),
                        format!("step {:?} needs itself: remove it from `needs`", d.value),
                    )
                }
                Some(&j) => needs.push(j),
                None => err(
                    Some(Pos::of(d)),
                    unknown_step(&format!("step {:?} needs", s.name.value), &d.value, &index),
                ),
            }
        }
        let timeout = s
            .timeout
            .as_ref()
            .and_then(|t| duration(t, "timeout", &mut err));
        let retry_delay = s
            .retry_delay
            .as_ref()
            .and_then(|t| duration(t, "retry_delay", &mut err))
            .unwrap_or(Duration::ZERO);
        let mut env = file.env.clone();
        env.extend(s.env.clone());
        let workdir = match &s.workdir {
            Some(w) if Path::new(w).is_absolute() => PathBuf::from(w),
            Some(w) => base_dir.join(w),
            None => PathBuf::from("."),
        };
        steps.push(Step {
            name: s.name.value.clone(),
            command,
            needs,
            timeout,
            retries: s.retries,
            retry_delay,
            env,
            workdir,
            allow_failure: s.allow_failure,
        });
    }

    // Cycles: depth-first search, report each cycle once at the first step of it.
    if let Some(cycle) = find_cycle(&steps) {
        let first = cycle[0];
        let path: Vec<&str> = cycle
            .iter()
            .chain(std::iter::once(&first))
            .map(|&i| steps[i].name.as_str())
            .collect();
        err(
            Some(Pos::of(&file.steps[first].name)),
            format!(
                "dependency cycle {}: remove one of these `needs`",
                path.join(" -> ")
            ),
        );
    }

    let mut profiles = BTreeMap::new();
    for (pname, p) in &file.profiles {
        if !valid_name(pname) {
            err(
                None,
                format!(
                    "profile name {pname:?} is not valid: use letters, digits, `_`, `-` or `.`"
                ),
            );
        }
        let mut chosen = Vec::new();
        match &p.steps {
            Some(list) => {
                if list.is_empty() {
                    err(
                        None,
                        format!("profile {pname:?} has an empty `steps` list: list steps, or remove `steps` to run them all"),
                    );
                }
                for s in list {
                    match index.get(&s.value) {
                        Some(&i) => chosen.push(i),
                        None => err(
                            Some(Pos::of(s)),
                            unknown_step(&format!("profile {pname:?} lists"), &s.value, &index),
                        ),
                    }
                }
            }
            None => chosen.extend(0..steps.len()),
        }
        let mut thresholds = BTreeMap::new();
        let mut keys: Vec<_> = p.thresholds.iter().collect();
        keys.sort_by_key(|(k, _)| Pos::of(k).line);
        for (k, v) in keys {
            if !index.contains_key(&k.value) {
                err(
                    Some(Pos::of(k)),
                    unknown_step(
                        &format!("profile {pname:?} has a threshold for"),
                        &k.value,
                        &index,
                    ),
                );
            }
            if let Some(d) = duration(v, "threshold", &mut err) {
                thresholds.insert(k.value.clone(), d);
            }
        }
        let mut step_env = HashMap::new();
        for (k, v) in &p.step_env {
            match index.get(&k.value) {
                Some(&i) => {
                    step_env.insert(i, v.clone());
                }
                None => err(
                    Some(Pos::of(k)),
                    unknown_step(
                        &format!("profile {pname:?} has `step_env` for"),
                        &k.value,
                        &index,
                    ),
                ),
            }
        }
        if let Some(par) = &p.parallelism {
            if par.value == 0 {
                err(
                    Some(Pos::of(par)),
                    format!("profile {pname:?} has parallelism 0: use 1 or more"),
                );
            }
        }
        profiles.insert(
            pname.clone(),
            Profile {
                name: pname.clone(),
                description: p.description.clone(),
                steps: chosen,
                env: p.env.clone(),
                step_env,
                thresholds,
                parallelism: p.parallelism.as_ref().map(|p| p.value),
            },
        );
    }

    if !errors.is_empty() {
        errors.sort_by_key(|e| e.pos.map(|p| (p.line, p.column)).unwrap_or((u64::MAX, 0)));
        return Err(JobErrors(errors));
    }
    // Close each profile over dependencies and order it.
    let order = topo_order(&steps);
    for p in profiles.values_mut() {
        let mut want = vec![false; steps.len()];
        let mut stack = p.steps.clone();
        while let Some(i) = stack.pop() {
            if !want[i] {
                want[i] = true;
                stack.extend(steps[i].needs.iter().copied());
            }
        }
        p.steps = order.iter().copied().filter(|&i| want[i]).collect();
    }
    Ok(Job {
        file: path.to_path_buf(),
        name,
        steps,
        profiles,
    })
}

fn duration(
    s: &Spanned<String>,
    what: &str,
    err: &mut impl FnMut(Option<Pos>, String),
) -> Option<Duration> {
    match humantime::parse_duration(s.value.trim()) {
        Ok(d) if d.is_zero() => {
            err(
                Some(Pos::of(s)),
                format!("`{what}` is zero: give a positive duration such as 30s or 5m"),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            err(
                Some(Pos::of(s)),
                format!(
                    "`{what}` {:?} is not a duration ({e}): write e.g. 500ms, 30s, 5m or 1h30m",
                    s.value
                ),
            );
            None
        }
    }
}

/// `<what> unknown step "<name>": <suggestion>`, the message of every reference to a step that
/// does not exist.
fn unknown_step(what: &str, name: &str, index: &HashMap<String, usize>) -> String {
    format!(
        "{what} unknown step {name:?}: {}",
        suggest(name, index.keys())
    )
}

fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let mut known: Vec<&String> = known.collect();
    known.sort();
    let close = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name) || k.contains(name) || name.contains(k.as_str()));
    match close {
        Some(k) => format!("did you mean {k:?}?"),
        None => format!(
            "the steps are {}",
            known
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn find_cycle(steps: &[Step]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on stack, 2 = done
    fn visit(
        i: usize,
        steps: &[Step],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for &d in &steps[i].needs {
            if state[d] == 1 {
                let start = stack.iter().position(|&s| s == d).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.reverse();
                return Some(cycle);
            }
            if state[d] == 0 {
                if let Some(c) = visit(d, steps, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; steps.len()];
    for i in 0..steps.len() {
        if state[i] == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(i, steps, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// A topological order (dependencies first), stable in file order.
fn topo_order(steps: &[Step]) -> Vec<usize> {
    let mut done = vec![false; steps.len()];
    let mut out = Vec::new();
    while out.len() < steps.len() {
        let before = out.len();
        for i in 0..steps.len() {
            if !done[i] && steps[i].needs.iter().all(|&d| done[d]) {
                done[i] = true;
                out.push(i);
            }
        }
        if out.len() == before {
            break; // a cycle; reported by `check`
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Result<Job, JobErrors> {
        let p = Path::new("t.yaml");
        check(p, crate::job::parse(p, text)?)
    }

    #[test]
    fn unknown_dependency_names_line() {
        let e = check_text("steps:\n  - name: a\n    run: 'true'\n    needs: [b]\n").unwrap_err();
        assert_eq!(e.0[0].pos.unwrap().line, 4, "{e}");
        assert!(e.0[0].message.contains("unknown step \"b\""), "{e}");
    }

    #[test]
    fn cycle_and_duplicate() {
        let e = check_text(
            "steps:\n  - name: a\n    run: x\n    needs: [b]\n  - name: b\n    run: x\n    needs: [a]\n  - name: a\n    run: y\n",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("duplicate step name \"a\""), "{s}");
        assert!(s.contains("cycle"), "{s}");
    }

    #[test]
    fn profile_closes_over_dependencies() {
        let j = check_text(
            "steps:\n  - name: a\n    run: x\n  - name: b\n    run: x\n    needs: [a]\n  - name: c\n    run: x\nprofiles:\n  p:\n    steps: [b]\n",
        )
        .unwrap();
        assert_eq!(j.profiles["p"].steps, vec![0, 1]);
        assert!(j.profile("q").unwrap_err().message.contains("\"p\""));
    }
}
