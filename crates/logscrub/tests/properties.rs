//! Property tests of the engine's invariants, against a naive oracle.

use std::io::Write;

use logscrub::Redactor;
use proptest::prelude::*;

fn redactor() -> &'static Redactor {
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    R.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap())
}

/// Whether a line, alone, leaves no multi-line block (a key) open.
fn leaves_no_block_open(line: &[u8]) -> bool {
    let mut stream = redactor().stream(std::io::sink());
    stream.write_all(line).and_then(|()| stream.write_all(b"\n")).is_ok() && stream.at_rest()
}

/// Fragments that log lines are made of: every rule's own positive and
/// negative inputs cut into tokens, ordinary log words, separators and
/// a few awkward bytes.
fn fragments() -> Vec<Vec<u8>> {
    let mut f: Vec<Vec<u8>> = Vec::new();
    for rule in redactor().rules() {
        for s in rule.positive().iter().map(|e| &e.input).chain(rule.negative()) {
            for tok in s.split([' ', '\n']) {
                f.push(tok.as_bytes().to_vec());
            }
        }
    }
    for w in [
        "INFO",
        "ERROR",
        "2024-05-01T10:00:00Z",
        "user=jane",
        "status=200",
        "=",
        ":",
        "\"",
        "'",
        ",",
        ";",
        "&",
        "?",
        "{",
        "}",
        "[",
        "]",
        "password",
        "token",
        "Bearer",
        "key",
        "@",
        "+",
        "4111",
        "1111",
        "-",
        ".",
        "\t",
        "\r",
        "\u{e9}t\u{e9}",
        "\u{0}",
        "\u{1b}[31m",
    ] {
        f.push(w.as_bytes().to_vec());
    }
    f.push(vec![0xff, 0xfe]);
    f.push(vec![0xc3]);
    f
}

/// Whole lines of key blocks, for the strategies to mix among others.
fn block_lines() -> Vec<Vec<u8>> {
    [
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        "PuTTY-User-Key-File-3: ssh-rsa",
        "Private-Lines: 2",
        "Private-MAC: 7f3ad21c",
        "-----BEGIN OpenVPN Static key V1-----",
        "-----END OpenVPN Static key V1-----",
        "334 UGFzc3dvcmQ6",
        "SjRuZVMzY3JldCE=",
        "235 2.7.0 Authentication successful",
        r#"{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n"}"#,
        r#"{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg"#,
    ]
    .iter()
    .map(|l| l.as_bytes().to_vec())
    .collect()
}

/// A new stream's whole output for `input`.
fn streamed(input: &[u8]) -> Vec<u8> {
    let mut stream = redactor().stream(Vec::new());
    stream.write_all(input).unwrap();
    stream.finish().unwrap().0
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    let frags = fragments();
    prop::collection::vec((0..frags.len(), prop::sample::select(vec![&b" "[..], b"", b"=", b":", b"\""])), 0..24)
        .prop_map(move |parts| {
            let mut line = Vec::new();
            for (i, sep) in parts {
                line.extend_from_slice(&frags[i]);
                line.extend_from_slice(sep);
            }
            line.retain(|&b| b != b'\n');
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The prefilter never hides a match: the result equals running every
    /// rule's regex on the whole line.
    #[test]
    fn equals_naive_oracle(line in line_strategy()) {
        let r = redactor();
        prop_assert_eq!(lossy(&r.redact(&line)), lossy(&r.redact_unfiltered(&line)), "input {}", lossy(&line));
        prop_assert_eq!(r.redact(&line).into_owned(), r.redact_unfiltered(&line));
    }

    /// A line said to be clean is one that can be passed on as it is:
    /// unchanged, and opening no block for the lines after it.
    #[test]
    fn a_clean_line_is_unchanged_and_opens_no_block(line in line_strategy()) {
        let r = redactor();
        if r.is_clean(&line) {
            prop_assert!(r.redact(&line) == line.as_slice(), "input {}", lossy(&line));
            prop_assert!(leaves_no_block_open(&line), "input {}", lossy(&line));
        }
    }

    /// Masks never trigger a rule.
    #[test]
    fn redacting_twice_equals_once(line in line_strategy()) {
        let r = redactor();
        let once = r.redact(&line).into_owned();
        let twice = r.redact(&once).into_owned();
        prop_assert_eq!(lossy(&once), lossy(&twice), "input {}", lossy(&line));
        prop_assert_eq!(once, twice);
    }

    /// Framing is invisible: any split of the input into writes gives the
    /// same output as masking line by line.
    #[test]
    fn chunking_does_not_matter(lines in prop::collection::vec(line_strategy(), 1..8), cuts in prop::collection::vec(0usize..512, 0..12)) {
        let r = redactor();
        let input: Vec<u8> = lines.join(&b'\n');
        let mut expected = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            // A private key block carries across lines; only compare when
            // no block is involved.
            prop_assume!(!String::from_utf8_lossy(l).contains("PRIVATE KEY") && leaves_no_block_open(l));
            expected.extend_from_slice(&r.redact(l));
            if i + 1 < lines.len() { expected.push(b'\n'); }
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort_unstable();
        let mut stream = r.stream(Vec::new());
        let mut at = 0;
        for c in cuts.into_iter().chain([input.len()]) {
            stream.write_all(&input[at..c]).unwrap();
            at = c;
        }
        let (out, stats) = stream.finish().unwrap();
        let framed = input.split(|&b| b == b'\n').count() - usize::from(input.is_empty() || input.ends_with(b"\n"));
        prop_assert_eq!(stats.lines() as usize, framed);
        prop_assert_eq!(lossy(&out), lossy(&expected), "input {}", lossy(&input));
        prop_assert_eq!(out, expected);
    }

    /// What a stream records as masked names exactly the lines it changed,
    /// at the secrets' bytes, with their keyed prints, however it is fed.
    #[test]
    fn a_streams_records_name_the_lines_it_changed(
        lines in prop::collection::vec(line_strategy(), 1..8),
        cuts in prop::collection::vec(0usize..512, 0..12),
    ) {
        let r = redactor();
        let key = logscrub::HashKey::new(b"0123456789abcdef-property-key".to_vec()).unwrap();
        let input: Vec<u8> = lines.join(&b'\n');
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort_unstable();
        let mut stream = r.stream(Vec::new());
        stream.record_masked(Some(key.clone()));
        let (mut masked, mut at) = (Vec::new(), 0);
        for c in cuts.into_iter().chain([input.len()]) {
            stream.write_all(&input[at..c]).unwrap();
            masked.extend(stream.take_masked());
            at = c;
        }
        stream.end().unwrap();
        masked.extend(stream.take_masked());
        let (out, _) = stream.finish().unwrap();
        let whole = {
            let mut s = r.stream(std::io::sink());
            s.record_masked(Some(key.clone()));
            s.write_all(&input).unwrap();
            s.end().unwrap();
            s.take_masked()
        };
        prop_assert_eq!(format!("{masked:?}"), format!("{whole:?}"), "chunking changed the records");
        let starts: Vec<usize> = std::iter::once(0).chain(memchr::memchr_iter(b'\n', &input).map(|i| i + 1)).collect();
        let changed: Vec<u64> = input
            .split(|&b| b == b'\n')
            .zip(out.split(|&b| b == b'\n'))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i as u64 + 1)
            .collect();
        let mut named: Vec<u64> = masked.iter().map(|m| m.line()).collect();
        named.dedup();
        prop_assert_eq!(named, changed, "input {}", lossy(&input));
        for m in &masked {
            let (range, in_line) = (m.range(), m.line_range());
            let line_start = starts[m.line() as usize - 1] as u64;
            prop_assert_eq!(range.start - in_line.start, line_start);
            prop_assert!(range.end <= input.len() as u64 && range.start < range.end);
            let secret = &input[range.start as usize..range.end as usize];
            prop_assert!(!secret.contains(&b'\n'));
            match m.fingerprint() {
                Some(print) => prop_assert_eq!(print, key.fingerprint(secret)),
                None => prop_assert!(m.rule().is_multiline()),
            }
        }
    }

    /// Screening values together (a Batch, or lines with suspect_lines)
    /// misses none that redacting each would change: values with newlines
    /// inside, empty ones and many of them (past the size where the
    /// prefilter walks in lanes) included.
    #[test]
    fn a_batch_suspects_every_value_that_redact_changes(
        values in prop::collection::vec(line_strategy(), 0..40),
        joins in prop::collection::vec(any::<bool>(), 0..40),
        copies in 1usize..400,
    ) {
        let r = redactor();
        // Some values span lines; a few hundred copies pass 16 KiB.
        let values: Vec<Vec<u8>> = values
            .chunks(2)
            .zip(joins.iter().chain(std::iter::repeat(&false)))
            .flat_map(|(pair, &join)| match (pair, join) {
                ([a, b], true) => vec![[&a[..], b"\n", &b[..]].concat()],
                _ => pair.to_vec(),
            })
            .collect();
        // Enough copies to pass the size where the walk splits into lanes.
        let size: usize = values.iter().map(|v| v.len() + 1).sum::<usize>().max(1);
        let count = values.len() * copies.min(24 * 1024 / size + 1);
        let mut batch = logscrub::Batch::new();
        values.iter().cycle().take(count).for_each(|v| batch.push(v));
        let suspects = r.suspects(&batch);
        prop_assert!(suspects.windows(2).all(|w| w[0] < w[1]));
        let changed: Vec<bool> = values.iter().map(|v| matches!(r.redact(v), std::borrow::Cow::Owned(_))).collect();
        for i in (0..count).filter(|&i| changed[i % values.len()]) {
            prop_assert!(suspects.binary_search(&i).is_ok(), "value {} missed: {}", i, lossy(&values[i % values.len()]));
        }
        // Values without newlines are lines: suspect_lines on the same text
        // agrees, and with the last newline gone it still finds them all.
        if values.iter().all(|v| !v.contains(&b'\n')) {
            let mut text: Vec<u8> = values.iter().cycle().take(count).flat_map(|v| v.iter().copied().chain([b'\n'])).collect();
            prop_assert_eq!(&r.suspect_lines(&text), &suspects);
            text.pop();
            let lines = r.suspect_lines(&text);
            for i in (0..count).filter(|&i| changed[i % values.len()]) {
                prop_assert!(lines.binary_search(&i).is_ok(), "line {} missed: {}", i, lossy(&values[i % values.len()]));
            }
        }
    }

    /// Lines made of ordinary log words come back byte-identical.
    #[test]
    fn clean_input_is_untouched(words in prop::collection::vec(prop::sample::select(vec![
        "INFO", "WARN", "GET", "/api/v1/items", "200", "12ms", "user", "jane", "connected", "from", "10.0.0.7",
        "port", "22", "2024-05-01", "10:00:00,123", "pid=4242", "took", "1.5s", "failed", "password", "for",
        "token", "expired", "secret", "rotation", "scheduled", "[main]", "{\"k\":\"v\"}", "uuid=3f2a9c1e-7b4d-4e8f-9a6b-2c1d0e9f8a7b",
        "sha=9fceb02d0ae598e95dc970b74767f19372d61af8", "v1.2.3", "order=12345", "amount=99.95",
    ]), 0..30)) {
        let line = words.join(" ");
        // Network addresses are data only to the opt-in network pack.
        static DEFAULTS: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        let out = DEFAULTS.get_or_init(Redactor::new).redact(line.as_bytes());
        prop_assert!(matches!(out, std::borrow::Cow::Borrowed(_)), "changed: {}", String::from_utf8_lossy(&out));
    }

    /// A stream at rest after a line can be replaced by a new one: the
    /// lines after it come out the same. Threads that scrub pieces of one
    /// input each from a new stream rely on it (the binary's `pieces`).
    #[test]
    fn a_stream_at_rest_can_be_replaced_by_a_new_one(
        lines in prop::collection::vec(prop_oneof![3 => line_strategy(), 2 => prop::sample::select(block_lines())], 1..14),
        cut in any::<prop::sample::Index>(),
    ) {
        let r = redactor();
        let text = |lines: &[Vec<u8>]| -> Vec<u8> { lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect() };
        let k = cut.index(lines.len() + 1);
        let (head, tail) = (text(&lines[..k]), text(&lines[k..]));
        let mut first = r.stream(Vec::new());
        first.write_all(&head).unwrap();
        if first.at_rest() {
            let mut got = first.finish().unwrap().0;
            got.extend_from_slice(&streamed(&tail));
            let want = streamed(&text(&lines));
            prop_assert_eq!(lossy(&got), lossy(&want), "cut after line {}", k);
        }
    }

    /// `redact_line` masks as `redact` does, and says a block is open
    /// exactly when a stream that reads the line alone is left with one:
    /// what a caller masking a line at a time relies on to know when the
    /// lines after it need a stream (the tracing writer).
    #[test]
    fn redact_line_says_when_a_stream_would_be_left_in_a_block(
        parts in prop::collection::vec(prop_oneof![3 => line_strategy(), 1 => prop::sample::select(block_lines())], 1..3),
    ) {
        let r = redactor();
        let line = parts.join(&b' ');
        let (masked, open) = r.redact_line(&line);
        prop_assert_eq!(lossy(&masked), lossy(&r.redact(&line)));
        prop_assert_eq!(open, !leaves_no_block_open(&line), "{}", lossy(&line));
    }

    /// Arbitrary bytes never panic, in a line or through a stream.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let r = redactor();
        let _ = r.redact(&bytes);
        let _ = r.find(&bytes);
        let mut s = r.stream(Vec::new());
        s.write_all(&bytes).unwrap();
        let (_, stats) = s.finish().unwrap();
        prop_assert_eq!(stats.internal_errors(), 0);
    }
}
