//! `cargo merge check --message-format sarif`: the findings as one SARIF 2.1.0 log, the format
//! GitHub code scanning takes (`github/codeql-action/upload-sarif`).
//!
//! One run, whose driver lists a rule per check code (from the catalogue,
//! `merge_analyzer::codes`), and one result per finding. File paths are
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
use merge_analyzer::codes::CheckCode;
use merge_analyzer::members::{Member, PlanFile};
use serde::Serialize;

/// The `$schema` of the log.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

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
    let rules: Vec<Rule> = CheckCode::ALL.iter().map(|&c| rule(c)).collect();
    let index = |code: CheckCode| {
        CheckCode::ALL
            .iter()
            .position(|&c| c == code)
            .expect("every code is in the catalogue")
    };
    let results = findings
        .iter()
        .map(|f| SarifResult {
            rule_id: f.code.name().to_owned(),
            rule_index: index(f.code),
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

fn rule(code: CheckCode) -> Rule {
    let e = code.entry();
    Rule {
        id: e.name.to_owned(),
        short_description: text(e.summary),
        full_description: text(e.explanation),
        help: text(e.help),
        default_configuration: Configuration {
            level: level(e.level),
        },
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
