//! Bad plans for `cargo merge build`: each is a clear error with a code, naming the plan file
//! and line, exit status 2, and nothing written (no output folder, no merge.lock).

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn fixture(path: &str) -> String {
    root()
        .join("fixtures")
        .join(path)
        .join("Cargo.toml")
        .display()
        .to_string()
}

/// Writes `plan` into a fresh folder, builds it, and checks the refusal; returns stderr with
/// the folder's path removed.
fn refused(plan: &str, extra: &[(&str, &str)]) -> String {
    refused_with(plan, extra, &[]).1
}

/// [`refused`] with more arguments to `cargo merge build`; returns stdout and stderr, the
/// folder's path removed.
fn refused_with(plan: &str, extra: &[(&str, &str)], args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in extra {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    for rel in extra.iter().map(|(r, _)| Path::new(r)) {
        if rel.ends_with("Cargo.toml") && rel.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
            lockfile(&dir.path().join(rel));
        }
    }
    let plan_path = dir.path().join("merge.toml");
    std::fs::write(&plan_path, plan).expect("write the plan");
    let out_dir = dir.path().join("out");
    let out = merge_build(
        &[
            "--plan",
            plan_path.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ]
        .into_iter()
        .chain(args.iter().copied())
        .collect::<Vec<_>>(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!out_dir.exists(), "output written despite: {err}");
    assert!(
        !dir.path().join("merge.lock").exists(),
        "merge.lock written despite: {err}"
    );
    // Refused before anything was compiled.
    assert!(compiled(&err).is_empty(), "compiled despite: {err}");
    let strip = |s: String| s.replace(&format!("{}/", dir.path().display()), "");
    (strip(text(&out.stdout)), strip(err))
}

/// A Cargo.lock for a package without registry dependencies (made offline).
fn lockfile(manifest: &PathBuf) {
    let out = std::process::Command::new(cargo())
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(manifest)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_unknown_member_is_named_at_its_line() {
    let err = refused(
        &format!(
            "[[group]]\nname = \"g\"\nmembers = [\n  \"audit\",\n  \"ghost\",\n]\n\n[service.audit]\nmanifest = \"{}\"\n",
            fixture("layouts/audit")
        ),
        &[],
    );
    assert!(
        err.contains("error[unknown-member]: merge.toml:5: group `g` lists `ghost`, but the plan gives no [service.ghost] manifest"),
        "{err}"
    );
}

#[test]
fn a_missing_manifest_is_named_at_its_service() {
    let err = refused(
        "[[group]]\nname = \"g\"\nmembers = [\"x\"]\n\n[service.x]\nmanifest = \"nowhere/Cargo.toml\"\n",
        &[],
    );
    assert!(
        err.contains("error[missing-manifest]: merge.toml:5: member `x`: manifest"),
        "{err}"
    );
    assert!(err.contains("nowhere/Cargo.toml` does not exist"), "{err}");
}

#[test]
fn a_library_is_not_a_service() {
    let err = refused(
        &format!(
            "[[group]]\nname = \"g\"\nmembers = [\"proto\"]\n\n[service.proto]\nmanifest = \"{}\"\n",
            fixture("shop/shop-proto")
        ),
        &[],
    );
    assert!(
        err.contains(
            "error[not-a-service]: merge.toml:5: member `proto`: package `shop-proto` is a library"
        ),
        "{err}"
    );
}

#[test]
fn several_binaries_need_a_bin() {
    let err = refused(
        &format!(
            "[[group]]\nname = \"g\"\nmembers = [\"toolbox\"]\n\n[service.toolbox]\nmanifest = \"{}\"\n",
            fixture("layouts/toolbox")
        ),
        &[],
    );
    assert!(
        err.contains("error[ambiguous-binary]: merge.toml:5: member `toolbox`"),
        "{err}"
    );
    assert!(
        err.contains("has several binaries (`toolbox-cli`, `toolbox-health`, `toolbox-server`)"),
        "{err}"
    );
    let wrong = refused(
        &format!(
            "[[group]]\nname = \"g\"\nmembers = [\"toolbox\"]\n\n[service.toolbox]\nmanifest = \"{}\"\nbin = \"toolbox\"\n",
            fixture("layouts/toolbox")
        ),
        &[],
    );
    assert!(wrong.contains("has no binary `toolbox`"), "{wrong}");
}

#[test]
fn two_packages_linking_one_native_library_are_refused_with_both_chains() {
    let sys = |version: &str| {
        format!(
            "[package]\nname = \"foo-sys\"\nversion = \"{version}\"\nedition = \"2021\"\nlinks = \"foo\"\nbuild = \"build.rs\"\n"
        )
    };
    let app = |name: &str, sys: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nfoo-sys = {{ path = \"../{sys}\" }}\n\n[workspace]\n"
        )
    };
    let err = refused(
        "[[group]]\nname = \"g\"\nmembers = [\"a\", \"b\"]\n\n[service.a]\nmanifest = \"a/Cargo.toml\"\n\n[service.b]\nmanifest = \"b/Cargo.toml\"\n",
        &[
            ("sys1/Cargo.toml", &sys("0.1.0")),
            ("sys1/build.rs", "fn main() {}\n"),
            ("sys1/src/lib.rs", ""),
            ("sys2/Cargo.toml", &sys("0.2.0")),
            ("sys2/build.rs", "fn main() {}\n"),
            ("sys2/src/lib.rs", ""),
            ("a/Cargo.toml", &app("a", "sys1")),
            ("a/src/main.rs", "fn main() {}\n"),
            ("b/Cargo.toml", &app("b", "sys2")),
            ("b/src/main.rs", "fn main() {}\n"),
        ],
    );
    assert!(
        err.contains(
            "error[links-conflict]: merge.toml:2: the native library `foo` is linked by 2 packages"
        ),
        "{err}"
    );
    assert!(err.contains("a 0.1.0 -> foo-sys 0.1.0"), "{err}");
    assert!(err.contains("b 0.1.0 -> foo-sys 0.2.0"), "{err}");
}

/// An error-level `cargo merge check` finding that build cannot mend refuses the build under
/// the finding's own code, in both formats, before anything is compiled or written; `--allow`
/// names it. Two members that each size rayon's global pool: `global-thread-pool` (the sources
/// are only read, never compiled, so they need not depend on rayon).
#[test]
fn an_unmended_check_error_is_refused_under_its_own_code() {
    let app = |name: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
        )
    };
    let main = "fn main() {\n    rayon::ThreadPoolBuilder::new().num_threads(2).build_global().unwrap();\n}\n";
    let plan = "[[group]]\nname = \"g\"\nmembers = [\"a\", \"b\"]\n\n[service.a]\nmanifest = \"a/Cargo.toml\"\n\n[service.b]\nmanifest = \"b/Cargo.toml\"\n";
    let members = [
        ("a/Cargo.toml", app("a")),
        ("a/src/main.rs", main.to_owned()),
        ("b/Cargo.toml", app("b")),
        ("b/src/main.rs", main.to_owned()),
    ];
    let members: Vec<(&str, &str)> = members.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let err = refused(plan, &members);
    assert!(
        err.contains(
            "error[global-thread-pool]: a/src/main.rs:2: `a` configures rayon's global thread pool"
        ),
        "{err}"
    );
    assert!(
        err.contains("error[global-thread-pool]: b/src/main.rs:2: `b`"),
        "{err}"
    );
    assert!(
        err.contains("(cargo merge check: global-thread-pool; pass --allow global-thread-pool to build anyway)"),
        "{err}"
    );
    assert!(!err.contains("version-conflict"), "{err}");

    let (json, _) = refused_with(plan, &members, &["--message-format", "json"]);
    let diagnostics: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|v: &serde_json::Value| v["reason"] == "diagnostic")
        .collect();
    assert_eq!(diagnostics.len(), 2, "{json}");
    for d in &diagnostics {
        assert_eq!(d["code"], "global-thread-pool", "{json}");
        assert_eq!(d["severity"], "error", "{json}");
        assert_eq!(d["line"], 2, "{json}");
    }
}

#[test]
fn every_problem_is_reported_together() {
    let err = refused(
        &format!(
            "[[group]]\nname = \"g\"\nmembers = [\"ghost\", \"proto\"]\n\n[service.proto]\nmanifest = \"{}\"\n",
            fixture("shop/shop-proto")
        ),
        &[],
    );
    assert!(err.contains("error[unknown-member]"), "{err}");
    assert!(err.contains("error[not-a-service]"), "{err}");
}

#[test]
fn an_output_folder_around_a_member_is_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = dir.path().join("svc");
    std::fs::create_dir_all(svc.join("src")).expect("mkdir");
    std::fs::write(
        svc.join("Cargo.toml"),
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("write");
    std::fs::write(svc.join("src/main.rs"), "fn main() {}\n").expect("write");
    lockfile(&svc.join("Cargo.toml"));
    let plan = dir.path().join("merge.toml");
    std::fs::write(
        &plan,
        "[[group]]\nname = \"svc\"\nmembers = [\"svc\"]\n\n[service.svc]\nmanifest = \"svc/Cargo.toml\"\n",
    )
    .expect("write the plan");
    let before = tree(dir.path());
    // `--out .` around the member: the group folder would be the member's own folder.
    let out = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        dir.path().to_str().expect("utf-8"),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("error[output-conflict]"), "{err}");
    assert_eq!(tree(dir.path()), before, "something was written");
}

/// A member whose Cargo.lock predates a dependency of its manifest: cargo-merge reads members
/// `--locked` and never writes their lockfiles, so the plan is refused as `stale-lockfile` (not
/// `missing-manifest`: the manifest is there), by `build` and by `check` alike, with cargo's
/// error line but not its hint to drop `--locked`.
#[test]
fn a_member_with_an_out_of_date_lockfile_is_refused_as_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = dir.path().join("svc");
    std::fs::create_dir_all(svc.join("src")).expect("mkdir");
    let manifest = svc.join("Cargo.toml");
    let package =
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
    std::fs::write(&manifest, package).expect("write");
    std::fs::write(svc.join("src/main.rs"), "fn main() {}\n").expect("write");
    lockfile(&manifest);
    // The dependency comes after the lockfile: the lockfile lacks it.
    std::fs::write(
        &manifest,
        format!("{package}\n[dependencies]\nlog = \"0.4\"\n"),
    )
    .expect("write");
    let lock = std::fs::read(svc.join("Cargo.lock")).expect("the lockfile");
    let plan = dir.path().join("merge.toml");
    std::fs::write(
        &plan,
        "[[group]]\nname = \"g\"\nmembers = [\"svc\"]\n\n[service.svc]\nmanifest = \"svc/Cargo.toml\"\n",
    )
    .expect("write the plan");
    let out_dir = dir.path().join("out");
    let build = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .args(["merge", "check", "--plan"])
        .arg(&plan)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cargo-merge");
    let strip = |s: String| s.replace(&format!("{}/", dir.path().display()), "");
    for (command, out) in [("build", &build), ("check", &check)] {
        let err = strip(text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains(
                "error[stale-lockfile]: merge.toml:5: member `svc`: its lockfile `svc/Cargo.lock` is out of date with `svc/Cargo.toml`; cargo: "
            ),
            "{command}: {err}"
        );
        assert!(err.contains("lock file svc/Cargo.lock"), "{command}: {err}");
        assert!(
            err.contains("cargo-merge never writes a member's lockfile"),
            "{command}: {err}"
        );
        assert!(!err.contains("missing-manifest"), "{command}: {err}");
        assert!(
            !err.contains("remove the --locked flag"),
            "{command}: {err}"
        );
        assert!(
            compiled(&err).is_empty(),
            "{command} compiled despite: {err}"
        );
    }
    assert!(!out_dir.exists(), "output written");
    assert!(
        !dir.path().join("merge.lock").exists(),
        "merge.lock written"
    );
    assert_eq!(
        std::fs::read(svc.join("Cargo.lock")).expect("the lockfile"),
        lock,
        "the member's lockfile was written"
    );
}

#[test]
fn a_merge_lock_that_does_not_parse_is_refused_before_anything_is_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("merge.toml");
    std::fs::write(
        &plan,
        format!(
            "[[group]]\nname = \"locked\"\nmembers = [\"inventory\"]\n\n[service.inventory]\nmanifest = \"{}\"\n",
            fixture("shop/inventory")
        ),
    )
    .expect("plan");
    // What a merge of two pull requests that each changed merge.lock leaves.
    let conflicted = "version = 2\n<<<<<<< HEAD\n[[member]]\n";
    std::fs::write(dir.path().join("merge.lock"), conflicted).expect("lock");
    let out_dir = dir.path().join("out");
    let out = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("merge.lock") && err.contains("does not parse"),
        "{err}"
    );
    assert!(!out_dir.exists(), "built despite: {err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("merge.lock")).expect("lock"),
        conflicted
    );
}
