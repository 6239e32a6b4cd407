//! Clambake's own log lines with every secret it knows redacted, whether they go to standard
//! error or to a log file: a line is buffered whole, redacted, then written.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tracing_subscriber::fmt::MakeWriter;

use crate::core::text::redact::Redactor;

/// Secrets found after logging began, redacted from every line written since: the GitHub
/// token `gh auth token` gives is in no variable of the environment the writers' redactor was
/// made from, and a log line may quote an agent that found and printed it.
static LEARNT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// [`LEARNT`] as a redactor, `None` while there is none.
static LEARNT_REDACTOR: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);
/// The name the learnt secrets go by, for [`Redactor::from_variables`].
const LEARNT_NAME: &str = "LEARNT_SECRET";

/// Redacts `secret` from every log line written from now on, and adds it to [`learnt`].
pub fn learn(secret: &str) {
    let mut values = LEARNT.lock().unwrap_or_else(PoisonError::into_inner);
    if values.iter().any(|known| known == secret) {
        return;
    }
    values.push(secret.to_owned());
    let redactor = Redactor::from_variables(values.iter().map(|value| (LEARNT_NAME, value)));
    *LEARNT_REDACTOR
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(redactor));
}

/// The secrets [`learn`]t so far, as `(name, value)` variables a [`Redactor`] takes.
pub fn learnt() -> Vec<(String, String)> {
    LEARNT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|value| (LEARNT_NAME.to_owned(), value.clone()))
        .collect()
}

/// Makes a [`RedactingWriter`] around each writer `inner` makes.
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> RedactingMakeWriter<M> {
    pub fn new(inner: M, redactor: Redactor) -> Self {
        Self {
            inner,
            redactor: Arc::new(redactor),
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            redactor: Arc::clone(&self.redactor),
            pending: Vec::new(),
        }
    }
}

/// Collects what one log event writes and passes it on redacted when flushed or dropped, so
/// that a secret is never split across two writes.
pub struct RedactingWriter<W: Write> {
    inner: W,
    redactor: Arc<Redactor>,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn pass_on(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.pending);
        let clean = self.redactor.redact(&text);
        let learnt = LEARNT_REDACTOR
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let clean = match learnt {
            Some(learnt) => Cow::Owned(learnt.redact(&clean).into_owned()),
            None => clean,
        };
        self.inner.write_all(clean.as_bytes())?;
        self.pending.clear();
        self.inner.flush()
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.pass_on()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere to report that either.
        let _ = self.pass_on();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_written_in_pieces_is_redacted_whole() {
        let redactor = Redactor::from_variables([("GH_TOKEN", "ghp_0123456789")]);
        let mut out = Vec::new();
        {
            let mut writer = RedactingWriter {
                inner: &mut out,
                redactor: Arc::new(redactor),
                pending: Vec::new(),
            };
            writer.write_all(b"token ghp_01234").unwrap();
            writer.write_all(b"56789 end\n").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "token [redacted] end\n");
    }

    #[test]
    fn a_secret_learnt_after_the_writer_was_made_is_redacted_too() {
        let make = RedactingMakeWriter::new(Mutex::new(Vec::new()), Redactor::default());
        let mut writer = make.make_writer();
        learn("gho_learnt_after_start_0123");
        writer
            .write_all(b"found gho_learnt_after_start_0123\n")
            .unwrap();
        drop(writer);
        let out = make.inner.lock().unwrap().clone();
        assert_eq!(String::from_utf8(out).unwrap(), "found [redacted]\n");
        assert!(
            learnt()
                .iter()
                .any(|(_, value)| value == "gho_learnt_after_start_0123")
        );
    }
}
