//! Alibaba cluster-trace-microservices: MSCallGraph rows aggregated into call edges, MSResource
//! rows into per-service CPU and memory utilisation.

use std::path::Path;

use crate::error::ImportError;
use crate::model::Traffic;

/// Whether `dir` holds an Alibaba call-graph CSV.
pub fn is_alibaba_dir(_dir: &Path) -> bool {
    false
}

/// Whether `path` is a CSV file with the MSCallGraph columns.
pub fn is_call_graph_file(_path: &Path) -> bool {
    false
}

/// Reads a trace folder, or a single call-graph CSV file.
pub fn from_path(_path: &Path) -> Result<Traffic, ImportError> {
    unimplemented!("alibaba importer")
}
