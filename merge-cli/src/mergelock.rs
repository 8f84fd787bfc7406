//! `merge.lock`, beside the plan: per member of every group built, what it was built from (its
//! source folder, package version, git commit, hashes of its Cargo.lock and .proto files) and
//! the isolation decisions taken. Deterministic (sorted, no timestamps), so an unchanged
//! build writes the same bytes; the version-management work reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use merge_analyzer::members::Member;
use merge_analyzer::plan::Isolation;

use crate::synth::Group;
use crate::synth::protos::sha256;

/// The text of merge.lock for `groups` (each with its members); the records of other groups
/// in `previous` (an earlier merge.lock, when only some groups were built) are kept.
pub fn render(
    plan_dir: &Path,
    isolation: Isolation,
    groups: &[(Group, Vec<Member>)],
    previous: Option<&str>,
) -> String {
    let built: BTreeSet<&str> = groups.iter().map(|(g, _)| g.name.as_str()).collect();
    let mut records: BTreeMap<(String, String), String> = BTreeMap::new();
    for (group, m, g) in groups
        .iter()
        .flat_map(|(g, ms)| ms.iter().map(move |m| (g.name.as_str(), m, g)))
    {
        records.insert(
            (group.to_owned(), m.name.clone()),
            record(&record_of(plan_dir, isolation, group, m, g)),
        );
    }
    for (key, text) in kept(previous, &built) {
        records.entry(key).or_insert(text);
    }
    let mut out = String::from(
        "# merge.lock: written by `cargo merge build`; do not edit.\n\
         # What each merged binary was built from, member by member.\n\
         version = 1\n",
    );
    for text in records.into_values() {
        out.push('\n');
        out.push_str(&text);
    }
    out
}

/// Records of groups not built now, as they were.
fn kept(previous: Option<&str>, built: &BTreeSet<&str>) -> Vec<((String, String), String)> {
    let Some(doc) = previous.and_then(|p| p.parse::<toml_edit::DocumentMut>().ok()) else {
        return Vec::new();
    };
    let Some(list) = doc.get("member").and_then(|m| m.as_array_of_tables()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let group = t.get("group")?.as_str()?;
            let name = t.get("name")?.as_str()?;
            if built.contains(group) {
                return None;
            }
            let mut one = toml_edit::DocumentMut::new();
            let mut array = toml_edit::ArrayOfTables::new();
            array.push(t.clone());
            one.insert("member", toml_edit::Item::ArrayOfTables(array));
            Some((
                (group.to_owned(), name.to_owned()),
                one.to_string().trim_start().to_owned(),
            ))
        })
        .collect()
}

/// What one member of a built group was built from: merge.lock's record of it, and its entry
/// in the group's `merge-manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    pub name: String,
    pub group: String,
    pub isolation: &'static str,
    pub package: String,
    pub version: String,
    /// Its package folder, relative to the plan's folder.
    pub source: String,
    pub git_commit: Option<String>,
    /// Built with uncommitted changes in its folder.
    pub git_dirty: bool,
    /// `sha256:<hex>` of its Cargo.lock.
    pub cargo_lock: Option<String>,
    pub proto: Vec<ProtoHash>,
    pub decisions: Vec<String>,
}

/// A .proto file of a member, by its path relative to the plan's folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProtoHash {
    pub path: String,
    pub sha256: String,
}

/// Member `m` of group `group`, as built.
pub fn record_of(
    plan_dir: &Path,
    isolation: Isolation,
    group: &str,
    m: &Member,
    g: &Group,
) -> Record {
    let (git_commit, git_dirty) = match &m.commit {
        Some(c) => match c.strip_suffix("-dirty") {
            Some(sha) => (Some(sha.to_owned()), true),
            None => (Some(c.clone()), false),
        },
        None => (None, false),
    };
    let lock = m.metadata.workspace_root.as_std_path().join("Cargo.lock");
    Record {
        name: m.name.clone(),
        group: group.to_owned(),
        isolation: isolation_name(isolation),
        package: m.package.name.to_string(),
        version: m.package.version.to_string(),
        source: relative(plan_dir, &m.root),
        git_commit,
        git_dirty,
        cargo_lock: std::fs::read(&lock)
            .ok()
            .map(|bytes| format!("sha256:{}", sha256(&bytes))),
        proto: proto_files(m)
            .into_iter()
            .map(|(path, sha256)| ProtoHash {
                path: relative(plan_dir, &path),
                sha256,
            })
            .collect(),
        decisions: g.decisions.get(&m.name).cloned().unwrap_or_default(),
    }
}

/// A record as merge.lock's `[[member]]` table.
fn record(r: &Record) -> String {
    let mut out = String::from("[[member]]\n");
    out.push_str(&format!("name = {}\n", quote(&r.name)));
    out.push_str(&format!("group = {}\n", quote(&r.group)));
    out.push_str(&format!("isolation = {}\n", quote(r.isolation)));
    out.push_str(&format!("package = {}\n", quote(&r.package)));
    out.push_str(&format!("version = {}\n", quote(&r.version)));
    out.push_str(&format!("source = {}\n", quote(&r.source)));
    if let Some(commit) = &r.git_commit {
        out.push_str(&format!("git-commit = {}\n", quote(commit)));
    }
    if r.git_dirty {
        // Built with uncommitted changes in the member's folder: not reproducible from the
        // commit alone.
        out.push_str("git-dirty = true\n");
    }
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
    fn records_of_groups_not_built_are_kept() {
        let previous = "version = 1\n\n[[member]]\nname = \"a\"\ngroup = \"one\"\ndecisions = []\n\n\
                        [[member]]\nname = \"b\"\ngroup = \"two\"\ndecisions = []\n";
        let built = BTreeSet::from(["two"]);
        let kept = kept(Some(previous), &built);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, ("one".to_owned(), "a".to_owned()));
        assert!(
            kept[0].1.starts_with("[[member]]\nname = \"a\""),
            "{}",
            kept[0].1
        );
    }

    #[test]
    fn hashes_and_quotes_are_stable() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(quote("a\"b"), "'a\"b'");
    }
}
