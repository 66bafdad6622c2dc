//! The accept loop against a process out of file descriptors (fogdeft patches "Accept forever"
//! and "One descriptor"). Upstream, the first failed `accept` ended the loop for good, and a
//! failed `dup` panicked it: the server stayed alive but deaf. This test is its own process, so
//! that it can lower its own open-files limit.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tiny_http::{Response, Server, ServerOptions};

/// Sets this process's open-files limit (soft and hard stay as they were otherwise).
fn limit_open_files(count: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = count as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

fn get(address: std::net::SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn running_out_of_descriptors_never_deafens_the_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::with_handler(listener, ServerOptions::default(), |request| {
        let _ = request.respond(Response::from_string("hello"));
    })
    .unwrap();
    assert!(get(address).unwrap().ends_with("hello"));

    // Room for a few dozen descriptors: the clients below take half of them, so the server
    // runs out, and its accept fails with EMFILE again and again.
    limit_open_files(64);
    let clients: Vec<TcpStream> = (0..200)
        .map_while(|_| TcpStream::connect(address).ok())
        .collect();
    assert!(
        clients.len() > 20,
        "only {} clients connected",
        clients.len()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.num_connections() + clients.len() < 60 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(clients);

    // Once descriptors are free again, it answers again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(address) {
            Ok(answer) if answer.ends_with("hello") => break,
            _ => assert!(
                Instant::now() < deadline,
                "deaf after running out of descriptors"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
