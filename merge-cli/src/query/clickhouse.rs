//! ClickHouse SQL over the table the OpenTelemetry collector's ClickHouse exporter writes
//! (`otel_traces`: `Timestamp`, `TraceId`, `SpanId`, `ParentSpanId`, `TraceState`, `SpanKind`,
//! `ServiceName`, `SpanAttributes`, `Duration` in nanoseconds). Run it with
//! `clickhouse-client --multiquery < query.sql` (or clickhouse-local); it writes
//! `<out>/services.csv` and `<out>/calls.csv` on the client's side (`INTO OUTFILE`).

use super::Query;

pub fn text(q: &Query) -> String {
    let probability = match q.sample_rate {
        Some(p) => format!("toFloat64({p})"),
        // A span's probability counts when in (0, 1]; a trace takes the largest its spans say.
        None => "max(if(p_said > 0 AND p_said <= 1, p_said, NULL)) OVER (PARTITION BY trace_id)"
            .to_string(),
    };
    let window = match q.window_literal() {
        Some(w) => format!("toFloat64({w})"),
        // No time (no timestamps, or one instant): counts, as the importer says.
        None => "(SELECT if(max(end_ns) > min(start_ns), (max(end_ns) - min(start_ns)) / 1e9, 1.0) FROM merge_spans WHERE start_ns > 0)"
            .to_string(),
    };
    let filter = q.time_filter("toUnixTimestamp64Nano(Timestamp)");
    let out = q.out.trim_end_matches('/');
    let table = &q.table;
    let views = format!(
        "-- One row per span: ids, service, kind (2 server, 3 client, 4 producer, 5 consumer; the
-- exporter writes `Server` or `SPAN_KIND_SERVER` by version), times in nanoseconds.
merge_spans AS (
  SELECT
    lower(TraceId) AS trace_id,
    lower(SpanId) AS span_id,
    lower(ParentSpanId) AS parent_id,
    ServiceName AS service,
    multiIf(lower(replaceOne(toString(SpanKind), 'SPAN_KIND_', '')) = 'server', 2,
            lower(replaceOne(toString(SpanKind), 'SPAN_KIND_', '')) = 'client', 3,
            lower(replaceOne(toString(SpanKind), 'SPAN_KIND_', '')) = 'producer', 4,
            lower(replaceOne(toString(SpanKind), 'SPAN_KIND_', '')) = 'consumer', 5,
            lower(replaceOne(toString(SpanKind), 'SPAN_KIND_', '')) = 'internal', 1, 0) AS kind,
    toInt64(toUnixTimestamp64Nano(Timestamp)) AS start_ns,
    toInt64(toUnixTimestamp64Nano(Timestamp)) + greatest(toInt64(Duration), 0) AS end_ns,
    TraceState AS trace_state,
    SpanAttributes AS attrs
  FROM {table}
  WHERE ServiceName != ''{filter}
),
-- Each span's weight (1/p of its trace: tracestate ot=th: or ot=p:, or Jaeger's sampler tags),
-- its protocol, and for client and producer spans the peer they name.
merge_sampled AS (
  SELECT *, 1.0 / ifNull({probability}, 1.0) AS w FROM (
    SELECT *,
      multiIf(
        match(trace_state, 'ot=[^,]*th:[0-9a-f]{{1,14}}(;|,|$)'),
          1.0 - toFloat64(reinterpretAsUInt64(reverse(unhex(leftPad(rightPad(extract(trace_state, 'ot=[^,]*th:([0-9a-f]{{1,14}})(?:;|,|$)'), 14, '0'), 16, '0'))))) / 72057594037927936.0,
        match(trace_state, 'ot=[^,]*p:[0-9]{{1,2}}(;|,|$)') AND toUInt32(extract(trace_state, 'ot=[^,]*p:([0-9]+)')) <= 62,
          pow(0.5, toUInt32(extract(trace_state, 'ot=[^,]*p:([0-9]+)'))),
        attrs['sampler.type'] = 'probabilistic', toFloat64OrNull(attrs['sampler.param']),
        NULL) AS p_said,
      multiIf(
        mapContains(attrs, 'rpc.system') OR mapContains(attrs, 'rpc.system.name')
          OR mapContains(attrs, 'rpc.service') OR mapContains(attrs, 'rpc.method'), 'rpc',
        lower(if(mapContains(attrs, 'db.system'), attrs['db.system'], attrs['db.system.name'])) IN ('memcached', 'redis'), 'mc',
        mapContains(attrs, 'db.system') OR mapContains(attrs, 'db.system.name'), 'db',
        mapContains(attrs, 'messaging.system'), 'mq',
        mapContains(attrs, 'http.request.method') OR mapContains(attrs, 'http.method'), 'http',
        'unknown') AS proto,
      if(kind IN (3, 4), multiIf(
        attrs['peer.service'] != '', attrs['peer.service'],
        attrs['server.address'] != '', attrs['server.address'],
        attrs['net.peer.name'] != '', attrs['net.peer.name'],
        mapContains(attrs, 'db.system') AND attrs['db.system'] != '', lower(attrs['db.system']),
        attrs['db.system.name'] != '', lower(attrs['db.system.name']),
        attrs['messaging.system']), '') AS peer
    FROM merge_spans
  )
),
-- A span whose parent is a span of another service: one call from the parent's service. The
-- caller's span gives the duration when it is a client or producer span.
merge_joined AS (
  SELECT p.service AS caller, c.service AS callee,
    if(p.proto != 'unknown', p.proto, c.proto) AS rpctype,
    c.w AS w,
    if(p.kind IN (3, 4), p.end_ns - p.start_ns, c.end_ns - c.start_ns) AS dur_ns,
    p.trace_id AS trace_id, p.span_id AS caller_span
  FROM merge_sampled AS c INNER JOIN merge_sampled AS p ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
  WHERE c.parent_id != '' AND p.service != c.service
),
-- Client and producer spans that no span of another service answers: calls to their peer.
merge_edges AS (
  SELECT caller, callee, rpctype, w, dur_ns FROM merge_joined
  UNION ALL
  SELECT s.service AS caller, s.peer AS callee, s.proto AS rpctype, s.w AS w, s.end_ns - s.start_ns AS dur_ns
  FROM merge_sampled AS s LEFT ANTI JOIN merge_joined AS j ON s.trace_id = j.trace_id AND s.span_id = j.caller_span
  WHERE s.kind IN (3, 4) AND s.peer != ''
),
merge_calls AS (
  SELECT caller, callee, sum(w) / {window} AS qps, rpctype,
    round(arraySort(groupArray(dur_ns))[toUInt64(greatest(1, ceil(0.5 * count())))] / 1e6, 3) AS p50_ms,
    round(arraySort(groupArray(dur_ns))[toUInt64(greatest(1, ceil(0.99 * count())))] / 1e6, 3) AS p99_ms
  FROM merge_edges GROUP BY caller, callee, rpctype
)"
    );
    format!(
        "-- cargo merge query --engine clickhouse: spans of `{table}` (the OpenTelemetry collector's
-- ClickHouse exporter) into the native CSV folder `{out}` (services.csv and calls.csv) that
-- `cargo merge analyze --traffic {out}` reads. The rules are those of cargo-merge's own OTLP
-- importer (analyzer/src/import/spans.rs).

-- Every service, with the calls into it that its own server and consumer spans saw.
WITH
{views}
SELECT name, if(sum(inbound) > 0, sum(inbound) / {window}, NULL) AS inbound_qps
FROM (
  SELECT service AS name, if(kind IN (2, 5), w, 0.0) AS inbound FROM merge_sampled
  UNION ALL
  SELECT callee AS name, 0.0 AS inbound FROM merge_calls
) GROUP BY name ORDER BY name
SETTINGS format_csv_null_representation = ''
INTO OUTFILE '{out}/services.csv' TRUNCATE FORMAT CSVWithNames;

-- Every call edge.
WITH
{views}
SELECT caller, callee, qps, rpctype, p50_ms, p99_ms FROM merge_calls ORDER BY caller, callee, rpctype
INTO OUTFILE '{out}/calls.csv' TRUNCATE FORMAT CSVWithNames;
"
    )
}
