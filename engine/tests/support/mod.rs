//! Helpers shared by this crate's tests: a server that says hello, and clients on raw sockets.
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use fogdeft_engine::{Request, Response, Server, ServerOptions};

/// A server that answers every request "hello".
pub fn hello_server(options: ServerOptions) -> (Server, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let hello = |_: &Request| Response::from_string("hello");
    (
        Server::with_handler(listener, options, hello).unwrap(),
        address,
    )
}

/// One HTTP/1.0 request for `/` on a new connection, and the whole answer.
pub fn get(address: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Sends `bytes` on a new connection and reads until the server closes it, for up to 5 s:
/// what came back, and whether the server closed the connection.
pub fn exchange(address: SocketAddr, bytes: &[u8]) -> (String, bool) {
    let mut stream = TcpStream::connect(address).unwrap();
    let _ = stream.write_all(bytes); // a server that refuses early may close before the end
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
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
