//! The grouping key of a push, from its path: `/push/job/<job>{/<label>/<value>}`, the
//! Pushgateway's grouping, with its `<label>@base64/<base64url value>` form for values that
//! hold `/` (and `@base64/=` for an empty value).

use std::fmt;

use base64::Engine as _;

/// Where pushes go: `/push/job/<job>...`.
pub const PREFIX: &str = "/push/";

/// The label the job name of a push becomes.
pub const JOB_LABEL: &str = "job";

/// The grouping labels of a push, `job` first, then the path's labels in their order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grouping {
    /// `(name, value)` pairs; names are unique, valid label names.
    pub labels: Vec<(String, String)>,
}

impl Grouping {
    /// The grouping from `(name, value)` pairs, checked as a path's would be.
    pub fn new(labels: Vec<(String, String)>) -> Result<Grouping, PathError> {
        let Some((first, value)) = labels.first() else {
            return Err(bad("no job: push to /push/job/<job>"));
        };
        if first != JOB_LABEL {
            return Err(bad("the first grouping label must be `job`"));
        }
        if value.is_empty() {
            return Err(bad("the job name is empty: push to /push/job/<job>"));
        }
        for (i, (name, _)) in labels.iter().enumerate() {
            if let Some(problem) = label_name_problem(name) {
                return Err(bad(format!("grouping label `{name}`: {problem}")));
            }
            if labels[..i].iter().any(|(n, _)| n == name) {
                return Err(bad(format!("grouping label `{name}` is given twice")));
            }
        }
        Ok(Grouping { labels })
    }

    /// The value of grouping label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        Ok(())
    }
}

/// Why a push path is not one: a 404 when it is not under `/push/job/` at all, else a 400.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathError {
    /// 404 or 400.
    pub status: u16,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PathError {}

const FORM: &str = "push to /push/job/<job>{/<label>/<value>}, with <label>@base64/<base64url> \
                    for a value that holds `/` (and <label>@base64/= for an empty one)";

fn bad(message: impl Into<String>) -> PathError {
    PathError {
        status: 400,
        message: format!("bad push path: {}; {FORM}", message.into()),
    }
}

/// Why `name` cannot be a grouping label name, if it cannot.
pub(crate) fn label_name_problem(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    let valid = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if !valid {
        Some("a label name is letters, digits and `_`, not starting with a digit")
    } else if name.starts_with("__") {
        Some("names starting with `__` are reserved for Prometheus")
    } else if name == "le" || name == "quantile" {
        Some("`le` and `quantile` are reserved for histogram buckets and quantiles")
    } else {
        None
    }
}

/// The grouping of the push path `path` (without the query string). A path outside
/// `/push/` is a 404; a path under it that is not a grouping is a 400 saying why.
pub fn parse(path: &str) -> Result<Grouping, PathError> {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Err(PathError {
            status: 404,
            message: format!("not found: {FORM}"),
        });
    };
    let segments: Vec<&str> = rest.strip_suffix('/').unwrap_or(rest).split('/').collect();
    if !segments.len().is_multiple_of(2) {
        return Err(bad("a label has no value"));
    }
    let mut labels = Vec::with_capacity(segments.len() / 2);
    for pair in segments.chunks(2) {
        let name = percent_decode(pair[0]).ok_or_else(|| bad("invalid %-escape"))?;
        let raw = percent_decode(pair[1]).ok_or_else(|| bad("invalid %-escape"))?;
        let (name, value) = match name.strip_suffix("@base64") {
            Some(name) => (name.to_owned(), base64_value(name, &raw)?),
            None => (name, raw),
        };
        labels.push((name, value));
    }
    if labels.first().map(|(n, _)| n.as_str()) != Some(JOB_LABEL) {
        return Err(bad("the path must start with /push/job/<job>"));
    }
    Grouping::new(labels)
}

/// A base64url value (padded or not; `=` alone is the empty value).
fn base64_value(name: &str, raw: &str) -> Result<String, PathError> {
    if raw == "=" {
        return Ok(String::new());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|e| {
            bad(format!(
                "the value of `{name}@base64` is not base64url ({e})"
            ))
        })?;
    String::from_utf8(bytes).map_err(|_| bad(format!("the value of `{name}@base64` is not UTF-8")))
}

/// `%XX` decoded (a path segment: `+` stays `+`); `None` for an invalid escape or bytes that
/// are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(path: &str) -> Vec<(String, String)> {
        parse(path).unwrap().labels
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn plain_and_base64_groupings() {
        assert_eq!(labels("/push/job/ci"), pairs(&[("job", "ci")]));
        assert_eq!(
            labels("/push/job/ci/runner/r1/"),
            pairs(&[("job", "ci"), ("runner", "r1")])
        );
        // "a/b" in base64url, with and without padding; `=` is the empty value.
        assert_eq!(
            labels("/push/job@base64/YS9i/path@base64/YS9iYw==/empty@base64/="),
            pairs(&[("job", "a/b"), ("path", "a/bc"), ("empty", "")])
        );
        assert_eq!(labels("/push/job/a%20b"), pairs(&[("job", "a b")]));
    }

    #[test]
    fn bad_paths_say_why() {
        assert_eq!(parse("/metrics/job/x").unwrap_err().status, 404);
        for (path, says) in [
            ("/push/job", "no value"),
            ("/push/job/", "no value"),
            ("/push/job@base64/=", "job name is empty"),
            ("/push/instance/x", "start with /push/job"),
            ("/push/job/x/job/y", "given twice"),
            ("/push/job/x/__name__/y", "reserved"),
            ("/push/job/x/le/1", "reserved"),
            ("/push/job/x/1a/y", "label name"),
            ("/push/job/x/a@base64/!!", "base64url"),
            ("/push/job/x/a/%zz", "%-escape"),
            ("/push/job/x/a", "no value"),
        ] {
            let e = parse(path).unwrap_err();
            assert_eq!(e.status, 400, "{path}");
            assert!(e.message.contains(says), "{path}: {}", e.message);
            assert!(e.message.contains("/push/job/<job>"), "{path}");
        }
    }
}
