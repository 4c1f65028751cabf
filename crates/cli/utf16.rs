//! UTF-16 text, scrubbed as UTF-8 and written back as it came.
//!
//! Windows writes some logs in UTF-16 (PowerShell 5's transcripts and
//! `Out-File`, exported event logs, some SQL Server and IIS logs), with a
//! byte order mark first. Read as bytes, every other byte is a NUL and no
//! rule can match: the secrets would pass through. So input that opens with
//! a UTF-16 byte order mark is decoded to UTF-8, scrubbed, and encoded back
//! to UTF-16 in the same byte order, mark first.
//!
//! Nothing is lost on the way: an unpaired surrogate goes through as the
//! three bytes of generalized UTF-8 (WTF-8) that stand for it and comes back
//! the same. Only where a mask cut a character of a secret in two do the
//! orphaned bytes come back as U+FFFD. A UTF-16 input that ends in half a
//! code unit is an error.

use std::io::{self, Read, Write};

/// Bytes read and decoded at a time.
const CHUNK: usize = 64 * 1024;

/// A UTF-16 byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utf16 {
    Le,
    Be,
}

impl Utf16 {
    /// The byte order whose mark `head` starts with. `FF FE 00 00` is
    /// UTF-32's mark and is left alone.
    pub fn sniff(head: &[u8]) -> Option<Utf16> {
        match head {
            [0xFF, 0xFE, 0, 0, ..] => None,
            [0xFF, 0xFE, ..] => Some(Utf16::Le),
            [0xFE, 0xFF, ..] => Some(Utf16::Be),
            _ => None,
        }
    }

    /// As the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Utf16::Le => "utf-16le",
            Utf16::Be => "utf-16be",
        }
    }

    fn unit(self, pair: [u8; 2]) -> u16 {
        match self {
            Utf16::Le => u16::from_le_bytes(pair),
            Utf16::Be => u16::from_be_bytes(pair),
        }
    }

    fn bytes(self, unit: u16) -> [u8; 2] {
        match self {
            Utf16::Le => unit.to_le_bytes(),
            Utf16::Be => unit.to_be_bytes(),
        }
    }
}

/// The first bytes of `input`, as many as it takes to tell whether they
/// are a UTF-16 byte order mark (one, unless it starts with one), and the
/// byte order they mark. A live pipe is never held waiting for more. Put
/// the bytes back in front with [`Unread`].
pub fn sniff(input: &mut dyn Read) -> io::Result<(Vec<u8>, Option<Utf16>)> {
    let mut head = Vec::with_capacity(4);
    while matches!(head[..], [] | [0xFF] | [0xFE] | [0xFF, 0xFE] | [0xFF, 0xFE, 0]) {
        let mut byte = [0];
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let order = Utf16::sniff(&head);
    Ok((head, order))
}

/// `input` with the bytes [`sniff`] took from it back in front: the first
/// read returns them with what `input` gives in the same read, so that a
/// reader that takes each read as a piece (the filter's threads) gets a
/// whole first piece, not the sniffed byte alone (which went to the writer
/// as a piece with no newline, and cost two-thread runs a fifth of their
/// speed).
pub struct Unread<R> {
    head: Vec<u8>,
    input: R,
}

impl<R: Read> Unread<R> {
    pub fn new(head: Vec<u8>, input: R) -> Unread<R> {
        Unread { head, input }
    }
}

impl<R: Read> Read for Unread<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head.is_empty() {
            return self.input.read(buf);
        }
        let n = self.head.len().min(buf.len());
        buf[..n].copy_from_slice(&self.head[..n]);
        self.head.drain(..n);
        if !self.head.is_empty() || n == buf.len() {
            return Ok(n);
        }
        // The head is back; what the input gives now joins it. An error
        // here would lose the head's bytes from the answer: the error waits
        // for the next read.
        match self.input.read(&mut buf[n..]) {
            Ok(more) => Ok(n + more),
            Err(_) => Ok(n),
        }
    }
}

/// Runs `write` on `out`, or, for text that came in UTF-16 (`order`), on
/// an [`Encoder`] into `out` that it then finishes: what `write` writes
/// goes out in the byte order it came in.
pub fn writing<T>(
    order: Option<Utf16>,
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    match order {
        None => write(out),
        Some(order) => {
            let mut encoder = Encoder::new(order, out);
            let done = write(&mut encoder)?;
            encoder.finish()?;
            Ok(done)
        }
    }
}

/// Reads UTF-16 text (its byte order mark first) as UTF-8, without the mark.
pub struct Decoder<R> {
    inner: R,
    order: Utf16,
    /// Bytes read and not decoded yet: half a code unit, or a high
    /// surrogate whose low half may come next.
    raw: Vec<u8>,
    /// Decoded text, handed out from `at`.
    text: Vec<u8>,
    at: usize,
    started: bool,
    eof: bool,
}

impl<R: Read> Decoder<R> {
    pub fn new(order: Utf16, inner: R) -> Decoder<R> {
        Decoder { inner, order, raw: Vec::new(), text: Vec::new(), at: 0, started: false, eof: false }
    }

    /// Reads and decodes the next bytes.
    fn fill(&mut self) -> io::Result<()> {
        self.text.clear();
        self.at = 0;
        let kept = self.raw.len();
        self.raw.resize(kept + CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[kept..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.raw.truncate(kept);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(kept + n);
        self.eof = n == 0;
        if self.eof && self.raw.len() % 2 == 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "UTF-16 text ends in half a character"));
        }
        let mut units: Vec<u16> = self.raw.chunks_exact(2).map(|p| self.order.unit([p[0], p[1]])).collect();
        // A high surrogate at the end waits for its low half.
        let waits = !self.eof && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u));
        if waits {
            units.pop();
        }
        self.raw.drain(..units.len() * 2);
        if !self.started && !units.is_empty() {
            self.started = true;
            if units[0] == 0xFEFF {
                units.remove(0);
            }
        }
        push_utf8(units, &mut self.text);
        Ok(())
    }
}

/// Appends code units to `text` as UTF-8, an unpaired surrogate as the
/// three bytes of generalized UTF-8 that stand for it.
fn push_utf8(units: impl IntoIterator<Item = u16>, text: &mut Vec<u8>) {
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => text.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            Err(e) => {
                let u = e.unpaired_surrogate();
                text.extend_from_slice(&[
                    0xE0 | (u >> 12) as u8,
                    0x80 | (u >> 6 & 0x3F) as u8,
                    0x80 | (u & 0x3F) as u8,
                ]);
            }
        }
    }
}

/// The end of the last whole line of `bytes` (UTF-16 in `order`, from a
/// code unit boundary): just past its newline, or 0 when none has ended.
pub fn lines_end(order: Utf16, bytes: &[u8]) -> usize {
    memchr::memrchr_iter(b'\n', bytes)
        .find_map(|i| match order {
            Utf16::Le if i % 2 == 0 && bytes.get(i + 1) == Some(&0) => Some(i + 2),
            Utf16::Be if i % 2 == 1 && bytes[i - 1] == 0 => Some(i + 1),
            _ => None,
        })
        .unwrap_or(0)
}

/// Appends the whole code units of `bytes` (UTF-16 in `order`) to `text`
/// as UTF-8. An odd last byte, half a character, is left out.
pub fn decode(order: Utf16, bytes: &[u8], text: &mut Vec<u8>) {
    push_utf8(bytes.chunks_exact(2).map(|p| order.unit([p[0], p[1]])), text);
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.text.len() {
            if self.eof {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.text.len() - self.at);
        buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Writes UTF-8 (and the generalized UTF-8 of unpaired surrogates) as
/// UTF-16, its byte order mark first. Call [`Encoder::finish`] at the end.
pub struct Encoder<W: Write> {
    inner: W,
    order: Utf16,
    /// The start of a character whose other bytes have not come yet.
    pending: Vec<u8>,
    out: Vec<u8>,
    started: bool,
}

impl<W: Write> Encoder<W> {
    pub fn new(order: Utf16, inner: W) -> Encoder<W> {
        Encoder { inner, order, pending: Vec::new(), out: Vec::new(), started: false }
    }

    /// Encodes and writes what is left (half a character as U+FFFD) and
    /// returns the inner writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        let pending = std::mem::take(&mut self.pending);
        self.encode(&pending, true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Encodes `bytes` and writes them; without `last`, a character cut at
    /// the end is kept for the next write.
    fn encode(&mut self, bytes: &[u8], last: bool) -> io::Result<()> {
        self.out.clear();
        if !self.started {
            self.started = true;
            self.out.extend_from_slice(&self.order.bytes(0xFEFF));
        }
        let (order, out) = (self.order, &mut self.out);
        let mut push = |u: u16| out.extend_from_slice(&order.bytes(u));
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                push(u16::from(b));
                i += 1;
                continue;
            }
            let width = match b {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => 0,
            };
            if width > 0 && i + width > bytes.len() && !last && bytes[i + 1..].iter().all(|c| c & 0xC0 == 0x80) {
                self.pending.extend_from_slice(&bytes[i..]);
                break;
            }
            let seq = &bytes[i..(i + width).min(bytes.len())];
            if let [0xED, s1 @ 0xA0..=0xBF, s2 @ 0x80..=0xBF] = *seq {
                // An unpaired surrogate, as the decoder wrote it.
                push(0xD000 | u16::from(s1 & 0x3F) << 6 | u16::from(s2 & 0x3F));
                i += 3;
                continue;
            }
            match std::str::from_utf8(seq).ok().and_then(|s| s.chars().next()) {
                Some(c) if width > 0 && seq.len() == width => {
                    c.encode_utf16(&mut [0; 2]).iter().for_each(|&u| push(u));
                    i += width;
                }
                // A byte of a character that a mask cut.
                _ => {
                    push(0xFFFD);
                    i += 1;
                }
            }
        }
        self.inner.write_all(&self.out)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        self.encode(&bytes, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sniffed bytes come back joined to the input's next read: a
    /// reader that takes each read as a piece gets a whole first piece.
    #[test]
    fn unread_joins_the_head_to_the_first_read() {
        let text = b"line one\nline two\n";
        let mut input = &text[..];
        let (head, order) = sniff(&mut input).unwrap();
        assert_eq!((head.len(), order), (1, None));
        let mut unread = Unread::new(head, input);
        let mut buf = [0; 64];
        assert_eq!(unread.read(&mut buf).unwrap(), text.len());
        assert_eq!(&buf[..text.len()], text);
        assert_eq!(unread.read(&mut buf).unwrap(), 0);
        // A buffer shorter than the head takes it in turns.
        let mut unread = Unread::new(vec![0xFF, 0xFE, 0x41], &b"\0"[..]);
        let mut one = [0; 1];
        let got: Vec<u8> = (0..4)
            .map(|_| {
                assert_eq!(unread.read(&mut one).unwrap(), 1);
                one[0]
            })
            .collect();
        assert_eq!(got, [0xFF, 0xFE, 0x41, 0]);
    }
    use proptest::prelude::*;

    fn utf16(order: Utf16, text: &str) -> Vec<u8> {
        std::iter::once(0xFEFF).chain(text.encode_utf16()).flat_map(|u| order.bytes(u)).collect()
    }

    fn decoded(order: Utf16, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Decoder::new(order, bytes).read_to_end(&mut out)?;
        Ok(out)
    }

    /// `text` written to an encoder in pieces of `size`.
    fn encoded(order: Utf16, text: &[u8], size: usize) -> Vec<u8> {
        let mut enc = Encoder::new(order, Vec::new());
        text.chunks(size.max(1)).for_each(|c| enc.write_all(c).unwrap());
        enc.finish().unwrap()
    }

    #[test]
    fn text_in_either_byte_order_reads_as_utf8_and_writes_back() {
        let text = "user=jané password=hunter2 ✓ 𝄞\r\n";
        for order in [Utf16::Le, Utf16::Be] {
            let bytes = utf16(order, text);
            assert_eq!(Utf16::sniff(&bytes), Some(order));
            assert_eq!(decoded(order, &bytes).unwrap(), text.as_bytes());
            assert_eq!(encoded(order, text.as_bytes(), 1), bytes);
        }
        assert_eq!(Utf16::sniff(b"\xFF\xFE\0\0utf-32"), None);
        assert_eq!(Utf16::sniff(b"plain"), None);
    }

    #[test]
    fn whole_lines_end_after_a_newline_code_unit_not_a_newline_byte() {
        for order in [Utf16::Le, Utf16::Be] {
            let bytes = utf16(order, "a\r\n\u{0A0A}b\nc");
            let end = lines_end(order, &bytes);
            let mut text = Vec::new();
            decode(order, &bytes[2..end], &mut text);
            assert_eq!(text, "a\r\n\u{0A0A}b\n".as_bytes(), "{order:?}");
            // U+0A0A alone is two newline bytes, and no line end.
            assert_eq!(lines_end(order, &utf16(order, "\u{0A0A}x")), 0, "{order:?}");
        }
    }

    #[test]
    fn the_head_is_read_only_as_far_as_it_takes_to_tell() {
        let head = |bytes: &[u8]| sniff(&mut &bytes[..]).unwrap();
        assert_eq!(head(b"ab\xFF\xFE"), (b"a".to_vec(), None));
        assert_eq!(head(b"\xFF\xFEa\0"), (b"\xFF\xFEa".to_vec(), Some(Utf16::Le)));
        assert_eq!(head(b"\xFE\xFF\0a"), (b"\xFE\xFF".to_vec(), Some(Utf16::Be)));
        assert_eq!(head(b"\xFF\xFE\0\0"), (b"\xFF\xFE\0\0".to_vec(), None));
        assert_eq!(head(b""), (Vec::new(), None));
    }

    #[test]
    fn a_character_cut_by_a_mask_comes_back_as_a_replacement_and_half_a_unit_is_an_error() {
        // The first byte of `é` left after a mask.
        assert_eq!(encoded(Utf16::Le, b"a\xC3*", 8), utf16(Utf16::Le, "a\u{FFFD}*"));
        assert_eq!(encoded(Utf16::Le, b"a\xC3", 8), utf16(Utf16::Le, "a\u{FFFD}"));
        let err = decoded(Utf16::Le, b"\xFF\xFEa\0b").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    proptest! {
        /// Any code units, unpaired surrogates too, read in any sizes and
        /// written in any sizes, come back byte for byte.
        #[test]
        fn any_utf16_round_trips(units in prop::collection::vec(any::<u16>(), 0..200), size in 1usize..9, le: bool) {
            let order = if le { Utf16::Le } else { Utf16::Be };
            let bytes: Vec<u8> = std::iter::once(0xFEFF).chain(units).flat_map(|u| order.bytes(u)).collect();
            let mut text = Vec::new();
            let mut dec = Decoder::new(order, Pieces(&bytes, size));
            dec.read_to_end(&mut text).unwrap();
            prop_assert_eq!(encoded(order, &text, size), bytes);
        }
    }

    /// A reader that hands out at most `.1` bytes a read.
    struct Pieces<'a>(&'a [u8], usize);

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
}
