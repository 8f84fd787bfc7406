//! Memory for a large graph, touched on an idle core.
//!
//! Touching fresh memory costs a page fault per 4 KiB, and the graph of millions of calls
//! takes hundreds of MiB: on the one thread that adds the calls, the faults cost about as much
//! as the adding itself. While `services.csv` is read (on one thread), [`Warm::start`] has
//! another thread build an empty graph whose node and edge buffers have been written once,
//! and [`Warm::adopt`] moves the services into it. Nothing observable changes: the same nodes
//! in the same order, and edges are added afterwards as before.

use std::sync::atomic::{AtomicBool, Ordering};

use petgraph::graph::DiGraph;

use crate::model::{Call, NodeIndex, Service, Traffic};

/// Buffers whose memory has been touched: the graph's, and those [`super::adder::Adder`]
/// keeps per call.
#[derive(Debug, Default)]
pub(super) struct Warm {
    graph: DiGraph<Service, Call>,
    pub keys: Vec<(u32, u32)>,
    pub lines: Vec<u32>,
}

impl Warm {
    /// Builds buffers for about `services` services and `calls` calls, stopping early (with
    /// what is warm by then) once `enough` is set.
    pub fn start(services: usize, calls: usize, enough: &AtomicBool) -> Self {
        let mut graph = DiGraph::with_capacity(services.max(2), calls);
        for _ in 0..services.max(2) {
            graph.add_node(Service::default());
        }
        let (a, b) = (NodeIndex::new(0), NodeIndex::new(1));
        let mut keys = Vec::with_capacity(calls);
        let mut lines = Vec::with_capacity(calls);
        for k in 0..calls {
            if k % 4096 == 0 && enough.load(Ordering::Relaxed) {
                break;
            }
            graph.add_edge(a, b, Call::rpc(0.0));
            keys.push((0, 0));
            lines.push(0);
        }
        // Clearing keeps the capacity, and the pages stay mapped.
        graph.clear();
        keys.clear();
        lines.clear();
        Warm { graph, keys, lines }
    }

    /// Moves the services of `traffic` into the warm graph, which becomes its graph. The
    /// graph must have no calls yet.
    pub fn adopt(&mut self, traffic: &mut Traffic) {
        debug_assert_eq!(traffic.call_count(), 0);
        let mut graph = std::mem::take(&mut self.graph);
        graph.reserve_nodes(traffic.service_count());
        let old = std::mem::replace(&mut traffic.graph, DiGraph::new());
        for node in old.into_nodes_edges().0 {
            graph.add_node(node.weight);
        }
        traffic.graph = graph;
    }
}
