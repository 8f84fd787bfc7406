//! Checking millions of calls on several threads: they share a [`NameIndex`] of the services
//! and check rows in [`Batch`]es, keeping the calls that pass in a compact [`CheckedPart`] per
//! stretch of the file, which [`super::adder::Adder`] adds to the graph.

use std::path::Path;

use super::super::native::{CallFields, NativeBuilder, check_call};
use crate::error::{InputError, MAX_REPORTED};
use crate::model::{Call, NodeIndex, RpcType};

/// Service names for lookups from many threads at once: an open-addressing table whose
/// 32-byte slots hold a hash tag, the node index and the name's length and first
/// [`HEAD`] bytes, so most lookups read one slot (a cache miss) and nothing else, where a map
/// of boxed strings takes several dependent misses. Longer names keep their tail in one
/// buffer. [`NameIndex::get_all`] overlaps the misses of many lookups.
#[derive(Debug)]
pub(super) struct NameIndex {
    slots: Vec<Slot>,
    mask: usize,
    /// Name `i` is `text[bounds[i]..bounds[i + 1]]`.
    bounds: Vec<usize>,
    text: Vec<u8>,
}

/// Bytes of a name kept in its slot.
const HEAD: usize = 23;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(32))]
struct Slot {
    /// High 32 bits: the hash's high bits; low 32 bits: node index + 1 (0: empty slot).
    key: u64,
    /// The name's length, at most 255.
    len: u8,
    /// The name's first bytes, zero-padded.
    head: [u8; HEAD],
}

impl Slot {
    fn node(self) -> usize {
        (self.key as u32 - 1) as usize
    }
}

/// A name looked for: its hash, length (at most 255) and zero-padded first bytes.
#[derive(Clone, Copy)]
struct Query {
    hash: u64,
    len: u8,
    head: [u8; HEAD],
}

impl Query {
    fn new(name: &str) -> Self {
        let mut head = [0; HEAD];
        let n = name.len().min(HEAD);
        head[..n].copy_from_slice(&name.as_bytes()[..n]);
        Query {
            hash: name_hash(name),
            len: name.len().min(255) as u8,
            head,
        }
    }

    /// Whether `slot` may hold this name (tag, length and head agree).
    fn fits(&self, slot: &Slot) -> bool {
        slot.key >> 32 == self.hash >> 32 && slot.len == self.len && slot.head == self.head
    }
}

impl NameIndex {
    /// Indexes the services of `b`, the name of node `i` being the `i`th.
    pub fn new(b: &NativeBuilder) -> Self {
        let graph = &b.traffic().graph;
        let count = graph.node_count();
        let size = (count + count / 2).next_power_of_two().max(16);
        let mut index = NameIndex {
            slots: vec![Slot::default(); size],
            mask: size - 1,
            bounds: Vec::with_capacity(count + 1),
            text: Vec::new(),
        };
        index.bounds.push(0);
        for (i, service) in graph.node_weights().enumerate() {
            let name = service.name.as_str();
            index.text.extend_from_slice(name.as_bytes());
            index.bounds.push(index.text.len());
            let q = Query::new(name);
            let mut p = q.hash as usize & index.mask;
            while index.slots[p].key != 0 {
                p = (p + 1) & index.mask;
            }
            index.slots[p] = Slot {
                // Node indices are u32, so i + 1 fits.
                key: (q.hash & !0xffff_ffff) | (i as u64 + 1),
                len: q.len,
                head: q.head,
            };
        }
        index
    }

    /// Whether a slot that fits `name`'s query holds `name` (checking the bytes past the
    /// head, and so the length of long names).
    fn same_tail(&self, slot: &Slot, name: &str) -> bool {
        name.len() <= HEAD || {
            let i = slot.node();
            self.text[self.bounds[i] + HEAD..self.bounds[i + 1]] == name.as_bytes()[HEAD..]
        }
    }

    pub fn get(&self, name: &str) -> Option<NodeIndex> {
        let q = Query::new(name);
        let mut p = q.hash as usize & self.mask;
        loop {
            let slot = &self.slots[p];
            if slot.key == 0 {
                return None;
            }
            if q.fits(slot) && self.same_tail(slot, name) {
                return Some(NodeIndex::new(slot.node()));
            }
            p = (p + 1) & self.mask;
        }
    }

    /// Looks up every name of `names` into `found`, in a tight loop so that the cache misses
    /// of the slots overlap.
    fn get_all(&self, names: &[&str], found: &mut Vec<Option<NodeIndex>>) {
        found.clear();
        found.extend(names.iter().map(|name| self.get(name)));
    }
}

fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name.as_bytes())
}

/// A call that passed [`check_call`], kept small (half a graph edge): absent figures are NaN
/// (checked figures are finite), the rpctype is a code.
#[derive(Debug, Clone, Copy)]
pub(super) struct CheckedCall {
    /// Line within its part (saturating; only messages about repeats use it).
    pub line: u32,
    pub from: u32,
    pub to: u32,
    /// An index into [`KNOWN_RPCTYPES`], or past them into the part's `others`.
    rpctype: u32,
    qps: f64,
    encoding_cost: f64,
    p50_ms: f64,
    p99_ms: f64,
}

const KNOWN_RPCTYPES: [RpcType; 5] = [
    RpcType::Rpc,
    RpcType::Http,
    RpcType::Mc,
    RpcType::Db,
    RpcType::Mq,
];

/// The calls of one stretch of a file, checked apart from the builder, in file order, and the
/// problems of its rows: the first [`MAX_REPORTED`] and a count of the others. Lines count
/// from the stretch's start until [`CheckedPart::rebase`].
#[derive(Debug, Default)]
pub(super) struct CheckedPart {
    pub base: usize,
    pub calls: Vec<CheckedCall>,
    /// Rpctypes other than the known ones.
    others: Vec<RpcType>,
    pub problems: Vec<InputError>,
    pub more: usize,
}

/// Room for the calls of a part, handed back by [`super::adder::Adder::add`] for the next part: memory that
/// is reused is not faulted in again.
#[derive(Debug, Default)]
pub(super) struct Buffer(pub Vec<CheckedCall>);

impl CheckedPart {
    pub fn new(mut room: Buffer) -> Self {
        room.0.clear();
        CheckedPart {
            calls: room.0,
            ..CheckedPart::default()
        }
    }

    pub fn problem(&mut self, error: InputError) {
        if self.problems.len() < MAX_REPORTED {
            self.problems.push(error);
        } else {
            self.more += 1;
        }
    }

    /// Moves the part's lines to the file's numbering, the part starting on line `base`.
    pub fn rebase(&mut self, base: usize) {
        self.base = base;
        for e in &mut self.problems {
            e.line = e.line.map(|l| l + base);
        }
    }

    /// Checks a call whose caller and callee were looked up (`found`), keeping it or its
    /// problems.
    pub fn check(
        &mut self,
        path: &Path,
        line: usize,
        caller: &str,
        callee: &str,
        found: (Option<NodeIndex>, Option<NodeIndex>),
        f: CallFields<'_>,
    ) {
        if let (Some(from), Some(to)) = found {
            if self.push_valid(line, from, to, &f) {
                return;
            }
        }
        match check_call(caller, callee, found, f) {
            Ok(call) => self.push(line, call),
            Err(bad) => {
                for (code, message) in bad {
                    self.problem(InputError::at(path, line, message).code(code));
                }
            }
        }
    }

    /// Keeps the call when its figures pass [`check_call`]'s checks and its rpctype is a known
    /// one as written: the common case, without building a [`Call`]. Else says `false`, and
    /// [`check_call`] has the last word.
    fn push_valid(
        &mut self,
        line: usize,
        from: NodeIndex,
        to: NodeIndex,
        f: &CallFields<'_>,
    ) -> bool {
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        let share = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        let rpctype = match f.rpctype {
            None | Some("" | "rpc") => 0,
            Some(t) => match KNOWN_RPCTYPES.iter().position(|k| k.as_str() == t) {
                Some(code) => code,
                None => return false,
            },
        };
        let valid = non_negative(f.qps)
            && f.encoding_cost.is_none_or(share)
            && f.p50_ms.is_none_or(non_negative)
            && f.p99_ms.is_none_or(non_negative);
        if valid {
            let none = f64::NAN;
            self.calls.push(CheckedCall {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                from: from.index() as u32,
                to: to.index() as u32,
                rpctype: rpctype as u32,
                qps: f.qps,
                encoding_cost: f.encoding_cost.unwrap_or(none),
                p50_ms: f.p50_ms.unwrap_or(none),
                p99_ms: f.p99_ms.unwrap_or(none),
            });
        }
        valid
    }

    /// Keeps a call that [`check_call`] returned.
    fn push(&mut self, line: usize, (from, to, call): (NodeIndex, NodeIndex, Call)) {
        let rpctype = match KNOWN_RPCTYPES.iter().position(|t| *t == call.rpctype) {
            Some(code) => code,
            None => {
                self.others.push(call.rpctype);
                KNOWN_RPCTYPES.len() + self.others.len() - 1
            }
        };
        let none = f64::NAN;
        self.calls.push(CheckedCall {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            from: from.index() as u32,
            to: to.index() as u32,
            rpctype: rpctype as u32,
            qps: call.qps,
            encoding_cost: call.encoding_cost.unwrap_or(none),
            p50_ms: call.p50_ms.unwrap_or(none),
            p99_ms: call.p99_ms.unwrap_or(none),
        });
    }

    /// The call again, as the graph keeps it (an unknown rpctype is moved out of the part).
    pub fn call(&mut self, c: &CheckedCall) -> Call {
        let some = |v: f64| (!v.is_nan()).then_some(v);
        let code = c.rpctype as usize;
        let rpctype = match KNOWN_RPCTYPES.get(code) {
            Some(t) => t.clone(),
            None => std::mem::replace(&mut self.others[code - KNOWN_RPCTYPES.len()], RpcType::Rpc),
        };
        Call {
            qps: c.qps,
            rpctype,
            encoding_cost: some(c.encoding_cost),
            p50_ms: some(c.p50_ms),
            p99_ms: some(c.p99_ms),
        }
    }
}

/// A row parsed and not yet checked: caller, callee and figures, or the problem.
pub(super) type ParsedCall<'d> = Result<(&'d str, &'d str, CallFields<'d>), String>;

/// Rows parsed and not yet checked: their names are looked up together.
#[derive(Default)]
pub(super) struct Batch<'d> {
    rows: Vec<(usize, ParsedCall<'d>)>,
    names: Vec<&'d str>,
    found: Vec<Option<NodeIndex>>,
}

impl<'d> Batch<'d> {
    const ROWS: usize = 32;

    /// Adds a row, checking the batch when it is full.
    pub fn push(
        &mut self,
        line: usize,
        row: ParsedCall<'d>,
        index: &NameIndex,
        path: &Path,
        part: &mut CheckedPart,
    ) {
        self.rows.push((line, row));
        if self.rows.len() == Self::ROWS {
            self.check(index, path, part);
        }
    }

    /// Checks the rows held (in order) into `part`.
    pub fn check(&mut self, index: &NameIndex, path: &Path, part: &mut CheckedPart) {
        self.names.clear();
        for (_, row) in &self.rows {
            if let Ok((caller, callee, _)) = row {
                self.names.extend([*caller, *callee]);
            }
        }
        index.get_all(&self.names, &mut self.found);
        let mut found = self.found.chunks_exact(2);
        for (line, row) in self.rows.drain(..) {
            match row {
                Ok((caller, callee, f)) => {
                    let ix = found.next().expect("two names per parsed row");
                    part.check(path, line, caller, callee, (ix[0], ix[1]), f);
                }
                Err(message) => part.problem(InputError::at(path, line, message)),
            }
        }
    }
}
