//! Bench inputs, shared by the criterion bench and the throughput script.
//!
//! (a) real clean logs: every `*.log` under `../shared/corpora` when it is
//! there, else generated lines of the same shapes; (b) the same with one
//! line in a hundred replaced by a line that carries a secret or personal
//! data, taken from the rules' own positive examples.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use logscrub::Redactor;

/// Every `*.log` under `../shared/corpora`, sorted; empty without it.
pub fn files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora");
    let mut files: Vec<PathBuf> = ["loghub", "access_logs"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
}

/// The bytes of the clean corpus and where they came from.
pub fn clean(min_len: usize) -> (Vec<u8>, String) {
    let files = files();
    let mut buf = Vec::new();
    for f in &files {
        let mut bytes = std::fs::read(f).unwrap_or_default();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        buf.extend_from_slice(&bytes);
    }
    let source = if buf.is_empty() {
        buf = generated(min_len);
        "generated lines (../shared/corpora not found)".to_string()
    } else {
        format!("{} files of ../shared/corpora ({} bytes)", files.len(), buf.len())
    };
    let unit = buf.clone();
    while buf.len() < min_len {
        buf.extend_from_slice(&unit);
    }
    (buf, source)
}

/// Lines that look like real logs, for machines without ../shared.
pub fn generated(len: usize) -> Vec<u8> {
    let shapes = [
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
        "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
        "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash/kibana-search.png HTTP/1.1\" 200 203023",
        "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application",
        "{\"ts\":\"2024-05-01T10:00:00.123Z\",\"level\":\"info\",\"msg\":\"request done\",\"path\":\"/api/v1/items\",\"status\":200,\"ms\":12}",
        "level=info ts=2024-05-01T10:00:00Z caller=main.go:42 msg=\"cache refreshed\" entries=1532 duration=12.5ms",
    ];
    let mut out = Vec::with_capacity(len + 256);
    let mut i = 0usize;
    while out.len() < len {
        out.extend_from_slice(shapes[i % shapes.len()].as_bytes());
        out.extend_from_slice(format!(" seq={i}\n").as_bytes());
        i += 1;
    }
    out
}

/// Clean lines in other scripts (Chinese, Japanese, Korean, Russian, Greek,
/// Arabic), where a rule that names words beyond ASCII wakes on most lines:
/// what such logs cost.
pub fn scripts(len: usize) -> Vec<u8> {
    let words = [
        ["用户", "登录", "成功", "会话", "已", "建立", "请求", "处理", "完成", "缓存"],
        ["ユーザー", "ログイン", "完了", "セッション", "開始", "要求", "処理", "終了", "キャッシュ", "更新"],
        ["사용자", "로그인", "성공", "세션", "생성", "요청", "처리", "완료", "캐시", "갱신"],
        ["пользователь", "вошёл", "сеанс", "создан", "запрос", "обработан", "успешно", "кэш", "обновлён", "сервер"],
        [
            "χρήστης",
            "συνδέθηκε",
            "συνεδρία",
            "ξεκίνησε",
            "αίτημα",
            "ολοκληρώθηκε",
            "επιτυχώς",
            "μνήμη",
            "ενημερώθηκε",
            "διακομιστής",
        ],
        ["المستخدم", "سجل", "الدخول", "الجلسة", "بدأت", "الطلب", "اكتمل", "بنجاح", "الذاكرة", "حدثت"],
    ];
    let mut out = Vec::with_capacity(len + 256);
    let mut i = 0usize;
    while out.len() < len {
        let script = &words[i % words.len()];
        let text: Vec<&str> = (0..8).map(|k| script[(i * 7 + k * 3) % script.len()]).collect();
        let line = format!(
            "2024-05-01T10:{:02}:{:02}.{:03}Z INFO [worker-{}] {} status=200 seq={i}\n",
            i / 60 % 60,
            i % 60,
            i % 1000,
            i % 8,
            text.join(" ")
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

/// `clean` with every hundredth line replaced by a secret-bearing line.
/// Returns the bytes and how many lines were planted.
pub fn dirty(clean: &[u8], redactor: &Redactor) -> (Vec<u8>, usize) {
    let secrets: Vec<String> = redactor
        .rules()
        .filter(|r| redactor.is_enabled(r.id()) && r.mask().to_string() != "drop")
        .flat_map(|r| r.positive().iter().map(|e| e.input.replace('\n', " ")))
        // A key block that never ends masks the rest of the input (fail
        // closed): plant only lines that leave none open.
        .filter(|l| {
            let mut stream = redactor.stream(std::io::sink());
            stream.write_all(l.as_bytes()).and_then(|()| stream.write_all(b"\n")).is_ok() && stream.at_rest()
        })
        .collect();
    let mut out = Vec::with_capacity(clean.len() + clean.len() / 50);
    let mut planted = 0;
    for (i, line) in clean.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() && i > 0 && out.len() >= clean.len() {
            break;
        }
        if i % 100 == 99 {
            out.extend_from_slice(secrets[planted % secrets.len()].as_bytes());
            planted += 1;
        } else {
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }
    (out, planted)
}

/// A plain memchr line count: the practical speed limit of any line
/// filter, measured beside the engine as the baseline.
pub fn line_count(buf: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', buf).count()
}

/// A typical clean line and one carrying a password, 100 bytes each (the
/// engine issue's latency bar is for a 100-byte line).
pub const CLEAN_LINE: &[u8] =
    b"2024-05-01T10:00:00.123Z INFO [worker-7] request GET /api/v1/items?page=2 done status=200 in 12.55ms";
pub const DIRTY_LINE: &[u8] =
    b"2024-05-01T10:00:00.123Z WARN [auth-3] login retry user=jane password=hunter2hunter2 from 10.0.0.170";
