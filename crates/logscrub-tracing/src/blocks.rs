//! Key blocks across events.
//!
//! A service may log a private key one line an event (`for line in
//! pem.lines() { info!("{line}") }`, or a file's lines as they are read).
//! Its BEGIN and END lines are no secret on their own and its body lines
//! look like any base64, so masking each event alone would let the body
//! through, where the `logscrub` binary reading the same output masks it as
//! the lines of one log. So an event that leaves a key block open opens it
//! for every event after it, from any thread (a task may log its lines from
//! several), until the block ends. Events logged meanwhile elsewhere are
//! masked with it: more is masked, never less.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use logscrub::{Redactor, Stream, FIELD_MASK};

/// The key block open, shared by the writers (or field formatters) of one
/// subscriber. One stream reads every event while a block is open, as the
/// binary reads one log: a BEGIN line inside a block is body, and the first
/// END line closes it.
#[derive(Default)]
pub(crate) struct Blocks {
    /// Whether a block is open: the one thing a clean event's path reads.
    open: AtomicBool,
    /// The open block's stream, fed every event since the block opened.
    stream: Mutex<Option<Stream<Vec<u8>>>>,
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks").field("open", &self.open.load(Ordering::Relaxed)).finish()
    }
}

impl Blocks {
    /// Whether a block is open: then every event must go through
    /// [`Blocks::mask`], however clean.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Masks `text` (lines, each ending with a newline) as the next lines
    /// of one log, into `out`: alone while no block is open, and if it
    /// leaves a block open, its stream is kept here for the events to come.
    pub(crate) fn mask(&self, redactor: &Redactor, text: &[u8], out: &mut Vec<u8>) {
        debug_assert!(text.is_empty() || text.ends_with(b"\n"));
        let mut fresh = redactor.stream(Vec::new());
        let mut shared = None;
        if !self.open.load(Ordering::Acquire) {
            let start = out.len();
            through(&mut fresh, text, out);
            if fresh.at_rest() {
                return;
            }
            // This event opened a block, which covers the events after it;
            // unless another opened one meanwhile: then, as in one log, this
            // event is inside that one.
            let mut open = self.lock();
            if open.is_none() {
                *open = Some(fresh);
                self.open.store(true, Ordering::Release);
                return;
            }
            out.truncate(start);
            fresh = redactor.stream(Vec::new());
            shared = Some(open);
        }
        let mut open = shared.unwrap_or_else(|| self.lock());
        // The block may have ended since `open` was read: then the text is
        // masked alone, and may open one.
        let mut stream = open.take().unwrap_or(fresh);
        through(&mut stream, text, out);
        if !stream.at_rest() {
            *open = Some(stream);
        }
        self.open.store(open.is_some(), Ordering::Release);
    }

    /// `values` masked as the next lines of one log (a value of several
    /// lines takes as many), each given back in order; `None` if a `drop`
    /// rule took lines out, so that they no longer line up.
    pub(crate) fn mask_values(&self, redactor: &Redactor, values: &[&str]) -> Option<Vec<String>> {
        let text: String = values.iter().flat_map(|v| [*v, "\n"]).collect();
        let mut out = Vec::with_capacity(text.len() + 64);
        self.mask(redactor, text.as_bytes(), &mut out);
        let out = String::from_utf8_lossy(&out);
        if out.matches('\n').count() != text.matches('\n').count() {
            return None;
        }
        let mut lines = out.split_terminator('\n');
        Some(
            values
                .iter()
                .map(|v| lines.by_ref().take(v.matches('\n').count() + 1).collect::<Vec<_>>().join("\n"))
                .collect(),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Option<Stream<Vec<u8>>>> {
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Appends what `stream` writes for `text` to `out`. A stream into a `Vec`
/// fails only on an internal error: then the text is masked whole.
fn through(stream: &mut Stream<Vec<u8>>, text: &[u8], out: &mut Vec<u8>) {
    match stream.write_all(text) {
        Ok(()) => out.extend_from_slice(stream.get_ref()),
        Err(_) => whole(text, out),
    }
    let written = stream.get_mut();
    written.clear();
    // A huge event's buffer is not held on to.
    if written.capacity() > 1 << 20 {
        *written = Vec::new();
    }
}

/// Each line of `text` masked whole.
fn whole(text: &[u8], out: &mut Vec<u8>) {
    for _ in memchr::memchr_iter(b'\n', text) {
        out.extend_from_slice(FIELD_MASK.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n";

    fn masked(blocks: &Blocks, redactor: &Redactor, text: &str) -> String {
        let mut out = Vec::new();
        blocks.mask(redactor, text.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_block_runs_from_the_event_that_opens_it_to_the_one_that_ends_it() {
        let (redactor, blocks) = (Redactor::new(), Blocks::default());
        let line = |text: &str| masked(&blocks, &redactor, text);
        assert_eq!(line("GET /health 200\n"), "GET /health 200\n");
        assert_eq!(line("-----BEGIN PRIVATE KEY-----\n"), "-----BEGIN PRIVATE KEY-----\n");
        assert_eq!(line(BODY), "[REDACTED:private-key]\n");
        assert_eq!(line("GET /health 200\n"), "[REDACTED:private-key]\n", "another's event, masked with it");
        assert_eq!(line("-----END PRIVATE KEY-----\n"), "-----END PRIVATE KEY-----\n");
        assert_eq!(line(BODY), BODY, "the block ended");
        assert!(!blocks.open.load(Ordering::Acquire));
    }
}
