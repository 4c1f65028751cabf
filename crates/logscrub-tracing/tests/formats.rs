//! Every formatter of tracing-subscriber's fmt layer, through the redacting
//! writer: secrets masked, JSON still valid, clean events unchanged.

mod common;

use common::{Capture, JWT};
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

fn emit_events() {
    tracing::info!(user = "jane", password = "hunter2hunter2", "login ok");
    // Debug of an Option, as `?field` writes it: `password=Some("...")`.
    tracing::info!(password = ?Some("s3cr3t-option"), "retry");
    tracing::warn!(authorization = %format!("Bearer {JWT}"), "upstream 401");
    tracing::info!("db url postgres://app:s3cr3t-pw@db.internal:5432/app");
    let span = tracing::info_span!("request", api_key = "AbC123xYz789QwE456");
    let _g = span.enter();
    tracing::info!(status = 200, "GET /health done");
}

fn assert_clean(out: &str) {
    for secret in ["hunter2hunter2", JWT, "s3cr3t-pw", "AbC123xYz789QwE456", "s3cr3t-option"] {
        assert!(!out.contains(secret), "leaked {secret} in:\n{out}");
    }
    assert!(out.contains("GET /health done"), "{out}");
    assert!(out.contains("[REDACTED:"), "{out}");
}

#[test]
fn full_format() {
    let cap = Capture::default();
    let sub = common::writer_subscriber(&cap);
    tracing::subscriber::with_default(sub, emit_events);
    assert_clean(&cap.text());
    assert_eq!(cap.text().lines().count(), 5);
}

#[test]
fn compact_format() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt()
        .compact()
        .with_ansi(false)
        .with_writer(cap.clone().redacted(Redactor::new()))
        .finish();
    tracing::subscriber::with_default(sub, emit_events);
    assert_clean(&cap.text());
}

#[test]
fn pretty_format() {
    let cap = Capture::default();
    let sub =
        tracing_subscriber::fmt().pretty().with_ansi(false).with_writer(cap.clone().redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, emit_events);
    assert_clean(&cap.text());
}

#[test]
fn json_format_stays_valid() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt().json().with_writer(cap.clone().redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, emit_events);
    let out = cap.text();
    assert_clean(&out);
    for line in out.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn a_clean_event_is_written_unchanged() {
    let plain = Capture::default();
    let redacted = Capture::default();
    for (cap, redact) in [(&plain, false), (&redacted, true)] {
        let builder = tracing_subscriber::fmt().with_ansi(false).without_time();
        let sub = if redact {
            tracing::subscriber::with_default(
                builder.with_writer(cap.clone().redacted(Redactor::new())).finish(),
                || tracing::info!(status = 200, "GET /health done"),
            );
            continue;
        } else {
            builder.with_writer(cap.clone()).finish()
        };
        tracing::subscriber::with_default(sub, || tracing::info!(status = 200, "GET /health done"));
    }
    assert_eq!(plain.text(), redacted.text());
}

#[test]
fn a_drop_rule_drops_the_event_in_every_format() {
    let dropping = || Redactor::builder().mask("password-assignment", logscrub::Mask::Drop).build().unwrap();
    let emit = || {
        tracing::info!("before");
        tracing::info!("retry with password=hunter2hunter2");
        tracing::info!("after");
    };
    for format in ["full", "json", "pretty"] {
        let cap = Capture::default();
        let writer = cap.clone().redacted(dropping());
        match format {
            "full" => tracing::subscriber::with_default(tracing_subscriber::fmt().with_writer(writer).finish(), emit),
            "json" => {
                tracing::subscriber::with_default(tracing_subscriber::fmt().json().with_writer(writer).finish(), emit)
            }
            _ => {
                tracing::subscriber::with_default(tracing_subscriber::fmt().pretty().with_writer(writer).finish(), emit)
            }
        }
        let out = cap.text();
        assert!(!out.contains("hunter2") && out.contains("before") && out.contains("after"), "{format}: {out}");
    }
}

#[test]
fn an_event_written_in_several_calls_is_masked_as_one() {
    use std::io::Write;
    use tracing_subscriber::fmt::MakeWriter;
    // A formatter that writes line by line: a key's first line is clean
    // on its own, but opens a block that its next lines belong to.
    let key = [
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n",
        "-----END OPENSSH PRIVATE KEY-----\n",
    ];
    let split = ["login password=", "hunter2hunter2\n"];
    for (first, parts) in [("key follows\n", &key[..]), ("", &split[..])] {
        let cap = Capture::default();
        let make = cap.clone().redacted(Redactor::new());
        let mut writer = make.make_writer();
        for part in std::iter::once(&first).chain(parts) {
            writer.write_all(part.as_bytes()).unwrap();
        }
        drop(writer);
        let out = cap.text();
        for leak in ["b3BlbnNzaC1rZXkt", "hunter2"] {
            assert!(!out.contains(leak), "{leak} leaked: {out}");
        }
        assert!(out.starts_with(first) && out.ends_with('\n'), "{out}");
    }
}
