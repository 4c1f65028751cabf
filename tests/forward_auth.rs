//! The Forward shared-key handshake (Fluentd `<security>`, Fluent Bit
//! `Shared_Key`) on the Forward listeners and to the downstream, with
//! Python peers that implement it (`tests/support/forward_auth_client.py`,
//! `forward_receiver.py` with `SHARED_KEY`).

mod common;

use std::process::Command;

use common::*;

fn client(port: u16, key: &str) -> (i32, String) {
    let out = Command::new("python3")
        .args([support("forward_auth_client.py"), port.to_string(), key.into()])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn clients_with_the_key_are_served_others_refused_and_the_downstream_is_verified() {
    if !python_with("msgpack, fluent") {
        return;
    }
    let tmp = temp_dir("shared-key");
    let dir = tmp.path();
    let (fwd, down) = (free_port(), free_port());
    let received = dir.join("received.log");
    let receiver = forward_receiver_env(down, &received, None, &[("SHARED_KEY", "down-key".into())]);
    let key_file = dir.join("downstream.key");
    std::fs::write(&key_file, "down-key\n").unwrap();
    let fwd_addr = format!("127.0.0.1:{fwd}");
    let args = [
        "serve",
        "--forward",
        &fwd_addr,
        "--output",
        "forward",
        "--downstream",
        &format!("127.0.0.1:{down}"),
        "--downstream-shared-key-file",
        key_file.to_str().unwrap(),
        "--self-hostname",
        "scrubber",
    ];
    // The listeners' key comes from the environment, never a flag.
    let d = Daemon::wrapped(&["env", "LOGSCRUB_FORWARD_SHARED_KEY=in-key"], &args, dir);
    assert_eq!(client(fwd, "in-key"), (0, "acked".to_string()));
    assert_eq!(client(fwd, "wrong-key"), (4, "refused: shared key mismatch".to_string()));
    // A client that does not do the handshake: its first message is no PING.
    let plain =
        Command::new("python3").args([support("forward_client.py"), fwd.to_string(), "1".into()]).output().unwrap();
    assert!(!plain.status.success(), "a client without the handshake was served");
    wait_for("every authenticated record downstream", || lines_of(&received).len() >= 3);
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    let mut got = lines_of(&received);
    got.sort();
    let want: Vec<String> = (0..3).map(|i| format!("auth {i} password=[REDACTED:password-assignment]")).collect();
    assert_eq!(got, want, "only the client with the key got through");
    assert!(log.contains("handshake refused: shared key mismatch"), "{log}");
    assert!(log.contains("handshake refused: not a PING"), "{log}");
    assert!(log.contains("shared_key=true"), "{log}");
    for secret in ["in-key", "down-key", "wrong-key", "hunter2"] {
        assert!(!log.contains(secret), "diagnostics show {secret}");
    }
}

#[test]
fn a_downstream_with_another_key_gets_nothing() {
    if !python_with("msgpack") {
        return;
    }
    let tmp = temp_dir("shared-key-down");
    let dir = tmp.path();
    let log = assert_downstream_refused(
        dir,
        &[("SHARED_KEY", "their-key".into())],
        &["env", "LOGSCRUB_DOWNSTREAM_SHARED_KEY=our-key"],
        &[],
        "handshake: refused by the downstream: shared_key mismatch",
    );
    assert!(!log.contains("our-key") && !log.contains("their-key"));
}
