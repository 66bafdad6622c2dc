//! The socket the server listens on and the ones it serves: TCP. The accept thread blocks on a
//! std listener; each socket it accepts becomes a non-blocking mio socket for the workers.
//! Set-up rules for a served socket live here, once (`accept`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};

/// One accepted connection's socket, as the workers serve it: non-blocking, for mio.
pub(crate) type Connection = mio::net::TcpStream;

/// The next client, its socket made ready for the event loop: non-blocking, and each response
/// sent at once instead of waiting to fill a packet (Nagle's algorithm).
pub(crate) fn accept(listener: &TcpListener) -> io::Result<(Connection, SocketAddr)> {
    let (socket, addr) = listener.accept()?;
    let _ = socket.set_nodelay(true); // best effort: only slower without it
    socket.set_nonblocking(true)?;
    Ok((Connection::from_std(socket), addr))
}

/// Bounds the kernel's buffers of every connection `listener` accepts, in bytes (`None`: the
/// kernel's choice), as nginx's `listen ... rcvbuf= sndbuf=`. Set on the listener, they cost
/// nothing per accept: each accepted socket inherits the listener's, on Linux (`sk_clone_lock`)
/// and on macOS and the BSDs (`sonewconn`). Returns what the kernel may hold for one connection,
/// receive and send buffers as it granted them, read back: Linux doubles what is asked (room for
/// its own bookkeeping) and has minimums. `None` when it sizes a buffer itself (it grows them to
/// megabytes).
pub(crate) fn limit_buffers(
    listener: &TcpListener,
    receive: Option<usize>,
    send: Option<usize>,
) -> io::Result<Option<usize>> {
    let socket = socket2::SockRef::from(listener);
    if let Some(bytes) = receive {
        socket.set_recv_buffer_size(bytes)?;
    }
    if let Some(bytes) = send {
        socket.set_send_buffer_size(bytes)?;
    }
    match (receive, send) {
        (Some(_), Some(_)) => Ok(Some(
            socket.recv_buffer_size()? + socket.send_buffer_size()?,
        )),
        _ => Ok(None),
    }
}

/// What a connection reads its requests from and writes its answers to: an accepted socket
/// here, and bytes in memory for the fuzz checks (`fuzzing.rs`). Non-blocking: `WouldBlock`
/// when there is nothing to read or no room to write.
pub(crate) trait Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Ends our sending side: the client reads to the end of our last response.
    fn shutdown_write(&mut self);
}

impl Socket for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn shutdown_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn tcp_listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").unwrap()
    }

    /// A connection accepted from `listener`, and its buffers as the kernel reports them:
    /// (receive, send).
    fn accepted_buffers(listener: &TcpListener) -> (usize, usize) {
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = accept(listener).unwrap();
        let socket = socket2::SockRef::from(&accepted);
        (
            socket.recv_buffer_size().unwrap(),
            socket.send_buffer_size().unwrap(),
        )
    }

    #[test]
    fn accepted_connections_have_the_buffers_set_on_the_listener_as_granted() {
        let listener = tcp_listener();
        let granted = limit_buffers(&listener, Some(4096), Some(16384)).unwrap();
        let (receive, send) = accepted_buffers(&listener);
        assert_eq!(granted, Some(receive + send));
        // What was asked, or twice that on Linux; the kernel's own choice is larger.
        assert!((4096..=8192).contains(&receive), "receive buffer {receive}");
        assert!((16384..=32768).contains(&send), "send buffer {send}");
    }

    #[test]
    fn a_buffer_left_to_the_kernel_leaves_no_bound_to_state() {
        let listener = tcp_listener();
        assert_eq!(limit_buffers(&listener, Some(4096), None).unwrap(), None);
        let (receive, _) = accepted_buffers(&listener);
        assert!((4096..=8192).contains(&receive), "receive buffer {receive}");
    }
}
