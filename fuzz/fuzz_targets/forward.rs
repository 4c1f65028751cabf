//! Arbitrary bytes as a Forward connection: framed as they trickle in
//! (the framer must agree with framing the same bytes in one read), each
//! frame decoded, parsed as a Forward message and its records scrubbed.
//! No panic; memory stays within the record limit; reading a frame in
//! place (`forward::read`, the sidecar's path) agrees with decoding and
//! parsing it; the in-place screen never calls a record clean that
//! scrubbing changes; scrubbing is stable (a second pass changes nothing)
//! and what is sent downstream decodes to the scrubbed entries.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;
use logscrub_cli::forward;
use logscrub_cli::msgpack::{self, FrameError, Framer};

/// Small, so that the fuzzer reaches the too-long paths.
const LIMIT: usize = 4096;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap())
}

/// The frames of `input` read `step` bytes at a time, as a connection does,
/// and the error that ended them, if any.
fn frames(input: &[u8], step: usize) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut framer = Framer::new(LIMIT);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for chunk in input.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match framer.complete(&buf) {
                Ok(Some(len)) => out.push(buf.drain(..len).collect()),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        assert!(buf.len() <= LIMIT + step, "the framer held more than a record");
    }
    (out, None)
}

/// A value's encoding: compared instead of the value, as NaN != NaN.
fn packed(value: &rmpv::Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::encode(value, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let whole = frames(input, input.len().max(1));
    assert_eq!(frames(input, usize::from(cut % 64) + 1), whole, "framing depends on read sizes");
    let r = redactor();
    for frame in whole.0 {
        let parsed = msgpack::decode(&frame).map_err(|_| ()).and_then(|v| forward::parse(v, LIMIT).map_err(|_| ()));
        let read = forward::read(&frame, LIMIT);
        assert_eq!(parsed.is_ok(), read.is_ok(), "read and parse disagree on a frame");
        let (Ok(mut message), Ok(read)) = (parsed, read) else { continue };
        assert_eq!((&read.tag, &read.chunk), (&message.tag, &message.chunk));
        let records: Vec<&[u8]> = read.entries.iter().map(|e| &read.bytes[e.record.clone()]).collect();
        let needs = msgpack::screen(r, records.iter().copied());
        for ((bytes, needs), (_, record)) in records.iter().zip(needs).zip(&message.entries) {
            let from_read = msgpack::decode(bytes).unwrap();
            assert_eq!(packed(&from_read), packed(record), "read and parse give other records");
            let mut scrubbed = from_read.clone();
            let whole = msgpack::scrub(r, &mut scrubbed, &mut r.empty_stats());
            if !needs {
                assert_eq!(whole, Some(0), "a record screened clean had a value masked whole");
                assert_eq!(packed(&scrubbed), packed(&from_read), "a record screened clean was changed");
            }
        }
        let mut stats = r.empty_stats();
        for (_, record) in &mut message.entries {
            msgpack::scrub(r, record, &mut stats);
            let once = packed(record);
            msgpack::scrub(r, record, &mut stats);
            assert_eq!(packed(record), once, "scrubbing twice changed a record");
        }
        assert_eq!(stats.internal_errors(), 0);
        // What goes downstream is a Forward message holding these entries.
        let mut sent = Vec::new();
        forward::begin(&message.tag, message.entries.len() as u32, &mut sent);
        for (time, record) in &message.entries {
            forward::entry(*time, record, &mut sent);
        }
        forward::end("c", message.entries.len() as u64, &mut sent);
        // Forward mode nests records two levels deeper than a packed entry.
        let decoded = rmpv::decode::read_value_with_max_depth(&mut &sent[..], msgpack::DECODE_DEPTH + 4).unwrap();
        let back = forward::parse(decoded, usize::MAX).unwrap();
        assert_eq!(back.tag, message.tag);
        let bytes = |m: &forward::Message| -> Vec<_> { m.entries.iter().map(|(t, v)| (*t, packed(v))).collect() };
        assert_eq!(bytes(&back), bytes(&message));
    }
});
