//! The one way the consumer and the autoscaler call a peer over HTTP: parse its URL (the port
//! included), build the ureq agent (every default in one place), read a bounded body, and
//! explain a failure in one line that says what to check.

use std::time::Duration;
use std::{fmt, io};

use ureq::http::{Response, Uri};
use ureq::Body;

use super::{escape, hide_password, Value};

/// A plain `http://host[:port][/path]` URL: we are built without TLS, on purpose. The port is
/// checked here, once: 0, 99999 or `abc` are refused, never replaced by a default.
#[derive(Debug, PartialEq, Clone)]
pub struct Url {
    uri: Uri,
    pub host: String,
    pub port: u16,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        Url::with_default_port(text, 80)
    }

    /// A URL whose port, when it names none, is `default_port`.
    pub fn with_default_port(text: &str, default_port: u16) -> Result<Url, String> {
        let uri: Uri = text
            .parse()
            .map_err(|_| "expected a URL such as http://host:port/path".to_string())?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err("https is not supported, use http://".to_string()),
            _ => return Err("it must start with http://".to_string()),
        }
        let host = match uri.host() {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => return Err("it has no host".to_string()),
        };
        // `Uri::port` reads an out-of-range port as none at all: read the text itself.
        let authority = uri.authority().map_or("", |a| a.as_str());
        let host_and_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, rest)| rest);
        let port = match host_and_port.rsplit_once(':') {
            Some((_, port)) if !host_and_port.ends_with(']') => match port.parse() {
                Ok(port @ 1..=65535) => port,
                _ => return Err("the port must be a number from 1 to 65535".to_string()),
            },
            _ => default_port,
        };
        Ok(Url { uri, host, port })
    }

    /// What a request goes to.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// This URL with `path` after it: `http://prometheus:9090` and `/api/v1/query`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.uri.to_string().trim_end_matches('/'))
    }
}

impl Value for Url {
    const PLACEHOLDER: &'static str = "URL";
    fn parse(text: &str) -> Result<Self, String> {
        Url::parse(text)
    }
    fn show(&self) -> String {
        self.to_string()
    }
    fn redact(text: &str) -> String {
        hide_password(text)
    }
}

/// The URL as it may be printed: without its password.
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hide_password(self.uri.to_string().trim_end_matches('/')))
    }
}

/// The agent's settings, the same for every call we make (`program` names us in User-Agent):
/// - `timeout` for a whole call (ureq waits forever by default), half of it for the name lookup:
///   in Compose or Swarm it takes milliseconds, and one that runs out of time is a name nobody
///   answers for, which is what we then say (`Failure::NameNotResolved`);
/// - status codes are data, not errors: a failing answer's body says why;
/// - redirects are not followed: ureq would follow a 3xx to a POST as a GET, and a redirected
///   change is no change. A 3xx is an answer like any other non-2xx.
pub fn agent(
    program: &str,
    timeout: Duration,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_resolve(Some(timeout / 2))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("fogdeft-{program}/{}", env!("CARGO_PKG_VERSION")))
}

/// The whole body, or `TooLarge` once it passes `limit` bytes: a peer that sends more is broken.
/// (`inline`: compiled into each program, with its other calls to ureq, this takes 4 KB less of
/// the autoscaler than as the library's own.)
#[inline]
pub fn read_body(response: &mut Response<Body>, limit: u64) -> Result<Vec<u8>, Failure> {
    let body = response.body_mut().with_config().limit(limit).read_to_vec();
    body.map_err(|error| match error {
        ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge(limit),
        other => Failure::from(other),
    })
}

/// A body as JSON, or `None` if it is not JSON. The health checks and the autoscaler read their
/// peers' JSON here, so that a binary holds one copy of serde_json's reader, the library's, not
/// one per crate (the autoscaler is near 1 MiB).
pub fn json(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(body).ok()
}

/// Why a call got no answer we could read.
#[derive(Debug, PartialEq, Clone)]
pub enum Failure {
    Refused,
    NameNotResolved,
    /// A Unix socket path with nothing there.
    NoSocket,
    PermissionDenied,
    Timeout,
    /// The body passed this many bytes.
    TooLarge(u64),
    Other(String),
}

impl From<ureq::Error> for Failure {
    fn from(error: ureq::Error) -> Failure {
        match error {
            ureq::Error::HostNotFound => Failure::NameNotResolved,
            // Swarm's DNS forwards a name it does not know (a service with no task) and may wait
            // for an upstream that never answers: a name that does not resolve, not a slow peer.
            ureq::Error::Timeout(ureq::Timeout::Resolve) => Failure::NameNotResolved,
            ureq::Error::Timeout(_) => Failure::Timeout,
            ureq::Error::BodyExceedsLimit(limit) => Failure::TooLarge(limit),
            ureq::Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => Failure::Refused,
                io::ErrorKind::NotFound => Failure::NoSocket,
                io::ErrorKind::PermissionDenied => Failure::PermissionDenied,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
                // std reports a failed getaddrinfo with no ErrorKind of its own, only this text.
                _ if e.to_string().contains("failed to lookup address") => Failure::NameNotResolved,
                _ => Failure::Other(e.to_string()),
            },
            other => Failure::Other(other.to_string()),
        }
    }
}

/// Whom a call went to, for the line that explains its failure.
pub struct Peer<'a> {
    /// "the producer", "Prometheus", "the Docker API".
    pub name: &'a str,
    /// Where, as it may be printed (no password).
    pub address: &'a str,
    /// The setting that names the address: `--url/PRODUCER_URL`.
    pub setting: &'a str,
    pub timeout: Duration,
}

impl Failure {
    /// One line: what failed, and what to check.
    pub fn explain(&self, peer: &Peer) -> String {
        let Peer {
            name,
            address,
            setting,
            timeout,
        } = peer;
        let what = match self {
            Failure::Refused => "connection refused: is it running and listening there?".into(),
            Failure::NameNotResolved => format!(
                "its host name does not resolve (in time): check {setting}; in Compose or Swarm use the service name, and is that service running?"
            ),
            Failure::NoSocket => "no socket there: is Docker running? In a container, mount it: -v /var/run/docker.sock:/var/run/docker.sock".into(),
            Failure::PermissionDenied => "permission denied: run as root or in the socket's group (in a container: --user 0, or --group-add with the socket's group)".into(),
            Failure::Timeout => format!(
                "no answer within {} (REQUEST_TIMEOUT): is it overloaded, or is the address wrong?",
                Duration::show(timeout)
            ),
            Failure::TooLarge(limit) => format!(
                "the answer is larger than {} KiB: is that {name}?",
                limit / 1024
            ),
            Failure::Other(text) => escape(text),
        };
        format!("cannot reach {name} at {address}: {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_parts_and_hide_passwords() {
        let url = Url::parse("http://ann:secret@producer:8080/number?x=1").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("producer", 8080));
        assert_eq!(url.to_string(), "http://ann:***@producer:8080/number?x=1");
        assert_eq!(Url::parse("http://producer").unwrap().port, 80);
        let docker = Url::with_default_port("http://10.0.0.1", 2375).unwrap();
        assert_eq!(docker.port, 2375);
        let base = Url::parse("http://prometheus:9090/").unwrap();
        assert_eq!(
            base.join("/api/v1/query"),
            "http://prometheus:9090/api/v1/query"
        );
        assert_eq!(base.to_string(), "http://prometheus:9090");
        let v6 = Url::parse("http://[::1]:9090").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 9090));
    }

    #[test]
    fn every_port_is_checked_never_replaced() {
        for bad in [
            "http://h:0/",
            "http://h:99999/",
            "http://h:abc/",
            "http://h:-1/",
            "http://h:/",
        ] {
            let error = Url::parse(bad).unwrap_err();
            assert!(
                error.contains("port must be a number from 1 to 65535")
                    || error.contains("expected a URL"),
                "{bad}: {error}"
            );
        }
        assert!(Url::parse("https://h/")
            .unwrap_err()
            .contains("https is not supported"));
        assert!(Url::parse("ftp://h/")
            .unwrap_err()
            .contains("must start with http://"));
        assert!(Url::parse("http:///x").is_err());
    }

    #[test]
    fn failures_say_what_to_check() {
        let peer = Peer {
            name: "Prometheus",
            address: "http://prometheus:9090",
            setting: "--prometheus/PROMETHEUS_URL",
            timeout: Duration::from_millis(300),
        };
        let explain = |f: Failure| f.explain(&peer);
        assert_eq!(
            explain(Failure::Refused),
            "cannot reach Prometheus at http://prometheus:9090: connection refused: is it running and listening there?"
        );
        assert!(explain(Failure::NameNotResolved).contains("check --prometheus/PROMETHEUS_URL"));
        assert!(explain(Failure::Timeout).contains("no answer within 300ms (REQUEST_TIMEOUT)"));
        assert!(explain(Failure::TooLarge(65536)).contains("larger than 64 KiB"));
        assert!(explain(Failure::NoSocket).contains("-v /var/run/docker.sock:/var/run/docker.sock"));
        assert!(explain(Failure::PermissionDenied).contains("run as root"));
        assert!(explain(Failure::Other("a\nfake line".into())).ends_with(": a\\nfake line"));
    }
}
