//! One connection, as a state machine that its worker drives a turn at a time (as in mio's
//! tcp_server example): the worker says what the socket is ready for (`on_event`), gives the
//! connection a bounded turn (`turn`), and the turn says what comes next (`Next`): wait for the
//! socket (or for the time of an answer the handler held back), another turn soon, or done (the
//! worker then drops it, which closes the socket).
//!
//! A turn reads at most one buffer's worth and answers at most `REQUESTS_PER_TURN` requests, so
//! that no client, however fast it sends, holds its worker from the others. A connection keeps
//! only what it must: the bytes of the request in progress (`input`, sized to what arrived and
//! never past the limits), and answers the client has not read yet (`output`, beyond
//! `OUTPUT_LIMIT` of which it reads no more requests). Every rule on closing is here, once.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::chunked::{Dechunker, Decoded};
use crate::head::{self, Framing, HeadScanner};
use crate::socket::{Connection, Socket};
use crate::{Handler, Method, Request, Response, ServerOptions, Slot};

/// Requests answered in one turn at most: then the connection waits for its next turn.
pub(crate) const REQUESTS_PER_TURN: usize = 16;
/// Answers waiting for the client to read them, in bytes, beyond which the connection reads no
/// more requests. A client that sends without reading holds this much (and one answer) at most.
pub(crate) const OUTPUT_LIMIT: usize = 4 * 1024;
/// Room in the input beyond the longest head and the largest body: for the framing of a chunked
/// body that has arrived and is not decoded yet (the decoder then drops it).
pub(crate) const CHUNK_SLACK: usize = 1024;
/// After our last answer, how long we read what the client still sends before closing, so that
/// the answer is not destroyed by a reset (as nginx's lingering close, and Go).
const LINGER: Duration = Duration::from_millis(500);
/// A connection idle this long gives back the room its buffers grew to in a burst.
const SHRINK_AFTER: Duration = Duration::from_secs(1);

/// Where a connection stands, with what is true only there.
enum Phase {
    /// Waiting for the next request, since then. Input left while idle is requests that wait
    /// for the next turn (`backlog`): a request that has begun is a `Request`.
    Idle(Instant),
    /// Part of a request is in; all of it (head and body) must be in by `deadline`, else 408.
    Request {
        deadline: Instant,
        reading: Reading,
    },
    /// An answer is made and waits for its time (`Response::hold_until`): it is the last
    /// `answer` bytes of the output. No request after it is read or answered meanwhile, so that
    /// answers keep their order; then the connection goes on, or closes (`close`).
    Holding {
        until: Instant,
        answer: usize,
        close: bool,
    },
    /// Our last answer is going out; then our side is shut.
    Closing,
    /// Our side is shut: we read and drop what the client still sends, until it closes or then.
    Lingering(Instant),
    Done,
}

/// What a read of the socket may find, as the poll's events and the reads so far tell
/// (edge-triggered: each readiness is told once).
#[derive(Clone, Copy, PartialEq)]
enum Reads {
    /// Nothing, until the next event.
    Drained,
    /// Perhaps more: a read will tell.
    Ready,
    /// The client has shut its side: read on to the end of stream, which comes with no event.
    HungUp,
    /// The end of stream was read: `input` is all that will come.
    Closed,
}

/// What the worker does with a connection after its turn.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// Nothing to do until the socket is ready again.
    Wait,
    /// Nothing to do until the socket is ready again or this time comes: a held answer's.
    WaitUntil(Instant),
    /// More to do: another turn once the other ready connections have had theirs.
    Again,
    /// Finished: drop it.
    Done,
}

/// What a worker lends a connection for its turn.
pub(crate) struct Turn<'w> {
    pub options: &'w ServerOptions,
    pub handler: &'w dyn Handler,
    /// Where reads land before they are copied into `input`, sized to what arrived.
    pub scratch: &'w mut [u8],
    /// Where the fields of the head being parsed are.
    pub fields: &'w mut Vec<head::Field>,
    /// The `Date` of every answer this turn.
    pub date: &'w [u8],
    pub now: Instant,
}

/// The outcome of looking at the input for one request.
enum Step {
    /// Answered; the request took this many bytes of input. The answer goes out no earlier
    /// than `hold`, if the handler said so.
    Answered {
        used: usize,
        close: bool,
        hold: Option<Instant>,
    },
    /// The request is not all in yet.
    Incomplete,
    Refuse(u16),
}

/// How far the request in progress has come.
enum Reading {
    /// Its head is not all in; the scanner keeps its place.
    Head(HeadScanner),
    /// Its head is in, `head_len` bytes, and was parsed for the framing of its body, which
    /// arrives. The head is parsed again only when the body is whole.
    Body { head_len: usize, body: Body },
}

/// The body of the request whose head is in, as it arrives.
enum Body {
    /// This many bytes after the head.
    Length(usize),
    /// Chunks, decoded in place after the head as they arrive.
    Chunked(Dechunker),
}

impl Body {
    /// Once the body that starts at `input[start..]` is whole: its data's length, and how many
    /// bytes it took after the head. The data is then at `input[start..]`.
    fn whole(
        &mut self,
        input: &mut Vec<u8>,
        start: usize,
        limit: usize,
    ) -> Result<Option<(usize, usize)>, u16> {
        match self {
            Body::Length(length) => {
                Ok((input.len() - start >= *length).then_some((*length, *length)))
            }
            Body::Chunked(decoder) => match decoder.decode(input, start, limit)? {
                Decoded::Whole { body, used } => Ok(Some((body, used))),
                Decoded::Partial => Ok(None),
            },
        }
    }
}

/// One connection over a socket: a TCP one (`Connection`), or one in memory for the
/// fuzz checks.
pub(crate) struct Conn<S: Socket = Connection> {
    socket: S,
    remote_addr: SocketAddr,
    /// Bytes read and not used yet: the request in progress, and any pipelined after it.
    input: Vec<u8>,
    /// Answers not yet written.
    output: Vec<u8>,
    phase: Phase,
    reads: Reads,
    /// The socket may have room to write (edge-triggered: told once).
    writable: bool,
    /// Since when answers have waited for the client to read them.
    stalled_since: Option<Instant>,
    /// Keeps this connection's place in the server's count.
    _slot: Slot,
}

impl<S: Socket> Conn<S> {
    pub fn new(socket: S, remote_addr: SocketAddr, slot: Slot) -> Conn<S> {
        Conn {
            socket,
            remote_addr,
            input: Vec::new(),
            output: Vec::new(),
            phase: Phase::Idle(Instant::now()),
            reads: Reads::Ready, // a new socket may hold a request already
            writable: true,
            stalled_since: None,
            _slot: slot,
        }
    }

    /// What the poll says of this socket. A hang-up or an error counts as readable and
    /// writable: the next read or write tells which.
    pub fn on_event(&mut self, event: &mio::event::Event) {
        let closed = event.is_read_closed() || event.is_write_closed() || event.is_error();
        self.ready(event.is_readable(), event.is_writable(), closed);
    }

    /// What the socket became ready for: to read, to write, or the client hung up (then both:
    /// the next read or write tells how).
    pub fn ready(&mut self, readable: bool, writable: bool, hung_up: bool) {
        self.writable |= writable || hung_up;
        self.reads = match self.reads {
            Reads::Closed => Reads::Closed,
            _ if hung_up => Reads::HungUp,
            Reads::Drained if readable => Reads::Ready,
            reads => reads,
        };
    }

    /// One bounded turn: write what waits, read once, answer what is complete, write again.
    pub fn turn(&mut self, turn: &mut Turn<'_>) -> Next {
        self.release(turn.now);
        self.flush(turn.now);
        match self.phase {
            Phase::Idle(_) | Phase::Request { .. } if self.output.len() < OUTPUT_LIMIT => {
                self.read_input(turn.scratch, turn.options.input_limit());
                self.answer(turn);
                self.flush(turn.now);
            }
            Phase::Lingering(_) => {
                self.read_once(turn.scratch); // and dropped
            }
            _ => {}
        }
        self.settle(turn.now);
        self.next(turn.options)
    }

    fn next(&self, options: &ServerOptions) -> Next {
        match self.phase {
            Phase::Done => Next::Done,
            Phase::Idle(_) | Phase::Request { .. } => {
                let room = self.input.len() < options.input_limit();
                let can_read = self.may_read() && room && self.output.len() < OUTPUT_LIMIT;
                if can_read || (self.backlog() && self.output.len() < OUTPUT_LIMIT) {
                    Next::Again
                } else {
                    Next::Wait
                }
            }
            Phase::Holding { until, .. } => Next::WaitUntil(until),
            Phase::Lingering(_) if self.may_read() => Next::Again,
            Phase::Lingering(_) | Phase::Closing => Next::Wait,
        }
    }

    /// A read may find something: bytes, or the end of stream.
    fn may_read(&self) -> bool {
        matches!(self.reads, Reads::Ready | Reads::HungUp)
    }

    /// Requests wait in the input for the next turn: the last one stopped at
    /// `REQUESTS_PER_TURN`, or at `OUTPUT_LIMIT`.
    fn backlog(&self) -> bool {
        matches!(self.phase, Phase::Idle(_)) && !self.input.is_empty()
    }

    /// Reads once into the input, which holds `limit` bytes at most, and grows only by what
    /// arrived.
    fn read_input(&mut self, scratch: &mut [u8], limit: usize) {
        let room = limit.saturating_sub(self.input.len()).min(scratch.len());
        let read = self.read_once(&mut scratch[..room]);
        let needed = self.input.len() + read;
        if needed > self.input.capacity() {
            // By doubling, but never past the limit.
            let grown = needed.max(2 * self.input.capacity()).min(limit);
            self.input.reserve_exact(grown - self.input.len());
        }
        self.input.extend_from_slice(&scratch[..read]);
    }

    /// One read into `buffer`, if the socket may have something: how many bytes came.
    fn read_once(&mut self, buffer: &mut [u8]) -> usize {
        if !self.may_read() || buffer.is_empty() {
            return 0;
        }
        match self.socket.read(buffer) {
            Ok(0) => {
                self.reads = Reads::Closed;
                0
            }
            Ok(read) => {
                // A short read emptied the socket; the next arrival is a new event. After a
                // hang-up the end of stream comes with no event: read on to it.
                if read < buffer.len() && self.reads == Reads::Ready {
                    self.reads = Reads::Drained;
                }
                read
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.reads = Reads::Drained;
                0
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(_) => {
                self.phase = Phase::Done;
                0
            }
        }
    }

    /// Answers the complete requests at the start of the input, `REQUESTS_PER_TURN` at most.
    fn answer(&mut self, turn: &mut Turn<'_>) {
        let mut start = 0;
        for answered in 0.. {
            if start == self.input.len() {
                break;
            }
            if answered == REQUESTS_PER_TURN || self.output.len() >= OUTPUT_LIMIT {
                break; // the rest waits for the next turn, idle: the backlog
            }
            // The request in progress, or a new one from the start of its head, taken out of
            // the phase for the step (`answer_one` needs `self`); each outcome sets the next.
            let (deadline, mut reading) = match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Request { deadline, reading } => (deadline, reading),
                Phase::Idle(_) => {
                    let deadline = turn.now + turn.options.header_timeout;
                    (deadline, Reading::Head(HeadScanner::default()))
                }
                other => {
                    self.phase = other; // not serving (never here: `turn` checks)
                    break;
                }
            };
            let before = self.output.len();
            match self.answer_one(start, &mut reading, turn) {
                Step::Answered { used, close, hold } => {
                    start += used;
                    if let Some(until) = hold.filter(|&until| until > turn.now) {
                        let answer = self.output.len() - before;
                        self.phase = Phase::Holding {
                            until,
                            answer,
                            close,
                        };
                        if close {
                            start = self.input.len(); // as below
                        }
                        break; // the rest waits in the input, as a backlog
                    }
                    if close {
                        self.phase = Phase::Closing;
                        start = self.input.len(); // whatever follows is never answered
                        break;
                    }
                    self.phase = Phase::Idle(turn.now);
                }
                Step::Incomplete if self.input.len() - start >= turn.options.input_limit() => {
                    // The request fills the input and is not whole. Each limit is kept (a
                    // chunked body's framing is dropped as it is decoded), but not their sum:
                    // a head after many empty lines, with a body. Too large.
                    self.refuse(413, turn.date);
                    start = self.input.len();
                    break;
                }
                Step::Incomplete => {
                    self.phase = Phase::Request { deadline, reading };
                    break;
                }
                Step::Refuse(code) => {
                    self.refuse(code, turn.date);
                    start = self.input.len();
                    break;
                }
            }
        }
        self.input.drain(..start);
    }

    /// Answers the request that starts at `input[start..]`, if it is all in; `reading` says
    /// how far it had come, and is moved on if it is not.
    fn answer_one(&mut self, start: usize, reading: &mut Reading, turn: &mut Turn<'_>) -> Step {
        let scanner = match reading {
            Reading::Head(scanner) => scanner,
            Reading::Body { head_len, body } => {
                return self.answer_body(start, *head_len, body, false, turn);
            }
        };
        let head_len = match scanner.end(&self.input[start..], turn.options) {
            Ok(Some(end)) => end,
            Ok(None) => return Step::Incomplete,
            Err(code) => return Step::Refuse(code),
        };
        // The head is in: parsed once for its framing. A request without a body is answered
        // from this parse.
        let parsed = match head::parse(&self.input[start..start + head_len], turn.fields) {
            Ok(parsed) => parsed,
            Err(code) => return Step::Refuse(code),
        };
        let limit = turn.options.max_body_bytes;
        let mut body = match parsed.framing {
            Framing::None => {
                let request = Request {
                    head: parsed.head,
                    body: &[],
                    remote_addr: self.remote_addr,
                };
                let (close, hold) = respond(
                    &request,
                    parsed.close,
                    &mut self.output,
                    turn.handler,
                    turn.date,
                );
                return Step::Answered {
                    used: head_len,
                    close,
                    hold,
                };
            }
            Framing::Length(length) if length > limit as u64 => return Step::Refuse(413),
            Framing::Length(length) => Body::Length(length as usize), // <= limit: fits
            Framing::Chunked => Body::Chunked(Dechunker::default()),
        };
        let expects_continue = parsed.expects_continue;
        let step = self.answer_body(start, head_len, &mut body, expects_continue, turn);
        *reading = Reading::Body { head_len, body };
        step
    }

    /// Answers the request whose head is `input[start..start + head_len]`, once its body is
    /// whole. `expects_continue`: the head is new, and asked for a 100 Continue.
    fn answer_body(
        &mut self,
        start: usize,
        head_len: usize,
        body: &mut Body,
        expects_continue: bool,
        turn: &mut Turn<'_>,
    ) -> Step {
        let (head_end, limit) = (start + head_len, turn.options.max_body_bytes);
        let (length, used) = match body.whole(&mut self.input, head_end, limit) {
            Ok(Some(whole)) => whole,
            Ok(None) => {
                // The client waits for our word before it sends the body (RFC 9110, 10.1.1):
                // said once, when the head is in and the body is not.
                if expects_continue {
                    self.output
                        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                return Step::Incomplete;
            }
            Err(code) => return Step::Refuse(code),
        };
        // The body is whole: the head is parsed again, for the request that borrows it.
        let parsed = match head::parse(&self.input[start..head_end], turn.fields) {
            Ok(parsed) => parsed,
            Err(code) => return Step::Refuse(code),
        };
        let request = Request {
            head: parsed.head,
            body: &self.input[head_end..head_end + length],
            remote_addr: self.remote_addr,
        };
        let (close, hold) = respond(
            &request,
            parsed.close,
            &mut self.output,
            turn.handler,
            turn.date,
        );
        Step::Answered {
            used: head_len + used,
            close,
            hold,
        }
    }

    /// Answers with `code` and closes: the request cannot be read, or not safely.
    fn refuse(&mut self, code: u16, date: &[u8]) {
        let status = crate::StatusCode(code);
        Response::from_fmt(format_args!("{}\n", status.default_reason_phrase()))
            .with_status_code(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .write(&mut self.output, date, false, false, true);
        self.phase = Phase::Closing;
    }

    /// A held answer whose time has come goes out with the others, and the connection goes on.
    fn release(&mut self, now: Instant) {
        if let Phase::Holding { until, close, .. } = self.phase {
            if now >= until {
                self.phase = match close {
                    true => Phase::Closing,
                    false => Phase::Idle(now),
                };
            }
        }
    }

    /// Writes what it can of the output, up to a held answer.
    fn flush(&mut self, now: Instant) {
        let held = match self.phase {
            Phase::Holding { answer, .. } => answer,
            _ => 0,
        };
        let ready = self.output.len() - held;
        let mut written = 0;
        while written < ready && self.writable {
            match self.socket.write(&self.output[written..ready]) {
                Ok(0) => self.phase = Phase::Done,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.phase = Phase::Done, // the client is gone
            }
            if let Phase::Done = self.phase {
                break;
            }
        }
        self.output.drain(..written);
        // A held answer waits for its time, not for the client.
        self.stalled_since = match self.output.len() == held {
            true => None,
            false => self.stalled_since.or(Some(now)),
        };
    }

    /// Moves on once the client has closed, or our last answer is out.
    fn settle(&mut self, now: Instant) {
        let serving = matches!(self.phase, Phase::Idle(_) | Phase::Request { .. });
        let closed = self.reads == Reads::Closed;
        if serving && closed && !self.backlog() {
            // Whatever is left of the input will never be complete.
            self.phase = Phase::Closing;
        }
        if let Phase::Closing = self.phase {
            if self.output.is_empty() {
                self.phase = match closed {
                    true => Phase::Done,
                    false => {
                        self.socket.shutdown_write();
                        Phase::Lingering(now + LINGER)
                    }
                };
            }
        }
        if let Phase::Lingering(_) = self.phase {
            if closed {
                self.phase = Phase::Done;
            }
        }
    }

    /// Drops an idle connection, refuses a late request (408), and gives up on a client that
    /// does not read its answers, or does not close after our last one.
    pub fn check_deadlines(&mut self, now: Instant, options: &ServerOptions, date: &[u8]) {
        let idle = options.idle_timeout;
        if self.stalled_since.is_some_and(|since| now > since + idle) {
            self.phase = Phase::Done;
        }
        match self.phase {
            Phase::Idle(since) if now > since + idle => self.phase = Phase::Done,
            Phase::Idle(since) if now > since + SHRINK_AFTER && self.output.is_empty() => {
                // Busy, a connection keeps its buffers: answering allocates nothing. Idle, it
                // keeps none.
                self.input = Vec::new();
                self.output = Vec::new();
            }
            Phase::Request { deadline, .. } if now > deadline => {
                self.refuse(408, date);
                self.flush(now);
                self.settle(now);
            }
            Phase::Lingering(until) if now > until => self.phase = Phase::Done,
            _ => {}
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Bytes its buffers hold: room taken by the input, and answers not written yet.
    pub fn held(&self) -> (usize, usize) {
        (self.input.capacity(), self.output.len())
    }
}

/// Answers `request` into `output`: the handler's response, or the engine's own for
/// `OPTIONS *`. Whether the connection closes after it (`close`: the request asked to), and
/// the time it is held until, if any.
fn respond(
    request: &Request<'_>,
    close: bool,
    output: &mut Vec<u8>,
    handler: &dyn Handler,
    date: &[u8],
) -> (bool, Option<Instant>) {
    // A handler that panics ends the process: the engine's one panic rule (`crate::spawn`).
    let response = match request.head.for_the_server {
        // `OPTIONS *` (RFC 9110, 9.3.7) is about the server, not one of the handler's
        // resources: answered as Go does, 200 and no body.
        true => Response::empty(200),
        false => handler.respond(request),
    };
    let close = close || response.closes_connection();
    write(&response, request, output, date, close);
    (close, response.held_until())
}

/// Writes the answer to `request` into `out`: HEAD gets no body, and an HTTP/1.0 client that
/// keeps its connection is told so.
fn write(
    response: &Response<'_>,
    request: &Request<'_>,
    out: &mut Vec<u8>,
    date: &[u8],
    close: bool,
) {
    let head_only = request.method() == Method::Head;
    let keep_alive_10 = request.http_version() < (1, 1) && !close;
    response.write(out, date, head_only, keep_alive_10, close);
}

#[cfg(test)]
mod test {
    use crate::fuzzing::{answers, serve};

    /// What a client that sends `pieces` is answered, as status and the echo's first line
    /// (`200 POST /number`), checked the same when all of it comes in one read.
    fn answered(pieces: &[&[u8]]) -> Vec<String> {
        let whole = pieces.concat();
        let (at_once, in_pieces) = (serve(&[&whole], false), serve(pieces, false));
        assert_eq!(answers(&at_once), answers(&in_pieces));
        let answers = answers(&at_once);
        let shown = |answer: &&[u8]| {
            let text = String::from_utf8_lossy(answer);
            let status = &text[9..12];
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
            format!("{status} {}", body.lines().next().unwrap_or_default())
        };
        answers.iter().map(shown).collect()
    }

    /// `answered` for `request`, in one read and a byte at a time.
    fn answers_to(request: &[u8]) -> Vec<String> {
        let bytewise: Vec<&[u8]> = request.chunks(1).collect();
        let answers = answered(&bytewise);
        assert_eq!(answered(&[request]), answers);
        answers
    }

    const POST_CHUNKED: &[u8] =
        b"POST /number HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const NEXT: &[u8] = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn a_chunk_size_that_wraps_32_bits_is_413() {
        let request = [POST_CHUNKED, b"2\r\nab\r\nfffffffe\r\n"].concat();
        assert_eq!(answers_to(&request), ["413 Payload Too Large"]);
    }

    /// Issue 28: a bare LF in an extension ends the line, as in Go and nginx: one request.
    #[test]
    fn the_smuggled_request_is_one_body() {
        let body = b"4;\naaaa\r\n002f\r\n0\r\n\r\nGET /number?smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n";
        let request = [POST_CHUNKED, body, NEXT].concat();
        assert_eq!(answers_to(&request), ["200 POST /number", "200 GET /next"]);
    }

    /// Issue 28: a bare LF ends the trailer section, and the next request is answered.
    #[test]
    fn no_request_hides_in_the_trailers() {
        for end in [&b"0\r\n\n"[..], b"0\r\nX-Trailer: y\n\r\n", b"0\n\n"] {
            let request = [POST_CHUNKED, end, NEXT].concat();
            let expected = ["200 POST /number", "200 GET /next"];
            assert_eq!(answers_to(&request), expected, "{end:?}");
        }
    }

    /// Issue 28: 5,000 bytes of extension were served whole and refused in pieces.
    #[test]
    fn a_long_extension_is_400_however_it_arrives() {
        let body = format!("1;{}\r\na\r\n0\r\n\r\n", "e".repeat(4998));
        let request = [POST_CHUNKED, body.as_bytes(), NEXT].concat();
        assert_eq!(answers_to(&request), ["400 Bad Request"]);
        let (first, rest) = request.split_at(POST_CHUNKED.len() + 4600);
        assert_eq!(answered(&[first, rest]), ["400 Bad Request"]);
    }

    #[test]
    fn lengths_are_one_field_and_chunk_sizes_may_have_leading_zeros() {
        for length in [
            "Content-Length: 5, 5",
            "Content-Length: 5\r\nContent-Length: 5",
        ] {
            let request = format!("POST /number HTTP/1.1\r\nHost: x\r\n{length}\r\n\r\nhello");
            assert_eq!(answers_to(request.as_bytes()), ["400 Bad Request"]);
        }
        let request = [POST_CHUNKED, b"0000000005\r\nhello\r\n0\r\n\r\n", NEXT].concat();
        assert_eq!(answers_to(&request), ["200 POST /number", "200 GET /next"]);
    }

    /// The decoded body is what the handler sees, and a 100 Continue goes out once.
    #[test]
    fn bodies_reach_the_handler_decoded() {
        let request = b"POST /n HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let bytewise: Vec<&[u8]> = request.chunks(1).collect();
        let written = serve(&bytewise, false);
        let text = String::from_utf8_lossy(&written);
        assert_eq!(text.matches("100 Continue").count(), 1, "{text}");
        assert!(text.ends_with("\r\n\r\nPOST /n\nabcde"), "{text}");
    }
}
