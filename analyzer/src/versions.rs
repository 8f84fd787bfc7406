//! Versions across a plan's members: where their lockfiles disagree on a crate that Cargo would
//! unify (two semver-compatible versions: `1.0.15` and `1.0.19`, `0.4.2` and `0.4.3`), which
//! native libraries (`links`) two packages would both link, and the dependency chain that
//! brings a crate into a member. Only what a member's binary links counts (no dev-dependencies).
//! Shared by `check` (diagnostics) and `build` (isolation).

use std::collections::{BTreeMap, BTreeSet};

use cargo_metadata::Package;
use cargo_metadata::semver::Version;

use crate::members::Member;

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

/// Registry and git packages of a member's graph (what its binary links, or with `build` all
/// that building it compiles): (name, source, version, links).
fn external(
    member: &Member,
    build: bool,
) -> impl Iterator<Item = (&str, String, &Version, Option<&str>)> {
    member.packages(build).into_iter().filter_map(|p| {
        let source = p.source.as_ref()?.repr.clone();
        Some((p.name.as_str(), source, &p.version, p.links.as_deref()))
    })
}

/// Every crate whose versions differ within one compatibility bucket across what `members`'
/// binaries link, or that one member's build uses at a version another member's binary cannot
/// link (its build requirements exclude it): each version is then kept, by policy.
pub fn conflicts(members: &[Member]) -> Vec<Conflict> {
    classify(members).0
}

/// Crates whose versions differ within one compatibility bucket only where the members' binaries
/// do not link them, or where the one version a binary links satisfies every build requirement:
/// build-dependencies (prettyplease under tonic-build). Never vendored, never refused; the
/// merged graph holds one version of each, [`BuildOnly::picked`].
pub fn build_only(members: &[Member]) -> Vec<BuildOnly> {
    classify(members).1
}

/// [`conflicts`] and [`build_only`].
fn classify(members: &[Member]) -> (Vec<Conflict>, Vec<BuildOnly>) {
    let linked = differing(members, false);
    let keys: BTreeSet<&Key> = linked.iter().map(|(k, _)| k).collect();
    let mut picks = Vec::new();
    let mut moved = Vec::new();
    for (key, c) in differing(members, true) {
        if keys.contains(&key) {
            continue;
        }
        // The versions members' binaries link (one at most: else `linked` has it).
        let runtime: BTreeSet<Version> = members
            .iter()
            .flat_map(|m| m.linked_packages())
            .filter(|p| same_key(p, &key))
            .map(|p| p.version.clone())
            .collect();
        let picked = match runtime.iter().next() {
            None => c.versions.keys().max().cloned(),
            Some(r)
                if requirements(members, &c, true, &BTreeSet::new())
                    .iter()
                    .all(|req| req.matches(r)) =>
            {
                Some(r.clone())
            }
            Some(_) => None,
        };
        match picked {
            Some(picked) => picks.push(BuildOnly {
                conflict: c,
                picked,
            }),
            None => moved.push(c),
        }
    }
    let mut conflicts: Vec<Conflict> = linked.into_iter().map(|(_, c)| c).collect();
    conflicts.extend(moved);
    (conflicts, picks)
}

/// Whether `p` is the crate of `key` (name, source, bucket).
fn same_key(p: &Package, key: &Key) -> bool {
    p.name == key.0
        && p.source.as_ref().is_some_and(|s| s.repr == key.1)
        && bucket(&p.version) == key.2
}

/// The requirements the members' graphs (what their binaries link, or with `build` all they
/// compile) make on `c` within its bucket, but those made by crates in `moving` (which move
/// with it: serde's `serde_core = "=1.0.228"`) and by dev-dependencies.
fn requirements<'a>(
    members: &'a [Member],
    c: &Conflict,
    build: bool,
    moving: &BTreeSet<String>,
) -> Vec<&'a cargo_metadata::semver::VersionReq> {
    let mut out = Vec::new();
    for m in members {
        for p in m.packages(build) {
            if moving.contains(p.name.as_str()) {
                continue;
            }
            for d in &p.dependencies {
                if d.name == c.name
                    && d.kind != cargo_metadata::DependencyKind::Development
                    && c.versions.keys().any(|v| d.req.matches(v))
                {
                    out.push(&d.req);
                }
            }
        }
    }
    out
}

/// A crate members' build scripts use at different compatible versions (see [`build_only`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOnly {
    pub conflict: Conflict,
    /// The one version the merged graph holds.
    pub picked: Version,
}

impl BuildOnly {
    /// What the merged build does, for check's note and build's.
    pub fn describe(&self) -> String {
        let links = match &self.conflict.links {
            Some(l) => {
                format!(", and it declares `links = \"{l}\"`, which one build can hold once")
            }
            None => String::new(),
        };
        format!(
            "{}: only build scripts use it (the binary does not link it){links}; the merged build \
             compiles {} for every member",
            self.conflict.describe(),
            self.picked
        )
    }
}

/// Whether one of the versions `c` names satisfies every requirement the members' graphs make
/// on that crate within its bucket: whether Cargo can unify it (`=0.4.2` beside `0.4` can,
/// `=0.4.2` beside `=0.4.3` or `0.4.3` cannot). Requirements of crates that themselves differ
/// between the members (`conflicts`) do not count: they move with it.
pub fn unifiable(members: &[Member], c: &Conflict, conflicts: &[Conflict]) -> bool {
    let moving: BTreeSet<String> = conflicts.iter().map(|c| c.name.clone()).collect();
    let requirements = requirements(members, c, false, &moving);
    c.versions
        .keys()
        .any(|v| requirements.iter().all(|r| r.matches(v)))
}

/// Where a package of `member`'s graph requires `name` exactly (`=x.y.z`, for a version of
/// `c`'s): that package's name; not a crate in `moving` (serde pins its own serde_core and
/// moves with it), nor a dev-dependency.
pub fn pinned_by<'a>(
    member: &'a Member,
    c: &Conflict,
    moving: &BTreeSet<String>,
) -> Option<&'a str> {
    member
        .linked_packages()
        .into_iter()
        .filter(|p| !moving.contains(p.name.as_str()))
        .find(|p| {
            p.dependencies.iter().any(|d| {
                d.name == c.name
                    && d.kind != cargo_metadata::DependencyKind::Development
                    && d.req.to_string().starts_with('=')
                    && c.versions.keys().any(|v| d.req.matches(v))
            })
        })
        .map(|p| p.name.as_str())
}

type Key = (String, String, (u64, u64, u64));

/// What `exact` isolation vendors for `m` (crate::versions' `conflicts`): every version it locks
/// that is not the highest of its conflict, and every registry crate of its graph that
/// depends on one of those, up to its own packages.
pub fn vendored<'a>(
    m: &'a Member,
    conflicts: &[Conflict],
) -> BTreeSet<&'a cargo_metadata::PackageId> {
    let mut wanted = BTreeSet::new();
    for c in conflicts {
        let Some(shared) = c.versions.keys().max() else {
            continue;
        };
        for (v, ms) in &c.versions {
            if v == shared || !ms.contains(&m.name) {
                continue;
            }
            if let Some(p) = m
                .metadata
                .packages
                .iter()
                .find(|p| p.name == c.name && &p.version == v && p.source.is_some())
            {
                wanted.insert(&p.id);
            }
        }
    }
    // Up the graph: a registry crate depending on a vendored one is vendored too.
    let reverse = reverse_edges(m);
    let mut queue: Vec<&cargo_metadata::PackageId> = wanted.iter().copied().collect();
    while let Some(id) = queue.pop() {
        for parent in reverse.get(id).into_iter().flatten() {
            let Some(p) = m.metadata.packages.iter().find(|p| &p.id == *parent) else {
                continue;
            };
            if p.source.is_some() && wanted.insert(&p.id) {
                queue.push(&p.id);
            }
        }
    }
    wanted
}

/// A local package several members share that one of them needs a copy of its own of under
/// `exact`: it depends on a version vendored for that member, or on another such package.
#[derive(Debug, Clone)]
pub struct OwnCopy<'a> {
    pub member: &'a str,
    pub package: &'a Package,
    /// Why: the vendored crates and own-copied packages it depends on.
    pub needs: Vec<String>,
}

/// Every [`OwnCopy`] of `members` under `conflicts` (what `exact` vendors: [`vendored`]).
pub fn own_copies<'a>(members: &'a [Member], conflicts: &[Conflict]) -> Vec<OwnCopy<'a>> {
    let dir = |p: &Package| {
        p.manifest_path
            .parent()
            .map(|d| crate::paths::normalize(d.as_std_path()))
    };
    let mut out = Vec::new();
    for m in members {
        let wanted = vendored(m, conflicts);
        if wanted.is_empty() {
            continue;
        }
        let vendored: Vec<(&str, &Version)> = m
            .metadata
            .packages
            .iter()
            .filter(|p| wanted.contains(&p.id))
            .map(|p| (p.name.as_str(), &p.version))
            .collect();
        let shared: Vec<&Package> = m
            .local_packages()
            .filter(|p| {
                members.iter().any(|o| {
                    o.name != m.name
                        && o.local_packages()
                            .any(|q| q.manifest_path == p.manifest_path)
                })
            })
            .collect();
        // Up from the packages that depend on a vendored version, through path dependencies.
        let mut own: Vec<OwnCopy<'a>> = Vec::new();
        loop {
            let before = own.len();
            for p in &shared {
                if own.iter().any(|o| o.package.id == p.id) {
                    continue;
                }
                let needs: Vec<String> = p
                    .dependencies
                    .iter()
                    .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
                    .filter(|d| {
                        vendored
                            .iter()
                            .any(|(n, v)| *n == d.name && d.req.matches(v))
                            || d.path.as_ref().is_some_and(|path| {
                                let path = crate::paths::normalize(path.as_std_path());
                                own.iter().any(|o| dir(o.package).as_ref() == Some(&path))
                            })
                    })
                    .map(|d| d.name.clone())
                    .collect();
                if !needs.is_empty() {
                    own.push(OwnCopy {
                        member: &m.name,
                        package: p,
                        needs,
                    });
                }
            }
            if own.len() == before {
                break;
            }
        }
        out.extend(own);
    }
    out
}

fn reverse_edges(
    m: &Member,
) -> BTreeMap<&cargo_metadata::PackageId, Vec<&cargo_metadata::PackageId>> {
    let mut out: BTreeMap<&cargo_metadata::PackageId, Vec<&cargo_metadata::PackageId>> =
        BTreeMap::new();
    if let Some(resolve) = &m.metadata.resolve {
        for node in &resolve.nodes {
            for dep in &node.deps {
                let real = dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind != cargo_metadata::DependencyKind::Development);
                if real {
                    out.entry(&dep.pkg).or_default().push(&node.id);
                }
            }
        }
    }
    out
}

fn differing(members: &[Member], build: bool) -> Vec<(Key, Conflict)> {
    let mut seen: BTreeMap<Key, BTreeMap<Version, BTreeSet<String>>> = BTreeMap::new();
    // Per crate and bucket: `prettyplease` 0.2 and 0.3 declare different `links`.
    let mut links: BTreeMap<Key, String> = BTreeMap::new();
    for m in members {
        for (name, source, version, l) in external(m, build) {
            let key = (name.to_owned(), source, bucket(version));
            if let Some(l) = l {
                links.insert(key.clone(), l.to_owned());
            }
            seen.entry(key)
                .or_default()
                .entry(version.clone())
                .or_default()
                .insert(m.name.clone());
        }
    }
    seen.into_iter()
        .filter(|(_, versions)| versions.len() > 1)
        .map(|(key, versions)| {
            let c = Conflict {
                links: links.get(&key).cloned(),
                name: key.0.clone(),
                versions: versions
                    .into_iter()
                    .map(|(v, ms)| (v, ms.into_iter().collect()))
                    .collect(),
            };
            (key, c)
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
