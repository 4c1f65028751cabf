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

use std::io::Read;

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

/// Decodes a message framed from a connection. `limit` bounds the size of
/// decompressed entries (a gzip bomb is refused, not inflated).
pub fn parse(value: Value, limit: usize) -> Result<Message, ProtocolError> {
    let Value::Array(mut parts) = value else { return Err(bad("not an array")) };
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
    let inflated;
    let mut rest = if compressed {
        let mut buf = Vec::new();
        let mut gz = flate2::read::MultiGzDecoder::new(bytes).take(limit as u64 + 1);
        gz.read_to_end(&mut buf).map_err(|_| bad("corrupt gzip in CompressedPackedForward"))?;
        if buf.len() > limit {
            return Err(ProtocolError("decompressed entries larger than the maximum record size".into()));
        }
        inflated = buf;
        &inflated[..]
    } else {
        bytes
    };
    while !rest.is_empty() {
        let len = Framer::new(limit)
            .complete(rest)
            .map_err(|e| ProtocolError(e.to_string()))?
            .ok_or_else(|| bad("truncated packed entry"))?;
        let value = msgpack::decode(&rest[..len]).map_err(|_| bad("undecodable packed entry"))?;
        out.push(pair(value)?);
        rest = &rest[len..];
    }
    Ok(())
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

    #[test]
    fn all_four_modes() {
        let t = EventTime { secs: 10, nanos: 5 }.to_value();
        let chunk = Value::Map(vec![(Value::from("chunk"), Value::from("c1"))]);
        let message = Value::Array(vec![Value::from("app"), t.clone(), record("a"), chunk.clone()]);
        let m = parse(message, 1 << 20).unwrap();
        assert_eq!((m.tag.as_str(), m.entries.len(), m.chunk.as_deref()), ("app", 1, Some("c1")));

        let pair = Value::Array(vec![t.clone(), record("b")]);
        let forward = Value::Array(vec![Value::from("app"), Value::Array(vec![pair.clone(), pair.clone()])]);
        assert_eq!(parse(forward, 1 << 20).unwrap().entries.len(), 2);

        let mut stream = bytes(&pair);
        stream.extend(bytes(&pair));
        stream.extend(bytes(&pair));
        let packed = Value::Array(vec![Value::from("app"), Value::Binary(stream.clone()), chunk]);
        assert_eq!(parse(packed, 1 << 20).unwrap().entries.len(), 3);

        // Two gzip members, as Fluent Bit may send.
        let mut gz = Vec::new();
        for part in [&stream[..], &stream[..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let option = Value::Map(vec![(Value::from("compressed"), Value::from("gzip"))]);
        let compressed = Value::Array(vec![Value::from("app"), Value::Binary(gz), option]);
        assert_eq!(parse(compressed, 1 << 20).unwrap().entries.len(), 6);
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0x90; 10 << 20]).unwrap();
        let option = Value::Map(vec![(Value::from("compressed"), Value::from("gzip"))]);
        let bomb = Value::Array(vec![Value::from("app"), Value::Binary(e.finish().unwrap()), option]);
        let err = parse(bomb, 1 << 20).unwrap_err();
        assert!(err.0.contains("larger than"), "{err}");
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
