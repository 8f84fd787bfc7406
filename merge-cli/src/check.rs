//! `cargo merge check`: every group's findings (merge_analyzer::check), as a report on stdout
//! (each with its source line and help), as JSON lines (`diagnostic`, then `check-summary`), or
//! as one SARIF 2.1.0 log (sarif.rs). Exit status 1 when an error was found.

use std::io::Write;

use anyhow::Context as _;
use merge_analyzer::check::{self, Finding, Severity};
use merge_analyzer::members::{self, CargoOptions};
use merge_analyzer::plan::Isolation;
use serde::Serialize;

use crate::Failure;
use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostic::Diagnostic;
use crate::sarif;

/// The `diagnostic` JSON line of design.md.
#[derive(Debug, Serialize)]
struct Line<'a> {
    reason: &'static str,
    code: &'a str,
    severity: &'a str,
    group: &'a str,
    member: &'a str,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
    help: &'a str,
}

#[derive(Debug, Serialize)]
struct Summary {
    reason: &'static str,
    groups: usize,
    errors: usize,
    warnings: usize,
    notes: usize,
}

/// Runs the check; `Ok(true)` when errors were found.
pub fn exec(args: &CheckArgs) -> Result<bool, Failure> {
    let mut plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let isolation = args.isolation.map_or(plan.plan.isolation, Isolation::from);
    let groups: Vec<String> = plan.groups(&args.group);
    // Members from git are read where build checks them out.
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let fetch = merge_analyzer::sources::Fetch {
        offline: args.offline,
    };
    merge_analyzer::sources::checkout(&mut plan, &groups, &out, fetch)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let options = CargoOptions {
        offline: args.offline,
        frozen: false,
    };
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    // Every group's members, where SARIF finds the files of their findings.
    let mut loaded = Vec::new();
    for g in &groups {
        match members::load_group(&plan, g, &options) {
            Ok(members) => {
                let parsed = merge_analyzer::parsed::Parsed::default();
                findings.extend(check::check_group(g, &members, isolation, &parsed).findings);
                loaded.extend(members);
            }
            Err(e) => problems.extend(Diagnostic::from_import(e)),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Input(problems));
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        reason: "check-summary",
        groups: groups.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        notes: count(Severity::Note),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.message_format {
        CheckFormat::Sarif => {
            let log = sarif::log(&findings, &plan, &loaded);
            serde_json::to_writer_pretty(&mut out, &log).context("failed to write to stdout")?;
            writeln!(out).context("failed to write to stdout")?;
        }
        CheckFormat::Json => {
            for f in &findings {
                serde_json::to_writer(&mut out, &line(f)).context("failed to write to stdout")?;
                writeln!(out).context("failed to write to stdout")?;
            }
            serde_json::to_writer(&mut out, &summary).context("failed to write to stdout")?;
            writeln!(out).context("failed to write to stdout")?;
        }
        CheckFormat::Human => {
            for f in &findings {
                human(&mut out, f).context("failed to write to stdout")?;
            }
            writeln!(
                out,
                "check: {} error(s), {} warning(s), {} note(s) in {} group(s)",
                summary.errors, summary.warnings, summary.notes, summary.groups
            )
            .context("failed to write to stdout")?;
        }
    }
    out.flush().context("failed to write to stdout")?;
    Ok(summary.errors > 0)
}

fn line(f: &Finding) -> Line<'_> {
    Line {
        reason: "diagnostic",
        code: f.code.name(),
        severity: f.severity.label(),
        group: &f.group,
        member: &f.member,
        file: f
            .file
            .as_ref()
            .map(|p| p.to_string_lossy().replace('\\', "/")),
        line: f.line,
        column: f.column,
        message: &f.message,
        help: &f.help,
    }
}

/// `severity[code]: message`, where, the source line with a caret, and the help.
fn human(out: &mut impl Write, f: &Finding) -> std::io::Result<()> {
    writeln!(out, "{}[{}]: {}", f.severity.label(), f.code, f.message)?;
    let place = match (&f.file, f.line, f.column) {
        (Some(file), Some(l), Some(c)) => format!("{}:{l}:{c}", file.display()),
        (Some(file), _, _) => file.display().to_string(),
        _ => String::from("(no file)"),
    };
    writeln!(
        out,
        "  --> group `{}`, member `{}`: {place}",
        f.group, f.member
    )?;
    if let (Some(source), Some(l), Some(c)) = (&f.source, f.line, f.column) {
        let number = l.to_string();
        let pad = " ".repeat(number.len());
        writeln!(out, "{pad} |")?;
        writeln!(out, "{number} | {source}")?;
        writeln!(out, "{pad} | {}^", " ".repeat(c.saturating_sub(1)))?;
    }
    writeln!(out, "  = help: {}", f.help)?;
    writeln!(out)
}
