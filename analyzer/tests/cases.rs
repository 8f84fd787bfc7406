//! Small graphs whose right answer is worked out by hand (the comment at the top of each file
//! in fixtures/traffic/cases says how): one per rejection code, group limits and a cycle.

use std::collections::BTreeMap;
use std::path::PathBuf;

use merge_analyzer::{Analysis, Assumed, Thresholds, Traffic, analyze, import};

fn case(name: &str) -> (Traffic, Analysis) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/traffic/cases")
        .join(format!("{name}.toml"));
    let traffic = import::load(&path, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut th = Thresholds::default();
    th.apply(&traffic.thresholds);
    let analysis = analyze(&traffic, &th, &Assumed::default());
    (traffic, analysis)
}

/// `caller->callee` => reason codes (empty when merged).
fn verdicts(t: &Traffic, a: &Analysis) -> BTreeMap<String, Vec<&'static str>> {
    a.edges
        .iter()
        .map(|v| {
            let key = format!("{}->{}", t.service(v.caller).name, t.service(v.callee).name);
            (key, v.reasons.iter().map(|r| r.name()).collect())
        })
        .collect()
}

fn expect(t: &Traffic, a: &Analysis, want: &[(&str, &[&str])]) {
    let want: BTreeMap<String, Vec<&str>> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    assert_eq!(verdicts(t, a), want);
}

/// (name, members, saving) of every group.
fn groups(a: &Analysis) -> Vec<(String, Vec<String>, f64)> {
    a.groups
        .iter()
        .map(|g| (g.name.clone(), g.members.clone(), g.est_cores_saved))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn low_affinity() {
    let (t, a) = case("low-affinity");
    expect(
        &t,
        &a,
        &[
            ("a->shared", &["low-affinity"]),
            ("b->shared", &["low-affinity"]),
            ("x->tight", &["low-affinity"]),
            ("y->tight", &["low-affinity"]),
        ],
    );
    let xt = a.edges.iter().find(|v| t.service(v.caller).name == "x");
    assert!(close(xt.expect("x->tight").affinity, 0.9));
    assert!(a.groups.is_empty());
}

#[test]
fn low_encoding_cost() {
    let (t, a) = case("low-encoding-cost");
    expect(
        &t,
        &a,
        &[
            ("a->b", &["low-encoding-cost"]),
            ("c->d", &[]),
            ("e->f", &["low-encoding-cost"]),
        ],
    );
    let g = groups(&a);
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].0.as_str(), &g[0].1), ("d", &strings(&["c", "d"])));
    assert!(close(g[0].2, 1.5), "saving {}", g[0].2);
}

#[test]
fn cache_heavy() {
    let (t, a) = case("cache-heavy");
    expect(&t, &a, &[("api->cache", &["cache-heavy"])]);
    assert!(a.groups.is_empty());
}

#[test]
fn high_load() {
    let (t, a) = case("high-load");
    expect(&t, &a, &[("hot->calm", &["high-load"])]);
    assert!(a.groups.is_empty());
}

#[test]
fn memory_constrained() {
    let (t, a) = case("memory-constrained");
    expect(&t, &a, &[("front->full", &["memory-constrained"])]);
    assert!(a.groups.is_empty());
}

#[test]
fn non_rpc() {
    let (t, a) = case("non-rpc");
    expect(
        &t,
        &a,
        &[("app->store", &["non-rpc"]), ("app->bus", &["non-rpc"])],
    );
    assert!(a.groups.is_empty());
}

#[test]
fn every_reason_is_listed() {
    let (t, a) = case("many-reasons");
    expect(
        &t,
        &a,
        &[
            (
                "busy->kv",
                &[
                    "non-rpc",
                    "low-affinity",
                    "low-encoding-cost",
                    "cache-heavy",
                    "high-load",
                ],
            ),
            ("peer->kv", &["non-rpc", "low-affinity"]),
        ],
    );
}

#[test]
fn group_size_limit_takes_the_best_edges_first() {
    let (t, a) = case("group-limit");
    expect(
        &t,
        &a,
        &[("a->b", &[]), ("b->c", &[]), ("c->d", &["group-limit"])],
    );
    let g = groups(&a);
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0].0.as_str(), &g[0].1),
        ("c", &strings(&["a", "b", "c"]))
    );
    assert!(close(g[0].2, 7.0), "saving {}", g[0].2);
}

#[test]
fn group_memory_limit() {
    let (t, a) = case("group-memory");
    expect(&t, &a, &[("a->b", &[]), ("b->c", &["group-limit"])]);
    let g = groups(&a);
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].0.as_str(), &g[0].1), ("b", &strings(&["a", "b"])));
    assert!(close(g[0].2, 4.0), "saving {}", g[0].2);
}

#[test]
fn cycle_is_one_group() {
    let (t, a) = case("cycle");
    expect(&t, &a, &[("a->b", &[]), ("b->c", &[]), ("c->a", &[])]);
    let g = groups(&a);
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0].0.as_str(), &g[0].1),
        ("c", &strings(&["a", "b", "c"]))
    );
    assert!(close(g[0].2, 6.0), "saving {}", g[0].2);
    assert_eq!(a.groups[0].edges.len(), 3);
}

#[test]
fn seed_article_case_saves_tens_of_thousands_of_cores() {
    let (t, a) = case("seed-case");
    expect(
        &t,
        &a,
        &[("feed->core", &[]), ("other->core", &["low-affinity"])],
    );
    let g = groups(&a);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].1, strings(&["core", "feed"]));
    assert!(close(g[0].2, 39_200.0), "saving {}", g[0].2);
}

#[test]
fn flags_override_the_file_thresholds() {
    let (t, _) = case("group-limit");
    let mut th = Thresholds::default();
    th.apply(&t.thresholds);
    th.apply(&merge_analyzer::ThresholdOverrides {
        max_group_size: Some(4),
        ..Default::default()
    });
    let a = analyze(&t, &th, &Assumed::default());
    assert_eq!(a.groups.len(), 1);
    assert_eq!(a.groups[0].members.len(), 4);
    assert!(a.edges.iter().all(|v| v.merged()));
}
