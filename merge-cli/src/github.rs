//! GitHub Actions. A command run with `--github` also appends its outputs (`name=value`) to
//! the file `$GITHUB_OUTPUT` names and a Markdown summary to `$GITHUB_STEP_SUMMARY`, as a step
//! of a workflow reads them: the composite action (action.yml) only calls cargo-merge and holds
//! no logic of its own.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

/// What a command hands to the workflow.
#[derive(Debug, Default)]
pub struct Report {
    pub outputs: Vec<(&'static str, String)>,
    pub summary: String,
}

impl Report {
    pub fn output(&mut self, name: &'static str, value: impl Into<String>) {
        self.outputs.push((name, value.into()));
    }

    /// Appends the outputs to `$GITHUB_OUTPUT` and the summary to `$GITHUB_STEP_SUMMARY`.
    pub fn write(&self) -> anyhow::Result<()> {
        let file = |var: &str| -> anyhow::Result<PathBuf> {
            std::env::var_os(var).map(PathBuf::from).with_context(|| {
                format!("--github: `{var}` is not set (GitHub Actions sets it in every step)")
            })
        };
        let mut text = String::new();
        for (name, value) in &self.outputs {
            text.push_str(&line(name, value));
        }
        append(&file("GITHUB_OUTPUT")?, &text)?;
        append(&file("GITHUB_STEP_SUMMARY")?, &self.summary)
    }
}

/// `name=value`, or the heredoc form for a value of several lines, with a delimiter that is
/// not a line of the value.
fn line(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut delimiter = String::from("CARGO_MERGE_EOF");
    while value.lines().any(|l| l == delimiter) {
        delimiter.push('_');
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn append(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// `text` for a Markdown table cell.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_several_lines_use_a_delimiter_they_do_not_hold() {
        assert_eq!(line("state", "fresh"), "state=fresh\n");
        assert_eq!(
            line("paths", "a\nb"),
            "paths<<CARGO_MERGE_EOF\na\nb\nCARGO_MERGE_EOF\n"
        );
        assert_eq!(
            line("x", "CARGO_MERGE_EOF\ny"),
            "x<<CARGO_MERGE_EOF_\nCARGO_MERGE_EOF\ny\nCARGO_MERGE_EOF_\n"
        );
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
    }
}
