//! PromQL over the service-graph series (the OpenTelemetry collector's servicegraph connector,
//! Tempo's metrics generator), Istio's request counters, a merged binary's in-process calls and
//! container CPU. Prometheus answers in its query JSON, which `analyze` reads as `--traffic`
//! directly (several answers may share one file), so no CSV is needed: the text is the queries
//! and the `curl` commands that save their answers.

use super::Query;

/// Each query: what it gives, and the PromQL (`{range}` is the window).
const QUERIES: [(&str, &str); 4] = [
    (
        "call edges from spans (sampled spans: give analyze --sample-rate)",
        "sum by (client, server, connection_type) (rate(traces_service_graph_request_total[{range}]))",
    ),
    (
        "call edges from the mesh (the destination's report)",
        "sum by (source_workload, destination_workload, request_protocol) (rate(istio_requests_total{reporter=\"destination\"}[{range}]))",
    ),
    (
        "calls already merged: a merged binary's in-process calls",
        "sum by (caller, callee, path) (rate(merge_calls_total{path=\"inline\"}[{range}]))",
    ),
    (
        "CPU cores used per container",
        "sum by (container) (rate(container_cpu_usage_seconds_total{container!=\"\", container!=\"POD\"}[{range}]))",
    ),
];

pub fn text(q: &Query) -> String {
    let range = match (q.from_ns, q.to_ns) {
        (Some(from), Some(to)) => format!("{}s", ((to - from) / 1_000_000_000).max(1)),
        _ => "1h".to_string(),
    };
    let time = match q.to_ns {
        Some(to) => format!(" --data-urlencode 'time={:.3}'", to as f64 / 1e9),
        None => String::new(),
    };
    let out = q.out.trim_end_matches('/');
    let mut s =
        format!(
        "# cargo merge query --engine promql: the series analyze reads, over the last {range}{}.
# Each answer is Prometheus query JSON; analyze them together:
#   cargo merge analyze --traffic {out}/edges.json --traffic {out}/cpu.json
# Set PROM to your Prometheus (http://prometheus:9090). Queries that find no series answer an
# empty list, which adds nothing.
mkdir -p {out}
",
        if q.to_ns.is_some() { " before --to" } else { "" },
    );
    for (i, (what, promql)) in QUERIES.iter().enumerate() {
        let file = if i == QUERIES.len() - 1 {
            "cpu"
        } else {
            "edges"
        };
        let redirect = if i == 0 || file == "cpu" { ">" } else { ">>" };
        let promql = promql.replace("{range}", &range);
        s.push_str(&format!(
            "\n# {what}\n#   {promql}\ncurl -fsS \"$PROM/api/v1/query\"{time} --data-urlencode '{}' {redirect} {out}/{file}.json\n",
            format!("query={promql}").replace('\'', "'\\''"),
        ));
    }
    s
}
