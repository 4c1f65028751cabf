//! TLS on the listeners (`--tls-cert`, `--tls-key`, `--tls-client-ca`) and
//! on the Forward output (`--downstream-ca`), with certificates made by the
//! `openssl` command and Python's `ssl` module as the peers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

/// A CA, a server certificate for localhost and 127.0.0.1 and a client
/// certificate signed by it, in `dir/<prefix>-*.pem`; `None` without openssl.
fn make_certs(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::piped()).output().ok()?;
        out.status
            .success()
            .then_some(())
            .or_else(|| panic!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let p = |name: &str| format!("{prefix}-{name}");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", &p("ca.key"), "-out", &p("ca.pem"), "-days", "2", "-subj", "/CN=logscrub-test-ca"],
    ]
    .concat())?;
    std::fs::write(dir.join(p("san.ext")), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    for who in ["server", "client"] {
        run(&[
            &["req"][..],
            &ec,
            &["-keyout", &p(&format!("{who}.key")), "-out", &p(&format!("{who}.csr")), "-subj", &format!("/CN={who}")],
        ]
        .concat())?;
        run(&[
            "x509",
            "-req",
            "-in",
            &p(&format!("{who}.csr")),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p(&format!("{who}.pem")),
            "-days",
            "2",
            "-extfile",
            &p("san.ext"),
        ])?;
    }
    Some(dir.to_path_buf())
}

fn openssl_and_python() -> bool {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: the openssl command is not installed");
        return false;
    }
    python_with("msgpack")
}

fn pem(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

/// `tls_client.py MODE PORT CA [CERT KEY]`: its exit status and stdout.
fn client(mode: &str, port: u16, ca: &str, cert: Option<(&str, &str)>) -> (i32, String) {
    let mut cmd = Command::new("python3");
    cmd.args([support("tls_client.py"), mode.into(), port.to_string(), ca.into()]);
    if let Some((c, k)) = cert {
        cmd.args([c, k]);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn tls_receiver(port: u16, out: &Path, dir: &Path) -> Child {
    forward_receiver_env(
        port,
        out,
        None,
        &[("TLS_CERT", pem(dir, "s-server.pem")), ("TLS_KEY", pem(dir, "s-server.key"))],
    )
}

#[test]
fn tcp_and_forward_over_tls_into_a_tls_downstream_and_plain_text_is_refused() {
    if !openssl_and_python() {
        return;
    }
    let tmp = temp_dir("tls");
    let dir = tmp.path();
    make_certs(dir, "s").unwrap();
    let (tcp, fwd, down) = (free_port(), free_port(), free_port());
    let received = dir.join("received.log");
    let receiver = tls_receiver(down, &received, dir);
    let (tcp_addr, fwd_addr) = (format!("127.0.0.1:{tcp}"), format!("127.0.0.1:{fwd}"));
    let args = [
        "serve",
        "--tcp",
        &tcp_addr,
        "--forward",
        &fwd_addr,
        "--tls-cert",
        &pem(dir, "s-server.pem"),
        "--tls-key",
        &pem(dir, "s-server.key"),
        "--output",
        "forward",
        "--downstream",
        &format!("127.0.0.1:{down}"),
        "--downstream-ca",
        &pem(dir, "s-ca.pem"),
        "--downstream-tls-name",
        "localhost",
    ];
    let d = Daemon::start(&args, dir);
    let ca = pem(dir, "s-ca.pem");
    assert_eq!(client("tcp", tcp, &ca, None).0, 0);
    // A client that writes 3 MB and closes without reading: nothing it sent
    // may be lost to a reset (TLS 1.3 session tickets it never read).
    assert_eq!(client("bulk", tcp, &ca, None).0, 0);
    assert_eq!(client("forward", fwd, &ca, None), (0, "acked".to_string()));
    // A plain-text client on a TLS port: its bytes are a failed handshake.
    let mut plain = std::net::TcpStream::connect(&tcp_addr).unwrap();
    std::io::Write::write_all(&mut plain, b"plain password=hunter2-plain-xyzzy\n").unwrap();
    drop(plain);
    wait_for("every record downstream", || lines_of(&received).len() >= 50_006);
    wait_for("the refused handshake", || d.log().contains("TLS handshake failed"));
    let (status, log) = stop_both(d, receiver);
    assert!(status.success(), "{log}");
    let mut got = lines_of(&received);
    let bulk = got.iter().filter(|l| l.starts_with("bulk ")).count();
    assert_eq!(bulk, 50_000, "every line of the write-only client");
    got.retain(|l| !l.starts_with("bulk "));
    got.sort();
    let want: Vec<String> = ["fwd", "tls"]
        .iter()
        .flat_map(|k| (0..3).map(move |i| format!("{k} {i} password=[REDACTED:password-assignment]")))
        .collect();
    assert_eq!(got, want);
    assert!(log.contains("tls=true"), "{log}");
    assert!(!log.contains("hunter2"), "diagnostics echoed input");
}

#[test]
fn with_a_client_ca_only_clients_it_signed_are_served() {
    if !openssl_and_python() {
        return;
    }
    let tmp = temp_dir("mtls");
    let dir = tmp.path();
    make_certs(dir, "s").unwrap();
    make_certs(dir, "other").unwrap();
    let tcp = free_port();
    let out = dir.join("out.log");
    let args = [
        "serve",
        "--tcp",
        &format!("127.0.0.1:{tcp}"),
        "--tls-cert",
        &pem(dir, "s-server.pem"),
        "--tls-key",
        &pem(dir, "s-server.key"),
        "--tls-client-ca",
        &pem(dir, "s-ca.pem"),
        "--output",
        "file",
        "--output-path",
        out.to_str().unwrap(),
    ];
    let d = Daemon::start(&args, dir);
    let ca = pem(dir, "s-ca.pem");
    client("tcp", tcp, &ca, None);
    client("tcp", tcp, &ca, Some((&pem(dir, "other-client.pem"), &pem(dir, "other-client.key"))));
    wait_for("two refused handshakes", || d.log().matches("TLS handshake failed").count() >= 2);
    assert_eq!(client("tcp", tcp, &ca, Some((&pem(dir, "s-client.pem"), &pem(dir, "s-client.key")))).0, 0);
    wait_for("the signed client's lines", || lines_of(&out).len() >= 3);
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    assert_eq!(lines_of(&out).len(), 3, "only the signed client's lines");
}

#[test]
fn a_downstream_whose_certificate_the_ca_did_not_sign_gets_nothing() {
    if !openssl_and_python() {
        return;
    }
    let tmp = temp_dir("tls-bad-downstream");
    let dir = tmp.path();
    make_certs(dir, "s").unwrap();
    make_certs(dir, "other").unwrap();
    let env = [("TLS_CERT", pem(dir, "s-server.pem")), ("TLS_KEY", pem(dir, "s-server.key"))];
    let other_ca = pem(dir, "other-ca.pem");
    assert_downstream_refused(dir, &env, &[], &["--downstream-ca", &other_ca], "invalid peer certificate");
}

#[test]
fn tls_options_are_checked_at_start() {
    let tmp = temp_dir("tls-options");
    let dir = tmp.path();
    for (args, why) in [
        (vec!["serve", "--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
        (vec!["serve", "--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert"),
        (vec!["serve", "--downstream-ca", "ca.pem"], "--downstream-ca needs --output forward"),
        (vec!["serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "k.pem"], "/nonexistent/c.pem"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_logscrub")).args(&args).current_dir(dir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}
