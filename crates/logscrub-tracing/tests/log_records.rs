//! `log` records bridged by tracing-log go through the same writer.

mod common;

use common::Capture;
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

#[test]
fn log_crate_records_are_masked() {
    tracing_log::LogTracer::init().unwrap();
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt().with_ansi(false).with_writer(cap.clone().redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, || {
        log::warn!("legacy client sent api_key=AbC123xYz789QwE456 for jane@example.com");
    });
    let out = cap.text();
    assert!(out.contains("api_key=[REDACTED:secret-assignment]"), "{out}");
    assert!(out.contains("****@example.com") && !out.contains("AbC123xYz789QwE456"), "{out}");
}
