//! The event loop: a few worker threads, one per core by default, each with a `mio::Poll` of its
//! own (epoll on Linux, kqueue on macOS and the BSDs). The accept thread hands each new
//! connection to the next worker; the worker serves it to the end, a bounded turn at a time
//! (`connection.rs`), as in mio's own tcp_server example.
//!
//! Fair by construction: mio's sockets are edge-triggered, so each readiness is reported once,
//! and the worker keeps its own list of connections that want a turn (`Connections::ready`).
//! Each round gives every connection on the list one turn, in order; one that still has work
//! goes to the back, behind the connections that became ready meanwhile (the poll does not wait
//! while the list is not empty). A client that sends at full speed gets a turn per round, as
//! every other.
//!
//! A handler may hold its answer until a time (`Response::hold_until`): the connection keeps it
//! and says when (`Next::WaitUntil`), and the worker keeps these times in a heap, waits no longer
//! than the earliest, and then gives that connection a turn. No worker ever sleeps for one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::connection::{Conn, Next, Turn};
use crate::socket::Connection;
use crate::{Handler, ServerOptions, Slot};

/// How often a worker looks for connections past their deadline.
const TICK: Duration = Duration::from_millis(100);
/// Bytes one read takes at most: a turn's share of a connection's input.
const READ_CHUNK: usize = 16 * 1024;
/// The token of a worker's waker; connections use their slot index.
const WAKE: Token = Token(usize::MAX);

/// The workers of one server.
pub(crate) struct Workers {
    workers: Vec<Arc<Worker>>,
    next: AtomicUsize,
}

/// What a worker shares with the accept thread: a way to wake it, and the connections handed to
/// it since it last looked. Its `Poll` belongs to its thread alone.
struct Worker {
    waker: Waker,
    inbox: Mutex<Vec<(Connection, SocketAddr, Slot)>>,
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
            let poll = Poll::new()?;
            let worker = Arc::new(Worker {
                waker: Waker::new(poll.registry(), WAKE)?,
                inbox: Mutex::new(Vec::new()),
            });
            let (shared, options, handler, close) = (
                worker.clone(),
                options.clone(),
                handler.clone(),
                close.clone(),
            );
            crate::spawn(format!("engine worker {number}"), move || {
                shared.run(poll, &options, &*handler, &close)
            })?;
            workers.push(worker);
        }
        Ok(Workers {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands a new connection to the next worker.
    pub fn adopt(&self, connection: Connection, remote_addr: SocketAddr, slot: Slot) {
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
    fn wake(&self) {
        // A write to an eventfd (Linux) or a kqueue (macOS) that has no reason to fail; if it
        // did, the new connection would wait in the inbox for the next wake-up.
        let _ = self.waker.wake();
    }

    fn run(
        &self,
        mut poll: Poll,
        options: &ServerOptions,
        handler: &dyn Handler,
        close: &AtomicBool,
    ) {
        let mut connections = Connections::default();
        let mut events = Events::with_capacity(256);
        let mut scratch = vec![0u8; READ_CHUNK];
        let mut fields = Vec::new();
        let mut date = Date::default();
        let mut next_tick = Instant::now() + TICK;
        while !close.load(Relaxed) {
            // Without waiting while connections want a turn; else until the next tick or the
            // earliest held answer's time (mio rounds the wait up to whole milliseconds, so
            // that time has come when it ends).
            let wait = match connections.ready.is_empty() {
                true => {
                    let until = connections
                        .next_timer()
                        .map_or(next_tick, |t| t.min(next_tick));
                    until.saturating_duration_since(Instant::now())
                }
                false => Duration::ZERO,
            };
            // An interrupted wait (EINTR) is a round with no events.
            let _ = poll.poll(&mut events, Some(wait));
            for event in &events {
                match event.token() {
                    WAKE => self.adopt_new(poll.registry(), &mut connections),
                    Token(token) => {
                        if let Some(connection) = connections.get(token) {
                            connection.on_event(event);
                            connections.enqueue(token);
                        }
                    }
                }
            }

            let now = Instant::now();
            connections.wake_timers(now);
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
            for _ in 0..connections.ready.len() {
                let Some((token, connection)) = connections.next_ready() else {
                    break;
                };
                match connection.turn(&mut turn) {
                    Next::Again => connections.enqueue(token),
                    Next::Wait => {}
                    Next::WaitUntil(until) => connections.set_timer(token, until),
                    Next::Done => connections.remove(token),
                }
            }

            if now >= next_tick {
                for token in 0..connections.slots.len() {
                    let Some(connection) = connections.get(token) else {
                        continue;
                    };
                    connection.check_deadlines(now, options, date.text());
                    if connection.is_done() {
                        connections.remove(token);
                    }
                }
                next_tick = now + TICK;
            }
        }
    }

    /// Takes the connections the accept thread handed over since the last wake-up; each gets a
    /// turn at once, since its first request may be there already.
    fn adopt_new(&self, registry: &Registry, connections: &mut Connections) {
        let new = std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()));
        for (socket, remote_addr, slot) in new {
            // One that cannot be registered is dropped: that closes it, and frees its slot.
            if let Ok(token) = connections.insert(registry, socket, remote_addr, slot) {
                connections.enqueue(token);
            }
        }
    }
}

/// A worker's connections, by token (their index), with the free places reused, and the list of
/// those that want a turn. Both rules of that list are kept here, where it is the only code that
/// touches it: a connection is on it once at most, and a listed token is not reused (a new
/// connection would take the old one's turn). Dropping a connection closes its socket, which
/// also takes it out of the worker's epoll or kqueue. (mio's documentation asks for `deregister`
/// first, in general; on Unix its sockets keep no state in the poll, and closing does the same
/// in the kernel without one more system call.)
#[derive(Default)]
struct Connections {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// The tokens of the connections that want a turn, in order.
    ready: VecDeque<usize>,
    /// When connections want a turn for their held answers, the earliest first. An entry whose
    /// connection no longer has that time (`Entry::timer`: it is gone, or its token reused) is
    /// dropped when it comes.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
}

struct Entry {
    connection: Conn,
    /// On the ready list.
    queued: bool,
    /// Its time in `timers`, if any: one at a time.
    timer: Option<Instant>,
}

impl Connections {
    /// Registers `socket` for reads and writes, edge-triggered, and keeps it: its token.
    fn insert(
        &mut self,
        registry: &Registry,
        mut socket: Connection,
        remote_addr: SocketAddr,
        slot: Slot,
    ) -> io::Result<usize> {
        let token = self.free.last().copied().unwrap_or(self.slots.len());
        registry.register(
            &mut socket,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let entry = Some(Entry {
            connection: Conn::new(socket, remote_addr, slot),
            queued: false,
            timer: None,
        });
        match self.free.pop() {
            Some(index) => self.slots[index] = entry,
            None => self.slots.push(entry),
        }
        Ok(token)
    }

    fn get(&mut self, token: usize) -> Option<&mut Conn> {
        Some(&mut self.slots.get_mut(token)?.as_mut()?.connection)
    }

    /// Puts a connection at the back of the ready list, once.
    fn enqueue(&mut self, token: usize) {
        if let Some(Some(entry)) = self.slots.get_mut(token) {
            if !entry.queued {
                entry.queued = true;
                self.ready.push_back(token);
            }
        }
    }

    /// Gives a connection a turn at `until` (once, however often its turns ask for that time).
    fn set_timer(&mut self, token: usize, until: Instant) {
        if let Some(Some(entry)) = self.slots.get_mut(token) {
            if entry.timer != Some(until) {
                entry.timer = Some(until);
                self.timers.push(Reverse((until, token)));
            }
        }
    }

    /// The earliest time a connection wants a turn at.
    fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((until, _))| *until)
    }

    /// Puts the connections whose time has come on the ready list.
    fn wake_timers(&mut self, now: Instant) {
        while let Some(&Reverse((until, token))) = self.timers.peek() {
            if until > now {
                break;
            }
            self.timers.pop();
            if let Some(Some(entry)) = self.slots.get_mut(token) {
                if entry.timer == Some(until) {
                    entry.timer = None;
                    self.enqueue(token);
                }
            }
        }
    }

    /// Takes the first connection off the ready list, for its turn.
    fn next_ready(&mut self) -> Option<(usize, &mut Conn)> {
        let token = self.ready.pop_front()?;
        let entry = self.slots.get_mut(token)?.as_mut()?;
        entry.queued = false;
        Some((token, &mut entry.connection))
    }

    /// Drops a connection, which closes it; one on the ready list at its turn.
    fn remove(&mut self, token: usize) {
        if let Some(slot) = self.slots.get_mut(token) {
            if slot.as_ref().is_some_and(|entry| !entry.queued) {
                *slot = None;
                self.free.push(token);
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
