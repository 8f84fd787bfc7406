//! Why a file of a merged workspace could not be made. The synthesis turns each into a problem
//! naming the file it came from (`InputError`), or, for the serve hook, into a warning.

use std::path::PathBuf;

/// A file of the merged workspace that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A manifest that is not TOML.
    #[error("{0}")]
    Toml(#[from] toml_edit::TomlError),
    /// A manifest without a table cargo requires.
    #[error("no {0} table")]
    NoTable(&'static str),
    /// A manifest entry of a shape cargo does not give it: `what`, and what it is (`not a
    /// table`).
    #[error("{what} is {shape}")]
    Shape { what: String, shape: &'static str },
    /// `{ workspace = true }` with no workspace root above the package.
    #[error("it inherits keys (`workspace = true`) but no workspace manifest is found above it")]
    NoWorkspace,
    /// `{ workspace = true }` where the workspace root does not define it.
    #[error("`{key}` is inherited but [workspace.{table}] has no `{name}`")]
    NotInherited {
        key: String,
        table: &'static str,
        name: String,
    },
    /// A path to one of cargo-merge's own crates that cannot be written from the copy.
    #[error("cannot place cargo-merge's crate `{0}`")]
    ToolCrate(String),
    /// merge-rewrite, which a wrapped build script needs, is not beside runtime-shim.
    #[error("cannot find merge-rewrite beside merge-runtime-shim")]
    NoRewriteCrate,
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A crate version `exact` would vendor that links a native library.
    #[error(
        "`{name} {version}` would be vendored for member `{member}`, but it links the native library `{links}`, which one binary cannot link twice"
    )]
    VendoredLinks {
        name: String,
        version: String,
        member: String,
        links: String,
    },
    /// A tonic version the serve hook has no edits for.
    #[error("cargo merge's serve hook does not know tonic {version} (it knows {known})")]
    UnknownTonic { version: String, known: String },
    /// A tonic source the serve hook's edits do not fit.
    #[error(
        "tonic {version}'s {file} is not the shape cargo merge's serve hook edits (`{anchor}` found {found} times, expected {expected})"
    )]
    HookMismatch {
        version: String,
        file: &'static str,
        anchor: String,
        found: usize,
        expected: usize,
    },
    #[error("tonic {version} has no {file}")]
    TonicFile { version: String, file: String },
    /// Generated proto code shared by several packages that syn does not parse.
    #[error("the generated code of `{proto}` does not parse: {source}")]
    GeneratedSyntax {
        proto: String,
        #[source]
        source: syn::Error,
    },
    #[error("the in-process rewrite of `{proto}` failed: {source}")]
    Rewrite {
        proto: String,
        #[source]
        source: merge_rewrite::RewriteError,
    },
}

impl SynthError {
    /// `what` is not a table.
    pub fn not_table(what: impl Into<String>) -> Self {
        SynthError::Shape {
            what: what.into(),
            shape: "not a table",
        }
    }

    /// `what` is neither a string nor a table.
    pub fn not_string_or_table(what: impl Into<String>) -> Self {
        SynthError::Shape {
            what: what.into(),
            shape: "neither a string nor a table",
        }
    }
}
