//! The smallest setup: the default fmt subscriber, each field scrubbed as
//! it is formatted. Run: cargo run -p logscrub-tracing --example minimal
//!
//! Output (timestamps left out):
//!
//! ```text
//!  INFO minimal: signed in user="jane"
//!  WARN minimal: login retry password=[REDACTED:field]
//!  INFO minimal: connecting to postgres://app:*********@db.internal:5432/app
//! ```

use logscrub::Redactor;
use logscrub_tracing::RedactingFields;

fn main() {
    // For JSON, or to mask every byte of every event whatever formats it,
    // wrap the writer instead (`logscrub_tracing::RedactExt`):
    // `.with_writer(std::io::stdout.redacted(Redactor::new()))`.
    tracing_subscriber::fmt().fmt_fields(RedactingFields::new(Redactor::new())).init();
    tracing::info!(user = "jane", "signed in");
    tracing::warn!(password = "hunter2hunter2", "login retry");
    tracing::info!("connecting to postgres://app:s3cr3t-pw@db.internal:5432/app");
}
