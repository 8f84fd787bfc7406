//! `global-tracing-init` and `global-logger-init`: which calls initialise tracing or a logger,
//! and which of them `build` can soften.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Finder, Site};
use crate::check::scan::Event;
use crate::check::{Finding, Severity, others};
use crate::codes::CheckCode;
use crate::members::Member;

/// Whether `build` can make an initialisation harmless in the copies: `tracing_subscriber`'s
/// and `env_logger`'s `init` become `try_init` (`callee` as in a finding's subject, such as
/// `tracing_subscriber::fmt::init`).
pub fn softenable(callee: &str) -> bool {
    let path: Vec<&str> = callee.split("::").collect();
    matches!(
        path.as_slice(),
        ["tracing_subscriber" | "env_logger", .., "init"]
    )
}

/// `global-tracing-init` and `global-logger-init`: the second initialisation fails (tracing's
/// `init` panics). tracing-subscriber's `init` also sets the `log` logger when its `tracing-log`
/// feature is on, so it counts as a logger initialisation too for such members.
pub(super) fn inits(
    sites: &[Site],
    members: &[Member],
    finding: &Finder<'_>,
    out: &mut Vec<Finding>,
) {
    let logs_too: BTreeSet<&str> = members
        .iter()
        .filter(|m| tracing_logs(m))
        .map(|m| m.name.as_str())
        .collect();
    // Calls whose failure the member ignores, by place.
    let ignored: BTreeSet<(&Path, usize, usize, &[String])> = sites
        .iter()
        .filter_map(|s| match &s.event {
            Event::Ignored { path } => Some((s.path.as_path(), s.line, s.column, path.as_slice())),
            _ => None,
        })
        .collect();
    let quiet = |s: &Site| match &s.event {
        Event::Call { path, .. } => {
            ignored.contains(&(s.path.as_path(), s.line, s.column, path.as_slice()))
        }
        _ => false,
    };
    for code in [CheckCode::GlobalTracingInit, CheckCode::GlobalLoggerInit] {
        let found: Vec<(&Site, bool)> = sites
            .iter()
            .filter_map(|s| {
                if code == CheckCode::GlobalTracingInit {
                    tracing_init(&s.event).then_some((s, false))
                } else if logger_init(&s.event) {
                    Some((s, false))
                } else {
                    (tracing_init(&s.event) && logs_too.contains(s.member.as_str()))
                        .then_some((s, true))
                }
            })
            .collect();
        let who: BTreeSet<&str> = found.iter().map(|(s, _)| s.member.as_str()).collect();
        let what = if code == CheckCode::GlobalTracingInit {
            "tracing subscriber"
        } else {
            "logger"
        };
        for (s, through_tracing) in found {
            let callee = callee(&s.event);
            let mendable = callee.as_deref().is_some_and(softenable);
            let how = if through_tracing {
                " (tracing-subscriber's `init` with its `tracing-log` feature)"
            } else {
                ""
            };
            let (severity, message, help) = if who.len() > 1 && quiet(s) {
                (
                    Severity::Note,
                    format!(
                        "`{}` sets the process-wide {what}{how}; {}: its error is ignored here, so if it comes second it fails quietly",
                        s.member,
                        others(&who, &s.member)
                    ),
                    "nothing to do: the first initialisation wins",
                )
            } else if who.len() > 1 {
                let message = format!(
                    "`{}` sets the process-wide {what}{how}; {}: in one process the second initialisation panics or fails",
                    s.member,
                    others(&who, &s.member)
                );
                if mendable {
                    (
                        Severity::Warning,
                        message,
                        "nothing to do: `cargo merge build` makes it a `try_init` in its copy (the first initialisation wins; a later one says once that it was skipped)",
                    )
                } else {
                    (
                        Severity::Error,
                        message,
                        "let every initialisation but one fail quietly (`try_init()`, or ignore `set_logger`'s error); build cannot change this call",
                    )
                }
            } else {
                (
                    Severity::Note,
                    format!(
                        "`{}` sets the process-wide {what}{how}; it is the only member that does",
                        s.member
                    ),
                    "nothing to do while no other member initialises one",
                )
            };
            let mut f = finding(code, severity, s, message, help);
            f.subject = callee;
            out.push(f);
        }
    }
}

/// Whether the member builds tracing-subscriber with its `tracing-log` feature.
fn tracing_logs(m: &Member) -> bool {
    let Some(resolve) = &m.metadata.resolve else {
        return false;
    };
    resolve.nodes.iter().any(|n| {
        n.features.iter().any(|f| f.as_str() == "tracing-log")
            && m.metadata
                .packages
                .iter()
                .any(|p| p.id == n.id && p.name.as_str() == "tracing-subscriber")
    })
}

/// What an initialisation calls, as one path: `tracing_subscriber::fmt::init` for both
/// `tracing_subscriber::fmt::init()` and `tracing_subscriber::fmt().init()`.
fn callee(e: &Event) -> Option<String> {
    match e {
        Event::StrictInit { root } => Some(format!("{}::try_init", root.join("::"))),
        Event::Call { path, .. } => Some(path.join("::")),
        Event::Method { name, root } => Some(format!("{}::{name}", root.join("::"))),
        _ => None,
    }
}

fn tracing_init(e: &Event) -> bool {
    match e {
        Event::Method { name, root } => {
            name == "init" && root.first().is_some_and(|r| r == "tracing_subscriber")
        }
        Event::StrictInit { root } => root.first().is_some_and(|r| r == "tracing_subscriber"),
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
        Event::StrictInit { root } => root
            .first()
            .is_some_and(|r| matches!(r.as_str(), "env_logger" | "simple_logger")),
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
