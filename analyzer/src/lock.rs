//! `merge.lock` as cargo-merge reads it back: the records of what each member of a built group
//! was built from (`cargo merge build` writes them beside the plan, merge-cli's `mergelock`
//! module). [`read`] gives `cargo merge status` the records; [`records_not_built`] gives a build
//! the records of the groups it does not build, to carry over as they were.

use std::collections::BTreeSet;

/// The version of merge.lock this cargo-merge writes and reads (2: proto paths relative to
/// the member's folder, the plan's hash, git pins).
pub const VERSION: u32 = 2;

/// merge.lock that does not read; `line` (from 1) where the reader could tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LockError {
    pub line: Option<usize>,
    pub message: String,
}

/// merge.lock as written: its records.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Lock {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub member: Vec<Record>,
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

/// Reads merge.lock's text; an error names the line.
pub fn read(text: &str) -> Result<Lock, LockError> {
    let lock: Lock = toml::from_str(text).map_err(|e| LockError {
        line: e.span().map(|s| line_at(text, s.start)),
        message: e.message().trim().to_owned(),
    })?;
    if lock.version != VERSION {
        return Err(LockError {
            line: None,
            message: format!(
                "merge.lock is of version {}, this cargo-merge reads version {VERSION}: build again to write it anew",
                lock.version
            ),
        });
    }
    Ok(lock)
}

/// A record's (group, member).
pub type Key = (String, String);

/// The records of `previous` (the merge.lock a build is to rewrite) of groups not in `built`,
/// each as its `[[member]]` table, as it was. A merge.lock of another version keeps nothing
/// (its groups then read as not built); one that does not parse is an error, since its other
/// groups' records would be lost.
pub fn records_not_built(
    previous: &str,
    built: &BTreeSet<&str>,
) -> Result<Vec<(Key, toml_edit::Table)>, LockError> {
    let doc = previous
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| LockError {
            line: e.span().map(|s| line_at(previous, s.start)),
            message: format!(
                "the merge.lock beside the plan does not parse ({}); fix it or remove it (a merge of two pull requests that each changed it leaves conflict markers)",
                e.message().trim()
            ),
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
            Some(((group.to_owned(), name.to_owned()), t.clone()))
        })
        .collect())
}

/// The line (from 1) of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_groups_not_built_are_kept() {
        let previous = "version = 2\n\n[[member]]\nname = \"a\"\ngroup = \"one\"\ndecisions = []\n\n\
                        [[member]]\nname = \"b\"\ngroup = \"two\"\ndecisions = []\n";
        let built = BTreeSet::from(["two"]);
        let kept = records_not_built(previous, &built).expect("parses");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, ("one".to_owned(), "a".to_owned()));
        assert_eq!(
            kept[0]
                .1
                .get("decisions")
                .and_then(|d| d.as_array())
                .map(|d| d.len()),
            Some(0)
        );
    }

    #[test]
    fn an_older_lock_keeps_nothing_and_a_broken_one_is_an_error_naming_the_line() {
        let built = BTreeSet::from(["two"]);
        let old = "version = 1\n\n[[member]]\nname = \"a\"\ngroup = \"one\"\n";
        assert!(records_not_built(old, &built).expect("reads").is_empty());
        let conflicted = "version = 2\n<<<<<<< HEAD\n[[member]]\n";
        let e = records_not_built(conflicted, &built).expect_err("conflict markers");
        assert!(e.message.contains("does not parse"), "{e}");
        assert_eq!(e.line, Some(2));
        // Lines are counted from 1, also for an error at a line's start.
        let e = read("version = 2\n\n[[member]]\nname = 3\n").expect_err("bad");
        assert_eq!(e.line, Some(4));
        assert!(read("version = 1\n").is_err_and(|e| e.message.contains("build again")));
    }
}
