//! `producer healthcheck` and `autoscaler healthcheck`: a `FROM scratch` image has no curl, so
//! each binary asks its own `/healthz` for Docker's HEALTHCHECK. Healthy means a whole HTTP
//! answer `200` whose body is `{"status":"ok"}`, not any `200`: a web server on the wrong port
//! sends one too. And the check has one deadline, however slowly the bytes come.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{escape, Value};

/// How long the whole check may take: connecting, asking and reading the answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Our `/healthz` answers take a few hundred bytes; a longer answer is not one of them.
const MAX_ANSWER: usize = 4096;

/// Asks `/healthz` on `host:port` (this machine when `host` is 0.0.0.0 or ::) and returns the
/// exit code: 0 when healthy, else 1, with one line on stderr that says why.
pub fn check(program: &str, host: IpAddr, port: u16) -> i32 {
    let host = match host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let address = SocketAddr::new(host, port);
    match probe(address, Instant::now() + TIMEOUT) {
        Ok(()) => 0,
        Err(why) => {
            eprintln!("{program} healthcheck: http://{address}/healthz: {why}");
            1
        }
    }
}

/// Healthy, or why not. Each step gets only the time left before `deadline`.
fn probe(address: SocketAddr, deadline: Instant) -> Result<(), String> {
    let late = || format!("no whole answer within {}", TIMEOUT.show());
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(late())
        } else {
            Ok(left)
        }
    };
    let failed = |error: io::Error| match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => late(),
        _ => error.to_string(),
    };
    let mut stream = TcpStream::connect_timeout(&address, left()?).map_err(failed)?;
    stream.set_write_timeout(Some(left()?)).map_err(failed)?;
    let request = b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
    stream.write_all(request).map_err(failed)?;
    // HTTP/1.0: the answer ends when the server closes the connection.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        stream.set_read_timeout(Some(left()?)).map_err(failed)?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(failed(error)),
        }
        if answer.len() > MAX_ANSWER {
            return Err(format!("unhealthy: an answer over {MAX_ANSWER} bytes"));
        }
    }
    judge(&answer)
}

/// Healthy: an HTTP answer, status 200, its whole body `{"status":"ok"}`.
fn judge(answer: &[u8]) -> Result<(), String> {
    if answer.is_empty() {
        return Err("unhealthy: the connection closed without an answer".into());
    }
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut fields);
    let head_length = match response.parse(answer) {
        Ok(httparse::Status::Complete(length)) => length,
        _ => return Err(format!("unhealthy: not an HTTP answer: {}", shown(answer))),
    };
    let body = &answer[head_length..];
    let length = response
        .headers
        .iter()
        .find(|field| field.name.eq_ignore_ascii_case("Content-Length"))
        .map(|field| {
            std::str::from_utf8(field.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    if let Some(length) = length {
        if length != Some(body.len()) {
            return Err(format!(
                "unhealthy: the answer was cut short: {}",
                shown(answer)
            ));
        }
    }
    let status = response.code.unwrap_or(0);
    let json = crate::http::json(body);
    let ok = json.as_ref().and_then(|json| json["status"].as_str()) == Some("ok");
    match (status, ok) {
        (200, true) => Ok(()),
        (200, false) => Err(format!(
            "unhealthy: HTTP 200, but the body is not {{\"status\":\"ok\"}}: {}",
            shown(body)
        )),
        (status, _) => Err(format!("unhealthy: HTTP {status}: {}", shown(body))),
    }
}

/// The start of what a peer sent, fit for one line of a log.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = escape(text.trim_end());
    match text.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(head: &str, body: &str) -> Vec<u8> {
        format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn only_a_200_with_status_ok_is_healthy() {
        assert_eq!(
            judge(&answer("HTTP/1.1 200 OK", "{\"status\":\"ok\"}\n")),
            Ok(())
        );
        assert_eq!(
            judge(b"HTTP/1.0 200 OK\r\n\r\n{\"status\": \"ok\"}"),
            Ok(())
        );
        for (sent, says) in [
            (
                answer("HTTP/1.1 200 OK", "<html>It works!</html>"),
                "HTTP 200, but the body is not {\"status\":\"ok\"}: <html>It works!</html>",
            ),
            (
                answer(
                    "HTTP/1.1 503 Service Unavailable",
                    "{\"status\":\"draining\"}\n",
                ),
                "HTTP 503: {\"status\":\"draining\"}",
            ),
            (
                answer("HTTP/1.1 404 Not Found", "{\"status\":\"ok\"}"),
                "HTTP 404",
            ),
            (
                b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec(),
                "not an HTTP answer: SSH-2.0-OpenSSH_9.2p1 Debian-2",
            ),
            (b"HTTP/1.1 200 OK\r\n".to_vec(), "not an HTTP answer"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"status\":\"ok\"}".to_vec(),
                "cut short",
            ),
            (Vec::new(), "closed without an answer"),
        ] {
            let why = judge(&sent).unwrap_err();
            assert!(why.contains(says), "{why}");
            assert!(!why.contains('\n'), "one line: {why}");
        }
    }

    #[test]
    fn what_a_peer_sent_is_shown_short_and_escaped() {
        assert_eq!(shown(b"a\nb\x1b"), "a\\nb\\u{1b}");
        assert_eq!(shown(&[b'x'; 300]), format!("{}...", "x".repeat(100)));
    }
}
