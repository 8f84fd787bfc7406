//! `cargo merge analyze` run as a user runs it: the real binary, real files.
//! Bad input must give exit status 2, an error naming the file and line (or the flag), and no
//! plan written; good input a stable report, plan and picture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use merge_analyzer::paths::normalize;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Runs `cargo-merge merge analyze ARGS` from the repository root.
fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .current_dir(root())
        .env("NO_COLOR", "1")
        .arg("merge")
        .arg("analyze")
        .args(args)
        .output()
        .expect("run cargo-merge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `files` into a fresh folder and runs analyze on `traffic` inside it with a plan
/// output; asserts exit 2, no plan, and returns stderr.
fn rejected(files: &[(&str, &str)], traffic: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write input");
    }
    let plan = dir.path().join("out/merge.toml");
    let traffic = dir.path().join(traffic);
    let mut args = vec![
        "--traffic",
        traffic.to_str().expect("utf-8 path"),
        "--plan-out",
        plan.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let out = analyze(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!plan.exists(), "a plan was written despite: {err}");
    assert!(!dir.path().join("out").exists(), "output folder created");
    assert!(stdout(&out).is_empty(), "report printed despite: {err}");
    err.replace(&format!("{}/", dir.path().display()), "")
}

const SERVICES: &str = r#"
[[service]]
name = "a"
cpu_cores = 1.0

[[service]]
name = "b"
cpu_cores = 1.0
"#;

#[test]
fn malformed_toml_names_file_and_line() {
    let text = format!("{SERVICES}\n[[call]\ncaller = \"a\"\n");
    let err = rejected(&[("t.toml", &text)], "t.toml", &[]);
    assert!(err.contains("]: t.toml:10:"), "{err}");
}

#[test]
fn undeclared_service_names_file_and_line() {
    let text = format!("{SERVICES}\n[[call]]\ncaller = \"a\"\ncallee = \"ghost\"\nqps = 1.0\n");
    let err = rejected(&[("t.toml", &text)], "t.toml", &[]);
    assert!(
        err.contains("]: t.toml:10: callee `ghost` is not a declared service"),
        "{err}"
    );
}

#[test]
fn negative_qps_names_file_and_line() {
    let text = format!("{SERVICES}\n[[call]]\ncaller = \"a\"\ncallee = \"b\"\nqps = -5.0\n");
    let err = rejected(&[("t.toml", &text)], "t.toml", &[]);
    assert!(
        err.contains("]: t.toml:10: call `a` -> `b`: `qps` = -5 must be a number >= 0"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = format!(
        "{SERVICES}\n[[call]]\ncaller = \"a\"\ncallee = \"ghost\"\nqps = 1.0\n\n\
         [[call]]\ncaller = \"b\"\ncallee = \"a\"\nqps = -1.0\n"
    );
    let err = rejected(&[("t.toml", &text)], "t.toml", &[]);
    assert!(err.contains("t.toml:10: callee `ghost`"), "{err}");
    assert!(err.contains("t.toml:15: call `b` -> `a`: `qps`"), "{err}");
}

#[test]
fn json_problems_name_file_and_line() {
    let text = r#"{
  "service": [
    {"name": "a", "cpu_cores": 1.0},
    {"name": "b", "cpu_cores": 1.0}
  ],
  "call": [
    {"caller": "a", "callee": "b", "qps": 3.0},
    {"caller": "a", "callee": "nobody", "qps": 3.0}
  ]
}
"#;
    let err = rejected(&[("t.json", text)], "t.json", &[]);
    assert!(err.contains("]: t.json:8: callee `nobody`"), "{err}");

    let broken = "{\n  \"service\": [\n    {\"name\": \"a\" \"cpu_cores\": 1.0}\n  ]\n}\n";
    let err = rejected(&[("t.json", broken)], "t.json", &[]);
    assert!(err.contains("]: t.json:3: expected"), "{err}");
}

#[test]
fn malformed_csv_line_names_file_and_line() {
    let services = "name,cpu_cores\na,1\nb,1\n";
    let calls = "caller,callee,qps\na,b,10\nb,a,fast\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("g");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("services.csv"), services).expect("write");
    std::fs::write(folder.join("calls.csv"), calls).expect("write");
    let plan = dir.path().join("merge.toml");
    let out = analyze(&[
        "--traffic",
        folder.to_str().expect("utf-8"),
        "--plan-out",
        plan.to_str().expect("utf-8"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("g/calls.csv:3: column `qps`: `fast` is not a number"),
        "{err}"
    );
    assert!(!plan.exists());

    std::fs::write(
        folder.join("calls.csv"),
        "caller,callee,qps\na,b,10,extra\n",
    )
    .expect("write");
    let out = analyze(&["--traffic", folder.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("g/calls.csv:2: this row has 4 fields, the header has 3"),
        "{err}"
    );
}

#[test]
fn threshold_out_of_range_in_the_file_names_file_and_line() {
    let text = format!("[thresholds]\nmin_affinity = 1.5\n{SERVICES}");
    let err = rejected(&[("t.toml", &text)], "t.toml", &[]);
    assert!(
        err.contains("t.toml:1: [thresholds] `min_affinity`: 1.5 is outside the range 0..=1")
            || err
                .contains("t.toml:2: [thresholds] `min_affinity`: 1.5 is outside the range 0..=1"),
        "{err}"
    );
}

#[test]
fn threshold_out_of_range_in_a_flag_names_the_flag() {
    let err = rejected(
        &[("t.toml", SERVICES)],
        "t.toml",
        &["--min-affinity", "1.5"],
    );
    assert!(err.contains("--min-affinity"), "{err}");
    assert!(err.contains("1.5 is outside the range 0..=1"), "{err}");
    let err = rejected(
        &[("t.toml", SERVICES)],
        "t.toml",
        &["--max-group-size", "1"],
    );
    assert!(err.contains("--max-group-size"), "{err}");
}

#[test]
fn missing_traffic_is_an_input_error() {
    let err = rejected(&[], "nothing.toml", &[]);
    assert!(err.contains("failed to read `nothing.toml`"), "{err}");
}

#[test]
fn unknown_folder_says_what_it_expected() {
    let err = rejected(&[("notes.txt", "hello")], "", &[]);
    assert!(err.contains("services.csv + calls.csv"), "{err}");
}

#[test]
fn shop_report_plan_and_picture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("merge.toml");
    let dot = dir.path().join("merge.dot");
    let out = analyze(&[
        "--traffic",
        "fixtures/traffic/shop.toml",
        "--plan-out",
        plan.to_str().expect("utf-8"),
        "--dot",
        dot.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("shop_human", stdout(&out));
    assert!(stderr(&out).contains("Wrote"), "{}", stderr(&out));

    // The plan's manifests are relative to the plan's folder; compare with the repository's
    // layout rather than the temporary folder's.
    let plan_text = std::fs::read_to_string(&plan).expect("plan written");
    let gateway = plan_text
        .lines()
        .find(|l| l.contains("gateway/Cargo.toml"))
        .expect("gateway manifest in the plan");
    let rel = gateway.trim_start_matches("manifest = ").trim_matches('"');
    let resolved = dir.path().join(rel);
    assert!(
        same_file(&resolved, &root().join("fixtures/shop/gateway/Cargo.toml")),
        "{rel} does not lead to fixtures/shop/gateway/Cargo.toml"
    );
    let dot_text = std::fs::read_to_string(&dot).expect("dot written");
    insta::assert_snapshot!("shop_dot", dot_text);

    // Same input, same bytes; an unchanged file is not rewritten.
    let before = std::fs::metadata(&plan)
        .and_then(|m| m.modified())
        .expect("mtime");
    let again = analyze(&[
        "--traffic",
        "fixtures/traffic/shop.toml",
        "--plan-out",
        plan.to_str().expect("utf-8"),
    ]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("Unchanged"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&plan).expect("plan"), plan_text);
    let after = std::fs::metadata(&plan)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after);
}

/// Whether two paths name the same file, compared lexically (the fixture services may not
/// exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| normalize(&std::path::absolute(p).expect("absolute"));
    canon(a) == canon(b)
}

#[test]
fn shop_json_line() {
    let out = analyze(&[
        "--traffic",
        "fixtures/traffic/shop.toml",
        "--message-format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON line");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["reason"], "merge-plan");
    let groups = v["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"], "gateway");
    assert_eq!(
        groups[0]["members"],
        serde_json::json!(["catalog", "gateway", "inventory", "pricing"])
    );
    for e in v["edges"].as_array().expect("edges") {
        let reasons = e["reasons"].as_array().expect("reasons");
        let merged = e["verdict"] == "merge";
        assert_eq!(merged, reasons.is_empty(), "{e}");
        let aff = e["affinity"].as_f64().expect("affinity");
        assert!((0.0..=1.0).contains(&aff), "{e}");
    }
    insta::assert_snapshot!("shop_json", text);
}

/// JSON lists every merged edge but only the heaviest `--limit` rejected ones, with counts.
#[test]
fn json_lists_the_heaviest_rejected_edges_up_to_the_limit() {
    let edges = |limit: &str| {
        let out = analyze(&[
            "--traffic",
            "fixtures/traffic/shop.toml",
            "--message-format",
            "json",
            "--limit",
            limit,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
        let pairs: Vec<String> = v["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| format!("{} {}->{}", e["verdict"], e["caller"], e["callee"]).replace('"', ""))
            .collect();
        (
            pairs,
            v["rejected_edges"].clone(),
            v["rejected_edges_omitted"].clone(),
        )
    };
    let (two, total, omitted) = edges("2");
    assert_eq!(
        two,
        [
            "merge gateway->catalog",
            "merge gateway->pricing",
            "merge catalog->inventory",
            "merge gateway->inventory",
            "reject web->gateway",
            "reject gateway->session-cache",
        ]
    );
    assert_eq!((total, omitted), (5.into(), 3.into()));
    let (all, total, omitted) = edges("0");
    assert_eq!(all.len(), 9, "{all:?}");
    assert_eq!((total, omitted), (5.into(), 0.into()));
}

#[test]
fn analyze_help() {
    let out = analyze(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("analyze_help", stdout(&out));
}

#[test]
fn toml_reports_every_bad_entry_with_its_field() {
    let text = "[[service]]\nname = \"a\"\ncpu_cores = \"x\"\n\n[[service]]\nname = \"b\"\n\
                cpu_cores = 1.0\nqsp = 3\n\n[[call]]\ncaller = \"a\"\ncallee = \"b\"\nqps = 1.0\n";
    let err = rejected(&[("t.toml", text)], "t.toml", &[]);
    assert!(err.contains("t.toml:1: `cpu_cores`: invalid type"), "{err}");
    assert!(err.contains("t.toml:5: unknown field `qsp`"), "{err}");
    assert!(
        !err.contains("not a declared service"),
        "cascading errors: {err}"
    );
}

#[test]
fn a_bare_plan_file_name_gets_relative_manifests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = root().join("fixtures/traffic/shop.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .current_dir(dir.path())
        .args(["merge", "analyze", "--traffic"])
        .arg(&shop)
        .args(["--plan-out", "merge.toml"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = std::fs::read_to_string(dir.path().join("merge.toml")).expect("plan");
    for line in plan.lines().filter(|l| l.starts_with("manifest")) {
        let rel = line.trim_start_matches("manifest = ").trim_matches('"');
        assert!(rel.starts_with(".."), "not relative: {line}");
        assert!(!rel.contains("//"), "{line}");
        let resolved = dir.path().canonicalize().expect("canonical").join(rel);
        assert!(resolved.ends_with(rel.trim_start_matches("../")), "{line}");
        assert_eq!(
            normalize(&resolved).file_name().expect("name"),
            "Cargo.toml"
        );
    }
}

#[test]
fn outputs_never_overwrite_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = dir.path().join("t.toml");
    std::fs::write(&traffic, SERVICES).expect("write");
    let t = traffic.to_str().expect("utf-8");
    let out = analyze(&["--traffic", t, "--plan-out", t]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would overwrite the traffic input"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&traffic).expect("read"), SERVICES);
    let same = dir.path().join("x.out");
    let x = same.to_str().expect("utf-8");
    let out = analyze(&["--traffic", t, "--plan-out", x, "--dot", x]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!same.exists());
}

#[test]
fn a_failing_picture_leaves_no_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("merge.toml");
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).expect("mkdir");
    let out = analyze(&[
        "--traffic",
        "fixtures/traffic/shop.toml",
        "--plan-out",
        plan.to_str().expect("utf-8"),
        "--dot",
        folder.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));
    assert!(!plan.exists(), "plan written although the picture failed");
}

#[test]
fn flags_override_the_file_thresholds_end_to_end() {
    let json = |extra: &[&str]| {
        let mut args = vec!["--traffic", "fixtures/traffic/cases/group-limit.toml"];
        args.extend_from_slice(&["--message-format", "json"]);
        args.extend_from_slice(extra);
        let out = analyze(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).expect("json")
    };
    let from_file = json(&[]);
    assert_eq!(from_file["thresholds"]["max_group_size"], 3);
    assert_eq!(
        from_file["groups"][0]["members"].as_array().map(Vec::len),
        Some(3)
    );
    let from_flag = json(&["--max-group-size", "4"]);
    assert_eq!(from_flag["thresholds"]["max_group_size"], 4);
    assert_eq!(
        from_flag["groups"][0]["members"].as_array().map(Vec::len),
        Some(4)
    );
}

#[test]
fn json_mode_reports_problems_as_diagnostic_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("{SERVICES}\n[[call]]\ncaller = \"a\"\ncallee = \"ghost\"\nqps = -1.0\n");
    let traffic = dir.path().join("t.toml");
    std::fs::write(&traffic, text).expect("write");
    let out = analyze(&[
        "--traffic",
        traffic.to_str().expect("utf-8"),
        "--message-format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let codes: Vec<&str> = lines
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, vec!["unknown-service", "invalid-value"]);
    for d in &lines {
        assert_eq!(d["reason"], "diagnostic");
        assert_eq!(d["severity"], "error");
        assert_eq!(d["line"], 10);
        assert!(d["file"].as_str().expect("file").ends_with("t.toml"));
        assert!(!d["help"].as_str().expect("help").is_empty());
    }
}
