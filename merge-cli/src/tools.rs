//! cargo-merge's own crates that a merged workspace depends on (runtime-shim, inline-macros
//! and rewrite), carried inside this binary (see build.rs) and written under the output folder
//! at this cargo-merge's exact version: an installed cargo-merge needs no source tree.

use std::path::{Path, PathBuf};

use crate::synth::manifest::ToolCrates;

mod carried {
    include!(concat!(env!("OUT_DIR"), "/tools.rs"));
}

/// Where the tool crates go: `<out>/.tools/cargo-merge-<version>/` (a hidden folder, so that
/// no group's folder can be it).
pub fn folder(out: &Path) -> PathBuf {
    out.join(".tools")
        .join(concat!("cargo-merge-", env!("CARGO_PKG_VERSION")))
}

/// Why a build has no tool crates to depend on.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// (Its message says the cause: printed as a chain, it is not said twice.)
    #[error("CARGO_MERGE_RUNTIME_SHIM names `{}`, which cannot be read ({error})", dir.display())]
    Unreadable { dir: PathBuf, error: std::io::Error },
    #[error(
        "this cargo-merge was built without its runtime-shim (from a packaged crate); set CARGO_MERGE_RUNTIME_SHIM to the folder of merge-runtime-shim's source"
    )]
    NotCarried,
}

/// Where a build takes the tool crates from, nothing written yet: the folder
/// `CARGO_MERGE_RUNTIME_SHIM` names (runtime-shim's own, with inline-macros beside it, for
/// working on them), else the carried copy under `out`.
pub fn locate(out: &Path) -> Result<Tools, ToolsError> {
    if let Some(dir) = std::env::var_os("CARGO_MERGE_RUNTIME_SHIM") {
        let dir = PathBuf::from(dir);
        let shim =
            std::fs::canonicalize(&dir).map_err(|error| ToolsError::Unreadable { dir, error })?;
        return Ok(Tools {
            crates: ToolCrates { runtime_shim: shim },
            carried: None,
        });
    }
    if carried::FILES.is_empty() {
        return Err(ToolsError::NotCarried);
    }
    let dir = folder(out);
    Ok(Tools {
        crates: ToolCrates {
            runtime_shim: dir.join("runtime-shim"),
        },
        carried: Some(dir),
    })
}

/// The tool crates of one build.
#[derive(Debug, Clone)]
pub struct Tools {
    pub crates: ToolCrates,
    /// Where the carried copy is to be written, when it is the one used.
    carried: Option<PathBuf>,
}

impl Tools {
    /// Writes the carried copy (only the files whose bytes differ, each atomically).
    pub fn write(&self) -> anyhow::Result<()> {
        let Some(dir) = &self.carried else {
            return Ok(());
        };
        let files: Vec<(PathBuf, &[u8])> = carried::FILES
            .iter()
            .map(|(rel, bytes)| (dir.join(rel), *bytes))
            .collect();
        let files: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (p.as_path(), *b)).collect();
        crate::fsx::write_all_if_changed(&files)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carried_crates_are_complete_and_standalone() {
        let names: Vec<&str> = carried::FILES.iter().map(|(rel, _)| *rel).collect();
        for needed in [
            "runtime-shim/Cargo.toml",
            "runtime-shim/src/lib.rs",
            "inline-macros/Cargo.toml",
            "inline-macros/src/lib.rs",
            "inline-macros/rewrite/Cargo.toml",
            "inline-macros/rewrite/src/lib.rs",
        ] {
            assert!(
                names.contains(&needed),
                "{needed} is not carried: {names:?}"
            );
        }
        for (rel, bytes) in carried::FILES {
            if !rel.ends_with("Cargo.toml") {
                continue;
            }
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            let doc: toml_edit::DocumentMut = text.parse().expect("TOML");
            // Nothing left to inherit, no path outside the carried crates.
            assert!(!text.contains("workspace"), "{rel}:\n{text}");
            assert!(doc.get("dev-dependencies").is_none(), "{rel}");
            assert_eq!(
                doc["package"]["version"].as_str(),
                Some(env!("CARGO_PKG_VERSION")),
                "{rel}"
            );
            for (_, dep) in doc["dependencies"].as_table_like().expect("deps").iter() {
                if let Some(path) = dep.get("path").and_then(toml_edit::Item::as_str) {
                    let target = Path::new(rel).parent().expect("folder").join(path);
                    let target = crate::synth::layout::normalize(&target);
                    assert!(
                        names.contains(&format!("{}/Cargo.toml", target.display()).as_str()),
                        "{rel}: `{path}` is not a carried crate"
                    );
                }
            }
        }
    }

    #[test]
    fn the_carried_copy_is_written_once_under_the_output_folder() {
        let out = tempfile::tempdir().expect("tempdir");
        // (No test sets CARGO_MERGE_RUNTIME_SHIM.)
        let tools = locate(out.path()).expect("carried");
        assert!(tools.crates.runtime_shim.starts_with(out.path()));
        tools.write().expect("written");
        let lib = tools.crates.runtime_shim.join("src/lib.rs");
        let first = std::fs::metadata(&lib)
            .and_then(|m| m.modified())
            .expect("mtime");
        tools.write().expect("written again");
        let second = std::fs::metadata(&lib)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(first, second, "an unchanged file is not written again");
        assert!(
            tools
                .crates
                .runtime_shim
                .parent()
                .expect("parent")
                .join("inline-macros/rewrite/Cargo.toml")
                .is_file()
        );
    }
}
