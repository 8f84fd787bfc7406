//! OpenTelemetry spans in OTLP JSON: the collector's file exporter (one
//! `ExportTraceServiceRequest` per line) or single documents (the same request, pretty-printed;
//! several may follow each other). Field names in lowerCamelCase or the proto's snake_case;
//! ids in hex (OTLP JSON) or base64 (protobuf's generic JSON mapping); 64-bit integers as
//! strings or numbers; `kind` as the enum's number or name. The join: [`super::spans`].

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::json_text::{Scalar, without_bom};
use super::spans::{self, Attrs, SpanIn, SpanKind, SpanSet};
use crate::error::{ImportError, Lines, json_message};

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(default, borrow, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Vec<ResourceSpans<'a>>,
}

#[derive(Deserialize)]
struct ResourceSpans<'a> {
    #[serde(default, borrow)]
    resource: Resource<'a>,
    #[serde(
        default,
        borrow,
        rename = "scopeSpans",
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans",
        alias = "instrumentation_library_spans"
    )]
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(default, borrow)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct ScopeSpans<'a> {
    #[serde(default, borrow)]
    spans: Vec<Span<'a>>,
}

#[derive(Deserialize)]
struct Span<'a> {
    #[serde(borrow, rename = "traceId", alias = "trace_id")]
    trace_id: Cow<'a, str>,
    #[serde(borrow, rename = "spanId", alias = "span_id")]
    span_id: Cow<'a, str>,
    #[serde(default, borrow, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "traceState", alias = "trace_state")]
    trace_state: Option<Cow<'a, str>>,
    #[serde(default)]
    kind: Option<Scalar<'a>>,
    #[serde(default, rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start: Option<Scalar<'a>>,
    #[serde(default, rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    end: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct KeyValue<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(default, borrow)]
    value: Option<AnyValue<'a>>,
}

/// OTLP's AnyValue: one of its fields is set. Arrays and maps are not needed and skipped.
#[derive(Deserialize)]
struct AnyValue<'a> {
    #[serde(default, borrow, rename = "stringValue", alias = "string_value")]
    string_value: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "intValue", alias = "int_value")]
    int_value: Option<Scalar<'a>>,
    #[serde(default, rename = "doubleValue", alias = "double_value")]
    double_value: Option<f64>,
    #[serde(default, rename = "boolValue", alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(default, rename = "arrayValue", alias = "array_value")]
    _array: Option<IgnoredAny>,
    #[serde(default, rename = "kvlistValue", alias = "kvlist_value")]
    _kvlist: Option<IgnoredAny>,
}

impl AnyValue<'_> {
    fn text(&self) -> Cow<'_, str> {
        if let Some(s) = &self.string_value {
            Cow::Borrowed(s.as_ref())
        } else if let Some(i) = &self.int_value {
            i.text()
        } else if let Some(d) = self.double_value {
            Cow::Owned(d.to_string())
        } else if let Some(b) = self.bool_value {
            Cow::Borrowed(if b { "true" } else { "false" })
        } else {
            Cow::Borrowed("")
        }
    }
}

/// Reads one OTLP JSON file into `set`.
pub fn read(set: &mut SpanSet, path: &Path) -> Result<(), ImportError> {
    set.file(path);
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let mut number = 0usize;
    let mut first = true;
    // One request per line, as the file exporter writes; a first line that is not a whole
    // document means the file is one (pretty-printed) document or several.
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| ImportError::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let was_first = std::mem::replace(&mut first, false);
        let text = if was_first { without_bom(&line) } else { &line };
        match serde_json::from_str::<Request<'_>>(text) {
            Ok(request) => take(set, request, number),
            Err(e) if e.is_eof() && was_first => {
                let mut text = std::mem::take(&mut line);
                reader
                    .read_to_string(&mut text)
                    .map_err(|e| ImportError::io(path, e))?;
                return read_documents(set, without_bom(&text), number);
            }
            Err(e) => set.problem(
                number,
                format!("not an OTLP trace export: {}", json_message(&e)),
            ),
        }
    }
}

/// A file of one or more whole documents; `first_line` is where `text` starts in the file.
fn read_documents(set: &mut SpanSet, text: &str, first_line: usize) -> Result<(), ImportError> {
    let lines = Lines::new(text);
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Request<'_>>();
    loop {
        let start = stream.byte_offset();
        let start = start + text[start..].len() - text[start..].trim_start().len();
        match stream.next() {
            None => return Ok(()),
            Some(Ok(request)) => take(set, request, first_line - 1 + lines.line(start)),
            Some(Err(e)) => {
                let line = first_line - 1 + e.line();
                set.problem(
                    line,
                    format!("not an OTLP trace export: {}", json_message(&e)),
                );
                return Ok(());
            }
        }
    }
}

fn take(set: &mut SpanSet, request: Request<'_>, line: usize) {
    for rs in request.resource_spans {
        let service = rs
            .resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(|v| v.text().into_owned())
            .unwrap_or_default();
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            let (Some(trace), Some(id), Some(parent)) = (
                spans::trace_id(&span.trace_id),
                spans::span_id(&span.span_id),
                spans::span_id(span.parent_span_id.as_deref().unwrap_or("")),
            ) else {
                set.problem(
                    line,
                    format!(
                        "span `{}` of trace `{}` has a malformed id (OTLP JSON ids are hex)",
                        span.span_id, span.trace_id
                    ),
                );
                continue;
            };
            if service.is_empty() {
                let message = format!(
                    "span {id:016x} of trace {trace:032x} has no service: its resource has no `service.name`"
                );
                set.problem(line, message);
                continue;
            }
            let mut attrs = Attrs::default();
            for kv in &span.attributes {
                if let Some(v) = &kv.value {
                    attrs.see(&kv.key, &v.text());
                }
            }
            set.push(SpanIn {
                trace,
                id,
                parent,
                shared: false,
                service: &service,
                kind: span
                    .kind
                    .as_ref()
                    .map_or(SpanKind::Unspecified, |k| SpanKind::parse(&k.text())),
                start_ns: span.start.as_ref().and_then(Scalar::number).unwrap_or(0),
                end_ns: span.end.as_ref().and_then(Scalar::number).unwrap_or(0),
                attrs,
                remote: None,
                tracestate: span.trace_state.as_deref(),
                line,
            });
        }
    }
}
