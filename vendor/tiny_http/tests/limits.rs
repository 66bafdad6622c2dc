//! `ServerOptions::max_connections` (fogdeft patch "Connection limit"): at the limit the server
//! accepts no more, and clients wait in the listening socket's queue instead of being refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tiny_http::{Response, Server, ServerOptions};

fn get(address: std::net::SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn max_connections_holds_the_rest_in_the_queue() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let options = ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    };
    let server = Server::with_handler(listener, options, |request| {
        let _ = request.respond(Response::from_string("hello"));
    })
    .unwrap();
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.num_connections() < 2 {
        assert!(
            Instant::now() < deadline,
            "the idle connections were not accepted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A third client waits in the listening queue, and is served once a place is free.
    let waiting = std::thread::spawn(move || get(address));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.num_connections(),
        2,
        "a third connection was accepted"
    );
    drop(idle);
    assert!(waiting.join().unwrap().unwrap().ends_with("hello"));
}
