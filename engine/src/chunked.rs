//! A chunked request body (RFC 9112, section 7.1), decoded as it arrives, in place: each
//! chunk's data moves down over the framing before it, so the decoded body sits right after
//! the head, in the connection's input, and no second buffer holds it. The decoder keeps its
//! place between reads: every byte is looked at once, however the body is cut.
//!
//! fogdeft patch (see PATCHED.md, "Framing"). One rule for the end of every line of framing
//! (chunk sizes, extensions and trailer lines), Go's and nginx's where they agree: a line ends
//! at LF, a CR just before it is dropped (RFC 9112, section 2.2), and a CR anywhere else is
//! refused. After chunk data exactly CRLF must follow (Go requires it; nginx takes a bare LF
//! too: where the peers differ we refuse, the side a request cannot be smuggled through).

/// Longest line of framing (a chunk size with its extensions, or a trailer line), without its
/// line ending, as Go's `maxLineLength`. Longer: 400, however the line arrives.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Where a chunked body's decoder stands.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum State {
    /// In a chunk-size line: its value so far (0 before any digit), and whether a digit came.
    #[default]
    SizeStart,
    Size(u64),
    /// After the digits: spaces and tabs (BWS) before `;` or the end of the line.
    AfterSize(u64),
    /// In the chunk's extensions, which are read and ignored.
    Extension(u64),
    /// In a chunk's data: this many bytes to go.
    Data(u64),
    /// After a chunk's data: its CR, then its LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the empty line that ends the body.
    TrailerStart,
    /// In a trailer line, which is read and ignored.
    Trailer,
    Done,
}

/// What a call to [`Dechunker::decode`] found.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// The body is whole: `body` bytes of data at the start of the body's place, and the
    /// framing ended `used` bytes after that start (what follows is the next request).
    Whole { body: usize, used: usize },
    /// More is to come. Everything that arrived was taken in: the input now ends with the data
    /// decoded so far.
    Partial,
}

/// The decoder of one chunked body. A new one for each body.
#[derive(Debug, Default)]
pub struct Dechunker {
    state: State,
    /// Bytes of the line in progress, without its line ending.
    line: usize,
    /// A CR came: the line ends with the next byte, which must be LF.
    cr: bool,
    /// Bytes of data decoded, at the start of the body's place.
    written: usize,
    /// Bytes of the body's place looked at (data and framing).
    read: usize,
}

impl Dechunker {
    /// Decodes what has arrived of the body that starts at `input[start..]`, where the last
    /// call left off. `limit`: the most data the body may hold (more: 413). Bad framing: 400.
    /// While the body is partial, `input` is cut back to its decoded data: the framing read so
    /// far is not kept.
    pub fn decode(
        &mut self,
        input: &mut Vec<u8>,
        start: usize,
        limit: usize,
    ) -> Result<Decoded, u16> {
        let body = &mut input[start..];
        while self.read < body.len() && self.state != State::Done {
            if let State::Data(left) = self.state {
                // Data moves down over the framing before it: one copy per piece that arrived.
                let arrived = (body.len() - self.read) as u64;
                let take = left.min(arrived) as usize; // at most what arrived: fits a usize
                body.copy_within(self.read..self.read + take, self.written);
                (self.read, self.written) = (self.read + take, self.written + take);
                self.state = match left - take as u64 {
                    0 => State::DataCr,
                    left => State::Data(left),
                };
                continue;
            }
            let byte = body[self.read];
            self.read += 1;
            self.step(byte, limit)?;
        }
        if self.state == State::Done {
            return Ok(Decoded::Whole {
                body: self.written,
                used: self.read,
            });
        }
        input.truncate(start + self.written);
        self.read = self.written;
        Ok(Decoded::Partial)
    }

    /// Takes one byte of framing.
    fn step(&mut self, byte: u8, limit: usize) -> Result<(), u16> {
        match (self.state, byte) {
            (State::DataCr, b'\r') => self.state = State::DataLf,
            (State::DataLf, b'\n') => self.state = State::SizeStart,
            (State::DataCr | State::DataLf, _) => return Err(400),
            (_, b'\n') => self.end_line()?,
            _ if self.cr => return Err(400), // a CR that does not end its line
            (_, b'\r') => self.cr = true,
            _ => {
                self.line += 1;
                if self.line > MAX_CHUNK_LINE {
                    return Err(400);
                }
                self.state = self.in_line(byte, limit)?;
            }
        }
        Ok(())
    }

    /// Where a byte inside a line of framing leads.
    fn in_line(&self, byte: u8, limit: usize) -> Result<State, u16> {
        let bws = byte == b' ' || byte == b'\t';
        Ok(match self.state {
            State::SizeStart | State::Size(_) => {
                let size = match self.state {
                    State::Size(size) => size,
                    _ => 0,
                };
                match (byte as char).to_digit(16) {
                    // Leading zeros are allowed, however many: the value is what is bounded.
                    Some(digit) => {
                        let room = limit.saturating_sub(self.written) as u64;
                        match size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(digit.into()))
                        {
                            Some(size) if size <= room => State::Size(size),
                            _ => return Err(413),
                        }
                    }
                    None if self.state == State::SizeStart => return Err(400),
                    None if bws => State::AfterSize(size),
                    None if byte == b';' => State::Extension(size),
                    None => return Err(400),
                }
            }
            State::AfterSize(size) if bws => State::AfterSize(size),
            State::AfterSize(size) if byte == b';' => State::Extension(size),
            State::AfterSize(_) => return Err(400),
            State::TrailerStart => State::Trailer,
            other => other, // an extension or a trailer line: ignored
        })
    }

    /// A line of framing ended (at LF).
    fn end_line(&mut self) -> Result<(), u16> {
        self.state = match self.state {
            State::SizeStart => return Err(400),
            State::Size(0) | State::AfterSize(0) | State::Extension(0) => State::TrailerStart,
            State::Size(size) | State::AfterSize(size) | State::Extension(size) => {
                State::Data(size)
            }
            State::TrailerStart => State::Done,
            State::Trailer => State::TrailerStart,
            // Data states never reach here (`step` takes them first), nor does Done.
            other => other,
        };
        (self.line, self.cr) = (0, false);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use crate::fuzzing::Dechunked;

    /// Decodes `bytes` (a body and what follows it) in pieces of `step` bytes.
    fn decode_by(bytes: &[u8], step: usize, limit: usize) -> Dechunked {
        let pieces: Vec<&[u8]> = bytes.chunks(step.max(1)).collect();
        crate::fuzzing::decode(&pieces, limit)
    }

    /// The same answer, whatever the pieces.
    fn decode(bytes: &[u8], limit: usize) -> Dechunked {
        let whole = crate::fuzzing::decode(&[bytes], limit);
        for step in [1, 2, 3, 7] {
            assert_eq!(decode_by(bytes, step, limit), whole, "{bytes:?} by {step}");
        }
        whole
    }

    fn body(body: &str, after: &str) -> Dechunked {
        Ok(Some((body.into(), after.into())))
    }

    #[test]
    fn chunks_are_decoded_in_place_however_they_arrive() {
        let whole = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\nGET";
        assert_eq!(decode(whole, 100), body("abcde", "GET"));
        for end in 0..whole.len() - 3 {
            assert_eq!(decode(&whole[..end], 100), Ok(None), "{end}");
        }
        assert_eq!(decode(whole, 4), Err(413));
        assert_eq!(decode(whole, 5), body("abcde", "GET"));
        assert_eq!(decode(b"0\r\n\r\n", 0), body("", ""));
    }

    #[test]
    fn a_line_ends_at_lf_and_a_cr_only_before_it() {
        // Bare LF ends size lines, extensions and trailer lines, as in Go and nginx.
        assert_eq!(decode(b"3\nabc\r\n0\n\n", 100), body("abc", ""));
        assert_eq!(
            decode(b"3;x\nabc\r\n0\r\nT: 1\n\r\nX", 100),
            body("abc", "X")
        );
        assert_eq!(decode(b"0\r\n\nGET", 100), body("", "GET"));
        // The smuggling attempt of issue 28 is one body, as the peers read it.
        let smuggled = b"4;\naaaa\r\n002f\r\n0\r\n\r\nGET /number?smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n";
        let (data, after) = decode(smuggled, 100).unwrap().unwrap();
        assert_eq!((data.len(), after), (4 + 0x2f, vec![]));
        // A CR anywhere else in a line, and anything but CRLF after data: 400.
        for bad in [
            &b"3\rabc"[..],
            b"3;a\rb\nabc\r\n",
            b"3\r\r\n",
            b"0\r\nT: a\rb\r\n\r\n",
            b"0\r\n\r\r\n",
            b"3\r\nabc\n0\r\n\r\n",
            b"3\r\nabc\r0\r\n\r\n",
            b"3\r\nabcd\r\n",
        ] {
            assert_eq!(decode(bad, 100), Err(400), "{bad:?}");
        }
    }

    #[test]
    fn sizes_are_hex_bounded_by_value() {
        assert_eq!(
            decode(b"0000000005\r\nhello\r\n0\r\n\r\n", 5),
            body("hello", "")
        );
        assert_eq!(
            decode(b"A \t;x=\"y\"\r\n0123456789\r\n0 \r\n\r\n", 10),
            body("0123456789", "")
        );
        for bad in [
            &b"x\r\n"[..],
            b"-1\r\n",
            b"\r\n",
            b" 1\r\n",
            b";x\r\n",
            b"1 2\r\n",
            b"0x1\r\n",
        ] {
            assert_eq!(decode(bad, 100), Err(400), "{bad:?}");
        }
        // Issue 28: `fffffffe` wrapped a 32-bit `usize` and the slice after it panicked.
        assert_eq!(decode(b"2\r\nab\r\nfffffffe\r\n", 1 << 20), Err(413));
        let huge = format!("{}\r\n", "f".repeat(40));
        assert_eq!(decode(huge.as_bytes(), usize::MAX), Err(413));
        assert_eq!(decode(b"2\r\nab\r\n2\r\n", 3), Err(413));
    }

    #[test]
    fn lines_past_4096_bytes_are_refused_however_they_arrive() {
        let line = |length: usize, trailer: bool| {
            let ext = "e".repeat(length);
            match trailer {
                false => format!("1;{}\r\na\r\n0\r\n\r\n", &ext[2..]),
                true => format!("0\r\n{ext}\r\n\r\n"),
            }
        };
        for trailer in [false, true] {
            assert!(matches!(
                decode(line(4096, trailer).as_bytes(), 100),
                Ok(Some(_))
            ));
            assert_eq!(decode(line(4097, trailer).as_bytes(), 100), Err(400));
            // Issue 28: 5,000 bytes of extension, the first 4,600 alone: refused already.
            let long = line(5000, trailer);
            assert_eq!(decode_by(&long.as_bytes()[..4600], 4600, 100), Err(400));
            assert_eq!(decode(long.as_bytes(), 100), Err(400));
        }
    }
}
