//! producer: the tutorial's `producer.py`, in Rust.
//!
//! An HTTP server on 0.0.0.0:5000. `GET /number` answers `{"number": N}` with N random in 1..=180.
//! It also answers `/` (a live page for browsers, a few lines of text for curl), `/healthz` (for
//! Docker's HEALTHCHECK) and `/metrics` (for Prometheus), and every response names the host that
//! served it in `X-Served-By`, so you can watch Swarm spread the load over the replicas. Its
//! `FAULT_*` settings make it a bad release on purpose, for failure drills.
//!
//! Read it top to bottom: configuration, start-up, serving, routing and metrics. The
//! `producer healthcheck` subcommand is common/health.rs, shared with the autoscaler, and the
//! metrics' text format is common/exposition.rs.

use fogdeft::exposition::{family, sample};
use fogdeft::histogram::Histogram;
use fogdeft::{say, Declare, Settings};

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, process, thread};

use fogdeft_engine::{Handler, Method, Request, Response, Server, ServerOptions};
use oorandom::Rand32;

// ---------------------------------------------------------------------------------------------
// Configuration: each setting once, with its default. `--help` is made from these.

#[derive(Debug, PartialEq)]
struct Config {
    host: IpAddr,
    port: u16,
    min: i32,
    max: i32,
    shutdown_delay: Duration,
    max_connections: usize,
    idle_timeout: Duration,
    header_timeout: Duration,
    max_header_size: usize,
    faults: Faults,
}

/// Faults for failure drills: a "bad release" that `docker service update --env-add` rolls out.
/// Settings, not endpoints, so that no one on the network can turn them on. All off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Faults {
    /// /healthz answers 503 once we have been up this long; `Some(0)`: from the start.
    unhealthy_after: Option<Duration>,
    /// This share of /number answers, in percent, are 500s.
    error_percent: u32,
    /// /number is answered this much later (zero: at once).
    latency: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 5000,
            min: 1,
            max: 180,
            shutdown_delay: Duration::ZERO,
            // Each open connection takes a file descriptor and a few KiB: this bounds them.
            max_connections: 16_384,
            idle_timeout: Duration::from_secs(10),
            // A client that sends its head a byte now and then (slowloris) is dropped.
            header_timeout: Duration::from_secs(10),
            // As nginx's large_client_header_buffers (8 KiB a line): far above what browsers
            // and proxies send, and it keeps each connection's memory small (README).
            max_header_size: 8 * 1024,
            faults: Faults::default(),
        }
    }
}

impl Settings for Config {
    fn declare(&mut self, s: &mut impl Declare) {
        s.setting(&mut self.host, "--host", "HOST", "address to listen on");
        s.setting(
            &mut self.port,
            "--port",
            "PORT",
            "TCP port (0: any free one)",
        );
        s.setting(
            &mut self.min,
            "--min",
            "NUMBER_MIN",
            "smallest number served",
        );
        s.setting(
            &mut self.max,
            "--max",
            "NUMBER_MAX",
            "largest number served",
        );
        s.setting(
            &mut self.shutdown_delay,
            "--shutdown-delay",
            "SHUTDOWN_DELAY",
            "after SIGTERM, serve this long more, with /healthz at 503",
        );
        s.bounded(
            &mut self.max_connections,
            1..=1_000_000,
            "--max-connections",
            "MAX_CONNECTIONS",
            "open connections at most; more wait their turn",
        );
        s.bounded(
            &mut self.idle_timeout,
            fogdeft::DURATIONS,
            "--idle-timeout",
            "IDLE_TIMEOUT",
            "close a connection idle this long, or stuck in one write",
        );
        s.bounded(
            &mut self.header_timeout,
            fogdeft::DURATIONS,
            "--header-timeout",
            "HEADER_TIMEOUT",
            "a request head must arrive within this, else 408",
        );
        s.bounded(
            &mut self.max_header_size,
            1024..=1 << 20,
            "--max-header-size",
            "MAX_HEADER_SIZE",
            "bytes of header lines at most, else 431",
        );
        s.setting(
            &mut self.faults.unhealthy_after,
            "--fault-unhealthy-after",
            "FAULT_UNHEALTHY_AFTER",
            "FAULT: /healthz says 503 once up this long (0s: from the start)",
        );
        s.bounded(
            &mut self.faults.error_percent,
            0..=100,
            "--fault-error-percent",
            "FAULT_ERROR_PERCENT",
            "FAULT: answer this percentage of /number with 500",
        );
        s.bounded(
            &mut self.faults.latency,
            Duration::ZERO..=*fogdeft::DURATIONS.end(),
            "--fault-latency",
            "FAULT_LATENCY",
            "FAULT: answer /number this much later",
        );
    }

    fn check(&self) -> Result<(), String> {
        if self.min > self.max {
            return Err(format!(
                "the smallest number ({}) is larger than the largest ({})",
                self.min, self.max
            ));
        }
        if self.max as i64 - self.min as i64 >= u32::MAX as i64 {
            return Err("the range of numbers is too wide (at most 2^32 - 1 values)".into());
        }
        Ok(())
    }
}

/// Connections the kernel may queue before we accept them: room for a burst of 2,000 clients.
const LISTEN_BACKLOG: i32 = 4096;

fn usage() -> String {
    let endpoints: Vec<String> = ROUTES
        .iter()
        .map(|route| format!("  GET {:10}{}", route.path, route.about))
        .collect();
    format!(
        "producer: serves random numbers over HTTP (the FogDEFT Day 01 producer, in Rust)

Usage: producer [FLAGS]
       producer healthcheck [FLAGS]   probe /healthz here; exit 0 if healthy, else 1

Flags (each overrides its environment variable; durations: 3, 3s, 500ms, 1m):
{}

Endpoints (HEAD works too):
{}",
        fogdeft::settings_table::<Config>(),
        endpoints.join("\n")
    )
}

fn main() {
    match fogdeft::settings_or_exit::<Config>("producer", usage, &["healthcheck"]) {
        (config, None) => serve(config),
        // A FROM scratch image has no curl: the binary asks its own /healthz (common/health.rs).
        (config, Some(_healthcheck)) => {
            process::exit(fogdeft::health::check("producer", config.host, config.port))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up and shutdown.

fn serve(config: Config) {
    // Before any thread exists, so that every thread leaves SIGTERM and SIGINT to us.
    let stop_signals = fogdeft::sys::StopSignals::block();

    let listener = match open_listener(&config) {
        Ok(listener) => listener,
        Err(error) => {
            let address = SocketAddr::new(config.host, config.port);
            eprintln!("producer: cannot listen on {address}: {error}");
            process::exit(1);
        }
    };
    let max_connections = room_for_connections(config.max_connections);
    let options = server_options(&config, max_connections);

    let app = Arc::new(App::new(&config, host_name()));
    // The server lives until we exit; its threads do all the serving.
    let server = match Server::with_handler(listener, options, Arc::clone(&app)) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("producer: cannot start serving: {error}");
            process::exit(1);
        }
    };
    print_banner(&config, &server, max_connections);
    let budget = server.connection_budget(LARGEST_ANSWER);
    let _ = app.metrics.capacity.set((max_connections, budget));

    let signal = stop_signals.wait();
    if !config.shutdown_delay.is_zero() {
        // Swarm takes a stopping task out of its DNS and VIP only after the fact: keep answering
        // for a moment, while /healthz tells health checks that we are on our way out and every
        // response closes its connection, so that clients reconnect to another replica.
        app.draining.store(true, Relaxed);
        say!(
            "producer: {signal}: draining for {:?}",
            config.shutdown_delay
        );
        thread::sleep(config.shutdown_delay);
    }
    say!(
        "producer: {signal}: stopped after {} requests",
        app.metrics.total()
    );
    process::exit(0);
}

/// Binds the listening socket, with room in its queue for a burst of new clients.
fn open_listener(config: &Config) -> io::Result<TcpListener> {
    let listener = TcpListener::bind((config.host, config.port))?;
    fogdeft::sys::listen(&listener, LISTEN_BACKLOG)?;
    Ok(listener)
}

/// Each connection takes one file descriptor. Raises this process's open-files limit as far as
/// `max_connections` needs and the hard limit allows, and returns how many connections fit.
fn room_for_connections(max_connections: usize) -> usize {
    const SPARE_FILES: u64 = 64; // stdio, the listener, each worker's poll and waker, /proc reads
    let wanted = max_connections as u64 + SPARE_FILES;
    let Some(open_files) = fogdeft::sys::raise_open_files_limit(wanted) else {
        return max_connections;
    };
    let fit = open_files.saturating_sub(SPARE_FILES).max(1);
    max_connections.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

/// Prints where we can be reached, as Flask does: copy one of these into PRODUCER_URL.
/// With the worst case of memory the connections may take, so that limits can be checked.
fn print_banner(config: &Config, server: &Server, max_connections: usize) {
    let port = server.server_addr().port();
    // Known, since server_options sizes the kernel's socket buffers too.
    let memory = match server.connection_budget(LARGEST_ANSWER) {
        Some(budget) => format!(
            ", {} KiB each at most: {} MiB",
            budget.div_ceil(1024),
            (budget as u64 * max_connections as u64).div_ceil(1 << 20)
        ),
        None => String::new(),
    };
    say!(
        "producer {}: numbers {}..={} at /number, a live page at /, /healthz, /metrics (up to {} connections{})",
        env!("CARGO_PKG_VERSION"),
        config.min,
        config.max,
        max_connections,
        memory
    );
    let faults = config.faults.named();
    if !faults.is_empty() {
        // Loud, so that no one ships a drill's release by mistake.
        say!(
            "producer: FAULTS ON: {}: for failure drills only, unset to serve normally",
            faults.join(", ")
        );
    }
    let addresses = match config.host {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            let mut all = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
            all.extend(
                fogdeft::sys::ipv4_addresses()
                    .into_iter()
                    .filter(|a| !a.is_loopback())
                    .map(IpAddr::V4),
            );
            all
        }
        IpAddr::V6(ip) if ip.is_unspecified() => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
        ip => vec![ip],
    };
    for address in addresses {
        say!(" * Running on http://{}", SocketAddr::new(address, port));
    }
}

impl Faults {
    /// The faults that are on, as their variables would set them: `FAULT_LATENCY=300ms`.
    fn named(&self) -> Vec<String> {
        let mut on = Vec::new();
        if let Some(after) = self.unhealthy_after {
            let after = fogdeft::duration_text(after);
            on.push(format!("FAULT_UNHEALTHY_AFTER={after}"));
        }
        if self.error_percent > 0 {
            on.push(format!("FAULT_ERROR_PERCENT={}", self.error_percent));
        }
        if !self.latency.is_zero() {
            let latency = fogdeft::duration_text(self.latency);
            on.push(format!("FAULT_LATENCY={latency}"));
        }
        on
    }
}

/// The host name, as `X-Served-By` says it. The kernel takes any bytes as a host name (a
/// container's is whatever `--hostname` said), and a header value must not hold all of them:
/// CR LF would start a header of its own. So every byte that is not visible ASCII, and `%`, is
/// sent %-escaped, as in a URL: `café` is `caf%C3%A9`. We serve rather than refuse to start:
/// the name is the machine's, often not the user's to choose, and the escaped form still tells
/// the replicas apart.
fn host_name() -> String {
    match fogdeft::sys::host_name() {
        Some(name) if !name.is_empty() => percent_escaped(&name),
        _ => "unknown".to_string(),
    }
}

fn percent_escaped(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'!'..=b'~' if byte != b'%' => text.push(byte as char),
            _ => text.push_str(&format!("%{byte:02X}")),
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Serving.
//
// The engine's event loop serves every connection with one thread per core, as nginx does: it
// reads each request whole, as it arrives, and answers it with `App::respond`, which borrows
// the request and returns the response. A slow or hostile client holds no thread, only its
// connection, and the limits below bound how long and how much it may hold that. (the engine's
// own limits: 100 headers, 4 KiB of unread answers.)

/// Bodies we read at most: no route takes one, so only enough to keep the connection going.
const MAX_BODY: usize = 1024;
/// The longest request line we read, else 414: nginx's 8 KiB a line, as for the headers.
const MAX_REQUEST_LINE: usize = 8 * 1024;

// The largest answer we can make, in bytes, from the limits above: each connection's memory
// budget is made from it (the banner prints it). A test sends each worst case and measures it.

/// The head: the status line, Date, Content-Length and our headers take under 300 bytes, and
/// X-Served-By the host name, each of its bytes %-escaped to three at worst.
const LARGEST_HEAD: usize = 512 + 3 * fogdeft::sys::HOST_NAME_BYTES;
/// A 404 names the path, up to a whole request line, in JSON, which writes `"` and `\` with two
/// bytes each (a path holds only visible ASCII: the engine refuses any other byte).
const LARGEST_NOT_FOUND: usize = 64 + 2 * MAX_REQUEST_LINE;
/// /metrics with every series there and every counter at its longest (a test renders it).
const LARGEST_METRICS: usize = 12 * 1024;
const LARGEST_ANSWER: usize =
    LARGEST_HEAD + larger(PAGE.len(), larger(LARGEST_NOT_FOUND, LARGEST_METRICS));

const fn larger(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The kernel's buffers for each connection, as asked: Linux grants twice this (room for its
/// own bookkeeping), and under cgroup v2 charges them to our container. Requests are small (a
/// head of 8 KiB at most), and so are most answers: the largest take a few writes. Left to the
/// kernel, they grew to 50 KiB a connection under hostile clients (README).
const SOCKET_BUFFER: usize = 4 * 1024;

fn server_options(config: &Config, max_connections: usize) -> ServerOptions {
    ServerOptions {
        max_request_line: MAX_REQUEST_LINE,
        max_header_bytes: config.max_header_size,
        max_body_bytes: MAX_BODY,
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections,
        socket_receive_buffer: Some(SOCKET_BUFFER),
        socket_send_buffer: Some(SOCKET_BUFFER),
        ..ServerOptions::default()
    }
}

thread_local! {
    /// Each thread draws from its own generator, seeded by the OS (std seeds every thread's
    /// `RandomState` afresh): no lock, and no two threads draw the same sequence.
    static RNG: RefCell<Rand32> =
        RefCell::new(Rand32::new(RandomState::new().build_hasher().finish()));
}

// ---------------------------------------------------------------------------------------------
// Routing: one table of the paths we serve. Routing, the metrics' labels and `--help` all
// come from it.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Endpoint {
    Page,
    Number,
    Health,
    Metrics,
}

struct Route {
    path: &'static str,
    endpoint: Endpoint,
    about: &'static str,
}

const ROUTES: [Route; 4] = [
    Route {
        path: "/",
        endpoint: Endpoint::Page,
        about: "a live page for browsers; name, arch, version, uptime as text for curl",
    },
    Route {
        path: "/number",
        endpoint: Endpoint::Number,
        about: "a random number: {\"number\": N}",
    },
    Route {
        path: "/healthz",
        endpoint: Endpoint::Health,
        about: "200 while serving, 503 while draining (or FAULT_UNHEALTHY_AFTER)",
    },
    Route {
        path: "/metrics",
        endpoint: Endpoint::Metrics,
        about: "request counters, in Prometheus' text format",
    },
];

/// The route a request names, as its place in `ROUTES`; `None` for any other path. The query
/// string is ignored, as Flask does (but `?close`, see `asks_to_close`).
fn route(url: &str) -> Option<usize> {
    let path = url.split('?').next().unwrap_or("");
    ROUTES.iter().position(|route| route.path == path)
}

/// Every status we answer with, each code once: metrics count each one, by route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Ok,
    NotFound,
    MethodNotAllowed,
    /// FAULT_ERROR_PERCENT's share of /number.
    InternalError,
    /// /healthz while draining, or under FAULT_UNHEALTHY_AFTER.
    Unavailable,
}

impl Status {
    const ALL: [Status; 5] = [
        Status::Ok,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::InternalError,
        Status::Unavailable,
    ];

    fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::InternalError => 500,
            Status::Unavailable => 503,
        }
    }
}

/// HEAD is GET without a body, which the engine takes care of.
fn method_allowed(method: Method) -> bool {
    matches!(method, Method::Get | Method::Head)
}

const JSON: &str = "application/json";
const PROMETHEUS_TEXT: &str = fogdeft::exposition::CONTENT_TYPE;
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// The live page (web/live.html), in the binary: it needs nothing from the internet.
const PAGE: &str = include_str!("web/live.html");

/// What all workers share: settings, counters and the host name for `X-Served-By`.
struct App {
    min: i32,
    span: u32,
    draining: AtomicBool,
    faults: Faults,
    /// Since when we serve, for FAULT_UNHEALTHY_AFTER (monotonic: a change of the clock moves
    /// it not).
    started: Instant,
    metrics: Metrics,
    served_by: String,
}

impl App {
    fn new(config: &Config, served_by: String) -> App {
        App {
            min: config.min,
            span: (config.max as i64 - config.min as i64 + 1) as u32,
            draining: AtomicBool::new(false),
            faults: config.faults,
            started: Instant::now(),
            metrics: Metrics::new(&served_by),
            served_by,
        }
    }
}

/// The answers of the faults, each naming the setting behind it, so that a drill's logs and
/// curl say at once why.
const UNHEALTHY_BODY: &[u8] = b"{\"status\":\"unhealthy\",\"fault\":\"FAULT_UNHEALTHY_AFTER\"}\n";
const ERROR_BODY: &[u8] = b"{\"error\":\"injected fault\",\"setting\":\"FAULT_ERROR_PERCENT\"}\n";

impl Handler for App {
    /// Answers one request. The hot routes make no allocation: their bodies are static or
    /// formatted in place, and every header value is borrowed from `self`.
    fn respond<'a>(&'a self, request: &Request<'_>) -> Response<'a> {
        let started = Instant::now();
        let route = route(request.url());
        let draining = self.draining.load(Relaxed);
        let endpoint = route.map(|r| ROUTES[r].endpoint);
        let (status, mut response, content_type) = match endpoint {
            None => {
                let path = request.url().split('?').next().unwrap_or("");
                let body = serde_json::json!({ "error": "not found", "path": path });
                (
                    Status::NotFound,
                    Response::from_data(format!("{body}\n")),
                    JSON,
                )
            }
            Some(_) if !method_allowed(request.method()) => {
                let body = b"{\"error\":\"method not allowed\",\"allow\":\"GET, HEAD\"}\n";
                let response = Response::from_slice(body).with_header("Allow", "GET, HEAD");
                (Status::MethodNotAllowed, response, JSON)
            }
            Some(Endpoint::Page) if wants_html(request) => {
                (Status::Ok, Response::from_slice(PAGE.as_bytes()), HTML)
            }
            Some(Endpoint::Page) => (Status::Ok, self.whoami(), TEXT),
            Some(Endpoint::Number) => {
                let (status, response) = self.number(started);
                (status, response, JSON)
            }
            Some(Endpoint::Health) if draining => (
                Status::Unavailable,
                Response::from_slice(b"{\"status\":\"draining\"}\n"),
                JSON,
            ),
            Some(Endpoint::Health) if self.unhealthy() => (
                Status::Unavailable,
                Response::from_slice(UNHEALTHY_BODY),
                JSON,
            ),
            Some(Endpoint::Health) => (
                Status::Ok,
                Response::from_slice(b"{\"status\":\"ok\"}\n"),
                JSON,
            ),
            Some(Endpoint::Metrics) => (
                Status::Ok,
                Response::from_data(self.metrics.render()),
                PROMETHEUS_TEXT,
            ),
        };

        // Set in place: each step of a builder chain would copy the response.
        response.set_status_code(status.code());
        response.add_header("Content-Type", content_type);
        response.add_header("Cache-Control", cache_control(content_type));
        response.add_header("X-Served-By", &self.served_by);
        if endpoint == Some(Endpoint::Page) {
            response.add_header("Vary", "Accept"); // the page or the text, by Accept
        }
        if draining || asks_to_close(request.url()) {
            response.close_after();
        }
        // A held answer (FAULT_LATENCY) is ready to send when its hold ends: the histogram shows
        // the latency the drill injected, as clients see it.
        let made = started.elapsed();
        let ready = response
            .held_until()
            .map_or(made, |until| made.max(until - started));
        self.metrics.request(route, status, ready);
        response
    }
}

impl App {
    /// `/number`: a random number, or under FAULT_ERROR_PERCENT sometimes a 500; either held
    /// FAULT_LATENCY from `started`.
    fn number(&self, started: Instant) -> (Status, Response<'_>) {
        let (status, mut response) = if self.injects_error() {
            (Status::InternalError, Response::from_slice(ERROR_BODY))
        } else {
            let draw = RNG.with(|rng| rng.borrow_mut().rand_range(0..self.span));
            let number = self.min as i64 + draw as i64;
            self.metrics.number(number);
            let body = format_args!("{{\"number\": {number}}}\n");
            (Status::Ok, Response::from_fmt(body))
        };
        if !self.faults.latency.is_zero() {
            // The engine holds the answer, and its worker serves the other connections
            // meanwhile: a sleep here would stall every connection of this worker.
            response.hold_until(started + self.faults.latency);
        }
        (status, response)
    }

    /// FAULT_ERROR_PERCENT: whether this /number fails, drawn as the numbers are.
    fn injects_error(&self) -> bool {
        let percent = self.faults.error_percent;
        percent > 0 && RNG.with(|rng| rng.borrow_mut().rand_range(0..100)) < percent
    }

    /// FAULT_UNHEALTHY_AFTER: up that long, we say we are unhealthy, and Swarm replaces us.
    fn unhealthy(&self) -> bool {
        let after = self.faults.unhealthy_after;
        after.is_some_and(|after| self.started.elapsed() >= after)
    }

    /// How long we have been serving, to the second.
    fn uptime(&self) -> Duration {
        let elapsed = self.metrics.started.elapsed().unwrap_or_default();
        Duration::from_secs(elapsed.as_secs())
    }

    /// `/` for curl: whoami's few lines, so that a loop of `curl <node>:5000/` shows the spread.
    fn whoami(&self) -> Response<'_> {
        Response::from_fmt(format_args!(
            "Hostname: {}\nArch: {ARCH}\nVersion: {}\nUptime: {}\nRequests: {}\n",
            self.served_by,
            env!("CARGO_PKG_VERSION"),
            fogdeft::duration_text(self.uptime()),
            self.metrics.total().saturating_add(1), // this one is counted after it is made
        ))
    }
}

/// The CPU this binary is built for, as Rust names it: x86_64, aarch64 or arm.
const ARCH: &str = std::env::consts::ARCH;

/// A browser asks for HTML (`Accept: text/html,...`); curl sends `*/*`, and gets the text form.
fn wants_html(request: &Request<'_>) -> bool {
    request
        .header("Accept")
        .is_some_and(|accept| accept.contains("text/html"))
}

/// What a cache may do with an answer. Every answer is of its moment (a number, health, counts,
/// the uptime, an error), so no cache may keep it: else a proxy or a browser could give the same
/// "random" number again, or an old /healthz. The live page is the same for a whole version: a
/// browser may keep it a minute. (REDbot, the HTTP linter, warns on no `Cache-Control`, "caches
/// may pick their own freshness", and on `no-cache` without a validator; `make test-caching`.)
fn cache_control(content_type: &str) -> &'static str {
    if content_type == HTML {
        "max-age=60"
    } else {
        "no-store"
    }
}

/// `?close` in the query (the live page's polls) asks for `Connection: close`: browsers keep and
/// reuse connections, and the routing mesh balances connections, not requests, so a poll that
/// reuses one always reaches the same replica. Closing makes each poll a new connection.
fn asks_to_close(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p == "close"))
}

// ---------------------------------------------------------------------------------------------
// Metrics, in the Prometheus text format. Plain atomic counters: no lock on the request path.

/// Requests are counted by route, with every unknown path as one row, "other", so that a
/// scanner cannot create endless series.
const OTHER: usize = ROUTES.len();

struct Metrics {
    started: SystemTime,
    /// For producer_build_info.
    hostname: String,
    /// Requests by route (and `OTHER`), then by status.
    requests: [[AtomicU64; Status::ALL.len()]; ROUTES.len() + 1],
    /// How long requests took, by route (and `OTHER`).
    durations: [Histogram; ROUTES.len() + 1],
    numbers_count: AtomicU64,
    numbers_sum: AtomicU64,
    /// The connections served at once at most, and the most memory each can take (`None` when
    /// the kernel sizes the socket buffers), as the banner states them: set once serving.
    capacity: OnceLock<(usize, Option<usize>)>,
}

impl Metrics {
    fn new(hostname: &str) -> Metrics {
        Metrics {
            started: SystemTime::now(),
            hostname: hostname.to_string(),
            requests: Default::default(),
            durations: Default::default(),
            numbers_count: AtomicU64::new(0),
            numbers_sum: AtomicU64::new(0),
            capacity: OnceLock::new(),
        }
    }

    fn request(&self, route: Option<usize>, status: Status, elapsed: Duration) {
        let row = route.unwrap_or(OTHER);
        self.requests[row][status as usize].fetch_add(1, Relaxed);
        self.durations[row].record(elapsed);
    }

    fn number(&self, number: i64) {
        self.numbers_count.fetch_add(1, Relaxed);
        self.numbers_sum.fetch_add(number as u64, Relaxed); // wraps like i64 for negative ranges
    }

    fn total(&self) -> u64 {
        self.requests
            .iter()
            .flatten()
            .fold(0, |total: u64, c| total.saturating_add(c.load(Relaxed))) // never panics
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let name = "producer_build_info";
        let help = "The version and CPU of this replica; always 1.";
        family(&mut out, name, "gauge", help);
        let version = env!("CARGO_PKG_VERSION");
        let labels = [
            ("version", version),
            ("arch", ARCH),
            ("hostname", &self.hostname),
        ];
        sample(&mut out, name, &labels, &1);

        // What the memory limit must hold: scripts/memory-budget.sh reads these.
        if let Some((connections, budget)) = self.capacity.get() {
            let name = "producer_connections_max";
            let help = "Connections served at once at most: MAX_CONNECTIONS, as far as the open-files limit allows.";
            family(&mut out, name, "gauge", help);
            sample(&mut out, name, &[], connections);
            if let Some(bytes) = budget {
                let name = "producer_connection_budget_bytes";
                let help = "The most memory one connection can take, whatever its client does, the kernel's socket buffers included.";
                family(&mut out, name, "gauge", help);
                sample(&mut out, name, &[], bytes);
            }
        }

        let name = "producer_requests_total";
        let help = "HTTP requests answered, by path and status.";
        family(&mut out, name, "counter", help);
        for (row, counts) in self.requests.iter().enumerate() {
            let route = ROUTES.get(row);
            for (status, count) in Status::ALL.iter().zip(counts) {
                let count = count.load(Relaxed);
                // The /number 200 series always exists, so rate() works from the first scrape.
                let always =
                    route.is_some_and(|r| r.endpoint == Endpoint::Number) && *status == Status::Ok;
                if count > 0 || always {
                    let path = route.map_or("other", |r| r.path);
                    let code = status.code().to_string();
                    sample(&mut out, name, &[("path", path), ("status", &code)], &count);
                }
            }
        }

        let name = "producer_request_duration_seconds";
        let help = "Time to make each answer, from the request read to the response ready to send, by path.";
        family(&mut out, name, "histogram", help);
        for (row, histogram) in self.durations.iter().enumerate() {
            let route = ROUTES.get(row);
            // As with the counters: /number from the start, other paths once asked for.
            if histogram.count() > 0 || route.is_some_and(|r| r.endpoint == Endpoint::Number) {
                histogram.render(&mut out, name, ("path", route.map_or("other", |r| r.path)));
            }
        }

        let help = "Random numbers served; sum/count is their mean.";
        family(&mut out, "producer_number", "summary", help);
        let (count, sum) = (
            self.numbers_count.load(Relaxed),
            self.numbers_sum.load(Relaxed),
        );
        sample(&mut out, "producer_number_sum", &[], &(sum as i64));
        sample(&mut out, "producer_number_count", &[], &count);

        let name = "process_start_time_seconds";
        let help = "Start time of the process since the Unix epoch.";
        family(&mut out, name, "gauge", help);
        let started = self.started.duration_since(UNIX_EPOCH).unwrap_or_default();
        let started = format!("{:.3}", started.as_secs_f64());
        sample(&mut out, name, &[], &started);
        if let Some(bytes) = fogdeft::sys::resident_memory_bytes() {
            let name = "process_resident_memory_bytes";
            family(&mut out, name, "gauge", "Resident memory size in bytes.");
            sample(&mut out, name, &[], &bytes);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use fogdeft::{assert_refused, test_command, test_config, Command};

    #[test]
    fn defaults_match_the_tutorial() {
        let c: Config = test_config(&[], &[]);
        assert_eq!(c.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!((c.port, c.min, c.max), (5000, 1, 180));
        assert_eq!(c.shutdown_delay, Duration::ZERO);
    }

    #[test]
    fn faults_are_off_unless_set() {
        let off = Faults {
            unhealthy_after: None,
            error_percent: 0,
            latency: Duration::ZERO,
        };
        assert_eq!(test_config::<Config>(&[], &[]).faults, off);
        let empty = [
            ("FAULT_UNHEALTHY_AFTER", ""),
            ("FAULT_ERROR_PERCENT", " "),
            ("FAULT_LATENCY", ""),
        ];
        assert_eq!(test_config::<Config>(&[], &empty).faults, off);
        assert!(off.named().is_empty(), "no FAULTS ON line");
    }

    #[test]
    fn faults_read_their_values() {
        let vars = [
            ("FAULT_UNHEALTHY_AFTER", "0s"),
            ("FAULT_ERROR_PERCENT", "100"),
            ("FAULT_LATENCY", "300ms"),
        ];
        let faults = test_config::<Config>(&[], &vars).faults;
        let expected = Faults {
            unhealthy_after: Some(Duration::ZERO), // from the start, not off
            error_percent: 100,
            latency: Duration::from_millis(300),
        };
        assert_eq!(faults, expected);
        assert_eq!(
            faults.named(),
            [
                "FAULT_UNHEALTHY_AFTER=0s",
                "FAULT_ERROR_PERCENT=100",
                "FAULT_LATENCY=300ms"
            ]
        );
        let args = [
            "--fault-unhealthy-after=1m",
            "--fault-error-percent",
            "0",
            "--fault-latency=60m",
        ];
        let faults = test_config::<Config>(&args, &vars).faults;
        assert_eq!(faults.unhealthy_after, Some(Duration::from_secs(60)));
        assert_eq!(faults.error_percent, 0, "a flag wins, and 0 is off");
        assert_eq!(faults.latency, Duration::from_secs(3600));
        let off = [("FAULT_UNHEALTHY_AFTER", "off")];
        assert_eq!(
            test_config::<Config>(&[], &off).faults.unhealthy_after,
            None
        );
    }

    #[test]
    fn flags_win_over_environment() {
        let vars = [("PORT", "6000"), ("NUMBER_MIN", "5"), ("HOST", "127.0.0.1")];
        let c: Config = test_config(&["--port", "7000", "--min=6"], &vars);
        assert_eq!(
            (c.port, c.min, c.host.to_string().as_str()),
            (7000, 6, "127.0.0.1")
        );
        assert_eq!(test_config::<Config>(&[], &vars).port, 6000);
        let c: Config = test_config(&["--idle-timeout", "1500ms", "--header-timeout=250ms"], &[]);
        assert_eq!(c.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.header_timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        assert_refused::<Config>(
            "PORT=70000                                   | --port/PORT
             --host not-an-ip                             | --host/HOST
             --shutdown-delay soon                        | SHUTDOWN_DELAY
             --max-connections 0                          | MAX_CONNECTIONS
             --max-connections 9223372036854775776        | MAX_CONNECTIONS
             IDLE_TIMEOUT=0                               | IDLE_TIMEOUT
             --header-timeout 0s                          | HEADER_TIMEOUT
             --max-header-size 100                        | MAX_HEADER_SIZE
             --min 9 --max 3                              | larger than
             --min -2147483648 --max 2147483647           | too wide
             FAULT_UNHEALTHY_AFTER=soon                   | --fault-unhealthy-after/FAULT_UNHEALTHY_AFTER 'soon'
             FAULT_UNHEALTHY_AFTER=-1s                    | FAULT_UNHEALTHY_AFTER
             FAULT_ERROR_PERCENT=101                      | FAULT_ERROR_PERCENT '101': expected N from 0 to 100
             FAULT_ERROR_PERCENT=-1                       | FAULT_ERROR_PERCENT '-1'
             FAULT_ERROR_PERCENT=50%                      | FAULT_ERROR_PERCENT '50%'
             FAULT_ERROR_PERCENT=0.5                      | FAULT_ERROR_PERCENT
             FAULT_LATENCY=fast                           | FAULT_LATENCY 'fast'
             FAULT_LATENCY=61m                            | FAULT_LATENCY '61m': expected D from 0s to 60m
             --fault-latency                              | --fault-latency needs a value",
        );
    }

    #[test]
    fn the_healthcheck_subcommand_takes_the_same_settings() {
        let command =
            test_command::<Config>(&["healthcheck", "--port", "1"], &[], &["healthcheck"]);
        assert!(matches!(command, Ok(Command::Run(c, Some("healthcheck"))) if c.port == 1));
    }

    #[test]
    fn help_lists_every_setting_and_route() {
        let help = usage();
        for needle in [
            "--max-connections N",
            "HEADER_TIMEOUT",
            "[default: 16384]",
            "GET /metrics",
            "GET /         a live page",
            "FAULT_UNHEALTHY_AFTER",
            "[default: off]",
        ] {
            assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
        }
    }

    #[test]
    fn routes() {
        let endpoint = |url| route(url).map(|r| ROUTES[r].endpoint);
        assert_eq!(endpoint("/number"), Some(Endpoint::Number));
        assert_eq!(endpoint("/number?x=1&y"), Some(Endpoint::Number));
        assert_eq!(endpoint("/healthz"), Some(Endpoint::Health));
        assert_eq!(endpoint("/metrics"), Some(Endpoint::Metrics));
        assert_eq!(endpoint("/"), Some(Endpoint::Page));
        assert_eq!(endpoint("/?rate=10"), Some(Endpoint::Page));
        assert_eq!(endpoint("/index.html"), None);
        assert_eq!(endpoint("/number/"), None);
        assert!(asks_to_close("/number?close") && asks_to_close("/number?x=1&close"));
        assert!(!asks_to_close("/number") && !asks_to_close("/number?closed"));
        assert!(method_allowed(Method::Get) && method_allowed(Method::Head));
        assert!(!method_allowed(Method::Post) && !method_allowed(Method::Delete));
    }

    #[test]
    fn metrics_count_by_path_and_status() {
        let metrics = Metrics::new("box");
        let quick = Duration::from_micros(20);
        metrics.request(route("/number"), Status::Ok, quick);
        metrics.request(route("/nope"), Status::NotFound, quick);
        metrics.request(route("/healthz"), Status::Unavailable, quick);
        metrics.number(7);
        metrics.number(9);
        assert!(!metrics.render().contains("producer_connections_max"));
        let _ = metrics.capacity.set((640, Some(78_848)));
        let text = metrics.render();
        assert!(text.contains("producer_connections_max 640\n"), "{text}");
        assert!(
            text.contains("producer_connection_budget_bytes 78848\n"),
            "{text}"
        );
        assert!(text.contains("producer_requests_total{path=\"/number\",status=\"200\"} 1\n"));
        assert!(text.contains("producer_requests_total{path=\"other\",status=\"404\"} 1\n"));
        assert!(text.contains("producer_requests_total{path=\"/healthz\",status=\"503\"} 1\n"));
        assert!(text.contains("producer_number_sum 16\nproducer_number_count 2\n"));
        assert_eq!(metrics.total(), 3);
        let build_info = format!(
            "producer_build_info{{version=\"{}\",arch=\"{ARCH}\",hostname=\"box\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&build_info), "{text}");
        let odd = Metrics::new("a\"b\\c").render();
        assert!(odd.contains("hostname=\"a\\\"b\\\\c\"}"), "{odd}");
    }

    /// Sets every counter of `metrics` to a number of the most digits any can reach.
    fn fill(metrics: &Metrics) {
        let big = u64::MAX / 2;
        for counter in metrics.requests.iter().flatten() {
            counter.store(big, Relaxed);
        }
        for histogram in &metrics.durations {
            histogram.buckets.iter().for_each(|b| b.store(big, Relaxed));
            histogram.sum_nanos.store(big, Relaxed);
        }
        metrics.numbers_count.store(big, Relaxed);
        metrics.numbers_sum.store(u64::MAX, Relaxed); // -1 as i64: a sign more
        let _ = metrics.capacity.set((1_000_000, Some(usize::MAX)));
    }

    /// The longest X-Served-By: a host name of bytes that are each %-escaped to three.
    fn longest_served_by() -> String {
        percent_escaped(&[0xff; fogdeft::sys::HOST_NAME_BYTES])
    }

    #[test]
    fn metrics_fit_in_their_share_of_the_largest_answer() {
        for served_by in [
            longest_served_by(),
            "\"".repeat(fogdeft::sys::HOST_NAME_BYTES),
        ] {
            let metrics = Metrics::new(&served_by);
            fill(&metrics);
            let text = metrics.render();
            assert!(text.len() <= LARGEST_METRICS, "{} bytes", text.len());
        }
    }

    /// Sends `request` to `address` and reads the whole answer, up to the server's close.
    fn answer(address: SocketAddr, request: &[u8]) -> Vec<u8> {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        std::io::Write::write_all(&mut stream, request).unwrap();
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut answer).unwrap();
        answer
    }

    /// The worst cases of each kind, whole (head and body) from a real server with the longest
    /// host name and full counters, each within LARGEST_ANSWER.
    #[test]
    fn every_answer_fits_in_the_largest_answer() {
        let config = Config::default();
        let app = App::new(&config, longest_served_by());
        fill(&app.metrics);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let options = server_options(&config, 16);
        let _server = Server::with_handler(listener, options, Arc::new(app)).unwrap();

        // The longest request line the engine reads: "GET /" and " HTTP/1.1" around the path.
        let longest = MAX_REQUEST_LINE - "GET / HTTP/1.1".len();
        let get = |target: &str, accept: &str| {
            format!(
                "GET {target} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
            )
        };
        let mut largest = 0;
        for (request, status) in [
            (get(&format!("/{}", "\"".repeat(longest)), "*/*"), "404"),
            (get(&format!("/{}", "\\".repeat(longest)), "*/*"), "404"),
            (get(&format!("/{}", "\"".repeat(longest + 1)), "*/*"), "414"),
            (get("/", "text/html"), "200"),
            (get("/", "*/*"), "200"),
            (get("/metrics", "*/*"), "200"),
            (get("/healthz", "*/*"), "200"),
            (
                "POST /number HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .into(),
                "405",
            ),
        ] {
            let answer = answer(address, request.as_bytes());
            let text = String::from_utf8_lossy(&answer);
            assert!(
                text.starts_with(&format!("HTTP/1.1 {status} ")),
                "{}",
                &text[..200.min(text.len())]
            );
            assert!(
                answer.len() <= LARGEST_ANSWER,
                "{} bytes over {LARGEST_ANSWER} for {}",
                answer.len(),
                &request[..40]
            );
            largest = largest.max(answer.len());
        }
        // The bound is near what is really sent: within its head's allowance.
        assert!(
            LARGEST_ANSWER - largest <= LARGEST_HEAD,
            "{largest} of {LARGEST_ANSWER}"
        );
    }

    #[test]
    fn the_page_needs_nothing_from_elsewhere() {
        for outside in ["src=", "http:", "https:", "url(", "@import", "//cdn"] {
            assert!(
                !PAGE.contains(outside),
                "web/live.html contains {outside:?}"
            );
        }
        assert!(
            PAGE.len() < 32 * 1024,
            "the page grew to {} bytes",
            PAGE.len()
        );
    }

    #[test]
    fn host_names_are_sent_escaped_when_not_visible_ascii() {
        assert_eq!(percent_escaped(b"pi-4.local_1"), "pi-4.local_1");
        assert_eq!(
            percent_escaped(b"caf\xc3\xa9 \r\nSet-Cookie: x=1%"),
            "caf%C3%A9%20%0D%0ASet-Cookie:%20x=1%25"
        );
        assert_eq!(percent_escaped(b"\x00\x7f\xff"), "%00%7F%FF");
    }

    #[test]
    fn every_status_has_its_own_counter() {
        for (index, status) in Status::ALL.iter().enumerate() {
            assert_eq!(
                *status as usize, index,
                "{status:?} is out of place in Status::ALL"
            );
            // Two with one code would write the same series twice in /metrics.
            let same = Status::ALL.iter().filter(|s| s.code() == status.code());
            assert_eq!(same.count(), 1, "{status:?}'s code is another's too");
        }
    }
}
