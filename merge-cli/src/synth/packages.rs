//! The plan of a group's package copies, made from the members and the layout alone: which
//! folder becomes which copy, in which role ([`Role`]), which binary's root runs, and the
//! entry packages the root manifest lists. Nothing is read or written here; `copy.rs` makes
//! the copies from this plan.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::error::{InputCode, InputError};
use merge_analyzer::members::Member;

use super::layout::{self, Layout};
use super::manifest::{self, Role};

/// One package copy to make.
#[derive(Debug, Clone)]
pub struct Copy {
    /// The original package folder (absolute).
    pub original: PathBuf,
    /// The copy, relative to the group folder.
    pub dir: PathBuf,
    /// The copy's package name.
    pub package: String,
    pub role: Role,
    /// The root of the binary that runs (relative to the package folder), if it is here.
    pub entry_file: Option<PathBuf>,
    /// Whose mitigations it gets.
    pub mend: Mend,
    /// Whether its generated code gets the in-process rewrite (not on a tonic the rewrite
    /// does not know).
    pub rewrite: bool,
}

/// Whose mitigations a copy gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mend {
    /// One member's: the entry copy of a member with a library and a binary.
    Member(String),
    /// What every member compiling the folder can have (a package several members share).
    Owners,
}

/// Every copy of a group's workspace, and what the root manifest and progress need of them.
#[derive(Debug, Default)]
pub struct Packages {
    /// Entry copies first, then every local package once (by original folder).
    pub copies: Vec<Copy>,
    /// The merged binary's dependencies on the members' entry libraries: (library name,
    /// package, copy).
    pub entries: Vec<(String, String, PathBuf)>,
    /// Package -> the member whose compilation it is, for progress.
    pub packages: BTreeMap<String, String>,
    /// Per member with a library and a binary, its entry copy.
    pub entry_copies: Vec<(String, PathBuf)>,
    /// Per member, the library its `main` is called through (`merge_entry_<member>`).
    pub libs: BTreeMap<String, String>,
    /// The original folders of every local package (nested ones, which travel inside
    /// another's copy, included).
    pub locals: BTreeSet<PathBuf>,
}

/// Plans the copies of `members`' local packages under `layout`. `unknown_tonic`: members on
/// a tonic the rewrite does not know (let through by `--allow unsupported-tonic`), whose
/// generated code is left as it is.
pub fn plan(members: &[Member], layout: &Layout, unknown_tonic: &BTreeSet<&str>) -> Packages {
    let mut out = Packages::default();
    // Which package each member's binary belongs to, and its role there.
    let mut roles: BTreeMap<PathBuf, (Role, PathBuf)> = BTreeMap::new();
    for m in members {
        let root = layout::normalize(&m.root);
        let Some(copy) = layout.copy_of(&root) else {
            continue;
        };
        let bin_rel = m
            .bin
            .src_path
            .as_std_path()
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| m.bin.src_path.as_std_path().to_path_buf());
        let lib_name = format!("merge_entry_{}", m.name.replace('-', "_"));
        match &m.lib {
            None => {
                let role = Role::BinAsLib {
                    lib_name: lib_name.clone(),
                    bin_path: manifest::slash(&bin_rel),
                };
                roles.insert(root.clone(), (role, bin_rel));
                out.entries
                    .push((lib_name.clone(), m.package.name.to_string(), copy.clone()));
                out.packages
                    .insert(m.package.name.to_string(), m.name.clone());
            }
            Some(lib) => {
                // Named after the member: two members may run two binaries of one package.
                let dir = Path::new("members").join(format!("{}-entry", m.name));
                let package = format!("{}-merge-entry", m.name);
                let role = Role::Entry {
                    package: package.clone(),
                    lib_name: lib_name.clone(),
                    bin_path: manifest::slash(&bin_rel),
                    member_lib: (
                        lib.name.clone(),
                        m.package.name.to_string(),
                        layout::relative(&dir, &copy),
                    ),
                };
                out.copies.push(Copy {
                    original: m.root.clone(),
                    dir: dir.clone(),
                    package: package.clone(),
                    role,
                    entry_file: Some(bin_rel),
                    mend: Mend::Member(m.name.clone()),
                    rewrite: !unknown_tonic.contains(m.name.as_str()),
                });
                out.entry_copies.push((m.name.clone(), dir.clone()));
                out.entries.push((lib_name.clone(), package.clone(), dir));
                out.packages.insert(package, m.name.clone());
                out.packages
                    .insert(m.package.name.to_string(), m.name.clone());
            }
        }
        out.libs.insert(m.name.clone(), lib_name);
    }
    // Every local package of every member, each once.
    let mut locals: BTreeMap<PathBuf, (String, bool)> = BTreeMap::new();
    for m in members {
        for p in m.local_packages() {
            if layout::TOOL_CRATES.contains(&p.name.as_str()) {
                continue;
            }
            if let Some(dir) = p.manifest_path.parent() {
                let known = !unknown_tonic.contains(m.name.as_str());
                let entry = locals
                    .entry(layout::normalize(dir.as_std_path()))
                    .or_insert((p.name.to_string(), true));
                // Left as it is when any member compiling it is on an unknown tonic.
                entry.1 &= known;
            }
        }
    }
    for (dir, (package, rewrite)) in locals {
        out.locals.insert(dir.clone());
        let Some(copy) = layout.copy_of(&dir) else {
            continue;
        };
        let (role, entry_file) = match roles.remove(&dir) {
            Some((role, file)) => (role, Some(file)),
            None => (Role::Library, None),
        };
        out.copies.push(Copy {
            original: dir.clone(),
            dir: copy,
            package,
            role,
            entry_file,
            mend: Mend::Owners,
            rewrite,
        });
    }
    out
}

/// Two local packages of one name, in different folders: one workspace cannot hold both.
pub fn duplicates(members: &[Member], (plan, line): (&Path, Option<usize>)) -> Vec<InputError> {
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
    names
        .iter()
        .filter(|(_, dirs)| dirs.len() > 1)
        .map(|(name, dirs)| {
            let dirs: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
            InputError::new(
                plan,
                line,
                format!(
                    "two local packages are named `{name}` ({}); one merged workspace cannot hold both, \
                     and cargo merge does not rename local packages yet",
                    dirs.join(", ")
                ),
            )
            .code(InputCode::DuplicateEntry)
        })
        .collect()
}
