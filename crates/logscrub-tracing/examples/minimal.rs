//! The smallest setup: the default fmt subscriber, writing to stdout through
//! logscrub. Run: cargo run -p logscrub-tracing --example minimal

use logscrub::Redactor;
use logscrub_tracing::RedactExt;

fn main() {
    tracing_subscriber::fmt().with_writer(std::io::stdout.redacted(Redactor::new())).init();
    tracing::info!(user = "jane", "signed in");
    tracing::warn!(password = "hunter2hunter2", "login retry");
    tracing::info!("connecting to postgres://app:s3cr3t-pw@db.internal:5432/app");
}
