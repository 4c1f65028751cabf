//! `logscrub serve` and `logscrub tail`: the sidecar.
//!
//! Data flows one way: inputs (TCP lines, Forward, followed files) scrub
//! what they read on their own task or thread, then hand [`Batch`]es
//! through a channel bounded in bytes to the spooler, which queues them for
//! the one output in memory (and on disk with `--spill-dir`, see
//! [`spool`]). A batch that asks for an ack (a Forward chunk, a file offset
//! to checkpoint) gets it only once the output has written it (and the
//! downstream has acked it), or once it is synced to the spill: nothing
//! acknowledged is lost.

mod admin;
mod follow;
mod input;
pub mod options;
mod output;
mod spool;
mod tls;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use logscrub::{Redactor, Stats};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::args::{EngineArgs, ServeArgs, TailArgs};
use crate::format::{Format, FormatCounts};
use crate::msgpack::EventTime;
use options::{ConfigFile, OnFull, ServeOptions};

/// What one input hands the output.
pub struct Batch {
    /// Tag for Forward and JSON output.
    pub tag: Arc<str>,
    pub payload: Payload,
    /// Told `true` once the batch is written (and acked downstream).
    pub done: Option<oneshot::Sender<bool>>,
    /// Room taken in the memory buffer, given back when the batch is
    /// dropped; none for a batch read back from the spill.
    _room: Option<Room>,
    /// The payload's size and record count, counted once: the buffer, the
    /// spool and the metrics all ask.
    size: usize,
    records: u64,
}

impl Batch {
    /// A batch that holds no room in the memory buffer.
    pub fn new(tag: Arc<str>, payload: Payload, done: Option<oneshot::Sender<bool>>) -> Batch {
        let (size, records) = (payload.size(), payload.records());
        Batch { tag, payload, done, _room: None, size, records }
    }

    /// About the size of the payload's encoding, in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many records (lines or Forward entries) the payload holds.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Room in the memory buffer, counted in the `buffer_bytes` gauge while held.
struct Room {
    permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Room {
    fn drop(&mut self) {
        self.metrics.buffered_bytes.fetch_sub(self.permit.num_permits() as u64, Ordering::Relaxed);
    }
}

/// Scrubbed data.
pub enum Payload {
    /// Complete lines, each ending in a newline, read at `time`.
    Lines { time: EventTime, text: Vec<u8> },
    /// Forward entries, packed.
    Entries(crate::forward::Entries),
}

impl Payload {
    fn size(&self) -> usize {
        match self {
            Payload::Lines { text, .. } => text.len(),
            Payload::Entries(e) => e.bytes().len(),
        }
    }

    fn records(&self) -> u64 {
        match self {
            // A window of a long line may end without its newline: it is a
            // record of its own (as `each_record` in the output sees it).
            Payload::Lines { text, .. } => {
                memchr::memchr_iter(b'\n', text).count() as u64 + u64::from(!text.is_empty() && !text.ends_with(b"\n"))
            }
            Payload::Entries(e) => e.len(),
        }
    }
}

/// Counters for /metrics and the final summary. Counts and rule ids only.
#[derive(Default)]
pub struct Metrics {
    pub records_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub records_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub dropped: AtomicU64,
    pub errors: AtomicU64,
    pub fields_masked: AtomicU64,
    pub malformed: AtomicU64,
    pub long_records: AtomicU64,
    pub connections: AtomicU64,
    pub refused_connections: AtomicU64,
    pub buffered_bytes: AtomicU64,
    pub downstream_retries: AtomicU64,
    pub truncations: AtomicU64,
    pub spilled_records: AtomicU64,
    pub spilled_bytes: AtomicU64,
    pub spill_errors: AtomicU64,
    pub ready: AtomicBool,
    pub findings: Mutex<Option<Stats>>,
}

impl Metrics {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds what a scrubber did since its last report.
    pub fn scrubbed(&self, stats: &Stats, counts: FormatCounts) {
        Metrics::add(&self.fields_masked, counts.fields_masked);
        Metrics::add(&self.malformed, counts.malformed);
        Metrics::add(&self.long_records, counts.long_records);
        if stats.findings() > 0 || stats.masked_lines() > 0 {
            let mut f = self.findings.lock().unwrap_or_else(|p| p.into_inner());
            match f.as_mut() {
                Some(total) => total.merge(stats),
                None => *f = Some(stats.clone()),
            }
        }
    }
}

/// What every input shares.
pub struct Ctx {
    pub redactor: Redactor,
    pub opts: Settings,
    pub metrics: Arc<Metrics>,
    tx: mpsc::Sender<Batch>,
    room: Arc<Semaphore>,
    handle: tokio::runtime::Handle,
    pub shutdown: watch::Receiver<bool>,
    /// The listeners' TLS, with `--tls-cert`.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The Forward listeners' shared-key handshake, when required.
    pub shared_key: Option<crate::handshake::SharedKey>,
}

/// Options with their defaults applied.
#[derive(Clone, Debug)]
pub struct Settings {
    pub format: Format,
    pub tag: Arc<str>,
    pub buffer_bytes: usize,
    pub on_full: OnFull,
    pub max_record: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub drain_timeout: Duration,
    pub poll_interval: Duration,
}

impl Ctx {
    /// Hands a batch to the output: waits for room (or drops and counts,
    /// with `--on-full drop`). Returns the receiver of its ack, if asked.
    pub async fn submit(&self, tag: Arc<str>, payload: Payload, ack: bool) -> Option<oneshot::Receiver<bool>> {
        let mut batch = Batch::new(tag, payload, None);
        let (size, records) = (batch.size().clamp(1, self.opts.buffer_bytes) as u32, batch.records());
        Metrics::add(&self.metrics.records_in, records);
        let room = match self.opts.on_full {
            OnFull::Block => self.room.clone().acquire_many_owned(size).await.ok(),
            OnFull::Drop => self.room.clone().try_acquire_many_owned(size).ok(),
        };
        let Some(room) = room else {
            Metrics::add(&self.metrics.dropped, records);
            return None;
        };
        Metrics::add(&self.metrics.buffered_bytes, u64::from(size));
        let (done, rx) = if ack { Some(oneshot::channel()).unzip() } else { (None, None) };
        batch.done = done;
        batch._room = Some(Room { permit: room, metrics: self.metrics.clone() });
        if self.tx.send(batch).await.is_err() {
            Metrics::add(&self.metrics.dropped, records);
            return None;
        }
        rx
    }

    /// [`Ctx::submit`] from a plain thread (the file follower).
    pub fn submit_blocking(&self, tag: Arc<str>, payload: Payload, ack: bool) -> Option<oneshot::Receiver<bool>> {
        self.handle.block_on(self.submit(tag, payload, ack))
    }
}

/// `logscrub serve`.
pub fn serve(engine: &EngineArgs, args: &ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let (engine, mut opts) = merge(engine, args.config.as_deref(), args.options.clone())?;
    if opts.tcp.is_empty() && opts.forward.is_empty() && opts.follow.is_empty() {
        opts.tcp.push("127.0.0.1:5170".into());
        opts.forward.push("127.0.0.1:24224".into());
    }
    run(&engine, opts)
}

/// `logscrub tail`.
pub fn tail(engine: &EngineArgs, args: &TailArgs) -> anyhow::Result<std::process::ExitCode> {
    let (engine, mut opts) = merge(engine, args.config.as_deref(), args.options.clone())?;
    opts.follow.extend(args.paths.iter().cloned());
    run(&engine, opts)
}

fn merge(
    engine: &EngineArgs,
    config: Option<&std::path::Path>,
    flags: ServeOptions,
) -> anyhow::Result<(EngineArgs, ServeOptions)> {
    let file = match config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let opts = flags.or(file.serve);
    opts.validate()?;
    Ok((engine.or(file.engine), opts))
}

fn run(engine: &EngineArgs, opts: ServeOptions) -> anyhow::Result<std::process::ExitCode> {
    init_diagnostics();
    let redactor = engine.redactor()?;
    let settings = Settings {
        format: opts.format.unwrap_or_default(),
        tag: opts.tag.as_deref().unwrap_or("logscrub").into(),
        buffer_bytes: opts.buffer_bytes.unwrap_or(64 << 20).min(u32::MAX as usize >> 1),
        on_full: opts.on_full.unwrap_or_default(),
        max_record: opts.max_record.unwrap_or(16 << 20),
        max_connections: opts.max_connections.unwrap_or(1024),
        idle_timeout: opts.idle_timeout.map_or(Duration::from_secs(300), |d| d.0),
        drain_timeout: opts.drain_timeout.map_or(Duration::from_secs(10), |d| d.0),
        poll_interval: opts.poll_interval.map_or(Duration::from_millis(250), |d| d.0),
    };
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server(cert, key, opts.tls_client_ca.as_deref())?),
        _ => None,
    };
    let hostname = opts.self_hostname.clone().unwrap_or_else(options::hostname);
    let shared_key = options::shared_key(opts.forward_shared_key_file.as_deref(), "LOGSCRUB_FORWARD_SHARED_KEY")?
        .map(|k| crate::handshake::SharedKey::new(k, hostname.clone()));
    let sink = output::Sink::open(&opts, &hostname).context("cannot open the output")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let metrics = Arc::new(Metrics::default());
    let spill_bytes = opts.spill_bytes.unwrap_or(1 << 30) as u64;
    let spool =
        Arc::new(spool::Spool::open(opts.spill_dir.as_deref(), spill_bytes, settings.buffer_bytes, metrics.clone())?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, rx) = mpsc::channel(1024);
    let ctx = Arc::new(Ctx {
        redactor,
        room: Arc::new(Semaphore::new(settings.buffer_bytes)),
        opts: settings.clone(),
        metrics: metrics.clone(),
        tx,
        handle: runtime.handle().clone(),
        shutdown: stop_rx.clone(),
        tls,
        shared_key,
    });
    let spooler = {
        let spool = spool.clone();
        std::thread::Builder::new().name("spooler".into()).spawn(move || {
            let mut rx = rx;
            while let Some(batch) = rx.blocking_recv() {
                spool.push(batch);
            }
            spool.close();
        })?
    };
    let out_metrics = metrics.clone();
    let out_stop = stop_rx.clone();
    let drain = settings.drain_timeout;
    let out_spool = spool.clone();
    let writer = std::thread::Builder::new()
        .name("output".into())
        .spawn(move || output::run(sink, &out_spool, &out_metrics, out_stop, drain))?;

    let result: anyhow::Result<()> = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for addr in &opts.tcp {
            let l = input::bind(addr, "tcp").await?;
            tasks.spawn(input::tcp(l, ctx.clone()));
        }
        for addr in &opts.forward {
            let l = input::bind(addr, "forward").await?;
            tasks.spawn(input::forward(l, ctx.clone()));
        }
        if !opts.follow.is_empty() {
            let follower = follow::Follower::new(&opts, ctx.clone())?;
            tasks.spawn_blocking(move || follower.run());
        }
        if let Some(addr) = &opts.admin {
            let l = input::bind(addr, "admin").await?;
            tokio::spawn(admin::serve(l, metrics.clone()));
        }
        metrics.ready.store(true, Ordering::Relaxed);
        tracing::info!(tcp = ?opts.tcp, forward = ?opts.forward, follow = opts.follow.len(), "logscrub is ready");
        let signals = tokio::spawn(wait_for_signal(stop_tx));
        let only_files = opts.tcp.is_empty() && opts.forward.is_empty();
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::error!("{e:#}");
                metrics.errors.fetch_add(1, Ordering::Relaxed);
            }
            if only_files && tasks.is_empty() {
                break;
            }
        }
        signals.abort();
        metrics.ready.store(false, Ordering::Relaxed);
        Ok(())
    });
    // Inputs are done: closing the channel lets the output drain and stop.
    drop(ctx);
    spooler.join().map_err(|_| anyhow::anyhow!("the spooler thread panicked"))?;
    writer.join().map_err(|_| anyhow::anyhow!("the output thread panicked"))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    summary(&metrics);
    let (kept, lost) = spool.outcome();
    if kept > 0 {
        let dir = spool.dir().unwrap_or_default();
        tracing::warn!(spill = %dir.display(), records = kept, "undelivered records are kept in the spill; the next start sends them first");
    }
    if lost > 0 {
        anyhow::bail!("{lost} records could not be delivered before the drain timeout");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn wait_for_signal(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
    }
    let _ = stop.send(true);
}

fn summary(m: &Metrics) {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    tracing::info!(
        records_in = get(&m.records_in),
        records_out = get(&m.records_out),
        dropped = get(&m.dropped),
        fields_masked = get(&m.fields_masked),
        malformed = get(&m.malformed),
        errors = get(&m.errors),
        "stopped"
    );
}

/// logscrub's own diagnostics: stderr, level from `LOGSCRUB_LOG` (default
/// info; `debug`, or per target: `info,logscrub::serve=trace`). They name
/// listeners, peers, files and counts, never input text.
///
/// A [`Targets`] filter, not an `EnvFilter`: the latter's regex matching
/// of span fields turned on regex-automata's full-DFA builder for the whole
/// binary, and the `regex` crate then built full DFAs at start-up for the
/// rules' `within` and `end` regexes (2% of start-up).
fn init_diagnostics() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("LOGSCRUB_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter)
        .try_init();
}
