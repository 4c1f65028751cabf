//! `serve --spill-dir`: the inputs keep going while the output is down,
//! nothing is lost or reordered, what is left at exit comes first at the
//! next start, and a spill that cannot be written makes the inputs wait.
//!
//! The downstream is `tests/support/forward_receiver.py` (Python `msgpack`,
//! installed by `.ci/run`); without it these tests say so and pass, unless
//! `LOGSCRUB_REQUIRE_PYTHON=1`.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::*;

/// One test's sidecar: `serve` reading TCP into a Forward downstream
/// port nothing listens on yet, spilling past a 64 KiB memory buffer, with
/// an admin endpoint.
struct Sidecar {
    /// Removed with the sidecar.
    tmp: tempfile::TempDir,
    tcp: String,
    admin: String,
    down: u16,
    spill: PathBuf,
}

impl Sidecar {
    fn new(name: &str) -> Sidecar {
        let tmp = temp_dir(name);
        let spill = tmp.path().join("spill");
        let (tcp, admin) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        Sidecar { tmp, tcp, admin, down: free_port(), spill }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> =
            ["serve", "--tcp", &self.tcp, "--admin", &self.admin, "--output", "forward"].map(String::from).to_vec();
        a.extend(["--ack-timeout", "2s", "--buffer-bytes", "65536"].map(String::from));
        a.extend(["--downstream".into(), format!("127.0.0.1:{}", self.down)]);
        a.extend(["--spill-dir".into(), self.spill.to_str().unwrap().into()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn start(&self, extra: &[&str]) -> Daemon {
        Daemon::start(&self.args(extra), self.tmp.path())
    }

    /// Sends records `range` on one connection and waits until the daemon
    /// has read every record up to its end.
    fn send_and_wait(&self, range: std::ops::Range<usize>) {
        let end = range.end as u64;
        send(&self.tcp, range);
        wait_for("every record read", || metric(&self.admin, "records_in_total") == end);
    }

    fn metric(&self, name: &str) -> u64 {
        metric(&self.admin, name)
    }

    /// The downstream, up now, and the file it writes.
    fn receiver(&self) -> (std::process::Child, PathBuf) {
        let received = self.tmp.path().join("received.log");
        (forward_receiver(self.down, &received, None), received)
    }
}

fn segments(spill: &Path) -> usize {
    std::fs::read_dir(spill)
        .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "spill")).count())
        .unwrap_or(0)
}

/// Every record of 0..total once and in order (one TCP connection keeps
/// its order end to end), no secret.
fn assert_in_order(got: &[String], total: usize) {
    assert_records_once(got, total);
    let index = |l: &String| l.split(' ').nth(1).unwrap().parse::<usize>().unwrap();
    assert!(got.windows(2).all(|w| index(&w[0]) < index(&w[1])), "records out of order");
}

fn send(tcp: &str, range: std::ops::Range<usize>) {
    let mut s = TcpStream::connect(tcp).unwrap();
    s.write_all(records_text(range).as_bytes()).unwrap();
}

#[test]
fn inputs_go_on_while_the_downstream_is_down_then_everything_arrives_in_order() {
    if !python_with("msgpack") {
        return;
    }
    let s = Sidecar::new("spill-down");
    let d = s.start(&[]);
    let total = 40_000; // about 1.5 MB: 24 times the memory buffer
                        // All of it read while nothing is delivered: the spill holds it.
    s.send_and_wait(0..total);
    assert!(s.metric("spilled_records_total") > total as u64 / 2);
    assert!(s.metric("spill_bytes") > 1 << 20);
    assert_eq!(s.metric("records_out_total"), 0);
    let (receiver, received) = s.receiver();
    wait_for("every record downstream", || lines_of(&received).len() >= total);
    wait_for("the spill emptied", || segments(&s.spill) == 0 && s.metric("spill_bytes") == 0);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    assert_in_order(&lines_of(&received), total);
    // Only scrubbed text was ever on disk, and the diagnostics hold none.
    assert!(!log.contains("abcd0"));
}

#[test]
fn what_is_left_at_sigterm_is_kept_and_sent_first_at_the_next_start() {
    if !python_with("msgpack") {
        return;
    }
    let s = Sidecar::new("spill-restart");
    let d = s.start(&["--drain-timeout", "1s"]);
    s.send_and_wait(0..5000);
    let (status, log) = d.stop();
    assert!(status.success(), "nothing was lost, so exit 0: {log}");
    assert!(log.contains("records=5000") && log.contains("kept in the spill"), "{log}");
    assert!(segments(&s.spill) > 0);
    // Next start: the receiver is up; the spill goes first, then new input.
    let (receiver, received) = s.receiver();
    let d = s.start(&[]);
    send(&s.tcp, 5000..6000);
    wait_for("every record downstream", || lines_of(&received).len() >= 6000);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    assert!(log.contains("sending what the last run left in the spill first"), "{log}");
    assert_in_order(&lines_of(&received), 6000);
    assert_eq!(segments(&s.spill), 0);
}

#[test]
fn what_was_acked_of_a_take_is_not_kept_again_at_sigterm() {
    if !python_with("msgpack") {
        return;
    }
    let s = Sidecar::new("spill-partial-take");
    let forward = format!("127.0.0.1:{}", free_port());
    let d = s.start(&["--forward", &forward, "--drain-timeout", "1s"]);
    let mut conn = TcpStream::connect(&forward).unwrap();
    let mut send_tagged =
        |tag: &str, range: std::ops::Range<usize>| conn.write_all(&forward_message(tag, range)).unwrap();
    // The downstream is down: the output holds x, retrying, while a and b
    // queue behind it and go out together, one message per tag.
    send_tagged("x", 0..100);
    std::thread::sleep(std::time::Duration::from_millis(150));
    send_tagged("a", 100..200);
    send_tagged("b", 200..300);
    wait_for("every record read", || s.metric("records_in_total") == 300);
    // This receiver acks x and a, then never acks b: SIGTERM, and when the
    // drain time is up only b is kept for the next start.
    let received = s.tmp.path().join("received.log");
    let mut hung = forward_receiver(s.down, &received, Some("stall-after:2"));
    wait_for("x and a downstream", || lines_of(&received).len() >= 200);
    let (status, log) = d.stop();
    let _ = hung.kill();
    let _ = hung.wait();
    assert!(status.success(), "{log}");
    assert!(log.contains("records=100") && log.contains("kept in the spill"), "{log}");
    let receiver = forward_receiver(s.down, &received, None);
    let d = s.start(&["--forward", &forward]);
    wait_for("every record downstream", || lines_of(&received).len() >= 300);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    assert_records_once(&lines_of(&received), 300);
}

/// Runs `serve` under `wrapper` (which makes spill writes fail with
/// `error` past about 200 KB), sends 1.5 MB while the downstream is down,
/// then brings it up: every record arrives once, in order.
fn spill_fails_then_nothing_is_lost(name: &str, wrapper: &[&str], error: &str) {
    let s = Sidecar::new(name);
    std::fs::create_dir_all(&s.spill).unwrap();
    let wrapper: Vec<String> = wrapper.iter().map(|w| w.replace("SPILL", s.spill.to_str().unwrap())).collect();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let d = Daemon::wrapped(&wrapper, &s.args(&[]), s.tmp.path());
    let total = 40_000;
    let sender = std::thread::spawn({
        let tcp = s.tcp.clone();
        move || send(&tcp, 0..total)
    });
    wait_for("a failed spill", || d.log().contains(&format!("cannot spill: {error}; inputs wait")));
    assert_eq!(s.metric("spill_errors_total"), 1, "warned once, not once a retry");
    let (receiver, received) = s.receiver();
    sender.join().unwrap();
    wait_for("every record downstream", || lines_of(&received).len() >= total);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    assert_in_order(&lines_of(&received), total);
}

#[test]
fn a_spill_on_a_full_disk_makes_the_inputs_wait_and_loses_nothing() {
    if !python_with("msgpack") {
        return;
    }
    // A 200 KiB tmpfs over the spill directory, in a mount namespace of
    // its own (unprivileged where user namespaces are allowed).
    let mounts = std::process::Command::new("unshare").args(["-rm", "true"]).status().is_ok_and(|s| s.success());
    if !mounts {
        eprintln!("skipped: cannot mount a tmpfs (unshare -rm is not allowed here); the file-size test stands in");
        return;
    }
    let script = "mount -t tmpfs -o size=200k tmpfs SPILL && exec \"$0\" \"$@\"";
    spill_fails_then_nothing_is_lost(
        "spill-enospc",
        &["unshare", "-rm", "sh", "-c", script],
        "No space left on device (os error 28)",
    );
}

#[test]
fn a_spill_past_the_file_size_limit_makes_the_inputs_wait_and_loses_nothing() {
    if !python_with("msgpack") {
        return;
    }
    if std::process::Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    // No file may grow past 200 KB: a write past it fails with EFBIG.
    spill_fails_then_nothing_is_lost("spill-efbig", &["prlimit", "--fsize=200000"], "File too large (os error 27)");
}

#[test]
fn forward_chunks_are_acked_once_synced_to_the_spill_while_the_downstream_is_down() {
    if !python_with("fluent, msgpack") {
        return;
    }
    let s = Sidecar::new("spill-ack");
    let fwd = free_port();
    let fwd_addr = format!("127.0.0.1:{fwd}");
    let mut a = s.args(&["--forward", &fwd_addr]);
    // A buffer too small for any message: every one goes to disk.
    let at = a.iter().position(|x| x == "65536").unwrap();
    a[at] = "64".into();
    let d = Daemon::start(&a, s.tmp.path());
    let client = std::process::Command::new("python3")
        .args([support("forward_client.py"), fwd.to_string(), "200".into()])
        .output()
        .unwrap();
    assert!(client.status.success(), "{}", String::from_utf8_lossy(&client.stderr));
    assert_eq!(String::from_utf8_lossy(&client.stdout).trim(), "acked 2", "acked with nothing downstream");
    assert_eq!(s.metric("records_out_total"), 0);
    let (receiver, received) = s.receiver();
    wait_for("every record downstream", || lines_of(&received).len() >= 220);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    let got = lines_of(&received);
    assert_eq!(got.len(), 220);
    assert!(got.iter().all(|l| !l.contains("hunter2-") && !l.contains("s3cr3t-")), "a secret leaked");
}

#[test]
fn killed_while_draining_the_spill_it_resumes_from_its_read_position() {
    if !python_with("msgpack") {
        return;
    }
    let s = Sidecar::new("spill-kill");
    let d = s.start(&[]);
    let total = 400_000; // about 16 MB, all of it spilled while the downstream is down
    s.send_and_wait(0..total);
    let (receiver, received) = s.receiver();
    wait_for("part of the spill delivered", || lines_of(&received).len() >= 100_000);
    let mut killed = d;
    killed.signal("KILL");
    killed.child.wait().unwrap();
    let d = s.start(&[]);
    assert!(d.log().contains("sending what the last run left in the spill first"), "{}", d.log());
    let unique = || lines_of(&received).into_iter().collect::<std::collections::HashSet<_>>().len();
    wait_for("every record downstream", || unique() >= total);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    let got = lines_of(&received);
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    got.iter().for_each(|l| *seen.entry(l.as_str()).or_default() += 1);
    assert_eq!(seen.len(), total, "every record arrived");
    assert!(seen.values().all(|&n| n <= 2), "a record arrived three times");
    // What can repeat: the read-back the output was delivering when it was
    // killed (up to 1 MiB, ~26,000 of these 40-byte records), and the
    // message the receiver wrote but whose ack was lost.
    let repeated = got.len() - total;
    eprintln!("{repeated} of {total} records repeated after SIGKILL while draining");
    assert!(repeated <= 30_000, "{repeated} records repeated");
    assert!(got.iter().all(|l| !l.contains("abcd0")), "a secret leaked");
}
