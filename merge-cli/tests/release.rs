//! Members at revisions, end to end with real git repositories in a temporary folder: the
//! pricing team's repository (a copy of fixtures/shop/pricing) is a git member of a group.
//! It is built at a pin; the team releases (a wire-compatible .proto change) and `status` says
//! stale, with the reason; `bump` moves the pin (the plan's comments kept); `build` records the
//! new commit in merge.lock and the release manifest; `status` says fresh; a breaking release
//! is classified breaking. Nothing is written into the member's repository.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Pricing Team",
            "-c",
            "user.email=pricing@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// The pricing team's repository: fixtures/shop/pricing, its runtime-shim (and optional
/// shop-telemetry) dependency pointed
/// at this repository's, committed and tagged `v0.1.0`.
fn pricing_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("pricing-repo");
    for (rel, bytes) in tree(&root().join("fixtures/shop/pricing")) {
        let path = repo.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
    }
    let manifest = repo.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .expect("manifest")
        .replace(
            "path = \"../../../runtime-shim\"",
            &format!("path = \"{}\"", root().join("runtime-shim").display()),
        )
        .replace(
            "path = \"../shop-telemetry\"",
            &format!(
                "path = \"{}\"",
                root().join("fixtures/shop/shop-telemetry").display()
            ),
        );
    std::fs::write(&manifest, text).expect("manifest");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "pricing 0.1.0"]);
    git(&repo, &["tag", "v0.1.0"]);
    repo
}

/// Edits a file of the repository: `from` replaced by `to`.
fn edit(repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replace(from, to)).expect("write");
}

fn merge(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .arg("merge")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target())
        .stdin(Stdio::null())
        .output()
        .expect("cargo-merge runs")
}

/// `status --message-format json`: its exit status and its one group line.
fn status(dir: &Path) -> (Option<i32>, serde_json::Value) {
    let out = merge(
        &[
            "status",
            "--plan",
            "merge.toml",
            "--out",
            "out",
            "--message-format",
            "json",
        ],
        dir,
    );
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (
        out.status.code(),
        lines.into_iter().next().expect("one line"),
    )
}

/// `status` says every group is fresh (exit 0).
fn assert_fresh(dir: &Path) {
    let (code, line) = status(dir);
    assert_eq!(
        (code, line["state"].as_str()),
        (Some(0), Some("fresh")),
        "{line}"
    );
}

fn pricing(status: &serde_json::Value) -> &serde_json::Value {
    status["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == "pricing")
        .expect("pricing")
}

fn build(dir: &Path) -> serde_json::Value {
    let out = merge(
        &[
            "build",
            "--plan",
            "merge.toml",
            "--out",
            "out",
            "--message-format",
            "json",
        ],
        dir,
    );
    assert!(out.status.success(), "build failed:\n{}", text(&out.stderr));
    let path = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["reason"] == "merged-binary")
        .and_then(|v| v["manifest"].as_str().map(PathBuf::from))
        .expect("a merged-binary line with its manifest");
    serde_json::from_slice(&std::fs::read(path).expect("manifest")).expect("JSON")
}

fn manifest_commit(manifest: &serde_json::Value) -> String {
    manifest["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == "pricing")
        .and_then(|m| m["git_commit"].as_str())
        .expect("pricing's commit")
        .to_owned()
}

#[test]
fn a_git_member_follows_its_releases_through_status_bump_and_build() {
    build_fixtures(&["shop/inventory"]);
    let work = tempfile::tempdir().expect("tempdir");
    let repo = pricing_repo(work.path());
    let v010 = git(&repo, &["rev-parse", "HEAD"]);
    let plan_dir = work.path().join("plan");
    std::fs::create_dir_all(&plan_dir).expect("mkdir");
    let inventory = root().join("fixtures/shop/inventory/Cargo.toml");
    let plan = format!(
        "# The release test's plan: inventory from its folder, pricing from its team's repository.\n\
         [[group]]\n\
         name = \"release-test\"\n\
         members = [\"inventory\", \"pricing\"]\n\n\
         [service.inventory]\n\
         manifest = \"{}\"\n\n\
         # Pricing follows its main branch until it releases.\n\
         [service.pricing]\n\
         git = \"../pricing-repo\" # a folder, relative to this plan\n\
         branch = \"main\"\n\
         manifest = \"Cargo.toml\" # in the repository\n",
        inventory.display()
    );
    std::fs::write(plan_dir.join("merge.toml"), &plan).expect("plan");

    // Built at the tip of main: merge.lock and the manifest say which commit.
    let manifest = build(&plan_dir);
    assert_eq!(manifest_commit(&manifest), v010);
    let lock = text(&std::fs::read(plan_dir.join("merge.lock")).expect("merge.lock"));
    assert!(lock.contains(&format!("git-commit = \"{v010}\"")), "{lock}");
    assert!(lock.contains("git-pin = \"branch main\""), "{lock}");
    assert!(lock.contains("source = \"../pricing-repo\""), "{lock}");
    assert!(
        plan_dir
            .join("out/.sources/pricing")
            .join(&v010)
            .join("Cargo.toml")
            .is_file(),
        "checked out under the output folder"
    );
    assert_fresh(&plan_dir);

    // The pricing team releases 0.2.0: a new field, wire-compatible.
    edit(
        &repo,
        "proto/pricing.proto",
        "  string currency = 3;\n}",
        "  string currency = 3;\n  // Free text, ignored.\n  string note = 4;\n}",
    );
    edit(
        &repo,
        "src/lib.rs",
        "            currency,\n        } = request.into_inner();",
        "            currency,\n            ..\n        } = request.into_inner();",
    );
    git(
        &repo,
        &["commit", "-q", "-am", "pricing 0.2.0: a note on quotes"],
    );
    git(&repo, &["tag", "v0.2.0"]);
    let v020 = git(&repo, &["rev-parse", "HEAD"]);
    let (code, stale) = status(&plan_dir);
    assert_eq!(
        (code, stale["state"].as_str()),
        (Some(1), Some("stale")),
        "{stale}"
    );
    let p = pricing(&stale);
    assert_eq!(p["locked_commit"], v010.as_str());
    assert_eq!(p["current_commit"], v020.as_str());
    let changes = p["changes"].as_array().expect("changes");
    assert!(
        changes.iter().any(|c| c["kind"] == "commit"
            && c["message"]
                .as_str()
                .is_some_and(|m| m.contains("(branch main)"))),
        "{p}"
    );
    let proto = changes
        .iter()
        .find(|c| c["kind"] == "proto")
        .expect("a proto change");
    assert_eq!(proto["class"], "wire-compatible", "{proto}");
    assert!(
        proto["details"]
            .to_string()
            .contains("`shop.pricing.QuoteRequest.note` = 4 added"),
        "{proto}"
    );
    // The human report says the same.
    let human = merge(
        &["status", "--plan", "merge.toml", "--out", "out"],
        &plan_dir,
    );
    assert_eq!(human.status.code(), Some(1));
    let said = text(&human.stdout);
    assert!(said.contains("group `release-test`: stale"), "{said}");
    assert!(
        said.contains("proto/pricing.proto changed (wire-compatible)"),
        "{said}"
    );

    // The downstream team pins the release: the plan is edited in place.
    let bumped = merge(&["bump", "pricing", "--tag", "v0.2.0"], &plan_dir);
    assert!(bumped.status.success(), "{}", text(&bumped.stderr));
    assert!(
        text(&bumped.stdout).contains("group `release-test` must be rebuilt"),
        "{}",
        text(&bumped.stdout)
    );
    let plan_now = std::fs::read_to_string(plan_dir.join("merge.toml")).expect("plan");
    insta::assert_snapshot!(
        "bumped_plan",
        plan_now.replace(&inventory.display().to_string(), "<inventory>/Cargo.toml")
    );

    // Built again: the new commit everywhere; fresh.
    let manifest = build(&plan_dir);
    assert_eq!(manifest_commit(&manifest), v020);
    let lock = text(&std::fs::read(plan_dir.join("merge.lock")).expect("merge.lock"));
    assert!(lock.contains(&format!("git-commit = \"{v020}\"")), "{lock}");
    assert!(lock.contains("git-pin = \"tag v0.2.0\""), "{lock}");
    assert_fresh(&plan_dir);

    // 0.3.0 changes a field's type: breaking. Pinned to 0.2.0 the group stays fresh (the
    // newer tag is said); pinned to 0.3.0 it is stale, the change classified breaking.
    edit(
        &repo,
        "proto/pricing.proto",
        "  uint32 quantity = 2;",
        "  string quantity = 2;",
    );
    git(
        &repo,
        &["commit", "-q", "-am", "pricing 0.3.0: quantities as text"],
    );
    git(&repo, &["tag", "v0.3.0"]);
    let (code, fresh) = status(&plan_dir);
    assert_eq!(code, Some(0), "{fresh}");
    assert_eq!(pricing(&fresh)["newer_tags"], serde_json::json!(["v0.3.0"]));
    let bumped = merge(&["bump", "pricing", "--tag", "v0.3.0"], &plan_dir);
    assert!(bumped.status.success(), "{}", text(&bumped.stderr));
    let (code, stale) = status(&plan_dir);
    assert_eq!(code, Some(1), "{stale}");
    let changes = pricing(&stale)["changes"].clone();
    let proto = changes
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["kind"] == "proto")
        .expect("a proto change")
        .clone();
    assert_eq!(proto["class"], "breaking", "{proto}");
    assert!(
        proto["details"]
            .to_string()
            .contains("changed type TYPE_UINT32 -> TYPE_STRING"),
        "{proto}"
    );
    assert!(
        changes
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["kind"] == "plan"),
        "{changes}"
    );

    // Following the newest tag instead of a pin: 0.3.0, the newest, is what the group takes.
    let v030 = git(&repo, &["rev-parse", "v0.3.0^{commit}"]);
    let plan_text = std::fs::read_to_string(plan_dir.join("merge.toml")).expect("plan");
    std::fs::write(
        plan_dir.join("merge.toml"),
        plan_text.replace("tag = \"v0.3.0\"", "track = \"latest-tag\""),
    )
    .expect("plan");
    let (code, stale) = status(&plan_dir);
    assert_eq!(code, Some(1), "{stale}");
    let p = pricing(&stale);
    assert_eq!(p["current_commit"], v030.as_str(), "{p}");
    assert!(p["changes"].to_string().contains("(latest-tag)"), "{p}");

    // The team's repository was only read: nothing in it that the team did not commit.
    assert_eq!(git(&repo, &["status", "--porcelain", "--ignored"]), "");
}
