//! Errors of reading traffic input: every problem names the file and, where it has one, the line.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in the user's input, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: PathBuf,
    /// 1-based line, when the problem sits on one.
    pub line: Option<usize>,
    pub message: String,
}

impl InputError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        InputError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        InputError::new(path, Some(line), message)
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
