//! One client connection served by a thread of its own: it reads each request head within the
//! server's limits and deadlines, and turns it into a `Request`. A head that is malformed, too
//! large, too slow or of another HTTP version gets its status code (400, 408, 414, 417, 431,
//! 501 or 505) with `Connection: close`, and the connection ends. `Server::with_options` (and
//! so `recv()`) serves this way; `Server::with_handler` uses the event loop of `event.rs`.
//!
//! fogdeft patches (see PATCHED.md): "Head limits", "Head deadline and idle timeout", "No
//! drain", "Connection: close" and "One descriptor" (the peer address).

use std::io::{self, BufWriter, Cursor, ErrorKind, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connection::Connection;
use crate::head::{self, HeadScanner};
use crate::util::{RefinedTcpStream, SequentialWriterBuilder, Socket};
use crate::{Request, ServerOptions};

/// After the last response, how long the client gets to read it and close its end before we
/// close ours. Closing a socket with unread input sends a reset, which can destroy the response
/// before the client has read it.
pub(crate) const LINGER: Duration = Duration::from_millis(500);

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    remote_addr: Option<SocketAddr>,
    socket: Arc<Socket>,
    options: Arc<ServerOptions>,

    /// The reading half; `None` once a request took it to read its body.
    source: Option<RefinedTcpStream>,

    /// What has been read and not used yet: the start of the next request.
    buffer: Vec<u8>,

    /// Where responses go, in the order of the requests, even if answered out of order.
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    /// What the socket's read timeout is now, so that it is set only when it changes.
    read_timeout: Option<Duration>,

    /// The last request said that the connection ends after its response.
    no_more_requests: bool,
}

/// Why no request was read.
#[derive(Debug, PartialEq)]
enum ReadError {
    /// The client closed, stayed quiet between requests, or the socket failed: nothing to say.
    Gone,
    /// The request is refused with this status code, and the connection ends.
    Refused(u16),
}

use ReadError::{Gone, Refused};

impl ClientConnection {
    /// Takes a freshly accepted connection. `remote_addr` is the address `accept` returned.
    pub(crate) fn new(
        connection: Connection,
        remote_addr: Option<SocketAddr>,
        options: Arc<ServerOptions>,
    ) -> ClientConnection {
        let socket = Socket::new(connection, false);
        // Best effort: a socket that refuses these still works, only less well.
        let _ = socket.set_nodelay();
        let _ = socket.set_write_timeout(options.idle_timeout);
        let (read, write) = RefinedTcpStream::new(&socket);

        ClientConnection {
            remote_addr,
            socket,
            options,
            source: Some(read),
            buffer: Vec::with_capacity(1024),
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write)),
            read_timeout: None,
            no_more_requests: false,
        }
    }

    /// Reads the next request: its head, then its body or what will read it. True: the request
    /// is about the server itself (`OPTIONS *`), which we answer, not the caller.
    fn read_request(&mut self) -> Result<(Request, bool), ReadError> {
        let options = Arc::clone(&self.options);
        // Between requests, the client may take `idle_timeout` to start the next one, and then
        // `header_timeout` for the whole head.
        if self.buffer.is_empty() {
            self.read_more(None)?;
        }
        let deadline = options.header_timeout.map(|limit| Instant::now() + limit);
        let mut scanner = HeadScanner::default();
        let end = loop {
            match scanner.end(&self.buffer, &options).map_err(Refused)? {
                Some(end) => break end,
                None => self.read_more(deadline)?,
            }
        };
        let parsed = head::parse(&self.buffer[..end], &options).map_err(Refused)?;

        // A small body is read now; anything else is read by the handler, if at all, straight
        // from the connection, which then ends after the response.
        let body: Box<dyn Read + Send> = match parsed.buffered_body() {
            Some(length) => {
                while self.buffer.len() < end + length {
                    self.read_more(deadline)?;
                }
                let body = self.buffer[end..end + length].to_vec();
                self.buffer.drain(..end + length);
                Box::new(Cursor::new(body))
            }
            None => {
                // Reads of the body may each take up to `idle_timeout`, as any read between
                // requests.
                self.set_read_timeout(options.idle_timeout)?;
                let rest = Cursor::new(self.buffer.split_off(end));
                self.buffer.clear();
                let source = self.source.take().ok_or(Gone)?;
                head::streamed_body(&parsed, rest.chain(source))
            }
        };
        let close = parsed.close || parsed.buffered_body().is_none();
        self.no_more_requests = close;
        let for_the_server = parsed.for_the_server();
        let request = head::request(
            parsed,
            self.remote_addr,
            body,
            self.sink.next_writer(),
            &self.socket,
            close,
        );
        Ok((request, for_the_server))
    }

    /// Reads more of the request into the buffer. With no `deadline` (between requests) it
    /// waits up to the idle timeout and a timeout means the client is gone; with one, a
    /// timeout is a 408.
    fn read_more(&mut self, deadline: Option<Instant>) -> Result<(), ReadError> {
        let timeout = match deadline {
            None => self.options.idle_timeout,
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(Refused(408)),
            },
        };
        self.set_read_timeout(timeout)?;
        let source = self.source.as_mut().ok_or(Gone)?;
        let mut chunk = [0u8; 4096];
        match source.read(&mut chunk) {
            Ok(0) => Err(Gone),
            Ok(read) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                Ok(())
            }
            Err(e) if is_timeout(&e) && deadline.is_some() => Err(Refused(408)),
            Err(_) => Err(Gone),
        }
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ReadError> {
        // A zero timeout would mean "wait forever" to the socket.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.read_timeout != timeout {
            self.socket.set_read_timeout(timeout).map_err(|_| Gone)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    /// Answers a refused request with its status code, and ends the connection after it.
    fn refuse(&mut self, code: u16) {
        let mut writer = self.sink.next_writer();
        let _ = head::refuse(code, &mut writer);
        self.socket.close_after_response();
    }

    /// Once our side is shut, reads and discards what the client still sends, until it closes
    /// its end or `LINGER` has passed (see `LINGER`).
    fn linger(&mut self) {
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.socket.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.socket.read_raw(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        loop {
            if self.no_more_requests || self.socket.is_closing() {
                // A response closed the connection: let the client see all of it. (With `recv`,
                // the response may still be on its way: then the last writer closes it.)
                if self.socket.is_closing() {
                    self.linger();
                }
                return None;
            }
            match self.read_request() {
                Ok((request, true)) => head::answer_for_the_server(request),
                Ok((request, false)) => return Some(request),
                Err(Gone) => return None,
                Err(Refused(code)) => {
                    self.refuse(code);
                    self.linger();
                    return None;
                }
            }
        }
    }
}
