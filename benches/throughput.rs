//! The throughput script: MB/s of the engine on the bench corpora, beside a
//! memchr line count over the same buffer in the same process as the
//! baseline. Run with `cargo bench --bench throughput`; each run appends a
//! record to benches/record/throughput.jsonl when LOGSCRUB_RECORD=1.
//!
//! Criterion (`--bench engine`) gives the statistics; this gives the table.

use std::io::Write;
use std::time::{Duration, Instant};

use logscrub::Redactor;

#[path = "corpus.rs"]
mod corpus;

/// Best-of-N wall time of `f`, for at least `min` in all.
fn best<F: FnMut() -> usize>(mut f: F, min: Duration) -> (Duration, usize) {
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut out = 0;
    let mut runs = 0;
    while runs < 3 || start.elapsed() < min {
        let t = Instant::now();
        out = std::hint::black_box(f());
        best = best.min(t.elapsed());
        runs += 1;
    }
    (best, out)
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let redactor = Redactor::new();
    let (clean, source) = corpus::clean(32 << 20);
    let (dirty, planted) = corpus::dirty(&clean, &redactor);
    let min = Duration::from_secs(2);
    println!(
        "corpus: {source}; {} MB clean, {} MB dirty with {planted} planted lines",
        clean.len() >> 20,
        dirty.len() >> 20
    );
    // Every pack, as compliance scrubs of old archives run them; and lines in
    // other scripts, which rules naming words beyond ASCII wake.
    let all = Redactor::builder().packs(["all"]).build().unwrap();
    let scripts = corpus::scripts(8 << 20);
    let mut rows = Vec::new();
    for (name, buf, redactor) in [
        ("clean", &clean, &redactor),
        ("dirty-1pct", &dirty, &redactor),
        ("scripts", &scripts, &redactor),
        ("all-clean", &clean, &all),
        ("all-dirty-1pct", &dirty, &all),
    ] {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let (base, lines) = best(|| corpus::line_count(buf), min);
        let (eng, masked) = best(
            || {
                let mut s = redactor.stream(std::io::sink());
                s.write_all(buf).unwrap();
                let st = s.finish().unwrap().1;
                (st.masked_lines() as usize) << 32 | st.scanned_lines() as usize
            },
            min,
        );
        let (masked, scanned) = (masked >> 32, masked & 0xffff_ffff);
        if name.ends_with("dirty-1pct") {
            assert!(masked >= planted, "{masked} masked < {planted} planted");
        }
        if name == "scripts" {
            assert_eq!(masked, 0, "clean lines in other scripts were masked");
        }
        let (b, e) = (mbps(buf.len(), base), mbps(buf.len(), eng));
        println!(
            "{name:<14} memchr line count {b:>8.0} MB/s ({lines} lines) | logscrub {e:>7.0} MB/s ({masked} masked, {scanned} scanned lines) | {:.1}% of baseline",
            100.0 * e / b
        );
        rows.push(format!(
            "{{\"input\":\"{name}\",\"bytes\":{},\"baseline_mbps\":{b:.0},\"logscrub_mbps\":{e:.0},\"masked_lines\":{masked}}}",
            buf.len()
        ));
    }
    if filter.as_deref().is_some_and(|f| !"latency".contains(f)) {
        return;
    }
    let (clean_ns, _) = best(|| redactor.redact(corpus::CLEAN_LINE).len(), Duration::from_millis(200));
    let n = 100_000;
    let (batch, _) =
        best(|| (0..n).map(|_| redactor.redact(std::hint::black_box(corpus::CLEAN_LINE)).len()).sum(), min / 2);
    let (dirty_batch, _) =
        best(|| (0..n).map(|_| redactor.redact(std::hint::black_box(corpus::DIRTY_LINE)).len()).sum(), min / 2);
    let _ = clean_ns;
    println!(
        "latency        clean {}-byte line {:.0} ns | dirty {}-byte line {:.0} ns",
        corpus::CLEAN_LINE.len(),
        batch.as_nanos() as f64 / n as f64,
        corpus::DIRTY_LINE.len(),
        dirty_batch.as_nanos() as f64 / n as f64
    );
    if std::env::var_os("LOGSCRUB_RECORD").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/record");
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("throughput.jsonl")).unwrap();
        let when = std::process::Command::new("date")
            .arg("-u")
            .arg("+%Y-%m-%dT%H:%M:%SZ")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        writeln!(f, "{{\"when\":\"{when}\",\"cpu\":\"{cpu}\",\"cores\":{},\"commit\":\"{}\",\"corpus\":\"{source}\",\"rows\":[{}],\"latency_clean_ns\":{:.0},\"latency_dirty_ns\":{:.0}}}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default(),
            rows.join(","), batch.as_nanos() as f64 / n as f64, dirty_batch.as_nanos() as f64 / n as f64).unwrap();
    }
}
