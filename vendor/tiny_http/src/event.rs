//! The event loop: a few worker threads, one per core by default, each with an epoll instance
//! of its own. The accept thread hands each new connection to the next worker; the worker
//! serves it to the end, a bounded turn at a time (`connection.rs`).
//!
//! Fair by construction: sockets are edge-triggered, so epoll reports each readiness once, and
//! the worker keeps its own list of connections that want a turn (`ready`). Each round gives
//! every connection on the list one turn, in order; one that still has work goes to the back,
//! behind the connections that became ready meanwhile (epoll is asked without waiting while the
//! list is not empty). A client that sends at full speed gets a turn per round, as every other.
#![allow(unsafe_code)] // epoll and eventfd, through libc

use std::collections::VecDeque;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::connection::{Conn, Next, Turn};
use crate::socket::Connection;
use crate::{Handler, ServerOptions, Slot};

/// How often a worker looks for connections past their deadline.
const TICK: Duration = Duration::from_millis(100);
/// Bytes one read takes at most: a turn's share of a connection's input.
const READ_CHUNK: usize = 16 * 1024;
/// The epoll token of a worker's wake-up eventfd; connections use their slot index.
const WAKE: u64 = u64::MAX;

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
        handler: Arc<dyn Handler>,
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
                .spawn(move || shared.run(&options, &*handler, &close))?;
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
        let mut inbox = worker.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.push((connection, remote_addr, slot));
        drop(inbox);
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

    fn run(&self, options: &ServerOptions, handler: &dyn Handler, close: &AtomicBool) {
        let mut connections = Connections::default();
        let mut ready = VecDeque::new();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut scratch = vec![0u8; READ_CHUNK];
        let mut fields = Vec::new();
        let mut date = Date::default();
        let mut next_tick = Instant::now() + TICK;
        while !close.load(Relaxed) {
            // Without waiting while connections want a turn; else until the next tick.
            let wait = match ready.is_empty() {
                true => {
                    next_tick
                        .saturating_duration_since(Instant::now())
                        .as_millis() as i32
                        + 1
                }
                false => 0,
            };
            // SAFETY: epoll_wait writes at most `events.len()` events into `events`.
            let count = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    wait,
                )
            };
            for event in &events[..count.max(0) as usize] {
                let (token, flags) = (event.u64, event.events);
                if token == WAKE {
                    self.adopt_new(&mut connections, &mut ready);
                } else if let Some(connection) = connections.get(token) {
                    connection.on_event(flags);
                    enqueue(&mut ready, connection, token);
                }
            }

            let now = Instant::now();
            date.update();
            let mut turn = Turn {
                options,
                handler,
                scratch: &mut scratch,
                fields: &mut fields,
                date: date.text(),
                now,
            };
            // One round: a turn for each connection that wanted one when it began.
            for _ in 0..ready.len() {
                let Some(token) = ready.pop_front() else {
                    break;
                };
                let Some(connection) = connections.get(token) else {
                    continue;
                };
                connection.queued = false;
                match connection.turn(&mut turn) {
                    Next::Again => enqueue(&mut ready, connection, token),
                    Next::Wait => {}
                    Next::Done => connections.remove(token),
                }
            }

            if now >= next_tick {
                for token in 0..connections.slots.len() as u64 {
                    let Some(connection) = connections.get(token) else {
                        continue;
                    };
                    connection.check_deadlines(now, options, date.text());
                    // One on the ready list is dropped at its turn.
                    if connection.is_done() && !connection.queued {
                        connections.remove(token);
                    }
                }
                next_tick = now + TICK;
            }
        }
    }

    /// Takes the connections the accept thread handed over since the last wake-up; each gets a
    /// turn at once, since its first request may be there already.
    fn adopt_new(&self, connections: &mut Connections, ready: &mut VecDeque<u64>) {
        let mut count = [0u8; 8];
        // SAFETY: reads 8 bytes into a live buffer: this resets the eventfd's counter.
        unsafe { libc::read(self.wake.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        let new = std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()));
        for (socket, remote_addr, slot) in new {
            if socket.prepare().is_err() {
                continue; // dropping it closes it, and frees its slot
            }
            let fd = socket.as_raw_fd();
            let token = connections.insert(Conn::new(socket, remote_addr, slot));
            let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
            match self.watch(fd, token, events as u32) {
                Ok(()) => enqueue(ready, connections.get(token).expect("just inserted"), token),
                Err(_) => connections.remove(token),
            }
        }
    }
}

/// Puts a connection at the back of the ready list, once.
fn enqueue(ready: &mut VecDeque<u64>, connection: &mut Conn, token: u64) {
    if !connection.queued {
        connection.queued = true;
        ready.push_back(token);
    }
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// A worker's connections, by token (their index), with the free places reused. Dropping a
/// connection closes its socket, which also takes it out of epoll.
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

    fn remove(&mut self, token: u64) {
        if let Some(slot) = self.slots.get_mut(token as usize) {
            if slot.take().is_some() {
                self.free.push(token as usize);
            }
        }
    }
}

/// The `Date` of answers (RFC 9110, section 6.6.1), formatted once a second.
#[derive(Default)]
struct Date {
    second: u64,
    text: [u8; 29],
}

impl Date {
    fn update(&mut self) {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            let mut text = &mut self.text[..];
            let _ = write!(text, "{}", httpdate::HttpDate::from(now));
        }
    }

    fn text(&self) -> &[u8] {
        &self.text
    }
}
