//! `unsupported-tonic`: a member whose own code depends on a tonic the in-process rewrite does
//! not emit code for (`merge_rewrite::KNOWN_TONIC`). Its generated code would not compile once
//! rewritten, so it is an error, before anything compiles; `--allow unsupported-tonic` lets
//! build leave that member's generated code as it is (its calls stay on the network).

use super::manifest::manifest_line;
use crate::check::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::Member;

/// The tonic versions `m`'s own code depends on (what its generated code is for: a tonic a
/// library of its pulls in, opentelemetry's exporter say, is not rewritten) that the rewrite
/// does not know.
fn unknown_tonic(m: &Member) -> Vec<cargo_metadata::semver::Version> {
    let tonics: Vec<&cargo_metadata::Package> = m
        .linked_packages()
        .into_iter()
        .filter(|p| p.name == "tonic" && p.source.is_some())
        .collect();
    let mut out: Vec<cargo_metadata::semver::Version> = m
        .local_packages()
        .flat_map(|p| p.dependencies.iter())
        .filter(|d| d.name == "tonic" && d.kind != cargo_metadata::DependencyKind::Development)
        .filter_map(|d| tonics.iter().find(|t| d.req.matches(&t.version)))
        .filter(|t| !merge_rewrite::knows_tonic(t.version.major, t.version.minor))
        .map(|t| t.version.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `unsupported-tonic` for each member on an unknown tonic, at its manifest's `tonic` line.
pub(super) fn unsupported(group: &str, members: &[Member], out: &mut Vec<Finding>) {
    for m in members {
        for version in unknown_tonic(m) {
            out.push(finding_at(
                group,
                Some(m),
                CheckCode::UnsupportedTonic,
                Severity::Error,
                manifest_line(m, "tonic"),
                format!(
                    "`{}` uses tonic {version}, which the in-process rewrite does not know (it knows {})",
                    m.name,
                    merge_rewrite::known_tonic()
                ),
                &format!(
                    "move the member to a known tonic, or pass --allow {}: build then leaves its generated code as it is and its calls stay on the network",
                    CheckCode::UnsupportedTonic
                ),
            ));
        }
    }
}
