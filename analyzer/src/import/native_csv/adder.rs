//! Adding checked calls to the graph on one thread, in file order, as the parts come from the
//! threads that check them; repeated (caller, callee, rpctype) triples are found at the end.

use std::path::Path;

use super::bulk::{Buffer, CheckedPart};
use super::warm::Warm;
use crate::error::{InputError, MAX_REPORTED};
use crate::import::native::NativeBuilder;
use crate::model::{NodeIndex, RpcType};

/// Adds checked parts to the graph of a builder in file order, as they come, and finds
/// repeated (caller, callee, rpctype) triples at the end.
pub(super) struct Adder<'b> {
    b: &'b mut NativeBuilder,
    /// Caller and callee of each added call, by edge index.
    keys: Vec<(u32, u32)>,
    /// Line of each added call, by edge index (saturating).
    lines: Vec<u32>,
    problems: Vec<InputError>,
    total: usize,
    /// Line on which the next part starts.
    line: usize,
}

impl<'b> Adder<'b> {
    /// `line`: the line on which the first part starts; `warm` gives buffers for the calls.
    pub fn new(b: &'b mut NativeBuilder, line: usize, warm: &mut Warm) -> Self {
        // The native formats have no calls before these: an edge's index is its call's here.
        debug_assert_eq!(b.traffic().call_count(), 0);
        Adder {
            b,
            keys: std::mem::take(&mut warm.keys),
            lines: std::mem::take(&mut warm.lines),
            problems: Vec::new(),
            total: 0,
            line,
        }
    }

    /// The line on which the next part starts.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Adds the next part, which holds `lines` line ends; returns its emptied buffer.
    pub fn add(&mut self, mut part: CheckedPart, lines: usize) -> Buffer {
        part.rebase(self.line);
        self.line += lines;
        self.total += part.problems.len() + part.more;
        self.problems.append(&mut part.problems);
        let calls = std::mem::take(&mut part.calls);
        self.keys.reserve(calls.len());
        self.lines.reserve(calls.len());
        let traffic = self.b.traffic_mut();
        for c in &calls {
            let call = part.call(c);
            let (from, to) = (
                NodeIndex::new(c.from as usize),
                NodeIndex::new(c.to as usize),
            );
            traffic.add_call(from, to, call);
            self.keys.push((c.from, c.to));
            let line = part.base + c.line as usize;
            self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        }
        Buffer(calls)
    }

    /// Undoes every add, for reading the file again another way.
    pub fn reset(self) -> &'b mut NativeBuilder {
        self.b.traffic_mut().graph.clear_edges();
        self.b
    }

    /// Reports the problems of the parts and every repeated call, the earliest
    /// [`MAX_REPORTED`] by line, as [`NativeBuilder::call`] would have.
    pub fn finish(mut self, path: &Path) {
        let traffic = self.b.traffic();
        let repeats = repeats(traffic.service_count(), &self.keys, |i| {
            &traffic.graph.raw_edges()[i].weight.rpctype
        });
        self.total += repeats.len();
        let name = |ix: u32| traffic.service(NodeIndex::new(ix as usize)).name.as_str();
        for &i in repeats.iter().take(MAX_REPORTED) {
            let (from, to) = self.keys[i];
            let rpctype = &traffic.graph.raw_edges()[i].weight.rpctype;
            let message = format!(
                "call `{}` -> `{}` ({rpctype}) is given twice",
                name(from),
                name(to),
            );
            let line = self.lines[i] as usize;
            let error = InputError::at(path, line, message);
            self.problems
                .push(error.code(crate::error::InputCode::DuplicateEntry));
        }
        let mut kept = self.problems;
        kept.sort_by_key(|e| e.line);
        kept.truncate(MAX_REPORTED);
        let more = self.total - kept.len();
        for e in kept {
            self.b.problem(e);
        }
        // Only counted: the kept ones fill the report.
        for _ in 0..more {
            self.b.problem(InputError::new(path, None, String::new()));
        }
    }
}

/// Indices (ascending) of the calls whose (caller, callee, rpctype) an earlier call has;
/// `keys` gives caller and callee by call index, `rpctype` the rpctype. Calls are bucketed by
/// caller; a bucket is sorted only when a callee comes twice in it, so the usual cost is a
/// few passes and no hashing.
fn repeats<'a>(
    services: usize,
    keys: &[(u32, u32)],
    rpctype: impl Fn(usize) -> &'a RpcType,
) -> Vec<usize> {
    let mut start = vec![0u32; services + 1];
    for &(from, _) in keys {
        start[from as usize + 1] += 1;
    }
    for i in 0..services {
        start[i + 1] += start[i];
    }
    // Callee and call index by caller, in file order within a caller.
    let mut fill = start.clone();
    let mut to = vec![0u32; keys.len()];
    let mut index = vec![0u32; keys.len()];
    for (i, &(from, callee)) in keys.iter().enumerate() {
        let slot = &mut fill[from as usize];
        to[*slot as usize] = callee;
        index[*slot as usize] = i as u32;
        *slot += 1;
    }
    let mut found = Vec::new();
    let mut seen = vec![u32::MAX; services];
    let mut bucket: Vec<((u32, &RpcType), u32)> = Vec::new();
    for s in 0..services {
        let range = start[s] as usize..start[s + 1] as usize;
        let mark = s as u32;
        if !range
            .clone()
            .any(|k| std::mem::replace(&mut seen[to[k] as usize], mark) == mark)
        {
            continue;
        }
        // Runs of equal (callee, rpctype), earliest call first: all but the first repeat it.
        bucket.clear();
        bucket.extend(index[range].iter().map(|&i| {
            let i = i as usize;
            ((keys[i].1, rpctype(i)), i as u32)
        }));
        bucket.sort_unstable();
        for w in bucket.windows(2) {
            if w[0].0 == w[1].0 {
                found.push(w[1].1 as usize);
            }
        }
    }
    found.sort_unstable();
    found
}
