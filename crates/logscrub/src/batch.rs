//! Many short values screened in one prefilter pass.
//!
//! A structured record (a Forward message's entries, a JSON object) holds
//! many short strings, and a prefilter pass has a fixed cost per call and
//! walks one lane at a time below a few KiB. Joining the values with
//! newlines and walking them once lets the three-lane walk run, and tells
//! which values need [`Redactor::redact`] at all.

use crate::Redactor;

/// Values to screen together: see [`Redactor::suspects`].
///
/// # Example
///
/// ```
/// let redactor = logscrub::Redactor::new();
/// let mut batch = logscrub::Batch::new();
/// batch.push(b"GET /health 200");
/// batch.push(b"password=hunter2hunter2");
/// batch.push(b"done in 12ms");
/// assert_eq!(redactor.suspects(&batch), [1]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The values, each followed by a newline.
    text: Vec<u8>,
    /// Where each value's newline is.
    ends: Vec<usize>,
}

impl Batch {
    /// An empty batch.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(logscrub::Batch::new().is_empty());
    /// ```
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a value, whose index is the number of values added before it.
    ///
    /// # Example
    ///
    /// ```
    /// let mut batch = logscrub::Batch::new();
    /// batch.push(b"one");
    /// batch.push(b"two\nlines");
    /// assert_eq!(batch.len(), 2);
    /// ```
    pub fn push(&mut self, value: &[u8]) {
        self.text.extend_from_slice(value);
        self.ends.push(self.text.len());
        self.text.push(b'\n');
    }

    /// How many values were added.
    ///
    /// # Example
    ///
    /// ```
    /// let mut batch = logscrub::Batch::new();
    /// batch.push(b"");
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no value was added.
    ///
    /// # Example
    ///
    /// ```
    /// assert!(logscrub::Batch::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value at `index`, as it was added.
    ///
    /// # Example
    ///
    /// ```
    /// let mut batch = logscrub::Batch::new();
    /// batch.push(b"one");
    /// batch.push(b"two");
    /// assert_eq!(batch.get(1), Some(&b"two"[..]));
    /// assert_eq!(batch.get(2), None);
    /// ```
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i] + 1);
        Some(&self.text[start..end])
    }

    /// Removes every value, keeping the memory.
    ///
    /// # Example
    ///
    /// ```
    /// let mut batch = logscrub::Batch::new();
    /// batch.push(b"x");
    /// batch.clear();
    /// assert!(batch.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

impl Redactor {
    /// The indices, ascending, of the values in `batch` that may hold
    /// something to mask. [`Redactor::redact`] returns every other value
    /// unchanged, so only these need it.
    ///
    /// The newlines that join the values end lines for the prefilter as
    /// they do for a rule's `^` and `$`, and no trigger reaches across one,
    /// so every trigger a value has on its own is found inside it here.
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// let mut batch = logscrub::Batch::new();
    /// for v in ["ok", "Authorization: Bearer abcdefghijklmnop1234", "user=jane"] {
    ///     batch.push(v.as_bytes());
    /// }
    /// assert_eq!(redactor.suspects(&batch), [1]);
    /// ```
    pub fn suspects(&self, batch: &Batch) -> Vec<usize> {
        self.suspects_in(&batch.text, &batch.ends)
    }

    /// The indices, ascending, of the lines of `text` (cut at each newline;
    /// a last line without one counts) that may hold something to mask:
    /// [`Redactor::redact`] returns every other line unchanged. A
    /// [`Batch`] whose values are these lines, without the copy.
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// let text = b"{\"msg\":\"ok\"}\n{\"msg\":\"token ghp_abcdefghijklmnopqrstuvwxyz0123456789\"}\n{}";
    /// assert_eq!(redactor.suspect_lines(text), [1]);
    /// ```
    pub fn suspect_lines(&self, text: &[u8]) -> Vec<usize> {
        let mut ends: Vec<usize> = memchr::memchr_iter(b'\n', text).collect();
        if !text.is_empty() && !text.ends_with(b"\n") {
            ends.push(text.len());
        }
        self.suspects_in(text, &ends)
    }

    /// The values of `text` (each ending at its entry of `ends`) that hold a
    /// trigger.
    fn suspects_in(&self, text: &[u8], ends: &[usize]) -> Vec<usize> {
        let mut found = Vec::new();
        self.inner.prefilter.triggers(text, &mut found);
        let mut out: Vec<usize> = Vec::new();
        let mut value = 0;
        for (at, _) in found {
            // A trigger ends at or before its value's newline.
            value += ends[value..].partition_point(|&end| end < at);
            if value < ends.len() && out.last() != Some(&value) {
                out.push(value);
            }
        }
        out
    }
}
