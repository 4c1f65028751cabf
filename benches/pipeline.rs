//! The binary's bench script: the real `logscrub` process on the bench
//! corpus, each figure beside a baseline run in the same script.
//!
//! - stdin filter: MB/s of `logscrub < file > /dev/null`, against the
//!   engine in this process on the same bytes;
//! - JSON lines: `--format json` on the corpus as JSON lines, and the raw
//!   filter on the same file; `containers`: the same for `--format cri` and
//!   `--format docker` on the corpus as container log lines;
//! - TCP ingest: two clients into `logscrub serve --tcp`, stdout read back;
//!   and the same over TLS;
//! - Forward in to Forward out: two clients sending 1 MiB PackedForward
//!   chunks with acks, through logscrub, to an acking receiver here;
//! - spill: two TCP clients while the downstream is down, everything
//!   going to `--spill-dir`, then the drain once a receiver comes up;
//! - latency: lines paced at 50,000 per second over TCP, time from send to
//!   read back on stdout (p50, p99, max);
//! - batch: `logscrub scrub` on gzip files (against `zcat | gzip -6` on
//!   the same files) and on 8 plain files of 32 MB (with each manifest
//!   checksum, against the engine), with 1 and 2 jobs and with 1 job
//!   pinned to one core (`taskset`);
//! - load: 48 TCP and 16 Forward clients sending as fast as they can for
//!   10 s, while a probe line every 10 ms measures latency: lines in and
//!   out (none may be lost), peak RSS of the daemon, probe p50/p99/max.
//!
//! Run with `cargo bench --bench pipeline`; `LOGSCRUB_RECORD=1` appends a
//! record to benches/record/pipeline.jsonl.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use logscrub::Redactor;
use rmpv::Value;

#[path = "corpus.rs"]
mod corpus;

const BIN: &str = env!("CARGO_BIN_EXE_logscrub");

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("port {port} never opened");
}

/// Halves at a line boundary.
fn halves(buf: &[u8]) -> (&[u8], &[u8]) {
    let mid = buf.len() / 2;
    let cut = mid + memchr::memchr(b'\n', &buf[mid..]).map_or(buf.len() - mid, |i| i + 1);
    buf.split_at(cut)
}

/// `logscrub serve --tcp` on a free port, stdout piped back here.
fn serve_tcp() -> (u16, Child) {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--tcp", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    (port, child)
}

/// CPU seconds (user and system, every thread) a running process has used
/// so far, from /proc; 0 where there is none.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields 14 and 15 (utime, stime) count after the `(comm)` field.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<f64>().ok()).sum();
    ticks / 100.0
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

fn stdin_filter(data: &[u8], redactor: &Redactor, rows: &mut Vec<String>) {
    let path = std::env::temp_dir().join(format!("logscrub-bench-{}.log", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let mut best_bin = Duration::MAX;
    let mut best_one = Duration::MAX;
    let mut best_lib = Duration::MAX;
    let mut best_cold = Duration::MAX;
    for _ in 0..3 {
        // The default threads (two scrubbing here), and one.
        for (jobs, best) in [(None, &mut best_bin), (Some("1"), &mut best_one)] {
            let t = Instant::now();
            let mut cmd = Command::new(BIN);
            cmd.args(jobs.map(|j| ["-j", j]).iter().flatten());
            let st = cmd.stdin(std::fs::File::open(&path).unwrap()).stdout(Stdio::null()).status().unwrap();
            assert!(st.success());
            *best = (*best).min(t.elapsed());
        }
        let t = Instant::now();
        redactor.redact_reader(data, std::io::sink()).unwrap();
        best_lib = best_lib.min(t.elapsed());
        // What a process pays once, in process: building the redactor
        // (every rule compiled), the DFA's states built.
        let t = Instant::now();
        Redactor::new().redact_reader(data, std::io::sink()).unwrap();
        best_cold = best_cold.min(t.elapsed());
    }
    let _ = std::fs::remove_file(&path);
    // Start-up (compiling the rules) is paid once per process; shown apart.
    let start = (0..3)
        .map(|_| {
            let t = Instant::now();
            Command::new(BIN).stdin(Stdio::null()).stdout(Stdio::null()).status().unwrap();
            t.elapsed()
        })
        .min()
        .unwrap();
    let (b, l, c) = (mbps(data.len(), best_bin), mbps(data.len(), best_lib), mbps(data.len(), best_cold));
    let (one, one_steady) = (mbps(data.len(), best_one), mbps(data.len(), best_one.saturating_sub(start)));
    let steady = mbps(data.len(), best_bin.saturating_sub(start));
    println!(
        "stdin filter: {b:.0} MB/s whole run, {steady:.0} MB/s after a {start:?} start-up; with -j 1 {one:.0} MB/s, {one_steady:.0} after start-up; engine in process {l:.0} MB/s warm, {c:.0} MB/s from a new Redactor; -j 1 to the engine: {:.2} whole, {:.2} after start-up, {:.2} to the new Redactor",
        one / l,
        one_steady / l,
        one / c
    );
    rows.push(format!(
        "\"stdin_mbps\":{b:.1},\"stdin_steady_mbps\":{steady:.1},\"stdin_j1_mbps\":{one:.1},\"startup_ms\":{},\"engine_mbps\":{l:.1},\"engine_cold_mbps\":{c:.1}",
        start.as_millis()
    ));
}

/// `--format json` on JSON lines made from the corpus (a timestamp, a
/// level, the line as `msg`, an id, a number), against the raw filter on
/// the same file.
fn json_lines(data: &[u8], rows: &mut Vec<String>) {
    let mut text = Vec::with_capacity(data.len() * 2);
    for (i, line) in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let msg = serde_json::to_string(&String::from_utf8_lossy(line)).unwrap();
        writeln!(
            text,
            r#"{{"ts": "2026-11-22T10:00:00.{:06}Z", "level": "info", "msg": {msg}, "request_id": "req-{i:08}", "ms": {}}}"#,
            i % 1_000_000,
            i % 997
        )
        .unwrap();
    }
    let (j, one, r) = format_vs_raw(&text, "json");
    println!(
        "JSON lines, {} MB: --format json {j:.0} MB/s (-j 1: {one:.0}); raw filter on the same file {r:.0} MB/s",
        text.len() >> 20
    );
    rows.push(format!("\"json_lines_mbps\":{j:.1},\"json_lines_j1_mbps\":{one:.1},\"json_as_raw_mbps\":{r:.1}"));
}

/// `--format cri` and `--format docker` on the corpus as Kubernetes CRI
/// lines and as Docker `json-file` lines, each against the raw filter on
/// the same file.
fn container_logs(data: &[u8], rows: &mut Vec<String>) {
    let (mut cri, mut docker) = (Vec::with_capacity(data.len() * 2), Vec::with_capacity(data.len() * 2));
    for (i, line) in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let (time, stream) = (format!("2026-11-22T10:00:00.{:09}Z", i % 1_000_000_000), ["stdout", "stderr"][i % 2]);
        write!(cri, "{time} {stream} F ").unwrap();
        cri.extend_from_slice(line);
        cri.push(b'\n');
        let log = serde_json::to_string(&format!("{}\n", String::from_utf8_lossy(line))).unwrap();
        writeln!(docker, r#"{{"log":{log},"stream":"{stream}","time":"{time}"}}"#).unwrap();
    }
    for (name, text) in [("cri", &cri), ("docker", &docker)] {
        let (f, one, r) = format_vs_raw(text, name);
        println!(
            "{name} lines, {} MB: --format {name} {f:.0} MB/s (-j 1: {one:.0}); raw filter on the same file {r:.0} MB/s",
            text.len() >> 20
        );
        rows.push(format!("\"{name}_mbps\":{f:.1},\"{name}_j1_mbps\":{one:.1},\"{name}_as_raw_mbps\":{r:.1}"));
    }
}

/// `logscrub --format FORMAT` (with the default threads, and with one) and
/// the raw filter on `text` from a file, best of three runs each, in MB/s.
fn format_vs_raw(text: &[u8], format: &str) -> (f64, f64, f64) {
    let path = std::env::temp_dir().join(format!("logscrub-bench-{format}-{}.log", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let run = |args: &[&str]| {
        (0..3).map(|_| timed(Command::new(BIN).args(args).stdin(std::fs::File::open(&path).unwrap()))).min().unwrap()
    };
    let (structured, one, raw) = (run(&["--format", format]), run(&["--format", format, "-j", "1"]), run(&[]));
    let _ = std::fs::remove_file(&path);
    (mbps(text.len(), structured), mbps(text.len(), one), mbps(text.len(), raw))
}

fn tcp_ingest(data: &[u8], rows: &mut Vec<String>) {
    let rate = ingest(data, None);
    println!("TCP ingest to stdout (2 clients): {rate:.0} MB/s");
    rows.push(format!("\"tcp_mbps\":{rate:.1}"));
}

/// The same over TLS (a P-256 certificate made by the openssl command).
fn tls_ingest(data: &[u8], rows: &mut Vec<String>) {
    let dir = std::env::temp_dir().join(format!("logscrub-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        println!("TLS ingest: skipped (no openssl command)");
        return;
    }
    let rate = ingest(data, Some((&cert, &key)));
    let _ = std::fs::remove_dir_all(&dir);
    println!("TLS ingest to stdout (2 clients): {rate:.0} MB/s");
    rows.push(format!("\"tls_mbps\":{rate:.1}"));
}

/// MB/s of two clients' lines through `serve --tcp` (with TLS from this
/// certificate and key) to stdout, read back here.
fn ingest(data: &[u8], tls: Option<(&Path, &Path)>) -> f64 {
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--tcp", &format!("127.0.0.1:{port}")]);
    if let Some((cert, key)) = tls {
        cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    wait_port(port);
    let config = tls.map(|(cert, _)| {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(cert).unwrap();
        for c in pem_certs(&pem) {
            roots.add(c).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        std::sync::Arc::new(config)
    });
    let mut out = child.stdout.take().unwrap();
    // Lines, not bytes: masked lines change length.
    let expect = corpus::line_count(data);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut lines = 0;
        while lines < expect {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => lines += memchr::memchr_iter(b'\n', &buf[..n]).count(),
            }
        }
        Instant::now()
    });
    let (a, b) = halves(data);
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in [a, b] {
            let config = config.clone();
            s.spawn(move || {
                let conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
                match config {
                    Some(config) => {
                        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                        let tls = rustls::ClientConnection::new(config, name).unwrap();
                        let mut stream = rustls::StreamOwned::new(tls, conn);
                        stream.write_all(part).unwrap();
                        stream.flush().unwrap();
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                    None => (&conn).write_all(part).unwrap(),
                }
            });
        }
    });
    let end = reader.join().unwrap();
    stop(child);
    mbps(data.len(), end - t)
}

fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
}

/// An acking Forward receiver on `listener`, for one connection until its
/// peer is gone; returns the bytes of record text it got (each string
/// value and a newline). It walks the msgpack in place (`skim`) rather than
/// decoding values: a decoding receiver, in the path of every ack, was
/// what the Forward figure measured.
fn acking_receiver(listener: TcpListener) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut wr = conn.try_clone().unwrap();
        let (mut buf, mut filled) = (vec![0u8; 4 << 20], 0);
        let mut log_bytes = 0usize;
        loop {
            while let Some((len, text, chunk)) = skim(&buf[..filled]) {
                log_bytes += text;
                if let Some(c) = chunk {
                    let mut ack = Vec::new();
                    rmpv::encode::write_value(&mut ack, &Value::Map(vec![(Value::from("ack"), Value::from(c))]))
                        .unwrap();
                    if wr.write_all(&ack).is_err() {
                        return log_bytes;
                    }
                }
                buf.copy_within(len..filled, 0);
                filled -= len;
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match conn.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return log_bytes,
                Ok(n) => filled += n,
            }
        }
    })
}

/// The Forward-mode message at the start of `buf` (`[tag, [[time,
/// {k: v}]...], {"chunk": id}]`): its length, the bytes of its records'
/// string values plus one each, and its chunk id. `None` until whole.
fn skim(buf: &[u8]) -> Option<(usize, usize, Option<String>)> {
    let (Item::Many(parts), mut at) = head(buf, 0)? else { return None };
    at = skip(buf, at)?; // the tag
    let (Item::Many(entries), mut at) = head(buf, at)? else { return None };
    let mut text = 0;
    for _ in 0..entries {
        let (Item::Many(2), after) = head(buf, at)? else { return None };
        at = skip(buf, after)?; // the time
        let (Item::Many(fields), after) = head(buf, at)? else { return None };
        at = after;
        for _ in 0..fields / 2 {
            at = skip(buf, at)?; // the key
            if let (Item::Str(n), _) = head(buf, at)? {
                text += n + 1;
            }
            at = skip(buf, at)?;
        }
    }
    let mut chunk = None;
    if parts >= 3 {
        let (Item::Many(options), after) = head(buf, at)? else { return None };
        at = after;
        for _ in 0..options / 2 {
            let key = str_at(buf, at)?;
            at = skip(buf, at)?;
            if key == b"chunk" {
                chunk = Some(String::from_utf8_lossy(str_at(buf, at)?).into_owned());
            }
            at = skip(buf, at)?;
        }
    }
    Some((at, text, chunk))
}

/// What a msgpack header announces.
enum Item {
    /// That many items follow (an array's, or a map's keys and values).
    Many(usize),
    /// A string of that many bytes follows.
    Str(usize),
    /// That many bytes follow.
    Bytes(usize),
}

/// The header at `buf[at..]` and where its body starts.
fn head(buf: &[u8], at: usize) -> Option<(Item, usize)> {
    let be = |n: usize| -> Option<usize> {
        let b = buf.get(at + 1..at + 1 + n)?;
        Some(b.iter().fold(0usize, |acc, &x| acc << 8 | x as usize))
    };
    let m = *buf.get(at)?;
    Some(match m {
        0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (Item::Bytes(0), at + 1),
        0x80..=0x8f => (Item::Many(2 * (m & 0x0f) as usize), at + 1),
        0x90..=0x9f => (Item::Many((m & 0x0f) as usize), at + 1),
        0xa0..=0xbf => (Item::Str((m & 0x1f) as usize), at + 1),
        0xd9 => (Item::Str(be(1)?), at + 2),
        0xda => (Item::Str(be(2)?), at + 3),
        0xdb => (Item::Str(be(4)?), at + 5),
        0xc4 => (Item::Bytes(be(1)?), at + 2),
        0xc5 => (Item::Bytes(be(2)?), at + 3),
        0xc6 => (Item::Bytes(be(4)?), at + 5),
        0xc7 => (Item::Bytes(be(1)? + 1), at + 2),
        0xc8 => (Item::Bytes(be(2)? + 1), at + 3),
        0xc9 => (Item::Bytes(be(4)? + 1), at + 5),
        0xcc | 0xd0 => (Item::Bytes(1), at + 1),
        0xcd | 0xd1 => (Item::Bytes(2), at + 1),
        0xca | 0xce | 0xd2 => (Item::Bytes(4), at + 1),
        0xcb | 0xcf | 0xd3 => (Item::Bytes(8), at + 1),
        0xd4..=0xd8 => (Item::Bytes(1 + (1 << (m - 0xd4))), at + 1),
        0xdc => (Item::Many(be(2)?), at + 3),
        0xdd => (Item::Many(be(4)?), at + 5),
        0xde => (Item::Many(2 * be(2)?), at + 3),
        0xdf => (Item::Many(2 * be(4)?), at + 5),
        0xc1 => return None,
    })
}

/// Where the value at `buf[at..]` ends.
fn skip(buf: &[u8], mut at: usize) -> Option<usize> {
    let mut pending = 1usize;
    while pending > 0 {
        let (item, body) = head(buf, at)?;
        pending -= 1;
        at = body;
        match item {
            Item::Many(n) => pending += n,
            Item::Str(n) | Item::Bytes(n) => at += n,
        }
    }
    (at <= buf.len()).then_some(at)
}

/// The string at `buf[at..]`, if whole.
fn str_at(buf: &[u8], at: usize) -> Option<&[u8]> {
    match head(buf, at)? {
        (Item::Str(n), body) => buf.get(body..body + n),
        _ => Some(&[]),
    }
}

fn forward_through(data: &[u8], rows: &mut Vec<String>) {
    let (down, port) = (free_port(), free_port());
    let receiver = acking_receiver(TcpListener::bind(("127.0.0.1", down)).unwrap());
    let child = Command::new(BIN)
        .args(["serve", "--forward", &format!("127.0.0.1:{port}"), "--output", "forward"])
        .args(["--downstream", &format!("127.0.0.1:{down}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    // Encoded before the clock starts: the figure is logscrub's, not the
    // senders' (on two cores they would take a share of the CPU).
    let parts = {
        let (a, b) = halves(data);
        [packed(a), packed(b)]
    };
    let (t, cpu) = (Instant::now(), cpu_seconds(child.id()));
    std::thread::scope(|s| {
        for part in &parts {
            s.spawn(move || send_chunks(port, part));
        }
    });
    let elapsed = t.elapsed();
    let cpu = cpu_seconds(child.id()) - cpu;
    stop(child);
    let delivered = receiver.join().unwrap();
    let rate = mbps(data.len(), elapsed);
    println!(
        "Forward in to Forward out (2 clients, acked both ways): {rate:.0} MB/s ({delivered} bytes delivered); logscrub used {:.2} s of CPU in {:.2} s ({:.0} MB per CPU second)",
        cpu,
        elapsed.as_secs_f64(),
        data.len() as f64 / 1e6 / cpu.max(0.01)
    );
    rows.push(format!("\"forward_mbps\":{rate:.1}"));
}

/// A counter from the admin endpoint's /metrics at `addr`.
fn metric(addr: &str, name: &str) -> u64 {
    let Ok(mut c) = TcpStream::connect(addr) else { return 0 };
    let _ = write!(c, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    let _ = c.read_to_string(&mut body);
    let prefix = format!("logscrub_{name} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The spill: two TCP clients while the downstream is down (everything
/// goes to `--spill-dir`), then the time to drain it all once an acking
/// receiver comes up. Baseline: the TCP ingest figure above.
fn spill(data: &[u8], rows: &mut Vec<String>) {
    let (port, admin, down) = (free_port(), free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("logscrub-bench-spill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let admin_addr = format!("127.0.0.1:{admin}");
    let child = Command::new(BIN)
        .args(["serve", "--tcp", &format!("127.0.0.1:{port}"), "--admin", &admin_addr, "--output", "forward"])
        .args(["--downstream", &format!("127.0.0.1:{down}"), "--spill-dir", dir.to_str().unwrap()])
        .args(["--buffer-bytes", &(8 << 20).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let lines = corpus::line_count(data) as u64;
    let wait = |name: &str| {
        while metric(&admin_addr, name) < lines {
            std::thread::sleep(Duration::from_millis(2));
        }
        Instant::now()
    };
    let (a, b) = halves(data);
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in [a, b] {
            s.spawn(move || TcpStream::connect(("127.0.0.1", port)).unwrap().write_all(part).unwrap());
        }
    });
    let spilled_at = wait("records_in_total");
    let spilled = metric(&admin_addr, "spill_bytes");
    let receiver = acking_receiver(TcpListener::bind(("127.0.0.1", down)).unwrap());
    let drained_at = wait("records_out_total");
    stop(child);
    let _ = receiver.join();
    let _ = std::fs::remove_dir_all(&dir);
    let (ingest, drain) = (mbps(data.len(), spilled_at - t), mbps(data.len(), drained_at - spilled_at));
    println!(
        "spill: TCP ingest with the downstream down {ingest:.0} MB/s ({} MB spilled), drained to Forward {drain:.0} MB/s",
        spilled >> 20
    );
    rows.push(format!("\"spill_ingest_mbps\":{ingest:.1},\"spill_drain_mbps\":{drain:.1}"));
}

/// Sends lines as 1 MiB PackedForward chunks, each acked before the next;
/// returns the number of records sent.
/// Sends `data`'s lines as PackedForward chunks of about 1 MiB, each
/// waiting for its ack; returns how many records were sent.
fn send_packed(port: u16, data: &[u8]) -> usize {
    send_chunks(port, &packed(data))
}

/// `data`'s lines as encoded PackedForward messages of about 1 MiB, each
/// with its chunk id and record count.
fn packed(data: &[u8]) -> Vec<(Vec<u8>, String, usize)> {
    let time = Value::Ext(0, vec![0x65, 0, 0, 0, 0, 0, 0, 0]);
    let mut messages = Vec::new();
    let mut entries = Vec::new();
    let mut records = 0;
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        let record = Value::Map(vec![(Value::from("log"), Value::from(String::from_utf8_lossy(line).as_ref()))]);
        rmpv::encode::write_value(&mut entries, &Value::Array(vec![time.clone(), record])).unwrap();
        records += 1;
        if entries.len() >= 1 << 20 || i + 1 == lines.len() {
            let chunk = format!("c{}", messages.len() + 1);
            let msg = Value::Array(vec![
                Value::from("bench"),
                Value::Binary(std::mem::take(&mut entries)),
                Value::Map(vec![(Value::from("chunk"), Value::from(chunk.as_str()))]),
            ]);
            let mut bytes = Vec::new();
            rmpv::encode::write_value(&mut bytes, &msg).unwrap();
            messages.push((bytes, chunk, std::mem::take(&mut records)));
        }
    }
    messages
}

/// Sends encoded chunks, each waiting for its ack; returns the records sent.
fn send_chunks(port: u16, messages: &[(Vec<u8>, String, usize)]) -> usize {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut rd = BufReader::new(conn.try_clone().unwrap());
    for (bytes, chunk, _) in messages {
        conn.write_all(bytes).unwrap();
        let ack = rmpv::decode::read_value(&mut rd).unwrap();
        assert!(format!("{ack}").contains(chunk.as_str()), "bad ack {ack}");
    }
    messages.iter().map(|(_, _, n)| n).sum()
}

fn latency(data: &[u8], rows: &mut Vec<String>) {
    let lines: Vec<&[u8]> =
        data.split(|&b| b == b'\n').filter(|l| !l.is_empty() && l.len() < 400).take(10_000).collect();
    let (port, child) = serve_tcp();
    let (p50, p99, max) = paced_latency(&lines, port, child);
    println!("latency at 50,000 lines/s over TCP to stdout: p50 {p50:?}, p99 {p99:?}, max {max:?}");
    rows.push(format!("\"latency_p50_us\":{},\"latency_p99_us\":{}", p50.as_micros(), p99.as_micros()));
    // The baseline: the same lines through a process that only relays TCP
    // to stdout, so that the machine's own wake-up delays show.
    let port = free_port();
    let relay = [
        "import socket, sys",
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)",
        "while True:",
        "    c, _ = s.accept()",
        "    while d := c.recv(65536):",
        "        sys.stdout.buffer.write(d); sys.stdout.flush()",
    ]
    .join("\n");
    let Ok(child) = Command::new("python3").args(["-c", &relay, &port.to_string()]).stdout(Stdio::piped()).spawn()
    else {
        return;
    };
    wait_port(port);
    let (p50, p99, max) = paced_latency(&lines, port, child);
    println!("  the same through a Python TCP-to-stdout relay (baseline): p50 {p50:?}, p99 {p99:?}, max {max:?}");
    rows.push(format!("\"relay_p50_us\":{},\"relay_p99_us\":{}", p50.as_micros(), p99.as_micros()));
}

/// Sends `lines` at 50,000 a second to `port` and times each one out of
/// `child`'s stdout: the p50, p99 and worst added latency. Stops `child`.
fn paced_latency(lines: &[&[u8]], port: u16, mut child: Child) -> (Duration, Duration, Duration) {
    let rate = 50_000u64;
    let total = (rate * 3) as usize;
    let start = Instant::now();
    let out = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut seen = vec![Duration::ZERO; total];
        let mut n = 0;
        for line in out.split(b'\n') {
            let Ok(line) = line else { break };
            let seq: usize = line
                .split(|&b| b == b' ')
                .next()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX);
            if seq < total {
                seen[seq] = start.elapsed();
                n += 1;
            }
            if n == total {
                break;
            }
        }
        seen
    });
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut sent = vec![Duration::ZERO; total];
    // Send in 1 ms ticks of 50 lines: the pace of a busy service.
    let per_tick = (rate / 1000) as usize;
    let mut buf = Vec::new();
    for tick in 0..total / per_tick {
        // Sleeping, not spinning: a spinning sender would hold one of this
        // machine's two cores, and the figure would be how logscrub shares
        // the other with the reader, not the latency it adds.
        let due = Duration::from_millis(tick as u64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        buf.clear();
        for k in 0..per_tick {
            let seq = tick * per_tick + k;
            write!(buf, "{seq} ").unwrap();
            buf.extend_from_slice(lines[seq % lines.len()]);
            buf.push(b'\n');
        }
        let now = start.elapsed();
        for k in 0..per_tick {
            sent[tick * per_tick + k] = now;
        }
        conn.write_all(&buf).unwrap();
    }
    let seen = reader.join().unwrap();
    stop(child);
    let mut lat: Vec<Duration> = seen.iter().zip(&sent).map(|(r, s)| r.saturating_sub(*s)).collect();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    (p(0.5), p(0.99), lat[lat.len() - 1])
}

/// Many clients at once, as fast as they go, for a bounded time.
fn load(data: &[u8], rows: &mut Vec<String>) {
    let (tcp_clients, forward_clients, run) = (48usize, 16usize, Duration::from_secs(10));
    let (tcp, fwd) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .args(["serve", "--tcp", &format!("127.0.0.1:{tcp}"), "--forward", &format!("127.0.0.1:{fwd}")])
        .args(["--max-connections", "256"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(tcp);
    wait_port(fwd);
    let pid = child.id();
    let start = Instant::now();
    // Records out are lines (Forward ones as JSON); probes carry their send
    // time in microseconds since `start`.
    let out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut lines, mut bytes, mut lat) = (0u64, 0u64, Vec::new());
        for line in out.split(b'\n') {
            let Ok(line) = line else { break };
            lines += 1;
            bytes += line.len() as u64 + 1;
            if let Some(rest) = line.strip_prefix(b"probe ") {
                let sent: u64 = std::str::from_utf8(rest).ok().and_then(|t| t.parse().ok()).unwrap_or(0);
                lat.push(start.elapsed().as_micros() as u64 - sent);
            }
        }
        (lines, bytes, lat)
    });
    // Slices of the corpus of whole lines, about 1 MiB each.
    let slices: Vec<&[u8]> = {
        let mut v = Vec::new();
        let mut rest = data;
        while rest.len() > 1 << 20 {
            let cut = (1 << 20) + memchr::memchr(b'\n', &rest[1 << 20..]).map_or(0, |i| i + 1);
            v.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        v
    };
    let sent_lines = std::sync::atomic::AtomicU64::new(0);
    let sent_bytes = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for c in 0..tcp_clients {
            let (slices, sent_lines, sent_bytes) = (&slices, &sent_lines, &sent_bytes);
            s.spawn(move || {
                let mut conn = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
                let mut i = c;
                while start.elapsed() < run {
                    let slice = slices[i % slices.len()];
                    conn.write_all(slice).unwrap();
                    sent_lines.fetch_add(corpus::line_count(slice) as u64, Relaxed);
                    sent_bytes.fetch_add(slice.len() as u64, Relaxed);
                    i += tcp_clients;
                }
            });
        }
        for c in 0..forward_clients {
            let (slices, sent_lines, sent_bytes) = (&slices, &sent_lines, &sent_bytes);
            s.spawn(move || {
                let mut i = c;
                while start.elapsed() < run {
                    let slice = slices[i % slices.len()];
                    let records = send_packed(fwd, slice);
                    sent_lines.fetch_add(records as u64, Relaxed);
                    sent_bytes.fetch_add(slice.len() as u64, Relaxed);
                    i += forward_clients;
                }
            });
        }
        s.spawn(|| {
            let mut conn = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
            conn.set_nodelay(true).unwrap();
            while start.elapsed() < run {
                writeln!(conn, "probe {}", start.elapsed().as_micros()).unwrap();
                sent_lines.fetch_add(1, Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
    });
    let sending = start.elapsed();
    let peak_mb = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|st| st.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().to_string()))
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    stop(child);
    let (lines_out, _, mut lat) = reader.join().unwrap();
    let lines_in = sent_lines.load(Relaxed);
    let rate = mbps(sent_bytes.load(Relaxed) as usize, sending);
    lat.sort_unstable();
    let p = |q: f64| lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "load: {tcp_clients} TCP + {forward_clients} Forward clients for {:.1} s: {rate:.0} MB/s in, {lines_in} lines in, \
         {lines_out} out, {} lost; peak RSS {peak_mb} MiB; probe latency p50 {} us, p99 {} us, max {} us",
        sending.as_secs_f64(),
        lines_in.saturating_sub(lines_out),
        p(0.5),
        p(0.99),
        lat.last().copied().unwrap_or(0)
    );
    rows.push(format!(
        "\"load_mbps\":{rate:.1},\"load_lines_in\":{lines_in},\"load_lines_out\":{lines_out},\"load_peak_rss_mb\":{peak_mb},\"load_p99_us\":{}",
        p(0.99)
    ));
    assert_eq!(lines_out, lines_in, "lines were lost under load");
}

fn timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(st.success(), "{cmd:?}");
    t.elapsed()
}

fn batch(data: &[u8], redactor: &Redactor, rows: &mut Vec<String>) {
    let dir = std::env::temp_dir().join(format!("logscrub-bench-batch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (gz, plain) = (dir.join("gz"), dir.join("plain"));
    std::fs::create_dir_all(&gz).unwrap();
    std::fs::create_dir_all(&plain).unwrap();
    let files = 8;
    let piece = data.len() / files;
    let mut gz_files: Vec<PathBuf> = Vec::new();
    // Plain files of 32 MB, as rotated logs are (the corpus repeated), so
    // that start-up is a small part of the run.
    let mut big = Vec::with_capacity(PLAIN_FILE + data.len());
    while big.len() < PLAIN_FILE {
        big.extend_from_slice(data);
    }
    let big = &big[..PLAIN_FILE + memchr::memchr(b'\n', &big[PLAIN_FILE..]).map_or(0, |i| i + 1)];
    for i in 0..files {
        let part = &data[i * piece..(i + 1) * piece];
        std::fs::write(plain.join(format!("{i}.log")), big).unwrap();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(part).unwrap();
        let p = gz.join(format!("{i}.log.gz"));
        std::fs::write(&p, e.finish().unwrap()).unwrap();
        gz_files.push(p);
    }
    // `pinned`: the whole process on one core (taskset), for the
    // single-core figure; unpinned, one job's hashing and committing
    // threads use part of the second core.
    let scrub = |src: &Path, jobs: &str, pinned: bool, extra: &[&str]| {
        let out = dir.join(format!("out-{}-{jobs}", src.file_name().unwrap().to_string_lossy()));
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = if pinned { Command::new("taskset") } else { Command::new(BIN) };
        if pinned {
            cmd.args(["-c", "0", BIN]);
        }
        timed(cmd.args(["scrub", "-q", "-j", jobs, "--out"]).arg(&out).arg(src).args(extra))
    };
    let best = |f: &dyn Fn() -> Duration| (0..3).map(|_| f()).min().unwrap();
    let can_pin = Command::new("taskset").args(["-c", "0", "true"]).status().is_ok_and(|s| s.success());
    let gz1 = best(&|| scrub(&gz, "1", false, &[]));
    let gz2 = best(&|| scrub(&gz, "2", false, &[]));
    let zcat_gzip = best(&|| {
        let script = gz_files
            .iter()
            .map(|f| format!("zcat {} | gzip -6 > /dev/null", f.display()))
            .collect::<Vec<_>>()
            .join("; ");
        timed(Command::new("sh").args(["-c", &script]))
    });
    // Warm, as in the stdin section: the best of three.
    let engine = (0..3)
        .map(|_| {
            let t = Instant::now();
            redactor.redact_reader(data, std::io::sink()).unwrap();
            t.elapsed()
        })
        .min()
        .unwrap();
    let gz_mb = |d: Duration| mbps(data.len(), d);
    let plain_mb = |d: Duration| mbps(big.len() * files, d);
    let engine_mb = gz_mb(engine);
    println!(
        "scrub gzip (8 files, {} MB): 1 job {:.0} MB/s, 2 jobs {:.0} MB/s (x{:.2}); zcat | gzip -6 {:.0} MB/s; scrub -j1 / zcat|gzip time {:.2}",
        data.len() / 1_000_000,
        gz_mb(gz1),
        gz_mb(gz2),
        gz1.as_secs_f64() / gz2.as_secs_f64(),
        gz_mb(zcat_gzip),
        gz1.as_secs_f64() / zcat_gzip.as_secs_f64()
    );
    rows.push(format!(
        "\"scrub_gz_j1_mbps\":{:.1},\"scrub_gz_j2_mbps\":{:.1},\"zcat_gzip_mbps\":{:.1}",
        gz_mb(gz1),
        gz_mb(gz2),
        gz_mb(zcat_gzip)
    ));
    if can_pin {
        let gz_core = best(&|| scrub(&gz, "1", true, &[]));
        println!(
            "scrub gzip on one core (taskset -c 0, 1 job): {:.0} MB/s; 2 jobs on 2 cores x{:.2}",
            gz_mb(gz_core),
            gz_core.as_secs_f64() / gz2.as_secs_f64()
        );
        rows.push(format!("\"scrub_gz_core_mbps\":{:.1}", gz_mb(gz_core)));
    }
    // Plain files with each manifest checksum: SHA-256 (the default) costs
    // more than the scan itself.
    for (name, extra) in [("sha256", &[][..]), ("blake3", &["--checksum", "blake3"][..])] {
        let j1 = best(&|| scrub(&plain, "1", false, extra));
        let j2 = best(&|| scrub(&plain, "2", false, extra));
        let core = can_pin.then(|| best(&|| scrub(&plain, "1", true, extra)));
        let key = if name == "sha256" { String::new() } else { format!("{name}_") };
        print!(
            "scrub plain, {name} (8 files, {} MB): 1 job {:.0} MB/s, 2 jobs {:.0} MB/s; engine in process {:.0} MB/s",
            big.len() * files / 1_000_000,
            plain_mb(j1),
            plain_mb(j2),
            engine_mb
        );
        rows.push(format!(
            "\"scrub_plain_{key}j1_mbps\":{:.1},\"scrub_plain_{key}j2_mbps\":{:.1}",
            plain_mb(j1),
            plain_mb(j2)
        ));
        match core {
            Some(core) => {
                println!(
                    "; on one core (taskset -c 0, 1 job) {:.0} MB/s, {:.2} of the engine; 2 jobs on 2 cores x{:.2}",
                    plain_mb(core),
                    plain_mb(core) / engine_mb,
                    core.as_secs_f64() / j2.as_secs_f64()
                );
                rows.push(format!("\"scrub_plain_{key}core_mbps\":{:.1}", plain_mb(core)));
            }
            None => println!(),
        }
    }
    rows.push(format!("\"scrub_engine_mbps\":{engine_mb:.1}"));
    small_files(data, &dir, rows);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `scrub` over many small files, where each file's creation, syncs and
/// manifest line weigh more than its bytes: 2,000 slices of about 50 KB.
/// Each run writes a directory of its own, removed only at the end: files
/// created just after as many were deleted wait on ext4's inode allocator,
/// which steps past recently freed inodes.
fn small_files(data: &[u8], dir: &Path, rows: &mut Vec<String>) {
    let src = dir.join("small");
    std::fs::create_dir_all(&src).unwrap();
    let (files, size) = (2000, 50_000);
    let mut total = 0;
    for i in 0..files {
        let from = (i * 37_000) % data.len().saturating_sub(2 * size).max(1);
        let start = from + memchr::memchr(b'\n', &data[from..]).map_or(0, |n| n + 1);
        let end = (start + size).min(data.len());
        let end = end + memchr::memchr(b'\n', &data[end..]).map_or(data.len() - end, |n| n + 1);
        std::fs::write(src.join(format!("{i:04}.log")), &data[start..end]).unwrap();
        total += end - start;
    }
    let mut run = 0;
    let mut best = |jobs: &str| {
        (0..3)
            .map(|_| {
                run += 1;
                let out = dir.join(format!("small-out-{run}"));
                timed(Command::new(BIN).args(["scrub", "-q", "-j", jobs, "--out"]).arg(&out).arg(&src))
            })
            .min()
            .unwrap()
    };
    let (j1, j2) = (best("1"), best("2"));
    println!(
        "scrub plain, {files} small files ({} MB): 1 job {:.0} MB/s, 2 jobs {:.0} MB/s",
        total / 1_000_000,
        mbps(total, j1),
        mbps(total, j2)
    );
    rows.push(format!("\"scrub_small_j1_mbps\":{:.1},\"scrub_small_j2_mbps\":{:.1}", mbps(total, j1), mbps(total, j2)));
}

/// Bytes in each plain file of the batch section.
const PLAIN_FILE: usize = 32 << 20;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let redactor = Redactor::new();
    let (data, source) = corpus::clean(64 << 20);
    println!("corpus: {source}; {} MB", data.len() >> 20);
    let mut rows = Vec::new();
    let want = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if want("stdin") {
        stdin_filter(&data, &redactor, &mut rows);
    }
    if want("json") {
        json_lines(&data, &mut rows);
    }
    if want("containers") {
        container_logs(&data, &mut rows);
    }
    if want("tcp") {
        tcp_ingest(&data, &mut rows);
    }
    if want("tls") {
        tls_ingest(&data, &mut rows);
    }
    if want("forward") {
        forward_through(&data, &mut rows);
    }
    if want("spill") {
        spill(&data, &mut rows);
    }
    if want("latency") {
        latency(&data, &mut rows);
    }
    if want("batch") {
        batch(&data, &redactor, &mut rows);
    }
    if want("load") {
        load(&data, &mut rows);
    }
    if std::env::var_os("LOGSCRUB_RECORD").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/record/pipeline.jsonl");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        writeln!(f, "{{\"date\":\"{date}\",\"corpus\":{:?},{}}}", source, rows.join(",")).unwrap();
    }
}
