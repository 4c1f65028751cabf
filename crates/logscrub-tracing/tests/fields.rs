//! The field-aware formatter: secret-named fields masked whole, other
//! values scrubbed, span fields too.

mod common;

use common::Capture;
use logscrub::Redactor;
use logscrub_tracing::RedactingFields;

#[test]
fn secret_named_fields_are_masked_whole_and_others_scrubbed() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .fmt_fields(RedactingFields::new(Redactor::new()))
        .with_writer(cap.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        let span = tracing::info_span!("request", cookie = "sid=opaque-value-1", path = "/cart");
        let _g = span.enter();
        tracing::info!(
            authorization = "whatever-shape",
            db_password = "plain",
            note = "mail jane@example.com",
            status = 200,
            "call with api_key=AbC123xYz789QwE456"
        );
    });
    let out = cap.text();
    assert!(out.contains("cookie=[REDACTED:field]") && out.contains("path=\"/cart\""), "{out}");
    assert!(out.contains("authorization=[REDACTED:field]") && out.contains("db_password=[REDACTED:field]"), "{out}");
    assert!(out.contains("note=\"mail ****@example.com\"") && out.contains("status=200"), "{out}");
    assert!(out.contains("call with api_key=[REDACTED:secret-assignment]"), "{out}");
    for secret in ["opaque-value-1", "whatever-shape", "plain", "jane@", "AbC123"] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
}

#[test]
fn secret_names_are_configurable() {
    let cap = Capture::default();
    let fields = RedactingFields::new(Redactor::new()).secret_names(["customer_ref"]);
    let sub = tracing_subscriber::fmt().with_ansi(false).fmt_fields(fields).with_writer(cap.clone()).finish();
    tracing::subscriber::with_default(sub, || tracing::info!(customer_ref = "C-991", token = "x", "ok"));
    let out = cap.text();
    assert!(out.contains("customer_ref=[REDACTED:field]") && out.contains("token=\"x\""), "{out}");
}
