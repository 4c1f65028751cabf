//! The `logscrub` binary: parses flags, runs one command, maps the outcome
//! to an exit status. 0: done (for `rules test`: all passed; for `check`:
//! nothing to mask); 1: `rules test` found failures, or `check` found
//! something to mask; 2: an error, printed once on stderr (for `scrub` and
//! `check`: a file failed; for `serve`: records could not be delivered in
//! the drain time). A closed stdout (`logscrub | head`) is not an error.

mod args;
mod batch;
mod filter;
mod format;
mod forward;
mod msgpack;
mod rules_cmd;
mod serve;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Args, Command, RulesCommand};

fn main() -> ExitCode {
    let args = Args::parse();
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

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
