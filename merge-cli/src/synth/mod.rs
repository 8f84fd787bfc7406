//! The synthesis of one group's merged workspace, in memory: every file `cargo merge build`
//! writes under `<out>/<group>/`, so that nothing is written until all of it was made (a bad
//! member leaves no half-made workspace), and then only what changed.
//!
//! ```text
//! <out>/<group>/Cargo.toml          the workspace, and the merged binary's package
//! <out>/<group>/src/main.rs         the generated main (main_rs.rs)
//! <out>/<group>/members/<package>/  copies of the members' local packages (layout.rs),
//!                                   manifests rewritten (manifest.rs), sources rewritten
//!                                   (source.rs)
//! <out>/<group>/members/<package>-entry/
//!                                   for a member with a library and a binary: a second copy
//!                                   whose library is the binary's root
//! <out>/<group>/vendor/<crate>-ns-<member>/
//!                                   under `exact` isolation, a crate version only one member
//!                                   locks, and its dependents in that member's graph (vendor.rs)
//! <out>/<group>/merge-seed.lock     the members' lockfiles merged (lock.rs); copied to
//!                                   Cargo.lock when it changes
//! ```

pub mod inherit;
pub mod layout;
pub mod lock;
pub mod main_rs;
pub mod manifest;
pub mod mitigate;
pub mod order;
pub mod protos;
pub mod source;
pub mod vendor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::ImportError;
use merge_analyzer::check::{Finding, Severity};
use merge_analyzer::error::{InputCode, InputError, Problems};
use merge_analyzer::members::Member;
use merge_analyzer::plan::Isolation;

use layout::Layout;
use manifest::{Context, Role, ToolCrates};

/// A group's merged workspace, made in memory.
#[derive(Debug)]
pub struct Group {
    pub name: String,
    /// Relative path -> contents.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// The merged lockfile's seed.
    pub seed: String,
    /// Things the user should know (profile conflicts, version drift under `unify`, the
    /// `#[global_allocator]`s removed).
    pub warnings: Vec<String>,
    /// What build mended in the copies (check's findings it made harmless).
    pub notes: Vec<String>,
    /// Per member, the isolation decisions taken (for merge.lock).
    pub decisions: BTreeMap<String, Vec<String>>,
    /// Packages whose compilation is a member's (package name -> member), for progress.
    pub packages: BTreeMap<String, String>,
    /// Packages that include generated proto code: package -> (its copy, the protos).
    pub includes: BTreeMap<String, (PathBuf, BTreeSet<String>)>,
    /// The proto sharing this workspace was made with.
    pub protos: protos::Decision,
}

/// Makes the merged workspace of `group` from its `members`.
pub fn group(
    name: &str,
    members: &[Member],
    isolation: Isolation,
    tools: &ToolCrates,
    origin: (&Path, Option<usize>),
    decision: &protos::Decision,
    allow: &BTreeSet<String>,
) -> Result<Group, ImportError> {
    let mut problems = Problems::default();
    let mut warnings = Vec::new();
    let mut decisions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let vendoring = isolate(
        members,
        isolation,
        origin,
        &mut problems,
        &mut warnings,
        &mut decisions,
    );
    std::mem::take(&mut problems).finish(())?;

    // One workspace cannot hold two packages of one name.
    let mut names: BTreeMap<&str, BTreeSet<PathBuf>> = BTreeMap::new();
    for m in members {
        for p in m.local_packages() {
            if let Some(dir) = p.manifest_path.parent() {
                names
                    .entry(p.name.as_str())
                    .or_default()
                    .insert(layout::normalize(dir.as_std_path()));
            }
        }
    }
    for (name, dirs) in names.iter().filter(|(_, d)| d.len() > 1) {
        let dirs: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
        problems.push(
            InputError::new(
                origin.0,
                origin.1,
                format!(
                    "two local packages are named `{name}` ({}); one merged workspace cannot hold both, \
                     and cargo merge does not rename local packages yet",
                    dirs.join(", ")
                ),
            )
            .code(InputCode::DuplicateEntry),
        );
    }
    std::mem::take(&mut problems).finish(())?;

    // What check finds, build mends where it can; what it cannot is refused unless allowed.
    let findings = merge_analyzer::check::check_group(name, members, isolation);
    let mut places = mitigate::Places::default();
    for m in members {
        places.add(
            &m.name,
            &m.root,
            m.local_packages()
                .filter(|p| !layout::TOOL_CRATES.contains(&p.name.as_str()))
                .filter_map(|p| {
                    let dir = p.manifest_path.parent()?.as_std_path().to_path_buf();
                    Some((dir, p.name.to_string()))
                }),
        );
    }
    let mitigations = mitigate::plan(&findings, places);
    warnings.extend(mitigations.warnings.iter().cloned());
    for e in refusals(&findings, members, &mitigations, allow) {
        problems.push(e);
    }
    std::mem::take(&mut problems).finish(())?;
    let layout = Layout::new(members);
    let mut files = BTreeMap::new();
    let mut lifted_profile = Vec::new();
    let mut lifted_patch = Vec::new();
    let mut workspace_members = BTreeSet::new();
    let mut entries = Vec::new();
    let mut starts = BTreeMap::new();
    let mut packages = BTreeMap::new();
    let mut entry_copies: Vec<(String, PathBuf)> = Vec::new();
    let mut includes: BTreeMap<String, (PathBuf, BTreeSet<String>)> = BTreeMap::new();

    // Local packages of every member, each once: (original dir, package name, lib name).
    let mut locals: BTreeMap<PathBuf, (String, Option<String>)> = BTreeMap::new();
    for m in members {
        for p in m.local_packages() {
            if layout::TOOL_CRATES.contains(&p.name.as_str()) {
                continue;
            }
            if let Some(dir) = p.manifest_path.parent() {
                let lib = p
                    .targets
                    .iter()
                    .find(|t| t.is_lib() || t.kind.iter().any(|k| k.to_string() == "rlib"))
                    .map(|t| t.name.clone());
                locals.insert(
                    layout::normalize(dir.as_std_path()),
                    (p.name.to_string(), lib),
                );
            }
        }
    }
    // Which package each member's binary belongs to, and its role there.
    let mut roles: BTreeMap<PathBuf, (Role, Option<PathBuf>)> = BTreeMap::new();
    for m in members {
        let root = layout::normalize(&m.root);
        let bin_rel = m
            .bin
            .src_path
            .as_std_path()
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| m.bin.src_path.as_std_path().to_path_buf());
        let ident = m.name.replace('-', "_");
        let lib_name = format!("merge_entry_{ident}");
        let Some(copy) = layout.copy_of(&root) else {
            continue;
        };
        match &m.lib {
            None => {
                let role = Role::BinAsLib {
                    lib_name: lib_name.clone(),
                    bin_path: manifest::slash(&bin_rel),
                };
                roles.insert(root.clone(), (role, Some(bin_rel.clone())));
                entries.push((lib_name.clone(), m.package.name.to_string(), copy.clone()));
                packages.insert(m.package.name.to_string(), m.name.clone());
            }
            Some(lib) => {
                // Named after the member: two members may run two binaries of one package.
                let entry_dir = Path::new("members").join(format!("{}-entry", m.name));
                let package = format!("{}-merge-entry", m.name);
                let role = Role::Entry {
                    package: package.clone(),
                    lib_name: lib_name.clone(),
                    bin_path: manifest::slash(&bin_rel),
                    member_lib: (
                        lib.name.clone(),
                        m.package.name.to_string(),
                        layout::relative(&entry_dir, &copy),
                    ),
                };
                copy_package(
                    &m.root,
                    &entry_dir,
                    &Context {
                        layout: &layout,
                        tools,
                        original_dir: &m.root,
                        copy_dir: &entry_dir,
                    },
                    &role,
                    Some(&bin_rel),
                    &mut files,
                    &mut problems,
                    &mut Vec::new(),
                    &mut Vec::new(),
                    &mut Protos {
                        package: &package,
                        mend: mitigations.members.get(&m.name),
                        decision,
                        includes: &mut includes,
                    },
                );
                workspace_members.insert(entry_dir.clone());
                entry_copies.push((m.name.clone(), entry_dir.clone()));
                entries.push((lib_name.clone(), package.clone(), entry_dir));
                packages.insert(package, m.name.clone());
                packages.insert(m.package.name.to_string(), m.name.clone());
            }
        }
        let mut uses = order::Uses::default();
        for (dir, _) in m
            .local_packages()
            .filter(|p| !layout::TOOL_CRATES.contains(&p.name.as_str()))
            .filter_map(|p| {
                p.manifest_path
                    .parent()
                    .map(|d| (d.as_std_path().to_path_buf(), ()))
            })
        {
            order::scan_dir(&dir, &mut uses);
        }
        starts.insert(m.name.clone(), (uses, lib_name));
    }
    for (dir, (package, _)) in &locals {
        let Some(copy) = layout.copy_of(dir) else {
            continue;
        };
        workspace_members.insert(copy.clone());
        let (role, entry_file) = roles.get(dir).cloned().unwrap_or((Role::Library, None));
        // A package several members share gets what is the same edit for all of them.
        let mend = mitigations.for_copy(dir);
        let cx = Context {
            layout: &layout,
            tools,
            original_dir: dir,
            copy_dir: &copy,
        };
        copy_package(
            dir,
            &copy,
            &cx,
            &role,
            entry_file.as_deref(),
            &mut files,
            &mut problems,
            &mut lifted_profile,
            &mut lifted_patch,
            &mut Protos {
                package,
                mend: mend.as_ref(),
                decision,
                includes: &mut includes,
            },
        );
    }
    // The generated proto code shared by several packages, compiled once.
    if !decision.shared.is_empty() {
        let deps = protos_dependencies(members, decision, tools);
        match decision.files(&deps) {
            Ok(more) => files.extend(more),
            Err(e) => problems.push(InputError::new(origin.0, origin.1, e)),
        }
        workspace_members.insert(PathBuf::from(protos::DIR));
    }
    // Members' local packages depend on their vendored versions.
    for dir in locals.keys() {
        let Some(copy) = layout.copy_of(dir) else {
            continue;
        };
        let users: Vec<&Member> = members
            .iter()
            .filter(|m| m.local_packages().any(|p| same_dir(p, dir)))
            .collect();
        for m in &users {
            let Some(redirects) = vendoring.redirects.get(&m.name) else {
                continue;
            };
            let Some(package) = m.local_packages().find(|p| same_dir(p, dir)) else {
                continue;
            };
            let touched = package
                .dependencies
                .iter()
                .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
                .any(|d| {
                    redirects
                        .keys()
                        .any(|(n, v)| *n == d.name && d.req.matches(v))
                });
            if !touched {
                continue;
            }
            if users.len() > 1 {
                problems.push(
                    InputError::new(
                        &dir.join("Cargo.toml"),
                        None,
                        format!(
                            "`{}` is shared by members {} but would need a vendored version for `{}` alone",
                            package.name,
                            users.iter().map(|u| format!("`{}`", u.name)).collect::<Vec<_>>().join(", "),
                            m.name
                        ),
                    )
                    .code(InputCode::VersionConflict),
                );
                continue;
            }
            let manifest = dir.join("Cargo.toml");
            redirect_copy(
                &mut files,
                &copy,
                package,
                redirects,
                &manifest,
                &mut problems,
            );
        }
    }
    // Entry copies carry their member's dependencies too.
    for (member, dir) in &entry_copies {
        let (Some(m), Some(redirects)) = (
            members.iter().find(|m| &m.name == member),
            vendoring.redirects.get(member),
        ) else {
            continue;
        };
        redirect_copy(
            &mut files,
            dir,
            &m.package,
            redirects,
            &m.manifest,
            &mut problems,
        );
    }
    for v in &vendoring.vendored {
        let Some(m) = members.iter().find(|m| m.name == v.member) else {
            continue;
        };
        let Some(package) = m
            .metadata
            .packages
            .iter()
            .find(|p| p.name == v.name && p.version == v.version && p.source.is_some())
        else {
            continue;
        };
        let redirects = vendoring
            .redirects
            .get(&v.member)
            .cloned()
            .unwrap_or_default();
        match layout::files(&v.source) {
            Ok(list) => {
                for rel in list {
                    let path = v.source.join(&rel);
                    match std::fs::read(&path) {
                        Ok(bytes) if rel == Path::new("Cargo.toml") => {
                            let text = String::from_utf8_lossy(&bytes);
                            match vendor::manifest(&text, v, package, &redirects) {
                                Ok(t) => {
                                    files.insert(v.dir.join(&rel), t.into_bytes());
                                }
                                Err(e) => problems.push(InputError::new(&path, None, e)),
                            }
                        }
                        Ok(bytes) => {
                            files.insert(v.dir.join(&rel), bytes);
                        }
                        Err(e) => problems.push(
                            InputError::new(&path, None, format!("cannot read: {e}"))
                                .code(InputCode::Unreadable),
                        ),
                    }
                }
            }
            Err(e) => problems.push(
                InputError::new(
                    &v.source,
                    None,
                    format!("cannot read the crate's source: {e}"),
                )
                .code(InputCode::Unreadable),
            ),
        }
        workspace_members.insert(v.dir.clone());
    }
    problems.finish(())?;

    let (profile, conflicts) = manifest::merge_tables(lifted_profile);
    for (key, kept, other) in conflicts {
        warnings.push(format!(
            "[profile] `{key}`: members disagree; kept {kept} over {other}"
        ));
    }
    let (patch, conflicts) = manifest::merge_tables(lifted_patch);
    for (key, kept, other) in conflicts {
        warnings.push(format!(
            "[patch] `{key}`: members disagree; kept {kept} over {other}"
        ));
    }
    let mut ws: Vec<PathBuf> = vec![PathBuf::from(".")];
    ws.extend(workspace_members);
    let root = manifest::Root {
        group: name,
        members: ws,
        entries: entries.clone(),
        tools,
        profile,
        patch,
    };
    files.insert(PathBuf::from("Cargo.toml"), root.render().into_bytes());

    let uses: BTreeMap<String, order::Uses> = starts
        .iter()
        .map(|(k, (u, _))| (k.clone(), u.clone()))
        .collect();
    let steps: Vec<Vec<main_rs::Start>> = order::steps(&uses)
        .into_iter()
        .map(|step| {
            step.into_iter()
                .map(|m| {
                    let (u, lib) = &starts[&m];
                    let keys = members
                        .iter()
                        .find(|member| member.name == m)
                        .map(merge_analyzer::check::env_keys)
                        .unwrap_or_default();
                    main_rs::Start {
                        env: mitigations.reads(&m, keys),
                        name: m,
                        lib: lib.clone(),
                        serves: !u.serves.is_empty(),
                    }
                })
                .collect()
        })
        .collect();
    files.insert(
        PathBuf::from("src/main.rs"),
        main_rs::render(name, &steps, &mitigations.env_fallbacks).into_bytes(),
    );
    let notes = mitigations.notes.clone();
    Ok(Group {
        name: name.to_owned(),
        files,
        seed: lock::seed(members),
        warnings,
        notes,
        decisions,
        packages,
        includes,
        protos: decision.clone(),
    })
}

/// The error-level findings that build neither mends (`mitigations`) nor leaves to the isolation
/// policy and that `allow` does not let through: each refuses the build, under the finding's own
/// code, at the finding's file (in the member's original folder) and line.
fn refusals(
    findings: &[Finding],
    members: &[Member],
    mitigations: &mitigate::Plan,
    allow: &BTreeSet<String>,
) -> Vec<InputError> {
    const BY_ISOLATION: [&str; 3] = ["links-conflict", "exact-pin-conflict", "version-drift"];
    findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error
                && !mitigations.mends(f)
                && !BY_ISOLATION.contains(&f.code)
                && !allow.contains(f.code)
        })
        .map(|f| {
            let file = f
                .file
                .as_ref()
                .map(|p| {
                    layout::normalize(
                        &members
                            .iter()
                            .find(|m| m.name == f.member)
                            .map(|m| m.root.join(p))
                            .unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            InputError::new(
                &file,
                f.line,
                format!(
                    "{} (cargo merge check: {}; pass --allow {} to build anyway)",
                    f.message, f.code, f.code
                ),
            )
            .code(InputCode::Check(f.code))
        })
        .collect()
}

/// The `[dependencies]` of `merge-protos`: what the first package using each shared proto
/// depends on from a registry (prost, tonic, ...), at its requirements; Cargo unifies them with
/// the members' own.
fn protos_dependencies(
    members: &[Member],
    decision: &protos::Decision,
    tools: &ToolCrates,
) -> String {
    let mut deps: BTreeMap<String, String> = BTreeMap::new();
    let users: BTreeSet<&str> = decision
        .shared
        .iter()
        .flat_map(|s| s.packages.iter().map(String::as_str))
        .collect();
    for m in members {
        for p in m
            .local_packages()
            .filter(|p| users.contains(p.name.as_str()))
        {
            for d in &p.dependencies {
                if d.kind != cargo_metadata::DependencyKind::Normal
                    || d.optional
                    || d.path.is_some()
                    || d.target.is_some()
                {
                    continue;
                }
                let key = d.rename.clone().unwrap_or_else(|| d.name.clone());
                // Only what the generated code names (prost, tonic, tonic-prost, ...).
                let ident = key.replace('-', "_");
                let named = decision
                    .shared
                    .iter()
                    .any(|s| s.source.contains(&format!("{ident}::")));
                if !named {
                    continue;
                }
                let features: Vec<String> = d.features.iter().map(|f| format!("{f:?}")).collect();
                let mut spec = format!("version = \"{}\"", d.req);
                if d.rename.is_some() {
                    spec.push_str(&format!(", package = \"{}\"", d.name));
                }
                if !d.uses_default_features {
                    spec.push_str(", default-features = false");
                }
                if !features.is_empty() {
                    spec.push_str(&format!(", features = [{}]", features.join(", ")));
                }
                deps.entry(key).or_insert(spec);
            }
        }
    }
    deps.insert(
        "merge-runtime-shim".to_owned(),
        format!("path = \"{}\"", manifest::slash(&tools.runtime_shim)),
    );
    deps.iter()
        .map(|(k, v)| format!("{k} = {{ {v} }}\n"))
        .collect()
}

/// The proto side of one package's copy (and what to mend in it).
struct Protos<'a> {
    /// The package's name.
    package: &'a str,
    /// What to mend in this copy: its one member's mitigations, or those every member
    /// sharing it can have.
    mend: Option<&'a mitigate::Member>,
    decision: &'a protos::Decision,
    /// Filled in: the protos each package includes.
    includes: &'a mut BTreeMap<String, (PathBuf, BTreeSet<String>)>,
}

/// Copies one package folder (`original` -> `copy`), rewriting its manifest for `role` and its
/// sources; `entry_file` (relative) is the root of the binary that runs, if it is here.
#[allow(clippy::too_many_arguments)]
fn copy_package(
    original: &Path,
    copy: &Path,
    cx: &Context<'_>,
    role: &Role,
    entry_file: Option<&Path>,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    problems: &mut Problems,
    profiles: &mut Vec<(String, toml_edit::Table)>,
    patches: &mut Vec<(String, toml_edit::Table)>,
    protos: &mut Protos<'_>,
) {
    let shared = protos.decision.for_package(protos.package);
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
    let mut manifest_text = None;
    for rel in list {
        let path = original.join(&rel);
        let bytes = match std::fs::read(&path) {
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
        // Nested packages are copied with their own folder's rules.
        if rel.components().count() > 1 && nested_package(original, &rel) {
            files.insert(copy.join(&rel), bytes);
            continue;
        }
        let mut out = bytes;
        if rel.extension().is_some_and(|e| e == "rs") {
            if let Ok(text) = std::str::from_utf8(&out) {
                let entry = entry_file == Some(rel.as_path());
                match source::rewrite(&rel, text, entry, &shared, protos.mend) {
                    Ok(r) => {
                        uses_shim |= r.uses_shim;
                        uses_shared |= r.uses_shared;
                        if !r.protos.is_empty() && compiled(role, &rel, entry) {
                            protos
                                .includes
                                .entry(protos.package.to_owned())
                                .or_insert_with(|| (copy.to_path_buf(), BTreeSet::new()))
                                .1
                                .extend(r.protos);
                        }
                        if let Some(t) = r.text {
                            out = t.into_bytes();
                        }
                    }
                    Err(e) => problems
                        .push(InputError::new(&path, None, e).code(InputCode::MalformedInput)),
                }
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
    match manifest::member(&text, cx, role, uses_shim, merge_protos.as_deref()) {
        Ok((out, lifted)) => {
            let who = original.display().to_string();
            if let Some(p) = lifted.profile {
                profiles.push((who.clone(), p));
            }
            if let Some(p) = lifted.patch {
                patches.push((who, p));
            }
            files.insert(copy.join("Cargo.toml"), out.into_bytes());
        }
        Err(e) => {
            problems.push(InputError::new(&manifest_path, None, e).code(InputCode::MalformedInput))
        }
    }
}

/// Points the dependencies of the copy in `copy` (already made, in `files`) at the vendored
/// versions of `redirects`; `manifest` is the original, named in errors.
fn redirect_copy(
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    copy: &Path,
    package: &cargo_metadata::Package,
    redirects: &vendor::Redirects,
    manifest: &Path,
    problems: &mut Problems,
) {
    let key = copy.join("Cargo.toml");
    let Some(text) = files
        .get(&key)
        .map(|b| String::from_utf8_lossy(b).into_owned())
    else {
        return;
    };
    match text.parse::<toml_edit::DocumentMut>() {
        Ok(mut doc) => {
            if let Err(e) = vendor::redirect(&mut doc, package, redirects, copy) {
                problems.push(InputError::new(manifest, None, e));
            }
            files.insert(key, doc.to_string().into_bytes());
        }
        Err(e) => problems.push(InputError::new(&key, None, format!("{e}"))),
    }
}

fn same_dir(p: &cargo_metadata::Package, dir: &Path) -> bool {
    p.manifest_path
        .parent()
        .is_some_and(|d| layout::normalize(d.as_std_path()) == dir)
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

/// Decides, per crate the members lock at different compatible versions, what the policy
/// does; problems for what it refuses.
fn isolate(
    members: &[Member],
    isolation: Isolation,
    (plan, line): (&Path, Option<usize>),
    problems: &mut Problems,
    warnings: &mut Vec<String>,
    decisions: &mut BTreeMap<String, Vec<String>>,
) -> vendor::Plan {
    for m in members {
        decisions.entry(m.name.clone()).or_default();
    }
    let mut to_vendor = Vec::new();
    for (links, users) in lock::links_collisions(members) {
        // Under `unify`, versions of one registry crate that Cargo unifies are one package.
        let unifiable = users.windows(2).all(|w| {
            let (a, b) = (&w[0].1, &w[1].1);
            a.source.is_some()
                && a.name == b.name
                && a.source == b.source
                && lock::bucket(&a.version) == lock::bucket(&b.version)
        });
        if isolation == Isolation::Unify && unifiable {
            continue;
        }
        let chains: Vec<String> = users
            .iter()
            .filter_map(|(member, p)| {
                let m = members.iter().find(|m| &m.name == member)?;
                Some(lock::chain(m, &p.name, &p.version))
            })
            .collect();
        problems.push(
            InputError::new(
                plan,
                line,
                format!(
                    "the native library `{links}` is linked by {} packages, which one binary cannot do: {}",
                    users.len(),
                    chains.join("; ")
                ),
            )
            .code(InputCode::LinksConflict),
        );
    }
    for c in lock::conflicts(members) {
        if c.links.is_some() {
            continue; // reported above
        }
        match isolation {
            Isolation::Strict => {
                problems.push(
                    InputError::new(
                        plan,
                        line,
                        format!(
                            "{}: members lock different versions, and isolation `strict` refuses to build \
                             when a member would run a version it does not lock",
                            c.describe()
                        ),
                    )
                    .code(InputCode::VersionConflict),
                );
            }
            Isolation::Exact => to_vendor.push(c),
            Isolation::Unify => {
                warnings.push(format!(
                    "{}: Cargo will unify them, so some member runs a version it was not tested with",
                    c.describe()
                ));
                for ms in c.versions.values() {
                    for m in ms {
                        decisions
                            .entry(m.clone())
                            .or_default()
                            .push(format!("unified {}", c.describe()));
                    }
                }
            }
        }
    }
    match vendor::plan(members, &to_vendor) {
        Ok(plan) => {
            for v in &plan.vendored {
                decisions.entry(v.member.clone()).or_default().push(format!(
                    "vendored {} {} as {}",
                    v.name, v.version, v.package
                ));
            }
            for c in &to_vendor {
                if let Some(shared) = c.versions.keys().max() {
                    for m in c.versions.get(shared).into_iter().flatten() {
                        decisions
                            .entry(m.clone())
                            .or_default()
                            .push(format!("shared {} {shared}", c.name));
                    }
                }
            }
            plan
        }
        Err(e) => {
            problems.push(InputError::new(plan, line, e).code(InputCode::LinksConflict));
            vendor::Plan::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: &'static str, severity: Severity) -> Finding {
        Finding {
            code,
            severity,
            group: "g".to_owned(),
            member: "alpha".to_owned(),
            file: None,
            line: None,
            column: None,
            message: format!("`alpha` does {code}"),
            help: String::new(),
            source: None,
            subject: None,
        }
    }

    #[test]
    fn a_refusal_carries_the_findings_own_code() {
        let findings = [
            finding("process-exit", Severity::Error),
            finding("global-allocator", Severity::Error),
            finding("version-drift", Severity::Error),
            finding("env-set-var", Severity::Warning),
            finding("signal-handler", Severity::Error),
        ];
        let plan = mitigate::plan(&findings, mitigate::Places::default());
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["process-exit", "signal-handler"]);
        assert_eq!(refused[0].code, InputCode::Check("process-exit"));
        assert!(
            refused[0].message.ends_with(
                "(cargo merge check: process-exit; pass --allow process-exit to build anyway)"
            ),
            "{}",
            refused[0].message
        );
        let allowed = refusals(
            &findings,
            &[],
            &plan,
            &BTreeSet::from(["process-exit".to_owned()]),
        );
        let codes: Vec<&str> = allowed.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["signal-handler"]);
    }

    #[test]
    fn only_initialisations_a_copy_can_soften_are_mended() {
        let init = |code, callee: &str| Finding {
            subject: Some(callee.to_owned()),
            ..finding(code, Severity::Error)
        };
        let findings = [
            init("global-tracing-init", "tracing_subscriber::fmt::init"),
            init("global-logger-init", "env_logger::Builder::new::init"),
            init("global-logger-init", "log::set_logger"),
            init(
                "global-tracing-init",
                "tracing::subscriber::set_global_default",
            ),
        ];
        let plan = mitigate::plan(&findings, mitigate::Places::default());
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["global-logger-init", "global-tracing-init"]);
    }

    #[test]
    fn what_a_shared_copy_cannot_get_is_not_mended() {
        // alpha and beta share `common`; gamma and delta share `util`.
        let mut places = mitigate::Places::default();
        for (m, shared) in [
            ("alpha", "common"),
            ("beta", "common"),
            ("gamma", "util"),
            ("delta", "util"),
        ] {
            let dir = |d: &str| PathBuf::from(format!("/w/{d}"));
            places.add(
                m,
                &dir(m),
                [(dir(m), m.to_owned()), (dir(shared), shared.to_owned())],
            );
        }
        let at = |code, severity, member: &str, file: &str, subject: Option<&str>| Finding {
            member: member.to_owned(),
            file: Some(PathBuf::from(file)),
            subject: subject.map(str::to_owned),
            ..finding(code, severity)
        };
        let init = Some("tracing_subscriber::fmt::init");
        let findings = [
            // Softened in the shared copy: mended.
            at(
                "global-tracing-init",
                Severity::Error,
                "alpha",
                "../common/src/lib.rs",
                init,
            ),
            at(
                "global-tracing-init",
                Severity::Error,
                "beta",
                "../common/src/lib.rs",
                init,
            ),
            // A key read in a shared package: a warning, not namespaced, not refused.
            at(
                "env-var-collision",
                Severity::Warning,
                "alpha",
                "../common/src/lib.rs",
                Some("PORT"),
            ),
            at(
                "env-var-collision",
                Severity::Warning,
                "gamma",
                "src/main.rs",
                Some("PORT"),
            ),
            // Two allocators in two shared packages: one is kept, the other cannot go.
            at(
                "global-allocator",
                Severity::Error,
                "alpha",
                "../common/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "beta",
                "../common/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "gamma",
                "../util/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "delta",
                "../util/src/lib.rs",
                None,
            ),
        ];
        let plan = mitigate::plan(&findings, places);
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        // util's allocator (gamma's and delta's finding): common's is the one kept.
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["global-allocator", "global-allocator"]);
        let mended: Vec<bool> = findings.iter().map(|f| plan.mends(f)).collect();
        assert_eq!(mended, [true, true, false, true, true, true, false, false]);
        assert!(
            plan.for_copy(Path::new("/w/common"))
                .is_some_and(|m| m.soften_inits && m.env_keys.is_empty())
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("`gamma` reads `GAMMA_PORT`"))
                && !plan.notes.iter().any(|n| n.contains("ALPHA_PORT")),
            "{:?}",
            plan.notes
        );
    }
}
