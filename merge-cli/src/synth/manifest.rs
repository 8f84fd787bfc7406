//! Manifests of the merged workspace (toml_edit, so that what is not changed keeps its form):
//! each copied package's manifest rewritten to live in the merged workspace, the entry
//! packages of members whose binary is not their library, and the group's root manifest.
//!
//! In a copy: inherited keys take their workspace's values (inherit.rs); its own `[workspace]`,
//! `[patch]` and `[profile]` go (the last two are merged into
//! the root, conflicts reported), dev-dependencies and test, bench and example targets go (the
//! merged binary needs none of them), path dependencies point at the copies (or, for
//! cargo-merge's own crates, at the tool's one runtime-shim), and binaries are not built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use super::error::SynthError;
use super::layout::{Layout, TOOL_CRATES, normalize, relative};

/// Where cargo-merge's own crates are (absolute).
#[derive(Debug, Clone)]
pub struct ToolCrates {
    pub runtime_shim: PathBuf,
}

impl ToolCrates {
    fn path_of(&self, package: &str) -> Option<PathBuf> {
        let inline_macros = self.runtime_shim.parent()?.join("inline-macros");
        match package {
            "merge-runtime-shim" => Some(self.runtime_shim.clone()),
            "merge-inline-macros" => Some(inline_macros),
            "merge-rewrite" => Some(inline_macros.join("rewrite")),
            _ => None,
        }
    }
}

/// What a copied package is in the merged workspace.
#[derive(Debug, Clone)]
pub enum Role {
    /// A library (a member's own, or a path dependency): binaries are not built.
    Library,
    /// A package with only binaries, whose binary `bin_path` becomes its library `lib_name`.
    BinAsLib { lib_name: String, bin_path: String },
    /// A second copy of a member package whose binary `bin_path` becomes the library
    /// `lib_name` of a package `package`, depending on the member's own library.
    Entry {
        package: String,
        lib_name: String,
        bin_path: String,
        /// The member's library: its extern name, package name and copy (relative to this
        /// package's folder).
        member_lib: (String, String, PathBuf),
    },
}

/// The context of one copied manifest.
pub struct Context<'a> {
    pub layout: &'a Layout,
    pub tools: &'a ToolCrates,
    /// The original package folder (absolute).
    pub original_dir: &'a Path,
    /// The copy's folder, relative to the group folder.
    pub copy_dir: &'a Path,
}

/// What a copy's rewritten files need from its manifest.
#[derive(Debug, Default)]
pub struct Needs<'a> {
    /// merge-runtime-shim (its sources were rewritten to use it).
    pub shim: bool,
    /// merge-rewrite as a build-dependency (its build script was wrapped to rewrite what it
    /// writes: source.rs, `wrap_build_script`).
    pub rewrite_in_build: bool,
    /// merge-protos, at this path relative to the copy.
    pub merge_protos: Option<&'a Path>,
}

/// Rewrites a copied package's manifest for its `role`, with the dependencies it `needs`.
pub fn member(
    text: &str,
    cx: &Context<'_>,
    role: &Role,
    needs: &Needs<'_>,
) -> Result<String, SynthError> {
    let (needs_shim, merge_protos) = (needs.shim, needs.merge_protos);
    let mut doc: DocumentMut = text.parse()?;
    super::inherit::resolve(&mut doc, cx.original_dir)?;
    // Cargo honours them at a workspace root only: roots.rs carries the members' roots' own.
    doc.remove("profile");
    doc.remove("patch");
    for key in [
        "workspace",
        "dev-dependencies",
        "test",
        "bench",
        "example",
        "bin",
        "badges",
    ] {
        doc.remove(key);
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, t) in targets.iter_mut() {
            if let Some(t) = t.as_table_like_mut() {
                t.remove("dev-dependencies");
            }
        }
    }
    let package = doc
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .ok_or(SynthError::NoTable("[package]"))?;
    package.remove("workspace");
    package.remove("default-run");
    for auto in ["autobins", "autotests", "autobenches", "autoexamples"] {
        package.insert(auto, toml_edit::value(false));
    }
    for_each_dependency_table(&mut doc, |deps| rebase_paths(deps, cx))?;
    match role {
        Role::Library => {}
        Role::BinAsLib { lib_name, bin_path } => set_lib(&mut doc, lib_name, bin_path),
        Role::Entry {
            package,
            lib_name,
            bin_path,
            member_lib: (extern_name, member_package, path),
        } => {
            if let Some(p) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
                p.insert("name", toml_edit::value(package.as_str()));
                p.remove("links");
            }
            set_lib(&mut doc, lib_name, bin_path);
            let mut dep = InlineTable::new();
            if extern_name != member_package {
                dep.insert("package", member_package.as_str().into());
            }
            dep.insert("path", slash(path).into());
            dependencies(&mut doc).insert(extern_name, Item::Value(Value::InlineTable(dep)));
        }
    }
    if needs_shim && !depends_on(&doc, "merge-runtime-shim") {
        let mut dep = InlineTable::new();
        dep.insert("path", slash(&cx.tools.runtime_shim).into());
        dependencies(&mut doc).insert("merge-runtime-shim", Item::Value(Value::InlineTable(dep)));
    }
    if needs.rewrite_in_build {
        let path = cx
            .tools
            .path_of("merge-rewrite")
            .ok_or(SynthError::NoRewriteCrate)?;
        let mut dep = InlineTable::new();
        dep.insert("path", slash(&path).into());
        let build = doc
            .entry("build-dependencies")
            .or_insert_with(toml_edit::table)
            .as_table_like_mut()
            .ok_or_else(|| SynthError::not_table("[build-dependencies]"))?;
        build.insert("merge-rewrite", Item::Value(Value::InlineTable(dep)));
    }
    if let Some(path) = merge_protos {
        let mut dep = InlineTable::new();
        dep.insert("path", slash(path).into());
        dependencies(&mut doc).insert("merge-protos", Item::Value(Value::InlineTable(dep)));
    }
    Ok(doc.to_string())
}

fn set_lib(doc: &mut DocumentMut, name: &str, path: &str) {
    let mut lib = Table::new();
    lib.insert("name", toml_edit::value(name));
    lib.insert("path", toml_edit::value(path));
    doc.insert("lib", Item::Table(lib));
}

fn dependencies(doc: &mut DocumentMut) -> &mut dyn toml_edit::TableLike {
    if doc.get("dependencies").is_none() {
        doc.insert("dependencies", Item::Table(Table::new()));
    }
    doc.get_mut("dependencies")
        .and_then(Item::as_table_like_mut)
        .expect("just inserted")
}

fn depends_on(doc: &DocumentMut, package: &str) -> bool {
    doc.get("dependencies")
        .and_then(Item::as_table_like)
        .is_some_and(|deps| {
            deps.iter().any(|(key, dep)| {
                let name = dep
                    .as_table_like()
                    .and_then(|t| t.get("package"))
                    .and_then(Item::as_str)
                    .unwrap_or(key);
                name == package
            })
        })
}

fn for_each_dependency_table(
    doc: &mut DocumentMut,
    mut f: impl FnMut(&mut dyn toml_edit::TableLike) -> Result<(), SynthError>,
) -> Result<(), SynthError> {
    for key in ["dependencies", "build-dependencies"] {
        if let Some(t) = doc.get_mut(key).and_then(Item::as_table_like_mut) {
            f(t)?;
        }
    }
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            let Some(target) = target.as_table_like_mut() else {
                continue;
            };
            for key in ["dependencies", "build-dependencies"] {
                if let Some(t) = target.get_mut(key).and_then(Item::as_table_like_mut) {
                    f(t)?;
                }
            }
        }
    }
    Ok(())
}

/// Points every `path` dependency at its copy, or at the tool's own crate.
fn rebase_paths(deps: &mut dyn toml_edit::TableLike, cx: &Context<'_>) -> Result<(), SynthError> {
    for (key, dep) in deps.iter_mut() {
        let Some(dep) = dep.as_table_like_mut() else {
            continue;
        };
        let Some(path) = dep.get("path").and_then(Item::as_str).map(str::to_owned) else {
            continue;
        };
        let package = dep
            .get("package")
            .and_then(Item::as_str)
            .unwrap_or(key.get())
            .to_owned();
        let original = normalize(&cx.original_dir.join(&path));
        let new = if TOOL_CRATES.contains(&package.as_str()) {
            cx.tools
                .path_of(&package)
                .ok_or_else(|| SynthError::ToolCrate(package.clone()))?
        } else if let Some(copy) = cx.layout.copy_of(&original) {
            relative(cx.copy_dir, &copy)
        } else {
            original
        };
        dep.insert("path", toml_edit::value(slash(&new)));
    }
    Ok(())
}

/// A registry crate copied into the merged workspace as a path package: cargo caps the lints of
/// a registry crate (`--cap-lints allow`), not of a path package, so its warnings are allowed
/// here. Not quite the cap: a `#![deny(..)]` in the crate's own source still applies.
pub fn quiet_registry_copy(doc: &mut DocumentMut) {
    let mut rust = Table::new();
    rust.insert("warnings", toml_edit::value("allow"));
    let mut lints = Table::new();
    lints.insert("rust", Item::Table(rust));
    doc.insert("lints", Item::Table(lints));
}

/// A path as TOML wants it, with `/` separators.
pub fn slash(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// The version requirement of signal-hook, which the generated main uses to bound shutdown.
const SIGNAL_HOOK: &str = "=0.3.18";

/// The root manifest of a group's merged workspace: the workspace of every copy and the
/// package of the merged binary, which depends on every member's entry crate.
pub struct Root<'a> {
    pub group: &'a str,
    /// Workspace members, relative to the group folder.
    pub members: Vec<PathBuf>,
    /// Entry crates: (dependency key, package name, path relative to the group folder).
    pub entries: Vec<(String, String, PathBuf)>,
    pub tools: &'a ToolCrates,
    pub profile: Table,
    pub patch: Table,
}

impl Root<'_> {
    pub fn render(&self) -> String {
        let mut doc = DocumentMut::new();
        doc.decor_mut().set_prefix(format!(
            "# Generated by cargo merge: the merged workspace of group `{}`. Do not edit;\n\
             # `cargo merge build` writes it again from the plan and the members.\n",
            self.group
        ));
        let mut package = Table::new();
        package.insert("name", toml_edit::value(format!("{}-merged", self.group)));
        package.insert("version", toml_edit::value("0.0.0"));
        package.insert("edition", toml_edit::value("2021"));
        package.insert("publish", toml_edit::value(false));
        doc.insert("package", Item::Table(package));

        let mut bin = Table::new();
        bin.insert("name", toml_edit::value(self.group));
        bin.insert("path", toml_edit::value("src/main.rs"));
        let mut bins = toml_edit::ArrayOfTables::new();
        bins.push(bin);
        doc.insert("bin", Item::ArrayOfTables(bins));

        let mut deps = Table::new();
        let mut shim = InlineTable::new();
        shim.insert("path", slash(&self.tools.runtime_shim).into());
        deps.insert("merge-runtime-shim", Item::Value(Value::InlineTable(shim)));
        deps.insert("signal-hook", toml_edit::value(SIGNAL_HOOK));
        for (key, package, path) in &self.entries {
            let mut dep = InlineTable::new();
            if key != package {
                dep.insert("package", package.as_str().into());
            }
            dep.insert("path", slash(path).into());
            deps.insert(key, Item::Value(Value::InlineTable(dep)));
        }
        doc.insert("dependencies", Item::Table(deps));

        let mut workspace = Table::new();
        let mut members = toml_edit::Array::new();
        for m in &self.members {
            members.push(slash(m));
        }
        workspace.insert("members", toml_edit::value(members));
        workspace.insert("resolver", toml_edit::value("2"));
        doc.insert("workspace", Item::Table(workspace));
        if !self.profile.is_empty() {
            doc.insert("profile", Item::Table(self.profile.clone()));
        }
        if !self.patch.is_empty() {
            doc.insert("patch", Item::Table(self.patch.clone()));
        }
        doc.to_string()
    }
}

/// Merges members' `[profile]` (or `[patch]`) tables key by key; a key two members set
/// differently keeps the first member's value and is reported as `(path, kept, other)`.
pub fn merge_tables(tables: Vec<(String, Table)>) -> (Table, Vec<(String, String, String)>) {
    let mut out = Table::new();
    out.set_implicit(true);
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (member, table) in tables {
        merge_into(&mut out, &table, "", &member, &mut owner, &mut conflicts);
    }
    (out, conflicts)
}

fn merge_into(
    out: &mut Table,
    table: &Table,
    prefix: &str,
    member: &str,
    owner: &mut BTreeMap<String, String>,
    conflicts: &mut Vec<(String, String, String)>,
) {
    for (key, item) in table.iter() {
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        match (item.as_table_like(), out.get_mut(key)) {
            (Some(t), Some(Item::Table(existing))) => {
                let t: Table = t.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
                merge_into(existing, &t, &path, member, owner, conflicts);
            }
            (Some(t), None) if item.is_table() => {
                let mut fresh = Table::new();
                let t: Table = t.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
                merge_into(&mut fresh, &t, &path, member, owner, conflicts);
                out.insert(key, Item::Table(fresh));
            }
            (_, Some(existing)) => {
                let (a, b) = (existing.to_string(), item.to_string());
                if a.trim() != b.trim() {
                    let first = owner.get(&path).cloned().unwrap_or_default();
                    conflicts.push((
                        path.clone(),
                        format!("{} ({first})", a.trim()),
                        format!("{} ({member})", b.trim()),
                    ));
                }
            }
            (_, None) => {
                owner.insert(path, member.to_owned());
                out.insert(key, item.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx<'a>(layout: &'a Layout, tools: &'a ToolCrates) -> Context<'a> {
        Context {
            layout,
            tools,
            original_dir: Path::new("/src/shop/catalog"),
            copy_dir: Path::new("members/catalog"),
        }
    }

    #[test]
    fn a_copy_loses_its_workspace_dev_dependencies_and_binaries() {
        let layout = Layout::default();
        let tools = ToolCrates {
            runtime_shim: PathBuf::from("/tool/runtime-shim"),
        };
        let text = "[package]\nname = \"catalog\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
                    tokio = \"1\"\nshim = { package = \"merge-runtime-shim\", path = \"../../rs\" }\n\n\
                    [dev-dependencies]\ntempfile = \"3\"\n\n[[bin]]\nname = \"x\"\n\n\
                    [profile.release]\nlto = true\n\n[workspace]\n";
        let out = member(
            text,
            &cx(&layout, &tools),
            &Role::Library,
            &Needs {
                shim: true,
                ..Needs::default()
            },
        )
        .expect("rewrites");
        assert!(
            !out.contains("[workspace]")
                && !out.contains("dev-dependencies")
                && !out.contains("[[bin]]")
                && !out.contains("[profile"),
            "{out}"
        );
        assert!(out.contains("autobins = false"), "{out}");
        assert!(out.contains("path = \"/tool/runtime-shim\""), "{out}");
        assert!(
            !out.contains("merge-runtime-shim = "),
            "already a dependency (renamed): {out}"
        );
    }

    #[test]
    fn inherited_keys_without_a_workspace_are_refused() {
        let layout = Layout::default();
        let tools = ToolCrates {
            runtime_shim: PathBuf::from("/t"),
        };
        let text = "[package]\nname = \"a\"\nversion.workspace = true\n";
        let err = member(
            text,
            &cx(&layout, &tools),
            &Role::Library,
            &Needs::default(),
        )
        .expect_err("refused");
        assert!(matches!(err, SynthError::NoWorkspace), "{err}");
        assert!(
            err.to_string()
                .contains("no workspace manifest is found above it"),
            "{err}"
        );
    }

    #[test]
    fn profiles_merge_and_conflicts_are_reported() {
        let a: Table = "[release]\nlto = true\ncodegen-units = 1\n"
            .parse::<DocumentMut>()
            .expect("toml")
            .as_table()
            .clone();
        let b: Table = "[release]\nlto = false\n"
            .parse::<DocumentMut>()
            .expect("toml")
            .as_table()
            .clone();
        let (merged, conflicts) = merge_tables(vec![("a".into(), a), ("b".into(), b)]);
        let release = merged
            .get("release")
            .and_then(Item::as_table_like)
            .expect("release");
        assert_eq!(
            release.get("codegen-units").and_then(Item::as_integer),
            Some(1)
        );
        assert_eq!(
            release.get("lto").and_then(Item::as_bool),
            Some(true),
            "the first kept"
        );
        let mut doc = DocumentMut::new();
        doc.insert("profile", Item::Table(merged.clone()));
        assert!(doc.to_string().contains("[profile.release]"), "{doc}");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].0, "release.lto");
    }
}
