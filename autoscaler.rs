//! autoscaler: scales Swarm services on their request rate, the way Kubernetes' HPA does.
//!
//! The tutorial's Day 2 scales on CPU with a bash loop. Request rate is the better signal, and
//! our producer counts its requests (`producer_requests_total`). Every `--interval` this program
//! asks Docker for the services that opt in with labels, asks Prometheus for each one's request
//! rate, and sets the replica count through the Docker Engine API:
//!
//! ```text
//! wanted = ceil(current × rate per replica / target)   then HPA v2's behavior and min..max
//! ```
//!
//! It never scales on missing data: when Prometheus or Docker fails, or when not every replica
//! was scraped for the whole rate window, it logs why, changes nothing, and tries again at the
//! next interval. One log line per service and interval says what it decided and why, and
//! `/metrics` counts the same decisions.
//!
//! This file is the control loop. Its parts, each with its tests, are in autoscaler/:
//! config.rs (settings), hpa.rs (the decision), prometheus.rs, docker.rs (with the Unix socket
//! under Docker's API), error.rs (the one error type) and metrics.rs (/metrics and /healthz).

#[path = "autoscaler/config.rs"]
mod config;
#[path = "autoscaler/docker.rs"]
mod docker;
#[path = "autoscaler/error.rs"]
mod error;
#[path = "autoscaler/hpa.rs"]
mod hpa;
#[path = "autoscaler/metrics.rs"]
mod metrics;
#[path = "autoscaler/prometheus.rs"]
mod prometheus;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;
use std::{process, thread};

use config::Config;
use docker::{Docker, Service};
use fogdeft::{say, Value};
use hpa::{Decision, Limit, Memory, Policy, LABEL_TARGET};
use metrics::{Metrics, Outcome};
use prometheus::Prometheus;

fn main() {
    let (config, subcommand) =
        fogdeft::settings_or_exit::<Config>("autoscaler", config::usage, &["healthcheck"]);
    if subcommand.is_some() {
        // For Docker's HEALTHCHECK: a FROM scratch image has no curl (common/health.rs).
        process::exit(fogdeft::health::check(
            "autoscaler",
            config.host,
            config.port,
        ));
    }
    // Stop at once, even mid-call: Docker applies an update whole or not at all.
    fogdeft::exit_on_stop_signal(|signal| say!("autoscaler: {signal}: stopping"));

    let metrics = Arc::new(Metrics::default());
    // A round makes a few calls per service, each bounded by --timeout: one that has not
    // ended after this long is stuck.
    let stale_after = config.interval * 3 + config.timeout * 10;
    let listening = TcpListener::bind((config.host, config.port))
        .and_then(|listener| metrics::serve(listener, Arc::clone(&metrics), stale_after));
    // The server answers until it is dropped, at the end of main.
    let server = listening.unwrap_or_else(|error| {
        eprintln!(
            "autoscaler: cannot listen on {}:{}: {error}",
            config.host, config.port
        );
        process::exit(1)
    });
    say!(
        "autoscaler: every {} scaling services labelled {LABEL_TARGET}, with Prometheus at {} and Docker at {}; metrics at http://{}/metrics{}",
        config.interval.show(),
        config.prometheus,
        config.docker_host,
        server.server_addr(),
        if config.dry_run { " (dry run: no changes)" } else { "" }
    );
    let prometheus = Prometheus::new(&config.prometheus, config.timeout);
    let docker = Docker::new(&config.docker_host, config.timeout);
    let mut memories = HashMap::new();
    loop {
        let started = Instant::now();
        let round = Round {
            now: started,
            config: &config,
            prometheus: &prometheus,
            docker: &docker,
            metrics: &metrics,
        };
        round.run(&mut memories);
        thread::sleep(config.interval.saturating_sub(started.elapsed()));
    }
}

/// Every line goes through here: a name, a label or a peer's message that holds a newline or an
/// escape sequence is shown escaped, so that it cannot forge a line of its own.
fn log(line: &str) {
    say!("{}", fogdeft::escape(line));
}

/// What one round needs.
struct Round<'a> {
    /// When it started: every decision of the round is taken at this time.
    now: Instant,
    config: &'a Config,
    prometheus: &'a Prometheus,
    docker: &'a Docker,
    metrics: &'a Metrics,
}

/// The end of one service's decision: its line, and how the metrics count it.
struct Told {
    line: String,
    outcome: Outcome,
    reason: &'static str,
    /// The replicas it runs after this round, when known.
    replicas: Option<u32>,
}

fn told(outcome: Outcome, reason: &'static str, line: String) -> Told {
    Told {
        line,
        outcome,
        reason,
        replicas: None,
    }
}

impl Round<'_> {
    /// List the services that opted in, and decide for each. Every path ends in one line.
    fn run(&self, memories: &mut HashMap<String, Memory>) {
        let now = self.now;
        let listing = match self.docker.autoscaled_services(self.config.max_replicas) {
            Ok(listing) => listing,
            Err(error) => {
                self.metrics.error(error.peer());
                // Missing data for every service: each keeps the replicas it was last seen with.
                for memory in memories.values_mut() {
                    memory.hold_last_seen(now);
                }
                self.metrics.round_done(Instant::now(), &[]);
                return log(&format!("no change: {error}"));
            }
        };
        for problem in &listing.malformed {
            log(problem);
        }
        // Forget the services that left (or opted out), so that coming back starts afresh.
        let services = &listing.services;
        memories.retain(|id, _| services.iter().any(|s| &s.id == id));

        for service in services {
            let memory = memories.entry(service.id.clone()).or_default();
            let told = self.decide_and_act(service, memory);
            self.metrics
                .decision(&service.name, told.outcome, told.reason);
            if let (Ok(current), Some(replicas)) = (&service.replicas, told.replicas) {
                self.metrics.replicas(&service.name, *current, replicas);
            }
            log(&format!("{}: {}", service.name, told.line));
        }
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        self.metrics.round_done(Instant::now(), &names);
    }

    /// Decides for one service, applies the decision, and says what happened.
    fn decide_and_act(&self, service: &Service, memory: &mut Memory) -> Told {
        let (config, now) = (self.config, self.now);
        let policy = match Policy::from_labels(&service.labels, config.window) {
            Ok(policy) => policy,
            Err(problem) => {
                return told(
                    Outcome::NotScaled,
                    "labels",
                    format!("not scaled: {problem}"),
                )
            }
        };
        let current = match &service.replicas {
            Err(why) => return told(Outcome::NotScaled, "replicas", format!("not scaled: {why}")),
            Ok(0) => {
                let line = "not scaled: it has 0 replicas (scale it to 1 or more to resume)";
                return told(Outcome::NotScaled, "zero_replicas", line.into());
            }
            Ok(n) => *n,
        };
        // Outside min..max it goes to the nearest bound at once, whatever the load, as in HPA.
        if let Some(limit) = policy.bound(current) {
            let replicas = match limit {
                Limit::Max(n) | Limit::Min(n) => n,
                _ => current,
            };
            let decision = Decision {
                wanted: replicas,
                replicas,
                limit: Some(limit),
            };
            let reading = format!("{}:", replicas_text(current));
            return self.act(service, &policy, memory, current, decision, reading);
        }

        let window = config.rate_window.show();
        let query = policy
            .query
            .as_deref()
            .unwrap_or(&config.query)
            .replace("{service}", &service.short_name)
            .replace("{window}", &window);
        // No data: what runs stays, and counts as what was wanted.
        let no_data = |memory: &mut Memory, reason, line: String| {
            memory.hold(now, current);
            Told {
                replicas: Some(current),
                ..told(Outcome::NoData, reason, line)
            }
        };
        let rate = match self.prometheus.value(&query) {
            Ok(rate) => rate,
            Err(error) => {
                self.metrics.error(error.peer());
                let line = format!("no change ({}): {error}", replicas_text(current));
                return no_data(memory, "prometheus", line);
            }
        };
        let wanted = policy.wanted_replicas(current, rate, config.tolerance);
        let reading = format!(
            "{} req/s on {} ({} each, target {}):",
            decimal(rate),
            replicas_text(current),
            decimal(rate / f64::from(current)),
            decimal(policy.target_rps)
        );
        // Stale data is missing data: a rate over a window with gaps reads low. A scale-down
        // needs every replica scraped for the whole window.
        if wanted < current {
            let held = format!("{reading} keep {current}, wants {wanted}:");
            match self
                .prometheus
                .covered_replicas(&service.short_name, &window)
            {
                Ok(covered) if covered >= current => {}
                Ok(covered) => {
                    let line = format!("{held} holding: only {covered} of {current} replicas were scraped for the whole {window} rate window");
                    return no_data(memory, "coverage", line);
                }
                Err(error) => {
                    self.metrics.error(error.peer());
                    let line = format!("{held} holding: cannot tell whether every replica was scraped for the whole {window} rate window: {error}");
                    return no_data(memory, "prometheus", line);
                }
            }
        }
        let decision = memory.decide(now, current, wanted, &policy);
        self.act(service, &policy, memory, current, decision, reading)
    }

    /// Applies a decision, and says what happened.
    fn act(
        &self,
        service: &Service,
        policy: &Policy,
        memory: &mut Memory,
        current: u32,
        decision: Decision,
        reading: String,
    ) -> Told {
        let Decision {
            wanted,
            replicas: target,
            limit,
        } = decision;
        let reason = limit.as_ref().map_or("target", Limit::reason);
        let why = match &limit {
            Some(limit) if wanted != target => format!(", wants {wanted}: {}", limit.explain()),
            Some(limit) => format!(": {}", limit.explain()),
            None => String::new(),
        };
        let done = |outcome, line: String, replicas| Told {
            line,
            outcome,
            reason,
            replicas: Some(replicas),
        };
        if target == current {
            return done(
                Outcome::Keep,
                format!("{reading} keep {current}{why}"),
                current,
            );
        }
        let (direction, outcome) = if target > current {
            ("up", Outcome::ScaleUp)
        } else {
            ("down", Outcome::ScaleDown)
        };
        let change = format!("{reading} scale {direction} {current} -> {target}{why}");
        if self.config.dry_run {
            let line =
                format!("{reading} would scale {direction} {current} -> {target}{why} (dry run)");
            return done(Outcome::DryRun, line, current);
        }
        match self.docker.scale(service, target) {
            Ok(()) => {
                // As HPA: a change counts from when Docker took it, not from the round's start,
                // so that two changes are a whole period apart however long the round's
                // queries and this update took.
                memory.scaled(Instant::now(), current, target, policy);
                done(outcome, change, target)
            }
            Err(error) => {
                self.metrics.error(error.peer());
                let line = format!("{change} failed, no change: {error}");
                Told {
                    line,
                    outcome: Outcome::Failed,
                    reason: "docker",
                    replicas: Some(current),
                }
            }
        }
    }
}

fn replicas_text(n: u32) -> String {
    if n == 1 {
        "1 replica".into()
    } else {
        format!("{n} replicas")
    }
}

/// `150`, `37.5` or `0.3`: a rate to one decimal, the decimal only when it is not 0.
fn decimal(x: f64) -> String {
    let tenths = (x * 10.0).round() as u64;
    match tenths % 10 {
        0 => format!("{}", tenths / 10),
        d => format!("{}.{d}", tenths / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_plainly() {
        assert_eq!(decimal(150.0), "150");
        assert_eq!(decimal(37.46), "37.5");
        assert_eq!(decimal(0.04), "0");
        assert_eq!(replicas_text(1), "1 replica");
        assert_eq!(replicas_text(3), "3 replicas");
    }
}
