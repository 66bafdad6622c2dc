//! The autoscaler's settings: each once, with its default. `--help` is made from these.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use fogdeft::http::Url;
use fogdeft::{Declare, Settings, Value};

use crate::hpa::{DEFAULT_MAX, DEFAULT_MIN};
use crate::hpa::{LABEL_BEHAVIOR, LABEL_MAX, LABEL_MIN, LABEL_QUERY, LABEL_TARGET};

#[derive(Debug, PartialEq)]
pub struct Config {
    pub prometheus: Url,
    pub docker_host: DockerHost,
    pub interval: Duration,
    pub window: Duration,
    pub tolerance: f64,
    pub query: String,
    pub rate_window: Duration,
    pub max_replicas: u32,
    pub timeout: Duration,
    pub dry_run: bool,
    pub host: IpAddr,
    pub port: u16,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            prometheus: Url::parse("http://127.0.0.1:9090").expect("a valid default URL"),
            docker_host: DockerHost::Unix("/var/run/docker.sock".into()),
            // How often to decide. HPA's default is 15 s too.
            interval: Duration::from_secs(15),
            // How long the rate must stay low before a scale-down: HPA's default, 5 min.
            window: Duration::from_secs(300),
            // No change while rate per replica / target stays within 1 ± this (HPA's default).
            tolerance: 0.1,
            // The service's total requests/s. `{service}` becomes its name in its stack
            // (`producer`), which is also the Prometheus job that scrapes it; `{window}` is
            // --rate-window.
            query:
                "sum(rate(producer_requests_total{job=\"{service}\",path=\"/number\"}[{window}]))"
                    .into(),
            rate_window: Duration::from_secs(60),
            // No swarm of ours runs more; Docker claiming more is a fault, not a load.
            max_replicas: 1000,
            // A call to Prometheus or Docker that takes longer than this has failed.
            timeout: Duration::from_secs(5),
            dry_run: false,
            host: IpAddr::from([0, 0, 0, 0]),
            port: 9102,
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
            fogdeft::DURATIONS,
            "--interval",
            "AUTOSCALE_INTERVAL",
            "decide this often",
        );
        s.bounded(
            &mut self.window,
            Duration::ZERO..=Duration::from_secs(3600),
            "--stabilization-window",
            "STABILIZATION_WINDOW",
            "scale down only once the rate has stayed low this long (a label can say otherwise)",
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
            "a service's requests/s in PromQL; {service} is its name in its stack, {window} --rate-window",
        );
        s.bounded(
            &mut self.rate_window,
            fogdeft::DURATIONS,
            "--rate-window",
            "AUTOSCALE_RATE_WINDOW",
            "the query's rate() window: a scale-down needs every replica scraped for this long",
        );
        s.bounded(
            &mut self.max_replicas,
            1..=100_000,
            "--max-replicas",
            "AUTOSCALE_MAX_REPLICAS",
            "a count Docker reports above this is refused as a fault",
        );
        s.bounded(
            &mut self.timeout,
            fogdeft::DURATIONS,
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
        s.setting(
            &mut self.host,
            "--host",
            "HOST",
            "address for /metrics and /healthz",
        );
        s.setting(
            &mut self.port,
            "--port",
            "PORT",
            "TCP port for /metrics and /healthz (0: any free one)",
        );
    }

    fn check(&self) -> Result<(), String> {
        if self.query.trim().is_empty() {
            return Err("--query/AUTOSCALE_QUERY is empty".into());
        }
        Ok(())
    }
}

pub fn usage() -> String {
    let up = |field: &str| format!("{LABEL_BEHAVIOR}scale-up.{field}");
    let down = |field: &str| format!("{LABEL_BEHAVIOR}scale-down.{field}");
    let labels = [
        (
            LABEL_TARGET.to_string(),
            "requests/s one replica should serve (required)".to_string(),
        ),
        (
            LABEL_MIN.into(),
            format!("fewest replicas [default: {DEFAULT_MIN}]"),
        ),
        (
            LABEL_MAX.into(),
            format!("most replicas [default: {DEFAULT_MAX}]"),
        ),
        (
            LABEL_QUERY.into(),
            "its own PromQL instead of --query".into(),
        ),
        (
            up("policies"),
            "at most this change per period [default: 100% per 15s, 4 pods per 15s]".into(),
        ),
        (
            up("select-policy"),
            "Max (the most change), Min or Disabled [default: Max]".into(),
        ),
        (
            up("stabilization-window"),
            "scale up once the rate has stayed high this long [default: 0s]".into(),
        ),
        (down("policies"), "[default: 100% per 15s]".into()),
        (down("select-policy"), "[default: Max]".into()),
        (
            down("stabilization-window"),
            "[default: --stabilization-window]".into(),
        ),
    ];
    let labels: Vec<String> = labels
        .iter()
        .map(|(name, help)| format!("  {name:49} {help}"))
        .collect();
    format!(
        "autoscaler: scales Swarm services on request rate, from Prometheus (FogDEFT Day 02, in Rust)

Usage: autoscaler [FLAGS]
       autoscaler healthcheck [FLAGS]   probe /healthz here; exit 0 if healthy, else 1

Flags (each overrides its environment variable; durations: 3, 3s, 500ms, 1m):
{}

A service opts in with labels (autoscaler/docker-stack.autoscale.yml, deploy.labels), as HPA v2's spec:
{}
Services without {LABEL_TARGET} are never touched.",
        fogdeft::settings_table::<Config>(),
        labels.join("\n")
    )
}

/// Where the Docker Engine API listens.
#[derive(Debug, PartialEq, Clone)]
pub enum DockerHost {
    Unix(PathBuf),
    /// Plain HTTP.
    Tcp(Url),
}

/// Docker's own forms: `unix:///var/run/docker.sock` or `tcp://host:2375`.
impl Value for DockerHost {
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
            let address = address.trim_end_matches('/');
            if address.is_empty() || address.contains('/') {
                return Err("expected tcp://HOST:PORT".into());
            }
            return Url::with_default_port(&format!("http://{address}"), 2375).map(DockerHost::Tcp);
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
            DockerHost::Tcp(url) => write!(f, "tcp://{}:{}", url.host, url.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use fogdeft::{assert_refused, test_config};

    fn config(args: &[&str], vars: &[(&str, &str)]) -> Config {
        test_config(args, vars)
    }

    #[test]
    fn prometheus_urls_never_show_a_password() {
        let c = config(&["--prometheus", "http://ann:secret@p:9090"], &[]);
        assert_eq!(c.prometheus.to_string(), "http://ann:***@p:9090");
    }

    #[test]
    fn defaults_are_kubernetes_where_it_has_one() {
        let c = config(&[], &[]);
        assert_eq!(c.prometheus.to_string(), "http://127.0.0.1:9090");
        assert_eq!(
            c.docker_host,
            DockerHost::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            (c.interval, c.window, c.rate_window),
            (
                Duration::from_secs(15),
                Duration::from_secs(300),
                Duration::from_secs(60)
            )
        );
        assert_eq!(
            (c.tolerance, c.timeout, c.dry_run, c.max_replicas, c.port),
            (0.1, Duration::from_secs(5), false, 1000, 9102)
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
        let args = [
            "--interval=2s",
            "--stabilization-window",
            "30s",
            "--tolerance",
            "0.2",
        ];
        let c = config(&args, &vars);
        assert_eq!(c.prometheus.join("/x"), "http://prometheus:9090/x");
        assert_eq!(c.docker_host.to_string(), "tcp://manager:2375");
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
        let host = DockerHost::parse("tcp://10.0.0.1").unwrap();
        assert_eq!(host.to_string(), "tcp://10.0.0.1:2375");
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        assert_refused::<Config>(
            "--prometheus https://p:9090          | https is not supported
             PROMETHEUS_URL=prometheus:9090       | --prometheus/PROMETHEUS_URL
             --prometheus http://p:99999          | the port must be a number from 1 to 65535
             --prometheus http://p:0              | from 1 to 65535
             --prometheus http://p:abc            | --prometheus/PROMETHEUS_URL 'http://p:abc'
             --docker-host ssh://pi@manager       | ssh:// is not supported
             --docker-host unix://docker.sock     | must be absolute
             --docker-host tcp://                 | tcp://HOST:PORT
             --docker-host tcp://host:99999       | the port must be a number from 1 to 65535
             --docker-host tcp://host:abc         | --docker-host/DOCKER_HOST 'tcp://host:abc'
             --docker-host tcp://host:0           | from 1 to 65535
             --docker-host tcp://host:2375/x      | tcp://HOST:PORT
             --interval 0                         | expected D from 1ms to 60m
             --interval soon                      | --interval/AUTOSCALE_INTERVAL
             STABILIZATION_WINDOW=2h              | STABILIZATION_WINDOW
             --tolerance 1.5                      | --tolerance/AUTOSCALE_TOLERANCE
             --tolerance -0.1                     | from 0
             --tolerance 1                        | from 0 to 0.99
             --prometheus ftp://ann:secret@p      | 'ftp://ann:***@p'
             --query ' '                          | empty
             --max-replicas 0                     | --max-replicas/AUTOSCALE_MAX_REPLICAS
             --port 70000                         | --port/PORT
             AUTOSCALE_DRY_RUN=maybe              | AUTOSCALE_DRY_RUN",
        );
    }
}
