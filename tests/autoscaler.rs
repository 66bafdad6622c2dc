//! The autoscaler against a fake Prometheus (loopback TCP) and a fake Docker Engine API (a Unix
//! socket, or TCP), both of which record every request. The real swarm test is
//! scripts/test-autoscale.sh; here we pin down each rule of the issue in about a second each.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const AUTOSCALER: &str = env!("CARGO_BIN_EXE_autoscaler");
const TARGET: &str = "fogdeft.autoscale.target-rps";

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server that hands each request to a function and keeps a log of them.

#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// Path and query, percent-decoded.
    target: String,
    body: String,
}

type Handler = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Request>>>);

impl Log {
    fn all(&self) -> Vec<Request> {
        self.0.lock().unwrap().clone()
    }
    fn updates(&self) -> Vec<Request> {
        let all = self.all().into_iter();
        all.filter(|r| r.method == "POST").collect()
    }
}

fn serve(stream: impl Read + Write, handler: &Handler, log: &Log) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut words = head.split_whitespace();
    let request = Request {
        method: words.next().unwrap_or_default().into(),
        target: percent_decode(words.next().unwrap_or_default()),
        body: String::from_utf8_lossy(&body).into(),
    };
    log.0.lock().unwrap().push(request.clone());
    let (status, body) = handler(&request);
    // A redirect points somewhere: a client that follows it shows up in the log.
    let location = if (300..400).contains(&status) {
        "Location: /redirected\r\n"
    } else {
        ""
    };
    let answer = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = reader.get_mut().write_all(answer.as_bytes());
}

fn percent_decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into()
}

fn spawn_tcp(handler: Handler) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let log = Log::default();
    let server_log = log.clone();
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            serve(stream, &handler, &server_log);
        }
    });
    (address, log)
}

/// A socket file, removed when the test ends.
struct Socket(PathBuf);

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A new socket path in the temporary folder.
fn socket_path() -> Socket {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "fogdeft-autoscaler-{}-{n}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    Socket(path)
}

fn spawn_unix(handler: Handler) -> (Socket, Log) {
    let socket = socket_path();
    let listener = UnixListener::bind(&socket.0).unwrap();
    let log = Log::default();
    let server_log = log.clone();
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            serve(stream, &handler, &server_log);
        }
    });
    (socket, log)
}

// ---------------------------------------------------------------------------------------------
// The fakes: a Prometheus whose answer the test sets, and a Docker with services.

/// Answers the rate query with `answer`, and the query that counts the replicas scraped for the
/// whole window with `covered`.
fn prometheus(
    answer: &Arc<Mutex<(u16, String)>>,
    covered: &Arc<Mutex<(u16, String)>>,
) -> (String, Log) {
    let (answer, covered) = (Arc::clone(answer), Arc::clone(covered));
    let (address, log) = spawn_tcp(Arc::new(move |request| {
        let which = if request.target.contains("query=count(up{") {
            &covered
        } else {
            &answer
        };
        which.lock().unwrap().clone()
    }));
    (format!("http://{address}"), log)
}

fn rate(value: &str) -> (u16, String) {
    let body = json!({"status": "success", "data": {"resultType": "vector",
        "result": [{"metric": {}, "value": [1700000000.0, value]}]}});
    (200, body.to_string())
}

fn service(id: &str, name: &str, replicas: u64, labels: Value) -> Value {
    json!({"ID": id, "Version": {"Index": 10},
        "Spec": {"Name": name, "Labels": labels, "Mode": {"Replicated": {"Replicas": replicas}},
                 "TaskTemplate": {"ContainerSpec": {"Image": format!("fogdeft/{id}:latest")}}}})
}

/// The stack of the README: a producer that opts in, and a consumer that does not.
fn stack(producer_replicas: u64, producer_labels: Value) -> Vec<Value> {
    vec![
        service(
            "producer-id",
            "fogdeft_producer",
            producer_replicas,
            producer_labels,
        ),
        service(
            "consumer-id",
            "fogdeft_consumer",
            1,
            json!({"com.docker.stack.namespace": "fogdeft"}),
        ),
    ]
}

fn labels(target: &str) -> Value {
    json!({"com.docker.stack.namespace": "fogdeft", TARGET: target,
           "fogdeft.autoscale.min": "1", "fogdeft.autoscale.max": "5"})
}

/// Answers like Docker: every service (ignoring the filter, so that the autoscaler's own check
/// is what keeps the others safe), and updates only at the current version.
struct FakeDocker {
    services: Mutex<Vec<Value>>,
    /// When set, every update fails with this status and message.
    failure: Mutex<Option<(u16, String)>>,
}

impl FakeDocker {
    fn new(services: Vec<Value>) -> Arc<FakeDocker> {
        Arc::new(FakeDocker {
            services: Mutex::new(services),
            failure: Mutex::new(None),
        })
    }

    fn handler(self: &Arc<Self>) -> Handler {
        let docker = Arc::clone(self);
        Arc::new(move |request| docker.answer(request))
    }

    fn answer(&self, request: &Request) -> (u16, String) {
        let mut services = self.services.lock().unwrap();
        match (
            request.method.as_str(),
            request.target.split('?').next().unwrap(),
        ) {
            ("GET", "/_ping") => (200, "OK".into()),
            ("GET", "/v1.41/services") => (200, Value::from(services.clone()).to_string()),
            ("POST", path) if path.ends_with("/update") => {
                if let Some((status, message)) = self.failure.lock().unwrap().clone() {
                    return (status, json!({ "message": message }).to_string());
                }
                let id = path
                    .trim_start_matches("/v1.41/services/")
                    .trim_end_matches("/update");
                let Some(service) = services.iter_mut().find(|s| s["ID"] == id) else {
                    return (
                        404,
                        json!({"message": format!("service {id} not found")}).to_string(),
                    );
                };
                let version = service["Version"]["Index"].as_u64().unwrap();
                if !request.target.ends_with(&format!("?version={version}")) {
                    return (
                        500,
                        json!({"message": "update out of sequence"}).to_string(),
                    );
                }
                service["Spec"] = serde_json::from_str(&request.body).unwrap();
                service["Version"]["Index"] = (version + 1).into();
                (200, json!({"Warnings": null}).to_string())
            }
            _ => (404, json!({"message": "page not found"}).to_string()),
        }
    }

    fn replicas(&self, id: &str) -> u64 {
        let services = self.services.lock().unwrap();
        let service = services.iter().find(|s| s["ID"] == id).unwrap();
        service["Spec"]["Mode"]["Replicated"]["Replicas"]
            .as_u64()
            .unwrap()
    }
}

/// Starts the autoscaler with short intervals against the two fakes.
fn start_autoscaler(prometheus: &str, docker_host: &str, extra: &[&str]) -> Running {
    let mut args = vec![
        "--prometheus",
        prometheus,
        "--docker-host",
        docker_host,
        "--interval",
        "100ms",
        "--stabilization-window",
        "1s",
        "--timeout",
        "2s",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ];
    args.extend_from_slice(extra);
    Running::start(AUTOSCALER, &args)
}

fn unix(socket: &Socket) -> String {
    format!("unix://{}", socket.0.display())
}

/// The two fakes of a test: a Prometheus that gives `answer`, and a Docker with services on a
/// Unix socket, each logging what it was asked.
struct Fakes {
    answer: Arc<Mutex<(u16, String)>>,
    /// How many replicas were scraped for the whole rate window: all of them, unless set.
    covered: Arc<Mutex<(u16, String)>>,
    prometheus: String,
    queries: Log,
    docker: Arc<FakeDocker>,
    socket: Socket,
    requests: Log,
}

impl Fakes {
    fn new(answer: (u16, String), services: Vec<Value>) -> Fakes {
        let answer = Arc::new(Mutex::new(answer));
        let covered = Arc::new(Mutex::new(rate("1000")));
        let (prometheus, queries) = prometheus(&answer, &covered);
        let docker = FakeDocker::new(services);
        let (socket, requests) = spawn_unix(docker.handler());
        Fakes {
            answer,
            covered,
            prometheus,
            queries,
            docker,
            socket,
            requests,
        }
    }

    /// Starts the autoscaler against these fakes.
    fn autoscaler(&self, extra: &[&str]) -> Running {
        start_autoscaler(&self.prometheus, &unix(&self.socket), extra)
    }
}

const WAIT: Duration = Duration::from_secs(10);

fn producer_line(want: &'static str) -> impl Fn(&str) -> bool {
    move |line| line.starts_with("fogdeft_producer: ") && line.contains(want)
}

// ---------------------------------------------------------------------------------------------

#[test]
fn scales_up_at_once_through_the_docker_socket() {
    let fakes = Fakes::new(rate("150"), stack(1, labels("50")));
    let (docker, requests, queries) = (&fakes.docker, &fakes.requests, &fakes.queries);
    let mut autoscaler = fakes.autoscaler(&[]);

    let line = autoscaler.wait_for(WAIT, producer_line("scale up"));
    assert_eq!(
        line,
        "fogdeft_producer: 150 req/s on 1 replica (150 each, target 50): scale up 1 -> 3"
    );
    assert_eq!(docker.replicas("producer-id"), 3);
    autoscaler.wait_for(
        WAIT,
        producer_line("on 3 replicas (50 each, target 50): keep 3"),
    );

    // The update carried the version it was read at, and the spec with only the count changed.
    let update = &requests.updates()[0];
    assert_eq!(
        update.target,
        "/v1.41/services/producer-id/update?version=10"
    );
    let spec: Value = serde_json::from_str(&update.body).unwrap();
    assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 3);
    assert_eq!(
        spec["TaskTemplate"]["ContainerSpec"]["Image"],
        "fogdeft/producer-id:latest"
    );
    assert_eq!(spec["Labels"][TARGET], "50");

    // It asked Docker for the labelled services only, and Prometheus for this service's job.
    let all = requests.all();
    let list = all
        .iter()
        .rfind(|r| r.target.contains("/services?"))
        .unwrap();
    assert_eq!(
        list.target,
        format!("/v1.41/services?filters={{\"label\":[\"{TARGET}\"]}}")
    );
    let query = queries.all()[0].target.clone();
    let expected = "sum(rate(producer_requests_total{job=\"producer\",path=\"/number\"}[1m]))";
    assert_eq!(query, format!("/api/v1/query?query={expected}"));

    // A service without the labels is never touched, even when Docker lists it.
    assert!(requests
        .all()
        .iter()
        .all(|r| !r.target.contains("consumer-id")));
    assert!(autoscaler
        .drain(Duration::ZERO)
        .iter()
        .all(|l| !l.contains("consumer")));
    assert_eq!(docker.replicas("consumer-id"), 1);
}

#[test]
fn scales_down_only_after_the_stabilization_window() {
    let fakes = Fakes::new(rate("0"), stack(4, labels("50")));
    let started = Instant::now();
    let mut autoscaler = fakes.autoscaler(&[]);

    let held = autoscaler.wait_for(WAIT, producer_line("keep 4"));
    assert!(
        held.contains("keep 4, wants 1: scales down once the rate has stayed low for 1s"),
        "{held}"
    );
    let line = autoscaler.wait_for(WAIT, producer_line("scale down"));
    assert!(line.ends_with(": 0 req/s on 4 replicas (0 each, target 50): scale down 4 -> 1"));
    // Not before the window: 1 s from the first reading on.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fakes.requests.updates().len(), 1);
    assert_eq!(fakes.docker.replicas("producer-id"), 1);
}

#[test]
fn never_scales_on_missing_data() {
    let fakes = Fakes::new(rate("1000"), stack(2, labels("50")));
    let prometheus_down = format!("http://127.0.0.1:{}", free_port());

    // Prometheus is down.
    let mut down = start_autoscaler(&prometheus_down, &unix(&fakes.socket), &[]);
    let line = down.wait_for(WAIT, producer_line("no change"));
    assert_eq!(
        line,
        format!("fogdeft_producer: no change (2 replicas): cannot reach Prometheus at {prometheus_down}: connection refused: is it running and listening there?")
    );
    drop(down);

    // Prometheus answers, but without a usable number: each gives one line and no change. Only a
    // 200 with one well-formed sample is a measurement, whatever the body says.
    let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
    *fakes.answer.lock().unwrap() = (200, empty.to_string());
    let mut autoscaler = fakes.autoscaler(&[]);
    let sample = |value: Value| {
        let body = json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": value}]}});
        body.to_string()
    };
    let two = json!({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": "a"}, "value": [1700000000.0, "600"]},
        {"metric": {"instance": "b"}, "value": [1700000000.0, "600"]}]}});
    let bad_query =
        json!({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"});
    for (status, body, says) in [
        (
            200,
            empty.to_string(),
            "Prometheus has no samples for sum(rate(",
        ),
        (
            400,
            bad_query.to_string(),
            "Prometheus answered HTTP 400: parse error at char 5",
        ),
        (
            200,
            rate("NaN").1,
            "must give one number, but gave the value 'NaN'",
        ),
        (
            502,
            "<html>Bad Gateway</html>".into(),
            "HTTP 502, and the answer is not JSON",
        ),
        (
            500,
            rate("1000").1,
            "Prometheus answered HTTP 500: a success body with an error status is not a measurement (Prometheus is failing: no data this round)",
        ),
        (
            503,
            rate("1000").1,
            "Prometheus answered HTTP 503: a success body with an error status is not a measurement",
        ),
        (302, rate("1000").1, "Prometheus answered HTTP 302"),
        (200, two.to_string(), "but gave 2 series (wrap the query in sum(...))"),
        (200, sample(json!([1700000000.0, 1000])), "but gave the sample [1700000000.0,1000]"),
        (200, sample(json!([1700000000.0, "Inf"])), "but gave the value 'Inf'"),
    ] {
        *fakes.answer.lock().unwrap() = (status, body);
        let line = autoscaler.wait_for(WAIT, |l| l.contains(says));
        assert!(
            line.starts_with("fogdeft_producer: no change (2 replicas): "),
            "{line}"
        );
    }
    let updates = fakes.requests.updates();
    assert!(updates.is_empty(), "{updates:?}");

    // Docker is down: one line per round, nothing else.
    drop(autoscaler);
    let gone = Socket(std::env::temp_dir().join("fogdeft-autoscaler-no-such.sock"));
    let mut autoscaler = start_autoscaler(&fakes.prometheus, &unix(&gone), &[]);
    let line = autoscaler.wait_for(WAIT, |l| l.starts_with("no change: "));
    assert!(
        line.contains("no socket there: is Docker running?"),
        "{line}"
    );
    assert_eq!(fakes.docker.replicas("producer-id"), 2);
}

#[test]
fn a_failed_update_changes_nothing_and_is_tried_again() {
    let fakes = Fakes::new(rate("150"), stack(1, labels("50")));
    let (docker, requests) = (&fakes.docker, &fakes.requests);
    *docker.failure.lock().unwrap() = Some((500, "rpc error: update out of sequence".into()));
    let mut autoscaler = fakes.autoscaler(&[]);

    let line = autoscaler.wait_for(WAIT, producer_line("failed"));
    assert!(line.ends_with("scale up 1 -> 3 failed, no change: the Docker API answered HTTP 500: cannot update the service: rpc error: update out of sequence"), "{line}");
    autoscaler.wait_for(WAIT, producer_line("failed"));
    *docker.failure.lock().unwrap() = None;
    autoscaler.wait_for(WAIT, producer_line("scale up 1 -> 3"));
    assert!(requests.updates().len() >= 3);
    assert_eq!(docker.replicas("producer-id"), 3);
}

#[test]
fn dry_run_logs_and_changes_nothing() {
    let fakes = Fakes::new(rate("400"), stack(1, labels("50")));
    let mut autoscaler = fakes.autoscaler(&["--dry-run"]);

    autoscaler.wait_for(WAIT, |l| l.contains("(dry run: no changes)"));
    let line = autoscaler.wait_for(WAIT, producer_line("would"));
    assert!(line.ends_with("would scale up 1 -> 5 (dry run)"), "{line}");
    autoscaler.wait_for(WAIT, producer_line("would scale up 1 -> 5"));
    assert!(fakes.requests.updates().is_empty());
}

#[test]
fn speaks_to_docker_over_tcp_too() {
    let fakes = Fakes::new(rate("75"), stack(1, labels("50")));
    let (address, _) = spawn_tcp(fakes.docker.handler());
    let mut autoscaler = start_autoscaler(&fakes.prometheus, &format!("tcp://{address}"), &[]);
    autoscaler.wait_for(WAIT, producer_line("scale up 1 -> 2"));
    assert_eq!(fakes.docker.replicas("producer-id"), 2);
}

#[test]
fn bad_labels_and_unscalable_services_get_one_line_each() {
    let mut global = service("agent-id", "fogdeft_agent", 0, json!({TARGET: "50"}));
    global["Spec"]["Mode"] = json!({"Global": {}});
    let services = vec![
        service("a-id", "fogdeft_a", 1, json!({TARGET: "fast"})),
        service(
            "b-id",
            "fogdeft_b",
            1,
            json!({TARGET: "50", "fogdeft.autoscale.min": "4", "fogdeft.autoscale.max": "2"}),
        ),
        service("c-id", "fogdeft_c", 0, json!({TARGET: "50"})),
        global,
    ];
    let fakes = Fakes::new(rate("150"), services);
    let mut autoscaler = fakes.autoscaler(&[]);

    let mut lines = HashMap::new();
    while lines.len() < 4 {
        let line = autoscaler.wait_for(WAIT, |l| l.starts_with("fogdeft_"));
        let (name, said) = line.split_once(": ").unwrap();
        lines.insert(name.to_string(), said.to_string());
    }
    assert_eq!(
        lines["fogdeft_a"],
        format!("not scaled: label {TARGET}='fast' is not a number above 0")
    );
    assert_eq!(
        lines["fogdeft_b"],
        "not scaled: label fogdeft.autoscale.min=4 is larger than fogdeft.autoscale.max=2"
    );
    assert_eq!(
        lines["fogdeft_c"],
        "not scaled: it has 0 replicas (scale it to 1 or more to resume)"
    );
    assert_eq!(
        lines["fogdeft_agent"],
        "not scaled: a global service has no replica count"
    );
    assert!(fakes.requests.updates().is_empty());
}

#[test]
fn bad_configuration_exits_2_with_one_line() {
    for args in [
        &["--interval", "soon"][..],
        &["--docker-host", "ssh://pi@manager"],
        &["--bogus"],
        // Ports are checked, never replaced by a default.
        &["--docker-host", "tcp://127.0.0.1:99999"],
        &["--docker-host", "tcp://127.0.0.1:abc"],
        &["--docker-host", "tcp://127.0.0.1:0"],
        &["--prometheus", "http://127.0.0.1:99999"],
        &["--prometheus", "http://127.0.0.1:abc"],
        &["--port", "99999"],
    ] {
        let stderr = assert_refuses_to_start(AUTOSCALER, args);
        assert!(stderr.starts_with("autoscaler: "), "{stderr}");
    }
    assert_help_and_version(AUTOSCALER, "autoscaler", "fogdeft.autoscale.target-rps");
}

#[test]
fn sigterm_stops_it_at_once() {
    let fakes = Fakes::new(rate("0"), stack(1, labels("50")));
    let mut autoscaler = fakes.autoscaler(&["--interval", "1m"]);
    autoscaler.wait_for(WAIT, producer_line("keep 1"));
    // Now it sleeps for a minute; SIGTERM must not wait for that.
    autoscaler.signal(libc::SIGTERM);
    let status = autoscaler.exit_within(Duration::from_secs(1));
    assert_eq!(status.code(), Some(0));
    assert!(autoscaler
        .drain(Duration::ZERO)
        .iter()
        .any(|l| l == "autoscaler: SIGTERM: stopping"));
}

#[test]
fn a_redirected_update_is_no_change_and_is_not_followed() {
    let fakes = Fakes::new(rate("150"), stack(1, labels("50")));
    for status in [301, 307, 308] {
        *fakes.docker.failure.lock().unwrap() = Some((status, "moved".into()));
        let mut autoscaler = fakes.autoscaler(&[]);
        let line = autoscaler.wait_for(WAIT, producer_line("failed"));
        let expected = format!("scale up 1 -> 3 failed, no change: the Docker API answered HTTP {status}: cannot update the service: moved (a redirect: nothing was changed, and we follow none; point --docker-host/DOCKER_HOST at the daemon itself)");
        assert!(line.ends_with(&expected), "{line}");
    }
    let all = fakes.requests.all();
    assert!(
        all.iter().all(|r| !r.target.contains("redirected")),
        "{all:?}"
    );
    assert_eq!(fakes.docker.replicas("producer-id"), 1);
}

#[test]
fn impossible_replica_counts_are_refused_with_the_service_named() {
    let with_mode = |id: &str, mode: Value| {
        let mut s = service(id, &format!("fogdeft_{id}"), 1, json!({TARGET: "50"}));
        s["Spec"]["Mode"] = mode;
        s
    };
    let huge: Value =
        serde_json::from_str(r#"{"Replicated": {"Replicas": 18446744073709551616}}"#).unwrap();
    let services = vec![
        with_mode("big", json!({"Replicated": {"Replicas": 1u64 << 63}})),
        with_mode("huge", huge),
        with_mode("negative", json!({"Replicated": {"Replicas": -1}})),
        with_mode("text", json!({"Replicated": {"Replicas": "3"}})),
        with_mode("job", json!({"ReplicatedJob": {"MaxConcurrent": 1}})),
        with_mode("global", json!({"Global": {}})),
        json!("junk"),
        json!({"ID": "noname", "Version": {"Index": 1}, "Spec": {"Labels": {TARGET: "50"}}}),
    ];
    let fakes = Fakes::new(rate("150"), services);
    let mut autoscaler = fakes.autoscaler(&[]);

    let mut lines = HashMap::new();
    let mut skipped = Vec::new();
    while lines.len() < 6 || skipped.len() < 2 {
        let line = autoscaler.wait_for(WAIT, |l| {
            l.starts_with("fogdeft_") || l.starts_with("skipped")
        });
        match line.split_once(": not scaled: ") {
            Some((name, said)) => {
                lines.insert(name.to_string(), said.to_string());
            }
            None if !skipped.contains(&line) => skipped.push(line),
            None => {}
        }
    }
    assert_eq!(lines["fogdeft_big"], "Docker reports 9223372036854775808 replicas, more than --max-replicas (1000): refused as a fault");
    assert_eq!(lines["fogdeft_huge"], "Docker reports a replica count that is not a whole number in range (1.8446744073709552e+19)");
    assert_eq!(
        lines["fogdeft_negative"],
        "Docker reports a negative replica count (-1)"
    );
    assert_eq!(
        lines["fogdeft_text"],
        "Docker reports the replica count \"3\", which is not a number"
    );
    assert_eq!(
        lines["fogdeft_job"],
        "a replicated job runs to completion: it has no replica count to scale"
    );
    assert_eq!(
        lines["fogdeft_global"],
        "a global service has no replica count"
    );
    skipped.sort();
    assert_eq!(
        skipped,
        [
            "skipped an entry of Docker's service list (ID '', name ''): it has no valid ID",
            "skipped an entry of Docker's service list (ID 'noname', name ''): it has no name",
        ]
    );
    assert!(fakes.requests.updates().is_empty());
}

#[test]
fn names_and_labels_cannot_forge_a_log_line() {
    let forged = "fogdeft_producer: 150 req/s on 1 replica (150 each, target 50): scale up 1 -> 10";
    let services = vec![
        service(
            "evil-id",
            &format!("fogdeft_evil\n{forged}"),
            0,
            json!({TARGET: "50"}),
        ),
        service(
            "label-id",
            "fogdeft_label",
            1,
            json!({TARGET: format!("50\n{forged}")}),
        ),
    ];
    let fakes = Fakes::new(rate("150"), services);
    let mut autoscaler = fakes.autoscaler(&[]);

    let evil = autoscaler.wait_for(WAIT, |l| l.starts_with("fogdeft_evil"));
    assert_eq!(
        evil,
        format!("fogdeft_evil\\n{forged}: not scaled: it has 0 replicas (scale it to 1 or more to resume)")
    );
    let label = autoscaler.wait_for(WAIT, |l| l.starts_with("fogdeft_label: "));
    assert_eq!(
        label,
        format!(
            "fogdeft_label: not scaled: label {TARGET}='50\\n{forged}' is not a number above 0"
        )
    );
    let lines = autoscaler.drain(Duration::ZERO);
    assert!(
        lines.iter().all(|l| !l.starts_with("fogdeft_producer")),
        "{lines:#?}"
    );
}

#[test]
fn above_max_goes_to_max_at_once_and_below_min_to_min() {
    // A long window, which neither may wait for.
    let low = json!({TARGET: "50", "fogdeft.autoscale.min": "3", "fogdeft.autoscale.max": "5"});
    let services = vec![
        service("producer-id", "fogdeft_producer", 8, labels("50")),
        service("low-id", "fogdeft_low", 1, low),
    ];
    let fakes = Fakes::new(rate("0"), services);
    let mut autoscaler = fakes.autoscaler(&["--stabilization-window", "10m"]);

    let line = autoscaler.wait_for(WAIT, producer_line("scale down"));
    assert_eq!(
        line,
        "fogdeft_producer: 8 replicas: scale down 8 -> 5: its max is 5"
    );
    let line = autoscaler.wait_for(WAIT, |l| l.starts_with("fogdeft_low: "));
    assert_eq!(
        line,
        "fogdeft_low: 1 replica: scale up 1 -> 3: its min is 3"
    );
    assert_eq!(fakes.docker.replicas("producer-id"), 5);
    assert_eq!(fakes.docker.replicas("low-id"), 3);
}

#[test]
fn a_jump_in_load_is_met_in_the_steps_the_policy_allows() {
    let mut policy = labels("50");
    policy["fogdeft.autoscale.scale-up.policies"] = "1 pod per 1s".into();
    // 250 req/s wants 5 replicas at once; the policy allows one more a second.
    let fakes = Fakes::new(rate("250"), stack(1, policy));
    let mut autoscaler = fakes.autoscaler(&[]);

    let first = autoscaler.wait_for(WAIT, producer_line("scale up"));
    assert_eq!(first, "fogdeft_producer: 250 req/s on 1 replica (250 each, target 50): scale up 1 -> 2, wants 5: the scale-up policy allows no more now (1 pod per 1s)");
    // Rounds every 100 ms: the next ones keep 2 until the second has passed.
    autoscaler.wait_for(
        WAIT,
        producer_line("keep 2, wants 5: the scale-up policy allows no more now (1 pod per 1s)"),
    );
    assert_eq!(fakes.requests.updates().len(), 1);
    autoscaler.wait_for(WAIT, producer_line("scale up 4 -> 5"));
    let steps: Vec<u64> = fakes
        .requests
        .updates()
        .iter()
        .map(|u| {
            serde_json::from_str::<Value>(&u.body).unwrap()["Mode"]["Replicated"]["Replicas"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [2, 3, 4, 5]);
}

#[test]
fn no_scale_down_unless_every_replica_was_scraped_for_the_whole_window() {
    let fakes = Fakes::new(rate("0"), stack(4, labels("50")));
    *fakes.covered.lock().unwrap() = rate("2");
    let args = ["--stabilization-window", "0s", "--rate-window", "20s"];
    let mut autoscaler = fakes.autoscaler(&args);

    let line = autoscaler.wait_for(WAIT, producer_line("holding"));
    assert_eq!(line, "fogdeft_producer: 0 req/s on 4 replicas (0 each, target 50): keep 4, wants 1: holding: only 2 of 4 replicas were scraped for the whole 20s rate window");
    let queries = fakes.queries.all();
    let up = queries
        .iter()
        .find(|r| r.target.contains("count(up"))
        .unwrap();
    let job = "up{job=\"producer\"}";
    assert_eq!(
        up.target,
        format!("/api/v1/query?query=count({job} == 1 and min_over_time({job}[20s]) == 1 and {job} offset 20s)")
    );
    assert!(
        queries.iter().any(|r| r.target.contains("[20s]))")),
        "--rate-window is the rate's window too"
    );
    // A fresh Prometheus has scraped none for the window yet: an empty answer is 0.
    let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
    *fakes.covered.lock().unwrap() = (200, empty.to_string());
    autoscaler.wait_for(WAIT, producer_line("only 0 of 4 replicas"));
    // Prometheus fails on this query: that too is holding.
    *fakes.covered.lock().unwrap() = (503, rate("4").1);
    autoscaler.wait_for(
        WAIT,
        producer_line("holding: cannot tell whether every replica was scraped"),
    );
    assert!(fakes.requests.updates().is_empty());

    *fakes.covered.lock().unwrap() = rate("4");
    autoscaler.wait_for(WAIT, producer_line("scale down 4 -> 1"));
    assert_eq!(fakes.docker.replicas("producer-id"), 1);
}

/// The address of its /metrics and /healthz, from its first line.
fn metrics_address(autoscaler: &mut Running) -> std::net::SocketAddr {
    let banner = autoscaler.wait_for(WAIT, |l| l.contains("metrics at http://"));
    banner
        .split("metrics at http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn serves_its_own_metrics_and_health() {
    let fakes = Fakes::new(rate("150"), stack(1, labels("50")));
    let mut autoscaler = fakes.autoscaler(&[]);
    let address = metrics_address(&mut autoscaler);
    autoscaler.wait_for(WAIT, producer_line("keep 3"));

    let metrics = request(address, "GET", "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "autoscaler_current_replicas{service=\"fogdeft_producer\"} 3",
        "autoscaler_desired_replicas{service=\"fogdeft_producer\"} 3",
        "autoscaler_decisions_total{service=\"fogdeft_producer\",outcome=\"scale_up\",reason=\"target\"} 1",
        "autoscaler_errors_total{peer=\"docker\"} 0",
        "autoscaler_errors_total{peer=\"prometheus\"} 0",
    ] {
        assert!(metrics.body.lines().any(|l| l == line), "{line} in\n{}", metrics.body);
    }
    let keeps = metrics
        .body
        .lines()
        .find(|l| l.starts_with("autoscaler_decisions_total{service=\"fogdeft_producer\",outcome=\"keep\",reason=\"target\"} "));
    assert!(keeps.is_some(), "{}", metrics.body);
    promtool_check_metrics(&metrics.body);

    let health = request(address, "GET", "/healthz");
    let ok = "{\"status\":\"ok\"}\n";
    assert_eq!((health.status, health.body.as_str()), (200, ok));
    let missing = request(address, "GET", "/");
    assert_eq!(missing.status, 404);
    // Each answer is of its moment: no cache may keep it.
    for reply in [&metrics, &health, &missing] {
        assert_eq!(reply.header("Cache-Control"), Some("no-store"));
    }
}

/// `autoscaler healthcheck --port PORT`: its exit code and its lines on stderr.
fn healthcheck(port: u16) -> (Option<i32>, Vec<String>) {
    let output = std::process::Command::new(AUTOSCALER)
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code(),
        stderr.lines().map(String::from).collect(),
    )
}

/// Docker's HEALTHCHECK runs `autoscaler healthcheck`, which asks /healthz as the producer's
/// does (the same code): healthy while the loop ends its rounds, not once /healthz says 503.
#[test]
fn its_healthcheck_acts_on_its_healthz() {
    let fakes = Fakes::new(rate("150"), stack(1, labels("50")));
    let mut autoscaler = fakes.autoscaler(&[]);
    let address = metrics_address(&mut autoscaler);
    assert_eq!(healthcheck(address.port()), (Some(0), vec![]));

    let body = b"{\"status\":\"stuck\",\"why\":\"no round has ended for 61 s\"}\n";
    let stuck = fake_server(Some(http_response(
        "503 Service Unavailable",
        "application/json",
        body,
    )));
    let (code, said) = healthcheck(stuck.port());
    assert_eq!(code, Some(1), "{said:?}");
    assert_eq!(said.len(), 1, "one line: {said:?}");
    assert!(
        said[0].starts_with("autoscaler healthcheck: http://127.0.0.1:"),
        "{said:?}"
    );
    assert!(
        said[0].contains("HTTP 503: {\"status\":\"stuck\""),
        "{said:?}"
    );
}

/// Connects to the Unix socket `path` until its listener's queue is full, which a non-blocking
/// connect learns as EAGAIN, and returns the connections queued. Linux only: there a blocking
/// connect to a full queue waits; on macOS it is refused at once, so nothing can hang.
#[cfg(target_os = "linux")]
fn fill_queue(path: &std::path::Path) -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero sockaddr_un is valid; the path fits in it with its NUL.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < address.sun_path.len());
    for (slot, &byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = byte as libc::c_char;
    }
    let mut queued = Vec::new();
    while queued.len() < 1000 {
        // SAFETY: a new descriptor, owned at once; connect reads our address.
        let (fd, done) = unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let length = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            let address = (&address as *const libc::sockaddr_un).cast();
            let done = libc::connect(fd.as_raw_fd(), address, length);
            (fd, done)
        };
        if done != 0 {
            let error = std::io::Error::last_os_error();
            assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock, "{error}");
            return queued;
        }
        queued.push(fd);
    }
    panic!(
        "the queue of {} takes any number of connections",
        path.display()
    );
}

/// A Docker daemon that stopped accepting: its socket's queue fills, and a connect then waits
/// for room. Each round must still fail within --timeout, say so, and the next one come; the
/// loop is not stuck, so /healthz stays 200.
#[test]
#[cfg(target_os = "linux")]
fn a_docker_socket_that_stops_accepting_fails_each_round_in_time() {
    use std::os::fd::AsRawFd;
    let socket = socket_path();
    let listener = UnixListener::bind(&socket.0).unwrap();
    // SAFETY: listen(2) on our bound socket: a queue of (about) one, never accepted.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let _queued = fill_queue(&socket.0);

    let docker = unix(&socket);
    let prometheus = format!("http://127.0.0.1:{}", free_port());
    let mut autoscaler = start_autoscaler(&prometheus, &docker, &["--timeout", "300ms"]);
    let address = metrics_address(&mut autoscaler);
    let expected =
        format!("no change: cannot reach the Docker API at {docker}: no answer within 300ms");
    for _round in 0..2 {
        autoscaler.wait_for(WAIT, |l| l.starts_with(&expected));
    }
    let metrics = request(address, "GET", "/metrics");
    let errors = metrics
        .body
        .lines()
        .find_map(|l| l.strip_prefix("autoscaler_errors_total{peer=\"docker\"} "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(errors >= Some(2), "{}", metrics.body);
    assert_eq!(request(address, "GET", "/healthz").status, 200);
}
