//! `cargo merge check`: what breaks when a group's members share one process. Each finding
//! has a stable code, a severity, the member, the file (relative to the member's package
//! folder), line and column, the source line, and a help line.
//!
//! From the dependency graphs and manifests (deps/, over versions.rs): `links-conflict`,
//! `exact-pin-conflict`, `version-drift`, `feature-drift`, `profile-conflict`,
//! `patch-conflict`. From the sources (sources/, over scan/: syn over every local package
//! of a member): `global-tracing-init`, `global-logger-init`, `global-allocator`,
//! `metrics-default-registry`, `env-var-collision`, `listen-addr-collision`, `process-exit`,
//! `env-set-var`, `static-mut`, `global-thread-pool`, `signal-handler`, `current-dir`.
//!
//! What static analysis cannot see (ARCHITECTURE.md says the same):
//! - a key, address, path or metric name computed at run time (`env::var(format!(..))`,
//!   `bind(addr)` where `addr` was built from parts): only literals are compared, with the
//!   defaults of flags (`default_value`), of environment reads (`unwrap_or("8080")`) and of
//!   variables named for a listener (`let addr = "[::1]:50051".parse()?`);
//! - a path re-exported through another module (`mod util { pub use std::process::exit; }`
//!   then `util::exit(1)`): `use` aliases are resolved per file, on a path's first segment;
//! - a value that flows through a variable before the call (`let s = fmt().finish(); s.init()`);
//! - code a macro generates from tokens that parse neither as expressions, statements nor
//!   items (a `lazy_static!` body is read as items once `ref` is dropped), and code generated
//!   by build scripts or procedural macros;
//! - what a dependency from crates.io does at run time (a library that initialises tracing or
//!   binds a port itself);
//! - which `cfg` the build will enable: every `cfg` branch is read, so a finding may be in code
//!   that is not compiled (test code, `#[cfg(test)]` and `#[test]`, is skipped, as are the
//!   member's other binaries);
//! - whether the code runs at all: a finding in a function never called is still reported, and a
//!   call in a crate several members share counts once per member.

mod deps;
pub mod scan;
mod sources;

pub use sources::softenable;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::codes::CheckCode;
use crate::members::Member;
use crate::parsed::Parsed;
use crate::plan::Isolation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: CheckCode,
    pub severity: Severity,
    pub group: String,
    pub member: String,
    /// Relative to the member's package folder.
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: String,
    /// The source line at `line`.
    pub source: Option<String>,
    /// What the finding is about, where a mitigation needs it: the key of an
    /// `env-var-collision`, the function a `global-*-init` calls (`env_logger::init`).
    pub subject: Option<String>,
}

/// What check reads of a group.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Every finding, sorted by member, file and line.
    pub findings: Vec<Finding>,
    /// Per member, every environment key its sources read by its literal name
    /// (`env::var("PORT")`, clap's `env = "PORT"`): what the merged binary's `--help` lists.
    pub env_keys: BTreeMap<String, BTreeSet<String>>,
}

/// Checks group `group`, its members' sources read through `parsed` (build shares it with
/// the rewrite, so that each source is parsed once).
pub fn check_group(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    parsed: &Parsed,
) -> Checked {
    let mut findings = Vec::new();
    let env_keys = sources::source_findings(group, members, parsed, &mut findings);
    deps::dependency_findings(group, members, isolation, &mut findings);
    findings.sort_by(|a, b| {
        (&a.member, &a.file, a.line, a.column, a.code)
            .cmp(&(&b.member, &b.file, b.line, b.column, b.code))
    });
    Checked { findings, env_keys }
}

/// `so does `b`` or `so do `b`, `c``: the other members that do it.
pub(crate) fn others(who: &BTreeSet<&str>, me: &str) -> String {
    let rest: Vec<String> = who
        .iter()
        .filter(|w| **w != me)
        .map(|w| format!("`{w}`"))
        .collect();
    let verb = if rest.len() == 1 { "does" } else { "do" };
    format!("so {verb} {}", rest.join(", "))
}

pub(crate) fn finding_at(
    group: &str,
    member: Option<&Member>,
    code: CheckCode,
    severity: Severity,
    at: Option<(&Path, usize, usize)>,
    message: String,
    help: &str,
) -> Finding {
    let root = member.map(|m| m.root.as_path());
    let (file, line, column, source) = match at {
        Some((path, line, column)) => {
            let rel = root
                .and_then(|r| pathdiff::diff_paths(path, r))
                .unwrap_or_else(|| path.to_path_buf());
            let source = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.lines().nth(line.saturating_sub(1)).map(str::to_owned));
            (Some(rel), Some(line), Some(column), source)
        }
        None => (None, None, None, None),
    };
    Finding {
        code,
        severity,
        group: group.to_owned(),
        member: member.map(|m| m.name.clone()).unwrap_or_default(),
        file,
        line,
        column,
        message,
        help: help.to_owned(),
        source,
        subject: None,
    }
}
