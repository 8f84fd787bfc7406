//! `merge.lock`, beside the plan: per member of every group built, what it was built from (its
//! source folder or git repository and pin, package version, git commit, hashes of its plan
//! entry, Cargo.lock and .proto files) and the isolation decisions taken. Deterministic
//! (sorted, no timestamps), so an unchanged build writes the same bytes; `cargo merge status`
//! reads it back ([`read`]) and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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
    groups: &[(Group, Vec<Member>)],
    previous: Option<&str>,
) -> Result<String, String> {
    let built: BTreeSet<&str> = groups.iter().map(|(g, _)| g.name.as_str()).collect();
    let mut records: BTreeMap<(String, String), String> = BTreeMap::new();
    for (g, ms) in groups {
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
    for (key, text) in kept(previous, &built)? {
        records.entry(key).or_insert(text);
    }
    let mut out = String::from(
        "# merge.lock: written by `cargo merge build`; do not edit.\n\
         # What each merged binary was built from, member by member.\n\
         version = 2\n",
    );
    for text in records.into_values() {
        out.push('\n');
        out.push_str(&text);
    }
    Ok(out)
}

/// Whether `previous` (the merge.lock a build is to rewrite) can be read for the records it
/// carries over.
pub fn carried(previous: &str) -> Result<(), String> {
    kept(Some(previous), &BTreeSet::new()).map(|_| ())
}

/// A record's (group, member).
type Key = (String, String);

/// Records of groups not built now, as they were.
fn kept(previous: Option<&str>, built: &BTreeSet<&str>) -> Result<Vec<(Key, String)>, String> {
    let Some(previous) = previous else {
        return Ok(Vec::new());
    };
    let doc = previous.parse::<toml_edit::DocumentMut>().map_err(|e| {
        format!(
            "the merge.lock beside the plan does not parse ({}); fix it or remove it (a merge of two pull requests that each changed it leaves conflict markers)",
            e.message().trim()
        )
    })?;
    if doc.get("version").and_then(toml_edit::Item::as_integer) != Some(i64::from(VERSION)) {
        return Ok(Vec::new());
    }
    let Some(list) = doc.get("member").and_then(|m| m.as_array_of_tables()) else {
        return Ok(Vec::new());
    };
    Ok(list
        .iter()
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
        .collect())
}

/// What one member of a built group was built from: merge.lock's record of it, and its entry
/// in the group's `merge-manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
// merge.lock writes its keys in kebab-case, the manifest's JSON in snake_case.
#[serde(rename_all(deserialize = "kebab-case"))]
pub struct Record {
    pub name: String,
    pub group: String,
    pub isolation: String,
    pub package: String,
    pub version: String,
    /// Its package folder, relative to the plan's folder; for a git member, the repository
    /// as the plan names it.
    pub source: String,
    /// A git member's pin (`tag v1.2.0`, `rev ..`, `branch ..`, `HEAD`, `latest-tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_pin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Built with uncommitted changes in its folder.
    #[serde(default)]
    pub git_dirty: bool,
    /// `sha256:<hex>` of what the plan says of it (its entry, its group's members and the
    /// isolation policy; not `env`, which only bench reads).
    #[serde(default)]
    pub plan: String,
    /// `sha256:<hex>` of its Cargo.lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cargo_lock: Option<String>,
    #[serde(default)]
    pub proto: Vec<ProtoHash>,
    #[serde(default)]
    pub decisions: Vec<String>,
}

/// A .proto file of a member, by its path relative to the member's package folder (so that
/// it does not move with a checkout).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProtoHash {
    pub path: String,
    pub sha256: String,
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

/// The version of merge.lock this cargo-merge writes and reads (2: proto paths relative to
/// the member's folder, the plan's hash, git pins).
pub const VERSION: u32 = 2;

/// merge.lock as written: its records.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Lock {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub member: Vec<Record>,
}

/// Reads merge.lock's text; an error names the line.
pub fn read(text: &str) -> Result<Lock, (Option<usize>, String)> {
    let lock: Lock = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        (line, e.message().trim().to_owned())
    })?;
    if lock.version != VERSION {
        return Err((
            None,
            format!(
                "merge.lock is of version {}, this cargo-merge reads version {VERSION}: build again to write it anew",
                lock.version
            ),
        ));
    }
    Ok(lock)
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
    fn records_of_groups_not_built_are_kept() {
        let previous = "version = 2\n\n[[member]]\nname = \"a\"\ngroup = \"one\"\ndecisions = []\n\n\
                        [[member]]\nname = \"b\"\ngroup = \"two\"\ndecisions = []\n";
        let built = BTreeSet::from(["two"]);
        let kept = kept(Some(previous), &built).expect("parses");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, ("one".to_owned(), "a".to_owned()));
        assert!(
            kept[0].1.starts_with("[[member]]\nname = \"a\""),
            "{}",
            kept[0].1
        );
    }

    #[test]
    fn an_older_lock_keeps_nothing_and_a_broken_one_is_an_error() {
        let built = BTreeSet::from(["two"]);
        let old = "version = 1\n\n[[member]]\nname = \"a\"\ngroup = \"one\"\n";
        assert_eq!(kept(Some(old), &built), Ok(Vec::new()));
        let conflicted = "version = 2\n<<<<<<< HEAD\n[[member]]\n";
        assert!(kept(Some(conflicted), &built).is_err_and(|e| e.contains("does not parse")),);
        // Lines are counted from 1, also for an error at a line's start.
        let (line, _) = read("version = 2\n\n[[member]]\nname = 3\n").expect_err("bad");
        assert_eq!(line, Some(4));
        assert!(read("version = 1\n").is_err_and(|(_, e)| e.contains("build again")));
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
