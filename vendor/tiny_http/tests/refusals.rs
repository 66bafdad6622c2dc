//! What the server refuses, and how, served either way: the event loop (`with_handler`) and a
//! thread per connection (`with_options` and `recv()`). fogdeft patches "No drain", "Versions",
//! "Head limits", "Head deadline and idle timeout", "Framing" and "Connection: close". (The
//! producer's own tests, `tests/hostile.rs` at the top of the repository, try many more.)

mod support;

use std::time::Duration;

use support::{exchange, get, hello_server};
use tiny_http::ServerOptions;

/// Asserts that `raw` gets `status` with `Connection: close`, and that the server then closes.
fn refused(address: std::net::SocketAddr, raw: &[u8], status: u16, event_loop: bool) {
    let (reply, closed) = exchange(address, raw);
    let what = format!(
        "{:?} (event loop: {event_loop})",
        String::from_utf8_lossy(&raw[..raw.len().min(40)])
    );
    assert!(
        reply.starts_with(&format!("HTTP/1.1 {status} ")),
        "{what}: {reply:?}"
    );
    assert!(
        reply.contains("\r\nConnection: close\r\n"),
        "{what}: {reply:?}"
    );
    assert!(closed, "{what}: the connection stays open");
}

#[test]
fn bad_heads_are_answered_and_closed() {
    for event_loop in [true, false] {
        let options = ServerOptions {
            header_timeout: Some(Duration::from_millis(300)),
            ..ServerOptions::default()
        };
        let (_server, address) = hello_server(event_loop, options);
        let long_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
        let cases: [(&[u8], u16); 5] = [
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            (long_path.as_bytes(), 414),
            (b"GET / HTTP/1.1\r\nHost: x\r\n", 408), // a head that never ends
        ];
        for (raw, status) in cases {
            refused(address, raw, status, event_loop);
        }
        assert!(get(address).unwrap().ends_with("hello"));
    }
}

#[test]
fn a_huge_declared_body_is_never_drained() {
    for event_loop in [true, false] {
        let (_server, address) = hello_server(event_loop, ServerOptions::default());
        // Answered without its body being read; upstream then read the body into one
        // allocation of the declared size, and the process aborted.
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n";
        let (reply, closed) = exchange(address, raw);
        assert!(
            reply.starts_with("HTTP/1.1 200 ") && reply.ends_with("hello"),
            "{reply:?}"
        );
        assert!(reply.contains("\r\nConnection: close\r\n"), "{reply:?}");
        assert!(
            closed,
            "the connection stays open (event loop: {event_loop})"
        );
        assert!(get(address).unwrap().ends_with("hello"));
    }
}
