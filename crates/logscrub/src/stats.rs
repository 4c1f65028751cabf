//! Counts of what a stream did: lines, bytes and findings per rule.

use std::sync::Arc;

/// What a [`Stream`](crate::Stream) processed and masked. Counts only: no
/// text of the input.
///
/// # Example
///
/// ```
/// let redactor = logscrub::Redactor::new();
/// let stats = redactor.redact_reader(&b"password=hunter2hunter2\nok\n"[..], std::io::sink()).unwrap();
/// assert_eq!(stats.lines(), 2);
/// assert_eq!(stats.masked_lines(), 1);
/// assert_eq!(stats.by_rule().collect::<Vec<_>>(), [("password-assignment", 1)]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) masked_lines: u64,
    pub(crate) scanned_lines: u64,
    pub(crate) dropped_lines: u64,
    pub(crate) long_lines: u64,
    pub(crate) guarded_windows: u64,
    pub(crate) unterminated_blocks: u64,
    pub(crate) internal_errors: u64,
    pub(crate) findings: Vec<u64>,
    pub(crate) ids: Arc<[String]>,
}

impl Stats {
    pub(crate) fn new(ids: Arc<[String]>) -> Stats {
        Stats { findings: vec![0; ids.len()], ids, ..Stats::default() }
    }

    /// Lines read (a last line without a newline counts).
    pub fn lines(&self) -> u64 {
        self.lines
    }
    /// Bytes read.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Lines the prefilter passed to the full scan (the rest were copied
    /// out untouched). A high share means rules whose keywords are common.
    pub fn scanned_lines(&self) -> u64 {
        self.scanned_lines
    }
    /// Lines in which something was masked.
    pub fn masked_lines(&self) -> u64 {
        self.masked_lines
    }
    /// Lines dropped by a rule with the `drop` mask.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines
    }
    /// Lines longer than the maximum, processed in windows.
    pub fn long_lines(&self) -> u64 {
        self.long_lines
    }
    /// Window edges where a finding may have been cut, so the edge was
    /// masked whole (fail closed).
    pub fn guarded_windows(&self) -> u64 {
        self.guarded_windows
    }
    /// Multi-line blocks (private keys) still open at the end of input,
    /// masked to the end.
    pub fn unterminated_blocks(&self) -> u64 {
        self.unterminated_blocks
    }
    /// Segments masked whole because the engine failed on them (fail
    /// closed). Always 0 unless there is a bug.
    pub fn internal_errors(&self) -> u64 {
        self.internal_errors
    }
    /// Findings in all.
    pub fn findings(&self) -> u64 {
        self.findings.iter().sum()
    }
    /// Findings per rule id, for the rules that found something, in rule
    /// order.
    pub fn by_rule(&self) -> impl Iterator<Item = (&str, u64)> {
        self.ids.iter().zip(&self.findings).filter(|(_, &n)| n > 0).map(|(id, &n)| (id.as_str(), n))
    }

    /// Adds another run's counts (of the same redactor) to these.
    pub fn merge(&mut self, other: &Stats) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.masked_lines += other.masked_lines;
        self.scanned_lines += other.scanned_lines;
        self.merge_findings(other);
    }

    /// Adds another run's findings and incidents (dropped, long, guarded,
    /// unterminated, internal errors), not its lines and bytes: for the
    /// values of one structured record, each scrubbed with
    /// [`Redactor::redact_counted`](crate::Redactor::redact_counted),
    /// which is one line of input however many values it has. Count the
    /// line itself with [`Stats::count_line`].
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// let (mut total, mut values) = (redactor.empty_stats(), redactor.empty_stats());
    /// let record = br#"{"user":"a@example.com","note":"password=hunter2hunter2"}"#;
    /// for value in [&b"a@example.com"[..], b"password=hunter2hunter2"] {
    ///     redactor.redact_counted(value, &mut values);
    /// }
    /// total.merge_findings(&values);
    /// total.count_line(record.len(), values.masked_lines() > 0);
    /// assert_eq!((total.lines(), total.masked_lines(), total.findings()), (1, 1, 2));
    /// ```
    pub fn merge_findings(&mut self, other: &Stats) {
        self.dropped_lines += other.dropped_lines;
        self.long_lines += other.long_lines;
        self.guarded_windows += other.guarded_windows;
        self.unterminated_blocks += other.unterminated_blocks;
        self.internal_errors += other.internal_errors;
        if self.findings.len() < other.findings.len() {
            self.findings.resize(other.findings.len(), 0);
            self.ids = other.ids.clone();
        }
        for (a, b) in self.findings.iter_mut().zip(&other.findings) {
            *a += b;
        }
    }

    /// Counts one line of `bytes` bytes scanned outside a [`Stream`](crate::Stream),
    /// `masked` if anything in it was. See [`Stats::merge_findings`].
    pub fn count_line(&mut self, bytes: usize, masked: bool) {
        self.lines += 1;
        self.bytes += bytes as u64;
        self.masked_lines += u64::from(masked);
    }
}
