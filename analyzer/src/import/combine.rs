//! Several `--traffic` inputs into one graph: typically call edges from traces and CPU from
//! Prometheus.
//!
//! - Services are matched by name. A figure one input lacks is taken from the next that has it;
//!   where two inputs both give it, the first one given wins.
//! - A call edge (caller, callee) is taken, with its rpctype, from the first input that has it:
//!   the same calls seen by two systems (traces say `http`, a service graph `rpc`) are not
//!   counted twice.
//! - Services that only a Prometheus input names and no call edge touches (the rest of the
//!   cluster's containers) are left out.
//! - `[thresholds]` of native inputs apply in order, a later file's values over an earlier one's.
//!
//! The report says which input gave what.

use std::path::PathBuf;

use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;

use crate::model::{Service, SourceKind, Traffic};

pub fn combine(mut inputs: Vec<(PathBuf, Traffic)>) -> Traffic {
    if inputs.len() == 1 {
        let (path, mut t) = inputs.pop().expect("one input");
        t.sources = vec![(path, t.kind)];
        return t;
    }
    let mut out = Traffic::new(inputs.first().map_or(SourceKind::Native, |(_, t)| t.kind));
    // (caller, callee) -> the input that gave it.
    let mut first_input: FxHashMap<(String, String), usize> = FxHashMap::default();
    let mut said = Vec::new();
    let mut cpu_only = Vec::new();
    for (input, (path, t)) in inputs.into_iter().enumerate() {
        let label = format!("{} ({})", path.display(), t.kind.describe());
        let (mut added, mut repeated, mut filled) = (0usize, 0usize, 0usize);
        for ix in t.graph.node_indices() {
            let s = t.service(ix);
            let lonely = t.graph.neighbors_undirected(ix).next().is_none();
            if lonely && t.kind == SourceKind::Prometheus && out.find(&s.name).is_none() {
                cpu_only.push(s.clone());
                continue;
            }
            let target = out.service_or_insert(&s.name);
            filled += usize::from(fill(out.service_mut(target), s));
        }
        for e in t.graph.edge_references() {
            let (a, b) = (&t.service(e.source()).name, &t.service(e.target()).name);
            let given_by = *first_input.entry((a.clone(), b.clone())).or_insert(input);
            if given_by != input {
                repeated += 1;
                continue;
            }
            let (a, b) = (out.service_or_insert(a), out.service_or_insert(b));
            out.add_call(a, b, e.weight().clone());
            added += 1;
        }
        said.push(format!(
            "{label}: {added} call edges{}, figures for {filled} services",
            match repeated {
                0 => String::new(),
                n => format!(" ({n} more that an earlier input already gave were left out)"),
            }
        ));
        said.extend(t.assumptions.into_iter().map(|a| format!("{label}: {a}")));
        out.thresholds.apply_over(&t.thresholds);
        out.sources.push((path, t.kind));
    }
    // A container that appeared before a later input named it as a caller or callee.
    let mut dropped = 0usize;
    for s in cpu_only {
        match out.find(&s.name) {
            Some(ix) => {
                fill(out.service_mut(ix), &s);
            }
            None => dropped += 1,
        }
    }
    if dropped > 0 {
        said.push(format!(
            "CPU of {dropped} services that no call edge names was left out"
        ));
    }
    out.assumptions = said;
    out
}

/// Fills `into`'s missing figures from `from`; whether any was filled.
fn fill(into: &mut Service, from: &Service) -> bool {
    let mut any = false;
    macro_rules! take {
        ($($field:ident),*) => {$(
            if into.$field.is_none() && from.$field.is_some() {
                into.$field = from.$field.clone();
                any = true;
            }
        )*};
    }
    take!(
        cpu_cores,
        cpu_util,
        mem_used_gib,
        mem_limit_gib,
        mem_util,
        cache_heavy,
        encoding_cost,
        manifest,
        inbound_qps
    );
    into.entry |= from.entry;
    any
}
