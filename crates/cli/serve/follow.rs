//! Following files like `tail -F`, on one thread that polls.
//!
//! Files are known by device and inode, not by name, so:
//! - rotation by rename: the old file is read to its end (a last line
//!   without a newline included), then the new file from its start;
//! - rotation by copytruncate: a file shorter than what was read is read
//!   again from its start (counted in `file_truncations_total`);
//! - files that appear later and match a glob are picked up.
//!
//! Only complete lines are taken; the offset of each file advances once
//! its lines are written by the output, and the checkpoint file keeps the
//! offsets (written at most once a second, and on exit, atomically), so a
//! restart resumes where the output left off. After a crash, lines written
//! in the last second before it can be written again; none are lost.
//!
//! A file that opens with a UTF-16 byte order mark (PowerShell's
//! transcripts, some Windows services' logs) is read as UTF-16: its lines
//! are decoded to UTF-8 before they are scrubbed, and go out in UTF-8, as
//! every other file's. Read as bytes, every other byte would be a NUL and
//! no rule could match.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::options::ServeOptions;
use super::{Ctx, Metrics, Payload};
use crate::format::Scrubber;
use crate::msgpack::EventTime;
use crate::utf16::{self, Utf16};

const CHUNK: usize = 1 << 20;

type FileId = (u64, u64);

pub struct Follower {
    globs: Vec<Pattern>,
    ctx: Arc<Ctx>,
    checkpoint: Option<PathBuf>,
    from_end: bool,
    files: Vec<Tracked>,
    saved: HashMap<FileId, u64>,
    first_scan: bool,
    last_save: Instant,
    dirty: bool,
}

struct Tracked {
    path: PathBuf,
    id: FileId,
    file: File,
    /// Bytes of the file whose lines the output has written.
    offset: u64,
    /// Read past `offset`: the start of a line whose newline has not come.
    pending: Vec<u8>,
    scrubber: Scrubber,
    /// Its path now names another file (or none): read to the end, then
    /// let go.
    gone: bool,
    /// Whether the file opens with a UTF-16 byte order mark: `None` until
    /// it holds enough bytes to tell.
    encoding: Option<Option<Utf16>>,
}

#[derive(Serialize, Deserialize, Default)]
struct Checkpoint {
    files: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(with = "crate::json_path")]
    path: PathBuf,
    dev: u64,
    ino: u64,
    offset: u64,
}

impl Follower {
    pub fn new(opts: &ServeOptions, ctx: Arc<Ctx>) -> anyhow::Result<Follower> {
        let mut saved = HashMap::new();
        if let Some(path) = &opts.checkpoint {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let cp: Checkpoint = serde_json::from_slice(&bytes).with_context(|| {
                        format!("checkpoint {} is not valid; move it away to start over", path.display())
                    })?;
                    saved = cp.files.into_iter().map(|e| ((e.dev, e.ino), e.offset)).collect();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read checkpoint {}", path.display())),
            }
        }
        Ok(Follower {
            globs: opts.follow.iter().map(|g| Pattern::new(g)).collect::<anyhow::Result<_>>()?,
            ctx,
            checkpoint: opts.checkpoint.clone(),
            from_end: opts.from_end,
            files: Vec::new(),
            saved,
            first_scan: true,
            last_save: Instant::now(),
            dirty: false,
        })
    }

    /// Follows until shutdown, then reads what is there and saves the
    /// checkpoint.
    pub fn run(mut self) -> anyhow::Result<()> {
        loop {
            self.discover();
            let mut progressed = false;
            for i in 0..self.files.len() {
                progressed |= self.read(i);
            }
            self.files.retain(|t| !(t.gone && t.pending.is_empty() && at_end(t)));
            self.save(false)?;
            if *self.ctx.shutdown.borrow() && !progressed {
                break;
            }
            if !progressed {
                std::thread::sleep(self.ctx.opts.poll_interval);
            }
        }
        // Partial records joined so far (CRI `P` pieces) are past the
        // saved offsets: write them now, or they would be lost.
        for t in &mut self.files {
            let mut out = Vec::new();
            t.scrubber.finish(&mut out);
            deliver(&self.ctx, &mut t.scrubber, out);
        }
        self.save(true)
    }

    fn discover(&mut self) {
        let found: Vec<PathBuf> = self.globs.iter().flat_map(Pattern::matches).collect();
        for path in found {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            if let Some(t) = self.files.iter_mut().find(|t| t.id == id) {
                t.path = path;
                continue;
            }
            match self.open(&path, id, meta.len()) {
                Ok(t) => self.files.push(t),
                Err(e) => tracing::warn!(file = %path.display(), "cannot open: {e}"),
            }
        }
        for t in &mut self.files {
            let same = std::fs::metadata(&t.path).is_ok_and(|m| (m.dev(), m.ino()) == t.id);
            if !same && !t.gone {
                tracing::info!(file = %t.path.display(), "rotated or removed; reading it to the end");
                t.gone = true;
            }
        }
        self.first_scan = false;
    }

    fn open(&mut self, path: &Path, id: FileId, len: u64) -> std::io::Result<Tracked> {
        let mut file = File::open(path)?;
        let offset = match self.saved.remove(&id) {
            Some(o) if o <= len => o,
            Some(_) => 0,
            None if self.first_scan && self.from_end => len,
            None => 0,
        };
        file.seek(SeekFrom::Start(offset))?;
        tracing::info!(file = %path.display(), offset, "following");
        Ok(Tracked {
            path: path.to_path_buf(),
            id,
            file,
            offset,
            pending: Vec::new(),
            scrubber: Scrubber::new(&self.ctx.redactor, self.ctx.opts.format),
            gone: false,
            encoding: None,
        })
    }

    /// Reads and submits what file `i` has; whether anything was read.
    fn read(&mut self, i: usize) -> bool {
        let ctx = self.ctx.clone();
        let t = &mut self.files[i];
        let len = match t.file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                tracing::warn!(file = %t.path.display(), "cannot stat: {e}");
                return false;
            }
        };
        if len < t.offset + t.pending.len() as u64 {
            tracing::warn!(file = %t.path.display(), "truncated; reading it again from the start");
            Metrics::add(&ctx.metrics.truncations, 1);
            t.offset = 0;
            t.pending.clear();
            if t.file.seek(SeekFrom::Start(0)).is_err() {
                return false;
            }
        }
        let Some(utf16) = t.encoding.or_else(|| sniff(t, len)) else { return false };
        t.encoding = Some(utf16);
        let mut data = std::mem::take(&mut t.pending);
        let before = data.len();
        let got = (&mut t.file).take(CHUNK as u64).read_to_end(&mut data);
        if let Err(e) = got {
            tracing::warn!(file = %t.path.display(), "read failed: {e}");
        }
        let read = data.len() - before;
        // A rotated file read to its end: its last line (and any partial
        // record) ends here.
        let ending = t.gone && read == 0;
        // Only complete lines, unless the file is done or the line is over
        // the maximum (then the scrubber windows it).
        let cut = match utf16 {
            // Whole code units: an odd byte waits for its other half.
            Some(_) if ending || data.len() > 2 * ctx.redactor.max_line() => data.len() & !1,
            Some(order) => utf16::lines_end(order, &data),
            None if ending || data.len() > ctx.redactor.max_line() => data.len(),
            None => memchr::memrchr(b'\n', &data).map_or(0, |i| i + 1),
        };
        t.pending = data.split_off(cut);
        if cut == 0 && !ending {
            return read > 0;
        }
        let mut out = Vec::with_capacity(cut + cut / 8);
        match utf16 {
            Some(order) => {
                // The byte order mark is no text: it goes nowhere.
                let text = match t.offset == 0 && Utf16::sniff(&data) == Some(order) {
                    true => &data[2..],
                    false => &data[..],
                };
                let mut decoded = Vec::with_capacity(text.len());
                utf16::decode(order, text, &mut decoded);
                t.scrubber.feed(&decoded, &mut out);
            }
            None => t.scrubber.feed(&data, &mut out),
        }
        if ending {
            t.scrubber.finish(&mut out);
        }
        if deliver(&ctx, &mut t.scrubber, out) {
            t.offset += cut as u64;
            self.dirty = true;
        }
        true
    }

    fn save(&mut self, now: bool) -> anyhow::Result<()> {
        let Some(path) = &self.checkpoint else { return Ok(()) };
        if !self.dirty || (!now && self.last_save.elapsed() < Duration::from_secs(1)) {
            return Ok(());
        }
        let cp = Checkpoint {
            files: self
                .files
                .iter()
                .map(|t| Entry { path: t.path.clone(), dev: t.id.0, ino: t.id.1, offset: t.offset })
                .collect(),
        };
        write_atomically(path, &serde_json::to_vec_pretty(&cp)?)
            .with_context(|| format!("cannot write checkpoint {}", path.display()))?;
        self.dirty = false;
        self.last_save = Instant::now();
        Ok(())
    }
}

/// Reports the scrubber's counts and hands `out` to the output, waiting
/// until it is written. Whether the offset may advance.
fn deliver(ctx: &Ctx, scrubber: &mut Scrubber, out: Vec<u8>) -> bool {
    let (stats, counts) = scrubber.take_counts();
    ctx.metrics.scrubbed(&stats, counts);
    if out.is_empty() {
        return true;
    }
    let payload = Payload::Lines { time: EventTime::now(), text: out };
    match ctx.submit_blocking(ctx.opts.tag.clone(), payload, true) {
        Some(done) => done.blocking_recv() == Ok(true),
        None => true, // dropped with --on-full drop, and counted
    }
}

/// Whether file `t` (`len` bytes long) opens with a UTF-16 byte order
/// mark; `None` while it is too short to tell (and not done with).
fn sniff(t: &Tracked, len: u64) -> Option<Option<Utf16>> {
    use std::os::unix::fs::FileExt;
    if len < 4 && !t.gone {
        return None;
    }
    let mut head = [0; 4];
    let n = match t.file.read_at(&mut head, 0) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(file = %t.path.display(), "read failed: {e}");
            return None;
        }
    };
    let order = Utf16::sniff(&head[..n]);
    if let Some(order) = order {
        tracing::info!(file = %t.path.display(), encoding = order.name(), "UTF-16: its lines go out in UTF-8");
    }
    Some(order)
}

fn at_end(t: &Tracked) -> bool {
    t.file.metadata().is_ok_and(|m| m.len() <= t.offset)
}

/// Writes a file beside its final name, syncs it, and renames it over.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A `--follow` glob: `*` and `?` within a name, `**` across directories,
/// `[...]` and `{a,b}`. Matched on the bytes of each name, so a file whose
/// name is not UTF-8 is followed too.
pub struct Pattern {
    /// The directory its literal leading components name, where the walk
    /// starts (empty: the working directory).
    base: PathBuf,
    /// How deep below `base` a match can lie (`None` after a `**`).
    depth: Option<usize>,
    matcher: globset::GlobMatcher,
}

impl Pattern {
    pub fn new(glob: &str) -> anyhow::Result<Pattern> {
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .with_context(|| format!("--follow {glob:?}: not a valid glob"))?
            .compile_matcher();
        let wild = |c: &std::path::Component| c.as_os_str().as_encoded_bytes().iter().any(|b| b"*?[{".contains(b));
        let parts: Vec<_> = Path::new(glob).components().collect();
        let literal = parts.iter().take_while(|c| !wild(c)).count();
        let rest = &parts[literal..];
        let deep = rest.iter().any(|c| c.as_os_str().as_encoded_bytes().windows(2).any(|w| w == b"**"));
        let base = parts[..literal].iter().collect();
        Ok(Pattern { base, depth: (!deep).then_some(rest.len()), matcher })
    }

    /// The paths that match it now, in the walk's order: files or not (the
    /// follower keeps the files), unreadable directories left out.
    fn matches(&self) -> Vec<PathBuf> {
        let root = if self.base.as_os_str().is_empty() { Path::new(".") } else { &self.base };
        let mut walk = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name();
        if let Some(depth) = self.depth {
            walk = walk.max_depth(depth);
        }
        walk.into_iter()
            .flatten()
            .map(|e| match self.base.as_os_str().is_empty() {
                // Relative to the working directory, as the glob was.
                true => e.path().strip_prefix(".").unwrap_or(e.path()).to_path_buf(),
                false => e.into_path(),
            })
            .filter(|p| self.matcher.is_match(p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_find_files_by_the_bytes_of_their_names() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("pods/a/x")).unwrap();
        let latin1 = d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log"));
        for f in
            [d.join("app.log"), d.join("app.txt"), d.join("pods/a/1.log"), d.join("pods/a/x/2.log"), latin1.clone()]
        {
            std::fs::write(f, "x\n").unwrap();
        }
        let found = |glob: &str| {
            let mut v = Pattern::new(&format!("{}/{glob}", d.display())).unwrap().matches();
            v.sort();
            v.into_iter().map(|p| p.strip_prefix(d).unwrap().to_path_buf()).collect::<Vec<_>>()
        };
        let latin1 = PathBuf::from(latin1.file_name().unwrap());
        assert_eq!(found("*.log"), [PathBuf::from("app.log"), latin1.clone()]);
        assert_eq!(found("app.log"), [PathBuf::from("app.log")]);
        assert_eq!(found("pods/*/*.log"), [PathBuf::from("pods/a/1.log")]);
        assert_eq!(found("pods/**/*.log"), [PathBuf::from("pods/a/1.log"), PathBuf::from("pods/a/x/2.log")]);
        assert_eq!(found("{app,caf?}.*"), [PathBuf::from("app.log"), PathBuf::from("app.txt"), latin1]);
        assert!(found("none/*.log").is_empty());
        assert!(Pattern::new("[").is_err());
    }
}
