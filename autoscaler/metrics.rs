//! What the autoscaler tells Prometheus about itself, at `/metrics` on its own port, and
//! `/healthz`: replicas per service, every decision by outcome and reason, failed calls.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fogdeft::exposition::{family, sample, CONTENT_TYPE};

use crate::error::Peer;

/// How one decision ended, for `autoscaler_decisions_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    ScaleUp,
    ScaleDown,
    Keep,
    /// A change was due, and --dry-run only logged it.
    DryRun,
    /// Prometheus gave no usable number, or not for every replica: nothing changes.
    NoData,
    /// The service cannot be scaled (its labels, its mode, 0 replicas).
    NotScaled,
    /// Docker refused the change, or did not answer.
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::ScaleUp => "scale_up",
            Outcome::ScaleDown => "scale_down",
            Outcome::Keep => "keep",
            Outcome::DryRun => "dry_run",
            Outcome::NoData => "no_data",
            Outcome::NotScaled => "not_scaled",
            Outcome::Failed => "failed",
        }
    }
}

/// The counters and gauges, shared by the loop (which writes) and the server (which reads).
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per service: replicas as Docker reported them, and as the last decision wanted them.
    current: BTreeMap<String, u32>,
    desired: BTreeMap<String, u32>,
    decisions: BTreeMap<(String, Outcome, &'static str), u64>,
    errors: BTreeMap<&'static str, u64>,
    rounds: u64,
    last_round: Option<Instant>,
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave these numbers half-written: keep serving them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn decision(&self, service: &str, outcome: Outcome, reason: &'static str) {
        let key = (service.to_string(), outcome, reason);
        *self.state().decisions.entry(key).or_default() += 1;
    }

    pub fn replicas(&self, service: &str, current: u32, desired: u32) {
        let mut state = self.state();
        state.current.insert(service.to_string(), current);
        state.desired.insert(service.to_string(), desired);
    }

    pub fn error(&self, peer: Peer) {
        *self.state().errors.entry(peer.label()).or_default() += 1;
    }

    /// A round has ended; services no longer listed lose their gauges.
    pub fn round_done(&self, now: Instant, services: &[&str]) {
        let mut state = self.state();
        state.rounds += 1;
        state.last_round = Some(now);
        state
            .current
            .retain(|name, _| services.contains(&name.as_str()));
        state
            .desired
            .retain(|name, _| services.contains(&name.as_str()));
    }

    /// When the last round ended, if one has.
    pub fn last_round(&self) -> Option<Instant> {
        self.state().last_round
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let state = self.state();
        let mut out = String::new();
        let name = "autoscaler_current_replicas";
        let help = "Replicas of the service as Docker reported them at the last round.";
        family(&mut out, name, "gauge", help);
        for (service, n) in &state.current {
            sample(&mut out, name, &[("service", service)], n);
        }
        let name = "autoscaler_desired_replicas";
        let help = "Replicas the last decision set or kept.";
        family(&mut out, name, "gauge", help);
        for (service, n) in &state.desired {
            sample(&mut out, name, &[("service", service)], n);
        }
        let name = "autoscaler_decisions_total";
        let help = "Decisions per service, by outcome and reason.";
        family(&mut out, name, "counter", help);
        for ((service, outcome, reason), n) in &state.decisions {
            let labels = [
                ("service", service.as_str()),
                ("outcome", outcome.label()),
                ("reason", reason),
            ];
            sample(&mut out, name, &labels, n);
        }
        let name = "autoscaler_errors_total";
        let help = "Calls to Prometheus or Docker that gave no usable answer.";
        family(&mut out, name, "counter", help);
        for peer in [Peer::Docker, Peer::Prometheus] {
            let n = state.errors.get(peer.label()).copied().unwrap_or(0);
            sample(&mut out, name, &[("peer", peer.label())], &n);
        }
        let name = "autoscaler_rounds_total";
        let help = "Rounds of the control loop completed.";
        family(&mut out, name, "counter", help);
        sample(&mut out, name, &[], &state.rounds);
        out
    }
}

/// The answer to `path`: status, content type and body. `/healthz` is 503 once `idle` (the time
/// since the last round ended, or since the start) passes `stale_after`: the loop is stuck. Its
/// body is the producer's, `{"status":"ok"}`, which `autoscaler healthcheck` (common/health.rs)
/// checks.
fn answer(
    metrics: &Metrics,
    path: &str,
    idle: Duration,
    stale_after: Duration,
) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    match path {
        "/metrics" => (200, CONTENT_TYPE, metrics.render()),
        "/healthz" if idle <= stale_after => (200, JSON, "{\"status\":\"ok\"}\n".into()),
        "/healthz" => {
            let why = format!("no round has ended for {} s", idle.as_secs());
            (
                503,
                JSON,
                format!("{{\"status\":\"stuck\",\"why\":\"{why}\"}}\n"),
            )
        }
        _ => (
            404,
            "text/plain",
            "not found: try /metrics or /healthz\n".into(),
        ),
    }
}

/// Serves `/metrics` and `/healthz` on `listener` until the returned server is dropped.
/// `/healthz` answers 200 while a round has ended within `stale_after` (or since the start), 503
/// once the loop is stuck. All of the engine that the autoscaler uses is in this function.
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stale_after: Duration,
) -> std::io::Result<fogdeft_engine::Server> {
    let started = Instant::now();
    // One worker and small limits: a scraper and a health check send short heads and no body.
    // Every field is set, so the engine's default of a worker per core (std's core count, which
    // reads cgroup files: 17 KB of code) is not linked in.
    let options = fogdeft_engine::ServerOptions {
        workers: 1,
        max_connections: 64,
        max_request_line: 1024,
        max_header_bytes: 8 * 1024,
        max_body_bytes: 0,
        header_timeout: Duration::from_secs(10),
        // Longer than any scrape interval, so Prometheus keeps its connection.
        idle_timeout: Duration::from_secs(75),
        // Its few clients' socket buffers are the kernel's to size.
        socket_receive_buffer: None,
        socket_send_buffer: None,
    };
    let handler = move |request: &fogdeft_engine::Request<'_>| {
        let idle = metrics.last_round().unwrap_or(started).elapsed();
        let (status, content_type, body) = answer(&metrics, request.url(), idle, stale_after);
        // Every answer is of this moment: no cache may keep it (RFC 9111, section 5.2.2.5).
        fogdeft_engine::Response::from_string(body)
            .with_status_code(status)
            .with_header("Content-Type", content_type)
            .with_header("Cache-Control", "no-store")
    };
    fogdeft_engine::Server::with_handler(listener, options, handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_each_service_escaped() {
        let metrics = Metrics::default();
        metrics.replicas("fogdeft_producer", 3, 4);
        metrics.decision("fogdeft_producer", Outcome::ScaleUp, "target");
        metrics.decision("fogdeft_producer", Outcome::ScaleUp, "target");
        metrics.decision("a\"b\nc", Outcome::NotScaled, "labels");
        metrics.error(Peer::Prometheus);
        let text = metrics.render();
        for line in [
            "# TYPE autoscaler_current_replicas gauge",
            "autoscaler_current_replicas{service=\"fogdeft_producer\"} 3",
            "autoscaler_desired_replicas{service=\"fogdeft_producer\"} 4",
            "autoscaler_decisions_total{service=\"fogdeft_producer\",outcome=\"scale_up\",reason=\"target\"} 2",
            "autoscaler_decisions_total{service=\"a\\\"b\\nc\",outcome=\"not_scaled\",reason=\"labels\"} 1",
            "autoscaler_errors_total{peer=\"prometheus\"} 1",
            "autoscaler_errors_total{peer=\"docker\"} 0",
            "autoscaler_rounds_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // A service that left loses its gauges, not its counts.
        metrics.round_done(Instant::now(), &[]);
        let text = metrics.render();
        assert!(!text.contains("autoscaler_current_replicas{"), "{text}");
        assert!(text.contains("autoscaler_rounds_total 1"), "{text}");
        assert!(text.contains("outcome=\"scale_up\""), "{text}");
    }

    #[test]
    fn healthz_says_when_the_loop_is_stuck() {
        let (metrics, limit) = (Metrics::default(), Duration::from_secs(60));
        let health = |idle| answer(&metrics, "/healthz", Duration::from_secs(idle), limit);
        let ok = "{\"status\":\"ok\"}\n";
        assert_eq!(health(60), (200, "application/json", ok.into()));
        let stuck = health(61);
        let why = "{\"status\":\"stuck\",\"why\":\"no round has ended for 61 s\"}\n";
        assert_eq!((stuck.0, stuck.2.as_str()), (503, why));
        assert_eq!(answer(&metrics, "/", Duration::ZERO, limit).0, 404);
        assert_eq!(
            answer(&metrics, "/metrics", Duration::ZERO, limit).1,
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
