//! `cargo merge status`: without compiling, whether each group's merged binary still matches
//! its members as they are now. merge.lock (beside the plan) says what each member was built
//! from; each member is read again (its git checkout brought to its pin, cargo metadata, its
//! files hashed) and the two records compared field by field: commit, package version,
//! Cargo.lock, .proto files (each change classified wire-compatible or breaking) and what the
//! plan says of it. A group is stale when one of its members changed, joined or left.

mod protodiff;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use merge_analyzer::error::InputCode;
use merge_analyzer::git::GitError;
use merge_analyzer::members::{self, CargoOptions, Member};
use merge_analyzer::plan::Isolation;
use merge_analyzer::sources::{self, Source};
use serde::Serialize;

use crate::Failure;
use crate::cli::{MessageFormat, StatusArgs};
use crate::diagnostic::Diagnostic;
use crate::mergelock;
use merge_analyzer::lock::{self, Record};

/// One group's state: the JSON line `group-status`.
#[derive(Debug, Serialize)]
pub struct GroupStatus {
    pub reason: &'static str,
    pub group: String,
    /// `fresh` or `stale`.
    pub state: &'static str,
    pub members: Vec<MemberStatus>,
    /// Changes of the group itself (a member that left it).
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct MemberStatus {
    pub name: String,
    pub locked_commit: Option<String>,
    pub current_commit: Option<String>,
    pub changes: Vec<Change>,
    /// Version tags of a git member's repository newer than the one it is at (not a change:
    /// the plan's pin decides; `cargo merge bump` moves it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub newer_tags: Vec<String>,
}

/// One difference between what was built and what is there now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `not-built`, `commit`, `dirty`, `version`, `cargo-lock`, `proto`, `plan`, `left`.
    pub kind: &'static str,
    pub message: String,
    /// For a .proto change: `wire-compatible`, `breaking`, or `unknown` (the locked text
    /// could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<&'static str>,
    /// For a .proto change: what changed on the wire.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Change {
    fn new(kind: &'static str, message: String) -> Change {
        Change {
            kind,
            message,
            class: None,
            details: Vec::new(),
        }
    }
}

/// Runs status; `Ok(true)` when a group is stale.
pub fn exec(args: &StatusArgs) -> Result<bool, Failure> {
    let mut plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let isolation = plan.plan.isolation;
    let groups: Vec<String> = plan.groups(&args.group);
    let unknown: Vec<Diagnostic> = groups
        .iter()
        .filter(|g| !plan.plan.group.iter().any(|x| &x.name == *g))
        .map(|g| {
            Diagnostic::usage(
                InputCode::UnknownGroup,
                format!("the plan `{}` has no group `{g}`", args.plan.display()),
                "name a [[group]] of the plan with --group, or leave it out for every group",
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::Input(unknown));
    }
    let lock_path = plan.dir.join("merge.lock");
    let lock = match std::fs::read_to_string(&lock_path) {
        Ok(text) => lock::read(&text).map_err(|e| {
            let mut d = Diagnostic::usage(
                InputCode::MalformedInput,
                format!("merge.lock: {}", e.message),
                "merge.lock is written by `cargo merge build`; build again to write it anew",
            );
            d.file = Some(lock_path.clone());
            d.line = e.line;
            Failure::Input(vec![d])
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => lock::Lock::default(),
        Err(e) => {
            return Err(Failure::Other(anyhow::anyhow!(
                "cannot read `{}`: {e}",
                lock_path.display()
            )));
        }
    };
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let fetch = sources::Fetch {
        offline: args.offline,
    };
    let checked_out = sources::checkout(&mut plan, &groups, &out, fetch)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let options = CargoOptions {
        offline: args.offline,
        frozen: false,
    };
    let mut statuses = Vec::new();
    let mut problems = Vec::new();
    for g in &groups {
        match members::load_group(&plan, g, &options) {
            Ok(ms) => statuses.push(group_status(
                &plan,
                isolation,
                g,
                &ms,
                &checked_out,
                &lock.member,
            )),
            Err(e) => problems.extend(Diagnostic::from_import(e)),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Input(problems));
    }
    print(&statuses, args.message_format)?;
    if args.github {
        github_report(&statuses).write()?;
    }
    Ok(statuses.iter().any(|s| s.state == "stale"))
}

/// For a GitHub Actions step: `state` (`fresh` or `stale`) and `stale-groups` (one line per
/// group), and a table of every member's changes.
fn github_report(statuses: &[GroupStatus]) -> crate::github::Report {
    use crate::github::cell;
    let mut r = crate::github::Report::default();
    let stale: Vec<&str> = statuses
        .iter()
        .filter(|s| s.state == "stale")
        .map(|s| s.group.as_str())
        .collect();
    r.output("state", if stale.is_empty() { "fresh" } else { "stale" });
    r.output("stale-groups", stale.join("\n"));
    r.summary.push_str(
        "### cargo merge status\n\n| group | member | state | changes |\n|---|---|---|---|\n",
    );
    for s in statuses {
        for c in &s.changes {
            r.summary.push_str(&format!(
                "| {} | | {} | {} |\n",
                cell(&s.group),
                s.state,
                cell(&c.message)
            ));
        }
        for m in &s.members {
            let changes: Vec<String> = m
                .changes
                .iter()
                .map(|c| match c.class {
                    Some(class) => format!("{} (**{class}**)", c.message),
                    None => c.message.clone(),
                })
                .collect();
            let state = if m.changes.is_empty() {
                "fresh"
            } else {
                "stale"
            };
            r.summary.push_str(&format!(
                "| {} | {} | {state} | {} |\n",
                cell(&s.group),
                cell(&m.name),
                cell(&changes.join("\n"))
            ));
        }
    }
    r.summary.push('\n');
    r
}

fn group_status(
    plan: &members::PlanFile,
    isolation: Isolation,
    group: &str,
    members: &[Member],
    sources: &[Source],
    locked: &[Record],
) -> GroupStatus {
    let cx = mergelock::Context {
        plan,
        isolation,
        group,
        sources,
    };
    let mut out = Vec::new();
    for m in members {
        let now = mergelock::record_of(&cx, m, Vec::new());
        let before = locked.iter().find(|r| r.group == group && r.name == m.name);
        let changes = match before {
            None => vec![Change::new(
                "not-built",
                "not in merge.lock: the group was never built with it".to_owned(),
            )],
            Some(b) => compare(b, &now, m),
        };
        out.push(MemberStatus {
            name: m.name.clone(),
            locked_commit: before.and_then(|b| b.git_commit.clone()),
            current_commit: now.git_commit.clone(),
            changes,
            newer_tags: sources
                .iter()
                .find(|s| s.member == m.name)
                .map(|s| s.newer_tags.clone())
                .unwrap_or_default(),
        });
    }
    let changes: Vec<Change> = locked
        .iter()
        .filter(|r| r.group == group && !members.iter().any(|m| m.name == r.name))
        .map(|r| Change::new("left", format!("member `{}` left the group", r.name)))
        .collect();
    let stale = !changes.is_empty() || out.iter().any(|m| !m.changes.is_empty());
    GroupStatus {
        reason: "group-status",
        group: group.to_owned(),
        state: if stale { "stale" } else { "fresh" },
        members: out,
        changes,
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// What differs between the record `before` (merge.lock's) and `now`.
fn compare(before: &Record, now: &Record, m: &Member) -> Vec<Change> {
    let mut out = Vec::new();
    // In a repository holding more than the member, a commit elsewhere changes nothing of it.
    let moved = match (&before.git_commit, &now.git_commit) {
        (Some(a), Some(b)) if a != b => touched(m, a, b),
        (a, b) => a != b,
    };
    if moved {
        let say = |c: &Option<String>| c.as_deref().map_or("no commit", short).to_owned();
        let pin = now
            .git_pin
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        out.push(Change::new(
            "commit",
            format!(
                "commit {} -> {}{pin}",
                say(&before.git_commit),
                say(&now.git_commit)
            ),
        ));
    }
    if now.git_dirty || before.git_dirty {
        let when = match (before.git_dirty, now.git_dirty) {
            (true, true) => "built, and now, with uncommitted changes in its folder",
            (true, false) => "built with uncommitted changes in its folder, which no commit holds",
            _ => "uncommitted changes in its folder",
        };
        out.push(Change::new("dirty", when.to_owned()));
    }
    if before.version != now.version {
        out.push(Change::new(
            "version",
            format!("version {} -> {}", before.version, now.version),
        ));
    }
    if before.cargo_lock != now.cargo_lock {
        out.push(Change::new(
            "cargo-lock",
            "its Cargo.lock changed".to_owned(),
        ));
    }
    if before.plan != now.plan {
        out.push(Change::new(
            "plan",
            "what the plan says of it changed (its entry, its pin, its group's members or the isolation)"
                .to_owned(),
        ));
    }
    let was: BTreeMap<&str, &str> = before
        .proto
        .iter()
        .map(|p| (p.path.as_str(), p.sha256.as_str()))
        .collect();
    let is: BTreeMap<&str, &str> = now
        .proto
        .iter()
        .map(|p| (p.path.as_str(), p.sha256.as_str()))
        .collect();
    for (path, hash) in &was {
        match is.get(path) {
            None => out.push(Change {
                kind: "proto",
                message: format!("{path} removed"),
                class: Some("breaking"),
                details: vec!["every message and service of the file is gone".to_owned()],
            }),
            Some(h) if h != hash => out.push(proto_change(m, path, before.git_commit.as_deref())),
            Some(_) => {}
        }
    }
    for path in is.keys().filter(|p| !was.contains_key(*p)) {
        out.push(Change {
            kind: "proto",
            message: format!("{path} added"),
            class: Some("wire-compatible"),
            details: Vec::new(),
        });
    }
    out
}

/// Whether the member's own folders (its local packages) differ between commits `a` and `b`;
/// when git cannot tell, they do.
fn touched(m: &Member, a: &str, b: &str) -> bool {
    let dirs: Vec<String> = m
        .local_packages()
        .filter_map(|p| p.manifest_path.parent().map(|d| d.to_string()))
        .collect();
    let mut args = vec!["diff", "--quiet", a, b, "--"];
    args.extend(dirs.iter().map(String::as_str));
    // `git diff --quiet` fails when they differ, and when it cannot tell.
    merge_analyzer::git::run(Some(&m.root), &args).is_err()
}

/// A changed .proto file, classified against its text at the locked commit.
fn proto_change(m: &Member, path: &str, commit: Option<&str>) -> Change {
    let file = merge_analyzer::paths::normalize(&m.root.join(path));
    let unknown = |why: String| Change {
        kind: "proto",
        message: format!("{path} changed"),
        class: Some("unknown"),
        details: vec![why],
    };
    let Some(commit) = commit else {
        return unknown("not classified: the build was not from a git commit".to_owned());
    };
    let old = match text_at(&file, commit) {
        Ok(t) => t,
        Err(e) => return unknown(format!("not classified: {e}")),
    };
    let new = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => return unknown(format!("not classified: cannot read it: {e}")),
    };
    match protodiff::compare(path, &old, &new) {
        Ok(v) => Change {
            kind: "proto",
            message: format!("{path} changed"),
            class: Some(v.class()),
            details: if v.is_breaking() {
                v.breaking
            } else {
                v.compatible
            },
        },
        Err(e) => unknown(format!("not classified: {e}")),
    }
}

/// Why a file's text at a commit could not be read.
#[derive(Debug, thiserror::Error)]
enum AtCommit {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("`{}` is outside its repository", .0.display())]
    Outside(PathBuf),
    #[error("no `{rel}` at the locked commit {commit}: {source}")]
    Missing {
        rel: String,
        commit: String,
        #[source]
        source: GitError,
    },
}

/// The text of `file` at `commit` of the git repository holding it.
fn text_at(file: &Path, commit: &str) -> Result<String, AtCommit> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let git = |args: &[&str]| merge_analyzer::git::output(Some(dir), args);
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let top = Path::new(top.trim());
    let rel = file
        .strip_prefix(top)
        .map_err(|_| AtCommit::Outside(file.to_path_buf()))?;
    let rel = rel.to_string_lossy().replace('\\', "/");
    git(&["show", &format!("{commit}:{rel}")]).map_err(|source| AtCommit::Missing {
        commit: short(commit).to_owned(),
        rel,
        source,
    })
}

fn print(statuses: &[GroupStatus], format: MessageFormat) -> anyhow::Result<()> {
    if format == MessageFormat::Json {
        for s in statuses {
            crate::json::line(s).context("failed to write to stdout")?;
        }
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    for s in statuses {
        writeln!(stdout, "group `{}`: {}", s.group, s.state)?;
        for c in &s.changes {
            writeln!(stdout, "  {}", c.message)?;
        }
        for m in &s.members {
            if m.changes.is_empty() {
                writeln!(stdout, "  {}: fresh", m.name)?;
            } else {
                writeln!(stdout, "  {}: stale", m.name)?;
            }
            for c in &m.changes {
                match c.class {
                    Some(class) => writeln!(stdout, "    - {} ({class})", c.message)?,
                    None => writeln!(stdout, "    - {}", c.message)?,
                }
                for d in &c.details {
                    writeln!(stdout, "        {d}")?;
                }
            }
            if !m.newer_tags.is_empty() {
                writeln!(
                    stdout,
                    "    newer tags: {} (`cargo merge bump {} --rev TAG` moves its pin)",
                    m.newer_tags.join(", "),
                    m.name
                )?;
            }
        }
    }
    Ok(())
}
