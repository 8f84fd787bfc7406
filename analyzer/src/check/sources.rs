//! The findings read from the members' sources (scan.rs over every local package's `src/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::scan::{self, Event};
use super::{Finding, Severity, finding_at, others};
use crate::members::Member;

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

/// The findings read from the members' sources.
pub(super) fn source_findings(group: &str, members: &[Member], out: &mut Vec<Finding>) {
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

/// Every environment key a member reads by its literal name (`env::var("PORT")`, clap's
/// `env = "PORT"`), in its local packages' sources: what the merged binary's `--help` lists.
pub fn env_keys(m: &Member) -> BTreeSet<String> {
    sites_of(m)
        .into_iter()
        .filter_map(|s| match s.event {
            Event::EnvRead { key } => Some(key),
            _ => None,
        })
        .collect()
}
