//! Network inputs: newline-delimited TCP and the Forward protocol.
//!
//! Each connection scrubs on its own task and waits for room in the
//! output's buffer, so a slow output slows the readers (and, through TCP,
//! the clients). Limits: `--max-connections` per listener (more are
//! refused and counted), `--idle-timeout` (the connection is closed),
//! `--max-record` for Forward (the peer is disconnected, nothing of that
//! message is acked). With `--tls-cert`, every connection starts with a TLS
//! handshake, bounded by the idle timeout, on the connection's own task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Ctx, Metrics, Payload};
use crate::blocks::Blocks;
use crate::format::{FormatCounts, Scrubber};
use crate::forward;
use crate::msgpack::{self, EventTime, Framer};

const READ_SIZE: usize = 64 * 1024;

/// A client connection, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}
type Conn = Box<dyn Stream>;

/// Binds a listener; the error names which one.
pub async fn bind(addr: &str, kind: &str) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr).await.with_context(|| format!("cannot listen for {kind} on {addr}"))?;
    let local = l.local_addr()?;
    if !local.ip().is_loopback() {
        tracing::warn!(listener = kind, %local, "listening beyond loopback");
    }
    tracing::info!(listener = kind, %local, "listening");
    Ok(l)
}

/// Newline-delimited text, framed by `--format`.
pub async fn tcp(listener: TcpListener, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    accept(listener, ctx, "tcp", tcp_connection).await
}

/// The Forward protocol.
pub async fn forward(listener: TcpListener, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    accept(listener, ctx, "forward", forward_connection).await
}

async fn accept<F, Fut>(listener: TcpListener, ctx: Arc<Ctx>, kind: &'static str, handle: F) -> anyhow::Result<()>
where
    F: Fn(Conn, SocketAddr, Arc<Ctx>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(ctx.opts.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = ctx.shutdown.clone();
    while !*stop.borrow() {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let _ = stream.set_nodelay(true);
                        Metrics::add(&ctx.metrics.connections, 1);
                        tracing::debug!(listener = kind, %peer, "connected");
                        let ctx = ctx.clone();
                        connections.spawn(async move {
                            if let Some(conn) = tls_accept(stream, peer, &ctx, kind).await {
                                handle(conn, peer, ctx).await;
                            }
                            drop(slot);
                        });
                    }
                    Err(_) => {
                        Metrics::add(&ctx.metrics.refused_connections, 1);
                        tracing::warn!(listener = kind, %peer, "connection limit reached; refused");
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(listener = kind, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => {}
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!(listener = kind, open = connections.len(), "stopped accepting; draining connections");
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The connection as the handler reads it: through TLS when configured.
async fn tls_accept(stream: TcpStream, peer: SocketAddr, ctx: &Ctx, kind: &str) -> Option<Conn> {
    let Some(tls) = &ctx.tls else { return Some(Box::new(stream)) };
    match tokio::time::timeout(ctx.opts.idle_timeout, tls.accept(stream)).await {
        Ok(Ok(s)) => Some(Box::new(s)),
        Ok(Err(e)) => {
            Metrics::add(&ctx.metrics.errors, 1);
            tracing::warn!(listener = kind, %peer, "TLS handshake failed: {e}; closing the connection");
            None
        }
        Err(_) => {
            Metrics::add(&ctx.metrics.errors, 1);
            tracing::warn!(listener = kind, %peer, "no TLS handshake within the idle timeout; closing the connection");
            None
        }
    }
}

/// Reads with the idle timeout; after shutdown, keeps reading until the
/// client closes, goes idle, or the drain time is up. (Stopping at a short
/// pause instead lost lines a slow client had already sent.)
struct Reader {
    idle: Duration,
    drain: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
    deadline: Option<Instant>,
}

enum Read {
    Data(usize),
    /// End of input, idle timeout, or drained.
    End(&'static str),
}

impl Reader {
    fn new(ctx: &Ctx) -> Reader {
        Reader {
            idle: ctx.opts.idle_timeout,
            drain: ctx.opts.drain_timeout,
            stop: ctx.shutdown.clone(),
            deadline: None,
        }
    }

    async fn read<R: AsyncRead + Unpin>(&mut self, r: &mut R, buf: &mut BytesMut) -> std::io::Result<Read> {
        buf.reserve(READ_SIZE);
        loop {
            if self.deadline.is_none() && *self.stop.borrow() {
                self.deadline = Some(Instant::now() + self.drain);
            }
            let wait = match self.deadline {
                None => self.idle,
                Some(d) if d <= Instant::now() => return Ok(Read::End("drain time is up")),
                Some(d) => (d - Instant::now()).min(self.idle),
            };
            tokio::select! {
                got = tokio::time::timeout(wait, r.read_buf(buf)) => return match got {
                    Ok(Ok(0)) => Ok(Read::End("closed by peer")),
                    Ok(Ok(n)) => Ok(Read::Data(n)),
                    // A TLS client that closes without close_notify: the
                    // bytes before it were read; nothing is cut off here.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Read::End("closed by peer")),
                    Ok(Err(e)) => Err(e),
                    Err(_) if self.deadline.is_some_and(|d| d <= Instant::now()) => Ok(Read::End("drain time is up")),
                    Err(_) => Ok(Read::End("idle timeout")),
                },
                _ = self.stop.changed(), if self.deadline.is_none() => {}
            }
        }
    }
}

async fn tcp_connection(mut stream: Conn, peer: SocketAddr, ctx: Arc<Ctx>) {
    let mut scrubber = Scrubber::new(&ctx.redactor, ctx.opts.format);
    let mut reader = Reader::new(&ctx);
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let why = loop {
        match reader.read(&mut stream, &mut buf).await {
            Ok(Read::Data(n)) => {
                Metrics::add(&ctx.metrics.bytes_in, n as u64);
                let mut out = Vec::with_capacity(buf.len() + buf.len() / 8);
                scrubber.feed(&buf, &mut out);
                buf.clear();
                submit_lines(&ctx, &mut scrubber, out).await;
            }
            Ok(Read::End(why)) => break why,
            Err(e) => {
                tracing::warn!(listener = "tcp", %peer, "read failed: {e}");
                break "read error";
            }
        }
    };
    let mut out = Vec::new();
    scrubber.finish(&mut out);
    submit_lines(&ctx, &mut scrubber, out).await;
    tracing::debug!(listener = "tcp", %peer, "closed: {why}");
}

async fn submit_lines(ctx: &Ctx, scrubber: &mut Scrubber, text: Vec<u8>) {
    let (stats, counts) = scrubber.take_counts();
    ctx.metrics.scrubbed(&stats, counts);
    if !text.is_empty() {
        ctx.submit(ctx.opts.tag.clone(), Payload::Lines { time: EventTime::now(), text }, false).await;
    }
}

async fn forward_connection(stream: Conn, peer: SocketAddr, ctx: Arc<Ctx>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut reader = Reader::new(&ctx);
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut framer = Framer::new(ctx.opts.max_record);
    // With a shared key, the first message must be the PING answering our
    // HELO; nothing is read as records before it.
    let mut awaiting_ping = None;
    let mut blocks = Blocks::default();
    if ctx.shared_key.is_some() {
        let nonce = crate::handshake::random16();
        if wr.write_all(&crate::handshake::SharedKey::helo(&nonce)).await.is_err() {
            return;
        }
        awaiting_ping = Some(nonce);
    }
    loop {
        match framer.complete(&buf) {
            Ok(Some(len)) => {
                let message = buf.split_to(len);
                let handled = match (awaiting_ping.take(), &ctx.shared_key) {
                    (Some(nonce), Some(key)) => ping(&message, key, &nonce, &mut wr).await,
                    _ => forward_message(&message, &ctx, &mut blocks, &mut wr).await,
                };
                if let Err(e) = handled {
                    Metrics::add(&ctx.metrics.errors, 1);
                    tracing::warn!(listener = "forward", %peer, "{e}; closing the connection");
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                Metrics::add(&ctx.metrics.errors, 1);
                tracing::warn!(listener = "forward", %peer, "{e}; closing the connection");
                return;
            }
        }
        match reader.read(&mut rd, &mut buf).await {
            Ok(Read::Data(n)) => Metrics::add(&ctx.metrics.bytes_in, n as u64),
            Ok(Read::End(why)) => {
                if !buf.is_empty() {
                    tracing::warn!(listener = "forward", %peer, bytes = buf.len(), "{why} inside a message; it was not acked");
                }
                tracing::debug!(listener = "forward", %peer, "closed: {why}");
                return;
            }
            Err(e) => {
                tracing::warn!(listener = "forward", %peer, "read failed: {e}");
                return;
            }
        }
    }
}

/// Answers a PING; an error (a wrong key, or not a PING at all) closes the
/// connection after the refusing PONG.
async fn ping(
    bytes: &[u8],
    key: &crate::handshake::SharedKey,
    nonce: &[u8],
    wr: &mut (impl AsyncWrite + Unpin),
) -> Result<(), String> {
    let value = msgpack::decode(bytes).map_err(|_| "undecodable msgpack in the handshake".to_string())?;
    let (pong, checked) = key.pong(&value, nonce);
    wr.write_all(&pong).await.map_err(|e| format!("cannot send PONG: {e}"))?;
    checked.map_err(|why| format!("handshake refused: {why}"))
}

/// Scrubs each top-level string field of `record` that a key block of
/// `tag` holds open, or that opens one, through the block's stream (see
/// [`Blocks`]); the rest is left to [`msgpack::scrub`].
fn carry_blocks(
    blocks: &mut Blocks,
    redactor: &logscrub::Redactor,
    tag: &str,
    record: &mut rmpv::Value,
    stats: &mut logscrub::Stats,
) {
    let rmpv::Value::Map(fields) = record else { return };
    for (key, value) in fields.iter_mut() {
        let (Some(name), rmpv::Value::String(text)) = (key.as_str(), &*value) else { continue };
        if let Some(masked) = blocks.line(redactor, (tag, name), text.as_bytes(), stats) {
            *value = rmpv::Value::String(masked.into());
        }
    }
}

async fn forward_message(
    bytes: &[u8],
    ctx: &Ctx,
    blocks: &mut Blocks,
    wr: &mut (impl AsyncWrite + Unpin),
) -> Result<(), String> {
    let message = forward::read(bytes, ctx.opts.max_record).map_err(|e| e.to_string())?;
    // The engine counts each value (and the tag) as a line; a record is
    // one line, however many values it has, and its bytes were counted as
    // they were read.
    let (mut stats, mut values) = (ctx.redactor.empty_stats(), ctx.redactor.empty_stats());
    let mut whole = 0;
    let raw = &message.bytes;
    let needs = msgpack::screen(&ctx.redactor, message.entries.iter().map(|e| &raw[e.record.clone()]));
    // Inside a key block every record is a line of it; one that opens a
    // block is a suspect anyway, and from it on so are the rest.
    let mut in_block = blocks.open_for(&message.tag);
    // Tags are routing keys, but a client can put anything in them; a tag
    // that a `drop` rule matches drops the message.
    let tag = ctx.redactor.redact_counted(message.tag.as_bytes(), &mut values);
    let tag_dropped = matches!(&tag, std::borrow::Cow::Owned(t) if t.is_empty());
    let tag = String::from_utf8_lossy(&tag).into_owned();
    // Entries with nothing to scrub go on as they came; the others are
    // decoded, scrubbed and encoded again.
    let mut entries = forward::Entries::default();
    for (e, needs) in message.entries.iter().zip(needs) {
        if !needs && !in_block {
            stats.count_line(0, false);
            if !tag_dropped {
                entries.push_packed(&raw[e.range()]);
            }
            continue;
        }
        let mut record = msgpack::decode(&raw[e.record.clone()]).map_err(|_| "undecodable msgpack".to_string())?;
        let before = values.masked_lines();
        carry_blocks(blocks, &ctx.redactor, &message.tag, &mut record, &mut values);
        in_block = blocks.open_for(&message.tag);
        let scrubbed = msgpack::scrub(&ctx.redactor, &mut record, &mut values);
        whole += scrubbed.unwrap_or(0);
        stats.count_line(0, scrubbed != Some(0) || values.masked_lines() > before);
        // A `drop` rule matched one of its values: the record goes.
        if scrubbed.is_some() && !tag_dropped {
            entries.push(&raw[e.head.clone()], &record);
        }
    }
    stats.merge_findings(&values);
    ctx.metrics.scrubbed(&stats, FormatCounts { fields_masked: whole, ..FormatCounts::default() });
    let Some(chunk) = message.chunk else {
        if !entries.is_empty() {
            ctx.submit(tag.into(), Payload::Entries(entries), false).await;
        }
        return Ok(());
    };
    // An empty chunk is acked at once: there is nothing to lose, and an
    // unacked chunk is sent again forever.
    let written = entries.is_empty()
        || match ctx.submit(tag.into(), Payload::Entries(entries), true).await {
            Some(done) => done.await == Ok(true),
            None => false,
        };
    if written {
        wr.write_all(&forward::ack(&chunk)).await.map_err(|e| format!("cannot send ack: {e}"))?;
    }
    Ok(())
}
