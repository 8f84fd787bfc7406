//! Workspace inheritance in a copied manifest: a copy leaves its workspace, so every
//! `key.workspace = true` is replaced by the value the workspace gives (`[workspace.package]`,
//! `[workspace.dependencies]`), as Cargo itself does when it packages a crate. A path in a
//! workspace dependency is relative to the workspace root; it is made absolute here (and then
//! pointed at the copy like any other path dependency). `[lints]` is dropped from copies.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use super::error::SynthError;

/// The nearest manifest at or above `dir` with a `[workspace]` table: its folder and table.
pub fn find_workspace(dir: &Path) -> Option<(PathBuf, Table)> {
    let mut at = Some(dir);
    while let Some(d) = at {
        if let Ok(text) = std::fs::read_to_string(d.join("Cargo.toml")) {
            if let Ok(doc) = text.parse::<DocumentMut>() {
                if let Some(ws) = doc.get("workspace").and_then(Item::as_table) {
                    return Some((d.to_path_buf(), ws.clone()));
                }
            }
        }
        at = d.parent();
    }
    None
}

/// Replaces every inherited key of `doc` (a manifest in `dir`) with the workspace's value.
pub fn resolve(doc: &mut DocumentMut, dir: &Path) -> Result<(), SynthError> {
    doc.remove("lints");
    if !inherits(doc.as_table()) {
        return Ok(());
    }
    let (root, ws) = find_workspace(dir).ok_or(SynthError::NoWorkspace)?;
    let empty = Table::new();
    let package = ws.get("package").and_then(Item::as_table).unwrap_or(&empty);
    let deps = ws
        .get("dependencies")
        .and_then(Item::as_table)
        .unwrap_or(&empty);
    if let Some(p) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
        let keys: Vec<String> = p
            .iter()
            .filter(|(_, v)| is_inherited(v))
            .map(|(k, _)| k.to_owned())
            .collect();
        for key in keys {
            let value = package.get(&key).ok_or_else(|| SynthError::NotInherited {
                key: format!("package.{key}"),
                table: "package",
                name: key.clone(),
            })?;
            p.insert(&key, value.clone());
        }
    }
    for table in ["dependencies", "build-dependencies", "dev-dependencies"] {
        if let Some(t) = doc.get_mut(table).and_then(Item::as_table_like_mut) {
            inherit_dependencies(t, deps, &root, table)?;
        }
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            let Some(target) = target.as_table_like_mut() else {
                continue;
            };
            for table in ["dependencies", "build-dependencies", "dev-dependencies"] {
                if let Some(t) = target.get_mut(table).and_then(Item::as_table_like_mut) {
                    inherit_dependencies(t, deps, &root, table)?;
                }
            }
        }
    }
    Ok(())
}

fn is_inherited(item: &Item) -> bool {
    item.as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}

fn inherits(table: &Table) -> bool {
    table.iter().any(|(_, item)| {
        is_inherited(item)
            || item.as_table_like().is_some_and(|t| {
                inherits(&t.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect())
            })
    })
}

fn inherit_dependencies(
    deps: &mut dyn toml_edit::TableLike,
    workspace: &Table,
    root: &Path,
    table: &str,
) -> Result<(), SynthError> {
    for (key, dep) in deps.iter_mut() {
        if !is_inherited(dep) {
            continue;
        }
        let name = key.get().to_owned();
        let base = workspace
            .get(&name)
            .ok_or_else(|| SynthError::NotInherited {
                key: format!("{table}.{name}"),
                table: "dependencies",
                name: name.clone(),
            })?;
        let mut merged = match base {
            Item::Value(Value::String(v)) => {
                let mut t = InlineTable::new();
                t.insert("version", v.value().as_str().into());
                t
            }
            other => other
                .as_table_like()
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| Some((k, v.as_value()?.clone())))
                        .collect()
                })
                .ok_or_else(|| {
                    SynthError::not_string_or_table(format!("[workspace.dependencies] `{name}`"))
                })?,
        };
        if let Some(path) = merged.get("path").and_then(Value::as_str) {
            let absolute = crate::synth::layout::normalize(&root.join(path));
            merged.insert("path", crate::synth::manifest::slash(&absolute).into());
        }
        let own = dep
            .as_table_like()
            .expect("an inherited dependency is a table");
        // The member may add features and make it optional (Cargo's rules).
        if let Some(extra) = own.get("features").and_then(Item::as_array) {
            let mut features: Vec<String> = merged
                .get("features")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for f in extra.iter().filter_map(|v| v.as_str()) {
                if !features.iter().any(|x| x == f) {
                    features.push(f.to_owned());
                }
            }
            merged.insert("features", Value::Array(features.into_iter().collect()));
        }
        for k in [
            "optional",
            "default-features",
            "default_features",
            "package",
        ] {
            if let Some(v) = own.get(k).and_then(Item::as_value) {
                merged.insert(k, v.clone());
            }
        }
        *dep = Item::Value(Value::InlineTable(merged));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherited_keys_take_the_workspace_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"svc\"]\n\n[workspace.package]\nversion = \"1.2.3\"\nedition = \"2021\"\n\n\
             [workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt\"] }\nserde = \"1.0.200\"\n\
             common = { path = \"crates/common\" }\n",
        )
        .expect("write");
        let svc = dir.path().join("svc");
        std::fs::create_dir(&svc).expect("mkdir");
        let mut doc: DocumentMut = "[package]\nname = \"svc\"\nversion.workspace = true\nedition.workspace = true\n\n\
             [dependencies]\ntokio = { workspace = true, features = [\"net\"] }\nserde.workspace = true\n\
             common = { workspace = true, optional = true }\n\n[lints]\nworkspace = true\n"
            .parse()
            .expect("toml");
        resolve(&mut doc, &svc).expect("resolves");
        let out = doc.to_string();
        assert!(out.contains("version = \"1.2.3\""), "{out}");
        assert!(out.contains("edition = \"2021\""), "{out}");
        assert!(
            out.contains("tokio = { version = \"1\", features = [\"rt\", \"net\"] }"),
            "{out}"
        );
        assert!(out.contains("serde = { version = \"1.0.200\" }"), "{out}");
        let common = format!(
            "common = {{ path = \"{}/crates/common\", optional = true }}",
            dir.path().display()
        );
        assert!(out.contains(&common), "{out}");
        assert!(
            !out.contains("lints") && !out.contains("workspace"),
            "{out}"
        );
    }

    #[test]
    fn a_key_the_workspace_lacks_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").expect("write");
        let mut doc: DocumentMut = "[package]\nname = \"a\"\nversion.workspace = true\n"
            .parse()
            .expect("toml");
        let err = resolve(&mut doc, dir.path()).expect_err("no version");
        assert!(
            matches!(&err, SynthError::NotInherited { table: "package", name, .. } if name == "version"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("[workspace.package] has no `version`"),
            "{err}"
        );
    }
}
