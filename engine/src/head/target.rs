//! The request target's four forms and the Host rules (RFC 9112, section 3.2; RFC 9110,
//! sections 4.2 and 7.2).

use std::borrow::Cow;
use std::net::Ipv6Addr;

use crate::common::{HTTPVersion, Method};
use crate::request::Header;

/// A request target, in the form the request line gave it (RFC 9112, section 3.2).
#[derive(Debug, PartialEq)]
pub(super) enum Target<'a> {
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

/// Which of the four forms `target` is in (RFC 9112, section 3.2), or 400. Paths and queries
/// may hold any visible ASCII, as Go and nginx allow (clients send `|` and `{}` unescaped), but
/// each `%` must start an escape (`%2F`), as both of them check too.
pub(super) fn parse_target(method: Method, target: &str) -> Result<Target<'_>, u16> {
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
pub(super) fn check_host<'a>(
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

#[cfg(test)]
mod test {
    use super::*;
    use crate::head::lines::parse_request_line;
    use crate::head::test::parsed;

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
}
