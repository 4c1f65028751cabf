//! The default command: scrub stdin or the files named to stdout.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use logscrub::Stats;

use crate::args::Args;
use crate::format::{scrub_reader, Format, FormatStream};
use crate::pieces::scrub_parallel;
use crate::utf16;

/// Scrubbing threads by default. Each holds its own lazy DFA caches (about
/// 9 MB), and the filter's memory bar is 64 MiB; `-j` gives more.
const MAX_THREADS: usize = 2;

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let redactor = args.engine.redactor()?;
    let mut out = Output(BufWriter::with_capacity(256 * 1024, io::stdout().lock()));
    let mut total = Stats::default();
    let threads = match args.jobs {
        Some(n) => n.max(1),
        None => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
    };
    let scrub_text = |input: &mut (dyn Read + Send), out: &mut dyn Write| match args.format {
        _ if threads == 1 => scrub_reader(&redactor, args.format, input, out),
        Format::Raw => scrub_parallel(&|text: Vec<u8>| redactor.stream(text), input, out, threads),
        format => scrub_parallel(&|text: Vec<u8>| FormatStream::new(&redactor, format, text), input, out, threads),
    };
    // UTF-16 input (a byte order mark first) is scrubbed as UTF-8 and
    // written back in UTF-16.
    let scrub = |input: &mut (dyn Read + Send), out: &mut dyn Write| -> io::Result<Stats> {
        let (head, order) = utf16::sniff(input)?;
        let mut input = utf16::Unread::new(head, input);
        utf16::writing(order, out, |out| match order {
            None => scrub_text(&mut input, out),
            Some(order) => scrub_text(&mut utf16::Decoder::new(order, &mut input), out),
        })
    };
    if args.files.is_empty() {
        total = scrub(&mut io::stdin(), &mut out).context("stdin")?;
    } else {
        for path in &args.files {
            let stats = if path.as_os_str() == "-" {
                scrub(&mut io::stdin(), &mut out).context("stdin")?
            } else {
                let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                scrub(&mut file, &mut out).with_context(|| format!("while scrubbing {}", path.display()))?
            };
            total.merge(&stats);
        }
    }
    out.flush()?;
    if args.stats {
        print_stats(&total);
    }
    Ok(ExitCode::SUCCESS)
}

/// Standard output, whose errors say so: a full disk is not blamed on the
/// input being read.
struct Output<W>(W);

impl<W: Write> Output<W> {
    fn blame(e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("cannot write to stdout: {e}"))
    }
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(Self::blame)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(Self::blame)
    }
}

/// Counts only: rule ids and numbers, never input text.
fn print_stats(s: &Stats) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "logscrub: {} lines, {} bytes, {} scanned by rules, {} masked lines, {} dropped, {} findings",
        s.lines(),
        s.bytes(),
        s.scanned_lines(),
        s.masked_lines(),
        s.dropped_lines(),
        s.findings()
    );
    if s.long_lines() + s.guarded_windows() + s.unterminated_blocks() + s.internal_errors() > 0 {
        let _ = writeln!(
            err,
            "logscrub: {} long lines, {} guarded windows, {} unterminated key blocks, {} internal errors",
            s.long_lines(),
            s.guarded_windows(),
            s.unterminated_blocks(),
            s.internal_errors()
        );
    }
    for (id, n) in s.by_rule() {
        let _ = writeln!(err, "logscrub:   {id}: {n}");
    }
}
