//! A manifest read as written, with the byte spans of its keys, and where a dependency is
//! written in it: the places the findings of this module point at.

use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, TableLike};

use crate::members::Member;

/// A manifest as written, parsed with the byte spans of its keys.
pub(super) struct Manifest {
    path: PathBuf,
    text: String,
    pub(super) doc: Document<String>,
}

impl Manifest {
    pub(super) fn read(path: &Path) -> Option<Manifest> {
        Manifest::parse(path, std::fs::read_to_string(path).ok()?)
    }

    pub(super) fn parse(path: &Path, text: String) -> Option<Manifest> {
        let doc = Document::parse(text.clone()).ok()?;
        Some(Manifest {
            path: path.to_path_buf(),
            text,
            doc,
        })
    }

    /// The folder relative paths in the manifest start from.
    pub(super) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The 1-based line and column of a byte offset.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The place of a byte offset, for `finding_at`.
    pub(super) fn at(&self, offset: Option<usize>) -> Option<(&Path, usize, usize)> {
        let (line, column) = self.line_column(offset?);
        Some((self.path.as_path(), line, column))
    }
}

/// Where `key` is written in a table.
pub(super) fn key_offset(table: &dyn TableLike, key: &str) -> Option<usize> {
    table.get_key_value(key)?.0.span().map(|r| r.start)
}

/// Where a dependency named `key` (its name in the manifest: the rename, if any) is written:
/// `[dependencies]`, `[build-dependencies]` or their `[target.<cfg>.…]` forms.
pub(super) fn dependency_offset(doc: &Document<String>, key: &str) -> Option<usize> {
    let root = doc.as_table();
    let targets = root
        .get("target")
        .and_then(Item::as_table_like)
        .into_iter()
        .flat_map(|t| t.iter().filter_map(|(_, t)| t.as_table_like()));
    std::iter::once(root as &dyn TableLike)
        .chain(targets)
        .flat_map(|t| {
            ["dependencies", "build-dependencies", "build_dependencies"]
                .into_iter()
                .filter_map(|k| t.get(k).and_then(Item::as_table_like))
        })
        .find_map(|deps| key_offset(deps, key))
}

/// The line and column of the member's manifest that names the dependency `crate_name`, or
/// nothing.
pub(super) fn manifest_line<'a>(
    m: &'a Member,
    crate_name: &str,
) -> Option<(&'a Path, usize, usize)> {
    let text = std::fs::read_to_string(&m.manifest).ok()?;
    let (line, column) = dependency_line(&m.manifest, text, crate_name)?;
    Some((m.manifest.as_path(), line, column))
}

/// Where a manifest's `text` names the dependency `crate_name`: its key in a dependency table
/// (`dependency_offset`), else the first line that starts with the name and has a `=` (which
/// may be a longer name's, or a `[patch]` or `[dev-dependencies]` entry).
fn dependency_line(path: &Path, text: String, crate_name: &str) -> Option<(usize, usize)> {
    let spanned = Manifest::parse(path, text.clone())
        .and_then(|mf| Some(mf.line_column(dependency_offset(&mf.doc, crate_name)?)));
    spanned.or_else(|| {
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(crate_name) && l.contains('='))?;
        Some((line + 1, 1))
    })
}

/// Test helpers the other parts' tests share: a manifest at `/ws/alpha/Cargo.toml`, and the
/// line and column of an offset in it.
#[cfg(test)]
pub(super) mod fixtures {
    use std::path::Path;

    use super::Manifest;

    pub(in crate::check::deps) fn manifest(text: &str) -> Manifest {
        Manifest::parse(Path::new("/ws/alpha/Cargo.toml"), text.to_owned()).expect("toml")
    }

    pub(in crate::check::deps) fn line_of(
        m: &Manifest,
        offset: Option<usize>,
    ) -> Option<(usize, usize)> {
        m.at(offset).map(|(_, l, c)| (l, c))
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{line_of, manifest};
    use super::*;

    #[test]
    fn a_dependency_is_found_in_every_table_form() {
        let m = manifest(
            "[package]\nname = \"a\"\n\n[dependencies]\nlog = \"0.4\"\nlog-derive = \"1\"\n\n\
             [dependencies.serde]\nversion = \"1\"\n\n[target.'cfg(unix)'.build-dependencies]\n\
             cc = \"1\"\n",
        );
        assert_eq!(line_of(&m, dependency_offset(&m.doc, "log")), Some((5, 1)));
        assert_eq!(
            line_of(&m, dependency_offset(&m.doc, "log-derive")),
            Some((6, 1))
        );
        assert_eq!(
            line_of(&m, dependency_offset(&m.doc, "serde")),
            Some((8, 15))
        );
        assert_eq!(line_of(&m, dependency_offset(&m.doc, "cc")), Some((12, 1)));
        assert_eq!(dependency_offset(&m.doc, "rand"), None);
        assert_eq!(
            line_of(&m, key_offset(m.doc.as_table(), "dependencies")),
            Some((4, 2))
        );
    }

    #[test]
    fn a_crate_is_found_at_its_own_key_not_a_longer_name() {
        let text = "[package]\nname = \"a\"\n\n\
                    [dependencies]\nlog-derive = \"1\"\nlog = \"0.4\"\n\n\
                    [patch.crates-io]\nserde = { path = \"../serde\" }\n\n\
                    [dependencies.serde]\nversion = \"1\"\n\n\
                    [dev-dependencies]\nrand = \"0.8\"\n";
        let line =
            |name: &str| dependency_line(Path::new("/ws/alpha/Cargo.toml"), text.into(), name);
        assert_eq!(line("log"), Some((6, 1)), "not `log-derive` on line 5");
        assert_eq!(line("log-derive"), Some((5, 1)));
        assert_eq!(line("serde"), Some((11, 15)), "not the patch on line 9");
        // Not in a dependency table: the first line that starts with the name, as before.
        assert_eq!(line("rand"), Some((15, 1)));
        assert_eq!(line("hex"), None);
    }
}
