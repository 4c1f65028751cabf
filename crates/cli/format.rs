//! Input formats of line-based inputs (stdin, files, TCP lines): raw text,
//! JSON lines, Kubernetes CRI log lines, Docker `json-file` lines, or
//! `auto` (decided per line).
//!
//! A [`Scrubber`] turns the bytes of one source into scrubbed bytes, line
//! by line, keeping each format valid:
//! - raw text goes through the engine's [`Stream`] (windows for long lines,
//!   private-key blocks across lines);
//! - JSON: string values (and keys) are scrubbed, values under secret-named
//!   keys are masked whole, and the line stays valid JSON;
//! - CRI and Docker: only the message is scrubbed; partial records (`P`
//!   tags, Docker's lines without a newline) are joined per stream before
//!   scrubbing, so a secret split across them is seen whole.
//!
//! A structured line with nothing to mask comes out byte for byte as it
//! came: the lines of a read are screened together (`bulk`), and a line
//! taken on its own gets the same decision (`write_as_is`), so the output
//! never depends on how the input was read.
//!
//! Fail closed: a structured line that does not parse, or is longer than
//! the maximum line, is scrubbed as raw text and counted.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Read, Write};

use logscrub::{Redactor, Stats, Stream, FIELD_MASK};

use crate::blocks::{self, Blocks};
use crate::json_screen;
use crate::pieces::Scrub;
use serde::Deserialize;
use serde_json::Value;

/// How the lines of an input are framed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Plain text lines.
    #[default]
    Raw,
    /// One JSON value per line.
    Json,
    /// Kubernetes CRI container log lines: `TIME STREAM P|F MESSAGE`.
    Cri,
    /// Docker `json-file` lines: `{"log":...,"stream":...,"time":...}`.
    Docker,
    /// Decided per line: JSON (Docker when it has `log` and `stream`), CRI,
    /// else raw.
    Auto,
}

/// Counts a [`Scrubber`] keeps beside the engine's [`Stats`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FormatCounts {
    /// Values masked whole because their key names a secret.
    pub fields_masked: u64,
    /// Structured lines that did not parse and were scrubbed as raw text.
    pub malformed: u64,
    /// Structured lines longer than the maximum, scrubbed as raw text.
    pub long_records: u64,
}

/// Scrubs the bytes of one source in one format. Feed it bytes as they
/// come; it writes complete scrubbed lines to the `out` buffer given.
pub struct Scrubber {
    redactor: Redactor,
    format: Format,
    /// Raw text, and the fallback for lines that are not what the format
    /// says.
    raw: Stream<Vec<u8>>,
    /// A structured line whose newline has not come.
    line: Vec<u8>,
    /// The current structured line outgrew the maximum: the rest of it goes
    /// to `raw`.
    overlong: bool,
    /// Partial CRI / Docker records, per format and stream name.
    partials: HashMap<(Joined, Vec<u8>), Partial>,
    /// Pieces joined so far, to order the open lines.
    pieces: u64,
    stats: Stats,
    /// The counts of the values of structured records, each value counted
    /// as a line by the engine: only their findings are kept (a record is
    /// counted as one line in `stats`).
    values: Stats,
    counts: FormatCounts,
    /// The decoded text of a JSON line with escapes (`json_screen`).
    decoded: logscrub::Batch,
    /// A rule with the `drop` mask matched a value of the current record:
    /// the record is not written.
    dropped: bool,
    /// Key blocks that a JSON record's field opened (see [`Blocks`]).
    blocks: Blocks,
}

/// The fields of a Docker `json-file` line that decide whether it is a
/// whole line (others are ignored).
#[derive(Deserialize)]
struct DockerHead<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
}

/// The formats whose partial records are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Joined {
    Cri,
    Docker,
}

/// A CRI or Docker stream whose current line is being joined.
struct Partial {
    text: Stream<Vec<u8>>,
    /// The time of the first piece of the current line.
    time: Option<Vec<u8>>,
    /// When the current line opened, in pieces joined: open lines are
    /// ended oldest first.
    opened: u64,
}

impl Scrubber {
    /// A scrubber for one source.
    pub fn new(redactor: &Redactor, format: Format) -> Scrubber {
        Scrubber {
            raw: redactor.stream(Vec::new()),
            stats: redactor.empty_stats(),
            values: redactor.empty_stats(),
            redactor: redactor.clone(),
            format,
            line: Vec::new(),
            overlong: false,
            partials: HashMap::new(),
            pieces: 0,
            counts: FormatCounts::default(),
            decoded: logscrub::Batch::new(),
            dropped: false,
            blocks: Blocks::default(),
        }
    }

    /// Scrubs `data` and appends every line it completes to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self.format {
            Format::Raw => self.raw_text(data, out),
            Format::Json | Format::Docker | Format::Cri | Format::Auto => {
                // The line held from the last read ends first.
                let held = match memchr::memchr(b'\n', data) {
                    Some(i) if !self.line.is_empty() || self.overlong => i + 1,
                    _ => 0,
                };
                self.feed_lines(&data[..held], out);
                let rest = self.bulk(&data[held..], out);
                self.feed_lines(rest, out);
            }
        }
    }

    /// The whole lines of `data` that need no work go straight through,
    /// unchanged, found in one prefilter pass over the read rather than one
    /// per line; the others go through `feed_lines`. Returns what follows
    /// the last newline. A line needs no work when the text that would be
    /// scrubbed holds no trigger (JSON and Docker: the raw line, and its
    /// values decoded; CRI: the message; `auto`: as the line's own format,
    /// raw text included) and its stream (CRI, Docker, raw) has no partial
    /// line or multi-line block open.
    fn bulk<'d>(&mut self, data: &'d [u8], out: &mut Vec<u8>) -> &'d [u8] {
        if !self.line.is_empty() || self.overlong {
            return data;
        }
        let Some(last) = memchr::memrchr(b'\n', data) else { return data };
        let (region, rest) = data.split_at(last + 1);
        let ends: Vec<usize> = memchr::memchr_iter(b'\n', region).collect();
        let bodies: Vec<&[u8]> =
            ends.iter().scan(0, |start, &end| Some(&region[std::mem::replace(start, end + 1)..end])).collect();
        let formats: Vec<Format> = match self.format {
            Format::Auto => bodies.iter().map(|b| sniff(b)).collect(),
            f => vec![f; ends.len()],
        };
        let mut suspect = vec![false; ends.len()];
        if formats.iter().any(|&f| f != Format::Cri) {
            for i in self.redactor.suspect_lines(region) {
                suspect[i] |= formats[i] != Format::Cri;
            }
        }
        if formats.contains(&Format::Cri) {
            // A CRI message is scrubbed as a line of its own (`^` holds at
            // its start): screened alone.
            let mut messages = logscrub::Batch::new();
            for (body, &format) in bodies.iter().zip(&formats) {
                let message = split_cri(body).filter(|_| format == Format::Cri).map(|(.., message)| message);
                messages.push(message.unwrap_or_default());
            }
            for i in self.redactor.suspects(&messages) {
                suspect[i] |= formats[i] == Format::Cri;
            }
        }
        let max_line = self.redactor.max_line();
        let candidate = |i: usize| !suspect[i] && bodies[i].len() <= max_line;
        // JSON and Docker: each line's own check, the decoded values of
        // every line screened in one pass.
        let mut clean = vec![true; ends.len()];
        let json = |i: usize| matches!(formats[i], Format::Json | Format::Docker);
        let (escaped, plain): (Vec<usize>, Vec<usize>) = (0..ends.len())
            .filter(|&i| json(i) && candidate(i))
            .partition(|&i| memchr::memchr(b'\\', bodies[i]).is_some());
        for i in plain {
            clean[i] = !has_secret_key(bodies[i]);
        }
        let screened = self.decoded_clean(escaped.iter().map(|&i| bodies[i]));
        for (i, ok) in escaped.into_iter().zip(screened) {
            clean[i] = ok;
        }
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let (piece, body) = (&region[start..=end], bodies[i]);
            // Streams are checked in order: a line before may open one.
            let passes = if candidate(i) && clean[i] { self.passes(formats[i], body) } else { None };
            match passes {
                Some(bytes) => {
                    self.stats.count_line(bytes, false);
                    out.extend_from_slice(piece);
                }
                None => self.feed_lines(piece, out),
            }
            start = end + 1;
        }
        rest
    }

    /// For [`Scrubber::bulk`], a line whose scrubbed text has no trigger
    /// and (JSON, Docker) whose decoded values are clean: whether it comes
    /// out unchanged, as the bytes it counts for (what the slow path would
    /// count), or `None` when it needs the slow path.
    fn passes(&mut self, format: Format, line: &[u8]) -> Option<usize> {
        match format {
            // A line that is not JSON goes to the raw stream, which may
            // have a key block open, and a record's field may be in one.
            Format::Json => (self.raw.at_rest() && self.blocks.is_empty()).then_some(line.len()),
            Format::Docker => {
                // A whole line (a partial has no newline at the end of its
                // log) on a stream with nothing open, and its other fields
                // clean.
                let head = serde_json::from_slice::<DockerHead>(line).ok()?;
                let whole = head.log.ends_with('\n') && matches!(&*head.stream, "stdout" | "stderr");
                (whole && self.at_rest(Joined::Docker, head.stream.as_bytes())).then_some(head.log.len())
            }
            Format::Cri => {
                let (_, stream, tag, message) = split_cri(line)?;
                (tag == b"F" && self.at_rest(Joined::Cri, stream)).then_some(message.len() + 1)
            }
            // Only `auto` sends raw lines here (a raw input is a stream).
            Format::Raw => self.raw.at_rest().then_some(line.len() + 1),
            Format::Auto => None,
        }
    }

    /// Whether nothing is held or open anywhere: no line waiting for its
    /// newline, no partial record, no key block in any stream. A new
    /// scrubber would go on from here the same.
    pub fn is_at_rest(&self) -> bool {
        self.line.is_empty()
            && !self.overlong
            && self.blocks.is_empty()
            && self.raw.at_rest()
            && self.partials.values().all(|p| p.time.is_none() && p.text.at_rest())
    }

    /// Whether `stream` of a CRI or Docker input has nothing open: no
    /// partial line waiting for its end, no private-key block.
    fn at_rest(&self, kind: Joined, stream: &[u8]) -> bool {
        self.partials.iter().all(|((k, s), p)| *k != kind || s != stream || p.time.is_none() && p.text.at_rest())
    }

    /// Scrubs `data` line by line, holding a line that does not end.
    fn feed_lines(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while !rest.is_empty() {
            let newline = memchr::memchr(b'\n', rest);
            let take = newline.map_or(rest.len(), |i| i + 1);
            let (piece, tail) = rest.split_at(take);
            rest = tail;
            if self.overlong {
                self.raw_text(piece, out);
                self.overlong = newline.is_none();
                continue;
            }
            let body = &piece[..piece.len() - usize::from(newline.is_some())];
            if self.line.len() + body.len() > self.redactor.max_line() {
                // Too long to parse, whether it came in one read or many:
                // raw text from here, windows and all.
                self.counts.long_records += 1;
                let held = std::mem::take(&mut self.line);
                self.raw_text(&held, out);
                self.raw_text(piece, out);
                self.overlong = newline.is_none();
                continue;
            }
            if newline.is_none() {
                self.line.extend_from_slice(body);
                continue;
            }
            if self.line.is_empty() {
                self.structured(body, out);
            } else {
                let mut held = std::mem::take(&mut self.line);
                held.extend_from_slice(body);
                self.structured(&held, out);
                held.clear();
                self.line = held;
            }
        }
    }

    /// Scrubs a last line with no newline and flushes every partial record.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.overlong {
            self.raw_text(b"\n", out);
            self.overlong = false;
        }
        if !self.line.is_empty() {
            let held = std::mem::take(&mut self.line);
            self.structured(&held, out);
        }
        // Lines still open end here, in their own format.
        let mut open: Vec<(u64, Joined, Vec<u8>)> = self
            .partials
            .iter()
            .filter(|(_, p)| p.time.is_some())
            .map(|((k, s), p)| (p.opened, *k, s.clone()))
            .collect();
        open.sort_unstable_by_key(|(opened, ..)| *opened);
        for (_, kind, stream) in open {
            let Some((text, first)) = self.join(kind, &stream, b"", b"", true) else { continue };
            match kind {
                Joined::Cri => cri_record(&first, &stream, true, &text, out),
                Joined::Docker => {
                    let mut rest = serde_json::Map::new();
                    rest.insert("stream".into(), Value::String(String::from_utf8_lossy(&stream).into_owned()));
                    docker_record(rest, &first, &text, true, out);
                }
            }
        }
        let raw = std::mem::replace(&mut self.raw, self.redactor.stream(Vec::new()));
        if let Ok((text, stats)) = raw.finish() {
            out.extend_from_slice(&text);
            self.stats.merge(&stats);
        }
    }

    /// The engine's counts since the last call, and the format's.
    pub fn take_counts(&mut self) -> (Stats, FormatCounts) {
        let mut stats = std::mem::replace(&mut self.stats, self.redactor.empty_stats());
        stats.merge_findings(&std::mem::replace(&mut self.values, self.redactor.empty_stats()));
        stats.merge(&self.raw.take_stats());
        for p in self.partials.values_mut() {
            stats.merge(&p.text.take_stats());
        }
        (stats, std::mem::take(&mut self.counts))
    }

    fn raw_text(&mut self, data: &[u8], out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail; the stream masks or drops on its own errors.
        let _ = self.raw.write_all(data);
        out.append(self.raw.get_mut());
    }

    /// A whole line scrubbed as plain text, its newline restored.
    fn raw_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        self.raw_text(line, out);
        self.raw_text(b"\n", out);
    }

    /// One complete line (without its newline) of a structured format.
    fn structured(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let format = match self.format {
            Format::Auto => sniff(line),
            f => f,
        };
        if self.write_as_is(format, line, out) {
            return;
        }
        match format {
            Format::Json => self.json_parsed(line, out),
            Format::Docker => self.docker_line(line, out),
            Format::Cri => self.cri_line(line, out),
            Format::Raw | Format::Auto => {
                self.raw_line(line, out);
            }
        }
    }

    /// A line (without its newline) that comes out unchanged, checked on
    /// its own: what [`Scrubber::bulk`] lets through for a whole read, and
    /// more (a trigger without a match). Both paths decide alike, so the
    /// output does not depend on how the input was read. Writes and counts
    /// it, or returns false.
    fn write_as_is(&mut self, format: Format, line: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(bytes) = self.passes(format, line) else { return false };
        let scrubbed = match format {
            Format::Cri => split_cri(line).map_or(line, |(.., message)| message),
            _ => line,
        };
        let json = matches!(format, Format::Json | Format::Docker);
        if json && !self.json_clean(line) || !matches!(self.redactor.redact(scrubbed), std::borrow::Cow::Borrowed(_)) {
            return false;
        }
        // A line that opens a key block is unchanged itself, but the lines
        // after it are masked: its stream must see it.
        if blocks::opens_a_block(&self.redactor, scrubbed) {
            return false;
        }
        self.stats.count_line(bytes, false);
        out.extend_from_slice(line);
        out.push(b'\n');
        true
    }

    /// A JSON line: unchanged when it holds nothing to mask, else parsed.
    fn json_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if !self.write_as_is(Format::Json, line, out) {
            self.json_parsed(line, out);
        }
    }

    /// A JSON line parsed, scrubbed value by value and written again (or
    /// scrubbed as text when it does not parse).
    fn json_parsed(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Ok(mut value) = serde_json::from_slice::<Value>(line) else {
            self.counts.malformed += 1;
            self.raw_line(line, out);
            return;
        };
        let before = (self.counts.fields_masked, self.values.masked_lines());
        if let Value::Object(fields) = &mut value {
            for (name, field) in fields.iter_mut() {
                let Value::String(text) = field else { continue };
                if let Some(masked) = self.blocks.line(&self.redactor, ("", name), text.as_bytes(), &mut self.values) {
                    *text = masked;
                }
            }
        }
        self.scrub_value(&mut value, false);
        self.write_json(&value, out);
        self.dropped = false;
        let masked = (self.counts.fields_masked, self.values.masked_lines()) != before;
        self.stats.count_line(line.len(), masked);
    }

    /// The engine on one key or value of a record: the masked text, or
    /// `None` when unchanged or when a `drop` rule matched (the record is
    /// then marked dropped).
    fn redact_value(&mut self, text: &[u8]) -> Option<String> {
        match self.redactor.redact_counted(text, &mut self.values) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(m) if m.is_empty() => {
                self.dropped = true;
                None
            }
            std::borrow::Cow::Owned(m) => Some(String::from_utf8_lossy(&m).into_owned()),
        }
    }

    /// Whether a JSON line has no secret-named key and, when it has escapes
    /// (which could hide text from a scan of the raw bytes), nothing to
    /// mask once decoded. What the raw text holds is the caller's to check.
    fn json_clean(&mut self, line: &[u8]) -> bool {
        match memchr::memchr(b'\\', line) {
            None => !has_secret_key(line),
            Some(_) => self.decoded_clean([line]).pop().unwrap_or(false),
        }
    }

    /// For each JSON line: whether, decoded, it holds nothing to mask: it
    /// is one JSON value, no key names a secret, and the engine changes no
    /// decoded key, string or number. The values of every line go through
    /// the prefilter together. What the raw text holds is the caller's to
    /// check.
    fn decoded_clean<'l>(&mut self, lines: impl IntoIterator<Item = &'l [u8]>) -> Vec<bool> {
        self.decoded.clear();
        // Per line: where its values end in the batch, and whether it parsed
        // with no secret-named key.
        let mut lines: Vec<(usize, bool)> = lines
            .into_iter()
            .map(|line| {
                let ok = json_screen::screen(line, &mut self.decoded) == Some(false);
                (self.decoded.len(), ok)
            })
            .collect();
        let decoded = &self.decoded;
        for i in self.redactor.suspects(decoded) {
            let line = lines.partition_point(|&(end, _)| end <= i);
            let value = decoded.get(i).unwrap_or_default();
            if lines[line].1 && !matches!(self.redactor.redact(value), std::borrow::Cow::Borrowed(_)) {
                lines[line].1 = false;
            }
        }
        lines.into_iter().map(|(_, ok)| ok).collect()
    }

    /// Serializes a scrubbed value, then scrubs the text once more: a rule
    /// that needs a key and its value together (`"pass":"..."`) sees them
    /// only here.
    fn write_json(&mut self, value: &Value, out: &mut Vec<u8>) {
        if self.dropped {
            return;
        }
        let text = serde_json::to_vec(value).unwrap_or_default();
        let mut masked = self.redactor.redact_counted(&text, &mut self.values);
        // A match across the text's structure (a key that reads
        // `password=`, then `":"`) would break the JSON: the record's
        // scalars are then all masked instead, as under a secret-named
        // key, and it stays JSON.
        if matches!(&masked, Cow::Owned(m) if !m.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(m).is_err())
        {
            let mut all = value.clone();
            self.scrub_value(&mut all, true);
            masked = Cow::Owned(serde_json::to_vec(&all).unwrap_or_default());
        }
        if !masked.is_empty() {
            out.extend_from_slice(&masked);
            out.push(b'\n');
        }
    }

    /// Masks every string and number that a rule covers, and every scalar
    /// under a secret-named key.
    fn scrub_value(&mut self, value: &mut Value, secret: bool) {
        if self.dropped {
            // The record goes: the rest need not be scrubbed.
            return;
        }
        match value {
            Value::String(s) if secret && !s.is_empty() => {
                *s = FIELD_MASK.to_string();
                self.counts.fields_masked += 1;
            }
            Value::Number(_) if secret => {
                *value = Value::String(FIELD_MASK.to_string());
                self.counts.fields_masked += 1;
            }
            Value::String(s) => {
                if let Some(m) = self.redact_value(s.as_bytes()) {
                    *s = m;
                }
            }
            Value::Number(n) => {
                if let Some(m) = self.redact_value(n.to_string().as_bytes()) {
                    *value = Value::String(m);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v, secret)),
            Value::Object(map) => {
                // Keys that hold secrets because of another key's value (a
                // Secret's data, the value of a secret name/value pair).
                let beside: Vec<&str> = map
                    .iter()
                    .filter_map(|(k, v)| Some(logscrub::secret_keys_beside(k.as_bytes(), v.as_str()?.as_bytes())))
                    .flatten()
                    .copied()
                    .collect();
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    let mut key_secret = secret || logscrub::is_secret_field(&key) || beside.contains(&key.as_str());
                    let mut key = self.redact_value(key.as_bytes()).unwrap_or(key);
                    // The key as written counts too, so that scrubbing the
                    // output again masks nothing more.
                    key_secret |= logscrub::is_secret_field(&key);
                    self.scrub_value(&mut v, key_secret);
                    // Two keys masked alike must not overwrite each other.
                    if map.contains_key(&key) {
                        let n = (2..).find(|n| !map.contains_key(&format!("{key}#{n}"))).expect("unbounded");
                        key = format!("{key}#{n}");
                    }
                    map.insert(key, v);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn docker_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let parsed = serde_json::from_slice::<Value>(line).ok();
        let Some(Value::Object(mut map)) = parsed else {
            return self.json_line(line, out);
        };
        // Docker writes stdout and stderr only; other streams are plain
        // JSON, so that a client cannot open unbounded partial lines.
        let stream = match map.get("stream") {
            Some(Value::String(s)) if s == "stdout" || s == "stderr" => s.clone(),
            _ => return self.json_line(line, out),
        };
        // Removed in place: the other fields keep their order.
        let Some(Value::String(log)) = map.shift_remove("log") else { return self.json_line(line, out) };
        let time = match map.get("time") {
            Some(Value::String(t)) => t.clone().into_bytes(),
            _ => Vec::new(),
        };
        let piece = log.strip_suffix('\n');
        let ends = piece.is_some();
        let Some((text, first)) =
            self.join(Joined::Docker, stream.as_bytes(), &time, piece.unwrap_or(&log).as_bytes(), ends)
        else {
            return;
        };
        // The other fields (attrs, ...) are scrubbed like any JSON.
        let mut rest = Value::Object(map);
        // Its findings count; the line itself is counted by its stream.
        self.scrub_value(&mut rest, false);
        if std::mem::take(&mut self.dropped) {
            return;
        }
        let Value::Object(rest) = rest else { return };
        docker_record(rest, &first, &text, ends, out);
    }

    fn cri_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Some((time, stream, tag, message)) = split_cri(line) else {
            self.counts.malformed += 1;
            self.raw_line(line, out);
            return;
        };
        self.cri_piece(time, stream, tag, message, out);
    }

    /// Joins a CRI piece to its stream's line; writes what the engine
    /// released, as `F` when the line ended, else as `P`.
    fn cri_piece(&mut self, time: &[u8], stream: &[u8], tag: &[u8], message: &[u8], out: &mut Vec<u8>) {
        let ends = tag == b"F";
        if let Some((text, first)) = self.join(Joined::Cri, stream, time, message, ends) {
            cri_record(&first, stream, ends, &text, out);
        }
    }

    /// Joins a piece (without its newline) to its stream's current line,
    /// through the engine's stream, so a secret split across pieces is seen
    /// whole. Returns what the engine released (without the line's newline)
    /// and the time of the line's first piece; `None` when it released
    /// nothing (the line goes on, or a `drop` mask dropped it).
    fn join(
        &mut self,
        kind: Joined,
        stream: &[u8],
        time: &[u8],
        piece: &[u8],
        ends: bool,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let redactor = &self.redactor;
        let p = self.partials.entry((kind, stream.to_vec())).or_insert_with(|| Partial {
            text: redactor.stream(Vec::new()),
            time: None,
            opened: 0,
        });
        if p.time.is_none() {
            p.time = Some(time.to_vec());
            p.opened = self.pieces;
        }
        self.pieces += 1;
        let first = p.time.clone().unwrap_or_default();
        let _ = p.text.write_all(piece);
        if ends {
            let _ = p.text.write_all(b"\n");
            p.time = None;
        }
        let mut text = std::mem::take(p.text.get_mut());
        if text.is_empty() {
            return None;
        }
        if ends {
            text.pop();
        }
        Some((text, first))
    }
}

/// `TIME STREAM F|P MESSAGE`.
fn cri_record(time: &[u8], stream: &[u8], ends: bool, text: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(time);
    out.push(b' ');
    out.extend_from_slice(stream);
    out.extend_from_slice(if ends { b" F " } else { b" P " });
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// A Docker `json-file` line: `log` first (with its newline when the line
/// ended), then the other fields, the time of the line's first piece.
fn docker_record(rest: serde_json::Map<String, Value>, time: &[u8], text: &[u8], ends: bool, out: &mut Vec<u8>) {
    let mut log = String::from_utf8_lossy(text).into_owned();
    if ends {
        log.push('\n');
    }
    let mut entry = serde_json::Map::new();
    entry.insert("log".into(), Value::String(log));
    entry.extend(rest);
    if !time.is_empty() {
        entry.insert("time".into(), Value::String(String::from_utf8_lossy(time).into_owned()));
    }
    // Serializing a map of strings cannot fail.
    let _ = serde_json::to_writer(&mut *out, &Value::Object(entry));
    out.push(b'\n');
}

/// The parts of a CRI line: time, stream, tag, message.
type CriParts<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

/// `TIME STREAM TAG MESSAGE`, where TAG is `P` or `F` (or `F:...` flags).
fn split_cri(line: &[u8]) -> Option<CriParts<'_>> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let message = parts.next().unwrap_or_default();
    let ok_time = time.len() >= 20 && time[0].is_ascii_digit() && time.get(4) == Some(&b'-');
    let ok_stream = stream == b"stdout" || stream == b"stderr";
    let tag = tag.split(|&b| b == b':').next()?;
    (ok_time && ok_stream && (tag == b"P" || tag == b"F")).then_some((time, stream, tag, message))
}

/// The format of one line, for `auto`.
fn sniff(line: &[u8]) -> Format {
    let trimmed = line.trim_ascii_start();
    if trimmed.first() == Some(&b'{') {
        let docker =
            memchr::memmem::find(line, b"\"log\"").is_some() && memchr::memmem::find(line, b"\"stream\"").is_some();
        return if docker { Format::Docker } else { Format::Json };
    }
    if split_cri(line).is_some() {
        return Format::Cri;
    }
    Format::Raw
}

/// A [`Scrubber`] and its output, for the filter's threads, which scrub
/// the pieces of one input in parallel and write them in order.
pub struct FormatStream {
    scrubber: Scrubber,
    out: Vec<u8>,
}

impl FormatStream {
    pub fn new(redactor: &Redactor, format: Format, out: Vec<u8>) -> FormatStream {
        FormatStream { scrubber: Scrubber::new(redactor, format), out }
    }
}

impl Scrub for FormatStream {
    fn feed(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.scrubber.feed(data, &mut self.out);
        Ok(())
    }

    fn at_rest(&self) -> bool {
        self.scrubber.is_at_rest()
    }

    fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    fn finish(mut self) -> std::io::Result<(Vec<u8>, Stats, Vec<logscrub::Masked>)> {
        self.scrubber.finish(&mut self.out);
        Ok((self.out, self.scrubber.take_counts().0, Vec::new()))
    }
}

/// Scrubs everything `input` yields into `out` in `format`, flushing `out`
/// after each read so that a live pipe stays live.
pub fn scrub_reader(
    redactor: &Redactor,
    format: Format,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> std::io::Result<Stats> {
    if format == Format::Raw {
        return redactor.redact_reader(input, out);
    }
    let mut scrubber = Scrubber::new(redactor, format);
    let mut buf = vec![0; 256 * 1024];
    let mut text = Vec::new();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
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

/// Whether a JSON line with no backslash has a key that names a secret,
/// or a key whose value puts secrets under other keys (a Kubernetes
/// Secret's `kind`, a secret name/value pair's name). Without escapes a
/// string cannot hold a quote, so a quote followed by `:` ends a key, and
/// the quote before it starts that key.
fn has_secret_key(line: &[u8]) -> bool {
    memchr::memchr_iter(b':', line).any(|colon| {
        let Some(key) = line[..colon].trim_ascii_end().strip_suffix(b"\"") else { return false };
        let key = &key[memchr::memrchr(b'"', key).map_or(0, |q| q + 1)..];
        let beside = || {
            let value = line[colon + 1..].trim_ascii_start().strip_prefix(b"\"").unwrap_or_default();
            let value = &value[..memchr::memchr(b'"', value).unwrap_or(0)];
            !logscrub::secret_keys_beside(key, value).is_empty()
        };
        logscrub::is_secret_field(&String::from_utf8_lossy(key)) || logscrub::reads_value_beside(key) && beside()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(format: Format, input: &str) -> String {
        scrub_with(&Redactor::new(), format, input)
    }

    fn scrub_with(redactor: &Redactor, format: Format, input: &str) -> String {
        let mut s = Scrubber::new(redactor, format);
        let mut out = Vec::new();
        s.feed(input.as_bytes(), &mut out);
        s.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_drop_rule_drops_the_whole_record_whatever_holds_the_match() {
        let dropping = Redactor::builder().mask("password-assignment", logscrub::Mask::Drop).build().unwrap();
        let secret = "password=hunter2hunter2";
        let lines = [
            format!(r#"{{"msg":"{secret}"}}"#),
            format!(r#"{{"m\u0073g":"{secret}","k":"v"}}"#),
            format!(r#"{{"{secret}":1}}"#),
            format!(r#"{{"a":["x",{{"b":"{secret}"}}]}}"#),
            secret.to_string(),
            format!(r#"{{"log":"ok\n","stream":"stdout","attrs":{{"a":"{secret}"}}}}"#),
            format!(r#"{{"log":"{secret}\n","stream":"stdout"}}"#),
        ];
        for format in [Format::Json, Format::Auto] {
            for line in &lines {
                let input = format!("{{\"n\":1}}\n{line}\n{{\"n\":2}}\n");
                assert_eq!(scrub_with(&dropping, format, &input), "{\"n\":1}\n{\"n\":2}\n", "{format:?}: {line}");
            }
        }
        // A field named like a secret is masked, not dropped.
        assert_eq!(
            scrub_with(&dropping, Format::Json, "{\"password\":\"x\"}\n"),
            "{\"password\":\"[REDACTED:field]\"}\n"
        );
    }

    #[test]
    fn a_json_line_with_escapes_and_nothing_to_mask_comes_out_unchanged() {
        // Not re-serialized: escapes, spacing and order stay as they were.
        for line in [
            r#"{"msg":"a \"quoted\"\tword\n", "path":"C:\\x", "url":"https:\/\/example.com\/a"}"#,
            r#"["\u00e9", 1.50]"#,
        ] {
            assert_eq!(scrub(Format::Json, &format!("{line}\n")), format!("{line}\n"));
        }
        // What escapes hide is still found.
        let hidden = r#"{"msg":"\u0070assword=hunter2hunter2","u":"https:\/\/bob:s3cretpw@db.example.com\/x"}"#;
        let out = scrub(Format::Json, &format!("{hidden}\n"));
        assert!(out.contains("[REDACTED:password-assignment]") && !out.contains("s3cretpw"), "{out}");
    }

    /// A JSON string literal for `text`, each character escaped or not as
    /// `escapes` says (`\uXXXX`, `\/`), the way other serializers write.
    fn literal(text: &str, escapes: &[bool]) -> String {
        let mut out = String::from("\"");
        for (c, &esc) in text.chars().zip(escapes.iter().cycle()) {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '/' if esc => out.push_str("\\/"),
                c if esc && (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A line that the fast path lets through unchanged is one that
        /// parsing and scrubbing would not change either: what escapes
        /// hide is found.
        #[test]
        fn escapes_never_hide_what_parsing_would_mask(
            pairs in proptest::collection::vec((0usize..8, 0usize..12), 1..5),
            escapes in proptest::collection::vec(proptest::bool::weighted(0.2), 2..40),
        ) {
            const KEYS: [&str; 8] = ["msg", "password", "user", "url", "n", "api_key", "a/b", "note"];
            const VALUES: [&str; 12] = [
                "GET /health 200", "password=hunter2hunter2", "jane.doe@example.com", "4111 1111 1111 1111",
                "https://bob:s3cretpw@db.example.com/x", "Authorization: Bearer abcdefghijklmnop1234", "ok\n",
                "C:\\app\\x", "say \"hi\"", "token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "",
            ];
            let body: Vec<String> = pairs
                .iter()
                .map(|&(k, v)| format!("{}:{}", literal(KEYS[k], &escapes), literal(VALUES[v], &escapes[1..])))
                .collect();
            let line = format!("{{{}}}", body.join(","));
            static REDACTOR: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
            let redactor = REDACTOR.get_or_init(Redactor::new);
            let fast = scrub_with(redactor, Format::Json, &format!("{line}\n"));
            let mut slow = Vec::new();
            Scrubber::new(redactor, Format::Json).json_parsed(line.as_bytes(), &mut slow);
            let parse = |t: &[u8]| serde_json::from_slice::<Value>(t).unwrap();
            proptest::prop_assert_eq!(parse(fast.as_bytes()), parse(&slow), "{}", line);
        }
    }

    #[test]
    fn a_match_across_the_json_structure_masks_the_record_and_keeps_it_json() {
        // A text scan of the serialized record sees `mysql -uroot -p","n`:
        // a quoted password that opens at the value's end and runs on into
        // the next key. (A fuzz target found the first such record, a key
        // that reads `msgpassword=` and then `":"`; a separator alone is
        // no password any more.)
        let out = scrub(Format::Json, "{\"cmd\":\"mysql -uroot -p\",\"n\":[1,true]}\n");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v, serde_json::json!({"cmd": FIELD_MASK, "n": [FIELD_MASK, true]}));
    }

    #[test]
    fn json_lines_read_together_or_one_by_one_come_out_the_same() {
        let lines = [
            r#"{"ts": "2024-05-01T10:00:00Z", "msg": "GET /health 200", "n": 1}"#,
            r#"{"msg": "AppWindowToken{df0798e token=Token{78af589}}", "level": "info"}"#,
            r#"{"msg": "login password=hunter2hunter2 ok"}"#,
            r#"{"user": "jane", "api_key" : "abc123"}"#,
            r#"{"msg": "quoted "password": x", "k": "v"}"#,
            r#"{"msg": "token: not a key", "session": null}"#,
            "not json at all",
            "",
            r#"{"msg": "Authorization: Bearer abcdefghijklmnop1234"}"#,
        ];
        let text = lines.join("\n") + "\n";
        let redactor = Redactor::new();
        // One read, cut anywhere, or a line at a time.
        let mut whole = Vec::new();
        let mut s = Scrubber::new(&redactor, Format::Json);
        s.feed(text.as_bytes(), &mut whole);
        s.finish(&mut whole);
        for cut in [1, 37, 100, text.len() - 1] {
            let mut out = Vec::new();
            let mut s = Scrubber::new(&redactor, Format::Json);
            s.feed(&text.as_bytes()[..cut], &mut out);
            s.feed(&text.as_bytes()[cut..], &mut out);
            s.finish(&mut out);
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&whole), "cut at {cut}");
        }
        let mut one_by_one = Vec::new();
        let mut s = Scrubber::new(&redactor, Format::Json);
        for l in &lines {
            s.feed(format!("{l}\n").as_bytes(), &mut one_by_one);
        }
        s.finish(&mut one_by_one);
        assert_eq!(String::from_utf8_lossy(&one_by_one), String::from_utf8_lossy(&whole));
        let out = String::from_utf8(whole).unwrap();
        let got: Vec<&str> = out.lines().collect();
        // Clean lines, a name in a value included, come out byte-identical.
        assert_eq!(got[0], lines[0]);
        assert_eq!(got[1], lines[1]);
        assert_eq!(got[2], r#"{"msg":"login password=[REDACTED:password-assignment] ok"}"#);
        assert_eq!(got[3], r#"{"user":"jane","api_key":"[REDACTED:field]"}"#);
        assert_eq!(got[5], r#"{"msg":"token: not a key","session":null}"#);
        assert_eq!(got[6], "not json at all");
        assert!(!out.contains("hunter2") && !out.contains("abc123") && !out.contains("abcdefghijklmnop1234"), "{out}");
    }

    #[test]
    fn a_secret_key_is_a_string_followed_by_a_colon() {
        assert!(has_secret_key(br#"{"password":"x"}"#));
        assert!(has_secret_key(br#"{"a":1, "DB_Password" : "x"}"#));
        assert!(has_secret_key(br#"{"nested":{"x-api-key":"v"}}"#));
        assert!(!has_secret_key(br#"{"msg":"token: abc"}"#));
        assert!(!has_secret_key(br#"{"msg":"password","user":"token"}"#));
        assert!(!has_secret_key(br#"{"ts":"10:00:00","level":"info"}"#));
        assert!(has_secret_key(br#"{"o":{"kind": "Secret","data":{"a":"b"}}}"#));
        assert!(!has_secret_key(br#"{"kind":"ConfigMap","msg":"kind: Secret"}"#));
        assert!(has_secret_key(br#"{"env":[{"name": "DB_PASSWORD","value":"x"}]}"#));
        assert!(!has_secret_key(br#"{"env":[{"name":"LOG_LEVEL","value":"debug"}]}"#));
    }

    /// Name/value pairs whose name is a secret's (pod env entries, HAR
    /// headers, CloudFormation parameters): the value is masked whole in
    /// any key order, with escapes or without; other pairs are kept, and a
    /// `valueFrom` is not a value.
    #[test]
    fn the_value_of_a_secret_name_value_pair_is_masked_in_json_records() {
        let input = concat!(
            r#"{"env":[{"value":"Zx9vT4qLm2","name":"DB_PASSWORD"},{"name":"LOG_LEVEL","value":"debug"}]}"#,
            "\n",
            r#"{"Parameters":[{"ParameterValue":"t0k3n\/Zx9","ParameterKey":"ApiToken"},{"ParameterKey":"Env","ParameterValue":"prod"}]}"#,
            "\n",
            r#"{"entries":[{"request":{"headers":[{"name":"Cookie","value":"sid=abc"},{"name":"Accept","value":"*/*"}]}}]}"#,
            "\n",
            r#"{"env":[{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"key":"password","name":"db"}}}]}"#,
            "\n",
        );
        let out = scrub(Format::Json, input);
        for secret in ["Zx9vT4qLm2", "t0k3n", "sid=abc"] {
            assert!(!out.contains(secret), "{out}");
        }
        for kept in ["debug", "prod", "*/*", "valueFrom"] {
            assert!(out.contains(kept), "{kept}: {out}");
        }
        // `secretKeyRef` is a secret's name: what is under it is masked too.
        assert_eq!(out.matches(FIELD_MASK).count(), 5, "{out}");
    }

    /// A Kubernetes Secret parsed from a JSON record (an audit event): the
    /// values under its `data` and `stringData` are masked whole whatever
    /// their keys, its other fields and other kinds' `data` are not, with
    /// escapes or without, and also where the object is too large for the
    /// `k8s-secret-data` rule's scope.
    #[test]
    fn a_kubernetes_secrets_data_is_masked_whole_in_json_records() {
        let cert = "TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0".repeat(200);
        for (secret, config) in [
            (
                format!(
                    r#"{{"verb":"get","responseObject":{{"data":{{"tls.crt":"{cert}","x":"eDE="}},"kind":"Secret","metadata":{{"name":"tls"}}}}}}"#
                ),
                r#"{"objectRef":{"resource":"configmaps"},"responseObject":{"kind":"ConfigMap","data":{"region":"eu-west-1"}}}"#,
            ),
            (
                r#"{"requestObject":{"kind":"Secret","stringData":{"a\/b":"dmFsdWU="},"metadata":{"name":"n"}}}"#
                    .to_string(),
                r#"{"responseObject":{"kind":"ConfigMap","data":{"a\/b":"eu-west-1"}}}"#,
            ),
        ] {
            let out = scrub(Format::Json, &format!("{secret}\n{config}\n"));
            let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            let object = lines[0].as_object().unwrap().values().find(|v| v.get("kind").is_some()).unwrap();
            let data = object.get("data").or(object.get("stringData")).unwrap().as_object().unwrap();
            assert!(data.values().all(|v| v == FIELD_MASK), "{out}");
            assert!(matches!(object["metadata"]["name"].as_str(), Some("tls" | "n")), "{out}");
            assert!(!out.contains("TFMwdExT") && !out.contains("eDE=") && !out.contains("dmFsdWU="), "{out}");
            assert!(out.contains("eu-west-1"), "{out}");
        }
    }

    #[test]
    fn json_values_scrubbed_keys_kept_and_valid() {
        let out = scrub(
            Format::Json,
            "{\"msg\":\"connect postgres://app:s3cr3t-pw@db/app\",\"api_key\":\"abc\",\"n\":1}\n{\"ok\":true}\n",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["api_key"], FIELD_MASK);
        assert!(!lines[0].contains("s3cr3t-pw"));
        assert_eq!(v["n"], 1);
        assert_eq!(lines[1], "{\"ok\":true}");
    }

    #[test]
    fn json_escapes_do_not_hide_secrets() {
        let out = scrub(Format::Json, "{\"u\":\"https:\\/\\/app:s3cr3t-pw@db.example.com\\/x\"}\n");
        assert!(!out.contains("s3cr3t-pw"), "{out}");
        serde_json::from_str::<Value>(out.trim()).unwrap();
    }

    #[test]
    fn malformed_json_is_scrubbed_as_text() {
        let out = scrub(Format::Json, "{\"password\": \"hunter2hunter2\" \n");
        assert!(!out.contains("hunter2hunter2"), "{out}");
    }

    /// `input` fed whole (so that `bulk` passes clean lines through) and
    /// fed a byte at a time (every line held, then scrubbed on its own).
    fn whole_and_bytewise(format: Format, input: &str) -> (String, String) {
        static REDACTOR: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        let redactor = REDACTOR.get_or_init(Redactor::new);
        let whole = scrub_with(redactor, format, input);
        let mut s = Scrubber::new(redactor, format);
        let mut out = Vec::new();
        for b in input.as_bytes() {
            s.feed(std::slice::from_ref(b), &mut out);
        }
        s.finish(&mut out);
        (whole, String::from_utf8(out).unwrap())
    }

    /// Pieces of container logs: clean lines, secrets, a private key's
    /// lines, and a secret cut in two.
    const MESSAGES: [&str; 9] = [
        "GET /health 200",
        "login password=hunter2hunter2 ok",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0",
        "-----END RSA PRIVATE KEY-----",
        "done in 12ms",
        "token ghp_abcdefghijkl",
        "mnopqrstuvwxyz0123456789 end",
        "",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// The lines that `bulk` lets through unchanged are the lines the
        /// per-line path would write unchanged: the same output, however
        /// the streams interleave, partials and key blocks included, and
        /// with `auto` however the formats mix.
        #[test]
        fn structured_lines_passed_whole_match_the_line_by_line_path(
            records in proptest::collection::vec(
                (0usize..9, proptest::bool::ANY, proptest::bool::weighted(0.8), 0usize..4),
                1..24,
            ),
        ) {
            let t = "2024-01-01T00:00:00.000000001Z";
            let (mut cri, mut docker, mut mixed) = (String::new(), String::new(), String::new());
            for &(m, stderr, ends, kind) in &records {
                let (stream, msg) = (if stderr { "stderr" } else { "stdout" }, MESSAGES[m]);
                let cri_line = format!("{t} {stream} {} {msg}\n", if ends { "F" } else { "P" });
                let log = serde_json::to_string(&format!("{msg}{}", if ends { "\n" } else { "" })).unwrap();
                let docker_line = format!("{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"{t}\"}}\n");
                cri.push_str(&cri_line);
                docker.push_str(&docker_line);
                // `auto`: CRI, Docker, JSON and raw lines side by side.
                let json_line = format!("{{\"msg\":{}}}\n", serde_json::to_string(msg).unwrap());
                mixed.push_str(&[cri_line, docker_line, json_line, format!("{msg}\n")][kind]);
            }
            for (format, input) in [(Format::Cri, &cri), (Format::Docker, &docker), (Format::Auto, &mixed)] {
                let (whole, bytewise) = whole_and_bytewise(format, input);
                proptest::prop_assert_eq!(&whole, &bytewise, "{:?}: {}", format, input);
                proptest::prop_assert!(!whole.contains("hunter2"), "{}", whole);
            }
        }
    }

    #[test]
    fn a_docker_line_after_an_open_partial_comes_out_the_same_however_it_is_read() {
        // Found by the formats fuzz target: line 3 went out as it came when
        // the input was read whole, and re-serialized (keys reordered) when
        // read a byte at a time.
        let input = concat!(
            r#"{"log":"token=ghp_abcdefghijklmnopqrstuvwxyz0123456789","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
            "\n",
            r#"{"log":"partial secret=abc","stream":"stderstdoutr","time":"2023-05-01T10:00:00Z"}"#,
            "\n",
            r#"{"log":"def123456\n","stream":"stderr","time":"2024-05-01T10:00:01Z"}"#,
            "\n",
        );
        let (whole, bytewise) = whole_and_bytewise(Format::Docker, input);
        assert_eq!(whole, bytewise);
        assert!(whole.contains(r#"{"log":"def123456\n","stream":"stderr","time":"2024-05-01T10:00:01Z"}"#), "{whole}");
    }

    #[test]
    fn a_key_block_across_lines_is_masked_in_every_format_however_it_is_read() {
        let t = "2024-01-01T00:00:00.000000001Z";
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
        let block = ["-----BEGIN PRIVATE KEY-----", body, body, "-----END PRIVATE KEY-----"];
        let docker = |l: &str| {
            format!(
                "{{\"log\":{},\"stream\":\"stdout\",\"time\":\"t\"}}",
                serde_json::to_string(&format!("{l}\n")).unwrap()
            )
        };
        let cases: [(Format, Vec<String>); 6] = [
            (Format::Cri, block.iter().map(|l| format!("{t} stdout F {l}")).collect()),
            (Format::Docker, block.iter().map(|l| docker(l)).collect()),
            // Text that is not JSON among JSON lines: the raw stream's.
            (Format::Json, [vec![r#"{"a":1}"#.to_string()], block.iter().map(|l| l.to_string()).collect()].concat()),
            // A key logged one JSON record a line.
            (Format::Json, block.iter().map(|l| format!(r#"{{"msg":"{l}","n":1}}"#)).collect()),
            (Format::Auto, [vec![r#"{"a":1}"#.to_string()], block.iter().map(|l| l.to_string()).collect()].concat()),
            (Format::Auto, block.iter().map(|l| format!("{t} stdout F {l}")).collect()),
        ];
        for (format, lines) in cases {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let (whole, bytewise) = whole_and_bytewise(format, &text);
            let mut s = Scrubber::new(&Redactor::new(), format);
            let mut by_line = Vec::new();
            for line in &lines {
                s.feed(format!("{line}\n").as_bytes(), &mut by_line);
            }
            s.finish(&mut by_line);
            for out in [whole, bytewise, String::from_utf8(by_line).unwrap()] {
                assert!(!out.contains(body), "{format:?}: the key's body leaked:\n{out}");
                assert!(out.contains("-----END PRIVATE KEY-----"), "{format:?}:\n{out}");
            }
        }
    }

    #[test]
    fn cri_partials_are_joined() {
        let t = "2024-01-01T00:00:00.000000001Z";
        let input = format!("{t} stdout P password=hunt\n{t} stderr F other\n{t} stdout F er2hunter2 done\n");
        let out = scrub(Format::Cri, &input);
        assert_eq!(out, format!("{t} stderr F other\n{t} stdout F password=[REDACTED:password-assignment] done\n"));
    }

    #[test]
    fn docker_partials_are_joined() {
        let a = r#"{"log":"token: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.","stream":"stdout","time":"t1"}"#;
        let b = r#"{"log":"dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end\n","stream":"stdout","time":"t2"}"#;
        let out = scrub(Format::Docker, &format!("{a}\n{b}\n"));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["time"], "t1");
        assert!(!out.contains("dozjgNryP4J3"), "{out}");
        assert!(v["log"].as_str().unwrap().ends_with(" end\n"));
    }

    #[test]
    fn open_partials_end_in_their_own_format_at_the_end_of_input() {
        let docker =
            scrub(Format::Docker, "{\"log\":\"half password=hunter2hunter2\",\"stream\":\"stdout\",\"time\":\"t1\"}\n");
        let v: Value = serde_json::from_str(docker.trim()).unwrap();
        assert_eq!(v["log"], "half password=[REDACTED:password-assignment]\n");
        assert_eq!((v["stream"].as_str(), v["time"].as_str()), (Some("stdout"), Some("t1")));
        let t = "2024-01-01T00:00:00.000000001Z";
        // CRI and Docker pieces of the same stream name are not mixed.
        let auto =
            scrub(Format::Auto, &format!("{t} stdout P cri-part\n{{\"log\":\"docker-part\",\"stream\":\"stdout\"}}\n"));
        assert!(auto.contains(&format!("{t} stdout F cri-part\n")), "{auto}");
        assert!(auto.contains("\"log\":\"docker-part\\n\""), "{auto}");
    }

    #[test]
    fn keys_masked_alike_keep_both_values_and_a_masked_key_is_stable() {
        let out = scrub(Format::Json, "{\"alice@example.com\":1,\"bob@example.org\":2,\"pass=hunter2hunter2\":3}\n");
        let v: Value = serde_json::from_str(&out).unwrap();
        let map = v.as_object().unwrap();
        assert_eq!(map.len(), 3, "{out}");
        assert!(!out.contains("alice") && !out.contains("hunter2hunter2"), "{out}");
        assert_eq!(scrub(Format::Json, &out), out, "scrubbing the output again changed it");
    }

    #[test]
    fn open_lines_end_oldest_first_and_other_docker_streams_are_plain_json() {
        let input = concat!(
            "{\"log\":\"first\",\"stream\":\"stderr\",\"time\":\"t1\"}\n",
            "{\"log\":\"second\",\"stream\":\"stdout\",\"time\":\"t2\"}\n",
            "{\"log\":\"own\",\"stream\":\"audit\"}\n",
        );
        let out = scrub(Format::Docker, input);
        assert_eq!(
            out,
            concat!(
                "{\"log\":\"own\",\"stream\":\"audit\"}\n",
                "{\"log\":\"first\\n\",\"stream\":\"stderr\",\"time\":\"t1\"}\n",
                "{\"log\":\"second\\n\",\"stream\":\"stdout\",\"time\":\"t2\"}\n",
            )
        );
    }

    #[test]
    fn a_json_record_counts_as_one_line_however_many_values_it_has() {
        let redactor = Redactor::new();
        let mut s = Scrubber::new(&redactor, Format::Json);
        let mut out = Vec::new();
        let input = "{\"a\":\"x@example.com\",\"password\":\"p\",\"b\":\"password=hunter2hunter2\",\"c\":\"d\"}\n{\"clean\":1}\n";
        s.feed(input.as_bytes(), &mut out);
        s.finish(&mut out);
        let (stats, counts) = s.take_counts();
        assert_eq!((stats.lines(), stats.masked_lines(), stats.findings()), (2, 1, 2));
        assert_eq!(stats.bytes() as usize, input.len() - 2);
        assert_eq!(counts.fields_masked, 1);
    }

    #[test]
    fn auto_picks_per_line() {
        let t = "2024-01-01T00:00:00.000000001Z";
        let input =
            format!("plain password=hunter2hunter2\n{t} stdout F password=hunter2hunter2\n{{\"password\":\"x1\"}}\n");
        let out = scrub(Format::Auto, &input);
        assert!(!out.contains("hunter2hunter2"), "{out}");
        assert!(out.contains(&format!("{t} stdout F password=")));
        assert!(out.contains(&format!("{{\"password\":\"{FIELD_MASK}\"}}")), "{out}");
    }

    #[test]
    fn overlong_structured_line_is_scrubbed_as_text_however_it_is_read() {
        let redactor = Redactor::builder().max_line(65536).build().unwrap();
        let long = format!("{{\"a\":\"{} password=hunter2hunter2 {}\"}}\n", "x".repeat(50000), "y".repeat(50000));
        let mut outputs = Vec::new();
        for read in [7000, long.len()] {
            let mut s = Scrubber::new(&redactor, Format::Json);
            let mut out = Vec::new();
            for chunk in long.as_bytes().chunks(read) {
                s.feed(chunk, &mut out);
            }
            s.feed(b"{\"b\":1}\n", &mut out);
            s.finish(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("hunter2hunter2"));
            assert!(text.ends_with("\n{\"b\":1}\n"), "{}", &text[text.len() - 40..]);
            assert_eq!(s.take_counts().1.long_records, 1);
            outputs.push(text);
        }
        assert_eq!(outputs[0], outputs[1], "the output depends on how the input was read");
    }
}

#[cfg(test)]
mod threaded {
    use super::*;
    use crate::pieces::{scrub_parallel, tests::Trickle};

    /// Structured lines of every kind, with a CRI or Docker partial record
    /// open while 40 lines of another stream pass, and key blocks across
    /// 40 lines, so that cuts fall inside them.
    fn log(format: Format) -> Vec<u8> {
        let t = "2024-01-01T00:00:00.000000001Z";
        let mut text = String::new();
        for i in 0..12_000 {
            let (tag, msg) = match i % 400 {
                100 => ("P", "password=hunt".to_string()),
                101..=140 => ("F", format!("other stream {i}")),
                141 => ("F", "er2hunter2 done".to_string()),
                200 => ("F", "-----BEGIN PRIVATE KEY-----".to_string()),
                201..=240 => ("F", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj".to_string()),
                241 => ("F", "-----END PRIVATE KEY-----".to_string()),
                n if n % 7 == 0 => ("F", format!("{i} login user=jane@example.com token=tk_9f8e7d6c{i}")),
                _ => ("F", format!("{i} GET /api/items/{i} 200 12ms")),
            };
            // The password's line stays open on stdout while stderr goes on.
            let stream = if (101..=140).contains(&(i % 400)) { "stderr" } else { "stdout" };
            match format {
                Format::Cri => text.push_str(&format!("{t} {stream} {tag} {msg}\n")),
                Format::Docker => {
                    let log = if tag == "F" { format!("{msg}\n") } else { msg };
                    let log = serde_json::to_string(&log).unwrap();
                    text.push_str(&format!("{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"{t}\"}}\n"));
                }
                _ => {
                    let msg = serde_json::to_string(&msg).unwrap();
                    text.push_str(&format!("{{\"n\":{i},\"msg\":{msg},\"password\":\"pw{i}\"}}\n"));
                    if i % 1000 == 700 {
                        // A key logged one JSON record a line.
                        let key = std::iter::once("-----BEGIN PRIVATE KEY-----")
                            .chain(std::iter::repeat_n(
                                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
                                40,
                            ))
                            .chain(std::iter::once("-----END PRIVATE KEY-----"));
                        for line in key {
                            text.push_str(&format!("{{\"msg\":\"{line}\"}}\n"));
                        }
                    }
                    if i % 1000 == 500 {
                        // Text that is not JSON, a key block among it.
                        text.push_str("plain text line with password=hunter2hunter2\n-----BEGIN PRIVATE KEY-----\n");
                        for _ in 0..40 {
                            text.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n");
                        }
                        text.push_str("-----END PRIVATE KEY-----\n");
                    }
                }
            }
        }
        text.into_bytes()
    }

    #[test]
    fn every_format_on_threads_writes_what_one_scrubber_writes() {
        let redactor = Redactor::new();
        for format in [Format::Json, Format::Cri, Format::Docker, Format::Auto] {
            let data = log(format);
            let mut want = Vec::new();
            let want_stats = scrub_reader(&redactor, format, &mut &data[..], &mut want).unwrap();
            if matches!(format, Format::Cri | Format::Docker) {
                // Joined across its partial records, and masked.
                assert!(memchr::memmem::find(&want, b"hunter2").is_none(), "{format:?}");
            }
            let make = |text: Vec<u8>| FormatStream::new(&redactor, format, text);
            for (threads, read) in [(2, usize::MAX), (3, 4_099), (2, 65_536)] {
                let mut got = Vec::new();
                let stats = scrub_parallel(&make, &mut Trickle(&data, read), &mut got, threads).unwrap();
                assert!(got == want, "{format:?}, {threads} threads, reads of {read}: the output differs");
                assert_eq!(stats.lines(), want_stats.lines(), "{format:?}");
                assert_eq!(stats.findings(), want_stats.findings(), "{format:?}");
            }
        }
    }
}
