//! The `logscrub` binary's internals. This is a library only so that the
//! fuzz targets (`fuzz/`) and the binary-level tests (`tests/no_leak.rs`)
//! reach the same decoders and encoders the binary runs; it is not
//! published and its API is not stable. Use the `logscrub` crate for the
//! engine.
//!
//! [`run`] parses flags, runs one command and maps the outcome to an exit
//! status. 0: done (for `rules test`: all passed; for `check`: nothing to
//! mask); 1: `rules test` found failures, or `check` found something to
//! mask; 2: an error, printed once on stderr (for `scrub` and `check`: a
//! file failed; for `serve`: records could not be delivered in the drain
//! time). A closed stdout (`logscrub | head`) is not an error.

mod args;
mod batch;
mod blocks;
mod filter;
pub mod format;
pub mod forward;
mod handshake;
mod json_path;
mod json_screen;
pub mod msgpack;
mod pieces;
mod rules_cmd;
mod serve;
mod utf16;

pub use batch::{archive, codec};

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Args, Command, RulesCommand};

/// Runs the command line of this process and returns its exit status.
pub fn run() -> ExitCode {
    let args = Args::parse();
    fail_writes_past_the_file_size_limit();
    let result = match &args.command {
        None => filter::run(&args),
        Some(Command::Serve(serve)) => serve::serve(&args.engine, serve),
        Some(Command::Tail(tail)) => serve::tail(&args.engine, tail),
        Some(Command::Scrub(scrub)) => batch::scrub(&args.engine, scrub),
        Some(Command::Check(check)) => batch::check(&args.engine, check),
        Some(Command::Rules { command: RulesCommand::List(list) }) => rules_cmd::list(&args, list),
        Some(Command::Rules { command: RulesCommand::Test(test) }) => rules_cmd::test(&args, test),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("logscrub: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A write past the file size limit (`ulimit -f`, RLIMIT_FSIZE) fails with
/// EFBIG, a clear error like a full disk's, instead of SIGXFSZ killing the
/// process: `scrub` fails that file (its original untouched) and goes on
/// with the others, the filter reports it, the sidecar waits it out.
fn fail_writes_past_the_file_size_limit() {
    // SAFETY: sets one signal's disposition to ignore, before any thread
    // that could receive it is started; no handler runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
