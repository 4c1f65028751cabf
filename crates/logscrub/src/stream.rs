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

use crate::redactor::{Hit, Outcome, Redactor};
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
        }
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
        if !self.pending.is_empty() || self.in_long {
            let p = std::mem::take(&mut self.pending);
            self.line(&p, false)?;
        }
        if self.block.take().is_some() {
            self.stats.unterminated_blocks += 1;
        }
        self.out.flush()?;
        Ok((self.out, self.stats))
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
            self.stats.lines += memchr::memchr_iter(b'\n', span).count() as u64;
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
        if !self.in_long {
            self.in_long = true;
            self.stats.long_lines += 1;
        }
        let carried = self.block;
        let inner = self.redactor.inner.clone();
        self.hits.clear();
        if let Some((rule, n)) = self.guard_next.take() {
            self.hits.push(Hit { rule, start: 0, end: n.min(seg.len()), from: 0 });
        }
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
        self.emit(&seg[..cut], carried, false)?;
        Ok(cut)
    }

    /// Masks the last (or only) segment of a line and writes it.
    fn last(&mut self, seg: &[u8], newline: bool) -> io::Result<()> {
        self.last_with(seg, newline, None)
    }

    fn last_with(&mut self, seg: &[u8], newline: bool, pre: Option<&crate::prefilter::Candidates>) -> io::Result<()> {
        let carried = self.block;
        let inner = self.redactor.inner.clone();
        self.hits.clear();
        if let Some((rule, n)) = self.guard_next.take() {
            self.hits.push(Hit { rule, start: 0, end: n.min(seg.len()), from: 0 });
        }
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
        if self.emit(seg, carried, !was_long)? == Some(Outcome::Dropped) {
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
    fn emit(&mut self, seg: &[u8], carried: Option<u32>, allow_drop: bool) -> io::Result<Option<Outcome>> {
        if self.hits.is_empty() {
            self.out.write_all(seg)?;
            return Ok(None);
        }
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
        if outcome == Outcome::Masked && allow_drop && inner.needs_settle(&self.hits) {
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

impl<W: Write> Write for Stream<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.feed(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
