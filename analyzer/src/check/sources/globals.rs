//! What a process has one of: `global-allocator`, `metrics-default-registry` (prometheus'
//! default registry), `global-thread-pool` (rayon's), `signal-handler` and `current-dir`.

use std::collections::BTreeSet;

use super::{Finder, Owners, Site, once_per_place};
use crate::check::scan::Event;
use crate::check::{Finding, Severity, others};
use crate::codes::CheckCode;

/// `global-allocator`: one binary has one. Build keeps the first member's (by name) and removes
/// the others' in copies only their member compiles; one it cannot remove (in a crate several
/// members share) is an error.
pub(super) fn allocators(
    sites: &[Site],
    owners: &Owners<'_>,
    finding: &Finder<'_>,
    out: &mut Vec<Finding>,
) {
    let found: Vec<&Site> = once_per_place(sites)
        .into_iter()
        .filter(|s| s.event == Event::GlobalAllocator)
        .collect();
    if found.len() < 2 {
        return;
    }
    let who: BTreeSet<&str> = found.iter().map(|s| s.member.as_str()).collect();
    // Build keeps the one in a shared crate (it cannot remove it), else the first member's.
    let shared = |s: &Site| {
        owners
            .get(s.package_dir.as_path())
            .is_some_and(|o| o.len() > 1)
    };
    let in_shared: Vec<&&Site> = found.iter().filter(|s| shared(s)).collect();
    let stuck = in_shared.len() > 1;
    let kept = match in_shared.first() {
        Some(s) => format!("the one in `{}`", s.package),
        None => format!("`{}`'s", who.first().copied().unwrap_or_default()),
    };
    for s in &found {
        let others = if who.len() > 1 {
            others(&who, &s.member)
        } else {
            "so does another of its crates".to_owned()
        };
        let message = format!(
            "`{}` defines a #[global_allocator]; {others}: one binary can have only one",
            s.member
        );
        let (severity, help) = if stuck {
            (
                Severity::Error,
                "keep one allocator for the merged binary: build cannot remove one from a crate several members share".to_owned(),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "nothing to do: `cargo merge build` keeps {kept} and removes the others from its copies"
                ),
            )
        };
        out.push(finding(
            CheckCode::GlobalAllocator,
            severity,
            s,
            message,
            &help,
        ));
    }
}

/// `metrics-default-registry`: prometheus' default registry is one per process. A name two
/// members register is an error (the second registration fails: `AlreadyReg`).
pub(super) fn metrics(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
    // A registration in a crate several members share is counted once (a shared static).
    let found: Vec<(&Site, Option<&str>)> = once_per_place(sites)
        .into_iter()
        .filter_map(|s| match &s.event {
            Event::MetricRegister { name } => Some((s, name.as_deref())),
            _ => None,
        })
        .collect();
    let who: BTreeSet<&str> = found.iter().map(|(s, _)| s.member.as_str()).collect();
    for &(s, name) in &found {
        let twins: BTreeSet<&str> = found
            .iter()
            .filter(|(o, n)| o.member != s.member && name.is_some() && *n == name)
            .map(|(o, _)| o.member.as_str())
            .collect();
        let what = name.map_or_else(|| "a metric".to_owned(), |n| format!("`{n}`"));
        let (severity, message) = if !twins.is_empty() {
            let mut both = twins.clone();
            both.insert(&s.member);
            (
                Severity::Error,
                format!(
                    "`{}` registers {what} in prometheus' default registry; {}: in one process the second registration fails (AlreadyReg)",
                    s.member,
                    others(&both, &s.member)
                ),
            )
        } else if who.len() > 1 {
            (
                Severity::Warning,
                format!(
                    "`{}` registers {what} in prometheus' default registry; {}: in one process their metrics share one registry and one /metrics page",
                    s.member,
                    others(&who, &s.member)
                ),
            )
        } else {
            (
                Severity::Note,
                format!(
                    "`{}` registers {what} in prometheus' default registry; it is the only member that does",
                    s.member
                ),
            )
        };
        out.push(finding(
            CheckCode::MetricsDefaultRegistry,
            severity,
            s,
            message,
            "register the member's metrics in a `prometheus::Registry` of its own (`Registry::new_custom` with a prefix), or give them names no other member uses",
        ));
    }
}

/// `global-thread-pool`, `signal-handler` and `current-dir`: calls that change the process for
/// every member.
pub(super) fn process_wide_calls(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
    let pools: Vec<&Site> = sites
        .iter()
        .filter(|s| builds_global_pool(&s.event))
        .collect();
    let who: BTreeSet<&str> = pools.iter().map(|s| s.member.as_str()).collect();
    for s in pools {
        let (severity, message) = if who.len() > 1 {
            (
                Severity::Error,
                format!(
                    "`{}` configures rayon's global thread pool; {}: in one process the second `build_global` fails",
                    s.member,
                    others(&who, &s.member)
                ),
            )
        } else {
            (
                Severity::Note,
                format!(
                    "`{}` configures rayon's global thread pool: merged, every member's rayon work runs on the pool it sized",
                    s.member
                ),
            )
        };
        out.push(finding(
            CheckCode::GlobalThreadPool,
            severity,
            s,
            message,
            "build a `rayon::ThreadPool` of the member's own and `install` its work there",
        ));
    }
    for s in sites {
        match &s.event {
            Event::Call { path, .. } => {
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(replaces) = signal_handler(&names) {
                    let (severity, message, help) = if replaces {
                        (
                            Severity::Warning,
                            format!(
                                "`{}` installs a process-wide signal handler (`{}`) that replaces the one before it: the other members' handlers and the merged binary's own stop no longer run",
                                s.member,
                                names.join("::")
                            ),
                            "use a handler that chains (`signal_hook`, `tokio::signal`), so every member sees SIGTERM",
                        )
                    } else {
                        (
                            Severity::Note,
                            format!(
                                "`{}` handles signals (`{}`): merged, SIGTERM and SIGINT reach every member's handler, and the merged binary waits for all of them (MERGE_GRACE_SECS)",
                                s.member,
                                names.join("::")
                            ),
                            "nothing to do if the member stops cleanly on SIGTERM",
                        )
                    };
                    out.push(finding(CheckCode::SignalHandler, severity, s, message, help));
                }
                if let ["std", "env", "set_current_dir"] = names.as_slice() {
                    out.push(finding(
                        CheckCode::CurrentDir,
                        Severity::Note,
                        s,
                        format!(
                            "`{}` changes the working directory: it is one per process, so every member's relative paths follow it",
                            s.member
                        ),
                        "open files by absolute paths (from a flag or the environment) instead of moving the working directory",
                    ));
                }
            }
            Event::RelativePath { path } => out.push(finding(
                CheckCode::CurrentDir,
                Severity::Note,
                s,
                format!(
                    "`{}` opens `{path}` relative to the working directory: merged, it is the merged binary's, one for every member",
                    s.member
                ),
                "run the merged binary where each member's relative files are found, or take the path from a flag",
            )),
            _ => {}
        }
    }
}

/// rayon's `ThreadPoolBuilder::new()..build_global()`.
fn builds_global_pool(e: &Event) -> bool {
    let rayon = |p: &[String]| p.first().is_some_and(|r| r == "rayon" || r == "rayon_core");
    match e {
        Event::Method { name, root } => name == "build_global" && rayon(root),
        Event::Call { path, .. } => path.last().is_some_and(|l| l == "build_global") && rayon(path),
        _ => false,
    }
}

/// Whether a call installs a signal handler: `Some(true)` when it replaces the handler before it
/// (`libc::signal`, `ctrlc`), `Some(false)` when it chains (`signal_hook`, `tokio::signal`).
fn signal_handler(names: &[&str]) -> Option<bool> {
    match names {
        ["libc", "signal" | "sigaction"]
        | ["nix", "sys", "signal", "signal" | "sigaction"]
        | ["ctrlc", "set_handler" | "try_set_handler"] => Some(true),
        ["signal_hook", ..]
            if names
                .last()
                .is_some_and(|l| l.starts_with("register") || *l == "new") =>
        {
            Some(false)
        }
        ["tokio", "signal", ..]
            if names
                .last()
                .is_some_and(|l| matches!(*l, "ctrl_c" | "signal")) =>
        {
            Some(false)
        }
        _ => None,
    }
}
