//! Path helpers shared by the importers and the plan.

use std::path::{Path, PathBuf};

/// Removes `.` and `..` components without touching the file system (the path may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

/// The absolute form of `path` with symlinks resolved as far as the path exists, then `.` and
/// `..` removed lexically from the part that does not exist yet.
pub fn resolve(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            out.extend(rest.iter().rev());
            return normalize(&out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return normalize(&abs),
        }
    }
}

/// `path` relative to the folder `dir`, with `/` separators (for files the user edits).
pub fn relative_to(path: &Path, dir: &Path) -> String {
    let (path, dir) = (resolve(path), resolve(dir));
    let rel = pathdiff::diff_paths(&path, &dir).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::{normalize, relative_to};
    use std::path::Path;

    #[test]
    fn dots_are_removed_lexically() {
        let n = |p: &str| normalize(Path::new(p)).display().to_string();
        assert_eq!(n("a/./b/../c"), "a/c");
        assert_eq!(n("../../x"), "../../x");
        assert_eq!(n("a/../../x"), "../x");
        assert_eq!(n("/a/../../x"), "/x");
        assert_eq!(
            n("fixtures/traffic/../shop/Cargo.toml"),
            "fixtures/shop/Cargo.toml"
        );
    }

    #[test]
    fn relative_paths_follow_symlinks_and_accept_a_bare_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("real/deep/er")).expect("mkdir");
        std::fs::create_dir_all(root.join("svc/a")).expect("mkdir");
        std::os::unix::fs::symlink(root.join("real/deep/er"), root.join("link")).expect("link");
        let manifest = root.join("svc/a/Cargo.toml");
        let rel = relative_to(&manifest, &root.join("link"));
        assert_eq!(rel, "../../../svc/a/Cargo.toml");
        // A plan written to the current folder: the empty parent of a bare file name.
        let here = std::env::current_dir().expect("cwd");
        assert_eq!(
            relative_to(&here.join("x/Cargo.toml"), Path::new("")),
            "x/Cargo.toml"
        );
    }
}
