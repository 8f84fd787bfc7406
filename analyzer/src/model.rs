//! The traffic model: services and the calls between them, kept as a petgraph graph.

use std::fmt;
use std::path::PathBuf;

use petgraph::graph::DiGraph;
pub use petgraph::graph::{EdgeIndex, NodeIndex};
use rustc_hash::FxHashMap;

use crate::thresholds::ThresholdOverrides;

/// One microservice (all of its instances together).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub name: String,
    /// Cores used by all instances. `None` when the input does not say (the analysis then
    /// assumes a figure and says so).
    pub cpu_cores: Option<f64>,
    /// Mean container CPU utilisation, 0..=1.
    pub cpu_util: Option<f64>,
    pub mem_used_gib: Option<f64>,
    pub mem_limit_gib: Option<f64>,
    /// Memory used / memory limit, 0..=1. Native inputs derive it from used and limit; traces
    /// carry it directly.
    pub mem_util: Option<f64>,
    /// `None` when the input has no flag: the analysis infers it from the share of `mc` calls.
    pub cache_heavy: Option<bool>,
    /// Share of this service's CPU spent (de)serialising RPCs, 0..=1.
    pub encoding_cost: Option<f64>,
    /// The service's Cargo manifest, absolute or relative to the current directory.
    pub manifest: Option<PathBuf>,
    /// The entry node of a trace (`USER` in DGG): it calls, it is never merged.
    pub entry: bool,
    /// Calls per second into this service measured on its own side (server spans, server-side
    /// series), whoever the caller. The affinity denominator when it exceeds the sum of the
    /// traced edges into the service: callers that were not traced do not inflate affinity.
    pub inbound_qps: Option<f64>,
}

impl Service {
    pub fn named(name: impl Into<String>) -> Self {
        Service {
            name: name.into(),
            ..Service::default()
        }
    }
}

/// The protocol of a call edge. Only [`RpcType::Rpc`] edges are merge candidates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RpcType {
    Rpc,
    Http,
    Mc,
    Db,
    Mq,
    Other(Box<str>),
}

impl RpcType {
    pub fn parse(s: &str) -> RpcType {
        match s {
            "rpc" => RpcType::Rpc,
            "http" => RpcType::Http,
            "mc" => RpcType::Mc,
            "db" => RpcType::Db,
            "mq" => RpcType::Mq,
            other => RpcType::Other(other.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RpcType::Rpc => "rpc",
            RpcType::Http => "http",
            RpcType::Mc => "mc",
            RpcType::Db => "db",
            RpcType::Mq => "mq",
            RpcType::Other(s) => s,
        }
    }
}

impl fmt::Display for RpcType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Traffic on one caller -> callee edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Calls per second (for traces without a time base: calls in the trace).
    pub qps: f64,
    pub rpctype: RpcType,
    /// Share of the pair's CPU spent on this edge's (de)serialisation, 0..=1.
    pub encoding_cost: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Call {
    pub fn rpc(qps: f64) -> Self {
        Call {
            qps,
            rpctype: RpcType::Rpc,
            encoding_cost: None,
            p50_ms: None,
            p99_ms: None,
        }
    }
}

/// Which importer read the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The native TOML, JSON or CSV-folder format of design.md.
    Native,
    /// An Alibaba microservice trace (MSCallGraph + MSResource).
    Alibaba,
    /// DGG call-graph pattern folders.
    Dgg,
    /// OpenTelemetry spans in OTLP JSON.
    Otlp,
    /// Jaeger's query-API JSON.
    Jaeger,
    /// Zipkin v2 JSON spans.
    Zipkin,
    /// Jaeger or Zipkin dependency links (`parent`, `child`, `callCount`).
    DependencyLinks,
    /// Prometheus series: text exposition or the HTTP API's query JSON.
    Prometheus,
}

impl SourceKind {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Native => "native",
            SourceKind::Alibaba => "Alibaba trace",
            SourceKind::Dgg => "DGG patterns",
            SourceKind::Otlp => "OpenTelemetry spans",
            SourceKind::Jaeger => "Jaeger traces",
            SourceKind::Zipkin => "Zipkin spans",
            SourceKind::DependencyLinks => "dependency links",
            SourceKind::Prometheus => "Prometheus series",
        }
    }
}

/// A call graph with traffic metrics.
#[derive(Debug, Clone)]
pub struct Traffic {
    pub graph: DiGraph<Service, Call>,
    index: FxHashMap<Box<str>, NodeIndex>,
    pub kind: SourceKind,
    /// What the importer had to assume, in words for the report.
    pub assumptions: Vec<String>,
    /// The traffic file's own `[thresholds]`, applied under the command-line flags.
    pub thresholds: ThresholdOverrides,
    /// The inputs read, in order, and what each was ([`crate::import::load_all`] fills it).
    pub sources: Vec<(PathBuf, SourceKind)>,
}

impl Traffic {
    pub fn new(kind: SourceKind) -> Self {
        Traffic {
            graph: DiGraph::new(),
            index: FxHashMap::default(),
            kind,
            assumptions: Vec::new(),
            thresholds: ThresholdOverrides::default(),
            sources: Vec::new(),
        }
    }

    pub fn with_capacity(kind: SourceKind, services: usize, calls: usize) -> Self {
        let mut t = Traffic::new(kind);
        t.graph = DiGraph::with_capacity(services, calls);
        t.index.reserve(services);
        t
    }

    pub fn service_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn call_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn find(&self, name: &str) -> Option<NodeIndex> {
        self.index.get(name).copied()
    }

    pub fn service(&self, ix: NodeIndex) -> &Service {
        &self.graph[ix]
    }

    pub fn service_mut(&mut self, ix: NodeIndex) -> &mut Service {
        &mut self.graph[ix]
    }

    /// Adds a service; `Err` with the existing index if the name is taken.
    pub fn add_service(&mut self, service: Service) -> Result<NodeIndex, NodeIndex> {
        if let Some(&ix) = self.index.get(service.name.as_str()) {
            return Err(ix);
        }
        let name: Box<str> = service.name.as_str().into();
        let ix = self.graph.add_node(service);
        self.index.insert(name, ix);
        Ok(ix)
    }

    /// The service of that name, created with no metrics if it does not exist yet.
    pub fn service_or_insert(&mut self, name: &str) -> NodeIndex {
        match self.find(name) {
            Some(ix) => ix,
            None => self
                .add_service(Service::named(name))
                .unwrap_or_else(|ix| ix),
        }
    }

    pub fn add_call(&mut self, caller: NodeIndex, callee: NodeIndex, call: Call) {
        self.graph.add_edge(caller, callee, call);
    }
}
