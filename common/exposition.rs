//! Prometheus' text exposition format (version 0.0.4), in which the producer and the autoscaler
//! write their `/metrics`: each family's `# HELP` and `# TYPE` lines, then its samples, one a
//! line, labels in braces:
//!
//! ```text
//! # HELP producer_requests_total HTTP requests answered, by path and status.
//! # TYPE producer_requests_total counter
//! producer_requests_total{path="/number",status="200"} 1
//! ```
//!
//! (autoscaler/prometheus.rs is the other way round: it asks Prometheus for numbers.)

use std::fmt::{Display, Write as _};

/// The `Content-Type` of every `/metrics` answer, the producer's and the autoscaler's.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Starts a metric family: what it counts, and its type (counter, gauge, histogram, summary).
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail: here and below, the Ok is ignored.
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// One sample: `name{label="value",...} value`, or `name value` when it has no labels. (The
/// value is a `&dyn Display`, not generic, so that each binary holds one copy of this code.)
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &dyn Display) {
    out.push_str(name);
    for (index, (label, text)) in labels.iter().enumerate() {
        out.push(if index == 0 { '{' } else { ',' });
        let _ = write!(out, "{label}=\"");
        label_value(out, text);
        out.push('"');
    }
    if !labels.is_empty() {
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label's value, with `\`, `"` and newlines escaped, as the format wants: else a host or a
/// service name could end the value early, or forge a sample of its own.
fn label_value(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_then_its_samples() {
        let mut out = String::new();
        family(&mut out, "jobs_total", "counter", "Jobs done.");
        sample(&mut out, "jobs_total", &[], &3);
        sample(
            &mut out,
            "jobs_total",
            &[("queue", "fast"), ("status", "ok")],
            &2.5,
        );
        let expected = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\n\
            jobs_total 3\njobs_total{queue=\"fast\",status=\"ok\"} 2.5\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn label_values_escape_what_would_end_them() {
        let mut out = String::new();
        sample(&mut out, "up", &[("host", "a\"b\\c\nd é")], &1);
        assert_eq!(out, "up{host=\"a\\\"b\\\\c\\nd é\"} 1\n");
    }
}
