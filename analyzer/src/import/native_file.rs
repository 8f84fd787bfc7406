//! The native format as one TOML or JSON file (`service` and `call` arrays, optional
//! `thresholds` table).

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::native::{NativeBuilder, RawCall, RawService};
use crate::error::{ImportError, InputError, Lines, json_message};
use crate::model::Traffic;
use crate::thresholds::ThresholdOverrides;

/// The file's top level; each entry is deserialised on its own, so that every bad entry is
/// reported, not only the first.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    service: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    call: Vec<toml::Spanned<toml::Table>>,
    thresholds: Option<toml::Spanned<toml::Table>>,
}

/// Reads the native format from TOML text.
pub fn from_toml(path: &Path, text: &str) -> Result<Traffic, ImportError> {
    let lines = Lines::new(text);
    let file: TomlFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| lines.line(s.start));
        ImportError::one(InputError::new(path, line, e.message().trim_end()))
    })?;
    let mut b = builder(path, file.service.len(), file.call.len());
    if let Some(t) = file.thresholds {
        if let Some((line, t)) = toml_entry::<ThresholdOverrides>(&mut b, path, &lines, t) {
            b.thresholds(path, line, t);
        }
    }
    for s in file.service {
        let name = s
            .get_ref()
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        match toml_entry::<RawService>(&mut b, path, &lines, s) {
            Some((line, s)) => b.service(path, line, s),
            None => b.placeholder(name.as_deref().unwrap_or_default()),
        }
    }
    for c in file.call {
        if let Some((line, c)) = toml_entry::<RawCall>(&mut b, path, &lines, c) {
            b.call(path, line, &c.caller, &c.callee, c.fields());
        }
    }
    b.finish()
}

/// Deserialises one table, giving its line in the whole file.
fn toml_entry<T: for<'de> Deserialize<'de>>(
    b: &mut NativeBuilder,
    path: &Path,
    lines: &Lines,
    table: toml::Spanned<toml::Table>,
) -> Option<(usize, T)> {
    let line = lines.line(table.span().start);
    match serde_path_to_error::deserialize(toml::Value::Table(table.into_inner())) {
        Ok(v) => Some((line, v)),
        Err(e) => {
            let field = e.path().to_string();
            let message = e.into_inner().message().trim_end().to_string();
            let message = match field.as_str() {
                _ if message.starts_with("unknown field") => message,
                "." | "" => message,
                field => format!("`{field}`: {message}"),
            };
            b.problem(InputError::at(path, line, message));
            None
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFile<'a> {
    #[serde(borrow, default)]
    service: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    call: Vec<&'a RawValue>,
    #[serde(borrow)]
    thresholds: Option<&'a RawValue>,
}

/// Reads the native format from JSON text.
pub fn from_json(path: &Path, text: &str) -> Result<Traffic, ImportError> {
    let file: JsonFile<'_> = serde_json::from_str(text)
        .map_err(|e| ImportError::one(InputError::at(path, e.line(), json_message(&e))))?;
    let lines = Lines::new(text);
    let mut b = builder(path, file.service.len(), file.call.len());
    if let Some(raw) = file.thresholds {
        if let Some((line, t)) = entry::<ThresholdOverrides>(&mut b, path, text, &lines, raw) {
            b.thresholds(path, line, t);
        }
    }
    for raw in file.service {
        match entry::<RawService>(&mut b, path, text, &lines, raw) {
            Some((line, s)) => b.service(path, line, s),
            None => {
                let value: Option<serde_json::Value> = serde_json::from_str(raw.get()).ok();
                let name = value.as_ref().and_then(|v| v.get("name")?.as_str());
                b.placeholder(name.unwrap_or_default());
            }
        }
    }
    for raw in file.call {
        if let Some((line, c)) = entry::<RawCall>(&mut b, path, text, &lines, raw) {
            b.call(path, line, &c.caller, &c.callee, c.fields());
        }
    }
    b.finish()
}

fn builder(path: &Path, services: usize, calls: usize) -> NativeBuilder {
    let base = path.parent().unwrap_or(Path::new(""));
    NativeBuilder::new(base, services, calls)
}

/// Parses one array element, giving its line in the whole file.
fn entry<T: for<'de> Deserialize<'de>>(
    b: &mut NativeBuilder,
    path: &Path,
    text: &str,
    lines: &Lines,
    raw: &RawValue,
) -> Option<(usize, T)> {
    let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let line = lines.line(offset);
    match serde_json::from_str(raw.get()) {
        Ok(v) => Some((line, v)),
        Err(e) => {
            b.problem(InputError::at(path, line + e.line() - 1, json_message(&e)));
            None
        }
    }
}
