//! Errors of reading traffic input: every problem names the file and, where it has one, the line.

use std::fmt;
use std::path::{Path, PathBuf};

/// The kind of an input problem: a stable kebab-case code, shown with the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputCode {
    /// The file cannot be parsed: syntax, a wrong type, a missing or unknown field or column.
    MalformedInput,
    /// A value outside its range: a negative qps, a share above 1, NaN.
    InvalidValue,
    /// A name that the input does not declare.
    UnknownService,
    /// The same service, call or profile given twice.
    DuplicateEntry,
    /// A path whose format cannot be told.
    UnknownFormat,
    /// A file or folder that cannot be read.
    Unreadable,
    /// A plan group names a member the plan gives no manifest for.
    UnknownMember,
    /// A member's manifest does not exist or cargo cannot read it.
    MissingManifest,
    /// A member's Cargo.lock lacks what its manifest needs (or is missing): cargo would have to
    /// write it, and cargo-merge reads members with `--locked`.
    StaleLockfile,
    /// A member that has no binary to run (a library).
    NotAService,
    /// A member package with several binaries and no `bin` in the plan, or a `bin` it lacks.
    AmbiguousBinary,
    /// Two members need different versions of a crate that sets `links`.
    LinksConflict,
    /// A `cargo merge check` finding of error level that `build` cannot mend: the build is
    /// refused unless `--allow CODE`. It carries the finding's own code, as `check` prints it.
    Check(&'static str),
}

impl InputCode {
    pub fn code(self) -> &'static str {
        match self {
            InputCode::MalformedInput => "malformed-input",
            InputCode::InvalidValue => "invalid-value",
            InputCode::UnknownService => "unknown-service",
            InputCode::DuplicateEntry => "duplicate-entry",
            InputCode::UnknownFormat => "unknown-format",
            InputCode::Unreadable => "unreadable-input",
            InputCode::UnknownMember => "unknown-member",
            InputCode::MissingManifest => "missing-manifest",
            InputCode::StaleLockfile => "stale-lockfile",
            InputCode::NotAService => "not-a-service",
            InputCode::AmbiguousBinary => "ambiguous-binary",
            InputCode::LinksConflict => "links-conflict",
            InputCode::Check(code) => code,
        }
    }

    /// What to do about it, in general; a problem may say more in its message.
    pub fn help(self) -> &'static str {
        match self {
            InputCode::MalformedInput => {
                "fix the entry at this line; the README's \"Traffic input\" lists the formats and fields"
            }
            InputCode::InvalidValue => "give a value in the range the message names",
            InputCode::UnknownService => "declare the service, or correct the name",
            InputCode::DuplicateEntry => "keep one of the entries (add their qps if both are real)",
            InputCode::UnknownFormat => {
                "point --traffic at a supported file or folder, or name the format with --format"
            }
            InputCode::Unreadable => "check that the path exists and can be read",
            InputCode::UnknownMember => {
                "add a [service.NAME] table with the member's `manifest`, or correct the name"
            }
            InputCode::MissingManifest => {
                "point `manifest` at the member's Cargo.toml (relative to the plan's folder)"
            }
            InputCode::StaleLockfile => {
                "update the member's Cargo.lock in its own repository (`cargo update -w` there, or `cargo generate-lockfile`); cargo-merge never writes a member's lockfile"
            }
            InputCode::NotAService => "list only packages that build a binary in a group",
            InputCode::AmbiguousBinary => {
                "set `bin` in the member's [service.NAME] table to one of its binaries"
            }
            InputCode::LinksConflict => {
                "align the two members on one version of the crate; a native library cannot be linked twice"
            }
            InputCode::Check(_) => {
                "run `cargo merge check` for what to change, or pass `--allow` with this code to build anyway"
            }
        }
    }
}

/// One problem in the user's input, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub code: InputCode,
    pub path: PathBuf,
    /// 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    pub message: String,
}

impl InputError {
    /// A problem with the default code, [`InputCode::MalformedInput`]; see [`Self::code`].
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        InputError {
            code: InputCode::MalformedInput,
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        InputError::new(path, Some(line), message)
    }

    /// The same problem with another code.
    pub fn code(mut self, code: InputCode) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Why traffic could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("failed to read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Problems in the input itself, all of them (up to [`MAX_REPORTED`]).
    #[error("{}", Self::render(.errors, *.more))]
    Input {
        errors: Vec<InputError>,
        /// How many further problems were found and not kept.
        more: usize,
    },
}

/// How many input problems one import keeps; the rest are counted.
pub const MAX_REPORTED: usize = 50;

impl ImportError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn one(error: InputError) -> Self {
        ImportError::Input {
            errors: vec![error],
            more: 0,
        }
    }

    fn render(errors: &[InputError], more: usize) -> String {
        let mut s = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        if more > 0 {
            s.push_str(&format!("\n... and {more} more problems"));
        }
        s
    }
}

/// Collects input problems so that all of them are reported together.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<InputError>,
    more: usize,
}

impl Problems {
    pub fn push(&mut self, error: InputError) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(error);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(value)` when nothing was found, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ImportError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ImportError::Input {
                errors: self.errors,
                more: self.more,
            })
        }
    }
}

/// Line numbers of byte offsets in one text, found by binary search over the line starts (a
/// scan per lookup would make reading a large file quadratic).
#[derive(Debug)]
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Self {
        let newlines = text.bytes().enumerate().filter(|&(_, b)| b == b'\n');
        let starts = std::iter::once(0)
            .chain(newlines.map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// serde_json's message without its trailing " at line L column C" (the line is reported
/// separately, in the whole file's numbering).
pub fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let lines = Lines::new("a\nbc\n\nd");
        let got: Vec<usize> = [0, 1, 2, 4, 5, 6, 99]
            .iter()
            .map(|&o| lines.line(o))
            .collect();
        assert_eq!(got, vec![1, 1, 2, 2, 3, 4, 4]);
    }
}
