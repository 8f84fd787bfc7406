//! Selection: a verdict for every call edge, with every reason that rejects it, and the
//! estimated saving of merging it (the model is in ARCHITECTURE.md).

use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::model::{RpcType, Traffic};
use crate::thresholds::Thresholds;

pub use crate::codes::Reason;

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
        Reason::ALL
            .iter()
            .copied()
            .filter(move |&r| self.contains(r))
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
    /// Merged because both ends joined one group through other edges (its own affinity or
    /// cost would not have chosen it, but the call is in-process after the merge).
    pub joined: bool,
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
        for ix in traffic.graph.node_indices() {
            if let Some(measured) = traffic.service(ix).inbound_qps {
                let total = &mut t.inbound[ix.index()];
                *total = total.max(measured);
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

/// What rules a service out of any merge, whatever the edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceFlags {
    /// Flagged in the input, or (traces) more than half of its outgoing qps is `mc`.
    pub cache_heavy: bool,
    /// Mean CPU utilisation above `max_cpu_util`.
    pub high_load: bool,
    /// Memory ratio above `max_mem_ratio`.
    pub memory_constrained: bool,
}

/// The flags of every service, by node index.
pub(crate) fn service_flags(
    traffic: &Traffic,
    totals: &Totals,
    th: &Thresholds,
) -> Vec<ServiceFlags> {
    traffic
        .graph
        .node_indices()
        .map(|ix| {
            let s = traffic.service(ix);
            ServiceFlags {
                cache_heavy: totals.cache_heavy(traffic, ix),
                high_load: s.cpu_util.is_some_and(|u| u > th.max_cpu_util),
                memory_constrained: s.mem_util.is_some_and(|m| m > th.max_mem_ratio),
            }
        })
        .collect()
}

/// Judges every edge except those from entry nodes and self-calls, in graph order.
pub(crate) fn judge(
    traffic: &Traffic,
    totals: &Totals,
    flags: &[ServiceFlags],
    th: &Thresholds,
    assumed: &Assumed,
) -> Vec<EdgeVerdict> {
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
        // A NaN figure must reject, not merge.
        if affinity.is_nan() || affinity <= th.min_affinity {
            reasons.insert(Reason::LowAffinity);
        }
        if encoding_cost.is_nan() || encoding_cost <= th.min_encoding_cost {
            reasons.insert(Reason::LowEncodingCost);
        }
        let (fa, fb) = (flags[ai], flags[bi]);
        if fa.cache_heavy || fb.cache_heavy {
            reasons.insert(Reason::CacheHeavy);
        }
        if fa.high_load || fb.high_load {
            reasons.insert(Reason::HighLoad);
        }
        if fa.memory_constrained || fb.memory_constrained {
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
            joined: false,
        });
    }
    out
}
