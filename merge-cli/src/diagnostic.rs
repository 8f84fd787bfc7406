//! Problems in the user's input as diagnostics: a stable code, a location and a help line,
//! all reported together, as text on stderr or as `"reason": "diagnostic"` JSON lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use merge_analyzer::ImportError;
use merge_analyzer::error::InputCode;
use serde::Serialize;

use crate::status;

/// One input problem.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub reason: &'static str,
    pub code: &'static str,
    pub severity: &'static str,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
    pub help: &'static str,
}

impl Diagnostic {
    /// An error about the command line or the files it names, with no line.
    pub fn usage(code: InputCode, message: String, help: &'static str) -> Self {
        Diagnostic {
            reason: "diagnostic",
            code: code.code(),
            severity: "error",
            file: None,
            line: None,
            message,
            help,
        }
    }

    fn input(code: InputCode, file: Option<PathBuf>, line: Option<usize>, message: String) -> Self {
        Diagnostic {
            reason: "diagnostic",
            code: code.code(),
            severity: "error",
            file,
            line,
            message,
            help: code.help(),
        }
    }

    /// Every problem of an import error.
    pub fn from_import(e: ImportError) -> Vec<Diagnostic> {
        match e {
            ImportError::Input { errors, more } => {
                let mut out: Vec<Diagnostic> = errors
                    .into_iter()
                    .map(|e| Diagnostic::input(e.code, Some(e.path), e.line, e.message))
                    .collect();
                if more > 0 {
                    let message = format!("... and {more} more problems");
                    out.push(Diagnostic::input(
                        InputCode::MalformedInput,
                        None,
                        None,
                        message,
                    ));
                }
                out
            }
            ImportError::Io { path, source } => {
                let message = format!("failed to read `{}`: {source}", path.display());
                vec![Diagnostic::input(
                    InputCode::Unreadable,
                    Some(path),
                    None,
                    message,
                )]
            }
        }
    }

    /// `file:line: message`, or the message alone.
    fn text(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{}:{l}: {}", f.display(), self.message),
            (Some(f), None) if !self.message.contains(&*f.to_string_lossy()) => {
                format!("{}: {}", f.display(), self.message)
            }
            _ => self.message.clone(),
        }
    }
}

/// Prints the diagnostics: JSON lines on stdout, or text on stderr with one help line per code.
pub fn report(diagnostics: &[Diagnostic], json: bool) {
    if json {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for d in diagnostics {
            if serde_json::to_writer(&mut out, d).is_ok() {
                let _ = writeln!(out);
            }
        }
        return;
    }
    let mut helps = BTreeMap::new();
    for d in diagnostics {
        status::coded_error(d.code, &d.text());
        helps.insert(d.code, d.help);
    }
    for (code, help) in helps {
        status::coded_help(code, help);
    }
}
