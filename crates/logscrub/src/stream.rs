//! Streaming: bytes in, lines framed, masked and written out, with bounded
//! memory.
//!
//! A line is processed whole up to the redactor's maximum line length. A
//! longer line is processed in windows of that length that overlap by twice
//! the longest match any rule can make, so a secret at a window edge is seen
//! whole in one window. A multi-line block (a private key) is masked from its
//! opening marker to its end marker, across lines and windows; nothing is held
//! back, so memory never depends on the input.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use memchr::memchr;

use crate::mask::HashKey;
use crate::redactor::{Hit, Outcome, Redactor};
use crate::rules::Rule;
use crate::stats::Stats;

/// Complete lines are scanned this many bytes at a time: the gate's pass,
/// the confirmation of what it found and the copy out then find the bytes
/// still in the core's cache. A 32 MB write scanned whole ran 17-24% slower
/// than the same bytes written 256 KiB at a time.
const PIECE: usize = 256 << 10;

/// A writer that masks the lines written to it into an inner writer. Made
/// by [`Redactor::stream`].
///
/// Lines are written out as soon as their newline arrives; `flush` flushes
/// the inner writer but keeps a partial line until its newline (or
/// [`Stream::finish`]) comes, because masking half a line could let a
/// secret through.
pub struct Stream<W: Write> {
    redactor: Redactor,
    out: W,
    /// The start of a line whose newline has not arrived.
    pending: Vec<u8>,
    /// The multi-line rule whose block is open.
    block: Option<u32>,
    /// After a guarded window: mask this many leading bytes of the next
    /// segment with this rule.
    guard_next: Option<(u32, usize)>,
    /// The current line was too long and windows of it were written.
    in_long: bool,
    long_masked: bool,
    hits: Vec<Hit>,
    scratch: Vec<u8>,
    /// Scratch for the prefilter's triggers.
    cands: Vec<crate::prefilter::Trigger>,
    stats: Stats,
    /// Lines completed, the offset where the current one starts, and how
    /// much of it windows have written: where a finding is.
    line_no: u64,
    line_at: u64,
    col: u64,
    /// What was masked where, when asked ([`Stream::record_masked`]).
    record: Option<Record>,
}

struct Record {
    key: Option<HashKey>,
    masked: Vec<Masked>,
}

/// Where a [`Stream`] masked a secret: the rule, the line, the byte range;
/// never the text. Made when [`Stream::record_masked`] asks for them, one
/// for each span masked on each line, so that a report of them lists the
/// very lines the stream changed: a private key's body gives one for each
/// line it masks, a long line's windows each their own.
///
/// # Example
///
/// ```
/// use std::io::Write;
///
/// let redactor = logscrub::Redactor::new();
/// let mut stream = redactor.stream(std::io::sink());
/// stream.record_masked(None);
/// stream.write_all(b"ok\nlogin password=hunter2hunter2\n").unwrap();
/// let masked = stream.take_masked();
/// assert_eq!(masked.len(), 1);
/// assert_eq!(masked[0].rule().id(), "password-assignment");
/// assert_eq!((masked[0].line(), masked[0].line_range()), (2, 15..29));
/// assert_eq!(masked[0].range(), 18..32, "offsets in the whole stream");
/// ```
#[derive(Clone)]
pub struct Masked {
    redactor: Redactor,
    rule: u32,
    line: u64,
    line_start: u64,
    start: u64,
    end: u64,
    fingerprint: Option<String>,
}

impl Masked {
    /// The rule that found the secret.
    pub fn rule(&self) -> &Rule {
        &self.redactor.inner.rules[self.rule as usize]
    }

    /// The line it is on, counting from 1.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Its byte range in the stream.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.start..self.end
    }

    /// Its byte range in its line.
    pub fn line_range(&self) -> std::ops::Range<u64> {
        self.start - self.line_start..self.end - self.line_start
    }

    /// The secret's keyed fingerprint ([`HashKey::fingerprint`]), when the
    /// stream was given a key. None for a private key's lines (a line of a
    /// key is not the key) and for a secret masked through a long line's
    /// window edge (the stream saw a piece of it).
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }
}

impl std::fmt::Debug for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masked")
            .field("rule", &self.rule().id())
            .field("line", &self.line)
            .field("range", &self.range())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl<W: Write> Stream<W> {
    pub(crate) fn new(redactor: Redactor, out: W) -> Stream<W> {
        let ids = redactor.inner.ids.clone();
        Stream {
            redactor,
            out,
            pending: Vec::new(),
            block: None,
            guard_next: None,
            in_long: false,
            long_masked: false,
            hits: Vec::new(),
            scratch: Vec::new(),
            cands: Vec::new(),
            stats: Stats::new(ids),
            line_no: 0,
            line_at: 0,
            col: 0,
            record: None,
        }
    }

    /// Records where each secret is masked from now on, for
    /// [`Stream::take_masked`]: for a report or a check that must list
    /// what the stream changes, no more and no less. With a key, each
    /// record carries the secret's keyed fingerprint. See [`Masked`] for an
    /// example.
    pub fn record_masked(&mut self, fingerprints: Option<HashKey>) {
        self.record = Some(Record { key: fingerprints, masked: Vec::new() });
    }

    /// What was masked since the last call, in the order of the text.
    /// Take them as you go: they are kept until taken.
    pub fn take_masked(&mut self) -> Vec<Masked> {
        self.record.as_mut().map(|r| std::mem::take(&mut r.masked)).unwrap_or_default()
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The counts so far, leaving zeros: for a long-running stream that
    /// reports as it goes.
    pub fn take_stats(&mut self) -> Stats {
        let fresh = Stats::new(self.stats.ids.clone());
        std::mem::replace(&mut self.stats, fresh)
    }

    /// Whether the stream is between lines with nothing open: no partial
    /// line held, no multi-line block (a private key) open, no long line
    /// being windowed. A whole line written now would then be masked as
    /// [`Redactor::redact`] masks it alone: one that the prefilter clears
    /// comes out unchanged, so a caller may pass it on without the stream.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let redactor = logscrub::Redactor::new();
    /// let mut stream = redactor.stream(Vec::new());
    /// assert!(stream.at_rest());
    /// stream.write_all(b"-----BEGIN RSA PRIVATE KEY-----\n").unwrap();
    /// assert!(!stream.at_rest(), "the key's lines to come are masked");
    /// stream.write_all(b"MIIEow\n-----END RSA PRIVATE KEY-----\npartial").unwrap();
    /// assert!(!stream.at_rest(), "a partial line is held");
    /// stream.write_all(b" line\n").unwrap();
    /// assert!(stream.at_rest());
    /// ```
    pub fn at_rest(&self) -> bool {
        self.pending.is_empty() && !self.in_long && self.block.is_none() && self.guard_next.is_none()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The inner writer, mutably: to take what was written so far.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Processes a last line that has no newline, flushes, and returns the
    /// inner writer and the counts.
    pub fn finish(mut self) -> io::Result<(W, Stats)> {
        self.end()?;
        Ok((self.out, self.stats))
    }

    /// Ends the input as [`Stream::finish`] does (a last line with no
    /// newline is processed, an open block is closed) but keeps the
    /// stream, so that what the last line masked can still be taken
    /// ([`Stream::take_masked`]). What is written after starts anew.
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut stream = logscrub::Redactor::new().stream(Vec::new());
    /// stream.record_masked(None);
    /// stream.write_all(b"password=hunter2hunter2").unwrap();
    /// assert!(stream.take_masked().is_empty(), "the line has not ended");
    /// stream.end().unwrap();
    /// assert_eq!(stream.take_masked().len(), 1);
    /// ```
    pub fn end(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() || self.in_long {
            let p = std::mem::take(&mut self.pending);
            self.line(&p, false)?;
        }
        if self.block.take().is_some() {
            self.stats.unterminated_blocks += 1;
        }
        self.out.flush()
    }

    fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        self.stats.bytes += data.len() as u64;
        let mut rest = data;
        if !self.pending.is_empty() || self.in_long {
            match memchr(b'\n', rest) {
                None => {
                    self.pending.extend_from_slice(rest);
                    return self.drain();
                }
                Some(i) => {
                    self.pending.extend_from_slice(&rest[..i]);
                    let mut p = std::mem::take(&mut self.pending);
                    self.line(&p, true)?;
                    p.clear();
                    self.pending = p;
                    rest = &rest[i + 1..];
                }
            }
        }
        // Complete lines go straight from the caller's buffer: no copy.
        let end = memchr::memrchr(b'\n', rest).map_or(0, |i| i + 1);
        self.lines_bulk(&rest[..end])?;
        self.pending.extend_from_slice(&rest[end..]);
        self.drain()
    }

    /// Complete lines, in pieces of about [`PIECE`] bytes cut after a
    /// newline (a longer line is one piece).
    fn lines_bulk(&mut self, region: &[u8]) -> io::Result<()> {
        let mut rest = region;
        while rest.len() > PIECE {
            let end = match memchr::memrchr(b'\n', &rest[..PIECE]) {
                Some(i) => i + 1,
                None => memchr(b'\n', &rest[PIECE..]).map_or(rest.len(), |i| PIECE + i + 1),
            };
            let (piece, tail) = rest.split_at(end);
            self.lines_piece(piece)?;
            rest = tail;
        }
        self.lines_piece(rest)
    }

    /// Complete lines: the gate finds the lines that could hold a match in
    /// one pass over the whole piece; runs of other lines are written out
    /// as they are, in one write each.
    fn lines_piece(&mut self, region: &[u8]) -> io::Result<()> {
        if region.is_empty() {
            // No line ended: nothing to scan (a regex trigger that can
            // match the empty string would otherwise fire on nothing).
            return Ok(());
        }
        let mut cands = std::mem::take(&mut self.cands);
        self.redactor.inner.prefilter.triggers(region, &mut cands);
        let result = self.lines_triggered(region, &cands);
        self.cands = cands;
        result
    }

    /// [`Stream::lines_bulk`] once the gate has found the triggers of
    /// `region`, sorted by offset. A trigger's offset is where its match
    /// ended: on its line, or at the newline that ends it.
    fn lines_triggered(&mut self, region: &[u8], cands: &[crate::prefilter::Trigger]) -> io::Result<()> {
        let inner = self.redactor.inner.clone();
        let line_end = |from: usize| from + memchr(b'\n', &region[from..]).expect("region ends with a newline");
        let mut rules = crate::prefilter::Candidates::default();
        let (mut pos, mut i) = (0, 0);
        while pos < region.len() {
            if self.block.is_some() || self.guard_next.is_some() {
                // A block is open: each of its lines needs the whole scan
                // (its body has no trigger), until it closes. Triggers
                // never cross a line, so those found for the lines after
                // it still hold.
                let end = line_end(pos);
                self.line(&region[pos..end], true)?;
                pos = end + 1;
                while i < cands.len() && cands[i].0 < pos {
                    i += 1;
                }
                continue;
            }
            let Some(&(c, _)) = cands.get(i) else { break };
            let start = memchr::memrchr(b'\n', &region[pos..c]).map_or(pos, |j| pos + j + 1);
            let end = line_end(c);
            // The rules of every trigger on this line.
            rules.clear();
            while i < cands.len() && cands[i].0 <= end {
                inner.prefilter.select(region, cands[i], &mut rules);
                i += 1;
            }
            self.clean(&region[pos..start])?;
            self.line_pre(&region[start..end], &rules)?;
            pos = end + 1;
        }
        self.clean(&region[pos..])
    }

    /// Lines the gate found nothing in: written as they are.
    fn clean(&mut self, span: &[u8]) -> io::Result<()> {
        if !span.is_empty() {
            let lines = memchr::memchr_iter(b'\n', span).count() as u64;
            self.stats.lines += lines;
            self.line_no += lines;
            self.line_at += span.len() as u64;
            self.out.write_all(span)?;
        }
        Ok(())
    }

    /// Writes out windows of a partial line that has grown too long.
    fn drain(&mut self) -> io::Result<()> {
        let max = self.redactor.inner.max_line;
        while self.pending.len() > max {
            let mut p = std::mem::take(&mut self.pending);
            let cut = self.window(&p[..max])?;
            p.drain(..cut);
            self.pending = p;
        }
        Ok(())
    }

    /// A complete line whose keyword and byte rules the gate chose.
    fn line_pre(&mut self, seg: &[u8], rules: &crate::prefilter::Candidates) -> io::Result<()> {
        if seg.len() > self.redactor.inner.max_line {
            return self.line(seg, true);
        }
        self.last_with(seg, true, Some(rules))
    }

    /// The rest of a line, complete.
    fn line(&mut self, seg: &[u8], newline: bool) -> io::Result<()> {
        let max = self.redactor.inner.max_line;
        let mut rest = seg;
        while rest.len() > max {
            let cut = self.window(&rest[..max])?;
            rest = &rest[cut..];
        }
        self.last(rest, newline)
    }

    /// Masks one window of a long line and writes its committed part;
    /// returns how many bytes were committed.
    fn window(&mut self, seg: &[u8]) -> io::Result<usize> {
        let cut = self.window_at(seg)?;
        self.col += cut as u64;
        Ok(cut)
    }

    fn window_at(&mut self, seg: &[u8]) -> io::Result<usize> {
        if !self.in_long {
            self.in_long = true;
            self.stats.long_lines += 1;
        }
        let carried = self.block;
        let inner = self.redactor.inner.clone();
        self.hits.clear();
        let guard_in = self.guard_next.take().map(|(rule, n)| Hit { rule, start: 0, end: n.min(seg.len()), from: 0 });
        self.hits.extend(guard_in);
        let (len, g) = (seg.len(), inner.guard);
        let open = match panic::catch_unwind(AssertUnwindSafe(|| {
            inner.scan(&inner.prefilter, None, seg, carried, &mut self.hits)
        })) {
            Ok(open) => open,
            Err(_) => return self.internal_error().map(|()| len),
        };
        // Commit up to `len - 2g`, extended past any finding whose match
        // starts before it: such a match is whole in this window, and the
        // next window, starting at the cut, could not find it again.
        self.hits.sort_unstable_by_key(|h| h.from);
        let mut cut = len - 2 * g;
        for h in &self.hits {
            if h.from < cut {
                cut = cut.max(h.end);
            }
        }
        self.hits.retain(|h| h.from < cut);
        if cut > len - g {
            // A chain of findings reaches the window's end, where the last
            // may have been cut short: mask through the edge (fail closed).
            let rule = self.hits.iter().max_by_key(|h| h.end).map_or(0, |h| h.rule);
            cut = len;
            self.guard_next = Some((rule, g));
            self.stats.guarded_windows += 1;
        }
        self.block = None;
        if let Some(o) = open {
            // A block that opened before the cut stays open; one that opens
            // after it is found again by the next window.
            if o.begin < cut || carried.is_some() && o.begin == 0 {
                let s = o.body.min(cut);
                if s < cut {
                    self.hits.push(Hit { rule: o.rule, start: s, end: cut, from: o.begin });
                }
                self.block = Some(o.rule);
                self.count_opened(o, carried, s < cut);
            }
        }
        if !self.hits.is_empty() {
            self.long_masked = true;
        }
        let edges = Edges { guard_in, guard_out: self.guard_next.is_some() };
        self.emit(&seg[..cut], carried, false, edges)?;
        Ok(cut)
    }

    /// Masks the last (or only) segment of a line and writes it.
    fn last(&mut self, seg: &[u8], newline: bool) -> io::Result<()> {
        self.last_with(seg, newline, None)
    }

    fn last_with(&mut self, seg: &[u8], newline: bool, pre: Option<&crate::prefilter::Candidates>) -> io::Result<()> {
        let result = self.last_at(seg, newline, pre);
        self.line_no += 1;
        self.line_at += self.col + seg.len() as u64 + u64::from(newline);
        self.col = 0;
        result
    }

    fn last_at(&mut self, seg: &[u8], newline: bool, pre: Option<&crate::prefilter::Candidates>) -> io::Result<()> {
        let carried = self.block;
        let inner = self.redactor.inner.clone();
        self.hits.clear();
        let guard_in = self.guard_next.take().map(|(rule, n)| Hit { rule, start: 0, end: n.min(seg.len()), from: 0 });
        self.hits.extend(guard_in);
        self.stats.lines += 1;
        self.stats.scanned_lines += 1;
        crate::redactor::reset_rejected();
        let scanned = panic::catch_unwind(AssertUnwindSafe(|| {
            inner.scan_with(&inner.prefilter, None, seg, carried, pre, &mut self.hits)
        }));
        let was_long = std::mem::replace(&mut self.in_long, false);
        let long_masked = std::mem::replace(&mut self.long_masked, false);
        match scanned {
            Ok(open) => {
                self.block = open.map(|o| o.rule);
                if let Some(o) = open {
                    let before = self.hits.len();
                    inner.close(o, seg.len(), &mut self.hits);
                    self.count_opened(o, carried, self.hits.len() > before);
                }
            }
            Err(_) => {
                self.internal_error()?;
                return if newline { self.out.write_all(b"\n") } else { Ok(()) };
            }
        }
        let masked = !self.hits.is_empty();
        let edges = Edges { guard_in, guard_out: false };
        if self.emit(seg, carried, !was_long, edges)? == Some(Outcome::Dropped) {
            self.stats.dropped_lines += 1;
            return Ok(());
        }
        if masked || long_masked {
            self.stats.masked_lines += 1;
        }
        if newline {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Applies `self.hits` to `seg` and writes the result.
    fn emit(
        &mut self,
        seg: &[u8],
        carried: Option<u32>,
        allow_drop: bool,
        edges: Edges,
    ) -> io::Result<Option<Outcome>> {
        if self.hits.is_empty() {
            self.out.write_all(seg)?;
            return Ok(None);
        }
        self.note(seg, edges);
        let inner = &self.redactor.inner;
        self.scratch.clear();
        let outcome = inner.apply(seg, &mut self.hits, allow_drop, &mut self.scratch);
        for h in &self.hits {
            // A block carried in from the line before was counted there.
            if !(carried == Some(h.rule) && h.start == 0) {
                self.stats.findings[h.rule as usize] += 1;
            }
        }
        let mut outcome = outcome;
        if outcome == Outcome::Masked && allow_drop && inner.needs_settle(&mut self.hits) {
            // A whole line: mask it again until it settles (see `settle`).
            let findings = &mut self.stats.findings;
            outcome = inner.settle(
                &mut self.scratch,
                false,
                inner.key(),
                |s, h| inner.rescan(s, h),
                |h| {
                    findings[h.rule as usize] += 1;
                },
            );
        }
        if outcome == Outcome::Masked {
            self.out.write_all(&self.scratch)?;
        }
        Ok(Some(outcome))
    }

    /// Records `self.hits`, found in `seg`, for [`Stream::take_masked`].
    fn note(&mut self, seg: &[u8], edges: Edges) {
        let Some(record) = &mut self.record else { return };
        let (line, line_start, at) = (self.line_no + 1, self.line_at, self.line_at + self.col);
        let from = record.masked.len();
        for h in &self.hits {
            // A piece of a secret cut at a window's edge has no print of
            // its own to give.
            let piece = edges.guard_in == Some(*h) || (edges.guard_out && h.end == seg.len());
            let whole = !piece && !self.redactor.inner.rules[h.rule as usize].is_multiline();
            record.masked.push(Masked {
                redactor: self.redactor.clone(),
                rule: h.rule,
                line,
                line_start,
                start: at + h.start as u64,
                end: at + h.end as u64,
                fingerprint: record.key.as_ref().filter(|_| whole).map(|k| k.fingerprint(&seg[h.start..h.end])),
            });
        }
        // In the order of the text, as a reader of a report expects.
        record.masked[from..].sort_by_key(|m| (m.start, m.end));
    }

    /// Counts a block that opened here once, even when its first line
    /// holds no body to mask (a hit for it is counted by `emit`).
    fn count_opened(&mut self, o: crate::redactor::Open, carried: Option<u32>, has_hit: bool) {
        let continued = carried == Some(o.rule) && o.begin == 0;
        if !continued && !has_hit {
            self.stats.findings[o.rule as usize] += 1;
        }
    }

    /// A panic while scanning: mask the whole segment (fail closed).
    fn internal_error(&mut self) -> io::Result<()> {
        self.stats.internal_errors += 1;
        self.out.write_all(b"[REDACTED:internal-error]")
    }
}

/// A segment's window edges: the hit that continues a secret cut at the
/// edge before it, if any, and whether a hit that reaches its end goes on
/// past it.
#[derive(Clone, Copy)]
struct Edges {
    guard_in: Option<Hit>,
    guard_out: bool,
}

impl<W: Write> Write for Stream<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.feed(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
