//! Carries cargo-merge's own crates that a merged workspace depends on (runtime-shim,
//! inline-macros and rewrite) inside the binary: their sources as they are, and their
//! manifests made standalone (the keys and dependencies they inherit from this workspace
//! written out, path dependencies between them kept relative, tests and lints left out). An
//! installed cargo-merge writes them into its output folder; it never reads the folder it was
//! compiled in.
//!
//! Built from a packaged crate (no sibling crates), it carries nothing, and `build` asks for
//! `CARGO_MERGE_RUNTIME_SHIM` (src/tools.rs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Value};

/// The carried crates, by their folder in this repository (the layout is kept).
const CRATES: [&str; 3] = ["runtime-shim", "inline-macros", "inline-macros/rewrite"];

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = here.parent().ok_or("merge-cli has no parent folder")?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if CRATES
        .iter()
        .all(|c| root.join(c).join("Cargo.toml").is_file())
    {
        let workspace_manifest = root.join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", workspace_manifest.display());
        let workspace: DocumentMut = std::fs::read_to_string(&workspace_manifest)?.parse()?;
        for c in CRATES {
            let dir = root.join(c);
            println!(
                "cargo:rerun-if-changed={}",
                dir.join("Cargo.toml").display()
            );
            println!("cargo:rerun-if-changed={}", dir.join("src").display());
            let manifest: DocumentMut = std::fs::read_to_string(dir.join("Cargo.toml"))?.parse()?;
            let made = out.join("tools").join(c).join("Cargo.toml");
            std::fs::create_dir_all(made.parent().ok_or("no parent")?)?;
            std::fs::write(&made, standalone(manifest, &workspace, c)?.to_string())?;
            files.push((format!("{c}/Cargo.toml"), made));
            let mut sources = Vec::new();
            walk(&dir.join("src"), &mut sources)?;
            sources.sort();
            for s in sources {
                let rel = s.strip_prefix(&dir)?.to_string_lossy().replace('\\', "/");
                files.push((format!("{c}/{rel}"), s));
            }
        }
    }
    let mut code =
        String::from("/// `(path under the tools folder, bytes)` of every carried file.\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, path) in &files {
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        )?;
    }
    code.push_str("];\n");
    std::fs::write(out.join("tools.rs"), code)?;
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `manifest` (of the crate in folder `at`) with what it inherits from `workspace` written in.
fn standalone(
    mut manifest: DocumentMut,
    workspace: &DocumentMut,
    at: &str,
) -> Result<DocumentMut, Error> {
    let ws = workspace
        .get("workspace")
        .ok_or("the root manifest has no [workspace]")?;
    let package = manifest
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .ok_or("no [package]")?;
    let keys: Vec<String> = package.iter().map(|(k, _)| k.to_owned()).collect();
    for k in keys {
        if inherits(package.get(&k)) {
            let value = ws
                .get("package")
                .and_then(|p| p.get(&k))
                .and_then(Item::as_value)
                .ok_or_else(|| format!("[workspace.package] has no `{k}`"))?;
            package.insert(&k, Item::Value(value.clone()));
        }
    }
    for section in ["dev-dependencies", "lints", "test", "bench", "example"] {
        manifest.remove(section);
    }
    // A path dependency between the carried crates: the same layout, so the same relative path.
    let up = "../".repeat(at.split('/').count());
    for section in ["dependencies", "build-dependencies"] {
        let Some(deps) = manifest.get_mut(section).and_then(Item::as_table_like_mut) else {
            continue;
        };
        let names: Vec<String> = deps.iter().map(|(k, _)| k.to_owned()).collect();
        for name in names {
            let own = deps.get(&name).and_then(Item::as_table_like);
            if !inherits(deps.get(&name)) {
                continue;
            }
            let mut dep = match ws
                .get("dependencies")
                .and_then(|d| d.get(&name))
                .and_then(Item::as_value)
            {
                Some(Value::String(v)) => {
                    let mut t = InlineTable::new();
                    t.insert("version", v.value().as_str().into());
                    t
                }
                Some(Value::InlineTable(t)) => t.clone(),
                _ => return Err(format!("[workspace.dependencies] has no `{name}`").into()),
            };
            if let Some(path) = dep.get("path").and_then(Value::as_str) {
                let path = format!("{up}{path}");
                dep.insert("path", path.as_str().into());
            }
            // The crate's own `features` add to the workspace's; `optional` is its own.
            if let Some(own) = own {
                if let Some(features) = own.get("features").and_then(Item::as_array) {
                    let mut all = dep
                        .get("features")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for f in features {
                        all.push(f.clone());
                    }
                    dep.insert("features", Value::Array(all));
                }
                if let Some(optional) = own.get("optional").and_then(Item::as_value) {
                    dep.insert("optional", optional.clone());
                }
            }
            deps.insert(&name, Item::Value(Value::InlineTable(dep)));
        }
    }
    Ok(manifest)
}

/// `key.workspace = true` or `key = { workspace = true, .. }`.
fn inherits(item: Option<&Item>) -> bool {
    item.and_then(Item::as_table_like)
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}
