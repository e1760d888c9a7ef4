//! amanat's binary: parse, dispatch, print the error, return the exit code.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything holds a secret: no core dumps, not ptrace-able, new memory locked
    // where allowed (a command about to handle a passphrase or key locks all of it:
    // `cli::identity::unlock`, `cli::input`; the agent reports when it cannot).
    amanat::harden::harden_command();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                cli::Exit::Usage.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A reader that went away (`amanat ls | head -1`) is not an error.
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            if let Some(e) = err.downcast_ref::<cli::exit::ExitWith>() {
                if let Some((message, hint)) = &e.message {
                    eprintln!("error: {}", cli::output::sanitize(message));
                    if let Some(hint) = hint {
                        eprintln!("hint: {}", cli::output::sanitize(hint));
                    }
                }
                return ExitCode::from(e.code);
            }
            let (exit, message, hint) = cli::exit::classify(&err);
            // Messages can quote user input (paths): defuse terminal escapes in them.
            eprintln!("error: {}", cli::output::sanitize(&message));
            if let Some(hint) = hint {
                eprintln!("hint: {}", cli::output::sanitize(&hint));
            }
            exit.into()
        }
    }
}
