//! Spans from any tracing system (OTLP, Jaeger, Zipkin), joined into call edges.
//!
//! The readers of each format turn their spans into [`SpanIn`] and hand them to a [`SpanSet`];
//! [`SpanSet::finish`] applies the rules that are the same whatever system recorded the spans,
//! and that `cargo merge query` writes again in SQL:
//!
//! - **Join.** A span whose parent is a span of another service is one call from the parent's
//!   service to its own. In Zipkin's shared-span form a server span carries its client's id
//!   (`shared`), and the client is the span of that id in the other service. A client or producer
//!   span that no span of another service answers is a call to an uninstrumented callee, named
//!   by its `peer.service`, else `server.address` (or the older `net.peer.name`), else the
//!   database or messaging system.
//! - **Protocol** (rpctype): `rpc.system` or `rpc.system.name` gives `rpc`; `db.system` gives `db`,
//!   except memcached and redis, which are caches (`mc`); `messaging.system` gives `mq`; an HTTP
//!   method gives `http`. The caller's span decides, then the callee's; a call with none is
//!   `unknown` (rejected as non-rpc).
//! - **Rates.** Each span counts `1 / p`, where `p` is its trace's sampling probability: the
//!   `--sample-rate` given, else what a span of the trace says (W3C tracestate `ot=th:`
//!   or `ot=p:`, Jaeger's `sampler.param` with `sampler.type` probabilistic), else 1. A call
//!   edge's qps is its weighted count over the window: `--window`, else the time from the first
//!   span's start to the last span's end.
//! - **Latency**: p50/p99 (nearest rank) of the caller's span when it has one (what the caller
//!   waits), else of the callee's.
//! - **Inbound totals.** Every server or consumer span counts into its service's measured inbound
//!   rate ([`Service::inbound_qps`]), so calls from untraced callers keep affinity honest.
//!
//! Bad spans: a span whose parent is in another trace is an error naming both ids; the readers
//! refuse spans with no service or malformed ids, naming the file and line.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::error::{ImportError, InputError, Problems};
use crate::model::{Call, RpcType, Service, SourceKind, Traffic};

/// The role of a span in its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// OTLP's enum numbers, Jaeger's and Zipkin's words, and OTLP's `SPAN_KIND_` names.
    pub fn parse(s: &str) -> SpanKind {
        let s = s.strip_prefix("SPAN_KIND_").unwrap_or(s);
        match s.to_ascii_lowercase().as_str() {
            "1" | "internal" => SpanKind::Internal,
            "2" | "server" => SpanKind::Server,
            "3" | "client" => SpanKind::Client,
            "4" | "producer" => SpanKind::Producer,
            "5" | "consumer" => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    fn serves(self) -> bool {
        matches!(self, SpanKind::Server | SpanKind::Consumer)
    }

    fn calls(self) -> bool {
        matches!(self, SpanKind::Client | SpanKind::Producer)
    }
}

/// The protocol a span's attributes name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    #[default]
    Unknown,
    Rpc,
    Http,
    Mc,
    Db,
    Mq,
}

impl Proto {
    fn rpctype(self) -> RpcType {
        match self {
            Proto::Unknown => RpcType::Other("unknown".into()),
            Proto::Rpc => RpcType::Rpc,
            Proto::Http => RpcType::Http,
            Proto::Mc => RpcType::Mc,
            Proto::Db => RpcType::Db,
            Proto::Mq => RpcType::Mq,
        }
    }
}

/// What a span's attributes (tags) say about its call, read key by key with [`Attrs::see`].
#[derive(Debug, Default)]
pub struct Attrs {
    rpc: bool,
    http: bool,
    db: Option<String>,
    db_name: Option<String>,
    messaging: Option<String>,
    peer_service: Option<String>,
    server_address: Option<String>,
    net_peer_name: Option<String>,
    /// The sampling probability a Jaeger sampler tag gives.
    sampler_param: Option<f64>,
    sampler_probabilistic: bool,
}

impl Attrs {
    /// Takes one attribute; `value` is its text (numbers as written).
    pub fn see(&mut self, key: &str, value: &str) {
        match key {
            "rpc.system" | "rpc.system.name" | "rpc.service" | "rpc.method" => self.rpc = true,
            "http.request.method" | "http.method" => self.http = true,
            "db.system" => self.db = Some(value.to_ascii_lowercase()),
            "db.system.name" => self.db_name = Some(value.to_ascii_lowercase()),
            "messaging.system" => self.messaging = Some(value.to_string()),
            "peer.service" => self.peer_service = Some(value.to_string()),
            "server.address" => self.server_address = Some(value.to_string()),
            "net.peer.name" => self.net_peer_name = Some(value.to_string()),
            "sampler.type" => self.sampler_probabilistic = value == "probabilistic",
            "sampler.param" => self.sampler_param = value.parse().ok(),
            _ => {}
        }
    }

    /// The database system: `db.system`, else the newer `db.system.name`.
    fn db(&self) -> Option<&String> {
        self.db.as_ref().or(self.db_name.as_ref())
    }

    fn proto(&self) -> Proto {
        if self.rpc {
            Proto::Rpc
        } else if let Some(db) = self.db() {
            match db.as_str() {
                "memcached" | "redis" => Proto::Mc,
                _ => Proto::Db,
            }
        } else if self.messaging.is_some() {
            Proto::Mq
        } else if self.http {
            Proto::Http
        } else {
            Proto::Unknown
        }
    }

    /// The callee a client span names when no span of the callee answers it, in this order:
    /// `peer.service`, `server.address`, `net.peer.name`, the database system, the messaging
    /// system (an empty value counts as none).
    fn peer(self) -> Option<String> {
        let db = self.db().cloned();
        [
            self.peer_service,
            self.server_address,
            self.net_peer_name,
            db,
            self.messaging,
        ]
        .into_iter()
        .flatten()
        .find(|p| !p.is_empty())
    }

    fn sampling(&self) -> Option<f64> {
        self.sampler_param
            .filter(|_| self.sampler_probabilistic)
            .filter(|p| *p > 0.0 && *p <= 1.0)
    }
}

/// One span as a reader found it.
#[derive(Debug)]
pub struct SpanIn<'a> {
    pub trace: u128,
    pub id: u64,
    /// 0 for a root span.
    pub parent: u64,
    /// Zipkin's `shared`: a server span that carries its client's id.
    pub shared: bool,
    pub service: &'a str,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Attrs,
    /// The remote service the span itself names (Zipkin's `remoteEndpoint.serviceName`).
    pub remote: Option<&'a str>,
    /// The W3C tracestate, for its sampling threshold.
    pub tracestate: Option<&'a str>,
    /// 1-based line of the file where the span is.
    pub line: usize,
}

/// A span as kept for the join: small, since there may be tens of millions.
#[derive(Debug)]
struct Rec {
    trace: u128,
    id: u64,
    parent: u64,
    service: u32,
    /// Index into `peers` + 1, 0 for none.
    peer: u32,
    dur_ms: f64,
    line: u32,
    file: u16,
    kind: SpanKind,
    proto: Proto,
    shared: bool,
    answered: bool,
}

/// The spans of one import, and what the readers counted on the way.
#[derive(Debug)]
pub struct SpanSet {
    kind: SourceKind,
    files: Vec<PathBuf>,
    services: Names,
    peers: Names,
    spans: Vec<Rec>,
    /// Sampling probability per trace, where a span says it (the largest, when they differ).
    sampling: FxHashMap<u128, f64>,
    last_sampling: Option<(u128, f64)>,
    first_ns: u64,
    last_ns: u64,
    pub problems: Problems,
}

/// How the figures are derived, for [`SpanSet::finish`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    /// Seconds the spans cover, overriding their timestamps.
    pub window: Option<f64>,
    /// The sampling probability of every trace, overriding what spans say.
    pub sample_rate: Option<f64>,
}

impl SpanSet {
    pub fn new(kind: SourceKind) -> Self {
        SpanSet {
            kind,
            files: Vec::new(),
            services: Names::default(),
            peers: Names::default(),
            spans: Vec::new(),
            sampling: FxHashMap::default(),
            last_sampling: None,
            first_ns: u64::MAX,
            last_ns: 0,
            problems: Problems::default(),
        }
    }

    /// Starts reading `path`; spans pushed after this are located in it.
    pub fn file(&mut self, path: &Path) {
        self.files.push(path.to_path_buf());
    }

    fn path(&self) -> &Path {
        self.files
            .last()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new(""))
    }

    /// An input problem at `line` of the current file.
    pub fn problem(&mut self, line: usize, message: impl Into<String>) {
        let e = InputError::at(self.path(), line, message);
        self.problems.push(e);
    }

    pub fn push(&mut self, s: SpanIn<'_>) {
        if s.service.is_empty() {
            let message = format!("span {:016x} has no service name", s.id);
            return self.problem(s.line, message);
        }
        let service = self.services.id(s.service);
        if s.start_ns > 0 {
            self.first_ns = self.first_ns.min(s.start_ns);
            self.last_ns = self.last_ns.max(s.end_ns.max(s.start_ns));
        }
        let probability = s
            .tracestate
            .and_then(tracestate_probability)
            .or(s.attrs.sampling());
        if let Some(p) = probability {
            // Spans of one trace tend to come together: insert only when the trace changes.
            if self.last_sampling != Some((s.trace, p)) {
                let kept = self.sampling.entry(s.trace).or_insert(p);
                *kept = kept.max(p);
                self.last_sampling = Some((s.trace, p));
            }
        }
        let proto = s.attrs.proto();
        let peer = match (s.kind.calls(), s.remote) {
            (false, _) => 0,
            (true, Some(remote)) => self.peers.id(remote) + 1,
            (true, None) => s.attrs.peer().map_or(0, |p| self.peers.id(&p) + 1),
        };
        self.spans.push(Rec {
            trace: s.trace,
            id: s.id,
            parent: s.parent,
            service,
            peer,
            dur_ms: (s.end_ns.saturating_sub(s.start_ns)) as f64 / 1e6,
            line: s.line.min(u32::MAX as usize) as u32,
            file: (self.files.len().saturating_sub(1)).min(u16::MAX as usize) as u16,
            kind: s.kind,
            proto,
            shared: s.shared,
            answered: false,
        });
    }

    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// Joins the spans into a call graph (module docs: the rules).
    pub fn finish(mut self, rates: Rates) -> Result<Traffic, ImportError> {
        if !self.problems.is_empty() {
            return self.problems.finish(Traffic::new(self.kind));
        }
        let index = self.index();
        let mut problems = Problems::default();
        let mut edges: FxHashMap<(u32, u32, Proto), Edge> = FxHashMap::default();
        let mut inbound = vec![0.0f64; self.services.list.len()];
        let mut untraced_callers = 0usize;
        let weight = |trace: u128| match rates.sample_rate {
            Some(p) => 1.0 / p,
            None => 1.0 / self.sampling.get(&trace).copied().unwrap_or(1.0),
        };
        let mut answered = Vec::new();
        for (i, s) in self.spans.iter().enumerate() {
            let w = weight(s.trace);
            if s.kind.serves() {
                inbound[s.service as usize] += w;
            }
            // Zipkin's shared form: the client is the span of the same id.
            let caller_id = if s.shared { s.id } else { s.parent };
            if caller_id == 0 {
                untraced_callers += usize::from(s.kind.serves());
                continue;
            }
            // A span under a shared server span names the server's id, which its client has
            // too: its parent is the server span.
            let shared_parent = match s.shared {
                false => index.shared.get(&(s.trace, caller_id)).map(|&j| j as usize),
                true => None,
            };
            let found = match shared_parent {
                Some(j) => Found::Span(j),
                None => index.find(&self.spans, s.trace, caller_id, i),
            };
            let caller = match found {
                Found::Span(c) => c,
                Found::Missing => {
                    untraced_callers += usize::from(s.kind.serves());
                    continue;
                }
                Found::OtherTrace(other) => {
                    let at = &self.spans[other];
                    problems.push(InputError::at(
                        &self.files[s.file as usize],
                        s.line as usize,
                        format!(
                            "span {:016x}'s parent {caller_id:016x} is in trace {:032x} (line {}), not in the span's own trace {:032x}",
                            s.id, at.trace, at.line, s.trace
                        ),
                    ));
                    continue;
                }
            };
            let c = &self.spans[caller];
            if c.service == s.service {
                continue;
            }
            answered.push(caller);
            let proto = match c.proto {
                Proto::Unknown => s.proto,
                p => p,
            };
            let dur = if c.kind.calls() { c.dur_ms } else { s.dur_ms };
            edges
                .entry((c.service, s.service, proto))
                .or_default()
                .add(w, dur);
        }
        let traffic = Traffic::new(self.kind);
        let traffic = problems.finish(traffic)?;
        for i in answered {
            self.spans[i].answered = true;
        }
        // Calls to uninstrumented callees, in the same edges as the joined calls: a peer that
        // is a traced service is that service.
        let mut to_peers = 0usize;
        let mut nameless = 0usize;
        for s in &self.spans {
            if !s.kind.calls() || s.answered {
                continue;
            }
            if s.peer == 0 {
                nameless += 1;
                continue;
            }
            to_peers += 1;
            let callee = self.services.id(&self.peers.list[s.peer as usize - 1]);
            edges
                .entry((s.service, callee, s.proto))
                .or_default()
                .add(weight(s.trace), s.dur_ms);
        }
        inbound.resize(self.services.list.len(), 0.0);
        self.into_traffic(
            traffic,
            rates,
            Joined {
                edges,
                inbound,
                untraced_callers,
                to_peers,
                nameless,
            },
        )
    }

    fn index(&self) -> Index {
        let mut by_id: FxHashMap<u64, u32> = FxHashMap::default();
        by_id.reserve(self.spans.len());
        let mut more: FxHashMap<(u128, u64), u32> = FxHashMap::default();
        let mut shared: FxHashMap<(u128, u64), u32> = FxHashMap::default();
        for (i, s) in self.spans.iter().enumerate() {
            if s.shared {
                shared.insert((s.trace, s.id), i as u32);
                continue;
            }
            match by_id.entry(s.id) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i as u32);
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    if self.spans[*o.get() as usize].trace != s.trace {
                        more.entry((s.trace, s.id)).or_insert(i as u32);
                    }
                }
            }
        }
        Index {
            by_id,
            more,
            shared,
        }
    }

    fn into_traffic(
        self,
        mut traffic: Traffic,
        rates: Rates,
        j: Joined,
    ) -> Result<Traffic, ImportError> {
        let timed = self.first_ns < self.last_ns;
        let window = match rates.window {
            Some(w) => w,
            None if timed => (self.last_ns - self.first_ns) as f64 / 1e9,
            None => 1.0,
        };
        let nodes: Vec<_> = self
            .services
            .list
            .iter()
            .zip(&j.inbound)
            .map(|(name, &inbound)| {
                let service = Service {
                    inbound_qps: (inbound > 0.0).then(|| inbound / window),
                    ..Service::named(name.as_ref())
                };
                traffic.add_service(service).unwrap_or_else(|ix| ix)
            })
            .collect();
        let mut edges: Vec<_> = j.edges.into_iter().collect();
        edges.sort_unstable_by_key(|((a, b, p), _)| (*a, *b, *p as u8));
        for ((a, b, proto), e) in edges {
            traffic.add_call(nodes[a as usize], nodes[b as usize], e.call(proto, window));
        }

        let said = &mut traffic.assumptions;
        let spans = self.spans.len();
        said.push(match (rates.window, timed) {
            (Some(w), _) => format!("qps: {spans} spans counted over the {w} s window given"),
            (None, true) => format!(
                "qps: {spans} spans counted over the {window:.3} s from the first span's start to the last one's end"
            ),
            (None, false) => "qps: the spans carry no timestamps and no --window was given, so figures are counts, not rates".to_string(),
        });
        match rates.sample_rate {
            Some(p) => said.push(format!("sampling: every span counts 1/{p} (--sample-rate)")),
            None if !self.sampling.is_empty() => said.push(format!(
                "sampling: spans of {} traces count 1/p, p from their tracestate or sampler tags; other traces count 1",
                self.sampling.len()
            )),
            None => said.push(
                "sampling: no span says its sampling probability and no --sample-rate was given, so every span counts once".to_string(),
            ),
        }
        if j.untraced_callers > 0 {
            said.push(format!(
                "{} server spans have no traced caller (no parent, or one not in the input): they count in their service's inbound total (the affinity denominator), not as a call edge",
                j.untraced_callers
            ));
        }
        if j.to_peers > 0 {
            said.push(format!(
                "{} client spans that no traced service answers are calls to the service their peer.service, server.address or system names",
                j.to_peers
            ));
        }
        if j.nameless > 0 {
            said.push(format!(
                "{} client spans name no callee and no traced service answers them: left out",
                j.nameless
            ));
        }
        Ok(traffic)
    }
}

struct Joined {
    edges: FxHashMap<(u32, u32, Proto), Edge>,
    inbound: Vec<f64>,
    untraced_callers: usize,
    to_peers: usize,
    nameless: usize,
}

#[derive(Default)]
struct Edge {
    count: f64,
    durations: Vec<f64>,
}

impl Edge {
    fn add(&mut self, weight: f64, dur_ms: f64) {
        self.count += weight;
        self.durations.push(dur_ms);
    }

    fn call(mut self, proto: Proto, window: f64) -> Call {
        self.durations.sort_unstable_by(f64::total_cmp);
        let mut call = Call::rpc(self.count / window);
        call.rpctype = proto.rpctype();
        call.p50_ms = nearest_rank(&self.durations, 0.50);
        call.p99_ms = nearest_rank(&self.durations, 0.99);
        call
    }
}

/// The nearest-rank percentile `p` of sorted values, rounded to microseconds.
pub(crate) fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some((sorted[rank - 1] * 1000.0).round() / 1000.0)
}

struct Index {
    by_id: FxHashMap<u64, u32>,
    /// Spans whose id another trace took first.
    more: FxHashMap<(u128, u64), u32>,
    /// Zipkin's shared server spans, by trace and the id they share with their client.
    shared: FxHashMap<(u128, u64), u32>,
}

enum Found {
    Span(usize),
    Missing,
    OtherTrace(usize),
}

impl Index {
    /// The span `id` of `trace`, for span `child`.
    fn find(&self, spans: &[Rec], trace: u128, id: u64, child: usize) -> Found {
        match self.by_id.get(&id) {
            Some(&i) if spans[i as usize].trace == trace && i as usize != child => {
                Found::Span(i as usize)
            }
            Some(&i) => match self.more.get(&(trace, id)) {
                Some(&j) => Found::Span(j as usize),
                None if i as usize == child => Found::Missing,
                None => Found::OtherTrace(i as usize),
            },
            None => Found::Missing,
        }
    }
}

/// Names by number, each kept once.
#[derive(Debug, Default)]
struct Names {
    index: FxHashMap<Box<str>, u32>,
    list: Vec<Box<str>>,
}

impl Names {
    /// The number of `name`, given it on first sight.
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(name.into());
        self.index.insert(name.into(), i);
        i
    }
}

/// The sampling probability in a W3C tracestate's OpenTelemetry entry: `ot=th:<hex>` (the
/// rejection threshold, out of 2^56) or the older `ot=p:<n>` (probability 2^-n).
pub fn tracestate_probability(state: &str) -> Option<f64> {
    let ot = state
        .split(',')
        .find_map(|e| e.trim().strip_prefix("ot="))?;
    for field in ot.split(';') {
        if let Some(th) = field.strip_prefix("th:") {
            if th.is_empty() || th.len() > 14 {
                return None;
            }
            let padded = format!("{th:0<14}");
            let t = u64::from_str_radix(&padded, 16).ok()?;
            let p = 1.0 - t as f64 / (1u64 << 56) as f64;
            return (p > 0.0).then_some(p);
        }
        if let Some(n) = field.strip_prefix("p:") {
            let n: u32 = n.parse().ok()?;
            return (n <= 62).then(|| 0.5f64.powi(n as i32));
        }
    }
    None
}

/// A trace id from hex (16 or 32 digits) or base64 (protobuf's JSON form of bytes).
pub fn trace_id(s: &str) -> Option<u128> {
    match s.len() {
        1..=32 => hex(s.as_bytes()).or_else(|| base64_id(s)),
        _ => base64_id(s),
    }
}

/// A span id from hex (up to 16 digits) or base64; an empty id is `Some(0)` (no parent).
pub fn span_id(s: &str) -> Option<u64> {
    match s.len() {
        0 => Some(0),
        1..=16 => hex(s.as_bytes()).map(|v| v as u64).or_else(|| base64_id(s)),
        _ => base64_id(s),
    }
}

/// Hex digits (at most 32) as a number, in one pass: ids are read tens of millions of times.
fn hex(digits: &[u8]) -> Option<u128> {
    let mut v: u128 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// An id of 16 or 8 bytes in base64 (protobuf's JSON form of bytes), big-endian.
fn base64_id<T: TryFrom<u128>>(s: &str) -> Option<T> {
    let bytes = base64_bytes(s)?;
    let v = match bytes.len() {
        16 => u128::from_be_bytes(bytes.try_into().ok()?),
        8 => u128::from(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => return None,
    };
    T::try_from(v).ok()
}

fn base64_bytes(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracestate_thresholds_give_probabilities() {
        assert_eq!(tracestate_probability("ot=th:8"), Some(0.5));
        assert_eq!(
            tracestate_probability("vendor=x,ot=th:c;rv:1234"),
            Some(0.25)
        );
        assert_eq!(tracestate_probability("ot=p:3"), Some(0.125));
        assert_eq!(tracestate_probability("ot=th:0"), Some(1.0));
        assert_eq!(tracestate_probability("vendor=x"), None);
        assert_eq!(tracestate_probability("ot=th:zz"), None);
    }

    #[test]
    fn ids_read_hex_and_base64() {
        assert_eq!(span_id("00f067aa0ba902b7"), Some(0x00f067aa0ba902b7));
        assert_eq!(span_id("APBnqgupArc="), Some(0x00f067aa0ba902b7));
        assert_eq!(span_id(""), Some(0));
        assert_eq!(span_id("xyz"), None);
        assert_eq!(
            trace_id("4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(trace_id("a3ce929d0e0e4736"), Some(0xa3ce929d0e0e4736));
    }

    fn span<'a>(trace: u128, id: u64, parent: u64, service: &'a str, kind: SpanKind) -> SpanIn<'a> {
        let mut attrs = Attrs::default();
        attrs.see("rpc.system", "grpc");
        SpanIn {
            trace,
            id,
            parent,
            shared: false,
            service,
            kind,
            start_ns: 1_000_000_000 + id * 1_000_000,
            end_ns: 1_000_000_000 + id * 1_000_000 + 2_000_000,
            attrs,
            remote: None,
            tracestate: None,
            line: id as usize,
        }
    }

    #[test]
    fn client_and_server_spans_join_across_services() {
        let mut set = SpanSet::new(SourceKind::Otlp);
        set.file(Path::new("t.json"));
        set.push(span(1, 1, 0, "gateway", SpanKind::Server));
        set.push(span(1, 2, 1, "gateway", SpanKind::Client));
        set.push(span(1, 3, 2, "catalog", SpanKind::Server));
        // An untraced caller of catalog: a server span whose parent is not in the input.
        set.push(span(2, 4, 99, "catalog", SpanKind::Server));
        let t = set
            .finish(Rates {
                window: Some(2.0),
                sample_rate: None,
            })
            .unwrap();
        assert_eq!(t.call_count(), 1);
        let (g, c) = (t.find("gateway").unwrap(), t.find("catalog").unwrap());
        let e = t.graph.find_edge(g, c).unwrap();
        assert_eq!(t.graph[e].qps, 0.5);
        assert_eq!(t.graph[e].rpctype, RpcType::Rpc);
        assert_eq!(t.service(c).inbound_qps, Some(1.0));
        assert!(
            t.assumptions
                .iter()
                .any(|a| a.starts_with("2 server spans have no traced caller"))
        );
    }

    #[test]
    fn a_parent_in_another_trace_is_an_error() {
        let mut set = SpanSet::new(SourceKind::Otlp);
        set.file(Path::new("t.json"));
        set.push(span(1, 1, 0, "gateway", SpanKind::Client));
        set.push(span(2, 2, 1, "catalog", SpanKind::Server));
        let e = set.finish(Rates::default()).unwrap_err().to_string();
        assert!(
            e.contains("t.json:2: span 0000000000000002's parent 0000000000000001 is in trace"),
            "{e}"
        );
    }

    #[test]
    fn unanswered_client_spans_call_their_peer() {
        let mut set = SpanSet::new(SourceKind::Otlp);
        set.file(Path::new("t.json"));
        let mut s = span(1, 1, 0, "cart", SpanKind::Client);
        s.attrs = Attrs::default();
        s.attrs.see("db.system", "redis");
        s.attrs.see("server.address", "cache");
        set.push(s);
        let mut s = span(1, 2, 0, "cart", SpanKind::Client);
        s.attrs = Attrs::default();
        set.push(s);
        let t = set.finish(Rates::default()).unwrap();
        let e = t
            .graph
            .find_edge(t.find("cart").unwrap(), t.find("cache").unwrap());
        assert_eq!(t.graph[e.unwrap()].rpctype, RpcType::Mc);
        assert!(
            t.assumptions
                .iter()
                .any(|a| a.starts_with("1 client spans name no callee"))
        );
    }

    #[test]
    fn zipkin_shared_spans_join_to_their_client_and_parent_their_children() {
        let mut set = SpanSet::new(SourceKind::Zipkin);
        set.file(Path::new("z.json"));
        set.push(span(1, 10, 0, "a", SpanKind::Client));
        // b's server span shares its client's id; b's own call is its child.
        let mut server = span(1, 10, 0, "b", SpanKind::Server);
        server.shared = true;
        set.push(server);
        set.push(span(1, 11, 10, "b", SpanKind::Client));
        set.push(span(1, 12, 11, "c", SpanKind::Server));
        let t = set.finish(Rates::default()).unwrap();
        let edge = |x: &str, y: &str| t.graph.find_edge(t.find(x).unwrap(), t.find(y).unwrap());
        assert!(edge("a", "b").is_some() && edge("b", "c").is_some());
        assert!(edge("a", "c").is_none());
        assert_eq!(t.call_count(), 2);
    }

    #[test]
    fn sampled_traces_count_one_over_p() {
        let mut set = SpanSet::new(SourceKind::Otlp);
        set.file(Path::new("t.json"));
        let mut root = span(1, 1, 0, "a", SpanKind::Client);
        root.tracestate = Some("ot=th:c");
        set.push(root);
        set.push(span(1, 2, 1, "b", SpanKind::Server));
        let t = set
            .finish(Rates {
                window: Some(1.0),
                sample_rate: None,
            })
            .unwrap();
        let e = t
            .graph
            .find_edge(t.find("a").unwrap(), t.find("b").unwrap());
        assert_eq!(t.graph[e.unwrap()].qps, 4.0);
    }
}
