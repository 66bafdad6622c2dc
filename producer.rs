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

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{env, process, thread};

use oorandom::Rand32;
use tiny_http::{Header, Method, Request, Response, Server};

// ---------------------------------------------------------------------------------------------
// Configuration. Every default lives here, and `--help` prints them.

const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const DEFAULT_PORT: u16 = 5000;
const DEFAULT_MIN: i32 = 1;
const DEFAULT_MAX: i32 = 180;
/// tiny_http gives each connection a thread. This bounds them, and so the memory they use.
const DEFAULT_MAX_CONNECTIONS: u64 = 16_384;
/// A connection that sends nothing (or takes nothing) for this long is closed.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections the kernel may queue before we accept them: room for a burst of 2,000 clients.
const LISTEN_BACKLOG: i32 = 4096;
/// Stack per thread. Rust's default (2 MiB) would fill a 32-bit Pi's address space at about
/// 1,500 connections; our handlers need a few KiB.
const THREAD_STACK_BYTES: &str = "131072";
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
  --max-connections N    MAX_CONNECTIONS  open connections at most    [default: 16384]
  --idle-timeout D       IDLE_TIMEOUT     close a connection that sends or reads
                                          nothing for this long       [default: 10s]
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
    max_connections: u64,
    idle_timeout: Duration,
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
        max_connections: parse_or(
            max_connections,
            DEFAULT_MAX_CONNECTIONS,
            "--max-connections/MAX_CONNECTIONS",
            "a number of at least 1",
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
    if config.idle_timeout < Duration::from_secs(1) {
        return Err("invalid --idle-timeout/IDLE_TIMEOUT: it must be at least 1s".into());
    }
    if config.max_connections == 0 {
        return Err("invalid --max-connections/MAX_CONNECTIONS '0': expected at least 1".into());
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

/// How often tiny_http's accept thread has panicked. It does when it cannot duplicate a socket it
/// has just accepted because no file descriptor is left. The panic unwinds that thread, which
/// closes the new connection; `run_server` sees the count change and accepts again.
static ACCEPT_PANICS: AtomicU64 = AtomicU64::new(0);

fn main() {
    // A panic in tiny_http costs one connection, not the service. Any other panic is a bug, or
    // the machine is out of threads: exit, and Docker or systemd restarts us.
    std::panic::set_hook(Box::new(|info| {
        let file = info.location().map_or("", |l| l.file());
        let info = info.to_string().replace('\n', " ");
        if file.contains("tiny_http") {
            if file.ends_with("refined_tcp_stream.rs") {
                ACCEPT_PANICS.fetch_add(1, Relaxed);
            }
            eprintln!("producer: tiny_http dropped a connection ({info})");
        } else {
            eprintln!("producer: fatal: {info}; exiting so that Docker or systemd restarts us");
            process::abort();
        }
    }));
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
    // Before any thread exists: signals wait for us, and threads get small stacks.
    let stop_signals = common::block_stop_signals();
    if env::var_os("RUST_MIN_STACK").is_none() {
        env::set_var("RUST_MIN_STACK", THREAD_STACK_BYTES);
    }

    let listener = match open_listener(&config) {
        Ok(listener) => listener,
        Err(error) => {
            let address = SocketAddr::new(config.host, config.port);
            eprintln!("producer: cannot listen on {address}: {error}");
            process::exit(1);
        }
    };
    let max_connections = limit_open_files(config.max_connections);
    print_banner(&config, &listener, max_connections);

    let app = Arc::new(App::new(&config));
    // One worker per core: more only add context switches (two per core: about 20 % fewer req/s).
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let server_app = Arc::clone(&app);
    thread::spawn(move || run_server(&listener, server_app, workers));

    let signal = common::wait_for_stop_signal(&stop_signals);
    if !config.shutdown_delay.is_zero() {
        // Swarm takes a stopping task out of its DNS and VIP only after the fact: keep answering
        // for a moment, while /healthz tells health checks that we are on our way out.
        say!(
            "producer: {signal}: draining for {:?}",
            config.shutdown_delay
        );
        app.draining.store(true, Relaxed);
        thread::sleep(config.shutdown_delay);
    }
    say!(
        "producer: {signal}: stopped after {} requests",
        app.metrics.total()
    );
    process::exit(0);
}

/// Binds the listening socket and sets what every accepted connection inherits from it.
///
/// tiny_http sets no timeouts on its connections, so a client that never sends a byte would hold
/// a thread forever. Linux copies a listening socket's SO_RCVTIMEO, SO_SNDTIMEO and TCP_NODELAY
/// to each socket it accepts, so setting them here bounds every connection. The price: accept()
/// itself now times out when no client comes for a while; `run_server` treats that as routine.
fn open_listener(config: &Config) -> io::Result<TcpListener> {
    let listener = TcpListener::bind((config.host, config.port))?;
    let fd = listener.as_raw_fd();
    let timeout = libc::timeval {
        tv_sec: config.idle_timeout.as_secs() as _,
        tv_usec: 0,
    };
    set_option(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
    set_option(fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeout)?;
    set_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, &1 as &libc::c_int)?;
    // std listens with a backlog of 128; calling listen() again raises it.
    // SAFETY: `fd` is our bound socket.
    if unsafe { libc::listen(fd, LISTEN_BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

fn set_option<T>(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let size = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live T of `size` bytes, as setsockopt expects.
    let rc = unsafe { libc::setsockopt(fd, level, name, value as *const T as *const _, size) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// tiny_http has no limit on connections; the open-files limit is one the kernel enforces. Each
/// connection takes two descriptors (tiny_http duplicates the socket). At the limit, accept()
/// fails, or tiny_http panics between its accept and its duplicate (see `ACCEPT_PANICS`);
/// `run_server` recovers from both. Either way the threads, and so the memory, stay bounded.
/// Returns how many connections fit.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
fn limit_open_files(max_connections: u64) -> u64 {
    const SPARE_FILES: u64 = 64; // stdio, the listener and its copies, the healthcheck
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return max_connections;
        }
        let wanted = max_connections.saturating_mul(2) + SPARE_FILES;
        limit.rlim_cur = wanted.min(limit.rlim_max as u64) as _;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    ((limit.rlim_cur as u64).saturating_sub(SPARE_FILES) / 2).max(1)
}

/// Prints where we can be reached, as Flask does: copy one of these into PRODUCER_URL.
fn print_banner(config: &Config, listener: &TcpListener, max_connections: u64) {
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
// tiny_http gives each connection a thread that reads its requests into one queue. Workers, one
// per core, take requests from the queue and answer them. Each worker has its own random number
// generator, so the only lock a request meets is the queue's, held for a push and a pop.

/// One generation: a tiny_http server and the workers that answer its requests.
struct Generation {
    server: Server,
    /// Set when the accept loop has ended: the workers finish the open connections, then leave.
    retired: AtomicBool,
}

/// Runs the server for the life of the process.
///
/// tiny_http's accept loop ends for good at the first accept error (tiny-http issue #283), after
/// which its server would stay alive but deaf. That error may be the routine accept timeout (see
/// `open_listener`), a real one such as "too many open files", or a panic inside tiny_http. So we
/// run generations: when one's accept loop ends, the next one starts on the same socket, and the
/// old one finishes its open connections.
fn run_server(listener: &TcpListener, app: Arc<App>, workers: usize) {
    for generation_number in 0u64.. {
        let server = match listener.try_clone() {
            Ok(copy) => Server::from_listener(copy, None).map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let Ok(server) = server.map_err(|error| pause_after(&error)) else {
            continue;
        };
        let generation = Arc::new(Generation {
            server,
            retired: AtomicBool::new(false),
        });
        let (accept_ended, accept_error) = mpsc::channel();
        for worker in 0..workers {
            let (generation, app, accept_ended) = (
                Arc::clone(&generation),
                Arc::clone(&app),
                accept_ended.clone(),
            );
            let stream = worker as u64 + (generation_number << 16);
            let rng = Rand32::new_inc(app.seed, stream);
            thread::spawn(move || work(&generation, &app, rng, accept_ended));
        }
        drop(accept_ended);
        let panics_before = ACCEPT_PANICS.load(Relaxed);
        loop {
            match accept_error.recv_timeout(Duration::from_millis(100)) {
                Ok(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Ok(error) => break pause_after(&error.to_string()),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                // Its accept thread panicked, and with it the accept loop.
                Err(_) if ACCEPT_PANICS.load(Relaxed) != panics_before => {
                    generation.retired.store(true, Relaxed);
                    break pause_after("no file descriptor left for a new connection");
                }
                Err(_) => {}
            }
        }
    }

    /// A real accept error (for example at the open-files limit): say so, and give the
    /// connections a moment to close before accepting again, rather than spinning.
    fn pause_after(error: &str) {
        eprintln!("producer: accept failed ({error}); accepting again");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A worker answers requests until its generation is retired and quiet.
fn work(
    generation: &Generation,
    app: &App,
    mut rng: Rand32,
    accept_ended: mpsc::Sender<io::Error>,
) {
    loop {
        match generation.server.recv_timeout(app.idle_timeout) {
            Ok(Some(request)) => app.respond(request, &mut rng),
            // Nothing for a whole connection timeout: every old connection has timed out.
            Ok(None) if generation.retired.load(Relaxed) => return,
            Ok(None) => {}
            Err(error) => {
                generation.retired.store(true, Relaxed);
                let _ = accept_ended.send(error);
            }
        }
    }
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
    idle_timeout: Duration,
    min: i32,
    span: u32,
    seed: u64,
    draining: AtomicBool,
    metrics: Metrics,
    served_by: Header,
    json: Header,
    text: Header,
    allow: Header,
}

impl App {
    fn new(config: &Config) -> App {
        let header = |name: &str, value: &str| {
            Header::from_bytes(name, value).expect("header names and values are ASCII")
        };
        App {
            idle_timeout: config.idle_timeout,
            min: config.min,
            span: (config.max as i64 - config.min as i64 + 1) as u32,
            // std seeds RandomState from the OS, once per process: a free per-process seed.
            seed: RandomState::new().build_hasher().finish(),
            draining: AtomicBool::new(false),
            metrics: Metrics::new(),
            served_by: header("X-Served-By", &hostname()),
            json: header("Content-Type", "application/json"),
            text: header("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
            allow: header("Allow", "GET, HEAD"),
        }
    }

    fn respond(&self, request: Request, rng: &mut Rand32) {
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
                let number = self.min as i64 + rng.rand_range(0..self.span) as i64;
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
