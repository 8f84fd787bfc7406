//! DGG call-graph pattern folders (`S_<id>/graphK.json`).

use std::path::Path;

use crate::error::ImportError;
use crate::model::Traffic;

/// Whether `dir` holds DGG pattern folders.
pub fn is_dgg_dir(_dir: &Path) -> bool {
    false
}

/// Reads every pattern below `dir`.
pub fn from_dir(_dir: &Path) -> Result<Traffic, ImportError> {
    unimplemented!("dgg importer")
}
