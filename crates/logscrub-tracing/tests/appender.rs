//! tracing-appender's writers wrap like any MakeWriter: the non-blocking
//! writer receives whole masked events, the rolling file gets them written.

mod common;

use common::{Capture, JWT};
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

#[test]
fn non_blocking_writer_receives_masked_events() {
    let cap = Capture::default();
    let (non_blocking, guard) = tracing_appender::non_blocking(common::CaptureWriterOwned(cap.clone()));
    let sub = tracing_subscriber::fmt().json().with_writer(non_blocking.redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, || {
        for i in 0..100 {
            tracing::info!(i, "retry with Authorization: Bearer {JWT}");
        }
    });
    drop(guard); // flushes the worker
    let out = cap.text();
    assert_eq!(out.lines().count(), 100);
    assert!(!out.contains("eyJhbGci"), "{out}");
    for line in out.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn rolling_file_gets_masked_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let appender = tracing_appender::rolling::never(dir, "app.log");
    let sub = tracing_subscriber::fmt().with_ansi(false).with_writer(appender.redacted(Redactor::new())).finish();
    tracing::subscriber::with_default(sub, || tracing::warn!("db down postgres://app:s3cr3t-pw@db:5432/app"));
    let out = std::fs::read_to_string(dir.join("app.log")).unwrap();
    assert!(out.contains("postgres://app:[REDACTED:url-userinfo]@db:5432/app"), "{out}");
}

#[test]
fn a_redacting_stream_on_the_worker_thread_masks_every_event() {
    // The caller only formats and queues; the appender's worker masks.
    let cap = Capture::default();
    let stream = Redactor::new().stream(common::CaptureWriterOwned(cap.clone()));
    let (non_blocking, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(stream);
    let sub = tracing_subscriber::fmt().json().with_writer(non_blocking).finish();
    let dispatch = tracing::Dispatch::new(sub);
    std::thread::scope(|s| {
        for t in 0..4 {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..250 {
                        tracing::info!(t, i, "retry with Authorization: Bearer {JWT}");
                        tracing::info!(t, i, url = "postgres://app:s3cr3t-pw@db:5432/app", "clean {i}");
                    }
                })
            });
        }
    });
    drop(dispatch);
    drop(guard); // flushes the worker
    let out = cap.text();
    assert_eq!(out.lines().count(), 2000);
    assert!(!out.contains("eyJhbGci") && !out.contains("s3cr3t"), "{out}");
    for line in out.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}
