//! Grouping over the whole graph: merged edges joined into groups, greedily by estimated saving,
//! within the size and memory limits; an edge that would break a limit gets `group-limit`.

use std::cmp::Ordering;

use petgraph::graph::NodeIndex;

use crate::model::Traffic;
use crate::select::{EdgeVerdict, Reason, Totals};
use crate::thresholds::Thresholds;

/// Services that become one binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The member with the most inbound traffic.
    pub name: String,
    /// Sorted by name.
    pub members: Vec<String>,
    pub est_cores_saved: f64,
    /// Indices into [`crate::Analysis::edges`] of the merged edges inside the group.
    pub edges: Vec<usize>,
}

/// Disjoint sets of services with the size and memory of each set.
struct Components {
    parent: Vec<u32>,
    size: Vec<u32>,
    mem: Vec<f64>,
}

impl Components {
    fn new(traffic: &Traffic) -> Self {
        let n = traffic.service_count();
        Components {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            mem: traffic
                .graph
                .node_weights()
                .map(|s| s.mem_used_gib.unwrap_or(0.0))
                .collect(),
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        self.mem[big as usize] += self.mem[small as usize];
    }
}

/// Joins the merged edges of `verdicts` into groups, marking those that would break a limit
/// with [`Reason::GroupLimit`]. Groups come sorted by saving, then name.
pub(crate) fn group(
    traffic: &Traffic,
    totals: &Totals,
    th: &Thresholds,
    verdicts: &mut [EdgeVerdict],
) -> Vec<Group> {
    let name = |ix: NodeIndex| traffic.service(ix).name.as_str();
    let mut order: Vec<usize> = (0..verdicts.len())
        .filter(|&i| verdicts[i].merged())
        .collect();
    order.sort_by(|&x, &y| {
        let (a, b) = (&verdicts[x], &verdicts[y]);
        b.est_cores_saved
            .partial_cmp(&a.est_cores_saved)
            .unwrap_or(Ordering::Equal)
            .then_with(|| name(a.caller).cmp(name(b.caller)))
            .then_with(|| name(a.callee).cmp(name(b.callee)))
    });

    let mut sets = Components::new(traffic);
    for &i in &order {
        let v = &mut verdicts[i];
        let (a, b) = (
            sets.find(v.caller.index() as u32),
            sets.find(v.callee.index() as u32),
        );
        if a == b {
            continue; // a cycle inside a group: already together
        }
        let size = (sets.size[a as usize] + sets.size[b as usize]) as usize;
        let mem = sets.mem[a as usize] + sets.mem[b as usize];
        if size > th.max_group_size || th.max_group_mem_gib.is_some_and(|max| mem > max) {
            v.reasons.insert(Reason::GroupLimit);
        } else {
            sets.union(a, b);
        }
    }

    // Collect groups by root, in the saving order of their edges.
    let mut by_root: Vec<Option<usize>> = vec![None; traffic.service_count()];
    let mut groups: Vec<(Vec<NodeIndex>, Group)> = Vec::new();
    for &i in &order {
        let v = &verdicts[i];
        if !v.merged() {
            continue;
        }
        let root = sets.find(v.caller.index() as u32) as usize;
        let g = *by_root[root].get_or_insert_with(|| {
            groups.push((
                Vec::new(),
                Group {
                    name: String::new(),
                    members: Vec::new(),
                    est_cores_saved: 0.0,
                    edges: Vec::new(),
                },
            ));
            groups.len() - 1
        });
        let (nodes, group) = &mut groups[g];
        nodes.extend([v.caller, v.callee]);
        group.est_cores_saved += v.est_cores_saved;
        group.edges.push(i);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(mut nodes, mut group)| {
            nodes.sort_unstable();
            nodes.dedup();
            let head = nodes
                .iter()
                .copied()
                .max_by(|&x, &y| {
                    let (ix, iy) = (totals.inbound[x.index()], totals.inbound[y.index()]);
                    ix.partial_cmp(&iy)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| name(y).cmp(name(x)))
                })
                .map(name)
                .unwrap_or_default();
            group.name = head.to_string();
            group.members = nodes.iter().map(|&n| name(n).to_string()).collect();
            group.members.sort();
            group.edges.sort_unstable();
            group
        })
        .collect();
    out.sort_by(|a, b| {
        b.est_cores_saved
            .partial_cmp(&a.est_cores_saved)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}
