//! `cargo merge check --message-format sarif`: the findings as one SARIF 2.1.0 log, the format
//! GitHub code scanning takes (`github/codeql-action/upload-sarif`).
//!
//! One run, whose driver lists a rule per check code (the catalogue below, then any code it does
//! not know yet, with a generic description), and one result per finding. File paths are
//! relative to the root of the git work tree that holds the plan (`uriBaseId` `%SRCROOT%`),
//! since code scanning places an alert by its path from the repository's root: the first folder,
//! from the plan's own up, with a `.git` entry (a folder, or a file as in worktrees and
//! submodules; git itself is not run), else the plan's folder. They have `/` separators and are
//! percent-encoded where a URI needs it. A file outside that root gets an absolute `file://` URI
//! with no `uriBaseId` (never a `../` path, which code scanning cannot place); that is the only
//! absolute text the log can hold, and no time is written, so one input gives one byte-identical
//! log. A finding with no file points at its member's manifest (line 1), or at its group in the
//! plan when it has no member.
//!
//! A region is where the finding is (`startLine`, and `startColumn` when known), so it runs
//! from that column to the end of the line. Its `snippet` must be the text of the region
//! (SARIF 2.1.0 §3.30.13), so the whole source line goes in a `contextRegion` (the line alone,
//! a proper superset of the region, §3.29.5) when the region starts after column 1, and in the
//! region itself when the region is the whole line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use merge_analyzer::check::{Finding, Severity};
use merge_analyzer::members::{Member, PlanFile};
use serde::Serialize;

/// The `$schema` of the log.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// What the rule of a check code says, and the level it has by default (under the default
/// isolation, `exact`). A finding's own level can differ: the result says it.
#[derive(Debug)]
struct RuleText {
    code: &'static str,
    level: Severity,
    short: &'static str,
    full: &'static str,
    help: &'static str,
}

/// Every check code, described for code scanning (README: `cargo merge check`).
const RULES: &[RuleText] = &[
    RuleText {
        code: "links-conflict",
        level: Severity::Error,
        short: "Two members link one native library",
        full: "Two members reach, through different packages or versions, crates that declare the same `links` native library; one binary cannot link it twice.",
        help: "Align the members on one version of the crate that links the library.",
    },
    RuleText {
        code: "unsupported-tonic",
        level: Severity::Error,
        short: "A member uses a tonic the in-process rewrite does not know",
        full: "A member's binary links a tonic version whose generated code the in-process rewrite does not emit code for; rewritten, it would not compile.",
        help: "Move the member to a known tonic, or build with `--allow unsupported-tonic`: its generated code is left as it is and its calls stay on the network.",
    },
    RuleText {
        code: "version-conflict",
        level: Severity::Note,
        short: "A shared package needs a vendored version for one member",
        full: "Under isolation `exact`, a local package several members share depends on a crate that one of them locks at a version vendored for it alone; build gives that member a copy of the package of its own.",
        help: "Nothing to do; align the members' Cargo.lock files on the crate to share one copy.",
    },
    RuleText {
        code: "exact-pin-conflict",
        level: Severity::Note,
        short: "Members pin different versions of a crate",
        full: "Members require different exact versions (`=x.y.z`) of one crate. Isolation `exact` vendors the other version per member (a note); under `unify` the pin holds where one version satisfies every member (a warning) and is an error where none does; under `strict` it is an error.",
        help: "Use isolation `exact`, or align the pins.",
    },
    RuleText {
        code: "version-drift",
        level: Severity::Note,
        short: "Members lock different versions of a crate",
        full: "Members lock different semver-compatible versions of one crate. Isolation `exact` vendors the other versions (a note); `unify` runs one version for all (a warning); `strict` refuses (an error).",
        help: "Test the member with the unified version, align the members' Cargo.lock files, or use isolation `exact`.",
    },
    RuleText {
        code: "feature-drift",
        level: Severity::Note,
        short: "Members enable different features of a shared crate",
        full: "Members build one shared crate with different features; in one binary Cargo unifies them, so a member runs the crate with features it did not ask for.",
        help: "Check that every member works with the union of the features, or enable the same features everywhere.",
    },
    RuleText {
        code: "profile-conflict",
        level: Severity::Warning,
        short: "Members set a build profile key differently",
        full: "Members' `[profile]` sections give one key different values (for example `panic` or `opt-level`); the merged workspace has one profile, so one of them wins.",
        help: "Agree on one value for the key, or accept the merged workspace's.",
    },
    RuleText {
        code: "patch-conflict",
        level: Severity::Error,
        short: "Members patch one crate differently",
        full: "Members' `[patch]` sections replace one crate with different sources; the merged workspace can hold one patch per crate.",
        help: "Patch the crate with the same source in every member, or drop the patch where it is not needed.",
    },
    RuleText {
        code: "global-allocator",
        level: Severity::Error,
        short: "More than one #[global_allocator]",
        full: "More than one member defines a `#[global_allocator]`; one binary can have only one.",
        help: "Keep one allocator for the merged binary and remove the others from the members that can do without.",
    },
    RuleText {
        code: "global-logger-init",
        level: Severity::Error,
        short: "Process-wide logger set by several members",
        full: "Members set the process-wide `log` logger (`env_logger::init`, `log::set_logger`, ...); in one process only the first succeeds and the others fail or panic.",
        help: "Let every initialisation but one fail quietly (`try_init()`, or ignore `set_logger`'s error): the first one wins.",
    },
    RuleText {
        code: "global-tracing-init",
        level: Severity::Error,
        short: "Process-wide tracing subscriber set by several members",
        full: "Members set the process-wide tracing subscriber (`tracing_subscriber::..init()`, `set_global_default`); in one process the second initialisation panics or fails.",
        help: "Let every initialisation but one fail quietly (`try_init()`): the first one wins.",
    },
    RuleText {
        code: "metrics-default-registry",
        level: Severity::Warning,
        short: "Metrics registered in the process-wide default registry",
        full: "Members register metrics in prometheus' process-wide default registry; in one process they share one registry and one /metrics page, and a metric name two members register fails the second time (an error).",
        help: "Register the member's metrics in a `prometheus::Registry` of its own (`Registry::new_custom` with a prefix), or give them names no other member uses.",
    },
    RuleText {
        code: "env-var-collision",
        level: Severity::Warning,
        short: "Members read the same environment variable",
        full: "Members read the same literal environment key (`env::var(\"PORT\")`, clap's `env = \"PORT\"`); in one process they get one value.",
        help: "Give each member its own key (`<MEMBER>_<KEY>`), or make sure one value suits all of them.",
    },
    RuleText {
        code: "listen-addr-collision",
        level: Severity::Error,
        short: "Members listen on the same address",
        full: "Members bind the same port on overlapping interfaces; in one process the second bind fails. Both hard-coded: an error; a default of a flag or environment key, which can be set apart: a warning.",
        help: "Make the address configurable, or set each member's own address when the merged binary runs.",
    },
    RuleText {
        code: "process-exit",
        level: Severity::Warning,
        short: "Process exit outside main",
        full: "A member calls `process::exit` or `process::abort` outside `main`; in one process it ends every member.",
        help: "Return an error to `main` instead, so the merged binary can say which member failed.",
    },
    RuleText {
        code: "env-set-var",
        level: Severity::Warning,
        short: "Environment changed at run time",
        full: "A member calls `env::set_var` or `env::remove_var`; the environment is shared by every member of the process.",
        help: "Pass the value explicitly instead of through the process environment.",
    },
    RuleText {
        code: "static-mut",
        level: Severity::Note,
        short: "A static mut",
        full: "A member has a `static mut`: there is one per process, shared with the other members' code only when they link the same crate.",
        help: "Prefer an atomic, a `OnceLock` or state owned by the service.",
    },
    RuleText {
        code: "served-stack",
        level: Severity::Note,
        short: "A server served with something around it",
        full: "A member serves a tonic server with a layer, a timeout, a concurrency limit, load shedding, a trace function or TLS; in-process calls to its services enter the stack it serves, so it runs for them as over the network.",
        help: "Nothing to do; the in-process call never goes around it.",
    },
    RuleText {
        code: "service-stack",
        level: Severity::Note,
        short: "A service or channel wrapped by hand",
        full: "A member wraps a service or channel in `InterceptedService` or a `ServiceBuilder` stack; in-process calls run it too (a server's through the stack it serves, a client's through the client's own stack, the message encoded).",
        help: "Nothing to do; the in-process call never goes around it.",
    },
    RuleText {
        code: "client-stack",
        level: Severity::Note,
        short: "A client channel with a stack of its own",
        full: "A member makes a client channel with an endpoint timeout or limit, or a balanced one; in-process calls through it go through the client's own stack, the message encoded, so it applies as over the network.",
        help: "Nothing to do; a plain channel lets in-process calls go straight to the callee.",
    },
    RuleText {
        code: "unrouted-service",
        level: Severity::Warning,
        short: "Services the in-process registry cannot name",
        full: "A member adds services to a tonic server with `add_routes`; their names are not known to the in-process registry, so calls to them from other members stay on the network.",
        help: "Add each service with `add_service` to have it called in-process.",
    },
    RuleText {
        code: "global-thread-pool",
        level: Severity::Error,
        short: "Process-wide thread pool configured",
        full: "A member configures rayon's global thread pool (`build_global`); when two members do, the second fails (an error); when one does, every member's rayon work runs on the pool it sized (a note).",
        help: "Build a `rayon::ThreadPool` of the member's own and `install` its work there.",
    },
    RuleText {
        code: "signal-handler",
        level: Severity::Warning,
        short: "Process-wide signal handler",
        full: "A member installs a signal handler. One that replaces the handler before it stops the other members' handlers and the merged binary's own stop (a warning); one that chains still sees SIGTERM and SIGINT with every other member (a note).",
        help: "Use a handler that chains (`signal_hook`, `tokio::signal`), and make sure the member stops cleanly on SIGTERM.",
    },
    RuleText {
        code: "current-dir",
        level: Severity::Note,
        short: "Working directory shared by every member",
        full: "A member changes the working directory (`env::set_current_dir`) or opens a path relative to it; the working directory is one per process, so in one binary every member's relative paths follow the merged binary's.",
        help: "Open files by absolute paths (from a flag or the environment), or run the merged binary where each member's relative files are found.",
    },
];

/// A SARIF 2.1.0 log (the parts cargo-merge writes).
#[derive(Debug, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    /// Columns count characters (syn's spans), not UTF-16 code units.
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Debug, Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

/// A reportingDescriptor.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Text,
    full_description: Text,
    help: Text,
    default_configuration: Configuration,
}

#[derive(Debug, Serialize)]
struct Text {
    text: String,
}

#[derive(Debug, Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    properties: Properties,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
    /// The whole source line, when `region` is only part of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    context_region: Option<Region>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Text>,
}

/// The result's property bag.
#[derive(Debug, Serialize)]
struct Properties {
    group: String,
    member: String,
}

/// The log of `findings`, made by checking the members `members` of `plan`.
pub fn log<'a>(
    findings: &[Finding],
    plan: &PlanFile,
    members: impl IntoIterator<Item = &'a Member>,
) -> Log {
    let members: BTreeMap<&str, &Member> =
        members.into_iter().map(|m| (m.name.as_str(), m)).collect();
    let root = source_root(&plan.dir);
    let mut rules: Vec<Rule> = RULES.iter().map(rule).collect();
    let mut index: BTreeMap<String, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let mut unknown: Vec<&str> = findings
        .iter()
        .map(|f| f.code)
        .filter(|c| !index.contains_key(*c))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    for code in unknown {
        index.insert(code.to_owned(), rules.len());
        rules.push(generic_rule(code));
    }
    let results = findings
        .iter()
        .map(|f| SarifResult {
            rule_id: f.code.to_owned(),
            rule_index: index[f.code],
            level: level(f.severity),
            message: Text {
                text: format!("{} {}", sentence(&f.message), sentence(&f.help)),
            },
            locations: vec![location(
                f,
                plan,
                members.get(f.member.as_str()).copied(),
                &root,
            )],
            properties: Properties {
                group: f.group.clone(),
                member: f.member.clone(),
            },
        })
        .collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "cargo-merge",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

fn rule(r: &RuleText) -> Rule {
    Rule {
        id: r.code.to_owned(),
        short_description: text(r.short),
        full_description: text(r.full),
        help: text(r.help),
        default_configuration: Configuration {
            level: level(r.level),
        },
    }
}

/// The rule of a code the catalogue does not describe (yet).
fn generic_rule(code: &str) -> Rule {
    Rule {
        id: code.to_owned(),
        short_description: text(&format!("cargo merge check: {code}")),
        full_description: text(&format!(
            "A `{code}` finding of cargo merge check: something that would break when the plan's members share one process. Its message says what and where."
        )),
        help: text("Follow the help given in the finding's message."),
        default_configuration: Configuration { level: "warning" },
    }
}

fn text(s: &str) -> Text {
    Text { text: s.to_owned() }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// `s` as a sentence: a capital first letter and a final full stop.
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Where the finding is: its file and line; else its member's manifest; else its group's line in
/// the plan. Paths are relative to `root` (`source_root`).
fn location(f: &Finding, plan: &PlanFile, member: Option<&Member>, root: &Path) -> Location {
    let (path, region, context_region) = match (&f.file, member) {
        (Some(file), Some(m)) => {
            let (region, context_region) = source_regions(f.line, f.column, f.source.as_deref());
            (m.root.join(file), region, context_region)
        }
        (None, Some(m)) => (m.manifest.clone(), line_one(), None),
        (file, None) => (
            file.as_ref()
                .map_or_else(|| plan.path.clone(), |f| plan.dir.join(f)),
            match (file, plan.group_line(&f.group)) {
                (None, Some(line)) => Region {
                    start_line: line,
                    start_column: None,
                    snippet: None,
                },
                _ => line_one(),
            },
            None,
        ),
    };
    Location {
        physical_location: PhysicalLocation {
            artifact_location: artifact(&path, root),
            region,
            context_region,
        },
    }
}

/// The region of a finding at `line` and `column` of a source file, and the context region
/// holding its source line `source`.
///
/// A text region without `endLine` and `endColumn` ends with its start line (SARIF 2.1.0
/// §3.30.5), so `startColumn` c covers the line from c on, and a `snippet` is the text of its
/// region (§3.30.13). The whole line is the region's snippet only when the region is the whole
/// line (no column, or column 1); otherwise it is the snippet of a `contextRegion` of the line
/// alone, which then strictly encloses the region, as §3.29.5 requires.
fn source_regions(
    line: Option<usize>,
    column: Option<usize>,
    source: Option<&str>,
) -> (Region, Option<Region>) {
    let start_line = line.unwrap_or(1).max(1);
    let start_column = line.and(column).filter(|c| *c >= 1);
    let snippet = line.and(source).map(text);
    match (start_column, snippet) {
        (Some(c), Some(snippet)) if c > 1 => (
            Region {
                start_line,
                start_column,
                snippet: None,
            },
            Some(Region {
                start_line,
                start_column: None,
                snippet: Some(snippet),
            }),
        ),
        (start_column, snippet) => (
            Region {
                start_line,
                start_column,
                snippet,
            },
            None,
        ),
    }
}

fn line_one() -> Region {
    Region {
        start_line: 1,
        start_column: None,
        snippet: None,
    }
}

/// The folder the log's relative URIs start from (`%SRCROOT%`): the root of the git work tree
/// holding the plan's folder `dir`, else `dir` itself. Absolute, `.` and `..` removed.
fn source_root(dir: &Path) -> PathBuf {
    let dir = absolute(dir);
    git_root(&dir).unwrap_or(dir)
}

/// The first of `dir` and its ancestors with a `.git` entry: a folder, or a file (a worktree's
/// or a submodule's `gitdir:` link). The file system is read; git is not run.
fn git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|a| std::fs::metadata(a.join(".git")).is_ok_and(|m| m.is_dir() || m.is_file()))
        .map(Path::to_path_buf)
}

/// `path`, absolute, with `.` and `..` removed lexically.
fn absolute(path: &Path) -> PathBuf {
    merge_analyzer::paths::normalize(
        &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    )
}

/// `path` as a URI reference relative to `root` under `%SRCROOT%` when it is under `root` (as
/// written, else once symlinks are resolved); otherwise an absolute `file:` URI with no
/// `uriBaseId`, never a `../` path.
fn artifact(path: &Path, root: &Path) -> ArtifactLocation {
    let path = absolute(path);
    let under = |path: &Path, root: &Path| {
        path.strip_prefix(root)
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(Path::to_path_buf)
    };
    let rel = under(&path, root).or_else(|| {
        under(
            &merge_analyzer::paths::resolve(&path),
            &merge_analyzer::paths::resolve(root),
        )
    });
    match rel {
        Some(rel) => ArtifactLocation {
            uri: uri_path(&rel),
            uri_base_id: Some("%SRCROOT%"),
        },
        None => ArtifactLocation {
            uri: file_uri(&path),
            uri_base_id: None,
        },
    }
}

/// The absolute `path` as a `file:` URI: `file:///home/me/x.rs`, `file:///C:/x.rs`,
/// `file://server/share/x.rs`.
fn file_uri(path: &Path) -> String {
    use std::path::{Component, Prefix};
    let mut host = String::new();
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(p) => match p.kind() {
                Prefix::Disk(d) | Prefix::VerbatimDisk(d) => {
                    parts.push(format!("{}:", char::from(d)));
                }
                Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => {
                    host = encode(&server.to_string_lossy());
                    parts.push(encode(&share.to_string_lossy()));
                }
                _ => parts.push(encode(&p.as_os_str().to_string_lossy())),
            },
            Component::Normal(s) => parts.push(encode(&s.to_string_lossy())),
            Component::ParentDir => parts.push("..".to_owned()),
            Component::RootDir | Component::CurDir => {}
        }
    }
    format!("file://{host}/{}", parts.join("/"))
}

/// The path's components joined with `/`, each percent-encoded outside URI-safe characters.
fn uri_path(path: &Path) -> String {
    use std::path::Component;
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(encode(&s.to_string_lossy())),
            Component::ParentDir => parts.push("..".to_owned()),
            Component::CurDir => {}
            Component::RootDir => parts.push(String::new()),
            Component::Prefix(p) => parts.push(encode(&p.as_os_str().to_string_lossy())),
        }
    }
    parts.join("/")
}

fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn every_code_has_one_rule() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len(), "a code listed twice");
    }

    #[test]
    fn an_unknown_code_gets_a_generic_rule() {
        let r = generic_rule("new-hazard");
        assert_eq!(r.id, "new-hazard");
        assert!(r.full_description.text.contains("`new-hazard`"));
    }

    #[test]
    fn paths_become_uri_references() {
        let root = Path::new("/repo");
        let a = artifact(Path::new("/repo/plans/alpha/src/main.rs"), root);
        assert_eq!(a.uri, "plans/alpha/src/main.rs");
        assert_eq!(a.uri_base_id, Some("%SRCROOT%"));
        let a = artifact(
            Path::new("/repo/plans/alpha/../../shared/my file:1.rs"),
            root,
        );
        assert_eq!(a.uri, "shared/my%20file%3A1.rs");
        assert_eq!(a.uri_base_id, Some("%SRCROOT%"));
        assert_eq!(uri_path(&PathBuf::from("ü/a%b.rs")), "%C3%BC/a%25b.rs");
    }

    #[cfg(unix)]
    #[test]
    fn a_path_outside_the_root_is_an_absolute_file_uri() {
        let root = Path::new("/repo/plans");
        for (path, uri) in [
            ("/elsewhere/x/Cargo.toml", "file:///elsewhere/x/Cargo.toml"),
            ("/repo/plans/../x/src/main.rs", "file:///repo/x/src/main.rs"),
            ("/repo/plansx/a b.rs", "file:///repo/plansx/a%20b.rs"),
        ] {
            let a = artifact(Path::new(path), root);
            assert_eq!(a.uri, uri, "{path}");
            assert_eq!(a.uri_base_id, None, "{path}");
        }
    }

    #[test]
    fn the_root_is_the_git_work_tree_holding_the_plan() {
        let temp = tempfile::tempdir().expect("tempdir");
        let tree = absolute(&temp.path().canonicalize().expect("canonical"));
        let plans = tree.join("deploy/plans");
        std::fs::create_dir_all(&plans).expect("plan folder");
        // No `.git` in the folder: the work tree around the temporary folder, if any (usually
        // none, and then the plan's folder).
        let outer = tree.parent().and_then(git_root);
        assert_eq!(git_root(&plans), outer);
        assert_eq!(source_root(&plans), outer.unwrap_or_else(|| plans.clone()));
        // A `.git` folder at the top: its folder, from the plan's folder or below it.
        std::fs::create_dir(tree.join(".git")).expect(".git folder");
        assert_eq!(git_root(&plans).as_deref(), Some(tree.as_path()));
        assert_eq!(source_root(&plans), tree);
        assert_eq!(source_root(&plans.join("../plans/.")), tree);
        let a = artifact(&plans.join("alpha/src/main.rs"), &source_root(&plans));
        assert_eq!(a.uri, "deploy/plans/alpha/src/main.rs");
        assert_eq!(a.uri_base_id, Some("%SRCROOT%"));
        let a = artifact(&plans.join("../x/src/main.rs"), &source_root(&plans));
        assert_eq!(a.uri, "deploy/x/src/main.rs");
        // A `.git` file (a worktree or a submodule) nearer the plan wins.
        let sub = tree.join("deploy");
        std::fs::write(sub.join(".git"), "gitdir: ../.git/modules/deploy\n").expect(".git file");
        assert_eq!(source_root(&plans), sub);
        let a = artifact(&tree.join("x/src/main.rs"), &source_root(&plans));
        assert_eq!(a.uri_base_id, None);
        assert!(a.uri.starts_with("file://"), "{}", a.uri);
        assert!(!a.uri.contains(".."), "{}", a.uri);
    }

    const LINE: &str = "    let port = env::var(\"PORT\");";

    #[test]
    fn the_source_line_is_the_snippet_of_the_region_it_fills() {
        let json = |r: &Region| serde_json::to_value(r).expect("a region");
        // From column 16 on: the line is the context region's snippet, not the region's.
        let (region, context) = source_regions(Some(7), Some(16), Some(LINE));
        assert_eq!(
            json(&region),
            serde_json::json!({"startLine": 7, "startColumn": 16})
        );
        assert_eq!(
            json(&context.expect("a context region")),
            serde_json::json!({"startLine": 7, "snippet": {"text": LINE}})
        );
        // The whole line (column 1, or none): the region's own snippet, no context region.
        for column in [Some(1), None] {
            let (region, context) = source_regions(Some(7), column, Some(LINE));
            assert!(context.is_none());
            assert_eq!(region.start_column, column);
            assert_eq!(region.snippet.map(|s| s.text).as_deref(), Some(LINE));
        }
        // No line: line 1, nothing more.
        let (region, context) = source_regions(None, Some(3), Some(LINE));
        assert!(context.is_none());
        assert_eq!(json(&region), serde_json::json!({"startLine": 1}));
    }

    #[test]
    fn messages_are_sentences() {
        assert_eq!(sentence("`a` reads `PORT`"), "`a` reads `PORT`.");
        assert_eq!(
            sentence("give each member its own key."),
            "Give each member its own key."
        );
        assert_eq!(sentence(""), "");
    }
}
