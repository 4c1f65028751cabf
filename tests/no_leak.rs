//! The no-leak invariants at the binary level, as property tests: random
//! log lines, each with a planted secret from an example of a default rule
//! at a random place, random lengths up to and past the line limit, sent to
//! a running `logscrub serve` over TCP and over Forward in random pieces.
//! For every case: no planted secret reaches the output, and every line
//! (record) comes out exactly once, exactly as the engine masks it
//! in-process.
//!
//! Each case is its own connection to one daemon, and finds its own lines
//! by a prefix, so proptest can shrink a failing case as usual.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use logscrub::Redactor;
use logscrub_cli::{forward, msgpack};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rmpv::Value;

/// Small enough for lines past it to be cheap; the least the default rules
/// allow is about 49 KB.
const MAX_LINE: usize = 65536;

fn redactor() -> &'static Redactor {
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    R.get_or_init(|| Redactor::builder().max_line(MAX_LINE).build().unwrap())
}

/// One-line examples of every enabled rule, with the secret each carries:
/// the part of the input its expected output does not keep.
fn planted() -> &'static [(String, String)] {
    static P: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let r = redactor();
        let mut out = Vec::new();
        for rule in r.rules().filter(|rule| r.is_enabled(rule.id())) {
            // One line each; a key block left open masks the lines after
            // it by design (crates/logscrub/tests/stream.rs covers that).
            let one_line = |e: &&logscrub::Example| !e.input.contains('\n') && closes(r, &e.input);
            for e in rule.positive().iter().filter(one_line) {
                let secret = secret_of(e);
                // Short remnants (a masked last digit...) are not telling.
                // A rule anchored at the line start (YAML values) holds only
                // there, and these lines are led by an id and filler words.
                let anywhere =
                    !String::from_utf8_lossy(&r.redact(format!("id {}", e.input).as_bytes())).contains(secret);
                if secret.len() >= 6 && anywhere {
                    out.push((e.input.clone(), secret.to_string()));
                }
            }
        }
        assert!(out.len() > 50, "only {} examples to plant", out.len());
        eprintln!("{} one-line examples to plant", out.len());
        out
    })
}

/// Whether a line leaves no block open.
fn closes(r: &Redactor, line: &str) -> bool {
    let mut stream = r.stream(std::io::sink());
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    stream.at_rest()
}

/// A line: filler words, a planted example, filler words, and sometimes a
/// run of padding that takes it past the line limit.
#[derive(Clone, Debug)]
struct Line {
    example: usize,
    left: Vec<String>,
    right: Vec<String>,
    padding: usize,
}

fn line() -> impl Strategy<Value = Line> {
    let words = prop::collection::vec("[a-z]{1,8}|status=[0-9]{3}|user=jane|INFO|WARN|-|:", 0..6);
    let padding = prop_oneof![4 => Just(0usize), 1 => 1..2 * MAX_LINE];
    (0..planted().len(), words.clone(), words, padding).prop_map(|(example, left, right, padding)| Line {
        example,
        left,
        right,
        padding,
    })
}

impl Line {
    /// The text of the line, led by `id` so that its output can be found.
    fn text(&self, id: &str) -> String {
        let mut t = format!("{id} {}", self.left.join(" "));
        if self.padding > 0 {
            t.push(' ');
            t.push_str(&"p".repeat(self.padding));
        }
        t.push(' ');
        t.push_str(&planted()[self.example].0);
        t.push(' ');
        t.push_str(&self.right.join(" "));
        t
    }

    fn secret(&self) -> &'static str {
        &planted()[self.example].1
    }
}

/// A case: lines, and the sizes of the writes that carry them.
fn case() -> impl Strategy<Value = (Vec<Line>, Vec<usize>)> {
    (prop::collection::vec(line(), 1..8), prop::collection::vec(1usize..5000, 1..16))
}

/// Writes `bytes` in pieces of the given sizes, cycling through them.
fn write_in_pieces(s: &mut TcpStream, bytes: &[u8], sizes: &[usize]) {
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        s.write_all(piece).unwrap();
        rest = tail;
    }
}

/// A prefix no rule masks and no other case shares.
fn next_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Letters only: digits could join a planted number.
    let letters: String = format!("{n:x}").chars().map(|c| (b'g' + c.to_digit(16).unwrap() as u8) as char).collect();
    format!("case{letters}z")
}

fn runner() -> TestRunner {
    // Each case costs a connection and a wait; the engine's own property
    // tests run thousands.
    let cases = std::env::var("LOGSCRUB_BINARY_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    TestRunner::new(Config { cases, max_shrink_iters: 64, failure_persistence: None, ..Config::default() })
}

/// The output lines holding `mark`, once there are `n` of them (or after
/// 10 s, so that a failing case shrinks in reasonable time).
fn lines_with(path: &Path, mark: &str, n: usize) -> Vec<String> {
    let mine = || lines_of(path).into_iter().filter(|l| l.contains(mark)).collect::<Vec<_>>();
    let deadline = Instant::now() + Duration::from_secs(10);
    while mine().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    mine()
}

#[test]
fn tcp_no_planted_secret_leaks_and_every_line_comes_out_once_as_the_engine_masks_it() {
    let tmp = temp_dir("no-leak-tcp");
    let dir = tmp.path();
    let addr = format!("127.0.0.1:{}", free_port());
    let out = dir.join("out.log");
    let max = MAX_LINE.to_string();
    let args =
        ["serve", "--tcp", &addr, "--output", "file", "--output-path", out.to_str().unwrap(), "--max-line", &max];
    let d = Daemon::start(&args, dir);
    runner()
        .run(&case(), |(lines, sizes)| {
            let id = next_id();
            let texts: Vec<String> = lines.iter().enumerate().map(|(i, l)| l.text(&format!("{id}-{i}"))).collect();
            let input = texts.iter().map(|t| format!("{t}\n")).collect::<String>();
            // What the engine makes of the same bytes in-process.
            let mut stream = redactor().stream(Vec::new());
            stream.write_all(input.as_bytes()).unwrap();
            let (expected, _) = stream.finish().unwrap();
            let expected: Vec<String> = String::from_utf8(expected).unwrap().lines().map(str::to_string).collect();
            let mut s = TcpStream::connect(&addr).unwrap();
            write_in_pieces(&mut s, input.as_bytes(), &sizes);
            drop(s);
            let got = lines_with(&out, &format!("{id}-"), lines.len());
            for (i, line) in lines.iter().enumerate() {
                let prefix = format!("{id}-{i} ");
                let out = got.iter().find(|g| g.starts_with(&prefix));
                prop_assert!(out.is_some(), "line {} did not come out", prefix);
                let out = out.unwrap();
                prop_assert!(!out.contains(line.secret()), "a planted secret leaked: {}", &prefix);
                let want = expected.iter().find(|e| e.starts_with(&prefix)).unwrap();
                prop_assert!(out == want, "line {}: {}", prefix, first_difference(out, want));
            }
            assert_exactly_once(&got, expected);
            Ok(())
        })
        .unwrap();
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
}

/// Where two long lines part, with a little context, for a readable
/// failure.
fn first_difference(got: &str, want: &str) -> String {
    let at = got.bytes().zip(want.bytes()).take_while(|(a, b)| a == b).count();
    let around = |s: &str| s.get(at.saturating_sub(40)..(at + 60).min(s.len())).unwrap_or("?").to_string();
    format!(
        "differs at byte {at} of {}/{}: got {:?}, the engine gives {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    )
}

/// Reads one msgpack value (an ack) from the connection.
fn read_value(s: &mut TcpStream) -> Value {
    let mut framer = msgpack::Framer::new(1 << 20);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(len) = framer.complete(&buf).unwrap() {
            return msgpack::decode(&buf[..len]).unwrap();
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed before the ack");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn forward_no_planted_secret_leaks_and_every_record_comes_out_once_as_the_engine_masks_it() {
    let tmp = temp_dir("no-leak-forward");
    let dir = tmp.path();
    let addr = format!("127.0.0.1:{}", free_port());
    let out = dir.join("out.jsonl");
    let max = MAX_LINE.to_string();
    let args = forward_to_json_lines(&addr, &out, &["--max-line", &max]);
    let d = Daemon::start(&args, dir);
    runner()
        .run(&case(), |(lines, sizes)| {
            let id = next_id();
            // Records carry the line under "log" and a secret-named field.
            let record = |i: usize, line: &Line| {
                Value::Map(vec![
                    (Value::from("log"), Value::from(line.text(&format!("{id}-{i}")))),
                    (Value::from("password"), Value::from(line.secret())),
                ])
            };
            let records: Vec<Value> = lines.iter().enumerate().map(|(i, l)| record(i, l)).collect();
            let mut message = Vec::new();
            forward::begin("app", records.len() as u32, &mut message);
            for r in &records {
                forward::entry(msgpack::EventTime { secs: 1_700_000_000, nanos: 0 }, r, &mut message);
            }
            forward::end(&id, records.len() as u64, &mut message);
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            write_in_pieces(&mut s, &message, &sizes);
            let ack = read_value(&mut s);
            prop_assert_eq!(forward::acked(&ack), Some(id.as_str()));
            drop(s);
            let expected: Vec<String> = records
                .into_iter()
                .map(|mut r| {
                    msgpack::scrub(redactor(), &mut r, &mut redactor().empty_stats());
                    r.as_map().unwrap()[0].1.as_str().unwrap().to_string()
                })
                .collect();
            let got = lines_with(&out, &format!("\"log\":\"{id}-"), lines.len());
            let got: Vec<String> = got
                .iter()
                .map(|l| {
                    let r: serde_json::Value = serde_json::from_str(l).unwrap();
                    assert_eq!(r["password"], logscrub::FIELD_MASK, "a secret-named field was kept");
                    r["log"].as_str().unwrap().to_string()
                })
                .collect();
            for (line, log) in lines.iter().zip(&expected) {
                prop_assert!(!log.contains(line.secret()), "the engine itself kept a planted secret");
            }
            prop_assert!(!got.iter().any(|g| lines.iter().any(|l| g.contains(l.secret()))), "a planted secret leaked");
            assert_exactly_once(&got, expected);
            Ok(())
        })
        .unwrap();
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
}
