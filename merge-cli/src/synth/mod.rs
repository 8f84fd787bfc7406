//! The synthesis of one group's merged workspace, in memory: every file `cargo merge build`
//! writes under `<out>/<group>/`, so that nothing is written until all of it was made (a bad
//! member leaves no half-made workspace), and then only what changed.
//!
//! ```text
//! <out>/<group>/Cargo.toml          the workspace, and the merged binary's package
//! <out>/<group>/src/main.rs         the generated main (main_rs.rs)
//! <out>/<group>/members/<package>/  copies of the members' local packages (layout.rs says
//!                                   where, copy.rs makes them), manifests rewritten
//!                                   (manifest.rs), sources rewritten (source.rs)
//! <out>/<group>/members/<package>-entry/
//!                                   for a member with a library and a binary: a second copy
//!                                   whose library is the binary's root
//! <out>/<group>/vendor/<crate>-ns-<member>/
//!                                   under `exact` isolation, a crate version only one member
//!                                   locks, and its dependents in that member's graph (vendor.rs
//!                                   plans them, isolation.rs copies them in)
//! <out>/<group>/vendor/tonic-<version>-served/
//!                                   the tonic the members share, with the serve hook that
//!                                   makes served servers reachable in-process (serve_hook.rs)
//! <out>/<group>/merge-seed.lock     the members' lockfiles merged (lock.rs); copied to
//!                                   Cargo.lock when it changes
//! ```

mod argv;
mod copy;
pub mod inherit;
mod isolation;
pub mod layout;
pub mod lock;
pub mod main_rs;
pub mod manifest;
pub mod mitigate;
pub mod order;
pub mod protos;
mod refuse;
pub mod roots;
pub mod serve_hook;
pub mod source;
pub mod vendor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::ImportError;
use merge_analyzer::codes::CheckCode;
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
    /// Environment keys several members read, namespaced: (`<MEMBER>_<KEY>`, `<KEY>`).
    pub env_fallbacks: Vec<(String, String)>,
    /// The one version the merged graph holds of each crate members' builds use at several
    /// (build-only), said as check says it.
    pub picks: Vec<String>,
    /// Per member, the isolation decisions taken (for merge.lock).
    pub decisions: BTreeMap<String, Vec<String>>,
    /// Packages whose compilation is a member's (package name -> member), for progress.
    pub packages: BTreeMap<String, String>,
    /// Packages that include generated proto code: package -> (its copy, the protos).
    pub includes: BTreeMap<String, (PathBuf, BTreeSet<String>)>,
    /// Local package -> the tonic and prost its member links (`tonic 0.11, prost 0.12`).
    pub frameworks: BTreeMap<String, String>,
    /// The proto sharing this workspace was made with.
    pub protos: protos::Decision,
    /// What check found in the group (code, severity), for the release manifest's summary.
    pub findings: Vec<(&'static str, merge_analyzer::check::Severity)>,
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
    let vendoring = isolation::isolate(
        members,
        isolation,
        origin,
        &mut problems,
        &mut warnings,
        &mut decisions,
    );
    std::mem::take(&mut problems).finish(())?;
    // A member whose tonic or prost is vendored (a deep pin under `exact`) links its own
    // copies: its generated code is never shared with members on the shared ones.
    let own_framework: BTreeSet<String> = vendoring
        .vendored
        .iter()
        .filter(|v| ["tonic", "tonic-prost", "prost"].contains(&v.name.as_str()))
        .flat_map(|v| members.iter().filter(move |m| m.name == v.member))
        .flat_map(|m| m.local_packages().map(|p| p.name.to_string()))
        .collect();
    let decision = &decision.without(&own_framework);

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
    let checked = merge_analyzer::check::check_group(name, members, isolation);
    let findings = checked.findings;
    let places = places(members);
    // Members on a tonic the rewrite does not know (let through by `--allow unsupported-tonic`).
    let unknown_members: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.code == CheckCode::UnsupportedTonic)
        .map(|f| f.member.as_str())
        .collect();
    let mitigations = mitigate::plan(&findings, places);
    warnings.extend(mitigations.warnings.iter().cloned());
    for e in refuse::refusals(&findings, members, &mitigations, allow) {
        problems.push(e);
    }
    std::mem::take(&mut problems).finish(())?;
    let layout = Layout::new(members);
    let mut files = BTreeMap::new();
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
                copy::copy_package(
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
                    &mut copy::Protos {
                        package: &package,
                        mend: mitigations.members.get(&m.name),
                        decision,
                        includes: &mut includes,
                        rewrite: !unknown_members.contains(m.name.as_str()),
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
        let other_bins = m.other_bins();
        for (dir, _) in m
            .local_packages()
            .filter(|p| !layout::TOOL_CRATES.contains(&p.name.as_str()))
            .filter_map(|p| {
                p.manifest_path
                    .parent()
                    .map(|d| (d.as_std_path().to_path_buf(), ()))
            })
        {
            order::scan_dir(&dir, &other_bins, &mut uses);
        }
        starts.insert(m.name.clone(), (uses, lib_name));
    }
    // Members on a tonic the rewrite does not know (let through by `--allow
    // unsupported-tonic`): their packages' generated code is left as it is.
    let unknown_tonic: BTreeSet<PathBuf> = members
        .iter()
        .filter(|m| unknown_members.contains(m.name.as_str()))
        .flat_map(|m| m.local_packages())
        .filter_map(|p| p.manifest_path.parent())
        .map(|d| layout::normalize(d.as_std_path()))
        .collect();
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
        copy::copy_package(
            dir,
            &copy,
            &cx,
            &role,
            entry_file.as_deref(),
            &mut files,
            &mut problems,
            &mut copy::Protos {
                package,
                mend: mend.as_ref(),
                decision,
                includes: &mut includes,
                rewrite: !unknown_tonic.contains(dir),
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
    // The copies depend on their members' vendored versions, which are copied in.
    isolation::redirect_copies(
        &vendoring,
        members,
        &layout,
        locals.keys(),
        &entry_copies,
        &mut files,
        &mut problems,
        &mut workspace_members,
    );
    isolation::copy_vendored(
        &vendoring,
        members,
        &mut files,
        &mut problems,
        &mut workspace_members,
    );
    problems.finish(())?;
    // Servers become reachable in-process only through their tonic's serve hook.
    serve_hook::patch_vendored(&vendoring, tools, &mut files, &mut warnings);

    // The members' workspace roots' [profile] and [patch], and their cargo configuration.
    let carried = match roots::carry(members, &layout) {
        Ok(c) => c,
        Err((file, e)) => {
            return Err(ImportError::one(
                InputError::new(&file, None, e).code(InputCode::MalformedInput),
            ));
        }
    };
    warnings.extend(carried.warnings);
    if let Some(config) = carried.config {
        files.insert(PathBuf::from(roots::CONFIG), config.into_bytes());
    }
    let (profile, conflicts) = manifest::merge_tables(carried.profiles);
    for (key, kept, other) in conflicts {
        warnings.push(format!(
            "[profile] `{key}`: members disagree; kept {kept} over {other}"
        ));
    }
    let (mut patch, conflicts) = manifest::merge_tables(carried.patches);
    for (key, kept, other) in conflicts {
        warnings.push(format!(
            "[patch] `{key}`: members disagree; kept {kept} over {other}"
        ));
    }
    serve_hook::patch_shared(
        members,
        &vendoring,
        tools,
        &mut files,
        &mut patch,
        &mut warnings,
    );
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
    // Services a member serves whose generated code is left as it is (an unknown tonic): it
    // never registers, so only the address tells its service from another member's of the
    // same name (two members that register one service are told apart at run time).
    let by_address: Vec<String> = uses
        .iter()
        .filter(|(m, _)| unknown_members.contains(m.as_str()))
        .flat_map(|(_, u)| u.serves.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let steps: Vec<Vec<main_rs::Start>> = order::steps(&uses)
        .into_iter()
        .map(|step| {
            step.into_iter()
                .map(|m| {
                    let (u, lib) = &starts[&m];
                    let keys = checked.env_keys.get(&m).cloned().unwrap_or_default();
                    let member = members.iter().find(|x| x.name == m);
                    let program = member.map_or_else(|| m.clone(), |x| x.bin.name.clone());
                    main_rs::Start {
                        env: mitigations.reads(&m, keys),
                        program,
                        version: member
                            .map(|x| x.package.version.to_string())
                            .unwrap_or_default(),
                        commit: member
                            .and_then(|x| {
                                let c = x.commit.as_ref()?;
                                Some(if x.dirty {
                                    format!("{c}-dirty")
                                } else {
                                    c.clone()
                                })
                            })
                            .unwrap_or_default(),
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
        main_rs::render(name, &steps, &mitigations.env_fallbacks, &by_address).into_bytes(),
    );
    includes.retain(|package, _| !own_framework.contains(package));
    let notes = mitigations.notes.clone();
    // Build-only crates at several versions: one version in the merged graph, said.
    let picks = lock::build_only(members);
    for b in &picks {
        for m in b.conflict.versions.values().flatten() {
            decisions
                .entry(m.clone())
                .or_default()
                .push(format!("build-only {} {}", b.conflict.name, b.picked));
        }
    }
    Ok(Group {
        name: name.to_owned(),
        files,
        seed: lock::seed(members, &picks),
        picks: picks.iter().map(lock::BuildOnly::describe).collect(),
        warnings,
        notes,
        env_fallbacks: mitigations.env_fallbacks.clone(),
        decisions,
        packages,
        includes,
        frameworks: frameworks(members),
        protos: decision.clone(),
        findings: findings
            .iter()
            .map(|f| (f.code.name(), f.severity))
            .collect(),
    })
}

/// Where each member's own code is, for the mitigations.
fn places(members: &[Member]) -> mitigate::Places {
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
    places
}

/// The environment keys build namespaces for group `name` (`<MEMBER>_<KEY>`, `<KEY>`), as
/// [`group`] decides them, without making the workspace: what `render` gives the merged
/// deployment.
pub fn env_fallbacks(
    name: &str,
    members: &[Member],
    isolation: Isolation,
) -> Vec<(String, String)> {
    let checked = merge_analyzer::check::check_group(name, members, isolation);
    mitigate::plan(&checked.findings, places(members)).env_fallbacks
}

/// Per local package, the tonic and prost (compatibility buckets) its member links: generated
/// code is shared only between packages on the same ones.
fn frameworks(members: &[Member]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in members {
        let mut linked: Vec<String> = m
            .linked_packages()
            .into_iter()
            .filter(|p| ["tonic", "prost", "tonic-prost"].contains(&p.name.as_str()))
            .map(|p| {
                let (major, minor, patch) = merge_analyzer::versions::bucket(&p.version);
                let version = match (major, minor) {
                    (0, 0) => format!("0.0.{patch}"),
                    (0, _) => format!("0.{minor}"),
                    _ => major.to_string(),
                };
                format!("{} {version}", p.name)
            })
            .collect();
        linked.sort();
        linked.dedup();
        let framework = linked.join(", ");
        for p in m.local_packages() {
            out.entry(p.name.to_string())
                .or_insert_with(|| framework.clone());
        }
    }
    out
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
