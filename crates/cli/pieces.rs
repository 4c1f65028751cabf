//! One input scrubbed on several threads: cut into pieces at line starts,
//! each piece scrubbed by a stream of its own, and written in order as the
//! input's own stream would write it.
//!
//! A piece's stream starts at rest (no line held, no key block open), as the
//! input's stream is at a line start outside a block. Where a piece's stream
//! does not end at rest (a key block open across the cut, a line longer than
//! the piece), its result is set aside, and one stream carried on from that
//! piece scrubs it and the pieces after it again, in order, until it is at
//! rest at a piece's end. So the output is the same whatever the rules and
//! wherever the cuts fall; a block that never ends costs the rest of the
//! input its parallelism, never its masking.
//!
//! `scrub` reads a large file's pieces itself ([`scrub_piece`], [`InOrder`]);
//! the stdin filter's threads each read a piece in turn and scrub it while
//! the calling thread writes ([`scrub_parallel`]). Both work with anything that scrubs an input in
//! order ([`Scrub`]): the engine's stream for raw text, a format's scrubber
//! for structured lines.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Mutex;

use logscrub::{Masked, Stats, Stream};

/// A scrubber of one input, fed in order: the engine's [`Stream`] for raw
/// text, [`crate::format::FormatStream`] for structured lines. Pieces need
/// only this of it.
pub trait Scrub {
    /// Scrubs `data`, writing what it completes to its output.
    fn feed(&mut self, data: &[u8]) -> io::Result<()>;
    /// Whether it holds nothing and has nothing open: a new one would go on
    /// from here the same.
    fn at_rest(&self) -> bool;
    /// What it wrote so far, to be taken.
    fn output(&mut self) -> &mut Vec<u8>;
    /// What it masked so far, where it records that (see
    /// [`Stream::record_masked`]), to be taken.
    fn take_masked(&mut self) -> Vec<Masked> {
        Vec::new()
    }
    /// Ends the input: all it wrote, its counts, and what it masked since
    /// last taken.
    fn finish(self) -> io::Result<(Vec<u8>, Stats, Vec<Masked>)>;
}

impl Scrub for Stream<Vec<u8>> {
    fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    fn at_rest(&self) -> bool {
        Stream::at_rest(self)
    }

    fn output(&mut self) -> &mut Vec<u8> {
        self.get_mut()
    }

    fn take_masked(&mut self) -> Vec<Masked> {
        Stream::take_masked(self)
    }

    fn finish(mut self) -> io::Result<(Vec<u8>, Stats, Vec<Masked>)> {
        // The last line, if it has no newline, is masked at the end.
        self.end()?;
        let masked = Stream::take_masked(&mut self);
        let (text, stats) = Stream::finish(self)?;
        Ok((text, stats, masked))
    }
}

/// Makes a scrubber at rest that writes into the buffer it is given.
pub type Make<'a, S> = &'a (dyn Fn(Vec<u8>) -> S + Sync);

/// Takes what the scrubbers masked, in input order, at its byte range in
/// the whole input.
pub type Record<'a> = &'a mut dyn FnMut(&Masked, Range<u64>);

/// What a thread made of one piece.
pub struct Scrubbed {
    text: Vec<u8>,
    stats: Stats,
    at_rest: bool,
    /// At offsets in the piece.
    masked: Vec<Masked>,
}

/// Scrubs `piece`, which starts a line, into `text` (cleared first), as a
/// scrubber at rest at its start would.
pub fn scrub_piece<S: Scrub>(make: Make<S>, piece: &[u8], mut text: Vec<u8>) -> io::Result<Scrubbed> {
    text.clear();
    text.reserve(piece.len() + piece.len() / 16);
    let mut scrubber = make(text);
    scrubber.feed(piece)?;
    let at_rest = scrubber.at_rest();
    let (text, stats, masked) = scrubber.finish()?;
    Ok(Scrubbed { text, stats, at_rest, masked })
}

/// Writes the results of consecutive pieces in order, scrubbing pieces
/// again where the input's own scrubber would not be at rest at their
/// start.
pub struct InOrder<'a, S> {
    make: Make<'a, S>,
    /// A scrubber carried over pieces, and where in the input it started.
    carried: Option<(S, u64)>,
    total: Stats,
    /// Where the next piece starts in the input.
    offset: u64,
    record: Option<Record<'a>>,
}

impl<'a, S: Scrub> InOrder<'a, S> {
    pub fn new(make: Make<'a, S>) -> InOrder<'a, S> {
        InOrder { make, carried: None, total: Stats::default(), offset: 0, record: None }
    }

    /// As [`InOrder::new`], handing what was masked to `record`: what one
    /// recording scrubber over the whole input would record, when `make`
    /// makes recording scrubbers.
    pub fn recording(make: Make<'a, S>, record: Record<'a>) -> InOrder<'a, S> {
        InOrder { record: Some(record), ..InOrder::new(make) }
    }

    /// Writes the next piece, `piece`, which `scrubbed` is the result of
    /// (`None`: left for this to scrub, as [`InOrder::carrying`] said).
    /// Returns the result's text buffer, for reuse.
    pub fn write(
        &mut self,
        piece: &[u8],
        scrubbed: Option<Scrubbed>,
        out: &mut dyn Write,
    ) -> io::Result<Option<Vec<u8>>> {
        let start = self.offset;
        self.offset += piece.len() as u64;
        let done = match (self.carried.take(), scrubbed) {
            (Some(carried), scrubbed) => {
                self.carry(carried, piece, out)?;
                return Ok(scrubbed.map(|s| s.text));
            }
            (None, None) => scrub_piece(self.make, piece, Vec::new())?,
            (None, Some(scrubbed)) => scrubbed,
        };
        if done.at_rest {
            out.write_all(&done.text)?;
            self.total.merge(&done.stats);
            self.note(&done.masked, start);
        } else {
            // The next piece's scrubber would not start at rest: one
            // scrubber goes on from this piece instead.
            self.carry(((self.make)(Vec::new()), start), piece, out)?;
        }
        Ok(Some(done.text))
    }

    /// Hands on `masked`, found by a scrubber that started at `start`.
    fn note(&mut self, masked: &[Masked], start: u64) {
        if let Some(record) = self.record.as_mut() {
            for m in masked {
                record(m, start + m.range().start..start + m.range().end);
            }
        }
    }

    /// Whether a scrubber carried over pieces will scrub the next one: its
    /// own result would be thrown away.
    pub fn carrying(&self) -> bool {
        self.carried.is_some()
    }

    /// Writes `piece` through the carried scrubber `carry` (and where it
    /// started).
    fn carry(&mut self, (mut carry, start): (S, u64), piece: &[u8], out: &mut dyn Write) -> io::Result<()> {
        carry.feed(piece)?;
        if carry.at_rest() {
            let (done, stats, masked) = carry.finish()?;
            out.write_all(&done)?;
            self.total.merge(&stats);
            self.note(&masked, start);
        } else {
            // What it wrote so far goes out now: its memory stays bounded
            // however long the block runs.
            out.write_all(carry.output())?;
            carry.output().clear();
            let masked = carry.take_masked();
            self.note(&masked, start);
            self.carried = Some((carry, start));
        }
        Ok(())
    }

    /// Ends the input (a block still open is masked to its end) and returns
    /// the counts of every piece.
    pub fn finish(mut self, out: &mut dyn Write) -> io::Result<Stats> {
        if let Some((carry, start)) = self.carried.take() {
            let (text, stats, masked) = carry.finish()?;
            out.write_all(&text)?;
            self.total.merge(&stats);
            self.note(&masked, start);
        }
        Ok(self.total)
    }
}

/// Bytes read into a piece at most. Larger pieces cost fewer handovers
/// between threads but hold more memory in flight: on 1 GB of logs and two
/// cores, 256 KiB pieces ran 1.39x as fast as one thread, 1 MiB 1.45x in
/// 60 MB resident, 512 KiB 1.5x in 48 MB (a piece's stream still scans it
/// 256 KiB at a time).
const PIECE: usize = 512 * 1024;

/// Room in a piece's buffer for the end of a line read into the piece
/// before it; a longer one leaves less room to read (never none).
const SLACK: usize = PIECE / 4;

/// A piece's buffers, which go round: free, read into, scrubbed, written.
struct Slot {
    /// The piece is `input[..len]`; `input` stays allocated at its full
    /// size, so that reading into it never clears or grows it.
    input: Vec<u8>,
    len: usize,
    text: Vec<u8>,
}

/// A scrubbed piece: its number in the input, its slot and its result
/// (`None`: left to the writer, which was carrying a stream).
type Done = (u64, Slot, io::Result<Option<Scrubbed>>);

/// Scrubs everything `input` yields into `out` on `threads` threads, as
/// one stream would (see the module). Each thread reads its next piece
/// (one at a time, in turn) and scrubs it; this one writes, flushing `out`
/// whenever it has written every piece done so far, so that a live pipe
/// stays live. Memory is bounded: at most `2 * threads + 2` pieces are in
/// flight.
pub fn scrub_parallel<S: Scrub>(
    make: Make<S>,
    input: &mut (dyn Read + Send),
    out: &mut dyn Write,
    threads: usize,
) -> io::Result<Stats> {
    let slots = 2 * threads + 2;
    let (free_tx, free_rx) = mpsc::sync_channel::<Slot>(slots);
    for _ in 0..slots {
        free_tx.send(Slot { input: Vec::new(), len: 0, text: Vec::new() }).expect("the receiver is here");
    }
    let free_rx = Mutex::new(free_rx);
    let reader = Mutex::new(Pieces { input, rest: Vec::new(), next: 0, ended: None });
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // Set while the writer carries a stream over the pieces (a block open
    // across a cut, a line longer than a piece): the threads leave the
    // pieces to it rather than scrub them for nothing.
    let carrying = AtomicBool::new(false);
    let written = std::thread::scope(|scope| {
        for _ in 0..threads {
            let (done_tx, free_rx, reader, carrying) = (done_tx.clone(), &free_rx, &reader, &carrying);
            scope.spawn(move || loop {
                // No free slot: the writer stopped.
                let Ok(mut slot) = free_rx.lock().map_err(|_| ()).and_then(|rx| rx.recv().map_err(|_| ())) else {
                    return;
                };
                let Some(seq) = reader.lock().ok().and_then(|mut r| r.read(&mut slot)) else { return };
                let result = match carrying.load(Ordering::Relaxed) {
                    true => Ok(None),
                    false => scrub_piece(make, &slot.input[..slot.len], std::mem::take(&mut slot.text)).map(Some),
                };
                if done_tx.send((seq, slot, result)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        write_in_order(make, done_rx, free_tx, &carrying, out)
    });
    // A write error ends the writer first; the threads stop at their next
    // read, as a filter on one thread would.
    let stats = written?;
    match reader.into_inner().map(|r| r.ended) {
        Ok(Some(Err(e))) => Err(e),
        Ok(_) => Ok(stats),
        Err(_) => Err(io::Error::other("a scrubbing thread panicked while reading")),
    }
}

/// The input cut into pieces: each read into a slot and cut after its
/// last newline, the bytes after the cut starting the next. A piece with
/// no newline goes whole: the carried stream joins its line.
struct Pieces<'a> {
    input: &'a mut (dyn Read + Send),
    rest: Vec<u8>,
    next: u64,
    /// Set once the input ended, or failed.
    ended: Option<io::Result<()>>,
}

impl Pieces<'_> {
    /// Reads the next piece into `slot`; its number, or `None` at the end.
    fn read(&mut self, slot: &mut Slot) -> Option<u64> {
        if self.ended.is_some() {
            return None;
        }
        // The rest is shorter than the buffer (it came out of one), so
        // there is room to read after it.
        slot.input.resize(PIECE + SLACK, 0);
        slot.input[..self.rest.len()].copy_from_slice(&self.rest);
        let start = self.rest.len();
        self.rest.clear();
        let n = loop {
            match self.input.read(&mut slot.input[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.ended = Some(Err(e));
                    return None;
                }
            }
        };
        slot.len = start + n;
        if n == 0 {
            self.ended = Some(Ok(()));
        } else if let Some(newline) = memchr::memrchr(b'\n', &slot.input[start..slot.len]) {
            self.rest.extend_from_slice(&slot.input[start + newline + 1..slot.len]);
            slot.len = start + newline + 1;
        }
        if slot.len == 0 {
            return None;
        }
        self.next += 1;
        Some(self.next - 1)
    }
}

/// Writes the pieces `done` yields in order and gives their slots back.
fn write_in_order<S: Scrub>(
    make: Make<S>,
    done: Receiver<Done>,
    free: SyncSender<Slot>,
    carrying: &AtomicBool,
    out: &mut dyn Write,
) -> io::Result<Stats> {
    let mut order = InOrder::new(make);
    let mut waiting: BTreeMap<u64, (Slot, io::Result<Option<Scrubbed>>)> = BTreeMap::new();
    let mut next = 0;
    loop {
        let (seq, slot, result) = match done.try_recv() {
            Ok(piece) => piece,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match done.recv() {
                    Ok(piece) => piece,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        waiting.insert(seq, (slot, result));
        while let Some((mut slot, result)) = waiting.remove(&next) {
            if let Some(text) = order.write(&slot.input[..slot.len], result?, out)? {
                slot.text = text;
            }
            carrying.store(order.carrying(), Ordering::Relaxed);
            next += 1;
            // The reader is gone once the input ended.
            let _ = free.send(slot);
        }
    }
    if !waiting.is_empty() {
        // A scrubbing thread died with its piece: never skip a piece.
        return Err(io::Error::other("a piece of the input was lost"));
    }
    let stats = order.finish(out)?;
    out.flush()?;
    Ok(stats)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use logscrub::Redactor;

    /// A log with passwords, PEM and PuTTY keys whose lines straddle many
    /// piece cuts, long lines, and no newline at its end.
    fn log() -> Vec<u8> {
        log_of(30_000)
    }

    /// The first `lines` lines of [`log`] (every kind of line once 701 are
    /// in), and its never-ending key.
    fn log_of(lines: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..lines {
            match i % 997 {
                10 => text.extend_from_slice(b"-----BEGIN PRIVATE KEY-----\n"),
                11..=60 => {
                    text.extend_from_slice(b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n")
                }
                61 => text.extend_from_slice(b"-----END PRIVATE KEY-----\n"),
                500 => text.extend_from_slice(b"Private-Lines: 30\n"),
                501..=530 => {
                    text.extend_from_slice(b"AAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2w\n")
                }
                531 => text.extend_from_slice(b"Private-MAC: 7f3ad21c\n"),
                700 => text.extend_from_slice(&[b"x token=".as_slice(), &vec![b'a'; 300_000], b" y\n"].concat()),
                n if n % 7 == 0 => text.extend_from_slice(format!("{i} user=jane password=hunter2-{i}\n").as_bytes()),
                _ => text.extend_from_slice(format!("{i} GET /api/items/{i} 200 12ms\n").as_bytes()),
            }
        }
        text.extend_from_slice(b"-----BEGIN PRIVATE KEY-----\nnever ends");
        text
    }

    /// A reader that yields at most `n` bytes a read, as a pipe does.
    pub(crate) struct Trickle<'a>(pub(crate) &'a [u8], pub(crate) usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn many_threads_write_what_one_stream_writes() {
        let redactor = Redactor::new();
        let data = log();
        let mut want = Vec::new();
        let want_stats = redactor.redact_reader(&data[..], &mut want).unwrap();
        for (threads, read) in [(1, usize::MAX), (2, usize::MAX), (3, 65_536), (4, 4_099)] {
            let mut got = Vec::new();
            let stats =
                scrub_parallel(&|text: Vec<u8>| redactor.stream(text), &mut Trickle(&data, read), &mut got, threads)
                    .unwrap();
            assert!(got == want, "{threads} threads, reads of {read}: the output differs");
            assert_eq!(stats.lines(), want_stats.lines());
            assert_eq!(stats.masked_lines(), want_stats.masked_lines());
            assert_eq!(stats.unterminated_blocks(), 1);
        }
    }

    #[test]
    fn a_read_error_and_a_write_error_are_reported() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let redactor = Redactor::new();
        let make = |text: Vec<u8>| redactor.stream(text);
        let err = scrub_parallel(&make, &mut Failing, &mut Vec::new(), 2).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        let data = log();
        let err = scrub_parallel(&make, &mut &data[..], &mut Failing, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    /// Lines a random input is made of: clean and secret lines, every kind
    /// of key block line, a line longer than a piece, and a partial line.
    const LINES: [&str; 10] = [
        "GET /health 200 12ms",
        "login user=jane password=hunter2hunter2 ok",
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        "-----END PRIVATE KEY-----",
        "Private-Lines: 2",
        "Private-MAC: 7f3ad21c",
        "token=",
        "",
        "mail jane@example.com",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any input, read in any sizes, on any number of threads: what
        /// one stream writes.
        #[test]
        fn any_input_on_threads_comes_out_as_one_stream_writes_it(
            lines in proptest::collection::vec((0usize..LINES.len(), 0usize..4), 1..400),
            long in proptest::option::of(0usize..400),
            read in 1usize..200_000,
            threads in 2usize..5,
        ) {
            let redactor = redactor();
            let mut data = Vec::new();
            for (i, &(line, newlines)) in lines.iter().enumerate() {
                data.extend_from_slice(LINES[line].as_bytes());
                if long == Some(i) {
                    // Longer than a piece and its slack: cut without a newline.
                    data.extend(std::iter::repeat_n(b'x', PIECE + SLACK + 17));
                }
                data.extend(std::iter::repeat_n(b'\n', newlines.min(1) + newlines / 3));
            }
            let mut want = Vec::new();
            redactor.redact_reader(&data[..], &mut want).unwrap();
            let mut got = Vec::new();
            let make = |text: Vec<u8>| redactor.stream(text);
            scrub_parallel(&make, &mut Trickle(&data, read), &mut got, threads).unwrap();
            proptest::prop_assert!(got == want, "{} threads, reads of {}", threads, read);
        }
    }

    /// What `masked` names: rule, range, fingerprint.
    type Named = (String, Range<u64>, Option<String>);

    fn named(m: &Masked, at: Range<u64>) -> Named {
        (m.rule().id().to_string(), at, m.fingerprint().map(str::to_string))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

        /// Pieces cut anywhere at line starts, recording: what one
        /// recording stream over the whole input records, at the same
        /// ranges, and the same output.
        #[test]
        fn pieces_record_what_one_stream_records(cuts in proptest::collection::vec(0usize..440_000, 1..12)) {
            let redactor = redactor();
            let key = logscrub::HashKey::new(b"0123456789abcdef-pieces".to_vec()).unwrap();
            let data = log_of(2_000);
            let make = |text: Vec<u8>| {
                let mut stream = redactor.stream(text);
                stream.record_masked(Some(key.clone()));
                stream
            };
            let mut one = make(Vec::new());
            one.write_all(&data).unwrap();
            let (want_text, _, masked) = Scrub::finish(one).unwrap();
            let want: Vec<Named> = masked.iter().map(|m| named(m, m.range())).collect();
            proptest::prop_assert!(want.len() > 250);

            let mut starts: Vec<usize> = cuts
                .iter()
                .map(|&c| c.min(data.len()))
                .map(|c| memchr::memchr(b'\n', &data[c..]).map_or(data.len(), |i| c + i + 1))
                .collect();
            starts.extend([0, data.len()]);
            starts.sort_unstable();
            starts.dedup();
            let mut got = Vec::new();
            let mut text = Vec::new();
            let mut each = |m: &Masked, at: Range<u64>| got.push(named(m, at));
            let mut order = InOrder::recording(&make, &mut each);
            for (i, w) in starts.windows(2).enumerate() {
                let piece = &data[w[0]..w[1]];
                // Some pieces scrubbed ahead on "threads", some left to it.
                let scrubbed = (i % 3 != 1).then(|| scrub_piece(&make, piece, Vec::new()).unwrap());
                order.write(piece, scrubbed, &mut text).unwrap();
            }
            order.finish(&mut text).unwrap();
            proptest::prop_assert!(text == want_text);
            proptest::prop_assert_eq!(got, want);
        }
    }

    fn redactor() -> &'static Redactor {
        static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        R.get_or_init(Redactor::new)
    }
}
