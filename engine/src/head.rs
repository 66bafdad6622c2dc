//! Request heads, read from a buffer: where a head ends, what it says, and whether its framing
//! is one that every reader agrees on (RFC 9112). Everything borrows from the buffer; no I/O
//! and no allocation here.
//!
//! fogdeft patches (see PATCHED.md): "Head limits", "Versions", "Framing", "Targets and
//! Host" and "Field values".

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::ops::Range;

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
    /// The path and query, whatever the form of the target (`*` for asterisk-form).
    pub target: Cow<'a, str>,
    /// `OPTIONS *`: about the server itself, which the engine answers, not the handler.
    pub for_the_server: bool,
    pub version: HTTPVersion,
    /// The request's host: the authority of an absolute-form target, else the `Host` field.
    pub host: Option<&'a str>,
    /// The head as it came, and where each of its fields is in it.
    text: &'a [u8],
    fields: &'a [Field],
}

/// Where one header field's name and value are in its head. A worker keeps one list of these
/// for every head it parses, so that parsing allocates nothing and copies no field, however
/// many fields a head may have.
#[derive(Clone, Debug, Default)]
pub(crate) struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

impl<'a> Head<'a> {
    /// The header fields, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + Clone + 'a {
        let text = self.text;
        self.fields.iter().map(move |field| Header {
            // A field name is a token, so ASCII: `parse_header` checked it.
            name: std::str::from_utf8(&text[field.name.clone()]).unwrap_or_default(),
            value: &text[field.value.clone()],
        })
    }
}

/// A request target, in the form the request line gave it (RFC 9112, section 3.2).
#[derive(Debug, PartialEq)]
pub(crate) enum Target<'a> {
    /// `/path?query`: origin-form, what clients send to a server.
    Origin(&'a str),
    /// `http://authority/path?query`: absolute-form, what clients send to a proxy, and which a
    /// server must accept too. Its authority stands in for the `Host` header (section 3.2.2).
    Absolute {
        authority: &'a str,
        path: Cow<'a, str>,
    },
    /// `host:port`: authority-form, the target of CONNECT and only of CONNECT.
    Authority(&'a str),
    /// `*`: asterisk-form, OPTIONS about the server as a whole.
    Asterisk,
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

/// Parses a complete head (as `HeadScanner::end` found it) and checks its framing. `fields`
/// is the list to note its fields in, emptied first.
pub(crate) fn parse<'a>(text: &'a [u8], fields: &'a mut Vec<Field>) -> Result<Parsed<'a>, u16> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .skip_while(|line| line.is_empty());
    let (method_str, target, version) = parse_request_line(lines.next().unwrap_or_default())?;
    fields.clear();
    for line in lines.take_while(|line| !line.is_empty()) {
        if fields.len() == MAX_HEADERS {
            return Err(431);
        }
        let header = parse_header(line)?;
        fields.push(Field {
            name: place_in(text, header.name.as_bytes()),
            value: place_in(text, header.value),
        });
    }
    let mut head = Head {
        method: Method::from_token(method_str),
        method_str,
        target: Cow::Borrowed("*"),
        for_the_server: target == Target::Asterisk,
        version,
        host: None,
        text,
        fields,
    };
    head.host = check_host(head.headers(), version)?;
    head.target = match target {
        Target::Origin(path) | Target::Authority(path) => Cow::Borrowed(path),
        Target::Absolute { authority, path } => {
            // RFC 9112, section 3.2.2: the target's authority is the request's host, whatever
            // the Host field said.
            head.host = Some(authority);
            path
        }
        Target::Asterisk => Cow::Borrowed("*"),
    };
    let framing = framing(head.headers(), version)?;
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

/// Where `part`, a slice of `text`, lies in it.
fn place_in(text: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    start..start + part.len()
}

/// `method SP request-target SP HTTP-version` (RFC 9112, section 3). HTTP/1.x with a minor
/// version above 1 is taken as HTTP/1.1 (section 2.3); any other major version gets 505.
pub(crate) fn parse_request_line(line: &[u8]) -> Result<(&str, Target<'_>, HTTPVersion), u16> {
    let text = std::str::from_utf8(line).map_err(|_| 400u16)?;
    let mut parts = text.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None) => (method, target, version),
        _ => return Err(400),
    };
    if !is_token(method) {
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
    let target = parse_target(Method::from_token(method), target)?;
    Ok((method, target, version))
}

/// Which of the four forms `target` is in (RFC 9112, section 3.2), or 400. Paths and queries
/// may hold any visible ASCII, as Go and nginx allow (clients send `|` and `{}` unescaped), but
/// each `%` must start an escape (`%2F`), as both of them check too.
fn parse_target(method: Method, target: &str) -> Result<Target<'_>, u16> {
    let escapes_ok = target
        .split('%')
        .skip(1)
        .all(|after| after.len() >= 2 && after.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) || !escapes_ok {
        return Err(400);
    }
    match target {
        _ if target.starts_with('/') => Ok(Target::Origin(target)),
        "*" if method == Method::Options => Ok(Target::Asterisk),
        _ if method == Method::Connect => match target.rsplit_once(':') {
            // uri-host ":" port, with both parts there (section 3.2.3).
            Some((host, port)) if !host.is_empty() && !port.is_empty() && is_host(target) => {
                Ok(Target::Authority(target))
            }
            _ => Err(400),
        },
        _ => parse_absolute_form(target),
    }
}

/// `http://authority/path?query` (or https), section 3.2.2. Its host must not be empty (RFC
/// 9110, section 4.2.1), and userinfo (`user@`) is refused, as RFC 9110, section 4.2.4, asks.
/// Other schemes are refused: their resources are not ours to serve.
fn parse_absolute_form(target: &str) -> Result<Target<'_>, u16> {
    let (scheme, rest) = target.split_once("://").ok_or(400u16)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(400);
    }
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    if authority.is_empty() || authority.starts_with(':') || !is_host(authority) {
        return Err(400);
    }
    let path = match path.starts_with('/') {
        true => Cow::Borrowed(path),
        false => Cow::Owned(format!("/{path}")), // `http://h` is `/`, and `http://h?q` is `/?q`
    };
    Ok(Target::Absolute { authority, path })
}

/// The Host field (RFC 9112, section 3.2): one in HTTP/1.1, at most one before, and valid;
/// else 400. Checked even when an absolute-form target will replace it, as Go does: a proxy in
/// front of us might have read it.
fn check_host<'a>(
    headers: impl Iterator<Item = Header<'a>>,
    version: HTTPVersion,
) -> Result<Option<&'a str>, u16> {
    let mut hosts = headers.filter(|h| h.name.eq_ignore_ascii_case("Host"));
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(400),
        (None, _) if version >= (1, 1) => Err(400),
        (None, _) => Ok(None),
        (Some(host), _) => match std::str::from_utf8(host.value) {
            Ok(host) if is_host(host) => Ok(Some(host)),
            _ => Err(400),
        },
    }
}

/// `uri-host [":" port]` (RFC 9110, section 7.2, in RFC 3986's grammar): a bracketed IPv6 (or
/// future) address or a name of letters, digits, `-._~`, `!$&'()*+,;=` and %-escapes, then
/// optionally `:` and digits. An empty name is valid: it is the Host of a URI without one.
/// So `a b`, `a/b`, `a, b` and `a@b` are not hosts.
fn is_host(text: &str) -> bool {
    let (host, port) = match text.strip_prefix('[') {
        Some(literal) => match literal.split_once(']') {
            Some((address, port)) if is_ip_literal(address) => ("", port),
            _ => return false,
        },
        None => text.split_at(text.find(':').unwrap_or(text.len())),
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    port_ok && is_reg_name(host)
}

/// `IPv6address / IPvFuture`, the inside of `[...]` (RFC 3986, section 3.2.2).
fn is_ip_literal(address: &str) -> bool {
    match address.strip_prefix(['v', 'V']) {
        Some(future) => future.split_once('.').is_some_and(|(version, rest)| {
            !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_hexdigit())
                && !rest.is_empty()
                && rest.bytes().all(|b| b == b':' || is_name_byte(b))
        }),
        None => address.parse::<Ipv6Addr>().is_ok(),
    }
}

/// `reg-name`: unreserved characters, sub-delimiters and %-escapes (RFC 3986, section 3.2.2).
fn is_reg_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    while let Some(byte) = bytes.next() {
        let escape = byte == b'%'
            && bytes.next().is_some_and(|b| b.is_ascii_hexdigit())
            && bytes.next().is_some_and(|b| b.is_ascii_hexdigit());
        if !escape && !is_name_byte(byte) {
            return false;
        }
    }
    true
}

/// An unreserved character or a sub-delimiter (RFC 3986, section 2).
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&byte)
}

/// `field-name/// `field-name ":" OWS field-value OWS` (RFC 9112, section 5). No space before the colon and no
/// line folding (section 5.2 allows refusing it). The value may hold 8-bit bytes (obs-text), as
/// Go and nginx allow, but no control character but tab (RFC 9110, section 5.5).
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
    if !value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
    {
        return Err(400);
    }
    Ok(Header { name, value })
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
fn list_values<'a>(
    headers: impl Iterator<Item = Header<'a>>,
    name: &'static str,
) -> impl Iterator<Item = &'a str> {
    headers
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| std::str::from_utf8(h.value).unwrap_or("").split(','))
        .map(str::trim)
}

/// How the body is delimited, or why the request is refused (RFC 9112, sections 3.2 and 6).
/// Anything a proxy in front of us might read differently is refused: that is how requests get
/// smuggled past a proxy.
fn framing<'a>(
    headers: impl Iterator<Item = Header<'a>> + Clone,
    version: HTTPVersion,
) -> Result<Framing, u16> {
    let mut lengths = list_values(headers.clone(), "Content-Length");
    if headers
        .clone()
        .any(|h| h.name.eq_ignore_ascii_case("Transfer-Encoding"))
    {
        // With a Content-Length too, or from an HTTP/1.0 client, the framing is ambiguous.
        if lengths.next().is_some() || version < (1, 1) {
            return Err(400);
        }
        // The body's length is known only when chunked comes last, and only once. Empty list
        // elements are ignored, wherever they stand (RFC 9110, section 5.6.1).
        let (mut chunked, mut last_is_chunked, mut other) = (0, false, false);
        for coding in list_values(headers, "Transfer-Encoding").filter(|c| !c.is_empty()) {
            last_is_chunked = coding.eq_ignore_ascii_case("chunked");
            chunked += last_is_chunked as usize;
            other |= !last_is_chunked;
        }
        return match (last_is_chunked && chunked == 1, other) {
            (false, _) => Err(400),
            (true, true) => Err(501), // a coding we do not decode, such as gzip
            (true, false) => Ok(Framing::Chunked),
        };
    }
    // One field, of digits only (no sign, no list): `Content-Length: 5, 5` is refused, as Go
    // and nginx refuse it, and so is a repeated field, even of the same value (nginx refuses
    // it, Go 1.19 serves it: where the peers differ we refuse).
    match (lengths.next(), lengths.next()) {
        (None, _) => Ok(Framing::None),
        (Some(length), None)
            if !length.is_empty() && length.bytes().all(|b| b.is_ascii_digit()) =>
        {
            length.parse().map(Framing::Length).map_err(|_| 400)
        }
        _ => Err(400),
    }
}

/// Whether the client waits for `100 Continue`; any other expectation gets 417.
fn expects_continue<'a>(headers: impl Iterator<Item = Header<'a>>) -> Result<bool, u16> {
    let mut expects = false;
    for header in headers.filter(|h| h.name.eq_ignore_ascii_case("Expect")) {
        if !header.value.eq_ignore_ascii_case(b"100-continue") {
            return Err(417);
        }
        expects = true;
    }
    Ok(expects)
}

#[cfg(test)]
mod test {
    use super::*;

    /// How a `GET /` with these header lines is framed, or the status it is refused with.
    fn check(version: (u8, u8), headers: &[&str]) -> Result<Framing, u16> {
        let (major, minor) = version;
        let lines: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        let text = format!("GET / HTTP/{major}.{minor}\r\n{lines}\r\n");
        parse(text.as_bytes(), &mut Vec::new()).map(|parsed| parsed.framing)
    }

    /// Parses `text` with a field list of its own.
    fn parsed(text: &str) -> Result<Parsed<'_>, u16> {
        parse(text.as_bytes(), Box::leak(Box::default())) // a test's few bytes, leaked
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
                let _ = parse(&text[..end], &mut Vec::new());
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
        assert_eq!(parsed(&many).err(), Some(431));
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
            b"X: a\0b",
            b"X: a\x1bb",
            b"X: a\x7fb",
            b"Caf\xc3\xa9: x",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
    }

    /// obs-text (RFC 9112, section 5; RFC 9110, section 5.5): served, kept as bytes.
    #[test]
    fn header_values_may_hold_8_bit_bytes() {
        let utf8 = parse_header(b"User-Agent: caf\xc3\xa9/1.0").unwrap();
        assert_eq!(utf8.value, "caf\u{e9}/1.0".as_bytes());
        let latin1 = parse_header(b"Referer: http://x/caf\xe9").unwrap();
        assert_eq!(latin1.value, b"http://x/caf\xe9");
        let text = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\r\n\r\n";
        let mut fields = Vec::new();
        let request = crate::Request {
            head: parse(text, &mut fields).unwrap().head,
            body: b"",
            remote_addr: ([192, 0, 2, 1], 1).into(),
        };
        assert_eq!(request.header("user-agent"), None); // not text
        assert_eq!(request.headers().nth(1).unwrap().value, b"\xff\xfe");
    }

    #[test]
    fn request_targets_come_in_four_forms() {
        let target = |line: &'static str| parse_request_line(line.as_bytes()).map(|(_, t, _)| t);
        let origin = |path| Ok(Target::Origin(path));
        let absolute = |authority, path: &'static str| {
            Ok(Target::Absolute {
                authority,
                path: path.into(),
            })
        };
        assert_eq!(target("GET /number?x=1 HTTP/1.1"), origin("/number?x=1"));
        assert_eq!(target("GET /a|{b} HTTP/1.1"), origin("/a|{b}"));
        assert_eq!(target("GET /caf%C3%A9 HTTP/1.1"), origin("/caf%C3%A9"));
        assert_eq!(
            target("GET http://host/number HTTP/1.1"),
            absolute("host", "/number")
        );
        assert_eq!(
            target("GET HTTPS://[::1]:8080/n?q HTTP/1.1"),
            absolute("[::1]:8080", "/n?q")
        );
        assert_eq!(target("GET http://h HTTP/1.1"), absolute("h", "/"));
        assert_eq!(target("GET http://h?q HTTP/1.1"), absolute("h", "/?q"));
        assert_eq!(
            target("CONNECT h:443 HTTP/1.1"),
            Ok(Target::Authority("h:443"))
        );
        assert_eq!(target("OPTIONS * HTTP/1.1"), Ok(Target::Asterisk));
        for bad in [
            "GET * HTTP/1.1",
            "GET number HTTP/1.1",
            "GET h:443 HTTP/1.1",
            "CONNECT h HTTP/1.1",
            "CONNECT :443 HTTP/1.1",
            "GET ftp://h/number HTTP/1.1",
            "GET http:///number HTTP/1.1",
            "GET http://:80/number HTTP/1.1",
            "GET http://user@h/number HTTP/1.1",
            "GET http://a%zz/ HTTP/1.1",
            "GET /%zz HTTP/1.1",
            "GET /a%2 HTTP/1.1",
            "GET /a?q=100% HTTP/1.1",
            "GET http:/h/number HTTP/1.1",
        ] {
            assert_eq!(target(bad), Err(400), "{bad:?}");
        }
    }

    #[test]
    fn host_values_follow_rfc_9110() {
        for good in [
            "example.com",
            "example.com:5000",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:5000",
            "[v1.fe:x]",
            "a_b-c~d",
            "caf%C3%A9",
            "a,b", // sub-delimiters are allowed in a name, as Go and nginx allow them
            "h:",
            "",
        ] {
            assert!(is_host(good), "{good:?}");
        }
        for bad in [
            "a b",
            "a/b",
            "a, b",
            "a@b",
            "a\tb",
            "[::1",
            "[nope]",
            "[::1]x",
            "h:x",
            "h:80:80",
            "caf\u{e9}",
            "a%2",
            "a%zz",
            "a?b",
            "a#b",
        ] {
            assert!(!is_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn exactly_one_valid_host_or_400() {
        let status = |text: &'static str| parsed(text).err();
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x:5000\r\n\r\n"), None);
        assert_eq!(status("GET / HTTP/1.1\r\nHost:\r\n\r\n"), None);
        assert_eq!(status("GET / HTTP/1.0\r\n\r\n"), None);
        for bad in [
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: caf\u{e9}\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\nHost: a b\r\n\r\n",
        ] {
            assert_eq!(status(bad), Some(400), "{bad:?}");
        }
    }

    /// RFC 9112, section 3.2.2: the authority of an absolute-form target is the request's Host.
    #[test]
    fn absolute_form_takes_its_host_from_the_target() {
        let host = |text: &'static str| {
            let head = parsed(text).unwrap().head;
            (head.target.into_owned(), head.host)
        };
        let expected = ("/number".to_string(), Some("h:5000"));
        assert_eq!(
            host("GET http://h:5000/number HTTP/1.1\r\nHost: other\r\n\r\n"),
            expected
        );
        assert_eq!(host("GET http://h:5000/number HTTP/1.0\r\n\r\n"), expected);
        assert_eq!(
            host("GET /number HTTP/1.1\r\nHost: h:5000\r\n\r\n"),
            expected
        );
    }

    #[test]
    fn options_asterisk_is_for_the_server() {
        assert!(
            parsed("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap()
                .head
                .for_the_server
        );
        assert!(
            !parsed("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap()
                .head
                .for_the_server
        );
        assert_eq!(parsed("GET * HTTP/1.1\r\nHost: x\r\n\r\n").err(), Some(400));
    }

    #[test]
    fn framing_accepts_one_clear_length() {
        assert_eq!(check((1, 1), &["Host: x"]), Ok(Framing::None));
        assert_eq!(
            check((1, 1), &["Host: x", "Content-Length: 5"]),
            Ok(Framing::Length(5))
        );
        for chunked in ["chunked", ", chunked", "chunked,", "chunked , ,"] {
            let field = format!("Transfer-Encoding: {chunked}");
            assert_eq!(check((1, 1), &["Host: x", &field]), Ok(Framing::Chunked));
        }
        assert_eq!(check((1, 0), &[]), Ok(Framing::None));
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
            ((1, 1), &["Host: x", "Content-Length: 5, 5"], 400),
            (
                (1, 1),
                &["Host: x", "Content-Length: 5", "content-length: 5"],
                400,
            ),
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
            assert_eq!(check(version, headers), Err(status), "{headers:?}");
        }
    }

    #[test]
    fn only_100_continue_is_expected() {
        let headers = |h: &'static str| std::iter::once(parse_header(h.as_bytes()).unwrap());
        assert_eq!(expects_continue(headers("Expect: 100-Continue")), Ok(true));
        assert_eq!(expects_continue(headers("Expect: teapot")), Err(417));
        assert_eq!(expects_continue(std::iter::empty()), Ok(false));
    }

    #[test]
    fn connection_options_decide_the_close() {
        let parsed = |text: &'static str| parsed(text).unwrap();
        assert!(!parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").close);
        assert!(parsed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").close);
        assert!(parsed("GET / HTTP/1.0\r\n\r\n").close);
        assert!(!parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        // An upgrade is not offered: the request is served as any other (RFC 9110, 7.8).
        assert!(!parsed("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n").close);
    }
}
