//! The event loop behind `Server::with_handler` on Linux (fogdeft patch, see PATCHED.md,
//! "Event loop").
//!
//! A few worker threads, one per core by default, each with an epoll instance of its own, serve
//! every connection: the accept thread hands each new connection to the next worker, which
//! reads its requests as they arrive, calls the handler for each complete one, and writes the
//! responses. A thread per connection would cost a context switch per request; here one
//! `epoll_wait` brings many ready connections at once, as in nginx or Go's net/http.
//!
//! A connection is a small state machine (`Phase`): waiting for a request (idle timeout),
//! reading one (header deadline), or closing (our side shut, reading what the client still
//! sends for `LINGER`). Every `TICK` each worker looks for connections past their deadline.
//! The socket is edge-triggered for reading and writing: every readiness is reported once, so
//! reads go on until the socket has nothing more, and writes until it is full.
//!
//! The handler runs on the worker: it must answer its request before it returns, and not block.
//! A body larger than `BUFFERED_BODY_BYTES` is the exception: the handler reads it straight from
//! the socket, blocking its worker meanwhile, and the connection ends after the response.
#![allow(unsafe_code)] // epoll and eventfd, through libc

use std::io::{self, Cursor, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{is_timeout, LINGER};
use crate::connection::Connection;
use crate::head::{self, HeadScanner, BUFFERED_BODY_BYTES};
use crate::util::Socket;
use crate::{Request, ServerOptions, Slot};

/// How often a worker looks for connections past their deadline.
const TICK: Duration = Duration::from_millis(100);
/// Responses waiting to be written, in bytes, beyond which a connection's further requests
/// wait: a client that sends requests without reading the answers holds this much at most.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// An empty buffer larger than this is freed, so that an idle connection costs little.
const KEEP_CAPACITY: usize = 4096;
/// The epoll token of a worker's wake-up eventfd; connections use their slot index.
const WAKE: u64 = u64::MAX;

pub(crate) type Handler = Arc<dyn Fn(Request) + Send + Sync>;

/// The workers of one server.
pub(crate) struct Workers {
    workers: Vec<Arc<Worker>>,
    next: AtomicUsize,
}

/// What a worker shares with the accept thread: its epoll, a way to wake it, and the
/// connections handed to it since it last looked.
struct Worker {
    epoll: OwnedFd,
    wake: OwnedFd,
    inbox: Mutex<Vec<(Connection, Option<SocketAddr>, Slot)>>,
}

impl Workers {
    /// Starts `options.workers` workers that answer with `handler` until `close` is set.
    pub fn start(
        options: &Arc<ServerOptions>,
        handler: Handler,
        close: &Arc<AtomicBool>,
    ) -> io::Result<Workers> {
        let mut workers = Vec::new();
        for number in 0..options.workers.max(1) {
            let worker = Arc::new(Worker::new()?);
            let (shared, options, handler, close) = (
                worker.clone(),
                options.clone(),
                handler.clone(),
                close.clone(),
            );
            thread::Builder::new()
                .name(format!("tiny_http worker {number}"))
                .spawn(move || shared.run(&options, &handler, &close))?;
            workers.push(worker);
        }
        Ok(Workers {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands a new connection to the next worker.
    pub fn adopt(&self, connection: Connection, remote_addr: Option<SocketAddr>, slot: Slot) {
        let index = self.next.fetch_add(1, Relaxed) % self.workers.len();
        let worker = &self.workers[index];
        worker
            .inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((connection, remote_addr, slot));
        worker.wake();
    }

    /// Wakes every worker, for example to see that the server closes.
    pub fn wake_all(&self) {
        for worker in &self.workers {
            worker.wake();
        }
    }
}

impl Worker {
    fn new() -> io::Result<Worker> {
        // SAFETY: plain system calls; each returned descriptor is owned from here on.
        let (epoll, wake) = unsafe {
            let epoll = check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?;
            let epoll = OwnedFd::from_raw_fd(epoll);
            let wake = check(libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?;
            (epoll, OwnedFd::from_raw_fd(wake))
        };
        let worker = Worker {
            epoll,
            wake,
            inbox: Mutex::new(Vec::new()),
        };
        worker.watch(worker.wake.as_raw_fd(), WAKE, libc::EPOLLIN as u32)?;
        Ok(worker)
    }

    fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd. A full counter is fine: the
        // worker is then awake anyway.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    /// Registers `fd` under `token`.
    fn watch(&self, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: epoll_ctl reads the event we pass.
        check(unsafe {
            libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
        })
        .map(drop)
    }

    fn forget(&self, fd: RawFd) {
        // SAFETY: a plain system call; an error means the descriptor is gone already.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    fn run(&self, options: &ServerOptions, handler: &Handler, close: &AtomicBool) {
        let mut connections = Connections::default();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut scratch = vec![0u8; 16 * 1024];
        let mut next_tick = Instant::now() + TICK;
        while !close.load(Relaxed) {
            let wait = next_tick.saturating_duration_since(Instant::now());
            // SAFETY: epoll_wait writes at most `events.len()` events into `events`.
            let ready = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    wait.as_millis() as i32 + 1,
                )
            };
            for event in &events[..ready.max(0) as usize] {
                let (token, flags) = (event.u64, event.events);
                if token == WAKE {
                    self.adopt_new(&mut connections, options);
                    continue;
                }
                let Some(connection) = connections.get(token) else {
                    continue;
                };
                connection.ready(flags, &mut scratch, options, handler);
                if connection.is_done() {
                    self.drop_connection(&mut connections, token);
                }
            }
            if Instant::now() >= next_tick {
                let now = Instant::now();
                for token in 0..connections.slots.len() as u64 {
                    if let Some(connection) = connections.get(token) {
                        connection.check_deadlines(now, options);
                        if connection.is_done() {
                            self.drop_connection(&mut connections, token);
                        }
                    }
                }
                next_tick = now + TICK;
            }
        }
    }

    /// Takes the connections the accept thread handed over since the last wake-up.
    fn adopt_new(&self, connections: &mut Connections, options: &ServerOptions) {
        let mut count = [0u8; 8];
        // SAFETY: reads 8 bytes into a live buffer: this resets the eventfd's counter.
        unsafe {
            libc::read(
                self.wake.as_raw_fd(),
                count.as_mut_ptr().cast(),
                count.len(),
            )
        };
        let new = std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()));
        for (connection, remote_addr, slot) in new {
            // Best effort: a socket that refuses these still works, only less well.
            let _ = connection.set_nodelay();
            let _ = connection.set_write_timeout(options.idle_timeout);
            if connection.set_nonblocking(true).is_err() {
                continue; // dropping it closes it, and frees its slot
            }
            let fd = connection.as_raw_fd();
            let token = connections.insert(Conn::new(connection, remote_addr, slot));
            let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
            if self.watch(fd, token, events as u32).is_err() {
                connections.remove(token);
            }
        }
    }

    fn drop_connection(&self, connections: &mut Connections, token: u64) {
        if let Some(connection) = connections.remove(token) {
            self.forget(connection.socket.connection().as_raw_fd());
        }
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// A worker's connections, by token (their index), with the free places reused.
#[derive(Default)]
struct Connections {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
}

impl Connections {
    fn insert(&mut self, connection: Conn) -> u64 {
        match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(connection);
                index as u64
            }
            None => {
                self.slots.push(Some(connection));
                (self.slots.len() - 1) as u64
            }
        }
    }

    fn get(&mut self, token: u64) -> Option<&mut Conn> {
        self.slots.get_mut(token as usize)?.as_mut()
    }

    fn remove(&mut self, token: u64) -> Option<Conn> {
        let connection = self.slots.get_mut(token as usize)?.take()?;
        self.free.push(token as usize);
        Some(connection)
    }
}

/// Where a connection stands.
enum Phase {
    /// Waiting for the next request, since then.
    Idle(Instant),
    /// Part of a request is in: the rest must come by then.
    Head(Instant),
    /// Our last response is going out (`None`), or is out and our side shut: then we read what
    /// the client still sends, until it closes or until then.
    Closing(Option<Instant>),
    /// Nothing more to do: the worker drops the connection.
    Done,
}

/// One connection on a worker.
struct Conn {
    socket: Arc<Socket>,
    remote_addr: Option<SocketAddr>,
    /// What has been read and not used yet.
    input: Vec<u8>,
    scanner: HeadScanner,
    /// Responses not yet written; requests write into it, the worker writes it out.
    output: Arc<Mutex<Vec<u8>>>,
    phase: Phase,
    /// The client has closed its end: whatever is in `input` is all that will come.
    read_closed: bool,
    /// The socket may hold more to read than `input` had room for.
    unread: bool,
    /// epoll said the client has closed its end: read on until the end of stream, which may
    /// come right after data, in the same readiness.
    hung_up: bool,
    /// Since when the output has been waiting for the client to read.
    stalled_since: Option<Instant>,
    /// Keeps this connection's place in the server's count.
    _slot: Slot,
}

impl Conn {
    fn new(connection: Connection, remote_addr: Option<SocketAddr>, slot: Slot) -> Conn {
        Conn {
            socket: Socket::new(connection, true),
            remote_addr,
            input: Vec::new(),
            scanner: HeadScanner::default(),
            output: Arc::new(Mutex::new(Vec::new())),
            phase: Phase::Idle(Instant::now()),
            read_closed: false,
            unread: false,
            hung_up: false,
            stalled_since: None,
            _slot: slot,
        }
    }

    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The socket is readable or writable (or both, or closed): catch up on both.
    fn ready(
        &mut self,
        flags: u32,
        scratch: &mut [u8],
        options: &ServerOptions,
        handler: &Handler,
    ) {
        if flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
        {
            self.unread = true;
        }
        if flags & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
            self.hung_up = true;
        }
        self.serve(scratch, options, handler);
    }

    /// Reads what there is, answers every complete request, and writes what it can.
    fn serve(&mut self, scratch: &mut [u8], options: &ServerOptions, handler: &Handler) {
        let room = options.max_request_line + options.max_header_bytes + 2 * scratch.len();
        loop {
            if self.unread && self.input.len() < room {
                self.read(scratch);
            }
            let progress = match self.phase {
                Phase::Idle(_) | Phase::Head(_) => self.answer_next(options, handler),
                Phase::Closing(_) | Phase::Done => false,
            };
            self.write();
            if !progress || self.is_done() {
                break;
            }
        }
        if let Phase::Closing(_) = self.phase {
            // Discard what the client still sends; its close ends the connection, once our
            // answers are out.
            while self.unread && !self.is_done() {
                self.input.clear();
                self.read(scratch);
                if self.read_closed && self.output_len() == 0 {
                    self.phase = Phase::Done;
                }
            }
        }
    }

    /// Reads until the socket has nothing more (or `input` is full enough).
    fn read(&mut self, scratch: &mut [u8]) {
        loop {
            match self.socket.read_raw(scratch) {
                Ok(0) => {
                    self.read_closed = true;
                    self.unread = false;
                    return;
                }
                Ok(read) => {
                    self.input.extend_from_slice(&scratch[..read]);
                    if read < scratch.len() && !self.hung_up {
                        // A short read: the socket is empty for now.
                        self.unread = false;
                        return;
                    }
                    if self.input.len() > 4 * scratch.len() {
                        return; // the rest waits until these requests are answered
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.unread = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.read_closed = true;
                    self.unread = false;
                    self.phase = Phase::Done;
                    return;
                }
            }
        }
    }

    /// Answers the next request if it is all in. Returns whether it did.
    fn answer_next(&mut self, options: &ServerOptions, handler: &Handler) -> bool {
        if self.output_len() > OUTPUT_HIGH_WATER {
            return false; // the client reads slowly: wait for it
        }
        if self.input.is_empty() {
            if self.read_closed {
                self.finish();
            } else if let Phase::Head(_) = self.phase {
                self.phase = Phase::Idle(Instant::now());
            }
            return false;
        }
        if let Phase::Idle(_) = self.phase {
            let deadline = Instant::now() + options.header_timeout.unwrap_or(Duration::MAX / 4);
            self.phase = Phase::Head(deadline);
        }
        let parsed = match self.scanner.end(&self.input, options) {
            Ok(Some(end)) => match head::parse(&self.input[..end], options) {
                Ok(parsed) => (parsed, end),
                Err(code) => return self.refuse(code),
            },
            Ok(None) if self.read_closed => {
                self.finish(); // it will never be complete
                return false;
            }
            Ok(None) => return false,
            Err(code) => return self.refuse(code),
        };
        let (parsed, end) = parsed;
        let streamed = parsed.buffered_body().is_none();
        let (body, close): (Box<dyn Read + Send>, bool) = match parsed.buffered_body() {
            Some(length) if self.input.len() < end + length => {
                if self.read_closed {
                    self.finish(); // it will never be complete
                }
                return false; // the rest of the body is on its way
            }
            Some(length) => {
                let body = self.input[end..end + length].to_vec();
                self.input.drain(..end + length);
                (Box::new(Cursor::new(body)), parsed.close)
            }
            None => {
                // The handler reads the body, if at all, straight from the socket, blocking.
                let rest = Cursor::new(self.input.split_off(end));
                self.input.clear();
                let _ = self.socket.connection().set_nonblocking(false);
                let _ = self.socket.set_read_timeout(options.idle_timeout);
                let source = SocketReader(self.socket.clone());
                (head::streamed_body(&parsed, rest.chain(source)), true)
            }
        };
        self.scanner = HeadScanner::default();
        if self.input.is_empty() && self.input.capacity() > KEEP_CAPACITY {
            self.input = Vec::new(); // an idle connection keeps no burst's buffer
        }
        let writer = Output::new(self);
        let for_the_server = parsed.for_the_server();
        let request = head::request(parsed, self.remote_addr, body, writer, &self.socket, close);
        if for_the_server {
            head::answer_for_the_server(request);
        } else {
            // A handler that panics loses its request (answered 500 as it drops), not the worker.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| handler(request)));
        }
        if streamed {
            let _ = self.socket.connection().set_nonblocking(true);
        }
        if self.socket.is_closing() {
            self.start_closing();
        } else {
            self.phase = Phase::Idle(Instant::now());
        }
        true
    }

    /// Answers with `code` and ends the connection. Returns true: that was progress.
    fn refuse(&mut self, code: u16) -> bool {
        let mut writer = Output::new(self);
        let _ = head::refuse(code, &mut writer);
        self.input.clear();
        self.start_closing();
        true
    }

    /// The client closed its end and every request is answered.
    fn finish(&mut self) {
        self.phase = match self.output_len() {
            0 => Phase::Done,
            _ => Phase::Closing(None),
        };
    }

    fn start_closing(&mut self) {
        self.phase = Phase::Closing(None);
    }

    fn output_len(&self) -> usize {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Writes what it can of the output; shuts our side once a closing connection has none left.
    fn write(&mut self) {
        let pending = {
            let mut output = self.output.lock().unwrap_or_else(|e| e.into_inner());
            match write_some(self.socket.connection(), &mut output) {
                Ok(()) if output.is_empty() && output.capacity() > KEEP_CAPACITY => {
                    *output = Vec::new();
                    0
                }
                Ok(()) => output.len(),
                Err(_) => {
                    self.phase = Phase::Done;
                    return;
                }
            }
        };
        self.stalled_since = match (pending, self.stalled_since) {
            (0, _) => None,
            (_, None) => Some(Instant::now()),
            (_, since) => since,
        };
        if pending == 0 {
            if let Phase::Closing(None) = self.phase {
                if self.read_closed {
                    self.phase = Phase::Done;
                } else {
                    let _ = self.socket.connection().shutdown(std::net::Shutdown::Write);
                    self.phase = Phase::Closing(Some(Instant::now() + LINGER));
                }
            }
        }
    }

    /// Drops an idle connection, refuses a head that is late, and gives up on a client that
    /// does not read its answers or does not close after our last one.
    fn check_deadlines(&mut self, now: Instant, options: &ServerOptions) {
        let idle = options.idle_timeout.unwrap_or(Duration::MAX / 4);
        if self.stalled_since.is_some_and(|since| now > since + idle) {
            self.phase = Phase::Done;
            return;
        }
        match self.phase {
            Phase::Idle(since) if now > since + idle => self.phase = Phase::Done,
            Phase::Head(deadline) if now > deadline => {
                self.refuse(408);
                self.write();
            }
            Phase::Closing(Some(until)) if now > until => self.phase = Phase::Done,
            _ => {}
        }
    }
}

/// Writes from the start of `output` until it is empty or the socket is full.
fn write_some(connection: &Connection, output: &mut Vec<u8>) -> io::Result<()> {
    let mut written = 0;
    let mut socket = connection;
    let result = loop {
        if written == output.len() {
            break Ok(());
        }
        match socket.write(&output[written..]) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    output.drain(..written);
    result
}

/// Where a request writes its response: a buffer of its own, which a flush moves to the
/// connection's output and writes out (a response flushes once complete, `100 Continue` at once).
struct Output {
    response: Vec<u8>,
    buffer: Arc<Mutex<Vec<u8>>>,
    socket: Arc<Socket>,
}

impl Output {
    fn new(connection: &Conn) -> Output {
        Output {
            response: Vec::new(),
            buffer: connection.output.clone(),
            socket: connection.socket.clone(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.response.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.append(&mut self.response);
        write_some(self.socket.connection(), &mut buffer)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.response.is_empty() {
            let _ = self.flush();
        }
    }
}

/// Reads a streamed body straight from the socket.
struct SocketReader(Arc<Socket>);

impl Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_raw(buf)
    }
}

const _: () = assert!(BUFFERED_BODY_BYTES < OUTPUT_HIGH_WATER as u64);
