//! What members collide on when they share one process: `env-var-collision` (an environment
//! key several members read) and `listen-addr-collision` (a port several members bind).

use std::collections::{BTreeMap, BTreeSet};

use super::{Finder, Owners, Site, once_per_place_and_member};
use crate::check::scan::{Event, Set};
use crate::check::{Finding, Severity, others};
use crate::codes::CheckCode;

/// `env-var-collision`: the same literal key read by several members. Build namespaces each
/// member's reads in its own crates (`<MEMBER>_<KEY>`); a read in a crate several members share
/// keeps one value for all of them.
pub(super) fn environment(
    sites: &[Site],
    owners: &Owners<'_>,
    finding: &Finder<'_>,
    out: &mut Vec<Finding>,
) {
    let mut keys: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
    for s in once_per_place_and_member(sites) {
        if let Event::EnvRead { key } = &s.event {
            keys.entry(key).or_default().push(s);
        }
    }
    let mut reported = BTreeSet::new();
    for (key, reads) in keys {
        let who: BTreeSet<&str> = reads.iter().map(|s| s.member.as_str()).collect();
        if who.len() < 2 {
            continue;
        }
        for s in reads {
            let sharers = owners.get(s.package_dir.as_path()).filter(|o| o.len() > 1);
            let f = match sharers {
                None => {
                    let mut f = finding(
                        CheckCode::EnvVarCollision,
                        Severity::Warning,
                        s,
                        format!(
                            "`{}` reads the environment variable `{key}`; {}: in one process they get one value",
                            s.member,
                            others(&who, &s.member)
                        ),
                        "`cargo merge build` makes this member read `<MEMBER>_<KEY>` first (falling back to the key), so the members can be set apart",
                    );
                    f.subject = Some(key.to_owned());
                    f
                }
                Some(sharers) => {
                    if !reported.insert((s.path.as_path(), s.line, s.column)) {
                        continue;
                    }
                    let list: Vec<String> = sharers.iter().map(|m| format!("`{m}`")).collect();
                    finding(
                        CheckCode::EnvVarCollision,
                        Severity::Warning,
                        s,
                        format!(
                            "`{}` reads the environment variable `{key}`, which {} all link: in one process they get one value",
                            s.package,
                            list.join(", ")
                        ),
                        "build cannot namespace a read in a crate several members share: make sure one value suits all of them, or pass the value in from each member",
                    )
                }
            };
            out.push(f);
        }
    }
}

/// `listen-addr-collision`: two members that bind the same port on overlapping interfaces. Both
/// hard-coded: an error (the second bind fails); a default (of a flag, which `--member-args`
/// gives each member its own of, or of an environment key) can be set apart, so a warning.
pub(super) fn listeners(
    sites: &[Site],
    owners: &Owners<'_>,
    finding: &Finder<'_>,
    out: &mut Vec<Finding>,
) {
    // (site, host, port, how it is given, whether each member can be given its own): a
    // default read in a crate several members share cannot be namespaced per member.
    let found: Vec<(&Site, &str, u16, Set, bool)> = sites
        .iter()
        .filter_map(|s| match &s.event {
            Event::Listen { host, port, how } => {
                let shared = owners
                    .get(s.package_dir.as_path())
                    .is_some_and(|o| o.len() > 1);
                let apart = match how {
                    Set::EnvDefault => !shared,
                    // Each member reads its own command line (`--member-args`).
                    Set::FlagDefault => true,
                    Set::InCode => false,
                };
                Some((s, host.as_str(), *port, *how, apart))
            }
            _ => None,
        })
        .collect();
    let overlap = |a: &str, b: &str| a == b || a == "*" || b == "*";
    for &(s, host, port, how, apart) in &found {
        let clashes: Vec<&(&Site, &str, u16, Set, bool)> = found
            .iter()
            .filter(|(o, h, p, _, _)| o.member != s.member && *p == port && overlap(h, host))
            .collect();
        if clashes.is_empty() {
            continue;
        }
        // Neither side can be set apart: the code says it, or a key a shared crate reads.
        let stuck = !apart && clashes.iter().any(|c| !c.4);
        let who: BTreeSet<&str> = clashes
            .iter()
            .map(|c| c.0.member.as_str())
            .chain([s.member.as_str()])
            .collect();
        let addr = if host == "*" {
            format!("port {port}")
        } else {
            format!("{host}:{port}")
        };
        let given = match how {
            Set::InCode => "written in the code",
            Set::FlagDefault => "a flag's default",
            Set::EnvDefault if !apart => {
                "the default of an environment read in a crate the members share: one key for all"
            }
            Set::EnvDefault => "by default",
        };
        let (severity, help) = if stuck {
            (
                Severity::Error,
                "read the address from an environment key (each member can then be given its own), or bind another port in one of the members",
            )
        } else {
            (
                Severity::Warning,
                "give the members different addresses when the merged binary runs: through their environment keys (a key several members read becomes `<MEMBER>_<KEY>`) or their flags (`--member-args NAME=\"--addr ...\"`)",
            )
        };
        out.push(finding(
            CheckCode::ListenAddrCollision,
            severity,
            s,
            format!(
                "`{}` listens on {addr} ({given}); {}: in one process the second bind fails (address in use)",
                s.member,
                others(&who, &s.member)
            ),
            help,
        ));
    }
}
