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

#[cfg(test)]
mod tests {
    use super::normalize;
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
}
