//! The `logscrub` binary as a user runs it: stdin filter, files, rules
//! commands, errors and exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn logscrub(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(args)
        .env_remove("LOGSCRUB_HASH_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logscrub");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn stdin_filter_masks_and_passes_the_rest_through() {
    let input = b"GET /login Authorization: Bearer abc123def456ghi789\nplain line\n{\"user\":\"jane@example.com\",\"password\":\"hunter2!x\"}\n";
    let out = logscrub(&[], input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "GET /login Authorization: Bearer [REDACTED:http-bearer]\nplain line\n{\"user\":\"****@example.com\",\"password\":\"[REDACTED:password-assignment]\"}\n"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn files_are_scrubbed_in_order_and_stats_name_rules_not_text() {
    let tmp = tempfile::Builder::new().prefix("logscrub-cli-").tempdir().unwrap();
    let dir = tmp.path();
    let a = dir.join("a.log");
    let b = dir.join("b.log");
    std::fs::write(&a, "token=tok_9f8e7d6c5b4a\n").unwrap();
    std::fs::write(&b, "ok\ncard 4111 1111 1111 1111\n").unwrap();
    let out = logscrub(&["--stats", a.to_str().unwrap(), b.to_str().unwrap()], b"");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "token=[REDACTED:secret-assignment]\nok\ncard **** **** **** 1111\n");
    let err = text(&out.stderr);
    assert!(err.contains("3 lines") && err.contains("secret-assignment: 1") && err.contains("credit-card: 1"), "{err}");
    assert!(!err.contains("tok_9f8e") && !err.contains("4111"), "stats never print input: {err}");
}

#[test]
fn errors_are_clear_exit_2_and_never_echo_input() {
    let out = logscrub(&["--packs", "nope"], b"password=hunter2hunter2\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.starts_with("logscrub: error: unknown pack \"nope\""), "{err}");
    assert!(!err.contains("hunter2"));

    let out = logscrub(&["/no/such/file.log"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot open /no/such/file.log"));

    let out = logscrub(&["--mask", "email=hash"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("LOGSCRUB_HASH_KEY"), "{}", text(&out.stderr));
}

#[test]
fn hash_key_comes_from_the_environment_never_a_flag_value() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logscrub"));
    cmd.args(["--mask", "email=hash"]).env("LOGSCRUB_HASH_KEY", "0123456789abcdef-test");
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut input = child.stdin.take().unwrap();
    let line = b"a clean line that is repeated many times\n".repeat(20000);
    let _ = input.write_all(&line);
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn rules_list_and_test() {
    let out = logscrub(&["rules", "list"], b"");
    assert!(out.status.success());
    let list = text(&out.stdout);
    assert!(list.contains("http-bearer") && list.contains("ipv4"), "lists opt-in rules too");

    let out = logscrub(&["rules", "test"], b"");
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(", 0 failed"));

    // A user's own rule file is tested the same way; a failing case exits 1.
    let tmp = tempfile::Builder::new().prefix("logscrub-rules-").tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("mine.toml");
    std::fs::write(
        &file,
        r#"
[pack]
name = "mine"
description = "order tokens"

[[rule]]
id = "order-token"
description = "ord_ tokens"
category = "token"
keywords = ["ord_"]
regex = '''\bord_(?P<secret>[a-z0-9]{8,32})'''
positive = [{ input = "charge ord_abc12345 ok", output = "charge ord_[REDACTED:order-token] ok" }]
negative = ["ord_ alone", "word_abc12345 ok"]
"#,
    )
    .unwrap();
    let out = logscrub(&["rules", "test", file.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 rules, 3 cases: 3 passed, 0 failed"));

    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap().replace("\"word_abc12345 ok\"", "\"x ord_abc12345 ok\""),
    )
    .unwrap();
    let out = logscrub(&["rules", "test", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("FAIL order-token"));

    // The rules flag adds the file to the defaults for filtering.
    let out = logscrub(&["--rules", file.to_str().unwrap()], b"pay ord_zz998877 now\n");
    assert_eq!(text(&out.stdout), "pay ord_[REDACTED:order-token] now\n");
}

#[test]
fn a_bad_rule_file_is_refused_whole_with_file_line_and_rule() {
    let tmp = tempfile::Builder::new().prefix("logscrub-bad-").tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[pack]\nname = \"bad\"\ndescription = \"x\"\n\n[[rule]]\nid = \"greedy\"\ndescription = \"d\"\ncategory = \"token\"\nkeywords = [\"tok\"]\nregex = '''tok=(.+)'''\npositive = [{ input = \"a tok=1\", output = \"a tok=[REDACTED:greedy]\" }]\nnegative = [\"x\"]\n",
    )
    .unwrap();
    let out = logscrub(&["--rules", file.to_str().unwrap()], b"tok=1\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:5: rule 'greedy'") && err.contains("without bound"), "{err}");
    assert!(out.stdout.is_empty(), "nothing passes through when the rules are refused");
}

#[test]
fn patterns_readme_is_up_to_date() {
    let out = logscrub(&["rules", "list", "--markdown", "--packs", "all"], b"");
    assert!(out.status.success());
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/patterns/README.md")).unwrap();
    let generated = readme.split("<!-- generated: do not edit below -->\n").nth(1).unwrap();
    assert!(
        generated == text(&out.stdout),
        "patterns/README.md is stale: regenerate it with `logscrub rules list --markdown --packs all`"
    );
}

/// logscrub never prints a secret itself: every message the binary writes
/// on the error and diagnostic paths below is checked, at the most verbose
/// log level, for the secrets in its input.
#[test]
fn own_output_never_holds_a_secret_on_any_path() {
    const SECRETS: [&str; 4] =
        ["hunter2-xyzzy", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", "4111111111111111", "AKIAQWERTYUIOPASDFGH"];
    let body = format!("password={} token {} card {} key {}\n", SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3]);
    let tmp = tempfile::Builder::new().prefix("logscrub-hygiene-").tempdir().unwrap();
    let dir = tmp.path();
    let plain = dir.join("app.log");
    std::fs::write(&plain, &body).unwrap();
    // Compressed bytes that are not gzip past the magic: a corrupt member.
    let corrupt = dir.join("old.log.gz");
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(body.as_bytes());
    std::fs::write(&corrupt, gz).unwrap();
    let binary = dir.join("dump.log");
    std::fs::write(&binary, [body.as_bytes(), &[0u8; 64], body.as_bytes()].concat()).unwrap();
    let long = format!("{}{}\n", "x".repeat(4000), body.trim_end());
    let json_bad = format!("{{\"msg\": \"{}\", broken\n", body.trim_end());
    let cri_bad = format!("not-a-time stdout X {}", body);

    let runs: Vec<(Vec<String>, Vec<u8>)> = vec![
        (vec!["--stats".into()], body.clone().into_bytes()),
        (vec!["--stats".into(), "--max-line".into(), "1024".into()], long.into_bytes()),
        (vec!["--stats".into(), "--format".into(), "json".into()], json_bad.into_bytes()),
        (vec!["--stats".into(), "--format".into(), "cri".into()], cri_bad.into_bytes()),
        (vec!["--stats".into(), "--format".into(), "docker".into()], body.clone().into_bytes()),
        (vec!["--mask".into(), format!("credit-card={}", SECRETS[2])], body.clone().into_bytes()),
        (vec!["--mask".into(), SECRETS[2].into()], body.clone().into_bytes()),
        (vec!["check".into(), dir.to_str().unwrap().into()], Vec::new()),
        (vec!["check".into(), "--text".into(), dir.to_str().unwrap().into()], Vec::new()),
        (
            vec![
                "scrub".into(),
                "--out".into(),
                dir.join("out").to_str().unwrap().into(),
                dir.to_str().unwrap().into(),
            ],
            Vec::new(),
        ),
    ];
    for (args, stdin) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub"))
            .args(&args)
            .env("LOGSCRUB_LOG", "trace")
            .env_remove("LOGSCRUB_HASH_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A run that fails on its arguments exits without reading stdin.
        let _ = child.stdin.take().unwrap().write_all(&stdin);
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        for s in SECRETS {
            assert!(!stderr.contains(s), "{args:?}: stderr holds a secret: {stderr}");
            // The mask override error names the value it refused; the
            // filter's output and check's report hold no secret either.
            if args[0] != "--mask" {
                assert!(!stdout.contains(s), "{args:?}: stdout holds a secret: {stdout}");
            }
        }
    }
}

#[test]
fn threads_write_what_one_thread_writes_whatever_the_cuts() {
    // Key blocks every ~90 KiB, some straddling the cuts between the
    // pieces threads scrub (512 KiB from a file, 64 KiB from a pipe), a
    // line longer than a piece, and a block that never ends.
    let mut log = Vec::new();
    let mut i = 0;
    while log.len() < 3 << 20 {
        match i % 1500 {
            700 => log.extend_from_slice(b"PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 40\n"),
            701..=740 => log.extend_from_slice(b"AAABAQRAWKEYLINEx9Zm0xQ2wAAABAQCx9Zm0xQ2w\n"),
            741 => log.extend_from_slice(b"Private-MAC: 7f3ad21c\n-----BEGIN PRIVATE KEY-----\n"),
            742..=780 => log.extend_from_slice(b"MIIEvQIBADRAWKEYLINEANBgkqhkiG9w0BAQEFAASC\n"),
            781 => log.extend_from_slice(b"-----END PRIVATE KEY-----\n"),
            n if n % 9 == 0 => log.extend_from_slice(format!("{i} user=jane password=hunter2-{i}\n").as_bytes()),
            _ => log.extend_from_slice(format!("{i} GET /api/items/{i} 200 12ms\n").as_bytes()),
        }
        if i == 20_000 {
            log.extend_from_slice(&[b"token=".as_slice(), &vec![b'x'; 700 << 10], b" end\n"].concat());
        }
        i += 1;
    }
    log.extend_from_slice(b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIRAWKEYLINE\n");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("threads.log");
    std::fs::write(&path, &log).unwrap();
    let one = logscrub(&["-j", "1"], &log);
    assert!(one.status.success(), "{}", text(&one.stderr));
    assert!(memchr::memmem::find(&one.stdout, b"RAWKEYLINE").is_none());
    assert!(memchr::memmem::find(&one.stdout, b"hunter2").is_none());
    for jobs in ["2", "3"] {
        let piped = logscrub(&["-j", jobs], &log);
        assert!(piped.stdout == one.stdout, "-j {jobs} from a pipe differs from -j 1");
        let file = logscrub(&["-j", jobs, path.to_str().unwrap()], b"");
        assert!(file.stdout == one.stdout, "-j {jobs} from a file differs from -j 1");
    }
}

#[test]
fn a_key_block_in_container_logs_or_among_json_lines_is_masked() {
    let t = "2024-01-01T00:00:00.000000001Z";
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let block = ["-----BEGIN PRIVATE KEY-----", body, "-----END PRIVATE KEY-----"];
    let cri: String = block.iter().map(|l| format!("{t} stdout F {l}\n")).collect();
    let json: String = ["{\"a\":1}"].iter().chain(&block).map(|l| format!("{l}\n")).collect();
    for (format, input) in [("cri", &cri), ("json", &json), ("auto", &cri), ("auto", &json)] {
        for jobs in ["1", "2"] {
            let out = logscrub(&["--format", format, "-j", jobs], input.as_bytes());
            assert!(out.status.success(), "{}", text(&out.stderr));
            let out = text(&out.stdout);
            assert!(
                !out.contains(body) && out.contains("[REDACTED:private-key]"),
                "--format {format} -j {jobs}:\n{out}"
            );
        }
    }
}

#[test]
fn a_live_pipe_stays_live_on_threads() {
    // `tail -F app.log | logscrub`: each line comes out while stdin stays
    // open, whatever the threads.
    use std::io::BufRead;
    for jobs in ["1", "2"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub"))
            .args(["-j", jobs])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while output.read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        for i in 0..3 {
            input.write_all(format!("line {i} password=hunter2hunter2\n").as_bytes()).unwrap();
            input.flush().unwrap();
            let got =
                rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the line came out while stdin is open");
            assert_eq!(got, format!("line {i} password=[REDACTED:password-assignment]\n"), "-j {jobs}");
        }
        drop(input);
        assert!(child.wait().unwrap().success());
        reader.join().unwrap();
    }
}

/// `text` in UTF-16 in the byte order `le` says, byte order mark first.
fn utf16(text: &str, le: bool) -> Vec<u8> {
    let units = std::iter::once(0xFEFF).chain(text.encode_utf16());
    units.flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() }).collect()
}

#[test]
fn utf16_input_is_scrubbed_and_written_back_in_utf16() {
    // PowerShell 5 writes its transcripts in UTF-16LE: read as bytes, every
    // other byte is a NUL and no rule would match.
    let raw = "PS> $c = ConvertTo-SecureString \"Pl@inS3cret\" -AsPlainText -Force\r\nuser=jané password=hunter2hunter2 ✓\r\n";
    let scrubbed = "PS> $c = ConvertTo-SecureString \"[REDACTED:powershell-securestring]\" -AsPlainText -Force\r\nuser=jané password=[REDACTED:password-assignment] ✓\r\n";
    for le in [true, false] {
        for jobs in ["1", "2"] {
            let out = logscrub(&["-j", jobs], &utf16(raw, le));
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(out.stdout, utf16(scrubbed, le), "little-endian {le}, {jobs} jobs");
        }
    }
    // Half a code unit at the end: what came before is written, and the
    // error says what is wrong.
    let mut cut = utf16("password=hunter2hunter2\n", true);
    cut.push(b'x');
    let out = logscrub(&[], &cut);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stdout, utf16("password=[REDACTED:password-assignment]\n", true)[..]);
    let err = text(&out.stderr);
    assert!(err.contains("UTF-16 text ends in half a character") && !err.contains("hunter2"), "{err}");
}
