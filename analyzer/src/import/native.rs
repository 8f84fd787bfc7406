//! The native traffic format of design.md: fields shared by the TOML, JSON and CSV readers, and
//! the builder that validates them into a [`Traffic`].

use std::fmt;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;
use serde::Deserialize;

use crate::error::InputCode::{DuplicateEntry, InvalidValue, MalformedInput, UnknownService};
use crate::error::{ImportError, InputCode, InputError, Problems};
use crate::model::{Call, NodeIndex, RpcType, Service, SourceKind, Traffic};
use crate::thresholds::{ThresholdOverrides, check_share};

/// A `[[service]]` entry as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub name: String,
    pub cpu_cores: Option<f64>,
    pub cpu_util: Option<f64>,
    pub mem_used_gib: Option<f64>,
    pub mem_limit_gib: Option<f64>,
    pub cache_heavy: Option<bool>,
    pub encoding_cost: Option<f64>,
    pub manifest: Option<String>,
    #[serde(default)]
    pub inbound_qps: Option<f64>,
}

/// A `[[call]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub caller: String,
    pub callee: String,
    pub qps: f64,
    pub rpctype: Option<String>,
    pub encoding_cost: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The numbers of a call, before validation (the CSV reader fills it without allocating).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallFields<'a> {
    pub qps: f64,
    pub rpctype: Option<&'a str>,
    pub encoding_cost: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl RawCall {
    pub fn fields(&self) -> CallFields<'_> {
        CallFields {
            qps: self.qps,
            rpctype: self.rpctype.as_deref(),
            encoding_cost: self.encoding_cost,
            p50_ms: self.p50_ms,
            p99_ms: self.p99_ms,
        }
    }
}

/// Validates entries into a [`Traffic`], collecting every problem with its file and line.
/// Services are added first; a call naming an undeclared service is a problem.
#[derive(Debug)]
pub(crate) struct NativeBuilder {
    base_dir: PathBuf,
    traffic: Traffic,
    problems: Problems,
    seen: FxHashSet<(u32, u32, RpcType)>,
}

impl NativeBuilder {
    /// `base_dir` is the folder that relative `manifest` paths are resolved against.
    pub fn new(base_dir: &Path, services: usize, calls: usize) -> Self {
        NativeBuilder {
            base_dir: base_dir.to_path_buf(),
            traffic: Traffic::with_capacity(SourceKind::Native, services, calls),
            problems: Problems::default(),
            seen: FxHashSet::default(),
        }
    }

    pub fn problem(&mut self, error: InputError) {
        self.problems.push(error);
    }

    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The traffic being built, for adding calls checked with [`check_call`] (they are not
    /// checked for repeats here).
    pub fn traffic_mut(&mut self) -> &mut Traffic {
        &mut self.traffic
    }

    pub fn thresholds(&mut self, path: &Path, line: usize, o: ThresholdOverrides) {
        for message in o.validate() {
            let message = format!("[thresholds] {message}");
            self.problem(InputError::at(path, line, message).code(InvalidValue));
        }
        self.traffic.thresholds = o;
    }

    pub fn service(&mut self, path: &Path, line: usize, raw: RawService) {
        let mut bad = Vec::new();
        let name = raw.name.trim();
        if name.is_empty() {
            bad.push((
                MalformedInput,
                "a service needs a non-empty `name`".to_string(),
            ));
        }
        // Named only when something is wrong: formatting it for every row costs.
        let what = Lazy(|| format!("service `{name}`"));
        // Absent for services a trace names and nothing measured: the analysis assumes a
        // figure (`--assume-cores`) and says so.
        let cpu_cores = raw
            .cpu_cores
            .and_then(|v| non_negative(&mut bad, &what, "cpu_cores", v));
        let inbound_qps = raw
            .inbound_qps
            .and_then(|v| non_negative(&mut bad, &what, "inbound_qps", v));
        let cpu_util = raw
            .cpu_util
            .and_then(|v| share(&mut bad, &what, "cpu_util", v));
        let encoding_cost = raw
            .encoding_cost
            .and_then(|v| share(&mut bad, &what, "encoding_cost", v));
        let mem_used_gib = raw
            .mem_used_gib
            .and_then(|v| non_negative(&mut bad, &what, "mem_used_gib", v));
        let mem_limit_gib = raw.mem_limit_gib.and_then(|v| {
            if v.is_finite() && v > 0.0 {
                Some(v)
            } else {
                bad.push((
                    InvalidValue,
                    format!("{what}: `mem_limit_gib` = {v} must be above 0"),
                ));
                None
            }
        });
        if !bad.is_empty() {
            for (code, message) in bad {
                self.problem(InputError::at(path, line, message).code(code));
            }
            self.placeholder(name);
            return;
        }
        let name = if name.len() == raw.name.len() {
            raw.name
        } else {
            name.to_string()
        };
        let service = Service {
            name,
            cpu_cores,
            cpu_util,
            mem_used_gib,
            mem_limit_gib,
            mem_util: mem_used_gib.zip(mem_limit_gib).map(|(u, l)| u / l),
            cache_heavy: Some(raw.cache_heavy.unwrap_or(false)),
            encoding_cost,
            manifest: raw
                .manifest
                .map(|m| crate::paths::normalize(&self.base_dir.join(m))),
            entry: false,
            inbound_qps,
        };
        if let Err(ix) = self.traffic.add_service(service) {
            let name = &self.traffic.service(ix).name;
            let message = format!("service `{name}` is declared twice");
            self.problem(InputError::at(path, line, message).code(DuplicateEntry));
        }
    }

    /// Declares `name` for a service entry that had problems (already reported), so that its
    /// calls are not also reported as naming an undeclared service.
    pub fn placeholder(&mut self, name: &str) {
        let name = name.trim();
        if !name.is_empty() {
            let _ = self.traffic.add_service(Service::named(name));
        }
    }

    pub fn call(
        &mut self,
        path: &Path,
        line: usize,
        caller: &str,
        callee: &str,
        f: CallFields<'_>,
    ) {
        let found = (self.traffic.find(caller), self.traffic.find(callee));
        let (from, to, call) = match check_call(caller, callee, found, f) {
            Ok(checked) => checked,
            Err(bad) => {
                for (code, message) in bad {
                    self.problems
                        .push(InputError::at(path, line, message).code(code));
                }
                return;
            }
        };
        let key = (from.index() as u32, to.index() as u32, call.rpctype);
        if self.seen.contains(&key) {
            let message = format!("call `{caller}` -> `{callee}` ({}) is given twice", key.2);
            self.problem(InputError::at(path, line, message).code(DuplicateEntry));
            return;
        }
        let call = Call {
            rpctype: key.2.clone(),
            ..call
        };
        self.seen.insert(key);
        self.traffic.add_call(from, to, call);
    }

    pub fn finish(self) -> Result<Traffic, ImportError> {
        self.problems.finish(self.traffic)
    }
}

/// Checks one call whose caller and callee were looked up (`found`): the call, or every
/// problem with it. Needs no builder, so many threads can check rows at once.
pub(crate) fn check_call(
    caller: &str,
    callee: &str,
    (from, to): (Option<NodeIndex>, Option<NodeIndex>),
    f: CallFields<'_>,
) -> Result<(NodeIndex, NodeIndex, Call), Vec<Problem>> {
    let mut bad = Vec::new();
    for (role, name, ix) in [("caller", caller, from), ("callee", callee, to)] {
        if ix.is_none() {
            bad.push((
                UnknownService,
                format!(
                    "{role} `{name}` is not a declared service (add a [[service]] entry for it)"
                ),
            ));
        }
    }
    let edge = Lazy(|| format!("call `{caller}` -> `{callee}`"));
    non_negative(&mut bad, &edge, "qps", f.qps);
    let encoding_cost = f
        .encoding_cost
        .and_then(|v| share(&mut bad, &edge, "encoding_cost", v));
    let p50_ms = f
        .p50_ms
        .and_then(|v| non_negative(&mut bad, &edge, "p50_ms", v));
    let p99_ms = f
        .p99_ms
        .and_then(|v| non_negative(&mut bad, &edge, "p99_ms", v));
    let rpctype = match f.rpctype.map(str::trim) {
        None | Some("") => RpcType::Rpc,
        Some(t) => RpcType::parse(t),
    };
    match (from, to) {
        (Some(from), Some(to)) if bad.is_empty() => Ok((
            from,
            to,
            Call {
                qps: f.qps,
                rpctype,
                encoding_cost,
                p50_ms,
                p99_ms,
            },
        )),
        _ => Err(bad),
    }
}

/// A name formatted only when a message needs it.
struct Lazy<F>(F);

impl<F: Fn() -> String> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&(self.0)())
    }
}

/// A problem's code and message.
pub(crate) type Problem = (InputCode, String);

fn share(bad: &mut Vec<Problem>, what: &dyn fmt::Display, field: &str, v: f64) -> Option<f64> {
    match check_share(v) {
        Ok(v) => Some(v),
        Err(e) => {
            bad.push((InvalidValue, format!("{what}: `{field}` = {e}")));
            None
        }
    }
}

fn non_negative(
    bad: &mut Vec<Problem>,
    what: &dyn fmt::Display,
    field: &str,
    v: f64,
) -> Option<f64> {
    if v.is_finite() && v >= 0.0 {
        Some(v)
    } else {
        bad.push((
            InvalidValue,
            format!("{what}: `{field}` = {v} must be a number >= 0"),
        ));
        None
    }
}
