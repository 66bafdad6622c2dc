//! Request heads, read from a buffer: where a head ends, what it says, and whether its framing
//! is one that every reader agrees on (RFC 9112). Everything borrows from the buffer; no I/O
//! and no allocation here.
//!
//! fogdeft patches (see PATCHED.md): "Head limits", "Versions" and "Framing".

use crate::common::{HTTPVersion, Method};
use crate::request::Header;
use crate::ServerOptions;

/// Header fields a request may have at most (nginx and Go allow more by size only; a hundred
/// is far beyond what browsers and proxies send). More: 431.
pub const MAX_HEADERS: usize = 100;

/// A request head: its request line and header fields, borrowed from the connection's buffer.
pub(crate) struct Head<'a> {
    pub method: Method,
    pub method_str: &'a str,
    pub target: &'a str,
    pub version: HTTPVersion,
    fields: [Header<'a>; MAX_HEADERS],
    count: usize,
}

impl<'a> Head<'a> {
    pub fn headers(&self) -> &[Header<'a>] {
        &self.fields[..self.count]
    }
}

/// How a request's body is delimited (RFC 9112, section 6).
#[derive(Debug, PartialEq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A head, and what the connection does with the rest of the request.
pub(crate) struct Parsed<'a> {
    pub head: Head<'a>,
    pub framing: Framing,
    pub expects_continue: bool,
    /// The client asked to close after the response (or is HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// Finds the end of a head in a growing buffer without rescanning it: each call looks only at
/// what arrived since the last one. A client that sends its head a byte at a time costs one
/// look per byte, not one per byte per byte. One scanner serves one head.
#[derive(Default)]
pub(crate) struct HeadScanner {
    /// Where the header lines start, once the request line is complete.
    headers_start: Option<usize>,
    /// Where the line being looked at starts (the request line, then each header line), and how
    /// far the buffer has been looked at.
    line_start: usize,
    scanned: usize,
    /// Where the head ends, once found (its body may still be on its way).
    found: Option<usize>,
}

impl HeadScanner {
    /// Where the head at the start of `buffer` ends (after its empty line), or `None` if it is
    /// not complete yet. A head that is already past the limits is refused with 414 or 431.
    pub fn end(&mut self, buffer: &[u8], options: &ServerOptions) -> Result<Option<usize>, u16> {
        if self.found.is_some() {
            return Ok(self.found);
        }
        let headers_start = match self.headers_start {
            Some(at) => at,
            None => {
                // The request line. RFC 9112, section 2.2: empty lines before it are ignored,
                // so until its first byte `line_start` moves on past each CR and LF.
                let mut end = None;
                for (at, &byte) in buffer.iter().enumerate().skip(self.scanned) {
                    match byte {
                        b'\r' | b'\n' if at == self.line_start => self.line_start = at + 1,
                        b'\n' => {
                            end = Some(at);
                            break;
                        }
                        _ => {}
                    }
                }
                let start = self.line_start;
                if start > options.max_request_line
                    || end.unwrap_or(buffer.len()) - start
                        > options.max_request_line.saturating_add(1)
                {
                    return Err(414);
                }
                let Some(end) = end else {
                    self.scanned = buffer.len();
                    return Ok(None);
                };
                let at = end + 1;
                (self.headers_start, self.line_start, self.scanned) = (Some(at), at, at);
                at
            }
        };
        // The header section ends with an empty line.
        for at in self.scanned..buffer.len() {
            if buffer[at] == b'\n' {
                if matches!(&buffer[self.line_start..at], b"" | b"\r") {
                    if at + 1 - headers_start > options.max_header_bytes.saturating_add(2) {
                        return Err(431);
                    }
                    self.found = Some(at + 1);
                    return Ok(self.found);
                }
                self.line_start = at + 1;
            }
        }
        self.scanned = buffer.len();
        if buffer.len() - headers_start > options.max_header_bytes.saturating_add(2) {
            return Err(431);
        }
        Ok(None)
    }
}

/// Parses a complete head (as `HeadScanner::end` found it) and checks its framing.
pub(crate) fn parse(text: &[u8]) -> Result<Parsed<'_>, u16> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .skip_while(|line| line.is_empty());
    let (method_str, target, version) = parse_request_line(lines.next().unwrap_or_default())?;
    let mut head = Head {
        method: Method::from_token(method_str),
        method_str,
        target,
        version,
        fields: [Header::default(); MAX_HEADERS],
        count: 0,
    };
    for line in lines.take_while(|line| !line.is_empty()) {
        let slot = head.fields.get_mut(head.count).ok_or(431u16)?;
        *slot = parse_header(line)?;
        head.count += 1;
    }
    check_host(&head)?;
    let framing = framing(&head)?;
    let expects_continue = expects_continue(head.headers())?;
    let has = |token: &str| {
        list_values(head.headers(), "Connection").any(|t| t.eq_ignore_ascii_case(token))
    };
    let close = has("close") || (head.version < (1, 1) && !has("keep-alive"));
    Ok(Parsed {
        head,
        framing,
        expects_continue,
        close,
    })
}

/// `method SP request-target SP HTTP-version` (RFC 9112, section 3). HTTP/1.x with a minor
/// version above 1 is taken as HTTP/1.1 (section 2.3); any other major version gets 505.
pub(crate) fn parse_request_line(line: &[u8]) -> Result<(&str, &str, HTTPVersion), u16> {
    let text = std::str::from_utf8(line).map_err(|_| 400u16)?;
    let mut parts = text.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None) => (method, target, version),
        _ => return Err(400),
    };
    if !is_token(method) || target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(400);
    }
    let version = match version.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major - b'0', minor - b'0') {
                (1, minor) => HTTPVersion(1, minor.min(1)),
                _ => return Err(505),
            }
        }
        _ => return Err(400),
    };
    Ok((method, target, version))
}

/// `field-name ":" OWS field-value OWS` (RFC 9112, section 5). No space before the colon, no
/// line folding, and only visible ASCII, spaces and tabs in the value.
pub(crate) fn parse_header(line: &[u8]) -> Result<Header<'_>, u16> {
    let colon = line.iter().position(|&b| b == b':').ok_or(400u16)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let name = std::str::from_utf8(name).map_err(|_| 400u16)?;
    if !is_token(name) {
        return Err(400);
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
        return Err(400);
    }
    Ok(Header { name, value })
}

/// HTTP/1.1 needs exactly one `Host` (RFC 9112, section 3.2); HTTP/1.0 at most one.
fn check_host(head: &Head<'_>) -> Result<(), u16> {
    let hosts = head
        .headers()
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Host"))
        .count();
    if hosts > 1 || (hosts == 0 && head.version >= (1, 1)) {
        return Err(400);
    }
    Ok(())
}

/// A token (RFC 9110, section 5.6.2): one or more of the characters allowed in a method or a
/// field name.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The values of every `name` header field, split at commas (values that are not text
/// count as one empty value).
fn list_values<'a>(headers: &'a [Header<'_>], name: &'static str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| std::str::from_utf8(h.value).unwrap_or("").split(','))
        .map(str::trim)
}

/// How the body is delimited, or why the request is refused (RFC 9112, sections 3.2 and 6).
/// Anything a proxy in front of us might read differently is refused: that is how requests get
/// smuggled past a proxy.
fn framing(head: &Head<'_>) -> Result<Framing, u16> {
    let headers = head.headers();
    let mut lengths = list_values(headers, "Content-Length");
    if headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("Transfer-Encoding"))
    {
        // With a Content-Length too, or from an HTTP/1.0 client, the framing is ambiguous.
        if lengths.next().is_some() || head.version < (1, 1) {
            return Err(400);
        }
        // The body's length is known only when chunked comes last, and only once.
        let (mut chunked, mut last_is_chunked, mut other) = (0, false, false);
        for coding in list_values(headers, "Transfer-Encoding") {
            last_is_chunked = coding.eq_ignore_ascii_case("chunked");
            chunked += last_is_chunked as usize;
            other |= !last_is_chunked && !coding.is_empty();
        }
        return match (last_is_chunked && chunked == 1, other) {
            (false, _) => Err(400),
            (true, true) => Err(501), // a coding we do not decode, such as gzip
            (true, false) => Ok(Framing::Chunked),
        };
    }
    match lengths.next() {
        None => Ok(Framing::None),
        Some(first) => {
            // Digits only (no sign), and every copy the same.
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(400);
            }
            if lengths.any(|other| other != first) {
                return Err(400);
            }
            first.parse().map(Framing::Length).map_err(|_| 400)
        }
    }
}

/// Whether the client waits for `100 Continue`; any other expectation gets 417.
fn expects_continue(headers: &[Header<'_>]) -> Result<bool, u16> {
    let mut expects = false;
    for header in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Expect"))
    {
        if !header.value.eq_ignore_ascii_case(b"100-continue") {
            return Err(417);
        }
        expects = true;
    }
    Ok(expects)
}

/// A chunked body at the start of `buffer` (RFC 9112, section 7.1), decoded into `body`:
/// `Ok(Some(end))` once its last chunk and trailer section are in (`end`: where it ends in
/// `buffer`), `Ok(None)` while it is arriving, and 400 for bad framing or 413 past `limit`
/// decoded bytes. Chunk extensions and trailer fields are read and ignored.
pub(crate) fn dechunk(
    buffer: &[u8],
    limit: usize,
    body: &mut Vec<u8>,
) -> Result<Option<usize>, u16> {
    body.clear();
    let mut at = 0;
    let line = |at: usize| -> Result<Option<(&[u8], usize)>, u16> {
        match buffer[at..].windows(2).position(|w| w == b"\r\n") {
            Some(len) => Ok(Some((&buffer[at..at + len], at + len + 2))),
            None if buffer.len() - at > 4096 => Err(400), // no line is that long
            None => Ok(None),
        }
    };
    loop {
        let Some((size_line, data)) = line(at)? else {
            return Ok(None);
        };
        let digits = size_line.split(|&b| b == b';').next().unwrap_or_default();
        let digits = std::str::from_utf8(digits)
            .map_err(|_| 400u16)?
            .trim_end_matches([' ', '\t']);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) || digits.len() > 8 {
            return Err(400);
        }
        let size = usize::from_str_radix(digits, 16).map_err(|_| 400u16)?;
        if body.len() + size > limit {
            return Err(413);
        }
        if size == 0 {
            // The trailer section: field lines up to an empty line.
            let mut at = data;
            loop {
                match line(at)? {
                    None => return Ok(None),
                    Some((b"", end)) => return Ok(Some(end)),
                    Some((_, end)) => at = end,
                }
            }
        }
        if buffer.len() < data + size + 2 {
            return Ok(None);
        }
        if &buffer[data + size..data + size + 2] != b"\r\n" {
            return Err(400);
        }
        body.extend_from_slice(&buffer[data..data + size]);
        at = data + size + 2;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn head(version: (u8, u8), headers: &[&'static str]) -> Head<'static> {
        let mut head = Head {
            method: Method::Get,
            method_str: "GET",
            target: "/",
            version: HTTPVersion(version.0, version.1),
            fields: [Header::default(); MAX_HEADERS],
            count: headers.len(),
        };
        for (slot, h) in head.fields.iter_mut().zip(headers) {
            *slot = parse_header(h.as_bytes()).unwrap();
        }
        head
    }

    fn check(head: &Head<'_>) -> Result<Framing, u16> {
        check_host(head).and_then(|()| framing(head))
    }

    /// Where `HeadScanner` finds the end of `text`, fed in pieces of `step` bytes.
    fn end_of(text: &str, step: usize, options: &ServerOptions) -> Result<Option<usize>, u16> {
        let mut scanner = HeadScanner::default();
        let bytes = text.as_bytes();
        let mut found = Ok(None);
        for end in (step.min(bytes.len())..=bytes.len()).step_by(step.max(1)) {
            found = scanner.end(&bytes[..end], options);
            if !matches!(found, Ok(None)) {
                return found;
            }
        }
        if !bytes.len().is_multiple_of(step) {
            found = scanner.end(bytes, options);
        }
        found
    }

    #[test]
    fn heads_end_at_their_empty_line_however_they_arrive() {
        let options = ServerOptions::default();
        for step in [1, 2, 3, 7, 1000] {
            for (text, end) in [
                ("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 27),
                ("GET / HTTP/1.1\nHost: x\n\nrest", 24),
                ("GET / HTTP/1.0\r\n\r\n", 18),
                ("\r\n\r\nGET / HTTP/1.0\r\n\r\n", 22),
            ] {
                assert_eq!(
                    end_of(text, step, &options),
                    Ok(Some(end)),
                    "{text:?} by {step}"
                );
            }
            assert_eq!(
                end_of("GET / HTTP/1.1\r\nHost: x\r\n", step, &options),
                Ok(None)
            );
        }
        // Asked again while the body arrives, it answers the same.
        let mut scanner = HeadScanner::default();
        let text = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab";
        assert_eq!(scanner.end(&text[..text.len() - 1], &options), Ok(Some(47)));
        assert_eq!(scanner.end(text, &options), Ok(Some(47)));
    }

    /// Whatever the bytes and however they arrive, the scanner gives the answer it gives for
    /// the whole buffer at once, and parsing what it finds never panics.
    #[test]
    fn scanning_in_pieces_agrees_with_scanning_at_once() {
        let options = ServerOptions {
            max_request_line: 40,
            max_header_bytes: 60,
            ..ServerOptions::default()
        };
        let pieces: [&[u8]; 10] = [
            b"GET / HTTP/1.1",
            b"\r\n",
            b"\n",
            b"\r",
            b"Host: x",
            b"Content-Length: 2",
            b": ",
            b"ab",
            b" ",
            b"\xff",
        ];
        let mut seed = 1u64;
        let mut random = |below: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % below
        };
        for _ in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..random(12) {
                text.extend_from_slice(pieces[random(pieces.len())]);
            }
            let at_once = HeadScanner::default().end(&text, &options);
            let mut scanner = HeadScanner::default();
            let mut end = 0;
            let in_pieces = loop {
                end = (end + 1 + random(6)).min(text.len());
                match scanner.end(&text[..end], &options) {
                    Ok(None) if end < text.len() => continue,
                    other => break other,
                }
            };
            assert_eq!(at_once, in_pieces, "{text:?}");
            if let Ok(Some(end)) = in_pieces {
                assert_eq!(scanner.end(&text, &options), Ok(Some(end)), "asked again");
                let _ = parse(&text[..end]);
            }
        }
    }

    #[test]
    fn heads_past_the_limits_are_refused_before_they_end() {
        let options = ServerOptions {
            max_request_line: 20,
            max_header_bytes: 30,
            ..ServerOptions::default()
        };
        let long_line = format!("GET /{} HTTP/1.1", "a".repeat(30));
        assert_eq!(end_of(&long_line, 1, &options), Err(414));
        let long_headers = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(40));
        assert_eq!(end_of(&long_headers, 5, &options), Err(431));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: 1\r\n".repeat(101));
        assert_eq!(parse(many.as_bytes()).err(), Some(431));
    }

    #[test]
    fn request_lines_follow_rfc_9112() {
        let version = |line: &str| parse_request_line(line.as_bytes()).map(|(_, _, v)| v);
        assert_eq!(version("GET / HTTP/1.0"), Ok(HTTPVersion(1, 0)));
        assert_eq!(version("GET / HTTP/1.9"), Ok(HTTPVersion(1, 1)));
        for newer in ["PRI * HTTP/2.0", "GET / HTTP/3.0", "GET / HTTP/0.9"] {
            assert_eq!(version(newer), Err(505), "{newer}");
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
            assert_eq!(version(bad), Err(400), "{bad:?}");
        }
    }

    #[test]
    fn header_lines_follow_rfc_9112() {
        let header = parse_header(b"Host:  example  ").unwrap();
        assert_eq!(header.value, b"example");
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
        assert_eq!(check(&head((1, 1), &["Host: x"])), Ok(Framing::None));
        assert_eq!(
            check(&head((1, 1), &["Host: x", "Content-Length: 5"])),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            check(&head(
                (1, 1),
                &["Host: x", "Content-Length: 5", "content-length: 5"]
            )),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            check(&head((1, 1), &["Host: x", "Transfer-Encoding: chunked"])),
            Ok(Framing::Chunked)
        );
        assert_eq!(check(&head((1, 0), &[])), Ok(Framing::None));
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
            assert_eq!(check(&head(version, headers)), Err(status), "{headers:?}");
        }
    }

    #[test]
    fn only_100_continue_is_expected() {
        let headers = |h: &'static str| vec![parse_header(h.as_bytes()).unwrap()];
        assert_eq!(expects_continue(&headers("Expect: 100-Continue")), Ok(true));
        assert_eq!(expects_continue(&headers("Expect: teapot")), Err(417));
        assert_eq!(expects_continue(&[]), Ok(false));
    }

    #[test]
    fn connection_options_decide_the_close() {
        let parsed = |text: &'static str| parse(text.as_bytes()).unwrap();
        assert!(!parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").close);
        assert!(parsed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").close);
        assert!(parsed("GET / HTTP/1.0\r\n\r\n").close);
        assert!(!parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        // An upgrade is not offered: the request is served as any other (RFC 9110, 7.8).
        assert!(!parsed("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n").close);
    }

    #[test]
    fn chunked_bodies_are_decoded_once_whole() {
        let whole = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\nGET";
        let mut body = Vec::new();
        for end in 0..whole.len() - 3 {
            assert_eq!(dechunk(&whole[..end], 100, &mut body), Ok(None), "{end}");
        }
        assert_eq!(dechunk(whole, 100, &mut body), Ok(Some(whole.len() - 3)));
        assert_eq!(body, b"abcde");
        assert_eq!(dechunk(whole, 4, &mut body), Err(413));
        for bad in [&b"x\r\n"[..], b"3\r\nabcd\r\n", b"-1\r\n", b"123456789\r\n"] {
            assert_eq!(dechunk(bad, 100, &mut body), Err(400), "{bad:?}");
        }
    }
}
