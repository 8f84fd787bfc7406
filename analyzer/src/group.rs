//! Grouping over the whole graph: merged edges joined into groups, greedily by estimated saving,
//! within the size and memory limits; an edge that would break a limit gets `group-limit`.

use petgraph::graph::NodeIndex;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::Traffic;
use crate::select::{EdgeVerdict, Reason, Totals};
use crate::thresholds::Thresholds;

/// Services that become one binary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// After the member with the most inbound traffic, made folder-safe ([`group_name`]).
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
/// with [`Reason::GroupLimit`]. An `rpc` edge whose two ends end up in one group through other
/// edges is in-process after the merge whatever its affinity: it is marked
/// [`EdgeVerdict::joined`] and counted in the group. Groups come sorted by saving, then name.
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
            .total_cmp(&a.est_cores_saved)
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

    // Edges between members of one group, and the groups themselves, in graph order.
    let mut by_root: FxHashMap<u32, usize> = FxHashMap::default();
    let mut groups: Vec<(Vec<NodeIndex>, Group)> = Vec::new();
    for (i, v) in verdicts.iter_mut().enumerate() {
        let (a, b) = (
            sets.find(v.caller.index() as u32),
            sets.find(v.callee.index() as u32),
        );
        if a != b || sets.size[a as usize] < 2 {
            continue;
        }
        if !v.merged() {
            // Per-service reasons cannot hold for members; only affinity and cost can.
            if v.reasons.contains(Reason::NonRpc) {
                continue;
            }
            v.reasons = Default::default();
            v.joined = true;
        }
        let g = *by_root.entry(a).or_insert_with(|| {
            groups.push((Vec::new(), Group::default()));
            groups.len() - 1
        });
        let (nodes, group) = &mut groups[g];
        nodes.extend([v.caller, v.callee]);
        group.est_cores_saved += v.est_cores_saved;
        group.edges.push(i);
    }

    let mut taken = FxHashSet::default();
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(mut nodes, mut group)| {
            nodes.sort_unstable();
            nodes.dedup();
            group.members = nodes.iter().map(|&n| name(n).to_string()).collect();
            group.members.sort();
            // Named after the member with the most inbound traffic (ties: the smaller name).
            let head = nodes.iter().copied().max_by(|&x, &y| {
                totals.inbound[x.index()]
                    .total_cmp(&totals.inbound[y.index()])
                    .then_with(|| name(y).cmp(name(x)))
            });
            group.name = head.map(name).unwrap_or_default().to_string();
            group
        })
        .collect();
    out.sort_by(|a, b| {
        b.est_cores_saved
            .total_cmp(&a.est_cores_saved)
            .then_with(|| a.name.cmp(&b.name))
    });
    for g in &mut out {
        g.name = unique(group_name(&g.name), &mut taken);
    }
    out
}

/// A group name usable as a folder and package name: letters, digits, `-` and `_`, other
/// characters (DGG's `S_1/MS_x`, spaces, dots) replaced by `-`.
pub fn group_name(member: &str) -> String {
    let s: String = member
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "group".to_string()
    } else {
        s.to_string()
    }
}

/// `name`, or `name-2`, `name-3`, ... if taken.
fn unique(name: String, taken: &mut FxHashSet<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::group_name;

    #[test]
    fn group_names_are_folder_safe() {
        assert_eq!(group_name("gateway"), "gateway");
        assert_eq!(
            group_name("S_119467046/MS_normal+2.2"),
            "S_119467046-MS_normal-2-2"
        );
        assert_eq!(group_name("../x"), "x");
        assert_eq!(group_name("///"), "group");
    }
}
