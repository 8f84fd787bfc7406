//! Versions across members: where members' lockfiles disagree on a crate that Cargo would
//! unify (two semver-compatible versions: `1.0.15` and `1.0.19`, `0.4.2` and `0.4.3`), and the
//! merged workspace's `Cargo.lock` seeded from the members' own, so that every crate the
//! members agree on keeps exactly its locked version.

use std::collections::{BTreeMap, BTreeSet};

use cargo_metadata::Package;
use cargo_metadata::semver::Version;
use merge_analyzer::members::Member;

/// A crate that members lock at different semver-compatible versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub name: String,
    /// Version -> the members that lock it.
    pub versions: BTreeMap<Version, Vec<String>>,
    /// The crate sets `links` (a native library: it cannot be linked twice).
    pub links: Option<String>,
}

impl Conflict {
    /// `hex 0.4.2 (ledger) and 0.4.3 (audit)`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .versions
            .iter()
            .map(|(v, ms)| format!("{v} ({})", ms.join(", ")))
            .collect();
        format!("`{}` {}", self.name, parts.join(" and "))
    }
}

/// The part of a version Cargo treats as compatible: the major, or the first non-zero part.
pub fn bucket(v: &Version) -> (u64, u64, u64) {
    match (v.major, v.minor) {
        (0, 0) => (0, 0, v.patch),
        (0, minor) => (0, minor, 0),
        (major, _) => (major, 0, 0),
    }
}

/// Registry and git packages of a member's graph: (name, source, version) -> links.
fn external(member: &Member) -> impl Iterator<Item = (&str, String, &Version, Option<&str>)> {
    member.linked_packages().into_iter().filter_map(|p| {
        let source = p.source.as_ref()?.repr.clone();
        Some((p.name.as_str(), source, &p.version, p.links.as_deref()))
    })
}

/// Every crate whose versions differ within one compatibility bucket across `members`.
pub fn conflicts(members: &[Member]) -> Vec<Conflict> {
    type Key = (String, String, (u64, u64, u64));
    let mut seen: BTreeMap<Key, BTreeMap<Version, BTreeSet<String>>> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    for m in members {
        for (name, source, version, l) in external(m) {
            seen.entry((name.to_owned(), source, bucket(version)))
                .or_default()
                .entry(version.clone())
                .or_default()
                .insert(m.name.clone());
            if let Some(l) = l {
                links.insert(name.to_owned(), l.to_owned());
            }
        }
    }
    seen.into_iter()
        .filter(|(_, versions)| versions.len() > 1)
        .map(|((name, _, _), versions)| Conflict {
            links: links.get(&name).cloned(),
            name,
            versions: versions
                .into_iter()
                .map(|(v, ms)| (v, ms.into_iter().collect()))
                .collect(),
        })
        .collect()
}

/// Packages of different identity that declare one `links` value: a native library one binary
/// cannot link twice. Per value, each package (its id) with a member that uses it.
pub fn links_collisions(members: &[Member]) -> Vec<(String, Vec<(String, Package)>)> {
    let mut by_links: BTreeMap<String, BTreeMap<String, (String, Package)>> = BTreeMap::new();
    for m in members {
        for p in m.linked_packages() {
            if let Some(l) = &p.links {
                by_links
                    .entry(l.clone())
                    .or_default()
                    .entry(identity(p))
                    .or_insert_with(|| (m.name.clone(), p.clone()));
            }
        }
    }
    by_links
        .into_iter()
        .filter(|(_, ps)| ps.len() > 1)
        .map(|(l, ps)| (l, ps.into_values().collect()))
        .collect()
}

/// A package's identity across members' graphs: its source and version, or its folder.
fn identity(p: &Package) -> String {
    match &p.source {
        Some(s) => format!("{} {} {}", p.name, p.version, s.repr),
        None => p.manifest_path.to_string(),
    }
}

/// The dependency chain from `member`'s package to the crate `name` at `version`, as
/// `member -> a -> b -> name`, for errors.
pub fn chain(member: &Member, name: &str, version: &Version) -> String {
    let Some(resolve) = member.metadata.resolve.as_ref() else {
        return format!("{} -> {name}", member.name);
    };
    let nodes: BTreeMap<_, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let package =
        |id: &cargo_metadata::PackageId| member.metadata.packages.iter().find(|p| &p.id == id);
    let start = &member.package.id;
    let mut previous: BTreeMap<&cargo_metadata::PackageId, &cargo_metadata::PackageId> =
        BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut visited = BTreeSet::from([start]);
    while let Some(id) = queue.pop_front() {
        if package(id).is_some_and(|p| p.name == name && &p.version == version) {
            let mut path = vec![id];
            let mut at = id;
            while let Some(prev) = previous.get(at) {
                path.push(prev);
                at = prev;
            }
            path.reverse();
            return path
                .iter()
                .filter_map(|id| package(id))
                .map(|p| format!("{} {}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(" -> ");
        }
        for dep in nodes.get(id).map(|n| n.deps.as_slice()).unwrap_or_default() {
            if visited.insert(&dep.pkg) {
                previous.insert(&dep.pkg, id);
                queue.push_back(&dep.pkg);
            }
        }
    }
    format!("{} -> ... -> {name} {version}", member.name)
}

/// The seed of the merged `Cargo.lock`: the union of the members' registry and git packages
/// (their lockfiles' entries, checksums included), sorted. Cargo adds the local packages and
/// settles what the union leaves open on the first build.
pub fn seed(members: &[Member]) -> String {
    type Key = (String, Version, String);
    let mut packages: BTreeMap<Key, (Option<String>, BTreeSet<String>)> = BTreeMap::new();
    for m in members {
        let lock = m.metadata.workspace_root.join("Cargo.lock");
        let Ok(text) = std::fs::read_to_string(&lock) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
            continue;
        };
        let Some(list) = doc.get("package").and_then(|p| p.as_array_of_tables()) else {
            continue;
        };
        // In one lockfile a bare name means its only version; in the union it may not.
        let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in list.iter() {
            if let (Some(n), Some(v)) = (
                p.get("name").and_then(|v| v.as_str()),
                p.get("version").and_then(|v| v.as_str()),
            ) {
                versions.entry(n).or_default().push(v);
            }
        }
        for p in list.iter() {
            let (Some(name), Some(version), Some(source)) = (
                p.get("name").and_then(|v| v.as_str()),
                p.get("version")
                    .and_then(|v| v.as_str())
                    .and_then(|v| Version::parse(v).ok()),
                p.get("source").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            let checksum = p
                .get("checksum")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let deps = p
                .get("dependencies")
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .map(|d| match versions.get(d).map(Vec::as_slice) {
                    Some([only]) if !d.contains(' ') => format!("{d} {only}"),
                    _ => d.to_owned(),
                });
            let entry = packages
                .entry((name.to_owned(), version, source.to_owned()))
                .or_default();
            entry.0 = entry.0.take().or(checksum);
            entry.1.extend(deps);
        }
    }
    let mut out = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\n\
         # Seeded by cargo merge from the members' lockfiles.\nversion = 4\n",
    );
    for ((name, version, source), (checksum, deps)) in packages {
        out.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"{source}\"\n"
        ));
        if let Some(c) = checksum {
            out.push_str(&format!("checksum = \"{c}\"\n"));
        }
        if !deps.is_empty() {
            out.push_str("dependencies = [\n");
            for d in deps {
                out.push_str(&format!(" \"{d}\",\n"));
            }
            out.push_str("]\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_buckets_follow_cargo() {
        let v = |s: &str| Version::parse(s).expect("version");
        assert_eq!(bucket(&v("1.0.15")), bucket(&v("1.9.0")));
        assert_ne!(bucket(&v("1.0.15")), bucket(&v("2.0.0")));
        assert_eq!(bucket(&v("0.4.2")), bucket(&v("0.4.3")));
        assert_ne!(bucket(&v("0.4.2")), bucket(&v("0.5.0")));
        assert_ne!(bucket(&v("0.0.1")), bucket(&v("0.0.2")));
    }
}
