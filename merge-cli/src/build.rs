//! `cargo merge build`: reads the plan, makes every group's merged workspace in memory
//! (synth), and only when all of them could be made writes them (only what changed, atomically)
//! and merge.lock beside the plan, then compiles each group with cargo, whose output streams
//! through. Prints where each merged binary is and how to run it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use merge_analyzer::error::InputCode;
use merge_analyzer::members::{self, CargoOptions, Member};
use merge_analyzer::parsed::Parsed;
use merge_analyzer::plan::Isolation;
use merge_analyzer::sources;
use serde::Serialize;

use crate::cli::{BuildArgs, MessageFormat};
use crate::diagnostic::Diagnostic;
use crate::synth::{self, Group, Told};
use crate::{Failure, fsx, mergelock, release_manifest, status};

/// The `merged-binary` JSON line.
#[derive(Debug, Serialize)]
struct MergedBinary<'a> {
    reason: &'static str,
    group: &'a str,
    path: &'a Path,
    members: Vec<&'a str>,
    /// Its `merge-manifest.json`.
    manifest: &'a Path,
}

pub fn exec(args: &BuildArgs) -> Result<(), Failure> {
    run(args, true).map(|_| ())
}

/// A group built.
#[derive(Debug)]
pub struct Built {
    pub group: String,
    pub binary: PathBuf,
    /// The environment keys its members read namespaced: (`<MEMBER>_<KEY>`, `<KEY>`).
    pub env_fallbacks: Vec<(String, String)>,
    /// Its release manifest, and the binary's sha256 as the manifest gives it.
    pub manifest: PathBuf,
    pub sha256: String,
    /// Each member: name, version, commit.
    pub members: Vec<(String, String, Option<String>)>,
}

/// Builds the plan's groups; `say`: print each binary on stdout (status lines go to stderr
/// either way).
pub fn run(args: &BuildArgs, say: bool) -> Result<Vec<Built>, Failure> {
    let json = args.message_format == MessageFormat::Json;
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let plan_path = match (&args.plan, &args.traffic) {
        (Some(plan), _) => plan.clone(),
        (None, Some(traffic)) => {
            let path = out.join("merge.toml");
            let text = crate::analyze::plan_for(traffic, &out)?;
            let changed = fsx::write_all_if_changed(&[(&path, text.as_bytes())])?;
            let verb = if changed[0] { "Planned" } else { "Unchanged" };
            status::status(verb, &path.display().to_string());
            path
        }
        (None, None) => unreachable!("clap requires --plan or --traffic"),
    };
    let mut plan =
        members::read_plan(&plan_path).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let isolation = args.isolation.map_or(plan.plan.isolation, Isolation::from);
    let wanted: Vec<String> = plan.groups(&args.group);
    let mut diagnostics = Vec::new();
    for w in &wanted {
        if !plan.plan.group.iter().any(|g| g.name == *w) {
            diagnostics.push(Diagnostic::usage(
                InputCode::UnknownGroup,
                format!("the plan `{}` has no group `{w}`", plan_path.display()),
                "name a [[group]] of the plan with --group, or leave it out to build every group",
            ));
        }
    }
    if !diagnostics.is_empty() {
        return Err(Failure::Input(diagnostics));
    }
    // The merge.lock this build rewrites must be readable now, not once everything is built:
    // its records of the groups not built here are carried over.
    let lock_path = plan.dir.join("merge.lock");
    if let Ok(previous) = std::fs::read_to_string(&lock_path)
        && let Err(e) = merge_analyzer::lock::records_not_built(&previous, &Default::default())
    {
        let mut d = Diagnostic::usage(
            InputCode::MalformedInput,
            e.message,
            "merge.lock is written by `cargo merge build`; fix the file or remove it",
        );
        d.file = Some(lock_path);
        d.line = e.line;
        return Err(Failure::Input(vec![d]));
    }
    // Members from git, checked out under the output folder at their pins.
    let fetch = sources::Fetch {
        offline: args.offline || args.frozen || args.checked_out,
    };
    let sources = sources::checkout(&mut plan, &wanted, &out, fetch)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let tools = crate::tools::locate(&out).map_err(|e| Failure::Other(e.into()))?;
    let allow: BTreeSet<String> = args.allow.iter().cloned().collect();
    let options = CargoOptions {
        offline: args.offline,
        frozen: args.frozen,
    };

    // Everything is made before anything is written.
    // Each group's member sources are parsed once, for both makings of its workspace.
    let mut made: Vec<(Group, Vec<Member>, Parsed)> = Vec::new();
    for name in &wanted {
        let members = match members::load_group(&plan, name, &options) {
            Ok(m) => m,
            Err(e) => {
                diagnostics.extend(Diagnostic::from_import(e));
                continue;
            }
        };
        let dir = out.join(name);
        if let Some(d) = overlap(&dir, &members) {
            diagnostics.push(d);
        }
        let origin = (plan.path.as_path(), plan.group_line(name));
        let decision = synth::protos::Decision::load(&out.join(name));
        let parsed = Parsed::default();
        let inputs = synth::Inputs {
            name,
            members: &members,
            isolation,
            tools: &tools.crates,
            origin,
            allow: &allow,
            parsed: &parsed,
        };
        match synth::group(&inputs, &decision) {
            Ok(g) => made.push((g, members, parsed)),
            Err(e) => diagnostics.extend(Diagnostic::from_import(e)),
        }
    }
    if !diagnostics.is_empty() {
        return Err(Failure::Input(diagnostics));
    }

    tools.write()?;
    let mut reseeded = BTreeSet::new();
    for (g, _, _) in &made {
        for told in &g.told {
            tell(json, told, &g.name)?;
        }
        if write_group(&out.join(&g.name), g)? {
            reseeded.insert(g.name.clone());
        }
    }

    let interactive = !json && std::io::stderr().is_terminal();
    let mut built = Vec::new();
    for (g, members, parsed) in made.iter_mut() {
        if !json {
            status::status(
                "Building",
                &format!("group `{}` ({} members)", g.name, members.len()),
            );
        }
        let dir = out.join(&g.name);
        // --locked holds the merged lockfile once it exists; a fresh seed must be completed.
        let locked = (args.locked || args.frozen) && !reseeded.contains(&g.name);
        let (mut binary, out_dirs) = cargo_build(&dir, g, args, locked, interactive)?;
        // Which generated proto code is identical is known now: when that changes what is
        // shared, the workspace is made again and built once more.
        let decision = share_protos(g, &out_dirs);
        if decision != g.protos {
            let origin = (plan.path.as_path(), plan.group_line(&g.name));
            let inputs = synth::Inputs {
                name: &g.name,
                members,
                isolation,
                tools: &tools.crates,
                origin,
                allow: &allow,
                parsed,
            };
            let remade = synth::group(&inputs, &decision)
                .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
            if !json {
                let shared: Vec<&str> = decision.shared.iter().map(|s| s.proto.as_str()).collect();
                status::status(
                    "Sharing",
                    &format!(
                        "generated code of {} across members; building again",
                        shared.join(", ")
                    ),
                );
            }
            write_group(&dir, &remade)?;
            *g = remade;
            binary = cargo_build(&dir, g, args, false, interactive)?.0;
        }
        // The release manifest: what was built, from what, and how to build it again.
        let manifest = dir.join(release_manifest::FILE);
        let cx = mergelock::Context {
            plan: &plan,
            isolation,
            group: &g.name,
            sources: &sources,
        };
        let records = members
            .iter()
            .map(|m| {
                let decisions = g.decisions.get(&m.name).cloned().unwrap_or_default();
                mergelock::record_of(&cx, m, decisions)
            })
            .collect();
        let document = release_manifest::Build {
            plan: &plan.path,
            release: args.release,
            target: args.target.as_deref(),
            isolation: mergelock::isolation_name(isolation),
            features: &args.features,
            allow: &allow,
        }
        .manifest(&g.name, &binary, records, &g.findings)?;
        let sha256 = document.binary.sha256.clone();
        let member_list = document
            .members
            .iter()
            .map(|r| (r.name.clone(), r.version.clone(), r.git_commit.clone()))
            .collect();
        let mut text =
            serde_json::to_string_pretty(&document).context("cannot write the release manifest")?;
        text.push('\n');
        fsx::write_all_if_changed(&[(&manifest, text.as_bytes())])?;
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        built.push(Built {
            group: g.name.clone(),
            binary: binary.clone(),
            env_fallbacks: g.env_fallbacks.clone(),
            manifest: manifest.clone(),
            sha256,
            members: member_list,
        });
        if !say {
            continue;
        }
        if json {
            let line = MergedBinary {
                reason: "merged-binary",
                group: &g.name,
                path: &binary,
                members: names,
                manifest: &manifest,
            };
            crate::json::line(&line).context("failed to write to stdout")?;
        } else {
            status::status("Merged", &format!("`{}`: {}", g.name, names.join(", ")));
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", binary.display());
            let _ = writeln!(
                stdout,
                "  run it with each member's usual environment (listen addresses, peer URLs); \
                 MERGE_METRICS_ADDR=127.0.0.1:9100 serves its call counters"
            );
            let _ = writeln!(stdout, "  release manifest: {}", manifest.display());
        }
    }
    if args.github {
        github_report(&built).write()?;
    }
    // Written once every group built: it describes binaries that exist.
    let lock = plan.dir.join("merge.lock");
    let previous = std::fs::read_to_string(&lock).ok();
    let groups: Vec<(&Group, &[Member])> = made.iter().map(|(g, m, _)| (g, m.as_slice())).collect();
    let text = mergelock::render(&plan, isolation, &sources, &groups, previous.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    fsx::write_all_if_changed(&[(&lock, text.as_bytes())])?;
    Ok(built)
}

/// For a GitHub Actions step: `groups`, `binary` and `manifest` (one line per group), and a
/// table of what was built.
fn github_report(built: &[Built]) -> crate::github::Report {
    use crate::github::cell;
    let mut r = crate::github::Report::default();
    let lines = |f: &dyn Fn(&Built) -> String| built.iter().map(f).collect::<Vec<_>>().join("\n");
    r.output("groups", lines(&|b| b.group.clone()));
    r.output("binary", lines(&|b| b.binary.display().to_string()));
    r.output("manifest", lines(&|b| b.manifest.display().to_string()));
    r.summary.push_str(
        "### cargo merge build\n\n| group | binary | sha256 | members |\n|---|---|---|---|\n",
    );
    for b in built {
        let members: Vec<String> = b
            .members
            .iter()
            .map(|(name, version, commit)| match commit {
                Some(c) => format!("{name} {version} ({})", c.get(..12).unwrap_or(c)),
                None => format!("{name} {version}"),
            })
            .collect();
        r.summary.push_str(&format!(
            "| {} | `{}` | `{}` | {} |\n",
            cell(&b.group),
            cell(&b.binary.display().to_string()),
            cell(&b.sha256),
            cell(&members.join(", "))
        ));
    }
    r.summary.push('\n');
    r
}

/// The output folder of a group must not overlap a member's sources: neither inside a local
/// package (other than its `target/`) nor around one.
fn overlap(dir: &Path, members: &[Member]) -> Option<Diagnostic> {
    let dir = merge_analyzer::paths::normalize(dir);
    for m in members {
        let mut roots: Vec<PathBuf> = m
            .local_packages()
            .filter_map(|p| {
                p.manifest_path
                    .parent()
                    .map(|d| d.as_std_path().to_path_buf())
            })
            .collect();
        roots.push(m.metadata.workspace_root.as_std_path().to_path_buf());
        for root in roots {
            let root = merge_analyzer::paths::normalize(&root);
            let inside = dir.starts_with(&root) && !dir.starts_with(root.join("target"));
            if inside || root.starts_with(&dir) {
                return Some(Diagnostic::usage(
                    InputCode::OutputConflict,
                    format!(
                        "the output folder `{}` overlaps `{}` (member `{}`), which cargo merge never writes to",
                        dir.display(),
                        root.display(),
                        m.name
                    ),
                    "choose another --out (the default is target/merge under the current folder)",
                ));
            }
        }
    }
    None
}

/// Writes a group's files (only those that changed), removes files of an earlier build that
/// are no longer made, and copies the lockfile seed to Cargo.lock when the seed changed.
/// Returns whether Cargo.lock was (re)seeded.
fn write_group(dir: &Path, g: &Group) -> anyhow::Result<bool> {
    let seed_path = dir.join("merge-seed.lock");
    let seed_changed = std::fs::read(&seed_path).ok().as_deref() != Some(g.seed.as_bytes());
    let mut files: Vec<(PathBuf, &[u8])> = g
        .files
        .iter()
        .map(|(rel, bytes)| (dir.join(rel), bytes.as_slice()))
        .collect();
    files.push((seed_path, g.seed.as_bytes()));
    let lock = dir.join("Cargo.lock");
    let reseeded = seed_changed || !lock.exists();
    if reseeded {
        files.push((lock, g.seed.as_bytes()));
    }
    // The list of what this build made: the next build removes only what it listed.
    let list_path = dir.join(FILE_LIST);
    let previous: BTreeSet<String> = std::fs::read_to_string(&list_path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let made: BTreeSet<String> = g
        .files
        .keys()
        .map(|rel| synth::manifest::slash(rel))
        .collect();
    let list: String = made.iter().map(|l| format!("{l}\n")).collect();
    files.push((list_path, list.as_bytes()));
    let refs: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (p.as_path(), *b)).collect();
    fsx::write_all_if_changed(&refs)?;
    for stale in previous.difference(&made) {
        let rel = Path::new(stale);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            continue;
        }
        let path = dir.join(rel);
        if path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("failed to remove the stale `{}`", path.display()))?;
        }
    }
    Ok(reseeded)
}

/// The files a build made in a group's folder, one relative path a line.
const FILE_LIST: &str = "merge-files.txt";

/// Runs cargo on the merged workspace, cargo's output streaming through to stderr; the path of
/// the merged binary.
fn cargo_build(
    dir: &Path,
    g: &Group,
    args: &BuildArgs,
    locked: bool,
    interactive: bool,
) -> Result<(PathBuf, BTreeMap<String, PathBuf>), Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // The members' `[env]` (synth/roots.rs), wherever cargo is run from.
    let config = dir.join(synth::roots::CONFIG);
    if config.is_file() {
        cmd.arg("--config").arg(&config);
    }
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args([
            "--bin",
            &g.name,
            "--message-format",
            "json-render-diagnostics",
        ]);
    if args.release {
        cmd.arg("--release");
    }
    if args.offline || args.frozen {
        cmd.arg("--offline");
    }
    if locked {
        cmd.arg("--locked");
    }
    if let Some(t) = &args.target {
        cmd.args(["--target", t]);
    }
    for f in &args.features {
        cmd.args(["--features", f]);
    }
    if let Some(j) = args.jobs {
        cmd.args(["-j", &j.to_string()]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("failed to run cargo")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut binary = None;
    let mut out_dirs = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<cargo_metadata::Message>(&line) else {
            continue;
        };
        match message {
            cargo_metadata::Message::CompilerArtifact(a) => {
                if a.target.name == g.name && a.executable.is_some() {
                    binary = a.executable.map(|p| p.into_std_path_buf());
                } else if interactive {
                    let package = package_name(&a.package_id.repr);
                    if let Some(member) = g.packages.get(&package) {
                        status::status("Compiled", &format!("member `{member}` ({package})"));
                    }
                }
            }
            cargo_metadata::Message::BuildScriptExecuted(b) => {
                out_dirs.insert(
                    package_name(&b.package_id.repr),
                    b.out_dir.into_std_path_buf(),
                );
            }
            _ => {}
        }
    }
    let exit = child.wait().context("failed to wait for cargo")?;
    if !exit.success() {
        return Err(Failure::Other(anyhow::anyhow!(
            "cargo could not build group `{}` (its workspace is `{}`)",
            g.name,
            dir.display()
        )));
    }
    let binary = binary.ok_or_else(|| {
        Failure::Other(anyhow::anyhow!(
            "cargo built group `{}` but named no binary `{}`",
            g.name,
            g.name
        ))
    })?;
    Ok((binary, out_dirs))
}

/// What to share, from the generated files of the build that just ran.
fn share_protos(g: &Group, out_dirs: &BTreeMap<String, PathBuf>) -> synth::protos::Decision {
    let candidates: Vec<synth::protos::Candidate> = g
        .includes
        .iter()
        .filter_map(|(package, (copy, protos))| {
            let sources = g
                .files
                .iter()
                .filter(|(rel, _)| {
                    rel.starts_with(copy) && rel.extension().is_some_and(|e| e == "rs")
                })
                .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
                .collect();
            Some(synth::protos::Candidate {
                package: package.clone(),
                out_dir: out_dirs.get(package)?.clone(),
                protos: protos.clone(),
                sources,
                framework: g.frameworks.get(package).cloned().unwrap_or_default(),
            })
        })
        .collect();
    synth::protos::decide(&candidates)
}

/// The package name in a package id (`path+file:///x/y#name@1.0.0` or `registry+...#name@1.0`).
/// (`path+file:///x/catalog#0.1.0` when the name is the folder's).
fn package_name(id: &str) -> String {
    let (url, fragment) = id.split_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _)) => name.rsplit('/').next().unwrap_or(name).to_owned(),
        None => url.rsplit('/').next().unwrap_or(url).to_owned(),
    }
}

/// A [`Told`] as a JSON line.
#[derive(Serialize)]
struct SaidLine<'a> {
    reason: &'static str,
    group: &'a str,
    message: &'a str,
}

/// Tells `told` of `group`: a status line on stderr, or in JSON mode a line on stdout
/// (`build-warning`, `mended`, `picked`).
fn tell(json: bool, told: &Told, group: &str) -> Result<(), Failure> {
    // The JSON reason, and the status word (none: a warning).
    let (reason, word, message) = match told {
        Told::Warning(m) => ("build-warning", None, m),
        Told::Mended(m) => ("mended", Some("Mended"), m),
        Told::Picked(m) => ("picked", Some("Picked"), m),
    };
    if !json {
        let text = format!("group `{group}`: {message}");
        match word {
            Some(word) => status::status(word, &text),
            None => status::warning(&text),
        }
        return Ok(());
    }
    let line = SaidLine {
        reason,
        group,
        message,
    };
    crate::json::line(&line).context("failed to write to stdout")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn package_names_come_out_of_package_ids() {
        assert_eq!(
            package_name("path+file:///m/members/catalog#0.1.0"),
            "catalog"
        );
        assert_eq!(
            package_name("path+file:///m/members/gateway-entry#gateway-merge-entry@0.1.0"),
            "gateway-merge-entry"
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#hex@0.4.3"),
            "hex"
        );
    }
}
