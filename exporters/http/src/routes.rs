//! Which page a request asks for, and the fixed pages.

/// The paths the exporter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/`: a landing page that links to the metrics.
    Landing,
    /// `/-/healthy`: 200 while the exporter runs.
    Healthy,
    /// `/metrics`: the registry.
    Metrics,
    /// Anything else: 404.
    NotFound,
}

/// The route of a request target (`/metrics?x=1`, or the absolute form
/// `http://host:9099/metrics` that proxies send). The query and fragment are ignored; the path
/// must match exactly (no trailing slash, no percent-encoding).
pub(crate) fn route(target: &str) -> Route {
    match path(target) {
        "/" => Route::Landing,
        "/-/healthy" => Route::Healthy,
        "/metrics" => Route::Metrics,
        _ => Route::NotFound,
    }
}

fn path(target: &str) -> &str {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"));
    let t = match rest {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let end = t.find(['?', '#']).unwrap_or(t.len());
    &t[..end]
}

/// The methods every route answers; others get 405 with this `Allow` value.
pub(crate) const ALLOW: &str = "GET, HEAD";

/// True for GET and HEAD.
pub(crate) fn allowed(method: &str) -> bool {
    matches!(method, "GET" | "HEAD")
}

/// The landing page. The links are relative so that they also work behind a reverse proxy
/// that serves the exporter under a path prefix.
pub(crate) const LANDING_PAGE: &str = "<!DOCTYPE html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Metrics exporter</title></head>
<body>
<h1>Metrics exporter</h1>
<ul>
<li><a href=\"metrics\">/metrics</a>: the metrics, for Prometheus</li>
<li><a href=\"-/healthy\">/-/healthy</a>: health check</li>
</ul>
</body>
</html>
";

/// Content type of the landing page.
pub(crate) const HTML: &str = "text/html; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        for (target, want) in [
            ("/", Route::Landing),
            ("/?x", Route::Landing),
            ("/metrics", Route::Metrics),
            ("/metrics?name[]=up", Route::Metrics),
            ("/metrics#frag", Route::Metrics),
            ("http://example:9099/metrics", Route::Metrics),
            ("http://example:9099", Route::Landing),
            ("/-/healthy", Route::Healthy),
            ("/metrics/", Route::NotFound),
            ("/Metrics", Route::NotFound),
            ("/%6Detrics", Route::NotFound),
            ("*", Route::NotFound),
            ("", Route::NotFound),
            ("/favicon.ico", Route::NotFound),
        ] {
            assert_eq!(route(target), want, "{target:?}");
        }
    }

    #[test]
    fn methods() {
        assert!(allowed("GET"));
        assert!(allowed("HEAD"));
        for m in ["POST", "PUT", "DELETE", "OPTIONS", "get"] {
            assert!(!allowed(m), "{m}");
        }
        assert!(LANDING_PAGE.contains("href=\"metrics\""));
    }
}
