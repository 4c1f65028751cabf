//! Many threads logging secrets at once: no torn lines, no leaks.

mod common;

use common::{Capture, JWT};
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

#[test]
fn concurrent_events_never_interleave_or_leak() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt().json().with_writer(cap.clone().redacted(Redactor::new())).finish();
    let dispatch = tracing::Dispatch::new(sub);
    let (threads, per_thread) = (8, 500);
    std::thread::scope(|s| {
        for t in 0..threads {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..per_thread {
                        tracing::info!(thread = t, i, token = JWT, "call with Authorization: Bearer {JWT} done");
                    }
                });
            });
        }
    });
    let out = cap.text();
    assert!(!out.contains("eyJhbGci"), "a JWT leaked");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), threads * per_thread);
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("torn line ({e}): {line}"));
        assert!(v["fields"]["message"].as_str().unwrap().contains("[REDACTED:"));
    }
}
