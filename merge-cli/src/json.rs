//! JSON lines of `analyze`: one `merge-plan` object (design.md, Data contracts).

use std::io::{self, Write};

use merge_analyzer::{Analysis, EdgeVerdict, Traffic};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

#[derive(Serialize)]
struct MergePlan<'a> {
    reason: &'static str,
    services: usize,
    calls: usize,
    groups: Vec<GroupLine<'a>>,
    edges: Edges<'a>,
    thresholds: &'a merge_analyzer::Thresholds,
    assumptions: &'a [String],
}

#[derive(Serialize)]
struct GroupLine<'a> {
    name: &'a str,
    members: &'a [String],
    est_cores_saved: f64,
}

#[derive(Serialize)]
struct EdgeLine<'a> {
    caller: &'a str,
    callee: &'a str,
    rpctype: &'a str,
    qps: f64,
    affinity: f64,
    encoding_cost: f64,
    est_cores_saved: f64,
    verdict: &'static str,
    reasons: Vec<&'static str>,
    /// Merged only because both ends are in one group through other edges.
    joined: bool,
}

/// Streams the edges without building them all first (millions on large graphs).
struct Edges<'a>(&'a Traffic, &'a [EdgeVerdict]);

impl Serialize for Edges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Edges(traffic, edges) = self;
        let mut seq = s.serialize_seq(Some(edges.len()))?;
        for v in *edges {
            seq.serialize_element(&EdgeLine {
                caller: &traffic.service(v.caller).name,
                callee: &traffic.service(v.callee).name,
                rpctype: traffic.graph[v.edge].rpctype.as_str(),
                qps: v.qps,
                affinity: v.affinity,
                encoding_cost: v.encoding_cost,
                est_cores_saved: v.est_cores_saved,
                verdict: if v.merged() { "merge" } else { "reject" },
                reasons: v.reasons.iter().map(|r| r.code()).collect(),
                joined: v.joined,
            })?;
        }
        seq.end()
    }
}

pub fn merge_plan(out: &mut impl Write, traffic: &Traffic, analysis: &Analysis) -> io::Result<()> {
    let line = MergePlan {
        reason: "merge-plan",
        services: traffic.service_count(),
        calls: traffic.call_count(),
        groups: analysis
            .groups
            .iter()
            .map(|g| GroupLine {
                name: &g.name,
                members: &g.members,
                est_cores_saved: g.est_cores_saved,
            })
            .collect(),
        edges: Edges(traffic, &analysis.edges),
        thresholds: &analysis.thresholds,
        assumptions: &analysis.assumptions,
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}
