//! The isolation policy applied to a group: a native library linked twice is refused (but for
//! versions `unify` makes one package), and per crate the members lock at different compatible
//! versions `strict` refuses, `unify` warns, `exact` vendors (`vendor.rs` plans it); then the
//! copies are pointed at their member's vendored versions and the vendored crates copied in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::error::{InputCode, InputError, Problems};
use merge_analyzer::members::Member;
use merge_analyzer::plan::Isolation;

use super::layout::{self, Layout};
use super::{lock, vendor};

/// Decides, per crate the members lock at different compatible versions, what the policy
/// does; problems for what it refuses.
pub(super) fn isolate(
    members: &[Member],
    isolation: Isolation,
    (plan, line): (&Path, Option<usize>),
    problems: &mut Problems,
    warnings: &mut Vec<String>,
    decisions: &mut BTreeMap<String, Vec<String>>,
) -> vendor::Plan {
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
            .code(InputCode::LinksConflict),
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
            "version-drift"
        } else {
            "exact-pin-conflict"
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
    match vendor::plan(members, &to_vendor) {
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
            problems.push(InputError::new(plan, line, e).code(InputCode::LinksConflict));
            vendor::Plan::default()
        }
    }
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
/// `locals` (original folders) whose dependencies `vendoring` redirects for its member (refused
/// for a package several members share), and each entry copy (member, copy).
pub(super) fn redirect_copies<'a>(
    vendoring: &vendor::Plan,
    members: &[Member],
    layout: &Layout,
    locals: impl IntoIterator<Item = &'a PathBuf>,
    entry_copies: &[(String, PathBuf)],
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    problems: &mut Problems,
) {
    // Members' local packages depend on their vendored versions.
    for dir in locals {
        let Some(copy) = layout.copy_of(dir) else {
            continue;
        };
        let users: Vec<&Member> = members
            .iter()
            .filter(|m| m.local_packages().any(|p| same_dir(p, dir)))
            .collect();
        for m in &users {
            let Some(redirects) = vendoring.redirects.get(&m.name) else {
                continue;
            };
            let Some(package) = m.local_packages().find(|p| same_dir(p, dir)) else {
                continue;
            };
            let touched = package
                .dependencies
                .iter()
                .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
                .any(|d| {
                    redirects
                        .keys()
                        .any(|(n, v)| *n == d.name && d.req.matches(v))
                });
            if !touched {
                continue;
            }
            if users.len() > 1 {
                problems.push(
                    InputError::new(
                        &dir.join("Cargo.toml"),
                        None,
                        format!(
                            "`{}` is shared by members {} but would need a vendored version for `{}` alone",
                            package.name,
                            users.iter().map(|u| format!("`{}`", u.name)).collect::<Vec<_>>().join(", "),
                            m.name
                        ),
                    )
                    .code(InputCode::VersionConflict),
                );
                continue;
            }
            let manifest = dir.join("Cargo.toml");
            redirect_copy(files, &copy, package, redirects, &manifest, problems);
        }
    }
    // Entry copies carry their member's dependencies too.
    for (member, dir) in entry_copies {
        let (Some(m), Some(redirects)) = (
            members.iter().find(|m| &m.name == member),
            vendoring.redirects.get(member),
        ) else {
            continue;
        };
        redirect_copy(files, dir, &m.package, redirects, &m.manifest, problems);
    }
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
                                Err(e) => problems.push(InputError::new(&path, None, e)),
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
    let key = copy.join("Cargo.toml");
    let Some(text) = files
        .get(&key)
        .map(|b| String::from_utf8_lossy(b).into_owned())
    else {
        return;
    };
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(mut doc) => {
            if let Err(e) = vendor::redirect(&mut doc, package, redirects, copy) {
                problems.push(InputError::new(manifest, None, e));
            }
            files.insert(key, doc.to_string().into_bytes());
        }
        Err(e) => problems.push(InputError::new(&key, None, format!("{e}"))),
    }
}

fn same_dir(p: &cargo_metadata::Package, dir: &Path) -> bool {
    p.manifest_path
        .parent()
        .is_some_and(|d| layout::normalize(d.as_std_path()) == dir)
}
