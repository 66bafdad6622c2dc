//! One client connection: it reads each request head within the server's limits and deadlines,
//! checks its framing (RFC 9112), and turns it into a `Request`. A head that is malformed, too
//! large, too slow or of another HTTP version gets its status code (400, 408, 414, 417, 431,
//! 501 or 505) with `Connection: close`, and the connection ends.
//!
//! fogdeft patches (see PATCHED.md): "Owned head reader", "Head limits", "Head deadline",
//! "Versions", "Framing", "Connection: close", "No drain" and "Peer address".

use std::io::{self, BufRead, BufReader, BufWriter, Cursor, ErrorKind, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ascii::AsciiString;
use chunked_transfer::Decoder;

use crate::common::{HTTPVersion, Header, HeaderField, Method};
use crate::connection::Connection;
use crate::request::new_request;
use crate::util::{EqualReader, FusedReader, RefinedTcpStream, SequentialWriterBuilder, Socket};
use crate::{Request, Response, ServerOptions};

/// Bodies up to this size are read together with their head, so that the connection can go on
/// to the next request. A larger body is left to the handler, and its connection ends after the
/// response: nothing is ever drained or buffered by a size the client declared.
const BUFFERED_BODY_BYTES: u64 = 1024;

/// After the last response, how long the client gets to read it and close its end before we
/// close ours. Closing a socket with unread input sends a reset, which can destroy the response
/// before the client has read it.
const LINGER: Duration = Duration::from_millis(500);

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    remote_addr: Option<SocketAddr>,
    socket: Arc<Socket>,
    options: Arc<ServerOptions>,

    /// Where request heads come from; `None` once a request took it to read its body.
    source: Option<BufReader<RefinedTcpStream>>,

    /// Where responses go, in the order of the requests, even if answered out of order.
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    /// What the socket's read timeout is now, so that it is set only when it changes.
    read_timeout: Option<Duration>,

    /// The last request said that the connection ends after its response.
    no_more_requests: bool,
}

/// Why no request was read.
#[derive(Debug, PartialEq)]
enum ReadError {
    /// The client closed, stayed quiet between requests, or the socket failed: nothing to say.
    Gone,
    /// The request is refused with this status code, and the connection ends.
    Refused(u16),
}

use ReadError::{Gone, Refused};

/// How a request's body is delimited (RFC 9112, section 6).
#[derive(Debug, PartialEq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A request head: its request line and header fields.
struct Head {
    method: Method,
    target: String,
    version: HTTPVersion,
    headers: Vec<Header>,
}

impl ClientConnection {
    /// Takes a freshly accepted connection. `remote_addr` is the address `accept` returned.
    pub(crate) fn new(
        connection: Connection,
        remote_addr: Option<SocketAddr>,
        options: Arc<ServerOptions>,
    ) -> ClientConnection {
        let socket = Socket::new(connection);
        // Best effort: a socket that refuses these still works, only less well.
        let _ = socket.set_nodelay();
        let _ = socket.set_write_timeout(options.idle_timeout);
        let (read, write) = RefinedTcpStream::new(&socket);

        ClientConnection {
            remote_addr,
            socket,
            options,
            source: Some(BufReader::with_capacity(1024, read)),
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write)),
            read_timeout: None,
            no_more_requests: false,
        }
    }

    /// Reads the next request: its head, then its body or what will read it.
    fn read_request(&mut self) -> Result<Request, ReadError> {
        let options = Arc::clone(&self.options);
        let source = self.source.as_mut().ok_or(Gone)?;
        let mut input = Input {
            source,
            socket: &self.socket,
            read_timeout: &mut self.read_timeout,
            deadline: None,
        };
        // Between requests, the client may take `idle_timeout` to start the next one, and then
        // `header_timeout` for the whole head.
        input.wait_for_request(options.idle_timeout)?;
        input.deadline = options.header_timeout.map(|limit| Instant::now() + limit);
        let head = read_head(&mut input, &options)?;

        let framing = framing(&head)?;
        let expects_continue = expects_continue(&head.headers)?;
        let connection = connection_tokens(&head.headers);
        let upgrade = connection.iter().any(|t| t.eq_ignore_ascii_case("upgrade"));
        let close_requested = connection.iter().any(|t| t.eq_ignore_ascii_case("close"))
            || (head.version < (1, 1)
                && !connection
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("keep-alive")));

        // A small body is read now; anything else is read by the handler, if at all, straight
        // from the connection, which then ends after the response.
        let buffered = match framing {
            Framing::Length(length) if length <= BUFFERED_BODY_BYTES && !expects_continue => {
                Some(input.read_body(length as usize)?)
            }
            Framing::None if !upgrade => Some(Vec::new()),
            _ => None,
        };
        if buffered.is_none() {
            // Reads of the body may each take up to `idle_timeout`, as any read between requests.
            input.set_read_timeout(options.idle_timeout)?;
        }

        let close = close_requested || buffered.is_none();
        self.no_more_requests = close;
        let (body, body_length): (Box<dyn io::Read + Send>, _) = match (buffered, framing) {
            (Some(bytes), _) => {
                let length = bytes.len();
                (Box::new(Cursor::new(bytes)), Some(length))
            }
            (None, _) if upgrade => (Box::new(self.take_source()?), None),
            (None, Framing::Length(length)) => (
                Box::new(EqualReader::new(self.take_source()?, length)),
                usize::try_from(length).ok(),
            ),
            (None, _) => (
                Box::new(FusedReader::new(Decoder::new(self.take_source()?))),
                None,
            ),
        };

        let request = new_request(
            false,
            head.method,
            head.target,
            head.version,
            head.headers,
            self.remote_addr,
            body,
            body_length,
            self.sink.next_writer(),
        )
        .on_connection(&self.socket, close);
        Ok(if expects_continue {
            request.expecting_continue()
        } else {
            request
        })
    }

    fn take_source(&mut self) -> Result<BufReader<RefinedTcpStream>, ReadError> {
        self.source.take().ok_or(Gone)
    }

    /// Answers a refused request with its status code, and ends the connection after it.
    fn refuse(&mut self, code: u16) {
        let response = Response::from_string(format!(
            "{}\n",
            crate::StatusCode(code).default_reason_phrase()
        ))
        .with_status_code(code);
        let mut writer = self.sink.next_writer();
        let _ = response
            .print(&mut writer, HTTPVersion(1, 1), &[], false, None, true)
            .and_then(|()| writer.flush());
        self.socket.close_after_response();
    }

    /// Once our side is shut, reads and discards what the client still sends, until it closes
    /// its end or `LINGER` has passed (see `LINGER`).
    fn linger(&mut self) {
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.socket.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.socket.read_raw(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        if self.no_more_requests || self.socket.is_closing() {
            // A response closed the connection: let the client see all of it. (With `recv`, the
            // response may still be on its way: then the last writer closes the connection.)
            if self.socket.is_closing() {
                self.linger();
            }
            return None;
        }
        match self.read_request() {
            Ok(request) => Some(request),
            Err(Gone) => None,
            Err(Refused(code)) => {
                self.refuse(code);
                self.linger();
                None
            }
        }
    }
}

/// The reading side of a connection while a head is read, with the deadline it must meet.
struct Input<'a> {
    source: &'a mut BufReader<RefinedTcpStream>,
    socket: &'a Socket,
    read_timeout: &'a mut Option<Duration>,
    /// When the head must be complete; `None` while waiting for a request to start.
    deadline: Option<Instant>,
}

impl Input<'_> {
    /// Waits up to `idle` for the first byte of a request.
    fn wait_for_request(&mut self, idle: Option<Duration>) -> Result<(), ReadError> {
        if self.source.buffer().is_empty() {
            self.set_read_timeout(idle)?;
        }
        self.fill().map(|_| ())
    }

    /// The bytes at hand, reading more if there are none. A read that would end after the
    /// deadline times out at the deadline instead.
    fn fill(&mut self) -> Result<&[u8], ReadError> {
        if self.source.buffer().is_empty() {
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Refused(408));
                }
                self.set_read_timeout(Some(left))?;
            }
        }
        let timed_out = self.deadline.is_some();
        match self.source.fill_buf() {
            Ok([]) => Err(Gone),
            Ok(bytes) => Ok(bytes),
            Err(e)
                if timed_out && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                Err(Refused(408))
            }
            Err(_) => Err(Gone),
        }
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ReadError> {
        // A zero timeout would mean "wait forever" to the socket.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if *self.read_timeout != timeout {
            self.socket.set_read_timeout(timeout).map_err(|_| Gone)?;
            *self.read_timeout = timeout;
        }
        Ok(())
    }

    /// Reads one line without its ending: CRLF, or a bare LF, which RFC 9112 (section 2.2)
    /// allows a recipient to accept. Returns the line and how many bytes it took. A line longer
    /// than `limit` bytes is refused with `too_long`.
    fn line(&mut self, limit: usize, too_long: u16) -> Result<(Vec<u8>, usize), ReadError> {
        let mut line = Vec::new();
        loop {
            let (used, found) = {
                let available = self.fill()?;
                let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                    Some(end) => (&available[..end], true),
                    None => (available, false),
                };
                // One more byte for the CR of a CRLF.
                if line.len() + chunk.len() > limit.saturating_add(1) {
                    return Err(Refused(too_long));
                }
                line.extend_from_slice(chunk);
                (chunk.len() + found as usize, found)
            };
            self.source.consume(used);
            if found {
                let taken = line.len() + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > limit {
                    return Err(Refused(too_long));
                }
                return Ok((line, taken));
            }
        }
    }

    /// Reads a body of `length` bytes, as part of the head (same deadline).
    fn read_body(&mut self, length: usize) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::with_capacity(length);
        while body.len() < length {
            let used = {
                let available = self.fill()?;
                let used = available.len().min(length - body.len());
                body.extend_from_slice(&available[..used]);
                used
            };
            self.source.consume(used);
        }
        Ok(body)
    }
}

/// Reads the request line and the header fields, within the limits of `options`.
fn read_head(input: &mut Input<'_>, options: &ServerOptions) -> Result<Head, ReadError> {
    // RFC 9112, section 2.2: empty lines before a request line are ignored, within its limit.
    let mut budget = options.max_request_line;
    let request_line = loop {
        let (line, taken) = input.line(budget, 414)?;
        if !line.is_empty() {
            break line;
        }
        budget = budget.checked_sub(taken).ok_or(Refused(414))?;
    };
    let (method, target, version) = parse_request_line(&request_line)?;

    let mut headers = Vec::new();
    let mut budget = options.max_header_bytes;
    loop {
        let (line, taken) = input.line(budget, 431)?;
        if line.is_empty() {
            break;
        }
        if headers.len() == options.max_headers {
            return Err(Refused(431));
        }
        budget = budget.saturating_sub(taken);
        headers.push(parse_header(&line)?);
    }
    Ok(Head {
        method,
        target,
        version,
        headers,
    })
}

/// `method SP request-target SP HTTP-version` (RFC 9112, section 3). HTTP/1.x with a minor
/// version above 1 is taken as HTTP/1.1 (section 2.3); any other major version gets 505.
fn parse_request_line(line: &[u8]) -> Result<(Method, String, HTTPVersion), ReadError> {
    let text = std::str::from_utf8(line).map_err(|_| Refused(400))?;
    let mut parts = text.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None) => (method, target, version),
        _ => return Err(Refused(400)),
    };
    if !is_token(method) || target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refused(400));
    }
    let version = match version.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major - b'0', minor - b'0') {
                (1, minor) => HTTPVersion(1, minor.min(1)),
                _ => return Err(Refused(505)),
            }
        }
        _ => return Err(Refused(400)),
    };
    let method = method.parse().map_err(|_| Refused(400))?;
    Ok((method, target.to_owned(), version))
}

/// `field-name ":" OWS field-value OWS` (RFC 9112, section 5). No space before the colon, no
/// line folding, and only visible ASCII, spaces and tabs in the value.
fn parse_header(line: &[u8]) -> Result<Header, ReadError> {
    let colon = line.iter().position(|&b| b == b':').ok_or(Refused(400))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let name = std::str::from_utf8(name).map_err(|_| Refused(400))?;
    if !is_token(name) {
        return Err(Refused(400));
    }
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    let value = &value[start..end];
    if !value.iter().all(|&b| b.is_ascii_graphic() || is_space(&b)) {
        return Err(Refused(400));
    }
    Ok(Header {
        field: HeaderField::from_bytes(name).map_err(|_| Refused(400))?,
        value: AsciiString::from_ascii(value).map_err(|_| Refused(400))?,
    })
}

/// A token (RFC 9110, section 5.6.2): one or more of the characters allowed in a method or a
/// field name.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The values of every `name` header field, split at commas.
fn list_values<'a>(headers: &'a [Header], name: &'static str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|h| h.field.equiv(name))
        .flat_map(|h| h.value.as_str().split(','))
        .map(str::trim)
        .collect()
}

/// How the body is delimited, or why the request is refused (RFC 9112, sections 3.2 and 6).
/// Anything a proxy in front of us might read differently is refused: that is how requests get
/// smuggled past a proxy.
fn framing(head: &Head) -> Result<Framing, ReadError> {
    let hosts = head
        .headers
        .iter()
        .filter(|h| h.field.equiv("Host"))
        .count();
    if hosts > 1 || (hosts == 0 && head.version >= (1, 1)) {
        return Err(Refused(400));
    }
    let lengths = list_values(&head.headers, "Content-Length");
    if head
        .headers
        .iter()
        .any(|h| h.field.equiv("Transfer-Encoding"))
    {
        // With a Content-Length too, or from an HTTP/1.0 client, the framing is ambiguous.
        if !lengths.is_empty() || head.version < (1, 1) {
            return Err(Refused(400));
        }
        let codings = list_values(&head.headers, "Transfer-Encoding");
        let is_chunked = |c: &&str| c.eq_ignore_ascii_case("chunked");
        return match codings.split_last() {
            // The body's length is known only when chunked comes last, and only once.
            Some((last, before)) if is_chunked(last) && !before.iter().any(is_chunked) => {
                if before.iter().all(|c| c.is_empty()) {
                    Ok(Framing::Chunked)
                } else {
                    Err(Refused(501)) // a coding we do not decode, such as gzip
                }
            }
            _ => Err(Refused(400)),
        };
    }
    match lengths.split_first() {
        None => Ok(Framing::None),
        Some((first, rest)) => {
            // Digits only (no sign), and every copy the same.
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refused(400));
            }
            if rest.iter().any(|other| other != first) {
                return Err(Refused(400));
            }
            first.parse().map(Framing::Length).map_err(|_| Refused(400))
        }
    }
}

/// Whether the client waits for `100 Continue`; any other expectation gets 417.
fn expects_continue(headers: &[Header]) -> Result<bool, ReadError> {
    let mut expects = false;
    for header in headers.iter().filter(|h| h.field.equiv("Expect")) {
        if !header.value.as_str().eq_ignore_ascii_case("100-continue") {
            return Err(Refused(417));
        }
        expects = true;
    }
    Ok(expects)
}

/// The options of the `Connection` header fields, such as `close`.
fn connection_tokens(headers: &[Header]) -> Vec<&str> {
    list_values(headers, "Connection")
}

#[cfg(test)]
mod test {
    use super::*;

    fn head(version: (u8, u8), headers: &[&str]) -> Head {
        Head {
            method: Method::Get,
            target: "/".into(),
            version: HTTPVersion(version.0, version.1),
            headers: headers
                .iter()
                .map(|h| parse_header(h.as_bytes()).unwrap())
                .collect(),
        }
    }

    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = parse_request_line(b"GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(parse_request_line(b"GET /hello").is_err());
        assert!(parse_request_line(b"qsd qsd qsd").is_err());
    }

    #[test]
    fn request_lines_follow_rfc_9112() {
        let version = |line: &str| parse_request_line(line.as_bytes()).map(|(_, _, v)| v);
        assert_eq!(version("GET / HTTP/1.0"), Ok(HTTPVersion(1, 0)));
        assert_eq!(version("GET / HTTP/1.9"), Ok(HTTPVersion(1, 1)));
        for newer in ["PRI * HTTP/2.0", "GET / HTTP/3.0", "GET / HTTP/0.9"] {
            assert_eq!(version(newer), Err(Refused(505)), "{newer}");
        }
        for bad in [
            "GET  / HTTP/1.1",
            "GET / HTTP/1.1 ",
            "GET / http/1.1",
            "GET / HTTP/1.10",
            "G(T / HTTP/1.1",
            "GET /\x7f HTTP/1.1",
            "GET /\u{e9} HTTP/1.1",
            "GET /",
        ] {
            assert_eq!(version(bad), Err(Refused(400)), "{bad:?}");
        }
    }

    #[test]
    fn header_lines_follow_rfc_9112() {
        let header = parse_header(b"Host:  example  ").unwrap();
        assert_eq!(header.value.as_str(), "example");
        for bad in [
            &b"Host : x"[..],
            b" folded",
            b"\tfolded",
            b"no colon",
            b": no name",
            b"X: a\rb",
            b"X: caf\xc3\xa9",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn framing_accepts_one_clear_length() {
        assert_eq!(framing(&head((1, 1), &["Host: x"])), Ok(Framing::None));
        assert_eq!(
            framing(&head((1, 1), &["Host: x", "Content-Length: 5"])),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            framing(&head(
                (1, 1),
                &["Host: x", "Content-Length: 5", "content-length: 5"]
            )),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            framing(&head((1, 1), &["Host: x", "Transfer-Encoding: chunked"])),
            Ok(Framing::Chunked)
        );
        assert_eq!(framing(&head((1, 0), &[])), Ok(Framing::None));
    }

    #[test]
    fn framing_refuses_what_a_proxy_could_read_differently() {
        for (version, headers, status) in [
            ((1, 1), &[][..], 400),
            ((1, 1), &["Host: a", "Host: b"], 400),
            (
                (1, 1),
                &["Host: x", "Content-Length: 3", "Content-Length: 4"],
                400,
            ),
            ((1, 1), &["Host: x", "Content-Length: 3, 4"], 400),
            ((1, 1), &["Host: x", "Content-Length: +3"], 400),
            ((1, 1), &["Host: x", "Content-Length: -1"], 400),
            ((1, 1), &["Host: x", "Content-Length: 0x10"], 400),
            (
                (1, 1),
                &["Host: x", "Content-Length: 99999999999999999999"],
                400,
            ),
            ((1, 1), &["Host: x", "Content-Length:"], 400),
            (
                (1, 1),
                &["Host: x", "Transfer-Encoding: chunked", "Content-Length: 3"],
                400,
            ),
            ((1, 0), &["Transfer-Encoding: chunked"], 400),
            ((1, 1), &["Host: x", "Transfer-Encoding: gzip"], 400),
            (
                (1, 1),
                &["Host: x", "Transfer-Encoding: chunked, chunked"],
                400,
            ),
            ((1, 1), &["Host: x", "Transfer-Encoding:"], 400),
            (
                (1, 1),
                &["Host: x", "Transfer-Encoding: gzip, chunked"],
                501,
            ),
        ] {
            assert_eq!(
                framing(&head(version, headers)),
                Err(Refused(status)),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn only_100_continue_is_expected() {
        let headers = |h: &str| vec![parse_header(h.as_bytes()).unwrap()];
        assert_eq!(expects_continue(&headers("Expect: 100-Continue")), Ok(true));
        assert_eq!(
            expects_continue(&headers("Expect: teapot")),
            Err(Refused(417))
        );
        assert_eq!(expects_continue(&[]), Ok(false));
    }
}
