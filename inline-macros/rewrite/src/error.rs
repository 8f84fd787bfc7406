//! Why a rewrite failed.

use std::path::PathBuf;

/// What stopped the rewrite of a generated file, or of a build script's output.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The code the rewrite adds does not parse: a defect of the rewrite, never of the input.
    #[error("the in-process support code does not parse (a cargo merge defect): {0}")]
    Support(#[source] syn::Error),
    /// The rewrite of one generated file failed; `rel` is its path in its package.
    #[error("{rel}: the in-process rewrite failed: {source}")]
    File {
        rel: String,
        #[source]
        source: Box<RewriteError>,
    },
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
