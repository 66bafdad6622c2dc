//! What a handler returns: a status, a few header fields and a body, which the engine writes
//! into the connection's output. A response borrows what it can (header fields and bodies the
//! handler prepared once) and keeps a small body in place (`Response::from_fmt`), so that
//! answering need not allocate.

use std::fmt::{self, Write as _};
use std::time::Instant;

use crate::StatusCode;

/// Header fields a response holds without allocating; more spill onto the heap.
const INLINE_HEADERS: usize = 5;
/// Bodies up to this size, made with `from_fmt`, are kept in the response itself.
const INLINE_BODY: usize = 64;

/// An HTTP response. `'a` is what it borrows from: usually the handler, or `'static`.
///
/// The engine writes `Date`, `Content-Length` and `Connection` itself: fields of those names
/// are ignored, except `Connection: close`, which closes the connection after this response
/// (as `Response::close_after` does). A field whose name is not a token, or whose value holds a
/// control character (CR, LF, NUL...), is left out, so a response can never inject a field.
pub struct Response<'a> {
    status: StatusCode,
    headers: [(&'a str, &'a str); INLINE_HEADERS],
    count: usize,
    more_headers: Vec<(&'a str, &'a str)>,
    body: Body<'a>,
    close: bool,
    hold_until: Option<Instant>,
}

enum Body<'a> {
    Borrowed(&'a [u8]),
    Inline([u8; INLINE_BODY], usize),
    Owned(Vec<u8>),
}

impl<'a> Response<'a> {
    /// An empty response with this status.
    pub fn empty(status: impl Into<StatusCode>) -> Response<'a> {
        Response::from_slice(b"").with_status_code(status)
    }

    /// A 200 response with this body, borrowed.
    pub fn from_slice(body: &'a [u8]) -> Response<'a> {
        Response::with_body(Body::Borrowed(body))
    }

    /// A 200 response with this body.
    pub fn from_data(body: impl Into<Vec<u8>>) -> Response<'a> {
        Response::with_body(Body::Owned(body.into()))
    }

    /// A 200 `text/plain` response with this text.
    pub fn from_string(text: impl Into<String>) -> Response<'a> {
        Response::from_data(text.into().into_bytes())
            .with_header("Content-Type", "text/plain; charset=UTF-8")
    }

    /// A 200 response whose body is formatted, in place when it is small:
    /// `Response::from_fmt(format_args!("{n}\n"))` makes no allocation.
    pub fn from_fmt(args: fmt::Arguments<'_>) -> Response<'a> {
        let mut inline = Inline([0; INLINE_BODY], 0);
        if inline.write_fmt(args).is_ok() {
            return Response::with_body(Body::Inline(inline.0, inline.1));
        }
        Response::from_data(fmt::format(args))
    }

    fn with_body(body: Body<'a>) -> Response<'a> {
        Response {
            status: StatusCode(200),
            headers: [("", ""); INLINE_HEADERS],
            count: 0,
            more_headers: Vec::new(),
            body,
            close: false,
            hold_until: None,
        }
    }

    pub fn with_status_code(mut self, status: impl Into<StatusCode>) -> Response<'a> {
        self.set_status_code(status);
        self
    }

    pub fn set_status_code(&mut self, status: impl Into<StatusCode>) {
        self.status = status.into();
    }

    /// Adds a header field (see the rules above).
    pub fn with_header(mut self, name: &'a str, value: &'a str) -> Response<'a> {
        self.add_header(name, value);
        self
    }

    pub fn add_header(&mut self, name: &'a str, value: &'a str) {
        if name.eq_ignore_ascii_case("Connection") {
            self.close |= value.trim().eq_ignore_ascii_case("close");
            return;
        }
        let reserved = ["Date", "Content-Length", "Transfer-Encoding"];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) || !is_safe(name, value) {
            return;
        }
        // A response has one type: a `Content-Type` replaces the one before it (such as
        // `from_string`'s text/plain), where any other field is added beside its namesakes.
        if name.eq_ignore_ascii_case("Content-Type") {
            let fields = self.headers[..self.count].iter_mut();
            if let Some(field) = fields
                .chain(self.more_headers.iter_mut())
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                *field = (name, value);
                return;
            }
        }
        if self.count < INLINE_HEADERS {
            self.headers[self.count] = (name, value);
            self.count += 1;
        } else {
            self.more_headers.push((name, value));
        }
    }

    /// Closes the connection after this response, saying `Connection: close`.
    pub fn close_after(&mut self) {
        self.close = true;
    }

    /// Sends this response no earlier than `until`. The worker does not wait for it: the
    /// connection holds the finished answer (and reads no request after it) while the worker
    /// serves the others, and sends it once its time has come.
    pub fn hold_until(&mut self, until: Instant) {
        self.hold_until = Some(until);
    }

    /// When this response may go out, if it is held (`hold_until`).
    pub fn held_until(&self) -> Option<Instant> {
        self.hold_until
    }

    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    pub fn closes_connection(&self) -> bool {
        self.close
    }

    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Borrowed(body) => body,
            Body::Inline(bytes, len) => &bytes[..*len],
            Body::Owned(body) => body,
        }
    }

    /// The header fields the handler set, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.headers[..self.count]
            .iter()
            .chain(&self.more_headers)
            .copied()
    }

    /// Appends this response to `out`. `date` is the `Date` value; `head_only`: the request was
    /// HEAD; `keep_alive_10`: an HTTP/1.0 client asked to keep the connection; `close`: the
    /// connection ends after this response.
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        date: &[u8],
        head_only: bool,
        keep_alive_10: bool,
        close: bool,
    ) {
        let code = self.status.0;
        out.extend_from_slice(b"HTTP/1.1 ");
        write_number(out, code as usize);
        out.push(b' ');
        put(out, self.status.default_reason_phrase().as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        put(out, date);
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers() {
            put(out, name.as_bytes());
            out.extend_from_slice(b": ");
            put(out, value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        // RFC 9110, section 8.6: no Content-Length on 1xx and 204; every other response has one,
        // so a client always knows where it ends.
        let no_body = matches!(code, 100..=199 | 204 | 304);
        if !matches!(code, 100..=199 | 204) {
            out.extend_from_slice(b"Content-Length: ");
            write_number(out, self.body().len());
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if keep_alive_10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !(head_only || no_body) {
            put(out, self.body());
        }
    }
}

/// Appends a piece of an answer to `out`. An answer is a dozen short pieces, and a copy whose
/// length the compiler does not know is a call to the C library's `memcpy`. The static musl
/// build's `memcpy` costs more than such a copy: it moves a piece's first and last bytes one
/// at a time and starts a string instruction for the rest (in `perf`, 6.5 % of the producer's
/// time, where glibc's took 1.8 %). A copy of fixed length is done in registers, so a short
/// piece goes in 8-byte words and its last bytes one by one.
fn put(out: &mut Vec<u8>, piece: &[u8]) {
    if piece.len() > 64 {
        out.extend_from_slice(piece); // there `memcpy` is the fast way
        return;
    }
    let (words, tail) = piece.as_chunks::<8>();
    for word in words {
        out.extend_from_slice(word);
    }
    for &byte in tail {
        out.push(byte);
    }
}

/// A field name that is a token and a value without control characters (tabs aside).
fn is_safe(name: &str, value: &str) -> bool {
    crate::head::is_token(name) && value.bytes().all(|b| b == b'\t' || !b.is_ascii_control())
}

/// Decimal digits, without going through `fmt`.
fn write_number(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(out, &digits[at..]);
}

/// A fixed buffer that `write!` fills; too small a buffer is an error.
struct Inline([u8; INLINE_BODY], usize);

impl fmt::Write for Inline {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // A byte at a time, for the reason in `put`.
        for &byte in s.as_bytes() {
            *self.0.get_mut(self.1).ok_or(fmt::Error)? = byte;
            self.1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(response: &Response<'_>, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        response.write(&mut out, b"DATE", head_only, false, close);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn responses_say_their_length_and_close() {
        let response = Response::from_fmt(format_args!("{}", 42)).with_header("X-A", "b");
        assert_eq!(
            written(&response, false, false),
            "HTTP/1.1 200 OK\r\nDate: DATE\r\nX-A: b\r\nContent-Length: 2\r\n\r\n42"
        );
        assert_eq!(
            written(&response, true, true),
            "HTTP/1.1 200 OK\r\nDate: DATE\r\nX-A: b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let long = "x".repeat(INLINE_BODY + 1);
        assert_eq!(
            Response::from_fmt(format_args!("{long}")).body(),
            long.as_bytes()
        );
    }

    #[test]
    fn a_content_type_replaces_the_one_before_it() {
        let response = Response::from_string("x").with_header("Content-Type", "text/csv");
        let types: Vec<_> = response
            .headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .collect();
        assert_eq!(types, [("Content-Type", "text/csv")]);
    }

    #[test]
    fn fields_that_could_inject_are_left_out() {
        let response = Response::empty(204)
            .with_header("X-Ok", "fine\tvalue")
            .with_header("X-Bad", "a\r\nSet-Cookie: x=1")
            .with_header("Bad Name", "v")
            .with_header("Content-Length", "5")
            .with_header("Connection", "close");
        let text = written(&response, false, response.closes_connection());
        assert_eq!(
            text,
            "HTTP/1.1 204 No Content\r\nDate: DATE\r\nX-Ok: fine\tvalue\r\nConnection: close\r\n\r\n"
        );
        let many = (0..10).fold(Response::empty(200), |r, _| r.with_header("X", "y"));
        assert_eq!(many.headers().count(), 10);
    }
}
