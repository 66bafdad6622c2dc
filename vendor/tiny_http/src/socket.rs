//! The sockets the server listens on and serves: TCP, or a Unix socket. The accept thread
//! blocks on a std listener; each socket it accepts becomes a non-blocking mio socket for the
//! workers. Set-up rules for a served socket live here, once (`Listener::accept`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::unix::net as unix_net;

use mio::event::Source;
use mio::{Interest, Registry, Token};

/// Where the server accepts connections: a [`TcpListener`] or a [`unix_net::UnixListener`].
pub enum Listener {
    Tcp(TcpListener),
    Unix(unix_net::UnixListener),
}

impl Listener {
    pub(crate) fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            Self::Tcp(l) => l.local_addr().map(ListenAddr::IP),
            Self::Unix(l) => l.local_addr().map(ListenAddr::Unix),
        }
    }

    /// The next client, its socket made ready for the event loop: non-blocking, and for TCP each
    /// response sent at once instead of waiting to fill a packet (Nagle's algorithm).
    pub(crate) fn accept(&self) -> io::Result<(Connection, Option<SocketAddr>)> {
        match self {
            Self::Tcp(l) => {
                let (socket, addr) = l.accept()?;
                let _ = socket.set_nodelay(true); // best effort: only slower without it
                socket.set_nonblocking(true)?;
                let socket = mio::net::TcpStream::from_std(socket);
                Ok((Connection::Tcp(socket), Some(addr)))
            }
            Self::Unix(l) => {
                let (socket, _) = l.accept()?;
                socket.set_nonblocking(true)?;
                let socket = mio::net::UnixStream::from_std(socket);
                Ok((Connection::Unix(socket), None))
            }
        }
    }

    /// Bounds the kernel's buffers of every TCP connection this listener accepts, in bytes
    /// (`None`: the kernel's choice), as nginx's `listen ... rcvbuf= sndbuf=`. Set on the
    /// listener, they cost nothing per accept: each accepted socket inherits the listener's, on
    /// Linux (`sk_clone_lock`) and on macOS and the BSDs (`sonewconn`). Returns what the kernel
    /// may hold for one connection, receive and send buffers as it granted them, read back:
    /// Linux doubles what is asked (room for its own bookkeeping) and has minimums. `None` when
    /// it sizes a buffer itself (it grows them to megabytes), or for a Unix socket, whose
    /// accepted sockets inherit nothing.
    pub(crate) fn limit_buffers(
        &self,
        receive: Option<usize>,
        send: Option<usize>,
    ) -> io::Result<Option<usize>> {
        let Self::Tcp(listener) = self else {
            return Ok(None);
        };
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
}

impl From<TcpListener> for Listener {
    fn from(s: TcpListener) -> Self {
        Self::Tcp(s)
    }
}

impl From<unix_net::UnixListener> for Listener {
    fn from(s: unix_net::UnixListener) -> Self {
        Self::Unix(s)
    }
}

/// One accepted connection's socket, as the workers serve it: non-blocking, for mio.
#[derive(Debug)]
pub(crate) enum Connection {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
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
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn shutdown_write(&mut self) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Write),
            Self::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }
}

/// So that a worker's `Poll` can watch a connection, whichever its kind.
impl Source for Connection {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.register(registry, token, interests),
            Self::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.reregister(registry, token, interests),
            Self::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.deregister(registry),
            Self::Unix(s) => s.deregister(registry),
        }
    }
}

/// The address a server listens on: a [`SocketAddr`] or a Unix socket's address.
#[derive(Debug, Clone)]
pub enum ListenAddr {
    IP(SocketAddr),
    Unix(unix_net::SocketAddr),
}

impl ListenAddr {
    pub fn to_ip(self) -> Option<SocketAddr> {
        match self {
            Self::IP(s) => Some(s),
            Self::Unix(_) => None,
        }
    }

    pub fn to_unix(self) -> Option<unix_net::SocketAddr> {
        match self {
            Self::IP(_) => None,
            Self::Unix(s) => Some(s),
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IP(s) => s.fmt(f),
            Self::Unix(s) => std::fmt::Debug::fmt(s, f),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn tcp_listener() -> Listener {
        Listener::from(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A connection accepted from `listener`, and its buffers as the kernel reports them:
    /// (receive, send).
    fn accepted_buffers(listener: &Listener) -> (usize, usize) {
        let address = listener.local_addr().unwrap().to_ip().unwrap();
        let _client = std::net::TcpStream::connect(address).unwrap();
        let (Connection::Tcp(accepted), _) = listener.accept().unwrap() else {
            panic!("a TCP listener accepted another kind of socket");
        };
        let socket = socket2::SockRef::from(&accepted);
        (
            socket.recv_buffer_size().unwrap(),
            socket.send_buffer_size().unwrap(),
        )
    }

    #[test]
    fn accepted_connections_have_the_buffers_set_on_the_listener_as_granted() {
        let listener = tcp_listener();
        let granted = listener.limit_buffers(Some(4096), Some(16384)).unwrap();
        let (receive, send) = accepted_buffers(&listener);
        assert_eq!(granted, Some(receive + send));
        // What was asked, or twice that on Linux; the kernel's own choice is larger.
        assert!((4096..=8192).contains(&receive), "receive buffer {receive}");
        assert!((16384..=32768).contains(&send), "send buffer {send}");
    }

    #[test]
    fn a_buffer_left_to_the_kernel_leaves_no_bound_to_state() {
        let listener = tcp_listener();
        assert_eq!(listener.limit_buffers(Some(4096), None).unwrap(), None);
        let (receive, _) = accepted_buffers(&listener);
        assert!((4096..=8192).contains(&receive), "receive buffer {receive}");

        let path = std::env::temp_dir().join(format!("tiny_http-buffers-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let unix = Listener::from(unix_net::UnixListener::bind(&path).unwrap());
        let _ = std::fs::remove_file(&path);
        assert_eq!(unix.limit_buffers(Some(4096), Some(4096)).unwrap(), None);
    }
}
