//! Importers: every supported traffic source becomes a [`Traffic`].
//!
//! `--traffic PATH` picks the importer from the path and the file's content ([`detect`]): a
//! `.toml` file is the native format; a JSON file is native, OTLP, Jaeger, Zipkin or dependency
//! links by its first keys; Prometheus text by its first line; a folder with `services.csv` and
//! `calls.csv` the native CSV format, a folder (or CSV file) with MSCallGraph columns an Alibaba
//! trace, a folder of `S_<id>/graphK.json` DGG patterns. [`Format`] overrides the guess. Several
//! inputs are read one by one and combined ([`combine`]).

pub mod alibaba;
mod combine;
pub mod dgg;
mod jaeger;
mod json_text;
mod links;
mod native;
pub mod native_csv;
mod native_file;
mod otlp;
mod prometheus;
pub mod spans;
mod zipkin;

use std::path::Path;

use crate::error::{ImportError, InputCode, InputError};
use crate::model::{SourceKind, Traffic};

/// A traffic source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// design.md's format: a TOML or JSON file, or a folder with services.csv and calls.csv.
    Native,
    /// Alibaba cluster-trace-microservices (v2021 or v2022 columns).
    Alibaba,
    /// DGG call-graph pattern folders.
    Dgg,
    /// OpenTelemetry OTLP JSON (the collector's file exporter, or single documents).
    Otlp,
    /// Jaeger's query-API JSON.
    Jaeger,
    /// Zipkin v2 JSON spans.
    Zipkin,
    /// Jaeger or Zipkin dependency links.
    Links,
    /// Prometheus text exposition or query-API JSON.
    Prometheus,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Native,
        Format::Alibaba,
        Format::Dgg,
        Format::Otlp,
        Format::Jaeger,
        Format::Zipkin,
        Format::Links,
        Format::Prometheus,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Alibaba => "alibaba",
            Format::Dgg => "dgg",
            Format::Otlp => "otlp",
            Format::Jaeger => "jaeger",
            Format::Zipkin => "zipkin",
            Format::Links => "links",
            Format::Prometheus => "prometheus",
        }
    }
}

/// How to read traffic inputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The format of every input, instead of the guess.
    pub format: Option<Format>,
    /// The seconds the input covers, where it has no timestamps (or to override them).
    pub window: Option<f64>,
    /// Every trace's sampling probability, instead of what spans say.
    pub sample_rate: Option<f64>,
}

/// Reads every input and combines them (edges from traces, CPU from Prometheus, ...).
pub fn load_all(paths: &[impl AsRef<Path>], options: &Options) -> Result<Traffic, ImportError> {
    let mut loaded = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        loaded.push((path.to_path_buf(), load_with(path, options)?));
    }
    Ok(combine::combine(loaded))
}

/// Reads traffic from `path`, with `format` or the format guessed from the path.
pub fn load(path: &Path, format: Option<Format>) -> Result<Traffic, ImportError> {
    let options = Options {
        format,
        ..Options::default()
    };
    load_with(path, &options)
}

fn load_with(path: &Path, options: &Options) -> Result<Traffic, ImportError> {
    let format = match options.format {
        Some(f) => f,
        None => detect(path)?,
    };
    let rates = spans::Rates {
        window: options.window,
        sample_rate: options.sample_rate,
    };
    let traces = |kind, read: fn(&mut spans::SpanSet, &Path) -> Result<(), ImportError>| {
        let mut set = spans::SpanSet::new(kind);
        read(&mut set, path)?;
        set.finish(rates)
    };
    match format {
        Format::Otlp => traces(SourceKind::Otlp, otlp::read),
        Format::Jaeger => traces(SourceKind::Jaeger, jaeger::read),
        Format::Zipkin => traces(SourceKind::Zipkin, zipkin::read),
        Format::Links => links::from_file(path, rates),
        Format::Prometheus => prometheus::from_file(path, rates),
        Format::Native if path.is_dir() => native_csv::from_dir(path),
        Format::Native => {
            let text = std::fs::read_to_string(path).map_err(|e| ImportError::io(path, e))?;
            match extension(path).as_deref() {
                Some("json") => native_file::from_json(path, &text),
                _ => native_file::from_toml(path, &text),
            }
        }
        Format::Alibaba => alibaba::from_path(path),
        Format::Dgg => dgg::from_dir(path),
    }
}

/// Guesses the format of `path` from its extension, its files and its CSV header.
pub fn detect(path: &Path) -> Result<Format, ImportError> {
    let meta = std::fs::metadata(path).map_err(|e| ImportError::io(path, e))?;
    if meta.is_dir() {
        if native_csv::is_native_csv_dir(path) {
            return Ok(Format::Native);
        }
        if alibaba::is_alibaba_dir(path) {
            return Ok(Format::Alibaba);
        }
        if dgg::is_dgg_dir(path) {
            return Ok(Format::Dgg);
        }
        return Err(unknown(
            path,
            "this folder holds no traffic I know: expected services.csv + calls.csv, an Alibaba \
             call-graph CSV (columns um, dm, rpctype, ...), or DGG folders S_<id>/graphK.json",
        ));
    }
    match extension(path).as_deref() {
        Some("toml") => return Ok(Format::Native),
        Some("csv") if alibaba::is_call_graph_file(path) => return Ok(Format::Alibaba),
        _ => {}
    }
    let head = head(path)?;
    if let Some(format) = sniff_json(&head) {
        return Ok(format);
    }
    if prometheus::is_exposition(&head) {
        return Ok(Format::Prometheus);
    }
    // Native JSON whose first key is none of the native ones: the native reader says what is
    // wrong with it, as it did before other JSON formats were told apart.
    if extension(path).as_deref() == Some("json") {
        return Ok(Format::Native);
    }
    Err(unknown(
        path,
        "cannot tell the traffic format from this file: expected a native .toml or .json file, \
         OTLP JSON (resourceSpans), Jaeger JSON (data: traces), Zipkin v2 JSON (a list of spans), \
         dependency links (parent, child, callCount), Prometheus text or query JSON; or name it \
         with --format",
    ))
}

/// The first 64 KiB of a file, as text (a multi-byte character cut at the end is dropped).
fn head(path: &Path) -> Result<String, ImportError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut bytes = Vec::with_capacity(64 << 10);
    file.take(64 << 10)
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::io(path, e))?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            String::from_utf8_lossy(&e.into_bytes()[..valid]).into_owned()
        }
    })
}

/// The JSON format whose keys start `head`: the first key of the top-level object, or of the
/// first object of a top-level list (or of a list in it).
fn sniff_json(head: &str) -> Option<Format> {
    let body = head.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let in_list = body.starts_with('[');
    let key = first_key(body)?;
    let has = |k: &str| head.contains(&format!("\"{k}\""));
    Some(match key {
        "resourceSpans" | "resource_spans" => Format::Otlp,
        "service" | "call" | "thresholds" if !in_list => Format::Native,
        // A query answer whatever the order of its keys (`jq -S` puts `data` first).
        _ if !in_list && has("resultType") && has("status") => Format::Prometheus,
        "data" | "dependencies" | "parent" | "child" | "callCount"
            if has("callCount") && !has("spans") =>
        {
            Format::Links
        }
        "data" | "traceID" | "spans" | "processes" if !in_list || has("spanID") => Format::Jaeger,
        _ if in_list && has("traceId") && (has("localEndpoint") || has("id")) => Format::Zipkin,
        _ if in_list && has("traceID") && has("spanID") => Format::Jaeger,
        _ => return None,
    })
}

/// The first object key in `s`: after `{` (skipping `[` and blanks), a quoted string.
fn first_key(s: &str) -> Option<&str> {
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '[');
    let s = s.strip_prefix('{')?.trim_start();
    let s = s.strip_prefix('"')?;
    Some(&s[..s.find('"')?])
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn unknown(path: &Path, message: &str) -> ImportError {
    ImportError::one(InputError::new(path, None, message).code(InputCode::UnknownFormat))
}

#[cfg(test)]
mod tests {
    use super::{Format, sniff_json};

    #[test]
    fn json_formats_are_told_by_their_keys_in_any_order() {
        let cases = [
            (r#"{"resourceSpans": []}"#, Some(Format::Otlp)),
            (
                r#"{"status": "success", "data": {"resultType": "vector"}}"#,
                Some(Format::Prometheus),
            ),
            // `jq -S` sorts the keys.
            (
                r#"{"data": {"result": [], "resultType": "vector"}, "status": "success"}"#,
                Some(Format::Prometheus),
            ),
            (
                r#"{"data": [{"traceID": "a", "spans": [], "processes": {}}]}"#,
                Some(Format::Jaeger),
            ),
            (
                r#"[{"parent": "a", "child": "b", "callCount": 3}]"#,
                Some(Format::Links),
            ),
            (
                r#"[{"traceId": "a", "id": "b", "localEndpoint": {}}]"#,
                Some(Format::Zipkin),
            ),
            ("\u{feff}{\"service\": []}", Some(Format::Native)),
            (r#"{"something": 1}"#, None),
        ];
        for (head, want) in cases {
            assert_eq!(sniff_json(head), want, "{head}");
        }
    }
}
