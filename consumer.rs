//! consumer: the tutorial's `consumer.py`, in Rust.
//!
//! Every 3 seconds it asks the producer for a number and prints `Received number: N`. When the
//! producer names itself in `X-Served-By`, the line ends with `(from <name>)`, so you can watch
//! Swarm spread the polls over the replicas. When a poll fails it prints
//! `Error fetching the number: <reason>` and simply tries again next time.
//!
//! Read it top to bottom: configuration, the poll loop, one fetch, and its errors.

use fogdeft::http::{self, Failure, Peer, Url};
use fogdeft::{say, Declare, Settings};

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use std::{process, thread};

// ---------------------------------------------------------------------------------------------
// Configuration: each setting once, with its default. `--help` is made from these.

#[derive(Debug, PartialEq)]
struct Config {
    target: Url,
    interval: Duration,
    timeout: Duration,
    once: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            target: Url::parse("http://127.0.0.1:5000/number").expect("a valid default URL"),
            interval: Duration::from_secs(3),
            // A producer that accepts and never answers must not stop us.
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
            fogdeft::DURATIONS,
            "--interval",
            "POLL_INTERVAL",
            "pause between polls",
        );
        s.bounded(
            &mut self.timeout,
            fogdeft::DURATIONS,
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
        fogdeft::settings_table::<Config>()
    )
}

fn main() {
    let (config, _) = fogdeft::settings_or_exit::<Config>("consumer", usage, &[]);

    // Like any Unix filter, end quietly when nobody reads our output (`consumer | head -3`).
    fogdeft::sys::end_on_closed_stdout();
    // Stop at once, even mid-sleep or mid-request: there is nothing to save.
    fogdeft::exit_on_stop_signal(|signal| {
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
    match fetch(agent, &config.target) {
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
    http::agent("consumer", timeout)
        .max_idle_connections(0)
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
    /// No answer, or none we could read.
    Call(Failure),
    Status(u16),
    InvalidJson(String),
    MissingNumber,
    NotAnInteger(String),
}

fn fetch(agent: &ureq::Agent, target: &Url) -> Result<Reading, FetchError> {
    let mut response = agent.get(target.uri()).call().map_err(Failure::from)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let served_by = response
        .headers()
        .get("x-served-by")
        .and_then(|value| value.to_str().ok())
        .map(fogdeft::escape);
    let body = http::read_body(&mut response, MAX_BODY_BYTES)?;
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

impl From<Failure> for FetchError {
    fn from(failure: Failure) -> FetchError {
        FetchError::Call(failure)
    }
}

impl FetchError {
    /// One line that says what went wrong and where to look.
    fn explain(&self, config: &Config) -> String {
        match self {
            FetchError::Call(failure) => failure.explain(&Peer {
                name: "the producer",
                address: &config.target.to_string(),
                setting: "--url/PRODUCER_URL",
                timeout: config.timeout,
            }),
            FetchError::Status(code) => {
                let reason = ureq::http::StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                format!("the producer answered HTTP {code} {reason}")
            }
            FetchError::InvalidJson(e) => format!("the response is not valid JSON ({e})"),
            FetchError::MissingNumber => "the response has no \"number\" field".into(),
            FetchError::NotAnInteger(v) => format!("\"number\" is not an integer: {v}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use fogdeft::{assert_refused, test_config};

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
        assert!(
            test_config::<Config>(&["--url", "http://p/n"], &[])
                .target
                .port
                == 80
        );
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
             --url http://127.0.0.1:abc/number      | --url/PRODUCER_URL
             --url http://ann:secret@x:0/           | 'http://ann:***@x:0/'
             --interval 0                           | expected D from 1ms to 60m
             --interval soon                        | --interval/POLL_INTERVAL
             REQUEST_TIMEOUT=-1                     | --timeout/REQUEST_TIMEOUT",
        );
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
            FetchError::Status(500).explain(&Config::default()),
            "the producer answered HTTP 500 Internal Server Error"
        );
    }
}
