//! autoscaler: scales Swarm services on their request rate, the way Kubernetes' HPA does.
//!
//! The tutorial's Day 2 scales on CPU with a bash loop. Request rate is the better signal, and
//! our producer counts its requests (`producer_requests_total`). Every `--interval` this program
//! asks Docker for the services that opt in with labels, asks Prometheus for each one's request
//! rate, and sets the replica count through the Docker Engine API:
//!
//! ```text
//! wanted = ceil(current × rate per replica / target)   kept within the service's min..max
//! ```
//!
//! It does nothing while the ratio stays within a tolerance band, scales up at once, and scales
//! down only once the rate has stayed low for a stabilization window. It never scales on missing
//! data: when Prometheus or Docker fails, it logs why, changes nothing, and tries again at the
//! next interval. One log line per service and interval says what it decided and why.
//!
//! Read it top to bottom: configuration, the loop, the decision, Prometheus, Docker, the Unix
//! socket under Docker's API, and the one error type.

mod common;

use common::{hide_password, say, Declare, Settings};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use std::{env, fmt, thread};

use serde_json::Value;
use ureq::http::Uri;

// ---------------------------------------------------------------------------------------------
// Configuration: each setting once, with its default. `--help` is made from these.

#[derive(Debug, PartialEq)]
struct Config {
    prometheus: HttpBase,
    docker_host: DockerHost,
    interval: Duration,
    window: Duration,
    tolerance: f64,
    query: String,
    timeout: Duration,
    dry_run: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            prometheus: HttpBase("http://127.0.0.1:9090".into()),
            docker_host: DockerHost::Unix("/var/run/docker.sock".into()),
            // How often to decide. HPA's default is 15 s too.
            interval: Duration::from_secs(15),
            // How long the rate must stay low before a scale-down (HPA: 5 min; the issue: 2 min).
            window: Duration::from_secs(120),
            // No change while rate per replica / target stays within 1 ± this (HPA's default).
            tolerance: 0.1,
            // The service's total requests/s. `{service}` becomes its name in its stack
            // (`producer`), which is also the Prometheus job that scrapes it.
            query: "sum(rate(producer_requests_total{job=\"{service}\",path=\"/number\"}[1m]))"
                .into(),
            // A call to Prometheus or Docker that takes longer than this has failed.
            timeout: Duration::from_secs(5),
            dry_run: false,
        }
    }
}

impl Settings for Config {
    fn declare(&mut self, s: &mut impl Declare) {
        s.setting(
            &mut self.prometheus,
            "--prometheus",
            "PROMETHEUS_URL",
            "Prometheus' address, plain http://",
        );
        s.setting(
            &mut self.docker_host,
            "--docker-host",
            "DOCKER_HOST",
            "a manager's Docker Engine API: unix://PATH or tcp://HOST:PORT",
        );
        s.bounded(
            &mut self.interval,
            common::DURATIONS,
            "--interval",
            "AUTOSCALE_INTERVAL",
            "decide this often",
        );
        s.setting(
            &mut self.window,
            "--stabilization-window",
            "STABILIZATION_WINDOW",
            "scale down only once the rate has stayed low this long",
        );
        s.bounded(
            &mut self.tolerance,
            0.0..=0.99,
            "--tolerance",
            "AUTOSCALE_TOLERANCE",
            "no change while rate per replica / target stays within 1 ± this",
        );
        s.setting(
            &mut self.query,
            "--query",
            "AUTOSCALE_QUERY",
            "a service's requests/s in PromQL; {service} is its name in its stack",
        );
        s.bounded(
            &mut self.timeout,
            common::DURATIONS,
            "--timeout",
            "REQUEST_TIMEOUT",
            "give up on a call to Prometheus or Docker after this long",
        );
        s.switch(
            &mut self.dry_run,
            "--dry-run",
            "AUTOSCALE_DRY_RUN",
            "log the decisions, change nothing",
        );
    }

    fn check(&self) -> Result<(), String> {
        if self.query.trim().is_empty() {
            return Err("--query/AUTOSCALE_QUERY is empty".into());
        }
        Ok(())
    }
}

/// The labels a service opts in with. Only `target-rps` is required.
const LABEL_TARGET: &str = "fogdeft.autoscale.target-rps";
const LABEL_MIN: &str = "fogdeft.autoscale.min";
const LABEL_MAX: &str = "fogdeft.autoscale.max";
const LABEL_QUERY: &str = "fogdeft.autoscale.query";
/// The tutorial's range: 1 to 10 replicas.
const DEFAULT_MIN: u32 = 1;
const DEFAULT_MAX: u32 = 10;

/// Larger answers from Prometheus or Docker mean something is wrong; we stop reading.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

fn usage() -> String {
    format!(
        "autoscaler: scales Swarm services on request rate, from Prometheus (FogDEFT Day 02, in Rust)

Usage: autoscaler [FLAGS]

Flags (each overrides its environment variable; durations: 3, 3s, 500ms, 1m):
{}

A service opts in with labels (docker-stack.autoscale.yml, deploy.labels):
  {LABEL_TARGET}   requests/s one replica should serve (required)
  {LABEL_MIN}          fewest replicas  [default: {DEFAULT_MIN}]
  {LABEL_MAX}          most replicas    [default: {DEFAULT_MAX}]
  {LABEL_QUERY}        its own PromQL instead of --query
Services without {LABEL_TARGET} are never touched.",
        common::settings_table::<Config>()
    )
}

/// A plain `http://host[:port]` address, without a trailing slash: we are built without TLS, on
/// purpose.
#[derive(Debug, PartialEq)]
struct HttpBase(String);

impl common::Value for HttpBase {
    const PLACEHOLDER: &'static str = "URL";
    fn parse(text: &str) -> Result<Self, String> {
        let url = text.trim_end_matches('/');
        let uri: Uri = url.parse().map_err(|_| "not a URL".to_string())?;
        if uri.scheme_str() != Some("http") {
            return Err("it must start with http:// (no TLS)".into());
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err("it has no host".into());
        }
        Ok(HttpBase(url.to_string()))
    }
    /// Logs and errors never show a password.
    fn show(&self) -> String {
        hide_password(&self.0)
    }
    fn redact(text: &str) -> String {
        hide_password(text)
    }
}

/// Where the Docker Engine API listens.
#[derive(Debug, PartialEq, Clone)]
enum DockerHost {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
}

/// Docker's own forms: `unix:///var/run/docker.sock` or `tcp://host:2375`.
impl common::Value for DockerHost {
    const PLACEHOLDER: &'static str = "URL";
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(
                    "the socket path must be absolute, as in unix:///var/run/docker.sock".into(),
                );
            }
            return Ok(DockerHost::Unix(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp://") {
            let uri: Option<Uri> = format!("http://{}/", address.trim_end_matches('/'))
                .parse()
                .ok();
            let parts = uri
                .as_ref()
                .and_then(|u| Some((u.host()?, u.port_u16().unwrap_or(2375))));
            return match parts {
                Some((host, port)) if !host.is_empty() => {
                    Ok(DockerHost::Tcp(format!("{host}:{port}")))
                }
                _ => Err("expected tcp://HOST:PORT".into()),
            };
        }
        Err("use unix:///PATH or tcp://HOST:PORT (ssh:// is not supported: run the autoscaler on a manager)".into())
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DockerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerHost::Unix(path) => write!(f, "unix://{}", path.display()),
            DockerHost::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

/// A tolerance such as `0.1`.
impl common::Value for f64 {
    const PLACEHOLDER: &'static str = "X";
    fn parse(text: &str) -> Result<Self, String> {
        number(text).ok_or_else(|| "expected a number such as 0.1".to_string())
    }
    fn show(&self) -> String {
        self.to_string() // exact: 0.99 stays 0.99
    }
}

fn main() {
    let (config, _) = common::settings_or_exit::<Config>("autoscaler", usage, &[]);
    // Stop at once, even mid-call: Docker applies an update whole or not at all.
    common::exit_on_stop_signal(|signal| say!("autoscaler: {signal}: stopping"));

    say!(
        "autoscaler: every {} scaling services labelled {LABEL_TARGET}, with Prometheus at {} and Docker at {}{}",
        human(config.interval),
        common::Value::show(&config.prometheus),
        config.docker_host,
        if config.dry_run { " (dry run: no changes)" } else { "" }
    );
    let prometheus = Prometheus::new(&config.prometheus.0, config.timeout);
    let docker = Docker::new(&config.docker_host, config.timeout);
    let mut memories = HashMap::new();
    loop {
        let started = Instant::now();
        run_round(&config, &prometheus, &docker, &mut memories);
        thread::sleep(config.interval.saturating_sub(started.elapsed()));
    }
}

// ---------------------------------------------------------------------------------------------
// One round: list the services that opted in, and decide for each. Every path ends in one line.

fn run_round(
    config: &Config,
    prometheus: &Prometheus,
    docker: &Docker,
    memories: &mut HashMap<String, Memory>,
) {
    let now = Instant::now();
    let services = match docker.autoscaled_services() {
        Ok(services) => services,
        Err(error) => {
            // Missing data for every service: each keeps the replicas it was last seen with.
            for memory in memories.values_mut() {
                memory.hold_last_seen(now, config.window);
            }
            return say!("no change: {error}");
        }
    };
    // Forget the services that left (or opted out), so that coming back starts afresh.
    memories.retain(|id, _| services.iter().any(|s| &s.id == id));

    for service in &services {
        let memory = memories.entry(service.id.clone()).or_default();
        let line = decide_and_act(config, prometheus, docker, service, memory, now);
        say!("{}: {line}", service.name);
    }
}

/// Decides for one service, applies the decision, and returns the line that tells about it.
fn decide_and_act(
    config: &Config,
    prometheus: &Prometheus,
    docker: &Docker,
    service: &Service,
    memory: &mut Memory,
    now: Instant,
) -> String {
    let policy = match Policy::from_labels(&service.labels, &config.query) {
        Ok(policy) => policy,
        Err(problem) => return format!("not scaled: {problem}"),
    };
    let current = match service.replicas {
        None => return "not scaled: a global service has no replica count".into(),
        Some(0) => return "not scaled: it has 0 replicas (scale it to 1 or more to resume)".into(),
        Some(n) => n,
    };
    let query = policy.query.replace("{service}", &service.short_name);
    let rate = match prometheus.rate(&query) {
        Ok(rate) => rate,
        Err(error) => {
            memory.hold(now, current, config.window);
            return format!("no change ({}): {error}", replicas(current));
        }
    };

    let wanted = policy.wanted_replicas(current, rate, config.tolerance);
    let decision = memory.decide(now, current, wanted, config.window);
    let reading = format!(
        "{} req/s on {} ({} each, target {}):",
        decimal(rate),
        replicas(current),
        decimal(rate / f64::from(current)),
        decimal(policy.target_rps)
    );
    let target = match decision {
        Decision::Keep => return format!("{reading} keep {current}"),
        Decision::Hold { wanted, wait } => {
            return format!(
                "{reading} keep {current}, wants {wanted}: scales down once the rate has stayed low for {} ({} to go)",
                human(config.window),
                human(wait)
            )
        }
        Decision::Scale(target) => target,
    };
    let direction = if target > current { "up" } else { "down" };
    if config.dry_run {
        return format!("{reading} would scale {direction} {current} -> {target} (dry run)");
    }
    match docker.scale(service, target) {
        Ok(()) => {
            memory.scaled_to(target);
            format!("{reading} scale {direction} {current} -> {target}")
        }
        Err(error) => {
            format!("{reading} scale {direction} {current} -> {target} failed, no change: {error}")
        }
    }
}

fn replicas(n: u32) -> String {
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

/// A decimal number such as `0.1` or `152.25`. serde_json's reader, already here for the APIs'
/// answers, rather than std's `parse::<f64>()`: one float parser in the binary, not two, keeps it
/// under 1 MiB.
fn number(text: &str) -> Option<f64> {
    serde_json::from_str(text.trim()).ok()
}

/// `1m40s`, `45s` or `500ms`: durations as a person writes them.
fn human(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 && ms > 0 {
        return format!("{ms}ms");
    }
    let secs = duration.as_secs() + u64::from(duration.subsec_millis() >= 500);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

// ---------------------------------------------------------------------------------------------
// The decision, as Kubernetes' Horizontal Pod Autoscaler makes it.

/// A service's autoscaling settings, read from its labels.
#[derive(Debug, PartialEq)]
struct Policy {
    min: u32,
    max: u32,
    target_rps: f64,
    query: String,
}

impl Policy {
    fn from_labels(
        labels: &BTreeMap<String, String>,
        default_query: &str,
    ) -> Result<Policy, String> {
        let label = |name: &str| labels.get(name).map(|v| v.trim());
        let count = |name: &str, default: u32| match label(name) {
            None => Ok(default),
            Some(text) => text.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                format!("label {name}='{text}' is not a whole number of at least 1")
            }),
        };
        let target = label(LABEL_TARGET).unwrap_or_default();
        let target_rps = number(target)
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| format!("label {LABEL_TARGET}='{target}' is not a number above 0"))?;
        let policy = Policy {
            min: count(LABEL_MIN, DEFAULT_MIN)?,
            max: count(LABEL_MAX, DEFAULT_MAX)?,
            target_rps,
            query: label(LABEL_QUERY).unwrap_or(default_query).to_string(),
        };
        if policy.min > policy.max {
            return Err(format!(
                "label {LABEL_MIN}={} is larger than {LABEL_MAX}={}",
                policy.min, policy.max
            ));
        }
        Ok(policy)
    }

    /// HPA's rule: ratio = rate per replica / target; within the tolerance band nothing changes,
    /// else ceil(current × ratio), kept within min..max. current × rate per replica is the
    /// service's total rate, so we divide that straight away: the same number, with no rounding
    /// error to push a ceiling one replica up. Replicas that Prometheus does not see yet count as
    /// serving nothing, as HPA counts pods without metrics on a scale-up.
    fn wanted_replicas(&self, current: u32, rate: f64, tolerance: f64) -> u32 {
        let ratio = rate / f64::from(current) / self.target_rps;
        let wanted = if (ratio - 1.0).abs() <= tolerance {
            current
        } else {
            // `as` saturates: an absurd rate gives u32::MAX, which the clamp brings to max.
            (rate / self.target_rps).ceil() as u32
        };
        wanted.clamp(self.min, self.max)
    }
}

#[derive(Debug, PartialEq)]
enum Decision {
    Keep,
    /// It wants fewer replicas, but the rate has not been low for the whole window yet.
    Hold {
        wanted: u32,
        wait: Duration,
    },
    Scale(u32),
}

/// What the autoscaler remembers of one service: the replicas it recommended over the last
/// window, and the replica count it saw last.
#[derive(Debug, Default)]
struct Memory {
    recommendations: VecDeque<(Instant, u32)>,
    last_seen: Option<u32>,
}

impl Memory {
    /// Scale up to what is wanted at once. Scale down only to the highest recommendation of the
    /// whole window, so one quiet moment does not remove replicas that the next burst needs.
    fn decide(&mut self, now: Instant, current: u32, wanted: u32, window: Duration) -> Decision {
        self.remember(now, current, wanted, window);
        if wanted > current {
            return Decision::Scale(wanted);
        }
        let highest = self
            .recommendations
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(wanted);
        if highest < current {
            return Decision::Scale(highest);
        }
        if wanted == current {
            return Decision::Keep;
        }
        // The newest recommendation of `current` or more keeps the replicas until it expires.
        let since = self
            .recommendations
            .iter()
            .filter(|(_, n)| *n >= current)
            .map(|(t, _)| *t)
            .max()
            .unwrap_or(now);
        let wait = window.saturating_sub(now.duration_since(since));
        Decision::Hold { wanted, wait }
    }

    /// Missing data counts as "keep what runs": a scale-down then needs a whole window of real
    /// readings, never a gap in them.
    fn hold(&mut self, now: Instant, current: u32, window: Duration) {
        self.remember(now, current, current, window);
    }

    /// Missing data when not even the replica count is known: the last one seen stands.
    fn hold_last_seen(&mut self, now: Instant, window: Duration) {
        if let Some(replicas) = self.last_seen {
            self.hold(now, replicas, window);
        }
    }

    fn scaled_to(&mut self, replicas: u32) {
        self.last_seen = Some(replicas);
    }

    fn remember(&mut self, now: Instant, current: u32, wanted: u32, window: Duration) {
        // Seen for the first time, or scaled by someone else: what runs now counts as a
        // recommendation, so that we do not undo it before a whole window has passed.
        if self.last_seen != Some(current) {
            self.recommendations.push_back((now, current));
            self.last_seen = Some(current);
        }
        self.recommendations.push_back((now, wanted));
        self.recommendations
            .retain(|(t, _)| now.duration_since(*t) <= window);
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus: one instant query per service through its HTTP API.

struct Prometheus {
    agent: ureq::Agent,
    url: String,
    /// The URL as errors show it.
    address: String,
}

impl Prometheus {
    fn new(url: &str, timeout: Duration) -> Prometheus {
        Prometheus {
            agent: agent_config(timeout).build().into(),
            url: url.to_string(),
            address: hide_password(url),
        }
    }

    /// The query's value now: one number, or the reason there is none.
    fn rate(&self, query: &str) -> Result<f64, Error> {
        let endpoint = format!("{}/api/v1/query", self.url);
        let unreachable = |error: ureq::Error| Error::Unreachable {
            peer: Peer::Prometheus,
            address: self.address.clone(),
            cause: Cause::from(error),
        };
        let mut response = self
            .agent
            .get(&endpoint)
            .query("query", query)
            .call()
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = read_json(&mut response, Peer::Prometheus)?;
        if body["status"] != "success" {
            return Err(Error::Rejected {
                peer: Peer::Prometheus,
                status,
                message: format!("{} (query: {query})", text_of(&body["error"])),
            });
        }
        single_number(&body["data"], query)
    }
}

/// Takes the one number out of a `vector` (one series) or `scalar` result.
fn single_number(data: &Value, query: &str) -> Result<f64, Error> {
    let sample = match (data["resultType"].as_str(), &data["result"]) {
        (Some("vector"), Value::Array(series)) => match series.as_slice() {
            [] => {
                return Err(Error::NoSamples {
                    query: query.into(),
                })
            }
            [one] => &one["value"],
            many => {
                return Err(Error::NotOneNumber {
                    query: query.into(),
                    got: format!("{} series (wrap the query in sum(...))", many.len()),
                })
            }
        },
        (Some("scalar"), sample) => sample,
        (kind, _) => {
            return Err(Error::NotOneNumber {
                query: query.into(),
                got: format!("a {} result", kind.unwrap_or("malformed")),
            })
        }
    };
    // A sample is [timestamp, "value"]; Prometheus sends the value as text.
    let text = sample[1].as_str().unwrap_or("");
    match number(text) {
        Some(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(Error::NotOneNumber {
            query: query.into(),
            got: format!("the value '{text}'"),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Docker: the Engine API, as `docker service ls` and `docker service scale` use it.

struct Docker {
    agent: ureq::Agent,
    host: DockerHost,
    /// The URL prefix: the socket's requests need a host name too, which Docker ignores.
    base: String,
}

/// What we need of one service from `GET /services`.
#[derive(Debug)]
struct Service {
    id: String,
    name: String,
    /// The name in its stack (`producer` for `fogdeft_producer`): what `{service}` stands for.
    short_name: String,
    /// Swarm refuses an update made from a stale spec: it must name the version it changes.
    version: u64,
    /// None for a global service.
    replicas: Option<u32>,
    labels: BTreeMap<String, String>,
    /// The whole spec, sent back with only the replica count changed.
    spec: Value,
}

impl Docker {
    fn new(host: &DockerHost, timeout: Duration) -> Docker {
        let config = agent_config(timeout).build();
        let (agent, base) = match host {
            DockerHost::Unix(path) => (
                ureq::Agent::with_parts(config, UnixConnector(path.clone()), NoLookup),
                "http://docker".to_string(),
            ),
            DockerHost::Tcp(address) => (config.into(), format!("http://{address}")),
        };
        Docker {
            agent,
            host: host.clone(),
            base,
        }
    }

    /// The services that opted in. Docker filters on the label, and we check it again: a
    /// service without it must never be touched.
    fn autoscaled_services(&self) -> Result<Vec<Service>, Error> {
        let api = self.api_version()?;
        let filter = format!("{{\"label\":[\"{LABEL_TARGET}\"]}}");
        let request = self
            .agent
            .get(format!("{}/v{api}/services", self.base))
            .query("filters", filter);
        let list = self.json(request.call(), "list the services")?;
        let services = list.as_array().ok_or_else(|| Error::BadAnswer {
            peer: Peer::Docker,
            why: "the service list is not a JSON array".into(),
        })?;
        Ok(services
            .iter()
            .filter_map(Service::from_json)
            .filter(|s| s.labels.contains_key(LABEL_TARGET))
            .collect())
    }

    /// `docker service scale`: the same spec with a new replica count, at the version we read.
    fn scale(&self, service: &Service, replicas: u32) -> Result<(), Error> {
        let api = self.api_version()?;
        let mut spec = service.spec.clone();
        spec["Mode"]["Replicated"]["Replicas"] = replicas.into();
        let url = format!("{}/v{api}/services/{}/update", self.base, service.id);
        let request = self
            .agent
            .post(url)
            .query("version", service.version.to_string())
            .header("Content-Type", "application/json");
        self.json(request.send(spec.to_string()), "update the service")?;
        Ok(())
    }

    /// Speaks the daemon's own API version, which `/_ping` names: it accepts that one whatever
    /// its age, and we send back only what it gave us. Asked before each call, since dockerd may
    /// have been upgraded in the meantime; it costs one tiny request.
    fn api_version(&self) -> Result<String, Error> {
        let response = self
            .agent
            .get(format!("{}/_ping", self.base))
            .call()
            .map_err(|e| self.unreachable(e))?;
        let version = response
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        match version {
            Some(version) => Ok(version.to_string()),
            None => Err(Error::BadAnswer {
                peer: Peer::Docker,
                why: format!(
                    "/_ping named no API-Version (HTTP {}); is this a Docker Engine?",
                    response.status().as_u16()
                ),
            }),
        }
    }

    /// The JSON of a successful answer, or an error that says which step failed and why.
    fn json(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        step: &str,
    ) -> Result<Value, Error> {
        let mut response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let body = read_json(&mut response, Peer::Docker);
        if (200..300).contains(&status) {
            return body;
        }
        // Docker's errors are {"message": "..."}.
        let message = body.map(|b| text_of(&b["message"])).unwrap_or_default();
        Err(Error::Rejected {
            peer: Peer::Docker,
            status,
            message: format!("cannot {step}: {message}"),
        })
    }

    fn unreachable(&self, error: ureq::Error) -> Error {
        Error::Unreachable {
            peer: Peer::Docker,
            address: self.host.to_string(),
            cause: Cause::from(error),
        }
    }
}

impl Service {
    /// None for an entry that is not a service as Docker describes one.
    fn from_json(json: &Value) -> Option<Service> {
        let spec = &json["Spec"];
        let name = spec["Name"].as_str()?.to_string();
        let labels: BTreeMap<String, String> = spec["Labels"]
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let short_name = labels
            .get("com.docker.stack.namespace")
            .and_then(|stack| name.strip_prefix(&format!("{stack}_")))
            .unwrap_or(&name)
            .to_string();
        Some(Service {
            id: json["ID"].as_str()?.to_string(),
            short_name,
            version: json["Version"]["Index"].as_u64()?,
            replicas: spec["Mode"]["Replicated"]["Replicas"]
                .as_u64()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            labels,
            spec: spec.clone(),
            name,
        })
    }
}

/// The settings both clients share. Status codes are data here, not errors: a failing answer's
/// body says why, and we want to show that. A name lookup gets half the time: in a swarm it takes
/// milliseconds, and one that runs out of time is a name nobody answers for, which is what we
/// then say (see `Cause`).
fn agent_config(timeout: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_resolve(Some(timeout / 2))
        .http_status_as_error(false)
        .user_agent(concat!("fogdeft-autoscaler/", env!("CARGO_PKG_VERSION")))
}

fn read_json(response: &mut ureq::http::Response<ureq::Body>, peer: Peer) -> Result<Value, Error> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .map_err(|e| Error::BadAnswer {
            peer,
            why: format!("cannot read the answer: {e}"),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::BadAnswer {
        peer,
        why: format!("HTTP {status}, and the answer is not JSON ({e})"),
    })
}

/// A JSON string's text, or the JSON itself.
fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

// ---------------------------------------------------------------------------------------------
// HTTP over Docker's Unix socket. ureq's transport is pluggable: a connector opens the socket
// instead of a TCP connection, and a resolver that looks nothing up stands in for DNS.

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

#[derive(Debug)]
struct UnixConnector(PathBuf);

impl<In: Transport> Connector<In> for UnixConnector {
    type Out = UnixTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _: Option<In>,
    ) -> Result<Option<UnixTransport>, ureq::Error> {
        let stream = UnixStream::connect(&self.0)?;
        let config = details.config;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        Ok(Some(UnixTransport { stream, buffers }))
    }
}

#[derive(Debug)]
struct UnixTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| timed_out(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))?;
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input).map_err(|e| timed_out(e, timeout))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Whether the socket is still usable for another request: nothing to read, not closed.
    fn is_open(&mut self) -> bool {
        let mut byte = [0];
        let _ = self.stream.set_nonblocking(true);
        let idle =
            matches!(self.stream.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        idle && self.stream.set_nonblocking(false).is_ok()
    }
}

/// A socket timeout is ureq's Timeout, so that it reads like any other.
fn timed_out(error: io::Error, timeout: NextTimeout) -> ureq::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ureq::Error::Timeout(timeout.reason),
        _ => ureq::Error::Io(error),
    }
}

/// The socket path is the address: there is no host name to resolve.
#[derive(Debug)]
struct NoLookup;

impl Resolver for NoLookup {
    fn resolve(
        &self,
        _: &Uri,
        _: &ureq::config::Config,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addresses = self.empty();
        addresses.push(SocketAddr::from(([127, 0, 0, 1], 0)));
        Ok(addresses)
    }
}

// ---------------------------------------------------------------------------------------------
// The one error type. Each message says what failed and what to check.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Peer {
    Prometheus,
    Docker,
}

/// Why a call did not even get an answer.
#[derive(Debug, PartialEq)]
enum Cause {
    Refused,
    NameNotResolved,
    NoSocket,
    PermissionDenied,
    Timeout,
    Other(String),
}

#[derive(Debug, PartialEq)]
enum Error {
    Unreachable {
        peer: Peer,
        address: String,
        cause: Cause,
    },
    /// An answer with an error status, and the peer's own words.
    Rejected {
        peer: Peer,
        status: u16,
        message: String,
    },
    /// An answer we cannot read.
    BadAnswer {
        peer: Peer,
        why: String,
    },
    /// The query matched no series: nothing scraped (yet), or a wrong job or metric name.
    NoSamples {
        query: String,
    },
    NotOneNumber {
        query: String,
        got: String,
    },
}

impl From<ureq::Error> for Cause {
    fn from(error: ureq::Error) -> Cause {
        match error {
            ureq::Error::HostNotFound => Cause::NameNotResolved,
            // Swarm's DNS forwards a name it does not know (a service with no task) and may wait
            // for an upstream that never answers: a name that does not resolve, not a slow peer.
            ureq::Error::Timeout(ureq::Timeout::Resolve) => Cause::NameNotResolved,
            ureq::Error::Timeout(_) => Cause::Timeout,
            ureq::Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => Cause::Refused,
                io::ErrorKind::NotFound => Cause::NoSocket,
                io::ErrorKind::PermissionDenied => Cause::PermissionDenied,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Cause::Timeout,
                // std reports a failed getaddrinfo with no ErrorKind of its own, only this text.
                _ if e.to_string().contains("failed to lookup address") => Cause::NameNotResolved,
                _ => Cause::Other(e.to_string()),
            },
            other => Cause::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unreachable { peer: Peer::Prometheus, address, cause } => {
                let hint = match cause {
                    Cause::Refused => "connection refused: is Prometheus running and listening there?",
                    Cause::NameNotResolved => "its host name does not resolve (in time): is the prometheus service running? (check --prometheus/PROMETHEUS_URL)",
                    Cause::Timeout => "no answer in time (REQUEST_TIMEOUT): is it overloaded, or is the address wrong?",
                    _ => "",
                };
                write!(f, "cannot reach Prometheus at {address}: {}", or_cause(hint, cause))
            }
            Error::Unreachable { peer: Peer::Docker, address, cause } => {
                let hint = match cause {
                    Cause::NoSocket => "no socket there: is Docker running? In a container, mount it: -v /var/run/docker.sock:/var/run/docker.sock",
                    Cause::PermissionDenied => "permission denied: run as root or in the socket's group (in a container: --user 0, or --group-add with the socket's group)",
                    Cause::Refused => "connection refused: is dockerd running and listening there?",
                    Cause::NameNotResolved => "its host name does not resolve (check --docker-host/DOCKER_HOST)",
                    Cause::Timeout => "no answer in time (REQUEST_TIMEOUT)",
                    Cause::Other(_) => "",
                };
                write!(f, "cannot reach the Docker API at {address}: {}", or_cause(hint, cause))
            }
            Error::Rejected { peer: Peer::Prometheus, status, message } => {
                write!(f, "Prometheus answered HTTP {status}: {message} (check --query/AUTOSCALE_QUERY or the label {LABEL_QUERY})")
            }
            Error::Rejected { peer: Peer::Docker, status, message } => {
                let hint = if *status == 503 { " (the autoscaler must talk to a swarm manager)" } else { "" };
                write!(f, "the Docker API answered HTTP {status}: {}{hint}", message.trim_end())
            }
            Error::BadAnswer { peer, why } => write!(f, "unexpected answer from {peer:?}: {why}"),
            Error::NoSamples { query } => write!(
                f,
                "Prometheus has no samples for {query} (is it scraping the service? see its /targets page; check the job name)"
            ),
            Error::NotOneNumber { query, got } => {
                write!(f, "{query} must give one number, but gave {got}")
            }
        }
    }
}

fn or_cause(hint: &str, cause: &Cause) -> String {
    match cause {
        Cause::Other(text) if hint.is_empty() => text.clone(),
        _ => hint.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use common::{assert_refused, test_config};

    fn config(args: &[&str], vars: &[(&str, &str)]) -> Config {
        test_config(args, vars)
    }

    #[test]
    fn prometheus_urls_never_show_a_password() {
        let c = config(&["--prometheus", "http://ann:secret@p:9090"], &[]);
        assert_eq!(common::Value::show(&c.prometheus), "http://ann:***@p:9090");
        let prometheus = Prometheus::new(&c.prometheus.0, Duration::from_secs(1));
        assert_eq!(prometheus.address, "http://ann:***@p:9090");
    }

    #[test]
    fn defaults_are_the_issues() {
        let c = config(&[], &[]);
        assert_eq!(c.prometheus, HttpBase("http://127.0.0.1:9090".into()));
        assert_eq!(
            c.docker_host,
            DockerHost::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            (c.interval, c.window),
            (Duration::from_secs(15), Duration::from_secs(120))
        );
        assert_eq!(
            (c.tolerance, c.timeout, c.dry_run),
            (0.1, Duration::from_secs(5), false)
        );
        assert!(c.query.contains("producer_requests_total"));
    }

    #[test]
    fn flags_win_over_environment() {
        let vars = [
            ("PROMETHEUS_URL", "http://prometheus:9090/"),
            ("DOCKER_HOST", "tcp://manager:2375"),
            ("AUTOSCALE_INTERVAL", "5s"),
            ("AUTOSCALE_DRY_RUN", "1"),
        ];
        let c = config(
            &[
                "--interval=2s",
                "--stabilization-window",
                "30s",
                "--tolerance",
                "0.2",
            ],
            &vars,
        );
        assert_eq!(c.prometheus, HttpBase("http://prometheus:9090".into()));
        assert_eq!(c.docker_host, DockerHost::Tcp("manager:2375".into()));
        assert_eq!(c.interval, Duration::from_secs(2));
        assert_eq!(c.window, Duration::from_secs(30));
        assert_eq!(c.tolerance, 0.2);
        assert!(c.dry_run);
        assert!(config(&["--dry-run"], &[]).dry_run);
        // An empty variable means the default, as an empty DOCKER_HOST does for the docker CLI.
        let empty = [
            ("DOCKER_HOST", ""),
            ("AUTOSCALE_QUERY", ""),
            ("AUTOSCALE_INTERVAL", " "),
        ];
        assert_eq!(config(&[], &empty), config(&[], &[]));
        let host = <DockerHost as common::Value>::parse("tcp://10.0.0.1").unwrap();
        assert_eq!(host.to_string(), "tcp://10.0.0.1:2375");
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        assert_refused::<Config>(
            "--prometheus https://p:9090          | no TLS
             PROMETHEUS_URL=prometheus:9090       | --prometheus/PROMETHEUS_URL
             --docker-host ssh://pi@manager       | ssh:// is not supported
             --docker-host unix://docker.sock     | must be absolute
             --docker-host tcp://                 | tcp://HOST:PORT
             --interval 0                         | expected D from 1ms to 60m
             --interval soon                      | --interval/AUTOSCALE_INTERVAL
             STABILIZATION_WINDOW=2h              | STABILIZATION_WINDOW
             --tolerance 1.5                      | --tolerance/AUTOSCALE_TOLERANCE
             --tolerance -0.1                     | from 0
             --tolerance 1                        | from 0 to 0.99
             --prometheus ftp://ann:secret@p      | 'ftp://ann:***@p'
             --query ' '                          | empty
             AUTOSCALE_DRY_RUN=maybe              | AUTOSCALE_DRY_RUN",
        );
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy(min: u32, max: u32, target_rps: f64) -> Policy {
        Policy {
            min,
            max,
            target_rps,
            query: String::new(),
        }
    }

    #[test]
    fn labels_give_the_policy() {
        let p = Policy::from_labels(&labels(&[(LABEL_TARGET, "50")]), "q").unwrap();
        assert_eq!(
            p,
            Policy {
                min: 1,
                max: 10,
                target_rps: 50.0,
                query: "q".into()
            }
        );
        let all = [
            (LABEL_TARGET, "2.5"),
            (LABEL_MIN, "2"),
            (LABEL_MAX, "4"),
            (LABEL_QUERY, "own"),
        ];
        let p = Policy::from_labels(&labels(&all), "q").unwrap();
        assert_eq!(
            p,
            Policy {
                min: 2,
                max: 4,
                target_rps: 2.5,
                query: "own".into()
            }
        );
        for (bad, needle) in [
            (vec![(LABEL_TARGET, "fast")], "target-rps='fast'"),
            (vec![(LABEL_TARGET, "0")], "above 0"),
            (vec![(LABEL_TARGET, "50"), (LABEL_MIN, "0")], "min='0'"),
            (vec![(LABEL_TARGET, "50"), (LABEL_MAX, "ten")], "max='ten'"),
            (
                vec![(LABEL_TARGET, "50"), (LABEL_MIN, "5"), (LABEL_MAX, "3")],
                "larger than",
            ),
        ] {
            let error = Policy::from_labels(&labels(&bad), "q").unwrap_err();
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn wanted_replicas_follow_hpa() {
        let p = policy(1, 10, 50.0);
        // ceil(current × rate per replica / target)
        assert_eq!(p.wanted_replicas(1, 150.0, 0.1), 3);
        assert_eq!(p.wanted_replicas(1, 151.0, 0.1), 4);
        assert_eq!(p.wanted_replicas(4, 120.0, 0.1), 3);
        // Within the tolerance band nothing changes: 2 × 54 / 50 is 1.08 × target.
        assert_eq!(p.wanted_replicas(2, 108.0, 0.1), 2);
        assert_eq!(p.wanted_replicas(2, 92.0, 0.1), 2);
        assert_eq!(p.wanted_replicas(2, 112.0, 0.1), 3);
        // Kept within min..max, also when the count is already outside.
        assert_eq!(p.wanted_replicas(3, 0.0, 0.1), 1);
        assert_eq!(p.wanted_replicas(1, 1e12, 0.1), 10);
        assert_eq!(p.wanted_replicas(12, 600.0, 0.1), 10);
        assert_eq!(policy(2, 10, 50.0).wanted_replicas(1, 50.0, 0.1), 2);
    }

    const WINDOW: Duration = Duration::from_secs(120);

    /// A clock for a test: `at(s)` is `s` seconds from now.
    fn seconds_from_now() -> impl Fn(u64) -> Instant {
        let start = Instant::now();
        move |s| start + Duration::from_secs(s)
    }

    #[test]
    fn scales_up_at_once_and_down_only_after_the_window() {
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        assert_eq!(memory.decide(at(0), 1, 1, WINDOW), Decision::Keep);
        assert_eq!(memory.decide(at(15), 1, 4, WINDOW), Decision::Scale(4));
        memory.scaled_to(4);
        // The load drops: it wants 1, but holds 4 until 120 s after the last reading of 4.
        let hold = memory.decide(at(30), 4, 1, WINDOW);
        assert_eq!(
            hold,
            Decision::Hold {
                wanted: 1,
                wait: Duration::from_secs(105)
            }
        );
        assert_eq!(
            memory.decide(at(120), 4, 2, WINDOW),
            Decision::Hold {
                wanted: 2,
                wait: Duration::from_secs(15)
            }
        );
        // At 136 s the 4 has left the window; the highest reading since is 2.
        assert_eq!(memory.decide(at(136), 4, 1, WINDOW), Decision::Scale(2));
        memory.scaled_to(2);
        assert_eq!(memory.decide(at(241), 2, 1, WINDOW), Decision::Scale(1));
    }

    #[test]
    fn a_burst_inside_the_window_restarts_it() {
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        memory.decide(at(0), 3, 3, WINDOW);
        memory.decide(at(60), 3, 1, WINDOW);
        memory.decide(at(100), 3, 3, WINDOW); // a burst: the window starts again
        assert!(matches!(
            memory.decide(at(200), 3, 1, WINDOW),
            Decision::Hold { .. }
        ));
        assert_eq!(memory.decide(at(221), 3, 1, WINDOW), Decision::Scale(1));
    }

    #[test]
    fn missing_data_and_manual_scaling_restart_the_window() {
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        // First sight of a service with 5 replicas and no load: not removed before the window.
        assert!(matches!(
            memory.decide(at(0), 5, 1, WINDOW),
            Decision::Hold { .. }
        ));
        // Prometheus is down for a long time: the gap counts as "keep 5".
        for s in (15..300).step_by(15) {
            memory.hold(at(s), 5, WINDOW);
        }
        assert!(matches!(
            memory.decide(at(300), 5, 1, WINDOW),
            Decision::Hold { .. }
        ));
        // Docker's API is down as long: the same.
        for s in (315..600).step_by(15) {
            memory.hold_last_seen(at(s), WINDOW);
        }
        assert!(matches!(
            memory.decide(at(600), 5, 1, WINDOW),
            Decision::Hold { .. }
        ));
        // Someone scales it to 8 by hand: that too waits a whole window.
        assert!(matches!(
            memory.decide(at(610), 8, 1, WINDOW),
            Decision::Hold { .. }
        ));
        assert_eq!(memory.decide(at(731), 8, 1, WINDOW), Decision::Scale(1));
    }

    fn vector(values: &[&str]) -> Value {
        let result: Vec<Value> = values
            .iter()
            .map(|v| serde_json::json!({"metric": {}, "value": [1700000000.5, v]}))
            .collect();
        serde_json::json!({"resultType": "vector", "result": result})
    }

    #[test]
    fn one_number_is_taken_from_a_query_result() {
        assert_eq!(single_number(&vector(&["152.25"]), "q"), Ok(152.25));
        let scalar = serde_json::json!({"resultType": "scalar", "result": [1.0, "3"]});
        assert_eq!(single_number(&scalar, "q"), Ok(3.0));
        assert_eq!(
            single_number(&vector(&[]), "q"),
            Err(Error::NoSamples { query: "q".into() })
        );
        for (data, needle) in [
            (vector(&["1", "2"]), "2 series (wrap the query in sum(...))"),
            (vector(&["NaN"]), "the value 'NaN'"),
            (vector(&["-1"]), "the value '-1'"),
            (
                serde_json::json!({"resultType": "matrix", "result": []}),
                "a matrix result",
            ),
            (serde_json::json!({}), "a malformed result"),
        ] {
            let error = single_number(&data, "q").unwrap_err().to_string();
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn services_are_read_from_docker_json() {
        let json = serde_json::json!({
            "ID": "abc", "Version": {"Index": 42},
            "Spec": {"Name": "fogdeft_producer", "Mode": {"Replicated": {"Replicas": 2}},
                     "Labels": {"com.docker.stack.namespace": "fogdeft", LABEL_TARGET: "50"}}
        });
        let s = Service::from_json(&json).unwrap();
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.short_name.as_str()),
            ("abc", "fogdeft_producer", "producer")
        );
        assert_eq!((s.version, s.replicas), (42, Some(2)));
        let global = serde_json::json!({"ID": "g", "Version": {"Index": 1},
                                        "Spec": {"Name": "agent", "Mode": {"Global": {}}}});
        let g = Service::from_json(&global).unwrap();
        assert_eq!((g.short_name.as_str(), g.replicas), ("agent", None));
        assert!(Service::from_json(&serde_json::json!({"ID": "x"})).is_none());
    }

    #[test]
    fn errors_say_what_to_check() {
        let docker = |cause| Error::Unreachable {
            peer: Peer::Docker,
            address: "unix:///var/run/docker.sock".into(),
            cause,
        };
        assert!(docker(Cause::NoSocket)
            .to_string()
            .contains("-v /var/run/docker.sock:/var/run/docker.sock"));
        assert!(docker(Cause::PermissionDenied)
            .to_string()
            .contains("run as root"));
        assert!(docker(Cause::Other("broken pipe".into()))
            .to_string()
            .ends_with(": broken pipe"));
        let prometheus = Error::Unreachable {
            peer: Peer::Prometheus,
            address: "http://prometheus:9090".into(),
            cause: Cause::NameNotResolved,
        };
        assert!(prometheus
            .to_string()
            .contains("is the prometheus service running?"));
        let manager = Error::Rejected {
            peer: Peer::Docker,
            status: 503,
            message: "cannot list the services: This node is not a swarm manager.".into(),
        };
        assert!(manager.to_string().contains("must talk to a swarm manager"));
    }

    #[test]
    fn numbers_read_and_print_plainly() {
        assert_eq!(number(" 0.25 "), Some(0.25));
        assert_eq!(number("150"), Some(150.0));
        for bad in ["NaN", "+Inf", "1e999", "fast", ""] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
        assert_eq!(decimal(150.0), "150");
        assert_eq!(decimal(37.46), "37.5");
        assert_eq!(decimal(0.04), "0");
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human(Duration::from_secs(15)), "15s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(100_400)), "1m40s");
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
