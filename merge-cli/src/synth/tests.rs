//! The synthesis in memory, on real members read with the real cargo: the shop
//! (fixtures/shop): its plan steps, one parse per member source, and snapshots of the generated
//! main, the root manifest and a rewritten member manifest; the layouts (fixtures/layouts):
//! the isolation policies on versions members lock differently, the cascade of vendoring a
//! deep pin, and the merged lockfile's seed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use merge_analyzer::members::{self, CargoOptions, Member};
use merge_analyzer::parsed::Parsed;
use merge_analyzer::plan::Isolation;

use super::isolation::isolate;
use super::layout::{self, Layout};
use super::manifest::{Role, ToolCrates};
use super::packages::{self, Mend};
use super::{Group, Inputs, lock, protos};

fn shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/shop")
        .canonicalize()
        .expect("fixtures/shop")
}

/// The shop's four services as group `shop`, read with the real cargo.
fn members() -> Vec<Member> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut plan = String::from(
        "isolation = \"exact\"\n\n[[group]]\nname = \"shop\"\nmembers = [\"catalog\", \"gateway\", \"inventory\", \"pricing\"]\n",
    );
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        plan.push_str(&format!(
            "\n[service.{m}]\nmanifest = \"{}\"\n",
            shop().join(m).join("Cargo.toml").display()
        ));
    }
    let path = dir.path().join("merge.toml");
    std::fs::write(&path, plan).expect("write the plan");
    let plan = members::read_plan(&path).expect("the plan reads");
    members::load_group(&plan, "shop", &CargoOptions::default()).expect("the shop loads")
}

fn tools() -> ToolCrates {
    ToolCrates {
        runtime_shim: PathBuf::from("/cargo-merge/runtime-shim"),
    }
}

fn make(members: &[Member], parsed: &Parsed) -> Group {
    let allow = BTreeSet::new();
    let inputs = Inputs {
        name: "shop",
        members,
        isolation: Isolation::Exact,
        tools: &tools(),
        origin: (Path::new("merge.toml"), Some(3)),
        allow: &allow,
        parsed,
    };
    super::group(&inputs, &protos::Decision::default()).expect("the shop merges")
}

/// A generated file's text, without what changes from commit to commit (the members' git
/// commit) or machine to machine (where the fixtures are).
fn stable(g: &Group, members: &[Member], rel: &str) -> String {
    let mut text = String::from_utf8(g.files[Path::new(rel)].clone()).expect("UTF-8");
    for m in members {
        if let Some(c) = &m.commit {
            text = text.replace(c.as_str(), "<commit>");
        }
    }
    text.replace("<commit>-dirty", "<commit>")
        .replace(&shop().display().to_string(), "<shop>")
}

#[test]
fn the_shops_copies_are_planned_from_its_members_alone() {
    let members = members();
    let layout = Layout::new(&members);
    let planned = packages::plan(&members, &layout, &BTreeSet::new());
    let copies: Vec<(String, &str, String)> = planned
        .copies
        .iter()
        .map(|c| {
            let role = match &c.role {
                Role::Library => "library",
                Role::BinAsLib { .. } => "binary as library",
                Role::Entry { .. } => "entry",
            };
            (c.dir.display().to_string(), role, c.package.clone())
        })
        .collect();
    // Each service has a library and a binary: its binary runs from an entry copy of its own
    // (the entry copies are planned first), and every local package is copied once as a
    // library.
    let mut expected: Vec<(String, &str, String)> = Vec::new();
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        expected.push((
            format!("members/{m}-entry"),
            "entry",
            format!("{m}-merge-entry"),
        ));
    }
    for p in ["catalog", "gateway", "inventory", "pricing", "shop-proto"] {
        expected.push((format!("members/{p}/"), "library", p.to_owned()));
    }
    assert_eq!(copies, expected);
    for c in &planned.copies {
        assert!(c.rewrite, "{c:?}");
        let mend = match c.package.strip_suffix("-merge-entry") {
            Some(member) => Mend::Member(member.to_owned()),
            None => Mend::Owners,
        };
        assert_eq!(c.mend, mend);
        assert_eq!(c.entry_file.is_some(), matches!(c.role, Role::Entry { .. }));
    }
    assert_eq!(planned.libs["gateway"], "merge_entry_gateway");
    assert_eq!(
        planned
            .entries
            .iter()
            .map(|e| e.0.as_str())
            .collect::<Vec<_>>(),
        [
            "merge_entry_catalog",
            "merge_entry_gateway",
            "merge_entry_inventory",
            "merge_entry_pricing"
        ]
    );
    // A member on a tonic the rewrite does not know keeps its generated code, and so does
    // every package it shares.
    let unknown = BTreeSet::from(["catalog"]);
    let planned = packages::plan(&members, &layout, &unknown);
    let kept: Vec<&str> = planned
        .copies
        .iter()
        .filter(|c| !c.rewrite)
        .map(|c| c.package.as_str())
        .collect();
    assert!(
        kept.contains(&"catalog") && kept.contains(&"shop-proto"),
        "{kept:?}"
    );
    assert!(!kept.contains(&"pricing"), "{kept:?}");
    assert!(packages::duplicates(&members, (Path::new("merge.toml"), None)).is_empty());
}

#[test]
fn a_build_parses_each_member_source_once_and_makes_the_same_files() {
    let members = members();
    let parsed = Parsed::default();
    let g = make(&members, &parsed);
    // Every Rust file of the members' packages but their build scripts (which run on the
    // host and are read only to be wrapped): check, the start order and the copies all read
    // them, and each was parsed once.
    let sources: BTreeSet<PathBuf> = members
        .iter()
        .flat_map(|m| m.local_packages())
        .filter(|p| !layout::TOOL_CRATES.contains(&p.name.as_str()))
        .filter_map(|p| {
            p.manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
        })
        .flat_map(|dir| {
            layout::files(&dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|rel| {
                    rel.extension().is_some_and(|e| e == "rs") && rel != Path::new("build.rs")
                })
                .map(move |rel| layout::normalize(&dir.join(rel)))
        })
        .collect();
    assert!(sources.len() > 8, "{sources:?}");
    assert_eq!(parsed.parses(), sources.len());
    // Made again with the same sources (as build does when proto sharing changes): nothing is
    // parsed again, and the workspace is the same.
    let again = make(&members, &parsed);
    assert_eq!(parsed.parses(), sources.len());
    assert_eq!(again.files, g.files);
}

#[test]
fn the_shops_generated_main_and_manifests() {
    let members = members();
    let g = make(&members, &Parsed::default());
    insta::assert_snapshot!("shop_main_rs", stable(&g, &members, "src/main.rs"));
    insta::assert_snapshot!("shop_root_manifest", stable(&g, &members, "Cargo.toml"));
    insta::assert_snapshot!(
        "shop_gateway_manifest",
        stable(&g, &members, "members/gateway/Cargo.toml")
    );
}

/// Group `group` of fixtures/layouts' own plan.
fn layouts(group: &str) -> Vec<Member> {
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/layouts/merge.toml");
    let plan = members::read_plan(&plan).expect("the layouts plan reads");
    members::load_group(&plan, group, &CargoOptions::default()).expect("the layouts load")
}

#[test]
fn exact_isolation_vendors_a_deep_pin_and_what_depends_on_it() {
    let members = layouts("toolbox");
    let origin = (Path::new("merge.toml"), Some(7));
    let exact = isolate(&members, Isolation::Exact, origin);
    assert!(exact.problems.is_empty(), "{:?}", exact.problems);
    let vendored: BTreeSet<(String, String)> = exact
        .vendoring
        .vendored
        .iter()
        .map(|v| (v.package.clone(), v.version.to_string()))
        .collect();
    // ledger pins hex =0.4.2 (audit =0.4.3), and h2 =0.4.12 deep under tonic: its own h2,
    // and the hyper and tonic above it in its graph, cascade.
    for (package, version) in [
        ("hex-ns-ledger", "0.4.2"),
        ("h2-ns-ledger", "0.4.12"),
        ("hyper-ns-ledger", "1.9.0"),
        ("tonic-ns-ledger", "0.14.8"),
    ] {
        assert!(
            vendored.contains(&(package.to_owned(), version.to_owned())),
            "{package} {version} not in {vendored:?}"
        );
    }
    assert!(
        vendored.iter().all(|(p, _)| p.ends_with("-ns-ledger")),
        "only ledger locks versions of its own: {vendored:?}"
    );
    // Every vendored crate is in ledger's redirects, and said in merge.lock's decisions.
    let redirects = &exact.vendoring.redirects["ledger"];
    assert_eq!(redirects.len(), exact.vendoring.vendored.len());
    assert!(
        exact.decisions["ledger"].contains(&"vendored hex 0.4.2 as hex-ns-ledger".to_owned()),
        "{:?}",
        exact.decisions
    );
    assert!(exact.decisions["audit"].contains(&"shared hex 0.4.3".to_owned()));
    assert!(
        exact.decisions.contains_key("toolbox"),
        "every member has a record"
    );

    // `strict` refuses what `exact` vendors, under check's codes; `unify` cannot make
    // =0.4.2 and =0.4.3 one version either.
    for policy in [Isolation::Strict, Isolation::Unify] {
        let refused = isolate(&members, policy, origin);
        assert!(refused.vendoring.vendored.is_empty());
        let hex = refused
            .problems
            .iter()
            .find(|p| p.message.contains("`hex`"))
            .unwrap_or_else(|| panic!("{policy:?}: hex not refused: {:?}", refused.problems));
        assert_eq!(hex.code.code(), "exact-pin-conflict", "{hex}");
        assert_eq!(hex.line, Some(7));
    }
}

#[test]
fn the_seed_keeps_each_members_versions_and_one_of_a_build_only_crate() {
    let members = layouts("toolbox");
    let seed = lock::seed(&members, &[]);
    assert!(seed.starts_with("# This file is automatically @generated by Cargo."));
    for hex in ["0.4.2", "0.4.3"] {
        assert!(
            seed.contains(&format!("name = \"hex\"\nversion = \"{hex}\"")),
            "hex {hex} not seeded"
        );
    }
    // A dependency on a crate the union holds at two versions names its version.
    assert!(!seed.contains(" \"hex\",\n"), "a bare `hex` dependency");
    let parsed: toml_edit::DocumentMut = seed.parse().expect("the seed is TOML");
    assert_eq!(parsed["version"].as_integer(), Some(4));

    // fleet's members build with prettyplease at two versions (build-only): one is picked,
    // the other is not seeded.
    let fleet = layouts("fleet");
    let picks = lock::build_only(&fleet);
    let pretty = picks
        .iter()
        .find(|b| b.conflict.name == "prettyplease")
        .expect("prettyplease is build-only at two versions");
    let seed = lock::seed(&fleet, &picks);
    for version in pretty.conflict.versions.keys() {
        let seeded = seed.contains(&format!("name = \"prettyplease\"\nversion = \"{version}\""));
        assert_eq!(seeded, *version == pretty.picked, "prettyplease {version}");
    }
}
