//! `exact` isolation: where members lock different semver-compatible versions of a crate
//! (which one Cargo workspace would unify), the highest version stays shared and every other
//! version is vendored for the members that lock it, as a namespaced package
//! (`hex-ns-ledger`, its library name kept, so the code that uses it is unchanged). Every crate
//! of that member's graph that depends on a vendored one is vendored too, up to the member,
//! and their manifests point at the vendored copies. Crates the members agree on stay shared.
//!
//! The sources come from where `cargo metadata` unpacked them (Cargo's registry source folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cargo_metadata::semver::Version;
use cargo_metadata::{DependencyKind, Package};
use merge_analyzer::members::Member;
use toml_edit::{DocumentMut, Item, Value};

use super::lock::Conflict;

use super::error::SynthError;

/// One vendored package.
#[derive(Debug, Clone)]
pub struct Vendored {
    pub member: String,
    pub name: String,
    pub version: Version,
    /// `<name>-ns-<member>`.
    pub package: String,
    /// Its library's name (unchanged).
    pub lib: String,
    /// Its copy, relative to the group folder.
    pub dir: PathBuf,
    /// Where its source is.
    pub source: PathBuf,
}

/// A dependency rewritten to a vendored package: (name, version) -> (package, copy).
pub type Redirects = BTreeMap<(String, Version), (String, PathBuf)>;

/// What vendoring decided: per member, the packages vendored for it.
#[derive(Debug, Default)]
pub struct Plan {
    pub vendored: Vec<Vendored>,
    /// Per member, its redirects (used for its local packages and its vendored ones).
    pub redirects: BTreeMap<String, Redirects>,
    /// Per member, the folders of the local packages it shares with others that it needs a
    /// copy of its own of (`merge_analyzer::versions::own_copies`).
    pub own_copies: BTreeMap<String, Vec<PathBuf>>,
}

/// Decides what to vendor for `conflicts`.
pub fn plan(members: &[Member], conflicts: &[Conflict]) -> Result<Plan, SynthError> {
    let mut out = Plan::default();
    for own in merge_analyzer::versions::own_copies(members, conflicts) {
        if let Some(dir) = own.package.manifest_path.parent() {
            out.own_copies
                .entry(own.member.to_owned())
                .or_default()
                .push(super::layout::normalize(dir.as_std_path()));
        }
    }
    for m in members {
        let wanted = merge_analyzer::versions::vendored(m, conflicts);
        if wanted.is_empty() {
            continue;
        }
        let mut redirects = Redirects::new();
        for id in wanted {
            let Some(p) = m.metadata.packages.iter().find(|p| &p.id == id) else {
                continue;
            };
            if let Some(links) = &p.links {
                return Err(SynthError::VendoredLinks {
                    name: p.name.to_string(),
                    version: p.version.to_string(),
                    member: m.name.clone(),
                    links: links.clone(),
                });
            }
            let package = format!("{}-ns-{}", p.name, m.name);
            let dir = Path::new("vendor").join(&package);
            let lib = p
                .targets
                .iter()
                .find(|t| {
                    t.is_lib()
                        || t.is_proc_macro()
                        || t.kind.iter().any(|k| k.to_string() == "rlib")
                })
                .map(|t| t.name.clone())
                .unwrap_or_else(|| p.name.replace('-', "_"));
            let source = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            redirects.insert(
                (p.name.to_string(), p.version.clone()),
                (package.clone(), dir.clone()),
            );
            out.vendored.push(Vendored {
                member: m.name.clone(),
                name: p.name.to_string(),
                version: p.version.clone(),
                package,
                lib,
                dir,
                source,
            });
        }
        out.redirects.insert(m.name.clone(), redirects);
    }
    Ok(out)
}

/// The manifest of a vendored package: renamed, its library name kept, its dependencies on
/// other vendored packages of the same member pointing at them.
pub fn manifest(
    text: &str,
    v: &Vendored,
    package: &Package,
    redirects: &Redirects,
) -> Result<String, SynthError> {
    let mut doc: DocumentMut = text.parse()?;
    let p = doc
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .ok_or(SynthError::NoTable("[package]"))?;
    p.insert("name", toml_edit::value(v.package.as_str()));
    p.remove("workspace");
    p.insert("publish", toml_edit::value(false));
    let lib = doc
        .entry("lib")
        .or_insert_with(|| Item::Table(toml_edit::Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| SynthError::not_table("[lib]"))?;
    lib.insert("name", toml_edit::value(v.lib.as_str()));
    // A workspace member's `[profile]` is ignored (cargo warns): the root's rules.
    for key in ["dev-dependencies", "workspace", "profile"] {
        doc.remove(key);
    }
    redirect(&mut doc, package, redirects, &v.dir)?;
    super::manifest::quiet_registry_copy(&mut doc);
    Ok(doc.to_string())
}

/// Points `package`'s dependencies that resolve to a vendored version at the vendored copy
/// (a path relative to `from`, the manifest's folder inside the group).
pub fn redirect(
    doc: &mut DocumentMut,
    package: &Package,
    redirects: &Redirects,
    from: &Path,
) -> Result<(), SynthError> {
    for dep in &package.dependencies {
        if dep.kind == DependencyKind::Development {
            continue;
        }
        let Some(((_, _), (ns, dir))) = redirects
            .iter()
            .find(|((name, version), _)| *name == dep.name && dep.req.matches(version))
        else {
            continue;
        };
        let table = match dep.kind {
            DependencyKind::Build => "build-dependencies",
            _ => "dependencies",
        };
        let key = dep.rename.clone().unwrap_or_else(|| dep.name.clone());
        let deps = match &dep.target {
            Some(platform) => doc
                .get_mut("target")
                .and_then(Item::as_table_like_mut)
                .and_then(|t| t.get_mut(&platform.to_string()))
                .and_then(Item::as_table_like_mut)
                .and_then(|t| t.get_mut(table))
                .and_then(Item::as_table_like_mut),
            None => doc.get_mut(table).and_then(Item::as_table_like_mut),
        };
        let Some(deps) = deps else { continue };
        let Some(entry) = deps.get_mut(&key) else {
            continue;
        };
        let path = super::manifest::slash(&super::layout::relative(from, dir));
        match entry {
            Item::Value(Value::String(_)) => {
                let mut t = toml_edit::InlineTable::new();
                t.insert("package", ns.as_str().into());
                t.insert("path", path.into());
                *entry = Item::Value(Value::InlineTable(t));
            }
            other => {
                let t = other.as_table_like_mut().ok_or_else(|| {
                    SynthError::not_string_or_table(format!("dependency `{key}`"))
                })?;
                t.remove("version");
                t.remove("registry");
                t.insert("package", toml_edit::value(ns.as_str()));
                t.insert("path", toml_edit::value(path));
            }
        }
    }
    Ok(())
}
