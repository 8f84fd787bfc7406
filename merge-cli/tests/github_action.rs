//! The GitHub Action (action.yml) and the example workflow: both parse, every step of the
//! action has a shell, every output comes from what cargo-merge writes; and the action's steps
//! run as GitHub runs them (each `${{ }}` expression put in, inputs through the environment,
//! `bash --noprofile --norc -eo pipefail`, `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` files)
//! on the bundled shop: status (stale: never built), build (binary and manifest), status
//! (fresh).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::*;
use yaml_rust2::{Yaml, YamlLoader};

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).expect("read");
    let mut docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

fn action() -> Yaml {
    load(&root().join("action.yml"))
}

/// The action's steps.
fn steps(action: &Yaml) -> Vec<Yaml> {
    action["runs"]["steps"]
        .as_vec()
        .expect("runs.steps")
        .clone()
}

#[test]
fn the_action_and_the_example_workflow_parse_and_every_step_has_a_shell() {
    let a = action();
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    let inputs = a["inputs"].as_hash().expect("inputs");
    for step in steps(&a) {
        assert!(
            step["shell"].as_str().is_some_and(|s| !s.is_empty()),
            "a step without a shell: {step:?}"
        );
        // Every input a step names is declared.
        let text = format!("{:?}", step);
        for part in text.split("inputs.").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            assert!(
                inputs.contains_key(&Yaml::String(name.clone())),
                "input `{name}` is not declared"
            );
        }
    }
    // Every output is one the run step's cargo-merge writes.
    for (name, output) in a["outputs"].as_hash().expect("outputs") {
        let name = name.as_str().expect("a name");
        assert_eq!(
            output["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{name} }}}}").as_str()),
            "{name}"
        );
    }
    // The README shows the workflow as it is in its file.
    let file = std::fs::read_to_string(root().join("ci/github/member-released.yml")).expect("file");
    let body = &file[file.find("name: member released").expect("its name")..];
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    assert!(
        readme.contains(body),
        "README.md's copy of the workflow differs from its file"
    );
    let workflow = load(&root().join("ci/github/member-released.yml"));
    let jobs = workflow["jobs"].as_hash().expect("jobs");
    assert!(!jobs.is_empty());
    for (_, job) in jobs {
        for step in job["steps"].as_vec().expect("steps") {
            assert!(
                step["uses"].as_str().is_some() || step["run"].as_str().is_some(),
                "{step:?}"
            );
        }
    }
}

/// `${{ inputs.NAME }}` and `${{ github.action_path }}` put in, as GitHub does before a step
/// runs.
fn expand(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = match expr.strip_prefix("inputs.") {
            Some(name) => inputs.get(name).cloned().unwrap_or_default(),
            None if expr == "github.action_path" => root().display().to_string(),
            None => panic!("an expression the test cannot evaluate: {expr}"),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs every step of the action with `given` inputs (the others at their defaults) in
/// `dir`; returns the outputs written and the summary, or what the failing step said.
fn run_action(
    dir: &Path,
    given: &[(&str, &str)],
) -> Result<(BTreeMap<String, String>, String), String> {
    let a = action();
    let mut inputs: BTreeMap<String, String> = a["inputs"]
        .as_hash()
        .expect("inputs")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("name").to_owned(),
                v["default"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (k, v) in given {
        inputs.insert((*k).to_owned(), (*v).to_owned());
    }
    let output = dir.join("github_output");
    let summary = dir.join("github_step_summary");
    std::fs::write(&output, "").expect("output file");
    std::fs::write(&summary, "").expect("summary file");
    // cargo-merge is installed: the one this test was built with, first on PATH.
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_cargo-merge"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (i, step) in steps(&a).iter().enumerate() {
        let script = dir.join(format!("step-{i}.sh"));
        std::fs::write(&script, expand(step["run"].as_str().expect("run"), &inputs))
            .expect("script");
        let mut c = Command::new("bash");
        c.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .current_dir(dir)
            .env("PATH", &path)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_ACTION_PATH", root())
            .env("CARGO_TARGET_DIR", target())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(env) = step["env"].as_hash() {
            for (k, v) in env {
                let v = match v {
                    Yaml::String(s) => expand(s, &inputs),
                    other => panic!("an env value that is not a string: {other:?}"),
                };
                c.env(k.as_str().expect("a key"), v);
            }
        }
        let out = c.output().expect("bash runs");
        if !out.status.success() {
            return Err(format!(
                "step {i} failed ({}):\n{}\n{}",
                out.status,
                text(&out.stdout),
                text(&out.stderr)
            ));
        }
    }
    let written = std::fs::read_to_string(&output).expect("outputs");
    Ok((
        parse_outputs(&written),
        std::fs::read_to_string(&summary).expect("summary"),
    ))
}

/// `$GITHUB_OUTPUT`'s `name=value` and `name<<DELIMITER` forms, as GitHub reads them.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

#[test]
fn the_actions_steps_run_as_github_runs_them_on_the_shop() {
    build_fixtures(&[
        "shop/inventory",
        "shop/catalog",
        "shop/pricing",
        "shop/gateway",
    ]);
    let work = tempfile::tempdir().expect("tempdir");
    // The shop as group `action-shop` (its own binary name in the shared target).
    let shop = root().join("fixtures/shop");
    let mut plan = String::from(
        "[[group]]\nname = \"action-shop\"\nmembers = [\"catalog\", \"gateway\", \"inventory\", \"pricing\"]\n",
    );
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        plan.push_str(&format!(
            "\n[service.{m}]\nmanifest = \"{}\"\n",
            shop.join(m).join("Cargo.toml").display()
        ));
    }
    std::fs::write(work.path().join("merge.toml"), plan).expect("plan");

    let (outputs, summary) =
        run_action(work.path(), &[("command", "status")]).expect("status runs");
    assert_eq!(
        outputs.get("state").map(String::as_str),
        Some("stale"),
        "{outputs:?}"
    );
    assert_eq!(
        outputs.get("stale-groups").map(String::as_str),
        Some("action-shop")
    );
    assert!(summary.contains("### cargo merge status"), "{summary}");
    assert!(
        summary.contains("| action-shop | gateway | stale |"),
        "{summary}"
    );

    let (outputs, summary) = run_action(work.path(), &[("command", "build")]).expect("build runs");
    let binary = PathBuf::from(outputs.get("binary").expect("binary"));
    assert!(binary.is_file(), "{outputs:?}");
    assert_eq!(
        binary.file_name().and_then(|f| f.to_str()),
        Some("action-shop")
    );
    let manifest = PathBuf::from(outputs.get("manifest").expect("manifest"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("JSON");
    assert_eq!(doc["group"], "action-shop");
    assert_eq!(doc["binary"]["path"], binary.to_str().expect("utf-8"));
    assert!(summary.contains("### cargo merge build"), "{summary}");
    assert!(summary.contains("| action-shop |"), "{summary}");

    let (outputs, _) = run_action(work.path(), &[("command", "status")]).expect("status runs");
    assert_eq!(
        outputs.get("state").map(String::as_str),
        Some("fresh"),
        "{outputs:?}"
    );
    assert_eq!(outputs.get("stale-groups").map(String::as_str), Some(""));

    // An unknown command fails the step, naming it.
    let failed = run_action(work.path(), &[("command", "deploy")]).expect_err("fails");
    assert!(
        failed.contains("unknown command `deploy`") && failed.contains("exit status: 2"),
        "{failed}"
    );
}
