//! The redactor: builds the rule set, then finds and masks secrets line by
//! line.
//!
//! Data flows one way: prefilter (which rules could match), confirmation
//! (regex and validators on the candidates only), span resolution (merge
//! overlapping findings) and masking.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::error::{Error, ErrorKind};
use crate::mask::{self, HashKey, Mask};
use crate::packs;
use crate::prefilter::{Candidates, Prefilter};
use crate::rules::{self, Pack, Rule};
use crate::stats::Stats;
use crate::stream::Stream;
use crate::validate::{self, Validator};

/// The longest line processed whole by default; longer lines are processed
/// in overlapping windows.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// The hash key rule test cases are written with.
pub const TEST_KEY: &[u8] = b"logscrub-rule-tests-only-key";

/// A confirmed secret: which rule found it and where, never its text.
///
/// # Example
///
/// ```
/// let redactor = logscrub::Redactor::new();
/// let line = b"login ok user=jane password=hunter2hunter2";
/// let found = redactor.find(line);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].rule().id(), "password-assignment");
/// assert_eq!(&line[found[0].range()], b"hunter2hunter2");
/// ```
#[derive(Clone, Debug)]
pub struct Finding<'r> {
    rule: &'r Rule,
    start: usize,
    end: usize,
}

impl<'r> Finding<'r> {
    /// The rule that found the secret.
    pub fn rule(&self) -> &'r Rule {
        self.rule
    }
    /// Byte offset where the secret starts.
    pub fn start(&self) -> usize {
        self.start
    }
    /// Byte offset just past the secret.
    pub fn end(&self) -> usize {
        self.end
    }
    /// `start..end`.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// A finding inside the engine: a rule index and a byte span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: u32,
    pub start: usize,
    pub end: usize,
    /// Where the match (or the scope) that found it starts: a window that
    /// cuts before this point finds it again, one that cuts after does not.
    pub from: usize,
}

/// A multi-line block still open at the end of a segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Open {
    pub rule: u32,
    /// Where the opening match started (0 when carried in).
    pub begin: usize,
    /// Where the masked body starts.
    pub body: usize,
}

/// What masking did to a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Masked,
    Dropped,
}

/// Masks secrets in log lines. Cheap to clone and safe to share between
/// threads.
///
/// # Example
///
/// ```
/// use logscrub::Redactor;
///
/// let redactor = Redactor::new();
/// let out = redactor.redact(b"GET /login Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl");
/// // The label names the rule that knows the token best: a JWT, not just a
/// // bearer token.
/// assert_eq!(&out[..], b"GET /login Authorization: Bearer [REDACTED:jwt]");
///
/// // Clean lines come back borrowed: no copy, no allocation.
/// assert!(matches!(redactor.redact(b"GET /health 200"), std::borrow::Cow::Borrowed(_)));
/// ```
#[derive(Clone)]
pub struct Redactor {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub rules: Vec<Rule>,
    pub packs: Vec<Pack>,
    pub enabled: Vec<bool>,
    /// Triggers of the enabled rules.
    pub prefilter: Prefilter,
    /// Triggers of every rule, to run any rule's tests: built when first
    /// needed (at build when there are user rules, whose examples are
    /// checked then), as only rule tests and reports use it.
    every: OnceLock<Result<Prefilter, String>>,
    /// Rendered labels of enabled rules: text that is already masked.
    labels: HashSet<Vec<u8>>,
    /// Finds rendered labels in a segment.
    label_finder: AhoCorasick,
    longest_label: usize,
    /// The bytes a label or pseudonym can start with.
    mask_starts: Vec<u8>,
    names: HashSet<Vec<u8>>,
    key: Option<HashKey>,
    /// The key rule tests use, so that their expected output is stable.
    test_key: HashKey,
    /// Rule ids in rule order, shared with [`Stats`].
    pub ids: Arc<[String]>,
    pub max_line: usize,
    /// The longest match of any enabled rule: how far windows overlap.
    pub guard: usize,
    /// The shortest match of any enabled rule: a shorter line is clean.
    shortest: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = self.inner.enabled.iter().filter(|&&e| e).count();
        f.debug_struct("Redactor")
            .field("rules", &self.inner.rules.len())
            .field("enabled", &on)
            .field("max_line", &self.inner.max_line)
            .finish_non_exhaustive()
    }
}

impl Default for Redactor {
    fn default() -> Redactor {
        Redactor::new()
    }
}

impl Redactor {
    /// A redactor with the default packs and masks.
    ///
    /// # Panics
    ///
    /// Never in practice: the embedded packs are validated by the test
    /// suite. [`RedactorBuilder::build`] is the fallible twin.
    pub fn new() -> Redactor {
        Redactor::builder().build().expect("the embedded default packs are valid")
    }

    /// A builder to choose packs, rules, masks and limits.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::new()
    }

    /// Masks the secrets in one line (or any slice processed as one
    /// segment). Returns the input borrowed when nothing matched, and only
    /// then: a borrowed result is always the line unchanged.
    ///
    /// A multi-line block (a private key) that opens here and does not end
    /// is masked to the end of the slice. If a rule with the `drop` mask
    /// matched, the result is empty (and owned): the caller omits the line,
    /// or the record that holds the value, as [`Redactor::stream`] does.
    ///
    /// # Example
    ///
    /// ```
    /// use std::borrow::Cow;
    ///
    /// let redactor = logscrub::Redactor::new();
    /// assert!(matches!(redactor.redact(b"GET /health 200"), Cow::Borrowed(_)));
    /// assert_eq!(&redactor.redact(b"password=hunter2hunter2")[..], b"password=[REDACTED:password-assignment]");
    ///
    /// let dropping = logscrub::Redactor::builder().mask("password-assignment", logscrub::Mask::Drop).build().unwrap();
    /// assert!(matches!(dropping.redact(b"password=hunter2hunter2"), Cow::Owned(line) if line.is_empty()));
    /// ```
    pub fn redact<'h>(&self, line: &'h [u8]) -> Cow<'h, [u8]> {
        self.redact_inner(line, None).0
    }

    /// [`Redactor::redact`] for a caller that masks a log a line at a time,
    /// and whether a multi-line block (a private key) opens in `line` and is
    /// still open at its end. `redact` masks such a block to the end of the
    /// line; the lines after it are its body, which alone look like any
    /// text, so they must go through a [`Stream`] that reads this line
    /// first (or be masked whole).
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// let (line, open) = redactor.redact_line(b"password=hunter2hunter2");
    /// assert_eq!((&line[..], open), (&b"password=[REDACTED:password-assignment]"[..], false));
    /// // Unchanged, but the key's body follows.
    /// let (line, open) = redactor.redact_line(b"-----BEGIN RSA PRIVATE KEY-----");
    /// assert_eq!((&line[..], open), (&b"-----BEGIN RSA PRIVATE KEY-----"[..], true));
    /// ```
    pub fn redact_line<'h>(&self, line: &'h [u8]) -> (Cow<'h, [u8]>, bool) {
        self.redact_inner(line, None)
    }

    /// Whether `line` can be passed on as it is, whatever follows it: no
    /// rule can match in it, so [`Redactor::redact`] leaves it unchanged
    /// and no multi-line block (a private key) begins in it. It is the
    /// prefilter's answer alone, the cost of a clean line: `false` says
    /// that a rule may match, and `redact` tells. Text of several lines is
    /// clean when each of its lines is.
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// assert!(redactor.is_clean(b"GET /health 200"));
    /// assert!(!redactor.is_clean(b"password=hunter2hunter2"));
    /// // Unchanged on its own, but the key's body would follow.
    /// assert!(!redactor.is_clean(b"-----BEGIN RSA PRIVATE KEY-----"));
    /// assert!(redactor.is_clean(b"GET /health 200\nGET /ready 200\n"));
    /// ```
    pub fn is_clean(&self, line: &[u8]) -> bool {
        let inner = &*self.inner;
        if line.len() < inner.shortest {
            return true;
        }
        // Only rules the prefilter selects are confirmed, so with no
        // trigger there is no finding and no block.
        let mut triggers = Vec::new();
        inner.prefilter.triggers(line, &mut triggers);
        triggers.is_empty()
    }

    /// [`Redactor::redact`], adding what it did to `stats` (one line, its
    /// bytes, and the findings per rule).
    ///
    /// # Example
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// let mut stats = redactor.empty_stats();
    /// redactor.redact_counted(b"password=hunter2hunter2", &mut stats);
    /// assert_eq!(stats.by_rule().collect::<Vec<_>>(), [("password-assignment", 1)]);
    /// ```
    pub fn redact_counted<'h>(&self, line: &'h [u8], stats: &mut Stats) -> Cow<'h, [u8]> {
        stats.lines += 1;
        stats.bytes += line.len() as u64;
        self.redact_inner(line, Some(stats)).0
    }

    /// Zero counts, with this redactor's rule ids, for
    /// [`Redactor::redact_counted`] and [`Stats::merge`].
    pub fn empty_stats(&self) -> Stats {
        Stats::new(self.inner.ids.clone())
    }

    /// The masked line, and whether a block is left open at its end.
    fn redact_inner<'h>(&self, line: &'h [u8], stats: Option<&mut Stats>) -> (Cow<'h, [u8]>, bool) {
        let inner = &*self.inner;
        if line.len() < inner.shortest {
            // Too short for any rule (a status code, a flag, an id): the
            // field formatters ask this of every value.
            return (Cow::Borrowed(line), false);
        }
        let mut hits = Vec::new();
        reset_rejected();
        let open = inner.scan(&inner.prefilter, None, line, None, &mut hits);
        if let Some(open) = open {
            inner.close(open, line.len(), &mut hits);
        }
        if hits.is_empty() {
            return (Cow::Borrowed(line), open.is_some());
        }
        let settle = inner.needs_settle(&mut hits);
        let masked = inner.mask_line(line, &mut hits, false, inner.key(), settle, |s, h| inner.rescan(s, h));
        if let Some(stats) = stats {
            stats.scanned_lines += 1;
            stats.masked_lines += 1;
            stats.dropped_lines += u64::from(masked.is_none());
            for h in &hits {
                stats.findings[h.rule as usize] += 1;
            }
        }
        // Owned even when dropped: a borrowed result means unchanged.
        (Cow::Owned(masked.unwrap_or_default()), open.is_some())
    }

    /// The secrets in one line, in order, without masking them. Overlapping
    /// findings of different rules are all reported.
    pub fn find<'r>(&'r self, line: &[u8]) -> Vec<Finding<'r>> {
        let inner = &*self.inner;
        let mut hits = Vec::new();
        inner.scan_line(&inner.prefilter, None, line, &mut hits);
        sort_hits(&mut hits);
        hits.iter().map(|h| Finding { rule: &inner.rules[h.rule as usize], start: h.start, end: h.end }).collect()
    }

    /// A writer that masks what is written to it, line by line, into `out`.
    /// Call [`Stream::finish`] at the end to process a last line with no
    /// newline and get `out` back.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let redactor = logscrub::Redactor::new();
    /// let mut stream = redactor.stream(Vec::new());
    /// stream.write_all(b"db=postgres://app:s3cr3t-pw@db:5432/app\nok\n").unwrap();
    /// let (out, stats) = stream.finish().unwrap();
    /// assert_eq!(out, b"db=postgres://app:[REDACTED:url-userinfo]@db:5432/app\nok\n");
    /// assert_eq!(stats.lines(), 2);
    /// ```
    pub fn stream<W: Write>(&self, out: W) -> Stream<W> {
        Stream::new(self.clone(), out)
    }

    /// Masks everything `input` yields into `output`, flushing `output`
    /// after each read so that a live pipe (`tail -F`) stays live.
    pub fn redact_reader<R: Read, W: Write>(&self, mut input: R, output: W) -> io::Result<Stats> {
        let mut stream = self.stream(output);
        // Grown as reads fill it, up to 256 KiB: a small input (a member of
        // a tar archive, a short file) does not pay for zeroing and
        // faulting in the large buffer a long one reads best with.
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == buf.len() && buf.len() < 256 * 1024 {
                stream.write_all(&buf[..n])?;
                stream.flush()?;
                buf.resize(buf.len() * 2, 0);
                continue;
            }
            stream.write_all(&buf[..n])?;
            stream.flush()?;
        }
        let (mut out, stats) = stream.finish()?;
        out.flush()?;
        Ok(stats)
    }

    /// The naive oracle for tests: every enabled rule's regex runs over the
    /// whole line, with no prefilter. [`Redactor::redact`] must agree with it.
    #[doc(hidden)]
    pub fn redact_unfiltered(&self, line: &[u8]) -> Vec<u8> {
        let inner = &*self.inner;
        let all = |seg: &[u8], hits: &mut Vec<Hit>| {
            let mut open = None;
            for r in (0..inner.rules.len()).filter(|&r| inner.enabled[r]) {
                inner.confirm(r as u32, seg, 0, seg.len(), 0, &mut open, hits);
            }
            if let Some(o) = open {
                inner.close(o, seg.len(), hits);
            }
        };
        let mut hits = Vec::new();
        all(line, &mut hits);
        if hits.is_empty() {
            return line.to_vec();
        }
        inner.mask_line(line, &mut hits, false, inner.key(), true, all).unwrap_or_default()
    }

    /// The spans rule `id` alone finds in `line` (enabled or not), for the
    /// quality report: which bytes of a labelled example are the secret.
    #[doc(hidden)]
    pub fn rule_spans(&self, id: &str, line: &[u8]) -> Vec<std::ops::Range<usize>> {
        let inner = &*self.inner;
        let Some(r) = inner.rules.iter().position(|x| x.id == id) else { return Vec::new() };
        let mut hits = Vec::new();
        inner.scan_line(inner.every(), Some(r as u32), line, &mut hits);
        hits.iter().map(|h| h.start..h.end).collect()
    }

    /// Every rule loaded, enabled or not, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.inner.rules.iter()
    }

    /// Every pack loaded.
    pub fn packs(&self) -> &[Pack] {
        &self.inner.packs
    }

    /// Whether the rule with this id runs.
    pub fn is_enabled(&self, id: &str) -> bool {
        self.inner.rules.iter().position(|r| r.id == id).is_some_and(|i| self.inner.enabled[i])
    }

    /// The longest line processed whole.
    pub fn max_line(&self) -> usize {
        self.inner.max_line
    }

    /// The longest match an enabled rule can make, in bytes. A line longer
    /// than [`Redactor::max_line`] is looked at in windows that overlap by
    /// twice this, so that a secret across a window's edge is whole in one
    /// of them; a caller that windows lines itself for [`Redactor::find`]
    /// does the same.
    ///
    /// ```
    /// let redactor = logscrub::Redactor::new();
    /// assert!(2 * redactor.longest_match() < redactor.max_line());
    /// ```
    pub fn longest_match(&self) -> usize {
        self.inner.guard
    }

    /// Runs every rule's own test cases (or only those of `ids`) and
    /// returns the failures. Each rule runs alone with its default mask;
    /// hash masks use a fixed test key.
    pub fn test_rules(&self, ids: Option<&[&str]>) -> Vec<TestFailure> {
        self.inner.test_rules(ids)
    }
}

/// A rule test case that did not pass. See [`Redactor::test_rules`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFailure {
    /// The rule's id.
    pub rule: String,
    /// `file:line` of the rule.
    pub location: String,
    /// What went wrong.
    pub kind: TestFailureKind,
    /// The test input.
    pub input: String,
    /// What the rule was expected to produce.
    pub expected: String,
    /// What it produced.
    pub actual: String,
}

/// How a rule test case failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestFailureKind {
    /// A positive case did not give the expected output.
    Positive,
    /// A negative case was changed.
    Negative,
    /// Masking the expected output again changed it.
    NotIdempotent,
}

thread_local! {
    /// Whether a scan on this thread rejected a regex match (validator,
    /// allowlist, entropy). Only then can masking a neighbour change what a
    /// rule finds, so only then does a masked line need settling.
    static REJECTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Clears the rejection flag before a line's first scan.
pub(crate) fn reset_rejected() {
    REJECTED.with(|r| r.set(false));
}

/// Whether the line's first scan rejected a match.
pub(crate) fn rejected() -> bool {
    REJECTED.with(|r| r.get())
}

/// How many times a masked line is scanned again at most; each round can
/// only mask more, and real lines settle in one or two.
const SETTLE_ROUNDS: usize = 4;

/// The end of the JSON object that `seg[open]` opens: just past its closing
/// brace, or `hi` when it does not close before `hi` (fail closed: the
/// scope runs on). Braces inside strings do not count. When the object's
/// key is written `\"key\"`, the object is JSON inside a JSON string, each
/// of its bytes escaped once more, and it ends at the latest where that
/// string does.
fn object_end(seg: &[u8], open: usize, hi: usize) -> usize {
    if seg.get(open) != Some(&b'{') {
        return hi;
    }
    let before = &seg[..open];
    let key_end = before.iter().rposition(|&b| b == b'"');
    let escaped = key_end.is_some_and(|q| q > 0 && before[q - 1] == b'\\');
    let (mut depth, mut in_string, mut escape, mut i) = (0usize, false, false, open);
    while i < hi {
        // One byte of the object's own text, and where the next one starts.
        let (b, next) = match seg[i] {
            b'\\' if escaped => match seg.get(i + 1) {
                Some(&b) if i + 1 < hi => (b, i + 2),
                _ => return hi,
            },
            // The string that holds the object ends, and the object with it.
            b'"' if escaped => return i,
            b => (b, i + 1),
        };
        if in_string {
            match (escape, b) {
                (true, _) => escape = false,
                (false, b'\\') => escape = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return next;
                    }
                }
                _ => {}
            }
        }
        i = next;
    }
    hi
}

/// Where a secret cut at `e` by a rule's bound really ends; it began at
/// `s`. A quoted value (`"..."` or `'...'`) ends at its closing quote, or at
/// the end of the line when there is none: spaces and escaped quotes are
/// part of it. A value opened by `\"` is a string of JSON inside a
/// string, which `\"` closes (`\\\"` is a quote inside it). Any other
/// value is a token, up to whitespace, a quote or a delimiter; a backslash
/// right before that quote stays, as JSON's escape of a quote that closes
/// a value of JSON inside a string.
fn extend_token(seg: &[u8], s: usize, e: usize) -> usize {
    let line_end = e + memchr::memchr2(b'\n', b'\r', &seg[e..]).unwrap_or(seg.len() - e);
    let opened = s.checked_sub(1).map(|q| seg[q]).filter(|q| *q == b'"' || *q == b'\'');
    if let Some(quote) = opened {
        // Backslashes before the opening quote: none in JSON, one in JSON
        // inside a string (three a level deeper). A literal backslash inside
        // doubles, so a quote closes after as many backslashes as opened
        // it, counted modulo twice one more than that.
        let backslashes_before = |i: usize| seg[..i].iter().rev().take_while(|&&b| b == b'\\').count();
        let escapes = match backslashes_before(s - 1) {
            even if even % 2 == 0 => 0,
            odd => odd,
        };
        let mut at = e;
        while let Some(i) = memchr::memchr(quote, &seg[at..line_end]) {
            let q = at + i;
            let before = backslashes_before(q);
            // YAML doubles a quote inside single quotes.
            let doubled = quote == b'\'' && seg.get(q + 1) == Some(&b'\'');
            if before % (2 * (escapes + 1)) == escapes && !doubled {
                return q - escapes;
            }
            at = q + 1 + usize::from(doubled);
        }
        return line_end;
    }
    let end =
        e + seg[e..].iter().position(|b| b.is_ascii_whitespace() || b"\"'`;,&<>".contains(b)).unwrap_or(seg.len() - e);
    match end > e && seg.get(end) == Some(&b'"') && seg[end - 1] == b'\\' {
        true => end - 1,
        false => end,
    }
}

/// Whether the mask `rendered` of overlapping `group`'s union (`text`),
/// chosen by its widest hit, shows only bytes that no other hit of the
/// group covers. A keep mask (an email's domain, a card's last four) then
/// stands for the union: `postgres://app:pw@db.internal` keeps its host
/// although the URL's password rule and the email rule overlap. Otherwise
/// the union is masked whole.
fn reveals_only_its_own(group: &[Hit], widest: Hit, text: &[u8], rendered: &[u8]) -> bool {
    let start = group[0].start;
    let covers_union = widest.start == start && widest.end == start + text.len();
    // Keep masks keep the length, so bytes line up.
    covers_union
        && rendered.len() == text.len()
        && rendered.iter().zip(text).enumerate().filter(|(_, (r, t))| r == t && **t != b'*').all(|(p, _)| {
            let at = start + p;
            group
                .iter()
                .filter(|h| (h.start, h.end, h.rule) != (widest.start, widest.end, widest.rule))
                .all(|h| at < h.start || at >= h.end)
        })
}

/// A word byte, as a rule's word boundaries see it.
fn is_word(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'_'
}

/// Whether a match starting at `at` (its first byte a word byte: `glued`)
/// was opened by `mask`: it starts inside the mask, or right after it with
/// a word byte. Before the mask was written that context was a secret's
/// own bytes, so the match would not have been made there.
fn opened_by((ms, me): (usize, usize), at: usize, glued: bool) -> bool {
    at > 0 && ms < at && (at < me || at == me && glued)
}

fn sort_hits(hits: &mut Vec<Hit>) {
    hits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)).then(a.rule.cmp(&b.rule)));
    hits.dedup_by(|a, b| (a.rule, a.start, a.end) == (b.rule, b.start, b.end));
}

impl Inner {
    /// Finds the hits in one segment. `carried` is a multi-line block open
    /// from the previous segment. Returns the block still open at the end,
    /// whose body hit the caller adds with [`Inner::close`] or its window
    /// logic.
    pub(crate) fn scan(
        &self,
        pf: &Prefilter,
        only: Option<u32>,
        seg: &[u8],
        carried: Option<u32>,
        hits: &mut Vec<Hit>,
    ) -> Option<Open> {
        self.scan_with(pf, only, seg, carried, None, hits)
    }

    /// [`Inner::scan`], with the keyword and byte rules already chosen by
    /// the gate when `pre` is given.
    pub(crate) fn scan_with(
        &self,
        pf: &Prefilter,
        only: Option<u32>,
        seg: &[u8],
        carried: Option<u32>,
        pre: Option<&Candidates>,
        hits: &mut Vec<Hit>,
    ) -> Option<Open> {
        let mut from = 0;
        if let Some(rule) = carried {
            let end = self.rules[rule as usize].compiled.end.as_ref().expect("open blocks belong to multi-line rules");
            match end.find(seg) {
                Some(m) => {
                    if m.start() > 0 {
                        hits.push(Hit { rule, start: 0, end: m.start(), from: 0 });
                    }
                    from = m.end();
                }
                None => return Some(Open { rule, begin: 0, body: 0 }),
            }
        }
        let wanted = |r: u32| only.is_none_or(|o| o == r);
        let mut open = None;
        let mut own = Candidates::default();
        let cands = match pre {
            Some(c) => c,
            None => {
                pf.rules(seg, &mut own);
                &own
            }
        };
        for r in cands.iter().filter(|&r| wanted(r)) {
            self.confirm(r, seg, 0, seg.len(), from, &mut open, hits);
        }
        open
    }

    /// Confirms rule `r` on `seg[lo..hi]` (with `seg` as context for
    /// anchors and word boundaries).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn confirm(
        &self,
        r: u32,
        seg: &[u8],
        lo: usize,
        hi: usize,
        from: usize,
        open: &mut Option<Open>,
        hits: &mut Vec<Hit>,
    ) {
        let rule = &self.rules[r as usize];
        if let Some(within) = &rule.compiled.within {
            // Run the rule inside each scope: from where `within` matches to
            // the end of the line (at most SCOPE bytes past the match), so
            // every `name=value` after `Cookie:` is seen, not only the first.
            let mut at = lo;
            while at < hi {
                let Some(m) = within.find_at(&seg[..hi], at) else { break };
                // A scope that starts inside a mask or glued to one was
                // opened by the mask, as a match would be (`masked_already`);
                // a true scope may still open just after it.
                if self.opened_by_a_mask(seg, m.start()) {
                    at = m.start() + 1;
                    continue;
                }
                let (start, end) = match rule.compiled.object {
                    false => (m.start(), (m.end() + crate::rules::SCOPE).min(hi)),
                    true => {
                        let open = m.start() + seg[m.range()].iter().rposition(|&b| b == b'{').unwrap_or(m.len());
                        let bound = (m.end() + crate::rules::OBJECT_SCOPE).min(hi);
                        (open, object_end(seg, open, bound))
                    }
                };
                self.confirm_in(r, rule, seg, start, end, from, Some(m.start()), open, hits);
                at = end.max(m.start() + 1);
            }
            return;
        }
        self.confirm_in(r, rule, seg, lo, hi, from, None, open, hits);
    }

    #[allow(clippy::too_many_arguments)]
    fn confirm_in(
        &self,
        r: u32,
        rule: &Rule,
        seg: &[u8],
        lo: usize,
        hi: usize,
        from: usize,
        scope: Option<usize>,
        open: &mut Option<Open>,
        hits: &mut Vec<Hit>,
    ) {
        let hay = &seg[..hi];
        let mut slots = Vec::new();
        let compiled = &rule.compiled;
        let mut at = if compiled.end.is_some() { lo.max(from) } else { lo };
        while at <= hay.len() {
            let Some((m, secret)) = compiled.find_secret(hay, at, &mut slots) else { break };
            at = if m.end > m.start { m.end } else { m.end + 1 };
            if let Some(end) = &compiled.end {
                // A block: masked from the end of the opening match to the
                // start of the end marker, which may be lines away.
                match end.find_at(seg, m.end) {
                    Some(e) => {
                        if e.start() > m.end {
                            hits.push(Hit { rule: r, start: m.end, end: e.start(), from: m.start });
                        }
                        at = at.max(e.end());
                    }
                    None => {
                        if open.is_none_or(|o| m.start < o.begin) {
                            *open = Some(Open { rule: r, begin: m.start, body: m.end });
                        }
                        return;
                    }
                }
                continue;
            }
            // A rejected match must not hide one that overlaps it: look
            // again from just after its start.
            at = m.start + 1;
            let Some(Range { start: s, end: e }) = secret else { continue };
            if e <= s || self.masked_already(seg, (m.start, m.end), s, e) {
                continue;
            }
            if !self.accepts(rule, &seg[s..e]) {
                REJECTED.with(|r| r.set(true));
            } else {
                // A value as long as a rule's bound may go on past it: mask
                // the rest of the token too (fail closed), not just the bound.
                let e = if e - s >= compiled.long { extend_token(seg, s, e) } else { e };
                hits.push(Hit { rule: r, start: s, end: e, from: scope.unwrap_or(m.start) });
                // Resume at the end of the secret, not of the match: the
                // boundary byte a rule consumed after one token may be the
                // boundary before the next.
                at = e.max(m.start + 1);
            }
        }
    }

    /// The masks this redactor produces (labels, pseudonyms) that overlap
    /// or touch `seg[s..e]`, sorted.
    fn masks_near(&self, seg: &[u8], s: usize, e: usize) -> Vec<(usize, usize)> {
        let reach = self.longest_label.max(80);
        let (lo, hi) = (s.saturating_sub(reach), (e + reach).min(seg.len()));
        // Most candidates have no mask near them: every mask starts with one
        // of a few bytes, so one memchr rules that out before any search.
        if self.mask_starts.iter().all(|&b| memchr::memchr(b, &seg[lo..hi]).is_none()) {
            return Vec::new();
        }
        let mut masks: Vec<(usize, usize)> =
            self.label_finder.find_iter(&seg[lo..hi]).map(|m| (lo + m.start(), lo + m.end())).collect();
        for open in memchr::memchr_iter(b'<', &seg[lo..hi]).map(|i| lo + i) {
            if let Some(close) = memchr::memchr(b'>', &seg[open..(open + 80).min(hi)]).map(|i| open + i) {
                if self.is_mask(&seg[open..=close]) {
                    masks.push((open, close + 1));
                }
            }
        }
        // Touching counts: a value class that stops at a mask's first byte
        // was cut short by the mask, not by the original text.
        masks.retain(|&(ms, me)| ms <= e && me >= s);
        masks.sort_unstable();
        masks
    }

    /// Whether candidate `seg[s..e]`, found by a match starting at `at`,
    /// is already masked, or was found only because of a mask:
    ///
    /// - it overlaps or touches a label or pseudonym this redactor produces,
    ///   or it is made of `*` and punctuation: another rule handled it, and
    ///   judging it again with the mask in place of the secret could give
    ///   another answer (an entropy floor, say);
    /// - its match starts inside a mask, or right after one with a word
    ///   byte, or ends with a word byte right before a label or pseudonym:
    ///   before the mask was written that context was the secret's own
    ///   bytes, so the match (its word boundary, say) would not have been
    ///   made.
    ///
    /// Either way masking it would make masking twice differ from once.
    fn masked_already(&self, seg: &[u8], (at, to): (usize, usize), s: usize, e: usize) -> bool {
        let span = &seg[s..e];
        if span.contains(&b'*') && span.iter().all(|b| *b == b'*' || b.is_ascii_punctuation() || *b == b' ') {
            return true;
        }
        let glued = seg.get(at).is_some_and(is_word);
        let glued_end = to > 0 && is_word(&seg[to - 1]);
        if at > 0 && glued && seg[at - 1] == b'*' {
            return true;
        }
        self.masks_near(seg, s.min(at.saturating_sub(1)), e.max(to))
            .iter()
            .any(|&(ms, me)| (ms <= e && me >= s) || opened_by((ms, me), at, glued) || (ms == to && glued_end))
    }

    /// Whether a match starting at `at` was opened by a label or pseudonym
    /// (see [`opened_by`]).
    fn opened_by_a_mask(&self, seg: &[u8], at: usize) -> bool {
        let glued = seg.get(at).is_some_and(is_word);
        at > 0 && self.masks_near(seg, at - 1, at).iter().any(|&mask| opened_by(mask, at, glued))
    }

    /// Allowlists, entropy floor and validators on a candidate secret (one
    /// that is not masked already: see [`Inner::masked_already`]).
    fn accepts(&self, rule: &Rule, secret: &[u8]) -> bool {
        if rule.compiled.allow.iter().any(|allow| allow.is_match(secret)) {
            return false;
        }
        if let Some(floor) = rule.entropy {
            if !validate::meets_entropy(secret, floor) {
                return false;
            }
        }
        rule.validators.iter().all(|v| v.check(secret))
    }

    /// Whether `s` is a mask this redactor produces, so that masking again
    /// leaves it alone.
    fn is_mask(&self, s: &[u8]) -> bool {
        if s.iter().all(|&b| b == b'*') || self.labels.contains(s) {
            return true;
        }
        // <name:8 hex>
        if let [b'<', body @ .., b'>'] = s {
            if let Some(colon) = memchr::memrchr(b':', body) {
                let (name, hex) = (&body[..colon], &body[colon + 1..]);
                return hex.len() == 8
                    && hex.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                    && self.names.contains(name);
            }
        }
        false
    }

    /// Finds the hits of a complete line: a block that opens and does not
    /// end is masked to the end of the line.
    pub(crate) fn scan_line(&self, pf: &Prefilter, only: Option<u32>, line: &[u8], hits: &mut Vec<Hit>) {
        if let Some(open) = self.scan(pf, only, line, None, hits) {
            self.close(open, line.len(), hits);
        }
    }

    /// Masks the hits of a complete line and, with `settle`, masks the
    /// result again until it settles (see [`Inner::settle`]). `None`: a
    /// `drop` rule matched.
    fn mask_line(
        &self,
        line: &[u8],
        hits: &mut Vec<Hit>,
        defaults: bool,
        key: Option<&HashKey>,
        settle: bool,
        find: impl Fn(&[u8], &mut Vec<Hit>),
    ) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(line.len() + 32);
        let dropped = self.apply_with(line, hits, true, defaults, key, &mut out) == Outcome::Dropped
            || settle && self.settle(&mut out, defaults, key, find, |_| ()) == Outcome::Dropped;
        (!dropped).then_some(out)
    }

    /// Adds the body hit of a block left open at the end of a complete
    /// segment: it is masked to the end.
    pub(crate) fn close(&self, open: Open, len: usize, hits: &mut Vec<Hit>) {
        if open.body < len {
            hits.push(Hit { rule: open.rule, start: open.body, end: len, from: open.begin });
        }
    }

    /// Writes `seg` with its hits masked to `out`. Overlapping hits merge so
    /// that their union is masked, with the mask of the widest (of equally
    /// wide ones, a key block's, then one not generic, then the first
    /// loaded); a mask that reveals part of the secret is only used on a
    /// span one rule found alone. With `allow_drop`, a hit of a `drop` rule
    /// drops the segment.
    pub(crate) fn apply(&self, seg: &[u8], hits: &mut Vec<Hit>, allow_drop: bool, out: &mut Vec<u8>) -> Outcome {
        self.apply_with(seg, hits, allow_drop, false, self.key.as_ref(), out)
    }

    /// Masks a masked line again until nothing new is found, so that the
    /// result is a fixpoint: masking it once more changes nothing. A mask
    /// can change what a rule sees next to it (a greedy match that swallowed
    /// a neighbour and failed its validator fits once the neighbour is
    /// masked), so one pass is not always enough. Only lines that had a
    /// finding come here. `find` fills the hits of a line; `count` sees the
    /// hits each extra round adds.
    pub(crate) fn settle(
        &self,
        out: &mut Vec<u8>,
        defaults: bool,
        key: Option<&HashKey>,
        find: impl Fn(&[u8], &mut Vec<Hit>),
        mut count: impl FnMut(&Hit),
    ) -> Outcome {
        let (mut hits, mut next) = (Vec::new(), Vec::new());
        for _ in 0..SETTLE_ROUNDS {
            hits.clear();
            find(out, &mut hits);
            // Blocks were settled by the first pass; their markers remain.
            hits.retain(|h| !self.rules[h.rule as usize].is_multiline());
            if hits.is_empty() {
                break;
            }
            next.clear();
            if self.apply_with(out, &mut hits, true, defaults, key, &mut next) == Outcome::Dropped {
                return Outcome::Dropped;
            }
            hits.iter().for_each(&mut count);
            std::mem::swap(out, &mut next);
        }
        Outcome::Masked
    }

    /// Whether a line masked with `hits` must be settled (see
    /// [`Inner::settle`]): its first pass rejected a match, or a mask that
    /// the engine cannot recognise later (`*` runs, kept characters) now
    /// stands next to text a rule may read differently. Labels and
    /// pseudonyms are recognised as masks, so lines masked only with them
    /// are already settled, whatever the hits their unions swallowed (an
    /// email inside a URL's token, say). Sorts `hits`, as masking would.
    pub(crate) fn needs_settle(&self, hits: &mut Vec<Hit>) -> bool {
        if rejected() {
            return true;
        }
        sort_hits(hits);
        self.unions(hits)
            .any(|(_, _, widest)| !matches!(self.rules[widest.rule as usize].mask, Mask::Label(_) | Mask::Hash))
    }

    /// The unions of overlapping `hits` (sorted by [`sort_hits`]): for
    /// each, the range of its hits, where it ends, and the hit whose mask
    /// it takes, the widest (of equally wide ones, a key block's, then one
    /// not generic, then the first loaded).
    fn unions<'a>(&'a self, hits: &'a [Hit]) -> impl Iterator<Item = (Range<usize>, usize, Hit)> + 'a {
        let mut i = 0;
        std::iter::from_fn(move || {
            let first = *hits.get(i)?;
            let (mut end, mut widest) = (first.end, first);
            let mut j = i + 1;
            while j < hits.len() && hits[j].start < end {
                let h = hits[j];
                // On a tie, a key block's body (a second pass finds the
                // block again, whatever mask its body holds), then a rule
                // that knows the value's shape over one that knows only its
                // key: `[REDACTED:stripe-key]` says what to rotate.
                let rank = |h: Hit| {
                    let rule = &self.rules[h.rule as usize];
                    (h.end - h.start, rule.is_multiline(), !rule.generic)
                };
                if rank(h) > rank(widest) {
                    widest = h;
                }
                end = end.max(h.end);
                j += 1;
            }
            let union = i..j;
            i = j;
            Some((union, end, widest))
        })
    }

    /// The key for hash masks, if one was given.
    pub(crate) fn key(&self) -> Option<&HashKey> {
        self.key.as_ref()
    }

    /// The line scan that [`Inner::settle`] repeats.
    pub(crate) fn rescan(&self, seg: &[u8], hits: &mut Vec<Hit>) {
        self.scan_line(&self.prefilter, None, seg, hits);
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_with(
        &self,
        seg: &[u8],
        hits: &mut Vec<Hit>,
        allow_drop: bool,
        defaults: bool,
        key: Option<&HashKey>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        fn pick(r: &Rule, defaults: bool) -> (&Mask, &String) {
            if defaults {
                (&r.default_mask, &r.default_label)
            } else {
                (&r.mask, &r.label)
            }
        }
        let mask_of = |r| pick(r, defaults);
        sort_hits(hits);
        if allow_drop && hits.iter().any(|h| *mask_of(&self.rules[h.rule as usize]).0 == Mask::Drop) {
            return Outcome::Dropped;
        }
        let mut pos = 0;
        for (union, end, widest) in self.unions(hits) {
            let group = &hits[union];
            let start = group[0].start;
            let rule = &self.rules[widest.rule as usize];
            let (m, label) = mask_of(rule);
            out.extend_from_slice(&seg[pos..start]);
            let at = out.len();
            mask::render(m, label, &rule.name, &seg[start..end], key, out);
            if m.reveals() && !reveals_only_its_own(group, widest, &seg[start..end], &out[at..]) {
                out.truncate(at);
                mask::render(&Mask::Fixed, label, &rule.name, &seg[start..end], key, out);
            }
            pos = end;
        }
        out.extend_from_slice(&seg[pos..]);
        Outcome::Masked
    }

    /// Redacts one complete line with only rule `r` (any rule, enabled or
    /// not), for rule tests.
    fn redact_only(&self, r: u32, line: &[u8]) -> Vec<u8> {
        let only = |seg: &[u8], hits: &mut Vec<Hit>| self.scan_line(self.every(), Some(r), seg, hits);
        let mut hits = Vec::new();
        only(line, &mut hits);
        if hits.is_empty() {
            return line.to_vec();
        }
        self.mask_line(line, &mut hits, true, Some(&self.test_key), true, only).unwrap_or_default()
    }

    fn test_rules(&self, ids: Option<&[&str]>) -> Vec<TestFailure> {
        let mut failures = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if ids.is_some_and(|ids| !ids.contains(&rule.id.as_str())) {
                continue;
            }
            let fail = |kind, input: &str, expected: &str, actual: &[u8]| TestFailure {
                rule: rule.id.clone(),
                location: rule.location(),
                kind,
                input: input.to_string(),
                expected: expected.to_string(),
                actual: String::from_utf8_lossy(actual).into_owned(),
            };
            for ex in &rule.positive {
                let got = self.redact_only(i as u32, ex.input.as_bytes());
                if got != ex.output.as_bytes() {
                    failures.push(fail(TestFailureKind::Positive, &ex.input, &ex.output, &got));
                    continue;
                }
                let again = self.redact_only(i as u32, &got);
                if again != got {
                    failures.push(fail(TestFailureKind::NotIdempotent, &ex.output, &ex.output, &again));
                }
            }
            for neg in &rule.negative {
                let got = self.redact_only(i as u32, neg.as_bytes());
                if got != neg.as_bytes() {
                    failures.push(fail(TestFailureKind::Negative, neg, neg, &got));
                }
            }
        }
        failures
    }
}

/// Builds a [`Redactor`]: which packs and rule files, which rules are off,
/// masks, the hash key and limits.
///
/// Everything is compiled and validated in [`RedactorBuilder::build`]; any
/// error refuses the whole set.
///
/// # Example
///
/// ```
/// use logscrub::{HashKey, Mask, Redactor};
///
/// let redactor = Redactor::builder()
///     .packs(["default", "network"])
///     .disable("ipv4")
///     .mask("email", Mask::Hash)
///     .hash_key(HashKey::new(b"0123456789abcdef0123".to_vec()).unwrap())
///     .build()
///     .unwrap();
/// let out = redactor.redact(b"signup email=jane@example.com");
/// assert!(out.starts_with(b"signup email=<email:"));
/// ```
#[derive(Clone, Debug)]
pub struct RedactorBuilder {
    builtin: bool,
    files: Vec<Source>,
    packs: Option<Vec<String>>,
    disabled: Vec<String>,
    masks: Vec<(String, Mask)>,
    key: Option<HashKey>,
    validators: Vec<Validator>,
    max_line: usize,
}

#[derive(Clone, Debug)]
enum Source {
    Text { origin: String, text: String },
    Path(PathBuf),
}

impl Default for RedactorBuilder {
    fn default() -> RedactorBuilder {
        RedactorBuilder::new()
    }
}

impl RedactorBuilder {
    /// A builder with the embedded packs and every default.
    pub fn new() -> RedactorBuilder {
        RedactorBuilder {
            builtin: true,
            files: Vec::new(),
            packs: None,
            disabled: Vec::new(),
            masks: Vec::new(),
            key: None,
            validators: Vec::new(),
            max_line: DEFAULT_MAX_LINE,
        }
    }

    /// Whether to load the packs embedded in the library (default: yes).
    pub fn builtin_packs(&mut self, yes: bool) -> &mut RedactorBuilder {
        self.builtin = yes;
        self
    }

    /// Adds a rule file from text; `origin` names it in errors.
    pub fn rules_toml(&mut self, origin: &str, text: &str) -> &mut RedactorBuilder {
        self.files.push(Source::Text { origin: origin.to_string(), text: text.to_string() });
        self
    }

    /// Adds a rule file, read when the redactor is built.
    pub fn rules_file(&mut self, path: impl Into<PathBuf>) -> &mut RedactorBuilder {
        self.files.push(Source::Path(path.into()));
        self
    }

    /// Chooses the packs that run, by name. `default` stands for every pack
    /// that is on by default, `all` for every pack. Without this call the
    /// default packs run.
    pub fn packs<I, S>(&mut self, names: I) -> &mut RedactorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.packs = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Turns a rule off by id.
    pub fn disable(&mut self, id: &str) -> &mut RedactorBuilder {
        self.disabled.push(id.to_string());
        self
    }

    /// Overrides the mask of a rule by id.
    pub fn mask(&mut self, id: &str, mask: Mask) -> &mut RedactorBuilder {
        self.masks.push((id.to_string(), mask));
        self
    }

    /// The key for [`Mask::Hash`] pseudonyms. Required when a running rule
    /// uses the hash mask.
    pub fn hash_key(&mut self, key: HashKey) -> &mut RedactorBuilder {
        self.key = Some(key);
        self
    }

    /// Registers a validator that rule files may name.
    pub fn validator(&mut self, v: Validator) -> &mut RedactorBuilder {
        self.validators.push(v);
        self
    }

    /// The longest line processed whole (default 1 MiB). A longer line is
    /// processed in windows that overlap by the longest possible match.
    pub fn max_line(&mut self, bytes: usize) -> &mut RedactorBuilder {
        self.max_line = bytes;
        self
    }

    /// Compiles and validates everything.
    pub fn build(&self) -> Result<Redactor, Error> {
        let mut packs: Vec<Pack> = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        let mut sources: Vec<(String, String)> = Vec::new();
        if self.builtin {
            sources.extend(packs::BUILTIN.iter().map(|(name, text)| (format!("builtin:{name}"), text.to_string())));
        }
        for src in &self.files {
            sources.push(match src {
                Source::Text { origin, text } => (origin.clone(), text.clone()),
                Source::Path(p) => {
                    let origin = p.display().to_string();
                    let text = std::fs::read_to_string(p).map_err(|e| {
                        Error::new(ErrorKind::Config, format!("cannot read rule file: {e}")).at(&origin, None)
                    })?;
                    (origin, text)
                }
            });
        }
        // Files are read, then their rules checked and compiled, on every
        // core; the results are merged in order, so the first error reported
        // is the same as with one thread.
        let builtin_sources = if self.builtin { packs::BUILTIN.len() } else { 0 };
        let files = par_map(&sources, |(origin, text)| rules::read(origin, text));
        let jobs: Vec<(usize, usize)> = files
            .iter()
            .enumerate()
            .filter_map(|(f, file)| file.as_ref().ok().map(|file| (f, file.rules.len())))
            .flat_map(|(f, n)| (0..n).map(move |i| (f, i)))
            .collect();
        let mut compiled = par_map(&jobs, |&(f, i)| match &files[f] {
            Ok(file) => file.compile(i, &self.validators),
            Err(_) => unreachable!("jobs are made from the files that were read"),
        })
        .into_iter();
        let mut builtin_rules = 0;
        for (i, file) in files.into_iter().enumerate() {
            let file = file?;
            let rs = compiled.by_ref().take(file.rules.len()).collect::<Result<Vec<Rule>, Error>>()?;
            let (pack, origin) = (file.pack, &sources[i].0);
            if let Some(p) = packs.iter().find(|p| p.name == pack.name) {
                return Err(Error::new(
                    ErrorKind::Duplicate,
                    format!("pack {:?} is also defined in {}", pack.name, p.origin),
                )
                .at(origin, Some(1)));
            }
            for r in &rs {
                if let Some(prev) =
                    rules.iter().chain(rs.iter().take_while(|x| !std::ptr::eq(*x, r))).find(|x| x.id == r.id)
                {
                    return Err(Error::new(
                        ErrorKind::Duplicate,
                        format!("the id is also used at {}", prev.location()),
                    )
                    .at(origin, Some(r.line))
                    .rule(&r.id));
                }
            }
            packs.push(pack);
            rules.extend(rs);
            if i < builtin_sources {
                builtin_rules = rules.len();
            }
        }

        // Which packs run.
        let mut on_packs: Vec<&str> = Vec::new();
        match &self.packs {
            None => on_packs.extend(packs.iter().filter(|p| p.default).map(|p| p.name.as_str())),
            Some(names) => {
                for n in names {
                    match n.as_str() {
                        "default" => on_packs.extend(packs.iter().filter(|p| p.default).map(|p| p.name.as_str())),
                        "all" => on_packs.extend(packs.iter().map(|p| p.name.as_str())),
                        n if packs.iter().any(|p| p.name == n) => on_packs.push(n),
                        n => {
                            let known: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
                            return Err(Error::new(
                                ErrorKind::Unknown,
                                format!("unknown pack {n:?}; known packs: default, all, {}", known.join(", ")),
                            ));
                        }
                    }
                }
            }
        }
        let unknown_rule =
            |id: &str| Error::new(ErrorKind::Unknown, format!("no rule has the id {id:?} (see `logscrub rules list`)"));
        for id in &self.disabled {
            if !rules.iter().any(|r| &r.id == id) {
                return Err(unknown_rule(id));
            }
        }
        let enabled: Vec<bool> =
            rules.iter().map(|r| on_packs.contains(&r.pack.as_str()) && !self.disabled.contains(&r.id)).collect();
        for (id, m) in &self.masks {
            m.check().map_err(|why| Error::new(ErrorKind::Mask, why).rule(id))?;
            let rule = rules.iter_mut().find(|r| &r.id == id).ok_or_else(|| unknown_rule(id))?;
            if rule.is_multiline() && (m.reveals() || *m == Mask::Hash) {
                return Err(Error::new(ErrorKind::Mask, "a multi-line rule masks with label, fixed or drop").rule(id));
            }
            rule.set_mask(m.clone());
        }
        if self.key.is_none() {
            if let Some(r) = rules.iter().zip(&enabled).find(|(r, on)| **on && r.mask == Mask::Hash) {
                return Err(Error::new(
                    ErrorKind::Config,
                    "the hash mask needs a key: set LOGSCRUB_HASH_KEY or a key file",
                )
                .rule(&r.0.id));
            }
        }
        let guard = rules.iter().zip(&enabled).filter(|(_, on)| **on).map(|(r, _)| r.max_len).max().unwrap_or(0);
        let shortest =
            rules.iter().zip(&enabled).filter(|(_, on)| **on).map(|(r, _)| r.min_len).min().unwrap_or(usize::MAX);
        let min_line = (4 * guard).max(256);
        if self.max_line < min_line {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "max line {} is below {min_line}: four times the longest match of the rules in use",
                    self.max_line
                ),
            ));
        }
        // Masks made outside the rules (a secret-named field, an internal
        // error) are masked text too.
        let outside = [crate::fields::FIELD_MASK, "[REDACTED:internal-error]"].map(|m| m.as_bytes().to_vec());
        let labels: HashSet<Vec<u8>> = rules
            .iter()
            .flat_map(|r| [r.label.as_bytes().to_vec(), r.default_label.as_bytes().to_vec()])
            .chain(outside)
            .collect();
        let longest_label = labels.iter().map(Vec::len).max().unwrap_or(0);
        let mut mask_starts: Vec<u8> = labels.iter().filter_map(|l| l.first().copied()).chain([b'<']).collect();
        mask_starts.sort_unstable();
        mask_starts.dedup();
        let label_finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&labels)
            .map_err(|e| Error::new(ErrorKind::Mask, format!("labels: {e}")))?;
        let names = rules.iter().map(|r| r.name.as_bytes().to_vec()).collect();
        let prefilter = Prefilter::new(&rules, |i| enabled[i]).map_err(|e| Error::new(ErrorKind::Regex, e))?;
        let inner = Inner {
            ids: rules.iter().map(|r| r.id.clone()).collect(),
            rules,
            packs,
            enabled,
            prefilter,
            every: OnceLock::new(),
            labels,
            mask_starts,
            label_finder,
            longest_label,
            names,
            key: self.key.clone(),
            test_key: HashKey::new(TEST_KEY.to_vec()).expect("the test key is long enough"),
            max_line: self.max_line,
            guard,
            shortest,
        };
        // The built-in packs' examples are checked by the test suite
        // (`builtin_examples_reach_their_rules`), not again at each start.
        inner.check_reachable(builtin_rules)?;
        inner.check_masks_inert(builtin_rules)?;
        Ok(Redactor { inner: Arc::new(inner) })
    }
}

/// `f` of every item, on every core (each thread takes the next item as it
/// finishes one, so a few slow items do not hold up the rest), in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    let done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in done {
        slots[i] = Some(r);
    }
    slots.into_iter().map(|r| r.expect("every item is taken once")).collect()
}

impl Inner {
    /// The triggers of every rule, enabled or not.
    fn every_built(&self) -> Result<&Prefilter, String> {
        self.every.get_or_init(|| Prefilter::new(&self.rules, |_| true)).as_ref().map_err(Clone::clone)
    }

    /// [`Inner::every_built`] where it cannot fail: every trigger was
    /// parsed at load, the built-in ones are all built together by the
    /// tests (`--packs all`), and a user file's at build.
    pub(crate) fn every(&self) -> &Prefilter {
        self.every_built().expect("the triggers of every rule were built at load")
    }

    /// Every positive example must reach its rule: its keywords occur, its
    /// regex and validators accept. Otherwise the rule cannot be trusted.
    /// Rules before `from` (the built-in ones) are skipped.
    fn check_reachable(&self, from: usize) -> Result<(), Error> {
        for (i, rule) in self.rules.iter().enumerate().skip(from) {
            for ex in &rule.positive {
                let mut hits = Vec::new();
                let every = self.every_built().map_err(|e| Error::new(ErrorKind::Regex, e))?;
                let open = self.scan(every, Some(i as u32), ex.input.as_bytes(), None, &mut hits);
                if hits.is_empty() && open.is_none() {
                    return Err(Error::new(
                        ErrorKind::Tests,
                        format!(
                            "positive example {:?} is never masked: its trigger ({}) does not occur, or the \
                             regex or a validator rejects it",
                            ex.input,
                            match (&rule.trigger, rule.keywords.is_empty()) {
                                (Some(_), _) => "its trigger regex".to_string(),
                                (None, true) => "its own regex".to_string(),
                                (None, false) => format!("keywords {}", rule.keywords.join(", ")),
                            }
                        ),
                    )
                    .at(&rule.origin, Some(rule.line))
                    .rule(&rule.id));
                }
            }
        }
        Ok(())
    }

    /// A mask must never trigger a rule, or redacting twice would differ
    /// from redacting once. The first `builtin` rules are the built-in
    /// packs': while only they run, their default labels need no check here
    /// (`builtin_labels_are_inert` makes it with every pack on), which
    /// spares compiling the rules that a label's words wake.
    fn check_masks_inert(&self, builtin: usize) -> Result<(), Error> {
        let only_builtin = (builtin..self.rules.len()).all(|i| !self.enabled[i]);
        for (i, rule) in self.rules.iter().enumerate() {
            if !self.enabled[i] || only_builtin && i < builtin && rule.label == rule.default_label {
                continue;
            }
            let mut hits = Vec::new();
            let open = self.scan(&self.prefilter, None, rule.label.as_bytes(), None, &mut hits);
            if !hits.is_empty() || open.is_some() {
                let by = &self.rules[hits.first().map_or(open.map_or(0, |o| o.rule), |h| h.rule) as usize].id;
                return Err(Error::new(
                    ErrorKind::Mask,
                    format!("its label {:?} is itself matched by rule '{by}'", rule.label),
                )
                .rule(&rule.id));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(line: &str) -> String {
        static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        let r = R.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap());
        String::from_utf8(r.redact(line.as_bytes()).into_owned()).unwrap()
    }

    /// A rule file of one pack `t` with one rule `r`, gated by `gate` (a
    /// `keywords = [...]` or `trigger = '...'` line).
    fn one_rule(gate: &str, regex: &str, (input, output): (&str, &str), negative: &str) -> String {
        format!(
            "[pack]\nname = \"t\"\ndescription = \"t\"\n[[rule]]\nid = \"r\"\ndescription = \"d\"\n\
             category = \"token\"\n{gate}\nregex = '{regex}'\n\
             positive = [{{ input = '{input}', output = '{output}' }}]\nnegative = ['{negative}']\n"
        )
    }

    #[test]
    fn a_line_shorter_than_every_rule_is_not_scanned() {
        let rules =
            one_rule("keywords = [\"k=\"]", "k=(?P<secret>[0-9]{6})", ("k=123456", "k=[REDACTED:r]"), "k=12345");
        let r = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &rules).build().unwrap();
        assert_eq!(r.inner.shortest, 8);
        assert!(matches!(r.redact(b"k=12345"), Cow::Borrowed(_)));
        assert_eq!(r.redact(b"k=123456").as_ref(), b"k=[REDACTED:r]");
        // The default packs: their shortest matches (short password flags,
        // a cookie) take four bytes, so a status code skips the scan.
        let shortest = Redactor::new().inner.shortest;
        assert!((1..=8).contains(&shortest), "{shortest}");
    }

    /// Every default rule's examples, redacted twice over: the second pass
    /// builds no allowlist state again (a cache too small for them cleared
    /// itself on every few secrets, and each secret paid to rebuild).
    #[test]
    fn the_examples_secrets_fit_every_allowlist_cache() {
        let r = Redactor::new();
        let inputs: Vec<&str> = r.rules().flat_map(|rule| rule.positive().iter().map(|e| e.input.as_str())).collect();
        let allowlists: Vec<(&str, &Arc<crate::allowlist::Allowlist>)> =
            r.inner.rules.iter().flat_map(|rule| rule.compiled.allow.iter().map(|a| (rule.id.as_str(), a))).collect();
        inputs.iter().for_each(|i| drop(r.redact(i.as_bytes())));
        let before: Vec<usize> = allowlists.iter().map(|(_, a)| a.clear_count()).collect();
        inputs.iter().for_each(|i| drop(r.redact(i.as_bytes())));
        let cleared: Vec<&str> =
            allowlists.iter().zip(before).filter(|((_, a), n)| a.clear_count() != *n).map(|((id, _), _)| *id).collect();
        assert!(cleared.is_empty(), "allowlist caches cleared on a second pass, for rules {cleared:?}");
    }

    #[test]
    fn builtin_labels_are_inert() {
        let r = Redactor::builder().packs(["all"]).build().unwrap();
        r.inner.check_masks_inert(0).unwrap();
    }

    #[test]
    fn jwts_past_the_rule_bounds_are_masked_to_the_end_of_the_token() {
        // The jwt rule bounds a payload at 8192 bytes and a signature at
        // 2048: a longer one used to match nothing and pass in the clear.
        let header = "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9";
        for (payload, signature) in [(8_000, 43), (9_000, 43), (20_000, 43), (300, 3_000), (9_000, 0)] {
            let token = format!("{header}.eyJ{}.{}", "x".repeat(payload), "s".repeat(signature));
            assert_eq!(
                redact(&format!("auth ok {token} next")),
                "auth ok [REDACTED:jwt] next",
                "{payload} {signature}"
            );
            assert_eq!(redact(&format!("{{\"blob\":\"{token}\"}}")), "{\"blob\":\"[REDACTED:jwt]\"}");
        }
        // And a header at 2048: certificate chains in `x5c` run past it.
        use base64::Engine;
        let encode = |json: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        for certs in [2, 5, 40] {
            let chain = vec![format!("\"{}\"", "MIIDdzCC".repeat(140)); certs].join(",");
            let header = encode(format!(r#"{{"alg":"RS256","typ":"JWT","x5c":[{chain}]}}"#));
            assert!(header.len() > 2048);
            let token = format!("{header}.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl");
            assert_eq!(redact(&format!("auth ok {token} next")), "auth ok [REDACTED:jwt] next", "{certs}");
            assert_eq!(redact(&format!("{{\"blob\":\"{token}\"}}")), "{\"blob\":\"[REDACTED:jwt]\"}");
        }
        // Base64url JSON as long that is no JOSE header is left alone.
        let blob = encode(format!(r#"{{"items":[{}]}}"#, vec!["\"abc\""; 800].join(",")));
        assert!(blob.len() > 2048);
        assert_eq!(redact(&format!("state {blob} next")), format!("state {blob} next"));
    }

    #[test]
    fn values_past_a_rules_value_bound_are_masked_to_the_end_of_the_token() {
        // The CLI rules bound a value at 128 bytes; `aws ecr get-login`
        // prints a docker login whose token runs to 2 KB and more.
        let ecr = format!("eyJwYXlsb2FkIjoi{}", "QUJDRGVm".repeat(300));
        assert_eq!(
            redact(&format!("+ docker login -u AWS -p {ecr} https://1234.dkr.ecr.eu-west-1.amazonaws.com")),
            "+ docker login -u AWS -p [REDACTED:cli-password-flag] https://1234.dkr.ecr.eu-west-1.amazonaws.com"
        );
        // Quoted, with no closing quote within the bound.
        let long = "k9".repeat(150);
        assert_eq!(
            redact(&format!("sshpass -p '{long}' ssh host")),
            "sshpass -p '[REDACTED:cli-password-flag]' ssh host"
        );
        assert_eq!(redact(&format!("mysql -p{long} app")), "mysql -p[REDACTED:mysql-password-flag] app");
    }

    #[test]
    fn wrapped_and_bracketed_values_past_the_bound_are_masked() {
        let long = "k9".repeat(600);
        // In a wrapper, closed or left open by a line cut short.
        for (input, output) in [
            (format!(r#"pw=Some("{long}") next=1"#), r#"pw=Some("[REDACTED:password-assignment]") next=1"#),
            (format!(r#"pw=Some("{long}"#), r#"pw=Some("[REDACTED:password-assignment]"#),
            (format!(r#"pw=Some("{long} {long}"#), r#"pw=Some("[REDACTED:password-assignment]"#),
            // Go's list: to the end of the token.
            (
                format!("form=map[password:[{long}] user:[jane]]"),
                "form=map[password:[[REDACTED:password-assignment] user:[jane]]",
            ),
        ] {
            assert_eq!(redact(&input), output);
            assert_eq!(redact(output), output, "masking again changes nothing");
        }
    }

    #[test]
    fn every_builtin_rule_compiles() {
        Redactor::builder().packs(["all"]).build().unwrap();
    }

    #[test]
    fn builtin_examples_reach_their_rules() {
        let r = Redactor::builder().packs(["all"]).build().unwrap();
        r.inner.check_reachable(0).unwrap();
    }

    #[test]
    fn an_unreachable_example_in_a_user_file_is_refused() {
        let text = one_rule(
            r#"keywords = ["zzword"]"#,
            "tok=(?P<secret>[a-z]{5})",
            ("tok=abcde", "tok=[REDACTED:r]"),
            "tok=1",
        );
        let err = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &text).build().unwrap_err();
        assert!(err.to_string().contains("never masked"), "{err}");
    }

    #[test]
    fn a_trigger_regex_gates_a_rule_and_must_reach_its_examples() {
        let rule = |trigger: &str| {
            let example = ("x id=123456", "x id=[REDACTED:r]");
            one_rule(&format!("trigger = '{trigger}'"), "id=(?P<secret>[0-9]{6})", example, "x id=12")
        };
        let r = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &rule("=[0-9]{6}")).build().unwrap();
        assert_eq!(&r.redact(b"a id=654321 b")[..], b"a id=[REDACTED:r] b");
        assert!(matches!(r.redact(b"a id=65432 b"), Cow::Borrowed(_)));
        // A trigger that the rule's own example never holds is refused.
        let err = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &rule("id:")).build().unwrap_err();
        assert!(err.to_string().contains("never masked"), "{err}");
        // So is one that matches empty text: it would wake the rule on
        // every line (and at a line start the prefilter would give up).
        for trigger in ["(?:id=)?", "^", "(?:^|x)"] {
            let err =
                Redactor::builder().builtin_packs(false).rules_toml("t.toml", &rule(trigger)).build().unwrap_err();
            assert!(err.to_string().contains("trigger can match empty text"), "{trigger}: {err}");
        }
    }

    #[test]
    fn regression_two_tokens_one_space_apart_are_both_masked() {
        let t = "821259220:AAzN7mpnUaw6Ke9ZkUFmFk4Rmyg3ozlBg-o";
        assert_eq!(redact(&format!("{t} {t}")), "[REDACTED:telegram-bot-token] [REDACTED:telegram-bot-token]");
    }

    #[test]
    fn regression_second_token_after_a_context_keyword_is_masked() {
        let a = "MnG2b0TPLaGM0P6FxvCcj0VZ54.OMFtfs.aCdZ3pm5qb7093umvMIQEuLQt7_gMfEVt2Ivi7";
        let b = "MpX9ZT-gScppRGnXL9-Zku-_2X.xxGluM.GZkRnJhKv2KCTn69P0Su2Kw92fpqmaHeOjInGE";
        let out = redact(&format!("discord login {a} retry {b}"));
        assert_eq!(out, "discord login [REDACTED:discord-bot-token] retry [REDACTED:discord-bot-token]");
    }

    #[test]
    fn regression_mask_followed_by_punctuation_is_not_masked_again() {
        let once = redact("/api/export?format=csv&access_token=EAACEdEose0cBA1234xyz&page=2,GET x");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_key_glued_to_a_masked_value_stays_consistent() {
        let once = redact("phone_number=080-1234-5678session=1234bearer ");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_rejected_match_does_not_hide_an_overlapping_one() {
        let line =
            r#"headers={'authorization': curlTwilio=token="secret": 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b']}"#;
        let once = redact(line);
        assert!(!once.contains("9944b0"), "{once}");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn values_longer_than_a_rule_bound_are_masked_whole() {
        let long = "ab1".repeat(1700);
        let out = redact(&format!("login password={long} user=jane"));
        assert_eq!(out, "login password=[REDACTED:password-assignment] user=jane");
        // A URL password must reach its '@' within the bound: a token used
        // as one is masked up to 4 KiB (past 1000 bytes, to the end of the
        // URL, host included: fail closed).
        let url = |n: usize| redact(&format!("pull https://AWS:{}@registry.example.com/app ok", "x9Y".repeat(n / 3)));
        assert_eq!(url(900), "pull https://AWS:[REDACTED:url-userinfo]@registry.example.com/app ok");
        for n in [1500, 4000] {
            assert_eq!(url(n), "pull https://AWS:[REDACTED:url-userinfo] ok", "{n}");
        }
        // A quoted value longer than its rule's bound never finds its
        // closing quote in time: the rules also take its first 1024
        // characters, and the rest of the token goes with them.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let long: String = (0..1500).map(|i| alphabet[(i * 7 + i / 11) % 62] as char).collect();
        for (line, rule) in [
            (format!(r#"body {{"password":"{long}","k":1}}"#), "password-assignment"),
            (format!("login password='{long}' next"), "password-assignment"),
            (format!(r#"{{\"refresh_token\":\"{long}\"}}"#), "secret-assignment"),
            (format!(r#"cookie SESSIONID="{long}""#), "session-id"),
            (format!("export STRIPE_KEY='{long}'"), "env-secret-assignment"),
        ] {
            let out = redact(&line);
            assert!(!out.contains(&long[900..920]) && out.contains(&format!("[REDACTED:{rule}]")), "{out}");
        }
        // Past the bound, a quoted value goes on to its closing quote,
        // spaces and escaped quotes included, or to the end of the line.
        let spaced = "ab c".repeat(400);
        let escaped = r#"ab\\\"c d"#.repeat(300);
        for (line, masked) in [
            (
                format!(r#"body {{"password":"{spaced}","k":1}}"#),
                r#"body {"password":"[REDACTED:password-assignment]","k":1}"#,
            ),
            (
                format!(r#"body {{"password":"{}","k":1}}"#, r#"ab\"c d"#.repeat(300)),
                r#"body {"password":"[REDACTED:password-assignment]","k":1}"#,
            ),
            (
                format!(r#"x {{\"password\":\"{escaped}\",\"n\":1}} y"#),
                r#"x {\"password\":\"[REDACTED:password-assignment]\",\"n\":1} y"#,
            ),
            (format!("login password='{spaced}' next"), "login password='[REDACTED:password-assignment]' next"),
            (format!("pass: '{spaced}''s {spaced}' # yaml"), "pass: '[REDACTED:password-assignment]' # yaml"),
            (format!(r#"body {{"password":"{spaced}"#), r#"body {"password":"[REDACTED:password-assignment]"#),
        ] {
            assert_eq!(redact(&line), masked);
        }
    }

    #[test]
    fn regression_validator_judged_again_with_a_mask_inside() {
        let once = redact("PRIMARY_KEY=idtoken=4111111111111112 ");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_greedy_match_that_swallowed_a_neighbour_is_settled() {
        // The phone rule's greedy match took the IP too and failed the
        // 15-digit check; once the IP is masked the phone fits.
        let once = redact("to=+14155552671 10.0.0.5 ");
        assert_eq!(once, "to=[REDACTED:phone-e164] [REDACTED:ipv4] ");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_key_block_body_that_is_also_a_token_keeps_the_blocks_label() {
        // The body and the token are one span: labelled as the token, a
        // second pass found the block around the label and relabelled it.
        let once = redact("-----BEGIN PRIVATE KEY-----pul-83c99ce8b6b1bde1473a11f24e94ec117cd4f1aa");
        assert_eq!(once, "-----BEGIN PRIVATE KEY-----[REDACTED:private-key]");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_a_scope_opened_by_a_mask_is_not_searched() {
        // `Cookie` glued to a PSK is no header; once the PSK is a label,
        // the label's `]` stood before it and opened the cookie rule's scope.
        let once =
            redact("psk = B70Bee9a0f221B28D7c06384B48Cd2b661126cdEb8b0db55A1d3d7Df6Bc49f3ECookie = ; sid=b|9xQz");
        assert!(once.starts_with("psk = [REDACTED:wifi-psk]Cookie"), "{once}");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn regression_a_scope_after_one_opened_by_a_mask_is_searched() {
        // Skipping the mask's scope once skipped its whole reach, and the
        // true `Cookie:` inside it went out raw.
        let line = "GET / [REDACTED:wifi-psk]Cookie = ; x Cookie: sid=s3cr3tvalue9abc; theme=dark";
        assert_eq!(
            redact(line),
            "GET / [REDACTED:wifi-psk]Cookie = ; x Cookie: sid=[REDACTED:http-cookie]; theme=[REDACTED:http-cookie]"
        );
    }

    #[test]
    fn settling_runs_only_after_a_rejection() {
        let r = Redactor::new();
        reset_rejected();
        let _ = r.redact(b"login password=hunter2hunter2");
        assert!(!rejected(), "nothing was rejected: no settle needed");
        let _ = r.redact(b"to=+14155552671 10.0.0.5 ");
        assert!(rejected(), "the greedy phone match was rejected");
    }

    #[test]
    fn a_keep_mask_swallowed_by_a_label_needs_no_settling() {
        // The email rule's keep mask would need a second pass; inside the
        // token's label it is never written, and the line is settled.
        let r = Redactor::new();
        let inner = &*r.inner;
        let settle = |line: &str| {
            let mut hits = Vec::new();
            reset_rejected();
            inner.scan_line(&inner.prefilter, None, line.as_bytes(), &mut hits);
            assert!(!rejected(), "{line}");
            inner.needs_settle(&mut hits)
        };
        assert!(!settle(
            "git clone https://x-access-token:ghp_wlf7r7VdR4gdBFnwWLww8yZQroy13uIDKfYd@github.com/o/r.git"
        ));
        assert!(settle("password reset mail queued for jane.doe@example.org"));
        let once = String::from_utf8(
            r.redact(b"git clone https://x-access-token:ghp_wlf7r7VdR4gdBFnwWLww8yZQroy13uIDKfYd@github.com/o/r.git")
                .into_owned(),
        )
        .unwrap();
        assert_eq!(once, "git clone https://x-access-token:[REDACTED:secret-assignment]");
        assert_eq!(r.redact(once.as_bytes()), once.as_bytes());
    }

    #[test]
    fn regression_keep_mask_digits_glued_to_a_neighbour_are_settled() {
        // The card's kept `0005` and the next number read as one Italian
        // phone number only once the card is masked.
        let line = "3782-822463-10005 312612 ";
        let once = redact(line);
        assert_eq!(once, "****-******-*[REDACTED:phone-it] ");
        assert_eq!(redact(&once), once);
    }

    #[test]
    fn overlapping_findings_mask_their_union_and_never_reveal() {
        let r = Redactor::builder().packs(["all"]).build().unwrap();
        // A card inside a password value: the union is masked, and the
        // card's keep-last-4 mask is not used on the merged span.
        let out = r.redact(b"password=4111111111111111xyz");
        assert_eq!(&out[..], b"password=[REDACTED:password-assignment]");
    }

    #[test]
    fn a_keep_mask_stands_for_the_union_only_where_it_shows_no_other_hits_bytes() {
        // The URL's password rule and the email rule overlap; the email's
        // domain, which no other rule covers, stays: the host is kept.
        let r = Redactor::new();
        let out = r.redact(b"url=postgresql://orders:p4ssw0rd-orders@db.internal:5432/orders");
        assert_eq!(&out[..], b"url=postgresql://orders:***************@db.internal:5432/orders");
        assert_eq!(r.redact(&out), out);
        // Two rules on the same span, one keeping the domain: the other
        // says the domain is secret too, so nothing is shown.
        let rule = |id: &str, mask: &str, output: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\ndescription = \"d\"\ncategory = \"pii\"\nkeywords = [\"to=\"]\n\
                 regex = 'to=(?P<secret>[a-z]{{1,9}}@[a-z]{{1,9}}\\.com)'\n{mask}\n\
                 positive = [{{ input = 'to=jo@ex.com', output = '{output}' }}]\nnegative = ['to=x']\n"
            )
        };
        let text = format!(
            "[pack]\nname = \"t\"\ndescription = \"t\"\n\n{}\n{}",
            rule("a", "mask = \"keep-after=@\"", "to=**@ex.com"),
            rule("b", "", "to=[REDACTED:b]")
        );
        let r = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &text).build().unwrap();
        assert_eq!(&r.redact(b"to=jo@ex.com x")[..], b"to=********* x");
    }

    #[test]
    fn on_one_span_a_rule_that_knows_the_value_labels_it_over_a_generic_one() {
        // `key` finds any value after `key=`; `tok` knows tok_ tokens.
        let rule = |id: &str, generic: bool, regex: &str, output: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\ndescription = \"d\"\ncategory = \"token\"\ngeneric = {generic}\n\
                 keywords = [\"tok_\"]\nregex = '{regex}'\n\
                 positive = [{{ input = 'key=tok_abc123', output = '{output}' }}]\nnegative = ['tok_']\n"
            )
        };
        let generic = rule("key", true, "key=(?P<secret>[a-z0-9_]{1,64})", "key=[REDACTED:key]");
        let token =
            |id: &str, generic| rule(id, generic, "(?P<secret>tok_[a-z0-9]{6,64})", &format!("key=[REDACTED:{id}]"));
        let redact = |rules: &[&str], line: &[u8]| {
            let text = format!("[pack]\nname = \"t\"\ndescription = \"t\"\n\n{}", rules.join("\n"));
            let r = Redactor::builder().builtin_packs(false).rules_toml("t.toml", &text).build().unwrap();
            String::from_utf8(r.redact(line).into_owned()).unwrap()
        };
        // Whichever loads first.
        assert_eq!(redact(&[&generic, &token("tok", false)], b"key=tok_abc123 ok"), "key=[REDACTED:tok] ok");
        assert_eq!(redact(&[&token("tok", false), &generic], b"key=tok_abc123 ok"), "key=[REDACTED:tok] ok");
        // Alike, the first loaded labels the span, as before.
        assert_eq!(redact(&[&token("a", false), &token("b", false)], b"key=tok_abc123 ok"), "key=[REDACTED:a] ok");
        assert_eq!(redact(&[&token("a", true), &token("b", true)], b"key=tok_abc123 ok"), "key=[REDACTED:a] ok");
        // A generic match wider than the token's still masks the union,
        // with its own label: the token's would claim bytes it never found.
        assert_eq!(redact(&[&generic, &token("tok", false)], b"key=tok_abc123_x ok"), "key=[REDACTED:key] ok");
    }

    #[test]
    fn hash_mask_needs_a_key_and_gives_stable_pseudonyms() {
        let err = Redactor::builder().mask("email", Mask::Hash).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.rule_id(), Some("email"));
        let r = Redactor::builder()
            .mask("email", Mask::Hash)
            .hash_key(HashKey::new(b"k3y-k3y-k3y-k3y-k3y".to_vec()).unwrap())
            .build()
            .unwrap();
        let a = r.redact(b"to=jane@example.com").into_owned();
        let b = r.redact(b"from=jane@example.com").into_owned();
        let pseudonym = |s: &[u8]| s.splitn(2, |&c| c == b'=').nth(1).unwrap().to_vec();
        assert_eq!(pseudonym(&a), pseudonym(&b));
        assert!(a.starts_with(b"to=<email:") && a.ends_with(b">"));
        assert_eq!(r.redact(&a), a, "pseudonyms are inert");
    }

    #[test]
    fn unknown_ids_and_packs_are_refused() {
        assert_eq!(Redactor::builder().disable("no-such-rule").build().unwrap_err().kind(), ErrorKind::Unknown);
        assert_eq!(Redactor::builder().mask("nope", Mask::Fixed).build().unwrap_err().kind(), ErrorKind::Unknown);
        assert_eq!(Redactor::builder().packs(["nope"]).build().unwrap_err().kind(), ErrorKind::Unknown);
    }

    fn load(rule: &str) -> Result<Redactor, Error> {
        let text = format!("[pack]\nname = \"t\"\ndescription = \"t\"\n\n[[rule]]\n{rule}");
        Redactor::builder().builtin_packs(false).rules_toml("t.toml", &text).build()
    }

    const CASES: &str = "positive = [{ input = 'x pw=abcd1234', output = 'x pw=[REDACTED:r]' }]\nnegative = ['x']\n";

    #[test]
    fn rule_files_are_validated_whole() {
        let base = |regex: &str, extra: &str| {
            format!("id = \"r\"\ndescription = \"d\"\ncategory = \"credential\"\nkeywords = [\"pw=\"]\nregex = '''{regex}'''\n{extra}")
        };
        assert!(load(&format!("{}{CASES}", base("pw=(?P<secret>[a-z0-9]{1,64})", ""))).is_ok());
        let cases = [
            (base("pw=(?P<secret>[a-z0-9]+)", CASES), ErrorKind::Unbounded),
            (base("pw=(?P<secret>[a-z0-9]{1,64}", CASES), ErrorKind::Regex),
            // Valid syntax, bounded, but too big to compile.
            (base("pw=(?P<secret>(?:(?:[a-z0-9]{1,64}){1,200}){1,200})", CASES), ErrorKind::Regex),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", ""), ErrorKind::Tests),
            (base("pw=(?P<secret>[0-9]{1,64})", CASES), ErrorKind::Tests),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("validators = [\"nope\"]\n{CASES}")), ErrorKind::Unknown),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("mask = \"label=has space\"\n{CASES}")), ErrorKind::Mask),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("bogus = 1\n{CASES}")), ErrorKind::Syntax),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("category = \"x\"\n{CASES}")), ErrorKind::Syntax),
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("trigger = 'pw='\n{CASES}")), ErrorKind::Invalid),
            // An object scope needs a `within` to open it, and a scope is
            // a line or an object.
            (base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("scope = \"object\"\n{CASES}")), ErrorKind::Invalid),
            (
                base("pw=(?P<secret>[a-z0-9]{1,64})", &format!("within = 'x'\nscope = \"file\"\n{CASES}")),
                ErrorKind::Invalid,
            ),
            // Only inside a scope may the regex go unbounded.
            (base("pw=(?P<secret>[a-z0-9]+)", &format!("within = '[{{]'\n{CASES}")), ErrorKind::Tests),
        ];
        for (rule, kind) in cases {
            let err = load(&rule).unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
            assert!(err.to_string().starts_with("t.toml:"), "{err}");
        }
        let err = load(&format!("{}{CASES}", base("pw=(?P<secret>[0-9]{1,64})", ""))).unwrap_err();
        assert_eq!(err.to_string().split(':').nth(1), Some("5"), "points at the rule's line: {err}");
        assert_eq!(err.rule_id(), Some("r"));
        let dup = format!(
            "{}{CASES}\n[[rule]]\n{}{CASES}",
            base("pw=(?P<secret>[a-z0-9]{1,64})", ""),
            base("pw=(?P<secret>[a-z0-9]{1,64})", "")
        );
        assert_eq!(load(&dup).unwrap_err().kind(), ErrorKind::Duplicate);
    }

    #[test]
    fn a_drop_is_owned_and_empty_and_counted() {
        let r = Redactor::builder().mask("password-assignment", Mask::Drop).build().unwrap();
        let mut stats = r.empty_stats();
        let out = r.redact_counted(b"retry password=hunter2hunter2", &mut stats);
        assert!(matches!(out, Cow::Owned(ref v) if v.is_empty()), "{out:?}");
        assert_eq!((stats.dropped_lines(), stats.masked_lines()), (1, 1));
        // Borrowed means unchanged, an empty value included.
        assert!(matches!(r.redact(b""), Cow::Borrowed(b"")));
        assert!(matches!(r.redact(b"fine"), Cow::Borrowed(b"fine")));
    }

    #[test]
    fn the_first_bad_file_is_the_one_reported() {
        // Files are read and their rules compiled in parallel; the error
        // reported is still the first in load order.
        let bad_rule = "[pack]\nname = \"a\"\ndescription = \"a\"\n[[rule]]\nid = \"r\"\ndescription = \"d\"\n\
                        category = \"credential\"\nkeywords = [\"pw=\"]\nregex = 'pw=([a-z]{1,8}'\n";
        let bad_toml = "[pack\n";
        let err = Redactor::builder()
            .builtin_packs(false)
            .rules_toml("a.toml", bad_rule)
            .rules_toml("b.toml", bad_toml)
            .build()
            .unwrap_err();
        assert_eq!((err.origin(), err.kind()), (Some("a.toml"), ErrorKind::Regex), "{err}");
    }

    #[test]
    fn an_object_ends_at_its_closing_brace_not_at_braces_in_strings() {
        let end = |text: &str| object_end(text.as_bytes(), text.find('{').unwrap(), text.len());
        assert_eq!(end(r#""data":{"a":"x","b":"y"},"kind":"Secret""#), r#""data":{"a":"x","b":"y"}"#.len());
        assert_eq!(end(r#""d":{"a":"}{","b":{"c":"\"}"}} tail"#), r#""d":{"a":"}{","b":{"c":"\"}"}}"#.len());
        // Never closed: the scope runs on to the bound.
        assert_eq!(end(r#""d":{"a":"x""#), r#""d":{"a":"x""#.len());
        // JSON inside a string: it ends with its closing brace, or where
        // the string that holds it ends.
        let escaped = r#"a="{\"d\":{\"k\":\"v}\"},\"kind\":\"Secret\"}""#;
        assert_eq!(end(&escaped[5..]) + 5, escaped.find(r#"},\"kind"#).unwrap() + 1);
        let cut = r#"{\"d\":{\"k\":\"v\"" tail }"#;
        assert_eq!(end(&cut[1..]) + 1, cut.find(r#"" tail"#).unwrap());
    }

    /// A Kubernetes Secret's data values may be certificates of a few KiB:
    /// masked whole, and the JSON around them (plain, or escaped inside the
    /// last-applied annotation) stays as it was; a value that the object
    /// scope's bound cuts is masked to its end.
    #[test]
    fn a_secrets_long_data_values_are_masked_whole() {
        let huge: String = "TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpK".repeat(400);
        let line = format!(r#"{{"kind":"Secret","data":{{"a":"eDE=","chain.pem":"{huge}"}},"type":"Opaque"}}"#);
        let want = r#"{"kind":"Secret","data":{"a":"[REDACTED:k8s-secret-data]","chain.pem":"[REDACTED:k8s-secret-data]"},"type":"Opaque"}"#;
        assert_eq!(redact(&line), want);
        let cert: String = (0..3000).map(|i| ['L', 'S', '0', 't', 'q', '9', '+', '/'][i % 8]).collect();
        let line = format!(
            r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"tls"}},"data":{{"tls.crt":"{cert}","tls.key":"{cert}"}},"type":"kubernetes.io/tls"}}"#
        );
        let want = r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"tls"},"data":{"tls.crt":"[REDACTED:k8s-secret-data]","tls.key":"[REDACTED:k8s-secret-data]"},"type":"kubernetes.io/tls"}"#;
        assert_eq!(redact(&line), want);
        let escaped = format!(
            r#"{{"last-applied":"{{\"apiVersion\":\"v1\",\"data\":{{\"ca.crt\":\"{cert}\"}},\"kind\":\"Secret\"}}"}}"#
        );
        let want = r#"{"last-applied":"{\"apiVersion\":\"v1\",\"data\":{\"ca.crt\":\"[REDACTED:k8s-secret-data]\"},\"kind\":\"Secret\"}"}"#;
        assert_eq!(redact(&escaped), want);
    }
}
