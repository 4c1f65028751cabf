//! A MakeWriter that captures what is written, for tests.
#![allow(dead_code)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(self.0.clone())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

pub const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";

/// An owned writer into a Capture, for writers that take ownership.
pub struct CaptureWriterOwned(pub Capture);

impl Write for CaptureWriterOwned {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0 .0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A text subscriber writing into `cap` through the redacting writer with
/// the default packs.
pub fn writer_subscriber(cap: &Capture) -> impl tracing::Subscriber + Send + Sync {
    use logscrub_tracing::RedactExt;
    tracing_subscriber::fmt().with_ansi(false).with_writer(cap.clone().redacted(logscrub::Redactor::new())).finish()
}

/// A text subscriber whose field formatter has the default packs, writing
/// into `cap`.
pub fn fields_subscriber(cap: &Capture) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_ansi(false)
        .fmt_fields(logscrub_tracing::RedactingFields::new(logscrub::Redactor::new()))
        .with_writer(cap.clone())
        .finish()
}
