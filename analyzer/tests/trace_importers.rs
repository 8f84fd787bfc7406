//! The trace and metrics importers on the shop's recorded spans (fixtures/traces, recorded by
//! its record.sh from the five shop services with the OpenTelemetry SDK, half of the traces
//! sampled): each gives the shop's known call edges, at the rates of the load that recorded
//! them, and every importer gives the same graph for the same spans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use merge_analyzer::import::{self, Format, Options};
use merge_analyzer::{RpcType, Traffic};
use serde_json::Value;

fn traces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/traces")
}

/// Calls per edge in one round of the recording's load (record.sh's `round`).
const PER_ROUND: [(&str, &str, f64); 5] = [
    ("web", "gateway", 2.0),
    ("gateway", "catalog", 4.0),
    ("gateway", "pricing", 4.0),
    ("gateway", "inventory", 3.0),
    ("catalog", "inventory", 3.0),
];

/// Calls into each service per round, from every caller (traced or not).
const INBOUND_PER_ROUND: [(&str, f64); 5] = [
    ("web", 2.0),
    ("gateway", 7.0),
    ("catalog", 4.0),
    ("pricing", 5.0),
    ("inventory", 6.0),
];

struct Recording {
    rounds: f64,
    sample: f64,
    /// Seconds from the first span's start to the last span's end.
    window: f64,
}

fn recording() -> Recording {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(traces().join("recording.json")).expect("recording.json"),
    )
    .expect("JSON");
    let (mut first, mut last) = (u64::MAX, 0u64);
    let text = std::fs::read_to_string(traces().join("shop.otlp.jsonl")).expect("spans");
    for line in text.lines() {
        let request: Value = serde_json::from_str(line).expect("a JSON line");
        for rs in request["resourceSpans"].as_array().expect("resourceSpans") {
            for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
                for s in ss["spans"].as_array().expect("spans") {
                    let t = |k: &str| s[k].as_str().expect("a time").parse::<u64>().expect("ns");
                    first = first.min(t("startTimeUnixNano"));
                    last = last.max(t("endTimeUnixNano"));
                }
            }
        }
    }
    Recording {
        rounds: meta["rounds_per_caller"].as_f64().expect("rounds")
            * meta["callers"].as_f64().expect("callers"),
        sample: meta["sample"].as_f64().expect("sample"),
        window: (last - first) as f64 / 1e9,
    }
}

fn load(files: &[&str], options: Options) -> Traffic {
    let paths: Vec<PathBuf> = files.iter().map(|f| traces().join(f)).collect();
    import::load_all(&paths, &options).unwrap_or_else(|e| panic!("{files:?}: {e}"))
}

/// (caller, callee) -> (qps, rpctype, p50, p99)
type Edges = BTreeMap<(String, String), (f64, RpcType, Option<f64>, Option<f64>)>;

fn edges(t: &Traffic) -> Edges {
    t.graph
        .edge_indices()
        .map(|e| {
            let (a, b) = t.graph.edge_endpoints(e).expect("an edge");
            let c = &t.graph[e];
            let key = (t.service(a).name.clone(), t.service(b).name.clone());
            (key, (c.qps, c.rpctype.clone(), c.p50_ms, c.p99_ms))
        })
        .collect()
}

fn known_edges() -> Vec<(String, String)> {
    let mut known: Vec<_> = PER_ROUND
        .iter()
        .map(|(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    known.sort();
    known
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs())
}

#[test]
fn otlp_gives_the_shop_edges_at_the_rates_of_the_load() {
    let r = recording();
    let t = load(&["shop.otlp.jsonl"], Options::default());
    let got = edges(&t);
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), known_edges());
    // Half of the traces were kept: each kept span counts 2, so the estimate is near what was
    // sent, not equal to it.
    for (a, b, per_round) in PER_ROUND {
        let (qps, rpctype, p50, p99) = &got[&(a.to_string(), b.to_string())];
        let calls = qps * r.window;
        let sent = per_round * r.rounds;
        assert!(
            close(calls, sent, 0.25),
            "{a} -> {b}: {calls:.0} calls estimated, {sent} sent"
        );
        assert_eq!(*rpctype, RpcType::Rpc, "{a} -> {b}");
        let (p50, p99) = (p50.expect("p50"), p99.expect("p99"));
        assert!(0.0 < p50 && p50 <= p99, "{a} -> {b}: p50 {p50} p99 {p99}");
    }
    for (name, per_round) in INBOUND_PER_ROUND {
        let s = t.service(t.find(name).expect(name));
        let calls = s.inbound_qps.expect("server spans") * r.window;
        let sent = per_round * r.rounds;
        assert!(
            close(calls, sent, 0.25),
            "into {name}: {calls:.0} estimated, {sent} sent"
        );
    }
    // Pricing's direct caller is not traced: gateway's share of pricing stays below 1.
    let analysis = merge_analyzer::analyze(
        &t,
        &merge_analyzer::Thresholds::default(),
        &merge_analyzer::Assumed::default(),
    );
    let pricing = analysis
        .edges
        .iter()
        .find(|v| t.service(v.callee).name == "pricing")
        .expect("gateway -> pricing");
    assert!(close(pricing.affinity, 0.8, 0.1), "{}", pricing.affinity);
    let said = t.assumptions.join("\n");
    assert!(
        said.contains("count 1/p, p from their tracestate"),
        "{said}"
    );
    assert!(
        said.contains("server spans have no traced caller"),
        "{said}"
    );
}

#[test]
fn jaeger_and_zipkin_give_the_same_graph_as_otlp() {
    let otlp = load(&["shop.otlp.jsonl"], Options::default());
    // Jaeger's root spans carry sampler.param; Zipkin spans say nothing of their sampling.
    let jaeger = load(&["shop.jaeger.json"], Options::default());
    let zipkin = load(
        &["shop.zipkin.json"],
        Options {
            sample_rate: Some(0.5),
            ..Options::default()
        },
    );
    let want = edges(&otlp);
    for (name, t) in [("jaeger", &jaeger), ("zipkin", &zipkin)] {
        let got = edges(t);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (k, (qps, rpctype, p50, p99)) in &got {
            let (w_qps, w_rpctype, w_p50, w_p99) = &want[k];
            // Jaeger and Zipkin keep microseconds, OTLP nanoseconds.
            assert!(close(*qps, *w_qps, 1e-4), "{name} {k:?}: {qps} vs {w_qps}");
            assert_eq!(rpctype, w_rpctype, "{name} {k:?}");
            assert!(
                (p50.unwrap() - w_p50.unwrap()).abs() <= 0.002,
                "{name} {k:?}"
            );
            assert!(
                (p99.unwrap() - w_p99.unwrap()).abs() <= 0.002,
                "{name} {k:?}"
            );
        }
        for s in otlp.graph.node_weights() {
            let other = t.service(t.find(&s.name).expect("the same services"));
            let (a, b) = (s.inbound_qps.unwrap(), other.inbound_qps.unwrap());
            assert!(close(a, b, 1e-4), "{name} into {}: {a} vs {b}", s.name);
        }
    }
}

#[test]
fn links_and_the_service_graph_give_the_same_edges_and_rates() {
    let r = recording();
    let want = edges(&load(&["shop.otlp.jsonl"], Options::default()));
    let scaled = Options {
        window: Some(r.window),
        sample_rate: Some(r.sample),
        ..Options::default()
    };
    let sampled = Options {
        sample_rate: Some(r.sample),
        ..Options::default()
    };
    for (file, options, tolerance) in [
        ("shop.links.json", scaled, 1e-6),
        // Scrapes are stamped in milliseconds.
        ("shop.servicegraph.prom", sampled, 1e-3),
        ("shop.servicegraph.query.json", sampled, 1e-3),
    ] {
        let got = edges(&load(&[file], options));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{file}"
        );
        for (k, (qps, rpctype, ..)) in &got {
            let w = want[k].0;
            assert!(close(*qps, w, tolerance), "{file} {k:?}: {qps} vs {w}");
            assert_eq!(*rpctype, RpcType::Rpc);
        }
    }
}

#[test]
fn the_format_is_told_from_the_content() {
    let cases = [
        ("shop.otlp.jsonl", Format::Otlp),
        ("shop.jaeger.json", Format::Jaeger),
        ("shop.zipkin.json", Format::Zipkin),
        ("shop.links.json", Format::Links),
        ("shop.servicegraph.prom", Format::Prometheus),
        ("shop.servicegraph.query.json", Format::Prometheus),
        ("shop.cpu.prom", Format::Prometheus),
    ];
    for (file, format) in cases {
        assert_eq!(
            import::detect(&traces().join(file)).expect(file),
            format,
            "{file}"
        );
    }
}

#[test]
fn edges_from_traces_and_cpu_from_prometheus_combine() {
    let t = load(&["shop.otlp.jsonl", "shop.cpu.prom"], Options::default());
    assert_eq!(edges(&t).keys().cloned().collect::<Vec<_>>(), known_edges());
    for (name, _) in INBOUND_PER_ROUND {
        let s = t.service(t.find(name).expect(name));
        let cores = s.cpu_cores.unwrap_or_else(|| panic!("{name} has its CPU"));
        // Each service used some CPU under load, and no more than the machine has.
        assert!(cores > 0.0 && cores < 64.0, "{name}: {cores}");
    }
    assert_eq!(t.sources.len(), 2);
    let said = t.assumptions.join("\n");
    assert!(
        said.contains("shop.cpu.prom (Prometheus series): 0 call edges, figures for 5 services"),
        "{said}"
    );
}

/// The error of importing `text` written to a file named `name`, and the file's path.
fn import_error(name: &str, text: &str, options: Options) -> (String, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    let e = import::load_all(&[&path], &options).expect_err("a bad file");
    (e.to_string(), path)
}

fn first_otlp_line() -> Value {
    let text = std::fs::read_to_string(traces().join("shop.otlp.jsonl")).expect("spans");
    serde_json::from_str(text.lines().next().expect("a line")).expect("JSON")
}

#[test]
fn truncated_files_are_errors_naming_the_line() {
    let text = std::fs::read_to_string(traces().join("shop.otlp.jsonl")).expect("spans");
    let mut lines = text.lines();
    let (one, two) = (lines.next().unwrap(), lines.next().unwrap());
    // A cut single document, and a file exporter cut while writing its second line.
    for (cut, line) in [
        (&one[..one.len() / 2], 1),
        (&format!("{one}\n{}", &two[..100])[..], 2),
    ] {
        let (e, path) = import_error("cut.jsonl", cut, Options::default());
        let at = format!(
            "{}:{line}: not an OTLP trace export: EOF while parsing",
            path.display()
        );
        assert!(e.starts_with(&at), "{e}");
    }
    let jaeger = std::fs::read_to_string(traces().join("shop.jaeger.json")).expect("jaeger");
    let (e, path) = import_error("cut.json", &jaeger[..jaeger.len() / 3], Options::default());
    assert!(
        e.starts_with(&format!("{}:1: not Jaeger JSON", path.display())),
        "{e}"
    );
    let (e, _) = import_error(
        "cut.json",
        "[{\"traceId\": \"ab\", \"id\": ",
        Options::default(),
    );
    assert!(e.contains(":1: not Zipkin v2 JSON"), "{e}");
}

#[test]
fn a_span_with_no_service_is_an_error_naming_it() {
    let mut request = first_otlp_line();
    let resource = &mut request["resourceSpans"][0]["resource"]["attributes"];
    resource
        .as_array_mut()
        .unwrap()
        .retain(|a| a["key"] != "service.name");
    let span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (e, path) = import_error("spans.jsonl", &request.to_string(), Options::default());
    assert!(
        e.starts_with(&format!("{}:1: span {span} of trace", path.display())),
        "{e}"
    );
    assert!(e.contains("has no service"), "{e}");

    let zipkin = r#"[{"traceId": "0af7651916cd43dd8448eb211c80319c", "id": "b7ad6b7169203331", "kind": "SERVER",
  "timestamp": 1, "duration": 2, "localEndpoint": {"ipv4": "10.0.0.1"}}]"#;
    let (e, _) = import_error("zipkin.json", zipkin, Options::default());
    assert!(
        e.contains(
            ":1: span b7ad6b7169203331 of trace 0af7651916cd43dd8448eb211c80319c has no service"
        ),
        "{e}"
    );
}

#[test]
fn a_parent_in_another_trace_is_an_error_naming_the_span() {
    let text = std::fs::read_to_string(traces().join("shop.otlp.jsonl")).expect("spans");
    let mut requests: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // A span whose parent is on the same line, moved to a trace of its own.
    let spans = requests[0]["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .flat_map(|ss| ss["spans"].as_array().unwrap())
        .cloned()
        .collect::<Vec<_>>();
    let child = spans
        .iter()
        .find(|s| spans.iter().any(|p| p["spanId"] == s["parentSpanId"]))
        .expect("a parent and child on line 1");
    let id = child["spanId"].as_str().unwrap().to_owned();
    for rs in requests[0]["resourceSpans"].as_array_mut().unwrap() {
        for ss in rs["scopeSpans"].as_array_mut().unwrap() {
            for s in ss["spans"].as_array_mut().unwrap() {
                if s["spanId"] == id.as_str() {
                    s["traceId"] = "0af7651916cd43dd8448eb211c80319c".into();
                }
            }
        }
    }
    let text: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let (e, path) = import_error("spans.jsonl", &text, Options::default());
    let at = format!("{}:1: span {id}'s parent", path.display());
    assert!(
        e.contains(&at)
            && e.contains("not in the span's own trace 0af7651916cd43dd8448eb211c80319c"),
        "{e}"
    );
}

#[test]
fn bad_series_and_links_name_the_line() {
    let prom = "# TYPE traces_service_graph_request_total counter\n\
                traces_service_graph_request_total{client=\"a\",server=\"b\"} 1 1000\n\
                traces_service_graph_request_total{client=\"a\",server=\"b} 2 2000\n";
    let (e, path) = import_error("graph.prom", prom, Options::default());
    assert!(
        e.starts_with(&format!(
            "{}:3: a label value is not closed",
            path.display()
        )),
        "{e}"
    );
    // One scrape of a counter: no rate without a window.
    let prom = "traces_service_graph_request_total{client=\"a\",server=\"b\"} 10\n";
    let (e, _) = import_error("graph.prom", prom, Options::default());
    assert!(
        e.contains(
            ":1: one sample of the counter `traces_service_graph_request_total` gives no rate"
        ),
        "{e}"
    );
    let links = "[{\"parent\": \"a\", \"child\": \"b\", \"callCount\": 3},\n {\"parent\": \"a\", \"child\": \"c\", \"callCount\": \"x\"}]";
    let (e, path) = import_error("links.json", links, Options::default());
    assert!(
        e.starts_with(&format!("{}:2: not a dependency link", path.display())),
        "{e}"
    );
}
