//! The native traffic format of design.md: fields shared by the TOML, JSON and CSV readers, and
//! the builder that validates them into a [`Traffic`].

use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;
use serde::Deserialize;

use crate::error::{ImportError, InputError, Problems};
use crate::model::{Call, RpcType, Service, SourceKind, Traffic};
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

    pub fn thresholds(&mut self, path: &Path, line: usize, o: ThresholdOverrides) {
        for message in o.validate() {
            self.problem(InputError::at(
                path,
                line,
                format!("[thresholds] {message}"),
            ));
        }
        self.traffic.thresholds = o;
    }

    pub fn service(&mut self, path: &Path, line: usize, raw: RawService) {
        let mut bad = Vec::new();
        let name = raw.name.trim();
        if name.is_empty() {
            bad.push("a service needs a non-empty `name`".to_string());
        }
        let what = format!("service `{name}`");
        let cpu_cores = match raw.cpu_cores {
            None => {
                bad.push(format!("{what} has no `cpu_cores`"));
                None
            }
            Some(v) => non_negative(&mut bad, &what, "cpu_cores", v),
        };
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
                bad.push(format!("{what}: `mem_limit_gib` = {v} must be above 0"));
                None
            }
        });
        if !bad.is_empty() {
            for message in bad {
                self.problem(InputError::at(path, line, message));
            }
            return;
        }
        let service = Service {
            name: name.to_string(),
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
        };
        if self.traffic.add_service(service).is_err() {
            self.problem(InputError::at(
                path,
                line,
                format!("service `{name}` is declared twice"),
            ));
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
        let mut bad = Vec::new();
        let from = self.traffic.find(caller);
        let to = self.traffic.find(callee);
        for (role, name, ix) in [("caller", caller, from), ("callee", callee, to)] {
            if ix.is_none() {
                bad.push(format!(
                    "{role} `{name}` is not a declared service (add a [[service]] entry for it)"
                ));
            }
        }
        let edge = format!("call `{caller}` -> `{callee}`");
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
        let (Some(from), Some(to), true) = (from, to, bad.is_empty()) else {
            bad.into_iter()
                .for_each(|m| self.problems.push(InputError::at(path, line, m)));
            return;
        };
        let key = (from.index() as u32, to.index() as u32, rpctype);
        if self.seen.contains(&key) {
            let message = format!("{edge} ({}) is given twice", key.2);
            self.problem(InputError::at(path, line, message));
            return;
        }
        let call = Call {
            qps: f.qps,
            rpctype: key.2.clone(),
            encoding_cost,
            p50_ms,
            p99_ms,
        };
        self.seen.insert(key);
        self.traffic.add_call(from, to, call);
    }

    pub fn finish(self) -> Result<Traffic, ImportError> {
        self.problems.finish(self.traffic)
    }
}

fn share(bad: &mut Vec<String>, what: &str, field: &str, v: f64) -> Option<f64> {
    match check_share(v) {
        Ok(v) => Some(v),
        Err(e) => {
            bad.push(format!("{what}: `{field}` = {e}"));
            None
        }
    }
}

fn non_negative(bad: &mut Vec<String>, what: &str, field: &str, v: f64) -> Option<f64> {
    if v.is_finite() && v >= 0.0 {
        Some(v)
    } else {
        bad.push(format!("{what}: `{field}` = {v} must be a number >= 0"));
        None
    }
}
