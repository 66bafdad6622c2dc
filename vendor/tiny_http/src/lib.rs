//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
//!
//! ## Answering where the request was read (fogdeft patch)
//!
//! `Server::with_handler` calls a handler for each request on the thread that read it, instead
//! of queueing it for `recv()`: no hand-over between threads. On Linux that thread is one of a
//! few event-loop workers that serve every connection (`event.rs`); a client that stalls holds
//! only its own connection.
//!
//! ```no_run
//! let listener = std::net::TcpListener::bind("0.0.0.0:8000").unwrap();
//! let options = tiny_http::ServerOptions::default();
//! let _server = tiny_http::Server::with_handler(listener, options, |request| {
//!     let _ = request.respond(tiny_http::Response::from_string("hello"));
//! });
//! ```
#![deny(unsafe_code)] // but in the epoll calls of event.rs
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, HeaderValue, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;

mod client;
mod common;
mod connection;
#[cfg(target_os = "linux")]
mod event;
mod head;
mod request;
mod response;
mod test;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for requests received by connection threads (not used with a handler)
    messages: Arc<MessagesQueue<Request>>,

    // the open connections, and room for more
    connections: Arc<Connections>,

    // where requests go
    dispatch: Dispatch,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,
}

// The server is shared between threads.
const _: fn() = || {
    fn must_be_sync_and_send<T: Sync + Send>() {}
    must_be_sync_and_send::<Server>();
};

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,

    /// Must be `None`: this fork serves plain HTTP only (fogdeft patch, see PATCHED.md, "No TLS").
    pub ssl: Option<SslConfig>,
}

/// Configuration of the server for SSL.
#[derive(Debug, Clone)]
pub struct SslConfig {
    /// Contains the public certificate to send to clients.
    pub certificate: Vec<u8>,
    /// Contains the ultra-secret private key used to decode communications.
    pub private_key: Vec<u8>,
}

/// How the server protects itself from its clients (fogdeft patch, see PATCHED.md). The
/// defaults are nginx's, where it has one.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest request line (method, target and version), in bytes. Longer: 414 and close.
    pub max_request_line: usize,
    /// Largest header section (every header line), in bytes. Larger: 431 and close.
    pub max_header_bytes: usize,
    /// Most header fields in one request. More: 431 and close.
    pub max_headers: usize,
    /// Time for a whole request head to arrive, from its first byte. Slower: 408 and close.
    pub header_timeout: Option<Duration>,
    /// How long a connection may wait for its next request, and how long any one read of a
    /// request body or write of a response may block. Then the connection is closed.
    pub idle_timeout: Option<Duration>,
    /// Open connections at most. At the limit the server accepts no more until one closes;
    /// clients wait in the listening socket's queue.
    pub max_connections: usize,
    /// Stack size of the threads that serve a connection each (`with_options`, and
    /// `with_handler` elsewhere than Linux); `None` takes Rust's default.
    pub thread_stack_size: Option<usize>,
    /// With a handler on Linux: the event-loop threads that serve every connection.
    pub workers: usize,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_request_line: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            header_timeout: Some(Duration::from_secs(60)),
            idle_timeout: Some(Duration::from_secs(75)),
            max_connections: usize::MAX,
            thread_stack_size: None,
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Where the requests of every connection go.
#[derive(Clone)]
enum Dispatch {
    /// To this function, on a thread per connection: into the queue that `recv()` reads, or to
    /// the handler where there is no event loop.
    Threads(Arc<dyn Fn(Request) + Send + Sync>),
    /// To the handler of these event-loop workers.
    #[cfg(target_os = "linux")]
    Events(Arc<event::Workers>),
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: None,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
            ssl: None,
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener, config.ssl)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        if ssl_config.is_some() {
            return Err("this tiny_http serves plain HTTP only: terminate TLS in a proxy".into());
        }
        Self::with_options(listener, ServerOptions::default())
    }

    /// A server on `listener` whose requests are read with `recv()`, within `options`.
    pub fn with_options<L: Into<Listener>>(
        listener: L,
        options: ServerOptions,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let messages = MessagesQueue::with_capacity(8);
        let queue = messages.clone();
        let dispatch = Dispatch::Threads(Arc::new(move |request| queue.push(request)));
        let close = Arc::new(AtomicBool::new(false));
        Self::start(
            listener.into(),
            Arc::new(options),
            dispatch,
            messages,
            close,
        )
    }

    /// A server on `listener` that answers each request with `handler`, within `options`.
    /// `recv()` then gets nothing. On Linux an event loop serves every connection
    /// (`options.workers` threads, see `event.rs`): the handler must answer before it returns,
    /// and not block. Elsewhere each connection has a thread, which calls the handler.
    pub fn with_handler<L, H>(
        listener: L,
        options: ServerOptions,
        handler: H,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        L: Into<Listener>,
        H: Fn(Request) + Send + Sync + 'static,
    {
        let messages = MessagesQueue::with_capacity(0);
        let options = Arc::new(options);
        let close = Arc::new(AtomicBool::new(false));
        #[cfg(target_os = "linux")]
        let dispatch = Dispatch::Events(Arc::new(event::Workers::start(
            &options,
            Arc::new(handler),
            &close,
        )?));
        #[cfg(not(target_os = "linux"))]
        let dispatch = Dispatch::Threads(Arc::new(handler));
        Self::start(listener.into(), options, dispatch, messages, close)
    }

    fn start(
        listener: Listener,
        options: Arc<ServerOptions>,
        dispatch: Dispatch,
        messages: Arc<MessagesQueue<Request>>,
        close: Arc<AtomicBool>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let local_addr = listener.local_addr()?;
        log::debug!("Server listening on {}", local_addr);
        let connections = Arc::new(Connections::default());

        let accept = Accept {
            listener,
            options,
            dispatch: dispatch.clone(),
            close: close.clone(),
            connections: connections.clone(),
        };
        thread::Builder::new()
            .name("tiny_http accept".into())
            .spawn(move || accept.run())?;

        Ok(Server {
            messages,
            close,
            connections,
            dispatch,
            listening_addr: local_addr,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        self.connections.open()
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(rq) => Ok(rq),
            None => Err(IoError::other("thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        Ok(self.messages.pop_timeout(timeout))
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        Ok(self.messages.try_pop())
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        self.connections.wake();
        #[cfg(target_os = "linux")]
        if let Dispatch::Events(workers) = &self.dispatch {
            workers.wake_all();
        }
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The accept thread: it accepts connections while there is room for them, and hands each one
/// to the event loop or to a thread of its own.
///
/// fogdeft patch (see PATCHED.md, "Accept forever"): upstream ended this loop at the first
/// accept error (tiny-http issue #283), and the server stayed alive but deaf. Errors now pause
/// the loop briefly, longer each time in a row (as Go's net/http does), and it goes on.
struct Accept {
    listener: Listener,
    options: Arc<ServerOptions>,
    dispatch: Dispatch,
    close: Arc<AtomicBool>,
    connections: Arc<Connections>,
}

impl Accept {
    fn run(self) {
        // Without an event loop, each connection gets a thread of this pool.
        let pool = match self.dispatch {
            #[cfg(target_os = "linux")]
            Dispatch::Events(_) => None,
            Dispatch::Threads(_) => Some(util::TaskPool::new(self.options.thread_stack_size)),
        };
        let mut pause = Duration::ZERO;
        log::debug!("Running accept thread");
        while !self.close.load(Relaxed) {
            let slot = match self.connections.wait_for_room(&self.options, &self.close) {
                Some(slot) => slot,
                None => break,
            };
            let accepted = self.listener.accept();
            let failure = accepted.and_then(|(connection, remote_addr)| {
                self.serve(connection, remote_addr, slot, pool.as_ref())
            });
            match failure {
                Ok(()) => pause = Duration::ZERO,
                Err(_) if self.close.load(Relaxed) => break,
                Err(error) => {
                    // Out of descriptors, memory or threads: give connections time to close.
                    pause = (pause * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    log::error!("Error accepting new client: {} (retrying)", error);
                    thread::sleep(pause);
                }
            }
        }
        log::debug!("Terminating accept thread");
    }

    /// Hands a new connection to the event loop, or to a thread of its own. When no thread
    /// can be started, the connection is dropped, and so closed.
    fn serve(
        &self,
        connection: Connection,
        remote_addr: Option<std::net::SocketAddr>,
        slot: Slot,
        pool: Option<&util::TaskPool>,
    ) -> IoResult<()> {
        let deliver: Arc<dyn Fn(Request) + Send + Sync> = match &self.dispatch {
            #[cfg(target_os = "linux")]
            Dispatch::Events(workers) => {
                workers.adopt(connection, remote_addr, slot);
                return Ok(());
            }
            Dispatch::Threads(deliver) => deliver.clone(),
        };
        let client = ClientConnection::new(connection, remote_addr, self.options.clone());
        let mut task = Some(move || {
            let _slot = slot; // its place in the count, until the connection ends
            client.for_each(|request| deliver(request));
        });
        let pool = pool.ok_or_else(|| IoError::other("no thread pool"))?;
        pool.spawn(Box::new(move || {
            if let Some(task) = task.take() {
                task()
            }
        }))
    }
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

    /// Waits until fewer than `max_connections` are open, and takes a place. `None` once the
    /// server closes.
    fn wait_for_room(
        self: &Arc<Self>,
        options: &ServerOptions,
        close: &AtomicBool,
    ) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while *open >= options.max_connections {
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
