//! `logscrub serve` and `logscrub tail` as a platform team runs them: the
//! real binary, real sockets, real files, real clients.
//!
//! The Forward tests use Python's `fluent-logger` and `msgpack` (installed
//! by `.ci/run`). Without them those tests say so and pass, unless
//! `LOGSCRUB_REQUIRE_PYTHON=1` (set by `.ci/run`) makes them fail.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// `logscrub tail LOG` with a checkpoint, polling fast, into the file OUT.
fn tail_args(log: &Path, checkpoint: &Path, out: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec!["tail".to_string(), path(log), "--checkpoint".into(), path(checkpoint)];
    args.extend(["--poll-interval", "20ms", "--output", "file", "--output-path"].map(String::from));
    args.push(path(out));
    args
}

/// `logscrub tail LOG --format cri`, polling fast, into the file OUT.
fn tail_cri_args(log: &Path, out: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec!["tail".to_string(), path(log), "--format".into(), "cri".into()];
    args.extend(["--poll-interval", "20ms", "--output", "file", "--output-path"].map(String::from));
    args.push(path(out));
    args
}

#[test]
fn tcp_many_concurrent_connections_every_line_once_no_secret() {
    let tmp = temp_dir("tcp");
    let dir = tmp.path();
    let port = free_port();
    let out = dir.join("out.log");
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start(&["serve", "--tcp", &addr, "--output", "file", "--output-path", out.to_str().unwrap()], dir);
    let (conns, per) = (32, 2000);
    let clients: Vec<_> = (0..conns)
        .map(|c| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let mut text = String::new();
                for i in 0..per {
                    text.push_str(&format!("conn {c} line {i} password=hunter2-{c}-{i}-xyzzy\n"));
                }
                // Odd-sized writes: lines split across reads.
                for piece in text.as_bytes().chunks(1237) {
                    s.write_all(piece).unwrap();
                }
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    wait_for("all lines", || lines_of(&out).len() >= conns * per);
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    let got = lines_of(&out);
    assert!(got.iter().all(|l| !l.contains("hunter2")), "a secret leaked");
    let expected = (0..conns)
        .flat_map(|c| (0..per).map(move |i| format!("conn {c} line {i} password=[REDACTED:password-assignment]")));
    assert_exactly_once(&got, expected);
    assert!(!log.contains("hunter2"), "diagnostics echoed input");
}

#[test]
fn sigterm_mid_stream_drains_what_clients_sent_and_exits_0() {
    let tmp = temp_dir("sigterm");
    let dir = tmp.path();
    let port = free_port();
    let out = dir.join("out.log");
    let addr = format!("127.0.0.1:{port}");
    // A drain time long enough for a debug build on a busy machine to work
    // through what the client sent; the drain is bounded by it.
    let d = Daemon::start(
        &[
            "serve",
            "--tcp",
            &addr,
            "--output",
            "file",
            "--output-path",
            out.to_str().unwrap(),
            "--drain-timeout",
            "120s",
        ],
        dir,
    );
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        let start = Instant::now();
        let mut sent = 0;
        // Keep sending for 1.5 s; SIGTERM arrives after 0.5 s.
        while start.elapsed() < Duration::from_millis(1500) {
            let mut chunk = String::new();
            for _ in 0..100 {
                chunk.push_str(&format!("line {sent} token=Bearer abcdefghijklmnop{sent:08}\n"));
                sent += 1;
            }
            if s.write_all(chunk.as_bytes()).is_err() {
                panic!("logscrub closed the connection while draining");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(500));
    d.signal("TERM");
    let sent = client.join().unwrap();
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    let got = lines_of(&out);
    assert_exactly_once(&got, (0..sent).map(|i| format!("line {i} token=Bearer [REDACTED:http-bearer]")));
}

#[test]
fn connection_limit_and_idle_timeout_are_enforced() {
    let tmp = temp_dir("limits");
    let dir = tmp.path();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start(&["serve", "--tcp", &addr, "--max-connections", "1", "--idle-timeout", "300ms"], dir);
    let first = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut second = TcpStream::connect(&addr).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    // Refused: closed at once.
    assert_eq!(std::io::Read::read(&mut second, &mut buf).unwrap_or(0), 0);
    // Idle: the first is closed too.
    let mut first = first;
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(std::io::Read::read(&mut first, &mut buf).unwrap_or(0), 0);
    let (status, log) = d.stop();
    assert!(status.success());
    assert!(log.contains("connection limit reached; refused"), "{log}");
}

#[test]
fn forward_from_fluent_logger_and_raw_msgpack_clients_with_acks() {
    if !python_with("fluent, msgpack") {
        return;
    }
    let tmp = temp_dir("forward-in");
    let dir = tmp.path();
    let port = free_port();
    let out = dir.join("out.jsonl");
    let addr = format!("127.0.0.1:{port}");
    let args = forward_to_json_lines(&addr, &out, &["--json-date-format", "iso8601"]);
    let d = Daemon::start(&args, dir);
    let client =
        Command::new("python3").args([support("forward_client.py"), port.to_string(), "200".into()]).output().unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
    assert_eq!(String::from_utf8_lossy(&client.stdout).trim(), "acked 2");
    wait_for("all records", || lines_of(&out).len() >= 220);
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    let records: Vec<serde_json::Value> = lines_of(&out).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 220);
    let text = std::fs::read_to_string(&out).unwrap();
    for secret in ["hunter2-", "abcdefghij0", "s3cr3t-", "\"k-"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let lib: Vec<_> = records.iter().filter(|r| r["log"].as_str().unwrap().starts_with("lib ")).collect();
    assert_eq!(lib.len(), 200);
    assert_eq!(lib[7]["log"], "lib 7 password=[REDACTED:password-assignment]");
    assert_eq!(lib[7]["api_key"], "[REDACTED:field]");
    assert_eq!(lib[7]["n"], 7);
    assert!(lib[7]["date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(records.iter().filter(|r| r["log"].as_str().unwrap().starts_with("gz ")).count(), 10);
}

#[test]
fn forward_out_survives_a_downstream_crash_with_no_loss_and_no_duplicates() {
    if !python_with("msgpack") {
        return;
    }
    let tmp = temp_dir("forward-out");
    let dir = tmp.path();
    let (down, port) = (free_port(), free_port());
    let received = dir.join("received.log");
    let mut first = forward_receiver(down, &received, Some("3"));
    let addr = format!("127.0.0.1:{port}");
    let downstream = format!("127.0.0.1:{down}");
    let d = Daemon::start(
        &["serve", "--tcp", &addr, "--output", "forward", "--downstream", &downstream, "--ack-timeout", "2s"],
        dir,
    );
    let mut s = TcpStream::connect(&addr).unwrap();
    let total = 5000;
    let mut send = |batch: usize| {
        s.write_all(records_text(batch * 500..(batch + 1) * 500).as_bytes()).unwrap();
        // Separate writes become separate downstream messages.
        std::thread::sleep(Duration::from_millis(60));
    };
    (0..6).for_each(&mut send);
    // By now the first receiver has died on its third message, unacked.
    assert_eq!(first.wait().unwrap().code(), Some(3));
    let second = forward_receiver(down, &received, None);
    (6..10).for_each(&mut send);
    drop(s);
    wait_for("every record downstream", || lines_of(&received).len() >= total);
    let (status, log) = stop_both(d, second);
    assert!(status.success(), "{log}");
    assert!(log.contains("downstream"), "{log}");
    assert_records_once(&lines_of(&received), total);
}

#[test]
fn a_forward_retry_resends_only_the_messages_not_acked() {
    if !python_with("msgpack") {
        return;
    }
    let tmp = temp_dir("forward-retry");
    let dir = tmp.path();
    let (down, port) = (free_port(), free_port());
    let received = dir.join("received.log");
    let addr = format!("127.0.0.1:{port}");
    let downstream = format!("127.0.0.1:{down}");
    let d = Daemon::start(
        &["serve", "--forward", &addr, "--output", "forward", "--downstream", &downstream, "--ack-timeout", "2s"],
        dir,
    );
    let mut s = TcpStream::connect(&addr).unwrap();
    let mut send = |tag: &str, range: std::ops::Range<usize>| s.write_all(&forward_message(tag, range)).unwrap();
    // The downstream is down: the output holds the first message, retrying,
    // while the next two queue behind it; they go out together, as two
    // messages (one per tag).
    send("x", 0..100);
    std::thread::sleep(Duration::from_millis(150));
    send("a", 100..200);
    send("b", 200..300);
    std::thread::sleep(Duration::from_millis(150));
    // This receiver acks x and a, then dies on b, unacked: the retry sends b
    // alone.
    let mut first = forward_receiver(down, &received, Some("3"));
    assert_eq!(first.wait().unwrap().code(), Some(3));
    let second = forward_receiver(down, &received, None);
    wait_for("every record downstream", || lines_of(&received).len() >= 300);
    drop(s);
    let (status, log) = stop_both(d, second);
    assert!(status.success(), "{log}");
    assert_records_once(&lines_of(&received), 300);
}

#[test]
fn follow_rotation_by_rename_and_by_copytruncate_then_resume_from_checkpoint() {
    let tmp = temp_dir("follow");
    let dir = tmp.path();
    let log = dir.join("app.log");
    let out = dir.join("out.log");
    let checkpoint = dir.join("checkpoint.json");
    let append = |path: &Path, from: usize, to: usize| {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for i in from..to {
            writeln!(f, "entry {i} password=hunter2-{i}-xyzzy").unwrap();
        }
    };
    let args = tail_args(&log, &checkpoint, &out);
    append(&log, 0, 100);
    let d = Daemon::start(&args, dir);
    wait_for("first lines", || lines_of(&out).len() >= 100);
    // Rotation by rename: lines written to the old file after the rename
    // are read too, then the new file from its start.
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&dir.join("app.log.1"), 100, 110);
    std::thread::sleep(Duration::from_millis(100));
    append(&log, 110, 160);
    wait_for("renamed rotation", || lines_of(&out).len() >= 160);
    // Rotation by copytruncate.
    std::fs::copy(&log, dir.join("app.log.2")).unwrap();
    std::fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    append(&log, 160, 170);
    wait_for("copytruncate rotation", || lines_of(&out).len() >= 170);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    // Written while logscrub was down: read after restart, nothing twice.
    append(&log, 170, 175);
    let d = Daemon::start(&args, dir);
    wait_for("lines after restart", || lines_of(&out).len() >= 175);
    std::thread::sleep(Duration::from_millis(200));
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    assert_exactly_once(
        &lines_of(&out),
        (0..175).map(|i| format!("entry {i} password=[REDACTED:password-assignment]")),
    );
}

/// PowerShell transcripts and some Windows services write UTF-16 with a
/// byte order mark. Read as bytes, every other byte is a NUL and no rule
/// matches: `tail` decodes such a file, and its lines go out masked, in
/// UTF-8, whether a write ends mid-line or mid-character, and after a
/// restart from the checkpoint (past the mark).
#[test]
fn tail_reads_utf16_files_as_utf8_and_masks_them() {
    let tmp = temp_dir("follow-utf16");
    let dir = tmp.path();
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let (le, be) = (logs.join("le.log"), logs.join("be.log"));
    let out = dir.join("out.log");
    let checkpoint = dir.join("checkpoint.json");
    let encode = |text: &str, big: bool| -> Vec<u8> {
        text.encode_utf16().flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
    };
    let append = |path: &Path, bytes: &[u8]| {
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(bytes).unwrap();
    };
    let line = |i: usize| format!("entry {i} password=hunter2-{i}-xyzzy \u{e9}\u{1F600}\r\n");
    append(&le, &[0xFF, 0xFE]);
    append(&be, &[0xFE, 0xFF]);
    let first: String = (0..3).map(line).collect();
    let (le_bytes, be_bytes) = (encode(&first, false), encode(&first, true));
    // Cut mid-line and mid-code-unit: the rest comes later.
    append(&le, &le_bytes[..le_bytes.len() - 7]);
    append(&be, &be_bytes);
    let pattern = logs.join("*.log").to_str().unwrap().to_string();
    let args = tail_args(Path::new(&pattern), &checkpoint, &out);
    let d = Daemon::start(&args, dir);
    wait_for("first lines", || lines_of(&out).len() >= 5);
    append(&le, &le_bytes[le_bytes.len() - 7..]);
    wait_for("the line cut mid-character", || lines_of(&out).len() >= 6);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("utf-16le") && stderr.contains("utf-16be"), "{stderr}");
    append(&le, &encode(&line(3), false));
    let d = Daemon::start(&args, dir);
    wait_for("lines after restart", || lines_of(&out).len() >= 7);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("the output is UTF-8");
    assert!(!text.contains("hunter2") && !text.contains('\u{FEFF}'), "{text}");
    // CRLF line ends go out as they came.
    let mut got: Vec<String> = lines_of(&out).iter().map(|l| l.trim_end_matches('\r').to_string()).collect();
    got.sort();
    let mut want: Vec<String> = (0..3)
        .chain(0..4)
        .map(|i| format!("entry {i} password=[REDACTED:password-assignment] \u{e9}\u{1F600}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn tail_follows_a_file_whose_name_is_not_utf8_and_resumes_it() {
    // A Latin-1 name under the glob: followed, masked, and kept in the
    // checkpoint by its bytes, so that a restart resumes it.
    use std::os::unix::ffi::OsStrExt;
    let tmp = temp_dir("follow-latin1");
    let dir = tmp.path();
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log"));
    let (out, checkpoint) = (dir.join("out.log"), dir.join("checkpoint.json"));
    let append = |text: &str| {
        std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap().write_all(text.as_bytes()).unwrap();
    };
    append("a password=hunter2-one-xyzzy\n");
    let args = tail_args(&logs.join("*.log"), &checkpoint, &out);
    let d = Daemon::start(&args, dir);
    wait_for("the first line", || !lines_of(&out).is_empty());
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert!(saved["files"][0]["path"]["bytes"].is_string(), "{saved}");
    append("b password=hunter2-two-xyzzy\n");
    let d = Daemon::start(&args, dir);
    wait_for("the line after the restart", || lines_of(&out).len() >= 2);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        lines_of(&out),
        ["a password=[REDACTED:password-assignment]", "b password=[REDACTED:password-assignment]"],
        "each line once"
    );
}

#[test]
fn a_drop_rule_drops_whole_forward_records_and_counts_them() {
    let tmp = temp_dir("forward-drop");
    let dir = tmp.path();
    let (port, admin) = (free_port(), free_port());
    let (addr, admin_addr) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{admin}"));
    let out = dir.join("out.jsonl");
    let d = Daemon::start(
        &[
            "serve",
            "--forward",
            &addr,
            "--admin",
            &admin_addr,
            "--mask",
            "password-assignment=drop",
            "--output",
            "file",
            "--output-path",
            out.to_str().unwrap(),
            "--output-format",
            "json_lines",
        ],
        dir,
    );
    // Forward mode, acked: the match sits in a value, a nested key and a
    // bin; the clean records around them arrive.
    let record = |pairs: Vec<(&str, rmpv::Value)>| {
        rmpv::Value::Array(vec![1.into(), rmpv::Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())])
    };
    let secret = "password=hunter2hunter2";
    let entries = vec![
        record(vec![("log", "first".into())]),
        record(vec![("log", secret.into())]),
        record(vec![("log", "x".into()), ("kv", rmpv::Value::Map(vec![(secret.into(), 1.into())]))]),
        record(vec![("log", "y".into()), ("raw", rmpv::Value::Binary(secret.into()))]),
        record(vec![("log", "last".into())]),
    ];
    let option = rmpv::Value::Map(vec![("chunk".into(), "c1".into())]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &rmpv::Value::Array(vec!["app".into(), entries.into(), option])).unwrap();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&bytes).unwrap();
    let ack = rmpv::decode::read_value(&mut s).unwrap();
    assert_eq!(ack, rmpv::Value::Map(vec![("ack".into(), "c1".into())]));
    wait_for("the clean records", || lines_of(&out).len() >= 2);
    assert!(http_get(&admin_addr, "/metrics").contains("logscrub_rule_dropped_total 3"));
    drop(s);
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    let got: Vec<String> = lines_of(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].contains("\"first\"") && got[1].contains("\"last\""), "{got:?}");
    assert!(!std::fs::read_to_string(&out).unwrap().contains("hunter2"));
}

#[test]
fn a_private_key_sent_one_line_a_forward_record_is_masked() {
    // A log shipper sends a log one line a record: a key's lines are
    // records of their own, here across two messages, with a record of
    // another tag (another source) between them.
    let tmp = temp_dir("forward-key");
    let dir = tmp.path();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = dir.join("out.jsonl");
    let args = forward_to_json_lines(&addr, &out, &[]);
    let d = Daemon::start(&args, dir);
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let message = |tag: &str, lines: &[&str], chunk: &str| {
        let entries: Vec<rmpv::Value> = lines
            .iter()
            .map(|l| {
                rmpv::Value::Array(vec![
                    1.into(),
                    rmpv::Value::Map(vec![("log".into(), (*l).into()), ("n".into(), 1.into())]),
                ])
            })
            .collect();
        let option = rmpv::Value::Map(vec![("chunk".into(), chunk.into())]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &rmpv::Value::Array(vec![tag.into(), entries.into(), option])).unwrap();
        bytes
    };
    let mut s = TcpStream::connect(&addr).unwrap();
    for (tag, lines, chunk) in [
        ("app", &["start", "-----BEGIN PRIVATE KEY-----", body][..], "c1"),
        ("other", &["a line of another source"][..], "c2"),
        ("app", &[body, "-----END PRIVATE KEY-----", "after"][..], "c3"),
    ] {
        s.write_all(&message(tag, lines, chunk)).unwrap();
        let ack = rmpv::decode::read_value(&mut s).unwrap();
        assert_eq!(ack, rmpv::Value::Map(vec![("ack".into(), chunk.into())]));
    }
    wait_for("every record", || lines_of(&out).len() >= 7);
    drop(s);
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    let logs: Vec<String> = lines_of(&out)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["log"].as_str().unwrap().to_string())
        .collect();
    let app: Vec<&str> = logs.iter().map(String::as_str).filter(|l| *l != "a line of another source").collect();
    assert_eq!(
        app,
        [
            "start",
            "-----BEGIN PRIVATE KEY-----",
            "[REDACTED:private-key]",
            "[REDACTED:private-key]",
            "-----END PRIVATE KEY-----",
            "after"
        ]
    );
}

#[test]
fn admin_endpoint_serves_metrics_and_probes() {
    let tmp = temp_dir("admin");
    let dir = tmp.path();
    let (port, admin) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{port}");
    let admin_addr = format!("127.0.0.1:{admin}");
    let d = Daemon::start(&["serve", "--tcp", &addr, "--admin", &admin_addr], dir);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"password=hunter2hunter2\nclean\n").unwrap();
    drop(s);
    let get = |path: &str| http_get(&admin_addr, path);
    wait_for("metrics", || get("/metrics").contains("logscrub_records_out_total 2"));
    let metrics = get("/metrics");
    assert!(metrics.contains("logscrub_findings_total{rule=\"password-assignment\"} 1"), "{metrics}");
    assert!(!metrics.contains("hunter2"));
    assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").starts_with("HTTP/1.1 200"));
    assert!(get("/nope").starts_with("HTTP/1.1 404"));
    let (status, _) = d.stop();
    assert!(status.success());
}

#[test]
fn config_file_is_validated_at_start() {
    let tmp = temp_dir("config");
    let dir = tmp.path();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[serve]\ntcp = [\"127.0.0.1:1\"]\nmax-conections = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(["serve", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("max-conections") && err.contains("line 3"), "{err}");

    let good = dir.join("good.toml");
    let port = free_port();
    std::fs::write(&good, format!("[engine]\ndisable = [\"email\"]\n[serve]\ntcp = [\"127.0.0.1:{port}\"]\n")).unwrap();
    let out_file = dir.join("out.log");
    let d = Daemon::start(
        &["serve", "--config", good.to_str().unwrap(), "--output", "file", "--output-path", out_file.to_str().unwrap()],
        dir,
    );
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    s.write_all(b"mail jane@example.com password=hunter2hunter2\n").unwrap();
    drop(s);
    wait_for("the line", || !lines_of(&out_file).is_empty());
    d.stop();
    assert_eq!(lines_of(&out_file), ["mail jane@example.com password=[REDACTED:password-assignment]"]);
}

#[test]
fn a_cri_partial_record_still_open_at_sigterm_is_written_not_lost() {
    let tmp = temp_dir("cri-open");
    let dir = tmp.path();
    let log = dir.join("c.log");
    let out = dir.join("out.log");
    let t = "2024-01-01T00:00:00.000000001Z";
    std::fs::write(&log, format!("{t} stdout F first\n{t} stdout P open password=hunter2hunter2\n")).unwrap();
    let d = Daemon::start(&tail_cri_args(&log, &out), dir);
    wait_for("the first line", || !lines_of(&out).is_empty());
    std::thread::sleep(Duration::from_millis(100));
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        lines_of(&out),
        [format!("{t} stdout F first"), format!("{t} stdout F open password=[REDACTED:password-assignment]")]
    );
}

#[test]
fn a_private_key_printed_across_cri_lines_is_masked_by_tail() {
    // A container printing a PEM key: each of its lines is a CRI record.
    // Its BEGIN line is unchanged on its own; the lines after it are not.
    let tmp = temp_dir("cri-key");
    let dir = tmp.path();
    let log = dir.join("c.log");
    let out = dir.join("out.log");
    let t = "2024-01-01T00:00:00.000000001Z";
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let key = ["-----BEGIN PRIVATE KEY-----", body, body, "-----END PRIVATE KEY-----", "done"];
    std::fs::write(&log, key.iter().map(|l| format!("{t} stderr F {l}\n")).collect::<String>()).unwrap();
    let d = Daemon::start(&tail_cri_args(&log, &out), dir);
    wait_for("the last line", || lines_of(&out).iter().any(|l| l.ends_with(" done")));
    let (status, daemon_log) = d.stop();
    assert!(status.success(), "{daemon_log}");
    let got = lines_of(&out);
    assert!(got.iter().all(|l| !l.contains(body)), "the key leaked: {got:?}");
    assert_eq!(got[1], format!("{t} stderr F [REDACTED:private-key]"));
}

#[test]
fn a_line_longer_than_the_window_reaches_a_forward_downstream_whole_and_masked() {
    if !python_with("msgpack") {
        return;
    }
    let tmp = temp_dir("forward-long");
    let dir = tmp.path();
    let (down, port) = (free_port(), free_port());
    let received = dir.join("received.log");
    let receiver = forward_receiver(down, &received, None);
    let addr = format!("127.0.0.1:{port}");
    let downstream = format!("127.0.0.1:{down}");
    let d = Daemon::start(
        &["serve", "--tcp", &addr, "--output", "forward", "--downstream", &downstream, "--max-line", "65536"],
        dir,
    );
    // 300 KB in one line: scrubbed in windows, sent as several records.
    let long = format!("{} password=hunter2hunter2 {}", "a".repeat(150_000), "b".repeat(150_000));
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(format!("{long}\nshort line\n").as_bytes()).unwrap();
    drop(s);
    wait_for("the short line", || lines_of(&received).iter().any(|l| l == "short line"));
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    let got = lines_of(&received);
    let joined: String = got[..got.len() - 1].concat();
    assert!(!joined.contains("hunter2"), "a secret leaked");
    assert_eq!(joined, long.replace("hunter2hunter2", "[REDACTED:password-assignment]"));
}

#[test]
fn a_full_disk_on_the_output_is_retried_then_reported_with_exit_2() {
    let tmp = temp_dir("disk-full");
    let dir = tmp.path();
    let addr = format!("127.0.0.1:{}", free_port());
    let args = ["serve", "--tcp", &addr, "--output", "file", "--output-path", "/dev/full", "--drain-timeout", "1s"];
    let d = Daemon::start(&args, dir);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"a password=hunter2hunter2\nb\n").unwrap();
    drop(s);
    wait_for("a retried write", || {
        d.log().contains("No space left on device (os error 28) output=\"writer\" retry_in=")
    });
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("2 records could not be delivered before the drain timeout"), "{log}");
    assert!(!log.contains("hunter2"), "diagnostics echoed input");
}

#[test]
fn tail_killed_with_sigkill_resumes_from_its_checkpoint_losing_nothing() {
    let tmp = temp_dir("follow-kill");
    let dir = tmp.path();
    let log = dir.join("app.log");
    let out = dir.join("out.log");
    let checkpoint = dir.join("checkpoint.json");
    let args = tail_args(&log, &checkpoint, &out);
    let total = 3000;
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(&args, dir);
    // The application keeps writing through the crash and the restart.
    let path = log.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        for i in 0..total {
            writeln!(f, "entry {i} password=hunter2-{i}-xyzzy").unwrap();
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    wait_for("half the lines out", || lines_of(&out).len() >= total / 2);
    d.signal("KILL");
    drop(d);
    let d = Daemon::start(&args, dir);
    writer.join().unwrap();
    wait_for("every line out", || lines_of(&out).len() >= total);
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    let got = lines_of(&out);
    assert!(got.iter().all(|l| !l.contains("hunter2")), "a secret leaked");
    let mut seen = vec![0u32; total];
    for l in &got {
        let i: usize = l.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(l, &format!("entry {i} password=[REDACTED:password-assignment]"));
        seen[i] += 1;
    }
    assert!(seen.iter().all(|&n| n >= 1), "a line was lost: {:?}", seen.iter().position(|&n| n == 0));
    // At-least-once: what was written out after the last checkpoint (a
    // second's worth at most) is written again, once: one run of lines.
    assert!(seen.iter().all(|&n| n <= 2), "a line was written three times");
    let twice: Vec<usize> = (0..total).filter(|&i| seen[i] == 2).collect();
    let again = twice.len();
    assert!(twice.windows(2).all(|w| w[1] == w[0] + 1), "lines written twice are not one run");
    eprintln!("{again} of {total} lines written twice after SIGKILL");
}

#[test]
fn forward_out_waits_out_a_refusing_then_hung_downstream_with_no_loss_and_no_duplicates() {
    if !python_with("msgpack") {
        return;
    }
    let tmp = temp_dir("forward-refuse-stall");
    let dir = tmp.path();
    let (down, port) = (free_port(), free_port());
    let received = dir.join("received.log");
    let addr = format!("127.0.0.1:{port}");
    let downstream = format!("127.0.0.1:{down}");
    // Nothing listens downstream yet: connections are refused.
    let d = Daemon::start(
        &["serve", "--tcp", &addr, "--output", "forward", "--downstream", &downstream, "--ack-timeout", "1s"],
        dir,
    );
    let mut s = TcpStream::connect(&addr).unwrap();
    let total = 2000;
    for batch in 0..4 {
        s.write_all(records_text(batch * 500..(batch + 1) * 500).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
    drop(s);
    wait_for("a refused connection", || d.log().contains("downstream"));
    // Then it comes up hung: the first message is never acked.
    let receiver = forward_receiver(down, &received, Some("stall"));
    wait_for("every record downstream", || lines_of(&received).len() >= total);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    assert!(log.contains("no ack within 1s"), "the hung downstream was not noticed: {log}");
    assert_records_once(&lines_of(&received), total);
}
