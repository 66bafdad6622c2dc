//! Running out of threads (fogdeft patch "Thread limits"), with `recv()`, where each connection
//! has a thread. Upstream, a thread that could not be started panicked the accept thread, and
//! the server stayed alive but deaf. Now that one connection is closed and the server goes on.
//! This test is its own process, so that it can lower its own address-space limit until no
//! thread stack fits.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{get, hello_server};
use tiny_http::ServerOptions;

/// Sets this process's soft address-space limit, in bytes (`None`: back to the hard limit).
fn limit_address_space(bytes: Option<u64>) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut limit), 0);
        limit.rlim_cur = bytes.map_or(limit.rlim_max, |b| b as libc::rlim_t);
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &limit), 0);
    }
}

/// The address space this process uses now, in bytes (VmSize).
fn address_space() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn running_out_of_threads_never_deafens_the_server() {
    // Large stacks, so that a few connections use up the room left below.
    let options = ServerOptions {
        thread_stack_size: Some(64 << 20),
        ..ServerOptions::default()
    };
    // `recv()`: a thread per connection reads its requests (a handler would be served by the
    // event loop, which starts no thread per connection).
    let (_server, address) = hello_server(false, options);
    assert!(get(address).unwrap().ends_with("hello"));

    // Room for one more stack at most: the connections after it find no thread, and are
    // closed at once.
    limit_address_space(Some(address_space() + (96 << 20)));
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    let mut closed = 0;
    for mut stream in &idle {
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match stream.read(&mut [0u8; 16]) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {} // it has a thread, and waits for a request
        }
    }
    drop(idle);
    limit_address_space(None);
    assert!(
        closed > 0,
        "every connection got a thread: the limit did not bite"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(address) {
            Ok(answer) if answer.ends_with("hello") => break,
            _ => assert!(
                Instant::now() < deadline,
                "deaf after running out of threads"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
