//! Arbitrary bytes as a line-based input in each format (raw, JSON, CRI,
//! Docker, auto), read in arbitrary sizes (the first byte picks the format,
//! the rules and the read size): no panic, no internal error, the
//! same output however the input was read, and in JSON mode one output line
//! per input line, valid JSON wherever the input line was.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;
use logscrub_cli::format::{Format, Scrubber};

mod common;

/// Every rule with the default line limit, or the rules whose matches are
/// short enough to allow a small limit, so that the fuzzer's inputs reach
/// the overlong-line paths.
fn redactor(small: bool) -> &'static Redactor {
    static ALL: OnceLock<Redactor> = OnceLock::new();
    static SMALL: OnceLock<Redactor> = OnceLock::new();
    if small {
        SMALL.get_or_init(|| {
            let packs = ["network", "national-ids", "phones-national", "private-keys"];
            Redactor::builder().packs(packs).max_line(1024).build().unwrap()
        })
    } else {
        ALL.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap())
    }
}

fn scrub(r: &Redactor, format: Format, input: &[u8], step: usize) -> Vec<u8> {
    let mut s = Scrubber::new(r, format);
    let mut out = Vec::new();
    for chunk in input.chunks(step) {
        s.feed(chunk, &mut out);
    }
    s.finish(&mut out);
    assert_eq!(s.take_counts().0.internal_errors(), 0);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else { return };
    let format = [Format::Raw, Format::Json, Format::Cri, Format::Docker, Format::Auto][usize::from(pick % 5)];
    let r = redactor(pick / 5 % 2 == 1);
    let whole = scrub(r, format, input, input.len().max(1));
    let step = usize::from(pick / 10) + 1;
    assert_eq!(scrub(r, format, input, step), whole, "output depends on read sizes");
    if format == Format::Json && !input.windows(11).any(|w| w == b"PRIVATE KEY") && !common::opens_a_block(r, input) {
        let lines: Vec<&[u8]> = input.strip_suffix(b"\n").unwrap_or(input).split(|&b| b == b'\n').collect();
        let out: Vec<&[u8]> = whole.strip_suffix(b"\n").unwrap_or(&whole).split(|&b| b == b'\n').collect();
        if input.is_empty() {
            return;
        }
        assert_eq!(out.len(), lines.len(), "a line was lost or split");
        for (line, masked) in lines.iter().zip(&out) {
            if line.len() <= r.max_line() && serde_json::from_slice::<serde_json::Value>(line).is_ok() {
                assert!(serde_json::from_slice::<serde_json::Value>(masked).is_ok(), "valid JSON came out invalid");
            }
        }
    }
});
