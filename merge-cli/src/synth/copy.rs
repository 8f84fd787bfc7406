//! The copy of one local package's folder: every file read, its Rust sources rewritten
//! (`source.rs`, with what to mend and the shared protos), its manifest rewritten for its role
//! (`manifest.rs`); the protos each package includes are noted along the way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::error::{InputCode, InputError, Problems};

use merge_analyzer::parsed::Parsed;

use super::layout::{self, Layout};
use super::manifest::{self, Context, Role, ToolCrates};
use super::packages::Copy;
use super::{mitigate, protos, source};

/// What every copy is made with.
pub(super) struct With<'a> {
    pub(super) layout: &'a Layout,
    pub(super) tools: &'a ToolCrates,
    /// What to mend in this copy: its one member's mitigations, or those every member
    /// sharing it can have.
    pub(super) mend: Option<&'a mitigate::Member>,
    pub(super) decision: &'a protos::Decision,
    /// The member sources, each parsed once.
    pub(super) parsed: &'a Parsed,
}

/// Makes the copy `c` plans: every file of its folder, its manifest rewritten for its role and
/// its Rust sources rewritten, into `files`; the protos it includes into `includes` (package
/// -> its copy and the protos).
pub(super) fn copy_package(
    c: &Copy,
    with: &With<'_>,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    problems: &mut Problems,
    includes: &mut BTreeMap<String, (PathBuf, BTreeSet<String>)>,
) {
    let (original, copy, role) = (c.original.as_path(), c.dir.as_path(), &c.role);
    let entry_file = c.entry_file.as_deref();
    let shared = with.decision.for_package(&c.package);
    let mut uses_shared = false;
    let list = match layout::files(original) {
        Ok(l) => l,
        Err(e) => {
            problems.push(
                InputError::new(original, None, format!("cannot read the package: {e}"))
                    .code(InputCode::Unreadable),
            );
            return;
        }
    };
    let mut uses_shim = false;
    let mut wraps_build = false;
    let mut manifest_text = None;
    let build_script = build_script(original);
    for rel in list {
        let path = original.join(&rel);
        // Nested packages are copied with their own folder's rules.
        let nested = rel.components().count() > 1 && nested_package(original, &rel);
        // A member source (not a build script, which runs on the host) is read and parsed
        // once per build, through `parsed`, which check and the start order read too.
        let member_source = (!nested
            && rel.extension().is_some_and(|e| e == "rs")
            && Some(&rel) != build_script.as_ref())
        .then(|| with.parsed.get(&path))
        .flatten();
        let read = match &member_source {
            Some(s) => Ok(s.text.as_bytes().to_vec()),
            None => std::fs::read(&path),
        };
        let bytes = match read {
            Ok(b) => b,
            Err(e) => {
                problems.push(
                    InputError::new(&path, None, format!("cannot read: {e}"))
                        .code(InputCode::Unreadable),
                );
                continue;
            }
        };
        if rel == Path::new("Cargo.toml") {
            manifest_text = Some(String::from_utf8_lossy(&bytes).into_owned());
            continue;
        }
        if nested {
            files.insert(copy.join(&rel), bytes);
            continue;
        }
        let mut out = bytes;
        if Some(&rel) == build_script.as_ref() {
            // A build script runs on the host, not in the merged binary: never rewritten as
            // member code, only wrapped when it writes generated code into the package.
            let wrapped = std::str::from_utf8(&out)
                .ok()
                .filter(|_| c.rewrite)
                .and_then(source::wrap_build_script);
            if let Some(wrapped) = wrapped {
                out = wrapped.into_bytes();
                wraps_build = true;
            }
        } else if let Some(text) = member_source {
            let entry = entry_file == Some(rel.as_path());
            let how = source::How {
                entry,
                protos: c.rewrite,
            };
            match source::rewrite(&rel, &text, how, &shared, with.mend) {
                Ok(r) => {
                    uses_shim |= r.uses_shim;
                    uses_shared |= r.uses_shared;
                    if !r.protos.is_empty() && compiled(role, &rel, entry) {
                        includes
                            .entry(c.package.clone())
                            .or_insert_with(|| (copy.to_path_buf(), BTreeSet::new()))
                            .1
                            .extend(r.protos);
                    }
                    if let Some(t) = r.text {
                        out = t.into_bytes();
                    }
                }
                Err(e) => problems.push(
                    InputError::new(&path, None, e.to_string()).code(InputCode::MalformedInput),
                ),
            }
        }
        files.insert(copy.join(&rel), out);
    }
    let manifest_path = original.join("Cargo.toml");
    let Some(text) = manifest_text else {
        problems.push(
            InputError::new(&manifest_path, None, "no Cargo.toml").code(InputCode::MissingManifest),
        );
        return;
    };
    let merge_protos = uses_shared.then(|| layout::relative(copy, Path::new(protos::DIR)));
    let needs = manifest::Needs {
        shim: uses_shim,
        rewrite_in_build: wraps_build,
        merge_protos: merge_protos.as_deref(),
    };
    let cx = Context {
        layout: with.layout,
        tools: with.tools,
        original_dir: original,
        copy_dir: copy,
    };
    match manifest::member(&text, &cx, role, &needs) {
        Ok(out) => {
            files.insert(copy.join("Cargo.toml"), out.into_bytes());
        }
        Err(e) => problems.push(
            InputError::new(&manifest_path, None, e.to_string()).code(InputCode::MalformedInput),
        ),
    }
}

/// The package's build script, relative to its folder: `package.build`, else `build.rs` if
/// there is one.
fn build_script(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let default = || Some(PathBuf::from("build.rs")).filter(|p| dir.join(p).is_file());
    match doc.get("package").and_then(|p| p.get("build")) {
        Some(b) if b.as_bool() == Some(true) => default(),
        Some(b) => b.as_str().map(|s| {
            Path::new(s)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect()
        }),
        None => default(),
    }
}

/// Whether the package's library compiles `rel` in its role, as far as a file's place tells:
/// an entry copy compiles its binary's root; a library copy not its binaries' files.
fn compiled(role: &Role, rel: &Path, entry: bool) -> bool {
    match role {
        Role::Entry { .. } => entry,
        Role::Library => rel != Path::new("src/main.rs") && !rel.starts_with("src/bin"),
        Role::BinAsLib { .. } => true,
    }
}

/// Whether `rel` lies in a sub-folder of `dir` that is a package of its own.
fn nested_package(dir: &Path, rel: &Path) -> bool {
    let mut at = rel.parent();
    while let Some(p) = at {
        if p.as_os_str().is_empty() {
            return false;
        }
        if dir.join(p).join("Cargo.toml").is_file() {
            return true;
        }
        at = p.parent();
    }
    false
}
