//! `cargo merge query` run for real: the Spark SQL on a local Spark (over the recorded shop
//! spans as JSON lines and as Parquet) and the ClickHouse SQL on chdb (over the same spans in
//! the exporter's `otel_traces` table) each write a native CSV folder that `analyze` turns into
//! the same groups and edges as its own OTLP importer does from the spans.
//!
//! The engines come from PyPI through scripts/engines-venv.sh (a virtual environment under
//! target/, made once); Spark needs Java 17.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::root;

fn spans() -> PathBuf {
    root().join("fixtures/traces/shop.otlp.jsonl")
}

/// The Python with pyspark and chdb.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("scripts/engines-venv.sh"))
            .output()
            .expect("run scripts/engines-venv.sh");
        assert!(
            out.status.success(),
            "scripts/engines-venv.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).expect("a path").trim())
    })
}

fn cargo_merge(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .arg("merge")
        .args(args)
        .output()
        .expect("run cargo-merge");
    assert!(
        out.status.success(),
        "cargo merge {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn engines(args: &[&Path]) {
    let out = Command::new(python())
        .arg(root().join("fixtures/traces/engines.py"))
        .args(args)
        .output()
        .expect("run engines.py");
    assert!(
        out.status.success(),
        "engines.py {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// analyze's `merge-plan` JSON line for `traffic`.
fn plan(traffic: &Path) -> Value {
    let text = cargo_merge(&[
        "analyze",
        "--traffic",
        traffic.to_str().expect("UTF-8"),
        "--message-format",
        "json",
        "--limit",
        "0",
    ]);
    serde_json::from_str(text.lines().next().expect("a line")).expect("JSON")
}

/// The groups and edges of two plans agree: the same members and verdicts, figures within
/// rounding (CSV keeps 15 to 17 digits, the importer's percentiles are rounded to µs).
fn assert_same(got: &Value, want: &Value, what: &str) {
    let groups = |v: &Value| -> Vec<(String, Vec<String>)> {
        v["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                let members = g["members"].as_array().expect("members");
                let members = members.iter().map(|m| m.as_str().unwrap().to_owned());
                (g["name"].as_str().unwrap().to_owned(), members.collect())
            })
            .collect()
    };
    assert_eq!(groups(got), groups(want), "{what}: groups");
    assert!(!groups(want).is_empty(), "the recording gives a group");
    let edges = |v: &Value| -> Vec<(String, String, String, f64)> {
        let mut e: Vec<_> = v["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap().to_owned();
                (
                    s("caller"),
                    s("callee"),
                    s("verdict"),
                    e["affinity"].as_f64().unwrap(),
                )
            })
            .collect();
        e.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        e
    };
    let (g, w) = (edges(got), edges(want));
    assert_eq!(g.len(), w.len(), "{what}: {g:?} vs {w:?}");
    for (a, b) in g.iter().zip(&w) {
        assert_eq!((&a.0, &a.1, &a.2), (&b.0, &b.1, &b.2), "{what}");
        assert!((a.3 - b.3).abs() < 1e-9, "{what}: affinity {a:?} vs {b:?}");
    }
}

/// The native CSV folder the engine wrote also holds the figures the importer derives.
fn assert_same_calls(dir: &Path, what: &str) {
    let native = merge_analyzer::import::load(dir, None).expect("the CSV folder reads");
    let otlp = merge_analyzer::import::load(&spans(), None).expect("the spans read");
    assert_eq!(native.call_count(), otlp.call_count(), "{what}");
    for e in otlp.graph.edge_indices() {
        let (a, b) = otlp.graph.edge_endpoints(e).unwrap();
        let (a, b) = (&otlp.service(a).name, &otlp.service(b).name);
        let f = native
            .graph
            .find_edge(native.find(a).unwrap(), native.find(b).unwrap())
            .unwrap_or_else(|| panic!("{what}: no {a} -> {b}"));
        let (x, y) = (&native.graph[f], &otlp.graph[e]);
        assert!(
            (x.qps - y.qps).abs() <= 1e-9 * y.qps,
            "{what} {a} -> {b}: {} vs {}",
            x.qps,
            y.qps
        );
        assert_eq!(x.rpctype, y.rpctype, "{what} {a} -> {b}");
        for (p, q) in [(x.p50_ms, y.p50_ms), (x.p99_ms, y.p99_ms)] {
            assert!(
                (p.unwrap() - q.unwrap()).abs() <= 0.0011,
                "{what} {a} -> {b}: {p:?} vs {q:?}"
            );
        }
    }
    for s in otlp.graph.node_weights() {
        let n = native.service(native.find(&s.name).unwrap());
        let (x, y) = (n.inbound_qps.unwrap(), s.inbound_qps.unwrap());
        assert!(
            (x - y).abs() <= 1e-9 * y,
            "{what} into {}: {x} vs {y}",
            s.name
        );
    }
}

#[test]
fn the_spark_query_gives_the_importers_groups_from_json_and_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let want = plan(&spans());
    let parquet = dir.path().join("spans.parquet");
    engines(&[Path::new("parquet"), &spans(), &parquet]);
    for (name, table, extra) in [
        ("json", spans(), None),
        ("parquet", parquet, Some("--parquet")),
    ] {
        let out = dir.path().join(name);
        let mut args = vec![
            "query",
            "--engine",
            "spark",
            "--table",
            table.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let sql = dir.path().join(format!("{name}.sql"));
        std::fs::write(&sql, cargo_merge(&args)).expect("write the query");
        engines(&[Path::new("spark"), &sql]);
        assert_same(&plan(&out), &want, &format!("spark over {name}"));
        assert_same_calls(&out, &format!("spark over {name}"));
    }
}

#[test]
fn the_clickhouse_query_gives_the_importers_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("traffic");
    std::fs::create_dir(&out).expect("mkdir");
    let args = [
        "query",
        "--engine",
        "clickhouse",
        "--out",
        out.to_str().unwrap(),
    ];
    let sql = dir.path().join("query.sql");
    std::fs::write(&sql, cargo_merge(&args)).expect("write the query");
    engines(&[Path::new("clickhouse"), &sql, &spans()]);
    assert_same(&plan(&out), &plan(&spans()), "clickhouse");
    assert_same_calls(&out, "clickhouse");
}

#[test]
fn the_promql_names_the_series_analyze_reads() {
    let text = cargo_merge(&[
        "query",
        "--engine",
        "promql",
        "--from",
        "2026-12-05T10:00:00Z",
        "--to",
        "2026-12-05T11:00:00Z",
    ]);
    for series in [
        "rate(traces_service_graph_request_total[3600s])",
        "rate(istio_requests_total{reporter=\"destination\"}[3600s])",
        "rate(merge_calls_total{path=\"inline\"}[3600s])",
        "rate(container_cpu_usage_seconds_total{container!=\"\", container!=\"POD\"}[3600s])",
        "--data-urlencode 'time=1796468400.000'",
    ] {
        assert!(text.contains(series), "{series} in:\n{text}");
    }
}
