//! The peers that ours is compared with, in tests/conformance.rs and tests/framing.rs: Go's
//! net/http (`bench/go_producer.go`) and nginx (`tests/conformance/nginx.conf`), both serving
//! /number as our producer does; what a server answers to some bytes; and the tables of where ours
//! differs from both, in the engine guide (`engine/README.md`).

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::{read_until_closed, statuses, Running, STARTUP};

/// The engine guide, whose tables the differential tests check.
pub const GUIDE: &str = include_str!("../../engine/README.md");
/// The engine guide's section with those tables.
pub const GUIDE_SECTION: &str = "## RFC 9112, checked against Go and nginx";
/// How long a server gets to answer a request and close; each answers in milliseconds.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A peer server, running until dropped.
pub struct Peer {
    pub name: &'static str,
    pub address: SocketAddr,
    _process: Running,
}

/// Go and nginx, each as it could be started; under REQUIRE_DOCKER=1 a missing one fails the
/// test, otherwise it is left out with a SKIP line.
pub fn peers() -> Vec<Peer> {
    [go_peer(), nginx_peer()]
        .into_iter()
        .filter_map(peer_or_skip)
        .collect()
}

/// What a server answered to `bytes`, sent in one write on a connection of its own: the status
/// of each response, in order, as `200+404`; `none` if it closed without a word, `raw` if it
/// answered without a status line, and a final `+open` if it had not closed within
/// `ANSWER_WITHIN`.
pub fn answer(address: SocketAddr, bytes: &[u8]) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(5)) else {
        return "refused".into();
    };
    // A server that answers early and closes may refuse the rest: fine, its answer counts.
    let _ = stream.write_all(bytes);
    // The client is done: an incomplete request ends here rather than at a server's timeout.
    let _ = stream.shutdown(Shutdown::Write);
    let (received, closed) = read_until_closed(&mut stream, ANSWER_WITHIN);
    let codes: Vec<String> = statuses(&received).iter().map(u16::to_string).collect();
    let mut said = match (codes.is_empty(), received.is_empty()) {
        (false, _) => codes.join("+"),
        (true, true) => "none".to_string(),
        (true, false) => "raw".to_string(),
    };
    if !closed {
        said.push_str("+open");
    }
    said
}

/// Writes straight to stderr: the test harness captures `println!`, and the tables of the
/// differential tests are meant to be read in `make test`'s output.
pub fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The rows of the engine guide's table whose header line starts with `header`, in the section
/// `GUIDE_SECTION`: the cells of each row, without the backquotes around them.
pub fn guide_table(header: &str) -> Vec<Vec<String>> {
    let section = GUIDE
        .split_once(GUIDE_SECTION)
        .unwrap_or_else(|| panic!("the engine guide has no {GUIDE_SECTION:?}"))
        .1;
    let section = section.split("\n#").next().unwrap();
    let table = section
        .split_once(&format!("\n{header}"))
        .unwrap_or_else(|| panic!("the engine guide's {GUIDE_SECTION:?} has no table {header:?}"))
        .1;
    table
        .lines()
        .skip(2) // the rest of the header line, and |---|
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.split(" | ")
                .map(|cell| cell.trim_matches(['|', ' ', '`']).to_string())
                .collect()
        })
        .collect()
}

/// A directory of the peers' own under cargo's target directory, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("peers")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Go's net/http, built from `bench/go_producer.go`. `Err`: why it cannot run.
fn go_peer() -> Result<Peer, &'static str> {
    let dir = scratch("go");
    let binary = dir.join("go_producer");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/go_producer.go");
    // A build cache of our own, kept between runs: CI may have no HOME.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache");
    let built = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .env("GOCACHE", &cache)
        .output()
        .map_err(|_| "go is not installed")?;
    if !built.status.success() {
        panic!("go build: {}", String::from_utf8_lossy(&built.stderr));
    }
    let port = super::free_port();
    let mut command = Command::new(&binary);
    command.arg(port.to_string());
    start_peer("Go", command, port)
}

/// nginx, in the foreground, with its configuration, logs and temporary files in a directory of
/// its own. `Err`: why it cannot run.
fn nginx_peer() -> Result<Peer, &'static str> {
    let nginx = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find(|nginx| Command::new(nginx).arg("-v").output().is_ok())
        .ok_or("nginx is not installed")?;
    let dir = scratch("nginx");
    let port = super::free_port();
    let config = include_str!("../conformance/nginx.conf")
        .replace("PREFIX", dir.to_str().unwrap())
        .replace("PORT", &port.to_string());
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    start_peer("nginx", command, port)
}

/// Starts a peer and waits until it accepts connections on `port`.
fn start_peer(name: &'static str, command: Command, port: u16) -> Result<Peer, &'static str> {
    let mut process = Running::spawn(command).unwrap_or_else(|e| panic!("{name}: {e}"));
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect(address).is_err() {
        process.assert_alive();
        assert!(
            Instant::now() < deadline,
            "{name} is not listening on {port}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    Ok(Peer {
        name,
        address,
        _process: process,
    })
}

/// A peer, or `None` with a SKIP line; under REQUIRE_DOCKER=1 a missing peer fails the test.
fn peer_or_skip(peer: Result<Peer, &str>) -> Option<Peer> {
    match peer {
        Ok(peer) => Some(peer),
        Err(why) if std::env::var("REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("{why} (and REQUIRE_DOCKER=1): make deps installs it")
        }
        Err(why) => {
            say(&format!(
                "SKIP: {why}: ours is not compared with it (make deps installs it)\n"
            ));
            None
        }
    }
}
