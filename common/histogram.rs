//! How long requests take, counted in buckets, as a Prometheus histogram: the producer keeps one
//! per route. Recording is a few atomic additions, with no lock and no allocation, so that it
//! costs the request path nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::exposition::sample;

/// Upper bounds of the buckets, in nanoseconds, 1 us to 1 s: /number takes a microsecond or two
/// on a PC, /metrics a tenth of a millisecond, and a Pi 3 is 5 to 10 times slower.
const BUCKETS_NS: [u64; 13] = [
    1_000,
    5_000,
    10_000,
    50_000,
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
];

/// Durations by bucket, and their sum. (The fields are public for the producer's test that fills
/// them to their longest.)
#[derive(Default)]
pub struct Histogram {
    /// Durations by the first bucket that holds them; the last one is for those over a second.
    pub buckets: [AtomicU64; BUCKETS_NS.len() + 1],
    pub sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_NS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BUCKETS_NS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    pub fn count(&self) -> u64 {
        // Saturating, as below: a count past u64::MAX stays there, in every build, never panics.
        self.buckets
            .iter()
            .fold(0, |total: u64, b| total.saturating_add(b.load(Relaxed)))
    }

    /// This series, under `label="value"`, after its family's `# HELP` and `# TYPE` lines.
    /// Prometheus' buckets are cumulative: each counts every duration up to its bound, `le`
    /// (less or equal), the bound in seconds.
    pub fn render(&self, out: &mut String, name: &str, (label, value): (&str, &str)) {
        let bucket = format!("{name}_bucket");
        let mut cumulative: u64 = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            cumulative = count.load(Relaxed).saturating_add(cumulative);
            let bound = BUCKETS_NS
                .get(index)
                .map_or("+Inf".to_string(), |&ns| (ns as f64 / 1e9).to_string());
            sample(out, &bucket, &[(label, value), ("le", &bound)], &cumulative);
        }
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        sample(out, &format!("{name}_sum"), &[(label, value)], &sum);
        sample(
            out,
            &format!("{name}_count"),
            &[(label, value)],
            &cumulative,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_their_buckets() {
        let histogram = Histogram::default();
        for micros in [1, 3, 5, 6, 700, 2_000_000] {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.count(), 6);
        let mut text = String::new();
        histogram.render(&mut text, "d", ("path", "/number"));
        let bucket = |le: &str| {
            let line = format!("d_bucket{{path=\"/number\",le=\"{le}\"}} ");
            let at = text
                .find(&line)
                .unwrap_or_else(|| panic!("{line} in {text}"));
            text[at + line.len()..].lines().next().unwrap().to_string()
        };
        // Cumulative: each bucket counts every duration up to its bound, the bound included.
        assert_eq!(bucket("0.000001"), "1");
        assert_eq!(bucket("0.000005"), "3");
        assert_eq!(bucket("0.00001"), "4");
        assert_eq!(bucket("0.0005"), "4");
        assert_eq!(bucket("0.001"), "5");
        assert_eq!(bucket("1"), "5");
        assert_eq!(bucket("+Inf"), "6");
        assert!(text.contains("d_count{path=\"/number\"} 6\n"), "{text}");
        assert!(
            text.contains("d_sum{path=\"/number\"} 2.000715\n"),
            "{text}"
        );
    }
}
