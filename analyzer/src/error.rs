//! Errors of reading traffic input: every problem names the file and, where it has one, the line.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::check::Severity;
use crate::codes::{CheckCode, Entry, Family};

/// The kind of an input problem: a stable kebab-case code, shown with the problem; its texts
/// are in the catalogue ([`InputCode::entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputCode {
    MalformedInput,
    InvalidValue,
    UnknownService,
    DuplicateEntry,
    UnknownFormat,
    Unreadable,
    UnknownMember,
    MissingManifest,
    StaleLockfile,
    NotAService,
    AmbiguousBinary,
    UnknownGroup,
    OutputConflict,
    NothingToMerge,
    BadProto,
    BadRequest,
    EnvConflict,
    /// A `cargo merge check` finding of error level that `build` cannot mend: the build is
    /// refused unless `--allow CODE`. It carries the finding's own code, as `check` prints it.
    Check(CheckCode),
}

/// An input code's catalogue entry.
macro_rules! input {
    ($name:literal, $summary:expr, $explanation:expr, $help:expr, $example:expr) => {
        &Entry {
            family: Family::Input,
            name: $name,
            level: Severity::Error,
            severity: "error",
            summary: $summary,
            explanation: $explanation,
            help: $help,
            example: $example,
        }
    };
}

impl InputCode {
    /// Every input code (not the check codes a refused build carries).
    pub const ALL: &'static [InputCode] = &[
        InputCode::MalformedInput,
        InputCode::InvalidValue,
        InputCode::UnknownService,
        InputCode::DuplicateEntry,
        InputCode::UnknownFormat,
        InputCode::Unreadable,
        InputCode::UnknownMember,
        InputCode::MissingManifest,
        InputCode::StaleLockfile,
        InputCode::NotAService,
        InputCode::AmbiguousBinary,
        InputCode::UnknownGroup,
        InputCode::OutputConflict,
        InputCode::NothingToMerge,
        InputCode::BadProto,
        InputCode::BadRequest,
        InputCode::EnvConflict,
    ];

    pub fn code(self) -> &'static str {
        self.entry().name
    }

    /// What to do about it, in general; a problem may say more in its message.
    pub fn help(self) -> &'static str {
        self.entry().help
    }

    pub fn entry(self) -> &'static Entry {
        match self {
            InputCode::MalformedInput => input!(
                "malformed-input",
                "the file cannot be parsed",
                "A syntax error, a value of the wrong type, a missing or unknown field or column.",
                "fix the entry at this line; the README's \"Traffic input\" lists the formats and fields",
                "`qps = \"fast\"` in a traffic file, or a truncated JSON document."
            ),
            InputCode::InvalidValue => input!(
                "invalid-value",
                "a value outside its range",
                "A negative qps, a share above 1, NaN, or a flag's value out of range.",
                "give a value in the range the message names",
                "`affinity = 1.4`, or `--min-affinity 2`."
            ),
            InputCode::UnknownService => input!(
                "unknown-service",
                "a name that the input does not declare",
                "A call, a profile or a figure names a service the input has no entry for.",
                "declare the service, or correct the name",
                "A call `gateway -> pricng` when the services are `gateway` and `pricing`."
            ),
            InputCode::DuplicateEntry => input!(
                "duplicate-entry",
                "the same service, call or profile given twice",
                "Two entries give the same thing; cargo-merge would have to choose one.",
                "keep one of the entries (add their qps if both are real)",
                "Two `[[call]]` tables for `gateway -> pricing` with rpctype `rpc`."
            ),
            InputCode::UnknownFormat => input!(
                "unknown-format",
                "a path whose format cannot be told",
                "`--traffic` points at a file or folder that is none of the formats cargo-merge reads, by its name or its first bytes.",
                "point --traffic at a supported file or folder, or name the format with --format",
                "`--traffic notes.txt`."
            ),
            InputCode::Unreadable => input!(
                "unreadable-input",
                "a file or folder that cannot be read",
                "The path does not exist, or cargo-merge may not read it.",
                "check that the path exists and can be read",
                "`--traffic traces/` when the folder is missing."
            ),
            InputCode::UnknownMember => input!(
                "unknown-member",
                "a plan group names a member the plan gives no manifest for",
                "Build and check find a member's package through its `[service.NAME]` table's `manifest`; a group member without one cannot be built.",
                "add a [service.NAME] table with the member's `manifest`, or correct the name",
                "`members = [\"gateway\", \"pricing\"]` with only `[service.gateway]` in the plan."
            ),
            InputCode::MissingManifest => input!(
                "missing-manifest",
                "a member's manifest does not exist or cargo cannot read it",
                "The `manifest` a member's `[service.NAME]` table names is missing, or `cargo metadata` fails on it.",
                "point `manifest` at the member's Cargo.toml (relative to the plan's folder)",
                "`manifest = \"services/pricing/Cargo.toml\"` after the folder moved."
            ),
            InputCode::StaleLockfile => input!(
                "stale-lockfile",
                "a member's Cargo.lock lacks what its manifest needs (or is missing)",
                "Cargo would have to write the member's lockfile, and cargo-merge reads members with `--locked`: it never changes a member's files.",
                "update the member's Cargo.lock in its own repository (`cargo update -w` there, or `cargo generate-lockfile`); cargo-merge never writes a member's lockfile",
                "A dependency added to the member's Cargo.toml without building it since."
            ),
            InputCode::NotAService => input!(
                "not-a-service",
                "a member that has no binary to run (a library)",
                "A merged binary runs each member's `main`; a library package has none.",
                "list only packages that build a binary in a group",
                "`members = [\"shop-proto\", ...]` where `shop-proto` is a library."
            ),
            InputCode::AmbiguousBinary => input!(
                "ambiguous-binary",
                "a member package with several binaries and no `bin` in the plan, or a `bin` it lacks",
                "cargo-merge must know which of the package's binaries is the service.",
                "set `bin` in the member's [service.NAME] table to one of its binaries",
                "A package with `src/bin/server.rs` and `src/bin/admin.rs` and no `bin = \"server\"`."
            ),
            InputCode::UnknownGroup => input!(
                "unknown-group",
                "`--group` names a group the plan does not have",
                "Build, check, status and bench take `--group NAME` to work on some of the plan's groups; the name must be one of its `[[group]]` tables.",
                "name a [[group]] of the plan with --group, or leave it out for every group",
                "`--group checkout` when the plan's only group is `gateway`."
            ),
            InputCode::OutputConflict => input!(
                "output-conflict",
                "two outputs would be written to one path, or over an input",
                "A command was asked to write a file where another of its outputs, or one of its inputs, is.",
                "give each output a path of its own",
                "`cargo merge analyze --traffic t.toml --plan-out t.toml`."
            ),
            InputCode::NothingToMerge => input!(
                "nothing-to-merge",
                "the traffic gives no group to merge",
                "Every call edge was rejected, so there is no plan to write; the report says why for each.",
                "look at the rejected edges' reasons, or loosen the thresholds they name",
                "A graph whose callees each serve many callers (every edge `low-affinity`)."
            ),
            InputCode::BadProto => input!(
                "bad-proto",
                "the members' .proto files do not compile",
                "Bench encodes its requests with the members' own .proto files (protox, in process); one of them does not compile.",
                "fix the .proto file the message names",
                "An `import \"common.proto\"` whose file is not under the member's folder."
            ),
            InputCode::BadRequest => input!(
                "bad-request",
                "a line of bench's requests file cannot be sent",
                "Each line of `--requests` is one JSON object naming a gRPC method and its message, or an HTTP request.",
                "one JSON object per line: {\"method\": \"/package.Service/Method\", \"message\": {..}}",
                "`{\"method\": \"Quote\"}` (the method is `/shop.pricing.Pricing/Quote`)."
            ),
            InputCode::EnvConflict => input!(
                "env-conflict",
                "two members are given different values for one environment key",
                "Split, each member runs with its own `[service.NAME.env]`; merged, keys the members share must agree unless build namespaces them.",
                "give the members different keys, or the same value",
                "`PORT = \"50051\"` for one member and `PORT = \"50052\"` for another."
            ),
            InputCode::Check(code) => code.entry(),
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
