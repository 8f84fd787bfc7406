//! JSON lines: [`line`] writes one object as a line on stdout (every command's JSON mode), and
//! [`merge_plan`] is `analyze`'s `merge-plan` object (design.md, Data contracts). Like the human
//! report the plan lists every group and merged edge but only the heaviest `--limit` rejected edges
//! (all with `--limit 0`), with the count of the rest: a graph of millions of calls would
//! otherwise make a line of hundreds of megabytes.

use std::io::{self, Write};

use merge_analyzer::{Analysis, EdgeVerdict, Traffic};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

/// `value` as one JSON line on stdout.
pub fn line(value: &impl Serialize) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

#[derive(Serialize)]
struct MergePlan<'a> {
    reason: &'static str,
    services: usize,
    calls: usize,
    groups: Vec<GroupLine<'a>>,
    /// Merged edges in graph order, then the listed rejected ones, heaviest first.
    edges: Edges<'a>,
    rejected_edges: usize,
    /// Rejected edges left out of `edges` (`--limit`).
    rejected_edges_omitted: usize,
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
struct Edges<'a> {
    traffic: &'a Traffic,
    merged: Vec<&'a EdgeVerdict>,
    rejected: Vec<&'a EdgeVerdict>,
}

impl Serialize for Edges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let traffic = self.traffic;
        let edges = self.merged.iter().chain(&self.rejected);
        let mut seq = s.serialize_seq(Some(self.merged.len() + self.rejected.len()))?;
        for v in edges {
            seq.serialize_element(&EdgeLine {
                caller: &traffic.service(v.caller).name,
                callee: &traffic.service(v.callee).name,
                rpctype: traffic.graph[v.edge].rpctype.as_str(),
                qps: v.qps,
                affinity: v.affinity,
                encoding_cost: v.encoding_cost,
                est_cores_saved: v.est_cores_saved,
                verdict: if v.merged() { "merge" } else { "reject" },
                reasons: v.reasons.iter().map(|r| r.name()).collect(),
                joined: v.joined,
            })?;
        }
        seq.end()
    }
}

pub fn merge_plan(
    out: &mut impl Write,
    traffic: &Traffic,
    analysis: &Analysis,
    limit: usize,
) -> io::Result<()> {
    let (rejected, rejected_edges) = analysis.heaviest_rejected(traffic, limit);
    let merged = analysis.edges.iter().filter(|v| v.merged()).collect();
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
        rejected_edges,
        rejected_edges_omitted: rejected_edges - rejected.len(),
        edges: Edges {
            traffic,
            merged,
            rejected,
        },
        thresholds: &analysis.thresholds,
        assumptions: &analysis.assumptions,
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}
