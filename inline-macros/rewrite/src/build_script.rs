//! The rewrite after a build script: a proto crate whose build.rs writes the generated code into
//! its own folder (`tonic_build::configure().out_dir("src")`) would undo, in the merged
//! workspace's copy, the rewrite made when the copy was made. cargo merge wraps such a build
//! script's `main` (only in the copy): [`snapshot`] before it, [`rewrite_changed`] after it,
//! so that what it wrote is rewritten before the crate compiles. Both run in the build script,
//! with `CARGO_MANIFEST_DIR` the copy's folder.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The Rust files of a package folder and a hash of each, before its build script runs.
#[derive(Debug, Default)]
pub struct Snapshot {
    dir: PathBuf,
    files: BTreeMap<PathBuf, u64>,
}

/// The package's Rust files as they are now (none when `CARGO_MANIFEST_DIR` is not set).
pub fn snapshot() -> Snapshot {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => snapshot_of(Path::new(&dir)),
        None => Snapshot::default(),
    }
}

/// Rewrites every Rust file the build script created or changed since `before` that is
/// prost/tonic output, as cargo merge rewrote it in the copy. A failure fails the build
/// script, with the file named.
pub fn rewrite_changed(before: &Snapshot) {
    if let Err(e) = rewrite_since(before) {
        // A build script's stderr is shown when it fails.
        let mut stderr = std::io::stderr().lock();
        let _ = std::io::Write::write_all(&mut stderr, format!("cargo merge: {e}\n").as_bytes());
        std::process::exit(1);
    }
}

/// What [`rewrite_changed`] does, its failure returned: the files rewritten.
pub fn rewrite_since(before: &Snapshot) -> Result<Vec<PathBuf>, crate::RewriteError> {
    let now = snapshot_of(&before.dir);
    let mut rewritten = Vec::new();
    for (path, hash) in &now.files {
        if before.files.get(path) == Some(hash) {
            continue;
        }
        let file = before.dir.join(path);
        let text = std::fs::read_to_string(&file).map_err(|source| crate::RewriteError::Read {
            path: file.clone(),
            source,
        })?;
        let rel = path.to_string_lossy().replace('\\', "/");
        if let Some(out) = crate::rewrite_text(&rel, &text)? {
            std::fs::write(&file, out)
                .map_err(|source| crate::RewriteError::Write { path: file, source })?;
            rewritten.push(path.clone());
        }
    }
    Ok(rewritten)
}

fn snapshot_of(dir: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.');
            match entry.file_type() {
                Ok(t) if t.is_dir() && !hidden && name != "target" => stack.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "rs") => {
                    if let (Ok(bytes), Ok(rel)) = (std::fs::read(&path), path.strip_prefix(dir)) {
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        bytes.hash(&mut h);
                        files.insert(rel.to_path_buf(), h.finish());
                    }
                }
                _ => {}
            }
        }
    }
    Snapshot {
        dir: dir.to_path_buf(),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERATED: &str = include_str!("../tests/generated/shop.pricing.rs");

    #[test]
    fn what_the_build_script_wrote_is_rewritten_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::write(src.join("lib.rs"), "pub mod pricing;\n").expect("write");
        std::fs::write(src.join("pricing.rs"), "// stale\n").expect("write");
        let before = snapshot_of(dir.path());
        // The build script regenerates pricing.rs and writes a plain file.
        std::fs::write(src.join("pricing.rs"), GENERATED).expect("write");
        std::fs::write(src.join("plain.rs"), "pub fn f() {}\n").expect("write");
        let done = rewrite_since(&before).expect("rewrites");
        assert_eq!(done, [PathBuf::from("src/pricing.rs")]);
        let text = std::fs::read_to_string(src.join("pricing.rs")).expect("read");
        assert_eq!(
            Some(text.clone()),
            crate::rewrite_text("src/pricing.rs", GENERATED).expect("rewrites")
        );
        assert!(text.contains("__merge_inline"), "{text}");
        // Run again with nothing changed since: nothing to do, and a rewritten file is left.
        let again = snapshot_of(dir.path());
        assert!(rewrite_since(&again).expect("nothing").is_empty());
        assert!(matches!(
            crate::rewrite_text("src/pricing.rs", &text),
            Ok(None)
        ));
    }
}
