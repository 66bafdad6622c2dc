//! The hot path makes no heap allocation: keep-alive and pipelined requests, answered with a
//! small formatted body, a static one, and header values borrowed from the handler (as the
//! producer's `/number` and `/healthz`). A counting global allocator sees every allocation of
//! this process, the engine's threads included; the client below allocates nothing while it is
//! measured. `make test` runs it on the host's target; on the shipped one it is
//! `cargo test --release --target x86_64-unknown-linux-musl -p fogdeft-engine --test allocations`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use fogdeft_engine::{Handler, Request, Response, Server, ServerOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        System.realloc(ptr, layout, size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

struct App {
    served_by: String,
    count: AtomicUsize,
}

impl Handler for App {
    fn respond<'a>(&'a self, request: &Request<'_>) -> Response<'a> {
        let response = match request.url() {
            "/number" => {
                let n = self.count.fetch_add(1, Relaxed) % 1000;
                Response::from_fmt(format_args!("{{\"number\": {n:03}}}\n"))
            }
            _ => Response::from_slice(b"{\"status\":\"ok\"}\n"),
        };
        response
            .with_header("Content-Type", "application/json")
            .with_header("X-Served-By", &self.served_by)
    }
}

/// Sends `request` `batch` times in one write, and reads the `batch` answers of `length` bytes.
fn round_trip(
    client: &mut TcpStream,
    request: &[u8],
    batch: usize,
    buffer: &mut [u8],
    length: usize,
) {
    for _ in 0..batch {
        client.write_all(request).unwrap();
    }
    client.read_exact(&mut buffer[..batch * length]).unwrap();
}

#[test]
fn keep_alive_and_pipelined_requests_allocate_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let app = App {
        served_by: "a-host-name".into(),
        count: AtomicUsize::new(0),
    };
    let _server = Server::with_handler(listener, ServerOptions::default(), app).unwrap();
    let mut client = TcpStream::connect(address).unwrap();
    client.set_nodelay(true).unwrap();
    let mut buffer = vec![0u8; 64 * 1024];

    let number = b"GET /number HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n";
    let health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    // Each answer's length, from one of each (the Date has a fixed width).
    let mut lengths = [0; 2];
    for (request, length) in [&number[..], &health[..]].iter().zip(&mut lengths) {
        client.write_all(request).unwrap();
        let read = client.read(&mut buffer).unwrap();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200 OK\r\n"));
        *length = read;
    }
    // Warm up: buffers grow to the sizes they keep. The input grows by what arrives at once, so
    // each batch is sent here in one write, the most that can arrive at once below, however the
    // measured writes are split or joined on their way.
    for (request, length) in [&number[..], &health[..]].iter().zip(lengths) {
        let batch = request.repeat(32);
        for _ in 0..20 {
            client.write_all(&batch).unwrap();
            client.read_exact(&mut buffer[..32 * length]).unwrap();
        }
    }
    let mut run = |rounds| {
        let before = ALLOCATIONS.load(Relaxed);
        for _ in 0..rounds {
            round_trip(&mut client, number, 1, &mut buffer, lengths[0]); // keep-alive
            round_trip(&mut client, health, 1, &mut buffer, lengths[1]);
            round_trip(&mut client, number, 32, &mut buffer, lengths[0]); // pipelined
            round_trip(&mut client, health, 32, &mut buffer, lengths[1]);
        }
        ALLOCATIONS.load(Relaxed) - before
    };
    run(20);
    let allocations = run(100);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for 6,600 requests"
    );
}
