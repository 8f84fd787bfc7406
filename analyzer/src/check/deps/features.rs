//! `feature-drift`: a crate the merged build holds once for several members, compiled with
//! the union of their features.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cargo_metadata::{DependencyKind, Node, Package, PackageId};

use super::manifest::{Manifest, dependency_offset, key_offset};
use super::ticked;
use crate::check::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::{Member, TOOL_CRATES};
use crate::plan::Isolation;
use crate::versions;

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
    // What a build on this machine links: a crate only another platform builds (windows-sys
    // on Linux) gains no feature here.
    let linked = m.linked_packages_on(crate::host::Host::get());
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
pub(super) fn feature_drift(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    out: &mut Vec<Finding>,
) {
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
                CheckCode::FeatureDrift,
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
            CheckCode::FeatureDrift,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
