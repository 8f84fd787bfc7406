//! `profile-conflict`: the `panic`, `opt-level` and `lto` of the members' `[profile]` tables
//! (cargo's build profiles, not crate::profiles' stack profiles).

use std::collections::{BTreeMap, BTreeSet};

use toml_edit::{Document, Item, Value};

use super::manifest::Manifest;
use crate::check::{Finding, Severity, finding_at};
use crate::codes::CheckCode;
use crate::members::Member;

/// The profile keys compared: what one binary can have only one of, or what changes how a
/// member's code behaves or performs.
const PROFILE_KEYS: [&str; 3] = ["panic", "opt-level", "lto"];

/// A profile key's value: `value` normalised for comparison (`lto = true` is `"fat"`, `false`
/// and `"off"` are one), `shown` as TOML, and where the manifest sets it (none: a default).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    value: String,
    shown: String,
    at: Option<usize>,
}

/// One `[profile.<name>]` table of a manifest: what it inherits and the keys it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProfileTable {
    inherits: Option<String>,
    keys: BTreeMap<&'static str, Setting>,
}

/// A manifest's profiles by name.
type Profiles = BTreeMap<String, ProfileTable>;

fn read_profiles(doc: &Document<String>) -> Profiles {
    let Some(profiles) = doc.as_table().get("profile").and_then(Item::as_table_like) else {
        return Profiles::new();
    };
    profiles
        .iter()
        .filter_map(|(name, item)| {
            let table = item.as_table_like()?;
            let keys = PROFILE_KEYS
                .into_iter()
                .filter_map(|key| {
                    let (k, item) = table.get_key_value(key)?;
                    let (value, shown) = normalized(key, item.as_value()?)?;
                    let at = k.span().map(|r| r.start);
                    Some((key, Setting { value, shown, at }))
                })
                .collect();
            let inherits = table
                .get("inherits")
                .and_then(Item::as_str)
                .map(str::to_owned);
            Some((name.to_owned(), ProfileTable { inherits, keys }))
        })
        .collect()
}

/// A profile key's value, normalised and as TOML; nothing for a value cargo would refuse.
fn normalized(key: &str, value: &Value) -> Option<(String, String)> {
    let quoted = |s: &str| format!("\"{s}\"");
    Some(match (key, value) {
        ("panic", Value::String(s)) => (s.value().clone(), quoted(s.value())),
        ("opt-level", Value::Integer(i)) => (i.value().to_string(), i.value().to_string()),
        ("opt-level", Value::String(s)) => (s.value().clone(), quoted(s.value())),
        ("lto", Value::Boolean(b)) => {
            let value = if *b.value() { "fat" } else { "off" };
            (value.to_owned(), b.value().to_string())
        }
        ("lto", Value::String(s)) => {
            let value = match s.value().as_str() {
                "true" | "fat" => "fat",
                "false" | "off" => "off",
                other => other,
            };
            (value.to_owned(), quoted(s.value()))
        }
        _ => return None,
    })
}

/// Cargo's default of `key` in the built-in profile `profile` (`lto` off: "false", `"off"` and
/// an absent key are taken as one).
fn default_setting(profile: &str, key: &str) -> Option<Setting> {
    let release = match profile {
        "dev" => false,
        "release" => true,
        _ => return None,
    };
    let (value, shown) = match key {
        "panic" => ("unwind", "\"unwind\""),
        "opt-level" if release => ("3", "3"),
        "opt-level" => ("0", "0"),
        "lto" => ("off", "false"),
        _ => return None,
    };
    Some(Setting {
        value: value.to_owned(),
        shown: shown.to_owned(),
        at: None,
    })
}

/// The value `key` has in `profile`, and the profile table that sets it (none: cargo's
/// default). Nothing for a custom profile the manifest does not define.
fn effective(profiles: &Profiles, profile: &str, key: &str) -> Option<(Setting, Option<String>)> {
    let mut name = profile.to_owned();
    // Bounded: an inheritance cycle is cargo's error, not ours to loop on.
    for _ in 0..16 {
        if let Some(table) = profiles.get(&name) {
            if let Some(s) = table.keys.get(key) {
                return Some((s.clone(), Some(name)));
            }
            if let Some(parent) = &table.inherits {
                name = parent.clone();
                continue;
            }
        }
        match name.as_str() {
            "dev" | "release" => return default_setting(&name, key).map(|s| (s, None)),
            "test" => name = "dev".to_owned(),
            "bench" => name = "release".to_owned(),
            _ => return None,
        }
    }
    None
}

/// The profiles of the merged workspace as build makes them (key by key, the first member
/// that sets it), with the member each key comes from.
fn merged_profiles(all: &[&Profiles]) -> (Profiles, BTreeMap<(String, &'static str), usize>) {
    let mut merged = Profiles::new();
    let mut owners = BTreeMap::new();
    for (i, profiles) in all.iter().enumerate() {
        for (name, table) in profiles.iter() {
            let entry = merged.entry(name.clone()).or_default();
            if entry.inherits.is_none() {
                entry.inherits.clone_from(&table.inherits);
            }
            for (key, s) in &table.keys {
                if !entry.keys.contains_key(key) {
                    entry.keys.insert(key, s.clone());
                    owners.insert((name.clone(), *key), i);
                }
            }
        }
    }
    (merged, owners)
}

/// One `profile-conflict`: the member (an index into the input) and where it sets the key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProfileIssue {
    member: usize,
    at: Option<usize>,
    severity: Severity,
    message: String,
    help: String,
}

/// Where members' profiles disagree on a key; `names` and `all` in folder order. Each member
/// that sets the key in that profile itself, to a value another member does not have, gets
/// one issue (when none sets it there, the members whose value comes from a profile they
/// inherit from).
fn profile_issues(names: &[&str], all: &[&Profiles]) -> Vec<ProfileIssue> {
    let (merged, owners) = merged_profiles(all);
    let mut profile_names: BTreeSet<&str> = BTreeSet::from(["dev", "release"]);
    for profiles in all {
        profile_names.extend(
            profiles
                .keys()
                .map(String::as_str)
                .filter(|n| !["test", "bench"].contains(n)),
        );
    }
    let mut issues = Vec::new();
    for profile in profile_names {
        for key in PROFILE_KEYS {
            let values: Vec<(usize, Setting, Option<String>)> = all
                .iter()
                .enumerate()
                .filter_map(|(i, p)| effective(p, profile, key).map(|(s, from)| (i, s, from)))
                .collect();
            let distinct: BTreeSet<&str> =
                values.iter().map(|(_, s, _)| s.value.as_str()).collect();
            if distinct.len() < 2 {
                continue;
            }
            let Some((kept, kept_from)) = effective(&merged, profile, key) else {
                continue;
            };
            let kept_by = match kept_from.and_then(|t| owners.get(&(t, key))) {
                Some(&i) => format!(
                    "`{}`'s, the first member in folder order that sets it",
                    names[i]
                ),
                None => "cargo's default".to_owned(),
            };
            let own: Vec<&(usize, Setting, Option<String>)> = values
                .iter()
                .filter(|(_, _, from)| from.as_deref() == Some(profile))
                .collect();
            let reporters = if own.is_empty() {
                values
                    .iter()
                    .filter(|(_, _, from)| from.is_some())
                    .collect()
            } else {
                own
            };
            for (i, s, from) in reporters {
                let others: Vec<String> = values
                    .iter()
                    .filter(|(j, o, _)| j != i && o.value != s.value)
                    .map(|(j, o, from)| match from.as_deref() {
                        None => format!("`{}` has {} (cargo's default)", names[*j], o.shown),
                        Some(t) if t == profile => format!("`{}` sets {}", names[*j], o.shown),
                        Some(t) => format!("`{}` has {} from [profile.{t}]", names[*j], o.shown),
                    })
                    .collect();
                let set_in = match from.as_deref() {
                    Some(t) if t != profile => format!(" (inherited by [profile.{profile}])"),
                    _ => String::new(),
                };
                let sets = format!(
                    "`{}` sets `{key} = {}` in [profile.{}]{set_in}; {}",
                    names[*i],
                    s.shown,
                    from.as_deref().unwrap_or(profile),
                    others.join(", ")
                );
                let (severity, message, help) = if key == "panic" {
                    (
                        Severity::Error,
                        format!("{sets}: one binary has one panic strategy"),
                        format!(
                            "use one panic strategy in every member: under \"abort\" a panic in any member ends them all, an inline callee's included (under \"unwind\" it becomes `Status::internal`); `--allow {}` builds every member with {} ({kept_by})",
                            CheckCode::ProfileConflict,
                            kept.shown
                        ),
                    )
                } else {
                    (
                        Severity::Warning,
                        format!(
                            "{sets}: the merged build compiles every member with {} ({kept_by})",
                            kept.shown
                        ),
                        format!(
                            "set one `{key}` in every member if one of them depends on its own (speed, size, build time)"
                        ),
                    )
                };
                issues.push(ProfileIssue {
                    member: *i,
                    at: s.at,
                    severity,
                    message,
                    help,
                });
            }
        }
    }
    issues
}

/// `profile-conflict`, from the members' workspace root manifests (`roots`, by member), in
/// folder order (`order`).
pub(super) fn profile_conflicts(
    group: &str,
    members: &[Member],
    roots: &[Option<Manifest>],
    order: &[usize],
    out: &mut Vec<Finding>,
) {
    let profiles: Vec<Profiles> = roots
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|r| read_profiles(&r.doc))
                .unwrap_or_default()
        })
        .collect();
    let names: Vec<&str> = order.iter().map(|&i| members[i].name.as_str()).collect();
    let all: Vec<&Profiles> = order.iter().map(|&i| &profiles[i]).collect();
    for issue in profile_issues(&names, &all) {
        let i = order[issue.member];
        let at = roots[i].as_ref().and_then(|r| r.at(issue.at));
        out.push(finding_at(
            group,
            Some(&members[i]),
            CheckCode::ProfileConflict,
            issue.severity,
            at,
            issue.message,
            &issue.help,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::manifest::fixtures::{line_of, manifest};
    use super::*;

    #[test]
    fn profile_values_are_normalised_with_their_lines() {
        let m = manifest(
            "[package]\nname = \"a\"\n\n[profile.release]\npanic = \"abort\" # fast\nlto = true\n\
             opt-level = \"3\"\n\n[profile.dev]\nlto = \"off\"\nopt-level = 1\n\n\
             [profile.fast]\ninherits = \"release\"\nopt-level = \"s\"\n",
        );
        let p = read_profiles(&m.doc);
        let release = &p["release"];
        assert_eq!(release.keys["panic"].value, "abort");
        assert_eq!(release.keys["panic"].shown, "\"abort\"");
        assert_eq!(line_of(&m, release.keys["panic"].at), Some((5, 1)));
        assert_eq!(release.keys["lto"].value, "fat");
        assert_eq!(line_of(&m, release.keys["lto"].at), Some((6, 1)));
        assert_eq!(release.keys["opt-level"].value, "3");
        assert_eq!(p["dev"].keys["lto"].value, "off");
        assert_eq!(p["fast"].inherits.as_deref(), Some("release"));
        // What a profile has: its own key, what it inherits, or cargo's default.
        let value =
            |profile: &str, key: &str| effective(&p, profile, key).map(|(s, f)| (s.value, f));
        assert_eq!(
            value("fast", "opt-level"),
            Some(("s".into(), Some("fast".into())))
        );
        assert_eq!(
            value("fast", "panic"),
            Some(("abort".into(), Some("release".into())))
        );
        assert_eq!(value("dev", "panic"), Some(("unwind".into(), None)));
        assert_eq!(
            value("test", "opt-level"),
            Some(("1".into(), Some("dev".into())))
        );
        assert_eq!(value("nope", "lto"), None);
        // Dotted keys and inline tables are the same tables.
        let dotted = manifest("profile.release.panic = \"abort\"\nprofile.dev = { lto = false }\n");
        let d = read_profiles(&dotted.doc);
        assert_eq!(
            line_of(&dotted, d["release"].keys["panic"].at),
            Some((1, 17))
        );
        assert_eq!(d["dev"].keys["lto"].value, "off");
        assert_eq!(
            effective(&d, "dev", "lto").map(|(s, _)| s.value),
            effective(&Profiles::new(), "dev", "lto").map(|(s, _)| s.value),
            "`lto = false` is the default"
        );
    }

    fn profiles(text: &str) -> Profiles {
        read_profiles(&manifest(text).doc)
    }

    #[test]
    fn profiles_that_disagree_are_reported_by_who_sets_them() {
        let alpha = profiles("[profile.release]\npanic = \"abort\"\nopt-level = 2\n");
        let beta = profiles("[profile.release]\nopt-level = \"s\"\nlto = true\n");
        let issues = profile_issues(&["alpha", "beta"], &[&alpha, &beta]);
        let brief: Vec<(usize, Severity, &str)> = issues
            .iter()
            .map(|i| (i.member, i.severity, i.message.as_str()))
            .collect();
        assert_eq!(
            brief,
            [
                (
                    0,
                    Severity::Error,
                    "`alpha` sets `panic = \"abort\"` in [profile.release]; `beta` has \"unwind\" (cargo's default): one binary has one panic strategy"
                ),
                (
                    0,
                    Severity::Warning,
                    "`alpha` sets `opt-level = 2` in [profile.release]; `beta` sets \"s\": the merged build compiles every member with 2 (`alpha`'s, the first member in folder order that sets it)"
                ),
                (
                    1,
                    Severity::Warning,
                    "`beta` sets `opt-level = \"s\"` in [profile.release]; `alpha` sets 2: the merged build compiles every member with 2 (`alpha`'s, the first member in folder order that sets it)"
                ),
                (
                    1,
                    Severity::Warning,
                    "`beta` sets `lto = true` in [profile.release]; `alpha` has false (cargo's default): the merged build compiles every member with true (`beta`'s, the first member in folder order that sets it)"
                ),
            ]
        );
        assert!(
            issues[0]
                .help
                .contains("builds every member with \"abort\""),
            "{}",
            issues[0].help
        );
        // Values that only look different, and what a member does not set, agree.
        let a = profiles(
            "[profile.release]\nlto = false\nopt-level = 3\n[profile.dev]\npanic = \"unwind\"\n",
        );
        let b = profiles("[profile.release]\nlto = \"off\"\nopt-level = \"3\"\n");
        assert!(profile_issues(&["a", "b", "c"], &[&a, &b, &Profiles::new()]).is_empty());
        // A custom profile counts for the members that define it, through what it inherits.
        let a = profiles(
            "[profile.fast]\ninherits = \"release\"\n[profile.release]\npanic = \"abort\"\n",
        );
        let b = profiles("[profile.fast]\ninherits = \"release\"\npanic = \"abort\"\n");
        let issues = profile_issues(&["a", "b"], &[&a, &b]);
        assert_eq!(issues.len(), 1, "{issues:#?}");
        assert_eq!(issues[0].member, 0, "release: only `a` aborts");
    }
}
