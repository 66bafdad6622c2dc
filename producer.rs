//! producer: the tutorial's `producer.py`, in Rust.
//!
//! An HTTP server on 0.0.0.0:5000. `GET /number` answers `{"number": N}` with N random in 1..=180.
//! It also answers `/healthz` (for Docker's HEALTHCHECK) and `/metrics` (for Prometheus), and
//! every response names the host that served it in `X-Served-By`, so you can watch Swarm spread
//! the load over the replicas.
//!
//! Read it top to bottom: configuration, start-up, serving, routing, metrics, and the
//! `producer healthcheck` subcommand.

mod common;

use common::say;

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{env, process, thread};

use oorandom::Rand32;
use tiny_http::{Header, Method, Request, Response, Server, ServerOptions};

// ---------------------------------------------------------------------------------------------
// Configuration. Every default lives here, and `--help` prints them.

const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const DEFAULT_PORT: u16 = 5000;
const DEFAULT_MIN: i32 = 1;
const DEFAULT_MAX: i32 = 180;
/// Each open connection has a thread. This bounds them, and so the memory they use.
const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// More would need more threads than a machine has.
const MOST_CONNECTIONS: usize = 1_000_000;
/// A connection that waits this long for its next request, or for one write, is closed.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head (request line and headers) must arrive within this long of its first byte:
/// a client that sends a byte now and then (slowloris) is answered 408 and dropped.
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Header lines of one request, in bytes at most (larger: 431). nginx allows 32 KiB.
const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;
/// The request line (`GET /number HTTP/1.1`), in bytes at most (longer: 414), as nginx.
const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Connections the kernel may queue before we accept them: room for a burst of 2,000 clients.
const LISTEN_BACKLOG: i32 = 4096;
/// Stack per thread. Rust's default (2 MiB) would fill a 32-bit Pi's address space at about
/// 1,500 connections; our handlers need a few KiB.
const THREAD_STACK_BYTES: usize = 128 * 1024;
/// How long `producer healthcheck` waits for the answer.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(2);

const USAGE: &str = "\
producer: serves random numbers over HTTP (the FogDEFT Day 01 producer, in Rust)

Usage: producer [FLAGS]
       producer healthcheck [FLAGS]   probe /healthz on this machine; exit 0 if healthy, else 1

Flags (each overrides its environment variable):
  --host IP              HOST             address to listen on        [default: 0.0.0.0]
  --port N               PORT             TCP port (0 = any free one) [default: 5000]
  --min N                NUMBER_MIN       smallest number served      [default: 1]
  --max N                NUMBER_MAX       largest number served       [default: 180]
  --shutdown-delay D     SHUTDOWN_DELAY   keep serving this long after SIGTERM, with /healthz
                                          answering 503, so a load balancer can drain us
                                          (3, 3s, 500ms)              [default: 0s]
  --max-connections N    MAX_CONNECTIONS  open connections at most; more wait to be
                                          accepted                    [default: 16384]
  --idle-timeout D       IDLE_TIMEOUT     close a connection that waits this long for
                                          its next request or a write [default: 10s]
  --header-timeout D     HEADER_TIMEOUT   a request head must arrive within this
                                          long, else 408              [default: 10s]
  --max-header-size N    MAX_HEADER_SIZE  bytes of header lines at most, else 431
                                                                      [default: 65536]
  -h, --help                              print this help
  -V, --version                           print the version

Endpoints: GET /number, GET /healthz, GET /metrics (HEAD works too).";

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
}

#[derive(Debug, PartialEq)]
enum Command {
    Serve(Config),
    Healthcheck(Config),
    Help,
    Version,
}

/// Reads the command line over the environment: a flag wins over its variable.
fn parse_command(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let mut host = env("HOST");
    let mut port = env("PORT");
    let mut min = env("NUMBER_MIN");
    let mut max = env("NUMBER_MAX");
    let mut shutdown_delay = env("SHUTDOWN_DELAY");
    let mut max_connections = env("MAX_CONNECTIONS");
    let mut idle_timeout = env("IDLE_TIMEOUT");
    let mut header_timeout = env("HEADER_TIMEOUT");
    let mut max_header_size = env("MAX_HEADER_SIZE");
    let mut healthcheck = false;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "healthcheck" => healthcheck = true,
            _ if arg.starts_with("--") => {
                let (name, inline) = common::split_flag(&arg);
                let slot = match name {
                    "--host" => &mut host,
                    "--port" => &mut port,
                    "--min" => &mut min,
                    "--max" => &mut max,
                    "--shutdown-delay" => &mut shutdown_delay,
                    "--max-connections" => &mut max_connections,
                    "--idle-timeout" => &mut idle_timeout,
                    "--header-timeout" => &mut header_timeout,
                    "--max-header-size" => &mut max_header_size,
                    _ => return Err(format!("unknown flag '{name}'")),
                };
                *slot = Some(common::flag_value(name, inline, &mut args)?);
            }
            _ => return Err(format!("unexpected argument '{arg}'")),
        }
    }

    let config = Config {
        host: parse_or(
            host,
            DEFAULT_HOST,
            "--host/HOST",
            "an IP address such as 0.0.0.0",
        )?,
        port: parse_or(port, DEFAULT_PORT, "--port/PORT", "a port from 0 to 65535")?,
        min: parse_or(min, DEFAULT_MIN, "--min/NUMBER_MIN", "a 32-bit integer")?,
        max: parse_or(max, DEFAULT_MAX, "--max/NUMBER_MAX", "a 32-bit integer")?,
        shutdown_delay: duration_or(
            shutdown_delay,
            Duration::ZERO,
            "--shutdown-delay/SHUTDOWN_DELAY",
        )?,
        idle_timeout: duration_or(
            idle_timeout,
            DEFAULT_IDLE_TIMEOUT,
            "--idle-timeout/IDLE_TIMEOUT",
        )?,
        header_timeout: duration_or(
            header_timeout,
            DEFAULT_HEADER_TIMEOUT,
            "--header-timeout/HEADER_TIMEOUT",
        )?,
        max_connections: parse_or(
            max_connections,
            DEFAULT_MAX_CONNECTIONS,
            "--max-connections/MAX_CONNECTIONS",
            "a number from 1 to 1000000",
        )?,
        max_header_size: parse_or(
            max_header_size,
            DEFAULT_MAX_HEADER_SIZE,
            "--max-header-size/MAX_HEADER_SIZE",
            "a number of bytes from 1024 to 1048576",
        )?,
    };
    if config.min > config.max {
        return Err(format!(
            "the smallest number ({}) is larger than the largest ({})",
            config.min, config.max
        ));
    }
    if config.max as i64 - config.min as i64 >= u32::MAX as i64 {
        return Err("the range of numbers is too wide (at most 2^32 - 1 values)".into());
    }
    if config.idle_timeout.is_zero() || config.header_timeout.is_zero() {
        return Err("invalid --idle-timeout or --header-timeout: it must be more than 0".into());
    }
    if !(1..=MOST_CONNECTIONS).contains(&config.max_connections) {
        return Err(format!(
            "invalid --max-connections/MAX_CONNECTIONS '{}': expected a number from 1 to {MOST_CONNECTIONS}",
            config.max_connections
        ));
    }
    if !(1024..=1024 * 1024).contains(&config.max_header_size) {
        return Err(format!(
            "invalid --max-header-size/MAX_HEADER_SIZE '{}': expected a number of bytes from 1024 to 1048576",
            config.max_header_size
        ));
    }
    Ok(if healthcheck {
        Command::Healthcheck(config)
    } else {
        Command::Serve(config)
    })
}

/// Parses a setting, or takes its default when it is not set.
fn parse_or<T: std::str::FromStr>(
    value: Option<String>,
    default: T,
    name: &str,
    expected: &str,
) -> Result<T, String> {
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("invalid {name} '{text}': expected {expected}")),
    }
}

fn duration_or(value: Option<String>, default: Duration, name: &str) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(text) => common::parse_duration(&text).map_err(|e| format!("invalid {name}: {e}")),
    }
}

fn main() {
    let args = env::args().skip(1);
    match parse_command(args, |name| env::var(name).ok()) {
        Ok(Command::Help) => say!("{USAGE}"),
        Ok(Command::Version) => say!("producer {}", env!("CARGO_PKG_VERSION")),
        Ok(Command::Healthcheck(config)) => process::exit(healthcheck(&config)),
        Ok(Command::Serve(config)) => serve(config),
        Err(message) => common::exit_bad_config("producer", &message),
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up and shutdown.

fn serve(config: Config) {
    // Before any thread exists, so that every thread leaves SIGTERM and SIGINT to us.
    let stop_signals = common::block_stop_signals();

    let listener = match open_listener(&config) {
        Ok(listener) => listener,
        Err(error) => {
            let address = SocketAddr::new(config.host, config.port);
            eprintln!("producer: cannot listen on {address}: {error}");
            process::exit(1);
        }
    };
    let max_connections = room_for_connections(config.max_connections);
    print_banner(&config, &listener, max_connections);

    let app = Arc::new(App::new(&config));
    let handler_app = Arc::clone(&app);
    let options = server_options(&config, max_connections);
    // The server lives until we exit; its threads do all the serving.
    let _server = match Server::with_handler(listener, options, move |request| {
        handler_app.respond(request)
    }) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("producer: cannot start serving: {error}");
            process::exit(1);
        }
    };

    let signal = common::wait_for_stop_signal(&stop_signals);
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
    // std listens with a backlog of 128; calling listen() again raises it.
    // SAFETY: listen(2) on the socket we have just bound.
    if unsafe { libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

/// Each connection takes one file descriptor. Raises this process's open-files limit as far as
/// `max_connections` needs and the hard limit allows, and returns how many connections fit.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
fn room_for_connections(max_connections: usize) -> usize {
    const SPARE_FILES: u64 = 64; // stdio, the listener, the accept thread's pause
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return max_connections;
        }
        let wanted = max_connections as u64 + SPARE_FILES;
        if (limit.rlim_cur as u64) < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max as u64) as _;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    let fit = (limit.rlim_cur as u64).saturating_sub(SPARE_FILES).max(1);
    max_connections.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

/// Prints where we can be reached, as Flask does: copy one of these into PRODUCER_URL.
fn print_banner(config: &Config, listener: &TcpListener, max_connections: usize) {
    let port = listener.local_addr().map_or(config.port, |a| a.port());
    say!(
        "producer {}: numbers {}..={} at /number, also /healthz and /metrics (up to {} connections)",
        env!("CARGO_PKG_VERSION"),
        config.min,
        config.max,
        max_connections
    );
    let addresses = match config.host {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            let mut all = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
            all.extend(
                interface_addresses()
                    .into_iter()
                    .filter(|a| !a.is_loopback()),
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

/// The machine's IPv4 addresses, from getifaddrs(3).
fn interface_addresses() -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs hands us a linked list that we only read and then free.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut entry = list;
        while let Some(ifa) = entry.as_ref() {
            if let Some(addr) = ifa.ifa_addr.as_ref() {
                if addr.sa_family as libc::c_int == libc::AF_INET {
                    let addr = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    found.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        addr.sin_addr.s_addr,
                    ))));
                }
            }
            entry = ifa.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most buffer.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    match rc {
        0 if end > 0 => String::from_utf8_lossy(&buffer[..end]).into_owned(),
        _ => "unknown".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Serving.
//
// tiny_http gives each connection a thread of its own, which reads the connection's requests and
// answers each one with `App::respond`. A slow or hostile client holds only its own thread, and
// the limits below bound how long and how much it may hold it.

fn server_options(config: &Config, max_connections: usize) -> ServerOptions {
    ServerOptions {
        max_request_line: MAX_REQUEST_LINE,
        max_header_bytes: config.max_header_size,
        header_timeout: Some(config.header_timeout),
        idle_timeout: Some(config.idle_timeout),
        max_connections,
        thread_stack_size: Some(THREAD_STACK_BYTES),
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
// Routing: which endpoint a path names, and what each request gets back.

/// The paths we serve. Metrics count requests per endpoint, with every unknown path as `Other`
/// so that a scanner cannot create endless series.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Endpoint {
    Number,
    Health,
    Metrics,
    Other,
}

/// The query string is ignored, as Flask does.
fn endpoint(url: &str) -> Endpoint {
    match url.split('?').next().unwrap_or("") {
        "/number" => Endpoint::Number,
        "/healthz" => Endpoint::Health,
        "/metrics" => Endpoint::Metrics,
        _ => Endpoint::Other,
    }
}

/// HEAD is GET without a body, which tiny_http takes care of.
fn method_allowed(method: &Method) -> bool {
    matches!(method, Method::Get | Method::Head)
}

/// What all workers share: settings, counters and the ready-made headers.
struct App {
    min: i32,
    span: u32,
    draining: AtomicBool,
    metrics: Metrics,
    served_by: Header,
    json: Header,
    text: Header,
    allow: Header,
    close: Header,
}

impl App {
    fn new(config: &Config) -> App {
        let header = |name: &str, value: &str| {
            Header::from_bytes(name, value).expect("header names and values are ASCII")
        };
        App {
            min: config.min,
            span: (config.max as i64 - config.min as i64 + 1) as u32,
            draining: AtomicBool::new(false),
            metrics: Metrics::new(),
            served_by: header("X-Served-By", &hostname()),
            json: header("Content-Type", "application/json"),
            text: header("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
            allow: header("Allow", "GET, HEAD"),
            close: header("Connection", "close"),
        }
    }

    fn respond(&self, request: Request) {
        let endpoint = endpoint(request.url());
        let draining = self.draining.load(Relaxed);
        let (status, body, content_type) = match endpoint {
            Endpoint::Other => {
                let path = request.url().split('?').next().unwrap_or("");
                let body = serde_json::json!({ "error": "not found", "path": path });
                (404, format!("{body}\n"), &self.json)
            }
            _ if !method_allowed(request.method()) => {
                let body =
                    serde_json::json!({ "error": "method not allowed", "allow": "GET, HEAD" });
                (405, format!("{body}\n"), &self.json)
            }
            Endpoint::Number => {
                let draw = RNG.with(|rng| rng.borrow_mut().rand_range(0..self.span));
                let number = self.min as i64 + draw as i64;
                self.metrics.number(number);
                (200, format!("{{\"number\": {number}}}\n"), &self.json)
            }
            Endpoint::Health if draining => {
                (503, "{\"status\":\"draining\"}\n".to_string(), &self.json)
            }
            Endpoint::Health => (200, "{\"status\":\"ok\"}\n".to_string(), &self.json),
            Endpoint::Metrics => (200, self.metrics.render(), &self.text),
        };
        self.metrics.request(endpoint, status);

        let mut response = Response::from_string(body)
            .with_status_code(status)
            .with_header(content_type.clone())
            .with_header(self.served_by.clone());
        if status == 405 {
            response.add_header(self.allow.clone());
        }
        if draining {
            response.add_header(self.close.clone());
        }
        // A client that hung up is no error of ours.
        let _ = request.respond(response);
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics, in the Prometheus text format. Plain atomic counters: no lock on the request path.

const STATUSES: [u16; 4] = [200, 404, 405, 503];
const PATHS: [(Endpoint, &str); 4] = [
    (Endpoint::Number, "/number"),
    (Endpoint::Health, "/healthz"),
    (Endpoint::Metrics, "/metrics"),
    (Endpoint::Other, "other"),
];

struct Metrics {
    started: SystemTime,
    requests: [[AtomicU64; STATUSES.len()]; PATHS.len()],
    numbers_count: AtomicU64,
    numbers_sum: AtomicU64,
}

impl Metrics {
    fn new() -> Metrics {
        Metrics {
            started: SystemTime::now(),
            requests: Default::default(),
            numbers_count: AtomicU64::new(0),
            numbers_sum: AtomicU64::new(0),
        }
    }

    fn request(&self, endpoint: Endpoint, status: u16) {
        let path = PATHS.iter().position(|(e, _)| *e == endpoint).unwrap_or(0);
        if let Some(code) = STATUSES.iter().position(|s| *s == status) {
            self.requests[path][code].fetch_add(1, Relaxed);
        }
    }

    fn number(&self, number: i64) {
        self.numbers_count.fetch_add(1, Relaxed);
        self.numbers_sum.fetch_add(number as u64, Relaxed); // wraps like i64 for negative ranges
    }

    fn total(&self) -> u64 {
        self.requests
            .iter()
            .flatten()
            .map(|c| c.load(Relaxed))
            .sum()
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str(
            "# HELP producer_requests_total HTTP requests answered, by path and status.\n",
        );
        out.push_str("# TYPE producer_requests_total counter\n");
        for (p, (endpoint, path)) in PATHS.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let count = self.requests[p][s].load(Relaxed);
                // The /number 200 series always exists, so rate() works from the first scrape.
                if count > 0 || (*endpoint == Endpoint::Number && *status == 200) {
                    out.push_str(&format!(
                        "producer_requests_total{{path=\"{path}\",status=\"{status}\"}} {count}\n"
                    ));
                }
            }
        }
        let (count, sum) = (
            self.numbers_count.load(Relaxed),
            self.numbers_sum.load(Relaxed),
        );
        out.push_str("# HELP producer_number Random numbers served; sum/count is their mean.\n");
        out.push_str("# TYPE producer_number summary\n");
        out.push_str(&format!("producer_number_sum {}\n", sum as i64));
        out.push_str(&format!("producer_number_count {count}\n"));
        let started = self.started.duration_since(UNIX_EPOCH).unwrap_or_default();
        out.push_str(
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n",
        );
        out.push_str("# TYPE process_start_time_seconds gauge\n");
        out.push_str(&format!(
            "process_start_time_seconds {:.3}\n",
            started.as_secs_f64()
        ));
        if let Some(bytes) = resident_memory_bytes() {
            out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            out.push_str("# TYPE process_resident_memory_bytes gauge\n");
            out.push_str(&format!("process_resident_memory_bytes {bytes}\n"));
        }
        out
    }
}

/// The second field of /proc/self/statm, in pages.
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page_size.max(0) as u64)
}

// ---------------------------------------------------------------------------------------------
// `producer healthcheck`: a FROM scratch image has no curl, so the binary probes itself.

fn healthcheck(config: &Config) -> i32 {
    let host = match config.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let address = SocketAddr::new(host, config.port);
    match probe_health(address) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("producer healthcheck: http://{address}/healthz: {error}");
            1
        }
    }
}

fn probe_health(address: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&address, HEALTHCHECK_TIMEOUT)?;
    stream.set_read_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.set_write_timeout(Some(HEALTHCHECK_TIMEOUT))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = String::new();
    stream.take(64).read_to_string(&mut head)?;
    let status_line = head.lines().next().unwrap_or("no answer");
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => Err(io::Error::other(format!("unhealthy: {status_line}"))),
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], vars: &[(&str, &str)]) -> Result<Command, String> {
        let args = args.iter().map(|a| a.to_string());
        parse_command(args, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn config(args: &[&str], vars: &[(&str, &str)]) -> Config {
        match parse(args, vars) {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected a serve config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_tutorial() {
        let c = config(&[], &[]);
        assert_eq!((c.host, c.port, c.min, c.max), (DEFAULT_HOST, 5000, 1, 180));
        assert_eq!(c.shutdown_delay, Duration::ZERO);
    }

    #[test]
    fn flags_win_over_environment() {
        let vars = [("PORT", "6000"), ("NUMBER_MIN", "5"), ("HOST", "127.0.0.1")];
        let c = config(&["--port", "7000", "--min=6"], &vars);
        assert_eq!(
            (c.port, c.min, c.host.to_string().as_str()),
            (7000, 6, "127.0.0.1")
        );
        assert_eq!(config(&[], &vars).port, 6000);
    }

    #[test]
    fn bad_configuration_is_rejected_with_a_reason() {
        for (args, vars, needle) in [
            (&["--port", "abc"][..], &[][..], "--port/PORT 'abc'"),
            (&[], &[("PORT", "70000")][..], "--port/PORT"),
            (&["--min", "9", "--max", "3"], &[], "larger than"),
            (&["--bogus"], &[], "unknown flag '--bogus'"),
            (&["--port"], &[], "--port needs a value"),
            (&["extra"], &[], "unexpected argument"),
            (&["--host", "not-an-ip"], &[], "--host/HOST"),
            (&["--shutdown-delay", "soon"], &[], "SHUTDOWN_DELAY"),
            (&["--max-connections", "0"], &[], "MAX_CONNECTIONS"),
            (
                &["--max-connections", "9223372036854775776"],
                &[],
                "MAX_CONNECTIONS",
            ),
            (&[], &[("IDLE_TIMEOUT", "0")], "idle-timeout"),
            (&["--header-timeout", "0s"], &[], "header-timeout"),
            (&["--max-header-size", "100"], &[], "MAX_HEADER_SIZE"),
            (
                &["--min", "-2147483648", "--max", "2147483647"],
                &[],
                "too wide",
            ),
        ] {
            let error = parse(args, vars).expect_err("should be rejected");
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
            assert!(!error.contains('\n'), "errors are one line: {error:?}");
        }
    }

    #[test]
    fn durations_keep_their_milliseconds() {
        let c = config(&["--idle-timeout", "1500ms", "--header-timeout=250ms"], &[]);
        assert_eq!(c.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.header_timeout, Duration::from_millis(250));
    }

    #[test]
    fn subcommand_help_and_version() {
        assert!(
            matches!(parse(&["healthcheck", "--port", "1"], &[]), Ok(Command::Healthcheck(c)) if c.port == 1)
        );
        assert_eq!(parse(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(parse(&["-V"], &[]), Ok(Command::Version));
    }

    #[test]
    fn routes() {
        assert_eq!(endpoint("/number"), Endpoint::Number);
        assert_eq!(endpoint("/number?x=1&y"), Endpoint::Number);
        assert_eq!(endpoint("/healthz"), Endpoint::Health);
        assert_eq!(endpoint("/metrics"), Endpoint::Metrics);
        assert_eq!(endpoint("/"), Endpoint::Other);
        assert_eq!(endpoint("/number/"), Endpoint::Other);
        assert!(method_allowed(&Method::Get) && method_allowed(&Method::Head));
        assert!(!method_allowed(&Method::Post) && !method_allowed(&Method::Delete));
    }

    #[test]
    fn metrics_count_by_path_and_status() {
        let metrics = Metrics::new();
        metrics.request(Endpoint::Number, 200);
        metrics.request(Endpoint::Other, 404);
        metrics.number(7);
        metrics.number(9);
        let text = metrics.render();
        assert!(text.contains("producer_requests_total{path=\"/number\",status=\"200\"} 1\n"));
        assert!(text.contains("producer_requests_total{path=\"other\",status=\"404\"} 1\n"));
        assert!(text.contains("producer_number_sum 16\nproducer_number_count 2\n"));
        assert_eq!(metrics.total(), 2);
    }
}
