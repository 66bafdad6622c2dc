//! `ServerOptions::max_connections` (fogdeft patch "Connection limit"): at the limit the server
//! accepts no more, and clients wait in the listening socket's queue instead of being refused.

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{get, hello_server};
use tiny_http::ServerOptions;

#[test]
fn max_connections_holds_the_rest_in_the_queue() {
    let options = ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    };
    let (server, address) = hello_server(options);
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
