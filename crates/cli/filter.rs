//! The default command: scrub stdin or the files named to stdout.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use logscrub::Stats;

use crate::args::Args;
use crate::format::{Format, Scrubber};

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let redactor = args.engine.redactor()?;
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout);
    let mut total = Stats::default();
    let scrub = |input: &mut dyn Read, out: &mut dyn Write| -> io::Result<Stats> {
        match args.format {
            Format::Raw => redactor.redact_reader(input, out),
            format => scrub_formatted(&redactor, format, input, out),
        }
    };
    if args.files.is_empty() {
        total = scrub(&mut io::stdin().lock(), &mut out).context("stdin")?;
    } else {
        for path in &args.files {
            let stats = if path.as_os_str() == "-" {
                scrub(&mut io::stdin().lock(), &mut out).context("stdin")?
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

/// Structured formats: framed and scrubbed by a [`Scrubber`], flushed
/// after each read like the raw path.
fn scrub_formatted(
    redactor: &logscrub::Redactor,
    format: Format,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> io::Result<Stats> {
    let mut scrubber = Scrubber::new(redactor, format);
    let mut buf = vec![0; 256 * 1024];
    let mut text = Vec::new();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        scrubber.feed(&buf[..n], &mut text);
        out.write_all(&text)?;
        out.flush()?;
        text.clear();
    }
    scrubber.finish(&mut text);
    out.write_all(&text)?;
    out.flush()?;
    Ok(scrubber.take_counts().0)
}

/// Counts only: rule ids and numbers, never input text.
fn print_stats(s: &Stats) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "logscrub: {} lines, {} bytes, {} masked lines, {} dropped, {} findings",
        s.lines(),
        s.bytes(),
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
