//! Answers held until a time (`Response::hold_until`, fogdeft patch "Held answers"): each goes
//! out no earlier than its time, in order with the requests around it, and its worker serves the
//! other connections meanwhile.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fogdeft_engine::{Request, Response, Server, ServerOptions};
use support::exchange;

/// How long `/held` is held.
const HOLD: Duration = Duration::from_millis(400);

/// One worker, which answers `/held` with "held" no earlier than `HOLD` after the request, and
/// any other path with its path at once. Each time it holds one, it says so on the channel.
fn holding_server() -> (Server, SocketAddr, Receiver<()>) {
    let (held, told) = mpsc::channel();
    let held = Mutex::new(held);
    let handler = move |request: &Request<'_>| {
        if request.url() != "/held" {
            return Response::from_data(request.url().to_string());
        }
        let mut response = Response::from_slice(b"held");
        response.hold_until(Instant::now() + HOLD);
        let _ = held.lock().unwrap().send(());
        response
    };
    let options = ServerOptions {
        workers: 1,
        ..ServerOptions::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::with_handler(listener, options, handler).unwrap();
    (server, address, told)
}

/// The bodies of the answers in `text`, in order (each has a Content-Length).
fn bodies(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\r\n\r\n") {
        let length: usize = rest[..end]
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |n| n.parse().unwrap());
        found.push(&rest[end + 4..end + 4 + length]);
        rest = &rest[end + 4 + length..];
    }
    found
}

#[test]
fn a_held_answer_waits_for_its_time_and_its_worker_serves_others_meanwhile() {
    let (_server, address, held) = holding_server();
    let mut waiting = TcpStream::connect(address).unwrap();
    let asked = Instant::now();
    waiting
        .write_all(b"GET /held HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The handler has made the held answer: only then does another client ask.
    held.recv_timeout(Duration::from_secs(5))
        .expect("the handler holds /held");

    // Answered at once on the one worker, while the held answer has not gone out: a handler
    // that slept for its time would have held this one behind it.
    let (other, closed) = exchange(
        address,
        b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(closed && bodies(&other) == ["/other"], "{other:?}");
    waiting.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let early = waiting.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the held answer went out before another connection was served: {early:?}"
    );

    waiting.set_nonblocking(false).unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    waiting.read_to_string(&mut answer).unwrap();
    let took = asked.elapsed();
    assert_eq!(bodies(&answer), ["held"], "{answer:?}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer:?}");
    assert!(took >= HOLD, "answered {took:?} after the request");
}

#[test]
fn requests_pipelined_behind_a_held_answer_are_answered_after_it_in_order() {
    let (_server, address, _held) = holding_server();
    let asked = Instant::now();
    let pipelined = b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n\
                      GET /next HTTP/1.1\r\nHost: x\r\n\r\n\
                      GET /held HTTP/1.1\r\nHost: x\r\n\r\n\
                      GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (reply, closed) = exchange(address, pipelined);
    let took = asked.elapsed();
    assert!(closed, "{reply:?}");
    assert_eq!(bodies(&reply), ["held", "/next", "held", "/last"]);
    // The second hold began only once the first answer was out.
    assert!(took >= 2 * HOLD, "all answered {took:?} after the requests");
}
