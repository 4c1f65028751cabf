//! A small HTTP service that logs what services log: the database URL at
//! start-up and each request's headers, with the JSON formatter. Every
//! event goes through logscrub before it reaches stdout.
//!
//! Run: `cargo run -p logscrub-tracing --example http_service` and
//! `curl -H 'Authorization: Bearer abc123def456ghi789' localhost:3000/orders`.
//! With `--once` it serves one request it sends itself, then exits (CI runs
//! it that way). Output (one line per event, abridged):
//!
//! ```text
//! {"level":"INFO","fields":{"message":"connecting","database_url":"postgres://app:*********@db.internal:5432/orders"},...}
//! {"level":"INFO","fields":{"message":"request","method":"GET","path":"/orders","headers":"{\"host\": \"x\", \"authorization\": \"Bearer [REDACTED:http-bearer]\", \"cookie\": \"sid=[REDACTED:http-cookie]\", ...}"},...}
//! ```

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use logscrub::Redactor;
use logscrub_tracing::RedactExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Logging every header is exactly the mistake logscrub is for.
    tracing::info!(method = %req.method(), path = req.uri().path(), headers = ?req.headers(), "request");
    Ok(Response::new(Full::new(Bytes::from("ok\n"))))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().json().with_writer(std::io::stdout.redacted(Redactor::new())).init();
    let once = std::env::args().any(|a| a == "--once");
    let database_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://app:s3cr3t-pw@db.internal:5432/orders".to_string());
    tracing::info!(database_url, "connecting");

    let listener = TcpListener::bind(if once { "127.0.0.1:0" } else { "127.0.0.1:3000" }).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    if once {
        tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.expect("connect to self");
            let req = "GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc123def456ghi789\r\nCookie: sid=9f8e7d6c5b4a39281706\r\nConnection: close\r\n\r\n";
            c.write_all(req.as_bytes()).await.expect("send");
            let mut body = Vec::new();
            let _ = c.read_to_end(&mut body).await;
        });
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let serve = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle));
        if once {
            let _ = serve.await;
            return Ok(());
        }
        tokio::spawn(serve);
    }
}
