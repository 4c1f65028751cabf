//! Arbitrary bytes, split into arbitrary writes, through the stream:
//! no panic, no internal error, the same output as masking line by line,
//! and masking the output again changes nothing.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;

mod common;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::builder().packs(["all"]).max_line(64 * 1024).build().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let r = redactor();
    let mut stream = r.stream(Vec::new());
    let step = usize::from(cut).max(1);
    for chunk in input.chunks(step) {
        stream.write_all(chunk).unwrap();
    }
    let (out, stats) = stream.finish().unwrap();
    assert_eq!(stats.internal_errors(), 0);
    if !input.windows(11).any(|w| w == b"PRIVATE KEY") && !common::opens_a_block(r, input) {
        let mut expected = Vec::new();
        let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let masked = r.redact(line);
            if !masked.is_empty() || line.is_empty() {
                expected.extend_from_slice(&masked);
                if i + 1 < lines.len() {
                    expected.push(b'\n');
                }
            }
        }
        if input.len() < 64 * 1024 {
            assert_eq!(out, expected);
        }
        for line in out.split(|&b| b == b'\n') {
            assert_eq!(&r.redact(line)[..], line, "masking twice changed the output");
        }
    }
});
