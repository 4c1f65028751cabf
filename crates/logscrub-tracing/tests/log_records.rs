//! `log` records bridged by tracing-log go through the same writer.

mod common;

use common::Capture;

#[test]
fn log_crate_records_are_masked() {
    tracing_log::LogTracer::init().unwrap();
    let cap = Capture::default();
    let sub = common::writer_subscriber(&cap);
    tracing::subscriber::with_default(sub, || {
        log::warn!("legacy client sent api_key=AbC123xYz789QwE456 for jane@example.com");
    });
    let out = cap.text();
    assert!(out.contains("api_key=[REDACTED:secret-assignment]"), "{out}");
    assert!(out.contains("****@example.com") && !out.contains("AbC123xYz789QwE456"), "{out}");

    // The field formatter scrubs the record's message, and skips the
    // `log.` fields that carry its metadata, as the default one does.
    let cap = Capture::default();
    let sub = common::fields_subscriber(&cap);
    tracing::subscriber::with_default(sub, || log::warn!("retry with api_key=AbC123xYz789QwE456"));
    let out = cap.text();
    assert!(out.contains("retry with api_key=[REDACTED:secret-assignment]\n"), "{out}");
    assert!(!out.contains("log.") && !out.contains("AbC123xYz789QwE456"), "{out}");
}
