//! A Graphviz DOT picture of an analysis: groups as clusters, merged edges bold, rejected edges
//! dashed and labelled with their reasons.

use std::fmt::Write;

use crate::Analysis;
use crate::model::Traffic;

/// Renders the picture. Deterministic: clusters in group order, edges in graph order.
pub fn render(traffic: &Traffic, analysis: &Analysis) -> String {
    let name = |ix: petgraph::graph::NodeIndex| quote(&traffic.service(ix).name);
    let mut s = String::new();
    s.push_str("digraph merge {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    s.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (i, g) in analysis.groups.iter().enumerate() {
        let _ = writeln!(s, "  subgraph cluster_{i} {{");
        let label = format!("{} (est. {:.2} cores saved)", g.name, g.est_cores_saved);
        let _ = writeln!(s, "    label={};\n    style=rounded;", quote(&label));
        for m in &g.members {
            let _ = writeln!(s, "    {};", quote(m));
        }
        s.push_str("  }\n");
    }
    let grouped: rustc_hash::FxHashSet<&str> = analysis
        .groups
        .iter()
        .flat_map(|g| g.members.iter().map(String::as_str))
        .collect();
    for service in traffic.graph.node_weights() {
        if !grouped.contains(service.name.as_str()) {
            let _ = writeln!(s, "  {};", quote(&service.name));
        }
    }
    for v in &analysis.edges {
        let (a, b) = (name(v.caller), name(v.callee));
        if v.merged() {
            let joined = if v.joined { ", joined" } else { "" };
            let label = format!(
                "{} qps, aff {:.2}{joined}",
                crate::format::qps(v.qps),
                v.affinity
            );
            let _ = writeln!(s, "  {a} -> {b} [style=bold, label={}];", quote(&label));
        } else {
            let reasons: Vec<&str> = v.reasons.iter().map(|r| r.name()).collect();
            let _ = writeln!(
                s,
                "  {a} -> {b} [style=dashed, color=gray40, label={}];",
                quote(&reasons.join(", "))
            );
        }
    }
    s.push_str("}\n");
    s
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
