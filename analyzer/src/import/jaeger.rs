//! Jaeger traces as its query API returns them (`{"data": [trace, ...]}`, which the UI's
//! "Download JSON" also writes), or one trace object or a list of them. A span's service is its
//! process's `serviceName`; its kind the `span.kind` tag; its parent the `CHILD_OF` reference
//! (else a `FOLLOWS_FROM` in the same trace, else the older `parentSpanID`). Times are microseconds. The join: [`super::spans`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_text::{Scalar, line_of, without_bom};
use super::spans::{self, Attrs, SpanIn, SpanKind, SpanSet};
use crate::error::{ImportError, Lines, json_message};

/// The query API's answer, or one trace.
#[derive(Deserialize)]
struct Object<'a> {
    #[serde(default, borrow)]
    data: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Trace<'a> {
    #[serde(borrow)]
    spans: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    processes: HashMap<Cow<'a, str>, Process<'a>>,
}

#[derive(Deserialize)]
struct Process<'a> {
    #[serde(borrow, rename = "serviceName")]
    service_name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Span<'a> {
    #[serde(borrow, rename = "traceID")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, rename = "spanID")]
    span_id: Cow<'a, str>,
    #[serde(default, borrow, rename = "parentSpanID")]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    references: Vec<Reference<'a>>,
    #[serde(default, rename = "startTime")]
    start: Option<Scalar<'a>>,
    #[serde(default)]
    duration: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    tags: Vec<Tag<'a>>,
    #[serde(default, borrow, rename = "processID")]
    process_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    process: Option<Process<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow, rename = "refType")]
    ref_type: Cow<'a, str>,
    #[serde(borrow, rename = "traceID")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, rename = "spanID")]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(default, borrow)]
    value: Option<Scalar<'a>>,
}

/// Reads one Jaeger JSON file into `set`.
pub fn read(set: &mut SpanSet, path: &Path) -> Result<(), ImportError> {
    set.file(path);
    let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
    let text = without_bom(&text);
    let lines = Lines::new(text);
    let traces = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<&RawValue>>(text)
    } else {
        serde_json::from_str::<Object<'_>>(text).and_then(|o| match o.data {
            Some(data) => Ok(data),
            None => serde_json::from_str::<&RawValue>(text).map(|t| vec![t]),
        })
    };
    let traces = match traces {
        Ok(t) => t,
        Err(e) => {
            set.problem(
                e.line().max(1),
                format!("not Jaeger JSON: {}", json_message(&e)),
            );
            return Ok(());
        }
    };
    for raw in traces {
        let line = line_of(&lines, text, raw);
        match serde_json::from_str::<Trace<'_>>(raw.get()) {
            Ok(trace) => take(set, &lines, text, trace),
            Err(e) => set.problem(
                line + e.line() - 1,
                format!("not a Jaeger trace: {}", json_message(&e)),
            ),
        }
    }
    Ok(())
}

fn take(set: &mut SpanSet, lines: &Lines, text: &str, trace: Trace<'_>) {
    for raw in trace.spans {
        let line = line_of(lines, text, raw);
        let span = match serde_json::from_str::<Span<'_>>(raw.get()) {
            Ok(s) => s,
            Err(e) => {
                let line = line + e.line() - 1;
                set.problem(line, format!("not a Jaeger span: {}", json_message(&e)));
                continue;
            }
        };
        // The parent: the CHILD_OF reference, else a FOLLOWS_FROM within the trace (a
        // FOLLOWS_FROM into another trace is a link, as OpenTelemetry's span links become).
        let parent_ref = span
            .references
            .iter()
            .find(|r| r.ref_type == "CHILD_OF")
            .or_else(|| {
                span.references
                    .iter()
                    .find(|r| r.ref_type == "FOLLOWS_FROM" && r.trace_id == span.trace_id)
            });
        if let Some(r) = parent_ref {
            if r.trace_id != span.trace_id {
                set.problem(
                    line,
                    format!(
                        "span {}'s parent {} is in trace {}, not in the span's own trace {}",
                        span.span_id, r.span_id, r.trace_id, span.trace_id
                    ),
                );
                continue;
            }
        }
        let parent = parent_ref
            .map(|r| r.span_id.as_ref())
            .or(span.parent_span_id.as_deref())
            .unwrap_or("");
        let (Some(trace_id), Some(id), Some(parent)) = (
            spans::trace_id(&span.trace_id),
            spans::span_id(&span.span_id),
            spans::span_id(parent),
        ) else {
            let message = format!("span `{}` has a malformed id (hex expected)", span.span_id);
            set.problem(line, message);
            continue;
        };
        let service = span
            .process
            .as_ref()
            .or_else(|| {
                let id = span.process_id.as_deref()?;
                trace.processes.get(id)
            })
            .map(|p| p.service_name.as_ref())
            .unwrap_or("");
        if service.is_empty() {
            let message = format!(
                "span {} of trace {} has no service: no process with a serviceName",
                span.span_id, span.trace_id
            );
            set.problem(line, message);
            continue;
        }
        let mut attrs = Attrs::default();
        let mut kind = SpanKind::Unspecified;
        for tag in &span.tags {
            let value = tag.value.as_ref().map(Scalar::text).unwrap_or_default();
            if tag.key == "span.kind" {
                kind = SpanKind::parse(&value);
            }
            attrs.see(&tag.key, &value);
        }
        let start_us = span.start.as_ref().and_then(Scalar::number).unwrap_or(0);
        let duration_us = span.duration.as_ref().and_then(Scalar::number).unwrap_or(0);
        set.push(SpanIn {
            trace: trace_id,
            id,
            parent,
            shared: false,
            service,
            kind,
            start_ns: start_us.saturating_mul(1000),
            end_ns: (start_us.saturating_add(duration_us)).saturating_mul(1000),
            attrs,
            remote: None,
            tracestate: None,
            line,
        });
    }
}
