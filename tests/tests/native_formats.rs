//! The three spellings of the native format (TOML, JSON, CSV folder) of the same graph give the
//! same analysis and byte-identical plans: output depends on the traffic, not on its spelling.

use std::path::{Path, PathBuf};

use merge_analyzer::plan::Plan;
use merge_analyzer::{Analysis, Assumed, Thresholds, Traffic, analyze, import};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/traffic")
        .join(rel)
}

fn run(rel: &str) -> (Traffic, Analysis, String) {
    let traffic = import::load(&fixture(rel), None).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut th = Thresholds::default();
    th.apply(&traffic.thresholds);
    let analysis = analyze(&traffic, &th, &Assumed::default());
    let plan = Plan::from_analysis(&analysis, &traffic, &fixture(""))
        .to_toml()
        .expect("serialises");
    (traffic, analysis, plan)
}

#[test]
fn toml_json_and_csv_spellings_agree() {
    let (toml_t, toml_a, toml_plan) = run("shop.toml");
    assert_eq!(toml_a.groups.len(), 1, "the shop fixture has one group");
    assert!(
        toml_plan.contains("manifest = \"../shop/gateway/Cargo.toml\""),
        "{toml_plan}"
    );
    for other in ["shop.json", "shop-csv"] {
        let (t, a, plan) = run(other);
        assert_eq!(t.service_count(), toml_t.service_count(), "{other}");
        assert_eq!(t.call_count(), toml_t.call_count(), "{other}");
        for ix in t.graph.node_indices() {
            assert_eq!(
                t.service(ix),
                toml_t.service(ix),
                "{other}: services differ"
            );
        }
        assert_eq!(a, toml_a, "{other}: analysis differs");
        assert_eq!(plan, toml_plan, "{other}: plan differs");
    }
}

#[test]
fn the_same_input_gives_the_same_plan_every_time() {
    let (_, a1, p1) = run("shop.toml");
    let (_, a2, p2) = run("shop.toml");
    assert_eq!(a1, a2);
    assert_eq!(p1, p2);
}
