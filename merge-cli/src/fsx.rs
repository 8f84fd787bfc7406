//! File writes: atomic (a temporary file in the same folder, then a rename), and skipped when
//! the content is already there, so that mtimes only move when something changed.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to `path`; returns whether the file changed.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> anyhow::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create folder `{}`", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("failed to write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::write_if_changed;

    #[test]
    fn writes_once_and_skips_unchanged_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/plan.toml");
        assert!(write_if_changed(&path, b"a = 1\n").expect("first write"));
        let mtime = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(!write_if_changed(&path, b"a = 1\n").expect("same content"));
        let again = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(mtime, again);
        assert!(write_if_changed(&path, b"a = 2\n").expect("new content"));
        assert_eq!(std::fs::read(&path).expect("read"), b"a = 2\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("plan.toml")],
            "no temporary left"
        );
    }
}
