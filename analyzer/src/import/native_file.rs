//! The native format as one TOML or JSON file (`service` and `call` arrays, optional
//! `thresholds` table).

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::native::{NativeBuilder, RawCall, RawService};
use crate::error::{ImportError, InputError, json_message, line_of};
use crate::model::Traffic;
use crate::thresholds::ThresholdOverrides;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    service: Vec<toml::Spanned<RawService>>,
    #[serde(default)]
    call: Vec<toml::Spanned<RawCall>>,
    thresholds: Option<toml::Spanned<ThresholdOverrides>>,
}

/// Reads the native format from TOML text.
pub fn from_toml(path: &Path, text: &str) -> Result<Traffic, ImportError> {
    let file: TomlFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ImportError::one(InputError::new(path, line, e.message().trim_end()))
    })?;
    let mut b = builder(path, file.service.len(), file.call.len());
    if let Some(t) = file.thresholds {
        let line = line_of(text, t.span().start);
        b.thresholds(path, line, t.into_inner());
    }
    for s in file.service {
        let line = line_of(text, s.span().start);
        b.service(path, line, s.into_inner());
    }
    for c in file.call {
        let line = line_of(text, c.span().start);
        let c = c.into_inner();
        b.call(path, line, &c.caller, &c.callee, c.fields());
    }
    b.finish()
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
    let mut b = builder(path, file.service.len(), file.call.len());
    if let Some(raw) = file.thresholds {
        if let Some((line, t)) = entry::<ThresholdOverrides>(&mut b, path, text, raw) {
            b.thresholds(path, line, t);
        }
    }
    for raw in file.service {
        if let Some((line, s)) = entry::<RawService>(&mut b, path, text, raw) {
            b.service(path, line, s);
        }
    }
    for raw in file.call {
        if let Some((line, c)) = entry::<RawCall>(&mut b, path, text, raw) {
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
    raw: &RawValue,
) -> Option<(usize, T)> {
    let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let line = line_of(text, offset);
    match serde_json::from_str(raw.get()) {
        Ok(v) => Some((line, v)),
        Err(e) => {
            b.problem(InputError::at(path, line + e.line() - 1, json_message(&e)));
            None
        }
    }
}
