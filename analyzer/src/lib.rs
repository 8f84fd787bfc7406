//! merge-analyzer: from traffic metrics to a merge plan.
//!
//! [`import::load`] reads a call graph with traffic metrics into a [`Traffic`] (a petgraph
//! graph), [`analyze`] judges every call edge and joins the merged ones into groups, and
//! [`plan::Plan`] is the `merge.toml` written from that. Nothing here prints: the CLI renders
//! the returned values.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod codes;
pub mod dot;
pub mod error;
pub mod format;
pub mod git;
pub mod group;
pub mod host;
pub mod import;
pub mod lock;
pub mod members;
pub mod model;
pub mod parsed;
pub mod paths;
pub mod plan;
pub mod profiles;
pub mod select;
pub mod sources;
pub mod thresholds;
pub mod versions;

pub use error::{ImportError, InputError};
pub use group::Group;
pub use model::{Call, RpcType, Service, SourceKind, Traffic};
pub use select::{Assumed, EdgeVerdict, Reason, Reasons, ServiceFlags};
pub use thresholds::{ThresholdOverrides, Thresholds};

/// The result of judging a traffic graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub thresholds: Thresholds,
    /// One per call edge, in graph order; entry-node calls and self-calls are left out.
    pub edges: Vec<EdgeVerdict>,
    /// Sorted by estimated saving, then name.
    pub groups: Vec<Group>,
    /// Figures that were assumed, in words (empty when the input gave every figure).
    pub assumptions: Vec<String>,
    /// Per service (by node index): what rules it out of any merge.
    pub flags: Vec<ServiceFlags>,
}

impl Analysis {
    /// The rejected edges, the heaviest `limit` of them (0: all) heaviest first (by qps, then
    /// caller and callee name), and how many were rejected in all: what the reports list.
    pub fn heaviest_rejected<'a>(
        &'a self,
        traffic: &Traffic,
        limit: usize,
    ) -> (Vec<&'a EdgeVerdict>, usize) {
        let mut rejected: Vec<&EdgeVerdict> = self.edges.iter().filter(|v| !v.merged()).collect();
        let total = rejected.len();
        let heaviest_first = |a: &&EdgeVerdict, b: &&EdgeVerdict| {
            let name = |ix| &traffic.service(ix).name;
            b.qps
                .total_cmp(&a.qps)
                .then_with(|| name(a.caller).cmp(name(b.caller)))
                .then_with(|| name(a.callee).cmp(name(b.callee)))
                .then_with(|| a.edge.cmp(&b.edge))
        };
        if limit != 0 && limit < total {
            rejected.select_nth_unstable_by(limit, heaviest_first);
            rejected.truncate(limit);
        }
        rejected.sort_by(heaviest_first);
        (rejected, total)
    }
}

/// Judges every call edge of `traffic` against `thresholds` and groups the merged ones.
pub fn analyze(traffic: &Traffic, thresholds: &Thresholds, assumed: &Assumed) -> Analysis {
    let totals = select::Totals::of(traffic);
    let flags = select::service_flags(traffic, &totals, thresholds);
    let mut edges = select::judge(traffic, &totals, &flags, thresholds, assumed);
    let groups = group::group(traffic, &totals, thresholds, &mut edges);

    let mut assumptions = traffic.assumptions.clone();
    let no_cost = edges.iter().filter(|v| v.encoding_assumed).count();
    if no_cost > 0 {
        assumptions.push(format!(
            "encoding cost {} for {no_cost} edges whose input gives none",
            assumed.encoding_cost
        ));
    }
    let no_cores = traffic
        .graph
        .node_weights()
        .filter(|s| s.cpu_cores.is_none() && !s.entry)
        .count();
    if no_cores > 0 {
        assumptions.push(format!(
            "{} cores for {no_cores} services whose input gives none",
            assumed.cores
        ));
    }
    Analysis {
        thresholds: thresholds.clone(),
        edges,
        groups,
        assumptions,
        flags,
    }
}
