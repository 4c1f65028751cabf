//! Key blocks across records.
//!
//! A log shipper sends a log one line a record (Fluent Bit's `tail` without
//! a multiline parser, a logger called once a line), and an application
//! logging JSON writes one record a line. A private key printed line by line
//! then comes as records whose BEGIN and END lines are no secret on their
//! own and whose body lines look like any base64. So a record field whose
//! text opens a key block opens it for its source and field, and that field
//! of the source's next records goes through the block's stream, as the
//! lines of one log would, until the block ends. Other records from the same
//! source (another thread's) are masked with it meanwhile: more is masked,
//! never less.

use std::collections::HashMap;
use std::io::Write;

use logscrub::{Redactor, Stats, Stream, FIELD_MASK};

/// Open blocks at most; past that, a field that opens one more is masked
/// whole (fail closed), so that a hostile source cannot grow this.
const MAX_BLOCKS: usize = 256;

/// The key blocks open, per source (a Forward tag; one for a JSON input)
/// and field name.
#[derive(Default)]
pub struct Blocks(HashMap<(String, String), Stream<Vec<u8>>>);

impl Blocks {
    /// Whether any block is open.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a block is open for `source`: its records need work.
    pub fn open_for(&self, source: &str) -> bool {
        self.0.keys().any(|(s, _)| s == source)
    }

    /// The masked text of field `field` of a record from `source`, when a
    /// block of theirs is open or `text` opens one; `None` otherwise (the
    /// field is scrubbed as usual; masking a masked value again changes
    /// nothing). A value the block's stream holds back comes out masked
    /// whole, never raw.
    pub fn line(
        &mut self,
        redactor: &Redactor,
        (source, field): (&str, &str),
        text: &[u8],
        stats: &mut Stats,
    ) -> Option<String> {
        // Most records come with no block open: no key is built for them.
        let id = || (source.to_string(), field.to_string());
        let open = if self.0.is_empty() { None } else { self.0.remove(&id()) };
        let mut stream = match open {
            Some(stream) => stream,
            None if redactor.is_clean(text) || !opens_a_block(redactor, text) => return None,
            None if self.0.len() >= MAX_BLOCKS => return Some(FIELD_MASK.into()),
            None => redactor.stream(Vec::new()),
        };
        // One record is one line; a value with its own newline keeps it.
        let newline = !text.ends_with(b"\n");
        let _ = stream.write_all(text);
        if newline {
            let _ = stream.write_all(b"\n");
        }
        let mut out = std::mem::take(stream.get_mut());
        if newline && out.last() == Some(&b'\n') {
            out.pop();
        }
        // Within a block the stream masks line by line, so all of the line
        // came out; were it not, the value is masked whole.
        let lines = |b: &[u8]| memchr::memchr_iter(b'\n', b).count();
        let whole = (!out.is_empty() || text.is_empty()) && lines(&out) == lines(text);
        if stream.at_rest() {
            if let Ok((_, counts)) = stream.finish() {
                stats.merge_findings(&counts);
            }
        } else {
            stats.merge_findings(&stream.take_stats());
            self.0.insert(id(), stream);
        }
        Some(match whole {
            true => String::from_utf8_lossy(&out).into_owned(),
            false => FIELD_MASK.into(),
        })
    }
}

/// Whether a stream that reads `text` as a line is left with a key block
/// open (or failed: then it may have, fail closed).
pub fn opens_a_block(redactor: &Redactor, text: &[u8]) -> bool {
    let mut probe = redactor.stream(Vec::new());
    probe.write_all(text).and_then(|()| probe.write_all(b"\n")).is_err() || !probe.at_rest()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";

    #[test]
    fn a_block_runs_from_the_record_that_opens_it_to_the_one_that_ends_it() {
        let redactor = Redactor::new();
        let (mut blocks, mut stats) = (Blocks::default(), redactor.empty_stats());
        let mut line = |source: &str, text: &str| blocks.line(&redactor, (source, "log"), text.as_bytes(), &mut stats);
        assert_eq!(line("app", "GET /health 200"), None);
        assert_eq!(line("app", "-----BEGIN PRIVATE KEY-----").as_deref(), Some("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(line("other", BODY), None, "another source's record");
        assert_eq!(line("app", BODY).as_deref(), Some("[REDACTED:private-key]"));
        assert_eq!(line("app", &format!("{BODY}\n")).as_deref(), Some("[REDACTED:private-key]\n"));
        assert_eq!(line("app", "-----END PRIVATE KEY-----").as_deref(), Some("-----END PRIVATE KEY-----"));
        assert_eq!(line("app", BODY), None, "the block ended");
        assert!(blocks.is_empty());
    }

    #[test]
    fn past_the_limit_a_field_that_opens_a_block_is_masked_whole() {
        let redactor = Redactor::new();
        let (mut blocks, mut stats) = (Blocks::default(), redactor.empty_stats());
        for i in 0..MAX_BLOCKS {
            let field = i.to_string();
            assert!(blocks.line(&redactor, ("app", &field), b"-----BEGIN PRIVATE KEY-----", &mut stats).is_some());
        }
        assert_eq!(
            blocks.line(&redactor, ("app", "one more"), b"-----BEGIN PRIVATE KEY-----", &mut stats).as_deref(),
            Some(FIELD_MASK)
        );
        assert!(blocks.open_for("app") && !blocks.open_for("other"));
    }
}
