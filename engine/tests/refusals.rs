//! What the server refuses, and how. fogdeft patches "No drain", "Versions",
//! "Head limits", "Head deadline and idle timeout", "Framing" and "Connection: close". (The
//! producer's own tests, `tests/hostile.rs` at the top of the repository, try many more.)

mod support;

use std::time::Duration;

use fogdeft_engine::ServerOptions;
use support::{exchange, get, hello_server};

/// Asserts that `raw` gets `status` with `Connection: close`, and that the server then closes.
fn refused(address: std::net::SocketAddr, raw: &[u8], status: u16) {
    let (reply, closed) = exchange(address, raw);
    let what = format!("{:?}", String::from_utf8_lossy(&raw[..raw.len().min(40)]));
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
    {
        let options = ServerOptions {
            header_timeout: Duration::from_millis(300),
            ..ServerOptions::default()
        };
        let (_server, address) = hello_server(options);
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
            refused(address, raw, status);
        }
        assert!(get(address).unwrap().ends_with("hello"));
    }
}

#[test]
fn a_body_past_the_limit_gets_413_before_it_is_read() {
    let options = ServerOptions {
        max_body_bytes: 100,
        ..ServerOptions::default()
    };
    let (_server, address) = hello_server(options);
    // Upstream read such a body into one allocation of the declared size, and the process
    // aborted. Now a body larger than the limit is refused from its head alone.
    let huge = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n";
    refused(address, huge, 413);
    let over = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n{}",
        "a".repeat(101)
    );
    refused(address, over.as_bytes(), 413);
    // A chunked body is refused once its chunks pass the limit.
    let chunks = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        "32\r\n".to_owned() + &"a".repeat(50) + "\r\n"
    )
    .repeat(1);
    let chunks = chunks + &("32\r\n".to_owned() + &"b".repeat(50) + "\r\n") + "1\r\nc\r\n0\r\n\r\n";
    refused(address, chunks.as_bytes(), 413);
    assert!(get(address).unwrap().ends_with("hello"));
}
