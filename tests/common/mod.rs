//! Helpers shared by the tests that run `logscrub serve` and `tail`: a
//! daemon with its diagnostics captured, ports, temp dirs, waiting, and
//! the exactly-once check; and the secret a rule's example carries.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (yet), for a daemon to bind.
///
/// Taken below Linux's ephemeral range (32768-60999 by default): a port the
/// kernel hands out for `:0` is free again once checked, and any test's
/// outgoing connection could take it as its source port before the daemon
/// binds it ("Address already in use", seen in CI). Each call in a process
/// tries the next port, from a start that differs by process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < SPAN, "no free loopback port in {FIRST}..{}", FIRST + SPAN);
        let port = (FIRST + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The part of a rule example's input that its expected output does not
/// keep: the secret it carries, between the longest common prefix and
/// suffix (cut at characters, as examples may be in any script).
pub fn secret_of(e: &logscrub::Example) -> &str {
    let (a, b) = (e.input.as_str(), e.output.as_str());
    let pre: usize = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).map(|(x, _)| x.len_utf8()).sum();
    let post: usize =
        a[pre..].chars().rev().zip(b[pre..].chars().rev()).take_while(|(x, y)| x == y).map(|(x, _)| x.len_utf8()).sum();
    &a[pre..a.len() - post]
}

/// A fresh directory for one test, removed when it is dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("logscrub-test-{name}-")).tempdir().unwrap()
}

/// A running `logscrub` with stderr captured to a file.
pub struct Daemon {
    pub child: Child,
    pub stderr: PathBuf,
}

impl Daemon {
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S], dir: &Path) -> Daemon {
        Daemon::wrapped(&[], args, dir)
    }

    /// [`Daemon::start`] under a wrapper that execs it, such as `prlimit`.
    pub fn wrapped<S: AsRef<std::ffi::OsStr>>(wrapper: &[&str], args: &[S], dir: &Path) -> Daemon {
        let stderr = dir.join(format!("stderr-{}.log", Instant::now().elapsed().as_nanos() + rand_suffix()));
        let mut cmd = match wrapper {
            [program, rest @ ..] => {
                let mut c = Command::new(program);
                c.args(rest).arg(env!("CARGO_BIN_EXE_logscrub"));
                c
            }
            [] => Command::new(env!("CARGO_BIN_EXE_logscrub")),
        };
        let child = cmd
            .args(args)
            .env("LOGSCRUB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn logscrub");
        let mut d = Daemon { child, stderr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !d.log().contains("logscrub is ready") {
            // A daemon that refused its flags says why at once.
            if let Some(status) = d.child.try_wait().unwrap() {
                panic!("logscrub exited ({status}) before it was ready:\n{}", d.log());
            }
            assert!(Instant::now() < deadline, "timed out waiting for logscrub to be ready:\n{}", d.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([&format!("-{sig}"), &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// SIGTERM, then the exit status within 30 s.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            assert!(Instant::now() < deadline, "logscrub did not stop after SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A random number, for unique file names.
pub fn rand_suffix() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    u128::from(RandomState::new().hash_one(0u8))
}

/// Polls `ok` until it holds; fails the test after 60 s. The polls space
/// out (20 ms up to 250 ms), so that a check that reads a large file does
/// not take the CPU from the processes it waits for.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 3 / 2).min(Duration::from_millis(250));
    }
}

/// The complete lines of a file (a last line still being written is left
/// out); none if it does not exist yet.
pub fn lines_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_string).collect()
}

/// Every expected line exactly once, nothing else.
pub fn assert_exactly_once(got: &[String], expected: impl IntoIterator<Item = String>) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in got {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let mut n = 0;
    for e in expected {
        n += 1;
        match counts.get(e.as_str()) {
            Some(1) => {}
            Some(k) => panic!("{e:?} appears {k} times"),
            None => {
                panic!("{e:?} is missing ({} lines out, last {:?})", got.len(), &got[got.len().saturating_sub(3)..])
            }
        }
    }
    assert_eq!(got.len(), n, "unexpected extra lines");
}

/// Whether python3 has `modules`; fails instead when
/// `LOGSCRUB_REQUIRE_PYTHON` is set.
pub fn python_with(modules: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("LOGSCRUB_REQUIRE_PYTHON").is_none(),
            "python3 with {modules} is required (pip install fluent-logger msgpack)"
        );
        eprintln!("skipped: python3 with {modules} is not installed (pip install fluent-logger msgpack)");
    }
    ok
}

/// The path of a script in tests/support.
pub fn support(script: &str) -> String {
    format!("{}/tests/support/{script}", env!("CARGO_MANIFEST_DIR"))
}

/// `tests/support/forward_receiver.py` on `port`, appending to `out`, once
/// it listens; `mode` is its third argument (the message to die at, or
/// `stall`).
pub fn forward_receiver(port: u16, out: &Path, mode: Option<&str>) -> Child {
    forward_receiver_env(port, out, mode, &[])
}

/// [`forward_receiver`] with environment variables (`TLS_CERT`, `TLS_KEY`).
pub fn forward_receiver_env(port: u16, out: &Path, mode: Option<&str>, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new("python3");
    cmd.args([support("forward_receiver.py"), port.to_string(), out.to_str().unwrap().into()]);
    cmd.args(mode);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening");
    child
}

/// Lines `rec I secret_key=...` for each I of `range`.
pub fn records_text(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("rec {i} secret_key=abcd{i:08}efgh\n")).collect()
}

/// [`records_text`] for `range` as one Forward-mode message tagged `tag`,
/// each line a record `{"log": line}`.
pub fn forward_message(tag: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    let entries = records_text(range)
        .lines()
        .map(|l| rmpv::Value::Array(vec![1.into(), rmpv::Value::Map(vec![("log".into(), l.into())])]))
        .collect();
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &rmpv::Value::Array(vec![tag.into(), rmpv::Value::Array(entries)])).unwrap();
    bytes
}

/// Every line of [`records_text`] for 0..total exactly once, each masked
/// alike, no secret.
pub fn assert_records_once(got: &[String], total: usize) {
    assert!(got.iter().all(|l| !l.contains("abcd0")), "a secret leaked");
    let masked = got.first().map(|l| l.split_once(' ').unwrap().1.split_once(' ').unwrap().1.to_string()).unwrap();
    assert_exactly_once(got, (0..total).map(|i| format!("rec {i} {masked}")));
}

/// The body of an HTTP GET to the admin endpoint at `addr`.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut c, &mut body).unwrap();
    body
}

/// The value of `logscrub_NAME` in the admin endpoint's /metrics.
pub fn metric(addr: &str, name: &str) -> u64 {
    let body = http_get(addr, "/metrics");
    let prefix = format!("logscrub_{name} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `serve --tcp` (under `wrapper`, with `extra` flags) into a Forward
/// receiver (with `receiver_env`) that the output must refuse: one
/// secret-bearing line in, the log says `why`, nothing arrives, and the
/// exit status at the drain timeout is 2. Returns the log.
pub fn assert_downstream_refused(
    dir: &Path,
    receiver_env: &[(&str, String)],
    wrapper: &[&str],
    extra: &[&str],
    why: &str,
) -> String {
    let (tcp, down) = (free_port(), free_port());
    let received = dir.join("received.log");
    let receiver = forward_receiver_env(down, &received, None, receiver_env);
    let tcp_addr = format!("127.0.0.1:{tcp}");
    let down_addr = format!("127.0.0.1:{down}");
    let mut args = vec!["serve", "--tcp", &tcp_addr, "--output", "forward", "--downstream", &down_addr];
    args.extend(["--drain-timeout", "1s"]);
    args.extend(extra);
    let d = Daemon::wrapped(wrapper, &args, dir);
    let mut s = TcpStream::connect(&tcp_addr).unwrap();
    s.write_all(b"x password=hunter2-bad-xyzzy\n").unwrap();
    drop(s);
    wait_for(why, || d.log().contains(why));
    let (status, log) = stop_both(d, receiver);
    assert_eq!(status.code(), Some(2), "undelivered at the drain timeout: {log}");
    assert!(lines_of(&received).is_empty());
    log
}

/// Stops the daemon (SIGTERM), then the receiver: the daemon's exit status
/// and log.
pub fn stop_both(d: Daemon, mut receiver: Child) -> (std::process::ExitStatus, String) {
    let stopped = d.stop();
    let _ = receiver.kill();
    let _ = receiver.wait();
    stopped
}

/// The arguments of `logscrub serve --forward ADDR` writing JSON lines to
/// the file OUT, then `extra`.
pub fn forward_to_json_lines(addr: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let fixed = ["serve", "--forward", addr, "--output", "file", "--output-path"];
    let mut args: Vec<String> = fixed.iter().map(|a| a.to_string()).collect();
    args.extend([out.to_str().unwrap(), "--output-format", "json_lines"].map(String::from));
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}
