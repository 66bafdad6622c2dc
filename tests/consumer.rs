//! The consumer against the real producer and against broken fake producers, on loopback.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

const ERROR: &str = "Error fetching the number: ";

fn url(address: std::net::SocketAddr) -> String {
    format!("http://{address}/number")
}

/// Runs `consumer --once` and returns its exit code and output.
fn once(url: &str, extra: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(CONSUMER)
        .args(["--once", "--url", url])
        .args(extra)
        .env_remove("PRODUCER_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text.into_owned())
}

#[test]
fn receives_numbers_from_the_producer_and_names_it() {
    let (_producer, address) = start_producer(&[]);
    let (code, out) = once(&url(address), &[]);
    assert_eq!(code, Some(0), "{out}");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let line = out.lines().next().unwrap();
    let number: i64 = line
        .strip_prefix("Received number: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!((1..=180).contains(&number));
    assert!(
        line.ends_with(&format!("(from {})", hostname.trim())),
        "{line}"
    );
}

#[test]
fn polls_again_and_again() {
    let (_producer, address) = start_producer(&[]);
    let mut consumer = Running::start(CONSUMER, &["--url", &url(address), "--interval", "100ms"]);
    for _ in 0..3 {
        consumer.wait_for(STARTUP, |l| l.starts_with("Received number: "));
    }
}

#[test]
fn recovers_when_the_producer_comes_up_later() {
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}/number");
    let mut consumer = Running::start(CONSUMER, &["--url", &target, "--interval", "100ms"]);
    let refused = consumer.wait_for(STARTUP, |l| l.starts_with(ERROR));
    assert!(refused.contains("connection refused"), "{refused}");

    let port = port.to_string();
    let mut producer = start_producer_on(&port);
    producer.wait_for(STARTUP, |l| l.contains("Running on"));
    consumer.wait_for(STARTUP, |l| l.starts_with("Received number: "));

    // And once more after the producer goes away and comes back.
    drop(producer);
    consumer.wait_for(STARTUP, |l| l.starts_with(ERROR));
    let mut producer = start_producer_on(&port);
    producer.wait_for(STARTUP, |l| l.contains("Running on"));
    consumer.wait_for(STARTUP, |l| l.starts_with("Received number: "));
    assert!(
        consumer.child.try_wait().unwrap().is_none(),
        "the consumer never exits by itself"
    );
}

#[test]
fn times_out_on_a_producer_that_never_answers() {
    let silent = fake_server(None);
    let (code, out) = once(&url(silent), &["--timeout", "300ms"]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with(ERROR) && out.contains("no answer within 300ms"),
        "{out}"
    );
}

#[test]
fn reports_bad_answers() {
    let huge = format!(
        "{{\"number\": 1, \"padding\": \"{}\"}}",
        "x".repeat(1 << 20)
    );
    for (status, body, expected) in [
        (
            "500 Internal Server Error",
            &b"boom"[..],
            "HTTP 500 Internal Server Error",
        ),
        ("200 OK", b"<html>hello</html>", "not valid JSON"),
        // Redirects are not followed (common/http.rs): a 3xx is an answer like any other.
        ("301 Moved Permanently", b"", "HTTP 301 Moved Permanently"),
        ("200 OK", b"{\"value\": 3}", "no \"number\" field"),
        (
            "200 OK",
            b"{\"number\": 2.5}",
            "\"number\" is not an integer: 2.5",
        ),
        ("200 OK", huge.as_bytes(), "larger than 64 KiB"),
    ] {
        let server = fake_server(Some(http_response(status, "application/json", body)));
        let (code, out) = once(&url(server), &[]);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.starts_with(ERROR) && out.contains(expected),
            "{out} lacks {expected}"
        );
    }
}

#[test]
fn accepts_a_flask_style_body() {
    let flask = fake_server(Some(http_response(
        "200 OK",
        "application/json",
        b"{\"number\": 73}\n",
    )));
    let (code, out) = once(&url(flask), &[]);
    assert_eq!((code, out.trim()), (Some(0), "Received number: 73"));
}

#[test]
fn names_an_unresolvable_host() {
    let (code, out) = once("http://no-such-producer.invalid:5000/number", &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("cannot reach the producer at http://no-such-producer.invalid:5000/number: its host name does not resolve"),
        "{out}"
    );
}

#[test]
fn sigterm_mid_sleep_exits_0_with_a_summary() {
    let (_producer, address) = start_producer(&[]);
    let mut consumer = Running::start(CONSUMER, &["--url", &url(address), "--interval", "60s"]);
    consumer.wait_for(STARTUP, |l| l.starts_with("Received number: "));
    consumer.signal(libc::SIGTERM);
    assert_eq!(consumer.exit_within(Duration::from_secs(1)).code(), Some(0));
    let summary = consumer.wait_for(STARTUP, |l| l.starts_with("consumer: SIGTERM"));
    assert!(
        summary.contains("1 numbers received, 0 errors"),
        "{summary}"
    );
}

#[test]
fn sigint_mid_request_exits_0_at_once() {
    let silent = fake_server(None);
    let mut consumer = Running::start(CONSUMER, &["--url", &url(silent), "--timeout", "60s"]);
    consumer.wait_for(STARTUP, |l| l.starts_with("consumer: polling"));
    std::thread::sleep(Duration::from_millis(200)); // let the request start; not an assertion
    consumer.signal(libc::SIGINT);
    assert_eq!(consumer.exit_within(Duration::from_secs(1)).code(), Some(0));
}

#[test]
fn bad_configuration_exits_2_before_polling() {
    for args in [
        &["--url", "ftp://producer/number"][..],
        &["--url", "http://127.0.0.1:99999/number"],
        &["--url", "http://127.0.0.1:0/number"],
        &["--interval", "0"],
        &["--interval", "soon"],
        &["--loud"],
    ] {
        assert_refuses_to_start(CONSUMER, args);
    }
}

#[test]
fn never_prints_a_password() {
    let port = free_port();
    let target = format!("http://ann:secret@127.0.0.1:{port}/number");
    let mut consumer = Running::start(CONSUMER, &["--url", &target, "--interval", "100ms"]);
    consumer.wait_for(STARTUP, |l| l.starts_with(ERROR));
    let seen = consumer.drain(Duration::ZERO).join("\n");
    assert!(
        seen.contains(&format!("polling http://ann:***@127.0.0.1:{port}/number")),
        "{seen}"
    );
    assert!(!seen.contains("secret"), "{seen}");
}

#[test]
fn help_and_version() {
    assert_help_and_version(CONSUMER, "consumer", "PRODUCER_URL");
}

/// A producer on `port`, for a test that stops it and starts it there again.
fn start_producer_on(port: &str) -> Running {
    let mut command = producer_command();
    command.args(["--host", "127.0.0.1", "--port", port]);
    Running::spawn(command).expect("the producer starts")
}
