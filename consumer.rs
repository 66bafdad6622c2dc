//! consumer: the tutorial's `consumer.py`, in Rust.
//!
//! Every 3 seconds it asks the producer for a number and prints `Received number: N`. When the
//! producer names itself in `X-Served-By`, the line ends with `(from <name>)`, so you can watch
//! Swarm spread the polls over the replicas. When a poll fails it prints
//! `Error fetching the number: <reason>` and simply tries again next time.
//!
//! Read it top to bottom: configuration, the poll loop, one fetch, and its errors.

mod common;

use common::{hide_password, say, Declare, Settings, Value};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use std::{env, io, process, thread};

use ureq::http::Uri;

// ---------------------------------------------------------------------------------------------
// Configuration: each setting once, with its default. `--help` is made from these.

#[derive(Debug, PartialEq)]
struct Config {
    target: Target,
    interval: Duration,
    timeout: Duration,
    once: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            target: Target::parse("http://127.0.0.1:5000/number").expect("a valid default URL"),
            interval: Duration::from_secs(3),
            // ureq waits forever by default; a producer that accepts and never answers must not
            // stop us.
            timeout: Duration::from_secs(2),
            once: false,
        }
    }
}

impl Settings for Config {
    fn declare(&mut self, s: &mut impl Declare) {
        s.setting(&mut self.target, "--url", "PRODUCER_URL", "where to fetch");
        s.bounded(
            &mut self.interval,
            common::DURATIONS,
            "--interval",
            "POLL_INTERVAL",
            "pause between polls",
        );
        s.bounded(
            &mut self.timeout,
            common::DURATIONS,
            "--timeout",
            "REQUEST_TIMEOUT",
            "give up on one poll after this long",
        );
        s.switch(
            &mut self.once,
            "--once",
            "",
            "fetch once; exit 0 on success, 1 on failure",
        );
    }
}

/// A number fits in a few bytes; a peer that sends more is broken, and we stop reading.
const MAX_BODY_BYTES: u64 = 64 * 1024;

fn usage() -> String {
    format!(
        "consumer: polls the producer for random numbers and prints them (FogDEFT Day 01, in Rust)

Usage: consumer [FLAGS]

Flags (each overrides its environment variable; durations: 3, 3s, 500ms, 1m):
{}

In Docker Compose and Swarm, use the service name: PRODUCER_URL=http://producer:5000/number",
        common::settings_table::<Config>()
    )
}

/// The producer's URL, parsed once: what each poll requests, and where errors point.
#[derive(Debug, PartialEq)]
struct Target {
    uri: Uri,
    host: String,
    port: u16,
}

impl Target {
    /// Accepts only plain `http://host[:port]/path`: we are built without TLS, on purpose.
    fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| "expected a URL such as http://producer:5000/number".to_string())?;
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
            _ => 80,
        };
        Ok(Target { uri, host, port })
    }
}

impl Value for Target {
    const PLACEHOLDER: &'static str = "URL";
    fn parse(text: &str) -> Result<Self, String> {
        Target::parse(text)
    }
    fn show(&self) -> String {
        self.to_string()
    }
    fn redact(text: &str) -> String {
        hide_password(text)
    }
}

/// The URL as it may be printed.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hide_password(&self.uri.to_string()))
    }
}

fn main() {
    let (config, _) = common::settings_or_exit::<Config>("consumer", usage, &[]);

    // Like any Unix filter, end quietly when nobody reads our output (`consumer | head -3`).
    // Sockets are unaffected: std writes to them with MSG_NOSIGNAL.
    // SAFETY: restoring a default signal disposition, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Stop at once, even mid-sleep or mid-request: there is nothing to save.
    common::exit_on_stop_signal(|signal| {
        say!(
            "consumer: {signal}: stopping after {} numbers received, {} errors",
            RECEIVED.load(Relaxed),
            FAILED.load(Relaxed)
        )
    });

    let agent = new_agent(config.timeout);
    if config.once {
        process::exit(if poll(&agent, &config) { 0 } else { 1 });
    }
    say!(
        "consumer: polling {} every {:?}",
        config.target,
        config.interval
    );
    loop {
        poll(&agent, &config);
        thread::sleep(config.interval);
    }
}

// ---------------------------------------------------------------------------------------------
// The poll loop: one fetch, one line, flushed at once (Rust's stdout is
// line-buffered even in a container, unlike Python's), so `docker logs` shows it immediately.

static RECEIVED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Fetches one number and prints the outcome. Returns whether it worked.
fn poll(agent: &ureq::Agent, config: &Config) -> bool {
    match fetch(agent, &config.target.uri) {
        Ok(reading) => {
            RECEIVED.fetch_add(1, Relaxed);
            match reading.served_by {
                Some(name) => say!("Received number: {} (from {name})", reading.number),
                None => say!("Received number: {}", reading.number),
            }
            true
        }
        Err(error) => {
            FAILED.fetch_add(1, Relaxed);
            say!("Error fetching the number: {}", error.explain(config));
            false
        }
    }
}

/// No connection pool: every poll looks the name up again and opens a fresh connection, like the
/// tutorial's `requests.get`. So Swarm's DNS round-robin and VIP spread the polls over the
/// replicas, and a producer that moved to another node is found.
fn new_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_idle_connections(0)
        .user_agent(concat!("fogdeft-consumer/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

// ---------------------------------------------------------------------------------------------
// One fetch, and the one error type whose messages say what to do.

struct Reading {
    number: i64,
    served_by: Option<String>,
}

#[derive(Debug, PartialEq)]
enum FetchError {
    Refused,
    NameNotResolved,
    Timeout,
    Status(u16),
    BodyTooLarge,
    InvalidJson(String),
    MissingNumber,
    NotAnInteger(String),
    Other(String),
}

fn fetch(agent: &ureq::Agent, uri: &Uri) -> Result<Reading, FetchError> {
    let mut response = agent.get(uri).call().map_err(FetchError::from)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let served_by = response
        .headers()
        .get("x-served-by")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .map_err(FetchError::from)?;
    let number = parse_number(&body)?;
    Ok(Reading { number, served_by })
}

/// Takes `{"number": N}` with an integer N; whitespace and other fields are fine.
fn parse_number(body: &[u8]) -> Result<i64, FetchError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| FetchError::InvalidJson(e.to_string()))?;
    match value.get("number") {
        None => Err(FetchError::MissingNumber),
        Some(number) => number
            .as_i64()
            .ok_or_else(|| FetchError::NotAnInteger(number.to_string())),
    }
}

impl From<ureq::Error> for FetchError {
    fn from(error: ureq::Error) -> FetchError {
        match error {
            ureq::Error::HostNotFound => FetchError::NameNotResolved,
            ureq::Error::Timeout(_) => FetchError::Timeout,
            ureq::Error::BodyExceedsLimit(_) => FetchError::BodyTooLarge,
            ureq::Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => FetchError::Refused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::Timeout,
                // std reports a failed getaddrinfo with no ErrorKind of its own, only this text.
                _ if e.to_string().contains("failed to lookup address") => {
                    FetchError::NameNotResolved
                }
                _ => FetchError::Other(e.to_string()),
            },
            other => FetchError::Other(other.to_string()),
        }
    }
}

impl FetchError {
    /// One line that says what went wrong and where to look.
    fn explain(&self, config: &Config) -> String {
        let Target { host, port, .. } = &config.target;
        match self {
            FetchError::Refused => format!(
                "connection refused by {host}:{port} (is the producer running and listening there?)"
            ),
            FetchError::NameNotResolved => format!(
                "cannot resolve host '{host}' (check PRODUCER_URL; in Compose or Swarm use the service name)"
            ),
            FetchError::Timeout => {
                format!("no answer within {:?} (REQUEST_TIMEOUT)", config.timeout)
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Refused => write!(f, "connection refused"),
            FetchError::NameNotResolved => write!(f, "host name not resolved"),
            FetchError::Timeout => write!(f, "timed out"),
            FetchError::Status(code) => {
                let reason = ureq::http::StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                write!(f, "the producer answered HTTP {code} {reason}")
            }
            FetchError::BodyTooLarge => {
                write!(
                    f,
                    "the response is larger than {} KiB",
                    MAX_BODY_BYTES / 1024
                )
            }
            FetchError::InvalidJson(e) => write!(f, "the response is not valid JSON ({e})"),
            FetchError::MissingNumber => write!(f, "the response has no \"number\" field"),
            FetchError::NotAnInteger(v) => write!(f, "\"number\" is not an integer: {v}"),
            FetchError::Other(e) => write!(f, "{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use common::{assert_refused, test_config};

    #[test]
    fn defaults_match_the_tutorial() {
        let c: Config = test_config(&[], &[]);
        assert_eq!(c.target.to_string(), "http://127.0.0.1:5000/number");
        assert_eq!(
            (c.interval, c.timeout, c.once),
            (Duration::from_secs(3), Duration::from_secs(2), false)
        );
    }

    #[test]
    fn flags_win_over_environment() {
        let vars = [
            ("PRODUCER_URL", "http://producer:5000/number"),
            ("POLL_INTERVAL", "500ms"),
        ];
        let c: Config = test_config(&["--interval", "1s", "--once"], &vars);
        assert_eq!(c.target.to_string(), "http://producer:5000/number");
        assert_eq!((c.target.host.as_str(), c.target.port), ("producer", 5000));
        assert_eq!(c.interval, Duration::from_secs(1));
        assert!(c.once);
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        assert_refused::<Config>(
            "--url ftp://x/number                   | must start with http://
             PRODUCER_URL=https://x/number          | https is not supported
             --url producer:5000                    | --url/PRODUCER_URL
             --url 'not a url'                      | expected a URL
             --url http://127.0.0.1:99999/number    | from 1 to 65535
             --url http://127.0.0.1:0/number        | from 1 to 65535
             --url http://ann:secret@x:0/           | 'http://ann:***@x:0/'
             --interval 0                           | expected D from 1ms to 60m
             --interval soon                        | --interval/POLL_INTERVAL
             REQUEST_TIMEOUT=-1                     | --timeout/REQUEST_TIMEOUT",
        );
    }

    #[test]
    fn urls_keep_their_parts_and_hide_passwords() {
        let target = Target::parse("http://ann:secret@producer:8080/number?x=1").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("producer", 8080));
        assert_eq!(
            target.to_string(),
            "http://ann:***@producer:8080/number?x=1"
        );
        assert_eq!(Target::parse("http://producer").unwrap().port, 80);
        assert_eq!(
            hide_password("http://ann:secret@x/a@b"),
            "http://ann:***@x/a@b"
        );
        assert_eq!(hide_password("http://x/a:b@c"), "http://x/a:b@c");
    }

    #[test]
    fn numbers_are_read_from_json() {
        assert_eq!(parse_number(b"{\"number\": 73}\n"), Ok(73));
        assert_eq!(parse_number(b"{\n  \"number\": 5,\n  \"x\": 1\n}"), Ok(5));
        assert_eq!(parse_number(b"{}"), Err(FetchError::MissingNumber));
        assert_eq!(
            parse_number(b"{\"number\": 1.5}"),
            Err(FetchError::NotAnInteger("1.5".into()))
        );
        assert_eq!(
            parse_number(b"{\"number\": \"7\"}"),
            Err(FetchError::NotAnInteger("\"7\"".into()))
        );
        assert!(matches!(
            parse_number(b"<html>"),
            Err(FetchError::InvalidJson(_))
        ));
    }

    #[test]
    fn status_errors_name_the_code() {
        assert_eq!(
            FetchError::Status(500).to_string(),
            "the producer answered HTTP 500 Internal Server Error"
        );
    }
}
