//! The sidecar's options: one struct read from flags and from the `[serve]`
//! table of a `--config` file, flags winning.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::format::Format;

/// Where scrubbed records go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// Standard output.
    #[default]
    Stdout,
    /// A file (`--output-path`), appended to.
    File,
    /// The Forward protocol to `--downstream`, with acks.
    Forward,
}

/// How records are written to stdout or a file (Fluent Bit's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// The scrubbed lines as they came (records: their `log` or `message`
    /// field, else their JSON).
    #[default]
    Raw,
    /// One JSON object per line, with the date under `--json-date-key`.
    #[value(name = "json_lines", alias = "json-lines")]
    JsonLines,
    /// A JSON array of records per write.
    Json,
    /// `[time, record]` msgpack values back to back.
    Msgpack,
}

/// How the date is written in JSON output (Fluent Bit's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// Seconds since the epoch with a fraction: `1700000000.123456`.
    #[default]
    Double,
    /// Whole seconds since the epoch.
    Epoch,
    /// `2023-11-14T22:13:20.123456Z`.
    Iso8601,
    /// `2023-11-14 22:13:20.123456`.
    #[value(name = "java_sql_timestamp", alias = "java-sql-timestamp")]
    JavaSqlTimestamp,
}

/// What to do with a record when the buffer is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFull {
    /// Stop reading inputs until there is room (backpressure).
    #[default]
    Block,
    /// Drop the record and count it in `logscrub_dropped_records_total`.
    Drop,
}

/// A duration written as `250ms`, `10s`, `5m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Dur, String> {
        humantime::parse_duration(s)
            .map(Dur)
            .map_err(|e| format!("{s:?} is not a duration ({e}); write 250ms, 10s, 5m"))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Inputs, outputs and limits of `logscrub serve` and `logscrub tail`.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeOptions {
    /// Listen for newline-delimited text on ADDR (Fluent Bit `in_tcp`'s
    /// port is 127.0.0.1:5170). Repeatable.
    #[arg(long, value_name = "ADDR")]
    pub tcp: Vec<String>,

    /// Listen for the Fluentd Forward protocol on ADDR (usually
    /// 127.0.0.1:24224). Repeatable.
    #[arg(long, value_name = "ADDR")]
    pub forward: Vec<String>,

    /// Follow files matching GLOB like `tail -F` (rotation, truncation,
    /// files that appear later). `*` and `?` within a name, `**` across
    /// directories, `[...]`, `{a,b}`; names that are not UTF-8 match too.
    /// Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub follow: Vec<String>,

    /// Where followed files' offsets are kept, so a restart resumes.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// Start files found at startup (and not in the checkpoint) at their
    /// end, not their start.
    #[arg(long)]
    pub from_end: bool,

    /// How often followed files are checked.
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<Dur>,

    /// How line inputs (TCP, files) are framed.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Tag of records from line inputs (in Forward and JSON output).
    #[arg(long)]
    pub tag: Option<String>,

    /// Where scrubbed records go.
    #[arg(long, value_enum)]
    pub output: Option<OutputKind>,

    /// The file for `--output file`.
    #[arg(long, value_name = "FILE")]
    pub output_path: Option<PathBuf>,

    /// Format of stdout or file output.
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,

    /// Key of the date in JSON output; empty for none.
    #[arg(long)]
    pub json_date_key: Option<String>,

    /// Format of the date in JSON output.
    #[arg(long, value_enum)]
    pub json_date_format: Option<DateFormat>,

    /// HOST:PORT of the Forward aggregator for `--output forward`.
    #[arg(long, value_name = "HOST:PORT")]
    pub downstream: Option<String>,

    /// Speak TLS to the downstream, trusting the CA certificates in FILE
    /// (PEM) to sign its certificate.
    #[arg(long, value_name = "FILE")]
    pub downstream_ca: Option<PathBuf>,

    /// The name the downstream's certificate must carry (default: the host
    /// of --downstream).
    #[arg(long, value_name = "NAME")]
    pub downstream_tls_name: Option<String>,

    /// Do not wait for the downstream's acks (at-most-once delivery).
    #[arg(long)]
    pub no_ack: bool,

    /// How long to wait for a downstream ack before resending.
    #[arg(long, value_name = "DURATION")]
    pub ack_timeout: Option<Dur>,

    /// Bytes of scrubbed records held between inputs and the output.
    #[arg(long, value_name = "BYTES")]
    pub buffer_bytes: Option<usize>,

    /// When the buffer is full: block the inputs, or drop and count.
    #[arg(long, value_enum)]
    pub on_full: Option<OnFull>,

    /// Spill batches to files in DIR once half the memory buffer is queued,
    /// so that inputs keep going while the output is slow or down. What is
    /// left there at exit is sent first at the next start.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,

    /// Most bytes kept in --spill-dir (default 1 GiB); beyond it inputs wait.
    #[arg(long, value_name = "BYTES")]
    pub spill_bytes: Option<usize>,

    /// Largest Forward message accepted (after decompression), in bytes;
    /// a peer that sends more is disconnected. Lines have no such limit:
    /// long lines are scrubbed in windows.
    #[arg(long, value_name = "BYTES")]
    pub max_record: Option<usize>,

    /// Connections accepted at once per listener; more are refused.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Close a connection idle this long.
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<Dur>,

    /// After SIGTERM, how long to keep reading from clients that have not
    /// closed (default 10s), and to deliver what is buffered.
    #[arg(long, value_name = "DURATION")]
    pub drain_timeout: Option<Dur>,

    /// Make the TCP and Forward listeners speak TLS with this certificate
    /// chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Accept only TLS clients with a certificate signed by a CA in FILE.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,

    /// Require the Forward shared-key handshake (Fluentd `<security>`,
    /// Fluent Bit `Shared_Key`) on the Forward listeners, with the key in
    /// FILE; or set LOGSCRUB_FORWARD_SHARED_KEY. Never a flag value.
    #[arg(long, value_name = "FILE")]
    pub forward_shared_key_file: Option<PathBuf>,

    /// Do the shared-key handshake with the downstream, with the key in
    /// FILE; or set LOGSCRUB_DOWNSTREAM_SHARED_KEY.
    #[arg(long, value_name = "FILE")]
    pub downstream_shared_key_file: Option<PathBuf>,

    /// The hostname given in the handshake (default: this host's name).
    #[arg(long, value_name = "NAME")]
    pub self_hostname: Option<String>,

    /// Serve /metrics, /healthz and /readyz on ADDR (off by default).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<String>,
}

macro_rules! prefer {
    ($a:ident, $b:ident; $($opt:ident),*; $($vec:ident),*; $($flag:ident),*) => {
        ServeOptions {
            $($opt: $a.$opt.or($b.$opt),)*
            $($vec: if $a.$vec.is_empty() { $b.$vec } else { $a.$vec },)*
            $($flag: $a.$flag || $b.$flag,)*
        }
    };
}

impl ServeOptions {
    /// These options, with the file's where a flag was not given.
    pub fn or(self, file: ServeOptions) -> ServeOptions {
        prefer!(self, file;
            checkpoint, poll_interval, format, tag, output, output_path, output_format, json_date_key,
            json_date_format, downstream, downstream_ca, downstream_tls_name, ack_timeout, buffer_bytes, on_full, spill_dir, spill_bytes, max_record, max_connections,
            idle_timeout, drain_timeout, tls_cert, tls_key, tls_client_ca, forward_shared_key_file,
            downstream_shared_key_file, self_hostname, admin;
            tcp, forward, follow;
            from_end, no_ack)
    }

    /// Checks what flags alone cannot: addresses parse, outputs have what
    /// they need, limits are usable.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (flag, addrs) in [("--tcp", &self.tcp), ("--forward", &self.forward)] {
            for a in addrs {
                a.parse::<std::net::SocketAddr>().with_context(|| format!("{flag} {a:?}: expected IP:PORT"))?;
            }
        }
        if let Some(a) = &self.admin {
            a.parse::<std::net::SocketAddr>().with_context(|| format!("--admin {a:?}: expected IP:PORT"))?;
        }
        for g in &self.follow {
            super::follow::Pattern::new(g)?;
        }
        match self.output.unwrap_or_default() {
            OutputKind::File if self.output_path.is_none() => bail!("--output file needs --output-path"),
            OutputKind::Forward if self.downstream.is_none() => bail!("--output forward needs --downstream HOST:PORT"),
            _ => {}
        }
        if [self.buffer_bytes, self.max_connections, self.max_record, self.spill_bytes].contains(&Some(0)) {
            bail!("--buffer-bytes, --max-connections, --max-record and --spill-bytes must be above 0");
        }
        let needs = [
            (self.spill_bytes.is_some() && self.spill_dir.is_none(), "--spill-bytes needs --spill-dir"),
            (self.tls_cert.is_some() != self.tls_key.is_some(), "--tls-cert and --tls-key go together"),
            (self.tls_client_ca.is_some() && self.tls_cert.is_none(), "--tls-client-ca needs --tls-cert and --tls-key"),
            (
                self.downstream_tls_name.is_some() && self.downstream_ca.is_none(),
                "--downstream-tls-name needs --downstream-ca",
            ),
            (
                self.downstream_ca.is_some() && self.output != Some(OutputKind::Forward),
                "--downstream-ca needs --output forward",
            ),
            (
                self.downstream_shared_key_file.is_some() && self.output != Some(OutputKind::Forward),
                "--downstream-shared-key-file needs --output forward",
            ),
        ];
        if let Some((_, why)) = needs.iter().find(|(bad, _)| *bad) {
            bail!("{why}");
        }
        Ok(())
    }
}

/// The Forward shared key from `file` or the environment variable `var`
/// ([`crate::args::read_secret`]); an empty one is refused.
pub fn shared_key(file: Option<&std::path::Path>, var: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let key = crate::args::read_secret("shared key", file, var)?;
    if key.as_ref().is_some_and(Vec::is_empty) {
        bail!("the shared key ({}) is empty", file.map_or(var.to_string(), |p| p.display().to_string()));
    }
    Ok(key)
}

/// This host's name, for the handshake: `HOSTNAME`, else the kernel's.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "logscrub".into())
}

/// A `--config` file: `[engine]` takes the rule flags, `[serve]` the
/// sidecar's.
#[derive(Deserialize, Debug, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// Rule options, as the global flags.
    pub engine: crate::args::EngineArgs,
    /// Sidecar options, as `serve`'s flags.
    pub serve: ServeOptions,
}

impl ConfigFile {
    /// Reads and validates a configuration file; errors name the file and
    /// the line.
    pub fn load(path: &std::path::Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let file: ConfigFile = toml::from_str(
            "[engine]\npacks = [\"default\", \"network\"]\n[serve]\ntcp = [\"127.0.0.1:1\"]\ntag = \"f\"\nidle-timeout = \"5s\"\noutput-format = \"json_lines\"\n",
        )
        .unwrap();
        let flags = ServeOptions { tag: Some("flag".into()), ..ServeOptions::default() };
        let merged = flags.or(file.serve);
        assert_eq!(merged.tag.as_deref(), Some("flag"));
        assert_eq!(merged.tcp, ["127.0.0.1:1"]);
        assert_eq!(merged.idle_timeout, Some(Dur(Duration::from_secs(5))));
        assert_eq!(merged.output_format, Some(OutputFormat::JsonLines));
        assert_eq!(file.engine.packs, ["default", "network"]);
    }

    #[test]
    fn the_example_aggregator_config_is_valid() {
        let text = include_str!("../../../examples/aggregator.toml");
        let file: ConfigFile = toml::from_str(text).unwrap();
        file.serve.validate().unwrap();
        assert_eq!(file.serve.spill_bytes, Some(4 << 30));
        assert!(file.serve.tls_cert.is_some() && file.serve.downstream_ca.is_some());
    }

    #[test]
    fn errors_name_the_problem() {
        let err = toml::from_str::<ConfigFile>("[serve]\ntpc = [\"x\"]\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `tpc`") && err.contains("line 2"), "{err}");
        let bad = ServeOptions { tcp: vec!["localhost".into()], ..ServeOptions::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("--tcp \"localhost\""));
        let fwd = ServeOptions { output: Some(OutputKind::Forward), ..ServeOptions::default() };
        assert!(fwd.validate().is_err());
    }
}
