//! Command-line flags. Parsing only validates; the redactor is built from
//! them in [`EngineArgs::redactor`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use logscrub::{HashKey, Mask, Redactor};

use crate::format::Format;
use crate::serve::options::ServeOptions;

/// Masks secrets and personal data in logs: reads the files named (or
/// stdin), writes the masked lines to stdout.
#[derive(Parser, Debug)]
#[command(name = "logscrub", version, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files to scrub, in order ("-" is stdin). Default: stdin.
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Print counts per rule to stderr at the end (never matched text).
    #[arg(long)]
    pub stats: bool,

    /// How the input is framed: raw text, JSON lines, CRI or Docker
    /// container logs, or auto (per line).
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,

    /// Threads that read and scrub the input, a piece each in turn, while
    /// this one writes (default: one per core, at most 2). The output is
    /// the same with any number; 1 reads, scrubs and writes on one thread.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Flags that choose and tune the rules, shared by every command (and the
/// `[engine]` table of a `--config` file).
#[derive(clap::Args, serde::Deserialize, Debug, Clone, Default)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct EngineArgs {
    /// Packs to run, comma-separated: pack names, `default`, `all`.
    #[arg(long, value_delimiter = ',', global = true)]
    pub packs: Vec<String>,

    /// Rule ids to turn off, comma-separated.
    #[arg(long, value_delimiter = ',', global = true)]
    pub disable: Vec<String>,

    /// Override a rule's mask: ID=MASK, where MASK is label, label=TEMPLATE,
    /// fixed, keep=P,S, keep-after=C, hash or drop. Repeatable.
    #[arg(long = "mask", value_name = "ID=MASK", global = true)]
    #[serde(rename = "mask")]
    pub masks: Vec<String>,

    /// Extra rule files (TOML) to load. Repeatable.
    #[arg(long = "rules", value_name = "FILE", global = true)]
    #[serde(rename = "rules")]
    pub rule_files: Vec<PathBuf>,

    /// Load only the rule files given with --rules, not the embedded packs.
    #[arg(long, global = true)]
    pub no_builtin: bool,

    /// A file holding the key for hash masks and `check --json` fingerprints. The key can also come from
    /// the LOGSCRUB_HASH_KEY environment variable; it is never a flag
    /// value, which `ps` would show.
    #[arg(long, value_name = "FILE", global = true)]
    pub hash_key_file: Option<PathBuf>,

    /// Longest line processed whole, in bytes (default 1 MiB); longer
    /// lines are processed in overlapping windows.
    #[arg(long, value_name = "BYTES", global = true)]
    pub max_line: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run as a sidecar: TCP lines, the Forward protocol and followed files
    /// in; stdout, a file or a Forward aggregator out. With no input
    /// named, listens on 127.0.0.1:5170 (lines) and 127.0.0.1:24224
    /// (Forward).
    Serve(ServeArgs),
    /// Follow files like `tail -F` and write them scrubbed to stdout (or
    /// any output of `serve`).
    Tail(TailArgs),
    /// Scrub archives of log files (plain, gzip, zstd, bzip2, xz, and tar
    /// bundles of them member by member) to a new tree or in place, in
    /// parallel, with a manifest and a report.
    Scrub(crate::batch::ScrubArgs),
    /// Report what `scrub` would mask as path:line:rule-id (a tar member's
    /// as path{member}:line:rule-id); exit 1 when anything would be, 0 when
    /// clean, 2 on error.
    Check(crate::batch::CheckArgs),
    /// List rules, or run their test cases.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List every rule: id, pack, category, mask, whether it runs.
    List(ListArgs),
    /// Run the test cases of the embedded rules and of the rule files named.
    Test(TestArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A TOML file with `[engine]` and `[serve]` tables holding the same
    /// options as the flags; flags given win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub options: ServeOptions,
}

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// Files or globs to follow.
    #[arg(required = true)]
    pub paths: Vec<String>,

    /// A TOML file with `[engine]` and `[serve]` tables, as for `serve`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub options: ServeOptions,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print a Markdown table (as in patterns/README.md).
    #[arg(long)]
    pub markdown: bool,
}

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Rule files to test; with none, the embedded packs are tested.
    pub files: Vec<PathBuf>,
}

impl EngineArgs {
    /// These flags, with the config file's where a flag was not given.
    pub fn or(&self, file: EngineArgs) -> EngineArgs {
        let pick = |a: &Vec<String>, b: Vec<String>| if a.is_empty() { b } else { a.clone() };
        EngineArgs {
            packs: pick(&self.packs, file.packs),
            disable: pick(&self.disable, file.disable),
            masks: pick(&self.masks, file.masks),
            rule_files: if self.rule_files.is_empty() { file.rule_files } else { self.rule_files.clone() },
            no_builtin: self.no_builtin || file.no_builtin,
            hash_key_file: self.hash_key_file.clone().or(file.hash_key_file),
            max_line: self.max_line.or(file.max_line),
        }
    }

    /// Builds the redactor these flags describe.
    pub fn redactor(&self) -> anyhow::Result<Redactor> {
        let mut b = Redactor::builder();
        b.builtin_packs(!self.no_builtin).max_line(self.max_line.unwrap_or(logscrub::DEFAULT_MAX_LINE));
        for f in &self.rule_files {
            b.rules_file(f);
        }
        if !self.packs.is_empty() {
            b.packs(self.packs.iter().map(|p| p.trim().to_string()));
        }
        for id in &self.disable {
            b.disable(id.trim());
        }
        for m in &self.masks {
            let (id, mask) = m.split_once('=').context("--mask: expected ID=MASK")?; // the value is not echoed: it may be a secret
            let mask: Mask = mask.parse()?;
            b.mask(id, mask);
        }
        if let Some(key) = self.hash_key()? {
            b.hash_key(key);
        }
        let redactor = b.build()?;
        // The process keeps its redactor until it exits: freeing thousands
        // of compiled automata on the way out took about 5 ms, for nothing.
        std::mem::forget(redactor.clone());
        fix_malloc_thresholds();
        Ok(redactor)
    }

    /// The hash key, from `--hash-key-file` or LOGSCRUB_HASH_KEY.
    pub fn hash_key(&self) -> anyhow::Result<Option<HashKey>> {
        match read_secret("hash key", self.hash_key_file.as_deref(), "LOGSCRUB_HASH_KEY")? {
            Some(bytes) => Ok(Some(HashKey::new(bytes)?)),
            None => Ok(None),
        }
    }
}

/// A key that must never be a flag value (`ps` shows those): the contents
/// of `file` without its trailing whitespace (a newline), else the
/// environment variable `var`, else none. Errors name `what` and the file.
pub(crate) fn read_secret(what: &str, file: Option<&Path>, var: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(path) = file else { return Ok(std::env::var_os(var).map(|v| v.into_encoded_bytes())) };
    let mut key = std::fs::read(path).with_context(|| format!("cannot read {what} file {}", path.display()))?;
    while key.last().is_some_and(|b| b.is_ascii_whitespace()) {
        key.pop();
    }
    Ok(Some(key))
}

/// Called once the rules are compiled. glibc raises its mmap threshold
/// whenever a large block is freed (up to 32 MiB), and its trim threshold to
/// twice that, so the pieces, outputs and lazy DFA caches the scrubbing
/// threads allocate and free stayed resident: 5-6 MB of the filter's peak
/// RSS on 1 GB inputs (64.9 -> 59.4 MB on the comparison's 1% file, 56.2 ->
/// 50.0 on real logs, no slower). Fixing both at their defaults turns that
/// off; fixed from the start, they cost start-up 8-10 ms, as compiling the
/// rules then mapped and unmapped every large block it grew.
fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of the allocator's parameters; a thread
    // that allocates meanwhile reads the old value or the new, both valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}
