//! The engine end to end, over loopback: what a handler sees and what a client gets back.
//! The first four are upstream's simple and input tests (tests/simple-test.rs and
//! tests/input-tests.rs in tiny-http), carried over to the handler contract; the others test
//! what the fork rewrote: pipelining, `100 Continue`, bodies read before the handler runs.

mod support;

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use fogdeft_engine::{Request, Response, Server, ServerOptions};
use support::exchange;

/// A server that answers each request with what it saw: `METHOD URL body`.
fn echo_server() -> (Server, SocketAddr) {
    echo_server_with(ServerOptions::default())
}

fn echo_server_with(options: ServerOptions) -> (Server, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let echo = |request: &Request| {
        if request.url() == "/panic" {
            panic!("a handler that panics");
        }
        let body = String::from_utf8_lossy(request.body());
        Response::from_data(format!(
            "{} {} {}",
            request.method_str(),
            request.url(),
            body
        ))
    };
    let server = Server::with_handler(listener, options, echo).unwrap();
    (server, address)
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// The bodies of the responses in `text`, in order (each says its Content-Length).
fn bodies(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end];
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |n| n.parse().unwrap());
        let body_start = end + 4;
        found.push(rest[body_start..body_start + length].to_string());
        rest = &rest[body_start + length..];
    }
    found
}

#[test]
fn basic_handling() {
    let (_server, address) = echo_server();
    let (reply, closed) = exchange(
        address,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n") && closed,
        "{reply:?}"
    );
    assert!(reply.ends_with("GET / "), "{reply:?}");
}

#[test]
fn basic_string_input() {
    let (_server, address) = echo_server();
    let raw = b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain; charset=utf8\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    assert_eq!(bodies(&exchange(address, raw).0), ["GET / hello"]);
}

#[test]
fn wrong_content_length() {
    // The body is what Content-Length says; the rest ("lo") is the next request, and bad.
    let (_server, address) = echo_server();
    let raw = b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nhello\r\n\r\n";
    let (reply, closed) = exchange(address, raw);
    assert_eq!(bodies(&reply)[0], "GET / hel");
    assert!(reply.contains("HTTP/1.1 400 ") && closed, "{reply:?}");
}

#[test]
fn expect_100_continue() {
    let (_server, address) = echo_server();
    let mut client = connect(address);
    client
        .write_all(b"POST /in HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        .unwrap();
    // The client waits for our word before it sends the body.
    let mut interim = [0u8; 25];
    client.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = String::new();
    client.read_to_string(&mut rest).unwrap();
    assert_eq!(bodies(&rest), ["POST /in hello"]);
}

#[test]
fn unsupported_expect_header() {
    let (_server, address) = echo_server();
    let raw =
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 189-dummy\r\n\r\n";
    assert!(exchange(address, raw).0.starts_with("HTTP/1.1 417 "));
}

#[test]
fn a_whole_body_that_came_first_needs_no_100_continue() {
    let (_server, address) = echo_server();
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    let (reply, _) = exchange(address, raw);
    assert!(!reply.contains("100 Continue"), "{reply:?}");
    assert_eq!(bodies(&reply), ["POST / ok"]);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let (_server, address) = echo_server();
    // More than one turn's worth, with bodies of both framings in between, sent in one go.
    let mut raw = String::new();
    let mut expected = Vec::new();
    for n in 0..50 {
        match n % 3 {
            0 => raw += &format!("GET /{n} HTTP/1.1\r\nHost: x\r\n\r\n"),
            1 => raw += &format!("POST /{n} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{:02}", n),
            _ => raw += &format!("PUT /{n} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2;x=y\r\n{:02}\r\n0\r\n\r\n", n),
        }
        expected.push(match n % 3 {
            0 => format!("GET /{n} "),
            1 => format!("POST /{n} {n:02}"),
            _ => format!("PUT /{n} a{n:02}"),
        });
    }
    raw += "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expected.push("GET /last ".into());
    let (reply, closed) = exchange(address, raw.as_bytes());
    assert!(closed);
    assert_eq!(bodies(&reply), expected);
}

#[test]
fn a_request_sent_a_byte_at_a_time_is_answered() {
    let (_server, address) = echo_server();
    let mut client = connect(address);
    client.set_nodelay(true).unwrap();
    for byte in b"POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n" {
        client.write_all(&[*byte]).unwrap();
    }
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(bodies(&reply), ["POST /slow abc"]);
}

#[test]
fn http_1_0_keeps_alive_when_asked_and_head_has_no_body() {
    let (_server, address) = echo_server();
    let raw = b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nHEAD /b HTTP/1.0\r\n\r\n";
    let (reply, closed) = exchange(address, raw);
    assert!(closed, "{reply:?}");
    assert!(
        reply.contains("\r\nConnection: keep-alive\r\n"),
        "{reply:?}"
    );
    // The HEAD answer says the length of the body it does not send.
    assert!(
        reply.ends_with("Content-Length: 8\r\nConnection: close\r\n\r\n"),
        "{reply:?}"
    );
}

/// The engine's one panic rule, in this test's own build (where panics unwind, unlike the
/// release binaries, which abort): a handler that panics ends the whole process, so that its
/// supervisor restarts it, rather than its worker thread alone. The server runs in a child: this
/// test program again, told by `PANIC_CHILD` to serve and print its address (under the emulator
/// in `FOGDEFT_EMULATOR`, if any: `make test-32bit` runs these tests under qemu-arm).
#[test]
fn a_handler_that_panics_ends_the_process() {
    if std::env::var_os("PANIC_CHILD").is_some() {
        let (_server, address) = echo_server();
        println!("{address}");
        std::thread::sleep(Duration::from_secs(30)); // ended by the panic, or by the parent
        return;
    }
    let this = std::env::current_exe().unwrap();
    let emulator = std::env::var("FOGDEFT_EMULATOR").unwrap_or_default();
    let emulator: Vec<&str> = emulator.split_whitespace().collect();
    let mut command = match emulator.split_first() {
        Some((program, args)) => {
            let mut command = std::process::Command::new(program);
            command.args(args).arg(&this);
            command
        }
        None => std::process::Command::new(&this),
    };
    let mut child = command
        .args([
            "--exact",
            "a_handler_that_panics_ends_the_process",
            "--nocapture",
        ])
        .env("PANIC_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address: SocketAddr = lines
        .find_map(|line| line.unwrap().parse().ok())
        .expect("the child prints its address");
    let (reply, closed) = exchange(address, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n");
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}");
    assert!(reply.is_empty() && closed, "{reply:?}");
}

#[test]
fn pipelining_far_past_the_input_limit_is_answered_whole() {
    // The input holds a few hundred bytes at most: the requests behind wait in the socket, and
    // a request cut at the end of a full input is completed by the next read, never refused.
    let options = ServerOptions {
        max_request_line: 64,
        max_header_bytes: 128,
        max_body_bytes: 0,
        ..ServerOptions::default()
    };
    let (_server, address) = echo_server_with(options);
    let mut raw = String::new();
    for n in 0..2000 {
        // Fewer of these than a turn answers fill the input.
        raw += &format!(
            "GET /{n} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(80)
        );
    }
    raw += "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (reply, closed) = exchange(address, raw.as_bytes());
    let expected: Vec<String> = (0..2000).map(|n| format!("GET /{n} ")).collect();
    assert!(closed);
    assert_eq!(bodies(&reply)[..2000], expected[..]);
}
