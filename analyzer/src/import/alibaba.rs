//! Alibaba cluster-trace-microservices: MSCallGraph rows aggregated into call edges, MSResource
//! rows into per-service CPU and memory utilisation.
//!
//! Files are recognised by their header columns, never by position, so both published schemas
//! are read: v2021 (`MSCallGraph`: `traceid, timestamp, rpcid, um, rpctype, dm, interface, rt`;
//! `MSResource`: `msname, msinstanceid, nodeid, instance_cpu_usage, instance_memory_usage,
//! timestamp`) and v2022 (`CallGraph`: `timestamp, traceid, service, rpc_id, rpctype, um,
//! uminstanceid, interface, dm, dminstanceid, rt`; `MSMetricsUpdate`: `timestamp, msname,
//! msinstanceid, nodeid, cpu_utilization, memory_utilization`).
//!
//! What is assumed, and said in [`Traffic::assumptions`]:
//! - One edge per (um, dm, rpctype). Its qps is the number of rows on it divided by the span of
//!   the trace in seconds (max - min `timestamp` over every call row of every file, in ms; 1 s
//!   when the span is 0). The trace is a sample of the call graphs, so these are relative rates.
//! - p50/p99 are nearest-rank percentiles of the edge's `rt`. Empty, unparsable and negative `rt`
//!   values (the v2021 trace has many negative ones) are left out.
//! - Rows whose um or dm is empty or a placeholder (`(?)`, `UNKNOWN`, `UNAVAILABLE`, `nan`,
//!   `null`, `none`, or a name without a letter or digit) are skipped and counted. Self-calls are kept
//!   (the analysis ignores them). An empty rpctype becomes `UNKNOWN` (rejected as non-rpc).
//! - Per service, from resource rows: `cpu_util` is the mean CPU utilisation (capped at 1),
//!   `mem_util` the mean memory utilisation, and `cpu_cores` = distinct `msinstanceid` x mean CPU
//!   utilisation, i.e. one core per container. Services without resource rows get `None` (the
//!   analysis then assumes `--assume-cores`). Resource rows of services that the call graph does
//!   not name are ignored.
//! - The v2022 `uminstanceid`/`dminstanceid` columns are not used: instance counts without a
//!   utilisation give no core figure.
//! - `cache_heavy` and `encoding_cost` stay `None` (inferred resp. assumed by the analysis).
//!
//! A row with the wrong number of fields, an unparsable timestamp or an unparsable resource
//! figure is an input error naming the file and its 1-based line; all of them are collected.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{ImportError, InputCode, InputError, Problems};
use crate::model::{Call, NodeIndex, RpcType, Service, SourceKind, Traffic};

const CPU_COLUMNS: [&str; 2] = ["instance_cpu_usage", "cpu_utilization"];
const MEM_COLUMNS: [&str; 2] = ["instance_memory_usage", "memory_utilization"];

/// Whether `dir` holds an Alibaba call-graph CSV (a `.csv` whose name contains "callgraph").
pub fn is_alibaba_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
        name.contains("callgraph") && is_call_graph_file(&e.path())
    })
}

/// Whether `path` is a CSV file with the MSCallGraph columns (`um`, `dm` and `rpctype`).
pub fn is_call_graph_file(path: &Path) -> bool {
    is_csv(path)
        && path.is_file()
        && matches!(header(path).map(|h| classify(&h)), Ok(Kind::CallGraph(_)))
}

/// Reads a trace folder (every call-graph and resource CSV in it), or a single call-graph CSV.
pub fn from_path(path: &Path) -> Result<Traffic, ImportError> {
    let files = if path.is_dir() {
        let mut csvs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ImportError::io(path, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_csv(p) && p.is_file())
            .collect();
        csvs.sort();
        csvs
    } else {
        vec![path.to_path_buf()]
    };
    let (mut call_files, mut resource_files) = (Vec::new(), Vec::new());
    for file in files {
        match classify(&header(&file)?) {
            Kind::CallGraph(c) => call_files.push((file, c)),
            // A single file must be a call graph: resources alone give no edges.
            Kind::Resource(r) if path.is_dir() => resource_files.push((file, r)),
            _ => {}
        }
    }
    if call_files.is_empty() {
        let (line, what) = match path.is_dir() {
            true => (None, "this folder holds no Alibaba call-graph CSV"),
            false => (Some(1), "this is not an Alibaba call-graph CSV"),
        };
        let message = format!("{what} (a .csv with columns um, dm and rpctype)");
        let error = InputError::new(path, line, message).code(InputCode::UnknownFormat);
        return Err(ImportError::one(error));
    }

    let mut acc = Aggregate::default();
    let mut problems = Problems::default();
    for (file, c) in &call_files {
        let Some(ts) = c.timestamp else {
            problems.push(InputError::at(file, 1, "missing column `timestamp`"));
            continue;
        };
        each_row(file, c.len, &mut problems, |record| {
            let ts = number(record, ts, "timestamp")?
                .filter(|t| t.is_finite())
                .ok_or(BadRow::NoTimestamp)?;
            acc.row(record, c, ts)
        })?;
    }
    let mut usage = FxHashMap::default();
    for (file, c) in &resource_files {
        each_row(file, c.len, &mut problems, |record| {
            read_resource(&acc, &mut usage, record, c)
        })?;
    }
    problems.finish(())?;
    Ok(acc.into_traffic(&usage, resource_files.is_empty()))
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Column positions of a call-graph CSV.
#[derive(Debug)]
struct CallColumns {
    len: usize,
    timestamp: Option<usize>,
    um: usize,
    dm: usize,
    rpctype: usize,
    rt: Option<usize>,
}

/// Column positions of a resource CSV.
#[derive(Debug)]
struct ResourceColumns {
    len: usize,
    msname: usize,
    instance: Option<usize>,
    /// Position and name of the CPU and memory utilisation columns.
    cpu: (usize, &'static str),
    mem: Option<(usize, &'static str)>,
}

#[derive(Debug)]
enum Kind {
    CallGraph(CallColumns),
    Resource(ResourceColumns),
    Other,
}

/// The trimmed column names of a CSV file.
fn header(path: &Path) -> Result<Vec<String>, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let bad = |e: csv::Error| ImportError::one(InputError::at(path, 1, e.to_string()));
    let names = reader.byte_headers().map_err(bad)?.iter();
    Ok(names
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect())
}

fn classify(header: &[String]) -> Kind {
    let col = |name: &str| header.iter().position(|h| h == name);
    let any = |names: &[&'static str]| names.iter().find_map(|&n| Some((col(n)?, n)));
    if let (Some(um), Some(dm), Some(rpctype)) = (col("um"), col("dm"), col("rpctype")) {
        return Kind::CallGraph(CallColumns {
            len: header.len(),
            timestamp: col("timestamp"),
            um,
            dm,
            rpctype,
            rt: col("rt"),
        });
    }
    if let (Some(msname), Some(cpu)) = (col("msname"), any(&CPU_COLUMNS)) {
        return Kind::Resource(ResourceColumns {
            len: header.len(),
            msname,
            instance: col("msinstanceid"),
            cpu,
            mem: any(&MEM_COLUMNS),
        });
    }
    Kind::Other
}

/// A row of a trace CSV that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BadRow {
    #[error("this row has {found} fields, the header has {header}")]
    Fields { found: usize, header: usize },
    #[error("column `{0}` is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("column `{column}`: `{text}` is not a number")]
    NotNumber { column: &'static str, text: String },
    #[error("column `timestamp` is empty or not a number")]
    NoTimestamp,
}

/// Calls `row` on every record of `path` after the header; a row's `Err` and a wrong field
/// count are problems on its line, a CSV syntax error a problem that ends the file.
fn each_row(
    path: &Path,
    len: usize,
    problems: &mut Problems,
    mut row: impl FnMut(&ByteRecord) -> Result<(), BadRow>,
) -> Result<(), ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(ImportError::io(path, e.into()));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                problems.push(InputError::new(path, line, e.to_string()));
                return Ok(());
            }
        }
        let checked = match record.len() {
            n if n != len => Err(BadRow::Fields {
                found: n,
                header: len,
            }),
            _ => row(&record),
        };
        if let Err(e) = checked {
            let line = record.position().map_or(0, |p| p.line() as usize);
            problems.push(InputError::at(path, line, e.to_string()));
        }
    }
}

fn field(record: &ByteRecord, i: usize) -> &[u8] {
    record.get(i).unwrap_or_default().trim_ascii()
}

fn utf8<'r>(record: &'r ByteRecord, i: usize, name: &'static str) -> Result<&'r str, BadRow> {
    std::str::from_utf8(field(record, i)).map_err(|_| BadRow::NotUtf8(name))
}

/// A number; `Ok(None)` when the field is empty.
fn number(record: &ByteRecord, i: usize, name: &'static str) -> Result<Option<f64>, BadRow> {
    let text = utf8(record, i, name)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>()
        .map(Some)
        .map_err(|_| BadRow::NotNumber {
            column: name,
            text: text.to_owned(),
        })
}

/// An empty name or a stand-in for an unknown one.
fn is_placeholder(name: &str) -> bool {
    const WORDS: [&str; 5] = ["unknown", "unavailable", "nan", "null", "none"];
    name.is_empty()
        || !name.bytes().any(|b| b.is_ascii_alphanumeric())
        || WORDS.iter().any(|w| name.eq_ignore_ascii_case(w))
}

/// Calls on one (um, dm, rpctype) edge.
#[derive(Debug, Default)]
struct EdgeAcc {
    rows: u64,
    rts: Vec<f32>,
}

/// The call rows of every file, by interned name.
#[derive(Debug, Default)]
struct Aggregate {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    rpctypes: Vec<RpcType>,
    edges: FxHashMap<(u32, u32, u32), EdgeAcc>,
    /// Earliest and latest timestamp (ms).
    span: Option<(f64, f64)>,
    rows: u64,
    skipped: u64,
    negative_rt: u64,
}

impl Aggregate {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn rpctype(&mut self, text: &str) -> u32 {
        let text = if text.is_empty() { "UNKNOWN" } else { text };
        if let Some(i) = self.rpctypes.iter().position(|r| r.as_str() == text) {
            return i as u32;
        }
        self.rpctypes.push(RpcType::parse(text));
        (self.rpctypes.len() - 1) as u32
    }

    fn row(&mut self, record: &ByteRecord, c: &CallColumns, ts: f64) -> Result<(), BadRow> {
        let (lo, hi) = self.span.get_or_insert((ts, ts));
        (*lo, *hi) = (lo.min(ts), hi.max(ts));
        self.rows += 1;
        let um = utf8(record, c.um, "um")?;
        let dm = utf8(record, c.dm, "dm")?;
        if is_placeholder(um) || is_placeholder(dm) {
            self.skipped += 1;
            return Ok(());
        }
        let rpctype = self.rpctype(utf8(record, c.rpctype, "rpctype")?);
        let key = (self.intern(um), self.intern(dm), rpctype);
        let rt = c.rt.and_then(|i| {
            let t = std::str::from_utf8(field(record, i)).ok()?;
            t.parse::<f64>().ok().filter(|v| v.is_finite())
        });
        let edge = self.edges.entry(key).or_default();
        edge.rows += 1;
        match rt {
            Some(v) if v >= 0.0 => edge.rts.push(v as f32),
            Some(_) => self.negative_rt += 1,
            None => {}
        }
        Ok(())
    }

    fn into_traffic(self, usage: &FxHashMap<u32, Usage>, no_resources: bool) -> Traffic {
        let names = &self.names;
        let mut traffic =
            Traffic::with_capacity(SourceKind::Alibaba, names.len(), self.edges.len());
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        let mut node = vec![NodeIndex::end(); names.len()];
        let mut with_cores = 0;
        for id in order {
            let mut s = Service::named(&*names[id]);
            if let Some(u) = usage.get(&(id as u32)) {
                s.cpu_util = mean(u.cpu);
                s.mem_util = mean(u.mem);
                if !u.instances.is_empty() {
                    s.cpu_cores = s.cpu_util.map(|m| u.instances.len() as f64 * m);
                    with_cores += usize::from(s.cpu_cores.is_some());
                }
            }
            node[id] = traffic.add_service(s).unwrap_or_else(|ix| ix);
        }
        // Services without resource rows get the median of the known figures, so that savings
        // are not computed on two scales (measured cores and an unrelated default).
        let mut known: Vec<f64> = traffic
            .graph
            .node_weights()
            .filter_map(|s| s.cpu_cores)
            .collect();
        known.sort_by(f64::total_cmp);
        let median = known.get(known.len() / 2).copied();
        let mut filled = 0;
        if let Some(median) = median {
            for s in traffic
                .graph
                .node_weights_mut()
                .filter(|s| s.cpu_cores.is_none())
            {
                s.cpu_cores = Some(median);
                filled += 1;
            }
        }

        let span_ms = self.span.map_or(0.0, |(lo, hi)| hi - lo);
        let seconds = if span_ms > 0.0 { span_ms / 1000.0 } else { 1.0 };
        let mut edges: Vec<_> = self.edges.into_iter().collect();
        let types = &self.rpctypes;
        // Services were added in name order, so node order is name order.
        let key =
            |&(a, b, t): &(u32, u32, u32)| (node[a as usize], node[b as usize], &types[t as usize]);
        edges.sort_by(|(x, _), (y, _)| key(x).cmp(&key(y)));
        for ((a, b, t), mut e) in edges {
            e.rts.sort_by(f32::total_cmp);
            let call = Call {
                qps: e.rows as f64 / seconds,
                rpctype: types[t as usize].clone(),
                encoding_cost: None,
                p50_ms: nearest_rank(&e.rts, 50.0),
                p99_ms: nearest_rank(&e.rts, 99.0),
            };
            traffic.add_call(node[a as usize], node[b as usize], call);
        }

        let rows = self.rows;
        let mut said = vec![match span_ms > 0.0 {
            true => format!(
                "qps are call rows per second over the trace's {seconds:.0} s ({rows} rows); the \
                 trace samples call graphs, so they are relative rates"
            ),
            false => format!("qps are call rows per 1 s: the trace's {rows} rows share one time"),
        }];
        let (skipped, negative) = (self.skipped, self.negative_rt);
        if skipped > 0 {
            said.push(format!(
                "skipped {skipped} call rows with an unknown caller or callee"
            ));
        }
        if negative > 0 {
            said.push(format!(
                "left {negative} negative response times out of p50/p99"
            ));
        }
        if no_resources {
            said.push("no resource CSV: CPU and memory utilisation are unknown".into());
        } else if with_cores > 0 {
            said.push(format!(
                "cpu cores of {with_cores} services from resource rows assume one core per \
                 container (instances x mean CPU utilisation)"
            ));
        }
        if let (Some(median), true) = (median, filled > 0) {
            said.push(format!(
                "cpu cores of {filled} services without resource rows: the median of the \
                 others, {median:.3}"
            ));
        }
        traffic.assumptions = said;
        traffic
    }
}

/// Nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[f32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(f64::from(sorted[rank.clamp(1, sorted.len()) - 1]))
}

/// Resource rows of one service.
#[derive(Debug, Default)]
struct Usage {
    instances: FxHashSet<Box<[u8]>>,
    /// Sum and count of the finite CPU and memory figures.
    cpu: (f64, u32),
    mem: (f64, u32),
}

fn add(sum: &mut (f64, u32), v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        *sum = (sum.0 + v, sum.1 + 1);
    }
}

/// The mean, capped to 0..=1.
fn mean((sum, n): (f64, u32)) -> Option<f64> {
    (n > 0).then(|| (sum / f64::from(n)).clamp(0.0, 1.0))
}

/// One resource row, kept when the call graph names its service.
fn read_resource(
    acc: &Aggregate,
    usage: &mut FxHashMap<u32, Usage>,
    record: &ByteRecord,
    c: &ResourceColumns,
) -> Result<(), BadRow> {
    let name = utf8(record, c.msname, "msname")?;
    let Some(&id) = acc.ids.get(name) else {
        return Ok(());
    };
    let cpu = number(record, c.cpu.0, c.cpu.1)?;
    let mem = match c.mem {
        Some((i, column)) => number(record, i, column)?,
        None => None,
    };
    let u = usage.entry(id).or_default();
    add(&mut u.cpu, cpu);
    add(&mut u.mem, mem);
    if let Some(instance) = c.instance.map(|i| field(record, i)) {
        if !instance.is_empty() && !u.instances.contains(instance) {
            u.instances.insert(instance.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2021: &str = ",traceid,timestamp,rpcid,um,rpctype,dm,interface,rt\n";
    const V2022: &str =
        ",timestamp,traceid,service,rpc_id,rpctype,um,uminstanceid,interface,dm,dminstanceid,rt\n";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    fn call<'t>(t: &'t Traffic, a: &str, b: &str, rpctype: &str) -> &'t Call {
        let (a, b) = (t.find(a).expect("caller"), t.find(b).expect("callee"));
        t.graph
            .edges_connecting(a, b)
            .map(|e| e.weight())
            .find(|c| c.rpctype.as_str() == rpctype)
            .expect("edge")
    }

    #[test]
    fn aggregates_rows_into_qps_and_percentiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 5 rows over 10 s (1000 ms .. 11000 ms): a->b rpc 3 rows, a->b mc 1, b->c http 1.
        let text = format!(
            "{V2021}0,t1,1000,0.1,a,rpc,b,,4\n1,t1,2000,0.1.1,a,rpc,b,,1\n\
             2,t1,11000,0.1.2,a,rpc,b,,-2\n3,t2,5000,0.1,a,mc,b,,\n\
             4,t2,6000,0.1.1,b,http,c,,7\n"
        );
        write(dir.path(), "MSCallGraph_0.csv", &text);
        assert!(is_alibaba_dir(dir.path()));
        let t = from_path(dir.path()).expect("import");
        assert_eq!(t.kind, SourceKind::Alibaba);
        assert_eq!((t.service_count(), t.call_count()), (3, 3));
        let rpc = call(&t, "a", "b", "rpc");
        assert_eq!(rpc.qps, 0.3);
        // rts 1, 4 (the negative one left out): nearest rank p50 = 1st, p99 = 2nd.
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0), Some(3.0));
        assert_eq!((rpc.p50_ms, rpc.p99_ms), (Some(1.0), Some(4.0)));
        let mc = call(&t, "a", "b", "mc");
        assert_eq!((mc.qps, mc.p50_ms), (0.1, None));
        assert_eq!(call(&t, "b", "c", "http").p99_ms, Some(7.0));
        assert!(t.graph.node_weights().all(|s| s.cpu_cores.is_none()));
        let said = t.assumptions.join("\n");
        assert!(said.contains("over the trace's 10 s (5 rows)"), "{said}");
        assert!(said.contains("left 1 negative response times"), "{said}");
    }

    #[test]
    fn reads_v2022_columns_and_metrics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let first = write(
            d,
            "CallGraph_0.csv",
            &format!("{V2022}0,0,t,s,0.1,rpc,MS_1,i,f,MS_2,j,2.5\n"),
        );
        write(
            d,
            "CallGraph_1.csv",
            &format!("{V2022}0,2000,t,s,0.1,rpc,MS_1,i,f,MS_2,k,0.5\n"),
        );
        let metrics = write(
            d,
            "MSMetricsUpdate_0.csv",
            ",timestamp,msname,msinstanceid,nodeid,cpu_utilization,memory_utilization\n\
             0,0,MS_2,x,n,0.2,0.5\n1,0,MS_2,y,n,0.4,0.7\n2,0,MS_9,z,n,0.9,0.9\n3,0,MS_2,x,n,,\n",
        );
        assert!(is_call_graph_file(&first) && !is_call_graph_file(&metrics));
        let t = from_path(dir.path()).expect("import");
        assert_eq!(t.service_count(), 2, "MS_9 is not in the call graph");
        let c = call(&t, "MS_1", "MS_2", "rpc");
        assert_eq!((c.qps, c.p50_ms, c.p99_ms), (1.0, Some(0.5), Some(2.5)));
        let s = t.service(t.find("MS_2").expect("MS_2"));
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(s.cpu_util, 0.3) && close(s.mem_util, 0.6), "{s:?}");
        assert!(close(s.cpu_cores, 0.6), "2 instances x 0.3: {s:?}");
        assert!(t.service(t.find("MS_1").expect("MS_1")).cpu_util.is_none());
        let said = t.assumptions.join("\n");
        assert!(said.contains("one core per container"), "{said}");
    }

    #[test]
    fn skips_placeholder_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "{V2021}0,t,0,0.1,(?),rpc,b,,1\n1,t,0,0.1,a,rpc,UNKNOWN,,1\n\
             2,t,0,0.1,,rpc,b,,1\n3,t,0,0.1,a,rpc,UNAVAILABLE,,1\n4,t,0,0.1,a,rpc,b,,1\n\
             5,t,0,0.1,a,rpc,a,,1\n"
        );
        let file = write(dir.path(), "calls.csv", &text);
        assert!(is_call_graph_file(&file));
        assert!(!is_alibaba_dir(dir.path()), "the name has no `callgraph`");
        let t = from_path(&file).expect("import");
        assert_eq!(t.service_count(), 2);
        assert_eq!(t.call_count(), 2, "a->b and the self-call a->a");
        assert_eq!(call(&t, "a", "b", "rpc").qps, 1.0, "span 0 counts as 1 s");
        let skipped = "skipped 4 call rows with an unknown caller or callee";
        assert!(
            t.assumptions.iter().any(|a| a == skipped),
            "{:?}",
            t.assumptions
        );
        let other = write(dir.path(), "x.csv", "a,b\n1,2\n");
        assert!(!is_call_graph_file(&other) && from_path(&other).is_err());
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "{V2021}0,t,0,0.1,a,rpc,b,,1\n1,t,zero,0.1,a,rpc,b,,1\n2,t,0,0.1,a,rpc\n\
             3,t,5,0.1,a,rpc,b,,1\n"
        );
        let file = write(dir.path(), "MSCallGraph_0.csv", &text);
        let Err(ImportError::Input { errors, more: 0 }) = from_path(dir.path()) else {
            panic!("expected input errors");
        };
        let got: Vec<_> = errors
            .iter()
            .map(|e| (&e.path, e.line, &*e.message))
            .collect();
        let want = [
            (&file, Some(3), "column `timestamp`: `zero` is not a number"),
            (&file, Some(4), "this row has 6 fields, the header has 9"),
        ];
        assert_eq!(got, want);
    }
}
