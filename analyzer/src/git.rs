//! The `git` program, as cargo-merge runs it: members' commits, git members' checkouts and
//! what a file was at a commit. No prompt for credentials (a run must not hang on one).

use std::path::Path;
use std::process::{Command, Stdio};

/// Why git gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// git ran and failed; `said` is the last line of its stderr.
    #[error("`git {args}` failed: {said}")]
    Failed { args: String, said: String },
}

/// Runs git (in `dir` when given); its stdout as it is, or what it said on failure (the last
/// line of its stderr).
pub fn output(dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
    let mut c = Command::new("git");
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    let out = c
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        Err(GitError::Failed {
            args: args.join(" "),
            said: said
                .trim()
                .lines()
                .last()
                .unwrap_or("no message")
                .to_owned(),
        })
    }
}

/// [`output`], trimmed.
pub fn run(dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
    output(dir, args).map(|s| s.trim().to_owned())
}
