//! `unsupported-tonic`: a member whose binary links a tonic the in-process rewrite does not
//! emit code for (`merge_rewrite::KNOWN_TONIC`). Its generated code would not compile once
//! rewritten, so it is an error, before anything compiles; `--allow unsupported-tonic` lets
//! build leave that member's generated code as it is (its calls stay on the network).

use super::manifest::manifest_line;
use crate::check::{Finding, Severity, finding_at};
use crate::members::Member;

/// The tonic versions `m`'s binary links that the rewrite does not know.
fn unknown_tonic(m: &Member) -> Vec<cargo_metadata::semver::Version> {
    m.linked_packages()
        .into_iter()
        .filter(|p| p.name == "tonic" && p.source.is_some())
        .filter(|p| !merge_rewrite::knows_tonic(p.version.major, p.version.minor))
        .map(|p| p.version.clone())
        .collect()
}

/// `unsupported-tonic` for each member on an unknown tonic, at its manifest's `tonic` line.
pub(super) fn unsupported(group: &str, members: &[Member], out: &mut Vec<Finding>) {
    for m in members {
        for version in unknown_tonic(m) {
            out.push(finding_at(
                group,
                Some(m),
                "unsupported-tonic",
                Severity::Error,
                manifest_line(m, "tonic"),
                format!(
                    "`{}` uses tonic {version}, which the in-process rewrite does not know (it knows {})",
                    m.name,
                    merge_rewrite::known_tonic()
                ),
                "move the member to a known tonic, or pass --allow unsupported-tonic: build then leaves its generated code as it is and its calls stay on the network",
            ));
        }
    }
}
