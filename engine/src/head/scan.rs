//! Where a head ends, found as its bytes arrive, and the limits on its size (414, 431).

use crate::ServerOptions;

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

#[cfg(test)]
mod test {
    use super::*;
    use crate::head::parse;

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
    }
}
