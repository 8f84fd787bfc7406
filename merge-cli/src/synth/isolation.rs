//! The isolation policy applied to a group: a native library linked twice is refused (but for
//! versions `unify` makes one package), and per crate the members lock at different compatible
//! versions `strict` refuses, `unify` warns, `exact` vendors (`vendor.rs` plans it); then the
//! copies are pointed at their member's vendored versions and the vendored crates copied in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::codes::CheckCode;
use merge_analyzer::error::{InputCode, InputError, Problems};
use merge_analyzer::members::Member;
use merge_analyzer::plan::Isolation;

use super::layout::{self, Layout};
use super::{lock, vendor};

/// What the isolation policy decided for a group.
#[derive(Debug, Default)]
pub(super) struct Isolated {
    /// The crate versions vendored per member, and the redirects to them.
    pub(super) vendoring: vendor::Plan,
    /// What the policy refuses (a native library linked twice, versions it will not unify).
    pub(super) problems: Vec<InputError>,
    /// What it lets through that the user should know (versions unified).
    pub(super) warnings: Vec<String>,
    /// Per member, the decisions taken (for merge.lock).
    pub(super) decisions: BTreeMap<String, Vec<String>>,
}

/// Decides, per crate the members lock at different compatible versions, what the policy
/// does; problems for what it refuses.
pub(super) fn isolate(
    members: &[Member],
    isolation: Isolation,
    (plan, line): (&Path, Option<usize>),
) -> Isolated {
    let mut out = Isolated::default();
    let Isolated {
        problems,
        warnings,
        decisions,
        ..
    } = &mut out;
    for m in members {
        decisions.entry(m.name.clone()).or_default();
    }
    let mut to_vendor = Vec::new();
    for (links, users) in lock::links_collisions(members) {
        // Under `unify`, versions of one registry crate that Cargo unifies are one package.
        let unifiable = users.windows(2).all(|w| {
            let (a, b) = (&w[0].1, &w[1].1);
            a.source.is_some()
                && a.name == b.name
                && a.source == b.source
                && lock::bucket(&a.version) == lock::bucket(&b.version)
        });
        if isolation == Isolation::Unify && unifiable {
            continue;
        }
        let chains: Vec<String> = users
            .iter()
            .filter_map(|(member, p)| {
                let m = members.iter().find(|m| &m.name == member)?;
                Some(lock::chain(m, &p.name, &p.version))
            })
            .collect();
        problems.push(
            InputError::new(
                plan,
                line,
                format!(
                    "the native library `{links}` is linked by {} packages, which one binary cannot do: {}",
                    users.len(),
                    chains.join("; ")
                ),
            )
            .code(InputCode::Check(CheckCode::LinksConflict)),
        );
    }
    let conflicts = lock::conflicts(members);
    let moving: BTreeSet<String> = conflicts.iter().map(|c| c.name.clone()).collect();
    for c in conflicts.iter().cloned() {
        if c.links.is_some() {
            continue; // reported above
        }
        // Refused under check's own code: `exact-pin-conflict` where a member pins it.
        let pinned: Vec<String> = pins(members, &c, &moving);
        let code = InputCode::Check(if pinned.is_empty() {
            CheckCode::VersionDrift
        } else {
            CheckCode::ExactPinConflict
        });
        let pins_said = if pinned.is_empty() {
            String::new()
        } else {
            format!(" ({})", pinned.join(", "))
        };
        match isolation {
            Isolation::Strict => {
                problems.push(
                    InputError::new(
                        plan,
                        line,
                        format!(
                            "{}{pins_said}: members lock different versions, and isolation `strict` refuses to build \
                             when a member would run a version it does not lock",
                            c.describe()
                        ),
                    )
                    .code(code),
                );
            }
            Isolation::Exact => to_vendor.push(c),
            Isolation::Unify if !merge_analyzer::versions::unifiable(members, &c, &conflicts) => {
                problems.push(
                    InputError::new(
                        plan,
                        line,
                        format!(
                            "{}{pins_said}: no one version satisfies every member's requirement, so \
                             isolation `unify` cannot make them one; use isolation `exact`, or align them",
                            c.describe(),
                        ),
                    )
                    .code(code),
                );
            }
            Isolation::Unify => {
                warnings.push(format!(
                    "{}: Cargo will unify them, so some member runs a version it was not tested with",
                    c.describe()
                ));
                for ms in c.versions.values() {
                    for m in ms {
                        decisions
                            .entry(m.clone())
                            .or_default()
                            .push(format!("unified {}", c.describe()));
                    }
                }
            }
        }
    }
    out.vendoring = match vendor::plan(members, &to_vendor) {
        Ok(plan) => {
            for v in &plan.vendored {
                decisions.entry(v.member.clone()).or_default().push(format!(
                    "vendored {} {} as {}",
                    v.name, v.version, v.package
                ));
            }
            for c in &to_vendor {
                if let Some(shared) = c.versions.keys().max() {
                    for m in c.versions.get(shared).into_iter().flatten() {
                        decisions
                            .entry(m.clone())
                            .or_default()
                            .push(format!("shared {} {shared}", c.name));
                    }
                }
            }
            plan
        }
        Err(e) => {
            problems.push(
                InputError::new(plan, line, e.to_string())
                    .code(InputCode::Check(CheckCode::LinksConflict)),
            );
            vendor::Plan::default()
        }
    };
    out
}

/// Who pins a version of `c` exactly (the member locking it): "`ledger` pins `hex` (member
/// `ledger`, which locks 0.4.2)", one per pinned version.
fn pins(members: &[Member], c: &lock::Conflict, moving: &BTreeSet<String>) -> Vec<String> {
    c.versions
        .iter()
        .filter_map(|(version, users)| {
            users.iter().find_map(|u| {
                let m = members.iter().find(|m| &m.name == u)?;
                let by = merge_analyzer::versions::pinned_by(m, c, moving)?;
                Some(format!(
                    "`{by}` pins `{}` (member `{u}`, which locks {version})",
                    c.name
                ))
            })
        })
        .collect()
}

/// Points the copies at their members' vendored versions: the copy of each local package in
/// `locals` (original folders) whose dependencies `vendoring` redirects for its member, and each
/// entry copy (member, copy). A package several members share that needs a vendored version for
/// one of them (a proto crate over that member's own tonic) gets a copy of its own for that
/// member, `<package>-ns-<member>` (library name kept), and that member's copies depend on it.
#[allow(clippy::too_many_arguments)]
pub(super) fn redirect_copies<'a>(
    vendoring: &vendor::Plan,
    members: &[Member],
    layout: &Layout,
    locals: impl IntoIterator<Item = &'a PathBuf>,
    entry_copies: &[(String, PathBuf)],
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    problems: &mut Problems,
    workspace_members: &mut BTreeSet<PathBuf>,
) {
    let locals: Vec<&PathBuf> = locals.into_iter().collect();
    let users_of = |dir: &Path| -> Vec<&Member> {
        members
            .iter()
            .filter(|m| m.local_packages().any(|p| same_dir(p, dir)))
            .collect()
    };
    // Per member: shared copy -> (its own copy, its package name).
    let mut own: BTreeMap<&str, BTreeMap<PathBuf, (PathBuf, String)>> = BTreeMap::new();
    for m in members {
        let (Some(redirects), Some(dirs)) = (
            vendoring.redirects.get(&m.name),
            vendoring.own_copies.get(&m.name),
        ) else {
            continue;
        };
        let packages: Vec<(PathBuf, &cargo_metadata::Package)> = dirs
            .iter()
            .filter_map(|dir| {
                let p = m.local_packages().find(|p| same_dir(p, dir))?;
                Some((layout.copy_of(dir)?, p))
            })
            .collect();
        let map = own.entry(m.name.as_str()).or_default();
        for (shared_copy, p) in &packages {
            let name = format!("{}-ns-{}", p.name, m.name);
            let copy = Path::new("members").join(&name);
            map.insert(shared_copy.clone(), (copy, name));
        }
        for (shared_copy, p) in packages {
            let Some((copy, name)) = map.get(&shared_copy).cloned() else {
                continue;
            };
            let moved: Vec<(PathBuf, Vec<u8>)> = files
                .iter()
                .filter_map(|(k, v)| {
                    let rest = k.strip_prefix(&shared_copy).ok()?;
                    Some((copy.join(rest), v.clone()))
                })
                .collect();
            files.extend(moved);
            rename_copy(files, &copy, p, &name, problems);
            redirect_copy(
                files,
                &copy,
                p,
                redirects,
                &p.manifest_path.clone().into_std_path_buf(),
                problems,
            );
            repoint_copy(files, &copy, map, problems);
            workspace_members.insert(copy);
        }
    }
    // Members' own local packages depend on their vendored versions (and own copies).
    for dir in &locals {
        let Some(copy) = layout.copy_of(dir) else {
            continue;
        };
        let users = users_of(dir);
        if users.len() > 1 {
            continue; // shared: given an own copy above where a member needs one
        }
        for m in &users {
            let Some(package) = m.local_packages().find(|p| same_dir(p, dir)) else {
                continue;
            };
            if let Some(redirects) = vendoring.redirects.get(&m.name) {
                if touches(package, redirects) {
                    let manifest = dir.join("Cargo.toml");
                    redirect_copy(files, &copy, package, redirects, &manifest, problems);
                }
            }
            if let Some(map) = own.get(m.name.as_str()) {
                repoint_copy(files, &copy, map, problems);
            }
        }
    }
    // Entry copies carry their member's dependencies too.
    for (member, dir) in entry_copies {
        let Some(m) = members.iter().find(|m| &m.name == member) else {
            continue;
        };
        if let Some(redirects) = vendoring.redirects.get(member) {
            redirect_copy(files, dir, &m.package, redirects, &m.manifest, problems);
        }
        if let Some(map) = own.get(member.as_str()) {
            repoint_copy(files, dir, map, problems);
        }
    }
}

/// Whether `package` depends on a version `redirects` vendors.
fn touches(package: &cargo_metadata::Package, redirects: &vendor::Redirects) -> bool {
    package
        .dependencies
        .iter()
        .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
        .any(|d| {
            redirects
                .keys()
                .any(|(n, v)| *n == d.name && d.req.matches(v))
        })
}

/// Edits the manifest of the copy at `copy` (in `files`) with `edit`; a manifest that does not
/// parse is a problem.
fn edit_manifest(
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    copy: &Path,
    problems: &mut Problems,
    edit: impl FnOnce(&mut toml_edit::DocumentMut),
) {
    let key = copy.join("Cargo.toml");
    let Some(text) = files
        .get(&key)
        .map(|b| String::from_utf8_lossy(b).into_owned())
    else {
        return;
    };
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(mut doc) => {
            edit(&mut doc);
            files.insert(key, doc.to_string().into_bytes());
        }
        Err(e) => problems.push(InputError::new(&key, None, format!("{e}"))),
    }
}

/// The own copy of a shared package: renamed, its library name kept.
fn rename_copy(
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    copy: &Path,
    package: &cargo_metadata::Package,
    name: &str,
    problems: &mut Problems,
) {
    edit_manifest(files, copy, problems, |doc| {
        if let Some(p) = doc
            .get_mut("package")
            .and_then(toml_edit::Item::as_table_like_mut)
        {
            p.insert("name", toml_edit::value(name));
        }
        if let Some(lib) = package.targets.iter().find(|t| t.is_lib()) {
            if let Some(table) = doc
                .entry("lib")
                .or_insert_with(toml_edit::table)
                .as_table_like_mut()
            {
                table.insert("name", toml_edit::value(lib.name.as_str()));
            }
        }
    });
}

/// Points a copy's path dependencies on shared copies in `map` at the member's own copies
/// (renamed: `package = "<package>-ns-<member>"`, the dependency's key kept).
fn repoint_copy(
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    copy: &Path,
    map: &BTreeMap<PathBuf, (PathBuf, String)>,
    problems: &mut Problems,
) {
    edit_manifest(files, copy, problems, |doc| {
        let mut tables: Vec<&mut dyn toml_edit::TableLike> = Vec::new();
        let (root, targets): (Vec<_>, Vec<_>) =
            doc.iter_mut().partition(|(k, _)| k.get() != "target");
        let is_deps = |k: &str| k == "dependencies" || k == "build-dependencies";
        for (k, item) in root {
            if let Some(t) = item.as_table_like_mut().filter(|_| is_deps(k.get())) {
                tables.push(t);
            }
        }
        for (_, item) in targets {
            let Some(t) = item.as_table_like_mut() else {
                continue;
            };
            for (_, platform) in t.iter_mut() {
                let Some(platform) = platform.as_table_like_mut() else {
                    continue;
                };
                for (k, item) in platform.iter_mut() {
                    if let Some(t) = item.as_table_like_mut().filter(|_| is_deps(k.get())) {
                        tables.push(t);
                    }
                }
            }
        }
        for table in tables {
            for (_, dep) in table.iter_mut() {
                let Some(dep) = dep.as_table_like_mut() else {
                    continue;
                };
                let Some(path) = dep.get("path").and_then(toml_edit::Item::as_str) else {
                    continue;
                };
                let target = layout::normalize(&copy.join(path));
                if let Some((own, name)) = map.get(&target) {
                    let path = super::manifest::slash(&layout::relative(copy, own));
                    dep.insert("path", toml_edit::value(path));
                    dep.insert("package", toml_edit::value(name.as_str()));
                }
            }
        }
    });
}

/// Copies the vendored crates of `vendoring` (their manifests rewritten) into `files`, each a
/// member of the workspace.
pub(super) fn copy_vendored(
    vendoring: &vendor::Plan,
    members: &[Member],
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    problems: &mut Problems,
    workspace_members: &mut BTreeSet<PathBuf>,
) {
    for v in &vendoring.vendored {
        let Some(m) = members.iter().find(|m| m.name == v.member) else {
            continue;
        };
        let Some(package) = m
            .metadata
            .packages
            .iter()
            .find(|p| p.name == v.name && p.version == v.version && p.source.is_some())
        else {
            continue;
        };
        let redirects = vendoring
            .redirects
            .get(&v.member)
            .cloned()
            .unwrap_or_default();
        match layout::files(&v.source) {
            Ok(list) => {
                for rel in list {
                    let path = v.source.join(&rel);
                    match std::fs::read(&path) {
                        Ok(bytes) if rel == Path::new("Cargo.toml") => {
                            let text = String::from_utf8_lossy(&bytes);
                            match vendor::manifest(&text, v, package, &redirects) {
                                Ok(t) => {
                                    files.insert(v.dir.join(&rel), t.into_bytes());
                                }
                                Err(e) => {
                                    problems.push(InputError::new(&path, None, e.to_string()))
                                }
                            }
                        }
                        Ok(bytes) => {
                            files.insert(v.dir.join(&rel), bytes);
                        }
                        Err(e) => problems.push(
                            InputError::new(&path, None, format!("cannot read: {e}"))
                                .code(InputCode::Unreadable),
                        ),
                    }
                }
            }
            Err(e) => problems.push(
                InputError::new(
                    &v.source,
                    None,
                    format!("cannot read the crate's source: {e}"),
                )
                .code(InputCode::Unreadable),
            ),
        }
        workspace_members.insert(v.dir.clone());
    }
}

/// Points the dependencies of the copy in `copy` (already made, in `files`) at the vendored
/// versions of `redirects`; `manifest` is the original, named in errors.
fn redirect_copy(
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    copy: &Path,
    package: &cargo_metadata::Package,
    redirects: &vendor::Redirects,
    manifest: &Path,
    problems: &mut Problems,
) {
    let mut failed = None;
    edit_manifest(files, copy, problems, |doc| {
        failed = vendor::redirect(doc, package, redirects, copy).err();
    });
    if let Some(e) = failed {
        problems.push(InputError::new(manifest, None, e.to_string()));
    }
}

fn same_dir(p: &cargo_metadata::Package, dir: &Path) -> bool {
    p.manifest_path
        .parent()
        .is_some_and(|d| layout::normalize(d.as_std_path()) == dir)
}
