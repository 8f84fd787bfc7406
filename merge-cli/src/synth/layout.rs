//! Where each member's packages go in a group's merged workspace: every local package of every
//! member (the member and its path dependencies) is copied once under `members/`, a package
//! shared by several members (a proto crate) included; a package inside another copied
//! package's folder travels with it. cargo-merge's own crates (runtime-shim and the macros)
//! are never copied: every member uses the tool's one runtime-shim.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use merge_analyzer::members::Member;

pub use merge_analyzer::members::TOOL_CRATES;

#[derive(Debug, Default)]
pub struct Layout {
    /// Copied folder (absolute, original) -> its copy, relative to the group folder.
    roots: BTreeMap<PathBuf, PathBuf>,
}

impl Layout {
    pub fn new(members: &[Member]) -> Layout {
        let mut dirs: Vec<(PathBuf, String)> = members
            .iter()
            .flat_map(|m| m.local_packages())
            .filter(|p| !TOOL_CRATES.contains(&p.name.as_str()))
            .filter_map(|p| {
                let dir = p.manifest_path.parent()?.as_std_path().to_path_buf();
                Some((normalize(&dir), p.name.to_string()))
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        let mut layout = Layout::default();
        let mut taken = BTreeMap::new();
        for (dir, name) in dirs {
            if layout.roots.keys().any(|r| dir.starts_with(r)) {
                continue; // travels inside an enclosing copied folder
            }
            let n = taken.entry(name.clone()).or_insert(0usize);
            *n += 1;
            let folder = if *n == 1 { name } else { format!("{name}-{n}") };
            layout.roots.insert(dir, Path::new("members").join(folder));
        }
        layout
    }

    /// The copy of `original` (a folder or file inside a copied package), relative to the group
    /// folder.
    pub fn copy_of(&self, original: &Path) -> Option<PathBuf> {
        let original = normalize(original);
        self.roots
            .iter()
            .find_map(|(root, copy)| original.strip_prefix(root).ok().map(|rest| copy.join(rest)))
    }
}

pub use merge_analyzer::paths::normalize;

/// `to`, relative to the folder `from` (both relative to one base, or both absolute).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    pathdiff::diff_paths(to, from).unwrap_or_else(|| to.to_path_buf())
}

/// Build output (a package's own `target/`, or any folder cargo tagged as a cache) and version
/// control folders; a source folder that happens to be named `target` is copied.
fn skipped(e: &walkdir::DirEntry) -> bool {
    if !e.file_type().is_dir() {
        return false;
    }
    let name = e.file_name();
    name == ".git"
        || (name == "target" && (e.depth() == 1 || e.path().join("CACHEDIR.TAG").exists()))
}

/// The files of a package folder to copy (relative paths, sorted), skipping build output and
/// version control folders.
pub fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !skipped(e));
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file() {
            if let Ok(rel) = entry.path().strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_and_relate() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(
            relative(
                Path::new("members/catalog"),
                Path::new("members/shop-proto")
            ),
            PathBuf::from("../shop-proto")
        );
    }
}
