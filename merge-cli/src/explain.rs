//! `cargo merge explain [CODE]`: a code's catalogue entry (merge_analyzer::codes), as
//! `rustc --explain` prints an error's; without a code, every code with its summary.

use std::io::Write;

use merge_analyzer::codes::{self, Entry, Family};
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
                let message = match closest(name) {
                    Some(near) => {
                        format!("`{name}` is not a cargo-merge code; did you mean `{near}`?")
                    }
                    None => format!("`{name}` is not a cargo-merge code"),
                };
                return Err(Failure::Input(vec![Diagnostic::usage(
                    InputCode::InvalidValue,
                    message,
                    "run `cargo merge explain` for the list of codes",
                )]));
            }
        },
        None => list(&mut out),
    };
    crate::analyze::ignore_broken_pipe(written)
}

/// The code whose name is nearest `name` (a typo of at most a third of its letters).
fn closest(name: &str) -> Option<&'static str> {
    codes::all()
        .map(|e| (strsim::levenshtein(name, e.name), e.name))
        .filter(|(d, _)| *d <= name.len().div_ceil(3))
        .min()
        .map(|(_, n)| n)
}

fn explain(out: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    writeln!(out, "{} ({}): {}", e.name, e.family.label(), e.summary)?;
    writeln!(out)?;
    let label = match e.family {
        Family::Analyze => "Effect",
        Family::Check | Family::Input => "Severity",
    };
    writeln!(out, "{label}: {}", e.severity)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_told_its_code() {
        assert_eq!(closest("global-tracing-inti"), Some("global-tracing-init"));
        assert_eq!(closest("low-afinity"), Some("low-affinity"));
        assert_eq!(closest("nothing-like-any-code-at-all"), None);
    }
}
