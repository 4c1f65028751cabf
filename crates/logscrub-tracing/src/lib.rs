//! Redaction for `tracing-subscriber`: a Rust service that never writes a
//! secret. There are two ways in, and the default rule set is the one the
//! `logscrub` binary embeds, so library and sidecar mask the same things
//! (build the [`Redactor`] with [`Redactor::builder`] to choose packs, masks
//! or a hash key).
//!
//! - [`RedactingFields`], for the full and compact text formats:
//!   the field formatter scrubs each value (the message, every field of
//!   events and spans, `log` records bridged by `tracing-log`) as it is
//!   formatted, and masks fields whose names say they are secret whole.
//!   What it adds to a clean event is a scan of its values, a few percent
//!   of the event's cost: the cheapest way to a service that never writes
//!   a secret in text.
//! - [`RedactingMakeWriter`] wraps any [`MakeWriter`], whatever the format
//!   (JSON too). The `fmt` layer formats each event into one buffer and
//!   writes it through a fresh writer; this crate's writer masks that event
//!   *whole* before the inner writer sees a byte, so a secret is never split
//!   across writes and concurrent events never interleave. It scans every
//!   byte of the event, timestamp and all, so it costs more on the logging
//!   thread (below: the appender's worker can do it instead).
//!
//! Both mask a private key logged one line an event as the binary masks the
//! same output: an event that leaves a key block open opens it for every
//! event after it, from any thread, until the key's END line, and events
//! logged meanwhile are masked with it. With the JSON formatter an event
//! inside a block is masked value by value, so the output stays JSON. A
//! BEGIN line whose END never comes masks what follows for as long as the
//! subscriber lives.
//!
//! ```
//! use logscrub::Redactor;
//! use logscrub_tracing::RedactingFields;
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .fmt_fields(RedactingFields::new(Redactor::new()))
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     // Printed as: ... retry password=[REDACTED:field] url=postgres://app:[REDACTED:url-userinfo]@db/app
//!     tracing::info!(password = "hunter2", url = %"postgres://app:s3cr3t@db/app", "retry");
//! });
//! ```
//!
//! # Masking off the calling thread
//!
//! The writer adds 150-250 ns to a clean 100-byte event on the thread
//! that logs (the field formatter, 25-55 ns). With `tracing-appender`'s
//! non-blocking writer, the appender's worker thread can do it instead:
//! give it a [`logscrub::Stream`] (from
//! [`Redactor::stream`]) as its writer. The worker receives each event
//! whole and writes it with one `write_all`, and the stream masks complete
//! lines (and private-key blocks across them) as they come, so the calling
//! thread pays only what the non-blocking writer costs without logscrub.
//! Raw events then wait in the appender's queue, in memory, until the
//! worker masks them; a lossy writer drops events when the worker falls
//! behind, a non-lossy one (below) makes the callers wait.
//!
//! ```
//! use logscrub::Redactor;
//! use tracing_appender::non_blocking::NonBlockingBuilder;
//!
//! let masked_stdout = Redactor::new().stream(std::io::stdout());
//! let (writer, _guard) = NonBlockingBuilder::default().lossy(false).finish(masked_stdout);
//! let subscriber = tracing_subscriber::fmt().json().with_writer(writer).finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!("login password=hunter2hunter2");
//! });
//! // Dropping `_guard` flushes what the worker still holds.
//! ```
//!
//! # Example
//!
//! ```
//! use logscrub::Redactor;
//! use logscrub_tracing::RedactExt;
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .with_writer(std::io::stdout.redacted(Redactor::new()))
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     // Printed as: ... login password=[REDACTED:password-assignment]
//!     tracing::info!("login password=hunter2hunter2");
//! });
//! ```
#![deny(missing_docs)]

mod blocks;
mod json;

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::Arc;

use logscrub::Redactor;
use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};

use crate::blocks::Blocks;

/// A [`MakeWriter`] whose writers mask each event before it reaches the
/// inner writer.
///
/// # Example
///
/// ```
/// use logscrub::Redactor;
/// use logscrub_tracing::RedactingMakeWriter;
///
/// let writer = RedactingMakeWriter::new(std::io::stderr, Redactor::new());
/// let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
/// # drop(subscriber);
/// ```
#[derive(Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Redactor,
    /// A key block that an event left open, shared by the writers.
    blocks: Arc<Blocks>,
}

impl<M: fmt::Debug> fmt::Debug for RedactingMakeWriter<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self.blocks.is_open();
        f.debug_struct("RedactingMakeWriter")
            .field("inner", &self.inner)
            .field("redactor", &self.redactor)
            .field("key_block_open", &open)
            .finish()
    }
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps `inner` so that everything written through it is masked by
    /// `redactor`.
    pub fn new(inner: M, redactor: Redactor) -> RedactingMakeWriter<M> {
        RedactingMakeWriter { inner, redactor, blocks: Arc::default() }
    }

    /// The redactor in use.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter::new(self.inner.make_writer(), &self.redactor, &self.blocks)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        RedactingWriter::new(self.inner.make_writer_for(meta), &self.redactor, &self.blocks)
    }
}

/// Wraps a [`MakeWriter`] in a [`RedactingMakeWriter`]: `std::io::stdout.redacted(r)`.
pub trait RedactExt: Sized {
    /// Masks everything written through `self` with `redactor`.
    ///
    /// # Example
    ///
    /// ```
    /// use logscrub_tracing::RedactExt;
    ///
    /// let writer = std::io::stdout.redacted(logscrub::Redactor::new());
    /// # drop(writer);
    /// ```
    fn redacted(self, redactor: Redactor) -> RedactingMakeWriter<Self>;
}

impl<M> RedactExt for M
where
    M: for<'a> MakeWriter<'a>,
{
    fn redacted(self, redactor: Redactor) -> RedactingMakeWriter<Self> {
        RedactingMakeWriter::new(self, redactor)
    }
}

thread_local! {
    /// Event buffers, reused so that a clean event allocates nothing.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The writer of one event: collects what the formatter writes and, when
/// dropped (or flushed), writes it masked to the inner writer in one
/// `write_all`.
pub struct RedactingWriter<'a, W: Write> {
    inner: W,
    redactor: &'a Redactor,
    blocks: &'a Blocks,
    buf: Vec<u8>,
}

impl<'a, W: Write> RedactingWriter<'a, W> {
    fn new(inner: W, redactor: &'a Redactor, blocks: &'a Blocks) -> RedactingWriter<'a, W> {
        let buf = BUFFER.with(|b| b.try_borrow_mut().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default());
        RedactingWriter { inner, redactor, blocks, buf }
    }

    /// Masks and writes what is buffered: the lines of the event, as the
    /// next lines of one log (a key block that an earlier event opened
    /// covers this one too).
    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let blocks = self.blocks;
        let body = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        if !blocks.is_open() && !body.contains(&b'\n') {
            // One line, the common case, masked alone unless it opens a key
            // block; a clean one is written from the buffer, with no copy.
            let (masked, opens) = self.redactor.redact_line(body);
            if !opens {
                let newline = body.len() < self.buf.len();
                let result = match masked {
                    std::borrow::Cow::Borrowed(_) => self.inner.write_all(&self.buf),
                    // A `drop` rule matched: a masked line is never empty.
                    std::borrow::Cow::Owned(masked) if masked.is_empty() => Ok(()),
                    std::borrow::Cow::Owned(mut masked) => {
                        if newline {
                            masked.push(b'\n');
                        }
                        self.inner.write_all(&masked)
                    }
                };
                self.buf.clear();
                return result;
            }
        }
        // Several lines (the pretty format), or a key block open or opening:
        // the event goes through a stream, as the next lines of one log.
        // The stream masks whole lines; a last line with no newline gets
        // one, taken off again after.
        let newline = self.buf.ends_with(b"\n");
        if !newline {
            self.buf.push(b'\n');
        }
        // A one-line event here is inside a key block or opens one: a JSON
        // one is masked value by value, so that it stays JSON.
        let mut out = match json::record(&self.buf[..self.buf.len() - 1]) {
            Some(record) => json::masked(record, self.redactor, blocks),
            None => {
                let mut out = Vec::with_capacity(self.buf.len() + 64);
                blocks.mask(self.redactor, &self.buf, &mut out);
                out
            }
        };
        if !newline && out.ends_with(b"\n") {
            out.pop();
        }
        self.buf.clear();
        // A `drop` rule matched: nothing is written.
        match out.is_empty() {
            true => Ok(()),
            false => self.inner.write_all(&out),
        }
    }
}

impl<W: Write> Write for RedactingWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    /// Masks and writes the event so far, then flushes the inner writer.
    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<'_, W> {
    fn drop(&mut self) {
        // Drop cannot report an error; the formatter has no way to retry.
        let _ = self.emit();
        let buf = std::mem::take(&mut self.buf);
        BUFFER.with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                if b.capacity() < buf.capacity() && buf.capacity() <= 1 << 20 {
                    *b = buf;
                }
            }
        });
    }
}

/// A field formatter for text output that masks fields whose names say they
/// are secret (`password`, `token`, `authorization`, `cookie`, ...) whole,
/// whatever their value looks like, and scrubs every other value with the
/// rule set. Span fields go through it too.
///
/// It writes what the default field formatter writes (the same order,
/// quoting, ANSI styling and escapes), so a clean event reads exactly as it
/// would without it; a value is formatted into a reused buffer, scrubbed
/// and written, and a secret-named value is never formatted at all. An
/// event's values are scrubbed as the lines of one stream, so a private key
/// whose BEGIN line is one field and body the next is masked all the same.
/// For JSON and pretty output use [`RedactingMakeWriter`], which masks the
/// written event: those event formatters write an event's fields
/// themselves, through no field formatter, so with `.json()` or `.pretty()`
/// this one would see span fields only and an event's fields would go out
/// as they are.
///
/// # Example
///
/// ```
/// use logscrub::Redactor;
/// use logscrub_tracing::RedactingFields;
///
/// let subscriber = tracing_subscriber::fmt()
///     .fmt_fields(RedactingFields::new(Redactor::new()))
///     .finish();
/// tracing::subscriber::with_default(subscriber, || {
///     // Printed as: ... upstream call authorization=[REDACTED:field] user="jane"
///     tracing::info!(authorization = "opaque-session-value", user = "jane", "upstream call");
/// });
/// ```
#[derive(Clone, Debug)]
pub struct RedactingFields {
    redactor: Redactor,
    /// The secret field names; `None`: the defaults, checked with the
    /// engine's index of them.
    names: Option<Vec<String>>,
    /// A key block that an event's values left open, and the events it
    /// covers.
    blocks: Arc<Blocks>,
    /// Which list of names this is, for [`KNOWN_NAMES`]; a clone has the
    /// same list and the same id.
    names_id: u64,
}

/// Field names masked whole by default (the engine's list, shared with the
/// binary's JSON and msgpack input).
pub use logscrub::SECRET_FIELD_NAMES;

impl RedactingFields {
    /// A formatter with the default secret field names.
    pub fn new(redactor: Redactor) -> RedactingFields {
        RedactingFields { redactor, names: None, blocks: Arc::default(), names_id: next_names_id() }
    }

    /// Replaces the secret field names (matched as lowercase substrings).
    pub fn secret_names<I, S>(mut self, names: I) -> RedactingFields
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = Some(names.into_iter().map(|n| n.into().to_ascii_lowercase()).collect());
        self.names_id = next_names_id();
        self
    }

    /// Whether the field `name` is secret. A callsite's field names are
    /// `'static`, so each is judged once and then known by its address:
    /// the search of the names cost more than the rest of what this
    /// formatter adds to a clean event.
    fn is_secret(&self, name: &'static str) -> bool {
        let key = (name.as_ptr() as usize, name.len(), self.names_id);
        KNOWN_NAMES.with(|known| {
            let slot = &known[(key.0 ^ key.0 >> 7 ^ key.1) % known.len()];
            let (address, len, id, secret) = slot.get();
            if (address, len, id) == key {
                return secret;
            }
            let secret = match &self.names {
                None => logscrub::is_secret_field(name),
                Some(names) => logscrub::is_secret_field_in(name, names),
            };
            slot.set((key.0, key.1, key.2, secret));
            secret
        })
    }
}

/// A fresh id for a list of secret names.
fn next_names_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

thread_local! {
    /// Field names already judged, by address, length and list of names
    /// (its id, never reused, so a stale entry cannot answer for another
    /// list): a small direct-mapped table, an entry overwritten by the next
    /// name that maps to its slot.
    static KNOWN_NAMES: [std::cell::Cell<(usize, usize, u64, bool)>; 64] =
        const { [const { std::cell::Cell::new((0, 0, 0, false)) }; 64] };
}

impl<'writer> FormatFields<'writer> for RedactingFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        // The values are formatted into one reused buffer, a line each, and
        // screened in one prefilter pass: a clean event allocates nothing
        // and pays for one scan, not one a field. Formatting a value may
        // log (a `Debug` that emits an event): a nested call gets buffers
        // of its own.
        SCRATCH.with(|scratch| {
            let mut own = Scratch::default();
            let mut borrowed = scratch.try_borrow_mut();
            let scratch = borrowed.as_deref_mut().unwrap_or(&mut own);
            scratch.values.clear();
            scratch.fields.clear();
            let style = Style { ansi: writer.has_ansi_escapes(), sanitize: writer.sanitizes_ansi_escapes() };
            let mut collect = Collect { fields: self, style, scratch, result: Ok(()) };
            fields.record(&mut collect);
            let written = collect.result.and_then(|()| scratch.write(self, &mut writer, style));
            // A huge value is not held on to for the thread's lifetime.
            if scratch.values.capacity() > 1 << 20 {
                scratch.values = String::new();
            }
            written
        })
    }
}

thread_local! {
    /// The fields of the event being formatted, reused across events.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// An event's fields, formatted but not yet written.
#[derive(Default)]
struct Scratch {
    /// The values that are not secret by name, each followed by a newline
    /// (the prefilter judges each line alone, as `redact` would a value).
    values: String,
    /// The fields in order.
    fields: Vec<Entry>,
}

struct Entry {
    /// The name as written (`r#` dropped).
    name: &'static str,
    /// The value's text in [`Scratch::values`], and whether it is written
    /// as a `Debug` string; `None`: secret by its name, never formatted.
    value: Option<(std::ops::Range<usize>, bool)>,
}

impl Scratch {
    /// Writes the fields as the default field formatter does (`message`
    /// without its name, names italic and `=` dimmed on an ANSI writer),
    /// secret-named ones masked whole and the others scrubbed. `quoted`
    /// values are written as `Debug` strings, as the default formatter
    /// writes `&str` fields.
    fn write(&self, fields: &RedactingFields, writer: &mut Writer<'_>, style: Style) -> fmt::Result {
        let clean = !fields.blocks.is_open() && fields.redactor.is_clean(self.values.as_bytes());
        let scrubbed = match clean {
            true => None,
            false => Some(self.scrubbed(&fields.redactor, &fields.blocks)),
        };
        let mut values = scrubbed.iter().flatten();
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                writer.write_char(' ')?;
            }
            if field.name != "message" {
                style.name(writer, field.name)?;
            }
            let Some((range, quoted)) = &field.value else {
                writer.write_str(logscrub::FIELD_MASK)?;
                continue;
            };
            let text = values.next().map_or(&self.values[range.clone()], String::as_str);
            match quoted {
                true => write!(writer, "{text:?}")?,
                false => writer.write_str(text)?,
            }
        }
        Ok(())
    }

    /// The values, scrubbed as the lines of one stream, as the redacting
    /// writer would scrub them: a key block that begins in one value is
    /// masked on into the next, and on into the next events' values until
    /// it ends. Should a `drop` rule take lines out, each value is scrubbed
    /// alone and a dropped one comes out empty (a field formatter cannot
    /// drop the event; the redacting writer can); inside a key block, each
    /// is masked whole.
    fn scrubbed(&self, redactor: &Redactor, blocks: &Blocks) -> Vec<String> {
        let texts: Vec<&str> =
            self.fields.iter().filter_map(|f| f.value.as_ref()).map(|(range, _)| &self.values[range.clone()]).collect();
        let was_open = blocks.is_open();
        if let Some(masked) = blocks.mask_values(redactor, &texts) {
            return masked;
        }
        match was_open || blocks.is_open() {
            true => texts.iter().map(|_| logscrub::FIELD_MASK.to_string()).collect(),
            false => texts
                .iter()
                .map(|text| String::from_utf8_lossy(&redactor.redact(text.as_bytes())).into_owned())
                .collect(),
        }
    }
}

/// Records an event's fields into a [`Scratch`].
struct Collect<'a> {
    fields: &'a RedactingFields,
    style: Style,
    scratch: &'a mut Scratch,
    result: fmt::Result,
}

impl Collect<'_> {
    /// Records one field, as the default field formatter would write it
    /// (`r#` dropped from raw names, `log.` metadata skipped): its value
    /// formatted by `format`, unless its name says it is secret.
    fn push(&mut self, field: &Field, quoted: bool, format: impl FnOnce(&mut String, Style) -> fmt::Result) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let value = match name != "message" && self.fields.is_secret(name) {
            true => None,
            false => {
                let values = &mut self.scratch.values;
                let start = values.len();
                self.result = format(values, self.style);
                let range = start..values.len();
                values.push('\n');
                Some((range, quoted))
            }
        };
        self.scratch.fields.push(Entry { name, value });
    }
}

/// What the writer asks of the text written to it.
#[derive(Clone, Copy)]
struct Style {
    /// Names in italic and `=` dimmed.
    ansi: bool,
    /// Control characters in messages and errors escaped.
    sanitize: bool,
}

impl Style {
    /// Writes `name` and `=`.
    fn name(self, out: &mut dyn fmt::Write, name: &str) -> fmt::Result {
        match self.ansi {
            true => write!(out, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m"),
            false => write!(out, "{name}="),
        }
    }

    /// Writes `text` with the control characters a terminal could act on
    /// escaped, if the writer asks for it.
    fn sanitized(self, out: &mut String, text: fmt::Arguments<'_>) -> fmt::Result {
        if !self.sanitize {
            return out.write_fmt(text);
        }
        struct Escaping<'a>(&'a mut String);
        impl fmt::Write for Escaping<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for c in s.chars() {
                    match c {
                        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' => write!(self.0, "\\x{:02x}", c as u32)?,
                        '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", c as u32)?,
                        c => self.0.push(c),
                    }
                }
                Ok(())
            }
        }
        Escaping(out).write_fmt(text)
    }
}

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.push(field, false, |out, style| style.sanitized(out, format_args!("{value}"))),
            _ => self.push(field, true, |out, _| out.write_str(value)),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let name = field.name();
        self.push(field, false, |out, style| {
            style.sanitized(out, format_args!("{value}"))?;
            let Some(source) = value.source() else { return Ok(()) };
            match style.ansi {
                true => write!(out, " \x1b[3m{name}\x1b[0m\x1b[3m.sources\x1b[0m\x1b[2m=\x1b[0m[")?,
                false => write!(out, " {name}.sources=[")?,
            }
            let mut next = Some(source);
            while let Some(error) = next {
                if !std::ptr::eq(error, source) {
                    out.push_str(", ");
                }
                style.sanitized(out, format_args!("{error}"))?;
                next = error.source();
            }
            out.write_char(']')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.push(field, false, |out, style| style.sanitized(out, format_args!("{value:?}"))),
            _ => self.push(field, false, |out, _| write!(out, "{value:?}")),
        }
    }
}
