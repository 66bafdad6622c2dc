//! Request heads, read from a buffer: where a head ends, what it says, and whether its framing
//! is one that every reader agrees on (RFC 9112). Everything borrows from the buffer; no I/O
//! and no allocation here. One module per job, in the order a head meets them: `scan` (where
//! it ends), `lines` (the request line and header lines), `target` (the request target and
//! Host), `framing` (how its body is delimited); `parse`, here, puts them together.
//!
//! fogdeft patches (see PATCHED.md): "Head limits", "Versions", "Framing", "Targets and
//! Host" and "Field values".

mod framing;
mod lines;
mod scan;
mod target;

use std::borrow::Cow;
use std::ops::Range;

use self::framing::{expects_continue, framing, list_values};
use self::lines::{parse_header, parse_request_line};
use self::target::{check_host, Target};
use crate::common::{HTTPVersion, Method};
use crate::request::Header;

pub(crate) use self::framing::Framing;
pub(crate) use self::lines::is_token;
pub(crate) use self::scan::HeadScanner;

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

/// A head, and what the connection does with the rest of the request.
pub(crate) struct Parsed<'a> {
    pub head: Head<'a>,
    pub framing: Framing,
    pub expects_continue: bool,
    /// The client asked to close after the response (or is HTTP/1.0 without keep-alive).
    pub close: bool,
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

#[cfg(test)]
pub(super) mod test {
    use super::*;

    /// Parses `text` with a field list of its own.
    pub fn parsed(text: &str) -> Result<Parsed<'_>, u16> {
        parse(text.as_bytes(), Box::leak(Box::default())) // a test's few bytes, leaked
    }

    #[test]
    fn more_than_max_headers_fields_are_431() {
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parsed(&many).err(), Some(431));
    }
}
