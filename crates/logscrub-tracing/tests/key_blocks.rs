//! A private key logged one line an event: its body lines look like any
//! base64 on their own, so they are masked as the lines of one log, the
//! way the binary masks the same output, until the key's END line.

mod common;

use common::Capture;
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1L7VLPHCgcBIjs2g3Ztk7nLhPkZfLqEnd
Zx8qRkYt0B3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ
-----END RSA PRIVATE KEY-----";

const BODY: [&str; 2] = ["MIIEowIBAAKC", "Zx8qRkYt0B3B"];

/// Logs the key a line an event, with another callsite's event (as another
/// thread's would be) between two of them, then a clean event after it.
fn log_key_by_lines() {
    for (i, line) in KEY.lines().enumerate() {
        tracing::info!("{line}");
        if i == 1 {
            tracing::warn!(status = 503, "upstream unavailable");
        }
    }
    tracing::info!(status = 200, "GET /health done");
}

fn check(out: &str) {
    for leak in BODY {
        assert!(!out.contains(leak), "{leak} leaked:\n{out}");
    }
    assert!(!out.contains("upstream unavailable"), "an event inside the block is masked with it:\n{out}");
    assert!(out.lines().last().unwrap().ends_with("GET /health done status=200"), "after the END line:\n{out}");
    assert_eq!(out.lines().count(), 6, "{out}");
}

#[test]
fn the_writer_masks_a_key_logged_a_line_an_event() {
    let cap = Capture::default();
    let sub = common::writer_subscriber(&cap);
    tracing::subscriber::with_default(sub, log_key_by_lines);
    check(&cap.text());
}

#[test]
fn the_field_formatter_masks_a_key_logged_a_line_an_event() {
    let cap = Capture::default();
    tracing::subscriber::with_default(common::fields_subscriber(&cap), log_key_by_lines);
    check(&cap.text());
}

#[test]
fn a_block_opened_on_one_thread_covers_the_next_events_of_another() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt().with_ansi(false).with_writer(cap.clone().redacted(Redactor::new()));
    let dispatch = tracing::Dispatch::new(sub.finish());
    let lines: Vec<&str> = KEY.lines().collect();
    // A task's lines, logged from whichever thread runs it.
    for (i, line) in lines.iter().enumerate() {
        let dispatch = dispatch.clone();
        std::thread::scope(|s| {
            s.spawn(|| tracing::dispatcher::with_default(&dispatch, || tracing::info!(line = i, "{line}")));
        });
    }
    let out = cap.text();
    for leak in BODY {
        assert!(!out.contains(leak), "{leak} leaked:\n{out}");
    }
}

#[test]
fn json_events_inside_a_block_are_masked_value_by_value_and_stay_json() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt().json().with_writer(cap.clone().redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, log_key_by_lines);
    let out = cap.text();
    for leak in BODY {
        assert!(!out.contains(leak), "{leak} leaked:\n{out}");
    }
    let events: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let messages: Vec<&str> = events.iter().map(|e| e["fields"]["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "-----BEGIN RSA PRIVATE KEY-----",
            "[REDACTED:private-key]",
            "[REDACTED:private-key]",
            "[REDACTED:private-key]",
            "-----END RSA PRIVATE KEY-----",
            "GET /health done",
        ],
        "{out}"
    );
    // Inside the block every string is masked, numbers are kept.
    assert_eq!(events[2]["fields"]["status"], 503);
    assert_eq!(events[2]["level"], "[REDACTED:private-key]");
    assert_eq!(events[5]["level"], "INFO");
}
