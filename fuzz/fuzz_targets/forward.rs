//! Arbitrary bytes as a Forward connection: framed as they trickle in
//! (the framer must agree with framing the same bytes in one read), each
//! frame decoded, parsed as a Forward message and its records scrubbed.
//! No panic; memory stays within the record limit; scrubbing is stable
//! (a second pass changes nothing) and what is sent downstream decodes to
//! the scrubbed entries.
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
        let Ok(value) = msgpack::decode(&frame) else { continue };
        let Ok(mut message) = forward::parse(value, LIMIT) else { continue };
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
        // Forward mode nests records deeper than the modes they came in.
        let decoded = rmpv::decode::read_value_with_max_depth(&mut &sent[..], 2 * msgpack::MAX_DEPTH).unwrap();
        let back = forward::parse(decoded, usize::MAX).unwrap();
        assert_eq!(back.tag, message.tag);
        let bytes = |m: &forward::Message| -> Vec<_> { m.entries.iter().map(|(t, v)| (*t, packed(v))).collect() };
        assert_eq!(bytes(&back), bytes(&message));
    }
});
