//! The syntax of the request line and of header lines (RFC 9112, sections 3 and 5).

use super::target::{parse_target, Target};
use crate::common::{HTTPVersion, Method};
use crate::request::Header;

/// `method SP request-target SP HTTP-version` (RFC 9112, section 3). HTTP/1.x with a minor
/// version above 1 is taken as HTTP/1.1 (section 2.3); any other major version gets 505.
pub(super) fn parse_request_line(line: &[u8]) -> Result<(&str, Target<'_>, HTTPVersion), u16> {
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

/// `field-name ":" OWS field-value OWS` (RFC 9112, section 5). No space before the colon and no
/// line folding (section 5.2 allows refusing it). The value may hold 8-bit bytes (obs-text), as
/// Go and nginx allow, but no control character but tab (RFC 9110, section 5.5).
pub(super) fn parse_header(line: &[u8]) -> Result<Header<'_>, u16> {
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

#[cfg(test)]
mod test {
    use super::*;
    use crate::head::parse;

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
}
