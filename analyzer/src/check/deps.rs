//! The findings read from the members' dependency graphs (each member's own resolve, read by
//! `cargo metadata --locked`, so its own Cargo.lock) and manifests:
//!
//! - `links-conflict` (error): packages of different identity declare one `links` value, a
//!   native library one binary cannot link twice.
//! - `exact-pin-conflict`, `version-drift`: members lock different semver-compatible versions
//!   of a crate (pinned with `=x.y.z`, or not): a note under isolation `exact` (build vendors
//!   the other version), an error for a pin and a warning otherwise under `unify`, an error
//!   under `strict`.
//! - `feature-drift` (note): a crate the merged build holds once for several members (one
//!   name, source and version under `exact` and `strict`; one compatibility bucket under
//!   `unify`) is compiled with the union of their features, so a member whose own resolve
//!   enables fewer gets the rest. One note per (member, crate) its own packages depend on
//!   directly, at the manifest line naming the crate, and one per member for the crates it
//!   links indirectly, at its `[dependencies]` line. Local packages and cargo-merge's own
//!   crates are left out.
//! - `profile-conflict`: `panic`, `opt-level` and `lto` of `[profile.dev]`, `[profile.release]`
//!   and the custom profiles (a member that does not set a key has cargo's default or what its
//!   profile inherits). One binary has one panic strategy, so a different `panic` is an error;
//!   a different `opt-level` or `lto` is a warning that names the value the merged build takes
//!   (build keeps, key by key, the first member's value in folder order). Reported at the line
//!   of every member that sets the key in that profile.
//! - `patch-conflict`: `[patch.<registry>]` entries. Members patching one crate of one registry
//!   with different sources (paths compared as absolute folders; git URL and rev, tag or branch
//!   as written) is an error at each member's patch line, since one workspace holds one patch
//!   per crate (build keeps the first member's in folder order). A patch of a crate another
//!   member links unpatched from that registry (in a version the patch can replace) is a
//!   warning at the patch's line: merged, the patch applies to that member too.
//!
//! Cargo honours `[profile]` and `[patch]` only in a workspace's root manifest, so they are read
//! from each member's `metadata.workspace_root/Cargo.toml`. Known gap: build lifts them from
//! every copied package's own manifest instead (ARCHITECTURE.md lists it), so for a member
//! inside a bigger workspace the two can differ; folder order is approximated here by the
//! order of the members' workspace root folders. Not read: `[profile.<name>.package.<spec>]`
//! and `build-override` tables, the `test` and `bench` profiles (the merged binary is not a
//! test), profiles and patches in `.cargo/config.toml` or `CARGO_PROFILE_*` variables, and
//! patches keyed by a registry's name other than crates-io (its index URL is in cargo's
//! configuration). The features are those `cargo metadata` reports, which include what the
//! member's dev-dependencies enable; a crate linked on one platform only counts everywhere (as
//! in versions.rs); and under `exact` a crate build vendors per member because one of its
//! dependencies is vendored is still counted as shared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::semver::Version;
use cargo_metadata::{DependencyKind, Node, Package, PackageId};
use toml_edit::{Document, Item, TableLike, Value};

use super::{Finding, Severity, finding_at};
use crate::members::Member;
use crate::plan::Isolation;
use crate::versions;

/// cargo-merge's own crates: a merged binary links the tool's one copy.
const TOOL_CRATES: [&str; 3] = ["merge-runtime-shim", "merge-inline-macros", "merge-rewrite"];

/// Every finding of this module for one group.
pub(super) fn dependency_findings(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    out: &mut Vec<Finding>,
) {
    version_findings(group, members, isolation, out);
    feature_drift(group, members, isolation, out);
    let roots: Vec<Option<Manifest>> = members
        .iter()
        .map(|m| {
            Manifest::read(
                &m.metadata
                    .workspace_root
                    .join("Cargo.toml")
                    .into_std_path_buf(),
            )
        })
        .collect();
    // Build merges the members' tables in the order of their folders.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| {
        let dir = roots[i].as_ref().map(|r| r.dir().to_path_buf());
        (dir, members[i].name.clone())
    });
    profile_conflicts(group, members, &roots, &order, out);
    patch_conflicts(group, members, &roots, &order, out);
}

/// `links-conflict`, `exact-pin-conflict` and `version-drift`, at the member's manifest line
/// that names the crate (or its first line).
fn version_findings(group: &str, members: &[Member], isolation: Isolation, out: &mut Vec<Finding>) {
    for (links, users) in versions::links_collisions(members) {
        for (member, p) in &users {
            let Some(m) = members.iter().find(|m| &m.name == member) else {
                continue;
            };
            let chain = versions::chain(m, &p.name, &p.version);
            out.push(finding_at(
                group,
                Some(m),
                "links-conflict",
                Severity::Error,
                manifest_line(m, &p.name),
                format!("`{member}` links the native library `{links}` through {chain}, and another member links it through another package: one binary cannot link both"),
                "align the members on one version of the crate that links it",
            ));
        }
    }
    for c in versions::conflicts(members) {
        if c.links.is_some() {
            continue;
        }
        for (version, users) in &c.versions {
            for member in users {
                let Some(m) = members.iter().find(|m| &m.name == member) else {
                    continue;
                };
                let pinned = pins_exactly(m, &c.name);
                let (code, severity, help) = match (pinned, isolation) {
                    (true, Isolation::Exact) | (false, Isolation::Exact) => (
                        if pinned {
                            "exact-pin-conflict"
                        } else {
                            "version-drift"
                        },
                        Severity::Note,
                        "isolation `exact` vendors the other version for the members that lock it; nothing to do",
                    ),
                    (true, _) => (
                        "exact-pin-conflict",
                        Severity::Error,
                        "use isolation `exact`, or align the pins: one workspace cannot hold both",
                    ),
                    (false, Isolation::Unify) => (
                        "version-drift",
                        Severity::Warning,
                        "test the member with the unified version, or use isolation `exact`",
                    ),
                    (false, Isolation::Strict) => (
                        "version-drift",
                        Severity::Error,
                        "align the members' Cargo.lock files, or use isolation `exact`",
                    ),
                };
                out.push(finding_at(
                    group,
                    Some(m),
                    code,
                    severity,
                    manifest_line(m, &c.name),
                    format!(
                        "`{member}` locks `{}` {version}; the members lock {}",
                        c.name,
                        c.describe()
                    ),
                    help,
                ));
            }
        }
    }
}

/// Whether the member's manifest requires `name` with `=x.y.z`.
fn pins_exactly(m: &Member, name: &str) -> bool {
    m.package
        .dependencies
        .iter()
        .any(|d| d.name == name && d.req.to_string().starts_with('='))
}

/// The line of the member's manifest that names `crate_name`, or nothing.
fn manifest_line<'a>(m: &'a Member, crate_name: &str) -> Option<(&'a Path, usize, usize)> {
    let text = std::fs::read_to_string(&m.manifest).ok()?;
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(crate_name) && l.contains('='))?;
    Some((m.manifest.as_path(), line + 1, 1))
}

/// A manifest as written, parsed with the byte spans of its keys.
struct Manifest {
    path: PathBuf,
    text: String,
    doc: Document<String>,
}

impl Manifest {
    fn read(path: &Path) -> Option<Manifest> {
        Manifest::parse(path, std::fs::read_to_string(path).ok()?)
    }

    fn parse(path: &Path, text: String) -> Option<Manifest> {
        let doc = Document::parse(text.clone()).ok()?;
        Some(Manifest {
            path: path.to_path_buf(),
            text,
            doc,
        })
    }

    /// The folder relative paths in the manifest start from.
    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The 1-based line and column of a byte offset.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The place of a byte offset, for `finding_at`.
    fn at(&self, offset: Option<usize>) -> Option<(&Path, usize, usize)> {
        let (line, column) = self.line_column(offset?);
        Some((self.path.as_path(), line, column))
    }
}

/// Where `key` is written in a table.
fn key_offset(table: &dyn TableLike, key: &str) -> Option<usize> {
    table.get_key_value(key)?.0.span().map(|r| r.start)
}

/// Where a dependency named `key` (its name in the manifest: the rename, if any) is written:
/// `[dependencies]`, `[build-dependencies]` or their `[target.<cfg>.…]` forms.
fn dependency_offset(doc: &Document<String>, key: &str) -> Option<usize> {
    let root = doc.as_table();
    let targets = root
        .get("target")
        .and_then(Item::as_table_like)
        .into_iter()
        .flat_map(|t| t.iter().filter_map(|(_, t)| t.as_table_like()));
    std::iter::once(root as &dyn TableLike)
        .chain(targets)
        .flat_map(|t| {
            ["dependencies", "build-dependencies", "build_dependencies"]
                .into_iter()
                .filter_map(|k| t.get(k).and_then(Item::as_table_like))
        })
        .find_map(|deps| key_offset(deps, key))
}

// ---------------------------------------------------------------------------------------------
// feature-drift

/// A crate as the merged build holds it: one package per (name, source, version) under `exact`
/// and `strict`, per (name, source, compatibility bucket) under `unify`.
type Shared = (String, String, String);

fn shared_key(p: &Package, isolation: Isolation) -> Option<Shared> {
    let source = p.source.as_ref()?.repr.clone();
    let version = match isolation {
        Isolation::Unify => {
            let (major, minor, patch) = versions::bucket(&p.version);
            format!("{major}.{minor}.{patch}")
        }
        Isolation::Exact | Isolation::Strict => p.version.to_string(),
    };
    Some((p.name.to_string(), source, version))
}

/// A registry or git crate a member links, with the features its own resolve enables.
struct Linked<'a> {
    package: &'a Package,
    features: BTreeSet<String>,
    /// The manifest of the member's package that depends on it directly, and the key it is
    /// written under there.
    direct: Option<(PathBuf, String)>,
}

fn linked_features(m: &Member, isolation: Isolation) -> BTreeMap<Shared, Linked<'_>> {
    let Some(resolve) = &m.metadata.resolve else {
        return BTreeMap::new();
    };
    let nodes: BTreeMap<&PackageId, &Node> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let linked = m.linked_packages();
    let by_id: BTreeMap<&PackageId, &Package> = linked.iter().map(|p| (&p.id, *p)).collect();
    let mut locals: Vec<&Package> = linked
        .iter()
        .copied()
        .filter(|p| p.source.is_none() && !TOOL_CRATES.contains(&p.name.as_str()))
        .collect();
    // The member's own package first: its manifest names a crate several of its packages use.
    locals.sort_by_key(|p| p.id != m.package.id);
    let mut direct: BTreeMap<&PackageId, (PathBuf, String)> = BTreeMap::new();
    for local in locals {
        for dep in nodes
            .get(&local.id)
            .map(|n| n.deps.as_slice())
            .unwrap_or_default()
        {
            let normal_or_build = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind != DependencyKind::Development);
            let Some(p) = by_id.get(&dep.pkg).filter(|_| normal_or_build) else {
                continue;
            };
            let key = local
                .dependencies
                .iter()
                .find(|d| d.name == p.name.as_str() && d.kind != DependencyKind::Development)
                .map(|d| d.rename.clone().unwrap_or_else(|| d.name.clone()))
                .unwrap_or_else(|| p.name.to_string());
            direct
                .entry(&dep.pkg)
                .or_insert_with(|| (local.manifest_path.clone().into_std_path_buf(), key));
        }
    }
    linked
        .into_iter()
        .filter(|p| !TOOL_CRATES.contains(&p.name.as_str()))
        .filter_map(|p| {
            let key = shared_key(p, isolation)?;
            let features = nodes
                .get(&p.id)
                .map(|n| n.features.iter().map(|f| f.to_string()).collect())
                .unwrap_or_default();
            let direct = direct.get(&p.id).cloned();
            Some((
                key,
                Linked {
                    package: p,
                    features,
                    direct,
                },
            ))
        })
        .collect()
}

/// The features `own` lacks that other members enable on one shared crate, each with the
/// members that enable it.
fn gained<'a>(
    own: &BTreeSet<String>,
    others: impl IntoIterator<Item = (&'a str, &'a BTreeSet<String>)>,
) -> BTreeMap<String, BTreeSet<&'a str>> {
    let mut out: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (who, features) in others {
        for f in features.difference(own) {
            out.entry(f.clone()).or_default().insert(who);
        }
    }
    out
}

/// `` `beta` `` or `` `beta`, `gamma` ``.
fn ticked<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ansi, nu-ansi-term (from `beta`) and env-filter (from `gamma`)`.
fn describe_gained(gained: &BTreeMap<String, BTreeSet<&str>>) -> String {
    let mut by_who: BTreeMap<&BTreeSet<&str>, Vec<&str>> = BTreeMap::new();
    for (feature, who) in gained {
        by_who.entry(who).or_default().push(feature);
    }
    by_who
        .into_iter()
        .map(|(who, features)| {
            format!(
                "{} (from {})",
                features.join(", "),
                ticked(who.iter().copied())
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `libc (+extra_traits), memchr (+std)`, at most `shown` crates, then how many more.
fn describe_indirect(crates: &[(String, Vec<String>)], shown: usize) -> String {
    let mut parts: Vec<String> = crates
        .iter()
        .take(shown)
        .map(|(name, features)| {
            let mut list: Vec<String> = features
                .iter()
                .take(FEATURES_SHOWN)
                .map(|f| format!("+{f}"))
                .collect();
            if features.len() > FEATURES_SHOWN {
                list.push(format!("{} more", features.len() - FEATURES_SHOWN));
            }
            format!("{name} ({})", list.join(", "))
        })
        .collect();
    if crates.len() > shown {
        parts.push(format!("and {} more", crates.len() - shown));
    }
    parts.join(", ")
}

/// How many indirect crates an aggregated `feature-drift` note lists by name, and how many
/// features of each.
const INDIRECT_SHOWN: usize = 8;
const FEATURES_SHOWN: usize = 4;

/// `feature-drift`.
fn feature_drift(group: &str, members: &[Member], isolation: Isolation, out: &mut Vec<Finding>) {
    let linked: Vec<BTreeMap<Shared, Linked<'_>>> = members
        .iter()
        .map(|m| linked_features(m, isolation))
        .collect();
    for (i, m) in members.iter().enumerate() {
        let mut indirect: Vec<(String, Vec<String>)> = Vec::new();
        let mut indirect_from: BTreeSet<&str> = BTreeSet::new();
        for (key, own) in &linked[i] {
            let others = members
                .iter()
                .zip(&linked)
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, (o, l))| l.get(key).map(|x| (o.name.as_str(), &x.features)));
            let gained = gained(&own.features, others);
            if gained.is_empty() {
                continue;
            }
            let Some((manifest, dep_key)) = &own.direct else {
                indirect.push((
                    own.package.name.to_string(),
                    gained.keys().cloned().collect(),
                ));
                indirect_from.extend(gained.values().flatten());
                continue;
            };
            let p = own.package;
            let features = if own.features.is_empty() {
                "no features".to_owned()
            } else {
                let list: Vec<&str> = own.features.iter().map(String::as_str).collect();
                format!("features {}", list.join(", "))
            };
            let manifest = Manifest::read(manifest);
            let at = manifest
                .as_ref()
                .and_then(|mf| mf.at(dependency_offset(&mf.doc, dep_key)));
            out.push(finding_at(
                group,
                Some(m),
                "feature-drift",
                Severity::Note,
                at,
                format!(
                    "`{}` builds `{}` {} with {features}; merged, it also gets {}",
                    m.name,
                    p.name,
                    p.version,
                    describe_gained(&gained)
                ),
                &format!(
                    "cargo compiles a shared crate once, with every feature its users enable: check that `{}` still behaves with these on (a feature that only adds API is harmless)",
                    m.name
                ),
            ));
        }
        if indirect.is_empty() {
            continue;
        }
        let manifest = Manifest::read(&m.manifest);
        let at = manifest.as_ref().and_then(|mf| {
            let offset = key_offset(mf.doc.as_table(), "dependencies");
            mf.at(offset)
        });
        out.push(finding_at(
            group,
            Some(m),
            "feature-drift",
            Severity::Note,
            at,
            format!(
                "`{}` links {} indirectly that the merged build compiles with more features (from {}): {}",
                m.name,
                match indirect.len() {
                    1 => "a crate".to_owned(),
                    n => format!("{n} crates"),
                },
                ticked(indirect_from.iter().copied()),
                describe_indirect(&indirect, INDIRECT_SHOWN)
            ),
            &format!(
                "cargo compiles a shared crate once, with every feature its users enable: usually harmless for crates `{}` does not call itself",
                m.name
            ),
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// profile-conflict

/// The profile keys compared: what one binary can have only one of, or what changes how a
/// member's code behaves or performs.
const PROFILE_KEYS: [&str; 3] = ["panic", "opt-level", "lto"];

/// A profile key's value: `value` normalised for comparison (`lto = true` is `"fat"`, `false`
/// and `"off"` are one), `shown` as TOML, and where the manifest sets it (none: a default).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    value: String,
    shown: String,
    at: Option<usize>,
}

/// One `[profile.<name>]` table of a manifest: what it inherits and the keys it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProfileTable {
    inherits: Option<String>,
    keys: BTreeMap<&'static str, Setting>,
}

/// A manifest's profiles by name.
type Profiles = BTreeMap<String, ProfileTable>;

fn read_profiles(doc: &Document<String>) -> Profiles {
    let Some(profiles) = doc.as_table().get("profile").and_then(Item::as_table_like) else {
        return Profiles::new();
    };
    profiles
        .iter()
        .filter_map(|(name, item)| {
            let table = item.as_table_like()?;
            let keys = PROFILE_KEYS
                .into_iter()
                .filter_map(|key| {
                    let (k, item) = table.get_key_value(key)?;
                    let (value, shown) = normalized(key, item.as_value()?)?;
                    let at = k.span().map(|r| r.start);
                    Some((key, Setting { value, shown, at }))
                })
                .collect();
            let inherits = table
                .get("inherits")
                .and_then(Item::as_str)
                .map(str::to_owned);
            Some((name.to_owned(), ProfileTable { inherits, keys }))
        })
        .collect()
}

/// A profile key's value, normalised and as TOML; nothing for a value cargo would refuse.
fn normalized(key: &str, value: &Value) -> Option<(String, String)> {
    let quoted = |s: &str| format!("\"{s}\"");
    Some(match (key, value) {
        ("panic", Value::String(s)) => (s.value().clone(), quoted(s.value())),
        ("opt-level", Value::Integer(i)) => (i.value().to_string(), i.value().to_string()),
        ("opt-level", Value::String(s)) => (s.value().clone(), quoted(s.value())),
        ("lto", Value::Boolean(b)) => {
            let value = if *b.value() { "fat" } else { "off" };
            (value.to_owned(), b.value().to_string())
        }
        ("lto", Value::String(s)) => {
            let value = match s.value().as_str() {
                "true" | "fat" => "fat",
                "false" | "off" => "off",
                other => other,
            };
            (value.to_owned(), quoted(s.value()))
        }
        _ => return None,
    })
}

/// Cargo's default of `key` in the built-in profile `profile` (`lto` off: "false", `"off"` and
/// an absent key are taken as one).
fn default_setting(profile: &str, key: &str) -> Option<Setting> {
    let release = match profile {
        "dev" => false,
        "release" => true,
        _ => return None,
    };
    let (value, shown) = match key {
        "panic" => ("unwind", "\"unwind\""),
        "opt-level" if release => ("3", "3"),
        "opt-level" => ("0", "0"),
        "lto" => ("off", "false"),
        _ => return None,
    };
    Some(Setting {
        value: value.to_owned(),
        shown: shown.to_owned(),
        at: None,
    })
}

/// The value `key` has in `profile`, and the profile table that sets it (none: cargo's
/// default). Nothing for a custom profile the manifest does not define.
fn effective(profiles: &Profiles, profile: &str, key: &str) -> Option<(Setting, Option<String>)> {
    let mut name = profile.to_owned();
    // Bounded: an inheritance cycle is cargo's error, not ours to loop on.
    for _ in 0..16 {
        if let Some(table) = profiles.get(&name) {
            if let Some(s) = table.keys.get(key) {
                return Some((s.clone(), Some(name)));
            }
            if let Some(parent) = &table.inherits {
                name = parent.clone();
                continue;
            }
        }
        match name.as_str() {
            "dev" | "release" => return default_setting(&name, key).map(|s| (s, None)),
            "test" => name = "dev".to_owned(),
            "bench" => name = "release".to_owned(),
            _ => return None,
        }
    }
    None
}

/// The profiles of the merged workspace as build makes them (key by key, the first member
/// that sets it), with the member each key comes from.
fn merged_profiles(all: &[&Profiles]) -> (Profiles, BTreeMap<(String, &'static str), usize>) {
    let mut merged = Profiles::new();
    let mut owners = BTreeMap::new();
    for (i, profiles) in all.iter().enumerate() {
        for (name, table) in profiles.iter() {
            let entry = merged.entry(name.clone()).or_default();
            if entry.inherits.is_none() {
                entry.inherits.clone_from(&table.inherits);
            }
            for (key, s) in &table.keys {
                if !entry.keys.contains_key(key) {
                    entry.keys.insert(key, s.clone());
                    owners.insert((name.clone(), *key), i);
                }
            }
        }
    }
    (merged, owners)
}

/// One `profile-conflict`: the member (an index into the input) and where it sets the key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProfileIssue {
    member: usize,
    at: Option<usize>,
    severity: Severity,
    message: String,
    help: String,
}

/// Where members' profiles disagree on a key; `names` and `all` in folder order. Each member
/// that sets the key in that profile itself, to a value another member does not have, gets
/// one issue (when none sets it there, the members whose value comes from a profile they
/// inherit from).
fn profile_issues(names: &[&str], all: &[&Profiles]) -> Vec<ProfileIssue> {
    let (merged, owners) = merged_profiles(all);
    let mut profile_names: BTreeSet<&str> = BTreeSet::from(["dev", "release"]);
    for profiles in all {
        profile_names.extend(
            profiles
                .keys()
                .map(String::as_str)
                .filter(|n| !["test", "bench"].contains(n)),
        );
    }
    let mut issues = Vec::new();
    for profile in profile_names {
        for key in PROFILE_KEYS {
            let values: Vec<(usize, Setting, Option<String>)> = all
                .iter()
                .enumerate()
                .filter_map(|(i, p)| effective(p, profile, key).map(|(s, from)| (i, s, from)))
                .collect();
            let distinct: BTreeSet<&str> =
                values.iter().map(|(_, s, _)| s.value.as_str()).collect();
            if distinct.len() < 2 {
                continue;
            }
            let Some((kept, kept_from)) = effective(&merged, profile, key) else {
                continue;
            };
            let kept_by = match kept_from.and_then(|t| owners.get(&(t, key))) {
                Some(&i) => format!(
                    "`{}`'s, the first member in folder order that sets it",
                    names[i]
                ),
                None => "cargo's default".to_owned(),
            };
            let own: Vec<&(usize, Setting, Option<String>)> = values
                .iter()
                .filter(|(_, _, from)| from.as_deref() == Some(profile))
                .collect();
            let reporters = if own.is_empty() {
                values
                    .iter()
                    .filter(|(_, _, from)| from.is_some())
                    .collect()
            } else {
                own
            };
            for (i, s, from) in reporters {
                let others: Vec<String> = values
                    .iter()
                    .filter(|(j, o, _)| j != i && o.value != s.value)
                    .map(|(j, o, from)| match from.as_deref() {
                        None => format!("`{}` has {} (cargo's default)", names[*j], o.shown),
                        Some(t) if t == profile => format!("`{}` sets {}", names[*j], o.shown),
                        Some(t) => format!("`{}` has {} from [profile.{t}]", names[*j], o.shown),
                    })
                    .collect();
                let set_in = match from.as_deref() {
                    Some(t) if t != profile => format!(" (inherited by [profile.{profile}])"),
                    _ => String::new(),
                };
                let sets = format!(
                    "`{}` sets `{key} = {}` in [profile.{}]{set_in}; {}",
                    names[*i],
                    s.shown,
                    from.as_deref().unwrap_or(profile),
                    others.join(", ")
                );
                let (severity, message, help) = if key == "panic" {
                    (
                        Severity::Error,
                        format!("{sets}: one binary has one panic strategy"),
                        format!(
                            "use one panic strategy in every member: under \"abort\" a panic in any member ends them all, an inline callee's included (under \"unwind\" it becomes `Status::internal`); `--allow profile-conflict` builds every member with {} ({kept_by})",
                            kept.shown
                        ),
                    )
                } else {
                    (
                        Severity::Warning,
                        format!(
                            "{sets}: the merged build compiles every member with {} ({kept_by})",
                            kept.shown
                        ),
                        format!(
                            "set one `{key}` in every member if one of them depends on its own (speed, size, build time)"
                        ),
                    )
                };
                issues.push(ProfileIssue {
                    member: *i,
                    at: s.at,
                    severity,
                    message,
                    help,
                });
            }
        }
    }
    issues
}

/// `profile-conflict`, from the members' workspace root manifests (`roots`, by member), in
/// folder order (`order`).
fn profile_conflicts(
    group: &str,
    members: &[Member],
    roots: &[Option<Manifest>],
    order: &[usize],
    out: &mut Vec<Finding>,
) {
    let profiles: Vec<Profiles> = roots
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|r| read_profiles(&r.doc))
                .unwrap_or_default()
        })
        .collect();
    let names: Vec<&str> = order.iter().map(|&i| members[i].name.as_str()).collect();
    let all: Vec<&Profiles> = order.iter().map(|&i| &profiles[i]).collect();
    for issue in profile_issues(&names, &all) {
        let i = order[issue.member];
        let at = roots[i].as_ref().and_then(|r| r.at(issue.at));
        out.push(finding_at(
            group,
            Some(&members[i]),
            "profile-conflict",
            issue.severity,
            at,
            issue.message,
            &issue.help,
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// patch-conflict

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
                    "patch `{krate}` with one source in every member (or drop a patch a member no longer needs); `--allow patch-conflict` builds every member with `{}`'s",
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
fn patch_conflicts(
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
            "patch-conflict",
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
                "patch-conflict",
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
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(Path::new("/ws/alpha/Cargo.toml"), text.to_owned()).expect("toml")
    }

    fn line_of(m: &Manifest, offset: Option<usize>) -> Option<(usize, usize)> {
        m.at(offset).map(|(_, l, c)| (l, c))
    }

    #[test]
    fn a_dependency_is_found_in_every_table_form() {
        let m = manifest(
            "[package]\nname = \"a\"\n\n[dependencies]\nlog = \"0.4\"\nlog-derive = \"1\"\n\n\
             [dependencies.serde]\nversion = \"1\"\n\n[target.'cfg(unix)'.build-dependencies]\n\
             cc = \"1\"\n",
        );
        assert_eq!(line_of(&m, dependency_offset(&m.doc, "log")), Some((5, 1)));
        assert_eq!(
            line_of(&m, dependency_offset(&m.doc, "log-derive")),
            Some((6, 1))
        );
        assert_eq!(
            line_of(&m, dependency_offset(&m.doc, "serde")),
            Some((8, 15))
        );
        assert_eq!(line_of(&m, dependency_offset(&m.doc, "cc")), Some((12, 1)));
        assert_eq!(dependency_offset(&m.doc, "rand"), None);
        assert_eq!(
            line_of(&m, key_offset(m.doc.as_table(), "dependencies")),
            Some((4, 2))
        );
    }

    #[test]
    fn gained_features_name_who_brings_them() {
        let set = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let own = set(&["fmt", "std"]);
        let beta = set(&["fmt", "std", "ansi", "nu-ansi-term"]);
        let gamma = set(&["fmt", "env-filter", "ansi"]);
        let g = gained(&own, [("beta", &beta), ("gamma", &gamma)]);
        assert_eq!(
            g.keys().map(String::as_str).collect::<Vec<_>>(),
            ["ansi", "env-filter", "nu-ansi-term"]
        );
        assert_eq!(
            describe_gained(&g),
            "nu-ansi-term (from `beta`) and ansi (from `beta`, `gamma`) and env-filter (from `gamma`)"
        );
        assert!(
            gained(&beta, [("alpha", &own)]).is_empty(),
            "fewer is no drift"
        );
        let crates: Vec<(String, Vec<String>)> = (0..10)
            .map(|i| (format!("c{i}"), vec!["std".to_owned(), "alloc".to_owned()]))
            .collect();
        assert_eq!(
            describe_indirect(&crates[..2], 8),
            "c0 (+std, +alloc), c1 (+std, +alloc)"
        );
        assert!(describe_indirect(&crates, 8).ends_with("c7 (+std, +alloc), and 2 more"));
        let many = [(
            "windows-sys".to_owned(),
            (1..=6).map(|i| format!("f{i}")).collect(),
        )];
        assert_eq!(
            describe_indirect(&many, 8),
            "windows-sys (+f1, +f2, +f3, +f4, 2 more)"
        );
    }

    #[test]
    fn profile_values_are_normalised_with_their_lines() {
        let m = manifest(
            "[package]\nname = \"a\"\n\n[profile.release]\npanic = \"abort\" # fast\nlto = true\n\
             opt-level = \"3\"\n\n[profile.dev]\nlto = \"off\"\nopt-level = 1\n\n\
             [profile.fast]\ninherits = \"release\"\nopt-level = \"s\"\n",
        );
        let p = read_profiles(&m.doc);
        let release = &p["release"];
        assert_eq!(release.keys["panic"].value, "abort");
        assert_eq!(release.keys["panic"].shown, "\"abort\"");
        assert_eq!(line_of(&m, release.keys["panic"].at), Some((5, 1)));
        assert_eq!(release.keys["lto"].value, "fat");
        assert_eq!(line_of(&m, release.keys["lto"].at), Some((6, 1)));
        assert_eq!(release.keys["opt-level"].value, "3");
        assert_eq!(p["dev"].keys["lto"].value, "off");
        assert_eq!(p["fast"].inherits.as_deref(), Some("release"));
        // What a profile has: its own key, what it inherits, or cargo's default.
        let value =
            |profile: &str, key: &str| effective(&p, profile, key).map(|(s, f)| (s.value, f));
        assert_eq!(
            value("fast", "opt-level"),
            Some(("s".into(), Some("fast".into())))
        );
        assert_eq!(
            value("fast", "panic"),
            Some(("abort".into(), Some("release".into())))
        );
        assert_eq!(value("dev", "panic"), Some(("unwind".into(), None)));
        assert_eq!(
            value("test", "opt-level"),
            Some(("1".into(), Some("dev".into())))
        );
        assert_eq!(value("nope", "lto"), None);
        // Dotted keys and inline tables are the same tables.
        let dotted = manifest("profile.release.panic = \"abort\"\nprofile.dev = { lto = false }\n");
        let d = read_profiles(&dotted.doc);
        assert_eq!(
            line_of(&dotted, d["release"].keys["panic"].at),
            Some((1, 17))
        );
        assert_eq!(d["dev"].keys["lto"].value, "off");
        assert_eq!(
            effective(&d, "dev", "lto").map(|(s, _)| s.value),
            effective(&Profiles::new(), "dev", "lto").map(|(s, _)| s.value),
            "`lto = false` is the default"
        );
    }

    fn profiles(text: &str) -> Profiles {
        read_profiles(&manifest(text).doc)
    }

    #[test]
    fn profiles_that_disagree_are_reported_by_who_sets_them() {
        let alpha = profiles("[profile.release]\npanic = \"abort\"\nopt-level = 2\n");
        let beta = profiles("[profile.release]\nopt-level = \"s\"\nlto = true\n");
        let issues = profile_issues(&["alpha", "beta"], &[&alpha, &beta]);
        let brief: Vec<(usize, Severity, &str)> = issues
            .iter()
            .map(|i| (i.member, i.severity, i.message.as_str()))
            .collect();
        assert_eq!(
            brief,
            [
                (
                    0,
                    Severity::Error,
                    "`alpha` sets `panic = \"abort\"` in [profile.release]; `beta` has \"unwind\" (cargo's default): one binary has one panic strategy"
                ),
                (
                    0,
                    Severity::Warning,
                    "`alpha` sets `opt-level = 2` in [profile.release]; `beta` sets \"s\": the merged build compiles every member with 2 (`alpha`'s, the first member in folder order that sets it)"
                ),
                (
                    1,
                    Severity::Warning,
                    "`beta` sets `opt-level = \"s\"` in [profile.release]; `alpha` sets 2: the merged build compiles every member with 2 (`alpha`'s, the first member in folder order that sets it)"
                ),
                (
                    1,
                    Severity::Warning,
                    "`beta` sets `lto = true` in [profile.release]; `alpha` has false (cargo's default): the merged build compiles every member with true (`beta`'s, the first member in folder order that sets it)"
                ),
            ]
        );
        assert!(
            issues[0]
                .help
                .contains("builds every member with \"abort\""),
            "{}",
            issues[0].help
        );
        // Values that only look different, and what a member does not set, agree.
        let a = profiles(
            "[profile.release]\nlto = false\nopt-level = 3\n[profile.dev]\npanic = \"unwind\"\n",
        );
        let b = profiles("[profile.release]\nlto = \"off\"\nopt-level = \"3\"\n");
        assert!(profile_issues(&["a", "b", "c"], &[&a, &b, &Profiles::new()]).is_empty());
        // A custom profile counts for the members that define it, through what it inherits.
        let a = profiles(
            "[profile.fast]\ninherits = \"release\"\n[profile.release]\npanic = \"abort\"\n",
        );
        let b = profiles("[profile.fast]\ninherits = \"release\"\npanic = \"abort\"\n");
        let issues = profile_issues(&["a", "b"], &[&a, &b]);
        assert_eq!(issues.len(), 1, "{issues:#?}");
        assert_eq!(issues[0].member, 0, "release: only `a` aborts");
    }

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
