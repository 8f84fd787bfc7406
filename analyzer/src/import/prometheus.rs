//! Prometheus series: the text exposition format (a scrape, or several scrapes one after the
//! other) or the HTTP API's query answers (`/api/v1/query` vectors, `/api/v1/query_range`
//! matrices; several answers may follow each other in one file).
//!
//! Series are read by name, or, for the result of an expression (which has no `__name__`), by
//! their labels:
//! - call edges: `traces_service_graph_request_total{client,server}` (the OpenTelemetry
//!   collector's and Tempo's service graph), `istio_requests_total{source_workload,
//!   destination_workload}` (the `destination` reporter when both reported), and a merged
//!   binary's `merge_calls_total{caller,callee,path="inline"}`, so calls already merged still
//!   count. A caller named `unknown` or empty adds to its callee's inbound total only.
//! - CPU: `container_cpu_usage_seconds_total` (cores used) per `container` (else the pod's name
//!   without its ReplicaSet suffix), summed over pods; limits from
//!   `kube_pod_container_resource_limits{resource="cpu"}` or `container_spec_cpu_quota /
//!   container_spec_cpu_period`. `cpu_util` = used / limit. An expression (no `__name__`)
//!   with a `container` or `pod` label is read as cores used. `container=""` and
//!   `container="POD"` (cAdvisor's pod-level and pause series) are skipped.
//! - For one (caller, callee) the mesh's figure is taken over the service graph's (they see the
//!   same calls); a merged binary's in-process calls add to either. A service graph caller
//!   `user` (a `virtual_node`: an uninstrumented caller) adds to the callee's inbound total only.
//!
//! A counter's rate is its increase between the first and last samples over their time (a reset
//! restarts the count); a counter with one sample is a count over `--window`. The service
//! graph counts sampled spans: its rates are divided by `--sample-rate`. An expression's
//! value is taken as a rate already (`rate(..)` / `sum by (..) (rate(..))`); a matrix of them is
//! averaged. Every other series is skipped and counted in the report.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::json_text::without_bom;
use super::spans::Rates;
use crate::error::{ImportError, InputCode, InputError, Lines, Problems, json_message};
use crate::model::{Call, RpcType, SourceKind, Traffic};

/// One series and its samples: (seconds since the epoch, when given; value).
#[derive(Debug)]
struct Series {
    name: Option<String>,
    labels: Vec<(String, String)>,
    samples: Samples,
    line: usize,
}

impl Series {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, key: &str) -> bool {
        self.label(key).is_some()
    }
}

/// Where an edge's series come from. The service graph and the mesh see the same calls: for
/// one (caller, callee) the mesh's figure is taken, else the service graph's; a merged binary's
/// in-process calls are calls neither saw, and add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Family {
    Mesh,
    ServiceGraph,
    Inline,
}

/// What a series gives.
enum Role {
    Edge {
        family: Family,
        caller: String,
        callee: String,
        rpctype: RpcType,
        /// Istio's `reporter`: `Some(true)` for destination.
        destination: Option<bool>,
        /// Counted from sampled spans (the service graph).
        sampled: bool,
    },
    Cpu(String),
    Limit(String),
    Quota(String),
    Period(String),
    Skip,
}

/// Reads one file of series.
pub fn from_file(path: &Path, rates: Rates) -> Result<Traffic, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let text = without_bom(&text);
    let mut problems = Problems::default();
    let series = if text.trim_start().starts_with('{') {
        query_json(path, text, &mut problems)
    } else {
        exposition(path, text, &mut problems)
    };
    let traffic = build(path, series, rates, &mut problems);
    problems.finish(traffic)
}

/// Whether `text` (the start of a file) is in the text exposition format: its first line that
/// is not blank is a `# HELP`/`# TYPE` comment or a sample.
pub fn is_exposition(head: &str) -> bool {
    let Some(line) = head.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
        return true;
    }
    parse_sample(line).is_ok()
}

/// Series by name and labels: a series seen again (another scrape, another query answer) is
/// the same series, its samples added.
#[derive(Default)]
struct SeriesSet {
    out: Vec<Series>,
    index: FxHashMap<(Option<String>, Labels), usize>,
}

impl SeriesSet {
    fn add(&mut self, name: Option<String>, mut labels: Labels, samples: Samples, line: usize) {
        labels.sort();
        let key = (name, labels);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.out.push(Series {
                    name: key.0.clone(),
                    labels: key.1.clone(),
                    samples: Vec::new(),
                    line,
                });
                self.index.insert(key, self.out.len() - 1);
                self.out.len() - 1
            }
        };
        self.out[i].samples.extend(samples);
    }

    /// The series, each one's samples in time order.
    fn finish(mut self) -> Vec<Series> {
        for s in &mut self.out {
            s.samples
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        }
        self.out
    }
}

fn exposition(path: &Path, text: &str, problems: &mut Problems) -> Vec<Series> {
    let mut set = SeriesSet::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // An OpenMetrics exemplar (`value # {trace_id="…"} 1.0`) is not part of the sample.
        let line = without_exemplar(line);
        match parse_sample(line) {
            Ok((name, labels, value, ts)) => {
                let sample = vec![(ts.map(|ms| ms / 1000.0), value)];
                set.add(Some(name.to_string()), labels, sample, i + 1);
            }
            Err(e) => problems.push(InputError::at(path, i + 1, e.to_string())),
        }
    }
    set.finish()
}

/// A sample line without its OpenMetrics exemplar: the first ` # {` outside a quoted label
/// value and what follows.
fn without_exemplar(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted && line[i..].starts_with(" # {") => return line[..i].trim_end(),
            _ => {}
        }
    }
    line
}

type Labels = Vec<(String, String)>;
type Samples = Vec<(Option<f64>, f64)>;
type Sample<'a> = (&'a str, Labels, f64, Option<f64>);

/// A line of the exposition format that is not a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BadSample {
    #[error("`{0}` is not a metric name")]
    Name(String),
    #[error("a sample with no value")]
    NoValue,
    #[error("`{0}` is not a sample value")]
    Value(String),
    #[error("`{0}` is not a timestamp in milliseconds")]
    Timestamp(String),
    #[error("unexpected `{0}` after the timestamp")]
    Extra(String),
    #[error("a label with no `=`")]
    LabelNoEquals,
    #[error("a label value must be quoted")]
    LabelUnquoted,
    #[error("a label value is not closed")]
    LabelUnclosed,
}

/// Why a series gives no rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum NoRate {
    #[error(
        "one sample of the counter `{0}` gives no rate: give --window (the seconds it counts) or two scrapes"
    )]
    OneSample(String),
    #[error("several samples of one counter with no timestamps: give --window")]
    NoTimestamps,
}

/// `name{label="value",...} value [timestamp_ms]`.
fn parse_sample(line: &str) -> Result<Sample<'_>, BadSample> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return Err(BadSample::Name(name.to_owned()));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or(BadSample::NoValue)?;
    let value = parse_value(value).ok_or_else(|| BadSample::Value(value.to_owned()))?;
    let ts = match fields.next() {
        Some(t) => Some(
            t.parse::<f64>()
                .map_err(|_| BadSample::Timestamp(t.to_owned()))?,
        ),
        None => None,
    };
    if let Some(extra) = fields.next() {
        return Err(BadSample::Extra(extra.to_owned()));
    }
    Ok((name, labels, value, ts))
}

/// Labels up to the closing brace, and the text after it.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), BadSample> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or(BadSample::LabelNoEquals)?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        s = s.strip_prefix('"').ok_or(BadSample::LabelUnquoted)?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(BadSample::LabelUnclosed),
                },
                Some((_, c)) => value.push(c),
                None => return Err(BadSample::LabelUnclosed),
            }
        };
        labels.push((key, value));
        s = s[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Result_ {
    #[serde(default)]
    metric: FxHashMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn query_json(path: &Path, text: &str, problems: &mut Problems) -> Vec<Series> {
    let lines = Lines::new(text);
    let mut set = SeriesSet::default();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Answer>();
    loop {
        let start = stream.byte_offset();
        let line = lines.line(start + text[start..].len() - text[start..].trim_start().len());
        let answer = match stream.next() {
            None => break,
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                let message = format!("not a Prometheus query answer: {}", json_message(&e));
                problems.push(InputError::at(path, e.line(), message));
                break;
            }
        };
        let data = match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => data,
            (status, _) => {
                let why = answer.error.unwrap_or_default();
                let message = format!("the query answered `{status}`: {why}");
                problems.push(InputError::at(path, line, message));
                continue;
            }
        };
        if !matches!(data.result_type.as_str(), "vector" | "matrix") {
            let message = format!(
                "a `{}` result has no series: query for a vector or a matrix",
                data.result_type
            );
            problems.push(InputError::at(path, line, message));
            continue;
        }
        let results: Vec<Result_> = match serde_json::from_value(data.result) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("not a Prometheus {} result: {e}", data.result_type);
                problems.push(InputError::at(path, line, message));
                continue;
            }
        };
        for r in results {
            let mut samples = Vec::new();
            for (t, v) in r.value.into_iter().chain(r.values) {
                match parse_value(&v) {
                    Some(v) => samples.push((Some(t), v)),
                    None => {
                        let message = format!("`{v}` is not a sample value");
                        problems.push(InputError::at(path, line, message));
                    }
                }
            }
            let mut labels: Labels = r.metric.into_iter().collect();
            let name = labels
                .iter()
                .position(|(k, _)| k == "__name__")
                .map(|i| labels.swap_remove(i).1);
            set.add(name, labels, samples, line);
        }
    }
    set.finish()
}

fn role(s: &Series) -> Role {
    let label = |k: &str| s.label(k).unwrap_or_default().to_string();
    let named = |n: &str| s.name.as_deref() == Some(n);
    let computed = s.name.is_none();
    if named("traces_service_graph_request_total")
        || (computed && s.has("client") && s.has("server"))
    {
        let rpctype = match s.label("connection_type") {
            Some("messaging_system") => RpcType::Mq,
            Some("database") => RpcType::Db,
            _ => RpcType::Rpc,
        };
        // An uninstrumented caller is the virtual node `user`: its calls only reach the
        // callee's inbound total.
        let client = match (s.label("client"), s.label("connection_type")) {
            (Some("user"), Some("virtual_node")) => String::new(),
            _ => label("client"),
        };
        return Role::Edge {
            family: Family::ServiceGraph,
            caller: client,
            callee: label("server"),
            rpctype,
            destination: None,
            sampled: true,
        };
    }
    if named("istio_requests_total")
        || (computed && s.has("source_workload") && s.has("destination_workload"))
    {
        let rpctype = match s.label("request_protocol") {
            Some("http") => RpcType::Http,
            Some("tcp") => RpcType::Other("tcp".into()),
            _ => RpcType::Rpc,
        };
        return Role::Edge {
            family: Family::Mesh,
            caller: label("source_workload"),
            callee: label("destination_workload"),
            rpctype,
            destination: s.label("reporter").map(|r| r == "destination"),
            sampled: false,
        };
    }
    if named("merge_calls_total") || (computed && s.has("caller") && s.has("callee")) {
        if s.label("path") != Some("inline") {
            return Role::Skip;
        }
        return Role::Edge {
            family: Family::Inline,
            caller: label("caller"),
            callee: label("callee"),
            rpctype: RpcType::Rpc,
            destination: None,
            sampled: false,
        };
    }
    let Some(service) = workload(s) else {
        return Role::Skip;
    };
    match s.name.as_deref() {
        Some("container_cpu_usage_seconds_total") | None => Role::Cpu(service),
        Some("kube_pod_container_resource_limits") if s.label("resource") == Some("cpu") => {
            Role::Limit(service)
        }
        Some("container_spec_cpu_quota") => Role::Quota(service),
        Some("container_spec_cpu_period") => Role::Period(service),
        _ => Role::Skip,
    }
}

/// The service a container series belongs to: its container's name, else its pod's name without
/// the ReplicaSet hash and pod suffix (`pricing-7d9f8b6c5-x2x4q` is `pricing`).
fn workload(s: &Series) -> Option<String> {
    // cAdvisor's `container=""` (the whole pod) and `container="POD"` (the pause container)
    // would count the pod's CPU again.
    match s.label("container") {
        Some("" | "POD") => return None,
        Some(c) => return Some(c.to_string()),
        None => {}
    }
    let pod = s.label("pod").filter(|p| !p.is_empty())?;
    let parts: Vec<&str> = pod.rsplitn(3, '-').collect();
    let looks_generated = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    match parts.as_slice() {
        [suffix, hash, name] if looks_generated(suffix, 5..=5) && looks_generated(hash, 6..=10) => {
            Some(name.to_string())
        }
        _ => Some(pod.to_string()),
    }
}

/// The rate of a series (module docs), or why there is none.
fn rate(s: &Series, window: Option<f64>) -> Result<f64, NoRate> {
    let samples = &s.samples;
    if s.name.is_none() {
        let sum: f64 = samples.iter().map(|(_, v)| v).sum();
        return Ok(sum / samples.len().max(1) as f64);
    }
    match samples.as_slice() {
        [] => Ok(0.0),
        [(_, v)] => match window {
            Some(w) => Ok(v / w),
            None => Err(NoRate::OneSample(s.name.clone().unwrap_or_default())),
        },
        [(first_t, first), .., (last_t, _)] => {
            let mut increase = 0.0;
            let mut prev = *first;
            for (_, v) in &samples[1..] {
                increase += if *v >= prev { v - prev } else { *v };
                prev = *v;
            }
            let span = match (first_t, last_t, window) {
                (Some(a), Some(b), _) if b > a => b - a,
                (_, _, Some(w)) => w,
                _ => {
                    return Err(NoRate::NoTimestamps);
                }
            };
            Ok(increase / span)
        }
    }
}

fn gauge(s: &Series) -> f64 {
    s.samples.last().map_or(0.0, |(_, v)| *v)
}

#[derive(Default)]
struct Cpu {
    used: f64,
    limit: f64,
    quota: f64,
    period: f64,
}

fn build(path: &Path, series: Vec<Series>, rates: Rates, problems: &mut Problems) -> Traffic {
    let window = rates.window;
    let mut traffic = Traffic::new(SourceKind::Prometheus);
    // (family, caller, callee, rpctype) -> (qps, Istio's reporter: destination?)
    type Edges = FxHashMap<(Family, String, String, RpcType), (f64, Option<bool>)>;
    let mut edges = Edges::default();
    let mut inbound: FxHashMap<(Family, String), f64> = FxHashMap::default();
    let mut cpu: FxHashMap<String, Cpu> = FxHashMap::default();
    let mut skipped = 0usize;
    for s in &series {
        let role = role(s);
        let mut rate_of = |s: &Series| match rate(s, window) {
            Ok(r) if r.is_finite() && r >= 0.0 => Some(r),
            Ok(r) => {
                let message = format!("rate {r} is not a rate");
                problems.push(InputError::at(path, s.line, message).code(InputCode::InvalidValue));
                None
            }
            Err(e) => {
                problems.push(InputError::at(path, s.line, e.to_string()));
                None
            }
        };
        match role {
            Role::Edge {
                family,
                caller,
                callee,
                rpctype,
                destination,
                sampled,
            } => {
                let Some(mut r) = rate_of(s) else { continue };
                if sampled {
                    r /= rates.sample_rate.unwrap_or(1.0);
                }
                if callee.is_empty() || callee == "unknown" {
                    skipped += 1;
                    continue;
                }
                if destination != Some(false) {
                    *inbound.entry((family, callee.clone())).or_default() += r;
                }
                if caller.is_empty() || caller == "unknown" {
                    continue;
                }
                let e = edges
                    .entry((family, caller, callee, rpctype))
                    .or_insert((0.0, destination));
                // Istio reports a call twice (source and destination): the destination wins.
                match (e.1, destination) {
                    (Some(false), Some(true)) => *e = (r, destination),
                    (Some(true), Some(false)) => {}
                    _ => e.0 += r,
                }
            }
            Role::Cpu(name) => {
                if let Some(r) = rate_of(s) {
                    cpu.entry(name).or_default().used += r;
                }
            }
            Role::Limit(name) => cpu.entry(name).or_default().limit += gauge(s),
            Role::Quota(name) => cpu.entry(name).or_default().quota += gauge(s),
            Role::Period(name) => {
                let c = cpu.entry(name).or_default();
                c.period = c.period.max(gauge(s));
            }
            Role::Skip => skipped += 1,
        }
    }
    // The mesh and the service graph see the same calls: per pair, one of them (Family).
    let meshed: rustc_hash::FxHashSet<(String, String)> = edges
        .keys()
        .filter(|(f, ..)| *f == Family::Mesh)
        .map(|(_, a, b, _)| (a.clone(), b.clone()))
        .collect();
    let mut summed: std::collections::BTreeMap<(String, String, RpcType), f64> = Default::default();
    for ((family, caller, callee, rpctype), (qps, _)) in edges {
        let seen_by_mesh = meshed.contains(&(caller.clone(), callee.clone()));
        if family == Family::ServiceGraph && seen_by_mesh {
            continue;
        }
        *summed.entry((caller, callee, rpctype)).or_default() += qps;
    }
    for ((caller, callee, rpctype), qps) in summed {
        let a = traffic.service_or_insert(&caller);
        let b = traffic.service_or_insert(&callee);
        let mut call = Call::rpc(qps);
        call.rpctype = rpctype;
        traffic.add_call(a, b, call);
    }
    let mesh_inbound: rustc_hash::FxHashSet<String> = inbound
        .keys()
        .filter(|(f, _)| *f == Family::Mesh)
        .map(|(_, name)| name.clone())
        .collect();
    let mut into: std::collections::BTreeMap<String, f64> = Default::default();
    for ((family, name), qps) in inbound {
        if family == Family::ServiceGraph && mesh_inbound.contains(&name) {
            continue;
        }
        *into.entry(name).or_default() += qps;
    }
    for (name, qps) in into {
        let ix = traffic.service_or_insert(&name);
        traffic.service_mut(ix).inbound_qps = Some(qps);
    }
    let mut cpu: Vec<_> = cpu.into_iter().collect();
    cpu.sort_by(|a, b| a.0.cmp(&b.0));
    let with_cpu = cpu.len();
    for (name, c) in cpu {
        let ix = traffic.service_or_insert(&name);
        let limit = if c.limit > 0.0 {
            c.limit
        } else if c.period > 0.0 {
            c.quota / c.period
        } else {
            0.0
        };
        let s = traffic.service_mut(ix);
        s.cpu_cores = Some(c.used);
        s.cpu_util = (limit > 0.0).then(|| (c.used / limit).min(1.0));
    }
    let said = &mut traffic.assumptions;
    said.push(format!(
        "series: {} read, {skipped} of them neither call edges nor container CPU (skipped); CPU for {with_cpu} services",
        series.len()
    ));
    said.push(match window {
        Some(w) => format!("qps: a counter with one sample counts over the {w} s window given; counters with several, over their samples' time"),
        None => "qps: counters over their samples' time; expressions (no metric name) are taken as rates".to_string(),
    });
    if let Some(p) = rates.sample_rate {
        said.push(format!(
            "sampling: the service graph's counts (of sampled spans) count 1/{p} (--sample-rate)"
        ));
    }
    traffic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_parse_with_labels_and_timestamps() {
        let (name, labels, value, ts) = parse_sample(
            r#"traces_service_graph_request_total{client="a",server="b\"c"} 12 1700000000000"#,
        )
        .unwrap();
        assert_eq!(name, "traces_service_graph_request_total");
        assert_eq!(labels[1], ("server".to_string(), "b\"c".to_string()));
        assert_eq!((value, ts), (12.0, Some(1.7e12)));
        assert_eq!(parse_sample("9abc 1"), Err(BadSample::Name("9abc".into())));
        assert_eq!(parse_sample(r#"a{b="c} 1"#), Err(BadSample::LabelUnclosed));
        assert!(is_exposition("# HELP x y\nx 1\n"));
        assert!(!is_exposition("{\"status\": \"success\"}"));
    }

    #[test]
    fn pods_name_their_workload() {
        let s = |pod: &str| Series {
            name: None,
            labels: vec![("pod".into(), pod.into())],
            samples: vec![],
            line: 1,
        };
        assert_eq!(
            workload(&s("pricing-7d9f8b6c5-x2x4q")).as_deref(),
            Some("pricing")
        );
        assert_eq!(workload(&s("cache-0")).as_deref(), Some("cache-0"));
    }

    fn traffic(text: &str) -> Traffic {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series.prom");
        std::fs::write(&path, text).unwrap();
        from_file(&path, Rates::default()).unwrap()
    }

    #[test]
    fn the_mesh_wins_over_the_service_graph_and_inline_calls_add() {
        let t = traffic(concat!(
            "traces_service_graph_request_total{client=\"a\",server=\"b\"} 0 0\n",
            "traces_service_graph_request_total{client=\"a\",server=\"b\"} 100 10000\n",
            "traces_service_graph_request_total{client=\"user\",server=\"a\",connection_type=\"virtual_node\"} 0 0\n",
            "traces_service_graph_request_total{client=\"user\",server=\"a\",connection_type=\"virtual_node\"} 50 10000\n",
            "istio_requests_total{reporter=\"destination\",source_workload=\"a\",destination_workload=\"b\"} 0 0\n",
            "istio_requests_total{reporter=\"destination\",source_workload=\"a\",destination_workload=\"b\"} 80 10000\n",
            "merge_calls_total{caller=\"a\",callee=\"b\",path=\"inline\"} 0 0\n",
            "merge_calls_total{caller=\"a\",callee=\"b\",path=\"inline\"} 20 10000 # {trace_id=\"x\"} 1\n",
            "container_cpu_usage_seconds_total{pod=\"b-7d9f8b6c5-x2x4q\",container=\"b\"} 0 0\n",
            "container_cpu_usage_seconds_total{pod=\"b-7d9f8b6c5-x2x4q\",container=\"b\"} 5 10000\n",
            "container_cpu_usage_seconds_total{pod=\"b-7d9f8b6c5-x2x4q\",container=\"\"} 0 0\n",
            "container_cpu_usage_seconds_total{pod=\"b-7d9f8b6c5-x2x4q\",container=\"\"} 9 10000\n",
        ));
        let (a, b) = (t.find("a").unwrap(), t.find("b").unwrap());
        // 80 from the mesh (the service graph's 100 are the same calls) and 20 in-process.
        assert_eq!(t.graph[t.graph.find_edge(a, b).unwrap()].qps, 10.0);
        assert_eq!(t.service(b).inbound_qps, Some(10.0));
        // `user` is no service: its calls are a's inbound only.
        assert!(t.find("user").is_none());
        assert_eq!(t.service(a).inbound_qps, Some(5.0));
        // The pod-level series (container="") is not counted again.
        assert_eq!(t.service(b).cpu_cores, Some(0.5));
    }

    #[test]
    fn counters_with_resets_give_their_increase() {
        let s = Series {
            name: Some("merge_calls_total".into()),
            labels: vec![],
            samples: vec![(Some(0.0), 10.0), (Some(5.0), 30.0), (Some(10.0), 5.0)],
            line: 1,
        };
        assert_eq!(rate(&s, None), Ok(2.5));
    }
}
