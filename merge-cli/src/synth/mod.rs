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
mod error;
pub mod inherit;
mod isolation;
pub mod layout;
pub mod lock;
pub mod main_rs;
pub mod manifest;
pub mod mitigate;
pub mod order;
mod packages;
pub mod protos;
mod refuse;
pub mod roots;
pub mod serve_hook;
pub mod source;
mod starts;
#[cfg(test)]
mod tests;
pub mod vendor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::ImportError;
use merge_analyzer::codes::CheckCode;
use merge_analyzer::error::{InputCode, InputError, Problems};
use merge_analyzer::members::Member;
use merge_analyzer::parsed::Parsed;
use merge_analyzer::plan::Isolation;

use layout::Layout;
use manifest::ToolCrates;

/// What a build tells of a group before compiling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// Something the user should know (a profile conflict, version drift under `unify`, a
    /// `#[global_allocator]` removed).
    Warning(String),
    /// A check finding build made harmless in the copies.
    Mended(String),
    /// The one version the merged graph holds of a crate members build with at several
    /// (build-only), said as check says it.
    Picked(String),
}

/// A group's merged workspace, made in memory.
#[derive(Debug)]
pub struct Group {
    pub name: String,
    /// Relative path -> contents.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// The merged lockfile's seed.
    pub seed: String,
    /// What build tells of the group before compiling it, in order: warnings, then what it
    /// mended, then the versions it picked.
    pub told: Vec<Told>,
    /// Environment keys several members read, namespaced: (`<MEMBER>_<KEY>`, `<KEY>`).
    pub env_fallbacks: Vec<(String, String)>,
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

/// What a group's merged workspace is made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub name: &'a str,
    pub members: &'a [Member],
    pub isolation: Isolation,
    pub tools: &'a ToolCrates,
    /// The plan file and the group's line in it, named by problems of the group as a whole.
    pub origin: (&'a Path, Option<usize>),
    /// The check codes `--allow` lets through.
    pub allow: &'a BTreeSet<String>,
    /// The members' sources, parsed once for check, the start order and the rewrite.
    pub parsed: &'a Parsed,
}

/// Makes the merged workspace of a group from its members, sharing generated proto code as
/// `decision` says. Plan, then apply: what the policy, check and the layout decide is made
/// from the members alone (and refused before anything is made); the files are then made
/// from those decisions.
pub fn group(inputs: &Inputs<'_>, decision: &protos::Decision) -> Result<Group, ImportError> {
    let Inputs {
        name,
        members,
        isolation,
        tools,
        origin,
        allow,
        parsed,
    } = *inputs;

    // Plan.
    let isolated = isolation::isolate(members, isolation, origin);
    refuse(isolated.problems)?;
    let vendoring = isolated.vendoring;
    let own_framework = own_framework(members, &vendoring);
    let decision = &decision.without(&own_framework);
    refuse(packages::duplicates(members, origin))?;
    // What check finds, build mends where it can; what it cannot is refused unless allowed.
    let checked = merge_analyzer::check::check_group(name, members, isolation, parsed);
    let findings = checked.findings;
    // Members on a tonic the rewrite does not know (let through by `--allow unsupported-tonic`).
    let unknown_tonic: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.code == CheckCode::UnsupportedTonic)
        .map(|f| f.member.as_str())
        .collect();
    let mitigations = mitigate::plan(&findings, places(members));
    let mut warnings = isolated.warnings;
    warnings.extend(mitigations.warnings.iter().cloned());
    refuse(refuse::refusals(&findings, members, &mitigations, allow))?;
    let layout = Layout::new(members);
    let planned = packages::plan(members, &layout, &unknown_tonic);
    let starts = starts::plan(
        members,
        &planned.libs,
        &checked.env_keys,
        &mitigations,
        &unknown_tonic,
        parsed,
    );

    // Apply.
    let mut files = BTreeMap::new();
    let mut problems = Problems::default();
    let mut includes: BTreeMap<String, (PathBuf, BTreeSet<String>)> = BTreeMap::new();
    let mut workspace_members: BTreeSet<PathBuf> = BTreeSet::new();
    for c in &planned.copies {
        let mend = match &c.mend {
            packages::Mend::Member(m) => mitigations.members.get(m).cloned(),
            packages::Mend::Owners => mitigations.for_copy(&c.original),
        };
        copy::copy_package(
            c,
            &copy::With {
                layout: &layout,
                tools,
                mend: mend.as_ref(),
                decision,
                parsed,
            },
            &mut files,
            &mut problems,
            &mut includes,
        );
        workspace_members.insert(c.dir.clone());
    }
    // The generated proto code shared by several packages, compiled once.
    if !decision.shared.is_empty() {
        let deps = protos_dependencies(members, decision, tools);
        match decision.files(&deps) {
            Ok(more) => files.extend(more),
            Err(e) => problems.push(InputError::new(origin.0, origin.1, e.to_string())),
        }
        workspace_members.insert(PathBuf::from(protos::DIR));
    }
    // The copies depend on their members' vendored versions, which are copied in.
    isolation::redirect_copies(
        &vendoring,
        members,
        &layout,
        &planned.locals,
        &planned.entry_copies,
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
    let mut ws: Vec<PathBuf> = vec![PathBuf::from(".")];
    ws.extend(workspace_members);
    root_manifest(
        (name, members, tools),
        &layout,
        &vendoring,
        ws,
        &planned.entries,
        &mut files,
        &mut warnings,
    )?;
    files.insert(
        PathBuf::from("src/main.rs"),
        main_rs::render(
            name,
            &starts.steps,
            &mitigations.env_fallbacks,
            &starts.by_address,
        )
        .into_bytes(),
    );
    includes.retain(|package, _| !own_framework.contains(package));
    // Build-only crates at several versions: one version in the merged graph, said.
    let picks = lock::build_only(members);
    let mut decisions = isolated.decisions;
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
        told: (warnings.into_iter().map(Told::Warning))
            .chain(mitigations.notes.iter().cloned().map(Told::Mended))
            .chain(picks.iter().map(|p| Told::Picked(p.describe())))
            .collect(),
        env_fallbacks: mitigations.env_fallbacks.clone(),
        decisions,
        packages: planned.packages,
        includes,
        frameworks: frameworks(members),
        protos: decision.clone(),
        findings: findings
            .iter()
            .map(|f| (f.code.name(), f.severity))
            .collect(),
    })
}

/// `Err` with every problem of `found`, if any.
fn refuse(found: Vec<InputError>) -> Result<(), ImportError> {
    let mut problems = Problems::default();
    for e in found {
        problems.push(e);
    }
    problems.finish(())
}

/// The crates whose versions decide whether two packages' generated code is the same code.
const FRAMEWORK: [&str; 3] = ["tonic", "tonic-prost", "prost"];

/// The local packages of members whose tonic or prost is vendored (a deep pin under `exact`):
/// they link their own copies, so their generated code is never shared with members on the
/// shared ones.
fn own_framework(members: &[Member], vendoring: &vendor::Plan) -> BTreeSet<String> {
    vendoring
        .vendored
        .iter()
        .filter(|v| FRAMEWORK.contains(&v.name.as_str()))
        .flat_map(|v| members.iter().filter(move |m| m.name == v.member))
        .flat_map(|m| m.local_packages().map(|p| p.name.to_string()))
        .collect()
}

/// The workspace's root manifest, made from the members' workspace roots' `[profile]` and
/// `[patch]` (their conflicts said), the serve hook's patches of the shared tonic, the
/// workspace members `ws` and the entry libraries; with the members' cargo configuration.
fn root_manifest(
    (name, members, tools): (&str, &[Member], &ToolCrates),
    layout: &Layout,
    vendoring: &vendor::Plan,
    ws: Vec<PathBuf>,
    entries: &[(String, String, PathBuf)],
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let carried = roots::carry(members, layout).map_err(|(file, e)| {
        ImportError::one(InputError::new(&file, None, e).code(InputCode::MalformedInput))
    })?;
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
    serve_hook::patch_shared(members, vendoring, tools, files, &mut patch, warnings);
    let root = manifest::Root {
        group: name,
        members: ws,
        entries: entries.to_vec(),
        tools,
        profile,
        patch,
    };
    files.insert(PathBuf::from("Cargo.toml"), root.render().into_bytes());
    Ok(())
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
    let checked = merge_analyzer::check::check_group(name, members, isolation, &Parsed::default());
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
            .filter(|p| FRAMEWORK.contains(&p.name.as_str()))
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
