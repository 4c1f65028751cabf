//! `logscrub scrub` and `logscrub check`: archives of rotated logs.
//!
//! Each file is read through its codec (detected by content), scrubbed,
//! and written with the same codec to a temporary file beside its
//! destination, which is synced and renamed over it: an interrupted run
//! never leaves a half-written file in place, and the original is untouched
//! until the rename (or never touched, when nothing in it changed: see
//! [`Mirror`]). Files run in parallel (rayon); a large plain file is
//! also split into chunks, on line boundaries where its lines are shorter
//! than a MiB (see [`chunk_bounds`]). A manifest (JSON lines, one
//! per finished file, with checksums of input and output: SHA-256, or
//! BLAKE3 with `--checksum blake3`) lets an auditor verify the run and lets
//! a rerun skip what is done.

pub mod archive;
mod checksum;
pub mod codec;
mod keep;
mod walk;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use logscrub::{HashKey, Redactor, Stats};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::args::EngineArgs;
use crate::format::{scrub_reader, Format, FormatStream};
use crate::json_path;
use crate::pieces::{scrub_piece, InOrder, Make, Record, Scrub};
use crate::utf16::{self, Utf16};
use checksum::{Checksum, Hasher, Sums};
use codec::{Codec, GzipHeader, Later, Seen};
use keep::Kept;
pub use walk::Select;

/// Flags of `logscrub scrub`.
#[derive(clap::Args, Debug)]
pub struct ScrubArgs {
    /// Files and directories (walked recursively) to scrub.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Write scrubbed copies under DIR, mirroring the tree.
    #[arg(long, value_name = "DIR", required_unless_present = "in_place", conflicts_with = "in_place")]
    pub out: Option<PathBuf>,

    /// Replace each file atomically (temporary file, fsync, rename),
    /// keeping its permissions, owner, group, modification time and
    /// extended attributes (ACLs, SELinux labels). A file
    /// that is a symbolic link or has other hard links is refused. A file
    /// with nothing to mask (plain or compressed) is left as it is
    /// where its output is compared with its input (checksums on the
    /// scrubbing thread).
    #[arg(long)]
    pub in_place: bool,

    #[command(flatten)]
    pub select: Select,

    /// Threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Compression level of the output (default: gzip 6, zstd 3, bzip2 6,
    /// xz 6), for every codec of the run: each takes it within its own
    /// range (gzip and xz up to 9, bzip2 1-9, zstd up to 22), so `19` is
    /// zstd's 19 and gzip's 9.
    #[arg(long, value_name = "N")]
    pub level: Option<u32>,

    /// Write a JSON report: per file and rule, counts and byte ranges of
    /// what was masked (never the text); with a hash key (--hash-key-file or
    /// LOGSCRUB_HASH_KEY), each distinct secret's keyed fingerprint and how
    /// often it was masked.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// The manifest of finished files (default: DIR/logscrub-manifest.jsonl
    /// with --out, ./logscrub-manifest.jsonl with --in-place). A rerun
    /// skips the files it lists as done.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// How the lines are framed.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,

    /// Scrub files that look binary (a NUL byte near the start) as text
    /// instead of refusing them.
    #[arg(long)]
    pub text: bool,

    #[command(flatten)]
    pub decoder: Decoder,

    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// The checksum of every input and output in the manifest and report:
    /// sha256 (checked with `sha256sum`) or blake3 (`b3sum`; about four
    /// times faster to compute, for large archives).
    #[arg(long, value_enum, default_value = "sha256")]
    pub checksum: Checksum,
}

/// How `scrub` and `check` decode compressed files.
#[derive(clap::Args, Debug)]
pub struct Decoder {
    /// Most memory in MiB a decoder may hold for one file's window (zstd)
    /// or dictionary (xz), as `zstd --memory` and `xz --memlimit`: a file
    /// that needs more fails with a clear error and is left untouched.
    /// Default 128, zstd's own; a file of `xz -9` needs 65.
    #[arg(long, value_name = "MIB", default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub decoder_memory: u64,
}

impl Decoder {
    /// The decoder memory limit in bytes.
    fn memory(&self) -> u64 {
        self.decoder_memory << 20
    }
}

/// Flags of `logscrub check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Files and directories (walked recursively) to check; `-` for
    /// standard input (a pipe named here is read too).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub select: Select,

    /// Threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Check files that look binary as text instead of refusing them.
    #[arg(long)]
    pub text: bool,

    #[command(flatten)]
    pub decoder: Decoder,

    /// How the lines are framed, as for `scrub`: with a structured format,
    /// values under secret-named keys are findings too (`field`), and a
    /// partial CRI/Docker line's findings are reported at the line that
    /// completes it.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,

    /// Print one JSON object a finding instead of `path:line:rule-id`:
    /// `path`, `line`, `rule`, `category`; for raw lines `start` and `end`,
    /// the secret's byte range in its line; and with a hash key
    /// (`--hash-key-file` or LOGSCRUB_HASH_KEY) `fingerprint`, a keyed hash
    /// of the secret (16 hex digits of HMAC-SHA256), the same for the same
    /// secret in every file. Never the secret itself. The lines listed are
    /// those `scrub` would change: a private key block's body lines, each
    /// with no fingerprint (a line of a key is not the key).
    #[arg(long)]
    pub json: bool,
}

/// One line of the manifest.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Done {
    #[serde(with = "json_path")]
    rel: PathBuf,
    #[serde(with = "json_path")]
    input: PathBuf,
    #[serde(with = "json_path")]
    output: PathBuf,
    codec: String,
    input_size: u64,
    input_mtime_ns: u128,
    output_size: u64,
    /// The output as this run left it (absent in manifests of earlier
    /// versions: their outputs are checked by their checksums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_stat: Option<Untouched>,
    #[serde(flatten)]
    sums: Sums,
}

/// A file's device, inode and change time. The change time is set by the
/// kernel alone, at any change of the file's content or metadata (a copy
/// restored with `cp -p` or `touch -r` too), so an output whose three are
/// still those recorded is the file this run wrote: a rerun need not read
/// it all again to know it is done. (On a kernel whose change times are
/// coarse, a change within a clock tick of the run's rename could keep the
/// time; recent Linux kernels give a file a fine-grained change time once
/// its time has been read, as this run reads it.)
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Debug)]
struct Untouched {
    dev: u64,
    ino: u64,
    ctime_ns: i128,
}

impl Untouched {
    fn of(meta: &std::fs::Metadata) -> Untouched {
        let ctime_ns = i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec());
        Untouched { dev: meta.dev(), ino: meta.ino(), ctime_ns }
    }
}

/// A file's entry in the report.
#[derive(Serialize, Default)]
struct FileReport {
    #[serde(serialize_with = "json_path::serialize")]
    path: PathBuf,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec: Option<&'static str>,
    #[serde(flatten)]
    counts: Counts,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    sums: Option<Sums>,
    #[serde(flatten)]
    members: Members,
}

/// A tar archive's members with findings, by path: their own counts and
/// ranges (the file's counts are all the members' together, with no
/// ranges). At most [`MAX_MEMBERS`] are listed, and [`MAX_RANGES`] ranges
/// in all; the members left out are counted.
#[derive(Serialize, Default)]
struct Members {
    #[serde(rename = "members", skip_serializing_if = "BTreeMap::is_empty")]
    listed: BTreeMap<String, MemberReport>,
    #[serde(rename = "members_omitted", skip_serializing_if = "is_zero")]
    omitted: u64,
    /// Ranges listed so far, of all members.
    #[serde(skip)]
    ranges_kept: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Report at most this many members of a tar archive.
const MAX_MEMBERS: usize = 10_000;

/// What the report says of the text of a file, or of a tar member.
#[derive(Serialize, Default)]
struct Counts {
    /// `utf-16le` or `utf-16be`: the text was scrubbed as UTF-8, and its
    /// ranges are offsets in that UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    lines: u64,
    masked_lines: u64,
    findings: BTreeMap<String, u64>,
    /// Byte ranges in the decompressed input, per rule.
    ranges: BTreeMap<String, Vec<[u64; 2]>>,
    /// With a hash key, per rule, each distinct secret's keyed fingerprint
    /// and how often it was masked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fingerprints: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counts {
    fn new(encoding: Option<&'static str>, stats: &Stats, ranges: Ranges) -> Counts {
        Counts {
            encoding,
            lines: stats.lines(),
            masked_lines: stats.masked_lines(),
            findings: stats.by_rule().map(|(r, n)| (r.to_string(), n)).collect(),
            ranges: ranges.by_rule,
            fingerprints: ranges.prints,
        }
    }
}

/// Plain files above this may be split into chunks scrubbed in parallel.
const SPLIT_ABOVE: u64 = 32 << 20;
/// Chunks are at most this long, and shorter on many threads (down to
/// 1 MiB), so that a wave of two chunks a thread holds about [`IN_FLIGHT`]
/// bytes of input (and as much output) however many cores there are.
const CHUNK: u64 = 8 << 20;
const IN_FLIGHT: u64 = 64 << 20;
/// Report at most this many ranges per file (counts stay exact).
const MAX_RANGES: usize = 100_000;
/// Scrubbed files waiting to be committed hold about this many bytes at
/// most (written, not yet synced), and at most [`WAITING_FILES`] files,
/// each an open file descriptor (a soft limit of 1,024 is common). On 2,000
/// files of 50 KB a batch held 4.6 files on average.
const WAITING_BYTES: u64 = 64 << 20;
const WAITING_FILES: usize = 64;

fn pool(jobs: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = jobs {
        b = b.num_threads(n.max(1));
    }
    Ok(b.build()?)
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified().ok().and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
}

/// `logscrub scrub`.
pub fn scrub(engine: &EngineArgs, args: &ScrubArgs) -> anyhow::Result<ExitCode> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        anyhow::bail!("scrub writes files, not standard output; to filter stdin, run logscrub with no subcommand");
    }
    let redactor = engine.redactor()?;
    let manifest_path = args.manifest.clone().unwrap_or_else(|| match &args.out {
        Some(dir) => dir.join("logscrub-manifest.jsonl"),
        None => PathBuf::from("logscrub-manifest.jsonl"),
    });
    if let Some(out) = &args.out {
        if out.exists() && !out.is_dir() {
            anyhow::bail!("--out {} is not a directory", out.display());
        }
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let same = |p: &PathBuf| std::fs::canonicalize(p).ok() == std::fs::canonicalize(out).ok();
        if args.paths.iter().any(same) {
            anyhow::bail!("--out {} is an input; to replace files where they are, use --in-place", out.display());
        }
    }
    // What this run writes is never its input, the output tree included
    // when it lies inside an input directory.
    let skip: Vec<PathBuf> =
        [Some(manifest_path.clone()), args.report.clone(), args.out.clone()].into_iter().flatten().collect();
    let items = walk::files(&args.paths, &args.select, &skip)?;
    let done = read_manifest(&manifest_path)?;
    let manifest = Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&manifest_path)
            .with_context(|| format!("cannot open manifest {}", manifest_path.display()))?,
    );
    let progress = Progress::new(&items, args.quiet);
    let started = Instant::now();
    let pool = pool(args.jobs)?;
    // Files already keep the threads busy unless one holds more than a
    // thread's share of the bytes: only such a file is split, since its
    // chunks cost memory (and, for each file, waves that wait on their
    // slowest chunk).
    let split_above = SPLIT_ABOVE.max(progress.bytes_total / pool.current_num_threads() as u64);
    let key = engine.hash_key()?;
    let files = items.len();
    let job =
        Job { redactor: &redactor, args, with_ranges: args.report.is_some(), key: key.as_ref(), split_above, files };
    // What becomes of files once they are committed, or failed: their
    // manifest entries (one sync for all of them), then their reports.
    let finish = |results: Vec<(walk::Item, anyhow::Result<(FileReport, Done)>)>| -> Vec<FileReport> {
        let entries: Vec<&Done> = results.iter().filter_map(|(_, r)| r.as_ref().ok().map(|(_, done)| done)).collect();
        if let Err(e) = append_manifest(&manifest, &entries) {
            // The files are done; a rerun does them again.
            progress.println(&format!("logscrub: warning: cannot write manifest: {e}"));
        }
        let settle = |(item, result): (walk::Item, anyhow::Result<(FileReport, Done)>)| {
            let report = match result {
                Ok((report, _)) => report,
                Err(e) => {
                    progress.println(&format!("logscrub: {}: {e:#}", item.path.display()));
                    FileReport {
                        path: item.path.clone(),
                        status: "error",
                        error: Some(format!("{e:#}")),
                        ..FileReport::default()
                    }
                }
            };
            progress.file_done(&item);
            report
        };
        results.into_iter().map(settle).collect()
    };
    let finish_one = |item: &walk::Item, result| finish(vec![(item.clone(), result)]).pop().expect("one report");
    // A thread of its own syncs and renames each scrubbed file while the
    // pool scrubs the next: the fsync held a scrubbing thread idle for a
    // third of the time. It commits every file waiting for it at once, with
    // one sync of each directory and of the manifest: three syncs a file
    // held 2,000 files of 50 KB to 50-60 MB/s. At most about
    // `WAITING_BYTES` of files wait for it, and at least two files.
    let average = progress.bytes_total / items.len().max(1) as u64;
    let waiting = (WAITING_BYTES / average.max(1)).clamp(2, WAITING_FILES as u64) as usize;
    let (mut reports, committed) = std::thread::scope(|scope| {
        let (send, staged) = std::sync::mpsc::sync_channel::<(usize, Staged)>(waiting);
        let finish = &finish;
        let committer = scope.spawn(move || {
            let mut reports = Vec::new();
            while let Ok(first) = staged.recv() {
                let (indices, batch): (Vec<usize>, Vec<Staged>) =
                    std::iter::once(first).chain(staged.try_iter()).unzip();
                reports.extend(indices.into_iter().zip(finish(commit(batch))));
            }
            reports
        });
        let reports: Vec<Option<FileReport>> = pool.install(|| {
            items
                .par_iter()
                .enumerate()
                .map(|(i, item)| {
                    let dest = args.out.as_ref().map_or_else(|| item.path.clone(), |d| d.join(&item.rel));
                    if is_done(done.get(&item.rel), item, &dest, args.in_place) {
                        progress.done_before(item);
                        return Some(FileReport {
                            path: item.path.clone(),
                            status: "done-before",
                            ..FileReport::default()
                        });
                    }
                    match job.stage(item, &dest) {
                        Ok(st) => match send.send((i, st)) {
                            Ok(()) => None,
                            // The committer is gone (it panicked): commit here.
                            Err(std::sync::mpsc::SendError((_, st))) => {
                                let (_, result) = commit(vec![st]).pop().expect("one file");
                                Some(finish_one(item, result))
                            }
                        },
                        Err(e) => Some(finish_one(item, Err(e))),
                    }
                })
                .collect()
        });
        drop(send);
        (reports, committer.join())
    });
    for (i, report) in committed.unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
        reports[i] = Some(report);
    }
    let reports: Vec<FileReport> = reports.into_iter().map(|r| r.expect("every file is reported once")).collect();
    progress.finish();
    let failed = reports.iter().filter(|r| r.status == "error").count();
    let skipped = reports.iter().filter(|r| r.status == "done-before").count();
    let lines: u64 = reports.iter().map(|r| r.counts.lines).sum();
    let masked: u64 = reports.iter().map(|r| r.counts.masked_lines).sum();
    // What this run read: the throughput of a rerun is not that of the
    // files it found done.
    let bytes = progress.bytes_total.saturating_sub(progress.bytes_done_before.load(Ordering::Relaxed));
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "logscrub: {} files ({} scrubbed, {} done before, {} failed), {} lines, {} masked, {:.1} MB in {:.1} s ({:.1} MB/s)",
        reports.len(),
        reports.len() - failed - skipped,
        skipped,
        failed,
        lines,
        masked,
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
    if let Some(path) = &args.report {
        let doc = serde_json::json!({ "version": 1, "files": reports });
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("cannot write report {}", path.display()))?;
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn read_manifest(path: &Path) -> anyhow::Result<HashMap<PathBuf, Done>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read manifest {}", path.display())),
    };
    // A line cut short by a crash is ignored: that file is done again.
    Ok(text.lines().filter_map(|l| serde_json::from_str::<Done>(l).ok()).map(|d| (d.rel.clone(), d)).collect())
}

/// Whether the manifest says this file is done and the files agree: the
/// input is the one scrubbed (with `--out`), and the output is the one
/// written, untouched since (see [`Untouched`]) or else with the content
/// its checksum says.
fn is_done(entry: Option<&Done>, item: &walk::Item, dest: &Path, in_place: bool) -> bool {
    let Some(d) = entry else { return false };
    let same_input = in_place
        || std::fs::metadata(&item.path).is_ok_and(|m| m.len() == d.input_size && mtime_ns(&m) == d.input_mtime_ns);
    let Ok(out) = std::fs::metadata(dest) else { return false };
    if !same_input || out.len() != d.output_size {
        return false;
    }
    if d.output_stat.is_some_and(|s| s == Untouched::of(&out)) {
        return true;
    }
    let (kind, sum) = d.sums.output();
    checksum_file(kind, dest).is_ok_and(|h| h == sum)
}

fn checksum_file(kind: Checksum, path: &Path) -> io::Result<String> {
    // Nothing else to do meanwhile: hashed here, not on a thread.
    let mut h = Hasher::new(kind);
    io::copy(&mut File::open(path)?, &mut h)?;
    Ok(h.hex())
}

struct Job<'a> {
    redactor: &'a Redactor,
    args: &'a ScrubArgs,
    with_ranges: bool,
    /// The hash key, whose fingerprints of the secrets the report lists.
    key: Option<&'a HashKey>,
    /// Plain files larger than this are scrubbed in chunks, in parallel.
    split_above: u64,
    /// How many files the run holds.
    files: usize,
}

impl Job<'_> {
    /// Scrubs one file into a temporary file beside `dest`; [`Staged::commit`]
    /// then makes it durable and puts it in place.
    fn stage(&self, item: &walk::Item, dest: &Path) -> anyhow::Result<Staged> {
        if let Some(problem) = &item.problem {
            anyhow::bail!("{problem}");
        }
        if self.args.in_place && item.link {
            anyhow::bail!(
                "reached through a symbolic link: --in-place would replace the link and leave its target as it is; \
                 scrub the target, or use --out"
            );
        }
        // Asked before opening: opening a pipe waits for its writer.
        if !std::fs::metadata(&item.path).context("cannot open")?.is_file() {
            anyhow::bail!("not a regular file; to scrub a pipe, run logscrub with no subcommand (stdin to stdout)");
        }
        let mut file = File::open(&item.path).context("cannot open")?;
        let kept = Kept::of(&file, self.args.in_place)?;
        let meta = kept.meta();
        if self.args.in_place && meta.nlink() > 1 {
            // The rename gives this name a scrubbed copy; the file's other
            // names would keep the secrets.
            anyhow::bail!(
                "has {} hard links: --in-place would scrub this name only and leave the others as they are; use --out",
                meta.nlink()
            );
        }
        let codec = Codec::sniff(&mut file).context("cannot read")?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // From the name's bytes: two names that differ only in bytes that
        // are not UTF-8 must not share a temporary file.
        let mut name = std::ffi::OsString::from(".");
        name.push(dest.file_name().context("destination has no file name")?);
        name.push(".logscrub-tmp");
        let tmp = dest.with_file_name(name);
        let staged = claim(&tmp)?;
        let spool_dir = dest.parent().unwrap_or(Path::new("."));
        match self.write(file, &kept, codec, staged, spool_dir) {
            Ok((written, file)) => {
                let untouched = self.args.in_place && written.same;
                Ok(Staged { item: item.clone(), dest: dest.to_path_buf(), tmp, file, kept, codec, written, untouched })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Writes the scrubbed file to `tmp` (empty, see [`claim`]) with the
    /// original's metadata (see [`Kept`]); returns it open, not yet synced.
    /// A tar archive's members that outgrow memory are spooled in
    /// `spool_dir`.
    fn write(
        &self,
        file: File,
        kept: &Kept,
        codec: Codec,
        tmp: File,
        spool_dir: &Path,
    ) -> anyhow::Result<(Written, File)> {
        let meta = kept.meta();
        let sum = self.args.checksum;
        let format = self.args.format;
        // Structured formats' report ranges come from a look at each raw
        // line beside the scrub (see `LineRanges`), which chunks do not have.
        // A tar archive is rewritten member by member, never in chunks.
        let plain_tar = codec == Codec::Plain && {
            let mut head = [0; 512];
            file.read_at(&mut head, 0).is_ok_and(|n| archive::is_tar(&head[..n]))
        };
        let split = codec == Codec::Plain
            && !plain_tar
            && !(self.with_ranges && format != Format::Raw)
            && meta.len() > self.split_above
            && rayon::current_num_threads() > 1
            && !is_utf16(&file)?;
        let threaded = hash_thread(split, meta.len(), self.files);
        // Hashed below the buffer: the hash gets the output in large
        // pieces, which BLAKE3 hashes many chunks at a time.
        let mut hashing = Hashing::new(sum, threaded, Writeback::new(tmp));
        // Not beside a checksum thread: the comparison would cost the
        // scrubbing thread more than it spares a core that would idle, and
        // a late difference would leave the whole hash to the end (-j1 on
        // two cores, a finding in the last line: 0.60-0.71 -> 0.83-0.90 s).
        if !threaded && !split {
            hashing.mirror = Some(Mirror::new(file.try_clone().context("cannot open the file again")?));
        }
        let out = BufWriter::with_capacity(256 * 1024, hashing);
        let gzip = match codec {
            Codec::Gzip => {
                let mut head = vec![0; 64 * 1024];
                let n = file.read_at(&mut head, 0).context("read failed")?;
                GzipHeader::of(&head[..n])
            }
            _ => None,
        };
        let (original, memory, seen) = (file.try_clone()?, self.args.decoder.memory(), Seen::default());
        let mut enc = Later::encoder(codec, out, self.args.level, gzip.as_ref(), original, memory, &seen)?;
        let mut ranges = Ranges::default();
        let mut encoding = None;
        let mut members = Members::default();
        let (stats, input_sum, input_len) = if split {
            let mut head = vec![0; 64 * 1024];
            file.read_exact_at(&mut head, 0).context("read failed")?;
            refuse_binary(&head, self.args.text)?;
            let mut hash = Background::new(sum, threaded);
            let mut each = |m: &logscrub::Masked, at: Range<u64>| ranges.add(m.rule().id(), at, m.fingerprint());
            let record = self.with_ranges.then_some((&mut each as Record, self.key));
            let out = &mut Output(&mut enc);
            let stats =
                scrub_chunks(self.redactor, format, &file, meta.len(), out, &mut hash, record).map_err(|e| {
                    match e.downcast::<io::Error>() {
                        Ok(e) => decode_error(Codec::Plain, e),
                        Err(e) => e,
                    }
                })?;
            (stats, hash.hex(), meta.len())
        } else {
            let mut input = Hashing::new(sum, threaded, file);
            let (decoded, tar) = content_of(codec.reader_seen(&mut input, memory, &seen)?, codec, 256 * 1024)?;
            let stats = if tar {
                self.scrub_archive(decoded, codec, &mut Output(&mut enc), spool_dir, &mut members)?
            } else {
                let (stats, order) = self.scrub_text(decoded, codec, &mut Output(&mut enc), &mut ranges)?;
                encoding = order.map(Utf16::name);
                stats
            };
            (stats, input.hash.hex(), input.len)
        };
        let finished = enc.finish().and_then(|out| out.into_inner().map_err(|e| e.into_error()));
        let output = finished.and_then(|out| out.finish(&input_sum, input_len));
        let (out, output_sum, same) = output.map_err(|e| anyhow::Error::new(OutputError(e)))?;
        let sums = Sums::new(sum, input_sum, output_sum);
        let writer = out.file;
        // In place, a file that comes out as it went in stays where it is.
        if !(same && self.args.in_place) {
            kept.give(&writer)?;
        }
        let output_size = writer.metadata()?.len();
        Ok((Written { stats, ranges, sums, output_size, encoding, same, members }, writer))
    }

    /// Scrubs decoded text into `out`, recording its ranges when the report
    /// wants them: UTF-16 is read as UTF-8 and written back as it was;
    /// other content that looks binary is refused.
    fn scrub_text(
        &self,
        decoded: BufReader<Box<dyn Read + '_>>,
        codec: Codec,
        out: &mut dyn Write,
        ranges: &mut Ranges,
    ) -> anyhow::Result<(Stats, Option<Utf16>)> {
        let (text, order) = text_of(decoded, codec, self.args.text)?;
        let (redactor, format) = (self.redactor, self.args.format);
        let scrubbed = utf16::writing(order, out, |out| match (self.with_ranges, format) {
            (false, _) => scrub_reader(redactor, format, &mut { text }, out),
            (true, Format::Raw) => stream_recorded(redactor, self.key, &mut { text }, out, |m| {
                ranges.add(m.rule().id(), m.range(), m.fingerprint());
            }),
            (true, _) => {
                let ranges = LineRanges { redactor, line: Vec::new(), offset: 0, ranges };
                scrub_reader(redactor, format, &mut Tee { inner: text, ranges }, out)
            }
        });
        Ok((scrubbed.map_err(|e| decode_error(codec, e))?, order))
    }

    /// Rewrites the tar archive in `decoded` into `out`, each member
    /// scrubbed as a file would be (a compressed one decompressed, then
    /// compressed again as it was); `members` gets the report of each
    /// member with findings. Returns the members' counts together.
    fn scrub_archive(
        &self,
        decoded: BufReader<Box<dyn Read + '_>>,
        codec: Codec,
        out: &mut dyn Write,
        spool_dir: &Path,
        members: &mut Members,
    ) -> anyhow::Result<Stats> {
        let mut total = Stats::default();
        let memory = self.args.decoder.memory();
        let scrub = |member: &archive::Member, content: &mut dyn Read, spool| {
            let (inner, gzip, content) = member_codec(content)?;
            // A compressed member is kept as it was where its content comes
            // out unchanged (compared by checksum, as `Mirror` compares a
            // file) and it holds nothing else (no gzip comment): a bundle
            // with nothing to mask stays as it is. Not a zstd member, whose
            // skippable frames would need a walk of their own.
            let keep = matches!(inner, Codec::Gzip | Codec::Bzip2 | Codec::Xz);
            let mut raw = keep.then(|| tempfile::spooled_tempfile_in(archive::SPOOL_IN_MEMORY, spool_dir));
            let mut content = Copied { inner: content, copy: raw.as_mut() };
            let seen = Seen::default();
            seen.stop();
            let (spool, stats, order, ranges, same) = {
                let buffer = member.buffer();
                let decoder = inner.content(&mut content, memory, Some(&seen), buffer)?;
                let mut input = Hashing::new(Checksum::Blake3, false, decoder);
                let (decoded, _) = content_of(Box::new(&mut input), inner, buffer)?;
                let enc = inner.writer(spool, self.args.level, gzip.as_ref())?;
                let mut output = Hashing::new(Checksum::Blake3, false, enc);
                let mut ranges = Ranges::default();
                let (stats, order) = self.scrub_text(decoded, inner, &mut Output(&mut output), &mut ranges)?;
                let spool = output.inner.finish().map_err(|e| anyhow::Error::new(OutputError(e)))?;
                let same = input.hash.hex() == output.hash.hex() && !seen.free_text();
                (spool, stats, order, ranges, same)
            };
            // All the member's bytes in the copy, past its decoder's end.
            io::copy(&mut content, &mut io::sink())?;
            drop(content);
            let spool = match raw {
                Some(raw) if same => raw,
                _ => spool,
            };
            anyhow::Ok((spool, (stats, inner, order, ranges)))
        };
        // In the archive's order, whichever thread scrubbed each member.
        let done = |member: &archive::Member,
                    (stats, inner, order, mut ranges): (Stats, Codec, Option<Utf16>, Ranges)| {
            total.merge(&stats);
            if stats.findings() == 0 && stats.internal_errors() == 0 {
                return;
            }
            if members.listed.len() >= MAX_MEMBERS {
                members.omitted += 1;
                return;
            }
            // The file's ranges budget, shared by its members in order.
            for list in ranges.by_rule.values_mut() {
                list.truncate(MAX_RANGES - members.ranges_kept);
                members.ranges_kept += list.len();
            }
            ranges.by_rule.retain(|_, list| !list.is_empty());
            let codec = (inner != Codec::Plain).then(|| inner.name());
            let counts = Counts::new(order.map(Utf16::name), &stats, ranges);
            members.listed.insert(member.display(), MemberReport { codec, counts });
        };
        archive::rewrite(Worded::reader(decoded, codec), out, spool_dir, scrub, done)?;
        Ok(total)
    }
}

/// A decoded file's content, its first bytes looked at: whether it is a
/// tar archive (see [`archive::is_tar`]); read through a buffer of `buffer`
/// bytes.
fn content_of<'r>(
    mut decoded: Box<dyn Read + 'r>,
    codec: Codec,
    buffer: usize,
) -> anyhow::Result<(BufReader<Box<dyn Read + 'r>>, bool)> {
    let mut head = Vec::with_capacity(512);
    (&mut decoded).take(512).read_to_end(&mut head).map_err(|e| decode_error(codec, e))?;
    let tar = archive::is_tar(&head);
    let rewound: Box<dyn Read + 'r> = Box::new(io::Cursor::new(head).chain(decoded));
    Ok((BufReader::with_capacity(buffer, rewound), tar))
}

/// A tar member's compression (a rotated log in a bundle is often gzip),
/// its gzip header when it has one, and a reader of all its bytes.
fn member_codec(content: &mut dyn Read) -> anyhow::Result<(Codec, Option<GzipHeader>, impl Read + '_)> {
    let mut head = Vec::new();
    (&mut *content).take(64 * 1024).read_to_end(&mut head).context("cannot read the archive")?;
    let codec = Codec::of(&head);
    let gzip = match codec {
        Codec::Gzip => GzipHeader::of(&head),
        _ => None,
    };
    Ok((codec, gzip, io::Cursor::new(head).chain(content)))
}

/// A reader whose bytes are also written to `copy`, when there is one.
struct Copied<'c, R> {
    inner: R,
    copy: Option<&'c mut archive::Spool>,
}

impl<R: Read> Read for Copied<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(copy) = &mut self.copy {
            copy.write_all(&buf[..n]).map_err(OutputError::wrap)?;
        }
        Ok(n)
    }
}

/// What the report says of one member of a tar archive with findings: its
/// ranges are in the member's decompressed bytes.
#[derive(Serialize)]
struct MemberReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    codec: Option<&'static str>,
    #[serde(flatten)]
    counts: Counts,
}

/// A file scrubbed into its temporary file, waiting to be synced and
/// renamed into place.
struct Staged {
    item: walk::Item,
    dest: PathBuf,
    tmp: PathBuf,
    file: File,
    kept: Kept,
    codec: Codec,
    written: Written,
    /// In place, and the file came out as it went in: it is left as it is
    /// (no copy synced, no rename, its inode and times its own).
    untouched: bool,
}

/// Opens the temporary file `tmp` for this run alone, empty. It stays
/// locked (`flock`) until it is renamed into place, so that another run over
/// the same file (a Job retried while the first still runs, on shared
/// storage) fails the file rather than write into the same temporary file;
/// one left by a killed run is not locked, and is taken over.
fn claim(tmp: &Path) -> anyhow::Result<File> {
    let cannot = "cannot create the temporary file";
    // A locked file may be renamed away between the open and the lock:
    // then the path names another file, and the claim starts again.
    for _ in 0..3 {
        let file = File::options().write(true).create(true).truncate(false).open(tmp).context(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another logscrub run is scrubbing this file now (its temporary file {} is locked); left to it",
                tmp.display()
            ),
            // No locks here (NFS mounted `nolock`, say): scrub without one
            // rather than fail every file, and say what is not guarded.
            Err(std::fs::TryLockError::Error(e))
                if matches!(e.raw_os_error(), Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::EINVAL)) =>
            {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    eprintln!(
                        "logscrub: warning: cannot lock {} ({e}): two runs over the same files would not see \
                         each other",
                        tmp.display()
                    )
                });
                file.set_len(0).context(cannot)?;
                return Ok(file);
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e).context(cannot),
        }
        let (locked, named) = (file.metadata()?, std::fs::metadata(tmp));
        if named.is_ok_and(|n| (n.dev(), n.ino()) == (locked.dev(), locked.ino())) {
            file.set_len(0).context(cannot)?;
            return Ok(file);
        }
    }
    anyhow::bail!("{cannot}: another run keeps replacing it")
}

/// Files scrubbed and staged, made durable and put in place: each synced
/// and renamed over its destination, then each directory they were renamed
/// in synced once (a rename is durable once its directory is).
fn commit(batch: Vec<Staged>) -> Vec<(walk::Item, anyhow::Result<(FileReport, Done)>)> {
    let mut synced = sync_all(batch.iter().filter(|st| !st.untouched).map(|st| &st.file).collect()).into_iter();
    let placed: Vec<_> = batch
        .into_iter()
        .map(|st| {
            let synced = if st.untouched { Ok(()) } else { synced.next().expect("a result for each file synced") };
            (st.item.clone(), st.place(synced))
        })
        .collect();
    let dirs: std::collections::BTreeSet<&Path> = placed
        .iter()
        .filter_map(|(_, p)| p.as_ref().ok()?.dest.parent())
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    for dir in dirs {
        File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    placed.into_iter().map(|(item, p)| (item, p.map(Placed::report))).collect()
}

/// The manifest's entries for `done`, durable once this returns: one
/// `fdatasync` for all of them.
fn append_manifest(manifest: &Mutex<File>, done: &[&Done]) -> io::Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for entry in done {
        lines += &serde_json::to_string(entry).expect("a manifest entry serializes");
        lines.push('\n');
    }
    let mut m = manifest.lock().unwrap_or_else(|p| p.into_inner());
    m.write_all(lines.as_bytes())?;
    m.sync_data()
}

/// Syncs each file, on up to [`SYNC_THREADS`] threads at once: the
/// filesystem's journal commits for fsyncs that wait together, where one
/// after another each waits for a commit of its own.
fn sync_all(files: Vec<&File>) -> Vec<io::Result<()>> {
    if files.len() <= 1 {
        return files.iter().map(|f| f.sync_all()).collect();
    }
    let each = files.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let threads: Vec<_> = files
            .chunks(each)
            .map(|part| scope.spawn(move || part.iter().map(|f| f.sync_all()).collect::<Vec<_>>()))
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

/// Files synced at once by [`sync_all`].
const SYNC_THREADS: usize = 8;

impl Staged {
    /// Renames the temporary file, `synced` as [`sync_all`] said, over the
    /// destination.
    fn place(self, synced: io::Result<()>) -> anyhow::Result<Placed> {
        let Staged { item, dest, tmp, file, kept, codec, written, untouched } = self;
        if untouched {
            let _ = std::fs::remove_file(&tmp);
            kept.unchanged(&item.path)?;
            return Ok(Placed { item, dest, kept, codec, written });
        }
        let synced = synced.context("cannot sync the temporary file");
        // Renamed while still locked (see `claim`).
        let renamed = synced.and_then(|()| kept.unchanged(&item.path)).and_then(|()| {
            std::fs::rename(&tmp, &dest).with_context(|| format!("cannot rename into {}", dest.display()))
        });
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        drop(file);
        Ok(Placed { item, dest, kept, codec, written })
    }
}

/// A file renamed into place, its directory not yet synced.
struct Placed {
    item: walk::Item,
    dest: PathBuf,
    kept: Kept,
    codec: Codec,
    written: Written,
}

impl Placed {
    /// The file's report and manifest entry.
    fn report(self) -> (FileReport, Done) {
        let Placed { item, dest, kept, codec, written: w } = self;
        let meta = kept.meta();
        // After the rename, which sets the change time.
        let output_stat = std::fs::metadata(&dest).ok().map(|m| Untouched::of(&m));
        let report = FileReport {
            path: item.path.clone(),
            status: "scrubbed",
            codec: Some(codec.name()),
            counts: Counts::new(w.encoding, &w.stats, w.ranges),
            sums: Some(w.sums.clone()),
            error: None,
            members: w.members,
        };
        let done = Done {
            rel: item.rel,
            input: item.path,
            output: dest,
            codec: codec.name().into(),
            input_size: meta.len(),
            input_mtime_ns: mtime_ns(meta),
            output_size: w.output_size,
            output_stat,
            sums: w.sums,
        };
        (report, done)
    }
}

/// What [`Job::write`] made.
struct Written {
    stats: Stats,
    /// The text's encoding, when it is not UTF-8 (or bytes).
    encoding: Option<&'static str>,
    ranges: Ranges,
    sums: Sums,
    output_size: u64,
    /// The output is the input byte for byte (known for files whose
    /// checksums run on the scrubbing thread, see [`Mirror`]; a compressed
    /// one is, where [`Later`] copied it).
    same: bool,
    /// A tar archive's members with findings.
    members: Members,
}

/// The text of a decoded file and its UTF-16 byte order: UTF-16 (a byte
/// order mark first) is read as UTF-8. Other content that looks binary is
/// refused unless `text` says to take it as text.
fn text_of<'r>(
    mut decoded: BufReader<Box<dyn Read + 'r>>,
    codec: Codec,
    text: bool,
) -> anyhow::Result<(Box<dyn BufRead + 'r>, Option<Utf16>)> {
    let head = decoded.fill_buf().map_err(|e| decode_error(codec, e))?;
    match Utf16::sniff(head) {
        Some(order) => {
            let text = BufReader::with_capacity(256 * 1024, utf16::Decoder::new(order, decoded));
            Ok((Box::new(text), Some(order)))
        }
        None => {
            refuse_binary(head, text)?;
            Ok((Box::new(decoded), None))
        }
    }
}

/// Whether a plain file opens with a UTF-16 byte order mark.
fn is_utf16(file: &File) -> io::Result<bool> {
    let mut head = [0; 4];
    let n = file.read_at(&mut head, 0)?;
    Ok(Utf16::sniff(&head[..n]).is_some())
}

/// Refuses content that looks binary (a NUL byte near the start), unless
/// asked to take it as text.
fn refuse_binary(head: &[u8], text: bool) -> anyhow::Result<()> {
    if !text && memchr::memchr(0, head).is_some() {
        anyhow::bail!("looks binary (a NUL byte near the start); skipped (use --text to take it as text)");
    }
    Ok(())
}

/// An error of the scrub: the output's (see [`Output`]) as it is, else
/// the input's, read or decoded.
fn decode_error(codec: Codec, e: io::Error) -> anyhow::Error {
    let said = |inner: &(dyn std::error::Error + Send + Sync + 'static)| {
        inner.is::<OutputError>() || inner.is::<codec::MemoryLimit>() || inner.is::<Worded>()
    };
    if e.get_ref().is_some_and(said) {
        return e.into();
    }
    match codec {
        Codec::Plain => anyhow::anyhow!("read failed: {e}"),
        c => anyhow::anyhow!("corrupt or truncated {} data: {e}; the original is untouched", c.name()),
    }
}

/// A read error of a tar archive's decoded stream, worded as
/// [`decode_error`] words a file's where it happens: the error then keeps
/// the step and the member it happened in (`member logs/a.log: ...`).
#[derive(Debug)]
struct Worded(String);

impl Worded {
    /// `decoded`, a stream of `codec`, whose read errors say so.
    fn reader<'r>(decoded: impl Read + 'r, codec: Codec) -> impl Read + 'r {
        struct Reader<R>(R, Codec);
        impl<R: Read> Read for Reader<R> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read(buf).map_err(|e| {
                    let kind = e.kind();
                    match decode_error(self.1, e).downcast::<io::Error>() {
                        Ok(e) => e,
                        Err(worded) => io::Error::new(kind, Worded(format!("{worded:#}"))),
                    }
                })
            }
        }
        Reader(decoded, codec)
    }
}

impl std::fmt::Display for Worded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Worded {}

/// The scrubbed copy being written, whose errors say they are its own: a
/// full disk is not a corrupt archive.
struct Output<W>(W);

impl<W: Write> Write for Output<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data).map_err(OutputError::wrap)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(OutputError::wrap)
    }
}

/// A write of the scrubbed copy failed.
#[derive(Debug)]
struct OutputError(io::Error);

impl OutputError {
    /// `e`, of the same kind, saying it is the output's.
    fn wrap(e: io::Error) -> io::Error {
        match e.get_ref().is_some_and(|inner| inner.is::<OutputError>()) {
            true => e,
            false => io::Error::new(e.kind(), OutputError(e)),
        }
    }
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write the scrubbed copy: {}; the original is untouched", self.0)
    }
}

impl std::error::Error for OutputError {}

/// Splits a large plain file into chunks (see [`chunk_bounds`]) and
/// scrubs them in parallel, writing in order. The input is hashed on `input_hash`'s thread
/// as the chunks are written.
fn scrub_chunks(
    redactor: &Redactor,
    format: Format,
    file: &File,
    size: u64,
    out: &mut dyn Write,
    input_hash: &mut Background,
    record: Option<(Record, Option<&HashKey>)>,
) -> anyhow::Result<Stats> {
    let wave = rayon::current_num_threads() as u64 * 2;
    let bounds = chunk_bounds(file, size, (IN_FLIGHT / wave).clamp(1 << 20, CHUNK))?;
    Ok(match (format, record) {
        (Format::Raw, None) => {
            scrub_chunks_of(&|text: Vec<u8>| redactor.stream(text), file, &bounds, out, input_hash, None)
        }
        (Format::Raw, Some((record, key))) => {
            let make = |text: Vec<u8>| {
                let mut stream = redactor.stream(text);
                stream.record_masked(key.cloned());
                stream
            };
            scrub_chunks_of(&make, file, &bounds, out, input_hash, Some(record))
        }
        (format, None) => {
            let make = |text: Vec<u8>| FormatStream::new(redactor, format, text);
            scrub_chunks_of(&make, file, &bounds, out, input_hash, None)
        }
        // `Job::write` never splits these: fail the file, never the run.
        (_, Some(_)) => Err(io::Error::other("internal error: a structured format cannot record in chunks")),
    }?)
}

/// [`scrub_chunks`] over the chunks `bounds`, as one stream over the file
/// would scrub it (see [`crate::pieces`]).
fn scrub_chunks_of<S: Scrub>(
    make: Make<S>,
    file: &File,
    bounds: &[(u64, u64)],
    out: &mut dyn Write,
    input_hash: &mut Background,
    record: Option<Record>,
) -> io::Result<Stats> {
    let mut order = match record {
        Some(record) => InOrder::recording(make, record),
        None => InOrder::new(make),
    };
    let wave = rayon::current_num_threads() * 2;
    // The buffers of one wave serve the next (the inputs come back from
    // the hashing thread): fresh ones cost a page fault every 4 KiB.
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for group in bounds.chunks(wave) {
        // A stream carried into the wave (a line longer than a chunk, a key
        // block) scrubs its chunks again: the threads only read them.
        let ahead = !order.carrying();
        let jobs: Vec<_> = group
            .iter()
            .map(|&range| {
                let text = if ahead { texts.pop().unwrap_or_default() } else { Vec::new() };
                (range, input_hash.take_spare().unwrap_or_default(), text)
            })
            .collect();
        let done: Vec<_> = jobs
            .into_par_iter()
            .map(|((start, end), mut buf, text)| -> io::Result<_> {
                buf.clear();
                buf.resize((end - start) as usize, 0);
                file.read_exact_at(&mut buf, start)?;
                let scrubbed = if ahead { Some(scrub_piece(make, &buf, text)?) } else { None };
                Ok((buf, scrubbed))
            })
            .collect();
        for r in done {
            let (input, scrubbed) = r?;
            texts.extend(order.write(&input, scrubbed, out)?);
            input_hash.give(input);
        }
    }
    order.finish(out)
}

/// Cuts `size` bytes of `file` into pieces of about `chunk` bytes, at line
/// starts. A line that goes on for a MiB past a cut is cut inside, so that
/// no piece holds more than `chunk` and a MiB however long the file's
/// lines: one stream carries across such a cut (see [`crate::pieces`]), as
/// the stdin filter's does. (Whole, a 220 MB line took 468 MB resident on
/// two threads.)
fn chunk_bounds(file: &File, size: u64, chunk: u64) -> io::Result<Vec<(u64, u64)>> {
    let mut bounds = Vec::new();
    let mut start = 0;
    let mut window = vec![0u8; 1 << 20];
    while start < size {
        let mut cut = (start + chunk).min(size);
        if cut < size {
            cut = next_line_start(file, cut, (cut + (1 << 20)).min(size), &mut window)?;
        }
        bounds.push((start, cut));
        start = cut;
    }
    Ok(bounds)
}

/// The start of the line after the first newline in `from..limit`, or
/// `limit`.
fn next_line_start(file: &File, from: u64, limit: u64, window: &mut [u8]) -> io::Result<u64> {
    find_after(file, from, limit, b"\n", window).map(|at| if at < limit { at + 1 } else { limit })
}

/// The offset of the first `needle` at or after `from`, or `size`.
fn find_after(file: &File, mut from: u64, size: u64, needle: &[u8], window: &mut [u8]) -> io::Result<u64> {
    while from < size {
        let n = window.len().min((size - from) as usize);
        file.read_exact_at(&mut window[..n], from)?;
        if let Some(i) = memchr::memmem::find(&window[..n], needle) {
            return Ok(from + i as u64);
        }
        if n < needle.len() || from + n as u64 >= size {
            break;
        }
        from += (n - needle.len() + 1) as u64;
    }
    Ok(size)
}

/// What a file's report lists beside its counts: each rule's byte ranges
/// in the decoded input (at most [`MAX_RANGES`]), and with a hash key how
/// often each distinct secret was found, by its keyed fingerprint.
#[derive(Default)]
struct Ranges {
    by_rule: BTreeMap<String, Vec<[u64; 2]>>,
    prints: BTreeMap<String, BTreeMap<String, u64>>,
    kept: usize,
}

impl Ranges {
    fn add(&mut self, rule: &str, range: Range<u64>, print: Option<&str>) {
        if self.kept < MAX_RANGES {
            self.kept += 1;
            self.by_rule.entry(rule.to_string()).or_default().push([range.start, range.end]);
        }
        if let Some(print) = print {
            let prints = self.prints.entry(rule.to_string()).or_default();
            if let Some(n) = prints.get_mut(print) {
                *n += 1;
            } else if prints.len() < MAX_RANGES {
                prints.insert(print.to_string(), 1);
            }
        }
    }
}

/// The ranges of a structured format's lines, found in the raw text as it
/// passes (the secrets lie in decoded values, so the stream of raw lines
/// cannot record them): a line longer than the maximum is looked at in
/// windows that overlap by twice the longest match, as the stream does.
struct LineRanges<'a> {
    redactor: &'a Redactor,
    /// The current line's bytes not yet looked at for good, from `offset`.
    line: Vec<u8>,
    offset: u64,
    ranges: &'a mut Ranges,
}

impl LineRanges<'_> {
    fn feed(&mut self, mut data: &[u8]) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            self.line.extend_from_slice(&data[..i]);
            self.look(true);
            self.offset += 1;
            data = &data[i + 1..];
        }
        self.line.extend_from_slice(data);
        while self.line.len() >= self.redactor.max_line() {
            self.look(false);
        }
    }

    /// Finds what the line's bytes hold; a finding that starts in the last
    /// window's overlap is left for the next window, which sees it whole.
    fn look(&mut self, complete: bool) {
        let overlap = 2 * self.redactor.longest_match();
        let commit = if complete { self.line.len() } else { self.line.len().saturating_sub(overlap).max(1) };
        for f in self.redactor.find(&self.line).into_iter().filter(|f| f.start() < commit) {
            let at = self.offset;
            self.ranges.add(f.rule().id(), at + f.start() as u64..at + f.end() as u64, None);
        }
        self.line.drain(..commit);
        self.offset += commit as u64;
    }
}

/// A reader that shows what passes through it to [`LineRanges`].
struct Tee<'r, R> {
    inner: R,
    ranges: LineRanges<'r>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ranges.feed(&buf[..n]);
        if n == 0 && !self.ranges.line.is_empty() {
            self.ranges.look(true);
        }
        Ok(n)
    }
}

/// Feeds `input` through a stream into `out`, as `scrub` does, handing
/// `each` the stream's record of what it masked.
fn stream_recorded(
    redactor: &Redactor,
    key: Option<&HashKey>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    mut each: impl FnMut(logscrub::Masked),
) -> io::Result<Stats> {
    let mut stream = redactor.stream(out);
    stream.record_masked(key.cloned());
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        stream.write_all(buf)?;
        input.consume(n);
        stream.take_masked().into_iter().for_each(&mut each);
    }
    stream.end()?;
    stream.take_masked().into_iter().for_each(&mut each);
    Ok(stream.finish()?.1)
}

/// A file being written that has the kernel start writing its pages to
/// disk every MiB (Linux), so that the closing fsync waits for the last one
/// only and the disk works while the next bytes are scrubbed.
struct Writeback {
    file: File,
    written: u64,
    started: u64,
}

/// How much is written before its writeback is started.
const WRITEBACK_EVERY: u64 = 1 << 20;

impl Writeback {
    fn new(file: File) -> Writeback {
        Writeback { file, written: 0, started: 0 }
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_EVERY {
            start_writeback(&self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return };
    // SAFETY: an open descriptor and a byte range; the call schedules
    // writeback and touches no memory of ours. Should it fail, the closing
    // fsync still syncs everything: only the head start is lost.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

/// The checksum of the bytes read or written through it.
struct Hashing<T> {
    inner: T,
    hash: Background,
    /// How many bytes were read through it (an input's length).
    len: u64,
    /// Set on an output while it may be its input byte for byte.
    mirror: Option<Mirror>,
}

impl<T> Hashing<T> {
    fn new(kind: Checksum, threaded: bool, inner: T) -> Hashing<T> {
        Hashing { inner, hash: Background::new(kind, threaded), len: 0, mirror: None }
    }

    /// Hashes `bytes`, just written, unless they repeat the input.
    fn track(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(mirror) = &mut self.mirror {
            if mirror.repeats(bytes) {
                return Ok(());
            }
            self.diverge()?;
        }
        self.hash.update(bytes);
        Ok(())
    }

    /// Stops comparing: hashes what was written so far, the input's first
    /// bytes, read again from the input (a file that changed under the
    /// scrub would have an input checksum of bytes that are gone anyway).
    fn diverge(&mut self) -> io::Result<()> {
        let Some(Mirror { original, at, mut scratch }) = self.mirror.take() else { return Ok(()) };
        scratch.resize(MIRROR_PIECE, 0);
        let mut done = 0;
        while done < at {
            let piece = &mut scratch[..(at - done).min(MIRROR_PIECE as u64) as usize];
            original.read_exact_at(piece, done)?;
            self.hash.update(piece);
            done += piece.len() as u64;
        }
        Ok(())
    }

    /// The inner writer, the checksum of what was written, and whether it
    /// repeated the input whole: then its checksum is the input's, `input`
    /// (of `input_len` bytes).
    fn finish(mut self, input: &str, input_len: u64) -> io::Result<(T, String, bool)> {
        if self.mirror.as_ref().is_some_and(|m| m.at == input_len) {
            return Ok((self.inner, input.to_string(), true));
        }
        self.diverge()?;
        Ok((self.inner, self.hash.hex(), false))
    }
}

/// An output compared with its input as it is written, so that a file in
/// which nothing was masked, most of an archive, is not hashed twice: its
/// output's checksum is its input's. Each write is compared with the input
/// at the same offset, read again from the page cache, which costs far
/// less than hashing it (on one core, SHA-256 was two fifths of `scrub`'s
/// time on such files, half of it on the output). At the first difference
/// the output so far is hashed from the input, and hashing goes on as
/// usual: a file with a finding pays a comparison up to it, no more.
struct Mirror {
    original: File,
    /// How many bytes of the input the output has repeated.
    at: u64,
    scratch: Vec<u8>,
}

/// The most of the input a [`Mirror`] reads at a time.
const MIRROR_PIECE: usize = 256 * 1024;

impl Mirror {
    fn new(original: File) -> Mirror {
        Mirror { original, at: 0, scratch: Vec::new() }
    }

    /// Whether `bytes` are the input's next bytes (false should the input
    /// end before them or fail to read: then it is hashed, and a read that
    /// fails again fails the file).
    fn repeats(&mut self, bytes: &[u8]) -> bool {
        let mut at = self.at;
        for piece in bytes.chunks(MIRROR_PIECE) {
            if self.scratch.len() < piece.len() {
                self.scratch.resize(piece.len(), 0);
            }
            let theirs = &mut self.scratch[..piece.len()];
            if self.original.read_exact_at(theirs, at).is_err() || theirs != piece {
                return false;
            }
            at += piece.len() as u64;
        }
        self.at = at;
        true
    }
}

/// A checksum computed on a thread of its own, so that it overlaps the
/// scrubbing: the manifest hashes every input and output byte, which on the
/// scrubbing thread took a third of `scrub`'s time. Bytes go over in
/// batches; without a thread (none could be started) they are hashed here.
struct Background {
    pending: Vec<u8>,
    send: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    /// Batches the thread has hashed, back for reuse: a fresh buffer costs
    /// a page fault every 4 KiB when it is first filled.
    spare: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<Hasher>>,
    here: Hasher,
}

/// Whether a checksum gets a thread of its own. It pays where a core would
/// otherwise idle: fewer jobs than cores, fewer files than jobs (one
/// archive, run with a job a core by default), or a file split into chunks,
/// whose writer hashes in order while the pool scrubs the chunks. With a job on
/// every core (or one core: taskset, a container's CPU limit) a thread
/// overlaps nothing and adds a copy of every byte and a switch a batch:
/// pinned to one core, a 259 MB file took 0.87-0.97 s with it and
/// 0.78-0.80 s without (SHA-256).
///
/// A small file is hashed here: starting and joining two threads costs
/// more than its hashing (2,000 files of 50 KB spawned 4,000 threads).
fn hash_thread(split: bool, len: u64, files: usize) -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // Asked once: the answer reads the cgroup's CPU quota from /proc and /sys.
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let threads = rayon::current_num_threads();
    split || (len >= HASH_THREAD_FROM && cores > 1 && (cores > threads || files < threads))
}

/// Files smaller than this are hashed on the scrubbing thread.
const HASH_THREAD_FROM: u64 = 1 << 20;

/// Bytes handed to the hashing thread at a time.
const HASH_BATCH: usize = 256 * 1024;

impl Background {
    /// Hashes on a thread of its own if `threaded` (see [`hash_thread`]),
    /// else here.
    fn new(kind: Checksum, threaded: bool) -> Background {
        let (send, batches) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (give_back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let spawn = || {
            std::thread::Builder::new().name("checksum".into()).spawn(move || {
                let mut h = Hasher::new(kind);
                for b in batches {
                    h.update(&b);
                    // Never wait on the other side: a spare it has no room
                    // for is freed.
                    let _ = give_back.try_send(b);
                }
                h
            })
        };
        let thread = if threaded { spawn().ok() } else { None };
        let on = thread.is_some();
        Background {
            pending: Vec::with_capacity(if on { HASH_BATCH } else { 0 }),
            send: on.then_some(send),
            spare: on.then_some(spare),
            thread,
            here: Hasher::new(kind),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        if self.send.is_none() {
            return self.here.update(bytes);
        }
        // Batch by batch, so that every buffer stays one batch long and can
        // be used again (a chunk's output comes in one 8 MiB write).
        let mut bytes = bytes;
        while !bytes.is_empty() {
            let take = bytes.len().min(HASH_BATCH - self.pending.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() >= HASH_BATCH {
                self.hand_over();
            }
        }
    }

    /// [`Background::update`] with a buffer of its own: handed over whole,
    /// not copied.
    fn give(&mut self, bytes: Vec<u8>) {
        if self.send.is_none() {
            return self.here.update(&bytes);
        }
        if !self.pending.is_empty() {
            self.hand_over();
        }
        self.send_batch(bytes);
    }

    /// A buffer the thread is done with, if one is back.
    fn take_spare(&mut self) -> Option<Vec<u8>> {
        self.spare.as_ref()?.try_recv().ok()
    }

    fn hand_over(&mut self) {
        let next = self
            .take_spare()
            .filter(|b| (HASH_BATCH..=4 * HASH_BATCH).contains(&b.capacity()))
            .map(|mut b| {
                b.clear();
                b
            })
            .unwrap_or_else(|| Vec::with_capacity(HASH_BATCH));
        let batch = std::mem::replace(&mut self.pending, next);
        self.send_batch(batch);
    }

    fn send_batch(&mut self, batch: Vec<u8>) {
        if let Some(send) = &self.send {
            // The thread only stops when this end is dropped; should it be
            // gone all the same, `hex` reports its panic.
            let _ = send.send(batch);
        }
    }

    /// The digest of everything given, in hex.
    fn hex(mut self) -> String {
        if !self.pending.is_empty() {
            self.hand_over();
        }
        self.send = None;
        let hash = match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => self.here,
        };
        hash.hex()
    }
}

impl<T: Read> Read for Hashing<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<T: Write> Write for Hashing<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.track(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The progress bar on a terminal; nothing otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    bytes_total: u64,
    bytes_done_before: AtomicU64,
    files: u64,
    done: AtomicU64,
}

impl Progress {
    fn new(items: &[walk::Item], quiet: bool) -> Progress {
        let bytes_total = items.iter().filter_map(|i| std::fs::metadata(&i.path).ok()).map(|m| m.len()).sum();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (tty && !quiet).then(|| {
            let bar = indicatif::ProgressBar::new(bytes_total);
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} files {msg}",
            )
            .expect("the template is valid");
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            bytes_total,
            bytes_done_before: AtomicU64::new(0),
            files: items.len() as u64,
            done: AtomicU64::new(0),
        }
    }

    /// A file an earlier run finished.
    fn done_before(&self, item: &walk::Item) {
        let size = std::fs::metadata(&item.path).map_or(0, |m| m.len());
        self.bytes_done_before.fetch_add(size, Ordering::Relaxed);
        self.file_done(item);
    }

    fn file_done(&self, item: &walk::Item) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(std::fs::metadata(&item.path).map_or(0, |m| m.len()));
            bar.set_message(format!("{n}/{}", self.files));
        }
    }

    fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `logscrub check`: prints `path:line:rule-id` (or, with `--json`, an
/// object) for each finding; exit 1 when anything would be masked, 0 when
/// clean, 2 when a file failed.
pub fn check(engine: &EngineArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let redactor = engine.redactor()?;
    let key = if args.json { engine.hash_key()? } else { None };
    let items = walk::files(&args.paths, &args.select, &[])?;
    if items.is_empty() {
        // Clean, but a filter may have left out what was meant (as
        // ripgrep warns): say so, where a gate's log will show it.
        eprintln!("logscrub: warning: no files to check under the paths given, after --include, --exclude and --shard");
    }
    let pool = pool(args.jobs)?;
    let results: Vec<anyhow::Result<Vec<Found>>> =
        pool.install(|| items.par_iter().map(|item| check_file(&redactor, item, args, key.as_ref())).collect());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut found, mut failed) = (false, false);
    for (item, result) in items.iter().zip(results) {
        match result {
            Ok(findings) => {
                for f in &findings {
                    match args.json {
                        true => writeln!(out, "{}", f.json(&item.path))?,
                        // The path's own bytes, as ripgrep prints them; a tar
                        // member's path after it in braces, as ugrep does.
                        false => {
                            out.write_all(item.path.as_os_str().as_bytes())?;
                            if let Some(member) = &f.member {
                                write!(out, "{{{member}}}")?;
                            }
                            writeln!(out, ":{}:{}", f.line, f.rule)?;
                        }
                    }
                }
                found |= !findings.is_empty();
            }
            Err(e) => {
                failed = true;
                out.flush()?;
                eprintln!("logscrub: {}: {e:#}", item.path.display());
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::from(if failed { 2 } else { u8::from(found) }))
}

/// One finding of `check`.
struct Found {
    /// The tar archive's member it is in.
    member: Option<String>,
    line: u64,
    rule: String,
    category: Option<String>,
    /// The secret's byte range in its line (raw lines).
    span: Option<Range<usize>>,
    /// Its keyed fingerprint, when there is a key.
    fingerprint: Option<String>,
}

impl Found {
    /// The finding as one JSON object: where, which rule, and the keyed
    /// fingerprint of the secret when there is one; never its text.
    fn json(&self, path: &Path) -> String {
        let mut o = serde_json::json!({ "path": json_path::value(path), "line": self.line, "rule": self.rule });
        if let Some(member) = &self.member {
            o["member"] = member.as_str().into();
        }
        if let Some(category) = &self.category {
            o["category"] = category.as_str().into();
        }
        if let Some(span) = &self.span {
            o["start"] = span.start.into();
            o["end"] = span.end.into();
        }
        if let Some(fingerprint) = &self.fingerprint {
            o["fingerprint"] = fingerprint.as_str().into();
        }
        o.to_string()
    }
}

/// The findings of one file: what `scrub` would mask, as its stream records
/// it (so that a long line's windows and a private key's body lines are
/// reported as `scrub` masks them); in the text output a rule once a line,
/// as its spans are of no use there.
fn check_file(
    redactor: &Redactor,
    item: &walk::Item,
    args: &CheckArgs,
    key: Option<&HashKey>,
) -> anyhow::Result<Vec<Found>> {
    if let Some(problem) = &item.problem {
        anyhow::bail!("{problem}");
    }
    let path = &item.path;
    let input: Box<dyn Read> = match path.as_os_str() == "-" {
        true => Box::new(io::stdin()),
        false => Box::new(File::open(path).context("cannot open")?),
    };
    // Sniffed as a stream, so that a pipe is read as a file is.
    let (codec, input) = Codec::sniff_stream(input).context("cannot read")?;
    let memory = args.decoder.memory();
    let (decoded, tar) = content_of(codec.reader(input, memory)?, codec, 256 * 1024)?;
    if !tar {
        return check_text(redactor, decoded, codec, args, key);
    }
    let mut findings = Vec::new();
    archive::members(Worded::reader(decoded, codec), |member, content| {
        let (inner, _, content) = member_codec(content)?;
        let buffer = member.buffer();
        let (decoded, _) = content_of(inner.content(content, memory, None, buffer)?, inner, buffer)?;
        let name = member.display();
        findings.extend(
            check_text(redactor, decoded, inner, args, key)?
                .into_iter()
                .map(|f| Found { member: Some(name.clone()), ..f }),
        );
        Ok(())
    })?;
    Ok(findings)
}

/// The findings of decoded text (see [`check_file`]).
fn check_text(
    redactor: &Redactor,
    decoded: BufReader<Box<dyn Read + '_>>,
    codec: Codec,
    args: &CheckArgs,
    key: Option<&HashKey>,
) -> anyhow::Result<Vec<Found>> {
    let (mut reader, _) = text_of(decoded, codec, args.text)?;
    if args.format != Format::Raw {
        return check_structured(redactor, args.format, reader).map_err(|e| decode_error(codec, e));
    }
    let mut findings: Vec<Found> = Vec::new();
    let add = |m: logscrub::Masked| {
        let rule = m.rule().id();
        let on_line = || findings.iter().rev().take_while(|f| f.line == m.line());
        if !args.json && on_line().any(|f| f.rule == rule) {
            return;
        }
        let span = m.line_range();
        findings.push(Found {
            member: None,
            line: m.line(),
            rule: rule.to_string(),
            category: Some(m.rule().category().to_string()),
            span: args.json.then_some(span.start as usize..span.end as usize),
            fingerprint: m.fingerprint().map(str::to_string),
        });
    };
    let stats =
        stream_recorded(redactor, key, &mut reader, &mut io::sink(), add).map_err(|e| decode_error(codec, e))?;
    if stats.internal_errors() > 0 {
        // `scrub` would mask the line whole; here there is no rule to name.
        anyhow::bail!("internal error while scanning; scrub would mask the lines it affected whole");
    }
    Ok(findings)
}

/// `check` in a structured format: each line goes through the same
/// [`Scrubber`](crate::format::Scrubber) as `scrub`, and what it counted for
/// that line is the line's findings.
fn check_structured(redactor: &Redactor, format: Format, mut reader: impl BufRead) -> io::Result<Vec<Found>> {
    let mut scrubber = crate::format::Scrubber::new(redactor, format);
    let (mut findings, mut line, mut sink) = (Vec::new(), Vec::new(), Vec::new());
    let mut number = 1u64;
    let category = |id: &str| redactor.rules().find(|r| r.id() == id).map(|r| r.category().to_string());
    let mut report = |line: u64, scrubber: &mut crate::format::Scrubber| {
        let (stats, counts) = scrubber.take_counts();
        findings.extend(stats.by_rule().map(|(id, _)| Found {
            member: None,
            line,
            rule: id.to_string(),
            category: category(id),
            span: None,
            fingerprint: None,
        }));
        if counts.fields_masked > 0 {
            findings.push(Found {
                member: None,
                line,
                rule: "field".to_string(),
                category: None,
                span: None,
                fingerprint: None,
            });
        }
    };
    loop {
        line.clear();
        // Read in pieces of at most a line's maximum; the scrubber joins them.
        if (&mut reader).take(redactor.max_line() as u64).read_until(b'\n', &mut line)? == 0 {
            break;
        }
        scrubber.feed(&line, &mut sink);
        sink.clear();
        if line.last() == Some(&b'\n') {
            report(number, &mut scrubber);
            number += 1;
        }
    }
    scrubber.finish(&mut sink);
    report(number, &mut scrubber);
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_untouched_since_it_was_written_is_done_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "a password=[REDACTED:password-assignment]\n").unwrap();
        let item = walk::Item { path: path.clone(), rel: "a.log".into(), link: false, problem: None };
        let meta = std::fs::metadata(&path).unwrap();
        let sum = checksum_file(Checksum::Sha256, &path).unwrap();
        let done = |stat: Option<Untouched>, output: &str| Done {
            rel: item.rel.clone(),
            input: path.clone(),
            output: path.clone(),
            codec: "plain".into(),
            input_size: 0,
            input_mtime_ns: 0,
            output_size: meta.len(),
            output_stat: stat,
            sums: Sums::new(Checksum::Sha256, String::new(), output.into()),
        };
        let stat = Some(Untouched::of(&meta));
        // Its stat alone says it is done: a wrong checksum is never read.
        assert!(is_done(Some(&done(stat, "not read")), &item, &path, true));
        // Without one (a manifest of an earlier version), its checksum.
        assert!(is_done(Some(&done(None, &sum)), &item, &path, true));
        assert!(!is_done(Some(&done(None, "other")), &item, &path, true));
        // Touched since, even to give back its mode and mtime: read again.
        // (Past a tick of a coarse clock: a kernel without fine-grained
        // change times can give a change in the same tick the same time.)
        std::thread::sleep(std::time::Duration::from_millis(25));
        let same = std::fs::metadata(&path).unwrap();
        std::fs::set_permissions(&path, same.permissions()).unwrap();
        File::options().write(true).open(&path).unwrap().set_modified(same.modified().unwrap()).unwrap();
        assert!(!is_done(Some(&done(stat, "not read")), &item, &path, true));
        assert!(is_done(Some(&done(stat, &sum)), &item, &path, true));
    }

    #[test]
    fn line_ranges_find_a_secret_across_a_long_lines_window_edges() {
        // A structured format's ranges come from the raw lines as they are
        // read: a line past the maximum, fed in small reads, is looked at
        // in overlapping windows, so each secret is listed once, whole.
        let redactor = Redactor::builder().max_line(65536).build().unwrap();
        for pad in (65_400..65_560).step_by(4) {
            let text = format!("{} password=hunter2hunter2 ok {}\nnext\n", "x".repeat(pad), "y".repeat(70_000));
            let mut ranges = Ranges::default();
            let mut lines = LineRanges { redactor: &redactor, line: Vec::new(), offset: 0, ranges: &mut ranges };
            text.as_bytes().chunks(7).for_each(|c| lines.feed(c));
            let found = &ranges.by_rule["password-assignment"];
            assert_eq!(found.len(), 1, "pad {pad}");
            assert_eq!(&text[found[0][0] as usize..found[0][1] as usize], "hunter2hunter2", "pad {pad}");
        }
    }

    /// A log of `lines` lines with a password on every 7th, and a PEM and
    /// a PuTTY private key of 40 lines each every 500.
    fn log(lines: usize) -> Vec<u8> {
        let mut text = String::new();
        let mut i = 0;
        while i < lines {
            if i % 500 == 250 {
                text.push_str("-----BEGIN PRIVATE KEY-----\n");
                for _ in 0..40 {
                    text.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n");
                }
                text.push_str("-----END PRIVATE KEY-----\n");
                i += 42;
            } else if i % 500 == 100 {
                text.push_str("PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 40\n");
                for _ in 0..40 {
                    text.push_str("AAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2wAAABAQCx9Zm0xQ2w\n");
                }
                text.push_str("Private-MAC: 7f3ad21c\n");
                i += 43;
            } else if i % 7 == 0 {
                text.push_str(&format!("{i} login ok user=jane password=hunter2-{i}-xyzzy\n"));
                i += 1;
            } else {
                text.push_str(&format!("{i} GET /api/items/{i} 200 12ms\n"));
                i += 1;
            }
        }
        text.into_bytes()
    }

    #[test]
    fn chunks_scrubbed_in_parallel_equal_the_file_scrubbed_whole() {
        let redactor = Redactor::new();
        let data = log(20_000);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("chunks.log");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        // Small chunks: many cuts, some of them inside key blocks, one
        // right after a block opens, some inside two chunks in a row.
        let bounds = chunk_bounds(&file, data.len() as u64, 16 << 10).unwrap();
        let opened = memchr::memmem::find(&data, b"Private-Lines: 40\n").unwrap() + 18;
        let bounds: Vec<(u64, u64)> = bounds
            .into_iter()
            .flat_map(|(start, end)| match (start as usize) < opened && opened < end as usize {
                true => vec![(start, opened as u64), (opened as u64, opened as u64 + 65), (opened as u64 + 65, end)],
                false => vec![(start, end)],
            })
            .collect();
        assert!(bounds.len() > 20);
        let inside = |at: u64| {
            let before = &data[..at as usize];
            let open =
                |begin: &[u8], end: &[u8]| memchr::memmem::rfind(before, begin) > memchr::memmem::rfind(before, end);
            open(b"-----BEGIN ", b"-----END ") || open(b"Private-Lines: ", b"Private-MAC: ")
        };
        assert!(bounds.iter().filter(|&&(start, _)| inside(start)).count() >= 3, "cuts inside blocks");
        assert!(bounds.iter().all(|&(start, _)| start == 0 || data[start as usize - 1] == b'\n'));
        let mut want = Vec::new();
        let want_stats = redactor.redact_reader(&data[..], &mut want).unwrap();
        for kind in [Checksum::Sha256, Checksum::Blake3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            let mut got = Vec::new();
            let mut hash = Background::new(kind, true);
            let make = |text: Vec<u8>| redactor.stream(text);
            let stats = pool.install(|| scrub_chunks_of(&make, &file, &bounds, &mut got, &mut hash, None)).unwrap();
            assert!(got == want, "the chunked output differs");
            assert_eq!(stats.masked_lines(), want_stats.masked_lines());
            let mut whole = Hasher::new(kind);
            whole.update(&data);
            assert_eq!(hash.hex(), whole.hex());
        }
    }

    #[test]
    fn chunks_cut_a_line_longer_than_a_chunk_and_still_equal_the_file_scrubbed_whole() {
        // Lines of 100 KB and one of 2.5 MB with secrets at their ends and
        // across cuts, between ordinary lines; 16 KiB chunks.
        let mut data = log(2_000);
        for (i, len) in [100_000, 2_500_000, 100_000].into_iter().enumerate() {
            let at = data.len() / 4 * (i + 1);
            let at = memchr::memchr(b'\n', &data[at..]).unwrap() + at + 1;
            let long = format!(
                "password=hunter2-long-{i} {} ghs_DJsWCeD9nZxbrKn2b2WRQC400sAz6T56RB8W\n",
                "a ".repeat(len / 2)
            );
            data.splice(at..at, long.into_bytes());
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("long.log");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let chunk = 16 << 10;
        let bounds = chunk_bounds(&file, data.len() as u64, chunk).unwrap();
        assert!(bounds.iter().all(|&(start, end)| end - start <= chunk + (1 << 20)), "a chunk past its size and a MiB");
        assert!(
            bounds.iter().any(|&(start, _)| start > 0 && data[start as usize - 1] != b'\n'),
            "no cut inside a line"
        );
        let redactor = Redactor::new();
        let mut want = Vec::new();
        redactor.redact_reader(&data[..], &mut want).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let mut got = Vec::new();
        let mut hash = Background::new(Checksum::Sha256, true);
        let make = |text: Vec<u8>| redactor.stream(text);
        pool.install(|| scrub_chunks_of(&make, &file, &bounds, &mut got, &mut hash, None)).unwrap();
        assert!(got == want, "the chunked output differs");
        assert!(memchr::memmem::find(&got, b"hunter2").is_none() && memchr::memmem::find(&got, b"ghs_DJsW").is_none());
    }

    #[test]
    fn a_structured_file_in_chunks_equals_the_file_scrubbed_whole() {
        // CRI lines, every fifth split into a partial record and its end
        // with a line of the other stream between them, and key blocks.
        let t = "2024-01-01T00:00:00.000000001Z";
        let mut data = Vec::new();
        for (i, line) in log(20_000).split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let line = String::from_utf8_lossy(line);
            if i % 5 == 0 && line.len() > 12 {
                let (a, b) = line.split_at(12);
                data.extend_from_slice(
                    format!("{t} stdout P {a}\n{t} stderr F other {i}\n{t} stdout F {b}\n").as_bytes(),
                );
            } else {
                data.extend_from_slice(format!("{t} stdout F {line}\n").as_bytes());
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("chunks-cri.log");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let bounds = chunk_bounds(&file, data.len() as u64, 16 << 10).unwrap();
        let redactor = Redactor::new();
        let mut want = Vec::new();
        scrub_reader(&redactor, Format::Cri, &mut &data[..], &mut want).unwrap();
        assert!(memchr::memmem::find(&want, b"hunter2").is_none());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let mut got = Vec::new();
        let mut hash = Background::new(Checksum::Sha256, true);
        let make = |text: Vec<u8>| FormatStream::new(&redactor, Format::Cri, text);
        pool.install(|| scrub_chunks_of(&make, &file, &bounds, &mut got, &mut hash, None)).unwrap();
        assert!(got == want, "the chunked output differs");
    }

    #[test]
    fn background_hashing_equals_hashing_here() {
        let data = log(20_000);
        for (kind, threaded) in [Checksum::Sha256, Checksum::Blake3].into_iter().flat_map(|k| [(k, true), (k, false)]) {
            let mut bg = Background::new(kind, threaded);
            // Pieces of every size, a buffer given whole, then more pieces.
            let (a, rest) = data.split_at(1000);
            let (b, c) = rest.split_at(HASH_BATCH / 2);
            bg.update(a);
            bg.give(b.to_vec());
            for piece in c.chunks(HASH_BATCH / 3 + 1) {
                bg.update(piece);
            }
            let mut here = Hasher::new(kind);
            here.update(&data);
            assert_eq!(bg.hex(), here.hex(), "{kind:?}, on a thread: {threaded}");
        }
    }

    /// An output's checksum is its own bytes' checksum wherever it first
    /// differs from its input (or never does), whatever the writes' sizes.
    #[test]
    fn a_mirrored_output_has_the_checksum_of_what_was_written() {
        let tmp = tempfile::tempdir().unwrap();
        let input = log(30_000);
        let path = tmp.path().join("in.log");
        std::fs::write(&path, &input).unwrap();
        let n = input.len();
        let changed_at = |i: usize| {
            let mut v = input.clone();
            v[i] = b'#';
            v
        };
        let outputs = [
            ("the same", input.clone()),
            ("first byte changed", changed_at(0)),
            ("a byte changed mid-way", changed_at(n / 2 + 7)),
            ("last byte changed", changed_at(n - 1)),
            ("a prefix", input[..n - 100].to_vec()),
            ("longer", [&input[..], b"more\n"].concat()),
            ("empty", Vec::new()),
        ];
        for kind in [Checksum::Sha256, Checksum::Blake3] {
            let mut whole = Hasher::new(kind);
            whole.update(&input);
            let input_sum = whole.hex();
            for (what, output) in &outputs {
                for write in [1000, MIRROR_PIECE - 1, 3 * MIRROR_PIECE + 5] {
                    let mut out = Hashing::new(kind, false, Vec::new());
                    out.mirror = Some(Mirror::new(File::open(&path).unwrap()));
                    for piece in output.chunks(write) {
                        out.write_all(piece).unwrap();
                    }
                    // Nothing hashed while the input was repeated.
                    let repeated = input.starts_with(output);
                    assert_eq!(out.mirror.is_some(), repeated, "{what}");
                    let (written, sum, same) = out.finish(&input_sum, n as u64).unwrap();
                    assert_eq!(same, output == &input, "{what}");
                    let mut want = Hasher::new(kind);
                    want.update(output);
                    assert!(written == *output, "{what}");
                    assert_eq!(sum, want.hex(), "{kind:?}, {what}, writes of {write}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the output (the input edited anywhere: a byte changed,
        /// bytes cut, added or none) and however it is written, its checksum
        /// is that of its bytes, and it is known to repeat the input exactly
        /// when it does.
        #[test]
        fn a_mirrored_output_is_hashed_as_written(
            input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600_000),
            edit in (proptest::prelude::any::<proptest::sample::Index>(), 0usize..4, proptest::prelude::any::<u8>()),
            // Small writes, and writes the comparison takes in pieces.
            writes in proptest::collection::vec(proptest::prop_oneof![1usize..5_000, MIRROR_PIECE..3 * MIRROR_PIECE], 1..6),
            blake3 in proptest::prelude::any::<bool>(),
        ) {
            let (at, how, byte) = edit;
            let at = at.index(input.len() + 1);
            let mut output = input.clone();
            match how {
                0 if at < output.len() => output[at] ^= byte | 1,
                1 => output.truncate(at),
                2 => output.insert(at, byte),
                _ => {}
            }
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("in");
            std::fs::write(&path, &input).unwrap();
            let kind = if blake3 { Checksum::Blake3 } else { Checksum::Sha256 };
            let hex = |bytes: &[u8]| {
                let mut h = Hasher::new(kind);
                h.update(bytes);
                h.hex()
            };
            let mut out = Hashing::new(kind, false, Vec::new());
            out.mirror = Some(Mirror::new(File::open(&path).unwrap()));
            let mut rest = &output[..];
            for &n in writes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(n.min(rest.len()));
                out.write_all(now).unwrap();
                rest = later;
            }
            let (written, sum, same) = out.finish(&hex(&input), input.len() as u64).unwrap();
            proptest::prop_assert!(written == output);
            proptest::prop_assert_eq!(sum, hex(&output));
            proptest::prop_assert_eq!(same, output == input);
        }
    }
}
