//! `links-conflict`, `exact-pin-conflict` and `version-drift`: what the members' lockfiles
//! disagree on (found by crate::versions), at the member's manifest line naming the crate.

use super::manifest::manifest_line;
use crate::check::{Finding, Severity, finding_at};
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
