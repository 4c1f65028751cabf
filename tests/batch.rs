//! `logscrub scrub` and `logscrub check` over archives made by the tests:
//! every codec, a multi-member gzip, zero-padded gzip and bzip2, a corrupt
//! file, in-place metadata, interruption and rerun, shards.

mod common;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::temp_dir;

fn logscrub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logscrub")).args(args).output().expect("spawn logscrub")
}

fn log_text(tag: &str, n: usize) -> String {
    (0..n).map(|i| format!("{tag} {i} user=jane password=hunter2-{i}-xyzzy ok\n")).collect()
}

fn scrubbed_text(tag: &str, n: usize) -> String {
    (0..n).map(|i| format!("{tag} {i} user=jane password=[REDACTED:password-assignment] ok\n")).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn decompress(path: &Path) -> String {
    let bytes = fs::read(path).unwrap();
    let mut out = Vec::new();
    match bytes.get(..4) {
        Some([0x1f, 0x8b, ..]) => flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap(),
        Some([0x28, 0xb5, 0x2f, 0xfd]) => zstd::Decoder::new(&bytes[..]).unwrap().read_to_end(&mut out).unwrap(),
        Some([b'B', b'Z', b'h', _]) => bzip2::read::MultiBzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap(),
        Some([0xfd, b'7', b'z', b'X']) => liblzma::read::XzDecoder::new(&bytes[..]).read_to_end(&mut out).unwrap(),
        _ => {
            out = bytes;
            0
        }
    };
    String::from_utf8(out).unwrap()
}

/// `logscrub scrub SRC --out OUT --report REPORT`, which must succeed.
fn scrub_into(src: &Path, out: &Path, report: &Path) {
    let run = logscrub(&[
        "scrub",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
}

/// A tree with every codec, a multi-member gzip, and a corrupt gzip.
fn archive(dir: &Path) {
    fs::create_dir_all(dir.join("2024/01")).unwrap();
    fs::write(dir.join("app.log"), log_text("plain", 50)).unwrap();
    fs::write(dir.join("2024/01/app.log.gz"), gzip(log_text("gz", 50).as_bytes())).unwrap();
    let mut multi = gzip(log_text("m1", 20).as_bytes());
    multi.extend(gzip(log_text("m2", 20).as_bytes()));
    fs::write(dir.join("2024/01/multi.gz"), multi).unwrap();
    // Zero padding after the last member, as a tape or block device leaves it.
    let padded = [gzip(log_text("pad", 20).as_bytes()), vec![0; 10_000]].concat();
    fs::write(dir.join("2024/01/padded.gz"), padded).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(log_text("bzpad", 20).as_bytes()).unwrap();
    fs::write(dir.join("2024/padded.bz2"), [bz.finish().unwrap(), vec![0; 4096]].concat()).unwrap();
    fs::write(dir.join("2024/app.zst"), zstd::encode_all(log_text("zst", 50).as_bytes(), 3).unwrap()).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(log_text("bz", 50).as_bytes()).unwrap();
    fs::write(dir.join("2024/app.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(log_text("xz", 50).as_bytes()).unwrap();
    fs::write(dir.join("2024/app.xz"), xz.finish().unwrap()).unwrap();
    // Named .log but gzipped: detected by content.
    fs::write(dir.join("2024/01/misnamed.log"), gzip(log_text("mis", 10).as_bytes())).unwrap();
}

#[test]
fn every_codec_is_scrubbed_into_a_mirror_tree_with_the_same_codec() {
    let tmp = temp_dir("codecs");
    let dir = tmp.path();
    let (src, out) = (dir.join("src"), dir.join("out"));
    archive(&src);
    let report = dir.join("report.json");
    scrub_into(&src, &out, &report);
    let cases = [
        ("app.log", "plain", 50),
        ("2024/01/app.log.gz", "gz", 50),
        ("2024/app.zst", "zst", 50),
        ("2024/app.bz2", "bz", 50),
        ("2024/app.xz", "xz", 50),
        ("2024/01/misnamed.log", "mis", 10),
        ("2024/01/padded.gz", "pad", 20),
        ("2024/padded.bz2", "bzpad", 20),
    ];
    for (rel, tag, n) in cases {
        let o = out.join(rel);
        assert_eq!(decompress(&o), scrubbed_text(tag, n), "{rel}");
        assert_eq!(fs::read(&o).unwrap()[..2], fs::read(src.join(rel)).unwrap()[..2], "{rel}: same codec");
    }
    assert_eq!(decompress(&out.join("2024/01/multi.gz")), scrubbed_text("m1", 20) + &scrubbed_text("m2", 20));
    // The report: counts and ranges, never the text.
    let text = fs::read_to_string(&report).unwrap();
    assert!(!text.contains("hunter2"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let plain =
        doc["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with("/app.log")).unwrap();
    assert_eq!(plain["findings"]["password-assignment"], 50);
    let first = &plain["ranges"]["password-assignment"][0];
    let line = log_text("plain", 1);
    let (s, e) = (first[0].as_u64().unwrap() as usize, first[1].as_u64().unwrap() as usize);
    assert_eq!(&line[s..e], "hunter2-0-xyzzy");
    // The manifest's checksums match the files.
    let manifest = fs::read_to_string(out.join("logscrub-manifest.jsonl")).unwrap();
    assert_eq!(manifest.lines().count(), 9);
    use sha2::Digest;
    let sha256 = |path: &str| -> String {
        sha2::Sha256::digest(fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
    };
    for l in manifest.lines() {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(d["output_sha256"], sha256(d["output"].as_str().unwrap()));
        assert_eq!(d["input_sha256"], sha256(d["input"].as_str().unwrap()), "{l}");
    }
}

#[test]
fn the_report_lists_what_scrub_masked_with_keyed_fingerprints() {
    // The report's ranges are the stream's own record of what it masked:
    // a key's body lines, and a secret wherever it falls against a long
    // line's window edge, at their bytes; with a hash key, each distinct
    // secret's fingerprint and how often it was masked. Never the text.
    let tmp = temp_dir("report-prints");
    let key = "0123456789abcdef-report-key";
    let k = logscrub::HashKey::new(key.as_bytes().to_vec()).unwrap();
    for pad in (65_500..65_560).step_by(12) {
        let dir = tmp.path().join(pad.to_string());
        let (src, out, report) = (dir.join("src"), dir.join("out"), dir.join("report.json"));
        fs::create_dir_all(&src).unwrap();
        let long = format!("{} password=Zq8xY2vB4nM6kL0p ok", "x".repeat(pad));
        let text = format!(
            "a password=hunter2hunter2\nb password=hunter2hunter2\n{long}\n\
             -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7VJTUt9Us8cK\njMzEfYyjiWA4R4ypbZ8Y\n-----END RSA PRIVATE KEY-----\n"
        );
        fs::write(src.join("app.log"), &text).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_logscrub"))
            .args(["scrub", "-q", "--max-line", "65536", "--out", out.to_str().unwrap(), "--report"])
            .arg(&report)
            .arg(&src)
            .env("LOGSCRUB_HASH_KEY", key)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let written = fs::read_to_string(&report).unwrap();
        for secret in ["hunter2", "Zq8xY2vB4nM6kL0p", "MIIEow", "jMzEfY"] {
            assert!(!written.contains(secret), "{secret} in the report");
        }
        let doc: serde_json::Value = serde_json::from_str(&written).unwrap();
        let file = &doc["files"][0];
        let at = |rule: &str| -> Vec<&str> {
            let ranges = file["ranges"][rule].as_array().unwrap();
            ranges.iter().map(|r| &text[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize]).collect()
        };
        assert_eq!(at("password-assignment"), ["hunter2hunter2", "hunter2hunter2", "Zq8xY2vB4nM6kL0p"], "pad {pad}");
        assert_eq!(at("private-key"), ["MIIEowIBAAKCAQEA7VJTUt9Us8cK", "jMzEfYyjiWA4R4ypbZ8Y"]);
        let prints = serde_json::json!({
            "password-assignment": { k.fingerprint(b"hunter2hunter2"): 2, k.fingerprint(b"Zq8xY2vB4nM6kL0p"): 1 }
        });
        assert_eq!(file["fingerprints"], prints, "pad {pad}: a key's lines have no print");
    }
}

#[test]
fn an_output_tree_inside_the_input_is_never_scrubbed_again() {
    let tmp = temp_dir("nested-out");
    let logs = tmp.path().join("logs");
    fs::create_dir_all(logs.join("sub")).unwrap();
    fs::write(logs.join("a.log"), log_text("a", 3)).unwrap();
    fs::write(logs.join("sub/b.log"), log_text("b", 3)).unwrap();
    let clean = logs.join("clean");
    for run in ["first", "rerun"] {
        let out = logscrub(&["scrub", "-q", "--out", clean.to_str().unwrap(), logs.to_str().unwrap()]);
        assert!(out.status.success(), "{run}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!clean.join("clean").exists(), "the rerun scrubbed its own output");
    assert_eq!(fs::read_to_string(clean.join("sub/b.log")).unwrap(), scrubbed_text("b", 3));
    let same = logscrub(&["scrub", "-q", "--out", logs.to_str().unwrap(), logs.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&same.stderr).contains("use --in-place"));
    let file = logs.join("a.log");
    let onto_a_file = logscrub(&["scrub", "-q", "--out", file.to_str().unwrap(), logs.join("sub").to_str().unwrap()]);
    assert_eq!(onto_a_file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&onto_a_file.stderr).contains("is not a directory"));
}

#[test]
fn a_corrupt_file_fails_alone_and_is_never_touched() {
    let tmp = temp_dir("corrupt");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let good = gzip(log_text("good", 100).as_bytes());
    fs::write(src.join("good.gz"), &good).unwrap();
    let bad = gzip(log_text("bad", 5000).as_bytes());
    let truncated = &bad[..bad.len() / 2];
    fs::write(src.join("bad.gz"), truncated).unwrap();
    fs::write(src.join("blob.bin"), b"\x7fELF\0\0\0binary").unwrap();
    let run =
        logscrub(&["scrub", src.to_str().unwrap(), "--in-place", "--manifest", dir.join("m.jsonl").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("bad.gz: corrupt or truncated gzip data"), "{err}");
    assert!(err.contains("blob.bin: looks binary"), "{err}");
    assert!(!err.contains("hunter2"));
    assert_eq!(fs::read(src.join("bad.gz")).unwrap(), truncated, "the original is untouched");
    assert_eq!(decompress(&src.join("good.gz")), scrubbed_text("good", 100));
    let left: Vec<_> = fs::read_dir(&src).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "no temporary file left: {left:?}");
}

#[test]
fn a_file_needing_more_decoder_memory_than_allowed_fails_clearly_and_a_higher_limit_reads_it() {
    let tmp = temp_dir("decoder-memory");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    // xz's default preset holds an 8 MiB dictionary.
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(log_text("xz", 50).as_bytes()).unwrap();
    let original = xz.finish().unwrap();
    fs::write(src.join("app.xz"), &original).unwrap();
    let (path, manifest) = (src.to_str().unwrap(), dir.join("m.jsonl"));
    let run = |limit: &str| {
        logscrub(&["scrub", path, "--in-place", "--manifest", manifest.to_str().unwrap(), "--decoder-memory", limit])
    };

    let refused = run("4");
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("app.xz: was compressed with a larger dictionary than the 4 MiB --decoder-memory"), "{err}");
    assert!(!err.contains("corrupt"), "a sound file is not called corrupt: {err}");
    assert_eq!(fs::read(src.join("app.xz")).unwrap(), original, "the original is untouched");
    let checked = logscrub(&["check", path, "--decoder-memory", "4"]);
    assert_eq!(checked.status.code(), Some(2), "{}", String::from_utf8_lossy(&checked.stderr));

    let done = run("16");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(decompress(&src.join("app.xz")), scrubbed_text("xz", 50));
}

#[test]
fn a_gzip_files_header_name_and_time_are_kept() {
    // `gzip` writes the file's name and modification time into the header
    // (`gunzip -N`, `gzip -l` read them); the scrubbed copy keeps them.
    let tmp = temp_dir("gzip-header");
    let file = tmp.path().join("app.log.gz");
    let mut gz = flate2::GzBuilder::new()
        .filename("app.log")
        .mtime(1_700_000_000)
        .write(Vec::new(), flate2::Compression::fast());
    gz.write_all(log_text("gzh", 5).as_bytes()).unwrap();
    fs::write(&file, gz.finish().unwrap()).unwrap();
    let manifest = tmp.path().join("m.jsonl");
    let run =
        logscrub(&["scrub", "-q", "--in-place", file.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(decompress(&file), scrubbed_text("gzh", 5));
    let bytes = fs::read(&file).unwrap();
    let read = flate2::bufread::GzDecoder::new(&bytes[..]);
    let header = read.header().expect("a header");
    assert_eq!((header.filename(), header.mtime()), (Some(&b"app.log"[..]), 1_700_000_000));
}

#[test]
fn in_place_keeps_permissions_owner_and_modification_time() {
    let tmp = temp_dir("inplace");
    let dir = tmp.path();
    let file = dir.join("app.log");
    fs::write(&file, log_text("p", 10)).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    File::options().write(true).open(&file).unwrap().set_modified(then).unwrap();
    let run =
        logscrub(&["scrub", "--in-place", file.to_str().unwrap(), "--manifest", dir.join("m.jsonl").to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(meta.modified().unwrap(), then);
    assert_eq!(fs::read_to_string(&file).unwrap(), scrubbed_text("p", 10));

    // Owner and group are kept: a run as root must not hand the logs to
    // root. (Only root can give a file to another user to test this.)
    use std::os::unix::fs::MetadataExt;
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root {
        let other = dir.join("other.log");
        fs::write(&other, log_text("o", 3)).unwrap();
        std::os::unix::fs::chown(&other, Some(4321), Some(4322)).unwrap();
        let manifest = dir.join("m2.jsonl");
        let run =
            logscrub(&["scrub", "-q", "--in-place", other.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let meta = fs::metadata(&other).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
        assert_eq!(fs::read_to_string(&other).unwrap(), scrubbed_text("o", 3));
    }
}

#[test]
fn a_log_written_to_while_it_is_scrubbed_in_place_is_left_as_it_is() {
    // A live log: appended to after the scrub read it. Renaming the copy
    // over it would lose the appended line; the file fails instead.
    let tmp = temp_dir("live");
    let dir = tmp.path();
    let file = dir.join("live.log");
    let text = log_text("l", 600_000);
    fs::write(&file, &text).unwrap();
    let manifest = dir.join("m.jsonl");
    let args =
        ["scrub", "-q", "-j", "1", "--in-place", file.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()];
    let child =
        Command::new(env!("CARGO_BIN_EXE_logscrub")).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let staged = dir.join(".live.log.logscrub-tmp");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !staged.exists() {
        assert!(std::time::Instant::now() < deadline, "the scrub never started writing");
        std::thread::sleep(Duration::from_millis(1));
    }
    let appended = "later password=appended-while-scrubbing ok\n";
    File::options().append(true).open(&file).unwrap().write_all(appended.as_bytes()).unwrap();
    let run = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed while it was scrubbed"), "{stderr}");
    assert!(fs::read_to_string(&file).unwrap() == text.clone() + appended, "the original was replaced");
    assert!(!staged.exists(), "the temporary file was left");
    // Once it stops changing, a rerun scrubs it all.
    let run = logscrub(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let scrubbed = fs::read_to_string(&file).unwrap();
    assert!(scrubbed.ends_with("later password=[REDACTED:password-assignment] ok\n"));
    assert!(!scrubbed.contains("hunter2"));
}

#[test]
fn names_that_are_not_utf8_are_scrubbed_reported_and_resumed_as_they_are() {
    // An old archive may hold Latin-1 names. The manifest and the reports
    // name them by their bytes (base64, as ripgrep's JSON does), so that a
    // rerun finds them done; `check` prints the bytes themselves.
    use std::os::unix::ffi::OsStrExt;
    let tmp = temp_dir("latin1");
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    fs::create_dir_all(&src).unwrap();
    let file = src.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log"));
    fs::write(&file, log_text("c", 2)).unwrap();
    // Read lossily, both names are `caf\u{fffd}.log`: each must still have
    // a temporary file of its own.
    let twin = src.join(std::ffi::OsStr::from_bytes(b"caf\xe8.log"));
    fs::write(&twin, log_text("t", 200_000)).unwrap();
    let report = tmp.path().join("report.json");
    let scrub = || {
        let run = Command::new(env!("CARGO_BIN_EXE_logscrub"))
            .args([
                "scrub",
                "--out",
                out.to_str().unwrap(),
                src.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        String::from_utf8(run.stderr).unwrap()
    };
    scrub();
    assert_eq!(fs::read_to_string(out.join(file.file_name().unwrap())).unwrap(), scrubbed_text("c", 2));
    assert!(fs::read_to_string(out.join(twin.file_name().unwrap())).unwrap() == scrubbed_text("t", 200_000));
    let bytes = |path: &Path| {
        use base64::Engine;
        serde_json::json!({ "bytes": base64::engine::general_purpose::STANDARD.encode(path.as_os_str().as_bytes()) })
    };
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert!(doc["files"].as_array().unwrap().iter().any(|f| f["path"] == bytes(&file)), "{doc}");
    let manifest = fs::read_to_string(out.join("logscrub-manifest.jsonl")).unwrap();
    assert!(manifest.contains(&format!(r#""rel":{}"#, bytes(file.strip_prefix(&src).unwrap()))), "{manifest}");
    assert!(scrub().contains("0 scrubbed, 2 done before"), "the rerun did not find them done");

    let check = |json: bool| {
        let run = Command::new(env!("CARGO_BIN_EXE_logscrub"))
            .arg("check")
            .args(json.then_some("--json"))
            .arg(&file)
            .output();
        let run = run.unwrap();
        assert_eq!(run.status.code(), Some(1));
        run.stdout
    };
    assert!(check(false).starts_with(&[file.as_os_str().as_bytes(), b":1:password-assignment\n"].concat()));
    let first: serde_json::Value = serde_json::from_slice(check(true).split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["path"], bytes(&file));
}

#[test]
fn a_file_another_run_is_scrubbing_is_left_to_it() {
    // Two runs over one file (a Job retried while the first still runs on
    // shared storage) must not write one temporary file: the one that
    // holds its lock goes on, the other fails the file and leaves both
    // files alone.
    let tmp = temp_dir("locked");
    let file = tmp.path().join("app.log");
    fs::write(&file, log_text("a", 5)).unwrap();
    let staged = tmp.path().join(".app.log.logscrub-tmp");
    let other = File::create(&staged).unwrap();
    other.lock().unwrap();
    let manifest = tmp.path().join("m.jsonl");
    let args = ["scrub", "-q", "--in-place", file.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()];
    let run = logscrub(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another logscrub run is scrubbing this file"), "{stderr}");
    assert_eq!(fs::read_to_string(&file).unwrap(), log_text("a", 5));
    assert!(staged.exists(), "the other run's temporary file was removed");
    // Unlocked, as a killed run leaves it: taken over.
    drop(other);
    let run = logscrub(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(fs::read_to_string(&file).unwrap(), scrubbed_text("a", 5));
    assert!(!staged.exists());
}

#[test]
fn where_files_cannot_be_locked_scrub_warns_once_and_goes_on() {
    // NFS mounted `nolock` answers flock with ENOLCK. No file system here
    // does, so the binary runs with a flock that always does, preloaded.
    let tmp = temp_dir("nolock");
    let shim = tmp.path().join("nolock.so");
    let c = tmp.path().join("nolock.c");
    fs::write(&c, "#include <errno.h>\nint flock(int fd, int op) { (void)fd; (void)op; errno = ENOLCK; return -1; }\n")
        .unwrap();
    let cc = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&shim).arg(&c).status();
    assert!(cc.expect("cc (gcc) builds the flock shim").success());
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    for name in ["a.log", "b.log"] {
        fs::write(src.join(name), log_text(name, 5)).unwrap();
    }
    let manifest = tmp.path().join("m.jsonl");
    let run = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(["scrub", "-q", "-j1", "--in-place", "--manifest", manifest.to_str().unwrap(), src.to_str().unwrap()])
        .env("LD_PRELOAD", &shim)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(stderr.matches("warning: cannot lock").count(), 1, "{stderr}");
    assert!(stderr.contains("No locks available"), "{stderr}");
    for name in ["a.log", "b.log"] {
        assert_eq!(fs::read_to_string(src.join(name)).unwrap(), scrubbed_text(name, 5));
    }
}

#[test]
fn a_write_past_the_file_size_limit_fails_that_file_only_and_says_so() {
    // `ulimit -f`: the kernel's SIGXFSZ would kill the run midway (leaving
    // the other files undone and no summary). Each such write fails with
    // EFBIG instead: that file fails as the output's error, not the
    // input's, its original untouched; the others are scrubbed.
    let tmp = temp_dir("fsize");
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    fs::create_dir_all(&src).unwrap();
    let big = log_text("b", 40_000);
    fs::write(src.join("big.log"), &big).unwrap();
    fs::write(src.join("big.log.gz"), gzip(big.repeat(4).as_bytes())).unwrap();
    fs::write(src.join("small.log"), log_text("s", 2)).unwrap();
    let limited = |command: &str| {
        let script = format!("ulimit -f 100; exec \"$0\" {command}");
        Command::new("sh").args(["-c", &script, env!("CARGO_BIN_EXE_logscrub")]).output().unwrap()
    };
    let run = limited(&format!("scrub -j1 {} --out {}", src.display(), out.display()));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    for name in ["big.log:", "big.log.gz:"] {
        let line = stderr.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{stderr}"));
        assert!(line.contains("cannot write the scrubbed copy: File too large"), "{line}");
        assert!(!line.contains("corrupt"), "{line}");
    }
    assert!(stderr.contains("3 files (1 scrubbed, 0 done before, 2 failed)"), "{stderr}");
    assert_eq!(fs::read_to_string(out.join("small.log")).unwrap(), scrubbed_text("s", 2));
    assert_eq!(fs::read_dir(&out).unwrap().count(), 2, "only small.log and the manifest");
    assert_eq!(fs::read_to_string(src.join("big.log")).unwrap(), big);
    // The filter says it, with exit 2.
    let run = limited(&format!("< {} > {}", src.join("big.log").display(), tmp.path().join("f.out").display()));
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot write to stdout: File too large"));
}

/// A POSIX ACL as Linux stores it in `system.posix_acl_*`: version 2, then
/// (tag, permissions, id) entries in tag order.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut blob = 2u32.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        blob.extend(tag.to_le_bytes());
        blob.extend(perm.to_le_bytes());
        blob.extend(id.to_le_bytes());
    }
    blob
}

#[test]
fn in_place_keeps_extended_attributes_and_acls() {
    use xattr::FileExt;
    const ANY: u32 = u32::MAX;
    // Owner rw, user 4321 r, group r, mask r, others nothing.
    let access = acl(&[(0x01, 6, ANY), (0x02, 4, 4321), (0x04, 4, ANY), (0x10, 4, ANY), (0x20, 0, ANY)]);
    let tmp = temp_dir("xattr");
    let dir = tmp.path();
    let logs = dir.join("logs");
    fs::create_dir(&logs).unwrap();
    let (tagged, plain) = (logs.join("tagged.log"), logs.join("plain.log"));
    fs::write(&tagged, log_text("t", 5)).unwrap();
    fs::write(&plain, log_text("p", 5)).unwrap();
    let f = File::open(&tagged).unwrap();
    if f.set_xattr("user.retention", b"7y").is_err() || f.set_xattr("system.posix_acl_access", &access).is_err() {
        eprintln!("skipped: this file system takes no user attributes or ACLs");
        return;
    }
    // The directory's default ACL would give a new file an ACL of its own:
    // the scrubbed copy of `plain`, which had none, must not keep it.
    xattr::set(&logs, "system.posix_acl_default", &access).unwrap();
    assert!(xattr::get(&plain, "system.posix_acl_access").unwrap().is_none());

    let manifest = dir.join("m.jsonl");
    let run =
        logscrub(&["scrub", "-q", "--in-place", logs.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(fs::read_to_string(&tagged).unwrap(), scrubbed_text("t", 5));
    assert_eq!(fs::read_to_string(&plain).unwrap(), scrubbed_text("p", 5));
    assert_eq!(xattr::get(&tagged, "user.retention").unwrap(), Some(b"7y".to_vec()));
    assert_eq!(xattr::get(&tagged, "system.posix_acl_access").unwrap(), Some(access));
    assert_eq!(fs::metadata(&tagged).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(xattr::get(&plain, "system.posix_acl_access").unwrap(), None, "no ACL the original lacked");

    // `--out` writes new files: they take the output directory's defaults.
    let out = dir.join("out");
    let run = logscrub(&["scrub", "-q", logs.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(xattr::get(out.join("tagged.log"), "user.retention").unwrap(), None);
}

/// A file in which nothing is masked is written as it was read, so its
/// output's checksum is its input's (taken from the input: the output is
/// compared with it, not hashed again); a file that changes anywhere, even
/// in its last line or by losing it, gets its own output's checksum.
#[test]
fn an_unchanged_file_keeps_its_checksum_and_a_changed_one_gets_its_own() {
    let tmp = temp_dir("mirror");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let clean: String = (0..20_000).map(|i| format!("GET /items/{i} 200 ms={}\n", i % 97)).collect();
    let secret = "login user=bob password=hunter2hunter2\n";
    fs::write(src.join("clean.log"), &clean).unwrap();
    fs::write(src.join("late.log"), clean.clone() + secret).unwrap();
    // Compressed files with nothing to mask are copied as they are, not
    // compressed again.
    fs::write(src.join("clean.log.gz"), gzip(clean.as_bytes())).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(clean.as_bytes()).unwrap();
    fs::write(src.join("clean.log.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(clean.as_bytes()).unwrap();
    fs::write(src.join("clean.log.xz"), xz.finish().unwrap()).unwrap();
    fs::write(src.join("clean.log.zst"), zstd::encode_all(clean.as_bytes(), 3).unwrap()).unwrap();
    // Two members, as `cat a.gz b.gz` or a parallel gzip writes them.
    let (head, tail) = clean.as_bytes().split_at(clean.len() / 3);
    fs::write(src.join("clean-members.log.gz"), [gzip(head), gzip(tail)].concat()).unwrap();
    let sha256 = |bytes: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    };
    let b3 = |bytes: &[u8]| blake3::hash(bytes).to_hex().to_string();
    let runs: [(&str, &[&str]); 3] =
        [("sha256", &[]), ("blake3", &["--checksum", "blake3"]), ("sha256", &["--mask", "password-assignment=drop"])];
    for (i, (algo, flags)) in runs.into_iter().enumerate() {
        let out = dir.join(format!("out{i}"));
        let args = ["scrub", "-q", "--out", out.to_str().unwrap(), src.to_str().unwrap()];
        let run = logscrub(&[&args[..], flags].concat());
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let hash = |bytes: &[u8]| if algo == "sha256" { sha256(bytes) } else { b3(bytes) };
        let manifest = fs::read_to_string(out.join("logscrub-manifest.jsonl")).unwrap();
        assert_eq!(manifest.lines().count(), 7);
        for l in manifest.lines() {
            let d: serde_json::Value = serde_json::from_str(l).unwrap();
            let rel = d["rel"].as_str().unwrap();
            let (input, output) = (fs::read(src.join(rel)).unwrap(), fs::read(out.join(rel)).unwrap());
            assert_eq!(d[format!("input_{algo}")], hash(&input), "{l}");
            assert_eq!(d[format!("output_{algo}")], hash(&output), "{l}");
            match rel {
                _ if rel.starts_with("clean") => assert!(output == input, "{rel} comes out as it went in"),
                // The last line dropped: the output is the start of the input.
                _ if i == 2 => assert!(output == clean.as_bytes(), "{algo} {flags:?}"),
                _ => assert!(output.starts_with(clean.as_bytes()) && output != input, "{algo} {flags:?}"),
            }
        }
    }
}

/// In place, a file in which nothing is masked, plain, gzip or zstd, is left as
/// it is: the same inode, times and contents, nothing renamed over it; a
/// rerun finds it done. A file beside it with a secret is replaced.
#[test]
fn in_place_a_file_with_nothing_to_mask_is_left_untouched() {
    use std::os::unix::fs::MetadataExt;
    let tmp = temp_dir("untouched");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let clean: String = (0..5_000).map(|i| format!("GET /items/{i} 200\n")).collect();
    fs::write(src.join("clean.log"), &clean).unwrap();
    fs::write(src.join("dirty.log"), clean.clone() + "login password=hunter2hunter2\n").unwrap();
    fs::write(src.join("clean.gz"), gzip(clean.as_bytes())).unwrap();
    fs::write(src.join("dirty.gz"), gzip((clean.clone() + "login password=hunter2hunter2\n").as_bytes())).unwrap();
    fs::write(src.join("clean.zst"), zstd::encode_all(clean.as_bytes(), 3).unwrap()).unwrap();
    let stat = |name: &str| {
        let m = fs::metadata(src.join(name)).unwrap();
        (m.ino(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())
    };
    let (clean_before, dirty_before) = (stat("clean.log"), stat("dirty.log"));
    let (clean_gz_before, dirty_gz_before) = (stat("clean.gz"), stat("dirty.gz"));
    let clean_zst_before = stat("clean.zst");
    // A change time that moved would show, whatever the clock's grain.
    std::thread::sleep(Duration::from_millis(20));
    let manifest = tmp.path().join("m.jsonl");
    let args = ["scrub", "-q", "--in-place", src.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()];
    let run = logscrub(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(stat("clean.log"), clean_before, "the clean file was touched");
    assert_eq!(fs::read_to_string(src.join("clean.log")).unwrap(), clean);
    assert_ne!(stat("dirty.log").0, dirty_before.0, "the file with a secret is a new one");
    assert!(!fs::read_to_string(src.join("dirty.log")).unwrap().contains("hunter2"));
    assert_eq!(stat("clean.gz"), clean_gz_before, "the clean gzip file was touched");
    assert_ne!(stat("dirty.gz").0, dirty_gz_before.0);
    assert!(!decompress(&src.join("dirty.gz")).contains("hunter2"));
    assert_eq!(stat("clean.zst"), clean_zst_before, "the clean zstd file was touched");
    let names: Vec<String> =
        fs::read_dir(&src).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 5, "no temporary file is left: {names:?}");
    for l in fs::read_to_string(&manifest).unwrap().lines() {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        let same = d["input_sha256"] == d["output_sha256"];
        assert_eq!(same, d["rel"].as_str().unwrap().starts_with("clean"), "{l}");
    }
    let rerun = logscrub(&args);
    assert!(String::from_utf8_lossy(&rerun.stderr).contains("0 scrubbed, 5 done before"));
    assert_eq!(stat("clean.log"), clean_before);
    assert_eq!(stat("clean.gz"), clean_gz_before);
    assert_eq!(stat("clean.zst"), clean_zst_before);
}

#[test]
fn blake3_checksums_are_named_in_the_manifest_and_a_rerun_checks_them() {
    let tmp = temp_dir("blake3");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let originals: Vec<String> = (0..3).map(|i| log_text(&format!("b{i}"), 30)).collect();
    for (i, text) in originals.iter().enumerate() {
        fs::write(src.join(format!("{i}.log")), text).unwrap();
    }
    let manifest = dir.join("m.jsonl");
    let args = ["scrub", "--in-place", src.to_str().unwrap(), "--manifest", manifest.to_str().unwrap(), "-q"];
    let run = logscrub(&[&args[..], &["--checksum", "blake3"]].concat());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let b3 = |bytes: &[u8]| blake3::hash(bytes).to_hex().to_string();
    let lines = fs::read_to_string(&manifest).unwrap();
    assert_eq!(lines.lines().count(), 3);
    for l in lines.lines() {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        let i: usize = d["rel"].as_str().unwrap().trim_end_matches(".log").parse().unwrap();
        assert_eq!(d["input_blake3"], b3(originals[i].as_bytes()));
        assert_eq!(d["output_blake3"], b3(&fs::read(d["output"].as_str().unwrap()).unwrap()));
        assert!(d.get("input_sha256").is_none(), "{l}");
    }
    // A rerun, with the default checksum, checks each file against the
    // manifest's own algorithm: all done. A file changed since is done again.
    fs::write(src.join("1.log"), &originals[1]).unwrap();
    let rerun = logscrub(&args);
    assert!(rerun.status.success());
    let summary = String::from_utf8_lossy(&rerun.stderr);
    assert!(summary.contains("1 scrubbed, 2 done before"), "{summary}");
    for i in 0..3 {
        assert_eq!(fs::read_to_string(src.join(format!("{i}.log"))).unwrap(), scrubbed_text(&format!("b{i}"), 30));
    }
}

#[test]
fn a_killed_run_leaves_whole_files_and_a_rerun_finishes_the_rest() {
    let tmp = temp_dir("interrupt");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let n = 120;
    for i in 0..n {
        fs::write(src.join(format!("f{i:03}.log.gz")), gzip(log_text(&format!("f{i}"), 4000).as_bytes())).unwrap();
    }
    let originals: Vec<Vec<u8>> = (0..n).map(|i| fs::read(src.join(format!("f{i:03}.log.gz"))).unwrap()).collect();
    let manifest = dir.join("m.jsonl");
    let args = ["scrub", "--in-place", src.to_str().unwrap(), "--manifest", manifest.to_str().unwrap(), "--jobs", "1"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub")).args(args).spawn().unwrap();
    // Kill once some files are done (or give up waiting and kill anyway).
    for _ in 0..500 {
        if fs::read_to_string(&manifest).unwrap_or_default().lines().count() >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = fs::read_to_string(&manifest).unwrap_or_default().lines().count();
    // Every file is whole: the original, or completely scrubbed.
    let mut scrubbed = 0;
    for (i, original) in originals.iter().enumerate() {
        let path = src.join(format!("f{i:03}.log.gz"));
        let now = fs::read(&path).unwrap();
        if &now != original {
            assert_eq!(decompress(&path), scrubbed_text(&format!("f{i}"), 4000));
            scrubbed += 1;
        }
    }
    assert!(scrubbed < n, "the run finished before it was killed; nothing was interrupted");
    // The manifest lists only files already in place; one renamed but not
    // yet listed when the run was killed is scrubbed again, to the same text.
    assert!(listed <= scrubbed, "{listed} listed, {scrubbed} scrubbed");
    let rerun = logscrub(&args);
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let summary = String::from_utf8_lossy(&rerun.stderr);
    assert!(summary.contains(&format!("{listed} done before")), "{summary}");
    for i in 0..n {
        assert_eq!(decompress(&src.join(format!("f{i:03}.log.gz"))), scrubbed_text(&format!("f{i}"), 4000));
    }
    assert!(fs::read_dir(&src).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("logscrub-tmp")));
}

#[test]
fn many_small_files_are_committed_in_batches_each_listed_once() {
    // Files committed together share a sync of their directory and of the
    // manifest: each must still be in place, listed once, and skipped by a
    // rerun.
    let tmp = temp_dir("small-files");
    let dir = tmp.path();
    let src = dir.join("src");
    for d in ["a", "b/c"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    let n = 300;
    let name = |i: usize| format!("{}/f{i:03}.log", ["a", "b", "b/c"][i % 3]);
    for i in 0..n {
        fs::write(src.join(name(i)), log_text(&format!("f{i}"), 3)).unwrap();
    }
    let out = dir.join("out");
    let args = ["scrub", src.to_str().unwrap(), "--out", out.to_str().unwrap(), "-j", "2"];
    let run = logscrub(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for i in 0..n {
        assert_eq!(fs::read_to_string(out.join(name(i))).unwrap(), scrubbed_text(&format!("f{i}"), 3));
    }
    let manifest = fs::read_to_string(out.join("logscrub-manifest.jsonl")).unwrap();
    let mut listed: Vec<String> = manifest
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rel"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut names: Vec<String> = (0..n).map(name).collect();
    names.sort();
    assert_eq!(listed, names);
    let rerun = logscrub(&args);
    assert!(rerun.status.success());
    assert!(String::from_utf8_lossy(&rerun.stderr).contains(&format!("{n} done before")));
}

#[test]
fn shards_cover_every_file_exactly_once() {
    let tmp = temp_dir("shards");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..60 {
        fs::write(src.join(format!("d/{i}.log")), log_text("s", 2)).unwrap();
    }
    let mut seen = std::collections::HashMap::new();
    for k in 0..4 {
        let out = dir.join(format!("out{k}"));
        let shard = format!("{k}/4");
        let run = logscrub(&["scrub", src.to_str().unwrap(), "--out", out.to_str().unwrap(), "--shard", &shard, "-q"]);
        assert!(run.status.success());
        for e in fs::read_dir(out.join("d")).unwrap() {
            *seen.entry(e.unwrap().file_name()).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 60);
    assert!(seen.values().all(|&c| c == 1));
}

#[test]
fn check_prints_findings_and_sets_the_exit_status() {
    let tmp = temp_dir("check");
    let dir = tmp.path();
    fs::write(dir.join("clean.log"), "all good\nnothing here\n").unwrap();
    let clean = logscrub(&["check", dir.join("clean.log").to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty());
    fs::write(dir.join("dirty.log.gz"), gzip(b"fine\nAuthorization: Bearer abcdefghijklmnop123456\n")).unwrap();
    let dirty = logscrub(&["check", dir.to_str().unwrap(), "--include", "*.gz"]);
    assert_eq!(dirty.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&dirty.stdout);
    // Overlapping findings of two rules are both named.
    let path = dir.join("dirty.log.gz");
    assert_eq!(printed, format!("{0}:2:http-bearer\n{0}:2:http-authorization\n", path.display()));
    // Nothing left by a filter: clean, with a warning a gate's log shows.
    let none = logscrub(&["check", dir.to_str().unwrap(), "--include", "*.txt"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no files to check"));
    fs::write(dir.join("broken.gz"), &gzip(&b"x".repeat(10000))[..30]).unwrap();
    let broken = logscrub(&["check", dir.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(2));
}

#[test]
fn check_json_gives_positions_and_keyed_fingerprints_never_the_secret() {
    let tmp = temp_dir("check-json");
    let dir = tmp.path();
    let a = "login user=jane password=hunter2hunter2 ok\n";
    let b = "fine\nretry password=hunter2hunter2\nother password=Zq8xY2vB4nM6kL0p\n\
             -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7VJTUt9Us8cKjMzEfYyjiWA4R4ypbZ8Y\n-----END RSA PRIVATE KEY-----\n";
    fs::write(dir.join("a.log"), a).unwrap();
    fs::write(dir.join("b.log"), b).unwrap();
    let run = |key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logscrub"));
        cmd.args(["check", "--json", dir.to_str().unwrap()]).env_remove("LOGSCRUB_HASH_KEY");
        if let Some(key) = key {
            cmd.env("LOGSCRUB_HASH_KEY", key);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8(out.stdout).unwrap();
        for secret in ["hunter2hunter2", "Zq8xY2vB4nM6kL0p", "MIIEowIBAAKCAQEA"] {
            assert!(!text.contains(secret), "{text}");
        }
        let found: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        found
    };
    let plain = run(None);
    let at = |v: &serde_json::Value| {
        (v["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), v["line"].as_u64().unwrap())
    };
    let names: Vec<(String, u64, &str)> =
        plain.iter().map(|v| (at(v).0, at(v).1, v["rule"].as_str().unwrap())).collect();
    assert_eq!(
        names,
        [
            ("a.log".into(), 1, "password-assignment"),
            ("b.log".into(), 2, "password-assignment"),
            ("b.log".into(), 3, "password-assignment"),
            ("b.log".into(), 5, "private-key"),
        ]
    );
    // The span is the secret's bytes in its line; no key, no fingerprint.
    let span = |v: &serde_json::Value| v["start"].as_u64().unwrap() as usize..v["end"].as_u64().unwrap() as usize;
    assert_eq!(&a[span(&plain[0])], "hunter2hunter2");
    assert_eq!(&b.lines().nth(2).unwrap()[span(&plain[2])], "Zq8xY2vB4nM6kL0p");
    // A key block is listed where `scrub` masks it: its body line, whole.
    assert_eq!(&b.lines().nth(4).unwrap()[span(&plain[3])], "MIIEowIBAAKCAQEA7VJTUt9Us8cKjMzEfYyjiWA4R4ypbZ8Y");
    assert_eq!(plain[0]["category"], "credential");
    assert!(plain.iter().all(|v| v.get("fingerprint").is_none()));
    // With a key, one password in two files has one fingerprint; another
    // has its own; another key gives others; a key block has none.
    let keyed = run(Some("0123456789abcdef-test-key"));
    let print = |v: &serde_json::Value| v["fingerprint"].as_str().map(str::to_string);
    assert!(print(&keyed[0]).is_some_and(|p| p.len() == 16));
    assert_eq!(print(&keyed[0]), print(&keyed[1]));
    assert_ne!(print(&keyed[0]), print(&keyed[2]));
    assert_eq!(print(&keyed[3]), None);
    assert_ne!(print(&run(Some("another-key-of-16-bytes-or-more"))[0]), print(&keyed[0]));
}

#[test]
fn check_json_prints_no_secret_of_any_rules_examples() {
    // Every one-line example of every rule, in one file: the output names
    // rules, positions and fingerprints, never what they found.
    let redactor = logscrub::Redactor::builder().packs(["all"]).build().unwrap();
    let (mut text, mut secrets) = (String::new(), Vec::new());
    for rule in redactor.rules() {
        for e in rule.positive().iter().filter(|e| !e.input.contains('\n')) {
            let secret = common::secret_of(e);
            if secret.len() >= 8 {
                secrets.push(secret.to_string());
            }
            text.push_str(&e.input);
            text.push('\n');
        }
    }
    let tmp = temp_dir("check-json-all");
    let path = tmp.path().join("examples.log");
    fs::write(&path, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(["check", "--json", "--packs", "all", path.to_str().unwrap()])
        .env("LOGSCRUB_HASH_KEY", "0123456789abcdef-test-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.lines().count() >= secrets.len() / 2, "{printed}");
    for secret in &secrets {
        assert!(!printed.contains(secret.as_str()), "{secret} printed");
    }
}

#[test]
fn check_lists_exactly_the_lines_scrub_changes() {
    // Every example of every rule (key blocks across lines included),
    // their look-alikes, a long line and clean lines: the lines check
    // names are the lines scrub's output differs in, no more, no fewer.
    let redactor = logscrub::Redactor::builder().packs(["all"]).build().unwrap();
    let mut text = String::new();
    for rule in redactor.rules() {
        for input in rule.positive().iter().map(|e| e.input.as_str()).chain(rule.negative().iter().map(String::as_str))
        {
            text.push_str(input);
            text.push_str("\nall fine here\n");
        }
    }
    text.push_str(&format!("{} password=hunter2hunter2 {}\n", "x".repeat(65_530), "y".repeat(70_000)));
    let tmp = temp_dir("check-agrees");
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("app.log"), &text).unwrap();
    let max = ["--packs", "all", "--max-line", "65536"];
    let scrubbed =
        logscrub(&[&["scrub", "-q", "--out", out.to_str().unwrap()], &max[..], &[src.to_str().unwrap()]].concat());
    assert!(scrubbed.status.success());
    let after = fs::read_to_string(out.join("app.log")).unwrap();
    let changed: Vec<usize> =
        text.lines().zip(after.lines()).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i + 1).collect();
    assert_eq!(text.lines().count(), after.lines().count(), "no rule here drops a line");
    let checked = logscrub(&[&["check"], &max[..], &[src.join("app.log").to_str().unwrap()]].concat());
    let mut named: Vec<usize> = String::from_utf8_lossy(&checked.stdout)
        .lines()
        .map(|l| l.rsplit(':').nth(1).unwrap().parse().unwrap())
        .collect();
    named.dedup();
    assert!(changed.len() > 1000, "{}", changed.len());
    assert_eq!(named, changed);
}

/// `logscrub ARGS` with `input` on its standard input.
fn logscrub_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn check_reads_pipes_and_stdin_and_scrub_refuses_them_clearly() {
    // A gate fed through a pipe must read it: a pipe named on the command
    // line was once skipped as "not a file", and check said clean.
    let dirty = b"fine\nlogin password=hunter2hunter2\n";
    for (path, input) in [("-", dirty.to_vec()), ("/dev/stdin", dirty.to_vec()), ("-", gzip(dirty))] {
        let out = logscrub_with_stdin(&["check", path], &input);
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{path}:2:password-assignment\n"));
    }
    assert_eq!(logscrub_with_stdin(&["check", "-"], b"all fine\n").status.code(), Some(0));
    // scrub writes files: a pipe or stdin is an error that says what to use.
    let tmp = temp_dir("pipes");
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = tmp.path().join("out");
    for path in [fifo.to_str().unwrap(), "-", "/dev/null"] {
        let run = logscrub(&["scrub", "-q", "--out", out.to_str().unwrap(), path]);
        assert_eq!(run.status.code(), Some(2), "{path}");
        assert!(String::from_utf8_lossy(&run.stderr).contains("no subcommand"), "{path}");
    }
}

#[test]
fn linked_files_are_read_once_and_never_replaced_through_a_link() {
    // A gate that skipped links once called a directory of linked logs
    // clean. Links are followed; a file reached by several paths is done
    // once; in place, a link to a file outside the tree is refused (the
    // rename would replace the link and leave the secret in its target);
    // a dangling link fails alone; a loop hides nothing and is passed over.
    use std::os::unix::fs::symlink;
    let tmp = temp_dir("links");
    let root = tmp.path();
    let (logs, outside) = (root.join("logs"), root.join("outside"));
    fs::create_dir_all(logs.join("real")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(logs.join("real/app.log"), "login password=hunter2hunter2\n").unwrap();
    fs::write(outside.join("other.log"), "login password=Zq8xY2vB4nM6kL0p\n").unwrap();
    symlink("real/app.log", logs.join("app.log")).unwrap();
    symlink("real", logs.join("also")).unwrap();
    symlink("../outside/other.log", logs.join("other.log")).unwrap();
    symlink("nowhere.log", logs.join("dangling.log")).unwrap();
    symlink("..", logs.join("real/up")).unwrap();
    let checked = logscrub(&["check", logs.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2), "the dangling link fails");
    let named = String::from_utf8_lossy(&checked.stdout).replace(&format!("{}/", logs.display()), "");
    assert_eq!(named, "also/app.log:1:password-assignment\nother.log:1:password-assignment\n");
    assert!(String::from_utf8_lossy(&checked.stderr).contains("dangling.log: cannot follow the symbolic link"));

    // The manifest in the test's own directory, not the working one.
    let manifest = root.join("manifest.jsonl");
    let in_place = |dir: &Path| {
        logscrub(&["scrub", "-q", "--in-place", dir.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()])
    };
    let run = in_place(&logs);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("other.log: reached through a symbolic link"), "{stderr}");
    assert_eq!(
        fs::read_to_string(logs.join("real/app.log")).unwrap(),
        "login password=[REDACTED:password-assignment]\n"
    );
    assert!(fs::symlink_metadata(logs.join("other.log")).unwrap().file_type().is_symlink(), "the link is kept");
    assert!(fs::read_to_string(outside.join("other.log")).unwrap().contains("Zq8x"), "its target is not ours");

    // A file with two hard links: in place would scrub one name only.
    let hard = root.join("hard");
    fs::create_dir_all(&hard).unwrap();
    fs::write(hard.join("a.log"), "login password=hunter2hunter2\n").unwrap();
    fs::hard_link(hard.join("a.log"), outside.join("b.log")).unwrap();
    let run = in_place(&hard);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("has 2 hard links"));
    assert!(fs::read_to_string(outside.join("b.log")).unwrap().contains("hunter2"), "untouched");
}

#[test]
fn check_finds_a_secret_across_the_edge_of_a_long_lines_window() {
    // A line past --max-line is looked at in windows; wherever the secret
    // falls against a window's edge, check finds it (it once said such a
    // file was clean, where scrub masked it), at its place in the line.
    let tmp = temp_dir("check-long");
    for pad in (65_500..65_560).step_by(6) {
        let line = format!("{} password=hunter2hunter2 ok\n", "x".repeat(pad));
        let path = tmp.path().join(format!("long-{pad}.log"));
        fs::write(&path, format!("first\n{line}")).unwrap();
        let out = logscrub(&["check", "--json", "--max-line", "65536", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "pad {pad}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (start, end) = (v["start"].as_u64().unwrap() as usize, v["end"].as_u64().unwrap() as usize);
        assert_eq!((v["line"].as_u64(), &line[start..end]), (Some(2), "hunter2hunter2"), "pad {pad}");
    }
}

#[test]
fn check_in_a_structured_format_agrees_with_scrub() {
    let tmp = temp_dir("check-format");
    let dir = tmp.path();
    let cri = "2024-05-01T10:00:00.000000001Z stdout P password=hunt\n\
               2024-05-01T10:00:00.000000002Z stdout F er2hunter2 done\n\
               2024-05-01T10:00:01.000000000Z stdout F all fine\n";
    fs::write(dir.join("app.cri"), cri).unwrap();
    fs::write(dir.join("app.jsonl"), "{\"msg\":\"ok\",\"api_key\":\"k1\"}\n{\"msg\":\"ok\"}\n").unwrap();
    let run = |file: &str, format: &str| {
        let out = logscrub(&["check", "--format", format, dir.join(file).to_str().unwrap()]);
        (out.status.code(), String::from_utf8_lossy(&out.stdout).replace(&format!("{}/", dir.display()), ""))
    };
    // The password split over a P and an F record is found whole, at the
    // line that completes it; as raw text only its first half is.
    assert_eq!(run("app.cri", "cri"), (Some(1), "app.cri:2:password-assignment\n".to_string()));
    assert_eq!(run("app.cri", "raw"), (Some(1), "app.cri:1:password-assignment\n".to_string()));
    // A value under a secret-named key is a finding, as scrub masks it.
    assert_eq!(run("app.jsonl", "json"), (Some(1), "app.jsonl:1:field\n".to_string()));
    // As JSON: the rule and its category, and no span (the secret lies in a
    // decoded value, not at a byte range of the line).
    let out = logscrub(&["check", "--json", "--format", "cri", dir.join("app.cri").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["line"].as_u64(), v["rule"].as_str(), v["category"].as_str()),
        (Some(2), Some("password-assignment"), Some("credential"))
    );
    assert!(v.get("start").is_none() && v.get("fingerprint").is_none());
}

/// `scrub -j JOBS --out OUT SRC --report` with a hash key: the report's
/// entry for the one file in `src`, without its path.
fn split_report(src: &Path, jobs: &str, out: &Path) -> serde_json::Value {
    let report = out.with_extension("json");
    let run = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(["scrub", "-q", "-j", jobs, "--out", out.to_str().unwrap(), src.to_str().unwrap(), "--report"])
        .arg(&report)
        .env("LOGSCRUB_HASH_KEY", "0123456789abcdef-split-key")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(report).unwrap()).unwrap();
    let mut file = doc["files"][0].clone();
    file.as_object_mut().unwrap().remove("path");
    file
}

#[test]
fn a_split_files_report_is_what_one_thread_reports() {
    // Over 32 MiB on two threads: scrubbed in chunks, each by a stream of
    // its own, whose records must land at their offsets in the file.
    let tmp = temp_dir("split-report");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let mut text = String::with_capacity(34 << 20);
    let mut i = 0;
    while text.len() < (33 << 20) {
        match i % 1000 {
            0 => text.push_str(&format!("{i} POST /login user=jane password=hunter2-{i}-xyzzy ok\n")),
            500 => text.push_str(
                "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj\n-----END PRIVATE KEY-----\n",
            ),
            _ => text.push_str(&format!("{i} GET /api/items/{i} 200 12ms ok\n")),
        }
        i += 1;
    }
    fs::write(src.join("big.log"), &text).unwrap();
    let split = split_report(&src, "2", &tmp.path().join("split"));
    assert!(split == split_report(&src, "1", &tmp.path().join("whole")), "the report differs from one thread's");
    let ranges = split["ranges"]["password-assignment"].as_array().unwrap();
    assert_eq!(ranges.len(), i / 1000 + 1);
    for r in ranges {
        let (a, b) = (r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize);
        assert!(text[a..b].starts_with("hunter2-") && text[a..b].ends_with("-xyzzy"));
    }
    assert_eq!(split["fingerprints"]["password-assignment"].as_object().unwrap().len(), ranges.len());
}

#[test]
fn a_file_split_into_chunks_comes_out_as_the_filter_masks_it_whole() {
    // One plain file over 32 MiB and two threads: it holds more than a
    // thread's share of the bytes, so it is scrubbed in chunks, in
    // parallel, cut near every 8 MiB. A PuTTY key opens just before every
    // MiB, so some chunk cuts fall inside one, and a PEM key that never
    // ends opens just before the last cut.
    let tmp = temp_dir("split");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let mut text = String::with_capacity(36 << 20);
    let mut i = 0;
    let mut next_putty = (1 << 20) - 400;
    let mut unended = false;
    while text.len() < (33 << 20) + 4096 {
        if text.len() >= next_putty {
            text.push_str("PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 12\n");
            for _ in 0..12 {
                text.push_str("AAABAQRAWKEYLINEx9Zm0xQ2wAAABAQCx9Zm0xQ2w\n");
            }
            text.push_str("Private-MAC: 7f3ad21c\n");
            next_putty += 1 << 20;
        }
        if !unended && text.len() >= (32 << 20) - 500 {
            text.push_str("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIRAWKEYLINE\n");
            unended = true;
        }
        if i % 20_000 == 19_999 {
            text.push_str("-----BEGIN PRIVATE KEY-----\n");
            for _ in 0..200 {
                text.push_str("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n");
            }
            text.push_str("-----END PRIVATE KEY-----\n");
        }
        if i % 100 == 0 {
            text.push_str(&format!("{i} POST /login 200 user=jane password=hunter2-{i}-xyzzy ok\n"));
        } else {
            text.push_str(&format!("{i} GET /api/items/{i} 200 12ms ok\n"));
        }
        i += 1;
    }
    let file = src.join("big.log");
    fs::write(&file, &text).unwrap();
    // With a report, its ranges and fingerprints are those of one thread,
    // which scrubs the file whole. Here one stream carries over every cut.
    let out = dir.join("out");
    let (split, whole) = (split_report(&src, "2", &out), split_report(&src, "1", &dir.join("whole")));
    assert!(split == whole, "the chunked scrub's report differs from one thread's");
    assert!(split["ranges"]["password-assignment"].as_array().unwrap().len() > 8000);
    let filtered = Command::new(env!("CARGO_BIN_EXE_logscrub")).stdin(File::open(&file).unwrap()).output().unwrap();
    assert!(filtered.status.success());
    let scrubbed = fs::read(out.join("big.log")).unwrap();
    assert!(scrubbed == filtered.stdout, "the chunked scrub differs from the filter");
    assert!(memchr::memmem::find(&scrubbed, b"hunter2").is_none());
    assert!(memchr::memmem::find(&scrubbed, b"RAWKEYLINE").is_none(), "a key cut by a chunk boundary leaked");
    // (The chunks' checksums are checked against whole-file ones by the
    // unit tests in crates/cli/batch.)
}

#[test]
fn utf16_files_are_scrubbed_and_written_back_in_utf16() {
    let tmp = temp_dir("utf16");
    let dir = tmp.path();
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let utf16 = |text: &str| -> Vec<u8> {
        std::iter::once(0xFEFF).chain(text.encode_utf16()).flat_map(u16::to_le_bytes).collect()
    };
    fs::write(src.join("transcript.txt"), utf16(&log_text("ps", 20))).unwrap();
    fs::write(src.join("events.txt.gz"), gzip(&utf16(&log_text("ev", 20)))).unwrap();
    // Nothing to mask: its copy, compared in UTF-16, is the file itself.
    let clean: String = (0..2_000).map(|i| format!("GET /items/{i} 200\n")).collect();
    fs::write(src.join("clean.txt.gz"), gzip(&utf16(&clean))).unwrap();
    let (out, report) = (dir.join("out"), dir.join("report.json"));
    scrub_into(&src, &out, &report);
    assert!(fs::read(out.join("clean.txt.gz")).unwrap() == fs::read(src.join("clean.txt.gz")).unwrap());
    assert_eq!(fs::read(out.join("transcript.txt")).unwrap(), utf16(&scrubbed_text("ps", 20)));
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(&fs::read(out.join("events.txt.gz")).unwrap()[..]).read_to_end(&mut gz).unwrap();
    assert_eq!(gz, utf16(&scrubbed_text("ev", 20)));
    let report = fs::read_to_string(&report).unwrap();
    assert_eq!(report.matches("\"utf-16le\"").count(), 3, "{report}");
    let check = logscrub(&["check", src.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let found = String::from_utf8_lossy(&check.stdout);
    assert_eq!(found.lines().count(), 40, "{found}");
    assert!(found.contains("transcript.txt:20:password-assignment"), "{found}");
}

/// A tar archive as a log bundle holds one: a directory, a log with
/// secrets, a rotated one gzipped, a clean one, a member whose name needs a
/// long-name entry, and a symbolic link; each file member with its own
/// mode and time.
fn log_bundle(long: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind: tar::EntryType, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000 + u64::from(mode));
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("logs/", tar::EntryType::Directory, 0o750, b"");
    add("logs/app.log", tar::EntryType::Regular, 0o640, log_text("tar", 30).as_bytes());
    add("logs/app.log.1.gz", tar::EntryType::Regular, 0o600, &gzip(log_text("targz", 30).as_bytes()));
    add("logs/clean.log", tar::EntryType::Regular, 0o644, b"GET /health 200\n");
    add(long, tar::EntryType::Regular, 0o604, log_text("long", 3).as_bytes());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_mode(0o777);
    link.set_mtime(1_700_000_000);
    link.set_size(0);
    b.append_link(&mut link, "logs/current", "app.log").unwrap();
    b.into_inner().unwrap()
}

/// Each entry of a tar archive: path, type, mode, time and bytes (a gzip
/// member's decompressed).
fn tar_entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, u32, u64, String)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            if data.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&data[..]).read_to_end(&mut plain).unwrap();
                data = plain;
            }
            let h = e.header();
            let path = e.path().unwrap().display().to_string();
            (path, h.entry_type(), h.mode().unwrap(), h.mtime().unwrap(), String::from_utf8(data).unwrap())
        })
        .collect()
}

#[test]
fn tar_archives_are_scrubbed_member_by_member_and_keep_their_entries() {
    let tmp = temp_dir("tar");
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    fs::create_dir_all(&src).unwrap();
    let long = format!("logs/{}/deep.log", "nested".repeat(20));
    let bundle = log_bundle(&long);
    fs::write(src.join("bundle.tar"), &bundle).unwrap();
    fs::write(src.join("bundle.tgz"), gzip(&bundle)).unwrap();
    fs::write(src.join("bundle.tar.zst"), zstd::encode_all(&bundle[..], 3).unwrap()).unwrap();
    let report = tmp.path().join("report.json");
    scrub_into(&src, &out, &report);
    let want: Vec<_> = tar_entries(&bundle)
        .into_iter()
        .map(|(path, kind, mode, time, text)| {
            let text = match path.as_str() {
                "logs/app.log" => scrubbed_text("tar", 30),
                "logs/app.log.1.gz" => scrubbed_text("targz", 30),
                p if p == long => scrubbed_text("long", 3),
                _ => text,
            };
            (path, kind, mode, time, text)
        })
        .collect();
    assert_eq!(want.len(), 6);
    for name in ["bundle.tar", "bundle.tgz", "bundle.tar.zst"] {
        let bytes = fs::read(out.join(name)).unwrap();
        let tar = match name {
            "bundle.tgz" => {
                let mut t = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut t).unwrap();
                t
            }
            "bundle.tar.zst" => zstd::decode_all(&bytes[..]).unwrap(),
            _ => bytes,
        };
        assert_eq!(tar_entries(&tar), want, "{name}");
        assert!(!String::from_utf8_lossy(&tar).contains("hunter2"), "{name}");
    }
    let report: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let file =
        report["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with(".tgz")).unwrap();
    assert_eq!(file["findings"]["password-assignment"], 63);
    let members = file["members"].as_object().unwrap();
    assert_eq!(members.keys().collect::<Vec<_>>(), ["logs/app.log", "logs/app.log.1.gz", long.as_str()]);
    assert_eq!(members["logs/app.log.1.gz"]["codec"], "gzip");
    assert_eq!(members["logs/app.log"]["findings"]["password-assignment"], 30);
    assert_eq!(
        members["logs/app.log"]["ranges"]["password-assignment"][0],
        serde_json::json!([25, 40]),
        "\"tar 0 user=jane password=\" is 25 bytes"
    );
    // One thread (members scrubbed as they are read) and several (members
    // read ahead and scrubbed side by side) write the same copies.
    let one = tmp.path().join("one");
    let run = logscrub(&["scrub", "-q", "-j", "1", src.to_str().unwrap(), "--out", one.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for name in ["bundle.tar", "bundle.tgz", "bundle.tar.zst"] {
        assert!(fs::read(one.join(name)).unwrap() == fs::read(out.join(name)).unwrap(), "{name}");
    }
    // GNU tar, where it is installed, reads the copies as archives.
    if Command::new("tar").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let listed = Command::new("tar").arg("-tf").arg(out.join("bundle.tar")).output().unwrap();
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
        assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 6);
    }
}

#[test]
fn check_names_a_tar_members_findings_and_a_clean_archive_is_left_untouched() {
    use std::os::unix::fs::MetadataExt;
    let tmp = temp_dir("tar-check");
    let dir = tmp.path();
    fs::write(dir.join("bundle.tgz"), gzip(&log_bundle("logs/long.log"))).unwrap();
    let check = logscrub(&["check", dir.join("bundle.tgz").to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let found = String::from_utf8_lossy(&check.stdout);
    let path = dir.join("bundle.tgz");
    assert!(found.starts_with(&format!("{}{{logs/app.log}}:1:password-assignment\n", path.display())), "{found}");
    assert!(found.contains("{logs/app.log.1.gz}:30:password-assignment"), "{found}");
    assert_eq!(found.lines().count(), 63);
    let json = logscrub(&["check", "--json", path.to_str().unwrap()]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&json.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["member"], "logs/app.log");

    // An archive of clean logs comes out as it went in: in place, it is
    // not replaced.
    // A clean archive: two logs, one of them gzipped (kept as it was, not
    // compressed again).
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [("a.log", b"GET /health 200\n".to_vec()), ("b.log.1.gz", gzip(b"GET /health 200\n"))] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let mut clean = b.into_inner().unwrap();
    clean.resize(clean.len().next_multiple_of(10240), 0);
    let src = dir.join("clean");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("clean.tar"), &clean).unwrap();
    fs::write(src.join("clean.tar.gz"), gzip(&clean)).unwrap();
    let stat = |name: &str| fs::metadata(src.join(name)).map(|m| (m.ino(), m.ctime(), m.ctime_nsec())).unwrap();
    let before = (stat("clean.tar"), stat("clean.tar.gz"));
    std::thread::sleep(Duration::from_millis(20));
    let manifest = dir.join("m.jsonl");
    let run = logscrub(&["scrub", "-q", "--in-place", src.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!((stat("clean.tar"), stat("clean.tar.gz")), before);
    assert_eq!(logscrub(&["check", src.to_str().unwrap()]).status.code(), Some(0));

    // A gzip member whose header holds a comment is compressed again, the
    // comment left out, though its content is clean.
    let mut gz = flate2::GzBuilder::new().comment("password=hunter2").write(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"GET /health 200\n").unwrap();
    let gz = gz.finish().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(gz.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "c.log.gz", &gz[..]).unwrap();
    let commented = b.into_inner().unwrap();
    fs::write(src.join("commented.tar"), &commented).unwrap();
    let out = dir.join("out");
    let run = logscrub(&["scrub", "-q", src.join("commented.tar").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let copy = fs::read(out.join("commented.tar")).unwrap();
    assert!(!String::from_utf8_lossy(&copy).contains("hunter2"));
    assert_eq!(tar_entries(&copy)[0].4, "GET /health 200\n");
}

#[test]
fn a_tar_with_a_binary_or_sparse_member_fails_alone_and_is_never_touched() {
    let tmp = temp_dir("tar-binary");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(log_text("t", 2).len() as u64);
    b.append_data(&mut h, "app.log", log_text("t", 2).as_bytes()).unwrap();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR password=hunter2";
    h.set_size(png.len() as u64);
    b.append_data(&mut h, "logo.png", &png[..]).unwrap();
    let binary = b.into_inner().unwrap();
    fs::write(src.join("binary.tar"), &binary).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(0);
    b.append_data(&mut h, "holes.log", std::io::empty()).unwrap();
    let sparse = b.into_inner().unwrap();
    fs::write(src.join("sparse.tar"), &sparse).unwrap();
    // A gzipped member cut short, read ahead with others.
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("a.log.gz", gzip(log_text("a", 2).as_bytes())),
        ("cut.log.gz", gzip(log_text("c", 50).as_bytes())[..40].to_vec()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    let cut = b.into_inner().unwrap();
    fs::write(src.join("cut.tar"), &cut).unwrap();
    // An archive cut short: plain, and gzipped (cut inside a member).
    let bundle = log_bundle("logs/long.log");
    fs::write(src.join("short.tar"), &bundle[..1500]).unwrap();
    fs::write(src.join("short.tgz"), &gzip(&bundle)[..700]).unwrap();
    fs::write(src.join("app.log"), log_text("x", 2)).unwrap();
    let manifest = tmp.path().join("m.jsonl");
    let run = logscrub(&["scrub", "--in-place", src.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("binary.tar: member logo.png: looks binary"), "{err}");
    assert!(err.contains("sparse.tar: member holes.log is sparse"), "{err}");
    assert!(err.contains("cut.tar: member cut.log.gz: "), "{err}");
    assert!(err.contains("short.tar: cannot read the archive: "), "{err}");
    assert!(err.contains("short.tgz: cannot read the archive: corrupt or truncated gzip data"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(fs::read(src.join("binary.tar")).unwrap(), binary);
    assert_eq!(fs::read(src.join("sparse.tar")).unwrap(), sparse);
    assert_eq!(fs::read(src.join("cut.tar")).unwrap(), cut);
    assert_eq!(fs::read_to_string(src.join("app.log")).unwrap(), scrubbed_text("x", 2));
    assert_eq!(fs::read_dir(&src).unwrap().count(), 6, "no temporary file is left");
    // With --text every member is taken as text.
    let binary_tar = src.join("binary.tar");
    let args =
        ["scrub", "-q", "--text", "--in-place", binary_tar.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()];
    let run = logscrub(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(!String::from_utf8_lossy(&fs::read(src.join("binary.tar")).unwrap()).contains("hunter2"));
    let check = logscrub(&["check", src.join("sparse.tar").to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn a_report_lists_at_most_ten_thousand_members_and_counts_the_rest() {
    let tmp = temp_dir("tar-many");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let line = b"login password=hunter2hunter2\n";
    for i in 0..10_002 {
        let mut h = tar::Header::new_gnu();
        h.set_size(line.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("logs/{i}.log"), &line[..]).unwrap();
    }
    fs::write(src.join("many.tar"), b.into_inner().unwrap()).unwrap();
    let report = tmp.path().join("report.json");
    scrub_into(&src, &tmp.path().join("out"), &report);
    let report: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let file = &report["files"][0];
    assert_eq!(file["findings"]["password-assignment"], 10_002);
    assert_eq!(file["members"].as_object().unwrap().len(), 10_000);
    assert_eq!(file["members_omitted"], 2);
}
