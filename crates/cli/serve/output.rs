//! The output: one thread writing batches to stdout, a file, or a Forward
//! aggregator, in the format asked. A write that fails is retried with
//! backoff from where it stopped (so nothing is written twice to a file
//! and nothing is lost while a downstream restarts); inputs wait meanwhile.
//! After SIGTERM, retries go on for the drain time, then what is left is
//! counted as undelivered.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;
use rustls::pki_types::ServerName;
use serde_json::{Map, Number, Value as Json};
use tokio::sync::watch;

use super::options::{DateFormat, OutputFormat, OutputKind, ServeOptions};
use super::spool::Spool;
use super::{Batch, Metrics, Payload};
use crate::forward;
use crate::handshake::SharedKey;
use crate::msgpack::{self, EventTime, Framer};

/// Where batches go.
pub enum Sink {
    Writer { out: Box<dyn Write + Send>, encoder: Encoder, pending: Vec<u8>, written: usize },
    Forward(Downstream),
}

/// Turns batches into bytes for stdout or a file.
pub struct Encoder {
    format: OutputFormat,
    date_key: Option<String>,
    date_format: DateFormat,
}

/// A Forward aggregator.
pub struct Downstream {
    addr: String,
    conn: Option<Box<dyn Connection>>,
    /// TLS to the downstream, with `--downstream-ca`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// The shared-key handshake on each new connection, when configured.
    shared_key: Option<SharedKey>,
    ack: bool,
    ack_timeout: Duration,
    next_chunk: u64,
    /// How many of the batches being sent are acked already: a retry goes
    /// on from there, so that what was acked is not sent twice.
    acked: usize,
    scratch: Vec<u8>,
}

/// The downstream connection, plain or TLS (rustls over the blocking
/// socket, whose timeouts bound the handshake too).
trait Connection: Read + Write + Send {}
impl<C: Read + Write + Send> Connection for C {}

/// Whether an error is worth retrying.
enum Failure {
    Retry(String),
    Fatal(String),
}

impl Sink {
    /// Opens the output the options name.
    pub fn open(opts: &ServeOptions, hostname: &str) -> anyhow::Result<Sink> {
        let encoder = Encoder {
            format: opts.output_format.unwrap_or_default(),
            date_key: Some(opts.json_date_key.clone().unwrap_or_else(|| "date".into())).filter(|k| !k.is_empty()),
            date_format: opts.json_date_format.unwrap_or_default(),
        };
        let out: Box<dyn Write + Send> = match opts.output.unwrap_or_default() {
            OutputKind::Stdout => Box::new(io::stdout()),
            OutputKind::File => {
                let path = opts.output_path.as_ref().expect("validated: --output file has a path");
                Box::new(OpenOptions::new().create(true).append(true).open(path)?)
            }
            OutputKind::Forward => {
                let addr = opts.downstream.clone().expect("validated: --output forward has a downstream");
                let tls = match &opts.downstream_ca {
                    Some(ca) => {
                        let name = opts.downstream_tls_name.as_deref().unwrap_or(super::tls::host_of(&addr));
                        Some(super::tls::client(ca, name)?)
                    }
                    None => None,
                };
                let key = super::options::shared_key(
                    opts.downstream_shared_key_file.as_deref(),
                    "LOGSCRUB_DOWNSTREAM_SHARED_KEY",
                )?;
                return Ok(Sink::Forward(Downstream {
                    addr,
                    conn: None,
                    tls,
                    shared_key: key.map(|k| SharedKey::new(k, hostname.to_string())),
                    ack: !opts.no_ack,
                    ack_timeout: opts.ack_timeout.map_or(Duration::from_secs(30), |d| d.0),
                    next_chunk: 0,
                    acked: 0,
                    scratch: Vec::new(),
                }));
            }
        };
        Ok(Sink::Writer { out, encoder, pending: Vec::new(), written: 0 })
    }

    fn write(&mut self, batches: &[Batch]) -> Result<(), Failure> {
        match self {
            Sink::Writer { out, encoder, pending, written } => {
                if *written == 0 && pending.is_empty() {
                    encoder.encode(batches, pending);
                }
                while *written < pending.len() {
                    match out.write(&pending[*written..]) {
                        Ok(0) => return Err(Failure::Retry("output accepts no more bytes".into())),
                        Ok(n) => *written += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                            return Err(Failure::Fatal("output closed".into()))
                        }
                        Err(e) => return Err(Failure::Retry(format!("cannot write the output: {e}"))),
                    }
                }
                out.flush().map_err(|e| Failure::Retry(format!("cannot flush the output: {e}")))?;
                pending.clear();
                *written = 0;
                Ok(())
            }
            Sink::Forward(d) => d.send(batches),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Sink::Writer { .. } => "writer",
            Sink::Forward(_) => "forward",
        }
    }

    /// How many of the batches being written are delivered already.
    fn acked(&self) -> usize {
        match self {
            Sink::Writer { .. } => 0,
            Sink::Forward(d) => d.acked,
        }
    }

    fn discard(&mut self) {
        match self {
            Sink::Writer { pending, written, .. } => {
                pending.clear();
                *written = 0;
            }
            Sink::Forward(d) => d.acked = 0,
        }
    }
}

/// Runs the output until the spool is closed and empty, or until it gives
/// up (drain time is up after SIGTERM, or the output is gone): then what
/// it holds is handed back to the spool to keep or count as lost.
pub fn run(mut sink: Sink, spool: &Spool, metrics: &Metrics, stop: watch::Receiver<bool>, drain: Duration) {
    let mut stopped_at = None;
    while let Some(mut batches) = spool.take(1 << 20) {
        let mut backoff = Duration::from_millis(100);
        let delivered = loop {
            match sink.write(&batches) {
                Ok(()) => break true,
                Err(Failure::Fatal(e)) => {
                    tracing::error!(output = sink.name(), "{e}; records from now on are not delivered");
                    break false;
                }
                Err(Failure::Retry(e)) => {
                    if *stop.borrow() && stopped_at.get_or_insert_with(Instant::now).elapsed() > drain {
                        tracing::error!(output = sink.name(), "{e}; drain time is up");
                        break false;
                    }
                    Metrics::add(&metrics.downstream_retries, 1);
                    tracing::warn!(output = sink.name(), retry_in = ?backoff, "{e}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        if !delivered {
            // What the downstream acked of this take is delivered; the rest
            // is kept (from memory: a batch read back from the spill stays
            // where it is, whole).
            let rest = batches.split_off(sink.acked());
            sink.discard();
            finished(batches, metrics);
            spool.abandon(rest);
            return;
        }
        spool.delivered();
        finished(batches, metrics);
    }
}

/// Counts delivered batches and tells their inputs.
fn finished(batches: Vec<Batch>, metrics: &Metrics) {
    Metrics::add(&metrics.records_out, batches.iter().map(|b| b.records()).sum());
    Metrics::add(&metrics.bytes_out, batches.iter().map(|b| b.size() as u64).sum());
    for b in batches {
        if let Some(done) = b.done {
            let _ = done.send(true);
        }
    }
}

impl Encoder {
    fn encode(&self, batches: &[Batch], out: &mut Vec<u8>) {
        let mut first = true;
        if self.format == OutputFormat::Json {
            out.push(b'[');
        }
        for b in batches {
            match (&b.payload, self.format) {
                (Payload::Lines { text, .. }, OutputFormat::Raw) => out.extend_from_slice(text),
                (Payload::Entries(entries), OutputFormat::Raw) => {
                    for (_, r) in entries.decoded() {
                        raw_line(&r, out);
                    }
                }
                (payload, OutputFormat::Msgpack) => each_record(payload, |time, record| {
                    let _ = rmp::encode::write_array_len(out, 2);
                    msgpack::encode(&time.to_value(), out);
                    msgpack::encode(&record, out);
                }),
                (payload, format) => each_record(payload, |time, record| {
                    let mut map = Map::new();
                    if let Some(key) = &self.date_key {
                        map.insert(key.clone(), self.date(time));
                    }
                    if let Json::Object(fields) = to_json(&record) {
                        map.extend(fields);
                    }
                    if format == OutputFormat::Json && !std::mem::take(&mut first) {
                        out.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut *out, &Json::Object(map));
                    if format == OutputFormat::JsonLines {
                        out.push(b'\n');
                    }
                }),
            }
        }
        if self.format == OutputFormat::Json {
            out.extend_from_slice(b"]\n");
        }
    }

    fn date(&self, t: EventTime) -> Json {
        let system = std::time::UNIX_EPOCH + Duration::new(u64::from(t.secs), t.nanos);
        match self.date_format {
            DateFormat::Double => {
                Number::from_f64(f64::from(t.secs) + f64::from(t.nanos) / 1e9).map_or(Json::Null, Json::Number)
            }
            DateFormat::Epoch => Json::from(t.secs),
            DateFormat::Iso8601 => Json::String(humantime::format_rfc3339_micros(system).to_string()),
            DateFormat::JavaSqlTimestamp => {
                let iso = humantime::format_rfc3339_micros(system).to_string();
                Json::String(iso.trim_end_matches('Z').replacen('T', " ", 1))
            }
        }
    }
}

/// Calls `f` with every record of a payload; a line becomes `{"log": line}`
/// (Fluent Bit's `in_tcp` with `format none`).
fn each_record(payload: &Payload, mut f: impl FnMut(EventTime, std::borrow::Cow<'_, Value>)) {
    match payload {
        Payload::Lines { time, text } => {
            for line in text.split_inclusive(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let log = Value::String(String::from_utf8_lossy(line).into_owned().into());
                f(*time, std::borrow::Cow::Owned(Value::Map(vec![(Value::from("log"), log)])));
            }
        }
        Payload::Entries(entries) => entries.decoded().for_each(|(t, r)| f(t, std::borrow::Cow::Owned(r))),
    }
}

/// A record as one line: its `log` or `message` text, else its JSON.
fn raw_line(record: &Value, out: &mut Vec<u8>) {
    if let Value::Map(kv) = record {
        for key in ["log", "message"] {
            if let Some((_, v)) = kv.iter().find(|(k, _)| k.as_str() == Some(key)) {
                let text = match v {
                    Value::String(s) => Some(s.as_bytes()),
                    Value::Binary(b) => Some(&b[..]),
                    _ => None,
                };
                if let Some(text) = text {
                    out.extend_from_slice(text.strip_suffix(b"\n").unwrap_or(text));
                    out.push(b'\n');
                    return;
                }
            }
        }
    }
    let _ = serde_json::to_writer(&mut *out, &to_json(record));
    out.push(b'\n');
}

/// msgpack to JSON: bytes as (lossy) text, map keys as text.
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => i.as_i64().map(Json::from).or_else(|| i.as_u64().map(Json::from)).unwrap_or(Json::Null),
        Value::F32(f) => Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        Value::F64(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Value::Binary(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Ext(..) => Json::Null,
    }
}

impl Downstream {
    /// Sends every batch in Forward messages (one per tag run) and waits
    /// for each ack.
    fn send(&mut self, batches: &[Batch]) -> Result<(), Failure> {
        let mut start = self.acked;
        while start < batches.len() {
            let tag = &batches[start].tag;
            let end = start + batches[start..].iter().take_while(|b| &b.tag == tag).count();
            let count = batches[start..end].iter().map(|b| b.records()).sum::<u64>();
            self.next_chunk += 1;
            let chunk = format!("{:x}-{:x}", std::process::id(), self.next_chunk);
            self.scratch.clear();
            forward::begin(tag, count as u32, &mut self.scratch);
            for b in &batches[start..end] {
                match &b.payload {
                    // Packed already, as the message is.
                    Payload::Entries(entries) => self.scratch.extend_from_slice(entries.bytes()),
                    lines => each_record(lines, |t, r| forward::entry(t, &r, &mut self.scratch)),
                }
            }
            forward::end(&chunk, count, &mut self.scratch);
            if let Err(e) = self.exchange(&chunk) {
                self.conn = None;
                return Err(Failure::Retry(format!("downstream {}: {e}", self.addr)));
            }
            start = end;
            self.acked = end;
        }
        self.acked = 0;
        Ok(())
    }

    fn exchange(&mut self, chunk: &str) -> io::Result<()> {
        if self.conn.is_none() {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(&self.addr)?
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
            let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            c.set_nodelay(true)?;
            c.set_read_timeout(Some(self.ack_timeout))?;
            c.set_write_timeout(Some(self.ack_timeout))?;
            self.conn = Some(match &self.tls {
                Some((config, name)) => {
                    let tls = rustls::ClientConnection::new(config.clone(), name.clone()).map_err(io::Error::other)?;
                    Box::new(rustls::StreamOwned::new(tls, c))
                }
                None => Box::new(c),
            });
            if let Some(key) = &self.shared_key {
                let conn = self.conn.as_mut().expect("connected above");
                let helo = read_message(conn)?;
                let refused = |e: String| io::Error::new(io::ErrorKind::PermissionDenied, format!("handshake: {e}"));
                let (ping, pending) = key.ping(&helo).map_err(refused)?;
                conn.write_all(&ping).and_then(|()| conn.flush())?;
                let pong = read_message(conn)?;
                key.check_pong(&pong, &pending).map_err(refused)?;
            }
            tracing::info!(
                downstream = %self.addr, tls = self.tls.is_some(), shared_key = self.shared_key.is_some(), "connected"
            );
        }
        let conn = self.conn.as_mut().expect("connected above");
        // A socket timeout surfaces as EAGAIN; say what it means.
        let timeout = self.ack_timeout;
        let hung = |e: io::Error, what: &str| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what} within {}", humantime::format_duration(timeout)),
            ),
            _ => e,
        };
        conn.write_all(&self.scratch).and_then(|()| conn.flush()).map_err(|e| hung(e, "could not send"))?;
        if !self.ack {
            return Ok(());
        }
        let response = read_message(conn).map_err(|e| hung(e, "no ack"))?;
        match forward::acked(&response) {
            Some(c) if c == chunk => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::InvalidData, "ack for another chunk")),
        }
    }
}

/// Reads one msgpack value (an ack, a HELO, a PONG: small) from the
/// downstream. The downstream sends nothing unasked, so nothing past it is
/// read.
fn read_message(conn: &mut Box<dyn Connection>) -> io::Result<Value> {
    let mut buf = Vec::new();
    let mut framer = Framer::new(64 * 1024);
    let mut piece = [0u8; 512];
    loop {
        let n = conn.read(&mut piece)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before answering"));
        }
        buf.extend_from_slice(&piece[..n]);
        let len = framer.complete(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if let Some(len) = len {
            return msgpack::decode(&buf[..len]).map_err(|_| io::ErrorKind::InvalidData.into());
        }
    }
}
