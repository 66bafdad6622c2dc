//! One client socket, shared by the half that reads requests and the half that writes responses.
//!
//! fogdeft patch (see PATCHED.md, "One descriptor"): upstream gave each half its own copy of the
//! socket with `dup`, and `unwrap`ped the result, so running out of file descriptors panicked the
//! accept thread. Both halves now share the socket itself: one descriptor per connection, and
//! nothing to fail.

use std::io::Result as IoResult;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::connection::Connection;

/// The socket of one connection, and whether a response has ended the connection.
pub(crate) struct Socket {
    connection: Connection,
    closing: AtomicBool,
    /// Responses go to a buffer that the event loop writes out (`event.rs`), not straight to
    /// the socket.
    buffered: bool,
}

impl Socket {
    pub(crate) fn new(connection: Connection, buffered: bool) -> Arc<Socket> {
        Arc::new(Socket {
            connection,
            closing: AtomicBool::new(false),
            buffered,
        })
    }

    /// Called once a response that says `Connection: close` has been written: no further request
    /// is read, and the client gets its end of stream right after the response (once the event
    /// loop has written it out, if responses are buffered).
    pub(crate) fn close_after_response(&self) {
        self.closing.store(true, Ordering::Release);
        if !self.buffered {
            let _ = self.connection.shutdown(Shutdown::Write);
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> IoResult<()> {
        self.connection.set_read_timeout(timeout)
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> IoResult<()> {
        self.connection.set_write_timeout(timeout)
    }

    pub(crate) fn set_nodelay(&self) -> IoResult<()> {
        self.connection.set_nodelay()
    }

    /// Reads straight from the socket, past any buffer.
    pub(crate) fn read_raw(&self, buf: &mut [u8]) -> IoResult<usize> {
        (&self.connection).read(buf)
    }
}

/// One half of a connection. Dropping the writing half shuts our side down, so that the client
/// sees the end of the last response; the reading half shuts nothing, so that what the client
/// still sends can be read and discarded (patch "Connection: close"). The socket closes when
/// the last of them goes.
pub struct RefinedTcpStream {
    socket: Arc<Socket>,
    close_write: bool,
}

impl RefinedTcpStream {
    /// The reading half and the writing half of `socket`.
    pub(crate) fn new(socket: &Arc<Socket>) -> (RefinedTcpStream, RefinedTcpStream) {
        let read = RefinedTcpStream {
            socket: Arc::clone(socket),
            close_write: false,
        };
        let write = RefinedTcpStream {
            socket: Arc::clone(socket),
            close_write: true,
        };
        (read, write)
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_write {
            self.socket.connection.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        (&self.socket.connection).read(buf)
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        (&self.socket.connection).write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        Ok(())
    }
}
