//! msgpack for the Forward protocol: framing values out of a byte stream
//! with bounded memory, screening records where they lie (most need
//! nothing), scrubbing decoded records, and Fluentd's EventTime.

use std::borrow::Cow;

use logscrub::{Redactor, Stats, FIELD_MASK};
use rmp::Marker;
use rmpv::Value;

/// Deepest nesting accepted in one message.
pub const MAX_DEPTH: usize = 64;

/// rmpv's depth budget for decoding a value the [`Framer`] accepted: rmpv
/// spends two units on each array or map level and up to three on a leaf
/// (a str: the value, the string, its bytes), so this is what
/// [`MAX_DEPTH`] levels take.
pub const DECODE_DEPTH: usize = 2 * MAX_DEPTH + 3;

/// Why a byte stream is not msgpack we accept.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A reserved marker byte (0xc1).
    Reserved,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The value is (or declares itself) longer than the limit.
    TooLong,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FrameError::Reserved => "invalid msgpack (reserved marker byte)",
            FrameError::TooDeep => "msgpack nested too deep",
            FrameError::TooLong => "msgpack message larger than the maximum record size",
        })
    }
}

/// Finds where the first complete msgpack value of a growing buffer ends,
/// without decoding it. Resumable: after `Ok(None)` call again with the
/// same buffer grown, and it goes on from where it stopped, so a large
/// message arriving in small reads costs one pass.
#[derive(Debug)]
pub struct Framer {
    limit: usize,
    pos: usize,
    /// Values still to read at each open level.
    stack: Vec<u64>,
}

impl Framer {
    /// A framer refusing values longer than `limit` bytes.
    pub fn new(limit: usize) -> Framer {
        Framer { limit, pos: 0, stack: vec![1] }
    }

    /// The length of the first value in `buf`, once it is all there.
    pub fn complete(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        while let Some(&left) = self.stack.last() {
            if left == 0 {
                self.stack.pop();
                continue;
            }
            let Some((head, body, children)) = self.header(buf)? else { return Ok(None) };
            let end = self.pos as u64 + head as u64 + body;
            if end > self.limit as u64 {
                return Err(FrameError::TooLong);
            }
            if end > buf.len() as u64 {
                return Ok(None);
            }
            self.pos = end as usize;
            *self.stack.last_mut().expect("checked above") -= 1;
            if children > 0 {
                if self.stack.len() > MAX_DEPTH {
                    return Err(FrameError::TooDeep);
                }
                // Every value takes a byte at least: a count beyond the limit
                // can never be satisfied.
                if children > self.limit as u64 {
                    return Err(FrameError::TooLong);
                }
                self.stack.push(children);
            }
        }
        let len = self.pos;
        // Ready for the next value, keeping the stack's allocation.
        self.pos = 0;
        self.stack.clear();
        self.stack.push(1);
        Ok(Some(len))
    }

    /// The next value's header length, body length and number of child
    /// values, if its header is in `buf`.
    fn header(&self, buf: &[u8]) -> Result<Option<(usize, u64, u64)>, FrameError> {
        let Some(&byte) = buf.get(self.pos) else { return Ok(None) };
        let rest = &buf[self.pos + 1..];
        let be =
            |n: usize| -> Option<u64> { rest.get(..n).map(|b| b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x))) };
        let sized = |n: usize, f: &dyn Fn(u64) -> (u64, u64)| be(n).map(|v| (1 + n, f(v).0, f(v).1));
        let blob = |n: usize| sized(n, &|v| (v, 0));
        let ext = |n: usize| sized(n, &|v| (v + 1, 0));
        let array = |n: usize| sized(n, &|v| (0, v));
        let map = |n: usize| sized(n, &|v| (0, 2 * v));
        let out = match Marker::from_u8(byte) {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => Some((1, 0, 0)),
            Marker::U8 | Marker::I8 => Some((1, 1, 0)),
            Marker::U16 | Marker::I16 => Some((1, 2, 0)),
            Marker::U32 | Marker::I32 | Marker::F32 => Some((1, 4, 0)),
            Marker::U64 | Marker::I64 | Marker::F64 => Some((1, 8, 0)),
            Marker::FixStr(n) => Some((1, u64::from(n), 0)),
            Marker::Str8 | Marker::Bin8 => blob(1),
            Marker::Str16 | Marker::Bin16 => blob(2),
            Marker::Str32 | Marker::Bin32 => blob(4),
            Marker::FixArray(n) => Some((1, 0, u64::from(n))),
            Marker::Array16 => array(2),
            Marker::Array32 => array(4),
            Marker::FixMap(n) => Some((1, 0, 2 * u64::from(n))),
            Marker::Map16 => map(2),
            Marker::Map32 => map(4),
            Marker::FixExt1 => Some((1, 2, 0)),
            Marker::FixExt2 => Some((1, 3, 0)),
            Marker::FixExt4 => Some((1, 5, 0)),
            Marker::FixExt8 => Some((1, 9, 0)),
            Marker::FixExt16 => Some((1, 17, 0)),
            Marker::Ext8 => ext(1),
            Marker::Ext16 => ext(2),
            Marker::Ext32 => ext(4),
            Marker::Reserved => return Err(FrameError::Reserved),
        };
        Ok(out)
    }
}

/// Decodes one complete value (as framed by [`Framer`]).
pub fn decode(bytes: &[u8]) -> Result<Value, rmpv::decode::Error> {
    decode_from(&mut &bytes[..])
}

/// Decodes the value at the front of `rest` and steps over it.
pub fn decode_from(rest: &mut &[u8]) -> Result<Value, rmpv::decode::Error> {
    rmpv::decode::read_value_with_max_depth(rest, DECODE_DEPTH)
}

/// Encodes a value onto `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(out, value);
}

/// An event time: seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventTime {
    /// Seconds since the epoch.
    pub secs: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl EventTime {
    /// Now, by the system clock.
    pub fn now() -> EventTime {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        EventTime { secs: d.as_secs() as u32, nanos: d.subsec_nanos() }
    }

    /// From a Forward time: an integer (seconds), a float, or the EventTime
    /// extension (type 0, 8 bytes).
    pub fn from_value(v: &Value) -> Option<EventTime> {
        match v {
            Value::Integer(i) => i.as_u64().map(|s| EventTime { secs: s as u32, nanos: 0 }),
            Value::F64(f) if *f >= 0.0 => Some(EventTime { secs: *f as u32, nanos: (f.fract() * 1e9) as u32 }),
            Value::Ext(0, b) if b.len() == 8 => Some(EventTime {
                secs: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                nanos: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            }),
            _ => None,
        }
    }

    /// As the EventTime extension.
    pub fn to_value(self) -> Value {
        let mut b = self.secs.to_be_bytes().to_vec();
        b.extend_from_slice(&self.nanos.to_be_bytes());
        Value::Ext(0, b)
    }
}

/// Scrubs a decoded record in place: every string (and key) through the
/// engine, every scalar under a secret-named key masked whole. Returns the
/// number of values masked whole, or `None` when a rule with the `drop`
/// mask matched a value: the record must be dropped (what was scrubbed of
/// it is left half done).
pub fn scrub(redactor: &Redactor, value: &mut Value, stats: &mut Stats) -> Option<u64> {
    let mut whole = 0;
    scrub_at(redactor, value, false, stats, &mut whole).then_some(whole)
}

/// Whether the engine dropped what it was given (a masked value is never
/// empty). It takes the `Cow`, not a slice: an empty value comes back
/// borrowed and empty, and is not a drop.
#[allow(clippy::ptr_arg)]
fn dropped(masked: &Cow<'_, [u8]>) -> bool {
    matches!(masked, Cow::Owned(m) if m.is_empty())
}

/// [`scrub`]; returns false as soon as a value is dropped.
fn scrub_at(redactor: &Redactor, value: &mut Value, secret: bool, stats: &mut Stats, whole: &mut u64) -> bool {
    let mask = || Value::String(FIELD_MASK.into());
    match value {
        Value::Nil | Value::Boolean(_) => {}
        Value::Array(items) => return items.iter_mut().all(|v| scrub_at(redactor, v, secret, stats, whole)),
        Value::Map(entries) => {
            // Keys that hold secrets because of another key's value (a
            // Secret's data, the value of a secret name/value pair).
            let beside: Vec<&str> = entries
                .iter()
                .filter_map(|(k, v)| Some(logscrub::secret_keys_beside(k.as_str()?.as_bytes(), v.as_str()?.as_bytes())))
                .flatten()
                .copied()
                .collect();
            return entries.iter_mut().all(|(k, v)| {
                let named = secret || key_names_a_secret(k) || k.as_str().is_some_and(|k| beside.contains(&k));
                // The key as written counts too, so that scrubbing the
                // output again masks nothing more.
                scrub_at(redactor, k, false, stats, whole)
                    && scrub_at(redactor, v, named || key_names_a_secret(k), stats, whole)
            });
        }
        _ if secret => {
            *value = mask();
            *whole += 1;
        }
        Value::String(s) => {
            let masked = redactor.redact_counted(s.as_bytes(), stats);
            if dropped(&masked) {
                return false;
            }
            // A str that is not UTF-8 would be sent on as bin (rmpv's
            // choice); it stays a str, its bad bytes replaced by U+FFFD as
            // in JSON records.
            if matches!(masked, Cow::Owned(_)) || s.as_str().is_none() {
                *value = Value::String(String::from_utf8_lossy(&masked).into_owned().into());
            }
        }
        // Extensions are opaque, but their bytes may still be text.
        Value::Binary(b) | Value::Ext(_, b) => match redactor.redact_counted(b, stats) {
            masked if dropped(&masked) => return false,
            Cow::Owned(m) => *b = m,
            Cow::Borrowed(_) => {}
        },
        Value::Integer(i) => {
            let text = i.to_string();
            match redactor.redact_counted(text.as_bytes(), stats) {
                masked if dropped(&masked) => return false,
                Cow::Owned(m) => *value = Value::String(String::from_utf8_lossy(&m).into_owned().into()),
                Cow::Borrowed(_) => {}
            }
        }
        // Floats cannot carry the digit runs rules look for.
        Value::F32(_) | Value::F64(_) => {}
    }
    true
}

/// Which records [`scrub`] would change, read in place (each slice one
/// encoded record): one prefilter pass over every string of every record
/// (keys too) rather than one per string, which was most of the cost of a
/// Forward chunk, and nothing decoded. A record with no suspect string, no
/// secret-named key and no str that is not UTF-8 comes out of `scrub`
/// unchanged, with nothing masked.
pub fn screen<'a>(redactor: &Redactor, records: impl Iterator<Item = &'a [u8]>) -> Vec<bool> {
    let mut batch = logscrub::Batch::new();
    let mut scratch = String::new();
    let mut firsts = Vec::new();
    let mut needs: Vec<bool> = records
        .map(|mut record| {
            firsts.push(batch.len());
            // Not msgpack (framed records always are): scrub decides.
            collect(&mut record, &mut batch, &mut scratch).unwrap_or(true)
        })
        .collect();
    for value in redactor.suspects(&batch) {
        // The record whose strings begin at or before this one.
        needs[firsts.partition_point(|&f| f <= value) - 1] = true;
    }
    needs
}

/// One msgpack value's header, read in place.
enum Item<'a> {
    /// Nil, a boolean or a float: nothing a rule reads.
    Scalar,
    Int(i128),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    /// An extension's data.
    Ext(&'a [u8]),
    Array(u32),
    Map(u32),
}

/// Reads the header at the front of `rest` (and the body of a scalar or a
/// string), stepping over it.
fn item<'a>(rest: &mut &'a [u8]) -> Option<Item<'a>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        *rest = tail;
        Some(head)
    }
    fn be(rest: &mut &[u8], n: usize) -> Option<u64> {
        Some(take(rest, n)?.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }
    let marker = take(rest, 1)?[0];
    Some(match marker {
        0x00..=0x7f => Item::Int(i128::from(marker)),
        0xe0..=0xff => Item::Int(i128::from(marker as i8)),
        0x80..=0x8f => Item::Map(u32::from(marker & 0x0f)),
        0x90..=0x9f => Item::Array(u32::from(marker & 0x0f)),
        0xa0..=0xbf => Item::Str(take(rest, usize::from(marker & 0x1f))?),
        0xc0 | 0xc2 | 0xc3 => Item::Scalar,
        0xc1 => return None,
        0xc4..=0xc6 => {
            let n = be(rest, 1 << (marker - 0xc4))?;
            Item::Bin(take(rest, usize::try_from(n).ok()?)?)
        }
        0xc7..=0xc9 => {
            let n = be(rest, 1 << (marker - 0xc7))?;
            take(rest, 1)?;
            Item::Ext(take(rest, usize::try_from(n).ok()?)?)
        }
        0xca => take(rest, 4).map(|_| Item::Scalar)?,
        0xcb => take(rest, 8).map(|_| Item::Scalar)?,
        0xcc..=0xcf => Item::Int(i128::from(be(rest, 1 << (marker - 0xcc))?)),
        0xd0..=0xd3 => {
            let n = 1 << (marker - 0xd0);
            let v = be(rest, n)?;
            // Sign-extend from n bytes.
            let shift = 64 - 8 * n as u32;
            Item::Int(i128::from(((v << shift) as i64) >> shift))
        }
        0xd4..=0xd8 => {
            take(rest, 1)?;
            Item::Ext(take(rest, 1 << (marker - 0xd4))?)
        }
        0xd9..=0xdb => {
            let n = be(rest, 1 << (marker - 0xd9))?;
            Item::Str(take(rest, usize::try_from(n).ok()?)?)
        }
        0xdc | 0xdd => Item::Array(u32::try_from(be(rest, 2 << (marker - 0xdc))?).ok()?),
        0xde | 0xdf => Item::Map(u32::try_from(be(rest, 2 << (marker - 0xde))?).ok()?),
    })
}

/// Adds the strings `scrub_at` would redact in the value at the front of
/// `rest` to `batch`, in its order, and steps over the value; whether the
/// value needs `scrub` whatever the prefilter says. `None`: not msgpack.
fn collect(rest: &mut &[u8], batch: &mut logscrub::Batch, scratch: &mut String) -> Option<bool> {
    Some(match item(rest)? {
        Item::Scalar => false,
        Item::Int(i) => {
            scratch.clear();
            let _ = std::fmt::Write::write_fmt(scratch, format_args!("{i}"));
            batch.push(scratch.as_bytes());
            false
        }
        Item::Str(s) => {
            batch.push(s);
            std::str::from_utf8(s).is_err()
        }
        Item::Bin(b) | Item::Ext(b) => {
            batch.push(b);
            false
        }
        Item::Array(n) => {
            let mut needs = false;
            for _ in 0..n {
                needs |= collect(rest, batch, scratch)?;
            }
            needs
        }
        Item::Map(n) => {
            let mut needs = false;
            for _ in 0..n {
                let mut key = *rest;
                let named = match item(&mut key) {
                    // A secret's name, or a key whose value puts secrets
                    // under other keys (a Kubernetes Secret's kind, a secret
                    // name/value pair's name): `scrub` knows which.
                    Some(Item::Str(k) | Item::Bin(k)) => {
                        logscrub::is_secret_field(&String::from_utf8_lossy(k))
                            || matches!(item(&mut key), Some(Item::Str(v)) if !logscrub::secret_keys_beside(k, v).is_empty())
                    }
                    _ => false,
                };
                needs |= named | collect(rest, batch, scratch)? | collect(rest, batch, scratch)?;
            }
            needs
        }
    })
}

/// Whether a map key names a secret field. Keys that are not valid UTF-8
/// (str or bin) are read lossily: `\xfftoken` still names a token.
fn key_names_a_secret(key: &Value) -> bool {
    match key {
        Value::String(s) => logscrub::is_secret_field(&String::from_utf8_lossy(s.as_bytes())),
        Value::Binary(b) => logscrub::is_secret_field(&String::from_utf8_lossy(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out);
        out
    }

    #[test]
    fn framer_finds_values_split_anywhere() {
        let v = Value::Array(vec![
            Value::from("tag"),
            Value::Array(vec![Value::Array(vec![
                EventTime { secs: 1, nanos: 2 }.to_value(),
                Value::Map(vec![(Value::from("log"), Value::from("x".repeat(300)))]),
            ])]),
            Value::Map(vec![(Value::from("chunk"), Value::from("abc"))]),
        ]);
        let mut bytes = packed(&v);
        let len = bytes.len();
        bytes.extend_from_slice(&packed(&Value::from(7)));
        for split in 0..len {
            let mut f = Framer::new(1 << 20);
            if f.complete(&bytes[..split]).unwrap().is_some() {
                panic!("complete at {split} of {len}");
            }
            assert_eq!(f.complete(&bytes).unwrap(), Some(len));
        }
        assert_eq!(decode(&bytes[..len]).unwrap(), v);
    }

    #[test]
    fn framer_refuses_hostile_headers() {
        // An array claiming 2^32-1 elements, a string claiming 4 GiB.
        assert_eq!(Framer::new(1024).complete(&[0xdd, 0xff, 0xff, 0xff, 0xff]), Err(FrameError::TooLong));
        assert_eq!(Framer::new(1024).complete(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a']), Err(FrameError::TooLong));
        assert_eq!(Framer::new(1024).complete(&[0xc1]), Err(FrameError::Reserved));
        let deep = vec![0x91; 1000];
        assert_eq!(Framer::new(1 << 20).complete(&deep), Err(FrameError::TooDeep));
    }

    #[test]
    fn records_scrubbed_by_value_and_by_key() {
        let r = Redactor::new();
        let mut v = Value::Map(vec![
            (Value::from("log"), Value::from("db=postgres://app:s3cr3t-pw@db:5432/app")),
            (Value::from("password"), Value::from("x")),
            (Value::from("card"), Value::from(4111111111111111u64)),
            (Value::from("n"), Value::from(42)),
        ]);
        let mut stats = r.empty_stats();
        assert_eq!(scrub(&r, &mut v, &mut stats), Some(1));
        let text = format!("{v}");
        assert!(!text.contains("s3cr3t-pw") && !text.contains("4111111111111111"), "{text}");
        assert!(text.contains("42"));
    }

    #[test]
    fn screen_flags_exactly_the_records_scrub_changes() {
        let r = Redactor::new();
        let mut records: Vec<Vec<u8>> = [
            map(vec![("log", "GET /health 200".into()), ("n", 1.into())]),
            map(vec![("log", "db=postgres://app:s3cr3t-pw@db:5432/app".into())]),
            map(vec![("password", "x".into())]),
            map(vec![("card", 4111111111111111u64.into())]),
            map(vec![("nested", Value::Array(vec![map(vec![("k", "Bearer abcdefghijklmnop1234".into())])]))]),
            map(vec![("Authorization: Bearer abcdefghijklmnop1234", "v".into())]),
            map(vec![("msg", "user jane logged in".into()), ("ms", 12.5.into()), ("n", (-7).into())]),
            map(vec![("t", Value::Ext(0, vec![0, 1, 2, 3])), ("on", true.into()), ("x", Value::Nil)]),
        ]
        .iter()
        .map(packed)
        .collect();
        // As a client may send it: a str that is not UTF-8 (rmpv would
        // encode it as bin), and a key naming a secret as bin.
        records.push(b"\x81\xa3log\xa3ok\xff".to_vec());
        records.push(b"\x81\xc4\x05token\xa1v".to_vec());
        let needs = screen(&r, records.iter().map(Vec::as_slice));
        assert_eq!(needs, [false, true, true, true, true, true, false, false, true, true]);
        for (bytes, needs) in records.iter().zip(needs) {
            let record = decode(bytes).unwrap();
            let mut scrubbed = record.clone();
            let whole = scrub(&r, &mut scrubbed, &mut r.empty_stats());
            assert_eq!(needs, packed(&scrubbed) != packed(&record) || whole != Some(0), "{record}");
        }
    }

    /// A Kubernetes Secret sent as a structured record (Fluent Bit parsed
    /// the audit event): its `data` values are masked whole whatever their
    /// keys, and the screen sends it to `scrub`; a ConfigMap's are kept.
    #[test]
    fn a_kubernetes_secrets_data_is_masked_whole_in_records() {
        let r = Redactor::new();
        let object = |kind: &str| {
            map(vec![
                ("data", map(vec![("config.json", "dmFsdWUtMQ==".into())])),
                ("kind", kind.into()),
                ("metadata", map(vec![("name", "regcred".into())])),
            ])
        };
        let records =
            [map(vec![("responseObject", object("Secret"))]), map(vec![("responseObject", object("ConfigMap"))])];
        let packed: Vec<Vec<u8>> = records.iter().map(packed).collect();
        assert_eq!(screen(&r, packed.iter().map(Vec::as_slice)), [true, false]);
        let mut secret = records[0].clone();
        assert_eq!(scrub(&r, &mut secret, &mut r.empty_stats()), Some(1));
        let text = format!("{secret}");
        assert!(!text.contains("dmFsdWUtMQ==") && text.contains(FIELD_MASK) && text.contains("regcred"), "{text}");
    }

    /// A pod spec's env sent as a structured record: the value of a pair
    /// named like a secret is masked whole, and the screen sends the record
    /// to `scrub`; other pairs are kept.
    #[test]
    fn the_value_of_a_secret_name_value_pair_is_masked_in_records() {
        let r = Redactor::new();
        let pair = |name: &str| map(vec![("value", "Zx9vT4qLm2".into()), ("name", name.into())]);
        let records = [map(vec![("env", Value::Array(vec![pair("API_TOKEN")]))]), pair("LOG_LEVEL")];
        let packed: Vec<Vec<u8>> = records.iter().map(packed).collect();
        assert_eq!(screen(&r, packed.iter().map(Vec::as_slice)), [true, false]);
        let mut secret = records[0].clone();
        assert_eq!(scrub(&r, &mut secret, &mut r.empty_stats()), Some(1));
        let text = format!("{secret}");
        assert!(!text.contains("Zx9vT4qLm2") && text.contains(FIELD_MASK) && text.contains("API_TOKEN"), "{text}");
    }

    #[test]
    fn screen_reads_every_msgpack_shape_as_decoding_does() {
        // Integers of every width and sign are screened as their digits.
        let r = Redactor::new();
        let card = 4111111111111111u64;
        for v in [Value::from(card), Value::from(card as i64), Value::from(-(card as i64))] {
            let bytes = packed(&map(vec![("n", v.clone())]));
            let screened = screen(&r, std::iter::once(&bytes[..]));
            assert_eq!(screened, [v.as_i64().is_some_and(|n| n > 0)], "{v}");
        }
        // Truncated or reserved bytes are not read as clean.
        for bad in [&b"\x81\xa3log"[..], b"\xc1", b"\x92\x01"] {
            assert_eq!(screen(&r, std::iter::once(bad)), [true]);
        }
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
    }

    #[test]
    fn a_drop_rule_anywhere_in_a_record_drops_it() {
        let r = Redactor::builder().mask("password-assignment", logscrub::Mask::Drop).build().unwrap();
        let secret = "password=hunter2hunter2";
        for mut v in [
            map(vec![("msg", secret.into())]),
            map(vec![(secret, "v".into())]),
            map(vec![("a", Value::Array(vec!["x".into(), map(vec![("b", Value::Binary(secret.into()))])]))]),
        ] {
            let mut stats = r.empty_stats();
            assert_eq!(scrub(&r, &mut v, &mut stats), None, "{v:?}");
            assert_eq!(stats.dropped_lines(), 1);
        }
        let mut clean = map(vec![("msg", "ok".into()), ("password", "x".into())]);
        assert_eq!(scrub(&r, &mut clean, &mut r.empty_stats()), Some(1));
    }

    #[test]
    fn a_str_that_is_not_utf8_stays_a_str() {
        let r = Redactor::new();
        let mut bytes = packed(&Value::from("password=hunter2hunter2 \u{1}"));
        *bytes.last_mut().unwrap() = 0xff;
        let mut v = decode(&bytes).unwrap();
        scrub(&r, &mut v, &mut r.empty_stats());
        let back = decode(&packed(&v)).unwrap();
        let text = back.as_str().expect("still a str");
        assert!(text.starts_with("password=[REDACTED:") && text.ends_with(" \u{fffd}"), "{text}");
    }

    #[test]
    fn a_key_that_is_not_utf8_still_names_a_secret() {
        let r = Redactor::new();
        let mut bytes = packed(&Value::Map(vec![(Value::from("\u{1}token"), Value::from("abc123def"))]));
        bytes[2] = 0xff;
        let mut v = decode(&bytes).unwrap();
        assert_eq!(scrub(&r, &mut v, &mut r.empty_stats()), Some(1), "{v:?}");
        assert!(!format!("{v}").contains("abc123def"), "{v}");
    }

    #[test]
    fn event_time_round_trips() {
        let t = EventTime { secs: 1_700_000_000, nanos: 123 };
        assert_eq!(EventTime::from_value(&t.to_value()), Some(t));
        assert_eq!(EventTime::from_value(&Value::from(5)), Some(EventTime { secs: 5, nanos: 0 }));
    }
}
