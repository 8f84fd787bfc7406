//! The plan of the generated main: in which steps members start (callees first, `order.rs`
//! reads it off their sources), and what each member's start needs (its entry library, its
//! program name, version and commit, the environment it reads).

use std::collections::{BTreeMap, BTreeSet};

use merge_analyzer::members::Member;
use merge_analyzer::parsed::Parsed;

use super::main_rs::Start;
use super::{layout, mitigate, order};

/// How the generated main starts the members.
#[derive(Debug, Default)]
pub struct Starts {
    /// Start steps, callees first; each step's members start together.
    pub steps: Vec<Vec<Start>>,
    /// Services that only the address a client names tells apart: served by a member whose
    /// generated code is left as it is (an unknown tonic), which never registers.
    pub by_address: Vec<String>,
}

/// Plans the starts of the members that have an entry library in `libs` (member -> library).
/// `env_keys`: per member, the keys check found it reads; `unknown_tonic`: members on a tonic
/// the rewrite does not know.
pub fn plan(
    members: &[Member],
    libs: &BTreeMap<String, String>,
    env_keys: &BTreeMap<String, BTreeSet<String>>,
    mitigations: &mitigate::Plan,
    unknown_tonic: &BTreeSet<&str>,
    parsed: &Parsed,
) -> Starts {
    let uses: BTreeMap<String, order::Uses> = members
        .iter()
        .filter(|m| libs.contains_key(&m.name))
        .map(|m| (m.name.clone(), uses_of(m, parsed)))
        .collect();
    let by_address = uses
        .iter()
        .filter(|(m, _)| unknown_tonic.contains(m.as_str()))
        .flat_map(|(_, u)| u.serves.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let steps = order::steps(&uses)
        .into_iter()
        .map(|step| {
            step.into_iter()
                .map(|m| {
                    let member = members.iter().find(|x| x.name == m);
                    Start {
                        env: mitigations.reads(&m, env_keys.get(&m).cloned().unwrap_or_default()),
                        program: member.map_or_else(|| m.clone(), |x| x.bin.name.clone()),
                        version: member
                            .map(|x| x.package.version.to_string())
                            .unwrap_or_default(),
                        commit: member.map(commit).unwrap_or_default(),
                        lib: libs[&m].clone(),
                        serves: !uses[&m].serves.is_empty(),
                        name: m,
                    }
                })
                .collect()
        })
        .collect();
    Starts { steps, by_address }
}

/// What a member's own code serves and calls: every source of its local packages but its
/// other binaries.
fn uses_of(m: &Member, parsed: &Parsed) -> order::Uses {
    let mut uses = order::Uses::default();
    let other_bins = m.other_bins();
    for p in m
        .local_packages()
        .filter(|p| !layout::TOOL_CRATES.contains(&p.name.as_str()))
    {
        if let Some(dir) = p.manifest_path.parent() {
            order::scan_dir(dir.as_std_path(), &other_bins, parsed, &mut uses);
        }
    }
    uses
}

/// The commit a member is built at, `-dirty` when its tree has changes; empty outside git.
fn commit(m: &Member) -> String {
    match &m.commit {
        Some(c) if m.dirty => format!("{c}-dirty"),
        Some(c) => c.clone(),
        None => String::new(),
    }
}
