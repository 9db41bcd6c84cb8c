//! Content negotiation between the Prometheus text format 0.0.4, OpenMetrics 1.0.0 and the
//! protobuf exposition.
//!
//! [`negotiate`] reads an HTTP `Accept` header the way scrapers write it. Every media range is
//! judged on its own:
//!
//! * A range *offers OpenMetrics* if it is `application/openmetrics-text` whose `version` is
//!   absent, empty, `1.0.0` or `0.0.1` (older Prometheus asks for 0.0.1; the 1.0.0 output parses
//!   the same for it).
//! * A range *offers text* if it is `text/plain` whose `version` is absent, empty, `0.0.4` or
//!   `1.0.0` (Prometheus 3's: 0.0.4 plus quoted UTF-8 names), or
//!   one of the wildcards `text/*`, `*/*` and `*` (a legacy shorthand for `*/*`, still sent by
//!   Java's `HttpURLConnection`). Wildcards count as text, never as OpenMetrics: OpenMetrics is
//!   only served to clients that name it.
//! * A range *offers protobuf* if it is `application/vnd.google.protobuf` with
//!   `proto=io.prometheus.client.MetricFamily` and `encoding=delimited` (what Prometheus sends
//!   first with native histograms on, or with `scrape_protocols: [PrometheusProto, ...]`).
//! * Everything else (`version=2.0.0`, `text/html`, …) is ignored.
//!
//! [`negotiate_accept`] also reads the winning range's `escaping=` parameter (`allow-utf-8`,
//! `underscores`, `dots`, `values`; `underscores` when absent or unknown, as the
//! escaping-schemes document says) and whether text 1.0.0 was asked for, and gives the exact
//! Content-Type to answer with ([`Negotiated::content_type`]: it names the scheme served
//! whenever the scraper named one).
//!
//! The winner is the offering range with the highest q-value; among equal q-values a concrete
//! type beats `text/*`, which beats `*/*`; among equally specific ranges the first one in the
//! header wins. This is the order `client_golang`'s `NegotiateIncludingOpenMetrics` ends up with
//! (goautoneg sorts by q, then specificity, keeping header order for short lists), except that
//! a q of 0 correctly means "not acceptable" here. When no range offers anything, or there is no
//! header at all, the answer is text, which every scraper understands.
//!
//! Parsing is lenient and never fails: media types and parameter names are case-insensitive,
//! whitespace around every token is ignored, parameter values may be quoted (commas and
//! semicolons inside quotes do not split, backslash escapes are honoured for splitting), and a
//! malformed range is skipped. A malformed q-value (`q=abc`, `q=-1`, `q=1e-1`, `q=`) counts as 0,
//! which is what goautoneg does (Go's `ParseFloat` yields 0 on error), so the range is not
//! acceptable. q-values above 1 are clamped to 1, and digits past the third decimal round up so
//! that a tiny positive q never becomes 0. If a range repeats `q` or `version`, the last one
//! counts. A range that names a format with `q=0` does not veto that format offered by another
//! range: ranges are not merged by RFC 9110 specificity, since text is the safe fallback anyway.

use crate::Escaping;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
    /// The protobuf exposition: length-delimited `io.prometheus.client.MetricFamily` messages
    /// (binary: encode it with [`encode_bytes`](crate::encode_bytes)).
    Protobuf,
}

impl Format {
    /// The exact Content-Type header value.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited"
            }
        }
    }
}

/// Picks the format from an HTTP `Accept` header value (None or empty = no header).
///
/// See the [module documentation](self) for the exact rules. Runs in time linear in the header
/// length, does not allocate and never panics. [`negotiate_accept`] also tells the escaping
/// scheme and the exact Content-Type.
#[must_use]
pub fn negotiate(accept: Option<&str>) -> Format {
    negotiate_accept(accept).format
}

/// What a scraper asked for: the format, the text format's version, and how names outside the
/// legacy character set are to be written ([`Escaping`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Negotiated {
    /// The format to write.
    pub format: Format,
    /// The escaping scheme: the winning range's `escaping=` (`allow-utf-8`, `underscores`,
    /// `dots`, `values`), [`Escaping::Underscores`] when it names none or an unknown one, as
    /// the escaping-schemes document and prometheus/common's `expfmt` say.
    pub escaping: Escaping,
    /// The text format 1.0.0 was asked for (`text/plain;version=1.0.0`, what Prometheus 3
    /// asks with UTF-8 names); written like 0.0.4 plus quoted UTF-8 names.
    pub text_1_0_0: bool,
    /// The winning range named an escaping scheme: the Content-Type then says which one was
    /// served.
    pub escaping_asked: bool,
}

impl Negotiated {
    /// What a scraper without an `Accept` header gets: text 0.0.4, underscores.
    pub const DEFAULT: Negotiated = Negotiated {
        format: Format::Text,
        escaping: Escaping::Underscores,
        text_1_0_0: false,
        escaping_asked: false,
    };

    /// The exact Content-Type: [`Format::content_type`] for a scraper that named no escaping
    /// scheme (Prometheus 2, curl: unchanged), else with the version asked for and
    /// `; escaping=<scheme>` appended, as prometheus/common's `expfmt` writes it (e.g.
    /// `text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8`).
    #[must_use]
    pub const fn content_type(&self) -> &'static str {
        macro_rules! with_escaping {
            ($base:literal) => {
                match self.escaping {
                    Escaping::AllowUtf8 => concat!($base, "; escaping=allow-utf-8"),
                    Escaping::Underscores => concat!($base, "; escaping=underscores"),
                    Escaping::Dots => concat!($base, "; escaping=dots"),
                    Escaping::Values => concat!($base, "; escaping=values"),
                }
            };
        }
        let text_1_0_0 = self.text_1_0_0 && matches!(self.format, Format::Text);
        if !self.escaping_asked && !text_1_0_0 {
            return self.format.content_type();
        }
        match self.format {
            Format::Text if self.text_1_0_0 => {
                with_escaping!("text/plain; version=1.0.0; charset=utf-8")
            }
            Format::Text => with_escaping!("text/plain; version=0.0.4; charset=utf-8"),
            Format::OpenMetrics => {
                with_escaping!("application/openmetrics-text; version=1.0.0; charset=utf-8")
            }
            Format::Protobuf => with_escaping!(
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            ),
        }
    }

    /// Encoder [`Options`](crate::encoding::Options) that write the negotiated escaping.
    #[must_use]
    pub const fn options(&self) -> crate::encoding::Options {
        crate::encoding::Options::new().escaping(self.escaping)
    }
}

/// Negotiates format, text version and escaping from an `Accept` header value (None or empty
/// = no header: [`Negotiated::DEFAULT`]). The format is [`negotiate`]'s; the rest comes from
/// the winning media range.
#[must_use]
pub fn negotiate_accept(accept: Option<&str>) -> Negotiated {
    let Some(accept) = accept else {
        return Negotiated::DEFAULT;
    };
    // (q, specificity, what) of the best range so far. Replacing only on a strictly greater
    // (q, specificity) keeps the earliest of equals; q = 0 means "not acceptable".
    let mut best = (0u16, 0u8, Negotiated::DEFAULT);
    for range in Split::new(accept, b',') {
        if let Some((offer, specificity, q)) = parse_range(range) {
            if q > 0 && (q, specificity) > (best.0, best.1) {
                best = (q, specificity, offer);
            }
        }
    }
    best.2
}

/// Parses one media range into (what it offers, specificity, q in thousandths), or `None` if
/// it offers no format.
fn parse_range(range: &str) -> Option<(Negotiated, u8, u16)> {
    let mut parts = Split::new(range, b';');
    let media = parts.next()?.trim_ascii();
    let (ty, sub) = match split_once(media, b'/') {
        Some((ty, sub)) => (ty.trim_ascii(), sub.trim_ascii()),
        None if media == "*" => ("*", "*"),
        None => return None,
    };

    let mut q = 1000;
    let mut version = "";
    let mut escaping = None;
    let (mut proto, mut encoding) = ("", "");
    for param in parts {
        let Some((name, value)) = split_once(param, b'=') else {
            continue;
        };
        let name = name.trim_ascii();
        let value = unquote(value.trim_ascii());
        if name.eq_ignore_ascii_case("q") {
            q = parse_q(value);
        } else if name.eq_ignore_ascii_case("version") {
            version = value;
        } else if name.eq_ignore_ascii_case("proto") {
            proto = value;
        } else if name.eq_ignore_ascii_case("encoding") {
            encoding = value;
        } else if name.eq_ignore_ascii_case("escaping") {
            // An unknown scheme is ignored, as prometheus/common does.
            escaping = Escaping::from_param(value).or(escaping);
        }
    }

    let offer = if ty == "*" && sub == "*" {
        (Format::Text, 0)
    } else if ty.eq_ignore_ascii_case("text") {
        match sub {
            "*" => (Format::Text, 1),
            _ if sub.eq_ignore_ascii_case("plain") && matches!(version, "" | "0.0.4" | "1.0.0") => {
                (Format::Text, 2)
            }
            _ => return None,
        }
    } else if ty.eq_ignore_ascii_case("application")
        && sub.eq_ignore_ascii_case("openmetrics-text")
        && matches!(version, "" | "1.0.0" | "0.0.1")
    {
        (Format::OpenMetrics, 2)
    } else if ty.eq_ignore_ascii_case("application")
        && sub.eq_ignore_ascii_case("vnd.google.protobuf")
        && proto == "io.prometheus.client.MetricFamily"
        && encoding == "delimited"
    {
        (Format::Protobuf, 2)
    } else {
        return None;
    };
    let negotiated = Negotiated {
        format: offer.0,
        escaping: escaping.unwrap_or(Escaping::Underscores),
        text_1_0_0: offer.0 == Format::Text && offer.1 == 2 && version == "1.0.0",
        escaping_asked: escaping.is_some(),
    };
    Some((negotiated, offer.1, q))
}

/// Parses a q-value into thousandths (0..=1000). Accepts `d*[.d*]` with at least one digit
/// (so `1`, `0.5`, `.5`, `1.` and `0.750` all work); anything else is malformed and yields 0.
fn parse_q(s: &str) -> u16 {
    let (int, frac) = split_once(s, b'.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return 0;
    }
    if int.bytes().any(|b| b != b'0') {
        // At least 1: clamp.
        return 1000;
    }
    let mut millis = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        if i < 3 {
            millis = millis * 10 + u16::from(b - b'0');
        } else if b != b'0' {
            // Finer than thousandths: round up so that e.g. 0.0001 stays acceptable.
            return millis + 1;
        }
    }
    for _ in frac.len()..3 {
        millis *= 10;
    }
    millis
}

/// `s.split_once(c)` for an ASCII `c`, without the `char` pattern machinery (400 bytes of a
/// WASM build).
fn split_once(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == c)?;
    // `c` is ASCII: both sides start and end on char boundaries.
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Strips one pair of surrounding double quotes. Escapes inside are left as they are: the values
/// compared here (`q`, `version`) never need them.
fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        // Both quotes are ASCII: char boundaries.
        v.get(1..v.len() - 1).unwrap_or(v)
    } else {
        v
    }
}

/// Iterator over the pieces of a string between top-level `sep` bytes, i.e. those outside
/// double-quoted strings. Always yields at least one (possibly empty) piece. `sep`, `"` and `\`
/// are ASCII, so every split point is a char boundary even in non-ASCII input.
struct Split<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Split<'a> {
    fn new(s: &'a str, sep: u8) -> Self {
        Split { rest: Some(s), sep }
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let bytes = s.as_bytes();
        let mut quoted = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => quoted = !quoted,
                // A quoted-pair: the escaped byte cannot end the string or split it. If it is
                // the lead byte of a multi-byte char, the continuation bytes that follow are
                // >= 0x80 and thus inert too.
                b'\\' if quoted => i += 1,
                b if b == self.sep && !quoted => {
                    // `get` rather than indexing: no panic path (never taken).
                    self.rest = s.get(i + 1..);
                    return s.get(..i);
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;
    use std::vec::Vec;

    use Format::{OpenMetrics as OM, Text};

    fn n(h: &str) -> Format {
        negotiate(Some(h))
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            OM.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        // Usable in const context.
        const CT: &str = Format::OpenMetrics.content_type();
        assert!(CT.starts_with("application/openmetrics-text"));
    }

    #[test]
    fn no_header_is_text() {
        assert_eq!(negotiate(None), Text);
        assert_eq!(n(""), Text);
        assert_eq!(n("   "), Text);
        assert_eq!(n(" \t "), Text);
    }

    #[test]
    fn prometheus_2_42() {
        assert_eq!(
            n("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            OM
        );
    }

    #[test]
    fn prometheus_2_older_openmetrics_0_0_1() {
        assert_eq!(
            n("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            OM
        );
    }

    #[test]
    fn prometheus_2_protobuf_first() {
        assert_eq!(
            n("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::Protobuf
        );
    }

    #[test]
    fn prometheus_3_native_histograms_protobuf() {
        // Prometheus 3.5 with native histograms on (its `Accept` verbatim).
        assert_eq!(
            n("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"),
            Format::Protobuf
        );
        // Any q; the scraper's preference decides.
        assert_eq!(
            n("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.1,text/plain;q=0.5"),
            Text
        );
        assert_eq!(
            n("text/plain;q=0.5, Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=delimited; q=0.7"),
            Format::Protobuf
        );
        // Another message, another encoding, or no parameters: not ours.
        for h in [
            "application/vnd.google.protobuf",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "application/vnd.google.protobuf;proto=io.prometheus.write.v2.Request;encoding=delimited",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0",
        ] {
            assert_eq!(n(h), Text, "{h}");
        }
        assert_eq!(
            Format::Protobuf.content_type(),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        );
    }

    #[test]
    fn prometheus_3_default() {
        assert_eq!(
            n("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
            OM
        );
    }

    #[test]
    fn prometheus_text_only() {
        assert_eq!(n("text/plain;version=0.0.4;q=0.9,*/*;q=0.1"), Text);
        assert_eq!(n("text/plain;version=0.0.4"), Text);
        assert_eq!(
            n("text/plain;version=1.0.0;escaping=allow-utf-8;q=0.9,*/*;q=0.8"),
            Text
        );
        // Prometheus 3 with text preferred over OpenMetrics.
        assert_eq!(
            n("text/plain;version=0.0.4;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.4"),
            Text
        );
    }

    #[test]
    fn q_zero_is_not_acceptable() {
        assert_eq!(n("application/openmetrics-text; version=1.0.0; q=0"), Text);
        assert_eq!(
            n("application/openmetrics-text; version=1.0.0; q=0.000"),
            Text
        );
        assert_eq!(n("application/openmetrics-text;q=0,*/*;q=0.001"), Text);
        assert_eq!(n("application/openmetrics-text;q=0,text/plain;q=0"), Text);
        assert_eq!(n("text/plain;q=0,application/openmetrics-text;q=0.001"), OM);
    }

    #[test]
    fn browsers_and_tools() {
        assert_eq!(
            n("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Text
        );
        assert_eq!(
            n("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
            Text
        );
        assert_eq!(n("*/*"), Text);
        assert_eq!(
            n("text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"),
            Text
        );
        assert_eq!(n("application/json"), Text);
    }

    #[test]
    fn garbage_is_text() {
        for h in [
            "garbage",
            ",",
            ",,,,",
            ";;;;",
            ";",
            "/",
            "//",
            "application/",
            "/openmetrics-text",
            "=;=,=",
            "\"",
            "\"application/openmetrics-text\"",
            "application/openmetrics-text/extra",
            "application/*",
            "*/openmetrics-text",
            "\u{0}\u{ffff}é",
        ] {
            assert_eq!(n(h), Text, "{h:?}");
        }
    }

    #[test]
    fn escaping_and_content_type() {
        let p3 = negotiate_accept(Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"));
        assert_eq!((p3.format, p3.escaping), (OM, Escaping::AllowUtf8));
        assert_eq!(
            p3.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        );
        let t = negotiate_accept(Some("text/plain;version=1.0.0;escaping=allow-utf-8"));
        assert_eq!(
            t.content_type(),
            "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        );
        let t = negotiate_accept(Some("text/plain;version=1.0.0"));
        assert_eq!(t.escaping, Escaping::Underscores);
        assert_eq!(
            t.content_type(),
            "text/plain; version=1.0.0; charset=utf-8; escaping=underscores"
        );
        for e in [Escaping::Underscores, Escaping::Dots, Escaping::Values] {
            let n = negotiate_accept(Some(&std::format!(
                "application/openmetrics-text;version=1.0.0;escaping={}",
                e.as_str()
            )));
            assert_eq!(n.escaping, e);
            assert!(n
                .content_type()
                .ends_with(&std::format!("; escaping={}", e.as_str())));
        }
        // Prometheus 2 and curl name no scheme: underscores, the Content-Types as before.
        for (h, f) in [
            (None, Text),
            (
                Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
                OM,
            ),
            (Some("*/*"), Text),
        ] {
            let n = negotiate_accept(h);
            assert_eq!((n.format, n.escaping), (f, Escaping::Underscores));
            assert_eq!(n.content_type(), f.content_type());
        }
        // An unknown scheme is ignored; the winner's own parameter counts.
        let n = negotiate_accept(Some("text/plain;escaping=bogus"));
        assert_eq!(
            (n.escaping, n.escaping_asked),
            (Escaping::Underscores, false)
        );
        let n = negotiate_accept(Some(
            "text/plain;escaping=dots;q=0.1,application/openmetrics-text;escaping=values",
        ));
        assert_eq!((n.format, n.escaping), (OM, Escaping::Values));
        assert_eq!(n.options().escaping_scheme(), Escaping::Values);
    }

    #[test]
    fn unsupported_versions() {
        assert_eq!(n("application/openmetrics-text; version=2.0.0"), Text);
        assert_eq!(n("application/openmetrics-text; version=1.0"), Text);
        assert_eq!(n("application/openmetrics-text; version=1.0.0x"), Text);
        // Prometheus 3's text 1.0.0 (0.0.4 plus quoted UTF-8 names) is served.
        assert_eq!(n("text/plain;version=1.0.0"), Text);
        assert_eq!(
            n("text/plain;version=1.0.0;q=1,application/openmetrics-text;version=1.0.0;q=0.5"),
            Text
        );
        assert_eq!(n("text/plain;version=1.1.0;q=1,text/*;q=0.5"), Text);
        assert_eq!(
            n("application/openmetrics-text;version=2.0.0,text/plain;version=0.0.4;q=0.1"),
            Text
        );
    }

    #[test]
    fn openmetrics_versions() {
        assert_eq!(n("application/openmetrics-text"), OM);
        assert_eq!(n("application/openmetrics-text;version=1.0.0"), OM);
        assert_eq!(n("application/openmetrics-text;version=0.0.1"), OM);
        assert_eq!(n("application/openmetrics-text;version="), OM);
        assert_eq!(n("application/openmetrics-text;version=\"1.0.0\""), OM);
        assert_eq!(n("application/openmetrics-text;charset=utf-8"), OM);
        // Last `version` wins.
        assert_eq!(
            n("application/openmetrics-text;version=9;version=1.0.0"),
            OM
        );
        assert_eq!(
            n("application/openmetrics-text;version=1.0.0;version=9"),
            Text
        );
    }

    #[test]
    fn case_and_whitespace_insensitive() {
        assert_eq!(n("Application/OpenMetrics-Text; Version=1.0.0"), OM);
        assert_eq!(
            n("APPLICATION/OPENMETRICS-TEXT;VERSION=1.0.0;Q=0.9,TEXT/PLAIN;Q=0.5"),
            OM
        );
        assert_eq!(
            n("  application/openmetrics-text ; version = 1.0.0 ; q = 0.9 ,\ttext/plain ; q = 0.5 "),
            OM
        );
        assert_eq!(n("application / openmetrics-text"), OM);
        assert_eq!(
            n("TEXT/PLAIN;q=0.9, application/openmetrics-text;q=0.5"),
            Text
        );
        assert_eq!(n("Text/*;q=0.9, application/openmetrics-text;q=0.5"), Text);
    }

    #[test]
    fn q_ordering() {
        assert_eq!(
            n("text/plain;version=0.0.4, application/openmetrics-text;q=0.9"),
            Text
        );
        assert_eq!(
            n("text/plain;q=0.5, application/openmetrics-text;q=0.501"),
            OM
        );
        assert_eq!(
            n("application/openmetrics-text;q=0.5, text/plain;q=0.501"),
            Text
        );
        assert_eq!(n("*/*;q=0.9, application/openmetrics-text;q=0.8"), Text);
        assert_eq!(n("text/*;q=0.9, application/openmetrics-text;q=0.8"), Text);
        // The best of several ranges of one format counts.
        assert_eq!(
            n("text/plain;q=0.1, application/openmetrics-text;q=0.2, text/plain;q=0.3, application/openmetrics-text;q=0.4"),
            OM
        );
    }

    #[test]
    fn ties() {
        // Equal q, equal specificity: the earlier range wins.
        assert_eq!(n("application/openmetrics-text, text/plain"), OM);
        assert_eq!(n("text/plain, application/openmetrics-text"), Text);
        assert_eq!(
            n("text/plain;q=0.5, application/openmetrics-text;q=0.5"),
            Text
        );
        assert_eq!(
            n("application/openmetrics-text;q=0.5, text/plain;version=0.0.4;q=0.5"),
            OM
        );
        // Equal q: a named type beats a wildcard, wherever it appears.
        assert_eq!(n("application/openmetrics-text;q=0.5, */*;q=0.5"), OM);
        assert_eq!(n("*/*;q=0.5, application/openmetrics-text;q=0.5"), OM);
        assert_eq!(n("text/*, application/openmetrics-text"), OM);
        assert_eq!(n("*, application/openmetrics-text"), OM);
        // ... and so does an explicit text/plain.
        assert_eq!(n("*/*, text/plain, application/openmetrics-text"), Text);
    }

    #[test]
    fn malformed_q_counts_as_zero() {
        for q in [
            "abc", "-1", "1e-1", "", "0.5x", "0..5", ".", "+0.5", "0,5", "1 0", "\"\"", "inf",
            "NaN",
        ] {
            let h = std::format!("application/openmetrics-text;q={q}");
            assert_eq!(n(&h), Text, "{h}");
            let h = std::format!("application/openmetrics-text;q={q},text/plain;q=0.001");
            assert_eq!(n(&h), Text, "{h}");
        }
        // A parameter without '=' is ignored rather than treated as a malformed q.
        assert_eq!(n("application/openmetrics-text;q;version=1.0.0"), OM);
    }

    #[test]
    fn lenient_q_forms() {
        assert_eq!(n("application/openmetrics-text;q=.5,*/*;q=.4"), OM);
        assert_eq!(
            n("application/openmetrics-text;q=1.,text/plain;q=0.999"),
            OM
        );
        assert_eq!(
            n("application/openmetrics-text;q=\"0.5\",text/plain;q=0.4"),
            OM
        );
        // Clamped: q=2 ties with q=1, and the earlier range wins.
        assert_eq!(n("text/plain, application/openmetrics-text;q=2"), Text);
        assert_eq!(n("application/openmetrics-text;q=2, text/plain"), OM);
        // Last q wins.
        assert_eq!(
            n("application/openmetrics-text;q=0;q=0.5,text/plain;q=0.4"),
            OM
        );
        assert_eq!(
            n("application/openmetrics-text;q=0.5;q=0,text/plain;q=0.4"),
            Text
        );
    }

    #[test]
    fn parse_q_values() {
        let cases = [
            ("1", 1000),
            ("1.0", 1000),
            ("1.000", 1000),
            ("1.", 1000),
            ("2", 1000),
            ("001", 1000),
            ("0", 0),
            ("0.", 0),
            ("0.0", 0),
            ("0.5", 500),
            (".5", 500),
            ("0.75", 750),
            ("0.123", 123),
            ("0.1234", 124),
            ("0.1230000", 123),
            ("0.0001", 1),
            ("0.9999", 1000),
            ("00.25", 250),
            ("0.99999999999999999999999999999999", 1000),
            ("", 0),
            (".", 0),
            ("x", 0),
            ("-0.5", 0),
            ("0.5.", 0),
            ("0.5e1", 0),
            (" 0.5", 0),
            ("٠.5", 0),
        ];
        for (s, want) in cases {
            assert_eq!(parse_q(s), want, "{s:?}");
        }
    }

    #[test]
    fn quoted_values_do_not_split() {
        assert_eq!(
            n("application/openmetrics-text;foo=\"a,b;c\";version=1.0.0,text/plain;q=0.1"),
            OM
        );
        assert_eq!(
            n("application/openmetrics-text;foo=\"a\\\",b;q=0\";version=1.0.0,text/plain;q=0.1"),
            OM
        );
        // Outside quotes, ',' splits: the quoted-looking q is then malformed.
        assert_eq!(
            n("text/plain;q=0.1,application/openmetrics-text;q=\"0.5,x\""),
            Text
        );
        // An unterminated quote swallows the rest of the header into one range.
        assert_eq!(n("application/openmetrics-text;foo=\"abc, text/plain"), OM);
        assert_eq!(
            n("text/plain;foo=\"abc, application/openmetrics-text"),
            Text
        );
    }

    #[test]
    fn split_pieces() {
        fn pieces(s: &str, sep: u8) -> Vec<&str> {
            Split::new(s, sep).collect()
        }
        assert_eq!(pieces("", b','), [""]);
        assert_eq!(pieces(",", b','), ["", ""]);
        assert_eq!(pieces("a,b", b','), ["a", "b"]);
        assert_eq!(pieces("a,\"b,c\",d", b','), ["a", "\"b,c\"", "d"]);
        assert_eq!(pieces("a,\"b\\\",c\",d", b','), ["a", "\"b\\\",c\"", "d"]);
        assert_eq!(pieces("\"a,b", b','), ["\"a,b"]);
        assert_eq!(pieces("\"\\", b','), ["\"\\"]);
        assert_eq!(pieces("é,\"ü\\é,\",x", b','), ["é", "\"ü\\é,\"", "x"]);
        // Backslashes outside quotes are ordinary.
        assert_eq!(pieces("a\\,b", b','), ["a\\", "b"]);
        assert_eq!(pieces("a;b,c", b';'), ["a", "b,c"]);
    }

    #[test]
    fn unquote_values() {
        assert_eq!(unquote("\"1.0.0\""), "1.0.0");
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("1.0.0"), "1.0.0");
        assert_eq!(unquote("\"é\""), "é");
    }

    /// xorshift64: deterministic, dependency-free pseudo-randomness.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "randomised stress without unsafe; slow under miri")]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut bytes = Vec::new();
        for _ in 0..20_000 {
            bytes.clear();
            let len = (rng.next() % 96) as usize;
            for _ in 0..len {
                bytes.push(rng.next() as u8);
            }
            let s = String::from_utf8_lossy(&bytes);
            let _ = n(&s);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "randomised stress without unsafe; slow under miri")]
    fn random_token_soup_never_panics_and_is_consistent() {
        const TOKENS: &[&str] = &[
            "application/openmetrics-text",
            "text/plain",
            "text/*",
            "*/*",
            "*",
            "/",
            ";",
            ",",
            "=",
            "\"",
            "\\",
            " ",
            "\t",
            "q",
            "Q",
            "version",
            "1.0.0",
            "0.0.1",
            "0.0.4",
            "2.0.0",
            "0",
            "0.5",
            ".",
            "1",
            "é",
            "\u{fffd}",
            "escaping=allow-utf-8",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut s = String::new();
        let mut oms = 0;
        for _ in 0..50_000 {
            s.clear();
            for _ in 0..(rng.next() % 24) {
                s.push_str(TOKENS[(rng.next() % TOKENS.len() as u64) as usize]);
            }
            let f = n(&s);
            if f == OM {
                oms += 1;
                // OpenMetrics is only ever chosen when the header names it.
                assert!(s.to_ascii_lowercase().contains("openmetrics-text"), "{s:?}");
            }
            // Adding a lower-priority text range after everything never changes the answer...
            let mut t = s.clone();
            t.push_str(",text/plain;q=0.0001");
            if !s.contains('"') {
                assert_eq!(n(&t), f, "{s:?}");
            }
        }
        // The soup is rich enough to reach both outcomes.
        assert!(oms > 100, "{oms}");
    }

    #[test]
    #[cfg_attr(miri, ignore = "randomised stress without unsafe; slow under miri")]
    fn long_headers() {
        // Many ranges: the best one is at the very end.
        let mut s = String::new();
        for _ in 0..50_000 {
            s.push_str("text/plain;version=0.0.4;q=0.5, ");
        }
        assert_eq!(n(&s), Text);
        s.push_str("application/openmetrics-text;q=0.6");
        assert_eq!(n(&s), OM);

        // One huge token, one huge parameter, one huge quoted string, a huge q.
        let big = "x".repeat(1 << 20);
        assert_eq!(n(&big), Text);
        assert_eq!(
            n(&std::format!("application/openmetrics-text;{big}={big}")),
            OM
        );
        assert_eq!(
            n(&std::format!("application/openmetrics-text;a=\"{big}\"")),
            OM
        );
        assert_eq!(
            n(&std::format!(
                "application/openmetrics-text;q=0.{}1",
                "0".repeat(1 << 20)
            )),
            OM
        );
        assert_eq!(
            n(&std::format!(
                "application/openmetrics-text;q={}",
                "9".repeat(1 << 20)
            )),
            OM
        );
        // Pathological quoting and separators.
        assert_eq!(n(&"\"".repeat(1 << 20)), Text);
        assert_eq!(n(&"\\\"".repeat(1 << 19)), Text);
        assert_eq!(n(&",".repeat(1 << 20)), Text);
        assert_eq!(n(&";".repeat(1 << 20)), Text);
        assert_eq!(n(&"é".repeat(1 << 19)), Text);
    }
}
