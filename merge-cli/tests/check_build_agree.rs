//! `check` and `build` agree, over every fixture plan (the shop's, guarded, hazards, layouts,
//! versions and versions/outdated)
//! and every isolation policy: each error `build` refuses a group with is an error `check`
//! reports for that group under the same code, a group `check` finds errors in is refused, and
//! a group `check` passes without errors builds (the real cargo compiles it, under the plan's
//! own policy, `unify` and `strict`).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::*;

/// The error codes of a JSON-mode run's diagnostics.
fn error_codes(out: &Output) -> BTreeSet<String> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "diagnostic" && v["severity"] == "error")
        .filter_map(|v| v["code"].as_str().map(str::to_owned))
        .collect()
}

/// The groups of a plan, in order.
fn groups(plan: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(plan).expect("the plan");
    let doc: toml_edit::DocumentMut = text.parse().expect("TOML");
    doc["group"]
        .as_array_of_tables()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cargo-merge runs")
}

/// Runs check and build on every group of `plan` under every policy, with the merged
/// workspaces under `out`.
fn agree(plan: &Path, out: &Path) {
    let plan_arg = plan.to_str().expect("utf-8");
    for group in groups(plan) {
        for isolation in [None, Some("exact"), Some("unify"), Some("strict")] {
            let mut policy = Vec::new();
            if let Some(i) = isolation {
                policy.extend(["--isolation", i]);
            }
            let what = format!("{} group `{group}` under {isolation:?}", plan.display());
            let common = |verb: &'static str| {
                let mut args = vec!["merge", verb, "--plan", plan_arg, "--group", &group];
                args.extend(&policy);
                args.extend(["--message-format", "json"]);
                args
            };
            let check = run(&common("check"));
            let errors = error_codes(&check);
            assert_eq!(
                check.status.code(),
                Some(if errors.is_empty() { 0 } else { 1 }),
                "{what}: {}",
                text(&check.stderr)
            );
            // `exact` is the plan's own policy here or the default: built once, as `None`.
            if isolation == Some("exact") && errors.is_empty() {
                continue;
            }
            let dir = out.join(format!("{group}-{}", isolation.unwrap_or("plan")));
            let mut args = common("build");
            args.extend(["--out", dir.to_str().expect("utf-8")]);
            let build = run(&args);
            let refused = error_codes(&build);
            if errors.is_empty() {
                assert!(
                    build.status.success() && refused.is_empty(),
                    "{what}: check found no error, build failed:\n{}",
                    text(&build.stderr)
                );
                merged_binary(&build);
            } else {
                assert_eq!(
                    build.status.code(),
                    Some(2),
                    "{what}: check found {errors:?}, build did not refuse:\n{}",
                    text(&build.stderr)
                );
                assert!(
                    !refused.is_empty() && refused.is_subset(&errors),
                    "{what}: build refused with {refused:?}, check's errors are {errors:?}\n{}",
                    text(&build.stdout)
                );
            }
        }
    }
}

/// A stable folder under the shared target for `name`'s merged workspaces (a second run
/// compiles only what changed).
fn out(name: &str) -> PathBuf {
    target().join("agree").join(name)
}

#[test]
fn guarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    agree(&fixture_plan(dir.path(), "guarded"), &out("guarded"));
}

#[test]
fn hazards() {
    let dir = tempfile::tempdir().expect("tempdir");
    agree(&fixture_plan(dir.path(), "hazards"), &out("hazards"));
}

#[test]
fn layouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    agree(&fixture_plan(dir.path(), "layouts"), &out("layouts"));
}

#[test]
fn versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    agree(&fixture_plan(dir.path(), "versions"), &out("versions"));
    let dir = tempfile::tempdir().expect("tempdir");
    agree(
        &fixture_plan(dir.path(), "versions/outdated"),
        &out("outdated"),
    );
}

#[test]
fn shop() {
    let dir = tempfile::tempdir().expect("tempdir");
    agree(
        &shop_plan(dir.path(), &root().join("fixtures/shop")),
        &out("shop"),
    );
}

/// Group `vendored` of the hazard fixture: epsilon (hex `=0.4.2`) and zeta (hex 0.4.3) share a
/// library over hex. Under `exact`, epsilon gets a copy of the library of its own, over its own
/// hex, and the merged binary prints what the two print split.
#[test]
fn a_shared_library_gets_a_copy_of_its_own_for_the_member_that_vendors() {
    build_fixtures(&["hazards/shared/epsilon", "hazards/shared/zeta"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = fixture_plan(dir.path(), "hazards");
    let out = dir.path().join("out");
    let binary = build_json_with(&plan, &out, &["--group", "vendored"]);
    let manifest = text(
        &std::fs::read(out.join("vendored/members/epsilon/Cargo.toml")).expect("epsilon's copy"),
    );
    assert!(
        manifest.contains(
            "hazard-common = { path = \"../hazard-common-ns-epsilon\", package = \"hazard-common-ns-epsilon\" }"
        ),
        "{manifest}"
    );
    let run = |program: &Path| {
        let out = Command::new(program).output().expect("runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let split = run(&bin("epsilon")) + &run(&bin("zeta"));
    assert_eq!(split, "657073696c6f6e 657073696c6f6e\n7a657461 7a657461\n");
    let merged = run(&binary);
    let mut lines: Vec<&str> = merged.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["657073696c6f6e 657073696c6f6e", "7a657461 7a657461"]
    );
}
