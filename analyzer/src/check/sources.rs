//! The findings read from the members' sources (scan.rs over every local package's `src/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::scan::{self, Event, Set};
use super::{Finding, Severity, finding_at, others};
use crate::members::Member;

/// A source event with where it is.
#[derive(Debug, Clone)]
struct Site {
    member: String,
    /// The local package the file belongs to: its name and folder.
    package: String,
    package_dir: PathBuf,
    /// Absolute.
    path: PathBuf,
    line: usize,
    column: usize,
    event: Event,
}

impl Site {
    fn place(&self) -> (&Path, usize, usize) {
        (&self.path, self.line, self.column)
    }
}

/// The members that compile each local package (a shared crate has several).
type Owners<'a> = BTreeMap<&'a Path, BTreeSet<&'a str>>;

/// The findings read from the members' sources.
pub(super) fn source_findings(group: &str, members: &[Member], out: &mut Vec<Finding>) {
    let sites: Vec<Site> = members.iter().flat_map(sites_of).collect();
    let mut owners: Owners<'_> = BTreeMap::new();
    for s in &sites {
        owners
            .entry(s.package_dir.as_path())
            .or_default()
            .insert(s.member.as_str());
    }
    let finding =
        |code: &'static str, severity: Severity, site: &Site, message: String, help: &str| {
            let member = members.iter().find(|m| m.name == site.member);
            finding_at(
                group,
                member,
                code,
                severity,
                Some(site.place()),
                message,
                help,
            )
        };
    inits(&sites, members, &finding, out);
    allocators(&sites, &owners, &finding, out);
    environment(&sites, &owners, &finding, out);
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
    for s in once_per_place(&sites) {
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
    listeners(&sites, &owners, &finding, out);
    process_wide_calls(&sites, &finding, out);
}

/// The sites with one per place: an item of a crate several members share (a static, an
/// allocator) exists once in the merged binary. Code that runs (a call) is not deduplicated:
/// each member runs it.
fn once_per_place(sites: &[Site]) -> Vec<&Site> {
    let mut seen = BTreeSet::new();
    sites
        .iter()
        .filter(|s| seen.insert((s.path.as_path(), s.line, s.column)))
        .collect()
}

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
fn inits(sites: &[Site], members: &[Member], finding: &Finder<'_>, out: &mut Vec<Finding>) {
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
    for code in ["global-tracing-init", "global-logger-init"] {
        let found: Vec<(&Site, bool)> = sites
            .iter()
            .filter_map(|s| {
                if code == "global-tracing-init" {
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
        let what = if code == "global-tracing-init" {
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

/// `global-allocator`: one binary has one. Build keeps the first member's (by name) and removes
/// the others' in copies only their member compiles; one it cannot remove (in a crate several
/// members share) is an error.
fn allocators(sites: &[Site], owners: &Owners<'_>, finding: &Finder<'_>, out: &mut Vec<Finding>) {
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
        out.push(finding("global-allocator", severity, s, message, &help));
    }
}

/// `env-var-collision`: the same literal key read by several members. Build namespaces each
/// member's reads in its own crates (`<MEMBER>_<KEY>`); a read in a crate several members share
/// keeps one value for all of them.
fn environment(sites: &[Site], owners: &Owners<'_>, finding: &Finder<'_>, out: &mut Vec<Finding>) {
    let mut keys: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
    for s in once_per_place_and_member(sites) {
        if let Event::EnvRead { key } = &s.event {
            keys.entry(key).or_default().push(s);
        }
    }
    let mut reported = BTreeSet::new();
    for (key, reads) in keys {
        let who: BTreeSet<&str> = reads.iter().map(|s| s.member.as_str()).collect();
        if who.len() < 2 {
            continue;
        }
        for s in reads {
            let sharers = owners.get(s.package_dir.as_path()).filter(|o| o.len() > 1);
            let f = match sharers {
                None => {
                    let mut f = finding(
                        "env-var-collision",
                        Severity::Warning,
                        s,
                        format!(
                            "`{}` reads the environment variable `{key}`; {}: in one process they get one value",
                            s.member,
                            others(&who, &s.member)
                        ),
                        "`cargo merge build` makes this member read `<MEMBER>_<KEY>` first (falling back to the key), so the members can be set apart",
                    );
                    f.subject = Some(key.to_owned());
                    f
                }
                Some(sharers) => {
                    if !reported.insert((s.path.as_path(), s.line, s.column)) {
                        continue;
                    }
                    let list: Vec<String> = sharers.iter().map(|m| format!("`{m}`")).collect();
                    finding(
                        "env-var-collision",
                        Severity::Warning,
                        s,
                        format!(
                            "`{}` reads the environment variable `{key}`, which {} all link: in one process they get one value",
                            s.package,
                            list.join(", ")
                        ),
                        "build cannot namespace a read in a crate several members share: make sure one value suits all of them, or pass the value in from each member",
                    )
                }
            };
            out.push(f);
        }
    }
}

/// The sites with one per place and member.
fn once_per_place_and_member(sites: &[Site]) -> Vec<&Site> {
    let mut seen = BTreeSet::new();
    sites
        .iter()
        .filter(|s| seen.insert((s.member.as_str(), s.path.as_path(), s.line, s.column)))
        .collect()
}

/// Makes a finding at a site.
type Finder<'a> = dyn Fn(&'static str, Severity, &Site, String, &str) -> Finding + 'a;

/// `metrics-default-registry`: prometheus' default registry is one per process. A name two
/// members register is an error (the second registration fails: `AlreadyReg`).
fn metrics(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
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
        // The member's other binaries (`src/bin/migrate.rs`) do not run in the merged binary.
        let other_bins: Vec<PathBuf> = if p.id == m.package.id {
            p.targets
                .iter()
                .filter(|t| t.is_bin() && t.name != m.bin.name)
                .map(|t| bin_root(t.src_path.as_std_path()))
                .collect()
        } else {
            Vec::new()
        };
        let files = walkdir::WalkDir::new(&src)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
            .filter(|e| !other_bins.iter().any(|b| e.path().starts_with(b)));
        let roots: Vec<&Path> = p.targets.iter().map(|t| t.src_path.as_std_path()).collect();
        // Each file read once; the files of its `#[cfg(test)] mod x;` are test code, which the
        // merged binary does not run, whichever order they are walked in.
        let mut scanned = Vec::new();
        let mut tests: Vec<PathBuf> = Vec::new();
        for f in files {
            let Ok(text) = std::fs::read_to_string(f.path()) else {
                continue;
            };
            let s = scan::scan_file(&text);
            let root = roots.contains(&f.path());
            for module in &s.test_mods {
                tests.extend(module_files(f.path(), root, module));
            }
            scanned.push((f.into_path(), s.found));
        }
        for (path, found) in scanned {
            if tests.iter().any(|t| path.starts_with(t)) {
                continue;
            }
            for found in found {
                out.push(Site {
                    member: m.name.clone(),
                    package: p.name.to_string(),
                    package_dir: dir.as_std_path().to_path_buf(),
                    path: path.clone(),
                    line: found.line,
                    column: found.column,
                    event: found.event,
                });
            }
        }
    }
    out
}

/// Where the out-of-line module `module` (a path from the module of `file`, `["net", "tests"]`)
/// has its source: `x.rs` and the folder `x/` (for `x/mod.rs` and its own modules), in the
/// folder of `file`'s module's children. That is `file`'s folder for a crate root (`root`) or a
/// `lib.rs`, `main.rs` or `mod.rs`, and `foo/` for `foo.rs`.
fn module_files(file: &Path, root: bool, module: &[String]) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (file.parent(), file.file_stem()) else {
        return Vec::new();
    };
    let own_folder = root
        || file
            .file_name()
            .is_some_and(|n| n == "lib.rs" || n == "main.rs" || n == "mod.rs");
    let mut at = if own_folder {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    at.extend(module.iter().map(|m| m.trim_start_matches("r#")));
    vec![at.with_extension("rs"), at]
}

/// What a binary target's sources are: its folder for `src/bin/<name>/main.rs`, else its file.
fn bin_root(src_path: &Path) -> PathBuf {
    match src_path.file_name() {
        Some(f)
            if f == "main.rs"
                && src_path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|d| d != "src") =>
        {
            src_path.parent().map(Path::to_path_buf).unwrap_or_default()
        }
        _ => src_path.to_path_buf(),
    }
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
fn listeners(sites: &[Site], owners: &Owners<'_>, finding: &Finder<'_>, out: &mut Vec<Finding>) {
    let found: Vec<(&Site, &str, u16, Set)> = sites
        .iter()
        .filter_map(|s| match &s.event {
            // A default read in a crate several members share cannot be namespaced per member:
            // it is as fixed as one written in the code.
            Event::Listen { host, port, how } => {
                let shared = owners
                    .get(s.package_dir.as_path())
                    .is_some_and(|o| o.len() > 1);
                let how = if shared && *how == Set::EnvDefault {
                    Set::InCode
                } else {
                    *how
                };
                Some((s, host.as_str(), *port, how))
            }
            _ => None,
        })
        .collect();
    let overlap = |a: &str, b: &str| a == b || a == "*" || b == "*";
    for &(s, host, port, how) in &found {
        let clashes: Vec<&(&Site, &str, u16, Set)> = found
            .iter()
            .filter(|(o, h, p, _)| o.member != s.member && *p == port && overlap(h, host))
            .collect();
        if clashes.is_empty() {
            continue;
        }
        // Neither side can be set apart: the code says it, or a flag every member shares.
        let stuck = how != Set::EnvDefault && clashes.iter().any(|c| c.3 != Set::EnvDefault);
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
        let given = match how {
            Set::InCode
                if matches!(
                    &s.event,
                    Event::Listen {
                        how: Set::EnvDefault,
                        ..
                    }
                ) =>
            {
                "the default of an environment read in a crate the members share: one key for all"
            }
            Set::InCode => "written in the code",
            Set::FlagDefault => "a flag's default, and members share the command line",
            Set::EnvDefault => "by default",
        };
        let (severity, help) = if stuck {
            (
                Severity::Error,
                "read the address from an environment key (each member can then be given its own), or bind another port in one of the members",
            )
        } else {
            (
                Severity::Warning,
                "give the members different addresses when the merged binary runs, through their environment keys (a key several members read becomes `<MEMBER>_<KEY>`)",
            )
        };
        out.push(finding(
            "listen-addr-collision",
            severity,
            s,
            format!(
                "`{}` listens on {addr} ({given}); {}: in one process the second bind fails (address in use)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_modules_files_are_where_its_declaring_file_puts_children() {
        let files = |file: &str, root: bool, module: &[&str]| {
            let module: Vec<String> = module.iter().map(|m| (*m).to_owned()).collect();
            module_files(Path::new(file), root, &module)
        };
        let paths = |p: [&str; 2]| p.map(PathBuf::from).to_vec();
        assert_eq!(
            files("/m/src/lib.rs", true, &["tests"]),
            paths(["/m/src/tests.rs", "/m/src/tests"])
        );
        assert_eq!(
            files("/m/src/net/mod.rs", false, &["tests"]),
            paths(["/m/src/net/tests.rs", "/m/src/net/tests"])
        );
        assert_eq!(
            files("/m/src/net.rs", false, &["wire", "r#type"]),
            paths(["/m/src/net/wire/type.rs", "/m/src/net/wire/type"])
        );
        // A binary's root is not `main.rs`, and its children are beside it.
        assert_eq!(
            files("/m/src/bin/server.rs", true, &["tests"]),
            paths(["/m/src/bin/tests.rs", "/m/src/bin/tests"])
        );
        // The files and the whole folder are skipped, not their namesakes.
        let [file, folder] =
            <[PathBuf; 2]>::try_from(files("/m/src/main.rs", true, &["tests"])).expect("two");
        assert!(Path::new("/m/src/tests.rs").starts_with(&file));
        assert!(Path::new("/m/src/tests/mod.rs").starts_with(&folder));
        assert!(Path::new("/m/src/tests/fixtures/a.rs").starts_with(&folder));
        assert!(!Path::new("/m/src/tests_util.rs").starts_with(&file));
        assert!(!Path::new("/m/src/tests_util.rs").starts_with(&folder));
    }
}
