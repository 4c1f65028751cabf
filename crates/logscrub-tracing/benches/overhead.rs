//! Cost per event of the field formatter and of the redacting writer
//! against the same subscriber without logscrub, for a typical clean event
//! and one carrying a secret; and, with `tracing-appender`'s non-blocking
//! writer, the cost on the calling thread when the appender's worker masks
//! instead.
//!
//! Criterion measures one subscriber after the other, and on a shared
//! machine the speed drifts between them by as much as the overhead being
//! measured. So the run ends with the clean event's overhead measured in
//! interleaved rounds (each subscriber in turn, many times), as medians:
//! into `std::io::sink`, which costs nothing, and into `/dev/null` through
//! a file, one `write(2)` an event as `fmt()`'s default writer (stdout)
//! makes, at the least a system call can cost (a pipe or a terminal costs
//! more).
//!
//! `-- --events SUBSCRIBER N` only logs N clean events through one of the
//! sink subscribers (`plain`, `fields`, `redacted`): for counting
//! instructions, which the machine's noise does not change
//! (`benches/tracing_instructions.sh`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use logscrub::Redactor;
use logscrub_tracing::{RedactExt, RedactingFields};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

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

/// The subscribers compared, each writing into `writer`: without
/// logscrub, with the field formatter, with the redacting writer.
fn subscribers<W>(writer: W) -> [(&'static str, tracing::Dispatch); 3]
where
    W: for<'a> MakeWriter<'a> + Clone + Send + Sync + 'static,
{
    let fmt = || tracing_subscriber::fmt().with_ansi(false);
    [
        ("plain", tracing::Dispatch::new(fmt().with_writer(writer.clone()).finish())),
        (
            "fields",
            tracing::Dispatch::new(
                fmt().fmt_fields(RedactingFields::new(Redactor::new())).with_writer(writer.clone()).finish(),
            ),
        ),
        ("redacted", tracing::Dispatch::new(fmt().with_writer(writer.redacted(Redactor::new())).finish())),
    ]
}

fn sink_subscribers() -> [(&'static str, tracing::Dispatch); 3] {
    subscribers(std::io::sink)
}

/// The same, each event one `write(2)` into `/dev/null`.
fn dev_null_subscribers() -> [(&'static str, tracing::Dispatch); 3] {
    subscribers(Arc::new(std::fs::File::create("/dev/null").expect("/dev/null opens")))
}

fn overhead(c: &mut Criterion) {
    let fmt = || tracing_subscriber::fmt().with_ansi(false);
    let mut g = c.benchmark_group("event");
    for (name, d) in &sink_subscribers() {
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

/// The clean event's cost with each subscriber, measured in turn in
/// interleaved rounds; prints the medians and their ratio to the first.
fn interleaved(subscribers: [(&'static str, tracing::Dispatch); 3], into: &str) {
    let (rounds, events) = (21, 100_000);
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); subscribers.len()];
    for _ in 0..rounds {
        for (times, (_, d)) in ns.iter_mut().zip(&subscribers) {
            tracing::dispatcher::with_default(d, || {
                let start = Instant::now();
                for _ in 0..events {
                    clean();
                }
                times.push(start.elapsed().as_nanos() as f64 / f64::from(events));
            });
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&mut ns[0]);
    println!("clean event into {into}, {rounds} interleaved rounds of {events} events, median per event:");
    for (times, (name, _)) in ns.iter_mut().zip(&subscribers) {
        let m = median(times);
        println!("  {name:<8} {m:>6.0} ns ({:+.1}%)", 100.0 * (m / base - 1.0));
    }
}

criterion_group!(benches, overhead);

/// Logs `n` clean events through the sink subscriber named `name`.
fn events(name: &str, n: u64) {
    let subscribers = sink_subscribers();
    let Some((_, d)) = subscribers.iter().find(|(s, _)| *s == name) else {
        panic!("no subscriber {name}: plain, fields or redacted");
    };
    tracing::dispatcher::with_default(d, || (0..n).for_each(|_| clean()));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--events") {
        return events(&args[i + 1], args[i + 2].parse().expect("a number of events"));
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench -- <filter>` runs the interleaved rounds only when the
    // filter names them.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "interleaved".contains(&f)) {
        interleaved(sink_subscribers(), "std::io::sink");
        interleaved(dev_null_subscribers(), "/dev/null (a write(2) an event)");
    }
}
