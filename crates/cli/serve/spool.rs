//! The buffer between the inputs and the output, in order.
//!
//! Batches wait in memory. With `--spill-dir`, once half the memory buffer
//! is queued, further batches are appended to segment files instead (and
//! every batch after them until the disk backlog is delivered, so that all
//! of memory always comes before all of disk), and the output reads them
//! back once it catches up. The inputs then run at disk speed while the
//! output is slow or down. A batch that asks for an ack (a Forward chunk, a
//! file offset to checkpoint) gets it once it is in the spill and synced:
//! the spill survives a restart, and what is left in it is sent first at
//! the next start. When the spill is full or cannot be written, nothing is
//! dropped: the inputs wait, as they do without a spill.
//!
//! A segment is `<seq>.spill` (16 hex digits) holding entries back to
//! back: a little-endian u32 body length, u32 record count, the CRC-32 of
//! count and body, then the body, msgpack `[tag, time, text]` for lines or
//! `[tag, [[time, record], ...]]` for Forward records. A segment is
//! deleted once every entry in it is delivered, and `HEAD` records how far
//! the first one is delivered, so a restart repeats nothing and a crash at
//! most what the output was delivering (about 1 MiB). Only scrubbed data is
//! ever spilled.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use rmpv::Value;

use super::{Batch, Metrics, Payload};
use crate::msgpack::{self, EventTime};

/// A segment is closed for appends at this size.
const SEGMENT_BYTES: u64 = 4 << 20;
/// Body length, record count, CRC.
const HEADER: usize = 12;

/// The queue the inputs' batches wait in for the output.
pub struct Spool {
    state: Mutex<State>,
    changed: Condvar,
    /// Bytes of batches queued in memory before the next goes to disk.
    mem_limit: usize,
    metrics: Arc<Metrics>,
}

struct State {
    /// Batches in memory, oldest first; all older than any on disk.
    mem: VecDeque<Batch>,
    mem_bytes: usize,
    disk: Option<Disk>,
    /// No more pushes will come.
    closed: bool,
    /// The output stopped: what comes from now on is kept on disk or lost.
    abandoned: bool,
    /// Records kept in the spill when the output stopped, for the next start.
    kept: u64,
    /// Records that could be neither delivered nor kept.
    lost: u64,
}

/// The spill directory.
struct Disk {
    dir: PathBuf,
    /// Most bytes of segments at once (`--spill-bytes`).
    limit: u64,
    /// Held for the life of the process: one logscrub per directory.
    _lock: File,
    /// Entries the output has not taken, oldest first.
    entries: VecDeque<Entry>,
    /// Entries the output took and has not delivered yet: where the first
    /// is, and how many records they hold.
    in_flight: Option<((u64, u64), u64)>,
    /// The read position recorded in `HEAD`.
    head: Option<(u64, u64)>,
    /// Segment files, ascending, with their sizes.
    segments: VecDeque<(u64, u64)>,
    /// The segment being appended to, while it has room.
    writer: Option<(u64, File)>,
    bytes: u64,
    /// Whether the last append failed (warned once until one succeeds).
    failing: bool,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    seg: u64,
    offset: u64,
    len: u32,
    records: u32,
}

/// The first segment number of an empty directory: room below it for the
/// batches put in front at shutdown.
const FIRST_SEQ: u64 = 1 << 32;

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.spill"))
}

impl Spool {
    /// A spool in memory, and on disk in `dir` up to `limit` bytes when a
    /// directory is given. Entries left there by an earlier run come first.
    pub fn open(dir: Option<&Path>, limit: u64, buffer_bytes: usize, metrics: Arc<Metrics>) -> anyhow::Result<Spool> {
        let disk = dir.map(|d| Disk::open(d, limit)).transpose()?;
        if let Some(d) = &disk {
            let records = d.listed_records();
            metrics.spilled_bytes.store(d.bytes, Ordering::Relaxed);
            if records > 0 {
                tracing::info!(spill = %d.dir.display(), records, bytes = d.bytes, "sending what the last run left in the spill first");
            }
        }
        // With a spill, half the buffer queues here and half waits for the
        // spooler, so that it always has batches to move to disk.
        let mem_limit = if disk.is_some() { buffer_bytes / 2 } else { usize::MAX };
        let state =
            State { mem: VecDeque::new(), mem_bytes: 0, disk, closed: false, abandoned: false, kept: 0, lost: 0 };
        Ok(Spool { state: Mutex::new(state), changed: Condvar::new(), mem_limit, metrics })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a batch: in memory while there is room and nothing waits on
    /// disk, else on disk. Waits while neither can take it.
    pub fn push(&self, batch: Batch) {
        let size = batch.size();
        let mut st = self.lock();
        loop {
            if st.abandoned {
                return self.keep(st, batch);
            }
            let disk_busy = st.disk.as_ref().is_some_and(|d| !d.entries.is_empty() || d.in_flight.is_some());
            if !disk_busy && st.mem_bytes + size <= self.mem_limit {
                return self.queue(st, batch, size);
            }
            if let Some(d) = st.disk.as_mut() {
                match d.append(&batch, false) {
                    Ok((entry, file)) => {
                        d.recovered();
                        d.entries.push_back(entry);
                        self.spilled(d, entry);
                        self.changed.notify_all();
                        drop(st);
                        return acked_on_disk(batch, file);
                    }
                    Err(e) => d.failed(&e, &self.metrics),
                }
                if !disk_busy && st.mem.is_empty() {
                    // Too big for memory, but nothing else can take it.
                    return self.queue(st, batch, size);
                }
            }
            // Woken when the output takes or delivers something; the timeout
            // retries a spill that failed.
            st = self.changed.wait_timeout(st, Duration::from_secs(1)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn queue(&self, mut st: MutexGuard<'_, State>, batch: Batch, size: usize) {
        st.mem_bytes += size;
        st.mem.push_back(batch);
        self.changed.notify_all();
    }

    /// No more batches will come.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The next batches for the output, about `limit` bytes: from memory if
    /// any, else read back from disk. `None` once closed and empty.
    pub fn take(&self, limit: usize) -> Option<Vec<Batch>> {
        loop {
            let mut st = self.lock();
            while st.mem.is_empty() && st.disk.as_ref().is_none_or(|d| d.entries.is_empty()) {
                if st.closed {
                    return None;
                }
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            if !st.mem.is_empty() {
                let mut out = Vec::new();
                let mut size = 0;
                let spilling = st.disk.is_some();
                while size < limit {
                    let Some(mut b) = st.mem.pop_front() else { break };
                    size += b.size();
                    if spilling {
                        // Out of the buffer: its room lets the inputs go on
                        // (to disk) while the output holds it.
                        b._room = None;
                    }
                    out.push(b);
                }
                st.mem_bytes -= size;
                self.changed.notify_all();
                return Some(out);
            }
            let d = st.disk.as_mut().expect("checked above");
            let mut entries = Vec::new();
            let mut size = 0;
            while size < limit {
                let Some(e) = d.entries.pop_front() else { break };
                size += e.len as usize;
                entries.push(e);
            }
            let records = entries.iter().map(|e| u64::from(e.records)).sum();
            d.in_flight = entries.first().map(|e| ((e.seg, e.offset), records));
            let dir = d.dir.clone();
            drop(st);
            // Entries on the list are whole and their segments stay until
            // delivered, so they are read without the lock.
            let out: Vec<Batch> = entries.iter().filter_map(|e| self.read(&dir, e)).collect();
            if !out.is_empty() {
                return Some(out);
            }
            self.delivered();
        }
    }

    fn read(&self, dir: &Path, e: &Entry) -> Option<Batch> {
        let read = || -> io::Result<Batch> {
            let file = File::open(segment_path(dir, e.seg))?;
            let mut buf = vec![0; HEADER + e.len as usize];
            file.read_exact_at(&mut buf, e.offset)?;
            if checksum(&buf) != u32::from_le_bytes(buf[8..12].try_into().expect("4 bytes")) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "checksum mismatch"));
            }
            decode(&buf[HEADER..]).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "undecodable entry"))
        };
        match read() {
            Ok(b) => Some(b),
            Err(err) => {
                Metrics::add(&self.metrics.errors, 1);
                Metrics::add(&self.metrics.dropped, u64::from(e.records));
                tracing::error!(
                    spill = %dir.display(), segment = e.seg, offset = e.offset, records = e.records,
                    "cannot read a spilled entry back ({err}); its records are lost"
                );
                None
            }
        }
    }

    /// What the output took last is delivered: segments it emptied go.
    pub fn delivered(&self) {
        let mut st = self.lock();
        if let Some(d) = st.disk.as_mut() {
            d.in_flight = None;
            d.delete_delivered();
            // A graceful restart must not send what was delivered again.
            let head = d.entries.front().filter(|e| e.offset > 0).map(|e| (e.seg, e.offset));
            d.set_head(head);
            self.metrics.spilled_bytes.store(d.bytes, Ordering::Relaxed);
        }
        self.changed.notify_all();
    }

    /// The output stopped (drain time is up, or it failed for good) with
    /// `in_flight` undelivered: they and everything after them are kept in
    /// the spill for the next start, or counted lost without one.
    pub fn abandon(&self, in_flight: Vec<Batch>) {
        let mut st = self.lock();
        st.abandoned = true;
        // Batches taken from disk stay in their segments (never deleted
        // undelivered; memory is empty while they are out); batches from
        // memory go in a segment in front of every other.
        let from_disk = st.disk.as_ref().is_some_and(|d| d.in_flight.is_some());
        let mut front = if from_disk { Vec::new() } else { in_flight };
        front.extend(std::mem::take(&mut st.mem));
        st.mem_bytes = 0;
        let mut kept = 0;
        if let Some(d) = st.disk.as_mut() {
            kept += d.listed_records();
            if let Some((from, records)) = d.in_flight {
                // Still in their segments: the next start reads from them.
                kept += records;
                d.set_head(Some(from).filter(|f| f.1 > 0));
            }
            if !front.is_empty() {
                // If it cannot be made, they go at the end: kept, if not in order.
                let seq = d.segments.front().map_or(FIRST_SEQ, |s| s.0) - 1;
                d.writer = d.create(seq).ok().map(|f| (seq, f));
                if d.writer.is_some() {
                    d.segments.push_front((seq, 0));
                }
            }
        }
        st.kept += kept;
        for b in front {
            st = self.keep_locked(st, b, true);
        }
        // Later batches go to the end again.
        if let Some(d) = st.disk.as_mut() {
            d.writer = None;
        }
        self.changed.notify_all();
    }

    fn keep(&self, st: MutexGuard<'_, State>, batch: Batch) {
        drop(self.keep_locked(st, batch, false));
    }

    /// Appends `batch` to the spill after the output stopped, or counts it
    /// lost. `force` (what the output held when it stopped) goes past
    /// `--spill-bytes`; what inputs send after that does not, so that a
    /// dead output cannot fill the disk.
    fn keep_locked<'a>(&'a self, mut st: MutexGuard<'a, State>, batch: Batch, force: bool) -> MutexGuard<'a, State> {
        let records = batch.records();
        let appended = match st.disk.as_mut() {
            Some(d) => match d.append(&batch, force) {
                Ok((entry, file)) => {
                    self.spilled(d, entry);
                    Some(file)
                }
                Err(e) => {
                    d.failed(&e, &self.metrics);
                    None
                }
            },
            None => None,
        };
        match appended {
            Some(file) => {
                st.kept += records;
                drop(st);
                acked_on_disk(batch, file);
            }
            None => {
                st.lost += records;
                drop(st);
                if let Some(done) = batch.done {
                    let _ = done.send(false);
                }
            }
        }
        self.lock()
    }

    fn spilled(&self, d: &Disk, e: Entry) {
        Metrics::add(&self.metrics.spilled_records, u64::from(e.records));
        self.metrics.spilled_bytes.store(d.bytes, Ordering::Relaxed);
    }

    /// Records kept in the spill for the next start, and records lost.
    pub fn outcome(&self) -> (u64, u64) {
        let st = self.lock();
        (st.kept, st.lost)
    }

    /// The spill directory, if any.
    pub fn dir(&self) -> Option<PathBuf> {
        self.lock().disk.as_ref().map(|d| d.dir.clone())
    }
}

/// The CRC-32 of an entry's record count and body (its header's third word).
fn checksum(entry: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&entry[4..8]);
    hasher.update(&entry[HEADER..]);
    hasher.finalize()
}

/// A spilled batch's ack, once its segment is synced.
fn acked_on_disk(batch: Batch, file: Option<File>) {
    if let Some(done) = batch.done {
        let synced = file.is_none_or(|f| f.sync_data().is_ok());
        let _ = done.send(synced);
    }
}

impl Disk {
    fn open(dir: &Path, limit: u64) -> anyhow::Result<Disk> {
        let show = dir.display();
        // Scrubbed, but still logs: only this user reads them (0700, files 0600).
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the spill directory {show}"))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("LOCK"))
            .with_context(|| format!("cannot open {show}/LOCK"))?;
        lock.try_lock().map_err(|_| anyhow::anyhow!("the spill directory {show} is in use by another logscrub"))?;
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the spill directory {show}"))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                let hex = name.to_str()?.strip_suffix(".spill")?;
                (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok()).flatten()
            })
            .collect();
        seqs.sort_unstable();
        let mut disk = Disk {
            dir: dir.to_path_buf(),
            limit,
            _lock: lock,
            entries: VecDeque::new(),
            in_flight: None,
            head: Disk::read_head(dir),
            segments: VecDeque::new(),
            writer: None,
            bytes: 0,
            failing: false,
        };
        for seq in seqs {
            let size = disk.scan(seq).with_context(|| format!("cannot read {}", segment_path(dir, seq).display()))?;
            disk.segments.push_back((seq, size));
            disk.bytes += size;
        }
        // What the last run delivered from its first segment is not listed.
        if let Some((seq, offset)) = disk.head {
            disk.entries.retain(|e| e.seg != seq || e.offset >= offset);
        }
        Ok(disk)
    }

    /// Lists a segment's entries. A torn last entry (the process died while
    /// writing it) is cut off: it was never acked.
    fn scan(&mut self, seq: u64) -> io::Result<u64> {
        let path = segment_path(&self.dir, seq);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = file.metadata()?.len();
        let mut offset = 0;
        let mut header = [0u8; HEADER];
        while offset + HEADER as u64 <= len {
            file.read_exact_at(&mut header, offset)?;
            let body = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
            let records = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
            if offset + (HEADER as u64) + u64::from(body) > len {
                break;
            }
            self.entries.push_back(Entry { seg: seq, offset, len: body, records });
            offset += HEADER as u64 + u64::from(body);
        }
        if offset < len {
            tracing::warn!(
                spill = %self.dir.display(), segment = seq, bytes = len - offset,
                "the end of a segment was cut short when the last run stopped; it was never acked and is dropped"
            );
            file.set_len(offset)?;
        }
        Ok(offset)
    }

    fn create(&self, seq: u64) -> io::Result<File> {
        OpenOptions::new().create_new(true).append(true).mode(0o600).open(segment_path(&self.dir, seq))
    }

    /// Appends one batch, returning its entry and, if it asks for an ack,
    /// a handle to sync before acking. A failed write leaves the segment as
    /// it was. `force` ignores the size limit and never rolls over to a new
    /// segment (what the output held when it stopped: the other choice is
    /// losing it, and the segment in front must stay in front).
    fn append(&mut self, batch: &Batch, force: bool) -> io::Result<(Entry, Option<File>)> {
        let mut buf = vec![0; HEADER];
        encode(batch, &mut buf);
        let body = buf.len() - HEADER;
        let records = batch.records() as u32;
        buf[..4].copy_from_slice(&(body as u32).to_le_bytes());
        buf[4..8].copy_from_slice(&records.to_le_bytes());
        let crc = checksum(&buf);
        buf[8..12].copy_from_slice(&crc.to_le_bytes());
        if !force && self.bytes + buf.len() as u64 > self.limit {
            return Err(io::Error::other(format!("the spill is full ({} bytes, --spill-bytes)", self.bytes)));
        }
        // A new segment at the end when none is open or it is full (kept
        // batches never roll: the one in front must stay in front).
        let at = self.writer.as_ref().and_then(|(seq, _)| self.segments.iter().position(|s| s.0 == *seq));
        let at = match at {
            Some(i) if force || self.segments[i].1 < SEGMENT_BYTES => i,
            _ => {
                let seq = self.segments.back().map_or(FIRST_SEQ, |s| s.0 + 1);
                self.writer = Some((seq, self.create(seq)?));
                self.segments.push_back((seq, 0));
                self.segments.len() - 1
            }
        };
        let (seq, size) = self.segments[at];
        let file = &mut self.writer.as_mut().expect("a segment is open").1;
        if let Err(e) = io::Write::write_all(file, &buf) {
            // Cut off what was written; if even that fails, leave the
            // segment (the torn entry is cut off at the next start).
            if file.set_len(size).is_err() {
                self.writer = None;
            }
            return Err(e);
        }
        let entry = Entry { seg: seq, offset: size, len: body as u32, records };
        self.segments[at].1 += buf.len() as u64;
        self.bytes += buf.len() as u64;
        let sync = if batch.done.is_some() { Some(file.try_clone()?) } else { None };
        Ok((entry, sync))
    }

    fn failed(&mut self, e: &io::Error, metrics: &Metrics) {
        if !self.failing {
            Metrics::add(&metrics.spill_errors, 1);
            tracing::warn!(spill = %self.dir.display(), "cannot spill: {e}; inputs wait for the output");
            self.failing = true;
        }
    }

    fn recovered(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(spill = %self.dir.display(), "spilling again");
        }
    }

    /// Records in the entries the output has not taken.
    fn listed_records(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.records)).sum()
    }

    /// Records where the next start begins reading: in segment `seq`, skip
    /// the entries before `offset` (delivered already). Written beside the
    /// segments (`HEAD`) when it moves, removed when it no longer applies.
    fn set_head(&mut self, head: Option<(u64, u64)>) {
        if head == self.head {
            return;
        }
        let path = self.dir.join("HEAD");
        let written = match head {
            Some((seq, offset)) => {
                let tmp = self.dir.join("HEAD.tmp");
                std::fs::write(&tmp, format!("{seq:016x} {offset}\n")).and_then(|()| std::fs::rename(&tmp, &path))
            }
            None => {
                std::fs::remove_file(&path)
                    .or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            }
        };
        match written {
            Ok(()) => self.head = head,
            // Only a restart's duplicates depend on it: say so, go on.
            Err(e) => tracing::warn!(spill = %self.dir.display(), "cannot record the read position: {e}"),
        }
    }

    /// The read position a previous run left, if any.
    fn read_head(dir: &Path) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(dir.join("HEAD")).ok()?;
        let (seq, offset) = text.trim().split_once(' ')?;
        Some((u64::from_str_radix(seq, 16).ok()?, offset.parse().ok()?))
    }

    /// Deletes the segments whose entries are all delivered.
    fn delete_delivered(&mut self) {
        let keep_from = self.entries.front().map_or(u64::MAX, |e| e.seg);
        while let Some(&(seq, size)) = self.segments.front() {
            if seq >= keep_from {
                break;
            }
            if self.writer.as_ref().is_some_and(|w| w.0 == seq) {
                self.writer = None;
            }
            match std::fs::remove_file(segment_path(&self.dir, seq)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(spill = %self.dir.display(), segment = seq, "cannot delete a delivered segment: {e}");
                    break;
                }
            }
            self.segments.pop_front();
            self.bytes -= size;
        }
    }
}

/// A batch as a spill entry's body.
fn encode(batch: &Batch, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    match &batch.payload {
        Payload::Lines { time, text } => {
            let _ = rmp::encode::write_array_len(out, 3);
            let _ = rmp::encode::write_str(out, &batch.tag);
            msgpack::encode(&time.to_value(), out);
            let _ = rmp::encode::write_bin(out, text);
        }
        Payload::Entries(entries) => {
            let _ = rmp::encode::write_array_len(out, 2);
            let _ = rmp::encode::write_str(out, &batch.tag);
            let _ = rmp::encode::write_array_len(out, entries.len() as u32);
            out.extend_from_slice(entries.bytes());
        }
    }
}

/// A spill entry's body as a batch (no ack, no room in memory).
fn decode(body: &[u8]) -> Option<Batch> {
    let mut rest = body;
    let len = rmp::decode::read_array_len(&mut rest).ok()?;
    let tag = msgpack::decode_from(&mut rest).ok()?;
    let tag: Arc<str> = tag.as_str()?.into();
    let payload = match len {
        3 => {
            let time = EventTime::from_value(&msgpack::decode_from(&mut rest).ok()?)?;
            let Value::Binary(text) = msgpack::decode_from(&mut rest).ok()? else { return None };
            Payload::Lines { time, text }
        }
        2 => {
            let count = rmp::decode::read_array_len(&mut rest).ok()?;
            Payload::Entries(crate::forward::Entries::read_packed(rest, u64::from(count))?)
        }
        _ => return None,
    };
    Some(Batch::new(tag, payload, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Batch {
        let payload = Payload::Lines { time: EventTime { secs: 7, nanos: 9 }, text: text.as_bytes().to_vec() };
        Batch::new("t".into(), payload, None)
    }

    fn texts(batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .map(|b| match &b.payload {
                Payload::Lines { text, .. } => String::from_utf8(text.clone()).unwrap(),
                Payload::Entries(e) => format!("{} records", e.len()),
            })
            .collect()
    }

    /// Closes the spool and delivers everything left, `limit` bytes a take.
    fn drain(spool: &Spool, limit: usize) -> Vec<String> {
        spool.close();
        let mut got = Vec::new();
        while let Some(b) = spool.take(limit) {
            got.extend(texts(&b));
            spool.delivered();
        }
        got
    }

    /// A spool directory not made yet, inside a scratch directory that is
    /// removed when the guard returned with it is dropped.
    fn dir(name: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::Builder::new().prefix(&format!("logscrub-spool-{name}-")).tempdir().unwrap();
        let d = tmp.path().join("spool");
        (tmp, d)
    }

    #[test]
    fn entries_round_trip_lines_and_records() {
        let record = Value::Map(vec![(Value::from("log"), Value::from("x")), (Value::from("n"), Value::from(3))]);
        let time = EventTime { secs: 1, nanos: 2 };
        let mut entries = crate::forward::Entries::default();
        let mut head = vec![0x92];
        msgpack::encode(&time.to_value(), &mut head);
        entries.push(&head, &record);
        entries.push(&head, &record);
        for b in [lines("a\nb\n"), Batch::new("t".into(), Payload::Entries(entries), None)] {
            let mut body = Vec::new();
            encode(&b, &mut body);
            let back = decode(&body).unwrap();
            assert_eq!(&*back.tag, "t");
            match (&b.payload, &back.payload) {
                (Payload::Lines { time: t1, text: a }, Payload::Lines { time: t2, text: b }) => {
                    assert_eq!((t1, a), (t2, b))
                }
                (Payload::Entries(a), Payload::Entries(b)) => {
                    assert_eq!(a, b);
                    assert_eq!(b.decoded().collect::<Vec<_>>(), vec![(time, record.clone()); 2]);
                }
                _ => panic!("kind changed"),
            }
        }
        assert!(decode(b"\x92\xa1t\x05").is_none());
        // Entries that are not the count the header says, or not
        // [time, record], are not read back.
        assert!(decode(b"\x92\xa1t\x92\x92\x01\x80").is_none());
        assert!(decode(b"\x92\xa1t\x91\x92\xa1x\x80").is_none());
    }

    #[test]
    fn order_holds_from_memory_to_disk_and_back() {
        let (_tmp, d) = dir("order");
        let spool = Spool::open(Some(&d), 1 << 20, 8, Arc::default()).unwrap();
        for t in ["a\n", "b\n", "c\n", "d\n"] {
            spool.push(lines(t));
        }
        // Half of 8 bytes fits in memory: a and b; c and d went to disk.
        assert_eq!(spool.lock().mem.len(), 2);
        assert_eq!(texts(&spool.take(100).unwrap()), ["a\n", "b\n"]);
        spool.delivered();
        // Disk is not empty: e goes after d, not into memory.
        spool.push(lines("e\n"));
        assert_eq!(texts(&spool.take(1).unwrap()), ["c\n"]);
        spool.push(lines("f\n"));
        spool.delivered();
        assert_eq!(texts(&spool.take(100).unwrap()), ["d\n", "e\n", "f\n"]);
        spool.delivered();
        assert_eq!(spool.lock().disk.as_ref().unwrap().bytes, 0);
        assert!(!std::fs::read_dir(&d).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "spill")));
        spool.push(lines("g\n"));
        assert_eq!(spool.lock().mem.len(), 1, "an empty disk lets memory take batches again");
        spool.close();
        assert_eq!(texts(&spool.take(100).unwrap()), ["g\n"]);
        assert!(spool.take(100).is_none());
    }

    #[test]
    fn what_is_left_at_abandon_comes_first_at_the_next_start() {
        let (_tmp, d) = dir("restart");
        {
            let spool = Spool::open(Some(&d), 1 << 20, 8, Arc::default()).unwrap();
            for t in ["a\n", "b\n", "c\n", "d\n"] {
                spool.push(lines(t));
            }
            let in_flight = spool.take(1).unwrap();
            spool.abandon(in_flight);
            spool.push(lines("e\n"));
            assert_eq!(spool.outcome(), (5, 0));
        }
        let spool = Spool::open(Some(&d), 1 << 20, 8, Arc::default()).unwrap();
        assert_eq!(drain(&spool, 1), ["a\n", "b\n", "c\n", "d\n", "e\n"]);
    }

    #[test]
    fn after_the_output_stops_the_limit_holds_for_new_batches() {
        let (_tmp, d) = dir("abandon-limit");
        let spool = Spool::open(Some(&d), 30, 8, Arc::default()).unwrap();
        for t in ["a\n", "b\n", "c\n"] {
            spool.push(lines(t)); // a, b in memory; c on disk (29 bytes)
        }
        let in_flight = spool.take(100).unwrap();
        spool.abandon(in_flight); // a and b kept past the limit: 3 kept
        spool.push(lines("d\n")); // past the limit, and nothing will drain it
        assert_eq!(spool.outcome(), (3, 1));
    }

    #[test]
    fn a_torn_last_entry_is_cut_and_a_damaged_one_skipped() {
        let (_tmp, d) = dir("torn");
        {
            let spool = Spool::open(Some(&d), 1 << 20, 2, Arc::default()).unwrap();
            for t in ["a\n", "b\n", "c\n"] {
                spool.push(lines(t));
            }
        }
        let seg = segment_path(&d, FIRST_SEQ);
        let mut bytes = std::fs::read(&seg).unwrap();
        // A buffer of 2 bytes keeps none of them in memory: all three are here.
        let whole = bytes.len();
        bytes[HEADER + 5] ^= 0xff; // damage a's body
        bytes.extend_from_within(..7); // a torn header
        std::fs::write(&seg, &bytes).unwrap();
        let metrics = Arc::new(Metrics::default());
        let spool = Spool::open(Some(&d), 1 << 20, 2, metrics.clone()).unwrap();
        assert_eq!(std::fs::metadata(&seg).unwrap().len() as usize, whole);
        spool.close();
        assert_eq!(texts(&spool.take(100).unwrap()), ["b\n", "c\n"]);
        assert_eq!(metrics.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_spill_makes_pushes_wait_until_the_output_catches_up() {
        let (_tmp, d) = dir("full");
        let spool = Arc::new(Spool::open(Some(&d), 30, 8, Arc::default()).unwrap());
        spool.push(lines("a\n"));
        spool.push(lines("b\n"));
        spool.push(lines("c\n")); // on disk: 29 bytes
        let pusher = {
            let spool = spool.clone();
            std::thread::spawn(move || spool.push(lines("d\n")))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!pusher.is_finished(), "d waits: the spill is full");
        assert_eq!(texts(&spool.take(100).unwrap()), ["a\n", "b\n"]);
        spool.delivered();
        assert_eq!(texts(&spool.take(100).unwrap()), ["c\n"]);
        spool.delivered();
        pusher.join().unwrap();
        spool.close();
        assert_eq!(texts(&spool.take(100).unwrap()), ["d\n"]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(usize),
        Take(usize),
        Deliver,
        /// SIGTERM with the output down: abandon what it holds, start again.
        Restart,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (1usize..40).prop_map(Op::Push),
            2 => (1usize..60).prop_map(Op::Take),
            2 => Just(Op::Deliver),
            1 => Just(Op::Restart),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the interleaving of pushes, takes, deliveries and
        /// restarts, every batch is delivered exactly once, in push order.
        #[test]
        fn every_batch_once_in_order(ops in proptest::collection::vec(op(), 1..60)) {
            let (_tmp, d) = dir("prop");
            let open = || Spool::open(Some(&d), 1 << 20, 24, Arc::default()).unwrap();
            let mut spool = open();
            let (mut pushed, mut delivered, mut held) = (0usize, Vec::new(), None::<Vec<Batch>>);
            for op in ops {
                match op {
                    Op::Push(len) => {
                        spool.push(lines(&format!("{pushed:0len$}\n")));
                        pushed += 1;
                    }
                    Op::Take(limit) if held.is_none() => {
                        // take() waits for a batch; only ask when there is one.
                        let waiting = {
                            let st = spool.lock();
                            !st.mem.is_empty() || st.disk.as_ref().is_some_and(|d| !d.entries.is_empty())
                        };
                        if waiting {
                            held = spool.take(limit);
                        }
                    }
                    Op::Deliver => {
                        if let Some(b) = held.take() {
                            delivered.extend(texts(&b));
                            spool.delivered();
                        }
                    }
                    Op::Restart => {
                        spool.abandon(held.take().unwrap_or_default());
                        drop(spool);
                        spool = open();
                    }
                    Op::Take(_) => {}
                }
            }
            if let Some(b) = held.take() {
                delivered.extend(texts(&b));
                spool.delivered();
            }
            delivered.extend(drain(&spool, 100));
            let got: Vec<usize> = delivered.iter().map(|t| t.trim().parse().unwrap()).collect();
            proptest::prop_assert_eq!(got, (0..pushed).collect::<Vec<_>>());
        }
    }

    #[test]
    fn one_process_per_directory() {
        let (_tmp, d) = dir("lock");
        let _first = Spool::open(Some(&d), 1 << 20, 8, Arc::default()).unwrap();
        let err = Spool::open(Some(&d), 1 << 20, 8, Arc::default()).err().unwrap();
        assert!(err.to_string().contains("in use by another logscrub"), "{err}");
    }
}
