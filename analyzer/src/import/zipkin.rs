//! Zipkin v2 JSON: a list of spans (what collectors accept at `/api/v2/spans`) or a list of
//! traces, each a list of spans (what `/api/v2/traces` returns). A span's service is its
//! `localEndpoint.serviceName`, a client span's callee its `remoteEndpoint.serviceName` when no
//! traced span answers it; `shared` server spans carry their client's id. Times are
//! microseconds. The join: [`super::spans`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_text::{Scalar, line_of, without_bom};
use super::spans::{self, Attrs, SpanIn, SpanKind, SpanSet};
use crate::error::{ImportError, Lines, json_message};

#[derive(Deserialize)]
struct Span<'a> {
    #[serde(borrow, rename = "traceId")]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow, rename = "parentId")]
    parent_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Scalar<'a>>,
    #[serde(default)]
    duration: Option<Scalar<'a>>,
    #[serde(default, borrow, rename = "localEndpoint")]
    local: Option<Endpoint<'a>>,
    #[serde(default, borrow, rename = "remoteEndpoint")]
    remote: Option<Endpoint<'a>>,
    #[serde(default, borrow)]
    tags: HashMap<Cow<'a, str>, Scalar<'a>>,
    #[serde(default)]
    shared: bool,
}

#[derive(Deserialize)]
struct Endpoint<'a> {
    #[serde(default, borrow, rename = "serviceName")]
    service_name: Option<Cow<'a, str>>,
}

/// Reads one Zipkin v2 JSON file into `set`.
pub fn read(set: &mut SpanSet, path: &Path) -> Result<(), ImportError> {
    set.file(path);
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let text = without_bom(&text);
    let lines = Lines::new(text);
    let items = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(items) => items,
        Err(e) => {
            let message = format!("not Zipkin v2 JSON (a list of spans): {}", json_message(&e));
            set.problem(e.line().max(1), message);
            return Ok(());
        }
    };
    for raw in items {
        if raw.get().starts_with('[') {
            // A trace: a list of spans.
            match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                Ok(spans) => spans.into_iter().for_each(|s| span(set, &lines, text, s)),
                Err(e) => {
                    let line = line_of(&lines, text, raw) + e.line() - 1;
                    set.problem(line, format!("not a Zipkin trace: {}", json_message(&e)));
                }
            }
        } else {
            span(set, &lines, text, raw);
        }
    }
    Ok(())
}

fn span(set: &mut SpanSet, lines: &Lines, text: &str, raw: &RawValue) {
    let line = line_of(lines, text, raw);
    let span = match serde_json::from_str::<Span<'_>>(raw.get()) {
        Ok(s) => s,
        Err(e) => {
            let line = line + e.line() - 1;
            return set.problem(line, format!("not a Zipkin span: {}", json_message(&e)));
        }
    };
    let (Some(trace), Some(id), Some(parent)) = (
        spans::trace_id(&span.trace_id),
        spans::span_id(&span.id),
        spans::span_id(span.parent_id.as_deref().unwrap_or("")),
    ) else {
        let message = format!("span `{}` has a malformed id (hex expected)", span.id);
        return set.problem(line, message);
    };
    let service = span
        .local
        .as_ref()
        .and_then(|e| e.service_name.as_deref())
        .unwrap_or("");
    if service.is_empty() {
        let message = format!(
            "span {} of trace {} has no service: no localEndpoint.serviceName",
            span.id, span.trace_id
        );
        return set.problem(line, message);
    }
    let mut attrs = Attrs::default();
    for (k, v) in &span.tags {
        attrs.see(k, &v.text());
    }
    let start_us = span
        .timestamp
        .as_ref()
        .and_then(Scalar::number)
        .unwrap_or(0);
    let duration_us = span.duration.as_ref().and_then(Scalar::number).unwrap_or(0);
    set.push(SpanIn {
        trace,
        id,
        parent,
        shared: span.shared,
        service,
        kind: span
            .kind
            .as_deref()
            .map_or(SpanKind::Unspecified, SpanKind::parse),
        start_ns: start_us.saturating_mul(1000),
        end_ns: (start_us.saturating_add(duration_us)).saturating_mul(1000),
        attrs,
        remote: span
            .remote
            .as_ref()
            .and_then(|e| e.service_name.as_deref())
            .filter(|s| !s.is_empty()),
        tracestate: None,
        line,
    });
}
