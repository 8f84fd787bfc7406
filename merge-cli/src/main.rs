//! `cargo merge`: compile chatty tonic microservices into one binary.
//!
//! This file only parses the command line and turns errors into exit codes; each subcommand
//! lives in its own module.

mod analyze;
mod bench;
mod build;
mod bump;
mod check;
mod cli;
mod diagnostic;
mod envmerge;
mod explain;
mod fsx;
mod github;
mod human;
mod json;
mod mergelock;
mod query;
mod release_manifest;
mod render;
mod sarif;
mod state;
mod status;
mod synth;
mod tools;

use std::process::ExitCode;

use clap::Parser;

/// A failure of a subcommand, with the exit status it gives.
#[derive(Debug)]
pub enum Failure {
    /// Bad input: the files or values the user gave (exit status 2).
    Input(Vec<diagnostic::Diagnostic>),
    /// Anything else, such as a file that could not be written (exit status 1).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let cli::Cargo::Merge(args) = cli::Cargo::parse_from(cli::normalized_args());
    anstream::ColorChoice::write_global(match args.color {
        cli::Color::Auto => anstream::ColorChoice::Auto,
        cli::Color::Always => anstream::ColorChoice::Always,
        cli::Color::Never => anstream::ColorChoice::Never,
    });
    let json = args.command.message_format() == cli::MessageFormat::Json;
    let result = match args.command {
        cli::Command::Analyze(a) => analyze::exec(&a),
        cli::Command::Build(b) => build::exec(&b),
        cli::Command::Bench(b) => match bench::exec(&b) {
            // Answers differed, and were reported: status 1.
            Ok(true) => return ExitCode::from(1),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        cli::Command::Status(s) => match state::exec(&s) {
            // A group is stale, and was reported: status 1.
            Ok(true) => return ExitCode::from(1),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        cli::Command::Bump(b) => bump::exec(&b),
        cli::Command::Render(r) => render::exec(&r),
        cli::Command::Query(q) => query::exec(&q),
        cli::Command::Explain(e) => explain::exec(&e),
        cli::Command::Check(c) => match check::exec(&c) {
            // Errors were found and reported: status 1, with nothing more to say.
            Ok(true) => return ExitCode::from(1),
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(diagnostics)) => {
            diagnostic::report(&diagnostics, json);
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            status::error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}
