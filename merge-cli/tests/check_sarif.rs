//! `cargo merge check --message-format sarif` as code scanning gets it: the hazard fixture's log
//! is valid against the official SARIF 2.1.0 schema (the OASIS file the `serde-sarif` crate
//! ships as `src/schema.json`, found through `cargo metadata`), a broken copy is not, its
//! results match the JSON lines one to one with paths from the root of the git work tree (this
//! checkout's, as in CI's clone), members outside the plan's work tree get absolute `file://`
//! URIs, and the shop's log has nothing to fix.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{root, text};

fn check(plan: &Path, format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .current_dir(root())
        .env("NO_COLOR", "1")
        .args(["merge", "check", "--plan"])
        .arg(plan)
        .args(["--message-format", format])
        .output()
        .expect("run cargo-merge")
}

fn hazards_plan() -> PathBuf {
    PathBuf::from("fixtures/hazards/merge.toml")
}

/// The root of the git work tree holding `dir`: the first of it and its ancestors with a `.git`
/// folder or file.
fn git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|a| a.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The `diagnostic` lines of `--message-format json`.
fn diagnostics(plan: &Path) -> Vec<Value> {
    let out = check(plan, "json");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|v: &Value| v["reason"] == "diagnostic")
        .collect()
}

/// The absolute file a diagnostic `d` of the plan `plan` is about: its file in its member's
/// package, else its member's manifest (through the plan).
fn diagnostic_path(plan: &Path, d: &Value) -> PathBuf {
    let parsed = merge_analyzer::members::read_plan(plan).expect("the plan");
    let member = d["member"].as_str().expect("a member");
    let manifest = parsed.dir.join(
        parsed.plan.service[member]
            .manifest
            .as_deref()
            .expect("a manifest"),
    );
    let path = match d["file"].as_str() {
        Some(file) => manifest.parent().expect("a package folder").join(file),
        None => manifest,
    };
    merge_analyzer::paths::normalize(&path)
}

/// The `n`th line (from 1) of the file `path`, as the checks read it.
fn source_line(path: &Path, n: u64) -> String {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let index = usize::try_from(n).expect("a line number") - 1;
    source.lines().nth(index).expect("the line").to_owned()
}

/// The path of a `file://` URI, percent-decoded.
fn file_path(uri: &str) -> PathBuf {
    let path = uri.strip_prefix("file://").expect("a file URI");
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("two hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).expect("utf-8");
    // `file:///C:/x` on Windows.
    match path.strip_prefix('/') {
        Some(rest) if rest.get(1..2) == Some(":") => PathBuf::from(rest),
        _ => PathBuf::from(path),
    }
}

/// The SARIF 2.1.0 schema of the `serde-sarif` package this workspace locks.
fn schema() -> Value {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .other_options(vec!["--locked".to_owned()])
        .exec()
        .expect("cargo metadata of the workspace");
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "serde-sarif")
        .expect("serde-sarif is a dev-dependency of cargo-merge");
    let path = package
        .manifest_path
        .parent()
        .expect("a package folder")
        .join("src/schema.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")),
    )
    .expect("the schema is JSON");
    assert_eq!(
        schema["$id"],
        "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
    );
    schema
}

/// The `language` pattern of the 2.1.0 schema as first published: its stray `]` is no regex the
/// draft-07 meta-schema accepts (`format: regex`, ECMA-262), so jsonschema refuses the schema.
/// OASIS fixed it in 2.1.0 errata01 (oasis-tcs/sarif-spec#488) with `ERRATUM_PATTERN`.
const PUBLISHED_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
const ERRATUM_PATTERN: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";

/// Puts errata01's `language` pattern in place of the published one, wherever it is.
fn apply_erratum(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "pattern" && *value == PUBLISHED_PATTERN {
                    *value = ERRATUM_PATTERN.into();
                } else {
                    apply_erratum(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(apply_erratum),
        _ => {}
    }
}

/// A draft-07 validator of the schema that also checks `format` (`uri`, `uri-reference`, ...).
fn validator() -> jsonschema::Validator {
    let mut schema = schema();
    apply_erratum(&mut schema);
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// Every way `log` breaks the schema, one line each.
fn violations(v: &jsonschema::Validator, log: &Value) -> Vec<String> {
    v.iter_errors(log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sarif(plan: &Path, status: i32) -> Value {
    let out = check(plan, "sarif");
    assert_eq!(out.status.code(), Some(status), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let log: Value = serde_json::from_str(&stdout).expect("one JSON document");
    // The typed model of serde-sarif reads it too.
    serde_json::from_value::<serde_sarif::sarif::Sarif>(log.clone()).expect("serde-sarif reads it");
    log
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().expect("results")
}

#[test]
fn the_hazards_log_is_valid_sarif() {
    let log = sarif(&hazards_plan(), 1);
    let v = validator();
    let problems = violations(&v, &log);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(log["version"], "2.1.0");
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "cargo-merge");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let ids: Vec<&str> = driver["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("an id"))
        .collect();
    for code in [
        "links-conflict",
        "exact-pin-conflict",
        "version-drift",
        "unsupported-tonic",
        "version-conflict",
        "feature-drift",
        "profile-conflict",
        "patch-conflict",
        "global-allocator",
        "global-logger-init",
        "global-tracing-init",
        "metrics-default-registry",
        "env-var-collision",
        "listen-addr-collision",
        "process-exit",
        "env-set-var",
        "static-mut",
        "served-stack",
        "service-stack",
        "client-stack",
        "unrouted-service",
        "global-thread-pool",
        "signal-handler",
        "current-dir",
    ] {
        assert_eq!(
            ids.iter().filter(|id| **id == code).count(),
            1,
            "one rule {code}"
        );
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "rule ids are unique: {ids:?}");
    for r in results(&log) {
        let index = r["ruleIndex"].as_u64().expect("a rule index") as usize;
        assert_eq!(Some(&r["ruleId"]), driver["rules"][index].get("id"), "{r}");
    }
}

#[test]
fn a_broken_log_is_rejected() {
    let log = sarif(&hazards_plan(), 1);
    assert!(!results(&log).is_empty(), "the hazards have findings");
    let v = validator();
    let mut fatal = log.clone();
    fatal["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!violations(&v, &fatal).is_empty(), "level fatal accepted");
    let mut line_zero = log.clone();
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    assert!(!violations(&v, &line_zero).is_empty(), "line 0 accepted");
    let mut not_a_uri = log.clone();
    not_a_uri["$schema"] = "not a uri".into();
    assert!(
        !violations(&v, &not_a_uri).is_empty(),
        "formats are not checked"
    );
    let mut no_version = log;
    no_version
        .as_object_mut()
        .expect("an object")
        .remove("version");
    assert!(
        !violations(&v, &no_version).is_empty(),
        "no version accepted"
    );
}

/// Each result is the `diagnostic` line of the same finding: code, level, place (the file
/// relative to the root of the git work tree, through the member's manifest in the plan) and
/// message. The region starts at the finding's column; the whole source line is the snippet of
/// the region when that is the whole line, else of a context region of the line.
#[test]
fn the_results_are_the_json_diagnostics() {
    let plan = hazards_plan();
    let log = sarif(&plan, 1);
    let lines = diagnostics(&plan);
    let results = results(&log);
    assert_eq!(results.len(), lines.len(), "one result per diagnostic");
    let plan = root().join(&plan);
    let git = git_root(plan.parent().expect("the plan's folder"))
        .expect("the checkout is a git work tree (.git)");
    for (r, d) in results.iter().zip(&lines) {
        assert_eq!(r["ruleId"], d["code"], "{r}\n{d}");
        assert_eq!(r["level"], d["severity"], "{r}\n{d}");
        assert_eq!(r["properties"]["group"], d["group"], "{r}\n{d}");
        assert_eq!(r["properties"]["member"], d["member"], "{r}\n{d}");
        let message = r["message"]["text"].as_str().expect("a message");
        assert!(
            message.starts_with(d["message"].as_str().expect("a message")),
            "{r}\n{d}"
        );
        let path = diagnostic_path(&plan, d);
        let place = &r["locations"][0]["physicalLocation"];
        assert_eq!(place["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let uri = place["artifactLocation"]["uri"].as_str().expect("a uri");
        let expected = path.strip_prefix(&git).expect("a file in the work tree");
        assert_eq!(
            uri,
            expected.to_string_lossy().replace('\\', "/"),
            "{r}\n{d}"
        );
        assert!(uri.starts_with("fixtures/hazards/"), "{r}\n{d}");
        let region = &place["region"];
        let context = &place["contextRegion"];
        match d["file"].as_str() {
            Some(_) => {
                assert_eq!(region["startLine"], d["line"], "{r}\n{d}");
                assert_eq!(region["startColumn"], d["column"], "{r}\n{d}");
                let Some(line) = d["line"].as_u64() else {
                    continue;
                };
                let source = source_line(&path, line);
                if d["column"].as_u64().is_some_and(|c| c > 1) {
                    assert!(region.get("snippet").is_none(), "{r}\n{d}");
                    assert_eq!(context["startLine"], line, "{r}\n{d}");
                    assert!(context.get("startColumn").is_none(), "{r}\n{d}");
                    assert_eq!(context["snippet"]["text"], source, "{r}\n{d}");
                } else {
                    assert!(context.is_null(), "{r}\n{d}");
                    assert_eq!(region["snippet"]["text"], source, "{r}\n{d}");
                }
            }
            None => {
                assert_eq!(region["startLine"], 1, "{r}\n{d}");
                assert!(context.is_null(), "{r}\n{d}");
            }
        }
    }
}

/// Members outside the work tree of the plan (a temporary one here, with its own `.git`) are
/// placed by absolute `file://` URIs, with no `uriBaseId` and no `../`.
#[test]
fn members_outside_the_work_tree_get_file_uris() {
    let tree = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(tree.path().join(".git")).expect("a .git folder");
    let hazards = root().join("fixtures/hazards");
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(hazards.join("merge.toml"))
        .expect("the hazards plan")
        .parse()
        .expect("TOML");
    for (_, service) in doc["service"]
        .as_table_mut()
        .expect("a service table")
        .iter_mut()
    {
        let manifest = service["manifest"].as_str().expect("a manifest");
        let absolute = hazards.join(manifest);
        service["manifest"] = toml_edit::value(absolute.to_str().expect("utf-8"));
    }
    let folder = tree.path().join("deploy");
    std::fs::create_dir(&folder).expect("the plan's folder");
    let plan = folder.join("merge.toml");
    std::fs::write(&plan, doc.to_string()).expect("write the plan");
    let log = sarif(&plan, 1);
    let problems = violations(&validator(), &log);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let lines = diagnostics(&plan);
    let results = results(&log);
    assert!(!results.is_empty(), "the hazards have findings");
    assert_eq!(results.len(), lines.len(), "one result per diagnostic");
    for (r, d) in results.iter().zip(&lines) {
        let artifact = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert!(artifact.get("uriBaseId").is_none(), "{r}");
        let uri = artifact["uri"].as_str().expect("a uri");
        assert!(uri.starts_with("file:///"), "{r}");
        assert!(!uri.contains("/../"), "{r}");
        assert_eq!(file_path(uri), diagnostic_path(&plan, d), "{r}\n{d}");
    }
}

#[test]
fn the_log_is_deterministic_and_names_no_absolute_path() {
    let first = check(&hazards_plan(), "sarif");
    let second = check(&hazards_plan(), "sarif");
    assert_eq!(text(&first.stdout), text(&second.stdout));
    let root = root();
    let log = text(&first.stdout);
    assert!(
        !log.contains(root.to_str().expect("utf-8")),
        "an absolute path in the log"
    );
    let log: Value = serde_json::from_str(&log).expect("one JSON document");
    for r in results(&log) {
        let artifact = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uriBaseId"], "%SRCROOT%", "{r}");
        let uri = artifact["uri"].as_str().expect("a uri");
        assert!(!uri.split('/').any(|s| s == ".."), "{r}");
    }
}

#[test]
fn the_shop_log_has_nothing_to_fix() {
    let plan = tempfile::tempdir().expect("tempdir");
    let path = support::shop_plan(plan.path(), &root().join("fixtures/shop"));
    let log = sarif(&path, 0);
    let problems = violations(&validator(), &log);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for r in results(&log) {
        assert_eq!(r["level"], "note", "{r}");
        // The shop is outside the plan's folder (and its work tree, if any): absolute file
        // URIs, unless the temporary folder is inside this checkout.
        let artifact = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        let uri = artifact["uri"].as_str().expect("a uri");
        assert!(!uri.starts_with('/'), "{uri}");
        assert!(!uri.split('/').any(|s| s == ".."), "{uri}");
        if artifact.get("uriBaseId").is_none() {
            assert!(uri.starts_with("file:///"), "{uri}");
        }
    }
}
