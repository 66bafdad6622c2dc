//! The accept loop against a process out of file descriptors (fogdeft patches "Accept forever"
//! and "One descriptor"). Upstream, the first failed `accept` ended the loop for good, and a
//! failed `dup` panicked it: the server stayed alive but deaf. This test is its own process, so
//! that it can lower its own open-files limit.

mod support;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use fogdeft_engine::ServerOptions;
use support::{get, hello_server};

/// Sets this process's open-files limit (the hard limit stays as it was), and returns the one
/// it had.
fn limit_open_files(count: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let before = limit.rlim_cur;
        limit.rlim_cur = count;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        before
    }
}

#[test]
fn running_out_of_descriptors_never_deafens_the_server() {
    {
        let (server, address) = hello_server(ServerOptions::default());
        assert!(get(address).unwrap().ends_with("hello"));

        // Room for a few dozen descriptors: the clients below take half of them, so the server
        // runs out, and its accept fails with EMFILE again and again.
        let before = limit_open_files(64);
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
            thread::sleep(Duration::from_millis(10));
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
            thread::sleep(Duration::from_millis(20));
        }
        limit_open_files(before);
    }
}
