//! Selection: a verdict for every call edge, with every reason that rejects it, and the
//! estimated saving of merging it (the model is in ARCHITECTURE.md).

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::model::{RpcType, Traffic};
use crate::thresholds::Thresholds;

/// Why an edge is not merged. The order is the order reasons are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    NonRpc,
    LowAffinity,
    LowEncodingCost,
    CacheHeavy,
    HighLoad,
    MemoryConstrained,
    GroupLimit,
}

impl Reason {
    pub const ALL: [Reason; 7] = [
        Reason::NonRpc,
        Reason::LowAffinity,
        Reason::LowEncodingCost,
        Reason::CacheHeavy,
        Reason::HighLoad,
        Reason::MemoryConstrained,
        Reason::GroupLimit,
    ];

    /// The stable code of design.md.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NonRpc => "non-rpc",
            Reason::LowAffinity => "low-affinity",
            Reason::LowEncodingCost => "low-encoding-cost",
            Reason::CacheHeavy => "cache-heavy",
            Reason::HighLoad => "high-load",
            Reason::MemoryConstrained => "memory-constrained",
            Reason::GroupLimit => "group-limit",
        }
    }
}

/// A set of [`Reason`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reasons(u8);

impl Reasons {
    pub fn insert(&mut self, r: Reason) {
        self.0 |= 1 << r as u8;
    }

    pub fn contains(self, r: Reason) -> bool {
        self.0 & (1 << r as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |&r| self.contains(r))
    }
}

/// What was decided about one call edge.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeVerdict {
    pub edge: EdgeIndex,
    pub caller: NodeIndex,
    pub callee: NodeIndex,
    pub qps: f64,
    /// This edge's qps / all qps into the callee.
    pub affinity: f64,
    /// The edge's encoding cost: the call's, else the callee's, else the caller's, else assumed.
    pub encoding_cost: f64,
    pub encoding_assumed: bool,
    /// Cores saved if this edge becomes an in-process call.
    pub est_cores_saved: f64,
    /// Empty when merged.
    pub reasons: Reasons,
}

impl EdgeVerdict {
    pub fn merged(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Figures used when the input has none; the report says which were used.
#[derive(Debug, Clone, PartialEq)]
pub struct Assumed {
    /// Encoding cost of an edge for which neither the call nor its services give one.
    pub encoding_cost: f64,
    /// Cores of a service whose input gives none.
    pub cores: f64,
}

impl Default for Assumed {
    fn default() -> Self {
        Assumed {
            encoding_cost: 0.05,
            cores: 1.0,
        }
    }
}

/// Per-service traffic totals that selection needs.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    pub inbound: Vec<f64>,
    pub outbound: Vec<f64>,
    pub outbound_mc: Vec<f64>,
}

impl Totals {
    pub fn of(traffic: &Traffic) -> Self {
        let n = traffic.service_count();
        let mut t = Totals {
            inbound: vec![0.0; n],
            outbound: vec![0.0; n],
            outbound_mc: vec![0.0; n],
        };
        for e in traffic.graph.edge_references() {
            let call = e.weight();
            t.inbound[e.target().index()] += call.qps;
            t.outbound[e.source().index()] += call.qps;
            if call.rpctype == RpcType::Mc {
                t.outbound_mc[e.source().index()] += call.qps;
            }
        }
        t
    }

    /// A service whose input has no flag is cache-heavy when most of its outgoing calls go to
    /// caches (`mc`).
    pub fn cache_heavy(&self, traffic: &Traffic, n: NodeIndex) -> bool {
        traffic
            .service(n)
            .cache_heavy
            .unwrap_or_else(|| self.outbound_mc[n.index()] > 0.5 * self.outbound[n.index()])
    }
}

/// Judges every edge except those from entry nodes and self-calls, in graph order.
pub(crate) fn judge(
    traffic: &Traffic,
    totals: &Totals,
    cache_heavy: &[bool],
    th: &Thresholds,
    assumed: &Assumed,
) -> Vec<EdgeVerdict> {
    let n = traffic.service_count();
    let mut loaded = Vec::with_capacity(n);
    let mut mem_tight = Vec::with_capacity(n);
    for s in traffic.graph.node_weights() {
        loaded.push(s.cpu_util.is_some_and(|u| u > th.max_cpu_util));
        mem_tight.push(s.mem_util.is_some_and(|m| m > th.max_mem_ratio));
    }
    let cores = |ix: NodeIndex| traffic.service(ix).cpu_cores.unwrap_or(assumed.cores);

    let mut out = Vec::with_capacity(traffic.call_count());
    for e in traffic.graph.edge_references() {
        let (a, b, call) = (e.source(), e.target(), e.weight());
        if a == b || traffic.service(a).entry {
            continue;
        }
        let (ai, bi) = (a.index(), b.index());
        let inbound = totals.inbound[bi];
        let affinity = if inbound > 0.0 {
            call.qps / inbound
        } else {
            0.0
        };
        let given = call
            .encoding_cost
            .or(traffic.service(b).encoding_cost)
            .or(traffic.service(a).encoding_cost);
        let encoding_cost = given.unwrap_or(assumed.encoding_cost);

        let mut reasons = Reasons::default();
        if call.rpctype != RpcType::Rpc {
            reasons.insert(Reason::NonRpc);
        }
        if affinity <= th.min_affinity {
            reasons.insert(Reason::LowAffinity);
        }
        if encoding_cost <= th.min_encoding_cost {
            reasons.insert(Reason::LowEncodingCost);
        }
        if cache_heavy[ai] || cache_heavy[bi] {
            reasons.insert(Reason::CacheHeavy);
        }
        if loaded[ai] || loaded[bi] {
            reasons.insert(Reason::HighLoad);
        }
        if mem_tight[ai] || mem_tight[bi] {
            reasons.insert(Reason::MemoryConstrained);
        }

        let est_cores_saved = if call.encoding_cost.is_some() {
            // The call's own cost is a share of the pair's CPU.
            encoding_cost * (cores(a) + cores(b))
        } else {
            let outbound = totals.outbound[ai];
            let out_share = if outbound > 0.0 {
                call.qps / outbound
            } else {
                0.0
            };
            encoding_cost * (cores(b) * affinity + cores(a) * out_share)
        };
        out.push(EdgeVerdict {
            edge: e.id(),
            caller: a,
            callee: b,
            qps: call.qps,
            affinity,
            encoding_cost,
            encoding_assumed: given.is_none(),
            est_cores_saved,
            reasons,
        });
    }
    out
}
