//! File writes: atomic (a temporary file in the same folder, then a rename), and skipped when
//! the content is already there, so that mtimes only move when something changed.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes every `(path, contents)`; returns, per file, whether it changed. All contents are
/// written to temporary files first and renamed into place only when every one was written,
/// so a failure (a full disk, a path that is a folder) leaves none of them half-done.
pub fn write_all_if_changed(files: &[(&Path, &[u8])]) -> anyhow::Result<Vec<bool>> {
    let mut staged = Vec::new();
    for &(path, contents) in files {
        if std::fs::read(path).is_ok_and(|old| old == contents) {
            staged.push(None);
            continue;
        }
        if path.is_dir() {
            anyhow::bail!("failed to write `{}`: it is a folder", path.display());
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
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        staged.push(Some(tmp));
    }
    let mut changed = Vec::new();
    for (tmp, &(path, _)) in staged.into_iter().zip(files) {
        match tmp {
            None => changed.push(false),
            Some(tmp) => {
                tmp.persist(path)
                    .map_err(|e| e.error)
                    .with_context(|| format!("failed to write `{}`", path.display()))?;
                changed.push(true);
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::write_all_if_changed;

    #[test]
    fn writes_once_and_skips_unchanged_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/plan.toml");
        let write = |text: &[u8]| write_all_if_changed(&[(&path, text)]).expect("write")[0];
        assert!(write(b"a = 1\n"));
        let mtime = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(!write(b"a = 1\n"));
        let again = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(mtime, again);
        assert!(write(b"a = 2\n"));
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

    #[test]
    fn a_failing_file_leaves_the_others_unwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = dir.path().join("plan.toml");
        let folder = dir.path().join("a-folder");
        std::fs::create_dir(&folder).expect("mkdir");
        let err = write_all_if_changed(&[(&plan, b"x"), (&folder, b"y")]).expect_err("folder");
        assert!(format!("{err:#}").contains("is a folder"), "{err:#}");
        assert!(
            !plan.exists(),
            "the plan was written although the picture failed"
        );
    }
}
