//! The one error type of the autoscaler's calls. Each message says what failed and what to check;
//! each means "no data" or "no change", never a guess.

use std::fmt;
use std::time::Duration;

use fogdeft::escape;
use fogdeft::http::{self, Failure};

use crate::hpa::LABEL_QUERY;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Peer {
    Prometheus,
    Docker,
}

impl Peer {
    /// The name of the `peer` label in the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Peer::Prometheus => "prometheus",
            Peer::Docker => "docker",
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Error {
    /// No answer, or none we could read.
    Unreachable {
        peer: Peer,
        address: String,
        timeout: Duration,
        failure: Failure,
    },
    /// An answer with a status that is not the one success has, and the peer's own words.
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

impl Error {
    pub fn peer(&self) -> Peer {
        match self {
            Error::Unreachable { peer, .. }
            | Error::Rejected { peer, .. }
            | Error::BadAnswer { peer, .. } => *peer,
            Error::NoSamples { .. } | Error::NotOneNumber { .. } => Peer::Prometheus,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unreachable {
                peer,
                address,
                timeout,
                failure,
            } => {
                let (name, setting) = match peer {
                    Peer::Prometheus => ("Prometheus", "--prometheus/PROMETHEUS_URL"),
                    Peer::Docker => ("the Docker API", "--docker-host/DOCKER_HOST"),
                };
                let peer = http::Peer {
                    name,
                    address,
                    setting,
                    timeout: *timeout,
                };
                f.write_str(&failure.explain(&peer))
            }
            Error::Rejected {
                peer: Peer::Prometheus,
                status,
                message,
            } => {
                let hint = match status {
                    400 | 422 => format!(" (check --query/AUTOSCALE_QUERY or the label {LABEL_QUERY})"),
                    200 => String::new(),
                    _ => " (Prometheus is failing: no data this round)".into(),
                };
                write!(f, "Prometheus answered HTTP {status}: {}{hint}", escape(message))
            }
            Error::Rejected {
                peer: Peer::Docker,
                status,
                message,
            } => {
                let hint = match status {
                    300..=399 => " (a redirect: nothing was changed, and we follow none; point --docker-host/DOCKER_HOST at the daemon itself)",
                    503 => " (the autoscaler must talk to a swarm manager)",
                    _ => "",
                };
                let message = escape(message.trim_end());
                write!(f, "the Docker API answered HTTP {status}: {message}{hint}")
            }
            Error::BadAnswer { peer, why } => {
                write!(f, "unexpected answer from {peer:?}: {}", escape(why))
            }
            Error::NoSamples { query } => write!(
                f,
                "Prometheus has no samples for {query} (is it scraping the service? see its /targets page; check the job name)"
            ),
            Error::NotOneNumber { query, got } => {
                write!(f, "{query} must give one number, but gave {}", escape(got))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_check() {
        let docker = |failure| Error::Unreachable {
            peer: Peer::Docker,
            address: "unix:///var/run/docker.sock".into(),
            timeout: Duration::from_secs(5),
            failure,
        };
        assert!(docker(Failure::NoSocket)
            .to_string()
            .contains("-v /var/run/docker.sock:/var/run/docker.sock"));
        assert!(docker(Failure::PermissionDenied)
            .to_string()
            .contains("run as root"));
        assert!(docker(Failure::NameNotResolved)
            .to_string()
            .contains("check --docker-host/DOCKER_HOST"));
        let prometheus = Error::Unreachable {
            peer: Peer::Prometheus,
            address: "http://prometheus:9090".into(),
            timeout: Duration::from_secs(5),
            failure: Failure::Timeout,
        };
        assert_eq!(
            prometheus.to_string(),
            "cannot reach Prometheus at http://prometheus:9090: no answer within 5s (REQUEST_TIMEOUT): is it overloaded, or is the address wrong?"
        );
        let rejected = |peer, status, message: &str| {
            let message = message.into();
            Error::Rejected {
                peer,
                status,
                message,
            }
            .to_string()
        };
        assert!(
            rejected(Peer::Docker, 503, "not a manager").contains("must talk to a swarm manager")
        );
        assert!(rejected(Peer::Docker, 301, "").contains("nothing was changed"));
        assert!(rejected(Peer::Prometheus, 400, "parse error").contains("check --query"));
        assert!(rejected(Peer::Prometheus, 503, "").contains("no data this round"));
        // A peer's words cannot start a line of their own.
        let forged = rejected(Peer::Docker, 500, "x\nfogdeft_producer: scale up 1 -> 10");
        assert!(!forged.contains('\n'), "{forged}");
    }
}
