#!/usr/bin/env python3
"""logscrub against the tools a user would otherwise pick, on the same inputs
in one run: speed (MB/s, peak RSS, ratio to logscrub and to `wc -l`) and what
each one catches (planted secrets masked, clean lines changed).

Inputs, written to a scratch directory:
  real   real logs (../shared/corpora when present, else generated lines)
  dirty  the same with 1 line in 100 replaced by a line with a planted secret
  dense  every line carries a planted secret
  real-large, dirty-1pct-large
         the first two at archive size (--large-mb, 1 GB by default), where
         start-up no longer counts and a tool that holds its whole input in
         memory shows it; Python is left out there (at about 5 MB/s it
         would take minutes a run)

Each tool's start-up (its run on an empty input) is measured too, and each
row gives its MB/s with and without it.

Tools: logscrub (stdin filter, default packs), ripgrep (--passthru --replace
with the regex set below), the scrubbers crate's CLI (its default signatures),
and Python re.sub with the same regex set. A tool that is not installed is
reported as missing, not skipped silently. Run through benches/compare/run.sh,
which builds logscrub and installs the peers.

The regex set is what a careful engineer would write for the same kinds; it
is shared by ripgrep and Python so that they are judged on equal terms.
"""

import argparse
import base64
import collections
import datetime
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"

# One regex per kind, whole match replaced. Valid in Rust regex and Python re.
PEER_REGEXES = [
    r"AKIA[0-9A-Z]{16}",
    r"(?i:aws_secret_access_key)\s*[=:]\s*[A-Za-z0-9/+]{40}",
    r"gh[pousr]_[A-Za-z0-9]{36}",
    r"xox[baprs]-[A-Za-z0-9-]{10,}",
    r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"sk-proj-[A-Za-z0-9_-]{20,}",
    r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
    r"(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*",
    r"(?i:password|passwd|pwd)[\x22']?\s*[=:]\s*[\x22']?[^\s\x22',;&]+",
    r"(?i:x-api-key|api[_-]?key)[\x22']?\s*[=:]\s*[\x22']?[A-Za-z0-9_-]{16,}",
    r"(?i:cookie):\s*[^\r\n]+",
    r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"\b(?:\d[ -]?){13,19}\b",
    r"\+?1?[ .-]?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b",
    r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",
    r"\b\d{3}-\d{2}-\d{4}\b",
    r"^[A-Za-z0-9+/]{64}$",
]

LOG_PREFIXES = [
    "2024-05-01 10:00:{s:02d},{ms:03d} INFO  [http-nio-8080-exec-{t}] c.e.api.RequestLogger:",
    "May  1 10:00:{s:02d} web-{t} app[{pid}]:",
    '{{"ts":"2024-05-01T10:00:{s:02d}.{ms:03d}Z","level":"debug","msg":',
    "level=warn ts=2024-05-01T10:00:{s:02d}Z caller=handler.go:{pid} msg=",
]


def luhn_digit(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = int(d)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def iban_de(rng):
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    num = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    check = 98 - num % 97
    return f"DE{check:02d}{bban}"


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def planted(rng):
    """One planted line: (kind, the text of the line, the secret it carries).
    A tool masked it when the secret no longer appears in its output line."""
    kind = rng.choice(KINDS)
    secret, body = kind[1](rng)
    return kind[0], body, secret


def _card(rng):
    d = "4" + rand(rng, "0123456789", 14)
    d += luhn_digit(d)
    shown = " ".join(d[i : i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else d
    return shown, f"payment authorised card={shown} amount=12.50 currency=EUR"


def _phone(rng):
    n = f"+1 {rng.randint(201, 989)} 555 {rng.randint(1000, 9999)}"
    return n, f"sms sent to {n} template=otp"


def _ssn(rng):
    s = f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    return s, f"kyc check passed ssn {s} for applicant"


def _jwt(rng):
    tok = ".".join([b64url({"alg": "HS256", "typ": "JWT"}), b64url({"sub": rand(rng, ALNUM, 8), "iat": 1714557600}), rand(rng, B64URL, 43)])
    return tok, f"upstream call token={tok} status=200"


def _pem(rng):
    line = rand(rng, B64, 64)
    return line, line  # the body line of a private key block, on its own line


KINDS = [
    ("aws-access-key-id", lambda r: (s := "AKIA" + rand(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), f"assumed role with key {s} region=eu-west-1")),
    ("aws-secret-key", lambda r: (s := rand(r, B64, 40), f"export AWS_SECRET_ACCESS_KEY={s}")),
    ("github-token", lambda r: (s := "ghp_" + rand(r, ALNUM, 36), f"git clone https://x-access-token:{s}@github.com/org/repo.git")),
    ("slack-token", lambda r: (s := f"xoxb-{r.randint(10**10, 10**11)}-{r.randint(10**10, 10**11)}-{rand(r, ALNUM, 24)}", f"slack client init token {s}")),
    ("stripe-key", lambda r: (s := "sk_live_" + rand(r, ALNUM, 24), f"stripe.api_key = {s}")),
    ("gcp-api-key", lambda r: (s := "AIza" + rand(r, B64URL, 35), f"GET /maps/api/geocode/json?address=x&key={s} 200")),
    ("openai-key", lambda r: (s := "sk-proj-" + rand(r, B64URL, 48), f"llm client configured api_key: {s}")),
    ("jwt", _jwt),
    ("bearer", lambda r: (s := rand(r, ALNUM, 40), f"Authorization: Bearer {s}")),
    ("password-kv", lambda r: (s := rand(r, ALNUM + "!#%", 14), f"db connect host=db1 user=app password={s} retries=2")),
    ("password-json", lambda r: (s := rand(r, ALNUM, 12), f'{{"event":"signup","user":"jane","password":"{s}"}}')),
    ("api-key-header", lambda r: (s := rand(r, "0123456789abcdef", 32), f"forwarding header X-Api-Key: {s}")),
    ("cookie", lambda r: (s := rand(r, ALNUM, 32), f"request headers Cookie: sessionid={s}; theme=dark")),
    ("db-url", lambda r: (s := rand(r, ALNUM, 16), f"connecting to postgres://app:{s}@db.internal:5432/orders")),
    ("email", lambda r: (s := f"{rand(r, 'abcdefghijklmnopqrstuvwxyz', 7)}.{rand(r, 'abcdefghijklmnopqrstuvwxyz', 5)}@example.org", f"password reset mail queued for {s}")),
    ("credit-card", _card),
    ("phone", _phone),
    ("iban", lambda r: (s := iban_de(r), f"sepa transfer to iban={s} accepted")),
    ("us-ssn", _ssn),
    ("pem-private-key", _pem),
]


def wrap(rng, kind, body):
    """The planted body inside a realistic log line (a PEM body stays bare,
    inside its BEGIN/END lines, which the caller writes around it)."""
    if kind == "pem-private-key":
        return body
    p = rng.choice(LOG_PREFIXES).format(s=rng.randint(0, 59), ms=rng.randint(0, 999), t=rng.randint(1, 9), pid=rng.randint(100, 9999))
    if p.endswith(":"):
        return f"{p} {body}"
    return f"{p}{json.dumps(body)}}}" if p.startswith("{") else f"{p}{json.dumps(body)}"


def real_lines(size):
    files = sorted(p for d in ("loghub", "access_logs") for p in (CORPORA / d).glob("*.log")) if CORPORA.exists() else []
    unit = []
    for f in files:
        unit.extend(f.read_bytes().decode("utf-8", "replace").splitlines())
    source = f"{len(files)} files of ../shared/corpora" if unit else "generated lines (no ../shared/corpora)"
    if not unit:
        rng = random.Random(7)
        unit = [wrap(rng, "none", f"request done path=/api/v1/items/{i} status=200 ms={i % 97}") for i in range(20000)]
    lines, total = [], 0
    while total < size:
        for line in unit:
            lines.append(line)
            total += len(line) + 1
            if total >= size:
                break
    return lines, source


def plant(lines, every, seed):
    """Replaces one line in `every` with a planted one. Returns the new lines
    and the ground truth: line index -> (kind, secret)."""
    rng = random.Random(seed)
    out, truth = [], {}
    for i, line in enumerate(lines):
        if i % every != every - 1:
            out.append(line)
            continue
        kind, body, secret = planted(rng)
        if kind == "pem-private-key":
            out.append("-----BEGIN RSA PRIVATE KEY-----")
            truth[len(out)] = (kind, secret)
            out.append(body)
            out.append("-----END RSA PRIVATE KEY-----")
        else:
            truth[len(out)] = (kind, secret)
            out.append(wrap(rng, kind, body))
    return out, truth


class Tool:
    def __init__(self, name, argv, stdin=True, version=""):
        self.name, self.argv, self.stdin, self.version = name, argv, stdin, version


def tools(args, scratch):
    found = []
    logscrub = ROOT / "target" / "release" / "logscrub"
    found.append(Tool("logscrub", [str(logscrub)], version=run_text([str(logscrub), "--version"])))
    rg = shutil.which("rg")
    if rg:
        argv = [rg, "--no-config", "-a", "--passthru", "--no-filename", "--no-line-number", "--color", "never", "-r", "[REDACTED]"]
        for p in PEER_REGEXES:
            argv += ["-e", p]
        found.append(Tool("ripgrep", argv, version=run_text([rg, "--version"]).splitlines()[0]))
    else:
        found.append(Tool("ripgrep", None))
    scrub = shutil.which("scrubbers") or str(ROOT / "target" / "compare-tools" / "bin" / "scrubbers")
    if os.path.exists(scrub):
        found.append(Tool("scrubbers", [scrub], version="scrubbers " + scrubbers_version()))
    else:
        found.append(Tool("scrubbers", None))
    script = scratch / "python_re.py"
    script.write_text(
        "import json, re, sys\n"
        f"rx = re.compile('|'.join(json.loads({json.dumps(json.dumps(PEER_REGEXES))})).encode(), re.M)\n"
        "sys.stdout.buffer.write(rx.sub(b'[REDACTED]', sys.stdin.buffer.read()))\n"
    )
    found.append(Tool("python-re", [sys.executable, str(script)], version=f"Python {platform.python_version()}"))
    return [t for t in found if args.tools is None or t.name in args.tools]


def scrubbers_version():
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    crates = ROOT / "target" / "compare-tools" / ".crates.toml"
    for f in (crates, cargo_home / ".crates.toml"):
        if f.exists():
            m = re.search(r'"scrubbers ([0-9.]+)', f.read_text())
            if m:
                return m.group(1)
    return "?"


def run_text(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def timed(argv, src, dst, scratch):
    """Runs argv with src on stdin and dst as stdout; returns (seconds,
    peak RSS in MiB, exit status). GNU time reports the peak: the rusage of
    a child of this (large) Python process would count its pre-exec copy."""
    rss = scratch / "rss"
    gnu_time = os.path.exists("/usr/bin/time")
    wrap = ["/usr/bin/time", "-f", "%M", "-o", str(rss)] if gnu_time else []
    with open(src, "rb") as i, open(dst, "wb") as o:
        t = time.perf_counter()
        p = subprocess.run([*wrap, *argv], stdin=i, stdout=o, stderr=subprocess.PIPE)
        took = time.perf_counter() - t
    if p.returncode != 0 and p.stderr:
        sys.stderr.write(f"{argv[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')[:300]}\n")
    # Without GNU time (apt-get install time) the peak is not measured.
    peak = int(rss.read_text().split()[-1]) / 1024 if gnu_time else float("nan")
    return took, peak, p.returncode


def best(argv, src, dst, runs, scratch):
    """One run into dst, for judging the output; then the best of `runs`
    timed into /dev/null. Into a file, a tool that writes its whole output at
    the end (scrubbers) waited on the page cache from 0.05 to 0.22 s on the
    same input from run to run, which was not its own speed."""
    first = timed(argv, src, dst, scratch)
    results = [timed(argv, src, os.devnull, scratch) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in [first, *results]), max(r[2] for r in [first, *results])


def judge(inp_lines, out_path, truth):
    """(planted masked, planted total, misses by kind, unplanted lines
    changed). Lines are compared by index when the tool kept the line count.
    Otherwise (a tool that masks newlines too, merging the lines of a key
    block) each output line is matched to the run of input lines it came
    from (see `merged`), and the secrets of those lines are looked for in it.
    """
    out = out_path.read_bytes().decode("utf-8", "replace").split("\n")
    if out and out[-1] == "":
        out.pop()
    masked, misses, changed = 0, {}, 0

    def judged(i, text):
        nonlocal masked, changed
        if i in truth:
            kind, secret = truth[i]
            if secret in text:
                misses[kind] = misses.get(kind, 0) + 1
            else:
                masked += 1
        elif text != inp_lines[i]:
            changed += 1

    if len(out) == len(inp_lines):
        for i, line in enumerate(out):
            judged(i, line)
        return masked, len(truth), misses, changed
    i = used = 0
    for line in out:
        if i == len(inp_lines):
            break
        k = merged(inp_lines, i, line)
        for x in range(i, k + 1):
            judged(x, line)
        i, used = k + 1, used + 1
    if i == len(inp_lines) and used == len(out):
        return masked, len(truth), misses, changed
    # The runs did not line up (a tool that drops or adds lines): a secret
    # is missed if it appears anywhere, a line changed if it is missing
    # from the output as a multiset (slow on large inputs).
    sys.stderr.write(f"{out_path.name}: output lines do not line up with the input; judging by content\n")
    whole = "\n".join(out)
    masked, misses = 0, {}
    for kind, secret in truth.values():
        if secret in whole:
            misses[kind] = misses.get(kind, 0) + 1
        else:
            masked += 1
    left = collections.Counter(out)
    changed = 0
    for i, line in enumerate(inp_lines):
        if i in truth:
            continue
        if left[line] > 0:
            left[line] -= 1
        else:
            changed += 1
    return masked, len(truth), misses, changed


def merged(inp_lines, i, line):
    """The last input line of the run `i..=k` that output `line` came from:
    `i` when the line is as long as input line `i` (the same line, or one
    masked in place), else the shortest run, up to 8 lines, whose lengths
    with one byte per newline add up to the line's (a tool that fills what
    it masks, newlines included, keeps lengths)."""
    if len(line) == len(inp_lines[i]):
        return i
    total = len(inp_lines[i])
    for k in range(i + 1, min(i + 8, len(inp_lines))):
        total += 1 + len(inp_lines[k])
        if total == len(line):
            return k
        if total > len(line):
            break
    return i


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=32, help="size of the real and dirty inputs")
    ap.add_argument("--large-mb", type=float, default=1024, help="size of the large real and dirty inputs; 0 skips them")
    ap.add_argument("--runs", type=int, default=3, help="best of this many runs per tool and input")
    ap.add_argument("--tools", type=lambda s: s.split(","), default=None, help="comma list; default all")
    ap.add_argument("--no-scaling", action="store_true", help="skip the multi-core runs")
    ap.add_argument("--record", type=Path, help="append the JSON record to this file")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="logscrub-compare-"))
    try:
        run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args, scratch):
    size = int(args.size_mb * 1e6)
    real, source = real_lines(size)
    dirty, dirty_truth = plant(real, 100, 1)
    dense, dense_truth = plant([""] * (size // 400), 1, 2)
    inputs = {"real": (real, {}), "dirty-1pct": (dirty, dirty_truth), "dense": (dense, dense_truth)}
    if args.large_mb > 0:
        big, _ = real_lines(int(args.large_mb * 1e6))
        big_dirty, big_truth = plant(big, 100, 3)
        inputs["real-large"] = (big, {})
        inputs["dirty-1pct-large"] = (big_dirty, big_truth)
    paths = {}
    for name, (lines, _) in inputs.items():
        paths[name] = scratch / f"{name}.log"
        with open(paths[name], "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line)
                f.write("\n")
    found = tools(args, scratch)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    print(f"machine: {machine}")
    print(f"real: {source}; sizes: " + ", ".join(f"{n} {paths[n].stat().st_size / 1e6:.1f} MB" for n in paths))
    print("tools: " + "; ".join(f"{t.name} ({t.version})" if t.argv else f"{t.name} (NOT INSTALLED)" for t in found))
    record = {"date": datetime.date.today().isoformat(), "machine": machine, "source": source, "tools": {t.name: t.version for t in found if t.argv}, "results": []}
    empty = scratch / "empty.log"
    empty.write_bytes(b"")
    startup = {t.name: best(t.argv, empty, scratch / "empty.out", args.runs, scratch)[0] for t in found if t.argv}
    print("start-up (an empty input): " + ", ".join(f"{n} {1000 * s:.0f} ms" for n, s in startup.items()))
    record["startup_ms"] = {n: round(1000 * s, 1) for n, s in startup.items()}
    for name, (lines, truth) in inputs.items():
        src = paths[name]
        mb = src.stat().st_size / 1e6
        wc, _, _ = best(["wc", "-l"], src, scratch / "wc.out", args.runs, scratch)
        base = mb / wc
        print(f"\n== {name}: {mb:.1f} MB, {len(lines)} lines, {len(truth)} planted; wc -l {base:.0f} MB/s")
        print(f"{'tool':<10} {'MB/s':>8} {'x logscrub':>10} {'% of wc -l':>10} {'no start-up':>11} {'peak RSS':>9} {'masked':>14} {'lines changed':>13}  missed kinds")
        rows = []
        for t in found:
            if not t.argv:
                print(f"{t.name:<10} not installed (benches/compare/run.sh installs it)")
                continue
            if name.endswith("-large") and t.name == "python-re":
                print(f"{t.name:<10} left out at this size (minutes a run)")
                continue
            out = scratch / f"{t.name}.out"
            took, rss, status = best(t.argv, src, out, args.runs, scratch)
            masked, total, misses, changed = judge(lines, out, truth)
            out.unlink()
            warm = mb / max(took - startup[t.name], 1e-6)
            rows.append({"input": name, "tool": t.name, "mbps": round(mb / took, 1), "mbps_no_startup": round(warm, 1), "peak_rss_mib": round(rss, 1), "exit": status, "masked": masked, "planted": total, "missed": misses, "clean_changed": changed, "wc_mbps": round(base)})
        lead = next((r["mbps"] for r in rows if r["tool"] == "logscrub"), None)
        for r in rows:
            ratio = f"{r['mbps'] / lead:.2f}" if lead else "-"
            caught = f"{r['masked']}/{r['planted']}" + (f" {100 * r['masked'] / r['planted']:.0f}%" if r["planted"] else "")
            changed = str(r["clean_changed"])
            missed = ", ".join(f"{k}:{v}" for k, v in sorted(r["missed"].items())) or "-"
            status = "" if r["exit"] == 0 else f" (exit {r['exit']})"
            print(f"{r['tool']:<10} {r['mbps']:>8.1f} {ratio:>10} {100 * r['mbps'] / base:>9.1f}% {r['mbps_no_startup']:>11.1f} {r['peak_rss_mib']:>7.1f}Mi {caught:>14} {changed:>13}  {missed}{status}")
        record["results"].extend(rows)
        if name.endswith("-large"):
            src.unlink()
    if not args.no_scaling and any(t.name == "logscrub" and t.argv for t in found):
        record["scaling"] = scaling(found[0].argv[0], paths["real"], scratch, args.runs)
    failed = [r for r in record["results"] if r["tool"] == "logscrub" and (r["exit"] != 0 or r["masked"] < r["planted"])]
    if failed:
        sys.exit(f"logscrub failed or missed planted secrets: {failed}")
    if args.record:
        with open(args.record, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"\nrecorded in {args.record}")


def one_core():
    """For preexec_fn: keep the child on one core, the baseline of scaling.
    (`-j1` alone is not one core: the checksums get a thread of their own
    where a core would idle.)"""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def scaling(logscrub, real, scratch, runs):
    """`logscrub scrub` over 8 files: -j1 on one core, -j1 and -j2 free;
    the sidecar (TCP in, stdout out, 2 clients) with 1 runtime thread on
    one core, and with 2. The clients run beside it on the same cores."""
    files = scratch / "files"
    files.mkdir()
    for i in range(8):
        shutil.copy(real, files / f"part{i}.log")
    total = 8 * real.stat().st_size / 1e6
    cores = len(os.sched_getaffinity(0))
    out = {"cores": cores}
    print(f"\n== multi-core scaling ({cores} cores)")
    for key, j, pin in (("scrub_one_core_mbps", 1, True), ("scrub_j1_mbps", 1, False), ("scrub_j2_mbps", 2, False)):
        dest = scratch / f"scrubbed-{key}"
        times = []
        for _ in range(runs):
            shutil.rmtree(dest, ignore_errors=True)
            t = time.perf_counter()
            argv = [logscrub, "scrub", "-j", str(j), "--out", str(dest), str(files)]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=one_core if pin else None)
            times.append(time.perf_counter() - t)
        out[key] = round(total / min(times), 1)
    print(
        f"logscrub scrub, 8 files, {total:.0f} MB: one core {out['scrub_one_core_mbps']} MB/s, "
        f"-j1 {out['scrub_j1_mbps']} MB/s, -j2 {out['scrub_j2_mbps']} MB/s (x{out['scrub_j2_mbps'] / out['scrub_one_core_mbps']:.2f} of one core)"
    )
    data = real.read_bytes()
    for threads in (1, 2):
        out[f"sidecar_t{threads}_mbps"] = round(max(sidecar(logscrub, data, threads, pin=threads == 1) for _ in range(runs)), 1)
    print(
        f"sidecar, TCP in to stdout, 2 clients: 1 thread on one core {out['sidecar_t1_mbps']} MB/s, "
        f"2 threads {out['sidecar_t2_mbps']} MB/s (x{out['sidecar_t2_mbps'] / out['sidecar_t1_mbps']:.2f})"
    )
    return out


def sidecar(logscrub, data, threads, pin):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TOKIO_WORKER_THREADS=str(threads))
    p = subprocess.Popen([logscrub, "serve", "--tcp", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=one_core if pin else None)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        want, got = 2 * data.count(b"\n"), [0]

        def drain():
            while got[0] < want:
                chunk = p.stdout.read1(1 << 20)
                if not chunk:
                    break
                got[0] += chunk.count(b"\n")

        reader = threading.Thread(target=drain)
        reader.start()
        t = time.perf_counter()

        def send():
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(data)

        senders = [threading.Thread(target=send) for _ in range(2)]
        for s in senders:
            s.start()
        for s in senders:
            s.join()
        reader.join(timeout=120)
        took = time.perf_counter() - t
        return 2 * len(data) / took / 1e6 if got[0] >= want else 0.0
    finally:
        p.terminate()
        p.wait(timeout=30)


if __name__ == "__main__":
    main()
