//! `merge.lock`, beside the plan: per member of every group built, what it was built from (its
//! source folder or git repository and pin, package version, git commit, hashes of its plan
//! entry, Cargo.lock and .proto files) and the isolation decisions taken. Deterministic
//! (sorted, no timestamps), so an unchanged build writes the same bytes; `cargo merge status`
//! reads it back (`merge_analyzer::lock`, where the records' types and the readers live) and
//! compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use merge_analyzer::lock::{self, Key, LockError, ProtoHash, Record, VERSION};
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
) -> Result<String, LockError> {
    let built: BTreeSet<&str> = groups.iter().map(|(g, _)| g.name.as_str()).collect();
    let mut records: BTreeMap<Key, toml_edit::Table> = BTreeMap::new();
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
                member_table(&record_of(&cx, m, decisions)),
            );
        }
    }
    // The other groups' records, as they were (keys this version does not know included).
    if let Some(previous) = previous {
        for (key, table) in lock::records_not_built(previous, &built)? {
            records.entry(key).or_insert(table);
        }
    }
    Ok(write(records.into_values()))
}

/// merge.lock's text: a header, the version, then each record as a `[[member]]` table.
fn write(records: impl IntoIterator<Item = toml_edit::Table>) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    doc.insert("version", toml_edit::value(i64::from(VERSION)));
    let mut members = toml_edit::ArrayOfTables::new();
    for table in records {
        members.push(table);
    }
    doc.insert("member", toml_edit::Item::ArrayOfTables(members));
    format!(
        "# merge.lock: written by `cargo merge build`; do not edit.\n\
         # What each merged binary was built from, member by member.\n{doc}"
    )
}

/// A record as merge.lock's `[[member]]` table, serialized by serde (toml). merge.lock spells
/// it as it always has: keys in kebab-case (the record's fields are snake_case for the release
/// manifest's JSON), `git-dirty` only when true and `proto` only when there is one, `proto`
/// before `decisions` (toml writes lists of tables last), lists one item per line, and a blank
/// line before the table.
fn member_table(record: &Record) -> toml_edit::Table {
    let text = toml::to_string(record).expect("a record serializes as TOML");
    let doc: toml_edit::DocumentMut = text.parse().expect("toml writes TOML");
    let mut items: Vec<(String, toml_edit::Item)> = Vec::new();
    let mut proto = None;
    for (key, item) in doc.into_table() {
        let key = key.replace('_', "-");
        let item = match item {
            toml_edit::Item::ArrayOfTables(list) => {
                toml_edit::Item::Value(one_per_line(list.into_array()))
            }
            toml_edit::Item::Value(toml_edit::Value::Array(list)) => {
                toml_edit::Item::Value(one_per_line(list))
            }
            other => other,
        };
        let empty = item.as_array().is_some_and(toml_edit::Array::is_empty);
        match key.as_str() {
            "git-dirty" if item.as_bool() == Some(false) => {}
            "proto" if !empty => proto = Some(item),
            "proto" => {}
            _ => items.push((key, item)),
        }
    }
    let mut table = toml_edit::Table::new();
    table.decor_mut().set_prefix("\n");
    for (key, item) in items {
        if key == "decisions" {
            if let Some(proto) = proto.take() {
                table.insert("proto", proto);
            }
        }
        table.insert(&key, item);
    }
    if let Some(proto) = proto {
        table.insert("proto", proto);
    }
    table
}

fn one_per_line(mut list: toml_edit::Array) -> toml_edit::Value {
    if !list.is_empty() {
        for v in list.iter_mut() {
            v.decor_mut().set_prefix("\n    ");
            v.decor_mut().set_suffix("");
        }
        list.set_trailing_comma(true);
        list.set_trailing("\n");
    }
    toml_edit::Value::Array(list)
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

pub fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::Exact => "exact",
        Isolation::Unify => "unify",
        Isolation::Strict => "strict",
    }
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
    }

    #[test]
    fn records_are_written_in_kebab_case_and_read_back_the_same() {
        let record = |name: &str, pin: Option<&str>| Record {
            name: name.to_owned(),
            group: "shop".to_owned(),
            isolation: "exact".to_owned(),
            package: name.to_owned(),
            version: "0.1.0".to_owned(),
            source: format!("../{name}"),
            git_pin: pin.map(str::to_owned),
            git_commit: Some("c0ffee".to_owned()),
            git_dirty: pin.is_none(),
            plan: "sha256:ab".to_owned(),
            cargo_lock: Some("sha256:cd".to_owned()),
            proto: vec![ProtoHash {
                path: "proto/a \"b\".proto".to_owned(),
                sha256: "ef".to_owned(),
            }],
            decisions: if pin.is_some() {
                vec!["vendored hex 0.4.2 as hex-ns-pricing".to_owned()]
            } else {
                Vec::new()
            },
        };
        let records = [record("catalog", None), record("pricing", Some("tag v1"))];
        let text = write(records.iter().map(member_table));
        assert!(text.starts_with("# merge.lock: written by `cargo merge build`"));
        for line in [
            "version = 2\n\n[[member]]\nname = \"catalog\"\n",
            "git-commit = \"c0ffee\"\n",
            "git-dirty = true\n",
            "git-pin = \"tag v1\"\n",
            "cargo-lock = \"sha256:cd\"\n",
            "decisions = []\n",
            "decisions = [\n    \"vendored hex 0.4.2 as hex-ns-pricing\",\n]\n",
            "proto = [\n    { path = 'proto/a \"b\".proto', sha256 = \"ef\" },\n]\ndecisions = [",
            "\n\n[[member]]\nname = \"pricing\"\n",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        assert!(!text.contains('_'), "a snake_case key:\n{text}");
        assert!(!text.contains("git-dirty = false"), "{text}");
        let read = lock::read(&text).expect("reads back");
        assert_eq!(read.member, records);
        // A record without .proto files has no `proto` line; another group's record is
        // carried over as it was, a key this version does not know included.
        let mut plain = record("inventory", Some("HEAD"));
        plain.proto.clear();
        let other = "version = 2\n\n[[member]]\nname = \"x\"\ngroup = \"other\"\nfuture-key = 1\n";
        let kept = lock::records_not_built(other, &BTreeSet::from(["shop"])).expect("reads");
        let text = write(
            [member_table(&plain)]
                .into_iter()
                .chain(kept.into_iter().map(|(_, t)| t)),
        );
        assert!(!text.contains("proto"), "{text}");
        assert!(
            text.contains("\n\n[[member]]\nname = \"x\"\ngroup = \"other\"\nfuture-key = 1\n"),
            "{text}"
        );
    }
}
