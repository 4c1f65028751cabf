//! Compression of archived logs, detected by content (magic bytes), not by
//! name: gzip (every member), zstd, bzip2, xz, or none. A file whose
//! content comes out unchanged is copied, not compressed again ([`Later`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// A compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Codec {
    /// The format of a file, from its first bytes; the file is rewound.
    pub fn sniff(file: &mut File) -> io::Result<Codec> {
        use std::io::Seek;
        let head = head(file)?;
        file.rewind()?;
        Ok(Codec::of(&head))
    }

    /// The format of what `input` yields, from its first bytes, and a reader
    /// that yields all of it again: for a pipe, which cannot be rewound.
    pub fn sniff_stream<R: Read>(mut input: R) -> io::Result<(Codec, Rewound<R>)> {
        let head = head(&mut input)?;
        Ok((Codec::of(&head), io::Cursor::new(head).chain(input)))
    }

    pub fn of(head: &[u8]) -> Codec {
        if head.starts_with(&[0x1f, 0x8b]) {
            Codec::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Codec::Zstd
        } else if head.starts_with(b"BZh") {
            Codec::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Codec::Xz
        } else {
            Codec::Plain
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Plain => "plain",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
        }
    }

    /// A reader of the decompressed content, whose decoder holds at most
    /// `memory` bytes of window (zstd) or dictionary (xz); a file written
    /// with a larger one fails with [`MemoryLimit`]. gzip's and bzip2's
    /// decoders need less than 4 MiB whatever the file.
    pub fn reader<'a, R: Read + 'a>(self, input: R, memory: u64) -> io::Result<Box<dyn Read + 'a>> {
        self.content(input, memory, None, 256 * 1024)
    }

    /// [`Codec::reader`], whose content is also told to `seen`, for the
    /// file's copy ([`Later`]) to compare what it is given with.
    pub fn reader_seen<'a, R: Read + 'a>(self, input: R, memory: u64, seen: &Seen) -> io::Result<Box<dyn Read + 'a>> {
        self.content(input, memory, Some(seen), 256 * 1024)
    }

    /// [`Codec::reader`], told to `seen` if given, reading `input` through
    /// a buffer of `buffer` bytes (less for a small tar member).
    pub fn content<'a, R: Read + 'a>(
        self,
        input: R,
        memory: u64,
        seen: Option<&Seen>,
        buffer: usize,
    ) -> io::Result<Box<dyn Read + 'a>> {
        let input = BufReader::with_capacity(buffer, input);
        // Told to `seen` when given, with whether the file held free text.
        fn told<'a, D: Read + 'a>(inner: D, seen: Option<&Seen>, free_text: fn(&D) -> bool) -> Box<dyn Read + 'a> {
            match seen {
                Some(seen) => Box::new(Told { inner, seen: seen.clone(), free_text }),
                None => Box::new(inner),
            }
        }
        Ok(match self {
            // A plain file's copy is no `Later`: nothing to tell.
            Codec::Plain => Box::new(input),
            Codec::Gzip => told(Members::gzip(input), seen, |m| m.free_text),
            Codec::Zstd => {
                let mut decoder = zstd::Decoder::with_buffer(input)?;
                // zstd takes its limit as a power of two, from 1 KiB
                // (ZSTD_WINDOWLOG_ABSOLUTEMIN) to 2 GiB on 64-bit systems.
                decoder.window_log_max(memory.max(1).ilog2().clamp(10, 31))?;
                told(Limited { inner: decoder, codec: self, memory }, seen, |_| false)
            }
            Codec::Bzip2 => told(Members::bzip2(input), seen, |m| m.free_text),
            Codec::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(memory, liblzma::stream::CONCATENATED)?;
                let decoder = liblzma::bufread::XzDecoder::new_stream(input, stream);
                told(Limited { inner: decoder, codec: self, memory }, seen, |_| false)
            }
        })
    }

    /// A writer compressing to `out` at `level` (the codec's default when
    /// `None`); a gzip one writes `gzip`'s header fields (see
    /// [`GzipHeader`]) when given them.
    pub fn writer<W: Write + 'static>(
        self,
        out: W,
        level: Option<u32>,
        gzip: Option<&GzipHeader>,
    ) -> io::Result<Encoder<W>> {
        Ok(match self {
            Codec::Plain => Encoder::Plain(out),
            Codec::Gzip => Encoder::Gzip(gzip_writer(out, level, gzip)),
            Codec::Zstd => Encoder::Zstd(zstd::Encoder::new(out, level.unwrap_or(3).min(22) as i32)?),
            Codec::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::new(level.unwrap_or(6).clamp(1, 9)),
            )),
            Codec::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(out, level.unwrap_or(6).min(9))),
        })
    }
}

fn gzip_writer<W: Write>(out: W, level: Option<u32>, gzip: Option<&GzipHeader>) -> flate2::write::GzEncoder<W> {
    let builder = match gzip {
        None => flate2::GzBuilder::new(),
        Some(h) => {
            let b = flate2::GzBuilder::new().mtime(h.mtime).operating_system(h.os);
            match &h.name {
                Some(name) => b.filename(name.clone()),
                None => b,
            }
        }
    };
    builder.write(out, flate2::Compression::new(level.unwrap_or(6).min(9)))
}

/// What the first header of a gzip file says of the file it holds: its
/// name, modification time and system, which `gunzip -N` and `gzip -l`
/// read, carried into the scrubbed copy. Its comment and extra field are
/// not: they are free text that no rule has read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GzipHeader {
    name: Option<Vec<u8>>,
    mtime: u32,
    os: u8,
    /// It has a comment or an extra field.
    free_text: bool,
}

impl GzipHeader {
    /// The header at the start of `head` (a file's first bytes), if they
    /// hold a whole one.
    pub fn of(head: &[u8]) -> Option<GzipHeader> {
        let decoder = flate2::bufread::GzDecoder::new(head);
        let h = decoder.header()?;
        Some(GzipHeader {
            name: h.filename().map(<[u8]>::to_vec),
            mtime: h.mtime(),
            os: h.operating_system(),
            free_text: h.comment().is_some() || h.extra().is_some(),
        })
    }
}

/// A compressed file's scrubbed copy, compressed only from where its
/// content first differs from the original's. A file in which nothing was
/// masked, most of an archive of rotated logs, is then written as the
/// original's own bytes, and its compression (gzip -6 costs several times
/// what reading and scrubbing the same text do, bzip2 and xz far more) is
/// spared. Each write is compared with the content the scrub's reader has
/// yielded ([`Seen`]); at the first difference the content so far, the
/// original's, is decompressed again into a compressor, and compression
/// goes on as usual.
///
/// Only where every byte of the file is compressed content, all of it
/// scrubbed: bzip2 and xz files; gzip files whose members' headers hold no
/// comment or extra field (free text that no rule has read, which a
/// compressed copy leaves out); zstd files without skippable frames (data
/// the decoder passes over), which `zstd_frames` checks by walking the
/// frames and their blocks' headers.
pub struct Later<W: Write> {
    codec: Codec,
    original: File,
    level: Option<u32>,
    gzip: Option<GzipHeader>,
    memory: u64,
    seen: Seen,
    stage: Option<Stage<W>>,
}

enum Stage<W: Write> {
    /// The content written so far, `at` bytes, is the original's.
    Same {
        out: W,
        at: u64,
    },
    Compressing(Box<Encoder<W>>),
}

/// The content a file's reader ([`Codec::reader_seen`]) has yielded and its
/// copy ([`Later`]) has not matched yet, shared by the two: the copy
/// compares each write with it, where it would otherwise decompress the
/// original a second time. What the reader runs ahead of the writer is the
/// scrub's own buffering, a piece and a line or so; past `SEEN_MAX`
/// bytes the comparison is given up and the copy compressed, so memory
/// stays bounded whatever the input.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Pending>>);

#[derive(Default)]
struct Pending {
    /// Content read, from `head` on not matched yet.
    bytes: Vec<u8>,
    head: usize,
    /// The reader reached the end of the file's content.
    ended: bool,
    /// The file held free text beside its content (a gzip member header's
    /// comment or extra field).
    free_text: bool,
    /// The comparison was given up: nothing more is kept.
    off: bool,
}

/// Content read ahead of the copy, at most: see [`Seen`].
const SEEN_MAX: usize = 16 << 20;

impl Seen {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding it cannot leave the bytes half-moved in a
        // way that matters: the file fails.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `buf` is the content read that comes next; if so, it is
    /// matched.
    fn repeats(&self, buf: &[u8]) -> bool {
        let mut p = self.lock();
        let start = p.head;
        match p.bytes.get(start..start + buf.len()) {
            Some(next) if !p.off && next == buf => {
                p.head += buf.len();
                true
            }
            _ => false,
        }
    }

    /// Whether all the content read was matched, to its end.
    fn all_matched(&self) -> bool {
        let p = self.lock();
        !p.off && p.ended && p.head == p.bytes.len()
    }

    pub(crate) fn free_text(&self) -> bool {
        self.lock().free_text
    }

    /// Gives the comparison up.
    pub(crate) fn stop(&self) {
        let mut p = self.lock();
        p.off = true;
        p.bytes = Vec::new();
        p.head = 0;
    }
}

/// A content reader that tells [`Seen`] what it yields.
struct Told<D> {
    inner: D,
    seen: Seen,
    free_text: fn(&D) -> bool,
}

impl<D: Read> Read for Told<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut p = self.seen.lock();
        if n == 0 && !buf.is_empty() {
            p.ended = true;
            p.free_text |= (self.free_text)(&self.inner);
        } else if !p.off {
            // What was matched is let go as it makes up half the buffer.
            if p.head > p.bytes.len() / 2 {
                let head = p.head;
                p.bytes.drain(..head);
                p.head = 0;
            }
            if p.bytes.len() + n > SEEN_MAX {
                drop(p);
                self.seen.stop();
            } else {
                p.bytes.extend_from_slice(&buf[..n]);
            }
        }
        Ok(n)
    }
}

impl<W: Write + 'static> Later<W> {
    /// A writer of the scrubbed copy of `original`, a file of `codec` (whose
    /// first gzip header is `gzip`), to `out` at `level`: compressing only
    /// from the first difference (see [`Later`]) where the format allows,
    /// else from the start. Its content must be read with
    /// [`Codec::reader_seen`] and `seen`, to its end before the copy is
    /// finished. `memory` bounds the decoder, as for [`Codec::reader`].
    pub fn encoder(
        codec: Codec,
        out: W,
        level: Option<u32>,
        gzip: Option<&GzipHeader>,
        original: File,
        memory: u64,
        seen: &Seen,
    ) -> io::Result<Encoder<W>> {
        match (codec, gzip) {
            (Codec::Gzip, Some(h)) if !h.free_text => {}
            (Codec::Zstd | Codec::Bzip2 | Codec::Xz, _) => {}
            _ => {
                seen.stop();
                return codec.writer(out, level, gzip);
            }
        }
        let (gzip, seen) = (gzip.cloned(), seen.clone());
        let stage = Some(Stage::Same { out, at: 0 });
        Ok(Encoder::Later(Box::new(Later { codec, original, level, gzip, memory, seen, stage })))
    }

    /// From here on, compresses: the original's first `at` bytes of content
    /// first.
    fn compress(&mut self) -> io::Result<&mut Encoder<W>> {
        if let Some(Stage::Same { .. }) = &self.stage {
            self.seen.stop();
            let Some(Stage::Same { out, at }) = self.stage.take() else { unreachable!("matched above") };
            let mut enc = self.codec.writer(out, self.level, self.gzip.as_ref())?;
            let content = self.codec.reader(At { file: self.original.try_clone()?, pos: 0 }, self.memory)?;
            let copied = io::copy(&mut content.take(at), &mut enc)?;
            if copied != at {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file ended sooner when read again"));
            }
            self.stage = Some(Stage::Compressing(Box::new(enc)));
        }
        match &mut self.stage {
            Some(Stage::Compressing(enc)) => Ok(enc),
            // Only after a failure part-way, which failed the file.
            _ => Err(io::Error::other("the compressed copy failed before")),
        }
    }

    /// Whether the original holds nothing but the content read: no gzip
    /// member's header with free text, no zstd frame but frames of content.
    fn all_content(&self) -> bool {
        match self.codec {
            Codec::Zstd => zstd_frames(&self.original).is_ok_and(|f| f.skippable == 0),
            _ => !self.seen.free_text(),
        }
    }

    /// Ends the copy: the original's bytes when its content was repeated
    /// whole and is all the file holds, else the end of the compressed
    /// stream.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(Stage::Same { .. }) = &self.stage {
            if self.seen.all_matched() && self.all_content() {
                let Some(Stage::Same { mut out, .. }) = self.stage.take() else { unreachable!("matched above") };
                io::copy(&mut At { file: self.original, pos: 0 }, &mut out)?;
                return Ok(out);
            }
        }
        self.compress()?;
        match self.stage.take() {
            Some(Stage::Compressing(enc)) => enc.finish(),
            _ => Err(io::Error::other("the compressed copy failed before")),
        }
    }
}

impl<W: Write + 'static> Write for Later<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(Stage::Same { at, .. }) = &mut self.stage {
            if self.seen.repeats(buf) {
                *at += buf.len() as u64;
                return Ok(buf.len());
            }
        }
        self.compress()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A zstd file's frames (RFC 8878, section 3.1), counted by kind.
#[derive(Debug, Default, PartialEq, Eq)]
struct Frames {
    /// Frames of compressed content.
    content: usize,
    /// Skippable frames: data that the decoder passes over.
    skippable: usize,
}

/// Walks the frames of a zstd file from their headers and their blocks'
/// three-byte headers alone, reading no content. Anything else fails: a
/// magic number of no frame (a legacy format's), a reserved bit or block
/// type, a frame cut short, bytes past the last frame.
fn zstd_frames(file: &File) -> io::Result<Frames> {
    let len = file.metadata()?.len();
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("zstd frames: {what}"));
    let mut headers = Window { file, len, buf: Vec::new(), from: 0 };
    let mut frames = Frames::default();
    let mut at = 0u64;
    while at < len {
        match u32::from_le_bytes(headers.get(at)?) {
            0xFD2F_B528 => {}
            magic if magic & 0xFFFF_FFF0 == 0x184D_2A50 => {
                at += 8 + u64::from(u32::from_le_bytes(headers.get(at + 4)?));
                frames.skippable += 1;
                continue;
            }
            _ => return Err(bad("not a frame")),
        }
        // The frame header descriptor: content size field size (bits 7-6),
        // single segment (5), reserved (3), checksum (2), dictionary id
        // field size (1-0); then the window descriptor unless single
        // segment, the dictionary id and the content size.
        let [d] = headers.get(at + 4)?;
        if d & 0x08 != 0 {
            return Err(bad("a reserved bit is set"));
        }
        let single = d & 0x20 != 0;
        let size_field = [u64::from(single), 2, 4, 8][usize::from(d >> 6)];
        at += 5 + u64::from(!single) + [0, 1, 2, 4][usize::from(d & 3)] + size_field;
        loop {
            let [h0, h1, h2] = headers.get(at)?;
            let h = u32::from_le_bytes([h0, h1, h2, 0]);
            // Raw and compressed blocks hold their size in bytes; an RLE
            // block holds one byte, repeated that many times.
            at += 3 + match (h >> 1) & 3 {
                1 => 1,
                3 => return Err(bad("a reserved block type")),
                _ => u64::from(h >> 3),
            };
            if h & 1 == 1 {
                break;
            }
        }
        at += if d & 0x04 != 0 { 4 } else { 0 };
        frames.content += 1;
    }
    if at != len {
        return Err(bad("the last frame is cut short"));
    }
    Ok(frames)
}

/// A file's bytes read a window at a time from their own offsets: a walk
/// of a zstd file made of many small blocks (crafted, or written so) costs
/// a read a window, not a system call a block.
struct Window<'a> {
    file: &'a File,
    len: u64,
    buf: Vec<u8>,
    /// The offset of `buf[0]`.
    from: u64,
}

/// Bytes read at once by a [`Window`].
const WINDOW: u64 = 8 * 1024;

impl Window<'_> {
    /// The `N` bytes at offset `at`; an error past the end.
    fn get<const N: usize>(&mut self, at: u64) -> io::Result<[u8; N]> {
        use std::os::unix::fs::FileExt;
        let end = at.checked_add(N as u64).filter(|&e| e <= self.len).ok_or(io::ErrorKind::UnexpectedEof)?;
        if at < self.from || end > self.from + self.buf.len() as u64 {
            self.buf.resize(WINDOW.max(N as u64).min(self.len - at) as usize, 0);
            self.file.read_exact_at(&mut self.buf, at)?;
            self.from = at;
        }
        let i = (at - self.from) as usize;
        Ok(self.buf[i..i + N].try_into().expect("N bytes"))
    }
}

/// A file read from its own offset, whatever other handles on it do.
struct At {
    file: File,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The error of a file whose decoder would need more memory than it was
/// given (`--decoder-memory`): the file is sound, and can be scrubbed with
/// a higher limit.
#[derive(Debug)]
pub struct MemoryLimit {
    codec: Codec,
    memory: u64,
}

impl std::fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "was compressed with a larger {} than the {} MiB --decoder-memory lets its decoder hold; \
             raise it to read this file",
            match self.codec {
                Codec::Xz => "dictionary",
                _ => "window",
            },
            self.memory >> 20
        )
    }
}

impl std::error::Error for MemoryLimit {}

/// Every member (stream) of a gzip or bzip2 file, as `gzip -d` and
/// `bzip2 -d` read them: zero bytes after the last (the padding of tape and
/// block devices) end the file, and anything else there is an error, not a
/// member with a bad header.
struct Members<R, D> {
    member: Option<D>,
    /// The first byte of a member's magic.
    magic: u8,
    open: fn(R) -> D,
    close: fn(D) -> R,
    /// Whether a member read to its end carries free text beside its
    /// content (a gzip header's comment or extra field).
    has_free_text: fn(&D) -> bool,
    /// A member read to its end did.
    free_text: bool,
    name: &'static str,
}

impl<R: BufRead> Members<R, flate2::bufread::GzDecoder<R>> {
    fn gzip(input: R) -> Self {
        let open = flate2::bufread::GzDecoder::new;
        Members {
            member: Some(open(input)),
            magic: 0x1f,
            open,
            close: |d| d.into_inner(),
            has_free_text: |d| d.header().is_none_or(|h| h.comment().is_some() || h.extra().is_some()),
            free_text: false,
            name: "gzip",
        }
    }
}

impl<R: BufRead> Members<R, bzip2::bufread::BzDecoder<R>> {
    fn bzip2(input: R) -> Self {
        let open = bzip2::bufread::BzDecoder::new;
        Members {
            member: Some(open(input)),
            magic: b'B',
            open,
            close: |d| d.into_inner(),
            has_free_text: |_| false,
            free_text: false,
            name: "bzip2",
        }
    }
}

impl<R: BufRead, D: Read> Read for Members<R, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let trailing = || {
            io::Error::new(io::ErrorKind::InvalidData, format!("what follows the last {} member is not {0}", self.name))
        };
        loop {
            let Some(member) = &mut self.member else { return Ok(0) };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended exactly at its trailer: what comes next?
            let member = self.member.take().expect("a member was read");
            self.free_text |= (self.has_free_text)(&member);
            let mut input = (self.close)(member);
            match input.fill_buf()? {
                [] => return Ok(0),
                [b, ..] if *b == self.magic => self.member = Some((self.open)(input)),
                [0, ..] => loop {
                    let rest = input.fill_buf()?;
                    let zeros = rest.iter().take_while(|&&b| b == 0).count();
                    match (rest.len(), zeros == rest.len()) {
                        (0, _) => return Ok(0),
                        (_, true) => input.consume(zeros),
                        (_, false) => return Err(trailing()),
                    }
                },
                _ => return Err(trailing()),
            }
        }
    }
}

/// A decoder whose memory-limit errors are told apart from corrupt data.
struct Limited<R> {
    inner: R,
    codec: Codec,
    memory: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let over = match self.codec {
                Codec::Xz => e.get_ref().and_then(|e| e.downcast_ref()) == Some(&liblzma::stream::Error::MemLimit),
                // The zstd crate gives only the error's name.
                _ => {
                    let too_large = zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode::ZSTD_error_frameParameter_windowTooLarge;
                    e.get_ref().is_some_and(|e| {
                        e.to_string() == zstd::zstd_safe::get_error_name(0usize.wrapping_sub(too_large as usize))
                    })
                }
            };
            match over {
                true => io::Error::other(MemoryLimit { codec: self.codec, memory: self.memory }),
                false => e,
            }
        })
    }
}

/// A stream whose first bytes were read, and that yields them again.
pub type Rewound<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// The first bytes of `input` (fewer if it ends first): enough for every
/// codec's magic.
fn head(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(6);
    input.take(6).read_to_end(&mut head)?;
    Ok(head)
}

/// A compressing writer; [`Encoder::finish`] writes the trailer.
pub enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Later(Box<Later<W>>),
}

impl<W: Write + 'static> Encoder<W> {
    /// Ends the stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Later(e) => e.finish(),
        }
    }

    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(e) => e,
            Encoder::Zstd(e) => e,
            Encoder::Bzip2(e) => e,
            Encoder::Xz(e) => e,
            Encoder::Later(e) => e.as_mut(),
        }
    }
}

impl<W: Write + 'static> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // The stdin-style flush after each read must not end compressed
        // blocks early; the trailer comes with finish().
        match self {
            Encoder::Plain(w) => w.flush(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_and_is_sniffed() {
        let text = b"line one\nline two password=x\n".repeat(100);
        let tmp = tempfile::tempdir().unwrap();
        for codec in [Codec::Plain, Codec::Gzip, Codec::Zstd, Codec::Bzip2, Codec::Xz] {
            let path = tmp.path().join(codec.name());
            let mut enc = codec.writer(File::create(&path).unwrap(), None, None).unwrap();
            enc.write_all(&text).unwrap();
            enc.finish().unwrap();
            let mut f = File::open(&path).unwrap();
            assert_eq!(Codec::sniff(&mut f).unwrap(), codec);
            let (sniffed, again) = Codec::sniff_stream(File::open(&path).unwrap()).unwrap();
            let mut back = Vec::new();
            codec.reader(again, 1 << 30).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!((sniffed, &back), (codec, &text), "{}: from a stream", codec.name());
            let mut back = Vec::new();
            codec.reader(f, 1 << 30).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, text, "{}", codec.name());
        }
    }

    #[test]
    fn any_level_is_taken_within_each_codecs_range() {
        let text: Vec<u8> =
            (0..4_000).flat_map(|i| format!("{i} GET /api/items/{} 200\n", i * 7919 % 10_007).into_bytes()).collect();
        let size = |codec: Codec, level: Option<u32>| {
            let mut enc = codec.writer(Vec::new(), level, None).unwrap();
            enc.write_all(&text).unwrap();
            let out = enc.finish().unwrap();
            let mut back = Vec::new();
            codec.reader(&out[..], 1 << 30).unwrap().read_to_end(&mut back).unwrap();
            assert!(back == text, "{} at {level:?}", codec.name());
            out.len()
        };
        for codec in [Codec::Gzip, Codec::Zstd, Codec::Bzip2, Codec::Xz] {
            for level in [None, Some(0), Some(1), Some(9), Some(19), Some(u32::MAX)] {
                size(codec, level);
            }
        }
        // The highest level is the strongest, not a wrapped-around fast one.
        assert!(size(Codec::Zstd, Some(u32::MAX)) <= size(Codec::Zstd, Some(19)));
    }

    #[test]
    fn a_gzip_headers_name_time_and_system_are_written_again() {
        let original = flate2::GzBuilder::new()
            .filename("app.log")
            .mtime(1_700_000_000)
            .operating_system(3)
            .comment("free text")
            .write(Vec::new(), flate2::Compression::fast());
        let original = original.finish().unwrap();
        let header = GzipHeader::of(&original).expect("a whole header");
        let want = GzipHeader { name: Some(b"app.log".to_vec()), mtime: 1_700_000_000, os: 3, free_text: true };
        assert_eq!(header, want);
        let mut again = Codec::Gzip.writer(Vec::new(), None, Some(&header)).unwrap();
        again.write_all(b"x\n").unwrap();
        let again = again.finish().unwrap();
        assert_eq!(GzipHeader::of(&again), Some(GzipHeader { free_text: false, ..header }));
        let read = flate2::bufread::GzDecoder::new(&again[..]);
        assert_eq!(read.header().unwrap().comment(), None, "the comment is not carried");
        assert_eq!(GzipHeader::of(&original[..5]), None, "a header cut short");
    }

    /// A compressed file whose content comes out unchanged is copied as it
    /// is; any change (anywhere, a cut, an addition) is compressed anew, and
    /// so is a gzip file with a member whose header has free text, and a
    /// zstd file with a skippable frame.
    #[test]
    fn a_copy_is_the_original_itself_only_where_nothing_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let text: Vec<u8> = (0..40_000).flat_map(|i| format!("GET /items/{i} 200\n").into_bytes()).collect();
        let gz = |builder: flate2::GzBuilder, text: &[u8]| {
            let mut e = builder.write(Vec::new(), flate2::Compression::new(6));
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        let pack = |codec: Codec, text: &[u8]| {
            let mut e = codec.writer(Vec::new(), Some(1), None).unwrap();
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        // The copy of `original`, a `codec` file, whose content is
        // `content`, written in writes of `n` bytes, each after the reader
        // of the original's content has yielded as many, as a scrub's does.
        let copy = |codec: Codec, original: &[u8], content: &[u8], n: usize| {
            let path = tmp.path().join("in");
            std::fs::write(&path, original).unwrap();
            let header = GzipHeader::of(original);
            let (file, seen) = (File::open(&path).unwrap(), Seen::default());
            let mut enc = Later::encoder(codec, Vec::new(), None, header.as_ref(), file, 1 << 30, &seen).unwrap();
            let mut reader = codec.reader_seen(original, 1 << 30, &seen).unwrap();
            for piece in content.chunks(n) {
                (&mut reader).take(piece.len() as u64).read_to_end(&mut Vec::new()).unwrap();
                enc.write_all(piece).unwrap();
            }
            io::copy(&mut reader, &mut io::sink()).unwrap();
            enc.finish().unwrap()
        };
        let read = |codec: Codec, file: &[u8]| {
            let mut back = Vec::new();
            codec.reader(file, 1 << 30).unwrap().read_to_end(&mut back).unwrap();
            back
        };
        let (len, mid) = (text.len(), text.len() / 2 + 3);
        let changed = |i: usize| {
            let mut t = text.clone();
            t[i] = b'#';
            t
        };
        let gzip = gz(flate2::GzBuilder::new().filename("app.log").mtime(7), &text);
        let zstd = pack(Codec::Zstd, &text);
        let originals = [
            (Codec::Gzip, gzip.clone()),
            (Codec::Gzip, [gzip.clone(), vec![0; 1000]].concat()),
            // Members or frames with nothing in them but content.
            (
                Codec::Gzip,
                [gz(flate2::GzBuilder::new(), &text[..1000]), gz(flate2::GzBuilder::new(), &text[1000..])].concat(),
            ),
            (Codec::Zstd, zstd.clone()),
            (Codec::Zstd, [pack(Codec::Zstd, &text[..1000]), pack(Codec::Zstd, &text[1000..])].concat()),
            (Codec::Bzip2, pack(Codec::Bzip2, &text)),
            // Two streams: nothing in them but content.
            (Codec::Bzip2, [pack(Codec::Bzip2, &text[..1000]), pack(Codec::Bzip2, &text[1000..])].concat()),
            (Codec::Xz, pack(Codec::Xz, &text)),
        ];
        for (codec, original) in &originals {
            let name = codec.name();
            for n in [1_000, 300_000, 10_000_000] {
                assert!(copy(*codec, original, &text, n) == *original, "{name}, writes of {n}");
            }
            for content in
                [changed(0), changed(mid), changed(len - 1), text[..mid].to_vec(), [&text[..], b"x"].concat()]
            {
                let out = copy(*codec, original, &content, 300_000);
                assert!(out != *original && read(*codec, &out) == content, "{name}");
            }
        }
        let out = copy(Codec::Gzip, &gzip, &changed(mid), 4096);
        assert_eq!(GzipHeader::of(&out), GzipHeader::of(&gzip), "the header is written again");
        // Free text in any member's header, or a skippable frame anywhere,
        // is not carried: the copy is compressed anew.
        let commented = |c: &str| flate2::GzBuilder::new().comment(c);
        for free in [
            gz(commented("free text"), &text),
            [gz(flate2::GzBuilder::new(), &text[..1000]), gz(commented("free text"), &text[1000..])].concat(),
            [
                gz(flate2::GzBuilder::new(), &text[..1000]),
                gz(flate2::GzBuilder::new().extra(vec![7; 9]), &text[1000..]),
            ]
            .concat(),
        ] {
            let out = copy(Codec::Gzip, &free, &text, 4096);
            assert!(out != free && read(Codec::Gzip, &out) == text, "free text is not carried");
            assert_eq!(flate2::bufread::GzDecoder::new(&out[..]).header().unwrap().comment(), None);
        }
        let skippable =
            |data: &[u8]| [&0x184D_2A53u32.to_le_bytes()[..], &(data.len() as u32).to_le_bytes(), data].concat();
        for free in [
            [skippable(b"password=hunter2"), zstd.clone()].concat(),
            [zstd.clone(), skippable(b"")].concat(),
            [pack(Codec::Zstd, &text[..1000]), skippable(b"x"), pack(Codec::Zstd, &text[1000..])].concat(),
        ] {
            assert_eq!(read(Codec::Zstd, &free), text, "the decoder passes over skippable frames");
            let out = copy(Codec::Zstd, &free, &text, 4096);
            assert!(out != free && read(Codec::Zstd, &out) == text, "a skippable frame is not carried");
        }
    }

    /// A reader that runs further ahead of the copy than [`SEEN_MAX`], or a
    /// copy written ahead of its reader (no scrub does that), gives the
    /// comparison up: the copy is compressed, and reads back as written.
    #[test]
    fn a_copy_too_far_from_its_reader_is_compressed() {
        let tmp = tempfile::tempdir().unwrap();
        let text: Vec<u8> = (0..1_200_000).flat_map(|i| format!("GET /items/{i} 200\n").into_bytes()).collect();
        assert!(text.len() > SEEN_MAX);
        let mut e = Codec::Zstd.writer(Vec::new(), Some(1), None).unwrap();
        e.write_all(&text).unwrap();
        let original = e.finish().unwrap();
        let path = tmp.path().join("in.zst");
        std::fs::write(&path, &original).unwrap();
        for ahead in [true, false] {
            let seen = Seen::default();
            let file = File::open(&path).unwrap();
            let mut enc = Later::encoder(Codec::Zstd, Vec::new(), None, None, file, 1 << 30, &seen).unwrap();
            let mut reader = Codec::Zstd.reader_seen(&original[..], 1 << 30, &seen).unwrap();
            if ahead {
                io::copy(&mut reader, &mut io::sink()).unwrap();
                enc.write_all(&text).unwrap();
            } else {
                enc.write_all(&text[..1000]).unwrap();
                io::copy(&mut reader, &mut io::sink()).unwrap();
                enc.write_all(&text[1000..]).unwrap();
            }
            let out = enc.finish().unwrap();
            let mut back = Vec::new();
            Codec::Zstd.reader(&out[..], 1 << 30).unwrap().read_to_end(&mut back).unwrap();
            assert!(out != original && back == text, "read ahead: {ahead}");
        }
    }

    /// The frame walk agrees with the decoder on what zstd writes: frames
    /// with and without a checksum or a content size, one segment or many,
    /// compressed, raw (random bytes) and RLE (one byte repeated) blocks.
    /// Anything it cannot walk to the file's end is refused.
    #[test]
    fn zstd_frames_are_walked_to_the_files_end() {
        let tmp = tempfile::tempdir().unwrap();
        let frames = |file: &[u8]| {
            let path = tmp.path().join("z");
            std::fs::write(&path, file).unwrap();
            zstd_frames(&File::open(&path).unwrap())
        };
        let mut random = vec![0u8; 300_000];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for b in random.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let mut texts =
            vec![b"GET /items 200\n".repeat(20_000), random, vec![b'a'; 500_000], Vec::new(), b"x".to_vec()];
        texts.push([&texts[1][..], &texts[2], &texts[0]].concat());
        let mut all = Vec::new();
        for text in &texts {
            for (checksum, size) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut e = zstd::Encoder::new(Vec::new(), 3).unwrap();
                e.include_checksum(checksum).unwrap();
                e.include_contentsize(size).unwrap();
                if size {
                    e.set_pledged_src_size(Some(text.len() as u64)).unwrap();
                }
                e.write_all(text).unwrap();
                let file = e.finish().unwrap();
                assert_eq!(frames(&file).unwrap(), Frames { content: 1, skippable: 0 }, "{} bytes", text.len());
                all.extend_from_slice(&file);
            }
        }
        assert_eq!(frames(&all).unwrap(), Frames { content: 4 * texts.len(), skippable: 0 });
        let skippable = [&0x184D_2A5Fu32.to_le_bytes()[..], &3u32.to_le_bytes(), b"abc"].concat();
        let with = [&skippable[..], &all, &skippable].concat();
        assert_eq!(frames(&with).unwrap(), Frames { content: 4 * texts.len(), skippable: 2 });
        let one = pack_zstd(&texts[0]);
        for bad in [
            one[..one.len() - 1].to_vec(),
            [&one[..], b"\0"].concat(),
            [&one[..], &skippable[..skippable.len() - 1]].concat(),
            [&one[..], b"garbage!"].concat(),
        ] {
            assert!(frames(&bad).is_err());
        }
        let mut reserved = one.clone();
        reserved[4] |= 0x08;
        assert!(frames(&reserved).is_err());
        // A frame of 100,000 one-byte raw blocks and an RLE block, written
        // by hand: its headers span many of the walk's windows.
        let mut tiny = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00];
        let mut content = Vec::new();
        for i in 0..100_000u32 {
            tiny.extend_from_slice(&(1u32 << 3).to_le_bytes()[..3]);
            tiny.push(b'a' + (i % 26) as u8);
            content.push(b'a' + (i % 26) as u8);
        }
        tiny.extend_from_slice(&((500u32 << 3) | (1 << 1) | 1).to_le_bytes()[..3]);
        tiny.push(b'z');
        content.extend_from_slice(&[b'z'; 500]);
        let mut back = Vec::new();
        Codec::Zstd.reader(&tiny[..], 1 << 30).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == content, "the decoder reads the hand-written frame");
        assert_eq!(frames(&tiny).unwrap(), Frames { content: 1, skippable: 0 });
        assert!(frames(&tiny[..tiny.len() - 1]).is_err());
    }

    fn pack_zstd(text: &[u8]) -> Vec<u8> {
        let mut e = Codec::Zstd.writer(Vec::new(), Some(3), None).unwrap();
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn members_end_at_zero_padding_and_refuse_other_trailing_data() {
        for codec in [Codec::Gzip, Codec::Bzip2] {
            let pack = |text: &[u8]| {
                let mut e = codec.writer(Vec::new(), Some(1), None).unwrap();
                e.write_all(text).unwrap();
                e.finish().unwrap()
            };
            let read = |file: &[u8]| {
                let mut back = Vec::new();
                codec.reader(file, 1 << 20).unwrap().read_to_end(&mut back).map(|_| back)
            };
            let name = codec.name();
            let two = [pack(b"one\n"), pack(b""), pack(b"two\n")].concat();
            assert_eq!(read(&two).unwrap(), b"one\ntwo\n", "{name}");
            // Padding past the reader's buffer, as a tape block leaves it.
            let padded = [two.clone(), vec![0; 300_000]].concat();
            assert_eq!(read(&padded).unwrap(), b"one\ntwo\n", "{name}");
            for bad in [&b"garbage"[..], b"\0\0\0x"] {
                let e = read(&[two.clone(), bad.to_vec()].concat()).unwrap_err();
                assert!(e.to_string().contains(&format!("what follows the last {name} member is not {name}")), "{e}");
            }
            // A member cut short is an error, as ever.
            let cut = pack(b"three\n");
            assert!(read(&[two, cut[..cut.len() / 2].to_vec()].concat()).is_err(), "{name}");
        }
    }

    #[test]
    fn a_decoder_needing_more_memory_than_allowed_fails_as_such_not_as_corrupt() {
        let text = b"a line of a log\n".repeat(1000);
        // zstd with a 16 MiB window (a stream of unknown size keeps it), and
        // xz with its default 8 MiB dictionary.
        let mut zstd = zstd::Encoder::new(Vec::new(), 3).unwrap();
        zstd.window_log(24).unwrap();
        zstd.write_all(&text).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&text).unwrap();
        for (codec, file) in [(Codec::Zstd, zstd.finish().unwrap()), (Codec::Xz, xz.finish().unwrap())] {
            let read = |memory: u64| {
                let mut back = Vec::new();
                codec.reader(&file[..], memory).unwrap().read_to_end(&mut back).map(|_| back)
            };
            let e = read(4 << 20).expect_err(codec.name());
            let limit = e.get_ref().and_then(|e| e.downcast_ref::<MemoryLimit>());
            assert!(limit.is_some(), "{}: {e}", codec.name());
            assert!(e.to_string().contains("than the 4 MiB --decoder-memory"), "{e}");
            assert_eq!(read(32 << 20).unwrap(), text, "{}", codec.name());
        }
        // Corrupt data is still corrupt data.
        let mut zstd = zstd::Encoder::new(Vec::new(), 3).unwrap();
        zstd.write_all(&text).unwrap();
        let mut bad = zstd.finish().unwrap();
        let n = bad.len();
        bad[n / 2..].fill(0xAA);
        let mut back = Vec::new();
        let e = Codec::Zstd.reader(&bad[..], 4 << 20).unwrap().read_to_end(&mut back).unwrap_err();
        assert!(e.get_ref().is_some_and(|e| !e.is::<MemoryLimit>()), "{e}");
    }
}
