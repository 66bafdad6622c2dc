//! The properties the fuzz targets check (`fuzz/` at the top of the repository), in one place,
//! so that `tests/fuzz_corpus.rs` replays the saved corpus through the very same checks on
//! stable Rust. Each check panics when a property does not hold:
//!
//! - nothing panics, whatever the bytes;
//! - buffers stay bounded: a connection's input within `input_limit`, its unwritten answers
//!   within `OUTPUT_LIMIT` and one answer;
//! - every byte the server writes is a well-formed HTTP/1.1 response (status line, the `Date`,
//!   a `Content-Length` that matches its body), and nothing follows a `Connection: close`;
//! - the answers are the same whether the bytes arrive at once or in pieces.
//!
//! Each input's first byte chooses how the rest is cut into pieces (see `pieces`), and, for
//! a connection, whether its client reads its answers only at the end.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chunked::{Dechunker, Decoded};
use crate::connection::{Conn, Next, Turn, OUTPUT_LIMIT};
use crate::head::{self, HeadScanner};
use crate::socket::Socket;
use crate::{Connections, Handler, Request, Response, ServerOptions};

/// The `Date` of every answer in these checks.
const DATE: &[u8] = b"Thu, 01 Jan 1970 00:00:00 GMT";
/// The in-memory client's address (one for documentation, RFC 5737).
const CLIENT: std::net::SocketAddr = std::net::SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(192, 0, 2, 1),
    1,
));

/// Small limits, so that short inputs reach them.
fn options() -> ServerOptions {
    ServerOptions {
        max_request_line: 256,
        max_header_bytes: 512,
        max_body_bytes: 1024,
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(75),
        max_connections: 1,
        workers: 1,
        socket_receive_buffer: None,
        socket_send_buffer: None,
    }
}

/// Cuts `bytes` into pieces as `control` says: each up to 2^(control >> 5) bytes long (1 to
/// 128; 0 is a byte at a time), with lengths drawn from a generator seeded by its low bits.
pub(crate) fn pieces(bytes: &[u8], control: u8) -> Vec<&[u8]> {
    let longest = 1u64 << (control >> 5);
    let mut seed = u64::from(control & 0x0f) + 1;
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let length = (1 + (seed >> 33) % longest) as usize;
        let (piece, after) = rest.split_at(length.min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    pieces
}

/// The head scanner finds the same end (or refusal) at once and in pieces, and parsing what it
/// finds never panics.
pub fn check_head(data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let options = options();
    let at_once = HeadScanner::default().end(bytes, &options);
    let mut scanner = HeadScanner::default();
    let mut arrived = 0;
    let mut in_pieces = Ok(None);
    for piece in pieces(bytes, control) {
        arrived += piece.len();
        in_pieces = scanner.end(&bytes[..arrived], &options);
        if !matches!(in_pieces, Ok(None)) {
            break;
        }
    }
    assert_eq!(at_once, in_pieces, "at once, and in pieces");
    if let Ok(Some(end)) = at_once {
        assert!(end <= bytes.len());
        let mut fields = Vec::new();
        if let Ok(parsed) = head::parse(&bytes[..end], &mut fields) {
            assert!(parsed.head.headers().count() <= head::MAX_HEADERS);
            assert!(!parsed.head.target.is_empty());
        }
    }
}

/// A chunked body decodes to the same data, and ends at the same place, at once and in
/// pieces; while partial, the input holds its decoded data only.
pub fn check_chunked(data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let limit = options().max_body_bytes;
    let at_once = decode(&[bytes], limit);
    assert_eq!(decode(&pieces(bytes, control), limit), at_once);
    if let Ok(Some((body, after))) = at_once {
        assert!(body.len() <= limit);
        assert!(
            body.len() + after.len() < bytes.len(),
            "data without framing"
        );
    }
}

/// A chunked body's data and every byte after it, `None` while it is partial, or the status it
/// is refused with.
pub(crate) type Dechunked = Result<Option<(Vec<u8>, Vec<u8>)>, u16>;

/// Decodes a chunked body that arrives in `pieces`, as a connection does: each lands after
/// what the input holds, which the decoder cuts back while the body is partial. The body's
/// data and every byte after it (the next request), or the refusal.
pub(crate) fn decode(pieces: &[&[u8]], limit: usize) -> Dechunked {
    let mut decoder = Dechunker::default();
    let start = 4; // a head before the body
    let mut input = b"HEAD".to_vec();
    for (at, piece) in pieces.iter().enumerate() {
        input.extend_from_slice(piece);
        match decoder.decode(&mut input, start, limit)? {
            Decoded::Whole { body, used } => {
                let mut after = input[start + used..].to_vec();
                after.extend(pieces[at + 1..].iter().copied().flatten());
                return Ok(Some((input[start..start + body].to_vec(), after)));
            }
            Decoded::Partial => assert!(input.len() - start <= limit, "framing kept"),
        }
    }
    Ok(None)
}

/// A connection, driven as a worker drives it over a socket in memory, answers with well-formed
/// responses within its bounds, and the same ones whether the bytes arrive at once or in
/// pieces (less `100 Continue`, which answers a body that is not in yet).
pub fn check_connection(data: &[u8]) {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let at_once = serve(&[bytes], false);
    let reads_at_the_end = control & 0x10 != 0;
    let in_pieces = serve(&pieces(bytes, control), reads_at_the_end);
    let (at_once, in_pieces) = (answers(&at_once), answers(&in_pieces));
    assert_eq!(at_once, in_pieces, "at once, and in pieces");
}

/// Answers with the request's method and target, then its body; and says when it answers a
/// HEAD, whose answer has no body.
struct Echo;

impl Handler for Echo {
    fn respond<'h>(&'h self, request: &Request<'_>) -> Response<'h> {
        let mut body = format!("{} {}\n", request.method_str(), request.url()).into_bytes();
        body.extend_from_slice(request.body());
        let response = Response::from_data(body);
        match request.method_str() {
            "HEAD" => response.with_header("X-Head", "1"),
            _ => response,
        }
    }
}

/// A client's side of a connection, in memory.
#[derive(Default)]
struct Client {
    /// What the client sent and the server has not read, as pieces: a read never spans two.
    sent: VecDeque<Vec<u8>>,
    /// The client has closed its side.
    closed: bool,
    /// The client reads nothing for now: writes find no room.
    not_reading: bool,
    received: Vec<u8>,
    /// The server has shut its side.
    shut: bool,
}

impl Socket for &RefCell<Client> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut client = self.borrow_mut();
        let Some(piece) = client.sent.front_mut() else {
            return match client.closed {
                true => Ok(0),
                false => Err(io::ErrorKind::WouldBlock.into()),
            };
        };
        let length = piece.len().min(buf.len());
        buf[..length].copy_from_slice(&piece[..length]);
        piece.drain(..length);
        if piece.is_empty() {
            client.sent.pop_front();
        }
        Ok(length)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut client = self.borrow_mut();
        assert!(!client.shut, "a write after the shutdown");
        if client.not_reading {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        client.received.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn shutdown_write(&mut self) {
        self.borrow_mut().shut = true;
    }
}

/// Everything the server writes to a client that sends `pieces`, one at a time, and then
/// closes its side (reading its answers only then, if `reads_at_the_end`).
pub(crate) fn serve(pieces: &[&[u8]], reads_at_the_end: bool) -> Vec<u8> {
    let options = options();
    let client = RefCell::new(Client {
        not_reading: reads_at_the_end,
        ..Client::default()
    });
    let connections = Arc::new(Connections::default());
    let slot = connections.wait_for_room(1, &AtomicBool::new(false));
    let mut conn = Conn::new(&client, CLIENT, slot.expect("room for one"));
    let mut scratch = vec![0; 16 * 1024];
    let mut fields = Vec::new();
    let mut turn = Turn {
        options: &options,
        handler: &Echo,
        scratch: &mut scratch,
        fields: &mut fields,
        date: DATE,
        now: Instant::now(),
    };
    let total: usize = pieces.iter().map(|piece| piece.len()).sum();
    let mut most_output = 0;
    let mut drive = |conn: &mut Conn<&RefCell<Client>>| {
        // Every turn but the last reads or answers something.
        for _ in 0..2 * total + 16 {
            let next = conn.turn(&mut turn);
            let (input, output) = conn.held();
            assert!(input <= options.input_limit(), "input of {input} bytes");
            most_output = most_output.max(output);
            if next != Next::Again {
                return;
            }
        }
        panic!("a connection that never waits");
    };
    for piece in pieces {
        client.borrow_mut().sent.push_back(piece.to_vec());
        conn.ready(true, false, false);
        drive(&mut conn);
    }
    client.borrow_mut().not_reading = false;
    conn.ready(false, true, false);
    drive(&mut conn);
    client.borrow_mut().closed = true;
    conn.ready(true, false, true);
    drive(&mut conn);
    assert!(conn.is_done(), "a connection that outlives its client");
    let received = std::mem::take(&mut client.borrow_mut().received);
    let largest = responses(&received).map(|r| r.len()).max().unwrap_or(0);
    assert!(
        most_output <= OUTPUT_LIMIT + largest,
        "{most_output} bytes of answers held"
    );
    received
}

/// The responses in `bytes`, less `100 Continue`: each checked well-formed, and nothing after
/// one that says `Connection: close`.
pub(crate) fn answers(bytes: &[u8]) -> Vec<&[u8]> {
    let all: Vec<&[u8]> = responses(bytes).collect();
    for (at, response) in all.iter().enumerate() {
        // In the head only: an echoed body may say anything.
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n");
        let head = &response[..head_end.map_or(response.len(), |end| end + 2)];
        if head.windows(21).any(|w| w == b"\r\nConnection: close\r\n") {
            assert_eq!(at + 1, all.len(), "an answer after Connection: close");
        }
    }
    all.into_iter()
        .filter(|response| !response.starts_with(b"HTTP/1.1 100 "))
        .collect()
}

/// Splits `bytes` into well-formed HTTP/1.1 responses, or panics.
fn responses(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let length = response_length(bytes);
        let (response, rest) = bytes.split_at(length);
        bytes = rest;
        Some(response)
    })
}

/// The length of the well-formed response at the start of `bytes`, or a panic that says what
/// is wrong with it.
fn response_length(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("a response without its end: {text:?}"))
        + 4;
    let head = std::str::from_utf8(&bytes[..head_end - 4]).expect("a head in UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code: u16 = match status_line.split(' ').collect::<Vec<_>>()[..] {
        ["HTTP/1.1", code, ref reason @ ..] if code.len() == 3 && !reason.is_empty() => {
            code.parse().unwrap_or_else(|_| panic!("status {code:?}"))
        }
        _ => panic!("a status line {status_line:?}"),
    };
    let (mut date, mut length, mut head_only) = (None, None, false);
    for line in lines {
        let (name, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("a field {line:?} in {text:?}"));
        assert!(crate::head::is_token(name), "a field name {name:?}");
        assert!(!value.contains(['\r', '\n']));
        match name {
            "Date" => assert!(date.replace(value).is_none(), "two dates: {text:?}"),
            "Content-Length" => {
                let value = value.parse().expect("a length in digits");
                assert!(length.replace(value).is_none(), "two lengths: {text:?}");
            }
            "X-Head" => head_only = true,
            _ => {}
        }
    }
    if code == 100 {
        assert_eq!(head, "HTTP/1.1 100 Continue");
        return head_end;
    }
    assert_eq!(date.map(str::as_bytes), Some(DATE), "the date: {text:?}");
    let length = match (code, length) {
        (204, None) => 0,
        (204, Some(_)) => panic!("a length on 204: {text:?}"),
        (_, None) => panic!("no length: {text:?}"),
        (304, Some(_)) => 0,
        (_, Some(_)) if head_only => 0,
        (_, Some(length)) => length,
    };
    assert!(
        bytes.len() >= head_end + length,
        "a body shorter than its length: {text:?}"
    );
    head_end + length
}
