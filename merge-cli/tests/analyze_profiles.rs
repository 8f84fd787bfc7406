//! `cargo merge analyze --profiles`: folded stack profiles set the services' encoding costs,
//! end to end through the real binary, with fixtures/profiles/shop (shares worked out in its
//! README.md).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn analyze(profiles: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .args([
            "merge",
            "analyze",
            "--traffic",
            "fixtures/traffic/shop.toml",
            "--profiles",
        ])
        .arg(profiles)
        .args(["--message-format", "json"])
        .current_dir(ROOT)
        .output()
        .expect("cargo-merge runs")
}

/// The `merge-plan` line of the JSON output.
fn merge_plan(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["reason"] == "merge-plan")
        .unwrap_or_else(|| panic!("no merge-plan line in:\n{stdout}"))
}

fn edge_cost(plan: &Value, caller: &str, callee: &str) -> f64 {
    let edges = plan["edges"].as_array().expect("edges");
    let edge = edges
        .iter()
        .find(|e| e["caller"] == caller && e["callee"] == callee)
        .unwrap_or_else(|| panic!("no edge {caller} -> {callee} in {edges:?}"));
    edge["encoding_cost"].as_f64().expect("a number")
}

#[test]
fn profiles_set_the_encoding_cost_of_edges_into_their_services() {
    let out = analyze(Path::new("fixtures/profiles/shop"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    let plan = merge_plan(&out);

    // Samples in encoding frames / all samples, per fixtures/profiles/shop/README.md.
    let gateway = 64.0 / 1000.0;
    let pricing = 56.0 / 500.0;
    let inventory = 114.0 / 1200.0;
    // A call without its own encoding_cost takes the callee's.
    for (caller, callee, want) in [
        ("web", "gateway", gateway),
        ("gateway", "pricing", pricing),
        ("web", "pricing", pricing),
        ("catalog", "inventory", inventory),
        ("gateway", "inventory", inventory),
        // The traffic file gives this call its own 0.10, which a profile does not replace.
        ("gateway", "catalog", 0.10),
    ] {
        let got = edge_cost(&plan, caller, callee);
        assert!(
            (got - want).abs() < 1e-12,
            "{caller} -> {callee}: {got}, want {want}"
        );
    }

    // Each replaced traffic-file value is reported, catalog's too (no edge shows it).
    for note in [
        "profile of `gateway` replaces its encoding_cost 0.09 with 0.064",
        "profile of `catalog` replaces its encoding_cost 0.11 with 0.13",
        "profile of `pricing` replaces its encoding_cost 0.08 with 0.112",
        "profile of `inventory` replaces its encoding_cost 0.12 with 0.095",
    ] {
        assert!(stderr.contains(note), "missing `{note}` in:\n{stderr}");
    }
}

#[test]
fn a_bad_profile_line_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = Path::new(ROOT).join("fixtures/profiles/shop/gateway.folded");
    std::fs::copy(good, dir.path().join("gateway.folded")).expect("copy");
    let bad = "main;<pricing::proto::Quote as prost::message::Message>::encode_raw 3\n\
               main;pricing::engine::PriceEngine::quote many\n";
    std::fs::write(dir.path().join("pricing.folded"), bad).expect("write");

    // In JSON mode the problems are `diagnostic` lines on stdout, and no merge-plan line.
    let out = analyze(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let diagnostics: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(diagnostics.len(), 1, "only the bad profile: {stdout}");
    let d = &diagnostics[0];
    assert_eq!(d["reason"], "diagnostic");
    assert_eq!(d["code"], "malformed-input");
    assert_eq!(d["line"], 2);
    let file = dir.path().join("pricing.folded");
    assert_eq!(d["file"].as_str(), file.to_str());
    let message = d["message"].as_str().expect("message");
    assert!(
        message.contains("`many` is not a number of samples"),
        "{message}"
    );
}
