use std::io::Read;
use std::io::Result as IoResult;

/// A `Reader` that reads exactly the number of bytes from a sub-reader.
///
/// If the limit is reached, it returns EOF.
///
/// fogdeft patch (see PATCHED.md, "No drain"): upstream read whatever the handler had left of the
/// body when this reader was dropped, into one buffer as large as the rest of the declared
/// length: `Content-Length: 9223372036854775807` aborted the process. A body that is not read to
/// its end now ends its connection instead (`Connection: close`), so nothing is drained, and the
/// length is a `u64`, as a declared length may not fit a 32-bit `usize`.
pub struct EqualReader<R>
where
    R: Read,
{
    reader: R,
    size: u64,
}

impl<R> EqualReader<R>
where
    R: Read,
{
    pub fn new(reader: R, size: u64) -> EqualReader<R> {
        EqualReader { reader, size }
    }
}

impl<R> Read for EqualReader<R>
where
    R: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if self.size == 0 {
            return Ok(0);
        }

        let buf = match usize::try_from(self.size) {
            Ok(size) if size < buf.len() => &mut buf[..size],
            _ => buf,
        };

        let len = self.reader.read(buf)?;
        self.size -= len as u64;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::EqualReader;
    use std::io::Read;

    #[test]
    fn test_limit() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let mut equal_reader = EqualReader::new(org_reader.by_ref(), 5);

            let mut string = String::new();
            equal_reader.read_to_string(&mut string).unwrap();
            assert_eq!(string, "hello");
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }

    #[test]
    fn test_not_enough() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let mut equal_reader = EqualReader::new(org_reader.by_ref(), 5);

            let mut vec = [0];
            equal_reader.read_exact(&mut vec).unwrap();
            assert_eq!(vec[0], b'h');
        }

        // Nothing is drained: the rest of the body stays unread.
        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, "ello world");
    }
}
