//! Writers that take turns: with pipelining, the responses to one connection's requests may be
//! ready in any order, but must be written in the order of the requests.
//!
//! fogdeft patch (see PATCHED.md, "No TLS"): the matching `SequentialReader` is gone;
//! a connection's reader is either kept by the connection or handed whole to a request's body.

use std::io::Result as IoResult;
use std::io::Write;

use std::sync::mpsc::channel;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct SequentialWriterBuilder<W>
where
    W: Write + Send,
{
    writer: Arc<Mutex<W>>,
    next_trigger: Option<Receiver<()>>,
}

pub struct SequentialWriter<W>
where
    W: Write + Send,
{
    trigger: Option<Receiver<()>>,
    writer: Arc<Mutex<W>>,
    on_finish: Sender<()>,
}

impl<W: Write + Send> SequentialWriterBuilder<W> {
    pub fn new(writer: W) -> SequentialWriterBuilder<W> {
        SequentialWriterBuilder {
            writer: Arc::new(Mutex::new(writer)),
            next_trigger: None,
        }
    }
}

impl<W: Write + Send> SequentialWriterBuilder<W> {
    /// The writer for the next response: it writes once the previous one is done.
    pub fn next_writer(&mut self) -> SequentialWriter<W> {
        let (tx, rx) = channel();
        let previous = self.next_trigger.replace(rx);

        SequentialWriter {
            trigger: previous,
            writer: self.writer.clone(),
            on_finish: tx,
        }
    }
}

impl<W: Write + Send> SequentialWriter<W> {
    /// Waits for the writers before this one to finish, then locks the stream.
    fn my_turn(&mut self) -> MutexGuard<'_, W> {
        if let Some(previous) = self.trigger.take() {
            // An error means the previous writer is gone, which is its turn ending too.
            let _ = previous.recv();
        }
        // A writer that panicked mid-response leaves a broken response, not a broken lock.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<W: Write + Send> Write for SequentialWriter<W> {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.my_turn().write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.my_turn().flush()
    }
}

impl<W> Drop for SequentialWriter<W>
where
    W: Write + Send,
{
    fn drop(&mut self) {
        self.on_finish.send(()).ok();
    }
}
