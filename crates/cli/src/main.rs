//! The `dstack` binary: parses arguments and runs the command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dstack_cli::Cli::parse();
    match dstack_cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", render_error(&error));
            ExitCode::FAILURE
        }
    }
}

/// One line per cause, outermost first, so a user sees what failed and why without a backtrace.
fn render_error(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
