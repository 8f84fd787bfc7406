//! Importers: every supported traffic source becomes a [`Traffic`].
//!
//! `--traffic PATH` picks the importer from the path: a `.toml` or `.json` file is the native
//! format, a folder with `services.csv` and `calls.csv` the native CSV format, a folder (or CSV
//! file) with MSCallGraph columns an Alibaba trace, a folder of `S_<id>/graphK.json` DGG
//! patterns. [`Format`] overrides the guess.

pub mod alibaba;
pub mod dgg;
mod native;
pub mod native_csv;
mod native_file;

use std::path::Path;

use crate::error::{ImportError, InputCode, InputError};
use crate::model::Traffic;

/// A traffic source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// design.md's format: a TOML or JSON file, or a folder with services.csv and calls.csv.
    Native,
    /// Alibaba cluster-trace-microservices (v2021 or v2022 columns).
    Alibaba,
    /// DGG call-graph pattern folders.
    Dgg,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Native, Format::Alibaba, Format::Dgg];

    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Alibaba => "alibaba",
            Format::Dgg => "dgg",
        }
    }
}

/// Reads traffic from `path`, with `format` or the format guessed from the path.
pub fn load(path: &Path, format: Option<Format>) -> Result<Traffic, ImportError> {
    let format = match format {
        Some(f) => f,
        None => detect(path)?,
    };
    match format {
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
        Some("toml" | "json") => Ok(Format::Native),
        Some("csv") if alibaba::is_call_graph_file(path) => Ok(Format::Alibaba),
        _ => Err(unknown(
            path,
            "cannot tell the traffic format from this file: give a .toml or .json file in the \
             native format, a folder, or --format",
        )),
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn unknown(path: &Path, message: &str) -> ImportError {
    ImportError::one(InputError::new(path, None, message).code(InputCode::UnknownFormat))
}
