//! `cargo merge explain [CODE]`: a code's catalogue entry (merge_analyzer::codes), as
//! `rustc --explain` prints an error's; without a code, every code with its summary.

use std::io::Write;

use merge_analyzer::codes::{self, Entry};
use merge_analyzer::error::InputCode;

use crate::Failure;
use crate::cli::ExplainArgs;
use crate::diagnostic::Diagnostic;

pub fn exec(args: &ExplainArgs) -> Result<(), Failure> {
    let mut out = anstream::stdout().lock();
    let written = match &args.code {
        Some(name) => match codes::lookup(name) {
            Some(e) => explain(&mut out, e),
            None => {
                return Err(Failure::Input(vec![Diagnostic::usage(
                    InputCode::InvalidValue,
                    format!("`{name}` is not a cargo-merge code"),
                    "run `cargo merge explain` for the list of codes",
                )]));
            }
        },
        None => list(&mut out),
    };
    written.map_err(|e| Failure::Other(e.into()))
}

fn explain(out: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    writeln!(out, "{} ({}): {}", e.name, e.family.label(), e.summary)?;
    writeln!(out)?;
    writeln!(out, "Severity: {}", e.severity)?;
    writeln!(out)?;
    writeln!(out, "{}", e.explanation)?;
    writeln!(out)?;
    writeln!(out, "Example: {}", e.example)?;
    writeln!(out)?;
    writeln!(out, "What to do: {}", e.help)
}

fn list(out: &mut impl Write) -> std::io::Result<()> {
    let width = codes::all().map(|e| e.name.len()).max().unwrap_or(0);
    let mut family = None;
    for e in codes::all() {
        if family != Some(e.family) {
            if family.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{} codes:", e.family.label())?;
            family = Some(e.family);
        }
        writeln!(out, "  {:width$}  {}", e.name, e.summary)?;
    }
    writeln!(out)?;
    writeln!(out, "`cargo merge explain CODE` says more of one.")
}
