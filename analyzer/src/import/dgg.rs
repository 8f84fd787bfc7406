//! DGG call-graph pattern folders (`S_<id>/graphK.json`), mined by the DGG project from Alibaba's
//! 2022 microservice trace.
//!
//! Each JSON file is one call-graph pattern of one online service: `nodes` (`node`, `label`),
//! `edges` (`source`, `target`, `weight`, `rpctype`) and `num`, how many traces followed the
//! pattern; `weight` is the calls along that edge in one trace.
//!
//! What is read and assumed:
//! - A service folder is named `S_<id>`, or `<prefix>_S_<id>` (the published data has
//!   `Top_17_S_36816397`); it is found at the given folder, below it, or two levels below
//!   (`typeN/S_<id>`). Files are read in file-name order, so the graph is the same on every run.
//! - Microservice names are anonymised per service, so every node is qualified as
//!   `S_<id>/<node>`. The entry node `USER` becomes `S_<id>/USER` with `entry = true`: its calls
//!   count towards the callee's inbound traffic, and it is never proposed for merging.
//! - One edge per (source, target, rpctype) within a service; its qps is the sum over the
//!   service's patterns of `num` x `weight`. The patterns carry no time base, so these are call
//!   counts, not rates (said in [`Traffic::assumptions`]); affinity, a ratio, is unaffected.
//! - There is no CPU, memory or latency data: `cpu_cores`, utilisation, `p50_ms`/`p99_ms` and
//!   `encoding_cost` stay `None`, and `cache_heavy` is left to the analysis (share of `mc` calls).
//!
//! A file that is not valid JSON or misses a field is an input error naming the file and line;
//! a negative or non-finite `num` or `weight` names the file and the edge. All are collected.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::error::{ImportError, InputCode, InputError, Problems, json_message};
use crate::model::{Call, NodeIndex, RpcType, SourceKind, Traffic};

/// The name of the entry node in every pattern.
const ENTRY: &str = "USER";

/// Whether `dir` holds DGG pattern folders: it is one, or has them up to two levels below.
pub fn is_dgg_dir(dir: &Path) -> bool {
    fn holds(dir: &Path, depth: usize) -> bool {
        if service_id(&dir_name(dir)).is_some() && has_patterns(dir) {
            return true;
        }
        depth > 0
            && std::fs::read_dir(dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().is_dir() && holds(&e.path(), depth - 1))
            })
    }
    holds(dir, 2)
}

/// Reads every pattern below `dir`.
pub fn from_dir(dir: &Path) -> Result<Traffic, ImportError> {
    let mut problems = Problems::default();
    let mut b = Builder {
        traffic: Traffic::new(SourceKind::Dgg),
        edges: FxHashMap::default(),
        order: Vec::new(),
    };
    let mut files = 0usize;
    let walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(3)
        .sort_by_file_name();
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                problems.push(InputError::new(&path, None, e.to_string()));
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || !is_json(path) {
            continue;
        }
        let Some(folder) = path.parent() else {
            continue;
        };
        let folder_name = dir_name(folder);
        let Some(service) = service_id(&folder_name) else {
            continue;
        };
        files += 1;
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
        match serde_json::from_str::<Pattern>(&text) {
            Ok(p) => b.pattern(&mut problems, path, service, p),
            Err(e) => {
                let line = (e.line() > 0).then_some(e.line());
                problems.push(InputError::new(path, line, json_message(&e)));
            }
        }
    }
    if files == 0 {
        problems.push(InputError::new(
            dir,
            None,
            "no DGG pattern files below this folder (expected S_<id>/graphK.json)",
        ));
    }
    problems.finish(())?;
    Ok(b.finish())
}

/// One `graphK.json`.
#[derive(Debug, Deserialize)]
struct Pattern {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    num: f64,
}

#[derive(Debug, Deserialize)]
struct Node {
    node: String,
}

#[derive(Debug, Deserialize)]
struct Edge {
    source: String,
    target: String,
    weight: f64,
    rpctype: String,
}

/// Patterns summed into one traffic graph.
struct Builder {
    traffic: Traffic,
    /// Calls on each (source, target, rpctype), and that edge's place in `order`.
    edges: FxHashMap<(NodeIndex, NodeIndex, RpcType), usize>,
    /// Edges in the order first seen, with their summed calls.
    order: Vec<((NodeIndex, NodeIndex, RpcType), f64)>,
}

impl Builder {
    fn node(&mut self, service: &str, node: &str) -> NodeIndex {
        let ix = self.traffic.service_or_insert(&format!("{service}/{node}"));
        if node == ENTRY {
            self.traffic.service_mut(ix).entry = true;
        }
        ix
    }

    fn pattern(&mut self, problems: &mut Problems, path: &Path, service: &str, p: Pattern) {
        let bad = |what: String| InputError::new(path, None, what).code(InputCode::InvalidValue);
        if !(p.num.is_finite() && p.num >= 0.0) {
            problems.push(bad(format!("`num` = {} must be a number >= 0", p.num)));
            return;
        }
        for n in &p.nodes {
            self.node(service, &n.node);
        }
        for (i, e) in p.edges.iter().enumerate() {
            if !(e.weight.is_finite() && e.weight >= 0.0) {
                let edge = format!("edge {} (`{}` -> `{}`)", i + 1, e.source, e.target);
                problems.push(bad(format!("{edge}: `weight` = {} must be >= 0", e.weight)));
                continue;
            }
            let key = (
                self.node(service, &e.source),
                self.node(service, &e.target),
                RpcType::parse(e.rpctype.trim()),
            );
            let next = self.order.len();
            let i = *self.edges.entry(key.clone()).or_insert(next);
            if i == next {
                self.order.push((key, 0.0));
            }
            self.order[i].1 += p.num * e.weight;
        }
    }

    fn finish(mut self) -> Traffic {
        for ((a, b, rpctype), calls) in self.order {
            let call = Call {
                rpctype,
                ..Call::rpc(calls)
            };
            self.traffic.add_call(a, b, call);
        }
        self.traffic.assumptions.push(
            "qps are call counts (num x weight summed over each service's patterns): DGG \
             patterns have no time base"
                .to_string(),
        );
        self.traffic
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The folder's own name (`.` and `..` resolved).
fn dir_name(dir: &Path) -> String {
    let name = match dir.file_name() {
        Some(n) => Some(n.to_owned()),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_owned())),
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `S_<id>` of a service folder name `S_<id>` or `<prefix>_S_<id>`.
fn service_id(name: &str) -> Option<&str> {
    let at = name.rfind("S_")?;
    let id = &name[at + 2..];
    let prefix_ok = at == 0 || name[..at].ends_with('_');
    (prefix_ok && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| &name[at..])
}

fn has_patterns(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let p = e.path();
            let graph = e.file_name().to_string_lossy().starts_with("graph");
            graph && p.is_file() && is_json(&p)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write test file");
    }

    fn pattern(num: u32, edges: &[(&str, &str, u32, &str)]) -> String {
        let edges: Vec<String> = edges
            .iter()
            .map(|(s, t, w, r)| {
                format!(r#"{{"source": "{s}", "target": "{t}", "weight": {w}, "rpctype": "{r}"}}"#)
            })
            .collect();
        format!(
            r#"{{"nodes": [{{"node": "USER", "label": "relay"}}],
  "edges": [{}],
  "num": {num}}}"#,
            edges.join(",\n    ")
        )
    }

    fn qps(t: &Traffic, a: &str, b: &str) -> f64 {
        let (a, b) = (t.find(a).expect("caller"), t.find(b).expect("callee"));
        t.graph.edges_connecting(a, b).map(|e| e.weight().qps).sum()
    }

    #[test]
    fn sums_num_times_weight_over_patterns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let svc = dir.path().join("type2/S_7");
        let one = [
            ("USER", "a", 1, "rpc"),
            ("a", "b", 2, "rpc"),
            ("a", "m", 3, "mc"),
        ];
        write(&svc.join("graph1.json"), &pattern(10, &one));
        write(
            &svc.join("graph2.json"),
            &pattern(5, &[("USER", "a", 1, "rpc"), ("a", "b", 1, "rpc")]),
        );
        // The same node names in another service are other services.
        write(
            &dir.path().join("type5/Top_3_S_9/graph1.json"),
            &pattern(4, &[("a", "b", 1, "http")]),
        );
        assert!(
            is_dgg_dir(dir.path()) && is_dgg_dir(&dir.path().join("type2")) && is_dgg_dir(&svc)
        );
        let t = from_dir(dir.path()).expect("import");
        assert_eq!(t.kind, SourceKind::Dgg);
        assert_eq!(qps(&t, "S_7/USER", "S_7/a"), 15.0);
        assert_eq!(qps(&t, "S_7/a", "S_7/b"), 10.0 * 2.0 + 5.0);
        assert_eq!(qps(&t, "S_7/a", "S_7/m"), 30.0);
        assert_eq!(qps(&t, "S_9/a", "S_9/b"), 4.0);
        assert_eq!((t.service_count(), t.call_count()), (7, 4));
        let user = t.service(t.find("S_7/USER").expect("USER"));
        assert!(user.entry && user.cpu_cores.is_none());
        assert!(!t.service(t.find("S_7/a").expect("a")).entry);
        assert!(t.assumptions.iter().any(|a| a.contains("no time base")));
        // A single service folder reads alone.
        assert_eq!(from_dir(&svc).expect("one service").call_count(), 3);
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let svc = dir.path().join("S_1");
        let broken = svc.join("graph1.json");
        let missing = svc.join("graph2.json");
        let negative = svc.join("graph3.json");
        write(&broken, "{\"nodes\": [],\n \"edges\": [,\n");
        write(&missing, "{\"nodes\": [],\n \"edges\": []\n}\n");
        write(
            &negative,
            &pattern(1, &[("a", "b", 0, "rpc")]).replace("\"weight\": 0", "\"weight\": -1"),
        );
        write(
            &svc.join("graph4.json"),
            &pattern(1, &[("a", "b", 1, "rpc")]),
        );
        let Err(ImportError::Input { errors, more: 0 }) = from_dir(dir.path()) else {
            panic!("expected input errors");
        };
        let got: Vec<_> = errors.iter().map(|e| (&e.path, e.line)).collect();
        assert_eq!(
            got,
            [(&broken, Some(2)), (&missing, Some(3)), (&negative, None)]
        );
        assert!(
            errors[1].message.contains("missing field `num`"),
            "{errors:?}"
        );
        assert!(errors[2].message.contains("`weight` = -1"), "{errors:?}");
    }

    #[test]
    fn folders_without_patterns_are_not_dgg() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("S_x/graph1.json"), "{}");
        write(&dir.path().join("a/b/c/S_1/graph1.json"), "{}");
        assert!(!is_dgg_dir(dir.path()));
        assert!(from_dir(dir.path()).is_err());
        assert_eq!(service_id("Top_17_S_36816397"), Some("S_36816397"));
        assert_eq!(service_id("XS_1"), None);
    }
}
