//! Cost per event of the redacting writer against the same subscriber
//! without it, for a typical clean event and one carrying a secret.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use logscrub::Redactor;
use logscrub_tracing::RedactExt;

fn overhead(c: &mut Criterion) {
    let plain = tracing::Dispatch::new(tracing_subscriber::fmt().with_ansi(false).with_writer(std::io::sink).finish());
    let redacted = tracing::Dispatch::new(
        tracing_subscriber::fmt().with_ansi(false).with_writer(std::io::sink.redacted(Redactor::new())).finish(),
    );
    let mut g = c.benchmark_group("event");
    for (name, d) in [("plain", &plain), ("redacted", &redacted)] {
        g.bench_function(format!("clean/{name}"), |b| {
            tracing::dispatcher::with_default(d, || {
                b.iter(|| tracing::info!(status = black_box(200), path = "/api/v1/items", "request done in 12ms"))
            })
        });
        g.bench_function(format!("secret/{name}"), |b| {
            tracing::dispatcher::with_default(d, || {
                b.iter(|| tracing::info!(user = "jane", password = black_box("hunter2hunter2"), "login"))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
