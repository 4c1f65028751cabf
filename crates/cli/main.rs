//! The `logscrub` binary; everything it does lives in `lib.rs`.

fn main() -> std::process::ExitCode {
    logscrub_cli::run()
}
