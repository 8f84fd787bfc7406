//! The members of a plan, as Cargo sees them: each member's package (its manifest, targets and
//! the binary to run) and its standalone dependency graph, read with `cargo metadata --locked`
//! so that a member's lockfile is read, never written. Shared by `check` and `build`.
//!
//! Bad plans are input errors naming the plan file and line: a member without a manifest
//! (`unknown-member`), a manifest that is not there or that cargo cannot read
//! (`missing-manifest`), a lockfile that is missing or out of date with its manifest
//! (`stale-lockfile`: cargo-merge never writes it), a library (`not-a-service`), several
//! binaries and no `bin` (`ambiguous-binary`). Every problem is found before anything is
//! written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_metadata::{Metadata, Package, PackageId, Target, TargetKind};

use crate::error::{ImportError, InputCode, InputError, Lines, Problems};
use crate::plan::Plan;

/// A plan and where its parts are written, for errors that name a line.
#[derive(Debug)]
pub struct PlanFile {
    pub path: PathBuf,
    /// The folder paths in the plan are relative to.
    pub dir: PathBuf,
    pub plan: Plan,
    text: String,
    /// Where git members are checked out (member -> its manifest in the checkout), once
    /// [`crate::sources::checkout`] has made them local.
    pub checkouts: BTreeMap<String, PathBuf>,
}

/// One member service of a group, resolved.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name in the plan.
    pub name: String,
    /// Its manifest, absolute.
    pub manifest: PathBuf,
    /// Its package's folder, absolute.
    pub root: PathBuf,
    pub package: Package,
    /// The binary target whose `main` runs in the merged binary.
    pub bin: Target,
    /// The package's library target, if it has one.
    pub lib: Option<Target>,
    /// The member's own resolve (its lockfile's versions), all its dependencies.
    pub metadata: Metadata,
    /// The git commit its folder is at, or `None` outside a git work tree.
    pub commit: Option<String>,
    /// Whether a tracked file of its folder has uncommitted changes.
    pub dirty: bool,
    /// What its binary links ([`Member::linked_packages`]) and what building it compiles
    /// ([`Member::built_packages`]), walked once when it is loaded.
    linked: BTreeSet<PackageId>,
    built: BTreeSet<PackageId>,
}

impl Member {
    /// The member's own code: the local folders (no registry or git source) that building its
    /// binary compiles, the member itself and its path dependencies (build-dependencies
    /// included: a copy of the member needs them). Not every package of the workspace it lives
    /// in: another service of that workspace is not its code.
    pub fn local_packages(&self) -> impl Iterator<Item = &Package> {
        self.built_packages()
            .into_iter()
            .filter(|p| p.source.is_none())
    }

    /// The packages the member's binary links: reachable from its package through normal
    /// dependencies, for any platform. Not build-dependencies, which run when it is built and
    /// are not in the binary, nor dev-dependencies, which the merged binary does not have.
    pub fn linked_packages(&self) -> Vec<&Package> {
        self.packages_in(&self.linked)
    }

    /// [`Member::linked_packages`] built on `host` only: a dependency for another platform
    /// (`[target.'cfg(windows)'.dependencies]`) and what only it brings are left out.
    pub fn linked_packages_on(&self, host: Option<&crate::host::Host>) -> Vec<&Package> {
        match host {
            None => self.linked_packages(),
            Some(_) => self.packages_in(&reachable(&self.metadata, &self.package, host, false)),
        }
    }

    /// The packages building the member's binary compiles: [`Member::linked_packages`] and its
    /// build-dependencies (build scripts and what they use), for any platform.
    pub fn built_packages(&self) -> Vec<&Package> {
        self.packages_in(&self.built)
    }

    /// [`Member::linked_packages`] or, with `build`, [`Member::built_packages`].
    pub fn packages(&self, build: bool) -> Vec<&Package> {
        if build {
            self.built_packages()
        } else {
            self.linked_packages()
        }
    }

    /// The sources of its package's other binaries (`src/bin/migrate.rs`, or the folder of
    /// `src/bin/migrate/main.rs`): they do not run in the merged binary, so what they do is not
    /// the member's.
    pub fn other_bins(&self) -> Vec<PathBuf> {
        self.package
            .targets
            .iter()
            .filter(|t| t.is_bin() && t.name != self.bin.name)
            .map(|t| bin_root(t.src_path.as_std_path()))
            .collect()
    }

    /// The packages of its graph in `ids`, in metadata order.
    fn packages_in(&self, ids: &BTreeSet<PackageId>) -> Vec<&Package> {
        self.metadata
            .packages
            .iter()
            .filter(|p| ids.contains(&p.id))
            .collect()
    }
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

/// What `package` reaches in `metadata` through normal dependencies (and build ones with
/// `build`), on `host` only if given; every package when cargo gave no resolve.
fn reachable(
    metadata: &Metadata,
    package: &Package,
    host: Option<&crate::host::Host>,
    build: bool,
) -> BTreeSet<PackageId> {
    let Some(resolve) = &metadata.resolve else {
        return metadata.packages.iter().map(|p| p.id.clone()).collect();
    };
    let nodes: BTreeMap<_, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut seen = BTreeSet::from([&package.id]);
    let mut queue = vec![&package.id];
    while let Some(id) = queue.pop() {
        for dep in nodes.get(id).map(|n| n.deps.as_slice()).unwrap_or_default() {
            let followed = dep.dep_kinds.iter().any(|k| {
                let kind = match k.kind {
                    cargo_metadata::DependencyKind::Normal => true,
                    cargo_metadata::DependencyKind::Build => build,
                    _ => false,
                };
                kind && host.is_none_or(|h| h.builds(k.target.as_ref()))
            });
            if followed && seen.insert(&dep.pkg) {
                queue.push(&dep.pkg);
            }
        }
    }
    seen.into_iter().cloned().collect()
}

/// Package names of cargo-merge's own crates: never a member's code (a member that uses the
/// in-process call already depends on them), never copied, never checked.
pub const TOOL_CRATES: [&str; 3] = ["merge-runtime-shim", "merge-inline-macros", "merge-rewrite"];

/// Options passed to every cargo the members are read with.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    pub offline: bool,
    pub frozen: bool,
}

/// Reads a plan file.
pub fn read_plan(path: &Path) -> Result<PlanFile, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let plan: Plan = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| Lines::new(&text).line(s.start));
        ImportError::one(InputError::new(path, line, e.message().trim().to_owned()))
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let dir = crate::paths::normalize(&std::path::absolute(&dir).unwrap_or(dir));
    let file = PlanFile {
        path: path.to_path_buf(),
        dir,
        plan,
        text,
        checkouts: BTreeMap::new(),
    };
    file.validate()?;
    Ok(file)
}

impl PlanFile {
    /// The 1-based line of the first occurrence of `needle` at or after line `from`.
    fn line_of(&self, needle: &str, from: usize) -> Option<usize> {
        self.text
            .lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
    }

    /// The line of member `member` in group `group`'s `members` list.
    pub fn member_line(&self, group: &str, member: &str) -> Option<usize> {
        let header = self.line_of(&format!("\"{group}\""), 1)?;
        self.line_of(&format!("\"{member}\""), header)
    }

    /// The groups named in `only`, or every group of the plan when `only` is empty.
    pub fn groups(&self, only: &[String]) -> Vec<String> {
        if only.is_empty() {
            self.plan.group.iter().map(|g| g.name.clone()).collect()
        } else {
            only.to_vec()
        }
    }

    /// The line of group `group`'s name.
    pub fn group_line(&self, group: &str) -> Option<usize> {
        self.line_of(&format!("\"{group}\""), 1)
    }

    /// The line of `[service.NAME]`.
    pub fn service_line(&self, name: &str) -> Option<usize> {
        self.line_of(&format!("[service.{name}]"), 1)
            .or_else(|| self.line_of(&format!("[service.\"{name}\"]"), 1))
    }

    fn error(&self, line: Option<usize>, code: InputCode, message: String) -> InputError {
        InputError::new(&self.path, line, message).code(code)
    }

    /// Problems of the plan alone: empty or duplicate groups, members in two groups.
    fn validate(&self) -> Result<(), ImportError> {
        let mut problems = Problems::default();
        if self.plan.group.is_empty() {
            problems.push(self.error(
                None,
                InputCode::MalformedInput,
                "the plan has no [[group]]: nothing to merge".into(),
            ));
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        let mut names = BTreeMap::new();
        for g in &self.plan.group {
            if names.insert(g.name.as_str(), ()).is_some() {
                problems.push(self.error(
                    self.line_of(&format!("\"{}\"", g.name), 1),
                    InputCode::DuplicateEntry,
                    format!("group `{}` is given twice", g.name),
                ));
            }
            if g.name.is_empty()
                || !g
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                problems.push(self.error(
                    self.line_of(&format!("\"{}\"", g.name), 1),
                    InputCode::InvalidValue,
                    format!(
                        "group name `{}` must be letters, digits, `-` and `_` (it names a folder and a binary)",
                        g.name
                    ),
                ));
            }
            for m in &g.members {
                if let Some(other) = seen.insert(m, &g.name) {
                    problems.push(self.error(
                        self.member_line(&g.name, m),
                        InputCode::DuplicateEntry,
                        format!(
                            "member `{m}` is in group `{other}` and in group `{}`",
                            g.name
                        ),
                    ));
                }
            }
        }
        problems.finish(())
    }
}

/// Resolves every member of group `group`: its manifest, package, binary and dependency
/// graph. All problems are reported together.
pub fn load_group(
    plan: &PlanFile,
    group: &str,
    options: &CargoOptions,
) -> Result<Vec<Member>, ImportError> {
    let mut problems = Problems::default();
    let mut members = Vec::new();
    let Some(g) = plan.plan.group.iter().find(|g| g.name == group) else {
        return Err(ImportError::one(plan.error(
            None,
            InputCode::UnknownMember,
            format!("the plan has no group `{group}`"),
        )));
    };
    // One `cargo metadata` per member, all at once: they dominate the time of check and build.
    let loaded: Vec<Result<Member, InputError>> = std::thread::scope(|scope| {
        let running: Vec<_> = g
            .members
            .iter()
            .map(|name| scope.spawn(move || load_member(plan, group, name, options)))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for result in loaded {
        match result {
            Ok(m) => members.push(m),
            Err(e) => problems.push(e),
        }
    }
    problems.finish(members)
}

fn load_member(
    plan: &PlanFile,
    group: &str,
    name: &str,
    options: &CargoOptions,
) -> Result<Member, InputError> {
    let service = plan.plan.service.get(name);
    if service.is_some_and(|s| s.git.is_some()) && !plan.checkouts.contains_key(name) {
        return Err(plan.error(
            plan.service_line(name),
            InputCode::MissingManifest,
            format!("member `{name}` comes from git and is not checked out"),
        ));
    }
    let checked_out = plan.checkouts.get(name).map(|p| p.display().to_string());
    let Some(manifest) = checked_out
        .as_deref()
        .or_else(|| service.and_then(|s| s.manifest.as_deref()))
    else {
        return Err(plan.error(
            plan.member_line(group, name),
            InputCode::UnknownMember,
            format!(
                "group `{group}` lists `{name}`, but the plan gives no [service.{name}] manifest"
            ),
        ));
    };
    let line = plan.service_line(name);
    let path = crate::paths::normalize(&plan.dir.join(manifest));
    if !path.is_file() {
        return Err(plan.error(
            line,
            InputCode::MissingManifest,
            format!(
                "member `{name}`: manifest `{}` does not exist",
                path.display()
            ),
        ));
    }
    let metadata = metadata(&path, options).map_err(|e| match stale_lockfile(&e.to_string()) {
        Some((said, lockfile)) => {
            let lockfile = lockfile.map_or_else(
                || path.with_file_name("Cargo.lock").display().to_string(),
                str::to_owned,
            );
            let state = if said.contains("cannot create") {
                "is missing".to_owned()
            } else {
                format!("is out of date with `{}`", path.display())
            };
            plan.error(
                line,
                InputCode::StaleLockfile,
                format!("member `{name}`: its lockfile `{lockfile}` {state}; cargo: {said}"),
            )
        }
        None => plan.error(
            line,
            InputCode::MissingManifest,
            format!(
                "member `{name}`: cargo cannot read `{}`: {e}",
                path.display()
            ),
        ),
    })?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == path)
        .cloned()
        .ok_or_else(|| {
            plan.error(
                line,
                InputCode::MissingManifest,
                format!(
                    "member `{name}`: `{}` is a virtual workspace manifest; point `manifest` at the service's package",
                    path.display()
                ),
            )
        })?;
    let bins: Vec<&Target> = package
        .targets
        .iter()
        .filter(|t| t.kind.contains(&TargetKind::Bin))
        .collect();
    let wanted = service.and_then(|s| s.bin.as_deref());
    let bin = match (wanted, bins.as_slice()) {
        (_, []) => {
            return Err(plan.error(
                line,
                InputCode::NotAService,
                format!(
                    "member `{name}`: package `{}` is a library, it has no binary to run",
                    package.name
                ),
            ));
        }
        (Some(w), _) => match bins.iter().find(|b| b.name == w) {
            Some(b) => (*b).clone(),
            None => {
                return Err(plan.error(
                    line,
                    InputCode::AmbiguousBinary,
                    format!(
                        "member `{name}`: package `{}` has no binary `{w}` (it has {})",
                        package.name,
                        names(&bins)
                    ),
                ));
            }
        },
        (None, [one]) => (*one).clone(),
        (None, several) => {
            return Err(plan.error(
                line.or_else(|| plan.member_line(group, name)),
                InputCode::AmbiguousBinary,
                format!(
                    "member `{name}`: package `{}` has several binaries ({}) and the plan does not say which one runs",
                    package.name,
                    names(several)
                ),
            ));
        }
    };
    let lib = package
        .targets
        .iter()
        .find(|t| {
            t.kind
                .iter()
                .any(|k| matches!(k, TargetKind::Lib | TargetKind::RLib))
        })
        .cloned();
    let root = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let linked = reachable(&metadata, &package, None, false);
    let built = reachable(&metadata, &package, None, true);
    let (commit, dirty) = commit_of(&root).map_or((None, false), |(c, d)| (Some(c), d));
    Ok(Member {
        name: name.to_owned(),
        manifest: path,
        root,
        package,
        bin,
        lib,
        metadata,
        commit,
        dirty,
        linked,
        built,
    })
}

/// The commit of the git work tree holding `dir`, and whether a tracked file under `dir` has
/// changes; `None` when `dir` is in no work tree (or git is missing).
pub fn commit_of(dir: &Path) -> Option<(String, bool)> {
    let git = |args: &[&str]| crate::git::run(Some(dir), args).ok();
    let sha = git(&["rev-parse", "--verify", "-q", "HEAD"]).filter(|s| !s.is_empty())?;
    let changed = git(&["status", "--porcelain", "--untracked-files=no", "--", "."])
        .is_some_and(|s| !s.is_empty());
    Some((sha, changed))
}

fn names(targets: &[&Target]) -> String {
    targets
        .iter()
        .map(|t| format!("`{}`", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether cargo's `metadata` error (its stderr lines joined) says the lockfile would have to be
/// written: cargo's error line, without the hint to drop `--locked` that follows it, and the
/// lockfile's path when the line names one. Cargo says "cannot update the lock file PATH
/// because --locked was passed to prevent this" (or "cannot create ...", or, in older cargo,
/// "the lock file PATH needs to be updated but --locked was passed ..."; `--frozen` likewise).
fn stale_lockfile(reason: &str) -> Option<(&str, Option<&str>)> {
    let tail = "was passed to prevent this";
    let end = reason.find(tail)? + tail.len();
    let start = reason[..end]
        .rfind("error:")
        .map_or(0, |i| i + "error:".len());
    let said = reason[start..end].trim();
    let after = said.split_once("lock file ")?.1;
    let lockfile = [" because --", " needs to be updated"]
        .iter()
        .find_map(|stop| after.split_once(stop))
        .map(|(path, _)| path.trim());
    Some((said, lockfile))
}

/// Why `cargo metadata` gave no graph.
#[derive(Debug, thiserror::Error)]
enum MetadataError {
    #[error("cannot run cargo: {0}")]
    Spawn(std::io::Error),
    /// cargo failed; what it said on stderr, in one line.
    #[error("{0}")]
    Cargo(String),
    #[error("unreadable cargo metadata: {0}")]
    Json(serde_json::Error),
}

/// `cargo metadata --locked` of one manifest: the lockfile is read, never written.
fn metadata(manifest: &Path, options: &CargoOptions) -> Result<Metadata, MetadataError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--manifest-path",
    ])
    .arg(manifest);
    if options.offline {
        cmd.arg("--offline");
    }
    if options.frozen {
        cmd.arg("--frozen");
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(MetadataError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(MetadataError::Cargo(reason));
    }
    serde_json::from_slice(&out.stdout).map_err(MetadataError::Json)
}
