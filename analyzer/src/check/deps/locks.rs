//! `links-conflict`, `exact-pin-conflict`, `version-drift` and `version-conflict`: what the members' lockfiles
//! disagree on (found by crate::versions), at the member's manifest line naming the crate.
//! Build-only dependencies at different versions are a note: the merged build picks one.

use super::manifest::manifest_line;
use crate::check::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::Member;
use crate::plan::Isolation;
use crate::versions;

/// `links-conflict`, `exact-pin-conflict` and `version-drift`, at the member's manifest line
/// that names the crate (or its first line).
pub(super) fn version_findings(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    out: &mut Vec<Finding>,
) {
    for (links, users) in versions::links_collisions(members) {
        for (member, p) in &users {
            let Some(m) = members.iter().find(|m| &m.name == member) else {
                continue;
            };
            let chain = versions::chain(m, &p.name, &p.version);
            out.push(finding_at(
                group,
                Some(m),
                CheckCode::LinksConflict,
                Severity::Error,
                manifest_line(m, &p.name),
                format!("`{member}` links the native library `{links}` through {chain}, and another member links it through another package: one binary cannot link both"),
                "align the members on one version of the crate that links it",
            ));
        }
    }
    for b in versions::build_only(members) {
        for users in b.conflict.versions.values() {
            for member in users {
                let Some(m) = members.iter().find(|m| &m.name == member) else {
                    continue;
                };
                out.push(finding_at(
                    group,
                    Some(m),
                    CheckCode::VersionDrift,
                    Severity::Note,
                    manifest_line(m, &b.conflict.name),
                    format!("`{member}`'s build uses {}", b.describe()),
                    "nothing to do: a build-only dependency is neither vendored nor refused",
                ));
            }
        }
    }
    let conflicts = versions::conflicts(members);
    if isolation == Isolation::Exact {
        for own in versions::own_copies(members, &conflicts) {
            let (package, member) = (own.package.name.as_str(), own.member);
            let Some(m) = members.iter().find(|m| m.name == member) else {
                continue;
            };
            out.push(finding_at(
                group,
                Some(m),
                CheckCode::VersionConflict,
                Severity::Note,
                manifest_line(m, package),
                format!(
                    "`{package}`, which several members share, needs its own {} for `{member}` (isolation `exact`): build gives `{member}` a copy of its own, `{package}-ns-{member}`",
                    own.needs.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                ),
                "nothing to do; align the members' Cargo.lock files on those crates to share one copy",
            ));
        }
    }
    let moving: std::collections::BTreeSet<String> =
        conflicts.iter().map(|c| c.name.clone()).collect();
    for c in &conflicts {
        if c.links.is_some() {
            continue;
        }
        // Under `unify`, Cargo either finds one version for all (the others drift to it) or
        // fails: build refuses that before cargo runs.
        let unifiable = versions::unifiable(members, c, &conflicts);
        for (version, users) in &c.versions {
            for member in users {
                let Some(m) = members.iter().find(|m| &m.name == member) else {
                    continue;
                };
                let pinned = versions::pinned_by(m, c, &moving).is_some();
                let (code, severity, help) = match (pinned, isolation) {
                    (_, Isolation::Exact) => (
                        if pinned {
                            CheckCode::ExactPinConflict
                        } else {
                            CheckCode::VersionDrift
                        },
                        Severity::Note,
                        "isolation `exact` vendors the other version for the members that lock it; nothing to do",
                    ),
                    (true, Isolation::Unify) if !unifiable => (
                        CheckCode::ExactPinConflict,
                        Severity::Error,
                        "use isolation `exact`, or align the pins: no one version satisfies every member",
                    ),
                    (false, Isolation::Unify) if !unifiable => (
                        CheckCode::VersionDrift,
                        Severity::Error,
                        "use isolation `exact`, or align the requirements: no one version satisfies every member",
                    ),
                    (true, Isolation::Unify) => (
                        CheckCode::ExactPinConflict,
                        Severity::Warning,
                        "the pin holds and the other members move to it: test them with it, or use isolation `exact`",
                    ),
                    (false, Isolation::Unify) => (
                        CheckCode::VersionDrift,
                        Severity::Warning,
                        "test the member with the unified version, or use isolation `exact`",
                    ),
                    (true, Isolation::Strict) => (
                        CheckCode::ExactPinConflict,
                        Severity::Error,
                        "use isolation `exact`, or align the pins: one workspace cannot hold both",
                    ),
                    (false, Isolation::Strict) => (
                        CheckCode::VersionDrift,
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
