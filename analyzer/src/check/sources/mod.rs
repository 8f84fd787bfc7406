//! The findings read from the members' sources (scan/ over every local package's `src/`): the
//! sites, and the findings of process exits, environment writes and `static mut` here;
//! initialisations in inits.rs, what a process has one of in globals.rs, and the environment
//! keys and listen addresses members collide on in collisions.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::scan::{self, Event};
use super::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::Member;
use crate::parsed::Parsed;

mod collisions;
mod globals;
mod inits;
mod stacks;

pub use inits::softenable;

/// A source event with where it is.
#[derive(Debug, Clone)]
struct Site {
    member: String,
    /// The local package the file belongs to: its name and folder.
    package: String,
    package_dir: PathBuf,
    /// Absolute.
    path: PathBuf,
    line: usize,
    column: usize,
    event: Event,
}

impl Site {
    fn place(&self) -> (&Path, usize, usize) {
        (&self.path, self.line, self.column)
    }
}

/// The members that compile each local package (a shared crate has several).
type Owners<'a> = BTreeMap<&'a Path, BTreeSet<&'a str>>;

/// The findings read from the members' sources.
/// Also returns the environment keys each member reads by their literal names
/// (`env::var("PORT")`, clap's `env = "PORT"`): what the merged binary's `--help` lists.
pub(super) fn source_findings(
    group: &str,
    members: &[Member],
    parsed: &Parsed,
    out: &mut Vec<Finding>,
) -> BTreeMap<String, BTreeSet<String>> {
    let sites: Vec<Site> = members.iter().flat_map(|m| sites_of(m, parsed)).collect();
    let mut env_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &sites {
        if let Event::EnvRead { key } = &s.event {
            env_keys
                .entry(s.member.clone())
                .or_default()
                .insert(key.clone());
        }
    }
    let mut owners: Owners<'_> = BTreeMap::new();
    for s in &sites {
        owners
            .entry(s.package_dir.as_path())
            .or_default()
            .insert(s.member.as_str());
    }
    let finding =
        |code: CheckCode, severity: Severity, site: &Site, message: String, help: &str| {
            let member = members.iter().find(|m| m.name == site.member);
            finding_at(
                group,
                member,
                code,
                severity,
                Some(site.place()),
                message,
                help,
            )
        };
    inits::inits(&sites, members, &finding, out);
    globals::allocators(&sites, &owners, &finding, out);
    collisions::environment(&sites, &owners, &finding, out);
    for s in &sites {
        let Event::Call { path, in_main } = &s.event else {
            continue;
        };
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        match names.as_slice() {
            ["std" | "core", "process", what @ ("exit" | "abort")] if !in_main => {
                out.push(finding(
                    CheckCode::ProcessExit,
                    Severity::Warning,
                    s,
                    format!("`{}` calls `process::{what}` outside `main`: in one process it ends every member", s.member),
                    "return an error to `main` instead, so the merged binary can say which member failed",
                ));
            }
            ["std", "env", what @ ("set_var" | "remove_var")] => {
                out.push(finding(
                    CheckCode::EnvSetVar,
                    Severity::Warning,
                    s,
                    format!("`{}` calls `env::{what}`: the environment is shared by every member of the process", s.member),
                    "pass the value explicitly instead of through the process environment",
                ));
            }
            _ => {}
        }
    }
    for s in once_per_place(&sites) {
        if let Event::StaticMut { name } = &s.event {
            out.push(finding(
                CheckCode::StaticMut,
                Severity::Note,
                s,
                format!("`{}` has a `static mut {name}`: it is one per process, shared with the other members' code only if they link the same crate", s.member),
                "prefer an atomic, a `OnceLock` or state owned by the service",
            ));
        }
    }
    globals::metrics(&sites, &finding, out);
    collisions::listeners(&sites, &owners, &finding, out);
    globals::process_wide_calls(&sites, &finding, out);
    stacks::stacks(&sites, &finding, out);
    env_keys
}

/// The sites with one per place: an item of a crate several members share (a static, an
/// allocator) exists once in the merged binary. Code that runs (a call) is not deduplicated:
/// each member runs it.
fn once_per_place(sites: &[Site]) -> Vec<&Site> {
    let mut seen = BTreeSet::new();
    sites
        .iter()
        .filter(|s| seen.insert((s.path.as_path(), s.line, s.column)))
        .collect()
}

/// The sites with one per place and member.
fn once_per_place_and_member(sites: &[Site]) -> Vec<&Site> {
    let mut seen = BTreeSet::new();
    sites
        .iter()
        .filter(|s| seen.insert((s.member.as_str(), s.path.as_path(), s.line, s.column)))
        .collect()
}

/// Makes a finding at a site.
type Finder<'a> = dyn Fn(CheckCode, Severity, &Site, String, &str) -> Finding + 'a;

/// Every event of a member's local packages' `src/` folders.
fn sites_of(m: &Member, parsed: &Parsed) -> Vec<Site> {
    let mut out = Vec::new();
    for p in m.local_packages() {
        if crate::members::TOOL_CRATES.contains(&p.name.as_str()) {
            continue;
        }
        let Some(dir) = p.manifest_path.parent() else {
            continue;
        };
        let src = dir.as_std_path().join("src");
        // The member's other binaries (`src/bin/migrate.rs`) do not run in the merged binary.
        let other_bins: Vec<PathBuf> = if p.id == m.package.id {
            m.other_bins()
        } else {
            Vec::new()
        };
        let files = walkdir::WalkDir::new(&src)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
            .filter(|e| !other_bins.iter().any(|b| e.path().starts_with(b)));
        let roots: Vec<&Path> = p.targets.iter().map(|t| t.src_path.as_std_path()).collect();
        // Each file read once; the files of its `#[cfg(test)] mod x;` are test code, which the
        // merged binary does not run, whichever order they are walked in.
        let mut scanned = Vec::new();
        let mut tests: Vec<PathBuf> = Vec::new();
        for f in files {
            let Some(source) = parsed.get(f.path()) else {
                continue;
            };
            let Some(file) = &source.file else {
                continue;
            };
            let s = scan::scan_parsed(file, &source.text);
            let root = roots.contains(&f.path());
            for module in &s.test_mods {
                tests.extend(module_files(f.path(), root, module));
            }
            scanned.push((f.into_path(), s.found));
        }
        for (path, found) in scanned {
            if tests.iter().any(|t| path.starts_with(t)) {
                continue;
            }
            for found in found {
                out.push(Site {
                    member: m.name.clone(),
                    package: p.name.to_string(),
                    package_dir: dir.as_std_path().to_path_buf(),
                    path: path.clone(),
                    line: found.line,
                    column: found.column,
                    event: found.event,
                });
            }
        }
    }
    out
}

/// Where the out-of-line module `module` (a path from the module of `file`, `["net", "tests"]`)
/// has its source: `x.rs` and the folder `x/` (for `x/mod.rs` and its own modules), in the
/// folder of `file`'s module's children. That is `file`'s folder for a crate root (`root`) or a
/// `lib.rs`, `main.rs` or `mod.rs`, and `foo/` for `foo.rs`.
fn module_files(file: &Path, root: bool, module: &[String]) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (file.parent(), file.file_stem()) else {
        return Vec::new();
    };
    let own_folder = root
        || file
            .file_name()
            .is_some_and(|n| n == "lib.rs" || n == "main.rs" || n == "mod.rs");
    let mut at = if own_folder {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    at.extend(module.iter().map(|m| m.trim_start_matches("r#")));
    vec![at.with_extension("rs"), at]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_modules_files_are_where_its_declaring_file_puts_children() {
        let files = |file: &str, root: bool, module: &[&str]| {
            let module: Vec<String> = module.iter().map(|m| (*m).to_owned()).collect();
            module_files(Path::new(file), root, &module)
        };
        let paths = |p: [&str; 2]| p.map(PathBuf::from).to_vec();
        assert_eq!(
            files("/m/src/lib.rs", true, &["tests"]),
            paths(["/m/src/tests.rs", "/m/src/tests"])
        );
        assert_eq!(
            files("/m/src/net/mod.rs", false, &["tests"]),
            paths(["/m/src/net/tests.rs", "/m/src/net/tests"])
        );
        assert_eq!(
            files("/m/src/net.rs", false, &["wire", "r#type"]),
            paths(["/m/src/net/wire/type.rs", "/m/src/net/wire/type"])
        );
        // A binary's root is not `main.rs`, and its children are beside it.
        assert_eq!(
            files("/m/src/bin/server.rs", true, &["tests"]),
            paths(["/m/src/bin/tests.rs", "/m/src/bin/tests"])
        );
        // The files and the whole folder are skipped, not their namesakes.
        let [file, folder] =
            <[PathBuf; 2]>::try_from(files("/m/src/main.rs", true, &["tests"])).expect("two");
        assert!(Path::new("/m/src/tests.rs").starts_with(&file));
        assert!(Path::new("/m/src/tests/mod.rs").starts_with(&folder));
        assert!(Path::new("/m/src/tests/fixtures/a.rs").starts_with(&folder));
        assert!(!Path::new("/m/src/tests_util.rs").starts_with(&file));
        assert!(!Path::new("/m/src/tests_util.rs").starts_with(&folder));
    }
}
