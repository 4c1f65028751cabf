//! Cost per event of the redacting writer against the same subscriber
//! without it, for a typical clean event and one carrying a secret; and,
//! with `tracing-appender`'s non-blocking writer, the cost on the calling
//! thread when the appender's worker masks instead.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use logscrub::Redactor;
use logscrub_tracing::{RedactExt, RedactingFields};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

fn clean() {
    tracing::info!(status = black_box(200), path = "/api/v1/items", "request done in 12ms")
}

fn secret() {
    tracing::info!(user = "jane", password = black_box("hunter2hunter2"), "login")
}

/// A non-blocking writer into `inner` that never drops an event: were the
/// worker slower than the caller, the caller would wait, and the bench
/// would show it.
fn non_blocking<W: std::io::Write + Send + 'static>(inner: W) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default().lossy(false).finish(inner)
}

fn overhead(c: &mut Criterion) {
    let fmt = || tracing_subscriber::fmt().with_ansi(false);
    let plain = tracing::Dispatch::new(fmt().with_writer(std::io::sink).finish());
    let redacted = tracing::Dispatch::new(fmt().with_writer(std::io::sink.redacted(Redactor::new())).finish());
    let fields = tracing::Dispatch::new(
        fmt().fmt_fields(RedactingFields::new(Redactor::new())).with_writer(std::io::sink).finish(),
    );
    let mut g = c.benchmark_group("event");
    for (name, d) in [("plain", &plain), ("redacted", &redacted), ("fields", &fields)] {
        g.bench_function(format!("clean/{name}"), |b| tracing::dispatcher::with_default(d, || b.iter(clean)));
        g.bench_function(format!("secret/{name}"), |b| tracing::dispatcher::with_default(d, || b.iter(secret)));
    }
    g.finish();

    let (nb_plain, _g1) = non_blocking(std::io::sink());
    let (nb_worker, _g2) = non_blocking(Redactor::new().stream(std::io::sink()));
    let (nb_caller, _g3) = non_blocking(std::io::sink());
    let subscribers = [
        ("plain", tracing::Dispatch::new(fmt().with_writer(nb_plain).finish())),
        ("masked-on-worker", tracing::Dispatch::new(fmt().with_writer(nb_worker).finish())),
        ("masked-on-caller", tracing::Dispatch::new(fmt().with_writer(nb_caller.redacted(Redactor::new())).finish())),
    ];
    let mut g = c.benchmark_group("non-blocking");
    for (name, d) in &subscribers {
        g.bench_function(format!("clean/{name}"), |b| tracing::dispatcher::with_default(d, || b.iter(clean)));
        g.bench_function(format!("secret/{name}"), |b| tracing::dispatcher::with_default(d, || b.iter(secret)));
    }
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
