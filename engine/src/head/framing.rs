//! How the body is delimited (RFC 9112, section 6), and what else the header fields ask of the
//! connection: `Expect`, and the `Connection` options.

use crate::common::HTTPVersion;
use crate::request::Header;

/// How a request's body is delimited (RFC 9112, section 6).
#[derive(Debug, PartialEq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// The values of every `name` header field, split at commas (values that are not text
/// count as one empty value).
pub(super) fn list_values<'a>(
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
pub(super) fn framing<'a>(
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
pub(super) fn expects_continue<'a>(headers: impl Iterator<Item = Header<'a>>) -> Result<bool, u16> {
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
    use crate::head::lines::parse_header;
    use crate::head::parse;
    use crate::head::test::parsed;

    /// How a `GET /` with these header lines is framed, or the status it is refused with.
    fn check(version: (u8, u8), headers: &[&str]) -> Result<Framing, u16> {
        let (major, minor) = version;
        let lines: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        let text = format!("GET / HTTP/{major}.{minor}\r\n{lines}\r\n");
        parse(text.as_bytes(), &mut Vec::new()).map(|parsed| parsed.framing)
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
