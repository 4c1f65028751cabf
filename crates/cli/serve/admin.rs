//! The admin endpoint: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers) and `/readyz` (inputs are open). Counts and rule
//! ids only.

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

/// Serves the endpoint until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&req, &metrics)) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn respond<B>(req: &Request<B>, m: &Metrics) -> Response<Full<Bytes>> {
    let (status, body) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, render(m)),
        "/healthz" => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" if m.ready.load(Ordering::Relaxed) => (StatusCode::OK, "ready\n".to_string()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_string()),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The metrics in Prometheus text format.
pub fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let counters: [(&str, &str, &AtomicU64); 15] = [
        ("records_in_total", "Records (lines or Forward entries) read", &m.records_in),
        ("bytes_in_total", "Bytes read from network inputs", &m.bytes_in),
        ("records_out_total", "Records written or acked downstream", &m.records_out),
        ("bytes_out_total", "Bytes of scrubbed records delivered", &m.bytes_out),
        ("dropped_records_total", "Records dropped because the buffer was full", &m.dropped),
        ("errors_total", "Protocol and input errors", &m.errors),
        ("fields_masked_total", "Values masked whole because their key names a secret", &m.fields_masked),
        ("malformed_records_total", "Structured lines that did not parse, scrubbed as text", &m.malformed),
        ("long_records_total", "Structured lines over the maximum, scrubbed as text", &m.long_records),
        ("connections_total", "Connections accepted", &m.connections),
        ("refused_connections_total", "Connections refused at the limit", &m.refused_connections),
        ("output_retries_total", "Output writes retried", &m.downstream_retries),
        ("file_truncations_total", "Followed files found truncated", &m.truncations),
        ("spilled_records_total", "Records written to the spill directory", &m.spilled_records),
        ("spill_errors_total", "Times the spill could not be written (full, or a disk error)", &m.spill_errors),
    ];
    for (name, help, c) in counters {
        metric(&mut out, name, help, "counter", c.load(Ordering::Relaxed));
    }
    metric(&mut out, "buffer_bytes", "Bytes waiting for the output", "gauge", m.buffered_bytes.load(Ordering::Relaxed));
    metric(&mut out, "spill_bytes", "Bytes in the spill directory", "gauge", m.spilled_bytes.load(Ordering::Relaxed));
    let findings = m.findings.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stats) = findings.as_ref() {
        metric(
            &mut out,
            "masked_lines_total",
            "Lines or values with at least one finding",
            "counter",
            stats.masked_lines(),
        );
        metric(
            &mut out,
            "rule_dropped_total",
            "Lines or values that a rule with the drop mask dropped (with the record that held them)",
            "counter",
            stats.dropped_lines(),
        );
        let _ = writeln!(
            out,
            "# HELP logscrub_findings_total Findings masked, per rule\n# TYPE logscrub_findings_total counter"
        );
        for (rule, n) in stats.by_rule() {
            let _ = writeln!(out, "logscrub_findings_total{{rule=\"{rule}\"}} {n}");
        }
    }
    out
}

fn metric(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    let _ = writeln!(out, "# HELP logscrub_{name} {help}\n# TYPE logscrub_{name} {kind}\nlogscrub_{name} {value}");
}
