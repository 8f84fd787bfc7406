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
            let mut f = finding(
                code,
                severity,
                s,
                message,
                "let every initialisation but one fail quietly (`try_init()`, or ignore `set_logger`'s error): the first one wins",
            );
            f.subject = callee(&s.event);
            out.push(f);
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
    metrics(&sites, &finding, out);
    listeners(&sites, &finding, out);
    process_wide_calls(&sites, &finding, out);
}

/// Makes a finding at a site.
type Finder<'a> = dyn Fn(&'static str, Severity, &Site, String, &str) -> Finding + 'a;

/// `metrics-default-registry`: prometheus' default registry is one per process. A name two
/// members register is an error (the second registration fails: `AlreadyReg`).
fn metrics(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
    let found: Vec<(&Site, Option<&str>)> = sites
        .iter()
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
            "metrics-default-registry",
            severity,
            s,
            message,
            "register the member's metrics in a `prometheus::Registry` of its own (`Registry::new_custom` with a prefix), or give them names no other member uses",
        ));
    }
}

/// What an initialisation calls, as one path: `tracing_subscriber::fmt::init` for both
/// `tracing_subscriber::fmt::init()` and `tracing_subscriber::fmt().init()`.
fn callee(e: &Event) -> Option<String> {
    match e {
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

/// `listen-addr-collision`: two members that bind the same port on overlapping interfaces. Both
/// hard-coded: an error (the second bind fails); a default (of a flag or environment key) can be
/// set apart, so a warning.
fn listeners(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
    let found: Vec<(&Site, &str, u16, bool)> = sites
        .iter()
        .filter_map(|s| match &s.event {
            Event::Listen {
                host,
                port,
                default,
            } => Some((s, host.as_str(), *port, *default)),
            _ => None,
        })
        .collect();
    let overlap = |a: &str, b: &str| a == b || a == "*" || b == "*";
    for &(s, host, port, default) in &found {
        let clashes: Vec<&(&Site, &str, u16, bool)> = found
            .iter()
            .filter(|(o, h, p, _)| o.member != s.member && *p == port && overlap(h, host))
            .collect();
        if clashes.is_empty() {
            continue;
        }
        let hard = !default && clashes.iter().any(|c| !c.3);
        let who: BTreeSet<&str> = clashes
            .iter()
            .map(|c| c.0.member.as_str())
            .chain([s.member.as_str()])
            .collect();
        let addr = if host == "*" {
            format!("port {port}")
        } else {
            format!("{host}:{port}")
        };
        let how = if default { "by default" } else { "hard-coded" };
        let (severity, help) = if hard {
            (
                Severity::Error,
                "make the address configurable (a flag or an environment key), or bind another port in one of the members",
            )
        } else {
            (
                Severity::Warning,
                "set each member's own address when the merged binary runs (build namespaces the environment keys several members read: `<MEMBER>_<KEY>`)",
            )
        };
        out.push(finding(
            "listen-addr-collision",
            severity,
            s,
            format!(
                "`{}` listens on {addr} ({how}); {}: in one process the second bind fails (address in use)",
                s.member,
                others(&who, &s.member)
            ),
            help,
        ));
    }
}

/// `global-thread-pool`, `signal-handler` and `current-dir`: calls that change the process for
/// every member.
fn process_wide_calls(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
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
            "global-thread-pool",
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
                    out.push(finding("signal-handler", severity, s, message, help));
                }
                if let ["std", "env", "set_current_dir"] = names.as_slice() {
                    out.push(finding(
                        "current-dir",
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
                "current-dir",
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
