//! Dependency links, as Jaeger's and Zipkin's Spark dependency jobs write them and their APIs
//! return them: `{"parent", "child", "callCount"}` objects, in a list, under `data` (Jaeger's
//! API) or `dependencies` (the stored document), or one object per line.
//!
//! Links carry no protocol, no latency and no time base: every link is an `rpc` edge, and
//! `callCount` is divided by `--window` (else the figures are counts, as for DGG) and by
//! `--sample-rate` (the dependency jobs count the sampled spans). Each of these is said in the
//! report.

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_text::{line_of, without_bom};
use super::spans::Rates;
use crate::error::{ImportError, InputCode, InputError, Lines, Problems, json_message};
use crate::model::{Call, SourceKind, Traffic};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Link<'a> {
    #[serde(borrow)]
    parent: Cow<'a, str>,
    #[serde(borrow)]
    child: Cow<'a, str>,
    #[serde(rename = "callCount", alias = "call_count")]
    call_count: f64,
    #[serde(default, rename = "errorCount", alias = "error_count")]
    _error_count: Option<f64>,
    #[serde(default, borrow, rename = "source")]
    _source: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(default, borrow)]
    data: Option<Vec<&'a RawValue>>,
    #[serde(default, borrow)]
    dependencies: Option<Vec<&'a RawValue>>,
}

/// Reads one file of links.
pub fn from_file(path: &Path, rates: Rates) -> Result<Traffic, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let text = without_bom(&text);
    let lines = Lines::new(text);
    let mut problems = Problems::default();
    let mut raws: Vec<&RawValue> = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    for doc in stream.by_ref() {
        match doc {
            Ok(doc) if doc.get().starts_with('[') => match serde_json::from_str(doc.get()) {
                Ok(list) => raws.extend::<Vec<&RawValue>>(list),
                Err(e) => problems.push(error(path, &lines, text, doc, &e)),
            },
            Ok(doc) => match serde_json::from_str::<Wrapped<'_>>(doc.get()) {
                Ok(
                    Wrapped {
                        data: Some(list), ..
                    }
                    | Wrapped {
                        dependencies: Some(list),
                        ..
                    },
                ) => raws.extend(list),
                _ => raws.push(doc),
            },
            Err(e) => {
                let message = format!("not dependency links: {}", json_message(&e));
                problems.push(InputError::at(path, e.line(), message));
                break;
            }
        }
    }
    let mut traffic = Traffic::new(SourceKind::DependencyLinks);
    let per_count = 1.0 / (rates.window.unwrap_or(1.0) * rates.sample_rate.unwrap_or(1.0));
    for raw in raws {
        let link = match serde_json::from_str::<Link<'_>>(raw.get()) {
            Ok(l) => l,
            Err(e) => {
                problems.push(error(path, &lines, text, raw, &e));
                continue;
            }
        };
        let line = line_of(&lines, text, raw);
        if link.parent.is_empty() || link.child.is_empty() {
            problems.push(InputError::at(
                path,
                line,
                "a link with no parent or child service",
            ));
            continue;
        }
        if !(link.call_count.is_finite() && link.call_count >= 0.0) {
            let message = format!("callCount {} is not a count", link.call_count);
            problems.push(InputError::at(path, line, message).code(InputCode::InvalidValue));
            continue;
        }
        let a = traffic.service_or_insert(&link.parent);
        let b = traffic.service_or_insert(&link.child);
        match traffic.graph.find_edge(a, b) {
            // The same pair twice (links of several days in one file): their counts add up.
            Some(e) => traffic.graph[e].qps += link.call_count * per_count,
            None => traffic.add_call(a, b, Call::rpc(link.call_count * per_count)),
        }
    }
    let said = &mut traffic.assumptions;
    said.push("dependency links carry no protocol: every link counts as an rpc edge".to_string());
    said.push(match rates.window {
        Some(w) => format!("qps: callCount over the {w} s window given"),
        None => "qps: the links carry no time base and no --window was given, so figures are counts, not rates (affinity, a ratio, is unaffected)".to_string(),
    });
    if let Some(p) = rates.sample_rate {
        said.push(format!(
            "sampling: every callCount counts 1/{p} (--sample-rate)"
        ));
    }
    problems.finish(traffic)
}

fn error(
    path: &Path,
    lines: &Lines,
    text: &str,
    raw: &RawValue,
    e: &serde_json::Error,
) -> InputError {
    let line = line_of(lines, text, raw) + e.line().max(1) - 1;
    InputError::at(
        path,
        line,
        format!("not a dependency link: {}", json_message(e)),
    )
}
