//! `ServerOptions::max_connections` (fogdeft patch "Connection limit"): at the limit the server
//! accepts no more, and clients wait in the listening socket's queue instead of being refused.
//! Linux only: the queue is read from /proc.
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use fogdeft_engine::ServerOptions;
use support::{get, hello_server};

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
    // A third client waits in the listening queue, and is served once a place is free. The
    // test waits until the kernel shows it queued; a server that accepted it would never let
    // that happen, or only for a moment.
    let waiting = std::thread::spawn(move || get(address));
    while queued(address.port()) < 1 {
        assert!(
            Instant::now() < deadline,
            "the third connection never waited in the queue (accepted: {})",
            server.num_connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.num_connections(), 2);
    drop(idle);
    assert!(waiting.join().unwrap().unwrap().ends_with("hello"));
}

/// Connections waiting in the accept queue of the IPv4 listener on `port`, as Linux shows it:
/// for a listening socket, /proc/net/tcp's rx_queue is that queue's length.
fn queued(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields[1].ends_with(&local) && fields[3] == "0A") // 0A: LISTEN
        .and_then(|fields| fields[4].split_once(':'))
        .map_or(0, |(_, rx)| usize::from_str_radix(rx, 16).unwrap())
}
