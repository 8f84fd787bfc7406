//! `cargo merge analyze` on the real-trace fixtures: the Alibaba v2021 sample
//! (fixtures/traffic/alibaba-v2021-sample), the DGG pattern subset (fixtures/traffic/dgg) and
//! the shop's recorded spans with its CPU (fixtures/traces).
//!
//! The binary runs from the repository root with a repository-relative `--traffic` path, so the
//! snapshots hold no machine paths. Each fixture's human report and its `merge-plan` JSON line are
//! snapshotted; the JSON is also checked for consistency (verdicts against reasons, affinities
//! in 0..=1, merged edges inside one group).

use std::collections::HashMap;
use std::process::Command;

use merge_analyzer::group::group_name;
use serde_json::Value;

const ALIBABA: &str = "fixtures/traffic/alibaba-v2021-sample";
const DGG: &str = "fixtures/traffic/dgg";
const SPANS: &str = "fixtures/traces/shop.otlp.jsonl";
const CPU: &str = "fixtures/traces/shop.cpu.prom";

const REASONS: [&str; 7] = [
    "low-affinity",
    "low-encoding-cost",
    "cache-heavy",
    "high-load",
    "memory-constrained",
    "non-rpc",
    "group-limit",
];

/// Runs `cargo-merge merge analyze --traffic <traffic> <extra>` from the repository root and
/// returns its stdout, after checking that it succeeded.
fn analyze(traffic: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["merge", "analyze", "--traffic", traffic])
        .args(extra)
        .output()
        .expect("run cargo-merge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{traffic}: {:?}\n{stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// The number after `label` at the start of a report line (`Merge groups: 4 (...)`).
fn count_after(report: &str, label: &str) -> usize {
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{report}"));
    let digits: String = line
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a count")
}

fn human(traffic: &str) -> String {
    let report = analyze(traffic, &[]);
    assert!(count_after(&report, "Merge groups:") > 0, "{report}");
    assert!(count_after(&report, "Rejected edges:") > 0, "{report}");
    report
}

/// The `merge-plan` line, checked for consistency: at least one group and one rejected edge,
/// each verdict agreeing with its reasons.
fn merge_plan(traffic: &str) -> Value {
    // Every edge (`--limit 0`): the snapshots hold the whole judged graph.
    let stdout = analyze(traffic, &["--message-format", "json", "--limit", "0"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    let plan: Value = serde_json::from_str(lines[0]).expect("valid JSON");
    assert_eq!(plan["reason"], "merge-plan");

    let groups = plan["groups"].as_array().expect("groups");
    assert!(!groups.is_empty(), "no groups for {traffic}");
    let mut group_of = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        let name = g["name"].as_str().expect("group name");
        let members: Vec<&str> = g["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m.as_str().expect("member name"))
            .collect();
        assert!(members.len() >= 2, "group {name}: {members:?}");
        assert!(members.is_sorted(), "group {name} members are sorted");
        assert!(
            members.iter().any(|m| group_name(m) == name),
            "group {name} is named after a member (made folder-safe)"
        );
        assert!(g["est_cores_saved"].as_f64().expect("saving") > 0.0);
        for m in members {
            assert!(group_of.insert(m, i).is_none(), "{m} is in two groups");
        }
    }

    let edges = plan["edges"].as_array().expect("edges");
    let mut rejected = 0;
    for e in edges {
        let (caller, callee) = (e["caller"].as_str(), e["callee"].as_str());
        let (caller, callee) = (caller.expect("caller"), callee.expect("callee"));
        let affinity = e["affinity"].as_f64().expect("affinity");
        assert!((0.0..=1.0).contains(&affinity), "{e}");
        let cost = e["encoding_cost"].as_f64().expect("encoding_cost");
        assert!((0.0..=1.0).contains(&cost), "{e}");
        let reasons: Vec<&str> = e["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().expect("reason code"))
            .collect();
        assert!(reasons.iter().all(|r| REASONS.contains(r)), "{e}");
        match e["verdict"].as_str() {
            Some("merge") => {
                assert!(reasons.is_empty(), "{e}");
                assert_eq!(e["rpctype"], "rpc", "{e}");
                let (a, b) = (group_of.get(caller), group_of.get(callee));
                assert!(a.is_some() && a == b, "merged edge outside one group: {e}");
            }
            Some("reject") => {
                assert!(!reasons.is_empty(), "{e}");
                assert_eq!(e["rpctype"] != "rpc", reasons.contains(&"non-rpc"), "{e}");
                rejected += 1;
            }
            other => panic!("verdict {other:?}: {e}"),
        }
    }
    assert!(rejected > 0, "no rejected edges for {traffic}");
    plan
}

#[test]
fn alibaba_sample_human_report() {
    insta::assert_snapshot!("alibaba_human", human(ALIBABA));
}

#[test]
fn alibaba_sample_merge_plan() {
    let plan = merge_plan(ALIBABA);
    let pretty = serde_json::to_string_pretty(&plan).expect("pretty JSON");
    insta::assert_snapshot!("alibaba_json", pretty);
}

#[test]
fn dgg_patterns_human_report() {
    let report = human(DGG);
    // The `Top_<n>_S_<id>` folder is qualified by its `S_<id>`.
    assert!(report.contains("S_19481993/"), "{report}");
    insta::assert_snapshot!("dgg_human", report);
}

#[test]
fn dgg_patterns_merge_plan() {
    let plan = merge_plan(DGG);
    let edges = plan["edges"].as_array().expect("edges");
    assert!(
        edges.iter().all(|e| e["caller"] != "USER"
            && !e["caller"].as_str().is_some_and(|c| c.ends_with("/USER"))),
        "entry nodes are callers the analysis never judges"
    );
    let pretty = serde_json::to_string_pretty(&plan).expect("pretty JSON");
    insta::assert_snapshot!("dgg_json", pretty);
}

#[test]
fn shop_spans_with_cpu_human_report() {
    let report = analyze(SPANS, &["--traffic", CPU]);
    assert!(count_after(&report, "Merge groups:") > 0, "{report}");
    insta::assert_snapshot!("shop_spans_human", report);
}

#[test]
fn shop_spans_merge_plan() {
    merge_plan(SPANS);
}

/// A span file with a span whose resource has no service: exit status 2, the file, line and
/// span named, and no plan written.
#[test]
fn a_bad_span_file_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let text = std::fs::read_to_string(format!("{root}/{SPANS}")).expect("spans");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen("\"service.name\"", "\"service.namespace\"", 1);
    let bad = dir.path().join("spans.jsonl");
    std::fs::write(&bad, lines.join("\n")).expect("write");
    let plan = dir.path().join("merge.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .args(["merge", "analyze", "--traffic"])
        .arg(&bad)
        .arg("--plan-out")
        .arg(&plan)
        .output()
        .expect("run cargo-merge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2: span ", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("has no service"), "{stderr}");
    assert!(!plan.exists(), "no plan is written");
}
