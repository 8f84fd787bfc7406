//! `cargo merge check`: what breaks when a group's members share one process. Each finding
//! has a stable code, a severity, the member, the file (relative to the member's package
//! folder), line and column, the source line, and a help line.
//!
//! From the dependency graphs (versions.rs): `links-conflict`, `exact-pin-conflict`,
//! `version-drift`. From the sources (scan.rs, syn over every local package of a member):
//! `global-tracing-init`, `global-logger-init`, `global-allocator`, `env-var-collision`,
//! `process-exit`, `env-set-var`, `static-mut`.
//!
//! What static analysis cannot see: a key or address computed at run time
//! (`env::var(format!(..))`), code a macro generates from tokens that do not parse as
//! expressions, initialisation done inside a dependency from crates.io, and which `cfg` the
//! build will enable (every `cfg` branch is read, so a finding may be in code that is not
//! compiled).

pub mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use scan::Event;

use crate::members::Member;
use crate::plan::Isolation;
use crate::versions;

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
    pub code: &'static str,
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
    /// What the finding is about, where a mitigation needs it (the key of an
    /// `env-var-collision`).
    pub subject: Option<String>,
}

/// A source event with where it is.
#[derive(Debug, Clone)]
struct Site {
    member: String,
    /// The local package the file belongs to.
    package: String,
    /// Absolute.
    path: PathBuf,
    line: usize,
    column: usize,
    event: Event,
}

/// Every finding of group `group`, sorted by member, file and line.
pub fn check_group(group: &str, members: &[Member], isolation: Isolation) -> Vec<Finding> {
    let mut out = Vec::new();
    let sites: Vec<Site> = members.iter().flat_map(sites_of).collect();
    let finding =
        |code: &'static str, severity: Severity, site: &Site, message: String, help: &str| {
            let member = members.iter().find(|m| m.name == site.member);
            finding_at(
                group,
                member,
                code,
                severity,
                Some((&site.path, site.line, site.column)),
                message,
                help,
            )
        };

    // Global initialisations: the second one fails (tracing: `init` panics).
    for (code, what, is) in [
        (
            "global-tracing-init",
            "tracing subscriber",
            tracing_init as fn(&Event) -> bool,
        ),
        ("global-logger-init", "logger", logger_init),
    ] {
        let found: Vec<&Site> = sites.iter().filter(|s| is(&s.event)).collect();
        let who: BTreeSet<&str> = found.iter().map(|s| s.member.as_str()).collect();
        let severity = if who.len() > 1 {
            Severity::Error
        } else {
            Severity::Note
        };
        for s in found {
            let message = if who.len() > 1 {
                format!(
                    "`{}` sets the process-wide {what}; {}: in one process the second initialisation panics or fails",
                    s.member,
                    others(&who, &s.member)
                )
            } else {
                format!(
                    "`{}` sets the process-wide {what}; it is the only member that does",
                    s.member
                )
            };
            out.push(finding(
                code,
                severity,
                s,
                message,
                "let every initialisation but one fail quietly (`try_init()`, or ignore `set_logger`'s error): the first one wins",
            ));
        }
    }

    let allocators: Vec<&Site> = sites
        .iter()
        .filter(|s| s.event == Event::GlobalAllocator)
        .collect();
    let who: BTreeSet<&str> = allocators.iter().map(|s| s.member.as_str()).collect();
    if who.len() > 1 {
        for s in allocators {
            out.push(finding(
                "global-allocator",
                Severity::Error,
                s,
                format!(
                    "`{}` defines a #[global_allocator]; {}: one binary can have only one",
                    s.member,
                    others(&who, &s.member)
                ),
                "keep one allocator for the merged binary and remove the others from the members that can do without",
            ));
        }
    }

    let mut keys: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
    for s in &sites {
        if let Event::EnvRead { key } = &s.event {
            keys.entry(key).or_default().push(s);
        }
    }
    for (key, reads) in keys {
        let who: BTreeSet<&str> = reads.iter().map(|s| s.member.as_str()).collect();
        let packages: BTreeSet<&str> = reads.iter().map(|s| s.package.as_str()).collect();
        if who.len() > 1 && packages.len() > 1 {
            for s in reads {
                let mut f = finding(
                    "env-var-collision",
                    Severity::Warning,
                    s,
                    format!(
                        "`{}` reads the environment variable `{key}`; {}: in one process they get one value",
                        s.member,
                        others(&who, &s.member)
                    ),
                    "give each member its own key (`<MEMBER>_<KEY>`), or make sure one value suits all of them",
                );
                f.subject = Some(key.to_owned());
                out.push(f);
            }
        }
    }

    for s in &sites {
        let Event::Call { path, in_main } = &s.event else {
            continue;
        };
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match names.as_slice() {
            ["std" | "core", "process", what @ ("exit" | "abort")] if !in_main => {
                out.push(finding(
                    "process-exit",
                    Severity::Warning,
                    s,
                    format!("`{}` calls `process::{what}` outside `main`: in one process it ends every member", s.member),
                    "return an error to `main` instead, so the merged binary can say which member failed",
                ));
            }
            ["std", "env", what @ ("set_var" | "remove_var")] => {
                out.push(finding(
                    "env-set-var",
                    Severity::Warning,
                    s,
                    format!("`{}` calls `env::{what}`: the environment is shared by every member of the process", s.member),
                    "pass the value explicitly instead of through the process environment",
                ));
            }
            _ => {}
        }
    }
    for s in &sites {
        if let Event::StaticMut { name } = &s.event {
            out.push(finding(
                "static-mut",
                Severity::Note,
                s,
                format!("`{}` has a `static mut {name}`: it is one per process, shared with the other members' code only if they link the same crate", s.member),
                "prefer an atomic, a `OnceLock` or state owned by the service",
            ));
        }
    }

    dependency_findings(group, members, isolation, &mut out);
    out.sort_by(|a, b| {
        (&a.member, &a.file, a.line, a.column, a.code)
            .cmp(&(&b.member, &b.file, b.line, b.column, b.code))
    });
    out
}

/// `links-conflict`, `exact-pin-conflict` and `version-drift`, at the member's manifest line
/// that names the crate (or its first line).
fn dependency_findings(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    out: &mut Vec<Finding>,
) {
    for (links, users) in versions::links_collisions(members) {
        for (member, p) in &users {
            let Some(m) = members.iter().find(|m| &m.name == member) else {
                continue;
            };
            let chain = versions::chain(m, &p.name, &p.version);
            out.push(finding_at(
                group,
                Some(m),
                "links-conflict",
                Severity::Error,
                manifest_line(m, &p.name),
                format!("`{member}` links the native library `{links}` through {chain}, and another member links it through another package: one binary cannot link both"),
                "align the members on one version of the crate that links it",
            ));
        }
    }
    for c in versions::conflicts(members) {
        if c.links.is_some() {
            continue;
        }
        for (version, users) in &c.versions {
            for member in users {
                let Some(m) = members.iter().find(|m| &m.name == member) else {
                    continue;
                };
                let pinned = pins_exactly(m, &c.name);
                let (code, severity, help) = match (pinned, isolation) {
                    (true, Isolation::Exact) | (false, Isolation::Exact) => (
                        if pinned {
                            "exact-pin-conflict"
                        } else {
                            "version-drift"
                        },
                        Severity::Note,
                        "isolation `exact` vendors the other version for the members that lock it; nothing to do",
                    ),
                    (true, _) => (
                        "exact-pin-conflict",
                        Severity::Error,
                        "use isolation `exact`, or align the pins: one workspace cannot hold both",
                    ),
                    (false, Isolation::Unify) => (
                        "version-drift",
                        Severity::Warning,
                        "test the member with the unified version, or use isolation `exact`",
                    ),
                    (false, Isolation::Strict) => (
                        "version-drift",
                        Severity::Error,
                        "align the members' Cargo.lock files, or use isolation `exact`",
                    ),
                };
                out.push(finding_at(
                    group,
                    Some(m),
                    code,
                    severity,
                    manifest_line(m, &c.name),
                    format!(
                        "`{member}` locks `{}` {version}; the members lock {}",
                        c.name,
                        c.describe()
                    ),
                    help,
                ));
            }
        }
    }
}

/// Whether the member's manifest requires `name` with `=x.y.z`.
fn pins_exactly(m: &Member, name: &str) -> bool {
    m.package
        .dependencies
        .iter()
        .any(|d| d.name == name && d.req.to_string().starts_with('='))
}

/// The line of the member's manifest that names `crate_name`, or nothing.
fn manifest_line<'a>(m: &'a Member, crate_name: &str) -> Option<(&'a Path, usize, usize)> {
    let text = std::fs::read_to_string(&m.manifest).ok()?;
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(crate_name) && l.contains('='))?;
    Some((m.manifest.as_path(), line + 1, 1))
}

/// `so does `b`` or `so do `b`, `c``: the other members that do it.
fn others(who: &BTreeSet<&str>, me: &str) -> String {
    let rest: Vec<String> = who
        .iter()
        .filter(|w| **w != me)
        .map(|w| format!("`{w}`"))
        .collect();
    let verb = if rest.len() == 1 { "does" } else { "do" };
    format!("so {verb} {}", rest.join(", "))
}

fn finding_at(
    group: &str,
    member: Option<&Member>,
    code: &'static str,
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

fn tracing_init(e: &Event) -> bool {
    match e {
        Event::Method { name, root } => {
            name == "init" && root.first().is_some_and(|r| r == "tracing_subscriber")
        }
        Event::Call { path, .. } => {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            matches!(
                p.as_slice(),
                ["tracing_subscriber", .., "init"]
                    | ["tracing", "subscriber", "set_global_default"]
            )
        }
        _ => false,
    }
}

fn logger_init(e: &Event) -> bool {
    match e {
        Event::Method { name, root } => {
            name == "init"
                && root
                    .first()
                    .is_some_and(|r| matches!(r.as_str(), "env_logger" | "simple_logger"))
        }
        Event::Call { path, .. } => {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            matches!(
                p.as_slice(),
                ["env_logger", "init"]
                    | ["log", "set_logger" | "set_boxed_logger"]
                    | [
                        "simple_logger",
                        "init" | "init_with_level" | "init_with_env"
                    ]
            )
        }
        _ => false,
    }
}

/// Every event of a member's local packages' `src/` folders.
fn sites_of(m: &Member) -> Vec<Site> {
    let mut out = Vec::new();
    for p in m.local_packages() {
        if ["merge-runtime-shim", "merge-inline-macros", "merge-rewrite"].contains(&p.name.as_str())
        {
            continue;
        }
        let Some(dir) = p.manifest_path.parent() else {
            continue;
        };
        let src = dir.as_std_path().join("src");
        let files = walkdir::WalkDir::new(&src)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"));
        for f in files {
            let Ok(text) = std::fs::read_to_string(f.path()) else {
                continue;
            };
            for found in scan::scan(&text) {
                out.push(Site {
                    member: m.name.clone(),
                    package: p.name.to_string(),
                    path: f.path().to_path_buf(),
                    line: found.line,
                    column: found.column,
                    event: found.event,
                });
            }
        }
    }
    out
}
