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
fn the_compact_format_goes_through_it_too() {
    let cap = Capture::default();
    let sub = tracing_subscriber::fmt()
        .compact()
        .with_ansi(false)
        .fmt_fields(RedactingFields::new(Redactor::new()))
        .with_writer(cap.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        let span = tracing::info_span!("request", token = "opaque-value-1");
        let _g = span.enter();
        tracing::info!(password = ?Some("hunter2"), note = "mail jane@example.com", "login");
    });
    let out = cap.text();
    assert!(out.contains("password=[REDACTED:field]") && out.contains("token=[REDACTED:field]"), "{out}");
    for secret in ["opaque-value-1", "hunter2", "jane@"] {
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

#[test]
fn formatters_with_other_names_on_one_thread_each_judge_by_their_own() {
    // Names are remembered by their address, per list of names: the same
    // callsite through formatters with different lists, in turn, on one
    // thread, each new formatter perhaps where a dropped one was.
    let redactor = Redactor::new();
    let emit = || tracing::info!(customer_ref = "C-991", token = "opaque-x", "ok");
    for _ in 0..3 {
        for (fields, secret, plain) in [
            (RedactingFields::new(redactor.clone()), "token", "customer_ref=\"C-991\""),
            (
                RedactingFields::new(redactor.clone()).secret_names(["customer_ref"]),
                "customer_ref",
                "token=\"opaque-x\"",
            ),
        ] {
            let cap = Capture::default();
            let sub = tracing_subscriber::fmt().with_ansi(false).fmt_fields(fields).with_writer(cap.clone()).finish();
            tracing::subscriber::with_default(sub, emit);
            let out = cap.text();
            assert!(out.contains(&format!("{secret}=[REDACTED:field]")) && out.contains(plain), "{out}");
        }
    }
}

/// An error with a cause, for the `sources` list the default formatter
/// writes.
#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request failed")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Events with every kind of field, in spans with fields.
fn every_kind_of_field() {
    let span = tracing::info_span!("request", r#type = "get", id = 7u64);
    let _g = span.enter();
    tracing::info!(status = 200, ratio = 0.25, ok = true, delta = -3i64, path = "/a \"b\"", "done in {}ms", 12);
    tracing::warn!(list = ?vec![1, 2], name = %"display", "bell \x07 and esc \x1b[31m here");
    let error = Outer(std::io::Error::other("connection reset"));
    tracing::error!(error = &error as &(dyn std::error::Error + 'static), "gave up");
    tracing::info!(message = "only a message");
}

/// Output of `every_kind_of_field` with `fields`, or the default field
/// formatter.
fn formatted(ansi: bool, fields: Option<RedactingFields>) -> String {
    let cap = Capture::default();
    let fmt = tracing_subscriber::fmt().with_ansi(ansi).without_time().with_writer(cap.clone());
    match fields {
        Some(fields) => tracing::subscriber::with_default(fmt.fmt_fields(fields).finish(), every_kind_of_field),
        None => tracing::subscriber::with_default(fmt.finish(), every_kind_of_field),
    }
    cap.text()
}

#[test]
fn clean_events_look_as_the_default_formatter_writes_them() {
    for ansi in [false, true] {
        let ours = formatted(ansi, Some(RedactingFields::new(Redactor::new())));
        assert_eq!(ours, formatted(ansi, None), "ansi {ansi}");
        assert!(ours.contains("bell \\x07 and esc \\x1b[31m here"), "{ours}");
    }
}

#[test]
fn numbers_are_scrubbed_and_a_value_that_logs_while_formatted_is_too() {
    /// A value whose `Debug` logs while the outer event's value is being
    /// formatted (tracing drops such a nested event; it must not panic).
    struct Noisy;
    impl std::fmt::Debug for Noisy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!(inner = "mail jane@example.com", "nested");
            f.write_str("noisy john@example.org")
        }
    }
    let cap = Capture::default();
    let sub = common::fields_subscriber(&cap);
    tracing::subscriber::with_default(sub, || {
        tracing::info!(card = 4111111111111111u64, value = ?Noisy, "paid");
    });
    let out = cap.text();
    assert!(out.contains("card=************1111 value=noisy ****@example.org"), "{out}");
    for secret in ["4111111111111111", "jane@", "john@"] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
}

#[test]
fn a_key_block_begun_in_one_value_is_masked_on_into_the_next() {
    let cap = Capture::default();
    tracing::subscriber::with_default(common::fields_subscriber(&cap), || {
        tracing::info!(
            header = "-----BEGIN OPENSSH PRIVATE KEY-----",
            body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
            footer = "-----END OPENSSH PRIVATE KEY-----",
            user = "jane",
            "loaded key"
        );
        tracing::warn!(
            value = "-----BEGIN RSA PRIVATE KEY-----",
            rest = "MIIEowIBAAKCAQEAu1SU1L7VLPHCgcBIjs",
            "never ends"
        );
    });
    let out = cap.text();
    assert!(!out.contains("b3BlbnNzaC1rZXkt") && !out.contains("MIIEowIBAAKC"), "{out}");
    assert!(out.contains("loaded key header=") && out.contains("user=\"jane\""), "{out}");
}

#[test]
fn with_a_drop_rule_the_matching_value_comes_out_empty_and_the_others_intact() {
    let cap = Capture::default();
    let dropping = Redactor::builder().mask("password-assignment", logscrub::Mask::Drop).build().unwrap();
    let sub = tracing_subscriber::fmt()
        .with_ansi(false)
        .fmt_fields(RedactingFields::new(dropping))
        .with_writer(cap.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        tracing::info!(note = "retry with password=hunter2hunter2", mail = "jane@example.com", "login");
    });
    let out = cap.text();
    assert!(out.contains("login note=\"\" mail=\"****@example.com\""), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}
