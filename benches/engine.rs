//! Criterion benches of the engine: throughput on real clean logs, on the
//! same with 1% secret-bearing lines, and the latency of one line. Each
//! bench asserts its finding counts first, and a memchr line count over the
//! same buffer runs in the same group as the baseline.

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logscrub::Redactor;

#[path = "corpus.rs"]
mod corpus;

fn throughput(c: &mut Criterion) {
    let redactor = Redactor::new();
    let (clean, source) = corpus::clean(8 << 20);
    let (dirty, planted) = corpus::dirty(&clean, &redactor);
    eprintln!(
        "corpus: {source}; clean {} bytes, dirty {} bytes with {planted} planted lines",
        clean.len(),
        dirty.len()
    );

    // Finding counts, asserted before anything is timed.
    let stats = redactor.redact_reader(&dirty[..], std::io::sink()).unwrap();
    assert!(stats.masked_lines() as usize >= planted, "{} masked < {planted} planted", stats.masked_lines());
    let clean_stats = redactor.redact_reader(&clean[..], std::io::sink()).unwrap();
    let per_100k = clean_stats.masked_lines() as f64 * 1e5 / clean_stats.lines() as f64;
    eprintln!(
        "clean corpus: {} of {} lines masked ({per_100k:.1} per 100k)",
        clean_stats.masked_lines(),
        clean_stats.lines()
    );

    for (name, buf) in [("clean", &clean), ("dirty-1pct", &dirty)] {
        let mut g = c.benchmark_group(format!("throughput/{name}"));
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.sample_size(20);
        g.bench_function("memchr-line-count", |b| b.iter(|| black_box(corpus::line_count(buf))));
        g.bench_function("logscrub-stream", |b| {
            b.iter(|| {
                let mut s = redactor.stream(std::io::sink());
                s.write_all(buf).unwrap();
                black_box(s.finish().unwrap().1.lines())
            })
        });
        g.finish();
    }
}

fn latency(c: &mut Criterion) {
    let redactor = Redactor::new();
    assert_eq!((corpus::CLEAN_LINE.len(), corpus::DIRTY_LINE.len()), (100, 100));
    assert!(redactor.find(corpus::CLEAN_LINE).is_empty());
    assert_eq!(redactor.find(corpus::DIRTY_LINE).len(), 1);
    let mut g = c.benchmark_group("latency");
    g.bench_function("clean-line-100B", |b| b.iter(|| black_box(redactor.redact(black_box(corpus::CLEAN_LINE)).len())));
    g.bench_function("dirty-line-100B", |b| b.iter(|| black_box(redactor.redact(black_box(corpus::DIRTY_LINE)).len())));
    g.finish();
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
