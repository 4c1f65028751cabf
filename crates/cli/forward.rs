//! The Fluentd Forward protocol (v1): the message modes a client may send,
//! and the messages logscrub sends downstream.
//!
//! - Message: `[tag, time, record, option?]`
//! - Forward: `[tag, [[time, record], ...], option?]`
//! - PackedForward: `[tag, bin, option?]`, `bin` holding `[time, record]`
//!   entries back to back
//! - CompressedPackedForward: PackedForward with `{"compressed": "gzip"}`,
//!   the entries gzipped (one or more members)
//!
//! `option.chunk`, when present, asks for `{"ack": chunk}` once the
//! entries are safe.

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;

use rmpv::Value;

use crate::msgpack::{self, EventTime, Framer};

/// One decoded Forward message.
#[derive(Debug, Default)]
pub struct Message {
    /// The tag of every entry.
    pub tag: String,
    /// `(time, record)` pairs; records are msgpack maps.
    pub entries: Vec<(EventTime, Value)>,
    /// The chunk id to acknowledge, if the client asked.
    pub chunk: Option<String>,
}

/// A Forward message with its entries packed: `[time, record]` arrays back
/// to back, the PackedForward layout. A PackedForward message is read in
/// place (its entries are framed, not decoded); the other modes are decoded
/// and their entries packed.
#[derive(Debug)]
pub struct Packed<'a> {
    /// The tag of every entry.
    pub tag: String,
    /// The entries' bytes.
    pub bytes: Cow<'a, [u8]>,
    /// Where each entry lies in `bytes`.
    pub entries: Vec<Entry>,
    /// The chunk id to acknowledge, if the client asked.
    pub chunk: Option<String>,
}

/// Where one packed entry lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its array header and its time.
    pub head: Range<usize>,
    /// Its record, right after.
    pub record: Range<usize>,
}

impl Entry {
    /// The whole entry.
    pub fn range(&self) -> Range<usize> {
        self.head.start..self.record.end
    }
}

/// Entries as they travel through the sidecar (buffer, spill, output):
/// `[time, record]` arrays back to back, as in PackedForward.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    bytes: Vec<u8>,
    count: u64,
}

impl Entries {
    /// `count` entries packed by [`Entries::bytes`] and read back (from
    /// the spill), checked: `None` unless they are exactly `count`
    /// `[time, record]` entries.
    pub fn read_packed(bytes: &[u8], count: u64) -> Option<Entries> {
        let framed = frame(bytes, usize::MAX).ok()?;
        (framed.len() as u64 == count).then(|| Entries { bytes: bytes.to_vec(), count })
    }

    /// Adds an entry whose array header and time are `head`, with `record`.
    pub fn push(&mut self, head: &[u8], record: &Value) {
        self.bytes.extend_from_slice(head);
        msgpack::encode(record, &mut self.bytes);
        self.count += 1;
    }

    /// Adds an entry as it is.
    pub fn push_packed(&mut self, entry: &[u8]) {
        self.bytes.extend_from_slice(entry);
        self.count += 1;
    }

    /// The entries' bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many entries.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Each entry decoded. Entries are packed by this program from framed
    /// messages, within the depth a decode takes: they decode, and a time
    /// that does not read is the epoch. Each is framed before it is decoded,
    /// so that one that did not decode could not take the rest with it.
    pub fn decoded(&self) -> impl Iterator<Item = (EventTime, Value)> + '_ {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || loop {
            let whole = rest;
            if skip(&mut rest).is_none() {
                debug_assert!(rest.is_empty(), "packed entries frame");
                return None;
            }
            match msgpack::decode(&whole[..whole.len() - rest.len()]) {
                Ok(Value::Array(mut pair)) if pair.len() == 2 => {
                    let record = pair.pop().unwrap_or(Value::Nil);
                    return Some((EventTime::from_value(&pair[0]).unwrap_or_default(), record));
                }
                _ => debug_assert!(false, "packed entries decode"),
            }
        })
    }
}

/// Why a Forward message was refused.
#[derive(Debug)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: &str) -> ProtocolError {
    ProtocolError(format!("not a Forward message: {what}"))
}

/// Reads a message framed from a connection. A PackedForward message's
/// entries are framed in place (after gunzip when compressed); the other
/// modes are decoded by [`parse`] and their entries packed. `limit` bounds
/// the size of decompressed entries (a gzip bomb is refused, not inflated).
pub fn read(bytes: &[u8], limit: usize) -> Result<Packed<'_>, ProtocolError> {
    let mut after_header = bytes;
    let len = rmp::decode::read_array_len(&mut after_header).map_err(|_| bad("not an array"))?;
    let mut probe = after_header;
    let packed_mode = (2..=4).contains(&len)
        && skip(&mut probe).is_some()
        && matches!(probe.first(), Some(0xa0..=0xbf | 0xc4..=0xc6 | 0xd9..=0xdb));
    if !packed_mode {
        let message = parse(msgpack::decode(bytes).map_err(|_| bad("undecodable msgpack"))?, limit)?;
        let mut packed = Entries::default();
        let mut entries = Vec::with_capacity(message.entries.len());
        for (time, record) in &message.entries {
            let start = packed.bytes.len();
            let _ = rmp::encode::write_array_len(&mut packed.bytes, 2);
            msgpack::encode(&time.to_value(), &mut packed.bytes);
            let at = packed.bytes.len();
            msgpack::encode(record, &mut packed.bytes);
            entries.push(Entry { head: start..at, record: at..packed.bytes.len() });
        }
        return Ok(Packed { tag: message.tag, bytes: Cow::Owned(packed.bytes), entries, chunk: message.chunk });
    }
    // [tag, bin or str, option?, ...]: the same checks as `parse`, on the
    // small parts only.
    let mut parts = Vec::with_capacity(len as usize);
    let mut body = None;
    let mut rest = after_header;
    for i in 0..len {
        if i == 1 {
            body = Some(packed_body(&mut rest)?);
            parts.push(Value::Nil);
        } else {
            // The depth left to an element of the message's array, as when
            // the message is decoded whole.
            let part = rmpv::decode::read_value_with_max_depth(&mut rest, msgpack::DECODE_DEPTH - 2);
            parts.push(part.map_err(|_| bad("undecodable msgpack"))?);
        }
    }
    let body = body.ok_or_else(|| bad("wrong number of elements"))?;
    let (tag, chunk, compressed) = head(&mut parts)?;
    let bytes = inflate(body, compressed, limit)?;
    let entries = frame(&bytes, limit)?;
    Ok(Packed { tag, bytes, entries, chunk })
}

/// Decodes a message framed from a connection. `limit` bounds the size of
/// decompressed entries (a gzip bomb is refused, not inflated).
pub fn parse(value: Value, limit: usize) -> Result<Message, ProtocolError> {
    let Value::Array(mut parts) = value else { return Err(bad("not an array")) };
    let (tag, chunk, compressed) = head(&mut parts)?;
    let mut entries = Vec::new();
    match parts.swap_remove(1) {
        t if is_time(&t) => {
            // parts is now [tag, record].
            let record = if parts.len() == 2 { parts.pop() } else { None };
            let record = record.ok_or_else(|| bad("message without record"))?;
            entries.push((time_of(&t)?, record));
        }
        Value::Array(list) => {
            for e in list {
                entries.push(pair(e)?);
            }
        }
        Value::Binary(bytes) => packed(&bytes, compressed, limit, &mut entries)?,
        Value::String(s) => packed(s.as_bytes(), compressed, limit, &mut entries)?,
        _ => return Err(bad("unknown mode")),
    }
    Ok(Message { tag, entries, chunk })
}

/// Checks a message's length and tag and takes its option off the end:
/// the tag, the chunk id and whether the entries are gzipped.
fn head(parts: &mut Vec<Value>) -> Result<(String, Option<String>, bool), ProtocolError> {
    if !(2..=4).contains(&parts.len()) {
        return Err(bad("wrong number of elements"));
    }
    let tag = match &parts[0] {
        Value::String(s) => s.as_str().ok_or_else(|| bad("tag is not UTF-8"))?.to_string(),
        _ => return Err(bad("tag is not a string")),
    };
    let option = if parts.len() == 4 || (parts.len() == 3 && !is_time(&parts[1])) { parts.pop() } else { None };
    let option = option.filter(|o| !o.is_nil());
    let (chunk, compressed) = match &option {
        None => (None, false),
        Some(Value::Map(kv)) => {
            let get = |k: &str| kv.iter().find(|(key, _)| key.as_str() == Some(k)).map(|(_, v)| v);
            let chunk = get("chunk").and_then(|c| c.as_str()).map(str::to_string);
            let compressed = match get("compressed").map(|c| c.as_str()) {
                None => false,
                Some(Some("gzip")) => true,
                Some(_) => return Err(bad("unknown compression")),
            };
            (chunk, compressed)
        }
        Some(_) => return Err(bad("option is not a map")),
    };
    Ok((tag, chunk, compressed))
}

fn is_time(v: &Value) -> bool {
    matches!(v, Value::Integer(_) | Value::F64(_) | Value::Ext(0, _))
}

fn time_of(v: &Value) -> Result<EventTime, ProtocolError> {
    EventTime::from_value(v).ok_or_else(|| bad("bad time"))
}

fn pair(e: Value) -> Result<(EventTime, Value), ProtocolError> {
    match e {
        Value::Array(mut pair) if pair.len() == 2 => {
            let record = pair.pop().unwrap_or(Value::Nil);
            Ok((time_of(&pair[0])?, record))
        }
        _ => Err(bad("entry is not [time, record]")),
    }
}

/// Splits PackedForward entries (after gunzip when compressed).
fn packed(
    bytes: &[u8],
    compressed: bool,
    limit: usize,
    out: &mut Vec<(EventTime, Value)>,
) -> Result<(), ProtocolError> {
    let bytes = inflate(bytes, compressed, limit)?;
    for e in frame(&bytes, limit)? {
        let value = msgpack::decode(&bytes[e.range()]).map_err(|_| bad("undecodable packed entry"))?;
        out.push(pair(value)?);
    }
    Ok(())
}

/// PackedForward entries, gunzipped when `compressed` (every member), at
/// most `limit` bytes.
fn inflate(bytes: &[u8], compressed: bool, limit: usize) -> Result<Cow<'_, [u8]>, ProtocolError> {
    if !compressed {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut buf = Vec::new();
    let mut gz = flate2::read::MultiGzDecoder::new(bytes).take(limit as u64 + 1);
    gz.read_to_end(&mut buf).map_err(|_| bad("corrupt gzip in CompressedPackedForward"))?;
    if buf.len() > limit {
        return Err(ProtocolError("decompressed entries larger than the maximum record size".into()));
    }
    Ok(Cow::Owned(buf))
}

/// Frames packed entries, each of which must be `[time, record]`.
fn frame(bytes: &[u8], limit: usize) -> Result<Vec<Entry>, ProtocolError> {
    let mut entries = Vec::new();
    let mut start = 0;
    let mut framer = Framer::new(limit);
    while start < bytes.len() {
        let len = framer
            .complete(&bytes[start..])
            .map_err(|e| ProtocolError(e.to_string()))?
            .ok_or_else(|| bad("truncated packed entry"))?;
        let mut rest = &bytes[start..start + len];
        if rmp::decode::read_array_len(&mut rest).ok() != Some(2) {
            return Err(bad("entry is not [time, record]"));
        }
        let time_at = start + len - rest.len();
        // Most clients send an EventTime (fixext 8 of type 0), which is
        // always good; any other time is decoded and checked as `pair`
        // checks it.
        if let [0xd7, 0, _, _, _, _, _, _, _, _, ..] = rest {
            rest = &rest[10..];
        } else {
            skip(&mut rest).ok_or_else(|| bad("entry is not [time, record]"))?;
            let time = msgpack::decode(&bytes[time_at..start + len - rest.len()]).map_err(|_| bad("bad time"))?;
            if !is_time(&time) {
                return Err(bad("entry is not [time, record]"));
            }
            time_of(&time)?;
        }
        let record = start + len - rest.len();
        entries.push(Entry { head: start..record, record: record..start + len });
        start += len;
    }
    Ok(entries)
}

/// Steps over one complete value at the front of `rest`.
fn skip(rest: &mut &[u8]) -> Option<()> {
    let len = Framer::new(usize::MAX).complete(rest).ok()??;
    *rest = &rest[len..];
    Some(())
}

/// The body of a PackedForward message (bin or str) at the front of
/// `rest`, stepped over.
fn packed_body<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], ProtocolError> {
    let whole = *rest;
    skip(rest).ok_or_else(|| bad("truncated message"))?;
    let value = &whole[..whole.len() - rest.len()];
    let mut header = value;
    let len = match header.first() {
        Some(0xa0..=0xbf | 0xd9..=0xdb) => rmp::decode::read_str_len(&mut header).ok(),
        _ => rmp::decode::read_bin_len(&mut header).ok(),
    }
    .ok_or_else(|| bad("unknown mode"))?;
    Ok(&header[..len as usize])
}

/// Starts a Forward-mode message of `count` entries under `tag`; add them
/// with [`entry`] and close it with [`end`]. Written field by field, so the
/// records are encoded from where they are, never cloned.
pub fn begin(tag: &str, count: u32, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = rmp::encode::write_array_len(out, 3);
    let _ = rmp::encode::write_str(out, tag);
    let _ = rmp::encode::write_array_len(out, count);
}

/// One `[time, record]` entry of a message.
pub fn entry(time: EventTime, record: &Value, out: &mut Vec<u8>) {
    let _ = rmp::encode::write_array_len(out, 2);
    msgpack::encode(&time.to_value(), out);
    msgpack::encode(record, out);
}

/// The option map asking for an ack of `chunk`, ending the message.
pub fn end(chunk: &str, count: u64, out: &mut Vec<u8>) {
    let option =
        Value::Map(vec![(Value::from("chunk"), Value::from(chunk)), (Value::from("size"), Value::from(count))]);
    msgpack::encode(&option, out);
}

/// `{"ack": chunk}`.
pub fn ack(chunk: &str) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::encode(&Value::Map(vec![(Value::from("ack"), Value::from(chunk))]), &mut out);
    out
}

/// The chunk id acknowledged by a downstream's response.
pub fn acked(response: &Value) -> Option<&str> {
    match response {
        Value::Map(kv) => kv.iter().find(|(k, _)| k.as_str() == Some("ack")).and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn record(log: &str) -> Value {
        Value::Map(vec![(Value::from("log"), Value::from(log))])
    }

    fn bytes(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::encode(v, &mut out);
        out
    }

    /// `read` and `parse` agree on a message: same tag, chunk and
    /// entries, or both refuse it. Returns the entry count.
    fn agree(message: &Value) -> Result<usize, String> {
        agree_bytes(&bytes(message))
    }

    fn agree_bytes(encoded: &[u8]) -> Result<usize, String> {
        let parsed = msgpack::decode(encoded).map_err(|_| bad("undecodable msgpack")).and_then(|v| parse(v, 1 << 20));
        let read = read(encoded, 1 << 20);
        match (parsed, read) {
            (Ok(p), Ok(r)) => {
                let spans: Vec<_> = r.entries.iter().map(|e| r.bytes[e.range()].to_vec()).collect();
                assert_eq!(spans.concat(), r.bytes.to_vec(), "entries cover the bytes");
                let mut entries = Entries::default();
                r.entries.iter().for_each(|e| entries.push_packed(&r.bytes[e.range()]));
                assert_eq!((&r.tag, &r.chunk), (&p.tag, &p.chunk));
                assert_eq!(entries.decoded().collect::<Vec<_>>(), p.entries);
                Ok(p.entries.len())
            }
            (Err(p), Err(r)) => {
                assert_eq!(p.0, r.0);
                Err(p.0)
            }
            (p, r) => panic!("parse {p:?} but read {r:?}"),
        }
    }

    #[test]
    fn all_four_modes() {
        let t = EventTime { secs: 10, nanos: 5 }.to_value();
        let chunk = Value::Map(vec![(Value::from("chunk"), Value::from("c1"))]);
        let message = Value::Array(vec![Value::from("app"), t.clone(), record("a"), chunk.clone()]);
        let m = parse(message.clone(), 1 << 20).unwrap();
        assert_eq!((m.tag.as_str(), m.entries.len(), m.chunk.as_deref()), ("app", 1, Some("c1")));
        assert_eq!(agree(&message), Ok(1));

        let pair = Value::Array(vec![t.clone(), record("b")]);
        let forward = Value::Array(vec![Value::from("app"), Value::Array(vec![pair.clone(), pair.clone()])]);
        assert_eq!(agree(&forward), Ok(2));

        // Times as a client may write them: an integer, a float.
        let mut stream = bytes(&pair);
        stream.extend(bytes(&Value::Array(vec![Value::from(1_700_000_000u32), record("c")])));
        stream.extend(bytes(&Value::Array(vec![Value::F64(1.5), record("d")])));
        let packed = Value::Array(vec![Value::from("app"), Value::Binary(stream.clone()), chunk.clone()]);
        assert_eq!(agree(&packed), Ok(3));
        // The entries as a str (not UTF-8: rmpv would write a bin), and an
        // option of nil.
        let mut as_str = b"\x92\xa3app\xd9".to_vec();
        as_str.push(stream.len() as u8);
        as_str.extend(&stream);
        assert_eq!(agree_bytes(&as_str), Ok(3));
        assert_eq!(agree(&Value::Array(vec![Value::from("app"), Value::Binary(stream.clone()), Value::Nil])), Ok(3));

        // Two gzip members, as Fluent Bit may send.
        let mut gz = Vec::new();
        for part in [&stream[..], &stream[..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let option = Value::Map(vec![(Value::from("compressed"), Value::from("gzip"))]);
        let compressed = Value::Array(vec![Value::from("app"), Value::Binary(gz), option]);
        assert_eq!(agree(&compressed), Ok(6));
    }

    /// Nests `leaf` in `levels` single-element arrays.
    fn nested(levels: usize, leaf: Value) -> Value {
        (0..levels).fold(leaf, |v, _| Value::Array(vec![v]))
    }

    #[test]
    fn read_and_parse_agree_at_every_depth_the_framer_accepts() {
        let t = EventTime { secs: 10, nanos: 5 }.to_value();
        for levels in (0..=msgpack::MAX_DEPTH).step_by(3).chain([msgpack::MAX_DEPTH - 2, msgpack::MAX_DEPTH - 1]) {
            // Deep in the option (a PackedForward message's small parts are
            // decoded one by one) and deep in an entry (framed alone).
            let option = Value::Map(vec![(Value::from("x"), nested(levels, Value::from("v")))]);
            let entry = bytes(&Value::Array(vec![
                t.clone(),
                Value::Map(vec![(Value::from("k"), nested(levels, Value::from("v")))]),
            ]));
            for message in [
                Value::Array(vec![
                    Value::from("app"),
                    Value::Binary(bytes(&Value::Array(vec![t.clone(), record("a")]))),
                    option,
                ]),
                Value::Array(vec![Value::from("app"), Value::Binary(entry)]),
            ] {
                let encoded = bytes(&message);
                if msgpack::Framer::new(1 << 20).complete(&encoded).is_ok() {
                    let _ = agree_bytes(&encoded);
                }
            }
        }
        // The deepest entry the framer takes (an entry, a record, 62
        // arrays) is read and decoded, not refused.
        let deepest = Value::Array(vec![t.clone(), Value::Map(vec![(Value::from("k"), nested(62, Value::from("v")))])]);
        let message = Value::Array(vec![Value::from("app"), Value::Binary(bytes(&deepest))]);
        assert_eq!(agree(&message), Ok(1));
        let deeper = Value::Array(vec![t, Value::Map(vec![(Value::from("k"), nested(63, Value::from("v")))])]);
        let refused = agree(&Value::Array(vec![Value::from("app"), Value::Binary(bytes(&deeper))]));
        assert!(refused.as_ref().is_err_and(|e| e.contains("too deep")), "{refused:?}");
    }

    #[test]
    fn regression_an_option_nested_at_the_depth_limit_is_read_as_decoding_reads_it() {
        // Found by the forward fuzz target: the option decoded on its own
        // was allowed one level more than inside the whole message.
        let frame = b"\x93\xa7app.l2\x12\xa0\x83\xa3log\xb7pa\x91\x91\x91\x91\x91arer abc.def.ghi\x93'\x91\x91\x91\x91\x91\x91\x91gn\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x00";
        if msgpack::Framer::new(4096).complete(frame).ok().flatten() == Some(frame.len()) {
            let _ = agree_bytes(frame);
        }
    }

    #[test]
    fn read_refuses_what_parse_refuses() {
        let t = EventTime { secs: 10, nanos: 5 }.to_value();
        let pair = bytes(&Value::Array(vec![t.clone(), record("b")]));
        let bin = |b: &[u8]| Value::Binary(b.to_vec());
        let bad_entries: [&[u8]; 5] = [
            &pair[..pair.len() - 1], // truncated
            b"\x91\x01",             // not a pair
            b"\x92\xa1x\x80",        // a str for a time
            b"\x92\xff\x80",         // a negative time
            b"\x92\xca\0\0\0\0\x80", // an f32 time
        ];
        for entries in bad_entries {
            assert!(agree(&Value::Array(vec![Value::from("app"), bin(entries)])).is_err(), "{entries:?}");
        }
        let zip = Value::Map(vec![(Value::from("compressed"), Value::from("zip"))]);
        for message in [
            Value::Array(vec![Value::from("app")]),
            Value::Array(vec![Value::from(3), bin(&pair)]),
            Value::Array(vec![Value::from("app"), bin(&pair), Value::from(1), Value::from(2), Value::Nil]),
            Value::Array(vec![Value::from("app"), bin(&pair), Value::from("option")]),
            Value::Array(vec![Value::from("app"), bin(&pair), zip]),
            Value::Array(vec![
                Value::from("app"),
                bin(b"\x1f\x8b"),
                Value::Map(vec![(Value::from("compressed"), Value::from("gzip"))]),
            ]),
            Value::Map(vec![]),
        ] {
            assert!(agree(&message).is_err(), "{message}");
        }
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0x90; 10 << 20]).unwrap();
        let option = Value::Map(vec![(Value::from("compressed"), Value::from("gzip"))]);
        let bomb = Value::Array(vec![Value::from("app"), Value::Binary(e.finish().unwrap()), option]);
        let err = parse(bomb.clone(), 1 << 20).unwrap_err();
        assert!(err.0.contains("larger than"), "{err}");
        assert_eq!(read(&bytes(&bomb), 1 << 20).unwrap_err().0, err.0);
    }

    #[test]
    fn round_trip_and_ack() {
        let entries = vec![(EventTime { secs: 1, nanos: 0 }, record("x"))];
        let mut out = Vec::new();
        begin("t", 1, &mut out);
        entry(entries[0].0, &entries[0].1, &mut out);
        end("id1", 1, &mut out);
        let m = parse(msgpack::decode(&out).unwrap(), 1 << 20).unwrap();
        assert_eq!((m.tag.as_str(), m.entries, m.chunk.as_deref()), ("t", entries, Some("id1")));
        assert_eq!(acked(&msgpack::decode(&ack("id1")).unwrap()), Some("id1"));
    }
}
