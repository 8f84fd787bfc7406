//! `merge.lock`, beside the plan: per member of every group built, what it was built from (its
//! source folder or git repository and pin, package version, git commit, hashes of its plan
//! entry, Cargo.lock and .proto files) and the isolation decisions taken. Deterministic
//! (sorted, no timestamps), so an unchanged build writes the same bytes; `cargo merge status`
//! reads it back (`merge_analyzer::lock`, where the records' types and the readers live) and
//! compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use merge_analyzer::lock::{self, ProtoHash, Record, VERSION};
use merge_analyzer::members::{Member, PlanFile};
use merge_analyzer::plan::Isolation;
use merge_analyzer::sources::Source;

use crate::synth::Group;
use crate::synth::protos::sha256;

/// The text of merge.lock for `groups` (each with its members); the records of other groups
/// in `previous` (an earlier merge.lock, when only some groups were built) are kept, unless it
/// is of an older version (those groups then read as not built). A previous merge.lock that
/// does not parse is an error: its other groups' records would be lost.
pub fn render(
    plan: &PlanFile,
    isolation: Isolation,
    sources: &[Source],
    groups: &[(&Group, &[Member])],
    previous: Option<&str>,
) -> Result<String, String> {
    let built: BTreeSet<&str> = groups.iter().map(|(g, _)| g.name.as_str()).collect();
    let mut records: BTreeMap<(String, String), String> = BTreeMap::new();
    for &(g, ms) in groups {
        let cx = Context {
            plan,
            isolation,
            group: &g.name,
            sources,
        };
        for m in ms {
            let decisions = g.decisions.get(&m.name).cloned().unwrap_or_default();
            records.insert(
                (g.name.clone(), m.name.clone()),
                record(&record_of(&cx, m, decisions)),
            );
        }
    }
    if let Some(previous) = previous {
        let kept = lock::records_not_built(previous, &built).map_err(|e| e.message)?;
        for (key, text) in kept {
            records.entry(key).or_insert(text);
        }
    }
    let mut out = format!(
        "# merge.lock: written by `cargo merge build`; do not edit.\n\
         # What each merged binary was built from, member by member.\n\
         version = {VERSION}\n",
    );
    for text in records.into_values() {
        out.push('\n');
        out.push_str(&text);
    }
    Ok(out)
}

/// What the records of one group share.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub plan: &'a PlanFile,
    pub isolation: Isolation,
    pub group: &'a str,
    pub sources: &'a [Source],
}

/// Member `m` of the group, as it is now.
pub fn record_of(cx: &Context<'_>, m: &Member, decisions: Vec<String>) -> Record {
    let source = cx.sources.iter().find(|s| s.member == m.name);
    let lock = m.metadata.workspace_root.as_std_path().join("Cargo.lock");
    Record {
        name: m.name.clone(),
        group: cx.group.to_owned(),
        isolation: isolation_name(cx.isolation).to_owned(),
        package: m.package.name.to_string(),
        version: m.package.version.to_string(),
        source: match source {
            Some(s) => s.git.clone(),
            None => relative(&cx.plan.dir, &m.root),
        },
        git_pin: source.map(|s| s.pin.describe()),
        git_commit: m.commit.clone(),
        git_dirty: m.dirty,
        plan: plan_hash(cx.plan, cx.group, &m.name),
        cargo_lock: std::fs::read(&lock)
            .ok()
            .map(|bytes| format!("sha256:{}", sha256(&bytes))),
        proto: proto_files(m)
            .into_iter()
            .map(|(path, sha256)| ProtoHash {
                path: relative(&m.root, &path),
                sha256,
            })
            .collect(),
        decisions,
    }
}

/// The hash of what the plan says of member `name` of `group` (its own `isolation`, not an
/// override on build's command line, which the record's `isolation` says).
pub fn plan_hash(plan: &PlanFile, group: &str, name: &str) -> String {
    let isolation = plan.plan.isolation;
    let mut service = plan.plan.service.get(name).cloned().unwrap_or_default();
    service.env.clear();
    let members = plan
        .plan
        .group
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.members.clone())
        .unwrap_or_default();
    let said = serde_json::json!({
        "group": group,
        "members": members,
        "isolation": isolation_name(isolation),
        "service": service,
    });
    format!("sha256:{}", sha256(said.to_string().as_bytes()))
}

/// A record as merge.lock's `[[member]]` table.
fn record(r: &Record) -> String {
    let mut out = String::from("[[member]]\n");
    out.push_str(&format!("name = {}\n", quote(&r.name)));
    out.push_str(&format!("group = {}\n", quote(&r.group)));
    out.push_str(&format!("isolation = {}\n", quote(&r.isolation)));
    out.push_str(&format!("package = {}\n", quote(&r.package)));
    out.push_str(&format!("version = {}\n", quote(&r.version)));
    out.push_str(&format!("source = {}\n", quote(&r.source)));
    if let Some(pin) = &r.git_pin {
        out.push_str(&format!("git-pin = {}\n", quote(pin)));
    }
    if let Some(commit) = &r.git_commit {
        out.push_str(&format!("git-commit = {}\n", quote(commit)));
    }
    if r.git_dirty {
        // Built with uncommitted changes in the member's folder: not reproducible from the
        // commit alone.
        out.push_str("git-dirty = true\n");
    }
    out.push_str(&format!("plan = {}\n", quote(&r.plan)));
    if let Some(lock) = &r.cargo_lock {
        out.push_str(&format!("cargo-lock = {}\n", quote(lock)));
    }
    if !r.proto.is_empty() {
        out.push_str("proto = [\n");
        for p in &r.proto {
            out.push_str(&format!(
                "    {{ path = {}, sha256 = {} }},\n",
                quote(&p.path),
                quote(&p.sha256)
            ));
        }
        out.push_str("]\n");
    }
    out.push_str("decisions = [");
    if !r.decisions.is_empty() {
        out.push('\n');
        for d in &r.decisions {
            out.push_str(&format!("    {},\n", quote(d)));
        }
    }
    out.push_str("]\n");
    out
}

pub fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::Exact => "exact",
        Isolation::Unify => "unify",
        Isolation::Strict => "strict",
    }
}

fn quote(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_owned()
}

fn relative(base: &Path, path: &Path) -> String {
    crate::synth::manifest::slash(&crate::synth::layout::relative(base, path))
}

/// `.proto` files of the member's local packages, with their hashes, sorted.
fn proto_files(m: &Member) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for p in m.local_packages() {
        let Some(dir) = p.manifest_path.parent() else {
            continue;
        };
        let dir = dir.as_std_path();
        for rel in crate::synth::layout::files(dir).unwrap_or_default() {
            if rel.extension().is_some_and(|e| e == "proto") {
                let path = dir.join(&rel);
                if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, sha256(&bytes)));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_quotes_are_stable() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(quote("a\"b"), "'a\"b'");
    }
}
