//! Spark SQL over OTLP spans: the collector's file exporter output (JSON lines) or the same
//! records in Parquet. Run it with `spark-sql -f`, or statement by statement from
//! `spark.sql(..)`; it writes `<out>/services.csv/` and `<out>/calls.csv/`, each a folder
//! holding one CSV part file with its header (`COALESCE(1)`), which `analyze` reads as the files.

use super::Query;

/// The OTLP fields the query reads, as a schema: JSON inference would only know the fields
/// the files happen to hold, and a field one of them lacks would fail the query.
const OTLP_SCHEMA: &str = "resourceSpans ARRAY<STRUCT<
    resource: STRUCT<attributes: ARRAY<STRUCT<key: STRING, value: STRUCT<stringValue: STRING, intValue: STRING, doubleValue: DOUBLE, boolValue: BOOLEAN>>>>,
    scopeSpans: ARRAY<STRUCT<spans: ARRAY<STRUCT<
      traceId: STRING, spanId: STRING, parentSpanId: STRING, traceState: STRING, kind: INT,
      startTimeUnixNano: STRING, endTimeUnixNano: STRING,
      attributes: ARRAY<STRUCT<key: STRING, value: STRUCT<stringValue: STRING, intValue: STRING, doubleValue: DOUBLE, boolValue: BOOLEAN>>>>>>>>>";

pub fn text(q: &Query) -> String {
    let source = if q.parquet {
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW merge_otlp\nUSING parquet OPTIONS (path '{}');",
            q.table
        )
    } else {
        format!(
            "CREATE OR REPLACE TEMPORARY VIEW merge_otlp ({OTLP_SCHEMA})\nUSING json OPTIONS (path '{}');",
            q.table
        )
    };
    let probability = match q.sample_rate {
        Some(p) => format!("CAST({p} AS DOUBLE)"),
        // A span's probability counts when in (0, 1]; a trace takes the largest its spans say.
        None => {
            "max(CASE WHEN p_said > 0 AND p_said <= 1 THEN p_said END) OVER (PARTITION BY trace_id)"
                .to_string()
        }
    };
    let window = match q.window_literal() {
        Some(w) => format!("SELECT CAST({w} AS DOUBLE) AS seconds"),
        // No time (no timestamps, or one instant): counts, as the importer says.
        None => "SELECT coalesce(nullif((max(end_ns) - min(start_ns)) / 1e9, 0), 1.0) AS seconds FROM merge_sampled WHERE start_ns > 0"
            .to_string(),
    };
    let filter = q.time_filter("CAST(s.startTimeUnixNano AS BIGINT)");
    let out = q.out.trim_end_matches('/');
    format!(
        "-- cargo merge query --engine spark: OTLP spans into the native CSV folder `{out}`
-- (services.csv and calls.csv) that `cargo merge analyze --traffic {out}` reads.
-- The rules are those of cargo-merge's own OTLP importer (analyzer/src/import/spans.rs).
SET spark.sql.mapKeyDedupPolicy=LAST_WIN;

{source}

-- One row per span: ids, service, kind (OTLP's numbers: 2 server, 3 client, 4 producer,
-- 5 consumer), times in nanoseconds, attributes as a map.
CREATE OR REPLACE TEMPORARY VIEW merge_spans AS
SELECT
  lower(s.traceId) AS trace_id,
  lower(s.spanId) AS span_id,
  lower(coalesce(s.parentSpanId, '')) AS parent_id,
  try_element_at(filter(rs.resource.attributes, a -> a.key = 'service.name'), 1).value.stringValue AS service,
  s.kind AS kind,
  coalesce(CAST(s.startTimeUnixNano AS BIGINT), 0) AS start_ns,
  greatest(coalesce(CAST(s.endTimeUnixNano AS BIGINT), 0), coalesce(CAST(s.startTimeUnixNano AS BIGINT), 0)) AS end_ns,
  coalesce(s.traceState, '') AS trace_state,
  map_from_entries(transform(coalesce(s.attributes, array()), a -> struct(a.key,
    coalesce(a.value.stringValue, a.value.intValue, CAST(a.value.doubleValue AS STRING), CAST(a.value.boolValue AS STRING))))) AS attrs
FROM merge_otlp
LATERAL VIEW explode(resourceSpans) r AS rs
LATERAL VIEW explode(rs.scopeSpans) c AS ss
LATERAL VIEW explode(ss.spans) t AS s
WHERE try_element_at(filter(rs.resource.attributes, a -> a.key = 'service.name'), 1).value.stringValue <> ''{filter};

-- Each span's weight (1/p of its trace: tracestate ot=th: or ot=p:, or Jaeger's sampler tags),
-- its protocol, and for client and producer spans the peer they name.
CREATE OR REPLACE TEMPORARY VIEW merge_sampled AS
SELECT trace_id, span_id, parent_id, service, kind, start_ns, end_ns, proto, peer,
  1.0 / coalesce({probability}, 1.0) AS w
FROM (
  SELECT *,
    CASE
      WHEN trace_state RLIKE 'ot=[^,]*th:[0-9a-f]{{1,14}}(;|,|$)' THEN
        1.0 - CAST(conv(rpad(regexp_extract(trace_state, 'ot=[^,]*th:([0-9a-f]{{1,14}})(;|,|$)', 1), 14, '0'), 16, 10) AS DOUBLE) / 72057594037927936.0
      WHEN trace_state RLIKE 'ot=[^,]*p:[0-9]{{1,2}}(;|,|$)' AND CAST(regexp_extract(trace_state, 'ot=[^,]*p:([0-9]+)', 1) AS INT) <= 62 THEN
        pow(0.5, CAST(regexp_extract(trace_state, 'ot=[^,]*p:([0-9]+)', 1) AS INT))
      WHEN element_at(attrs, 'sampler.type') = 'probabilistic' THEN try_cast(element_at(attrs, 'sampler.param') AS DOUBLE)
    END AS p_said,
    CASE
      WHEN element_at(attrs, 'rpc.system') IS NOT NULL OR element_at(attrs, 'rpc.system.name') IS NOT NULL
        OR element_at(attrs, 'rpc.service') IS NOT NULL OR element_at(attrs, 'rpc.method') IS NOT NULL THEN 'rpc'
      WHEN lower(coalesce(element_at(attrs, 'db.system'), element_at(attrs, 'db.system.name'))) IN ('memcached', 'redis') THEN 'mc'
      WHEN coalesce(element_at(attrs, 'db.system'), element_at(attrs, 'db.system.name')) IS NOT NULL THEN 'db'
      WHEN element_at(attrs, 'messaging.system') IS NOT NULL THEN 'mq'
      WHEN element_at(attrs, 'http.request.method') IS NOT NULL OR element_at(attrs, 'http.method') IS NOT NULL THEN 'http'
      ELSE 'unknown'
    END AS proto,
    CASE WHEN kind IN (3, 4) THEN coalesce(nullif(element_at(attrs, 'peer.service'), ''),
      nullif(element_at(attrs, 'server.address'), ''), nullif(element_at(attrs, 'net.peer.name'), ''),
      nullif(lower(coalesce(element_at(attrs, 'db.system'), element_at(attrs, 'db.system.name'))), ''),
      nullif(element_at(attrs, 'messaging.system'), '')) END AS peer
  FROM merge_spans
);
-- Both outputs read it: computed once.
CACHE TABLE merge_sampled;

-- The time the rates are over.
CREATE OR REPLACE TEMPORARY VIEW merge_window AS
{window};

-- A span whose parent is a span of another service: one call from the parent's service. The
-- caller's span gives the duration when it is a client or producer span.
CREATE OR REPLACE TEMPORARY VIEW merge_joined AS
SELECT p.service AS caller, c.service AS callee,
  CASE WHEN p.proto <> 'unknown' THEN p.proto ELSE c.proto END AS rpctype,
  c.w AS w,
  CASE WHEN p.kind IN (3, 4) THEN p.end_ns - p.start_ns ELSE c.end_ns - c.start_ns END AS dur_ns,
  p.trace_id AS trace_id, p.span_id AS caller_span
FROM merge_sampled c JOIN merge_sampled p ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
WHERE c.parent_id <> '' AND p.service <> c.service;

-- Client and producer spans that no span of another service answers: calls to their peer.
CREATE OR REPLACE TEMPORARY VIEW merge_edges AS
SELECT caller, callee, rpctype, w, dur_ns FROM merge_joined
UNION ALL
SELECT s.service, s.peer, s.proto, s.w, s.end_ns - s.start_ns
FROM merge_sampled s LEFT ANTI JOIN merge_joined j ON s.trace_id = j.trace_id AND s.span_id = j.caller_span
WHERE s.kind IN (3, 4) AND s.peer IS NOT NULL;

CREATE OR REPLACE TEMPORARY VIEW merge_calls AS
SELECT caller, callee, sum(w) / (SELECT seconds FROM merge_window) AS qps, rpctype,
  round(sort_array(collect_list(dur_ns))[CAST(greatest(1, ceil(0.5 * count(*))) AS INT) - 1] / 1e6, 3) AS p50_ms,
  round(sort_array(collect_list(dur_ns))[CAST(greatest(1, ceil(0.99 * count(*))) AS INT) - 1] / 1e6, 3) AS p99_ms
FROM merge_edges GROUP BY caller, callee, rpctype;
CACHE TABLE merge_calls;

-- Every service, with the calls into it that its own server and consumer spans saw.
CREATE OR REPLACE TEMPORARY VIEW merge_services AS
SELECT name, CASE WHEN sum(inbound) > 0 THEN sum(inbound) / (SELECT seconds FROM merge_window) END AS inbound_qps
FROM (
  SELECT service AS name, CASE WHEN kind IN (2, 5) THEN w ELSE 0.0 END AS inbound FROM merge_sampled
  UNION ALL
  SELECT callee, 0.0 FROM merge_calls
) GROUP BY name;

INSERT OVERWRITE DIRECTORY '{out}/services.csv' USING csv OPTIONS (header 'true')
SELECT /*+ COALESCE(1) */ * FROM merge_services;

INSERT OVERWRITE DIRECTORY '{out}/calls.csv' USING csv OPTIONS (header 'true')
SELECT /*+ COALESCE(1) */ * FROM merge_calls;
"
    )
}
