//! `cargo merge build` on the layouts a real company has (fixtures/layouts): a main-only binary
//! with plain `tonic::include_proto!` (ledger), tonic code committed into src/ (audit), a
//! package with several binaries (toolbox, `bin = "toolbox-server"`), two members pinning
//! different semver-compatible versions of `hex` with `=x.y.z`, which one Cargo workspace
//! cannot resolve, and a pin deep under tonic (ledger's `h2`), which gives ledger its own tonic.
//!
//! With `exact` isolation the merged binary answers as the split deployment does, its calls
//! between members go in-process, and every member's resolved (name, version) set equals its
//! standalone one (from `cargo metadata`), the pinned pair included; `strict` refuses the plan
//! and names the crate.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use support::*;

/// fixtures/layouts/merge.toml with absolute manifests, in `dir`.
fn plan(dir: &Path) -> std::path::PathBuf {
    fixture_plan(dir, "layouts")
}

fn layouts_env(audit: u16, ledger: u16, toolbox: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AUDIT_ADDR", format!("127.0.0.1:{audit}")),
        ("LEDGER_ADDR", format!("127.0.0.1:{ledger}")),
        ("LEDGER_AUDIT_URL", format!("http://127.0.0.1:{audit}")),
        ("TOOLBOX_ADDR", format!("127.0.0.1:{toolbox}")),
        ("TOOLBOX_LEDGER_URL", format!("http://127.0.0.1:{ledger}")),
    ]
}

fn answers(toolbox: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{toolbox}");
    [
        &["alice", "1250"][..],
        &["alice", "-250"],
        &["bob", "99"],
        &["", "1"],
    ]
    .iter()
    .map(|args| {
        let mut all = vec!["--toolbox-url", url.as_str()];
        all.extend_from_slice(args);
        client(&bin("toolbox-cli"), &all)
    })
    .collect()
}

/// `cargo metadata` of a manifest, as JSON.
fn metadata(manifest: &Path) -> serde_json::Value {
    let out = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// The (name, version) of every package `start` depends on (normal and build dependencies,
/// transitively), registry ones and vendored ones (named back: `hex-ns-ledger` is `hex`).
fn resolved(meta: &serde_json::Value, start: &str) -> BTreeSet<(String, String)> {
    let packages: BTreeMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let start = packages
        .iter()
        .find(|(_, p)| p["name"] == start)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {start}"));
    let mut seen = BTreeSet::from([start]);
    let mut queue = vec![start];
    while let Some(id) = queue.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let real = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"] != "dev");
            let pkg = dep["pkg"].as_str().expect("pkg");
            if real && seen.insert(pkg) {
                queue.push(pkg);
            }
        }
    }
    seen.into_iter()
        .map(|id| packages[id])
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let version = p["version"].as_str()?.to_owned();
            // A registry crate, or the copy of one under the group's vendor/ (the shared tonic
            // with the serve hook: same name and version).
            let vendored = p["manifest_path"]
                .as_str()
                .is_some_and(|m| m.contains("/vendor/") && !name.contains("-ns-"));
            if p["source"].is_string() || vendored {
                Some((name.to_owned(), version))
            } else {
                let original = name
                    .split("-ns-")
                    .next()
                    .filter(|_| name.contains("-ns-"))?;
                Some((original.to_owned(), version))
            }
        })
        .collect()
}

#[test]
fn layouts_merge_with_exact_isolation_and_strict_refuses_them() {
    build_fixtures(&["layouts/audit", "layouts/ledger", "layouts/toolbox"]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = plan(work.path());
    let out_dir = work.path().join("out");
    let layouts = root().join("fixtures/layouts");
    let before = tree(&layouts);

    // strict: refused before anything is written, naming the crate.
    let strict = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
        "--group",
        "toolbox",
        "--isolation",
        "strict",
    ]);
    let err = text(&strict.stderr);
    assert_eq!(strict.status.code(), Some(2), "{err}");
    assert!(err.contains("error[exact-pin-conflict]"), "{err}");
    assert!(
        err.contains("`hex` 0.4.2 (ledger) and 0.4.3 (audit)"),
        "{err}"
    );
    assert!(!out_dir.exists() && !work.path().join("merge.lock").exists());

    // exact (the plan's own policy).
    let binary = build_json_with(&plan, &out_dir, &["--group", "toolbox"]);
    assert_eq!(tree(&layouts), before, "a member's tree was written to");

    // Each member runs exactly its own lockfile's versions.
    let merged = metadata(&out_dir.join("toolbox/Cargo.toml"));
    for (member, entry) in [
        ("audit", "audit-merge-entry"),
        ("ledger", "ledger"),
        ("toolbox", "toolbox-merge-entry"),
    ] {
        let alone = metadata(&layouts.join(member).join("Cargo.toml"));
        let standalone = resolved(&alone, member);
        assert!(standalone.len() > 50, "{member}: {standalone:?}");
        let names: BTreeSet<&str> = standalone.iter().map(|(n, _)| n.as_str()).collect();
        let in_merged: BTreeSet<(String, String)> = resolved(&merged, entry)
            .into_iter()
            .filter(|(n, _)| names.contains(n.as_str()))
            .collect();
        assert_eq!(in_merged, standalone, "member {member}");
    }
    let hex = |entry: &str| {
        resolved(&merged, entry)
            .into_iter()
            .filter(|(n, _)| n == "hex")
            .collect::<Vec<_>>()
    };
    assert_eq!(hex("ledger"), [("hex".to_owned(), "0.4.2".to_owned())]);
    assert_eq!(
        hex("audit-merge-entry"),
        [("hex".to_owned(), "0.4.3".to_owned())]
    );
    let lock = text(&std::fs::read(work.path().join("merge.lock")).expect("merge.lock"));
    assert!(
        lock.contains("\"vendored hex 0.4.2 as hex-ns-ledger\""),
        "{lock}"
    );
    // ledger's deep pin (h2 =0.4.12) cascades up to tonic: its own h2, hyper and tonic, and
    // its generated code (identical to audit's and toolbox's) is not shared with theirs.
    for vendored in [
        "vendored h2 0.4.12 as h2-ns-ledger",
        "vendored hyper 1.9.0 as hyper-ns-ledger",
        "vendored tonic 0.14.8 as tonic-ns-ledger",
    ] {
        assert!(lock.contains(vendored), "{vendored}: {lock}");
    }

    // Split and merged, side by side.
    let mut running = Running::default();
    let (a, l, t) = (free_port(), free_port(), free_port());
    let env = layouts_env(a, l, t);
    running.start(&bin("audit"), &env, &[a]);
    running.start(&bin("ledger"), &env, &[l]);
    running.start(&bin("toolbox-server"), &env, &[t]);
    let (ma, ml, mt, mp) = (free_port(), free_port(), free_port(), free_port());
    let mut env = layouts_env(ma, ml, mt);
    env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{mp}")));
    running.start(&binary, &env, &[ma, ml, mt]);

    let from_split = answers(t);
    assert_eq!(
        from_split[0],
        "posted 0000000000000001: alice balance 1250 (audit-1-616c696365)\n"
    );
    assert_eq!(answers(mt), from_split);
    let counters = metrics(mp);
    assert_all_inline(
        &counters,
        &["/layouts.ledger.Ledger/Post", "/layouts.audit.Audit/Record"],
    );
}

fn fleet_env(courier: u16, depot: u16, north: u16, south: u16) -> Vec<(&'static str, String)> {
    vec![
        ("COURIER_ADDR", format!("127.0.0.1:{courier}")),
        ("DEPOT_ADDR", format!("127.0.0.1:{depot}")),
        ("DEPOT_COURIER_URL", format!("http://127.0.0.1:{courier}")),
        ("NORTH_ADDR", format!("127.0.0.1:{north}")),
        ("NORTH_SOUTH_URL", format!("http://127.0.0.1:{south}")),
        ("SOUTH_ADDR", format!("127.0.0.1:{south}")),
    ]
}

/// fleet-cli's and duo-cli's answers from depot at `depot` and north at `north`.
fn fleet_answers(depot: u16, north: u16) -> Vec<String> {
    let depot = format!("http://127.0.0.1:{depot}");
    let north = format!("http://127.0.0.1:{north}");
    let mut out: Vec<String> = [["crate", "3"], ["crate", "1"], ["", "2"]]
        .iter()
        .map(|a| client(&bin("fleet-cli"), &["--depot-url", &depot, a[0], a[1]]))
        .collect();
    out.extend(
        [["ada", "Lyon"], ["bo", "Oslo"], ["cy", ""]]
            .iter()
            .map(|a| client(&bin("duo-cli"), &["--north-url", &north, a[0], a[1]])),
    );
    out
}

/// Group `fleet`: two services of one Cargo workspace whose proto crate's build.rs writes into
/// its own src/, both with the system allocator; the workspace root's [patch] (a fork of hex
/// with a function upstream lacks), [profile] (courier without debug assertions) and
/// .cargo/config.toml (an [env] key courier reads with `env!`); and the two service binaries of
/// one package. prettyplease, which tonic-prost-build uses and which declares `links`, is
/// locked at 0.2.34 by fleet and 0.2.37 by duo. check finds no error, build merges with no
/// source edit, and the merged binary answers as the split services do, in-process.
#[test]
fn a_workspace_of_services_and_one_package_of_two_services_merge_as_they_are() {
    build_fixtures(&["layouts/fleet", "layouts/duo"]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = plan(work.path());
    let out_dir = work.path().join("out");
    let layouts = root().join("fixtures/layouts");
    let before = tree(&layouts);

    let check = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target())
        .args(["merge", "check", "--group", "fleet", "--plan"])
        .arg(&plan)
        .output()
        .expect("check runs");
    let said = format!("{}{}", text(&check.stdout), text(&check.stderr));
    assert!(check.status.success(), "{said}");
    assert!(said.contains("check: 0 error(s)"), "{said}");
    assert!(
        said.contains("`prettyplease` 0.2.34 (courier, depot) and 0.2.37 (north, south): only build scripts use it"),
        "{said}"
    );
    // Each allocator is its own member's, not reported twice on both.
    assert_eq!(
        said.matches("warning[global-allocator]").count(),
        2,
        "{said}"
    );
    assert!(
        !said.contains("service-stack"),
        "generated code is not the member's: {said}"
    );

    let build = build_json_output(&plan, &out_dir, &["--group", "fleet"]);
    let err = text(&build.stderr);
    assert!(build.status.success(), "{err}");
    // In JSON mode what build tells of a group is a JSON line on stdout, not text.
    let lines: Vec<serde_json::Value> = text(&build.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let picked = |v: &&serde_json::Value| {
        v["reason"] == "picked"
            && v["group"] == "fleet"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("the merged build compiles 0.2.37 for every member"))
    };
    assert!(lines.iter().any(|v| picked(&v)), "{lines:?}");
    assert!(!err.contains("the merged build compiles"), "{err}");
    let binary = merged_binary(&build);
    assert_eq!(tree(&layouts), before, "a member's tree was written to");

    // The proto crate's build script ran in the copy and rewrote what it wrote.
    let group = out_dir.join("fleet");
    let generated =
        text(&std::fs::read(group.join("members/fleet-proto/src/fleet.rs")).expect("copy"));
    assert!(
        generated.starts_with("// Rewritten by cargo merge"),
        "{generated}"
    );
    let config = text(&std::fs::read(group.join(".cargo/config.toml")).expect("config"));
    assert!(config.contains("FLEET_REGION = \"eu-west\""), "{config}");
    let lock = text(&std::fs::read(group.join("Cargo.lock")).expect("lock"));
    assert_eq!(
        lock.matches("name = \"prettyplease\"\nversion = \"0.2.")
            .count(),
        1,
        "{lock}"
    );

    let mut running = Running::default();
    let (c, d, n, s) = (free_port(), free_port(), free_port(), free_port());
    let env = fleet_env(c, d, n, s);
    running.start(&bin("fleet-courier"), &env, &[c]);
    running.start(&bin("fleet-depot"), &env, &[d]);
    running.start(&bin("duo-south"), &env, &[s]);
    running.start(&bin("duo-north"), &env, &[n]);
    // The merged binary's own command line: members see only what `--member-args` gives
    // them (courier's address here, which its environment does not give), and an argument
    // meant for no member is refused.
    let refused = Command::new(&binary).arg("--addr").output().expect("runs");
    assert_eq!(refused.status.code(), Some(2));
    let said = text(&refused.stderr);
    assert!(
        said.contains("error: unexpected argument `--addr`"),
        "{said}"
    );
    assert!(
        said.contains("Usage: fleet [--member-args NAME=ARGS]..."),
        "{said}"
    );
    let (mc, md, mn, ms, mp) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let mut env = fleet_env(mc, md, mn, ms);
    env.retain(|(k, _)| *k != "COURIER_ADDR");
    env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{mp}")));
    let courier_args = format!("courier=--addr 127.0.0.1:{mc}");
    running.start_with_args(
        &binary,
        &["--member-args", &courier_args],
        &env,
        &[mc, md, mn, ms],
    );

    let from_split = fleet_answers(d, n);
    assert_eq!(
        from_split[0],
        "R1-6372-6174-65: 380 cents from eu-west (debug-assertions off)\n"
    );
    assert_eq!(
        from_split[3],
        "Hello ada, Lyon is cloudy at -2°C (greeting 1)\n"
    );
    assert_eq!(fleet_answers(md, mn), from_split);
    assert_all_inline(
        &metrics(mp),
        &["/fleet.Courier/Quote", "/duo.South/Forecast"],
    );
}
