//! `patch-conflict`: the members' `[patch.<registry>]` entries, compared with each other and
//! with what the other members link unpatched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::semver::Version;
use toml_edit::{Document, Item};

use super::manifest::{Manifest, key_offset};
use super::ticked;
use crate::check::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::Member;
use crate::versions;

/// One `[patch.<registry>]` entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patch {
    /// `crates-io` for crates.io however it is spelled, else the key as written.
    registry: String,
    /// The crate it patches (its `package`, else its key).
    krate: String,
    /// The source, comparable across manifests: a path made absolute, git as written.
    source: String,
    /// The source as written, for messages.
    shown: String,
    /// A path source's folder (absolute).
    path: Option<PathBuf>,
    at: Option<usize>,
}

/// crates.io's index, by the names cargo accepts for it.
fn registry_name(key: &str) -> String {
    match key.trim_end_matches('/') {
        "crates-io"
        | "https://github.com/rust-lang/crates.io-index"
        | "sparse+https://index.crates.io" => "crates-io".to_owned(),
        _ => key.to_owned(),
    }
}

/// `crates.io`, or the registry's key.
fn registry_shown(registry: &str) -> String {
    if registry == "crates-io" {
        "crates.io".to_owned()
    } else {
        format!("`{registry}`")
    }
}

/// The `[patch]` entries of a manifest whose folder is `dir`.
fn read_patches(doc: &Document<String>, dir: &Path) -> Vec<Patch> {
    let Some(patch) = doc.as_table().get("patch").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (registry, table) in patch.iter() {
        let Some(table) = table.as_table_like() else {
            continue;
        };
        for (key, dep) in table.iter() {
            let field = |k: &str| {
                dep.as_table_like()
                    .and_then(|t| t.get(k))
                    .and_then(Item::as_str)
            };
            let (source, shown, path) = if let Some(path) = field("path") {
                let abs = crate::paths::normalize(&dir.join(path));
                (
                    format!("path {}", abs.display()),
                    format!("path `{path}`"),
                    Some(abs),
                )
            } else if let Some(git) = field("git") {
                let reference = ["rev", "tag", "branch"]
                    .into_iter()
                    .find_map(|r| field(r).map(|v| format!(" ({r} `{v}`)")))
                    .unwrap_or_default();
                (
                    format!("git {git}{reference}"),
                    format!("git `{git}`{reference}"),
                    None,
                )
            } else if let Some(version) = field("version").or_else(|| dep.as_str()) {
                let from = field("registry")
                    .map(|r| format!(" of registry `{r}`"))
                    .unwrap_or_default();
                (
                    format!("version {version}{from}"),
                    format!("version `{version}`{from}"),
                    None,
                )
            } else {
                continue;
            };
            out.push(Patch {
                registry: registry_name(registry),
                krate: field("package").unwrap_or(key).to_owned(),
                source,
                shown,
                path,
                at: key_offset(table, key),
            });
        }
    }
    out
}

/// Whether a package source (`registry+…`, `sparse+…`, `git+…`) is the registry or git
/// repository a `[patch]` table is keyed by. A registry named in cargo's configuration (other
/// than crates-io) is not recognised: its URL is not in the manifest.
fn from_registry(registry: &str, source: &str) -> bool {
    if registry == "crates-io" {
        return source == "registry+https://github.com/rust-lang/crates.io-index"
            || source.trim_end_matches('/') == "sparse+https://index.crates.io";
    }
    let url = source.split_once('+').map_or(source, |(_, rest)| rest);
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let plain = |u: &str| u.trim_end_matches('/').trim_end_matches(".git").to_owned();
    plain(url) == plain(registry)
}

/// One `patch-conflict` error: the member and its patch (indexes into the input).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PatchIssue {
    member: usize,
    patch: usize,
    message: String,
    help: String,
}

/// Members that patch one crate of one registry with different sources; `names` and `all` in
/// folder order (build keeps the first).
fn patch_issues(names: &[&str], all: &[Vec<Patch>]) -> Vec<PatchIssue> {
    let mut by_crate: BTreeMap<(&str, &str), Vec<(usize, usize)>> = BTreeMap::new();
    for (i, patches) in all.iter().enumerate() {
        for (k, p) in patches.iter().enumerate() {
            by_crate
                .entry((p.registry.as_str(), p.krate.as_str()))
                .or_default()
                .push((i, k));
        }
    }
    let mut issues = Vec::new();
    for ((registry, krate), users) in by_crate {
        let sources: BTreeSet<&str> = users
            .iter()
            .map(|&(i, k)| all[i][k].source.as_str())
            .collect();
        if sources.len() < 2 {
            continue;
        }
        let (first, _) = users[0];
        for &(i, k) in &users {
            let me = &all[i][k];
            let others: Vec<String> = users
                .iter()
                .filter(|&&(j, l)| j != i && all[j][l].source != me.source)
                .map(|&(j, l)| format!("`{}` with {}", names[j], all[j][l].shown))
                .collect();
            issues.push(PatchIssue {
                member: i,
                patch: k,
                message: format!(
                    "`{}` patches `{krate}` of {} with {}; {}: one workspace holds one patch per crate, and the merged build keeps `{}`'s",
                    names[i],
                    registry_shown(registry),
                    me.shown,
                    others.join(", "),
                    names[first]
                ),
                help: format!(
                    "patch `{krate}` with one source in every member (or drop a patch a member no longer needs); `--allow {}` builds every member with `{}`'s",
                    CheckCode::PatchConflict,
                    names[first]
                ),
            });
        }
    }
    issues
}

/// The version of the package in `dir` (a path patch), if its manifest says it plainly.
fn path_version(dir: &Path) -> Option<Version> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    let version = doc.get("package")?.get("version")?.as_str()?;
    Version::parse(version).ok()
}

/// `patch-conflict`: the errors of `patch_issues`, and a warning where a member's patch
/// replaces a crate another member links unpatched.
pub(super) fn patch_conflicts(
    group: &str,
    members: &[Member],
    roots: &[Option<Manifest>],
    order: &[usize],
    out: &mut Vec<Finding>,
) {
    let patches: Vec<Vec<Patch>> = order
        .iter()
        .map(|&i| {
            roots[i]
                .as_ref()
                .map(|r| read_patches(&r.doc, r.dir()))
                .unwrap_or_default()
        })
        .collect();
    let names: Vec<&str> = order.iter().map(|&i| members[i].name.as_str()).collect();
    let place = |o: usize, at: Option<usize>| roots[order[o]].as_ref().and_then(|r| r.at(at));
    for issue in patch_issues(&names, &patches) {
        let m = &members[order[issue.member]];
        out.push(finding_at(
            group,
            Some(m),
            CheckCode::PatchConflict,
            Severity::Error,
            place(issue.member, patches[issue.member][issue.patch].at),
            issue.message,
            &issue.help,
        ));
    }
    for (o, mine) in patches.iter().enumerate() {
        for patch in mine {
            let version = patch.path.as_deref().and_then(path_version);
            let affected: Vec<(&str, &Version)> = patches
                .iter()
                .enumerate()
                .filter(|(j, theirs)| {
                    *j != o
                        && !theirs
                            .iter()
                            .any(|q| q.registry == patch.registry && q.krate == patch.krate)
                })
                .filter_map(|(j, _)| {
                    let other = &members[order[j]];
                    let p = other.linked_packages().into_iter().find(|p| {
                        p.name.as_str() == patch.krate
                            && p.source
                                .as_ref()
                                .is_some_and(|s| from_registry(&patch.registry, &s.repr))
                            && version
                                .as_ref()
                                .is_none_or(|v| versions::bucket(v) == versions::bucket(&p.version))
                    })?;
                    Some((other.name.as_str(), &p.version))
                })
                .collect();
            if affected.is_empty() {
                continue;
            }
            let who = ticked(affected.iter().map(|(n, _)| *n));
            let links = match affected.as_slice() {
                [(name, v)] => format!("`{name}` links `{}` {v}", patch.krate),
                _ => {
                    let each: Vec<String> = affected
                        .iter()
                        .map(|(n, v)| format!("`{n}` ({v})"))
                        .collect();
                    format!("{} link `{}`", each.join(", "), patch.krate)
                }
            };
            let m = &members[order[o]];
            out.push(finding_at(
                group,
                Some(m),
                CheckCode::PatchConflict,
                Severity::Warning,
                place(o, patch.at),
                format!(
                    "{links} from {}; merged, `{}`'s patch ({}) replaces it for {who} too",
                    registry_shown(&patch.registry),
                    m.name,
                    patch.shown
                ),
                &format!(
                    "check that {who} works with the patched `{}`, or patch it the same way in every member that links it",
                    patch.krate
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::manifest::fixtures::{line_of, manifest};
    use super::*;

    #[test]
    fn patches_compare_by_resolved_source() {
        let alpha = manifest(
            "[patch.crates-io]\nitoa = { path = \"../patches/itoa\" }\n\
             ryu = { git = \"https://example.invalid/ryu\", branch = \"fix\" }\n\
             [patch.\"https://github.com/rust-lang/crates.io-index\"]\nlog = { path = \"../log\" }\n",
        );
        let a = read_patches(&alpha.doc, Path::new("/ws/alpha"));
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].krate, "itoa");
        assert_eq!(
            a[0].source,
            format!("path {}", Path::new("/ws/patches/itoa").display())
        );
        assert_eq!(line_of(&alpha, a[0].at), Some((2, 1)));
        assert_eq!(
            a[1].source,
            "git https://example.invalid/ryu (branch `fix`)"
        );
        assert_eq!(a[2].registry, "crates-io");
        // The same folder written from elsewhere is the same patch; another fork is not.
        let beta = manifest(
            "[patch.crates-io]\nitoa = { path = \"../../ws/patches/itoa\" }\n\
             my-log = { path = \"../forks/log\", package = \"log\" }\n\
             ryu = { git = \"https://example.invalid/ryu\", branch = \"main\" }\n",
        );
        let b = read_patches(&beta.doc, Path::new("/ws/beta"));
        assert_eq!(b[1].krate, "log");
        let issues = patch_issues(&["alpha", "beta"], &[a, b]);
        let who: Vec<(usize, usize)> = issues.iter().map(|i| (i.member, i.patch)).collect();
        assert_eq!(who, [(0, 2), (1, 1), (0, 1), (1, 2)], "{issues:#?}");
        assert_eq!(
            issues[0].message,
            "`alpha` patches `log` of crates.io with path `../log`; `beta` with path `../forks/log`: one workspace holds one patch per crate, and the merged build keeps `alpha`'s"
        );
    }

    #[test]
    fn registry_sources_are_recognised() {
        assert!(from_registry(
            "crates-io",
            "registry+https://github.com/rust-lang/crates.io-index"
        ));
        assert!(from_registry(
            "crates-io",
            "sparse+https://index.crates.io/"
        ));
        assert!(!from_registry(
            "crates-io",
            "git+https://github.com/x/y?rev=1#abc"
        ));
        assert!(from_registry(
            "https://github.com/x/y",
            "git+https://github.com/x/y.git?branch=main#abc"
        ));
        assert!(!from_registry(
            "https://github.com/x/y",
            "git+https://github.com/x/z#abc"
        ));
        assert_eq!(
            registry_name("https://github.com/rust-lang/crates.io-index/"),
            "crates-io"
        );
        assert_eq!(registry_name("my-registry"), "my-registry");
    }
}
