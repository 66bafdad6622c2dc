//! Helpers shared by the integration tests: start the real binaries, read their output with a
//! deadline, make plain HTTP requests, and stand up fake producers.
#![allow(dead_code)] // each test file uses a different part

pub mod peers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// A test that needs a missing tool says `SKIP: ...` aloud and passes, except under
/// REQUIRE_DOCKER=1 (set by .ci/run), where the missing tool fails it, as in the scripts.
pub fn skip_or_fail(what: &str) {
    let required = std::env::var_os("REQUIRE_DOCKER").is_some_and(|value| value == "1");
    assert!(!required, "{what} (and REQUIRE_DOCKER=1)");
    eprintln!("SKIP: {what}");
}

/// A running binary whose stdout and stderr lines arrive on a channel.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(binary: &str, args: &[&str]) -> Running {
        let mut command = Command::new(binary);
        command.args(args);
        Running::spawn(command).expect("binary starts")
    }

    /// Starts `command` (without the PORT and PRODUCER_URL of the test's environment).
    pub fn spawn(mut command: Command) -> std::io::Result<Running> {
        let mut child = command
            .env_remove("PORT")
            .env_remove("PRODUCER_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (sender, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
            let sender = sender.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Running {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// Waits for a line that satisfies `test`, failing after `limit`. Every line read is kept.
    pub fn wait_for(&mut self, limit: Duration, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if test(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no matching line within {limit:?}; saw: {:#?}", self.seen),
            }
        }
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for the process to exit, failing after `limit`.
    pub fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running {limit:?} later; output: {:#?}", self.seen);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// All lines printed so far, and any still arriving within `linger`.
    pub fn drain(&mut self, linger: Duration) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(linger) {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const PRODUCER: &str = env!("CARGO_BIN_EXE_producer");
pub const CONSUMER: &str = env!("CARGO_BIN_EXE_consumer");
pub const STARTUP: Duration = Duration::from_secs(10);

/// The producer under test: cargo's build, or the binary FOGDEFT_PRODUCER names (a build of
/// scripts/cross.sh, such as dist/linux-arm-v7/producer), run by the emulator FOGDEFT_EMULATOR
/// names, with its arguments (`qemu-arm -cpu arm1176`). scripts/test-cross-suites.sh sets them,
/// so that the suites test every binary we ship.
pub fn producer_command() -> Command {
    let binary = std::env::var("FOGDEFT_PRODUCER")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| PRODUCER.to_string());
    let emulator = std::env::var("FOGDEFT_EMULATOR").unwrap_or_default();
    let mut words = emulator.split_whitespace();
    let mut command = match words.next() {
        Some(emulator) => Command::new(emulator),
        None => return Command::new(binary),
    };
    command.args(words).arg(binary);
    command
}

/// `bound` stretched for a producer that runs slower than on this machine: times
/// FOGDEFT_SLOWDOWN (a whole number; 1 when unset), which scripts/test-cross-suites.sh sets
/// under emulation. The one place where the suites' time bounds scale.
pub fn slower(bound: Duration) -> Duration {
    let factor = match std::env::var("FOGDEFT_SLOWDOWN") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("FOGDEFT_SLOWDOWN={text:?} is not a whole number")),
        Err(_) => 1,
    };
    bound * factor
}

/// `binary ARGS` must refuse to start: exit 2, one line on stderr (returned), nothing on stdout.
pub fn assert_refuses_to_start(binary: &str, args: &[&str]) -> String {
    assert_refuses(Command::new(binary).args(args), &format!("{args:?}"))
}

/// `command` (`what`, for the messages) must refuse to start: exit 2, one line on stderr
/// (returned), nothing on stdout. PORT and PRODUCER_URL are unset unless `command` sets them.
pub fn assert_refuses(command: &mut Command, what: &str) -> String {
    let unset = ["PORT", "PRODUCER_URL"];
    let set: Vec<_> = command.get_envs().map(|(k, _)| k.to_owned()).collect();
    for name in unset.iter().filter(|n| !set.iter().any(|k| k == *n)) {
        command.env_remove(name);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{what}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line for {what}: {stderr}");
    assert!(output.stdout.is_empty(), "nothing starts for {what}");
    stderr
}

/// `binary --help` mentions `needle`, and `binary --version` prints `name` and the version.
pub fn assert_help_and_version(binary: &str, name: &str, needle: &str) {
    let help = Command::new(binary).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains(needle));
    let version = Command::new(binary).arg("-V").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("{name} {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Starts a producer on a free loopback port and returns it with its address.
pub fn start_producer(extra: &[&str]) -> (Running, SocketAddr) {
    start_producer_with(extra, &[])
}

/// `start_producer` with these environment variables set.
pub fn start_producer_with(extra: &[&str], vars: &[(&str, &str)]) -> (Running, SocketAddr) {
    let mut args = vec!["--host", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let mut command = producer_command();
    command.args(args).envs(vars.iter().copied());
    listening(Running::spawn(command).expect("the producer starts"))
}

/// A producer that has started, with the address its banner gives.
fn listening(mut producer: Running) -> (Running, SocketAddr) {
    let line = producer.wait_for(STARTUP, |l| l.contains("Running on http://"));
    let address = line
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .expect("address in banner");
    (producer, address)
}

/// Starts a producer as `start_producer(&[])` does, on a machine named `host_name` (any bytes):
/// in a UTS namespace of its own, which root can make, or anyone where user namespaces are
/// allowed. The error says why neither could be made. (UTS namespaces are Linux's.)
#[cfg(target_os = "linux")]
pub fn start_producer_named(host_name: &'static [u8]) -> std::io::Result<(Running, SocketAddr)> {
    use std::os::unix::process::CommandExt;
    let mut command = producer_command();
    command.args(["--host", "127.0.0.1", "--port", "0"]);
    // SAFETY: between fork and exec the child only makes system calls (no allocation, no lock).
    unsafe {
        command.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUTS) != 0
                && libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWUTS) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            match libc::sethostname(host_name.as_ptr().cast(), host_name.len()) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        })
    };
    Running::spawn(command).map(listening)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A parsed HTTP/1.0 response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }
}

/// Sends one request over a new connection and reads the whole answer.
pub fn request(address: SocketAddr, method: &str, path: &str) -> Reply {
    try_request(address, method, path).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub fn try_request(address: SocketAddr, method: &str, path: &str) -> std::io::Result<Reply> {
    try_request_with(address, method, path, "")
}

/// `request` with more header lines, each ended by "\r\n".
pub fn request_with(address: SocketAddr, method: &str, path: &str, headers: &str) -> Reply {
    try_request_with(address, method, path, headers)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn try_request_with(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: test\r\n{headers}\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// A fake producer: answers every connection with `raw` bytes (or holds it open when `raw` is
/// None) and then closes. Runs until the test process ends.
pub fn fake_server(raw: Option<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            match &raw {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                }
                None => held.push(stream), // accept, then never answer
            }
        }
    });
    address
}

/// An HTTP response with the given status line, headers and body.
pub fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// Raises this process's open-files limit as far as allowed, for tests that hold many sockets,
/// as the producer raises its own (the library's common/sys.rs). Returns the limit in force.
pub fn raise_open_files_limit() -> u64 {
    fogdeft::sys::raise_open_files_limit(u64::MAX).unwrap_or(0)
}

/// Sends `bytes` on a new connection and reads until the server closes it or `limit` passes.
/// Returns what came back, and whether the server closed the connection within `limit`.
pub fn exchange(address: SocketAddr, bytes: &[u8], limit: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).expect("connect");
    // A server that answers early and closes may refuse the rest of what we send: fine.
    let _ = stream.write_all(bytes);
    read_until_closed(&mut stream, limit)
}

/// Reads until the server closes the connection or `limit` passes: (what came, closed).
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let closed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// The status codes of every response in `text`, in order.
pub fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.")
        .filter_map(|(at, _)| text[at..].split(' ').nth(1)?.parse().ok())
        .collect()
}

/// How many file descriptors and threads a process has open now.
pub fn usage(pid: u32) -> (usize, usize) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (fds, status_field(pid, "Threads:"))
}

/// The most resident memory the process has used, in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> usize {
    status_field(pid, "VmHWM:")
}

/// A number from /proc/PID/status (0 if the process is gone).
fn status_field(pid: u32, name: &str) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Running {
    /// Fails the test if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "the process exited ({status}): {:#?}",
                self.drain(Duration::ZERO)
            );
        }
    }

    /// Waits until the process has no more descriptors and threads than `baseline`.
    pub fn settles_to(&mut self, baseline: (usize, usize), limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            self.assert_alive();
            let now = usage(self.child.id());
            if now.0 <= baseline.0 && now.1 <= baseline.1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {} descriptors and {} threads after {limit:?}, against {} and {} at rest",
                now.0,
                now.1,
                baseline.0,
                baseline.1
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `promtool check metrics`, the reference linter, finds nothing to say about `text`. Without
/// promtool it says SKIP aloud, a failure under REQUIRE_DOCKER=1.
pub fn promtool_check_metrics(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(_) => return skip_or_fail("promtool is not installed (make deps installs it)"),
    };
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(text.as_bytes()));
    assert!(matches!(written, Some(Ok(()))), "cannot feed promtool");
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

/// A fake server that answers every connection with `raw`, one byte every `pause`, and then
/// closes: an answer that is never late for any single read, only for the whole.
pub fn dripping_server(raw: Vec<u8>, pause: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let raw = raw.clone();
            thread::spawn(move || {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                for byte in raw.chunks(1) {
                    thread::sleep(pause);
                    if stream.write_all(byte).is_err() {
                        return; // the client gave up
                    }
                }
            });
        }
    });
    address
}
