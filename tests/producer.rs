//! The producer's contract, checked against the real binary on loopback.

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?} is not JSON: {e}"))
}

#[test]
fn number_returns_json_in_range_with_served_by() {
    let (_producer, address) = start_producer(&[]);
    let reply = request(address, "GET", "/number");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    let number = json(&reply.body)["number"]
        .as_i64()
        .expect("an integer number");
    assert!((1..=180).contains(&number), "{number} out of 1..=180");
    let served_by = reply.header("X-Served-By").expect("X-Served-By header");
    assert_eq!(served_by, hostname());
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    name.trim().to_string()
}

#[test]
fn root_is_text_for_curl_and_the_page_for_browsers() {
    let (_producer, address) = start_producer(&[]);
    request(address, "GET", "/number");
    for accept in ["", "Accept: */*\r\n", "Accept: application/json\r\n"] {
        let reply = request_with(address, "GET", "/", accept);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(reply.header("Vary"), Some("Accept"));
        let lines: Vec<&str> = reply.body.lines().collect();
        assert_eq!(lines.len(), 5, "{}", reply.body);
        assert_eq!(lines[0], format!("Hostname: {}", hostname()));
        assert_eq!(lines[1], format!("Arch: {}", std::env::consts::ARCH));
        assert_eq!(lines[2], format!("Version: {}", env!("CARGO_PKG_VERSION")));
        assert!(lines[3].starts_with("Uptime: ") && lines[3].ends_with('s'));
        let count: u64 = lines[4]
            .strip_prefix("Requests: ")
            .unwrap()
            .parse()
            .unwrap();
        assert!(count >= 2, "{}", reply.body);
    }
    let browser = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    let page = request_with(address, "GET", "/", browser);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("Vary"), Some("Accept"));
    assert!(page.body.starts_with("<!doctype html>") && page.body.contains("/number?close"));
    assert!(page.header("X-Served-By").is_some());
}

#[test]
fn the_pages_polls_close_their_connection() {
    let (_producer, address) = start_producer(&[]);
    let poll = b"GET /number?close HTTP/1.1\r\nHost: x\r\n\r\n";
    let (reply, closed) = exchange(address, poll, Duration::from_secs(5));
    assert_eq!(statuses(&reply), [200]);
    assert!(
        closed && reply.contains("\r\nConnection: close\r\n"),
        "{reply}"
    );
    // Any other query string keeps the connection open, as before: the request after it on the
    // same connection is answered too (and that one, `?close`, ends it).
    let other_then_close = b"GET /number?closed HTTP/1.1\r\nHost: x\r\n\r\n\
                             GET /number?close HTTP/1.1\r\nHost: x\r\n\r\n";
    let (reply, closed) = exchange(address, other_then_close, Duration::from_secs(5));
    assert_eq!(statuses(&reply), [200, 200], "{reply}");
    assert!(
        closed && reply.matches("Connection: close").count() == 1,
        "{reply}"
    );
}

/// A host name is any bytes to the kernel. The producer neither panics on one that is not
/// ASCII nor lets CR LF in one start a header of its own: it sends it %-escaped.
#[test]
#[cfg(target_os = "linux")]
fn a_host_name_that_is_no_header_value_is_sent_escaped() {
    let name = b"caf\xc3\xa9\r\nSet-Cookie: x=1";
    let (_producer, address) = match start_producer_named(name) {
        Ok(started) => started,
        Err(e) if std::env::var("REQUIRE_DOCKER").as_deref() != Ok("1") => {
            return eprintln!("SKIP: cannot name a host in a UTS namespace ({e}): run as root");
        }
        Err(e) => panic!("a UTS namespace is required under REQUIRE_DOCKER=1: {e}"),
    };
    let reply = request(address, "GET", "/number");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("X-Served-By"),
        Some("caf%C3%A9%0D%0ASet-Cookie:%20x=1")
    );
    assert_eq!(reply.header("Set-Cookie"), None, "{:?}", reply.headers);
}

#[test]
fn query_strings_are_ignored_and_head_answers() {
    let (_producer, address) = start_producer(&[]);
    let reply = request(address, "GET", "/number?format=json&x");
    assert_eq!(reply.status, 200);
    assert!(json(&reply.body)["number"].is_i64());
    let head = request(address, "HEAD", "/number");
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert!(head.header("X-Served-By").is_some());
}

#[test]
fn draws_stay_in_range_and_reach_both_ends() {
    let (_producer, address) = start_producer(&["--min", "-2", "--max", "2"]);
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let number = json(&request(address, "GET", "/number").body)["number"]
            .as_i64()
            .unwrap();
        assert!((-2..=2).contains(&number), "{number} out of -2..=2");
        seen.insert(number);
    }
    // 300 draws from 5 values miss one with probability about 5 * (4/5)^300, i.e. never.
    assert_eq!(seen, (-2..=2).collect(), "every value should appear");
}

#[test]
fn healthz_and_errors() {
    let (_producer, address) = start_producer(&[]);
    let health = request(address, "GET", "/healthz");
    assert_eq!(
        (health.status, json(&health.body)),
        (200, serde_json::json!({"status": "ok"}))
    );

    let missing = request(address, "GET", "/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("Content-Type"), Some("application/json"));
    assert_eq!(json(&missing.body)["error"], "not found");
    assert!(missing.header("X-Served-By").is_some());

    let wrong = request(address, "POST", "/number");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("Allow"), Some("GET, HEAD"));
    assert_eq!(json(&wrong.body)["error"], "method not allowed");
}

/// Every answer is of its moment, so no cache may keep it; the live page may be kept a minute.
/// (make test-caching runs REDbot, the HTTP linter, on every route.)
#[test]
fn every_answer_says_what_a_cache_may_do_with_it() {
    let (_producer, address) = start_producer(&[]);
    let html = "Accept: text/html\r\n";
    for (method, path, headers, status, cache_control) in [
        ("GET", "/number", "", 200, "no-store"),
        ("GET", "/healthz", "", 200, "no-store"),
        ("GET", "/metrics", "", 200, "no-store"),
        ("GET", "/", "", 200, "no-store"),
        ("GET", "/nope", "", 404, "no-store"),
        ("POST", "/number", "", 405, "no-store"),
        ("HEAD", "/number", "", 200, "no-store"),
        ("GET", "/", html, 200, "max-age=60"),
    ] {
        let reply = request_with(address, method, path, headers);
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(
            reply.header("Cache-Control"),
            Some(cache_control),
            "{method} {path} {headers:?}"
        );
    }
}

#[test]
fn metrics_count_requests_and_pass_promtool() {
    let (_producer, address) = start_producer(&[]);
    for _ in 0..3 {
        request(address, "GET", "/number");
    }
    request(address, "GET", "/missing");
    let metrics = request(address, "GET", "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for needle in [
        "producer_requests_total{path=\"/number\",status=\"200\"} 3\n",
        "producer_requests_total{path=\"other\",status=\"404\"} 1\n",
        "producer_number_count 3\n",
        "process_start_time_seconds ",
        &format!(
            "producer_build_info{{version=\"{}\",arch=\"{}\",hostname=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            hostname()
        ),
        "# TYPE producer_request_duration_seconds histogram\n",
        "producer_request_duration_seconds_bucket{path=\"/number\",le=\"+Inf\"} 3\n",
        "producer_request_duration_seconds_count{path=\"/number\"} 3\n",
        "producer_request_duration_seconds_count{path=\"other\"} 1\n",
    ] {
        assert!(
            metrics.body.contains(needle),
            "{needle:?} missing from:\n{}",
            metrics.body
        );
    }
    promtool_check_metrics(&metrics.body);
}

/// /metrics states the connections and each one's memory budget that the banner prints, for
/// programs (scripts/memory-budget.sh checks them against the memory limit).
#[test]
fn metrics_state_the_connections_and_their_budget() {
    let (producer, address) = start_producer(&["--max-connections", "100"]);
    let banner = producer
        .seen
        .iter()
        .find(|l| l.contains(" KiB each at most"));
    let banner = banner.expect("the banner states a budget");
    let metrics = request(address, "GET", "/metrics").body;
    let value = |name: &str| -> usize {
        let line = metrics.lines().find_map(|l| l.strip_prefix(name));
        let line = line.unwrap_or_else(|| panic!("{name} missing from:\n{metrics}"));
        line.trim().parse().unwrap()
    };
    assert_eq!(value("producer_connections_max "), 100, "{metrics}");
    let budget = value("producer_connection_budget_bytes ");
    let kib = format!(
        "up to 100 connections, {} KiB each at most",
        budget.div_ceil(1024)
    );
    assert!(
        banner.contains(&kib),
        "{kib:?} is not in the banner: {banner}"
    );
}

/// `producer healthcheck --port PORT`, its exit code and the lines it printed on stderr.
fn healthcheck(port: u16) -> (Option<i32>, Vec<String>) {
    let output = Command::new(PRODUCER)
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code(),
        stderr.lines().map(String::from).collect(),
    )
}

#[test]
fn healthcheck_subcommand_reports_health() {
    let (_producer, address) = start_producer(&[]);
    assert_eq!(healthcheck(address.port()), (Some(0), vec![]));

    let (code, said) = healthcheck(free_port());
    assert_eq!(code, Some(1));
    assert_eq!(said.len(), 1, "one line: {said:?}");
    assert!(
        said[0].contains("/healthz: ") && said[0].contains("refused"),
        "{said:?}"
    );
}

/// Only a 200 whose body is {"status":"ok"} is healthy: not any 200, not a banner.
#[test]
fn healthcheck_is_not_fooled_by_other_answers() {
    let html = http_response("200 OK", "text/html", b"<html><h1>It works!</h1></html>");
    let draining = http_response(
        "503 Service Unavailable",
        JSON,
        b"{\"status\":\"draining\"}\n",
    );
    let not_ok = http_response("200 OK", JSON, b"{\"status\":\"draining\"}\n");
    let mut cut = http_response("200 OK", JSON, b"{\"status\":\"ok\"}\n");
    cut.truncate(cut.len() - 3);
    for (name, raw, says) in [
        ("a web server's page", html, "HTTP 200, but the body is not"),
        (
            "an SSH server",
            b"SSH-2.0-OpenSSH_9.2p1\r\n".to_vec(),
            "not an HTTP answer: SSH-2.0",
        ),
        (
            "a draining producer",
            draining,
            "HTTP 503: {\"status\":\"draining\"}",
        ),
        (
            "a 200 that is not ok",
            not_ok,
            "HTTP 200, but the body is not",
        ),
        ("an answer cut short", cut, "cut short"),
    ] {
        let address = fake_server(Some(raw));
        let (code, said) = healthcheck(address.port());
        assert_eq!(code, Some(1), "{name}: {said:?}");
        assert_eq!(said.len(), 1, "{name}: one line: {said:?}");
        assert!(said[0].contains(says), "{name}: {said:?}");
    }
    // The same good answer, all at once, passes: the fakes fail for what they say.
    let good = http_response("200 OK", JSON, b"{\"status\":\"ok\"}\n");
    assert_eq!(
        healthcheck(fake_server(Some(good)).port()),
        (Some(0), vec![])
    );
}

const JSON: &str = "application/json";

/// The check has one deadline (2 s), not one per read: a healthy answer sent a byte every 200 ms
/// takes 10 s, and is too late.
#[test]
fn healthcheck_has_one_deadline_for_the_whole_answer() {
    let good = http_response("200 OK", JSON, b"{\"status\":\"ok\"}\n");
    assert!(good.len() >= 50, "{} bytes", good.len());
    let address = dripping_server(good, Duration::from_millis(200));
    let started = std::time::Instant::now();
    let (code, said) = healthcheck(address.port());
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{said:?}");
    assert!(
        said.len() == 1 && said[0].contains("no whole answer within 2s"),
        "{said:?}"
    );
    assert!(took < Duration::from_secs(6), "it took {took:?}");
}

#[test]
fn bad_configuration_exits_2_with_one_line() {
    for args in [
        &["--port", "abc"][..],
        &["--min", "5", "--max", "1"],
        &["--frobnicate"],
    ] {
        assert_refuses_to_start(PRODUCER, args);
    }
}

#[test]
fn help_and_version() {
    assert_help_and_version(PRODUCER, "producer", "NUMBER_MAX");
}

#[test]
fn sigterm_and_sigint_exit_0_within_a_second() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let (mut producer, address) = start_producer(&[]);
        request(address, "GET", "/number");
        producer.signal(signal);
        let status = producer.exit_within(Duration::from_secs(1));
        assert_eq!(status.code(), Some(0));
    }
}

#[test]
fn shutdown_delay_keeps_serving_and_reports_draining() {
    let (mut producer, address) = start_producer(&["--shutdown-delay", "2s"]);
    let keep_alive = b"GET /number HTTP/1.1\r\nHost: x\r\n\r\n";
    let (reply, closed) = exchange(address, keep_alive, Duration::from_millis(500));
    assert!(!closed && !reply.contains("Connection: close"), "{reply}");
    producer.signal(libc::SIGTERM);
    producer.wait_for(STARTUP, |l| l.contains("draining"));
    let health = request(address, "GET", "/healthz");
    assert_eq!(health.status, 503);
    let (code, said) = healthcheck(address.port());
    assert_eq!(
        code,
        Some(1),
        "a draining producer is not healthy: {said:?}"
    );
    assert!(
        said[0].contains("HTTP 503: {\"status\":\"draining\"}"),
        "{said:?}"
    );
    // Answered, and the keep-alive connection closed, so that the client moves on to another
    // replica for its next request.
    let (reply, closed) = exchange(address, keep_alive, Duration::from_secs(5));
    assert_eq!(statuses(&reply), [200]);
    assert!(
        closed && reply.contains("\r\nConnection: close\r\n"),
        "{reply}"
    );
    assert_eq!(producer.exit_within(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn many_idle_connections_do_not_block_a_normal_request() {
    let room = raise_open_files_limit();
    let count = 2_000.min(room.saturating_sub(100) as usize);
    let (_producer, address) = start_producer(&[]);
    let idle: Vec<TcpStream> = (0..count)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    let reply = request(address, "GET", "/number");
    assert_eq!(
        reply.status, 200,
        "a normal request is answered with {count} idle connections open"
    );
    drop(idle);
}

// ---------------------------------------------------------------------------------------------
// The faults of a failure drill's "bad release" (FAULT_*), set as a student sets them: as
// variables, through `docker service update --env-add`.

/// `count` GETs of /number pipelined on one connection: the status of each answer, in order.
fn number_statuses(address: std::net::SocketAddr, count: usize) -> Vec<u16> {
    let mut raw = "GET /number HTTP/1.1\r\nHost: x\r\n\r\n".repeat(count - 1);
    raw += "GET /number HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (reply, closed) = exchange(address, raw.as_bytes(), Duration::from_secs(30));
    assert!(closed, "{count} requests not all answered");
    statuses(&reply)
}

/// The value of the sample `series` (`name{labels}`) in a /metrics text, if it is there.
fn sample_value(metrics: &str, series: &str) -> Option<u64> {
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&format!("{series} ")))?;
    line.rsplit(' ').next()?.parse().ok()
}

const NUMBER_200: &str = "producer_requests_total{path=\"/number\",status=\"200\"}";
const NUMBER_500: &str = "producer_requests_total{path=\"/number\",status=\"500\"}";

#[test]
fn fault_unhealthy_from_the_start_fails_the_healthcheck_and_still_serves_numbers() {
    let (producer, address) = start_producer_with(&[], &[("FAULT_UNHEALTHY_AFTER", "0s")]);
    let loud = "FAULTS ON: FAULT_UNHEALTHY_AFTER=0s";
    assert!(
        producer.seen.iter().any(|l| l.contains(loud)),
        "{:?}",
        producer.seen
    );
    let health = request(address, "GET", "/healthz");
    assert_eq!(
        (health.status, json(&health.body)),
        (
            503,
            serde_json::json!({"status": "unhealthy", "fault": "FAULT_UNHEALTHY_AFTER"})
        )
    );
    let (code, said) = healthcheck(address.port());
    assert_eq!(code, Some(1), "{said:?}");
    assert!(said.len() == 1 && said[0].contains("HTTP 503"), "{said:?}");
    // Sick, but serving: what the drill studies.
    let number = request(address, "GET", "/number");
    assert_eq!(number.status, 200);
    assert!(json(&number.body)["number"].is_i64(), "{}", number.body);
    let metrics = request(address, "GET", "/metrics").body;
    let healthz_503 = "producer_requests_total{path=\"/healthz\",status=\"503\"}";
    assert_eq!(sample_value(&metrics, healthz_503), Some(2), "{metrics}");
}

#[test]
fn fault_unhealthy_after_a_delay_is_healthy_until_then() {
    let after = Duration::from_secs(1);
    let spawned = Instant::now();
    let (_producer, address) = start_producer_with(&[], &[("FAULT_UNHEALTHY_AFTER", "1s")]);
    assert_eq!(request(address, "GET", "/healthz").status, 200);
    assert_eq!(healthcheck(address.port()).0, Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = request(address, "GET", "/healthz");
        if health.status == 503 {
            assert_eq!(json(&health.body)["fault"], "FAULT_UNHEALTHY_AFTER");
            break;
        }
        assert_eq!(health.status, 200, "{}", health.body);
        assert!(Instant::now() < deadline, "still healthy 10 s on");
        thread::sleep(Duration::from_millis(50)); // the poll's pace
    }
    let took = spawned.elapsed();
    assert!(took >= after, "unhealthy {took:?} after it was started");
    assert_eq!(healthcheck(address.port()).0, Some(1));
}

#[test]
fn fault_error_percent_100_fails_every_number_and_counts_it() {
    let (producer, address) = start_producer_with(&[], &[("FAULT_ERROR_PERCENT", "100")]);
    let loud = "FAULTS ON: FAULT_ERROR_PERCENT=100";
    assert!(producer.seen.iter().any(|l| l.contains(loud)));
    let failed = request(address, "GET", "/number");
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("Content-Type"), Some("application/json"));
    assert_eq!(
        json(&failed.body),
        serde_json::json!({"error": "injected fault", "setting": "FAULT_ERROR_PERCENT"})
    );
    assert!(number_statuses(address, 49).iter().all(|&s| s == 500));
    // Health and metrics stay truthful.
    assert_eq!(request(address, "GET", "/healthz").status, 200);
    let metrics = request(address, "GET", "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(sample_value(&metrics.body, NUMBER_500), Some(50));
    assert_eq!(sample_value(&metrics.body, NUMBER_200), Some(0));
    assert!(metrics.body.contains("producer_number_count 0\n"));
    promtool_check_metrics(&metrics.body);
}

#[test]
fn fault_error_percent_0_and_50_fail_none_and_about_half() {
    let (_producer, address) = start_producer_with(&[], &[("FAULT_ERROR_PERCENT", "0")]);
    let statuses = number_statuses(address, 200);
    assert_eq!(
        (
            statuses.len(),
            statuses.iter().filter(|&&s| s == 200).count()
        ),
        (200, 200)
    );

    let (_producer, address) = start_producer_with(&[], &[("FAULT_ERROR_PERCENT", "50")]);
    let statuses = number_statuses(address, 400);
    assert_eq!(statuses.len(), 400);
    let failed = statuses.iter().filter(|&&s| s == 500).count();
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 500),
        "{statuses:?}"
    );
    // 10 standard deviations either side: a fair draw never falls outside.
    assert!((100..=300).contains(&failed), "{failed} of 400 failed");
    let metrics = request(address, "GET", "/metrics").body;
    assert_eq!(sample_value(&metrics, NUMBER_500), Some(failed as u64));
    assert_eq!(
        sample_value(&metrics, NUMBER_200),
        Some(400 - failed as u64)
    );
}

#[test]
fn fault_latency_delays_each_number_answer() {
    let latency = Duration::from_millis(300);
    let (producer, address) = start_producer_with(&[], &[("FAULT_LATENCY", "300ms")]);
    assert!(producer
        .seen
        .iter()
        .any(|l| l.contains("FAULTS ON: FAULT_LATENCY=300ms")));
    for method in ["GET", "HEAD", "GET"] {
        let asked = Instant::now();
        let reply = request(address, method, "/number");
        let took = asked.elapsed();
        assert_eq!(reply.status, 200);
        assert!(took >= latency, "{method} /number answered in {took:?}");
    }
    // Pipelined, each is held from when it is read, after the answer before it.
    let asked = Instant::now();
    assert_eq!(number_statuses(address, 3), [200, 200, 200]);
    let took = asked.elapsed();
    assert!(took >= 3 * latency, "3 pipelined answered in {took:?}");
    // The histogram shows the latency as clients see it: each of the 6 between 0.1 and 0.5 s.
    let metrics = request(address, "GET", "/metrics").body;
    let bucket =
        |le| format!("producer_request_duration_seconds_bucket{{path=\"/number\",le=\"{le}\"}}");
    assert_eq!(sample_value(&metrics, &bucket("0.1")), Some(0), "{metrics}");
    assert_eq!(sample_value(&metrics, &bucket("0.5")), Some(6), "{metrics}");
}

/// The latency is held by the engine, not slept on a worker: while every worker holds a delayed
/// /number, /healthz on another connection is answered before any of them.
#[test]
fn fault_latency_holds_no_worker() {
    let latency = Duration::from_secs(1);
    let (_producer, address) = start_producer_with(&[], &[("FAULT_LATENCY", "1s")]);
    // The producer has a worker per core and hands new connections to each in turn: twice as
    // many delayed requests give each worker some.
    let count = 2 * thread::available_parallelism().map_or(1, |n| n.get());
    let waiting: Vec<(TcpStream, Instant)> = (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            let asked = Instant::now();
            stream
                .write_all(b"GET /number HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            (stream, asked)
        })
        .collect();
    // Counted when made: then every worker holds its answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = request(address, "GET", "/metrics").body;
        if sample_value(&metrics, NUMBER_200) == Some(count as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{count} /number not made: {metrics}"
        );
        thread::sleep(Duration::from_millis(10)); // the poll's pace
    }

    let health = request(address, "GET", "/healthz");
    assert_eq!(health.status, 200);
    for (stream, _) in &waiting {
        stream.set_nonblocking(true).unwrap();
        let early = (&*stream).read(&mut [0u8; 1]);
        assert!(
            matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a delayed /number was answered before /healthz on another connection: {early:?}"
        );
    }
    for (mut stream, asked) in waiting {
        stream.set_nonblocking(false).unwrap();
        let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
        let took = asked.elapsed();
        assert!(closed && statuses(&reply) == [200], "{reply}");
        assert!(took >= latency, "answered in {took:?}");
    }
}

#[test]
fn a_malformed_fault_setting_exits_2_with_one_line() {
    for (name, value) in [
        ("FAULT_UNHEALTHY_AFTER", "soon"),
        ("FAULT_ERROR_PERCENT", "150"),
        ("FAULT_ERROR_PERCENT", "half"),
        ("FAULT_LATENCY", "2h"),
    ] {
        let mut command = Command::new(PRODUCER);
        command.env(name, value);
        let stderr = assert_refuses(&mut command, &format!("{name}={value}"));
        assert!(stderr.contains(&format!("{name} '{value}'")), "{stderr}");
    }
}
