//! The producer's HTTP/1.1 engine, forked from tiny_http 0.12 (PATCHED.md lists every change).
//!
//! One way to serve: a few event-loop workers (one per core by default) serve every
//! connection, and call a [`Handler`] for each complete request. The handler borrows the
//! request, body included, and returns the response; it cannot read a socket, and so cannot
//! block its worker on a client.
//!
//! ```no_run
//! use fogdeft_engine::{Request, Response, Server, ServerOptions};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:8000").unwrap();
//! let hello = |request: &Request| match request.url() {
//!     "/" => Response::from_slice(b"hello\n"),
//!     _ => Response::empty(404),
//! };
//! let server = Server::with_handler(listener, ServerOptions::default(), hello).unwrap();
//! // ... it serves until `server` is dropped.
//! # drop(server);
//! ```
//!
//! A handler that needs something of its own (settings, counters, ready-made header values)
//! implements [`Handler`], and its responses may borrow from it.
#![forbid(unsafe_code)] // the system calls are mio's and socket2's
#![deny(rust_2018_idioms)]

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use common::{HTTPVersion, Method, StatusCode};
pub use head::MAX_HEADERS;
pub use request::{Header, Request};
pub use response::Response;

mod chunked;
mod common;
mod connection;
mod event;
#[doc(hidden)]
pub mod fuzzing;
mod head;
mod request;
mod response;
mod socket;

/// What answers requests: called on a worker for each complete request, body included. Its
/// response may borrow from the handler itself (`'h`).
pub trait Handler: Send + Sync + 'static {
    fn respond<'h>(&'h self, request: &Request<'_>) -> Response<'h>;
}

/// A plain function or closure is a handler whose responses borrow nothing (`'static`).
impl<F> Handler for F
where
    F: Fn(&Request<'_>) -> Response<'static> + Send + Sync + 'static,
{
    fn respond<'h>(&'h self, request: &Request<'_>) -> Response<'h> {
        self(request)
    }
}

/// A shared handler, so that its owner can keep a hand on it (counters, a draining flag).
impl<H: Handler> Handler for Arc<H> {
    fn respond<'h>(&'h self, request: &Request<'_>) -> Response<'h> {
        (**self).respond(request)
    }
}

/// How the server protects itself from its clients. The defaults are nginx's, where it has one.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest request line (method, target and version), in bytes. Longer: 414 and close.
    pub max_request_line: usize,
    /// Largest header section (every header line), in bytes. Larger: 431 and close. (And
    /// `MAX_HEADERS` fields at most.)
    pub max_header_bytes: usize,
    /// Largest request body, in bytes: the engine reads it whole before the handler runs.
    /// Larger: 413 and close (nginx's `client_max_body_size` is 1 MiB).
    pub max_body_bytes: usize,
    /// Time for a whole request (head and body) to arrive, from its first byte. Slower: 408
    /// and close.
    pub header_timeout: Duration,
    /// How long a connection may wait for its next request, or for its client to read an
    /// answer. Then it is closed.
    pub idle_timeout: Duration,
    /// Open connections at most. At the limit the server accepts no more until one closes;
    /// clients wait in the listening socket's queue.
    pub max_connections: usize,
    /// Event-loop threads that serve every connection.
    pub workers: usize,
    /// The kernel's receive buffer for each TCP connection (`SO_RCVBUF`), in bytes; `None`
    /// leaves it to the kernel, which grows it with the connection (Linux: up to
    /// `net.ipv4.tcp_rmem`'s maximum, megabytes). Under cgroup v2 a container is charged for
    /// these buffers, so only a set size lets `Server::connection_budget` state a bound.
    pub socket_receive_buffer: Option<usize>,
    /// The kernel's send buffer for each TCP connection (`SO_SNDBUF`), likewise: an answer
    /// larger than it only takes more writes.
    pub socket_send_buffer: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_request_line: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_body_bytes: 1024 * 1024,
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            max_connections: usize::MAX,
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            socket_receive_buffer: None,
            socket_send_buffer: None,
        }
    }
}

impl ServerOptions {
    /// The most memory our buffers hold for one connection, in bytes: its input (the longest
    /// head, the largest body, and room for a chunked body's framing before it is decoded: a
    /// chunked body is decoded in place, in the input), and the answers its client has not
    /// read: `OUTPUT_LIMIT` and the answer that crossed it (at most `answer_bytes`), in a
    /// buffer that grows by doubling.
    fn buffer_budget(&self, answer_bytes: usize) -> usize {
        let output = 2 * (connection::OUTPUT_LIMIT + answer_bytes);
        self.input_limit() + output
    }

    /// Bytes of input a connection holds at most: the longest head, the largest body and room
    /// for a chunked body's framing not decoded yet.
    pub(crate) fn input_limit(&self) -> usize {
        self.max_request_line
            + self.max_header_bytes
            + self.max_body_bytes
            + connection::CHUNK_SLACK
    }
}

/// A running server: it serves until dropped.
pub struct Server {
    close: Arc<AtomicBool>,
    connections: Arc<Connections>,
    workers: Arc<event::Workers>,
    listening_addr: SocketAddr,
    options: Arc<ServerOptions>,
    /// The kernel's socket buffers of one connection, as granted (`socket::limit_buffers`).
    kernel_buffers: Option<usize>,
}

impl Server {
    /// A server on `listener` that answers each request with `handler`, within `options`.
    pub fn with_handler<H: Handler>(
        listener: TcpListener,
        options: ServerOptions,
        handler: H,
    ) -> io::Result<Server> {
        let listening_addr = listener.local_addr()?;
        let kernel_buffers = socket::limit_buffers(
            &listener,
            options.socket_receive_buffer,
            options.socket_send_buffer,
        )?;
        let options = Arc::new(options);
        let close = Arc::new(AtomicBool::new(false));
        let workers = Arc::new(event::Workers::start(&options, Arc::new(handler), &close)?);
        let connections = Arc::new(Connections::default());
        let accept = Accept {
            listener,
            max_connections: options.max_connections,
            workers: workers.clone(),
            close: close.clone(),
            connections: connections.clone(),
        };
        spawn("engine accept".into(), move || accept.run())?;
        Ok(Server {
            close,
            connections,
            workers,
            listening_addr,
            options,
            kernel_buffers,
        })
    }

    /// The address the server listens on.
    pub fn server_addr(&self) -> SocketAddr {
        self.listening_addr
    }

    /// How many connections are open.
    pub fn num_connections(&self) -> usize {
        self.connections.open()
    }

    /// The most memory one connection can take, in bytes, when no answer is larger than
    /// `answer_bytes`: our buffers for it, and the kernel's (its socket's receive and send
    /// buffers, as granted). `max_connections` times this is the server's worst case. `None`
    /// when the kernel sizes the socket buffers itself (`ServerOptions::socket_receive_buffer`
    /// or `socket_send_buffer` is `None`): then there is no bound to state.
    pub fn connection_budget(&self, answer_bytes: usize) -> Option<usize> {
        Some(self.options.buffer_budget(answer_bytes) + self.kernel_buffers?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        self.connections.wake();
        self.workers.wake_all();
        // Connect briefly to ourselves to unblock the accept thread.
        if let Ok(stream) = TcpStream::connect(self.listening_addr) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The accept thread: it accepts connections while there is room for them, and hands each one
/// to the next worker.
///
/// fogdeft patch (see PATCHED.md, "Accept forever"): upstream ended this loop at the first
/// accept error (tiny-http issue #283), and the server stayed alive but deaf. Errors now pause
/// the loop briefly, longer each time in a row (as Go's net/http does), and it goes on.
struct Accept {
    listener: TcpListener,
    max_connections: usize,
    workers: Arc<event::Workers>,
    close: Arc<AtomicBool>,
    connections: Arc<Connections>,
}

impl Accept {
    fn run(self) {
        let mut pause = Duration::ZERO;
        let mut report = Report::default();
        while !self.close.load(Relaxed) {
            let Some(slot) = self
                .connections
                .wait_for_room(self.max_connections, &self.close)
            else {
                break;
            };
            match socket::accept(&self.listener) {
                Ok((connection, remote_addr)) => {
                    pause = Duration::ZERO;
                    self.workers.adopt(connection, remote_addr, slot);
                }
                Err(_) if self.close.load(Relaxed) => break,
                Err(error) => {
                    // Out of descriptors or memory: give connections time to close.
                    pause = (pause * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    report.error(&error, Instant::now(), &mut io::stderr());
                    thread::sleep(pause);
                }
            }
        }
    }
}

/// Accept errors, on stderr: one line a second at most, which counts the ones left out since
/// the line before. (Out of descriptors, every accept fails until a connection closes.)
#[derive(Default)]
struct Report {
    last: Option<Instant>,
    left_out: u64,
}

impl Report {
    /// Writes `error`, which happened `now`, to `out` (stderr) unless a line went out less than
    /// a second ago.
    fn error(&mut self, error: &io::Error, now: Instant, out: &mut impl Write) {
        if self
            .last
            .is_some_and(|last| now < last + Duration::from_secs(1))
        {
            self.left_out += 1;
            return;
        }
        // Not `eprintln!`, which panics when stderr is gone.
        let _ = match self.left_out {
            0 => writeln!(out, "engine: accept failed: {error} (retrying)"),
            n => writeln!(
                out,
                "engine: accept failed: {error} (retrying; {n} more since the last line)"
            ),
        };
        (self.last, self.left_out) = (Some(now), 0);
    }
}

/// Starts one of the engine's threads. The engine's one panic rule: a panic is a bug, and it
/// ends the process, in every build, so that Docker or systemd starts it again. Release builds
/// abort on a panic anyway (`panic = "abort"`); where panics unwind (tests), a panic would end
/// only its thread, and leave a server that looks alive but serves fewer connections, or none.
pub(crate) fn spawn(name: String, run: impl FnOnce() + Send + 'static) -> io::Result<()> {
    struct AbortOnPanic;
    impl Drop for AbortOnPanic {
        fn drop(&mut self) {
            if thread::panicking() {
                std::process::abort();
            }
        }
    }
    thread::Builder::new().name(name).spawn(move || {
        let _abort = AbortOnPanic;
        run()
    })?;
    Ok(())
}

/// The count of open connections, with a way to wait for room under the limit.
#[derive(Default)]
struct Connections {
    open: Mutex<usize>,
    room: Condvar,
}

/// One open connection's place in the count; dropping it makes room for another.
pub(crate) struct Slot(Arc<Connections>);

impl Connections {
    fn open(&self) -> usize {
        *self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until fewer than `max` are open, and takes a place. `None` once the server closes.
    fn wait_for_room(self: &Arc<Self>, max: usize, close: &AtomicBool) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while *open >= max {
            if close.load(Relaxed) {
                return None;
            }
            open = self.room.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        *open += 1;
        Some(Slot(self.clone()))
    }

    /// Wakes the accept thread, for example to see that the server closes.
    fn wake(&self) {
        let _guard = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.room.notify_all();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        *open -= 1;
        self.0.room.notify_one();
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_connection_budget_counts_the_kernels_buffers_once_they_are_set() {
        // The budget less our buffers' part: the kernel's, for buffers of 4 KiB asked.
        let kernels_part = |receive, send| {
            let options = ServerOptions {
                socket_receive_buffer: receive,
                socket_send_buffer: send,
                workers: 1,
                ..ServerOptions::default()
            };
            let ours = options.buffer_budget(1000);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let server =
                Server::with_handler(listener, options, |_: &Request<'_>| Response::empty(204))
                    .unwrap();
            server.connection_budget(1000).map(|budget| budget - ours)
        };
        let both = kernels_part(Some(4096), Some(4096)).unwrap();
        assert!((8192..=16384).contains(&both), "{both} bytes"); // Linux doubles them
        assert_eq!(kernels_part(Some(4096), None), None);
        assert_eq!(kernels_part(None, None), None);
    }

    #[test]
    fn accept_errors_are_reported_once_a_second_with_a_count() {
        let (mut report, mut out) = (Report::default(), Vec::new());
        let error = io::Error::from_raw_os_error(libc::EMFILE);
        let start = Instant::now();
        for tenth in [0, 1, 2, 9, 10, 11, 25] {
            report.error(&error, start + Duration::from_millis(tenth * 100), &mut out);
        }
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].ends_with("(os error 24) (retrying)"), "{out}");
        assert!(
            lines[1].ends_with("(retrying; 3 more since the last line)"),
            "{out}"
        );
        assert!(
            lines[2].ends_with("(retrying; 1 more since the last line)"),
            "{out}"
        );
    }
}
