//! Each member's own command line. One process has one argv, which the merged binary keeps for
//! itself (`--help`, `--member-args`): members see only their program name, unless
//! `--member-args NAME="..."` gives member NAME its arguments. `cargo merge build` rewrites a
//! member's reads of the command line (`std::env::args()`, `args_os()`, clap's `parse()` and
//! `get_matches()`) into [`args`] and [`args_os`], which answer for the member whose code runs
//! on the calling thread.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::sync::OnceLock;

/// Per member: its program name and arguments.
static ARGV: OnceLock<BTreeMap<&'static str, Vec<OsString>>> = OnceLock::new();

/// What the merged binary's own command line said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the members (`--member-args` applied).
    Run,
    /// `--help` or `-h`: print the help, start nothing.
    Help,
    /// `--version` or `-V`: print the members' versions and commits, start nothing.
    Version,
}

/// What is wrong with the merged binary's command line; the generated main prints it with its
/// usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    NotUtf8(String),
    /// `--member-args` last, without its value.
    NoValue,
    Unexpected(String),
    /// A `--member-args` value without `=`.
    NoEquals(String),
    UnknownMember {
        name: String,
        /// The members, comma-separated.
        known: String,
    },
    /// A member's ARGS that do not split into words.
    Words {
        member: String,
        error: SplitError,
    },
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::NotUtf8(a) => write!(f, "`{a}` is not UTF-8"),
            ArgsError::NoValue => write!(f, "--member-args needs NAME=ARGS"),
            ArgsError::Unexpected(a) => write!(f, "unexpected argument `{a}`"),
            ArgsError::NoEquals(v) => write!(f, "--member-args `{v}`: expected NAME=ARGS"),
            ArgsError::UnknownMember { name, known } => {
                write!(f, "--member-args: no member `{name}` (members: {known})")
            }
            ArgsError::Words { member, error } => write!(f, "--member-args {member}: {error}"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Why a line does not split into words as a shell would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    UnclosedSingleQuote,
    UnclosedDoubleQuote,
    TrailingBackslash,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitError::UnclosedSingleQuote => "unclosed '",
            SplitError::UnclosedDoubleQuote => "unclosed \"",
            SplitError::TrailingBackslash => "a trailing backslash",
        })
    }
}

impl std::error::Error for SplitError {}

/// Reads the merged binary's command line (`argv`, its name first) and sets every member's
/// argv: `programs` are (member, program name); `--member-args NAME=ARGS` (or
/// `--member-args=NAME=ARGS`, repeatable) splits ARGS as a shell does (quotes, backslashes).
/// An error names what was wrong, for the binary to print with its usage.
pub fn configure(
    argv: impl IntoIterator<Item = OsString>,
    programs: &[(&'static str, &'static str)],
) -> Result<Command, ArgsError> {
    let mut given: BTreeMap<&'static str, Vec<OsString>> = BTreeMap::new();
    let mut rest = argv.into_iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg
            .into_string()
            .map_err(|a| ArgsError::NotUtf8(a.to_string_lossy().into_owned()))?;
        let value = match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--member-args" => rest
                .next()
                .ok_or(ArgsError::NoValue)?
                .into_string()
                .map_err(|a| ArgsError::NotUtf8(a.to_string_lossy().into_owned()))?,
            other => match other.strip_prefix("--member-args=") {
                Some(v) => v.to_owned(),
                None => return Err(ArgsError::Unexpected(other.to_owned())),
            },
        };
        let (name, words) = value
            .split_once('=')
            .ok_or_else(|| ArgsError::NoEquals(value.clone()))?;
        let Some(&(member, _)) = programs.iter().find(|(m, _)| *m == name) else {
            let known: Vec<&str> = programs.iter().map(|(m, _)| *m).collect();
            return Err(ArgsError::UnknownMember {
                name: name.to_owned(),
                known: known.join(", "),
            });
        };
        let words = split(words).map_err(|error| ArgsError::Words {
            member: name.to_owned(),
            error,
        })?;
        given
            .entry(member)
            .or_default()
            .extend(words.into_iter().map(OsString::from));
    }
    let argv = programs
        .iter()
        .map(|&(member, program)| {
            let mut all = vec![OsString::from(program)];
            all.extend(given.remove(member).unwrap_or_default());
            (member, all)
        })
        .collect();
    let _ = ARGV.set(argv);
    Ok(Command::Run)
}

/// The calling member's argv, program name first, as `std::env::args_os()` gives it. A thread
/// no member is known on gets the merged binary's name alone: never another member's flags.
pub fn args_os() -> std::vec::IntoIter<OsString> {
    let member = crate::current_member("");
    let own = ARGV.get().and_then(|all| all.get(member)).cloned();
    own.unwrap_or_else(|| std::env::args_os().take(1).collect())
        .into_iter()
}

/// [`args_os`] as `String`s, as `std::env::args()` gives them (it panics on an argument that
/// is not Unicode, as std's does).
pub fn args() -> std::vec::IntoIter<String> {
    args_os()
        .map(|a| {
            a.into_string()
                .unwrap_or_else(|a| panic!("argument is not valid Unicode: {a:?}"))
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// Splits `line` into words as a POSIX shell does for quoting: whitespace separates,
/// `'...'` keeps everything, `"..."` keeps everything but `\"` and `\\`, a backslash outside
/// quotes escapes the next character.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(SplitError::UnclosedSingleQuote),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(SplitError::UnclosedDoubleQuote),
                        },
                        Some(c) => w.push(c),
                        None => return Err(SplitError::UnclosedDoubleQuote),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next().ok_or(SplitError::TrailingBackslash)?;
                word.get_or_insert_with(String::new).push(escaped);
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        let said = split(r#"--addr 127.0.0.1:1  --name 'a b' "c \"d\"" e\ f ''"#).expect("splits");
        assert_eq!(
            said,
            [
                "--addr",
                "127.0.0.1:1",
                "--name",
                "a b",
                "c \"d\"",
                "e f",
                ""
            ]
        );
        assert_eq!(split("'open"), Err(SplitError::UnclosedSingleQuote));
        assert_eq!(split("x\\"), Err(SplitError::TrailingBackslash));
        assert_eq!(
            ArgsError::Words {
                member: "north".to_owned(),
                error: SplitError::UnclosedDoubleQuote
            }
            .to_string(),
            "--member-args north: unclosed \""
        );
        assert_eq!(
            ArgsError::UnknownMember {
                name: "west".to_owned(),
                known: "north, south".to_owned()
            }
            .to_string(),
            "--member-args: no member `west` (members: north, south)"
        );
    }

    #[test]
    fn the_merged_command_line_is_read() {
        let programs = [("north", "duo-north"), ("south", "duo-south")];
        let argv = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            configure(argv(&["fleet", "-h"]), &programs),
            Ok(Command::Help)
        );
        for v in ["--version", "-V"] {
            assert_eq!(
                configure(argv(&["fleet", v]), &programs),
                Ok(Command::Version)
            );
        }
        assert_eq!(
            configure(argv(&["fleet", "--verbose"]), &programs),
            Err(ArgsError::Unexpected("--verbose".to_owned()))
        );
        assert_eq!(
            configure(argv(&["fleet", "--member-args", "west=--x"]), &programs),
            Err(ArgsError::UnknownMember {
                name: "west".to_owned(),
                known: "north, south".to_owned()
            })
        );
        assert_eq!(
            configure(argv(&["fleet", "--member-args=north"]), &programs),
            Err(ArgsError::NoEquals("north".to_owned()))
        );
        // The one configuration of this process (ARGV is set once).
        let run = configure(
            argv(&[
                "fleet",
                "--member-args",
                "north=--addr '127.0.0.1:0'",
                "--member-args=north=-v",
            ]),
            &programs,
        );
        assert_eq!(run, Ok(Command::Run));
        let north = crate::as_member("north", || args().collect::<Vec<_>>());
        assert_eq!(north, ["duo-north", "--addr", "127.0.0.1:0", "-v"]);
        let south = crate::as_member("south", || args().collect::<Vec<_>>());
        assert_eq!(south, ["duo-south"]);
        let nobody = args().collect::<Vec<_>>();
        assert_eq!(nobody.len(), 1, "{nobody:?}");
    }
}
